//! Scenario §2: component entities (orders with line items), queried and
//! pulled; retracting an order retracts its components.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use model::{Db, Value};
use query::Found;
use std::collections::BTreeSet;

const ORDER_SCHEMA: &str = r#"[
 {:db/id #db/id [:db.part/db] :db/ident :order/lineItems :db/isComponent true
  :db/valueType :db.type/ref :db/cardinality :db.cardinality/many :db.install/_attribute :db.part/db}
 {:db/ident :lineItem/product :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
 {:db/ident :lineItem/quantity :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :lineItem/price :db/valueType :db.type/bigdec :db/cardinality :db.cardinality/one}
 {:db/ident :product/description :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
]"#;

struct Orders {
    db: Db,
    chocolate: u64,
    whisky: u64,
    order: u64,
}

fn orders() -> Orders {
    let db = tx(&Db::new(), ORDER_SCHEMA).db_after;
    let products = tx(
        &db,
        r#"[{:db/id "c" :product/description "Expensive Chocolate"}
            {:db/id "w" :product/description "Cheap Whisky"}]"#,
    );
    let product_query = "[:find ?e . :in $ ?v :where [?e :product/description ?v]]";
    let find = |desc: &str| {
        q(product_query, &[db_input(&products.db_after), val(desc)])
            .scalar()
            .unwrap()
            .as_entity()
            .unwrap()
    };
    let (chocolate, whisky) = (find("Expensive Chocolate"), find("Cheap Whisky"));
    assert_eq!(
        (chocolate, whisky),
        (products.tempid("c").unwrap(), products.tempid("w").unwrap())
    );
    let order = tx(
        &products.db_after,
        &format!(
            r#"[{{:db/id "order"
                 :order/lineItems [{{:lineItem/product {chocolate} :lineItem/quantity 1 :lineItem/price 48.00M}}
                                   {{:lineItem/product {whisky} :lineItem/quantity 2 :lineItem/price 38.00M}}]}}]"#
        ),
    );
    Orders {
        db: order.db_after.clone(),
        chocolate,
        whisky,
        order: order.tempid("order").unwrap(),
    }
}

fn db_input(db: &Db) -> query::Input {
    query::Input::Db(db.clone())
}

const ORDERS_BY_PRODUCT: &str = "[:find ?e :in $ ?productDesc
  :where [?e :order/lineItems ?item] [?item :lineItem/product ?prod] [?prod :product/description ?productDesc]]";

#[test]
fn an_order_through_its_products_description() {
    let o = orders();
    for desc in ["Expensive Chocolate", "Cheap Whisky"] {
        let found = q(ORDERS_BY_PRODUCT, &[db(&o.db), val(desc)]);
        assert_eq!(ids(&found), BTreeSet::from([o.order]), "{desc}");
    }
    assert!(q(ORDERS_BY_PRODUCT, &[db(&o.db), val("Tea")]).is_empty());
}

#[test]
fn pulling_an_order_realises_its_line_items_not_the_products() {
    let o = orders();
    let pulled = query::pull(
        &o.db,
        &query::PullPattern::parse("[*]").unwrap(),
        &Value::Ref(o.order),
    )
    .unwrap();
    let items = pulled.get(":order/lineItems").unwrap().as_many().unwrap();
    assert_eq!(items.len(), 2);
    let mut seen = BTreeSet::new();
    for item in items {
        let item = item.as_map().unwrap();
        let product = item.get(":lineItem/product").unwrap().as_map().unwrap();
        // Products are not components: only their id.
        assert_eq!(product.len(), 1);
        seen.insert((
            product.id().unwrap(),
            item.get(":lineItem/quantity").unwrap().to_string(),
            item.get(":lineItem/price").unwrap().to_string(),
        ));
    }
    assert_eq!(
        seen,
        BTreeSet::from([
            (o.chocolate, "1".to_string(), "48.00M".to_string()),
            (o.whisky, "2".to_string(), "38.00M".to_string()),
        ])
    );
}

#[test]
fn the_total_of_an_order() {
    let o = orders();
    let quantities = q(
        "[:find (sum ?n) . :in $ ?order :with ?item
          :where [?order :order/lineItems ?item] [?item :lineItem/quantity ?n]]",
        &[db(&o.db), val(Value::Ref(o.order))],
    );
    assert_eq!(quantities.to_string(), "3");
    let prices = q(
        "[:find (sum ?p) . :in $ ?order :with ?item
          :where [?order :order/lineItems ?item] [?item :lineItem/price ?p]]",
        &[db(&o.db), val(Value::Ref(o.order))],
    );
    assert_eq!(prices.to_string(), "86.00M");
    let per_item = q(
        "[:find ?desc (sum ?cost) :in $ ?order
          :where [?order :order/lineItems ?item] [?item :lineItem/quantity ?n]
                 [?item :lineItem/product ?prod] [?prod :product/description ?desc]
                 [(* ?n 10) ?cost]]",
        &[db(&o.db), val(Value::Ref(o.order))],
    );
    assert_eq!(
        rows(&per_item),
        vec![
            vec![edn("\"Cheap Whisky\""), edn("20")],
            vec![edn("\"Expensive Chocolate\""), edn("10")],
        ]
    );
}

#[test]
fn retracting_an_order_retracts_its_line_items_not_the_products() {
    let o = orders();
    let after = tx(&o.db, &format!("[[:db.fn/retractEntity {}]]", o.order)).db_after;
    let items = q(
        "[:find (count ?e) :where [?e :order/lineItems]]",
        &[db(&after)],
    );
    assert_eq!(items.to_string(), "[]");
    let line_items = q(
        "[:find (count ?e) :where [?e :lineItem/product]]",
        &[db(&after)],
    );
    assert_eq!(line_items.to_string(), "[]");
    let products = q(
        "[:find (count ?e) :where [?e :product/description]]",
        &[db(&after)],
    );
    assert_eq!(products.to_string(), "[[2]]");
    // Before the retraction, there were two line items.
    let before = q(
        "[:find (count ?e) . :where [?e :lineItem/product]]",
        &[db(&o.db)],
    );
    assert_eq!(before.scalar(), Some(&Found::Value(Value::Long(2))));
    // The history still knows the order had line items.
    let history = q(
        "[:find (count ?item) . :in $ ?order :where [?order :order/lineItems ?item _ false]]",
        &[db(&after.history()), val(Value::Ref(o.order))],
    );
    assert_eq!(history.to_string(), "2");
}
