//! The scenarios from Datomic's documentation that need no query engine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use model::edn::Edn;
use model::{Db, Index, Value, tx_to_t};

#[test]
fn first_name_history_and_as_of() {
    let db = social();
    let r1 = tx(
        &db,
        r#"[{:db/id "ed" :user/email "editor@example.com" :user/firstName "Ed" :user/lastName "Itor"}]"#,
    );
    let ed = r1.tempid("ed").unwrap();
    let r2 = tx(
        &r1.db_after,
        r#"[[:db/add [:user/email "editor@example.com"] :user/firstName "Edward"]]"#,
    );
    let db = r2.db_after.clone();

    assert_eq!(
        get(&db.entity(ed), ":user/firstName"),
        Some(Value::string("Edward"))
    );
    // The tx that set the current first name, its t, and its instant.
    let current = all(
        &db,
        Index::Eavt,
        &[Value::Ref(ed), Value::keyword(":user/firstName")],
    );
    assert_eq!(current.len(), 1);
    let tx2 = current[0].tx();
    assert_eq!(tx2, r2.tx());
    assert_eq!(tx_to_t(tx2), r2.t());
    assert!(matches!(
        get(&db.entity(tx2), ":db/txInstant"),
        Some(Value::Instant(_))
    ));

    let older = db.as_of(tx2 - 1).unwrap();
    assert_eq!(
        get(&older.entity(ed), ":user/firstName"),
        Some(Value::string("Ed"))
    );

    let first_name = Value::keyword(":user/firstName");
    let mut history: Vec<(u64, Value, bool)> =
        all(&db.history(), Index::Eavt, &[Value::Ref(ed), first_name])
            .into_iter()
            .map(|d| (d.tx(), d.v().clone(), d.added()))
            .collect();
    history.sort_by_key(|(tx, _, added)| (*tx, *added));
    assert_eq!(
        history,
        vec![
            (r1.tx(), Value::string("Ed"), true),
            (tx2, Value::string("Ed"), false),
            (tx2, Value::string("Edward"), true),
        ]
    );
}

#[test]
fn list_and_map_forms_are_equivalent_and_compose() {
    let db = social();
    let stories = tx(
        &db,
        r#"[{:db/id "a" :story/title "A" :story/url "http://a"} {:db/id "b" :story/title "B" :story/url "http://b"}]"#,
    );
    let (a, b) = (stories.tempid("a").unwrap(), stories.tempid("b").unwrap());
    let db = stories.db_after;
    let as_list = tx(
        &db,
        r#"[[:db/add "u" :user/email "j@x"] [:db/add "u" :user/firstName "John"]]"#,
    );
    let as_map = tx(
        &db,
        r#"[{:db/id "u" :user/email "j@x" :user/firstName "John"}]"#,
    );
    let strip = |r: &model::TxReport| {
        r.tx_data
            .iter()
            .map(|d| (d.e(), d.a(), d.v().clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&as_list), strip(&as_map));

    // A user plus upvotes, concatenated into one transaction.
    let upvotes: Vec<String> = [a, b]
        .iter()
        .map(|s| format!("[:db/add \"u\" :user/upVotes {s}]"))
        .collect();
    let text = format!(
        "[{} {{:db/id \"u\" :user/email \"new@x\"}}]",
        upvotes.join(" ")
    );
    let r = tx(&db, &text);
    let u = r.tempid("u").unwrap();
    let mut voted = refs(&r.db_after.entity(u), ":user/upVotes");
    voted.sort();
    assert_eq!(voted, vec![a, b]);
}

#[test]
fn cardinality_one_retracts_the_old_value_in_the_same_transaction() {
    let db = social();
    let r1 = tx(
        &db,
        r#"[{:db/id "u" :user/email "j@x" :user/firstName "John"}]"#,
    );
    let u = r1.tempid("u").unwrap();
    let r2 = tx(
        &r1.db_after,
        &format!("[[:db/add {u} :user/firstName \"Jack\"]]"),
    );
    let ops: Vec<(Value, bool)> = r2
        .tx_data
        .iter()
        .filter(|d| d.e() == u)
        .map(|d| (d.v().clone(), d.added()))
        .collect();
    assert_eq!(
        ops,
        vec![
            (Value::string("John"), false),
            (Value::string("Jack"), true)
        ]
    );
    assert_eq!(
        all(
            &r2.db_after,
            Index::Eavt,
            &[Value::Ref(u), Value::keyword(":user/firstName")]
        )
        .len(),
        1
    );
}

#[test]
fn orders_with_component_line_items() {
    let db = tx(&Db::new(), ORDER_SCHEMA).db_after;
    let products = tx(
        &db,
        r#"[{:db/id "c" :product/description "Expensive Chocolate"} {:db/id "w" :product/description "Cheap Whisky"}]"#,
    );
    let (choc, whisky) = (products.tempid("c").unwrap(), products.tempid("w").unwrap());
    let db = products.db_after;
    let order_text = format!(
        r#"[{{:db/id "order" :order/lineItems [{{:lineItem/product {choc} :lineItem/quantity 1 :lineItem/price 48.00M}}
                                            {{:lineItem/product {whisky} :lineItem/quantity 2 :lineItem/price 38.00M}}]}}]"#
    );
    let r = tx(&db, &order_text);
    let order = r.tempid("order").unwrap();
    let db = r.db_after;
    let items = refs(&db.entity(order), ":order/lineItems");
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .all(|i| model::partition_of(*i) == model::partition_of(order))
    );

    // Order through product description: a three-way join by hand.
    let chocolate = db.datoms(
        Index::Avet,
        &[
            Value::keyword(":product/description"),
            Value::string("Expensive Chocolate"),
        ],
    );
    let prod = chocolate.unwrap().next().unwrap().unwrap().e();
    let item = all(
        &db,
        Index::Vaet,
        &[Value::Ref(prod), Value::keyword(":lineItem/product")],
    )[0]
    .e();
    let found = all(
        &db,
        Index::Vaet,
        &[Value::Ref(item), Value::keyword(":order/lineItems")],
    )[0]
    .e();
    assert_eq!(found, order);

    // Touch realises line items (components), not products.
    assert_eq!(db.entity(order).to_string(), format!("{{:db/id {order}}}"));
    let touched = db.entity(order).touch().unwrap();
    let Some(Edn::Set(lines)) = touched.get(&Edn::keyword("order/lineItems")) else {
        panic!("{touched}")
    };
    assert_eq!(lines.len(), 2);
    for line in lines {
        assert!(
            line.get(&Edn::keyword("lineItem/quantity")).is_some(),
            "{line}"
        );
        let product = line.get(&Edn::keyword("lineItem/product")).unwrap();
        assert_eq!(
            product.get(&Edn::keyword("product/description")),
            None,
            "products stay unrealised: {product}"
        );
    }
    assert!(touched.to_string().contains("48.00M"), "{touched}");

    let gone = tx(&db, &format!("[[:db.fn/retractEntity {order}]]")).db_after;
    assert!(pairs(&gone, ":order/lineItems").is_empty());
    assert!(
        pairs(&gone, ":lineItem/quantity").is_empty(),
        "line items are retracted with the order"
    );
    assert_eq!(
        pairs(&gone, ":product/description").len(),
        2,
        "products remain"
    );
}

