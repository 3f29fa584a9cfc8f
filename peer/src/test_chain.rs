//! Test support: a database value and the reports of transactions after it.

use model::edn::Instant;
use model::{Db, TxFunctions, TxReport};

/// A value and the reports of `n` transactions after it, each asserting
/// one `:n/v`.
pub(crate) fn chain(n: usize) -> (Db, Vec<TxReport>) {
    let fns = TxFunctions::new();
    let schema =
        r#"[{:db/ident :n/v :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]"#;
    let start = Db::new()
        .with_edn(schema, Instant(1), &fns)
        .unwrap()
        .db_after;
    let mut db = start.clone();
    let mut made = Vec::new();
    for i in 0..n {
        let report = db
            .with_edn(&format!("[{{:n/v {i}}}]"), Instant(2 + i as i64), &fns)
            .unwrap();
        db = report.db_after.clone();
        made.push(report);
    }
    (start, made)
}
