//! URI → backend: a registry of backend factories keyed by scheme, into
//! which each backend crate registers itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::mem::MemStorage;
use crate::storage::Storage;
use crate::uri::StorageUri;

/// Opens storages of one scheme.
#[async_trait]
pub trait BackendFactory: Send + Sync + 'static {
    /// The canonical scheme this factory serves (one of
    /// [`KNOWN_SCHEMES`](crate::KNOWN_SCHEMES)).
    fn scheme(&self) -> &'static str;

    /// Opens (creating tables or directories as needed) the storage `uri`
    /// names. The database in the URI is not the storage's business; it is
    /// passed on for the layers above.
    async fn open(&self, uri: &StorageUri) -> Result<Arc<dyn Storage>>;
}

/// The backends a binary was built with.
#[derive(Clone)]
pub struct Registry {
    factories: BTreeMap<&'static str, Arc<dyn BackendFactory>>,
    /// Schemes this build lacks, with how to get them (the `backends`
    /// crate names the cargo feature).
    absent: BTreeMap<&'static str, String>,
}

impl Default for Registry {
    /// A registry with the in-memory backend.
    fn default() -> Self {
        let mut registry = Registry::empty();
        registry.register(Arc::new(MemFactory));
        registry
    }
}

impl Registry {
    /// A registry with no backend at all.
    pub fn empty() -> Self {
        Registry {
            factories: BTreeMap::new(),
            absent: BTreeMap::new(),
        }
    }

    /// Notes that this build lacks the backend of `scheme`, and `how` to
    /// get it (e.g. "rebuild with cargo feature `postgres`"): a URI of that
    /// scheme is refused saying so.
    pub fn not_built_in(&mut self, scheme: &'static str, how: impl Into<String>) -> &mut Self {
        self.absent.insert(scheme, how.into());
        self
    }

    /// Adds (or replaces) the factory for its scheme.
    pub fn register(&mut self, factory: Arc<dyn BackendFactory>) -> &mut Self {
        self.factories.insert(factory.scheme(), factory);
        self
    }

    /// The schemes this registry can open.
    pub fn schemes(&self) -> Vec<&'static str> {
        self.factories.keys().copied().collect()
    }

    /// Parses `uri` and opens its storage.
    pub async fn open(&self, uri: &str) -> Result<(Arc<dyn Storage>, StorageUri)> {
        let parsed = StorageUri::parse(uri)?;
        let storage = self.open_parsed(&parsed).await?;
        Ok((storage, parsed))
    }

    /// Opens the storage of an already parsed URI.
    pub async fn open_parsed(&self, uri: &StorageUri) -> Result<Arc<dyn Storage>> {
        let Some(factory) = self.factories.get(uri.scheme()) else {
            return Err(self.refuse_absent(uri));
        };
        factory.open(uri).await
    }

    fn refuse_absent(&self, uri: &StorageUri) -> Error {
        let how = match self.absent.get(uri.scheme()) {
            Some(how) => format!(" ({how})"),
            None => String::new(),
        };
        Error::invalid(format!(
            "storage URI `{uri}`: the `{}` backend is not built into this binary{how}; this build knows: {}",
            uri.scheme(),
            self.schemes().join(", ")
        ))
    }
}

struct MemFactory;

#[async_trait]
impl BackendFactory for MemFactory {
    fn scheme(&self) -> &'static str {
        "mem"
    }

    async fn open(&self, uri: &StorageUri) -> Result<Arc<dyn Storage>> {
        uri.check_params(&[])?;
        Ok(Arc::new(MemStorage::named(uri.path())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StorageExt;
    use bytes::Bytes;

    #[tokio::test]
    async fn opens_mem_and_refuses_what_is_not_built_in() {
        let registry = Registry::default();
        let (a, uri) = registry.open("mem://registry-test?db=x").await.unwrap();
        assert_eq!(uri.db().unwrap().as_str(), "x");
        let id = a.put(Bytes::from_static(b"shared")).await.unwrap();
        let (b, _) = registry.open("mem://registry-test").await.unwrap();
        assert!(
            b.get_segment(id).await.unwrap().is_some(),
            "mem stores are shared by name"
        );

        let err = registry
            .open("postgres://u:pw@h/d?db=x")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("not built into this binary;"), "{err}");
        let mut noted = Registry::default();
        noted.not_built_in("postgres", "rebuild with cargo feature `postgres`");
        let noted = noted
            .open("postgres://u:pw@h/d?db=x")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            noted.contains("not built into this binary (rebuild with cargo feature `postgres`)"),
            "{noted}"
        );
        assert!(
            err.contains("this build knows: mem") && !err.contains("pw"),
            "{err}"
        );
        let err = registry.open("nosuch://x").await.unwrap_err().to_string();
        assert!(err.contains("unknown scheme `nosuch`"), "{err}");
        let err = Registry::empty()
            .open("mem://x")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("this build knows: "), "{err}");
        let err = registry
            .open("mem://x?foo=1")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown parameter `foo`"), "{err}");
    }
}
