//! Transaction ids end to end: `transact --tx-id` commits once however
//! often it is sent, and `tx-status` tells a transaction's fate.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

const SCHEMA: &str = r#"[{:db/ident :user/email :db/valueType :db.type/string
   :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}]"#;

#[test]
fn a_tx_id_commits_once_and_tx_status_tells() {
    let dir = tempfile::tempdir().unwrap();
    let uri = file_uri(dir.path(), "ids");
    ok(&["create-db", &uri], "");
    ok(&["transact", &uri], SCHEMA);
    let id = "6f1c0d52-4a4e-4f53-9f52-8d7e4f0e0a11";
    let data = r#"[{:db/id "a" :user/email "a@x"}]"#;
    let first = ok(&["transact", &uri, "--tx-id", id], data);
    let again = ok(&["transact", &uri, "--tx-id", id], data);
    assert_eq!(again, first, "the first commit's answer");
    let t = t_of(&first);
    let status = ok(&["tx-status", &uri, id], "");
    assert_eq!(
        status.trim(),
        format!("{{:tx-id #uuid \"{id}\" :status :committed :t {t}}}")
    );
    let other = "00000000-0000-4000-8000-000000000001";
    let status = ok(&["tx-status", &uri, other], "");
    assert!(status.contains(":status :not-committed"), "{status}");
    // The id is data of the reified transaction.
    let by_id = ok(&["datoms", &uri, "avet", ":tx/id"], "");
    assert_eq!(
        by_id.lines().count(),
        2,
        "two transactions had ids: {by_id}"
    );
    let bad = accrete(&["tx-status", &uri, "not-a-uuid"], "");
    assert_eq!(code(&bad), 1, "{}", stderr(&bad));
}
