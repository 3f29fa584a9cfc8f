//! Transaction rules, each with its error and message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use model::edn::{Edn, Instant};
use model::{Db, Index, TxErrorKind as K, TxFunctions, Value};
use std::sync::Arc;

fn user(db: &Db, email: &str, name: &str) -> (Db, u64) {
    let r = tx(
        db,
        &format!(r#"[{{:db/id "u" :user/email "{email}" :user/firstName "{name}"}}]"#),
    );
    (r.db_after.clone(), r.tempid("u").unwrap())
}

#[test]
fn unknown_attribute_names_the_form() {
    expect_tx_err(
        &social(),
        r#"[[:db/add "x" :user/nope 1]]"#,
        K::UnknownAttribute,
        "unknown attribute :user/nope",
        ":user/nope",
    );
    expect_tx_err(
        &social(),
        r#"[{:db/id "x" :nope/_back 1}]"#,
        K::UnknownAttribute,
        ":nope/_back",
        ":nope/_back",
    );
}

#[test]
fn wrong_value_type_names_the_attribute() {
    expect_tx_err(
        &social(),
        r#"[[:db/add "x" :user/firstName 42]]"#,
        K::WrongType,
        "42 is not a :db.type/string, as :user/firstName needs",
        "42",
    );
    expect_tx_err(
        &social(),
        r#"[{:db/id "x" :user/upVotes "nobody"}]"#,
        K::Tempid,
        "tempid nobody is used only as a value",
        "nobody",
    );
}

#[test]
fn invalid_forms_are_refused() {
    expect_tx_err(
        &social(),
        "[42]",
        K::InvalidForm,
        "a tx form is a list",
        "42",
    );
    expect_tx_err(
        &social(),
        r#"[[:db/add "x" :user/email]]"#,
        K::InvalidForm,
        ":db/add takes [e a v]",
        ":db/add",
    );
    expect_tx_err(
        &social(),
        r#"[["x" :user/email 1]]"#,
        K::InvalidForm,
        "starts with an operation keyword",
        "\"x\"",
    );
    expect_tx_err(
        &social(),
        r#"[[:no/such-fn 1]]"#,
        K::TxFunction,
        "no transaction function :no/such-fn",
        ":no/such-fn",
    );
    let e = social()
        .with_edn("{:a 1}", Instant(1), &TxFunctions::new())
        .unwrap_err();
    assert_eq!(e.tx_kind(), Some(K::InvalidForm));
}

#[test]
fn unique_identity_upserts_tempids() {
    let (db, u) = user(&social(), "a@x", "Ann");
    let r = tx(
        &db,
        r#"[{:db/id "again" :user/email "a@x" :user/lastName "Smith"}]"#,
    );
    assert_eq!(r.tempid("again"), Some(u));
    assert_eq!(
        get(&r.db_after.entity(u), ":user/lastName"),
        Some(Value::string("Smith"))
    );
    // Two tempids with the same new identity become one entity.
    let r = tx(
        &db,
        r#"[[:db/add "p" :user/email "n@x"] [:db/add "q" :user/email "n@x"] [:db/add "q" :user/firstName "N"]]"#,
    );
    assert_eq!(r.tempid("p"), r.tempid("q"));
    assert_eq!(pairs(&r.db_after, ":user/email").len(), 2);
}

#[test]
fn unique_conflicts_are_errors() {
    let (db, u) = user(&social(), "a@x", "Ann");
    let (db, _) = user(&db, "b@x", "Bob");
    // An explicit entity cannot take another's identity.
    let text = r#"[[:db/add [:user/email "b@x"] :user/email "a@x"]]"#;
    expect_tx_err(
        &db,
        text,
        K::UniqueConflict,
        &format!(":user/email \"a@x\" is already held by entity {u}"),
        "\"b@x\"",
    );
    let db = tx(&db, r#"[{:db/ident :user/handle :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/value}]"#).db_after;
    let db = tx(&db, &format!("[[:db/add {u} :user/handle \"ann\"]]")).db_after;
    expect_tx_err(
        &db,
        r#"[{:db/id "n" :user/handle "ann"}]"#,
        K::UniqueConflict,
        ":user/handle \"ann\" is already held",
        ":user/handle",
    );
    expect_tx_err(
        &db,
        r#"[{:db/id "m" :user/handle "z"} {:db/id "n" :user/handle "z"}]"#,
        K::UniqueConflict,
        "already held",
        "\"z\"",
    );
    // Moving a unique value within one transaction is fine.
    let moved = tx(
        &db,
        &format!(
            r#"[[:db/retract {u} :user/handle "ann"] {{:db/id "n" :user/handle "ann" :user/email "c@x"}}]"#
        ),
    );
    assert_eq!(pairs(&moved.db_after, ":user/handle").len(), 1);
}

#[test]
fn lookup_refs_resolve_in_every_position() {
    let (db, u) = user(&social(), "a@x", "Ann");
    let r = tx(
        &db,
        r#"[{:db/id "s" :story/title "T" :story/url "http://t"} [:db/add [:user/email "a@x"] :user/upVotes "s"]]"#,
    );
    let s = r.tempid("s").unwrap();
    let db = r.db_after;
    assert_eq!(refs(&db.entity(u), ":user/upVotes"), vec![s]);
    let db = tx(
        &db,
        r#"[[:db/retract [:user/email "a@x"] :user/upVotes [:story/url "http://t"]]]"#,
    )
    .db_after;
    assert!(refs(&db.entity(u), ":user/upVotes").is_empty());
    let db = tx(
        &db,
        r#"[{:db/id [:user/email "a@x"] :user/upVotes [[:story/url "http://t"]]}]"#,
    )
    .db_after;
    assert_eq!(refs(&db.entity(u), ":user/upVotes"), vec![s]);
    assert_eq!(
        db.entid(&Edn::Vector(vec![
            Edn::keyword("user/email"),
            Edn::string("a@x")
        ]))
        .unwrap(),
        Some(u)
    );
    expect_tx_err(
        &db,
        r#"[[:db/add [:user/email "zz@x"] :user/firstName "Z"]]"#,
        K::UnresolvedLookupRef,
        "matches no entity",
        "zz@x",
    );
    expect_tx_err(
        &db,
        r#"[[:db/add [:user/firstName "Ann"] :user/lastName "Z"]]"#,
        K::UnresolvedLookupRef,
        "not a unique attribute",
        ":user/firstName",
    );
}

#[test]
fn cas_compares_and_swaps() {
    let (db, u) = user(&social(), "a@x", "Ann");
    let db = tx(
        &db,
        &format!(r#"[[:db/cas {u} :user/firstName "Ann" "Anna"]]"#),
    )
    .db_after;
    assert_eq!(
        get(&db.entity(u), ":user/firstName"),
        Some(Value::string("Anna"))
    );
    expect_tx_err(
        &db,
        &format!(r#"[[:db/cas {u} :user/firstName "Ann" "X"]]"#),
        K::CasFailed,
        "expected \"Ann\", found \"Anna\"",
        ":db/cas",
    );
    expect_tx_err(
        &db,
        &format!(r#"[[:db/cas {u} :user/lastName "L" "X"]]"#),
        K::CasFailed,
        "expected \"L\", found nil",
        ":db/cas",
    );
    let db = tx(
        &db,
        &format!(r#"[[:db.fn/cas {u} :user/lastName nil "L"]]"#),
    )
    .db_after;
    assert_eq!(
        get(&db.entity(u), ":user/lastName"),
        Some(Value::string("L"))
    );
    expect_tx_err(
        &db,
        &format!(r#"[[:db/cas {u} :user/upVotes nil {u}]]"#),
        K::InvalidForm,
        "cardinality-one",
        ":db/cas",
    );
}

#[test]
fn conflicting_datoms_abort_the_transaction() {
    let (db, u) = user(&social(), "a@x", "Ann");
    expect_tx_err(
        &db,
        &format!(r#"[[:db/add {u} :user/firstName "A"] [:db/add {u} :user/firstName "B"]]"#),
        K::DatomConflict,
        "two values for cardinality-one :user/firstName",
        "\"B\"",
    );
    expect_tx_err(
        &db,
        &format!(r#"[[:db/add {u} :user/lastName "A"] [:db/retract {u} :user/lastName "A"]]"#),
        K::DatomConflict,
        "both asserted and retracted",
        ":db/retract",
    );
    // Nothing was applied: the value is unchanged and usable.
    assert_eq!(
        get(&db.entity(u), ":user/firstName"),
        Some(Value::string("Ann"))
    );
}

#[test]
fn redundant_datoms_are_dropped() {
    let (db, u) = user(&social(), "a@x", "Ann");
    let r = tx(
        &db,
        &format!(
            r#"[[:db/add {u} :user/firstName "Ann"] [:db/add {u} :user/firstName "Ann"] [:db/retract {u} :user/lastName "Never"]]"#
        ),
    );
    assert_eq!(r.tx_data.len(), 1, "only the tx instant: {:?}", r.tx_data);
    assert_eq!(r.tx_data[0].a(), attr_id(&db, ":db/txInstant"));
}

#[test]
fn retract_attribute_values_without_a_value() {
    let (db, u) = user(&social(), "a@x", "Ann");
    let r = tx(
        &db,
        r#"[{:db/id "s1" :story/url "http://1"} {:db/id "s2" :story/url "http://2"}]"#,
    );
    let (s1, s2) = (r.tempid("s1").unwrap(), r.tempid("s2").unwrap());
    let db = tx(
        &r.db_after,
        &format!("[{{:db/id {u} :user/upVotes [{s1} {s2}]}}]"),
    )
    .db_after;
    assert_eq!(refs(&db.entity(u), ":user/upVotes").len(), 2);
    let db = tx(&db, &format!("[[:db/retract {u} :user/upVotes]]")).db_after;
    assert!(refs(&db.entity(u), ":user/upVotes").is_empty());
}

#[test]
fn retract_entity_recurses_into_components_and_removes_references() {
    let db = social();
    let r = tx(
        &db,
        r#"[{:db/id "s" :story/url "http://s" :comments [{:comment/body "c1" :comments [{:comment/body "c11"}]} {:comment/body "c2"}]}
                       {:db/id "u" :user/email "v@x" :user/upVotes "s"}]"#,
    );
    let (s, u) = (r.tempid("s").unwrap(), r.tempid("u").unwrap());
    let db = r.db_after;
    assert_eq!(pairs(&db, ":comment/body").len(), 3);
    let db = tx(&db, &format!("[[:db/retractEntity {s}]]")).db_after;
    assert!(
        pairs(&db, ":comment/body").is_empty(),
        "nested components are gone"
    );
    assert!(
        refs(&db.entity(u), ":user/upVotes").is_empty(),
        "references to the story are gone"
    );
    assert_eq!(pairs(&db, ":user/email").len(), 1);
}

#[test]
fn nested_maps_need_components_or_unique_attributes() {
    let db = social();
    expect_tx_err(
        &db,
        r#"[{:db/id "u" :user/email "a@x" :user/upVotes {:story/title "no identity"}}]"#,
        K::InvalidNestedEntity,
        "must be components or have a unique attribute",
        ":story/title",
    );
    let r = tx(
        &db,
        r#"[{:db/id "u" :user/email "a@x" :user/upVotes {:story/url "http://n" :story/title "N"}}]"#,
    );
    let u = r.tempid("u").unwrap();
    let voted = refs(&r.db_after.entity(u), ":user/upVotes");
    assert_eq!(
        get(&r.db_after.entity(voted[0]), ":story/title"),
        Some(Value::string("N"))
    );
    // Nested upsert reaches the existing story.
    let r2 = tx(
        &r.db_after,
        r#"[{:db/id "w" :user/email "w@x" :user/upVotes {:story/url "http://n"}}]"#,
    );
    assert_eq!(
        refs(
            &r2.db_after.entity(r2.tempid("w").unwrap()),
            ":user/upVotes"
        ),
        voted
    );
}

#[test]
fn reverse_attributes_in_maps() {
    let (db, u) = user(&social(), "a@x", "Ann");
    let r = tx(
        &db,
        &format!(r#"[{{:db/id "c" :comment/body "hi" :comment/_author {u}}}]"#),
    );
    // :comment/_author in a map: the listed entity gets :comment/author → c? No: reverse means u is the value.
    let c = r.tempid("c").unwrap();
    let db = r.db_after;
    assert_eq!(
        all(
            &db,
            Index::Eavt,
            &[Value::Ref(u), Value::keyword(":comment/author")]
        )[0]
        .v(),
        &Value::Ref(c)
    );
    // Navigating backwards through the entity API.
    let r = tx(
        &db,
        &format!(r#"[{{:db/id "c2" :comment/body "yo" :comment/author {u}}}]"#),
    );
    let c2 = r.tempid("c2").unwrap();
    assert_eq!(refs(&r.db_after.entity(u), ":comment/_author"), vec![c2]);
}

#[test]
fn tempids_as_strings_and_db_id_forms() {
    let db = social();
    let r = tx(
        &db,
        r#"[{:db/id #db/id [:db.part/user -1] :user/email "a@x"} [:db/add #db/id [:db.part/user -1] :user/firstName "A"]
                       {:db/id #db/id [:db.part/user] :user/email "b@x"} {:db/id -7 :user/email "c@x"}]"#,
    );
    let a = r.tempid("#db/id [:db.part/user -1]").unwrap();
    assert_eq!(
        get(&r.db_after.entity(a), ":user/firstName"),
        Some(Value::string("A"))
    );
    assert!(r.tempid("#db/id [:db.part/user -7]").is_some());
    assert_eq!(pairs(&r.db_after, ":user/email").len(), 3);
    expect_tx_err(
        &db,
        r#"[{:db/id #db/id [:no.such/part] :user/email "a@x"}]"#,
        K::Tempid,
        ":no.such/part is not a partition",
        "#db/id",
    );
    expect_tx_err(
        &db,
        r#"[[:db/add 99999999 :user/email "a@x"]]"#,
        K::UnknownEntity,
        "never allocated",
        "99999999",
    );
    expect_tx_err(
        &db,
        r#"[[:db/add :no/ident :user/email "a@x"]]"#,
        K::UnknownEntity,
        "unable to resolve entity :no/ident",
        ":no/ident",
    );
}

#[test]
fn custom_partitions() {
    let db = tx(
        &Db::new(),
        r#"[{:db/id "p" :db/ident :my/part} [:db/add :db.part/db :db.install/partition "p"]]"#,
    )
    .db_after;
    let db = tx(&db, r#"[{:db/ident :thing/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]"#).db_after;
    let r = tx(&db, r#"[{:db/id #db/id [:my/part] :thing/name "x"}]"#);
    let e = r
        .tx_data
        .iter()
        .find(|d| d.a() == attr_id(&db, ":thing/name"))
        .unwrap()
        .e();
    assert_eq!(
        model::partition_of(e),
        db.entid(&Edn::keyword("my/part")).unwrap().unwrap()
    );
}

#[test]
fn transaction_entity_attributes() {
    let db = tx(&social(), r#"[{:db/ident :audit/who :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]"#).db_after;
    let r = tx(
        &db,
        r#"[{:db/id "u" :user/email "a@x"} {:db/id "datomic.tx" :audit/who "admin"}]"#,
    );
    assert_eq!(
        get(&r.db_after.entity(r.tx()), ":audit/who"),
        Some(Value::string("admin"))
    );
    let r = tx(
        &r.db_after,
        r#"[[:db/add :db/current-tx :audit/who "cron"]]"#,
    );
    assert_eq!(
        get(&r.db_after.entity(r.tx()), ":audit/who"),
        Some(Value::string("cron"))
    );
}

#[test]
fn tx_instants_move_forward() {
    let db = social();
    let base = instant(&db);
    let r = db
        .with_edn(
            r#"[{:db/id "u" :user/email "a@x"}]"#,
            base,
            &TxFunctions::new(),
        )
        .unwrap();
    assert_eq!(
        get(&r.db_after.entity(r.tx()), ":db/txInstant"),
        Some(Value::Instant(base))
    );
    let e = r
        .db_after
        .with_edn(
            r#"[{:db/id "v" :user/email "b@x"}]"#,
            base,
            &TxFunctions::new(),
        )
        .unwrap_err();
    assert_eq!(e.tx_kind(), Some(K::TxInstant));
    assert!(
        e.to_string()
            .contains("is not after the previous transaction's"),
        "{e}"
    );
    // An explicit :db/txInstant (imports) must not be later than the clock.
    let later = Instant(base.0 + 1000);
    let e = r
        .db_after
        .with_edn(
            r#"[[:db/add "datomic.tx" :db/txInstant #inst "2100"]]"#,
            later,
            &TxFunctions::new(),
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("later than the transactor's clock"),
        "{e}"
    );
    let explicit = format!(
        "[[:db/add \"datomic.tx\" :db/txInstant #inst \"{}\"]]",
        Instant(base.0 + 500)
    );
    let ok = r
        .db_after
        .with_edn(&explicit, later, &TxFunctions::new())
        .unwrap();
    assert_eq!(ok.db_after.last_tx_instant(), Instant(base.0 + 500));
}

#[test]
fn transaction_functions_registered_in_rust() {
    let (db, u) = user(&social(), "a@x", "Ann");
    let mut fns = TxFunctions::new();
    fns.register(
        ":user/rename",
        Arc::new(|db: &Db, args: &[Edn]| {
            let e = db
                .entid(&args[0])?
                .ok_or_else(|| model::Error::InvalidArgument("no such user".into()))?;
            Ok(vec![Edn::Vector(vec![
                Edn::keyword("db/add"),
                Edn::Long(e as i64),
                Edn::keyword("user/firstName"),
                args[1].clone(),
            ])])
        }),
    );
    let r = db
        .with_edn(
            r#"[[:user/rename [:user/email "a@x"] "Annie"]]"#,
            instant(&db),
            &fns,
        )
        .unwrap();
    assert_eq!(
        get(&r.db_after.entity(u), ":user/firstName"),
        Some(Value::string("Annie"))
    );
    let e = db
        .with_edn(
            r#"[[:user/rename [:user/email "zz@x"] "Z"]]"#,
            instant(&db),
            &fns,
        )
        .unwrap_err();
    assert_eq!(e.tx_kind(), Some(K::TxFunction));
    assert!(
        e.to_string()
            .contains(":user/rename failed: invalid argument: no such user"),
        "{e}"
    );
}

#[test]
fn values_of_every_type_round_trip() {
    let types = [
        "keyword", "symbol", "boolean", "long", "bigint", "double", "float", "bigdec", "instant",
        "uuid", "uri", "bytes", "string",
    ];
    let schema: Vec<String> = types
        .iter()
        .map(|t| format!("{{:db/ident :v/{t} :db/valueType :db.type/{t} :db/cardinality :db.cardinality/one}}"))
        .collect();
    let db = tx(&Db::new(), &format!("[{}]", schema.join(" "))).db_after;
    let data = r#"[{:db/id "x" :v/keyword :a/b :v/symbol foo/bar :v/boolean true :v/long -5 :v/bigint 123456789012345678901234567890N
        :v/double 1.5 :v/float 2.5 :v/bigdec 48.00M :v/instant #inst "2013-02-20T16:27:11.788-00:00"
        :v/uuid #uuid "0b5e2a48-0c3c-4a0e-9e1f-1c2d3e4f5a6b" :v/uri #uri "http://example.com/x" :v/bytes #bytes "deadbeef" :v/string "s"}]"#;
    let r = tx(&db, data);
    let touched = r
        .db_after
        .entity(r.tempid("x").unwrap())
        .touch()
        .unwrap()
        .to_string();
    for piece in [
        ":a/b",
        "foo/bar",
        "true",
        "-5",
        "123456789012345678901234567890N",
        "1.5",
        "2.5",
        "48.00M",
        "#inst \"2013-02-20T16:27:11.788-00:00\"",
        "#uuid \"0b5e2a48-0c3c-4a0e-9e1f-1c2d3e4f5a6b\"",
        "#uri \"http://example.com/x\"",
        "#bytes \"deadbeef\"",
    ] {
        assert!(touched.contains(piece), "{piece} missing from {touched}");
    }
    expect_tx_err(
        &db,
        r#"[{:db/id "x" :v/uri "not a uri"}]"#,
        K::WrongType,
        "is not a URI",
        ":v/uri",
    );
    expect_tx_err(
        &db,
        r#"[{:db/id "x" :v/bytes #bytes "xyz"}]"#,
        K::WrongType,
        "not hex bytes",
        ":v/bytes",
    );
    expect_tx_err(
        &db,
        r#"[{:db/id "x" :v/long 1.5}]"#,
        K::WrongType,
        "1.5 is not a :db.type/long",
        ":v/long",
    );
}

#[test]
fn tuples_of_all_three_kinds() {
    let db = tx(&Db::new(), r#"[
      {:db/ident :reg/course :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
      {:db/ident :reg/semester :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
      {:db/ident :reg/course+semester :db/valueType :db.type/tuple :db/tupleAttrs [:reg/course :reg/semester]
       :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
      {:db/ident :geo/point :db/valueType :db.type/tuple :db/tupleTypes [:db.type/double :db.type/double] :db/cardinality :db.cardinality/one}
      {:db/ident :tags/scores :db/valueType :db.type/tuple :db/tupleType :db.type/long :db/cardinality :db.cardinality/many}]"#).db_after;
    let r = tx(
        &db,
        r#"[{:db/id "r" :reg/course "math" :reg/semester 3 :geo/point [1.0 2.0] :tags/scores [[1 2 3] [4 5]]}]"#,
    );
    let e = r.tempid("r").unwrap();
    let db = r.db_after;
    let composite = get(&db.entity(e), ":reg/course+semester").unwrap();
    assert_eq!(composite.to_string(), "[\"math\" 3]");
    // The composite follows its parts, and serves as a lookup ref and an identity.
    let db = tx(&db, &format!("[[:db/add {e} :reg/semester 4]]")).db_after;
    assert_eq!(
        get(&db.entity(e), ":reg/course+semester")
            .unwrap()
            .to_string(),
        "[\"math\" 4]"
    );
    assert_eq!(
        db.entid(&model::edn::parse(r#"[:reg/course+semester ["math" 4]]"#).unwrap())
            .unwrap(),
        Some(e)
    );
    let db = tx(&db, &format!("[[:db/retract {e} :reg/semester 4]]")).db_after;
    assert_eq!(
        get(&db.entity(e), ":reg/course+semester")
            .unwrap()
            .to_string(),
        "[\"math\" nil]"
    );
    assert_eq!(pairs(&db, ":tags/scores").len(), 2);
    expect_tx_err(
        &db,
        &format!("[[:db/add {e} :reg/course+semester [\"x\" 1]]]"),
        K::Schema,
        "composite tuple; the system maintains it",
        "course+semester",
    );
    expect_tx_err(
        &db,
        r#"[{:db/id "g" :geo/point [1.0]}]"#,
        K::WrongType,
        "needs 2 elements",
        ":geo/point",
    );
    expect_tx_err(
        &db,
        r#"[{:db/id "g" :tags/scores [[1]]}]"#,
        K::WrongType,
        "2 to 8 elements",
        ":tags/scores",
    );
}

#[test]
fn a_failed_transaction_changes_nothing() {
    let (db, u) = user(&social(), "a@x", "Ann");
    let before = all(&db, Index::Eavt, &[]);
    // What the next transaction does when nothing failed before it.
    let next_text = r#"[{:db/id "v" :user/email "b@x"}]"#;
    let undisturbed = tx(&db, next_text);
    let _ = tx_err(
        &db,
        &format!(r#"[[:db/add {u} :user/firstName "New"] [:db/add "x" :user/nope 1]]"#),
    );
    assert_eq!(all(&db, Index::Eavt, &[]), before);
    // The failure used up no t and no entity id: the same transaction
    // after it gets the same t, ids and datoms.
    let next = tx(&db, next_text);
    assert_eq!(next.t(), db.next_t());
    assert_eq!(next.tempids, undisturbed.tempids);
    assert_eq!(next.tx_data, undisturbed.tx_data);
}

#[test]
fn a_tempid_cannot_upsert_to_two_entities() {
    let (db, _) = user(&social(), "a@x", "Ann");
    let db = tx(&db, r#"[{:db/id "s" :story/url "http://s"}]"#).db_after;
    let db = tx(&db, r#"[{:db/ident :user/handle :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}]"#).db_after;
    let (db, b) = user(&db, "b@x", "Bob");
    let db = tx(&db, &format!(r#"[[:db/add {b} :user/handle "bob"]]"#)).db_after;
    expect_tx_err(
        &db,
        r#"[{:db/id "x" :user/email "a@x" :user/handle "bob"}]"#,
        K::Tempid,
        "a tempid upserts to two entities",
        ":user/handle",
    );
}

#[test]
fn peers_applying_a_report_get_the_same_value() {
    let (db, u) = user(&social(), "a@x", "Ann");
    let report = tx(
        &db,
        &format!(r#"[[:db/add {u} :user/firstName "Anna"] {{:db/id "v" :user/email "b@x"}}]"#),
    );
    let peer = report.db_before.apply_tx(&report.log_entry()).unwrap();
    for index in Index::ALL {
        assert_eq!(all(&peer, index, &[]), all(&report.db_after, index, &[]));
        assert_eq!(
            all(&peer.history(), index, &[]),
            all(&report.db_after.history(), index, &[])
        );
    }
    assert_eq!(peer.next_t(), report.db_after.next_t());
    // The log entry survives the binary encoding.
    let bytes = model::codec::encode_tx_log(&report.log_entry());
    assert_eq!(
        model::codec::decode_tx_log(&bytes).unwrap(),
        report.log_entry()
    );
}

#[test]
fn transaction_functions_can_nest_but_not_forever() {
    let db = social();
    let mut fns = TxFunctions::new();
    fns.register(
        ":f/loop",
        Arc::new(|_: &Db, _: &[Edn]| Ok(vec![model::edn::parse("[:f/loop]")?])),
    );
    let e = db.with_edn("[[:f/loop]]", instant(&db), &fns).unwrap_err();
    assert!(e.to_string().contains("nest more than 32 deep"), "{e}");
}

#[test]
fn tempids_unified_through_two_identities_do_not_loop() {
    let db = tx(&social(), r#"[{:db/ident :user/handle :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}]"#).db_after;
    // "a" claims the email first, "b" the handle first; each also asserts the other's claim.
    let r = tx(
        &db,
        r#"[[:db/add "a" :user/email "x@x"] [:db/add "b" :user/handle "x"]
                        [:db/add "b" :user/email "x@x"] [:db/add "a" :user/handle "x"]]"#,
    );
    assert_eq!(r.tempid("a"), r.tempid("b"));
    assert_eq!(pairs(&r.db_after, ":user/email").len(), 1);
}

/// A tempid reaches an existing entity only through another tempid: `b`
/// upserts through `:k/code`, `a` shares the new identity value `:k/slot 4`
/// with `b`, so both are the holder, and `a`'s unique value is its own.
/// (Found by the oracle test: `a` was made a new entity and the
/// transaction refused as a unique conflict.)
#[test]
fn a_tempid_upserts_through_another_tempid_it_shares_a_new_identity_with() {
    let fns = TxFunctions::new();
    let schema = r#"[{:db/ident :k/code :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
                     {:db/ident :k/slot :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
                     {:db/ident :k/tag :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/value}]"#;
    let db = Db::new()
        .with_edn(schema, Instant(1), &fns)
        .unwrap()
        .db_after;
    let first = db
        .with_edn(
            r#"[{:db/id "x" :k/code "s4" :k/tag "s6" :k/slot 1}]"#,
            Instant(2),
            &fns,
        )
        .unwrap();
    let holder = first.tempid("x").unwrap();
    let report = first
        .db_after
        .with_edn(
            r#"[[:db/add "a" :k/tag "s6"] [:db/add "b" :k/slot 4] [:db/add "b" :k/code "s4"] [:db/add "a" :k/slot 4]]"#,
            Instant(3),
            &fns,
        )
        .unwrap_or_else(|e| panic!("both tempids are the holder: {e}"));
    assert_eq!(report.tempid("a"), Some(holder));
    assert_eq!(report.tempid("b"), Some(holder));
    let slots: Vec<_> = report
        .db_after
        .datoms(
            Index::Eavt,
            &[Value::Ref(holder), Value::keyword(":k/slot")],
        )
        .unwrap()
        .map(|d| d.unwrap().v().clone())
        .collect();
    assert_eq!(slots, vec![Value::Long(4)]);

    // Two tempids sharing a new identity value but upserting to two
    // different entities: refused, naming both.
    let second = report
        .db_after
        .with_edn(r#"[{:db/id "y" :k/code "s9"}]"#, Instant(4), &fns)
        .unwrap();
    let other = second.tempid("y").unwrap();
    let e = second
        .db_after
        .with_edn(
            r#"[[:db/add "a" :k/code "s4"] [:db/add "b" :k/code "s9"] [:db/add "a" :k/slot 7] [:db/add "b" :k/slot 7]]"#,
            Instant(5),
            &fns,
        )
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains(&holder.to_string()) && text.contains(&other.to_string()),
        "{text}"
    );
}
