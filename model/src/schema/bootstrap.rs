//! The built-in entities every database starts with, at t = 0.

use crate::datom::{Datom, EntityId, PART_DB, PART_TX, PART_USER, t_to_tx};
use crate::edn::{Instant, Keyword};
use crate::log::TxLog;
use crate::value::{Value, ValueType};

/// `:db/ident`
pub const IDENT: EntityId = 10;
/// `:db.install/partition`
pub const INSTALL_PARTITION: EntityId = 11;
/// `:db.install/valueType`
pub const INSTALL_VALUE_TYPE: EntityId = 12;
/// `:db.install/attribute`
pub const INSTALL_ATTRIBUTE: EntityId = 13;
/// `:db.alter/attribute`
pub const ALTER_ATTRIBUTE: EntityId = 14;
/// `:db/excise`
pub const EXCISE: EntityId = 15;
/// `:db.excise/attrs`
pub const EXCISE_ATTRS: EntityId = 16;
/// `:db.excise/beforeT`
pub const EXCISE_BEFORE_T: EntityId = 17;
/// `:db.excise/before`
pub const EXCISE_BEFORE: EntityId = 18;
/// `:db/valueType`
pub const VALUE_TYPE: EntityId = 19;
/// `:db/cardinality`
pub const CARDINALITY: EntityId = 20;
/// `:db/unique`
pub const UNIQUE: EntityId = 21;
/// `:db/isComponent`
pub const IS_COMPONENT: EntityId = 22;
/// `:db/index`
pub const INDEX: EntityId = 23;
/// `:db/noHistory`
pub const NO_HISTORY: EntityId = 24;
/// `:db/doc`
pub const DOC: EntityId = 25;
/// `:db/txInstant`
pub const TX_INSTANT: EntityId = 26;
/// `:db/tupleAttrs`
pub const TUPLE_ATTRS: EntityId = 27;
/// `:db/tupleType`
pub const TUPLE_TYPE: EntityId = 28;
/// `:db/tupleTypes`
pub const TUPLE_TYPES: EntityId = 29;
/// `:db.cardinality/one`
pub const CARDINALITY_ONE: EntityId = 30;
/// `:db.cardinality/many`
pub const CARDINALITY_MANY: EntityId = 31;
/// `:db.unique/value`
pub const UNIQUE_VALUE: EntityId = 32;
/// `:db.unique/identity`
pub const UNIQUE_IDENTITY: EntityId = 33;
/// `:tx/id`: the id a client gave its transaction (or one generated for
/// it), on the transaction entity. Unique, so resubmitting an id finds the
/// first commit with one AVET probe: the dedup window is the whole history.
pub const TX_ID: EntityId = 34;
/// `:tx/tempids`: how the transaction's tempids resolved (EDN text of a
/// map from tempid to entity id), so a resubmitted id gets them back.
pub const TX_TEMPIDS: EntityId = 35;
/// `:tx/principal`: who committed the transaction (the principal the
/// transactor authenticated, or `local:USER` for an embedded one), on the
/// transaction entity. Written by the transactor only: tx data that
/// asserts it is refused.
pub const TX_PRINCIPAL: EntityId = 36;
/// `:db/fn`: the code of a transaction function installed as data (a
/// Rhai script defining `fn main(db, …)`), on an entity whose `:db/ident`
/// names the function in tx data (`[:my/fn arg …]`). Its history is the
/// function's versions: a transaction runs the code current at its basis.
pub const FN: EntityId = 60;
/// `:db/ensure`: asserted in tx data on an entity, names an entity spec
/// the entity must satisfy after the transaction. Never stored: it only
/// asks for the check (as in Datomic).
pub const ENSURE: EntityId = 61;
/// `:db.entity/attrs`: the attributes an entity spec requires a value of.
pub const ENTITY_ATTRS: EntityId = 62;
/// `:db.entity/preds`: the predicates of an entity spec (entities with
/// `:db.pred/query` or `:db/fn`), which must all hold.
pub const ENTITY_PREDS: EntityId = 63;
/// `:db.pred/query`: a Datalog query (EDN text) that holds when it finds
/// anything; its `:in` takes `$` (the database after the transaction),
/// `%` (the rules of `:db.pred/rules`), the entity and the principal.
pub const PRED_QUERY: EntityId = 64;
/// `:db.pred/rules`: the rule set (an entity with `:db/rules`) that a
/// predicate's query gets as `%`.
pub const PRED_RULES: EntityId = 65;
/// `:db/rules`: a named rule set (EDN text of a vector of rules), shared by
/// predicates and readable by transaction functions.
pub const RULES: EntityId = 66;
/// The first `:db.type/...` entity; the others follow in tag order.
const FIRST_TYPE: EntityId = 40;
/// Entities of `:db.part/db` below this counter are built in and immutable.
pub const BUILTIN_LIMIT: u64 = 100;
/// The t of the first user transaction on a new database.
pub const FIRST_USER_T: u64 = 1000;

