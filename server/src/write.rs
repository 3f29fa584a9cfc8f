//! `transact` and `with`.
//!
//! `transact` commits `tx-data` through the database's transactor under a
//! transaction id — the client's `tx-id`, or one the server generates and
//! names in every answer, failures included. Sending the same tx data
//! again under the same id never commits twice: it answers the first
//! commit. A failure after which the transaction may have committed is
//! kind `unknown` (exit code 5), never "not committed".
//!
//! `with` runs the same transaction against the basis speculatively and
//! answers what it would have done; nothing is committed.

use access::Role;
use model::Db;
use model::edn::{Edn, Instant};
use uuid::Uuid;

use crate::app::{Answer, Call};
use crate::error::{ApiError, Kind, long};
use crate::format::{Params, truncate};
use crate::read::datom_edn;

/// The tx data of a request: a vector of forms, or its EDN text.
fn tx_forms(params: &Params) -> Result<Vec<Edn>, ApiError> {
    let form = params
        .edn("tx-data")?
        .ok_or_else(|| ApiError::invalid("missing parameter `tx-data`"))?;
    match form {
        Edn::Vector(forms) | Edn::List(forms) => Ok(forms),
        other => Err(ApiError::invalid(format!(
            "`tx-data` is a vector of forms, not {}",
            truncate(&other.to_string())
        ))),
    }
}

fn tempids_edn(tempids: &std::collections::HashMap<String, u64>) -> Edn {
    Edn::map(tempids.iter().map(|(k, v)| (Edn::string(k), long(*v))))
}

/// The `tx-id` parameter, if given.
fn tx_id(params: &Params) -> Result<Option<Uuid>, ApiError> {
    Ok(Some(match params.get("tx-id") {
        None => return Ok(None),
        Some(Edn::Uuid(id)) => *id,
        Some(Edn::String(text)) => Uuid::parse_str(text)
            .map_err(|e| ApiError::invalid(format!("`tx-id` {text:?} is not a UUID: {e}")))?,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "`tx-id` is a UUID (#uuid \"…\", JSON {{\"~uuid\": \"…\"}}), not {}",
                truncate(&other.to_string())
            )));
        }
    }))
}

pub(crate) async fn transact(call: &Call) -> Result<Answer, ApiError> {
    call.params.only(&["tx-data", "tx-id"])?;
    let tx_id = tx_id(&call.params)?.unwrap_or_else(Uuid::new_v4);
    let forms = tx_forms(&call.params)?;
    // What the transaction rules reserve to admins (schema changes,
    // excision) needs the admin role here too, judged on the latest value.
    let db = call.conn.db();
    let probe = forms.clone();
    let needs_admin = call
        .blocking(move |_| {
            Ok(db
                .with(&probe, next_instant(&db), &txfn::tx_functions())
                .ok()
                .and_then(|report| report.needs_admin()))
        })
        .await?;
    if let Some(why) = needs_admin {
        call.authorize(Role::Admin).await.map_err(|mut e| {
            e.message = format!("{}: the transaction {why}", e.message);
            e
        })?;
    }
    let text = Edn::Vector(forms).to_string();
    let report = call
        .conn
        .transact_with_id(&text, tx_id)
        .await
        .map_err(|e| {
            let mut error = ApiError::from(e);
            error.tx_id = Some(tx_id);
            if error.kind == Kind::Unknown {
                error.message = format!(
                    "{}; the transaction may have committed: send it again with the same tx-id {tx_id} (it never commits twice)",
                    error.message
                );
            }
            error
        })?;
    Ok(Answer::Data(Edn::map([
        (Edn::keyword("t"), long(report.t())),
        (Edn::keyword("tx"), long(report.tx())),
        (Edn::keyword("tx-id"), Edn::Uuid(tx_id)),
        (Edn::keyword("basis-t"), long(report.db_after.basis_t())),
        (Edn::keyword("tempids"), tempids_edn(&report.tempids)),
        (
            Edn::keyword("tx-data"),
            Edn::Vector(report.tx_data.iter().map(datom_edn).collect()),
        ),
    ])))
}

/// What became of a transaction by its id, as the live transactor says:
/// `{:tx-id … :status "committed" :t T}`, `"not-committed"` (proven: the
/// transactor that answers holds the lease, every earlier one is fenced,
/// and the log has no such transaction), or `"unknown"` with `:why`.
pub(crate) async fn tx_status(call: &Call) -> Result<Answer, ApiError> {
    call.params.only(&["tx-id"])?;
    let id = tx_id(&call.params)?.ok_or_else(|| ApiError::invalid("missing parameter `tx-id`"))?;
    let status = call.conn.tx_status(id).await?;
    let mut fields = vec![(Edn::keyword("tx-id"), Edn::Uuid(id))];
    match status {
        transactor::TxStatus::Committed { t } => {
            fields.push((Edn::keyword("status"), Edn::string("committed")));
            fields.push((Edn::keyword("t"), long(t)));
        }
        transactor::TxStatus::NotCommitted => {
            fields.push((Edn::keyword("status"), Edn::string("not-committed")));
        }
        transactor::TxStatus::Unknown(why) => {
            fields.push((Edn::keyword("status"), Edn::string("unknown")));
            fields.push((Edn::keyword("why"), Edn::string(&why)));
        }
    }
    Ok(Answer::Data(Edn::map(fields)))
}

/// An instant later than the last transaction's, as the transactor would
/// stamp it.
fn next_instant(db: &Db) -> Instant {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Instant(now.max(db.last_tx_instant().millis() + 1))
}

/// The speculative transaction, on the basis (its fields follow the
/// basis fields of the answer).
pub(crate) fn with(view: &Db, params: &Params) -> Result<Vec<(Edn, Edn)>, ApiError> {
    let forms = tx_forms(params)?;
    let report = view.with(&forms, next_instant(view), &txfn::tx_functions())?;
    Ok(vec![
        (Edn::keyword("t"), long(report.t())),
        (Edn::keyword("tx"), long(report.tx())),
        (Edn::keyword("tempids"), tempids_edn(&report.tempids)),
        (
            Edn::keyword("tx-data"),
            Edn::Vector(report.tx_data.iter().map(datom_edn).collect()),
        ),
        (Edn::keyword("committed"), Edn::Boolean(false)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tx_data_is_a_vector_or_its_text() {
        let params = Params::new(
            None,
            model::edn::parse("{:tx-data \"[[:db/add \\\"x\\\" :db/doc \\\"d\\\"]]\"}").unwrap(),
        )
        .unwrap();
        assert_eq!(tx_forms(&params).unwrap().len(), 1);
        let params = Params::new(None, model::edn::parse("{:tx-data {:a 1}}").unwrap()).unwrap();
        assert!(
            tx_forms(&params)
                .unwrap_err()
                .message
                .contains("vector of forms")
        );
    }
}
