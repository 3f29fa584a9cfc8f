//! Entity references written as values: ids, idents and lookup refs.

use model::edn::Edn;
use model::{Db, EntityId, Value};

/// The entity a value names in `db`: an id (`Ref`, non-negative `Long`),
/// an ident (`Keyword`) or a lookup ref (a tuple `[:unique/attr value]`).
/// `Ok(None)` when nothing matches or the value cannot name an entity;
/// an error when a lookup ref is malformed or storage fails.
pub(crate) fn entity(db: &Db, v: &Value) -> model::Result<Option<EntityId>> {
    match v {
        Value::Ref(e) => Ok(Some(*e)),
        Value::Long(n) => Ok(u64::try_from(*n).ok()),
        Value::Keyword(k) => Ok(db.schema().entid(k)),
        Value::Tuple(items) => match &items[..] {
            [Some(Value::Keyword(attr)), Some(value)] => {
                db.lookup_ref(&Edn::Keyword(attr.clone()), &value.to_edn())
            }
            _ => Ok(None),
        },
        _ => Ok(None),
    }
}

/// The attribute a value names in `db` (id or ident), if it is one.
pub(crate) fn attribute(db: &Db, v: &Value) -> Option<EntityId> {
    let id = match v {
        Value::Keyword(k) => db.schema().entid(k)?,
        other => crate::value::as_entity_id(other)?,
    };
    db.attribute(id).map(|a| a.id)
}
