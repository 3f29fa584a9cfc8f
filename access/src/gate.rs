//! The gate of an endpoint: who a client is (a token, a client
//! certificate, or nobody on an open development endpoint) and whether it
//! may do what it asks, checked against the access records as of the
//! request — so a revoked token or a withdrawn grant stops the very next
//! request, also on connections opened before.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use storage_core::Storage;
use tokio::time::Instant;

use crate::error::{Error, ErrorKind, Result};
use crate::principal::{Principal, Role};
use crate::store::{AccessRecords, read_access};
use crate::token::{Presented, Secret};

/// Failed attempts an address may make within [`FAILURE_WINDOW`] before
/// it is refused without a look until the window ends.
pub const MAX_FAILURES: u32 = 10;

/// The window failed attempts are counted in.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// How long every failed attempt waits before its refusal: slows guessing
/// on one connection as the window does across many.
pub const FAILURE_DELAY: Duration = Duration::from_millis(100);

/// How many addresses the failure counts remember.
const MAX_TRACKED: usize = 10_000;

/// Whether a client without credentials gets in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Only with a valid token or client certificate.
    Authenticated,
    /// Development on loopback: a client without credentials is
    /// [`Principal::anonymous`] with every role; credentials, when given,
    /// are checked as always.
    OpenLoopback,
}

/// How a client proved who it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Proof {
    /// A token of this id: checked again on every request.
    Token(String),
    /// A client certificate the TLS handshake verified.
    Certificate,
    /// Nothing, on an open development endpoint.
    Anonymous,
}

/// An authenticated client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Who it is.
    pub principal: Principal,
    /// How it proved it.
    pub proof: Proof,
}

/// Authentication and authorization against one storage's access records.
pub struct Gate {
    storage: Arc<dyn Storage>,
    admission: Admission,
    tickets: AtomicU64,
    fresh: tokio::sync::Mutex<Fresh>,
    failures: parking_lot::Mutex<HashMap<IpAddr, Failures>>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("storage", &self.storage.backend())
            .field("admission", &self.admission)
            .finish()
    }
}

/// The records of the last read, and the first ticket drawn after it
/// began (0: no read yet).
#[derive(Default)]
struct Fresh {
    covers: u64,
    records: Arc<AccessRecords>,
}

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    since: Instant,
}

impl Gate {
    /// A gate over the access records of `storage`.
    pub fn new(storage: Arc<dyn Storage>, admission: Admission) -> Gate {
        Gate {
            storage,
            admission,
            tickets: AtomicU64::new(0),
            fresh: tokio::sync::Mutex::default(),
            failures: parking_lot::Mutex::default(),
        }
    }

    /// Whether clients without credentials get in.
    pub fn admission(&self) -> Admission {
        self.admission
    }

    /// Who the client at `peer` is, by its `token` or else the verified
    /// subject of its client certificate. Fails with
    /// [`ErrorKind::Unauthenticated`] — after [`FAILURE_DELAY`], counted
    /// against `peer`, and logged without the secret.
    pub async fn authenticate(
        &self,
        peer: IpAddr,
        token: Option<&Secret>,
        certificate: Option<Principal>,
    ) -> Result<Identity> {
        self.refuse_if_locked_out(peer)?;
        let outcome = match (token, certificate) {
            (Some(token), _) => self.check_token(token).await,
            (None, Some(principal)) => Ok(Identity {
                principal,
                proof: Proof::Certificate,
            }),
            (None, None) if self.admission == Admission::OpenLoopback => Ok(Identity {
                principal: Principal::anonymous(),
                proof: Proof::Anonymous,
            }),
            (None, None) => Err(Error::unauthenticated(
                "no credentials: present a token (ACCRETE_TOKEN or ACCRETE_TOKEN_FILE) or a client certificate",
            )),
        };
        match outcome {
            Err(e) if e.kind() == ErrorKind::Unauthenticated => {
                self.failed(peer, e.message()).await;
                Err(e)
            }
            other => other,
        }
    }

    /// Counts a failed attempt of `peer` that never reached
    /// [`Gate::authenticate`] (a refused TLS handshake) and logs `why`.
    pub async fn failed(&self, peer: IpAddr, why: &str) {
        let count = self.count_failure(peer);
        tracing::warn!(%peer, failures = count, reason = why, "authentication failed");
        tokio::time::sleep(FAILURE_DELAY).await;
    }

    /// Checks, against the access records as of now, that `who` may do
    /// what needs `needs` on database `db`, and returns the role it holds.
    /// A revoked token is [`ErrorKind::Unauthenticated`]; a missing or
    /// weaker grant [`ErrorKind::Forbidden`].
    pub async fn authorize(&self, who: &Identity, db: &str, needs: Role) -> Result<Role> {
        if who.proof == Proof::Anonymous {
            return Ok(Role::Admin);
        }
        let records = self.records().await?;
        if let Proof::Token(id) = &who.proof {
            let live = records.token(id).is_some_and(|t| t.revoked_ms.is_none());
            if !live {
                return Err(Error::unauthenticated(format!("token {id} was revoked")));
            }
        }
        let held = records.role(&who.principal, db);
        match held {
            Some(role) if role >= needs => Ok(role),
            Some(role) => Err(Error::forbidden(format!(
                "`{}` holds the {role} role on database `{db}`; this needs {needs}",
                who.principal
            ))),
            None => Err(Error::forbidden(format!(
                "`{}` holds no role on database `{db}`",
                who.principal
            ))),
        }
    }

