//! The embedded transactor runs functions and specs installed as data as
//! the standalone one does, even when its caller configured only Rust
//! functions; a function over its limits fails only its own transaction.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::*;
use model::TxFunctions;
use transactor::ErrorKind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_transactor_runs_installed_functions_and_specs() {
    let storage = mem();
    let db = create(&storage, "bank").await;
    // The caller's own Rust function, and no runtime: the transactor adds it.
    let mut functions = TxFunctions::new();
    functions.register(
        ":rust/name",
        Arc::new(|_, args| {
            Ok(vec![model::edn::parse(&format!(
                "{{:user/email {} :user/name \"from rust\"}}",
                args[0]
            ))?])
        }),
    );
    let config = transactor::Config {
        functions,
        ..config()
    };
    let t = start(&storage, &db, config).await;
    within(t.transact_edn(SCHEMA)).await.unwrap();
    within(t.transact_edn(
        r#"[{:db/ident :user/register
             :db/fn "fn main(db, email) { [[kw(\"rust/name\"), email], #{ \"user/email\": email, \"db/ensure\": kw(\"user/named\") }] }"}
            {:db/ident :user.pred/by-me
             :db.pred/query "[:find ?e . :in $ ?e ?who :where [?e :user/email] [?tx :tx/principal ?who]]"}
            {:db/ident :user/named
             :db.entity/attrs [:user/name]
             :db.entity/preds [:user.pred/by-me]}
            {:db/ident :evil/spin :db/fn "fn main(db) { loop {} }"}]"#,
    ))
    .await
    .unwrap();
    // An installed function calling a Rust one, checked by a spec whose
    // predicate gets the embedded transactor's principal.
    let report = within(t.transact_edn(r#"[[:user/register "ed@x"]]"#))
        .await
        .unwrap();
    let names = query::q(
        "[:find ?n . :where [?e :user/email \"ed@x\"] [?e :user/name ?n]]",
        &[query::Input::Db(report.db_after.clone())],
    )
    .unwrap();
    assert_eq!(names.to_string(), "\"from rust\"");
    // Over its limit: refused as invalid input, and the next one commits.
    let err = within(t.transact_edn("[[:evil/spin]]")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(
        err.to_string()
            .contains(":evil/spin failed: over its limit"),
        "{err}"
    );
    within(t.transact_edn(r#"[[:user/register "al@x"]]"#))
        .await
        .unwrap();
    // A failing spec names spec, entity and what failed.
    let err = within(t.transact_edn(r#"[{:user/email "no-name@x" :db/ensure :user/named}]"#))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("fails spec :user/named"), "{message}");
    assert!(message.contains(":user/name"), "{message}");
    assert_eq!(err.tx_code(), Some(":db.error/entity-attrs"));
    within(t.shutdown()).await.unwrap();
}
