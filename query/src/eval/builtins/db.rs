//! The database functions: `missing?`, `get-else` and `get-some`.

use super::{Arg, Builtin, Returned, arity};
use crate::eval::source::Source;
use model::{Db, Index, Value};

/// `missing?`, `get-else` and `get-some`: `[$ entity attr…]`.
pub(super) fn call(builtin: Builtin, args: &[Arg<'_>]) -> Returned {
    let (db, e, rest) = match args {
        [Arg::Source(Source::Db(db)), Arg::Value(e), rest @ ..] => (db, *e, rest),
        _ => return Err("the first argument must be a database, the second an entity".into()),
    };
    let Some(e) = crate::resolve::entity(db, e).map_err(|err| err.to_string())? else {
        return Ok(match builtin {
            Builtin::Missing => Some(Value::Boolean(true)),
            Builtin::GetElse => default_of(rest)?.cloned(),
            _ => None,
        });
    };
    let attrs = rest
        .iter()
        .map(|a| match a {
            Arg::Value(v) => Ok(*v),
            Arg::Source(_) => Err("an attribute is expected, not a source".to_string()),
        })
        .collect::<Result<Vec<&Value>, String>>()?;
    match builtin {
        Builtin::Missing => match attrs.as_slice() {
            [a] => Ok(Some(Value::Boolean(first_value(db, e, a)?.is_none()))),
            _ => Err(arity("missing?", 3)),
        },
        Builtin::GetElse => match attrs.as_slice() {
            [a, default] => {
                if attribute(db, a)?.is_many() {
                    return Err(format!("get-else of the cardinality-many attribute {a}"));
                }
                Ok(Some(
                    first_value(db, e, a)?.unwrap_or_else(|| (*default).clone()),
                ))
            }
            _ => Err(arity("get-else", 4)),
        },
        _ => {
            for a in &attrs {
                if let Some(v) = first_value(db, e, a)? {
                    let id = attribute(db, a)?.id;
                    return Ok(Some(Value::Tuple(
                        vec![Some(Value::Ref(id)), Some(v)].into(),
                    )));
                }
            }
            Ok(None)
        }
    }
}

fn default_of<'a>(rest: &'a [Arg<'a>]) -> Result<Option<&'a Value>, String> {
    match rest {
        [_, Arg::Value(default)] => Ok(Some(default)),
        _ => Err(arity("get-else", 4)),
    }
}

fn attribute<'a>(db: &'a Db, a: &Value) -> Result<&'a std::sync::Arc<model::Attribute>, String> {
    crate::resolve::attribute(db, a)
        .and_then(|id| db.attribute(id))
        .ok_or_else(|| format!("{a} is not an attribute"))
}

fn first_value(db: &Db, e: u64, a: &Value) -> Result<Option<Value>, String> {
    let attr = attribute(db, a)?;
    let mut datoms = db
        .datoms(Index::Eavt, &[Value::Ref(e), Value::Ref(attr.id)])
        .map_err(|err| err.to_string())?;
    match datoms.next() {
        Some(Ok(d)) => Ok(Some(d.v().clone())),
        Some(Err(err)) => Err(err.to_string()),
        None => Ok(None),
    }
}