/// The entity that names a value type.
pub fn type_entity(t: ValueType) -> EntityId {
    FIRST_TYPE + u64::from(t.tag()) - 1
}

/// The value type named by an entity, if it names one.
pub fn entity_type(e: EntityId) -> Option<ValueType> {
    let tag = e.checked_sub(FIRST_TYPE)? + 1;
    ValueType::from_tag(u8::try_from(tag).ok()?)
}

/// True for entities the system defines and users may not change.
pub fn is_builtin(e: EntityId) -> bool {
    e < BUILTIN_LIMIT
}

struct Builtin {
    id: EntityId,
    ident: &'static str,
    /// Value type, cardinality many, unique identity, tuple element type.
    attr: Option<(ValueType, bool, bool, Option<ValueType>)>,
}

const fn attr(id: EntityId, ident: &'static str, ty: ValueType, many: bool) -> Builtin {
    Builtin {
        id,
        ident,
        attr: Some((ty, many, false, None)),
    }
}

const fn named(id: EntityId, ident: &'static str) -> Builtin {
    Builtin {
        id,
        ident,
        attr: None,
    }
}

const BUILTINS: [Builtin; 43] = [
    named(PART_DB, "db.part/db"),
    named(PART_TX, "db.part/tx"),
    named(PART_USER, "db.part/user"),
    Builtin {
        id: IDENT,
        ident: "db/ident",
        attr: Some((ValueType::Keyword, false, true, None)),
    },
    attr(
        INSTALL_PARTITION,
        "db.install/partition",
        ValueType::Ref,
        true,
    ),
    attr(
        INSTALL_VALUE_TYPE,
        "db.install/valueType",
        ValueType::Ref,
        true,
    ),
    attr(
        INSTALL_ATTRIBUTE,
        "db.install/attribute",
        ValueType::Ref,
        true,
    ),
    attr(ALTER_ATTRIBUTE, "db.alter/attribute", ValueType::Ref, true),
    attr(EXCISE, "db/excise", ValueType::Ref, false),
    attr(EXCISE_ATTRS, "db.excise/attrs", ValueType::Ref, true),
    attr(EXCISE_BEFORE_T, "db.excise/beforeT", ValueType::Long, false),
    attr(EXCISE_BEFORE, "db.excise/before", ValueType::Instant, false),
    attr(VALUE_TYPE, "db/valueType", ValueType::Ref, false),
    attr(CARDINALITY, "db/cardinality", ValueType::Ref, false),
    attr(UNIQUE, "db/unique", ValueType::Ref, false),
    attr(IS_COMPONENT, "db/isComponent", ValueType::Boolean, false),
    attr(INDEX, "db/index", ValueType::Boolean, false),
    attr(NO_HISTORY, "db/noHistory", ValueType::Boolean, false),
    attr(DOC, "db/doc", ValueType::String, false),
    attr(TX_INSTANT, "db/txInstant", ValueType::Instant, false),
    Builtin {
        id: TUPLE_ATTRS,
        ident: "db/tupleAttrs",
        attr: Some((ValueType::Tuple, false, false, Some(ValueType::Ref))),
    },
    attr(TUPLE_TYPE, "db/tupleType", ValueType::Ref, false),
    Builtin {
        id: TUPLE_TYPES,
        ident: "db/tupleTypes",
        attr: Some((ValueType::Tuple, false, false, Some(ValueType::Ref))),
    },
    Builtin {
        id: TX_ID,
        ident: "tx/id",
        attr: Some((ValueType::Uuid, false, true, None)),
    },
    attr(TX_TEMPIDS, "tx/tempids", ValueType::String, false),
    attr(TX_PRINCIPAL, "tx/principal", ValueType::String, false),
    attr(FN, "db/fn", ValueType::String, false),
    attr(ENSURE, "db/ensure", ValueType::Ref, true),
    attr(ENTITY_ATTRS, "db.entity/attrs", ValueType::Keyword, true),
    attr(ENTITY_PREDS, "db.entity/preds", ValueType::Ref, true),
    attr(PRED_QUERY, "db.pred/query", ValueType::String, false),
    attr(PRED_RULES, "db.pred/rules", ValueType::Ref, false),
    attr(RULES, "db/rules", ValueType::String, false),
    named(CARDINALITY_ONE, "db.cardinality/one"),
    named(CARDINALITY_MANY, "db.cardinality/many"),
    named(UNIQUE_VALUE, "db.unique/value"),
    named(UNIQUE_IDENTITY, "db.unique/identity"),
    // The value types follow, generated below; this array holds the rest.
    named(1, "db/add"),
    named(2, "db/retract"),
    named(5, "db/cas"),
    named(6, "db/retractEntity"),
    named(7, "db.fn/retractEntity"),
    named(8, "db.fn/cas"),
];

