//! The watcher of scenario §5: takes reports from the queue and queries
//! each report's tx data for the datoms of one attribute, printing entity
//! and value; db before and db after are queried as the full values they
//! are.

use std::sync::Arc;

use model::edn::Keyword;
use model::{Db, TxReport, Value};
use peer::TxReportQueue;
use query::{Input, q};
use tokio::task::JoinHandle;

use crate::failed;

/// A running watcher; prints until the queue ends.
pub(crate) struct Watcher {
    _task: JoinHandle<()>,
}

impl Watcher {
    pub(crate) fn start(mut queue: TxReportQueue, attr: Arc<Keyword>) -> Watcher {
        let task = tokio::spawn(async move {
            loop {
                let line = match queue.next().await {
                    Ok(report) => {
                        let attr = attr.clone();
                        tokio::task::spawn_blocking(move || describe(&report, &attr))
                            .await
                            .unwrap_or_else(|e| format!("failed watcher {e}"))
                    }
                    Err(e) => {
                        println!("ended {}", failed(&e));
                        return;
                    }
                };
                println!("{line}");
            }
        });
        Watcher { _task: task }
    }
}

/// `report T before=T0 facts=[[e v] …] before_count=N after_count=M`.
fn describe(report: &TxReport, attr: &Keyword) -> String {
    let line = (|| -> Result<String, query::Error> {
        let mut facts = match report.db_after.attribute_named(attr) {
            Some(a) => q(
                "[:find ?e ?v :in $ ?a :where [?e ?a ?v _ true]]",
                &[Input::datoms(&report.tx_data), Value::Ref(a.id).into()],
            )?
            .rows()
            .iter()
            .map(|row| format!("[{} {}]", row[0].to_edn(), row[1].to_edn()))
            .collect(),
            None => Vec::new(),
        };
        facts.sort();
        Ok(format!(
            "report {} before={} facts=[{}] before_count={} after_count={}",
            report.t(),
            report.db_before.basis_t(),
            facts.join(" "),
            count(&report.db_before, attr)?,
            count(&report.db_after, attr)?,
        ))
    })();
    line.unwrap_or_else(|e| format!("failed query {e}"))
}

/// How many entities have `attr` in `db` (0 before the attribute exists).
fn count(db: &Db, attr: &Keyword) -> Result<u64, query::Error> {
    let Some(a) = db.attribute_named(attr) else {
        return Ok(0);
    };
    let found = q(
        "[:find (count ?e) :in $ ?a :where [?e ?a]]",
        &[db.into(), Value::Ref(a.id).into()],
    )?;
    Ok(found
        .rows()
        .first()
        .and_then(|row| row[0].as_long())
        .map_or(0, |n| n as u64))
}
