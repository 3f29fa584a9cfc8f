//! The storage backends a binary is built with: one list, each behind a
//! cargo feature, and the registry that opens their URIs.
//!
//! `storage-core` knows the URI grammar of every scheme
//! ([`storage_core::KNOWN_SCHEMES`]) and opens `mem:` itself; the crates
//! above it (the `accrete` binary, the peer library, the test kits) open
//! storages through [`registry`], so adding a backend means one entry in
//! [`BACKENDS`] and a cargo feature here (plus its URI grammar in
//! storage-core). A crate that wants a backend enables the feature of the
//! same name on this crate.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let (storage, uri) = backends::registry().open("mem://example").await.unwrap();
//! assert_eq!(uri.scheme(), "mem");
//! # let _ = storage;
//! # });
//! ```

use storage_core::Registry;

/// A storage backend of this code base.
#[derive(Clone, Copy, Debug)]
pub struct Backend {
    /// Its URI scheme (as [`storage_core::StorageUri::scheme`] gives it).
    pub scheme: &'static str,
    /// The cargo feature (of this crate, and of the crates that forward
    /// it: `cli`, `peer`) that builds it in.
    pub feature: &'static str,
    /// Adds it to a registry, when this build has it.
    register: Option<fn(&mut Registry)>,
}

impl Backend {
    /// True when this build has the backend.
    pub fn is_built_in(&self) -> bool {
        self.register.is_some()
    }
}

/// Every backend besides `mem`, which storage-core always has.
pub const BACKENDS: [Backend; 3] = [
    Backend {
        scheme: "file",
        feature: "file",
        #[cfg(feature = "file")]
        register: Some(storage_file::register),
        #[cfg(not(feature = "file"))]
        register: None,
    },
    Backend {
        scheme: "postgres",
        feature: "postgres",
        #[cfg(feature = "postgres")]
        register: Some(storage_postgres::register),
        #[cfg(not(feature = "postgres"))]
        register: None,
    },
    Backend {
        scheme: "cassandra",
        feature: "cassandra",
        #[cfg(feature = "cassandra")]
        register: Some(storage_cassandra::register),
        #[cfg(not(feature = "cassandra"))]
        register: None,
    },
];

/// A registry of `mem` and every backend this build has; a URI of one it
/// lacks is refused naming the feature that would build it in.
pub fn registry() -> Registry {
    let mut registry = Registry::default();
    for backend in &BACKENDS {
        match backend.register {
            Some(register) => register(&mut registry),
            None => {
                registry.not_built_in(
                    backend.scheme,
                    format!("rebuild with cargo feature `{}`", backend.feature),
                );
            }
        }
    }
    registry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_covers_every_scheme_of_the_uri_grammar() {
        let mut listed: Vec<&str> = BACKENDS.iter().map(|b| b.scheme).collect();
        listed.push("mem");
        listed.sort_unstable();
        let mut known = storage_core::KNOWN_SCHEMES.to_vec();
        known.sort_unstable();
        assert_eq!(listed, known);
    }

    #[tokio::test]
    async fn the_registry_opens_what_is_built_in_and_names_the_feature_of_the_rest() {
        let registry = registry();
        let built: Vec<&str> = BACKENDS
            .iter()
            .filter(|b| b.is_built_in())
            .map(|b| b.scheme)
            .collect();
        for scheme in &built {
            assert!(registry.schemes().contains(scheme), "{scheme}");
        }
        registry.open("mem://t").await.unwrap();
        #[cfg(feature = "file")]
        {
            let dir = tempfile::tempdir().unwrap();
            let uri = format!("file://{}/s", dir.path().display());
            registry.open(&uri).await.unwrap();
        }
        #[cfg(not(feature = "postgres"))]
        {
            let err = registry
                .open("postgres://u@localhost/db")
                .await
                .err()
                .unwrap()
                .to_string();
            assert!(
                err.contains("rebuild with cargo feature `postgres`"),
                "{err}"
            );
        }
    }
}
