//! The small database that tx data, queries and pulls run against: a
//! schema with every kind of attribute the generators aim at (identity and
//! value uniqueness, cardinality many, components, refs, tuples, no
//! history) and a few entities, built once per fuzzing process.

use std::sync::OnceLock;

use model::edn::Instant;
use model::{Datom, Db, Index, TxFunctions};

/// The attributes of the fixture: ident, value type (as written after
/// `:db.type/`), and what else the schema says of it.
pub const ATTRIBUTES: &[(&str, &str, &str)] = &[
    (
        "p/name",
        "string",
        ":db/cardinality :db.cardinality/one :db/unique :db.unique/identity",
    ),
    (
        "p/email",
        "string",
        ":db/cardinality :db.cardinality/one :db/unique :db.unique/value",
    ),
    ("p/age", "long", ":db/cardinality :db.cardinality/one"),
    ("p/friend", "ref", ":db/cardinality :db.cardinality/many"),
    ("p/tags", "keyword", ":db/cardinality :db.cardinality/many"),
    (
        "p/address",
        "ref",
        ":db/cardinality :db.cardinality/one :db/isComponent true",
    ),
    ("a/city", "string", ":db/cardinality :db.cardinality/one"),
    ("p/score", "double", ":db/cardinality :db.cardinality/one"),
    (
        "p/nick",
        "string",
        ":db/cardinality :db.cardinality/one :db/noHistory true",
    ),
    ("p/born", "instant", ":db/cardinality :db.cardinality/one"),
    (
        "p/id",
        "uuid",
        ":db/cardinality :db.cardinality/one :db/unique :db.unique/identity",
    ),
    ("p/big", "bigint", ":db/cardinality :db.cardinality/one"),
    ("p/dec", "bigdec", ":db/cardinality :db.cardinality/one"),
    ("p/ok", "boolean", ":db/cardinality :db.cardinality/one"),
    (
        "p/pair",
        "tuple",
        ":db/cardinality :db.cardinality/one :db/tupleTypes [:db.type/long :db.type/string]",
    ),
];

/// The entities of the fixture, as tx data.
pub const DATA: &str = r#"[
  {:db/id "ann" :p/name "ann" :p/email "ann@x" :p/age 31 :p/tags [:a :b]
   :p/address {:a/city "Oslo"} :p/score 1.5 :p/nick "A" :p/born #inst "1990-01-02"
   :p/id #uuid "0b5e2a48-0c3c-4a0e-9e1f-1c2d3e4f5a6b" :p/big 12345678901234567890N
   :p/dec 1.50M :p/ok true :p/pair [1 "one"]}
  {:db/id "bob" :p/name "bob" :p/email "bob@x" :p/age 42 :p/friend ["ann" "cy"]}
  {:db/id "cy" :p/name "cy" :p/friend "bob" :p/address {:a/city "Rome"}}
]"#;

/// The fixture database and the ids of its entities.
pub struct Fixture {
    /// The database after the schema and the entities.
    pub db: Db,
    /// The entity ids of ann, bob and cy.
    pub people: [u64; 3],
    /// Every datom of the current EAVT index, for the targets' checks.
    pub datoms: Vec<Datom>,
}

/// The schema as tx data text.
pub fn schema_text() -> String {
    let mut out = String::from("[");
    for (ident, ty, rest) in ATTRIBUTES {
        out.push_str(&format!(
            "{{:db/ident :{ident} :db/valueType :db.type/{ty} {rest}}}\n"
        ));
    }
    out.push(']');
    out
}

/// The fixture, built on first use.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let fns = TxFunctions::new();
        let db = Db::new()
            .with_edn(&schema_text(), Instant(1_000), &fns)
            .unwrap_or_else(|e| panic!("the fixture's schema does not transact: {e}"))
            .db_after;
        let report = db
            .with_edn(DATA, Instant(2_000), &fns)
            .unwrap_or_else(|e| panic!("the fixture's data does not transact: {e}"));
        let id = |t: &str| {
            report
                .tempid(t)
                .unwrap_or_else(|| panic!("tempid {t} of the fixture did not resolve"))
        };
        let people = [id("ann"), id("bob"), id("cy")];
        let db = report.db_after;
        let datoms = current_datoms(&db);
        Fixture { db, people, datoms }
    })
}

/// Every datom of `db`'s current EAVT index.
pub fn current_datoms(db: &Db) -> Vec<Datom> {
    db.datoms(Index::Eavt, &[])
        .unwrap_or_else(|e| panic!("reading the EAVT index of an in-memory db failed: {e}"))
        .map(|d| d.unwrap_or_else(|e| panic!("reading a datom of an in-memory db failed: {e}")))
        .collect()
}
