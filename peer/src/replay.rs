//! Building database values from committed log entries: reports, rebasing
//! onto a newer index, reading the log behind a value. Everything here may
//! block on storage (cache misses): call it from `spawn_blocking` or a
//! plain thread.

use std::collections::HashMap;
use std::sync::Arc;

use model::{Db, IndexStore, TxLog, TxReport};

use crate::error::{Error, Result};

/// The reports of applying `entries` (in t order) to `db`; entries at or
/// before its basis are already in it and skipped. On a failure, the
/// reports of the entries before it come with the error.
pub(crate) fn apply_entries(db: &Db, entries: Vec<TxLog>) -> (Vec<TxReport>, Option<Error>) {
    let mut reports: Vec<TxReport> = Vec::with_capacity(entries.len());
    let mut before = db.clone();
    for entry in entries {
        if entry.t <= before.basis_t() {
            continue;
        }
        let after = match index::apply_entry(&before, &entry) {
            Ok(after) => after,
            Err(e) => {
                let e = Error::from(e).context(format!("applying the log entry of t {}", entry.t));
                return (reports, Some(e));
            }
        };
        reports.push(TxReport {
            db_before: before,
            db_after: after.clone(),
            tx_data: entry.data,
            tempids: HashMap::new(),
        });
        before = after;
    }
    (reports, None)
}

/// `db` over the persistent layer `store`, whose basis must not be after
/// `db`'s: novelty up to the layer's basis dropped, later transactions
/// replayed (leaving out retractions of facts the layer excised).
pub(crate) fn rebase(db: &Db, store: Arc<dyn IndexStore>) -> Result<Db> {
    let from = store.basis_t().map_or(0, |b| b + 1);
    if from > db.basis_t() + 1 {
        return Err(Error::invalid(format!(
            "an index covering t {} cannot carry a value at t {}",
            from - 1,
            db.basis_t()
        )));
    }
    let later: Vec<TxLog> = db
        .tx_range(Some(from), None)?
        .collect::<model::Result<_>>()?;
    let mut rebased = Db::from_store(store, Vec::new())?;
    for entry in &later {
        rebased = index::reapply_entry(&rebased, entry)?;
    }
    Ok(rebased)
}

/// True when `db` may move onto `latest`'s persistent layer: it is newer
/// than `db`'s and covers nothing after `db`'s basis.
pub(crate) fn can_rebase(db: &Db, latest: &Db) -> bool {
    let (theirs, ours) = (latest.store().basis_t(), db.store().basis_t());
    theirs > ours && theirs <= Some(db.basis_t())
}

/// The reports of up to `max` transactions after `position`, read from the
/// log of `latest` (a later value of the same database). `position` is
/// first moved onto `latest`'s persistent layer when it can be, so that a
/// consumer far behind holds no more novelty than the peer does.
pub(crate) fn reports_after(position: &Db, latest: &Db, max: usize) -> Result<Vec<TxReport>> {
    let base = match can_rebase(position, latest) {
        true => rebase(position, latest.store().clone())?,
        false => position.clone(),
    };
    let entries: Vec<TxLog> = latest
        .tx_range(Some(base.basis_t() + 1), Some(latest.basis_t() + 1))?
        .take(max)
        .collect::<model::Result<_>>()?;
    if entries.is_empty() {
        return Err(Error::corruption(format!(
            "the log of the value at t {} has no entry after t {}",
            latest.basis_t(),
            base.basis_t()
        )));
    }
    match apply_entries(&base, entries) {
        (reports, None) => Ok(reports),
        (_, Some(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_chain::chain;

    #[test]
    fn applied_entries_rebuild_the_same_values_and_skip_known_ones() {
        let (start, made) = chain(5);
        let entries: Vec<TxLog> = made.iter().map(TxReport::log_entry).collect();
        let (reports, failure) = apply_entries(&start, entries.clone());
        assert!(failure.is_none());
        assert_eq!(reports.len(), 5);
        for (got, want) in reports.iter().zip(&made) {
            assert_eq!(got.t(), want.t());
            assert_eq!(got.db_before.basis_t(), want.db_before.basis_t());
            assert_eq!(got.tx_data, want.tx_data);
        }
        let (again, _) = apply_entries(&made[2].db_after, entries);
        assert_eq!(
            again.iter().map(TxReport::t).collect::<Vec<_>>(),
            [made[3].t(), made[4].t()]
        );
    }

    #[test]
    fn a_broken_entry_stops_with_the_reports_before_it() {
        let (start, made) = chain(3);
        let mut entries: Vec<TxLog> = made.iter().map(TxReport::log_entry).collect();
        // Between t and the next t, which the first entry's new entity took.
        entries[1].t = made[0].t() + 1;
        let (reports, failure) = apply_entries(&start, entries);
        assert_eq!(reports.len(), 1);
        let e = failure.expect("an entry at a t already used");
        assert!(e.to_string().contains("applying the log entry of t"), "{e}");
        assert_eq!(e.kind(), crate::ErrorKind::Corruption, "{e}");
    }

    #[test]
    fn reports_after_reads_the_log_of_a_later_value() {
        let (start, made) = chain(6);
        let latest = made[5].db_after.clone();
        let reports = reports_after(&made[1].db_after, &latest, 3).unwrap();
        assert_eq!(
            reports.iter().map(TxReport::t).collect::<Vec<_>>(),
            [made[2].t(), made[3].t(), made[4].t()]
        );
        let e = reports_after(&latest, &latest, 3).unwrap_err();
        assert!(e.to_string().contains("no entry after"), "{e}");
        assert!(
            !can_rebase(&start, &latest),
            "both have no persistent layer"
        );
    }
}