/// The bootstrap transaction (t = 0) every database starts from.
pub fn bootstrap_tx() -> TxLog {
    let tx = t_to_tx(0);
    let mut data = vec![Datom::new(
        tx,
        TX_INSTANT,
        Value::Instant(Instant(0)),
        tx,
        true,
    )];
    let mut add = |e: EntityId, a: EntityId, v: Value| data.push(Datom::new(e, a, v, tx, true));
    for b in &BUILTINS {
        add(b.id, IDENT, Value::Keyword(Keyword::new(b.ident)));
        if let Some((ty, many, identity, element)) = b.attr {
            add(b.id, VALUE_TYPE, Value::Ref(type_entity(ty)));
            add(
                b.id,
                CARDINALITY,
                Value::Ref(if many {
                    CARDINALITY_MANY
                } else {
                    CARDINALITY_ONE
                }),
            );
            if identity {
                add(b.id, UNIQUE, Value::Ref(UNIQUE_IDENTITY));
            }
            if let Some(element) = element {
                add(b.id, TUPLE_TYPE, Value::Ref(type_entity(element)));
            }
            add(PART_DB, INSTALL_ATTRIBUTE, Value::Ref(b.id));
        }
    }
    add(TX_INSTANT, INDEX, Value::Boolean(true));
    add(TX_ID, INDEX, Value::Boolean(true));
    add(TX_PRINCIPAL, INDEX, Value::Boolean(true));
    for t in ValueType::ALL {
        add(type_entity(t), IDENT, Value::Keyword(t.ident()));
        add(PART_DB, INSTALL_VALUE_TYPE, Value::Ref(type_entity(t)));
    }
    for p in [PART_DB, PART_TX, PART_USER] {
        add(PART_DB, INSTALL_PARTITION, Value::Ref(p));
    }
    TxLog {
        t: 0,
        data: data.into(),
    }
}
