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

    use rustls::ClientConfig;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use storage_core::tls::{
        ChainOnly, pem_certificates, root_store, system_certificates, webpki_verifier,
    };

    use super::{Error, Result, TlsMode, TlsSettings};

    /// The rustls configuration for `tls` (whose mode is not `off`).
    /// `verify-ca` checks only the chain, not the name (the node's IP
    /// address).
    pub(super) fn client_config(tls: &TlsSettings) -> Result<Arc<ClientConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = root_store(ca_certificates(tls)?)
            .ok_or_else(|| Error::invalid("tls_ca: none of the CA certificates is usable"))?;
        let webpki = webpki_verifier(roots, &provider).map_err(Error::invalid)?;
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

    fn ca_certificates(tls: &TlsSettings) -> Result<Vec<CertificateDer<'static>>> {
        match &tls.ca_file {
            Some(path) => read_certs(path, "tls_ca"),
            None => system_certificates().map_err(|why| {
                Error::invalid(format!(
                    "tls_ca=system: {why}; name a PEM file with tls_ca=PATH"
                ))
            }),
        }
    }

    fn read_certs(path: &Path, param: &str) -> Result<Vec<CertificateDer<'static>>> {
        pem_certificates(path)
            .map_err(|why| Error::invalid(format!("{param}={}: {why}", path.display())))
    }

    fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
        PrivateKeyDer::from_pem_file(path)
            .map_err(|e| Error::invalid(format!("tls_key={}: {e}", path.display())))
    }
}
