//! Who may talk to accrete, and how it is checked: one way to
//! authenticate to every accrete endpoint.
//!
//! - **Principals** ([`Principal`]) are who a request comes from: a
//!   token's name, a client certificate's subject, `local:USER` for an
//!   embedded transactor.
//! - **Tokens** are random secrets (`acrt_<id>_<secret>`) handed out once
//!   by `accrete token create`; a storage keeps only their verifiers, with
//!   the **grants** of [`Role`]s per database, in its `access` root
//!   ([`read_access`], [`update_access`]), so every endpoint on the storage
//!   sees a revocation at once.
//! - The [`Gate`] of an endpoint authenticates a client before anything
//!   else and authorizes each of its requests against the records as of
//!   that request; failed attempts are slowed, counted per address,
//!   logged without the secret.
//! - [`tls`] builds the rustls configurations of endpoints (certificate
//!   and key files, client CAs for mTLS) and of clients (a CA file).
//!
//! It is not the protocol (the transactor's handshake carries the token)
//! nor a user database: whoever holds the storage's own credentials is
//! its administrator (`accrete token …` and `accrete grant` write the
//! records directly).
//!
//! ```
//! use std::sync::Arc;
//! use access::{Admission, Gate, Principal, Role, create_token, update_access};
//! use storage_core::{MemStorage, Storage};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> access::Result<()> {
//! let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
//! let ann = Principal::token_name("ann")?;
//! let token = create_token(&storage, &ann).await?; // token.secret: give it to ann, once
//! update_access(&storage, |r| Ok(r.set_grant(&ann, "orders", Some(Role::Write)))).await?;
//!
//! let gate = Gate::new(storage, Admission::Authenticated);
//! let peer = std::net::Ipv4Addr::LOCALHOST.into();
//! let who = gate.authenticate(peer, Some(&token.secret), None).await?;
//! assert_eq!(gate.authorize(&who, "orders", Role::Write).await?, Role::Write);
//! assert!(gate.authorize(&who, "orders", Role::Admin).await.is_err());
//! # Ok(()) }
//! ```

mod error;
mod gate;
mod principal;
mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod tls;
mod token;

pub use error::{Error, ErrorKind, Result};
pub use gate::{Admission, FAILURE_DELAY, FAILURE_WINDOW, Gate, Identity, MAX_FAILURES, Proof};
pub use principal::{MAX_PRINCIPAL_BYTES, Principal, Role};
pub use store::{
    ACCESS_ROOT, ALL_DATABASES, AccessRecords, Grant, TokenRecord, create_token, read_access,
    revoke_tokens, update_access,
};
pub use token::{NewToken, Secret, TOKEN_ENV, TOKEN_FILE_ENV, TOKEN_PREFIX};
