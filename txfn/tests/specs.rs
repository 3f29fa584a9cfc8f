//! Entity specs (`:db/ensure`): required attributes and predicates
//! (Datalog queries over rules, or code) checked against the value after
//! the transaction; a failure names the spec, the entity and the
//! predicate, and commits nothing.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use model::TxErrorKind as K;

/// People, accounts and specs: an account needs an owner and a balance,
/// its owner must reach the principal's person through friends (a rule),
/// and its balance must not be negative (code).
fn bank() -> model::Db {
    let db = people();
    let db = tx(
        &db,
        r#"[{:db/id "ann" :person/name "Ann" :person/email "alice"}
            {:db/ident :social/rules
             :db/rules "[[(reaches ?a ?b) [?a :person/friend ?b]]
                         [(reaches ?a ?b) [?a :person/friend ?c] (reaches ?c ?b)]]"}]"#,
    )
    .db_after;
    tx(
        &db,
        r#"[{:db/ident :account.pred/owner-known
             :db.pred/query "[:find ?a . :in $ % ?a ?who :where [?me :person/email ?who] [?a :account/owner ?o] (reaches ?me ?o)]"
             :db.pred/rules :social/rules}
            {:db/ident :account.pred/not-negative
             :db/fn "fn main(db, e, who) { let b = db.pull(\"[:account/balance]\", e); b[\"account/balance\"] >= 0 }"}
            {:db/ident :account/valid
             :db.entity/attrs [:account/owner :account/balance]
             :db.entity/preds [:account.pred/owner-known :account.pred/not-negative]}
            {:db/ident :account/has-owner
             :db.entity/attrs [:account/owner]}]"#,
    )
    .db_after
}

