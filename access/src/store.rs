//! The access records of a storage: tokens (by verifier) and grants, in one
//! root, `access`, so that every transactor of the storage sees a
//! revocation on its next read, and changes are compare-and-swaps like
//! every root's.
//!
//! The value is JSON (`{"format":1,"tokens":[…],"grants":[…]}`), at most
//! a root's 64 KiB: a few hundred tokens and grants.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use storage_core::{CasOutcome, Revision, RootName, RootValue, Storage};

use crate::error::{Error, ErrorKind, Result};
use crate::principal::{Principal, Role};

/// The name of the root that holds a storage's access records.
pub const ACCESS_ROOT: &str = "access";

const FORMAT: u32 = 1;

/// How often a change retries after losing a compare-and-swap.
const CAS_ATTEMPTS: usize = 16;

/// The grant of every database (instead of one name).
pub const ALL_DATABASES: &str = "*";

/// One token, as stored: never its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The public id (the `<id>` of `acrt_<id>_<secret>`).
    pub id: String,
    /// Who the token authenticates.
    pub principal: Principal,
    /// Hex SHA-256 of the secret.
    pub verifier: String,
    /// When it was made, ms since 1970.
    pub created_ms: u64,
    /// When it was revoked, if it was.
    pub revoked_ms: Option<u64>,
}

/// A role on a database (or on every one, [`ALL_DATABASES`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Who holds it.
    pub principal: Principal,
    /// The database's name, or `*`.
    pub db: String,
    /// What they may do.
    pub role: Role,
}

/// Everything the `access` root holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRecords {
    format: u32,
    /// Every token ever made (revoked ones stay, for the record).
    pub tokens: Vec<TokenRecord>,
    /// Every grant in force.
    pub grants: Vec<Grant>,
}

impl AccessRecords {
    /// The token of id `id`.
    pub fn token(&self, id: &str) -> Option<&TokenRecord> {
        self.tokens.iter().find(|t| t.id == id)
    }

    /// The strongest role `principal` holds on database `db` (a grant of
    /// `*` counts for every database).
    pub fn role(&self, principal: &Principal, db: &str) -> Option<Role> {
        self.grants
            .iter()
            .filter(|g| &g.principal == principal && (g.db == db || g.db == ALL_DATABASES))
            .map(|g| g.role)
            .max()
    }

    /// Gives `principal` exactly `role` on `db` (`None`: takes its grant
    /// of `db` away). Returns whether anything changed.
    pub fn set_grant(&mut self, principal: &Principal, db: &str, role: Option<Role>) -> bool {
        let before = self.grants.len();
        self.grants
            .retain(|g| !(&g.principal == principal && g.db == db));
        let removed = self.grants.len() != before;
        if let Some(role) = role {
            self.grants.push(Grant {
                principal: principal.clone(),
                db: db.to_string(),
                role,
            });
        }
        removed || role.is_some()
    }

    fn decode(bytes: &[u8]) -> Result<AccessRecords> {
        let records: AccessRecords = serde_json::from_slice(bytes).map_err(|e| {
            Error::new(
                ErrorKind::Corruption,
                format!("root `{ACCESS_ROOT}` is not access records: {e}"),
            )
        })?;
        if records.format != FORMAT {
            return Err(Error::new(
                ErrorKind::Corruption,
                format!(
                    "root `{ACCESS_ROOT}` is of format {}; this build reads {FORMAT}",
                    records.format
                ),
            ));
        }
        Ok(records)
    }

    fn encode(&self) -> Result<Vec<u8>> {
        let records = AccessRecords {
            format: FORMAT,
            ..self.clone()
        };
        serde_json::to_vec(&records)
            .map_err(|e| Error::invalid(format!("encoding access records: {e}")))
    }
}

fn root_name() -> Result<RootName> {
    Ok(RootName::new(ACCESS_ROOT)?)
}

