//! Tokens: a public id and a random secret, handed to a client once. Only
//! a verifier (SHA-256 of the secret) is stored, so a leak of the access
//! records gives nobody a working token.
//!
//! The text of a token is `acrt_<id>_<secret>`: 16 hex digits of id (8
//! random bytes, public: it names the token in lists, logs and
//! revocations) and 64 hex digits of secret (32 random bytes). A secret of
//! 256 random bits needs no slow hash: guessing it is the only attack.

use std::fmt;
use std::path::Path;

use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

/// What every token starts with.
pub const TOKEN_PREFIX: &str = "acrt_";

/// The environment variable that holds a client's token.
pub const TOKEN_ENV: &str = "ACCRETE_TOKEN";

/// The environment variable that names a file holding a client's token.
pub const TOKEN_FILE_ENV: &str = "ACCRETE_TOKEN_FILE";

const ID_BYTES: usize = 8;
const SECRET_BYTES: usize = 32;

/// A credential as a client presents it: text that is never printed
/// (`Debug` shows only its length) and travels only inside the handshake.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `text`.
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The text, for the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The client's token from the environment: [`TOKEN_ENV`] holds it, or
    /// [`TOKEN_FILE_ENV`] names a file whose first line holds it. `None`
    /// when neither is set.
    pub fn from_env() -> Result<Option<Secret>> {
        if let Ok(text) = std::env::var(TOKEN_ENV) {
            return Ok(Some(Secret::new(text.trim())));
        }
        match std::env::var_os(TOKEN_FILE_ENV) {
            Some(path) => Secret::from_file(Path::new(&path)).map(Some),
            None => Ok(None),
        }
    }

    /// The token in the first line of the file at `path`.
    pub fn from_file(path: &Path) -> Result<Secret> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::invalid(format!("reading a token from {}: {e}", path.display())))?;
        let line = text.lines().next().unwrap_or_default().trim();
        if line.is_empty() {
            return Err(Error::invalid(format!(
                "the token file {} is empty",
                path.display()
            )));
        }
        Ok(Secret::new(line))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes, hidden>)", self.0.len())
    }
}

/// A token as presented: its id (public) and its secret bytes.
pub(crate) struct Presented {
    pub(crate) id: String,
    secret: Vec<u8>,
}

impl Presented {
    /// Reads `acrt_<id>_<secret>`. The error never repeats the text.
    pub(crate) fn parse(secret: &Secret) -> Result<Presented> {
        let malformed =
            || Error::unauthenticated("the token is malformed (expected acrt_<id>_<secret>)");
        let rest = secret
            .expose()
            .strip_prefix(TOKEN_PREFIX)
            .ok_or_else(malformed)?;
        let (id, secret) = rest.split_once('_').ok_or_else(malformed)?;
        let valid_id = id.len() == 2 * ID_BYTES && hex::decode(id).is_ok();
        let secret = hex::decode(secret).map_err(|_| malformed())?;
        if !valid_id || secret.len() != SECRET_BYTES {
            return Err(malformed());
        }
        Ok(Presented {
            id: id.to_string(),
            secret,
        })
    }

    /// True when this secret's verifier is `verifier` (constant time).
    pub(crate) fn matches(&self, verifier: &str) -> bool {
        let Ok(stored) = hex::decode(verifier) else {
            return false;
        };
        let computed = digest(&SHA256, &self.secret);
        computed.as_ref().ct_eq(&stored).into()
    }
}

/// A freshly made token: the text to hand out once, and what to store.
pub struct NewToken {
    /// The public id.
    pub id: String,
    /// The whole token text, to give to the client and never store.
    pub secret: Secret,
    /// The hex SHA-256 of the secret bytes: what is stored.
    pub verifier: String,
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewToken").field("id", &self.id).finish()
    }
}

impl NewToken {
    /// A token of fresh random id and secret from the operating system's
    /// generator.
    pub fn generate() -> Result<NewToken> {
        let random = SystemRandom::new();
        let mut id = [0u8; ID_BYTES];
        let mut secret = [0u8; SECRET_BYTES];
        random
            .fill(&mut id)
            .and_then(|()| random.fill(&mut secret))
            .map_err(|_| Error::invalid("the operating system gave no random bytes"))?;
        let id = hex::encode(id);
        let text = format!("{TOKEN_PREFIX}{id}_{}", hex::encode(secret));
        Ok(NewToken {
            verifier: hex::encode(digest(&SHA256, &secret)),
            id,
            secret: Secret::new(text),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_token_matches_only_its_own_verifier() {
        let a = NewToken::generate().unwrap();
        let b = NewToken::generate().unwrap();
        assert_ne!(a.id, b.id);
        let presented = Presented::parse(&a.secret).unwrap();
        assert_eq!(presented.id, a.id);
        assert!(presented.matches(&a.verifier));
        assert!(!presented.matches(&b.verifier));
        assert!(!presented.matches("zz"));
        assert!(!format!("{:?}{:?}", a.secret, a).contains(&a.secret.expose()[20..]));
        for bad in ["", "acrt_", "acrt_00_11", "token", &a.secret.expose()[1..]] {
            let err = Presented::parse(&Secret::new(bad)).err().unwrap();
            assert!(!err.to_string().contains("acrt_0"), "{err}");
        }
    }
}
