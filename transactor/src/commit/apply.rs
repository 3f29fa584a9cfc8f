//! Applying a batch of queued transactions, one after another, to the
//! database value: the pure half of group commit.

use access::Principal;
use model::edn::{Edn, Instant};
use model::schema::bootstrap::EXCISE;
use model::{CommittedTx, Db, TxReport};
use uuid::Uuid;

use crate::config::{BackPressure, Config};
use crate::error::{Error, ErrorKind, Result};
pub(crate) use crate::txid::Reply;

/// One queued transaction.
#[derive(Debug)]
pub(crate) struct Request {
    /// The tx data.
    pub(crate) forms: Vec<Edn>,
    /// Its id, recorded as `:tx/id`; a resubmitted one commits nothing.
    pub(crate) tx_id: Option<Uuid>,
    /// Who commits it, recorded as `:tx/principal`.
    pub(crate) author: Author,
    /// Where its outcome goes.
    pub(crate) reply: Reply,
    /// The series it belongs to, if any ([`crate::TxScope`]).
    pub(crate) scope: Option<std::sync::Arc<dyn crate::TxScope>>,
    /// About how many bytes its tx data takes (the batch's byte budget).
    pub(crate) bytes: usize,
    /// When its caller sent it (how long callers take to come back).
    pub(crate) sent_at: tokio::time::Instant,
}

/// The transactions of a batch that applied, waiting for their commit.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// Reports in t order, each with the caller to tell.
    pub(crate) reports: Vec<(TxReport, Reply)>,
    /// True when one of them records an excision request.
    pub(crate) excises: bool,
    /// Resubmitted ids first committed earlier in this batch, with that
    /// commit's report: answered once the batch is settled.
    pub(crate) duplicates: Vec<(TxReport, Reply)>,
    /// The tx data of the batch, no longer needed: freed off the
    /// committer's task (an import's batch holds a megabyte of forms).
    pub(crate) forms: Vec<Vec<Edn>>,
}

impl Applied {
    /// The value after the last applied transaction.
    pub(crate) fn db_after(&self) -> Option<&Db> {
        self.reports.last().map(|(r, _)| &r.db_after)
    }
}

/// Applies `batch` to `db` in order. Refused transactions are answered at
/// once (nothing of them will ever commit); the rest wait in [`Applied`].
/// Reads may block on storage: call it on a blocking thread.
pub(crate) fn apply_batch(db: &Db, batch: Vec<Request>, config: &Config) -> Applied {
    let mut applied = Applied::default();
    let mut current = db.clone();
    for request in batch {
        match request.tx_id.map(|id| current.committed_tx(id)).transpose() {
            // First committed before this batch: durable, answered now.
            Ok(Some(Some(first))) if first.t <= db.basis_t() => {
                let _ = request.reply.send(Ok(duplicate(&current, first)));
                continue;
            }
            // First committed earlier in this batch: answered with it.
            Ok(Some(Some(first))) => {
                applied
                    .duplicates
                    .push((duplicate(&current, first), request.reply));
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                let _ = request.reply.send(Err(e.into()));
                continue;
            }
        }
        if let Err(e) = admit(&current, config) {
            let _ = request.reply.send(Err(e));
            continue;
        }
        let instant = next_instant(&current, config);
        let principal = Some(request.author.principal.as_str());
        let scope = request.scope.as_deref();
        let known = |tempid: &str| scope.and_then(|s| s.tempid(tempid));
        let built = current.with_known_tempids(
            &request.forms,
            instant,
            &config.functions,
            request.tx_id,
            principal,
            &known,
        );
        applied.forms.push(request.forms);
        let outcome = built
            .map_err(Error::from)
            .and_then(|report| request.author.permits(report));
        match outcome {
            Ok(report) => {
                if let Some(scope) = &request.scope {
                    scope.applied(&report);
                }
                applied.excises |= report.tx_data.iter().any(|d| d.a() == EXCISE && d.added());
                current = report.db_after.clone();
                applied.reports.push((report, request.reply));
            }
            // The caller may have stopped waiting; the refusal stands either way.
            Err(e) => {
                let _ = request.reply.send(Err(e));
            }
        }
    }
    applied
}

/// Who commits a transaction: the principal recorded as `:tx/principal`,
/// and whether it may do what needs the admin role (excise, alter
/// existing attributes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Author {
    /// Who it is.
    pub principal: Principal,
    /// Whether it holds the admin role on the database.
    pub admin: bool,
}

impl Author {
    /// `report` when this author may commit it; [`ErrorKind::Forbidden`]
    /// when it needs the admin role this author lacks.
    fn permits(&self, report: TxReport) -> Result<TxReport> {
        match report.needs_admin() {
            Some(why) if !self.admin => Err(Error::new(
                ErrorKind::Forbidden,
                format!(
                    "`{}` may not commit this transaction: {why}, which needs the admin role",
                    self.principal
                ),
            )),
            _ => Ok(report),
        }
    }
}

/// The report of a resubmitted id: the first commit's t, datoms and
/// tempids; its database values are the current one (nothing changed).
fn duplicate(current: &Db, first: CommittedTx) -> TxReport {
    TxReport {
        db_before: current.clone(),
        db_after: current.clone(),
        tx_data: first.tx_data,
        tempids: first.tempids,
    }
}

/// Refuses a transaction while novelty is over its cap, when so configured.
fn admit(db: &Db, config: &Config) -> Result<()> {
    if config.back_pressure == BackPressure::Reject && db.novelty_len() >= config.novelty_cap {
        return Err(Error::new(
            ErrorKind::Overloaded,
            format!(
                "novelty of {} datoms is over the cap of {} while indexing catches up; retry later",
                db.novelty_len(),
                config.novelty_cap
            ),
        ));
    }
    Ok(())
}

/// The clock's time, but always after the previous transaction's.
pub(crate) fn next_instant(db: &Db, config: &Config) -> Instant {
    let now = (config.clock)();
    Instant(now.0.max(db.last_tx_instant().0.saturating_add(1)))
}
