//! Principals (who is asking) and roles (what they may do).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Who a request comes from, as recorded on its transactions
/// (`:tx/principal`) and named in grants.
///
/// Three kinds, told apart by their text so that one can never pose as
/// another:
/// - a token's principal: the name given at `accrete token create`
///   (letters, digits, `.`, `_`, `@`, `-`; never `=` or `:`);
/// - a client certificate's subject, as RFC 4514 text (`CN=alice, O=acme`:
///   always holds `=`);
/// - `local:USER` for an embedded transactor (a process with the storage's
///   own credentials) and `anonymous` for a client without credentials on a
///   loopback endpoint in development mode.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Principal(String);

/// The longest principal name.
pub const MAX_PRINCIPAL_BYTES: usize = 256;

impl Principal {
    /// The principal of a token named `name`: refused unless it is 1 to 64
    /// of letters, digits, `.`, `_`, `@` and `-`.
    pub fn token_name(name: &str) -> Result<Principal> {
        let fine = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-');
        if name.is_empty() || name.len() > 64 || !name.chars().all(fine) {
            return Err(Error::invalid(format!(
                "token name `{}`: use 1 to 64 letters, digits, `.`, `_`, `@` or `-`",
                name.chars().take(80).collect::<String>()
            )));
        }
        Ok(Principal(name.to_string()))
    }

    /// The principal of a verified client certificate with subject
    /// `subject` (RFC 4514 text).
    pub fn certificate_subject(subject: &str) -> Result<Principal> {
        if !subject.contains('=') || subject.len() > MAX_PRINCIPAL_BYTES {
            return Err(Error::unauthenticated(
                "the client certificate has no usable subject",
            ));
        }
        Ok(Principal(subject.to_string()))
    }

    /// The principal of an embedded transactor run by OS user `user`.
    pub fn local(user: &str) -> Principal {
        let user: String = user
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_PRINCIPAL_BYTES - 6)
            .collect();
        match user.is_empty() {
            true => Principal("local".into()),
            false => Principal(format!("local:{user}")),
        }
    }

    /// The principal of this process's OS user (`USER`, else `USERNAME`,
    /// else just `local`), for embedded transactors.
    pub fn local_user() -> Principal {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_default();
        Principal::local(&user)
    }

    /// A client without credentials on an open (loopback, development)
    /// endpoint.
    pub fn anonymous() -> Principal {
        Principal("anonymous".into())
    }

    /// Any principal text as stored in a grant or a transaction (no
    /// validation beyond length): for reading back what was recorded.
    pub fn named(text: &str) -> Result<Principal> {
        if text.is_empty() || text.len() > MAX_PRINCIPAL_BYTES {
            return Err(Error::invalid(format!(
                "a principal is 1 to {MAX_PRINCIPAL_BYTES} bytes"
            )));
        }
        Ok(Principal(text.to_string()))
    }

    /// The principal as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Principal({})", self.0)
    }
}

/// What a principal may do with a database. Each role includes the ones
/// before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Subscribe to transactions, ask for the status and for a
    /// transaction's fate.
    Read,
    /// Transact (but not excise or alter schema).
    Write,
    /// Excise, alter existing attributes, and everything else.
    Admin,
}

impl Role {
    /// The role named `text` (`read`, `write`, `admin`).
    pub fn parse(text: &str) -> Result<Role> {
        match text {
            "read" => Ok(Role::Read),
            "write" => Ok(Role::Write),
            "admin" => Ok(Role::Admin),
            other => Err(Error::invalid(format!(
                "role `{other}`: use read, write or admin"
            ))),
        }
    }

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_kinds_of_principal_never_collide() {
        assert!(Principal::token_name("alice@example.org").is_ok());
        for bad in ["", "CN=alice", "local:root", "a b", &"x".repeat(65)] {
            assert!(Principal::token_name(bad).is_err(), "{bad:?}");
        }
        assert!(Principal::certificate_subject("alice").is_err());
        assert_eq!(Principal::local("ann").as_str(), "local:ann");
        assert_eq!(Principal::local("").as_str(), "local");
        assert!(Role::Admin > Role::Write && Role::Write > Role::Read);
        assert_eq!(Role::parse("write").unwrap(), Role::Write);
        assert!(Role::parse("root").is_err());
    }
}