/// The access records of `storage` as of now (linearizable) and their
/// revision (`None`: never written; no tokens, no grants).
pub async fn read_access(storage: &dyn Storage) -> Result<(AccessRecords, Option<Revision>)> {
    match storage.read_root(&root_name()?).await? {
        None => Ok((AccessRecords::default(), None)),
        Some(root) => Ok((
            AccessRecords::decode(root.value.data())?,
            Some(root.revision),
        )),
    }
}

/// Changes the access records by compare-and-swap: `change` gets them as
/// of now and returns its result, or an error that leaves them unchanged;
/// on a conflict it runs again on the newer records.
pub async fn update_access<T>(
    storage: &Arc<dyn Storage>,
    mut change: impl FnMut(&mut AccessRecords) -> Result<T>,
) -> Result<T> {
    let name = root_name()?;
    for _ in 0..CAS_ATTEMPTS {
        let (mut records, revision) = read_access(storage.as_ref()).await?;
        let result = change(&mut records)?;
        let bytes = records.encode()?;
        let value = RootValue::new(bytes).map_err(|_| {
            Error::invalid(format!(
                "the access records would be over a root's limit of {} bytes: revoke or remove old tokens and grants first",
                storage_core::MAX_ROOT_VALUE_BYTES
            ))
        })?;
        if let CasOutcome::Applied(_) = storage.cas_root(&name, revision, &value).await? {
            return Ok(result);
        }
    }
    Err(Error::new(
        ErrorKind::Unavailable,
        format!(
            "lost {CAS_ATTEMPTS} compare-and-swaps of root `{ACCESS_ROOT}` in a row to other writers"
        ),
    ))
}

/// Milliseconds since 1970 by this machine's clock.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Makes a token for `principal` and stores its verifier; the returned
/// secret is the only copy.
pub async fn create_token(
    storage: &Arc<dyn Storage>,
    principal: &Principal,
) -> Result<crate::token::NewToken> {
    let token = crate::token::NewToken::generate()?;
    let record = TokenRecord {
        id: token.id.clone(),
        principal: principal.clone(),
        verifier: token.verifier.clone(),
        created_ms: now_ms(),
        revoked_ms: None,
    };
    update_access(storage, |records| {
        records.tokens.push(record.clone());
        Ok(())
    })
    .await?;
    Ok(token)
}

/// Revokes the token of id `which`, or every live token of the principal
/// named `which`; returns the ids revoked. Revoking nothing is
/// [`ErrorKind::Invalid`].
pub async fn revoke_tokens(storage: &Arc<dyn Storage>, which: &str) -> Result<Vec<String>> {
    let now = now_ms();
    update_access(storage, |records| {
        let mut revoked = Vec::new();
        for token in records
            .tokens
            .iter_mut()
            .filter(|t| t.id == which || t.principal.as_str() == which)
            .filter(|t| t.revoked_ms.is_none())
        {
            token.revoked_ms = Some(now);
            revoked.push(token.id.clone());
        }
        match revoked.is_empty() {
            true => Err(Error::invalid(format!(
                "no live token has id or principal `{which}`"
            ))),
            false => Ok(revoked),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use storage_core::MemStorage;

    #[tokio::test]
    async fn grants_round_trip_and_the_strongest_counts() {
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        let ann = Principal::token_name("ann").unwrap();
        update_access(&storage, |r| {
            r.set_grant(&ann, "orders", Some(Role::Read));
            r.set_grant(&ann, ALL_DATABASES, Some(Role::Write));
            Ok(())
        })
        .await
        .unwrap();
        let (records, revision) = read_access(storage.as_ref()).await.unwrap();
        assert!(revision.is_some());
        assert_eq!(records.role(&ann, "orders"), Some(Role::Write));
        assert_eq!(records.role(&ann, "other"), Some(Role::Write));
        let bob = Principal::token_name("bob").unwrap();
        assert_eq!(records.role(&bob, "orders"), None);
        update_access(&storage, |r| Ok(r.set_grant(&ann, ALL_DATABASES, None)))
            .await
            .unwrap();
        let (records, _) = read_access(storage.as_ref()).await.unwrap();
        assert_eq!(records.role(&ann, "orders"), Some(Role::Read));
        assert_eq!(records.role(&ann, "other"), None);
    }
}
