//! TLS for accrete endpoints (rustls, ring provider): the server side from
//! a certificate and key file, with client certificates (mTLS) checked
//! against a CA file when one is given; the client side trusting a CA
//! file, optionally presenting a certificate of its own. The principal of
//! a verified client certificate is its subject.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rustls::ClientConfig;
/// The TLS configuration an endpoint serves with ([`ServerTlsFiles::load`]).
pub use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use storage_core::tls::{pem_certificates, root_store};

use crate::error::{Error, Result};
use crate::principal::Principal;

/// The environment variable naming the CA file a client trusts; setting
/// it makes the client speak TLS.
pub const TLS_CA_ENV: &str = "ACCRETE_TLS_CA";
/// The environment variable naming a client certificate file (PEM), for
/// endpoints that take client certificates.
pub const TLS_CERT_ENV: &str = "ACCRETE_TLS_CERT";
/// The environment variable naming the client certificate's key file.
pub const TLS_KEY_ENV: &str = "ACCRETE_TLS_KEY";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The files of an endpoint's TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerTlsFiles {
    /// The certificate chain (PEM), leaf first.
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// CAs whose client certificates authenticate their subject (mTLS).
    /// Clients without a certificate may still use a token.
    pub client_ca: Option<PathBuf>,
}

impl ServerTlsFiles {
    /// The server configuration these files make. The certificate and key
    /// are read again when their files change (looked at on a handshake at
    /// most every [`RELOAD_CHECK`]), so a renewed certificate takes effect
    /// without a restart; files that do not load keep the previous pair in
    /// service, with a warning.
    pub fn load(&self) -> Result<Arc<ServerConfig>> {
        let resolver = Reloading {
            files: self.clone(),
            state: parking_lot::Mutex::new(Loaded {
                key: self.certified_key()?,
                stamp: self.stamp(),
                checked: Instant::now(),
            }),
        };
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::invalid(format!("TLS protocol versions: {e}")))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let roots = roots(ca, "--tls-client-ca")?;
                let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider())
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| {
                        Error::invalid(format!("--tls-client-ca {}: {e}", ca.display()))
                    })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        Ok(Arc::new(builder.with_cert_resolver(Arc::new(resolver))))
    }

    /// The certificate chain and key, checked against each other.
    fn certified_key(&self) -> Result<Arc<CertifiedKey>> {
        let chain = certificates(&self.cert, "--tls-cert")?;
        let key = private_key(&self.key, "--tls-key")?;
        CertifiedKey::from_der(chain, key, &provider())
            .map(Arc::new)
            .map_err(|e| {
                Error::invalid(format!(
                    "--tls-cert {} and --tls-key {}: {e}",
                    self.cert.display(),
                    self.key.display()
                ))
            })
    }

    /// When the certificate and key files were last modified.
    fn stamp(&self) -> [Option<SystemTime>; 2] {
        let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
        [modified(&self.cert), modified(&self.key)]
    }
}

/// How often a handshake may look at the certificate files for a change.
pub const RELOAD_CHECK: Duration = Duration::from_secs(1);

/// The endpoint's certificate, read again when its files change.
#[derive(Debug)]
struct Reloading {
    files: ServerTlsFiles,
    state: parking_lot::Mutex<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    key: Arc<CertifiedKey>,
    stamp: [Option<SystemTime>; 2],
    checked: Instant,
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let mut state = self.state.lock();
        if state.checked.elapsed() >= RELOAD_CHECK {
            state.checked = Instant::now();
            let stamp = self.files.stamp();
            if stamp != state.stamp {
                state.stamp = stamp;
                match self.files.certified_key() {
                    Ok(key) => {
                        state.key = key;
                        tracing::info!(cert = %self.files.cert.display(), "reloaded the TLS certificate");
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "the changed TLS certificate files do not load; serving the previous certificate");
                    }
                }
            }
        }
        Some(state.key.clone())
    }
}

/// The files of a client's TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientTlsFiles {
    /// The CAs to trust for the endpoint's certificate (PEM).
    pub ca: PathBuf,
    /// A client certificate and its key, for endpoints that authenticate
    /// by certificate.
    pub identity: Option<(PathBuf, PathBuf)>,
}

