//! Test certificates (feature `testkit`): a CA, a server certificate for
//! `localhost` and `127.0.0.1`, and client certificates, as PEM files in a
//! directory the test owns. Panics on failure: it is for tests only.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, date_time_ymd,
};

/// A test CA and the server certificate it signed, as files.
pub struct Pki {
    dir: PathBuf,
    issuer: CertifiedIssuer<'static, KeyPair>,
    /// The CA certificate (PEM): what clients trust, and the client CA of
    /// an mTLS endpoint.
    pub ca: PathBuf,
    /// The server certificate (PEM), for `localhost` and `127.0.0.1`.
    pub server_cert: PathBuf,
    /// Its key (PEM).
    pub server_key: PathBuf,
}

impl Pki {
    /// A CA named after `dir`'s last component, in a fresh subdirectory of
    /// `dir` (so two of them never share files).
    pub fn new(dir: &Path) -> Pki {
        let dir = tempfile::Builder::new()
            .prefix("pki")
            .tempdir_in(dir)
            .expect("a directory for the test PKI")
            .keep();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(
            DnType::CommonName,
            format!("accrete test CA {}", dir.display()),
        );
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, issuer.pem()).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        let server_cert = dir.join("server.pem");
        let server_key = dir.join("server.key");
        std::fs::write(&server_cert, cert.pem()).unwrap();
        std::fs::write(&server_key, key.serialize_pem()).unwrap();
        Pki {
            dir,
            issuer,
            ca,
            server_cert,
            server_key,
        }
    }

    /// A client certificate with subject `CN=<common_name>`, valid now:
    /// its certificate and key files.
    pub fn client(&self, common_name: &str) -> (PathBuf, PathBuf) {
        self.client_cert(common_name, false)
    }

    /// A client certificate with subject `CN=<common_name>` that expired
    /// in 2001.
    pub fn expired_client(&self, common_name: &str) -> (PathBuf, PathBuf) {
        self.client_cert(common_name, true)
    }

    fn client_cert(&self, common_name: &str, expired: bool) -> (PathBuf, PathBuf) {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        if expired {
            params.not_before = date_time_ymd(2000, 1, 1);
            params.not_after = date_time_ymd(2001, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let stem = format!("client-{common_name}-{expired}");
        let cert_path = self.dir.join(format!("{stem}.pem"));
        let key_path = self.dir.join(format!("{stem}.key"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (cert_path, key_path)
    }
}
