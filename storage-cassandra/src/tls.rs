//! TLS through rustls (cargo feature `tls`, the driver's `rustls-023`),
//! with the `ring` provider, so every machine verifies the same way without
//! a system OpenSSL.
//!
//! The driver names each node by the IP address it connects to, so
//! `tls=verify-full` needs certificates that list the nodes' IP addresses;
//! `tls=verify-ca` checks only that the chain leads to a trusted CA.

use scylla::client::session_builder::SessionBuilder;
use storage_core::{Error, Result};

use crate::config::{TlsMode, TlsSettings};

/// Applies `tls` to the session being built.
#[cfg(feature = "tls")]
pub(crate) fn configure(builder: SessionBuilder, tls: &TlsSettings) -> Result<SessionBuilder> {
    if tls.mode == TlsMode::Off {
        return Ok(builder);
    }
    let config = rustls_config::client_config(tls)?;
    Ok(builder.tls_context(Some(config)))
}

/// Without the `tls` feature, only `tls=off` is possible.
#[cfg(not(feature = "tls"))]
pub(crate) fn configure(builder: SessionBuilder, tls: &TlsSettings) -> Result<SessionBuilder> {
    if tls.mode == TlsMode::Off {
        return Ok(builder);
    }
    Err(Error::invalid(format!(
        "`tls={}`: this build of storage-cassandra has no TLS; rebuild it with cargo feature `tls`",
        tls.mode.as_str()
    )))
}

#[cfg(feature = "tls")]
mod rustls_config {
    use std::path::Path;
    use std::sync::Arc;

    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
    use rustls::{
        CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    };

    use super::{Error, Result, TlsMode, TlsSettings};

    /// The rustls configuration for `tls` (whose mode is not `off`).
    pub(super) fn client_config(tls: &TlsSettings) -> Result<Arc<ClientConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = Arc::new(root_store(tls)?);
        let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| Error::invalid(format!("TLS certificate verifier: {e}")))?;
        let verifier: Arc<dyn ServerCertVerifier> = match tls.mode {
            TlsMode::VerifyCa => Arc::new(ChainOnly(webpki)),
            _ => webpki,
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::invalid(format!("TLS setup: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match &tls.client {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => builder
                .with_client_auth_cert(read_certs(cert, "tls_cert")?, read_key(key)?)
                .map_err(|e| Error::invalid(format!("tls_cert/tls_key: {e}")))?,
        };
        Ok(Arc::new(config))
    }

    fn root_store(tls: &TlsSettings) -> Result<RootCertStore> {
        let certs = match &tls.ca_file {
            Some(path) => read_certs(path, "tls_ca")?,
            None => {
                let found = rustls_native_certs::load_native_certs();
                if found.certs.is_empty() {
                    return Err(Error::invalid(format!(
                        "tls_ca=system: no CA certificates found in the system store ({} errors); name a PEM file with tls_ca=PATH",
                        found.errors.len()
                    )));
                }
                found.certs
            }
        };
        let mut store = RootCertStore::empty();
        let (added, _ignored) = store.add_parsable_certificates(certs);
        if added == 0 {
            return Err(Error::invalid(
                "tls_ca: none of the CA certificates is usable",
            ));
        }
        Ok(store)
    }

    fn read_certs(path: &Path, param: &str) -> Result<Vec<CertificateDer<'static>>> {
        let bad = |why: String| Error::invalid(format!("{param}={}: {why}", path.display()));
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(e.to_string()))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("holds no PEM certificate".into()));
        }
        Ok(certs)
    }

    fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
        PrivateKeyDer::from_pem_file(path)
            .map_err(|e| Error::invalid(format!("tls_key={}: {e}", path.display())))
    }

    /// `verify-ca`: the chain must lead to a trusted CA; the name (the
    /// node's IP address) is not checked.
    #[derive(Debug)]
    struct ChainOnly(Arc<WebPkiServerVerifier>);

    impl ServerCertVerifier for ChainOnly {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp_response: &[u8],
            now: UnixTime,
        ) -> std::result::Result<ServerCertVerified, rustls::Error> {
            match self.0.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ) {
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. },
                )) => Ok(ServerCertVerified::assertion()),
                other => other,
            }
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
            self.0.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
            self.0.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.supported_verify_schemes()
        }
    }
}