impl ClientTlsFiles {
    /// From [`TLS_CA_ENV`], [`TLS_CERT_ENV`] and [`TLS_KEY_ENV`]; `None`
    /// when no CA is named (the client speaks plaintext).
    pub fn from_env() -> Result<Option<ClientTlsFiles>> {
        let var = |name| std::env::var_os(name).map(PathBuf::from);
        let Some(ca) = var(TLS_CA_ENV) else {
            return Ok(None);
        };
        let identity = match (var(TLS_CERT_ENV), var(TLS_KEY_ENV)) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return Err(Error::invalid(format!(
                    "set both {TLS_CERT_ENV} and {TLS_KEY_ENV}, or neither"
                )));
            }
        };
        Ok(Some(ClientTlsFiles { ca, identity }))
    }

    /// The client configuration these files make.
    pub fn load(&self) -> Result<Arc<ClientConfig>> {
        let roots = roots(&self.ca, TLS_CA_ENV)?;
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::invalid(format!("TLS protocol versions: {e}")))?
            .with_root_certificates(roots);
        let config = match &self.identity {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => builder
                .with_client_auth_cert(
                    certificates(cert, TLS_CERT_ENV)?,
                    private_key(key, TLS_KEY_ENV)?,
                )
                .map_err(|e| {
                    Error::invalid(format!("client certificate {}: {e}", cert.display()))
                })?,
        };
        Ok(Arc::new(config))
    }
}

/// The name a client checks the endpoint's certificate against: the host
/// of `endpoint` (`host:port`, `[v6]:port`), a DNS name or an IP address.
pub fn server_name(endpoint: &str) -> Result<ServerName<'static>> {
    let host = endpoint
        .rsplit_once(':')
        .map_or(endpoint, |(host, _)| host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    ServerName::try_from(host.to_string()).map_err(|e| {
        Error::invalid(format!(
            "endpoint {endpoint}: `{host}` is no TLS server name: {e}"
        ))
    })
}

/// The principal of the verified client certificate of `connection`, if
/// the client presented one.
pub fn peer_principal(connection: &rustls::ServerConnection) -> Result<Option<Principal>> {
    let Some(leaf) = connection.peer_certificates().and_then(|c| c.first()) else {
        return Ok(None);
    };
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref())
        .map_err(|e| Error::unauthenticated(format!("unreadable client certificate: {e}")))?;
    Principal::certificate_subject(&cert.subject().to_string()).map(Some)
}

fn certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    pem_certificates(path).map_err(|e| Error::invalid(format!("{what} {}: {e}", path.display())))
}

fn private_key(path: &Path, what: &str) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| Error::invalid(format!("{what} {}: no private key: {e}", path.display())))
}

fn roots(path: &Path, what: &str) -> Result<Arc<rustls::RootCertStore>> {
    let certs = certificates(path, what)?;
    root_store(certs).map(Arc::new).ok_or_else(|| {
        Error::invalid(format!(
            "{what} {}: no usable CA certificate",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn server_names_come_from_the_host_of_the_endpoint() {
        assert_eq!(
            server_name("127.0.0.1:4334").unwrap(),
            ServerName::try_from("127.0.0.1").unwrap()
        );
        assert_eq!(
            server_name("db.example.org:1").unwrap(),
            ServerName::try_from("db.example.org").unwrap()
        );
        assert_eq!(
            server_name("[::1]:4334").unwrap(),
            ServerName::try_from("::1").unwrap()
        );
    }

    #[test]
    fn files_that_hold_no_certificate_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let files = ServerTlsFiles {
            cert: empty.clone(),
            key: empty.clone(),
            client_ca: None,
        };
        let err = files.load().unwrap_err().to_string();
        assert!(
            err.contains("--tls-cert") && err.contains("empty.pem"),
            "{err}"
        );
        let pki = crate::testkit::Pki::new(dir.path());
        let files = ServerTlsFiles {
            cert: pki.server_cert.clone(),
            key: pki.server_key.clone(),
            client_ca: Some(pki.ca.clone()),
        };
        files.load().unwrap();
        ClientTlsFiles {
            ca: pki.ca.clone(),
            identity: Some(pki.client("x")),
        }
        .load()
        .unwrap();
    }
}
