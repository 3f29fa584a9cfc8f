//! URI → backend: a registry of backend factories keyed by scheme, into
//! which each backend crate registers itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::mem::MemStorage;
use crate::storage::Storage;
use crate::uri::{KNOWN_SCHEMES, StorageUri};

/// Opens storages of one scheme.
#[async_trait]
pub trait BackendFactory: Send + Sync + 'static {
    /// The canonical scheme this factory serves (see [`KNOWN_SCHEMES`]).
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
        }
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
            return Err(self.not_built_in(uri));
        };
        factory.open(uri).await
    }

    fn not_built_in(&self, uri: &StorageUri) -> Error {
        let feature = KNOWN_SCHEMES
            .iter()
            .find(|(s, _)| *s == uri.scheme())
            .map(|(_, f)| *f)
            .unwrap_or("?");
        Error::invalid(format!(
            "storage URI `{uri}`: the `{}` backend is not built into this binary (rebuild with cargo feature `{feature}`); this build knows: {}",
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
        assert!(
            err.contains("not built into this binary") && err.contains("feature `postgres`"),
            "{err}"
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