#[test]
fn required_attributes_pass_and_fail() {
    let db = bank();
    let report = tx(
        &db,
        r#"[{:db/id "a" :account/owner [:person/name "Bob"] :db/ensure :account/has-owner}]"#,
    );
    // :db/ensure asks for a check; it is not stored.
    assert!(
        report
            .tx_data
            .iter()
            .all(|d| d.a() != model::schema::bootstrap::ENSURE),
        "{:?}",
        report.tx_data
    );
    let a = report.tempid("a").unwrap();
    // An entity that lacks the attribute after the transaction fails,
    // even when it had it before: the check is on the value after.
    let message = refused(
        try_tx(
            &report.db_after,
            &format!(
                "[[:db/retract {a} :account/owner [:person/name \"Bob\"]] [:db/add {a} :db/ensure :account/has-owner]]"
            ),
        ),
        K::EntityAttrs,
        &[
            &format!("entity {a} fails spec :account/has-owner"),
            "required attribute :account/owner",
        ],
    );
    assert!(
        message.contains(":db/ensure :account/has-owner"),
        "{message}"
    );
    refused(
        try_tx(&db, r#"[{:account/balance 1 :db/ensure :account/valid}]"#),
        K::EntityAttrs,
        &["fails spec :account/valid", ":account/owner"],
    );
    // A spec must be one at the basis.
    refused(
        try_tx(&db, r#"[{:account/balance 1 :db/ensure :person/name}]"#),
        K::EntityAttrs,
        &[":person/name is not an entity spec"],
    );
    // And :db/ensure is only ever asserted.
    refused(
        try_tx(
            &db,
            r#"[[:db/retract [:person/name "Bob"] :db/ensure :account/valid]]"#,
        ),
        K::InvalidForm,
        &["can only be asserted"],
    );
}

#[test]
fn query_predicates_over_rules_pass_and_fail_naming_spec_entity_and_predicate() {
    let db = bank();
    // alice is Ann, who reaches Cid through Bob: an account of Cid's passes.
    let report = try_tx_as(
        &db,
        r#"[{:db/id "a" :account/owner [:person/name "Cid"] :account/balance 10 :db/ensure :account/valid}]"#,
        "alice",
    )
    .unwrap();
    assert!(report.tempid("a").is_some());
    // Ann does not reach herself: the predicate does not hold.
    let result = try_tx_as(
        &db,
        r#"[{:db/id "a" :account/owner [:person/name "Ann"] :account/balance 10 :db/ensure :account/valid}]"#,
        "alice",
    );
    refused(
        result,
        K::EntityPred,
        &[
            "fails spec :account/valid",
            "predicate :account.pred/owner-known does not hold",
            ":db/ensure :account/valid",
        ],
    );
    // Someone unknown reaches nobody.
    refused(
        try_tx_as(
            &db,
            r#"[{:account/owner [:person/name "Cid"] :account/balance 10 :db/ensure :account/valid}]"#,
            "mallory",
        ),
        K::EntityPred,
        &[":account.pred/owner-known does not hold"],
    );
    // Without a principal, a predicate that needs one says so.
    refused(
        try_tx(
            &db,
            r#"[{:account/owner [:person/name "Cid"] :account/balance 10 :db/ensure :account/valid}]"#,
        ),
        K::EntityPred,
        &["takes the principal, and this transaction has none"],
    );
    // What the transaction itself adds counts: Ann befriends herself in
    // the same transaction, and then reaches her own account.
    try_tx_as(
        &db,
        r#"[{:db/id "a" :account/owner [:person/name "Ann"] :account/balance 10 :db/ensure :account/valid}
            [:db/add [:person/name "Ann"] :person/friend [:person/name "Ann"]]]"#,
        "alice",
    )
    .unwrap();
}

#[test]
fn code_predicates_pass_and_fail() {
    let db = bank();
    refused(
        try_tx_as(
            &db,
            r#"[{:db/id "a" :account/owner [:person/name "Cid"] :account/balance -5 :db/ensure :account/valid}]"#,
            "alice",
        ),
        K::EntityPred,
        &["predicate :account.pred/not-negative does not hold"],
    );
    // A predicate whose code fails says where.
    let db = tx(
        &db,
        r#"[{:db/ident :account.pred/broken :db/fn "fn main(db, e, who) {\n  throw \"no\";\n}"}
            {:db/ident :account/broken :db.entity/preds [:account.pred/broken]}]"#,
    )
    .db_after;
    refused(
        try_tx(&db, r#"[{:account/balance 1 :db/ensure :account/broken}]"#),
        K::EntityPred,
        &["predicate :account.pred/broken failed", "no", "line 2"],
    );
    // A predicate with neither query nor code is an error, not a pass.
    let db = tx(
        &db,
        r#"[{:db/ident :account.pred/empty :db/doc "nothing"}
            {:db/ident :account/empty :db.entity/preds [:account.pred/empty]}]"#,
    )
    .db_after;
    refused(
        try_tx(&db, r#"[{:account/balance 1 :db/ensure :account/empty}]"#),
        K::EntityPred,
        &["has neither :db.pred/query nor :db/fn"],
    );
}

#[test]
fn a_spec_is_read_at_the_basis_so_a_transaction_cannot_weaken_its_own_check() {
    let db = bank();
    // Dropping the required balance and asking for the spec in one
    // transaction: the spec at the basis still requires it.
    refused(
        try_tx_as(
            &db,
            r#"[[:db/retract :account/valid :db.entity/attrs :account/balance]
                {:account/owner [:person/name "Cid"] :db/ensure :account/valid}]"#,
            "alice",
        ),
        K::EntityAttrs,
        &[":account/balance"],
    );
}

#[test]
fn functions_ask_for_specs_so_callers_cannot_skip_them() {
    let db = install(
        &bank(),
        ":account/open",
        r#"fn main(db, owner, balance) {
            [#{ "account/owner": [kw("person/name"), owner], "account/balance": balance, "db/ensure": kw("account/valid") }]
        }"#,
    );
    try_tx_as(&db, r#"[[:account/open "Bob" 5]]"#, "alice").unwrap();
    refused(
        try_tx_as(&db, r#"[[:account/open "Ann" 5]]"#, "alice"),
        K::EntityPred,
        &[":account.pred/owner-known does not hold"],
    );
}
