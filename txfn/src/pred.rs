//! Spec predicates: a Datalog query that holds when it finds anything, or
//! code whose `main(db, e, principal)` answers true or false.
//!
//! A query's `:in` says what it gets, by position: `$` (or any source) the
//! database after the transaction, `%` the rules of `:db.pred/rules`, then
//! the first variable the entity and the second the principal of the
//! transaction (a string). `[:find ?e . :in $ % ?e ?who :where …]`.

use crate::script::ScriptDb;
use crate::{Runtime, convert};
use model::edn::Edn;
use model::{InstalledFailure, PredCheck, Value};
use query::{Found, Input, Options, Shape};
use rhai::Dynamic;

const FAILED: fn(String) -> InstalledFailure = InstalledFailure::Failed;

/// The work a predicate query is charged against the transaction's budget.
const QUERY_COST: u64 = 100;

/// Whether the predicate of `check` holds.
pub(crate) fn holds(runtime: &Runtime, check: PredCheck<'_>) -> Result<bool, InstalledFailure> {
    match (check.query, check.code) {
        (Some(query), _) => holds_query(runtime, query, check),
        (None, Some(code)) => holds_code(runtime, code, check),
        (None, None) => Err(FAILED("it has neither a query nor code".into())),
    }
}

fn holds_query(
    runtime: &Runtime,
    text: &str,
    check: PredCheck<'_>,
) -> Result<bool, InstalledFailure> {
    let shared = &runtime.shared;
    let query = shared.query(text).map_err(FAILED)?;
    let edn = model::edn::parse(text).map_err(|e| FAILED(e.to_string()))?;
    let ins = query::section_forms(&edn, "in").unwrap_or_else(|| vec![Edn::symbol("$")]);
    let mut inputs = Vec::with_capacity(ins.len());
    let mut variables = 0;
    for form in &ins {
        let input = match form {
            Edn::Symbol(s) if s.as_str().starts_with('$') => Input::Db(check.db_after.clone()),
            Edn::Symbol(s) if s.as_str() == "%" => {
                let Some(rules) = check.rules else {
                    return Err(FAILED(
                        "its query takes rules (%) but it names no :db.pred/rules".into(),
                    ));
                };
                Input::Rules(shared.rules(rules).map_err(FAILED)?)
            }
            _ => {
                variables += 1;
                match variables {
                    1 => Input::Value(Value::Ref(check.e)),
                    2 => match check.principal {
                        Some(p) => Input::Value(Value::string(p)),
                        None => {
                            return Err(FAILED(
                                "its query takes the principal, and this transaction has none"
                                    .into(),
                            ));
                        }
                    },
                    _ => {
                        return Err(FAILED(format!(
                            "its query's :in {form} is one input too many: a predicate gets $, %, the entity and the principal"
                        )));
                    }
                }
            }
        };
        inputs.push(input);
    }
    let limits = &shared.limits;
    let options = Options {
        timeout: Some(limits.time),
        max_rows: Some(limits.query_rows),
        ..Options::default()
    };
    *check.spent = check.spent.saturating_add(QUERY_COST);
    let found = query
        .run(&inputs, &options)
        .map_err(|e| FAILED(format!("its query failed: {e}")))?;
    Ok(match query.shape() {
        Shape::Scalar => !matches!(
            found.scalar(),
            None | Some(Found::Value(Value::Boolean(false)))
        ),
        _ => !found.is_empty(),
    })
}

fn holds_code(
    runtime: &Runtime,
    code: &str,
    check: PredCheck<'_>,
) -> Result<bool, InstalledFailure> {
    let db = ScriptDb {
        db: check.db_after.clone(),
        principal: check.principal.map(Into::into),
        shared: runtime.shared.clone(),
    };
    let principal = check.principal.map_or(Dynamic::UNIT, |p| p.into());
    let e =
        i64::try_from(check.e).map_err(|_| FAILED(format!("entity {} out of range", check.e)))?;
    let args = vec![Dynamic::from(db), Dynamic::from_int(e), principal];
    let answer = runtime.run(code, args, check.spent).map_err(FAILED)?;
    match answer.as_bool() {
        Ok(b) => Ok(b),
        Err(_) => Err(FAILED(format!(
            "its main returned {} ({}), not true or false",
            convert::to_edn(&answer)
                .map_or_else(|_| answer.type_name().to_string(), |e| e.to_string()),
            answer.type_name()
        ))),
    }
}