#[test]
fn excision_requests_are_recorded_and_remembered() {
    let db = tx(
        &Db::new(),
        r#"[{:db/ident :event/user :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
            {:db/ident :event/category :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]"#,
    )
    .db_after;
    let r = tx(
        &db,
        r#"[{:db/id "e" :event/user "u1" :event/category "c"}]"#,
    );
    let e = r.tempid("e").unwrap();
    let db = r.db_after.clone();
    let req = tx(
        &db,
        &format!(
            r#"[{{:db/id #db/id [:db.part/user] :db/excise {e}}}
                {{:db/id #db/id [:db.part/user] :db/excise :event/user :db.excise/before #inst "2012"}}
                {{:db/id #db/id [:db.part/user] :db/excise {e} :db.excise/attrs [:event/category] :db.excise/beforeT {}}}]"#,
            r.t() + 1
        ),
    );
    let db = req.db_after;
    // "You remember that you forgot": [:find ?e :where [?e :db/excise 42]].
    let requests = all(
        &db,
        Index::Avet,
        &[Value::keyword(":db/excise"), Value::Ref(e)],
    );
    assert_eq!(requests.len(), 2);
    let recorded = db.excise_requests().unwrap();
    assert_eq!(recorded.len(), 3);
    let by_attr = recorded.iter().find(|r| r.target_is_attribute).unwrap();
    assert_eq!(by_attr.target, attr_id(&db, ":event/user"));
    assert_eq!(
        by_attr.before,
        Some(model::edn::Instant::parse("2012").unwrap())
    );
    let limited = recorded.iter().find(|r| !r.attrs.is_empty()).unwrap();
    assert_eq!(limited.attrs, vec![attr_id(&db, ":event/category")]);
    assert_eq!(limited.before_t, Some(r.t() + 1));
    let user_datom = &all(
        &db,
        Index::Eavt,
        &[Value::Ref(e), Value::keyword(":event/user")],
    )[0];
    let whole = recorded
        .iter()
        .find(|r| !r.target_is_attribute && r.attrs.is_empty())
        .unwrap();
    assert!(whole.covers(user_datom, model::edn::Instant(0)));
    assert!(!limited.covers(user_datom, model::edn::Instant(0)));
}
