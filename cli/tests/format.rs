//! `--format edn|json|table` of the reading commands (issue 21.4): every
//! JSON output parses, and reads back (through the JSON mapping the HTTP
//! API uses, `model::json`) as exactly the value the EDN output holds;
//! tables have a header and a row per item; `--limit` cuts.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use model::edn::Edn;

const SCHEMA: &str = r#"[{:db/ident :user/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :user/n :db/valueType :db.type/bigint :db/cardinality :db.cardinality/one}
 {:db/ident :user/at :db/valueType :db.type/instant :db/cardinality :db.cardinality/one}
 {:db/ident :user/tag :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}]"#;

const DATA: &str = r#"[{:user/email "ada@x" :user/n 123456789012345678901234567890N :user/at #inst "2020-01-02T03:04:05.678Z" :user/tag [:a :b]}
 {:user/email "ed@x" :user/n 9007199254740993N :user/tag [:c]}]"#;

/// The EDN and the JSON output of `accrete ARGS --format …`, as values:
/// they must be the same value.
fn same_value(args: &[&str]) -> Edn {
    let with = |format: &str| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--format", format]);
        ok(&all, "")
    };
    let edn_text = with("edn");
    let json_text = with("json");
    let edn = model::edn::parse(&edn_text).unwrap_or_else(|e| panic!("{e}: {edn_text}"));
    serde_json::from_str::<serde_json::Value>(&json_text)
        .unwrap_or_else(|e| panic!("not JSON: {e}: {json_text}"));
    let from_json = model::json::parse(&json_text).unwrap_or_else(|e| panic!("{e}: {json_text}"));
    assert_eq!(
        from_json, edn,
        "{args:?}\nEDN: {edn_text}\nJSON: {json_text}"
    );
    let table = with("table");
    assert!(table.lines().count() >= 2, "{table}");
    edn
}

#[test]
fn every_format_of_every_reading_command_holds_the_same_value() {
    let dir = tempfile::tempdir().unwrap();
    let uri = file_uri(dir.path(), "x");
    ok(&["create-db", &uri], "");
    ok(&["transact", &uri], SCHEMA);
    ok(&["transact", &uri], DATA);

    let rows = same_value(&["q", &uri, "[:find ?e ?n :where [?e :user/n ?n]]"]);
    let Edn::Vector(rows) = rows else {
        panic!("{rows}")
    };
    assert_eq!(rows.len(), 2);
    let limited = ok(
        &[
            "q",
            &uri,
            "[:find ?e ?n :where [?e :user/n ?n]]",
            "--limit",
            "1",
            "--format",
            "edn",
        ],
        "",
    );
    assert_eq!(
        model::edn::parse(&limited)
            .unwrap()
            .as_sequence()
            .unwrap()
            .len(),
        1
    );
    same_value(&["q", &uri, "[:find [?t ...] :where [_ :user/tag ?t]]"]);
    same_value(&["q", &uri, "[:find ?at . :where [_ :user/at ?at]]"]);
    same_value(&[
        "q",
        &uri,
        "[:find ?email ?n :keys email n :where [?e :user/email ?email] [?e :user/n ?n]]",
    ]);
    let pulled = same_value(&["pull", &uri, "[*]", r#"[:user/email "ada@x"]"#]);
    assert!(
        pulled
            .to_string()
            .contains("123456789012345678901234567890N"),
        "{pulled}"
    );
    let datoms = same_value(&["datoms", &uri, "aevt", ":user/tag", "--limit", "2"]);
    assert_eq!(datoms.as_sequence().unwrap().len(), 2);
    let dbs = same_value(&["list-dbs", &uri]);
    assert!(dbs.to_string().contains("\"x\""), "{dbs}");
    same_value(&["excise-status", &uri]);
    let status = same_value(&["tx-status", &uri, "00000000-0000-0000-0000-000000000001"]);
    assert!(status.to_string().contains(":not-committed"), "{status}");

    let backups = dir.path().join("backups");
    ok(&["backup-db", &uri, backups.to_str().unwrap()], "");
    let points = same_value(&["list-backups", backups.to_str().unwrap()]);
    assert_eq!(points.as_sequence().unwrap().len(), 1, "{points}");

    let table = ok(
        &[
            "q",
            &uri,
            "[:find ?email ?n :where [?e :user/email ?email] [?e :user/n ?n]]",
            "--format",
            "table",
        ],
        "",
    );
    let mut lines = table.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["?email", "?n"]
    );
    assert!(lines.next().unwrap().starts_with("------"));
    assert!(table.contains("ada@x"), "{table}");
}
