//! TLS as libpq's `sslmode` defines it, through rustls
//! (`tokio-postgres-rustls`): pure Rust, so no system OpenSSL is needed and
//! every machine verifies certificates the same way.
//!
//! | sslmode | encrypts | verifies the chain | verifies the host name |
//! |---|---|---|---|
//! | `disable` | no | — | — |
//! | `allow`, `prefer` | if the server offers it | no | no |
//! | `require` | yes | only if CA certificates are given | no |
//! | `verify-ca` | yes | yes | no |
//! | `verify-full` | yes | yes | yes |
//!
//! `allow` is treated as `prefer` (the driver tries TLS first; both accept
//! an unencrypted session).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use storage_core::tls::{
    ChainOnly, pem_certificates, root_store, system_certificates, webpki_verifier,
};
use storage_core::{Error, Result};
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never encrypt.
    Disable,
    /// Encrypt if the server offers it (treated as [`SslMode::Prefer`]).
    Allow,
    /// Encrypt if the server offers it.
    Prefer,
    /// Always encrypt; verify the chain only if CA certificates are given.
    Require,
    /// Always encrypt and verify the chain.
    VerifyCa,
    /// Always encrypt, verify the chain and the host name.
    VerifyFull,
}

impl SslMode {
    /// Parses libpq's spelling.
    pub(crate) fn parse(text: &str) -> std::result::Result<Self, String> {
        Ok(match text {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "`sslmode={}` is not one of disable, allow, prefer, require, verify-ca, verify-full",
                    storage_core::truncate_for_message(other)
                ));
            }
        })
    }

    /// libpq's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// What the driver is told.
    pub(crate) fn driver_mode(self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as Driver;
        match self {
            SslMode::Disable => Driver::Disable,
            SslMode::Allow | SslMode::Prefer => Driver::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => Driver::Require,
        }
    }
}

/// Where CA certificates come from (`sslrootcert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCerts {
    /// The operating system's store (`sslrootcert=system`).
    System,
    /// A PEM file; `explicit` when named rather than the default
    /// `~/.postgresql/root.crt`.
    File {
        /// The file.
        path: PathBuf,
        /// Named by the user (a missing file is then an error).
        explicit: bool,
    },
    /// None given and no home directory to look in.
    None,
}

impl RootCerts {
    /// From the `sslrootcert` parameter and the home directory.
    pub(crate) fn from_param(param: Option<&str>, home: Option<&str>) -> Self {
        match (param, home) {
            (Some("system"), _) => RootCerts::System,
            (Some(path), _) => RootCerts::File {
                path: PathBuf::from(path),
                explicit: true,
            },
            (None, Some(home)) => RootCerts::File {
                path: Path::new(home).join(".postgresql").join("root.crt"),
                explicit: false,
            },
            (None, None) => RootCerts::None,
        }
    }

    /// The certificates, `None` when there are none to use. A named file
    /// that is missing, unreadable or empty is an error.
    fn load(&self, mode: SslMode) -> Result<Option<RootCertStore>> {
        let certs = match self {
            RootCerts::None => return Ok(None),
            RootCerts::File { path, explicit } if !explicit && !path.exists() => return Ok(None),
            RootCerts::File { path, .. } => pem_certificates(path).map_err(|why| {
                Error::invalid(format!(
                    "sslmode={}: CA certificates {}: {why}",
                    mode.as_str(),
                    path.display()
                ))
            })?,
            RootCerts::System => system_certificates()
                .map_err(|why| Error::invalid(format!("sslrootcert=system: {why}")))?,
        };
        match root_store(certs) {
            Some(store) => Ok(Some(store)),
            None => Err(Error::invalid(format!(
                "sslmode={}: no usable CA certificate in {self:?}",
                mode.as_str()
            ))),
        }
    }
}

/// The TLS connector for `mode`, or `None` for `disable`.
pub(crate) fn connector(mode: SslMode, roots: &RootCerts) -> Result<Option<MakeRustlsConnect>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match (mode, roots.load(mode)?) {
        (SslMode::Disable, _) => return Ok(None),
        (SslMode::Allow | SslMode::Prefer, _) | (SslMode::Require, None) => {
            Arc::new(EncryptOnly(provider.clone()))
        }
        (SslMode::Require | SslMode::VerifyCa, Some(store)) => {
            Arc::new(ChainOnly(webpki(store, &provider)?))
        }
        (SslMode::VerifyFull, Some(store)) => webpki(store, &provider)?,
        (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
            return Err(Error::invalid(format!(
                "sslmode={} needs CA certificates: put them in ~/.postgresql/root.crt, or name a PEM file with sslrootcert=PATH, or use sslrootcert=system",
                mode.as_str()
            )));
        }
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::invalid(format!("TLS setup: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Some(MakeRustlsConnect::new(config)))
}

fn webpki(
    store: RootCertStore,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<rustls::client::WebPkiServerVerifier>> {
    webpki_verifier(store, provider).map_err(Error::invalid)
}

/// `prefer` and `require` without CA certificates: encrypted, with the
/// handshake's signatures checked, but any certificate accepted, as libpq
/// does.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