    async fn check_token(&self, token: &Secret) -> Result<Identity> {
        let presented = Presented::parse(token)?;
        let records = self.records().await?;
        let record = records
            .token(&presented.id)
            .filter(|r| presented.matches(&r.verifier))
            .ok_or_else(|| {
                Error::unauthenticated(format!("token {} is not valid", presented.id))
            })?;
        if record.revoked_ms.is_some() {
            return Err(Error::unauthenticated(format!(
                "token {} was revoked",
                presented.id
            )));
        }
        Ok(Identity {
            principal: record.principal.clone(),
            proof: Proof::Token(presented.id),
        })
    }

    /// The access records from a read that began after this call did:
    /// concurrent callers share one read, none gets an older one.
    async fn records(&self) -> Result<Arc<AccessRecords>> {
        // Tickets below `covers` were drawn before that read began.
        let ticket = self.tickets.fetch_add(1, Ordering::SeqCst);
        let mut fresh = self.fresh.lock().await;
        if fresh.covers > ticket {
            return Ok(fresh.records.clone());
        }
        let covers = self.tickets.load(Ordering::SeqCst);
        let (records, _) = read_access(self.storage.as_ref()).await?;
        *fresh = Fresh {
            covers,
            records: Arc::new(records),
        };
        Ok(fresh.records.clone())
    }

    fn refuse_if_locked_out(&self, peer: IpAddr) -> Result<()> {
        let failures = self.failures.lock().get(&peer).copied();
        match failures {
            Some(f) if f.count >= MAX_FAILURES && f.since.elapsed() < FAILURE_WINDOW => {
                let wait = FAILURE_WINDOW.saturating_sub(f.since.elapsed());
                Err(Error::unauthenticated(format!(
                    "too many failed attempts from {peer}; try again in {}s",
                    wait.as_secs() + 1
                )))
            }
            _ => Ok(()),
        }
    }

    fn count_failure(&self, peer: IpAddr) -> u32 {
        let mut failures = self.failures.lock();
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, f| f.since.elapsed() < FAILURE_WINDOW);
        }
        let now = Instant::now();
        let entry = failures.entry(peer).or_insert(Failures {
            count: 0,
            since: now,
        });
        if entry.since.elapsed() >= FAILURE_WINDOW {
            *entry = Failures {
                count: 0,
                since: now,
            };
        }
        entry.count += 1;
        entry.count
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::{TokenRecord, update_access};
    use crate::token::NewToken;
    use storage_core::MemStorage;

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    async fn with_token(storage: &Arc<dyn Storage>, name: &str, role: Role) -> NewToken {
        let token = NewToken::generate().unwrap();
        let principal = Principal::token_name(name).unwrap();
        let record = TokenRecord {
            id: token.id.clone(),
            principal: principal.clone(),
            verifier: token.verifier.clone(),
            created_ms: 1,
            revoked_ms: None,
        };
        update_access(storage, |r| {
            r.tokens.push(record.clone());
            r.set_grant(&principal, "orders", Some(role));
            Ok(())
        })
        .await
        .unwrap();
        token
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_roles_and_revocation_are_checked_as_of_each_call() {
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        let gate = Gate::new(storage.clone(), Admission::Authenticated);
        let token = with_token(&storage, "ann", Role::Write).await;
        let ann = gate
            .authenticate(PEER, Some(&token.secret), None)
            .await
            .unwrap();
        assert_eq!(ann.principal.as_str(), "ann");
        assert_eq!(
            gate.authorize(&ann, "orders", Role::Write).await.unwrap(),
            Role::Write
        );
        let err = gate
            .authorize(&ann, "orders", Role::Admin)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
        let err = gate.authorize(&ann, "other", Role::Read).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
        update_access(&storage, |r| {
            r.tokens[0].revoked_ms = Some(2);
            Ok(())
        })
        .await
        .unwrap();
        let err = gate
            .authorize(&ann, "orders", Role::Read)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
        assert!(err.message().contains("revoked"), "{err}");
        let err = gate.authenticate(PEER, None, None).await.unwrap_err();
        assert!(err.message().contains("no credentials"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_address_that_keeps_failing_is_locked_out_for_the_window() {
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        let gate = Gate::new(storage.clone(), Admission::Authenticated);
        let good = with_token(&storage, "ann", Role::Read).await;
        let wrong = NewToken::generate().unwrap();
        for _ in 0..MAX_FAILURES {
            let err = gate
                .authenticate(PEER, Some(&wrong.secret), None)
                .await
                .unwrap_err();
            assert!(err.message().contains("not valid"), "{err}");
            assert!(
                !err.message().contains(&wrong.secret.expose()[22..]),
                "{err}"
            );
        }
        let err = gate
            .authenticate(PEER, Some(&good.secret), None)
            .await
            .unwrap_err();
        assert!(err.message().contains("too many failed attempts"), "{err}");
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(
            gate.authenticate(other, Some(&good.secret), None)
                .await
                .is_ok()
        );
        tokio::time::advance(FAILURE_WINDOW).await;
        assert!(
            gate.authenticate(PEER, Some(&good.secret), None)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn an_open_gate_admits_no_credentials_but_checks_given_ones() {
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        let gate = Gate::new(storage, Admission::OpenLoopback);
        let who = gate.authenticate(PEER, None, None).await.unwrap();
        assert_eq!(who.principal, Principal::anonymous());
        assert_eq!(
            gate.authorize(&who, "x", Role::Admin).await.unwrap(),
            Role::Admin
        );
        let wrong = NewToken::generate().unwrap();
        assert!(
            gate.authenticate(PEER, Some(&wrong.secret), None)
                .await
                .is_err()
        );
    }
}
