//! TLS end to end: a TLS-terminating proxy (rustls) in front of the
//! simulator, with certificates made for the test. The driver reaches every
//! node through the proxy, because the simulator reports 127.0.0.1 and the
//! driver keeps the contact point's port.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use common::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use storage_cassandra::testkit::{TestCluster, scratch_keyspace};
use storage_cassandra::{CassandraStorage, Replication, create_keyspace};
use storage_core::{Storage, StorageExt, StorageUri};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig, crypto::ring};

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A certificate for `names` signed by `issuer`: (cert PEM, key PEM).
fn leaf(issuer: &CertifiedIssuer<'static, KeyPair>, names: &[&str]) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let names = names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let cert = CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, issuer)
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

struct Files(PathBuf);

impl Files {
    fn new() -> Files {
        let dir = std::env::temp_dir().join(format!("accrete-cass-tls-{}", scratch_keyspace()));
        std::fs::create_dir_all(&dir).unwrap();
        Files(dir)
    }

    fn write(&self, name: &str, pem: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, pem).unwrap();
        path.display().to_string()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Serves TLS on a free port, forwarding the plain bytes to `upstream`;
/// with `client_ca`, clients must present a certificate it signed.
async fn proxy(upstream: String, cert_pem: &str, key_pem: &str, client_ca: Option<&str>) -> String {
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let provider = Arc::new(ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                roots.add(cert.unwrap()).unwrap();
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    let acceptor = TlsAcceptor::from(Arc::new(builder.with_single_cert(certs, key).unwrap()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    address
}

/// A keyspace made over plain TCP, and the TLS URI of a store in it.
async fn tls_uri(cluster: &TestCluster, proxy: &str, params: &str) -> String {
    let ks = scratch_keyspace();
    let plain = StorageUri::parse(&cluster.uri(&ks, "db=x")).unwrap();
    create_keyspace(&plain, &Replication::Simple(3))
        .await
        .unwrap();
    format!("cassandra://{proxy}/{ks}?db=x&{params}")
}

async fn works(uri: &str) {
    let s = open(uri).await;
    let bytes = Bytes::from_static(b"over TLS");
    let id = s.put(bytes.clone()).await.unwrap();
    assert_eq!(s.get_segment(id).await.unwrap(), Some(bytes));
}

async fn fails(uri: &str, want: &str) {
    let err = within(60, CassandraStorage::open(settings(uri)))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(want), "{uri}: {msg}");
    assert!(
        !err.is_retryable(),
        "a certificate problem is not retryable: {msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_checks_the_chain_and_the_ip_address() {
    let cluster = TestCluster::sim().await.unwrap();
    let files = Files::new();
    let authority = ca("accrete test CA");
    let ca_file = files.write("ca.pem", &authority.pem());
    let (ip_cert, ip_key) = leaf(&authority, &["127.0.0.1"]);
    let (dns_cert, dns_key) = leaf(&authority, &["cassandra.example"]);
    let upstream = cluster.contact_point().to_string();
    let by_ip = proxy(upstream.clone(), &ip_cert, &ip_key, None).await;
    let by_name = proxy(upstream, &dns_cert, &dns_key, None).await;

    works(
        &tls_uri(
            &cluster,
            &by_ip,
            &format!("tls=verify-full&tls_ca={ca_file}"),
        )
        .await,
    )
    .await;
    let wrong_name = tls_uri(
        &cluster,
        &by_name,
        &format!("tls=verify-full&tls_ca={ca_file}"),
    )
    .await;
    fails(&wrong_name, "certificate").await;
    works(&wrong_name.replace("verify-full", "verify-ca")).await;

    let other_ca = files.write("other.pem", &ca("some other CA").pem());
    let untrusted = tls_uri(
        &cluster,
        &by_ip,
        &format!("tls=verify-ca&tls_ca={other_ca}"),
    )
    .await;
    fails(&untrusted, "certificate").await;
    let missing = tls_uri(&cluster, &by_ip, "tls=verify-ca&tls_ca=/no/such/ca.pem").await;
    fails(&missing, "/no/such/ca.pem").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_presents_the_client_certificate() {
    let cluster = TestCluster::sim().await.unwrap();
    let files = Files::new();
    let authority = ca("accrete test CA");
    let ca_file = files.write("ca.pem", &authority.pem());
    let (server_cert, server_key) = leaf(&authority, &["127.0.0.1"]);
    let (client_cert, client_key) = leaf(&authority, &["accrete-client"]);
    let cert_file = files.write("client.pem", &client_cert);
    let key_file = files.write("client.key", &client_key);
    let address = proxy(
        cluster.contact_point().to_string(),
        &server_cert,
        &server_key,
        Some(&authority.pem()),
    )
    .await;
    let base = format!("tls=verify-full&tls_ca={ca_file}");
    let with_cert = tls_uri(
        &cluster,
        &address,
        &format!("{base}&tls_cert={cert_file}&tls_key={key_file}"),
    )
    .await;
    works(&with_cert).await;
    let without = tls_uri(&cluster, &address, &base).await;
    let err = within(60, CassandraStorage::open(settings(&without)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains(&address), "{err}");
}
