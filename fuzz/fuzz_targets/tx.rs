//! Tx data against the fixture's schema: up to four transactions in a row,
//! built from the fuzzer's bytes (structure-aware forms) or, when the
//! first byte is even, the rest as EDN text. The transaction builder never
//! panics; a transaction either fails with an error or commits, and a
//! committed one's log entry replays to the same datoms (`Db::apply_tx`),
//! as the transactor and every peer rely on.
#![no_main]

use accrete_fuzz::fixture::{current_datoms, fixture};
use accrete_fuzz::{text, tx_gen};
use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use model::edn::Instant;
use model::{Db, TxFunctions};

fn check(db: &Db, result: model::Result<model::TxReport>) -> Option<Db> {
    let report = result.ok()?;
    let entry = report.log_entry();
    let replayed = db.apply_tx(&entry).unwrap_or_else(|e| {
        panic!("the log entry of a committed transaction does not replay: {e}\n{entry:?}")
    });
    assert_eq!(
        current_datoms(&replayed),
        current_datoms(&report.db_after),
        "replaying the log entry gives other datoms"
    );
    Some(report.db_after)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let fns = TxFunctions::new();
    let mut db = fixture().db.clone();
    if mode % 2 == 0 {
        if let Some(tx) = text(rest) {
            let _ = check(&db, db.with_edn(tx, Instant(10_000), &fns));
        }
        return;
    }
    let mut u = Unstructured::new(rest);
    for i in 0..4 {
        let Ok(tx) = tx_gen::transaction(&mut u) else {
            return;
        };
        let instant = Instant(10_000 + i);
        if let Some(after) = check(&db, db.with(&tx, instant, &fns)) {
            db = after;
        }
    }
});
