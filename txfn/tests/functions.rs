//! Transaction functions installed as data (`:db/fn`): they return tx
//! data, call each other, read the database, fail with errors that say
//! where; over a limit (time, memory, recursion) only their own
//! transaction fails; the sandbox holds against hostile code; and a
//! transaction runs the version current at its basis.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use model::TxErrorKind as K;
use model::edn::Instant;
use std::sync::Arc;

#[test]
fn a_function_returns_tx_data_in_list_and_map_forms() {
    let db = install(
        &people(),
        ":person/rename",
        r#"
        // Renames a person and records an email, as list and map forms.
        fn main(db, name, new_name) {
            let e = db.entid([kw("person/name"), name]);
            if e == () { throw `no person ${name}`; }
            [
                [kw("db/add"), e, kw("person/name"), new_name],
                #{ "db/id": e, "person/email": new_name + "@example.org" },
            ]
        }"#,
    );
    let report = tx(&db, r#"[[:person/rename "Ann" "Anna"]]"#);
    let db = report.db_after;
    assert_eq!(
        query(
            &db,
            r#"[:find ?m . :where [?e :person/name "Anna"] [?e :person/email ?m]]"#
        ),
        "\"Anna@example.org\""
    );
    // The function's datoms, nothing else, are the transaction's.
    assert_eq!(
        report.tx_data.len(),
        1 + 3,
        "txInstant, name out and in, email"
    );
    // Tempids written by a function resolve like any other.
    let db = install(
        &db,
        ":person/create",
        r#"fn main(db, name) { [#{ "db/id": "new", "person/name": name }] }"#,
    );
    let report = tx(&db, r#"[[:person/create "Dan"]]"#);
    assert!(report.tempid("new").is_some());
}

#[test]
fn functions_call_other_functions_and_nesting_is_bounded() {
    let db = install(
        &people(),
        ":person/befriend",
        r#"fn main(db, a, b) { [[kw("db/add"), [kw("person/name"), a], kw("person/friend"), [kw("person/name"), b]]] }"#,
    );
    let db = install(
        &db,
        ":person/befriend-both",
        r#"fn main(db, a, b) { [[kw("person/befriend"), a, b], [kw("person/befriend"), b, a]] }"#,
    );
    let db = tx(&db, r#"[[:person/befriend-both "Cid" "Ann"]]"#).db_after;
    assert_eq!(
        query(
            &db,
            r#"[:find ?n . :where [?c :person/name "Cid"] [?c :person/friend ?a] [?a :person/name ?n]]"#
        ),
        "\"Ann\""
    );
    // A function that calls itself for ever stops at the nesting limit.
    let db = install(
        &db,
        ":loop/forever",
        r#"fn main(db) { [[kw("loop/forever")]] }"#,
    );
    refused(
        try_tx(&db, "[[:loop/forever]]"),
        K::TxFunction,
        &["nest more than 32 deep", ":loop/forever"],
    );
    // And one that fans out is stopped by the calls per transaction.
    let db = install(&db, ":loop/leaf", "fn main(db) { [] }");
    let db = install(
        &db,
        ":loop/fan",
        r#"fn main(db) { let out = []; for i in 0..2000 { out.push([kw("loop/leaf")]); } out }"#,
    );
    refused(
        try_tx(&db, "[[:loop/fan]]"),
        K::TxFunction,
        &["transaction function calls in one transaction"],
    );
}

#[test]
fn a_function_reads_the_database_with_q_rules_pull_and_datoms() {
    let db = tx(
        &people(),
        r#"[{:db/ident :social/rules
             :db/rules "[[(reaches ?a ?b) [?a :person/friend ?b]]
                         [(reaches ?a ?b) [?a :person/friend ?c] (reaches ?c ?b)]]"}]"#,
    )
    .db_after;
    let db = install(
        &db,
        ":person/tag-reachable",
        r#"
        // Gives everyone Ann reaches an email, read through q, pull and datoms.
        fn main(db, from) {
            let rules = db.rules(kw("social/rules"));
            let found = db.q("[:find [?n ...] :in $ % ?from :where [?a :person/name ?from] (reaches ?a ?b) [?b :person/name ?n]]", [rules, from]);
            found.sort();
            let out = [];
            for n in found {
                let e = db.entid([kw("person/name"), n]);
                let p = db.pull("[:person/name {:person/friend [:person/name]}]", e);
                let datoms = db.datoms("eavt", [e, kw("person/name")]);
                if datoms.len() != 1 || datoms[0][1] != kw("person/name") { throw "datoms disagree"; }
                out.push(#{ "db/id": e, "person/email": `${p["person/name"]}@${from}` });
            }
            out
        }"#,
    );
    let db = tx(&db, r#"[[:person/tag-reachable "Ann"]]"#).db_after;
    assert_eq!(
        query(
            &db,
            "[:find ?n ?m :where [?e :person/name ?n] [?e :person/email ?m]]"
        ),
        r#"#{["Bob" "Bob@Ann"] ["Cid" "Cid@Ann"]}"#
    );
}

#[test]
fn failures_name_the_function_and_the_place() {
    let db = install(
        &people(),
        ":bank/withdraw",
        "fn main(db, amount) {\n  if amount > 100 {\n    throw `cannot withdraw ${amount}`;\n  }\n  []\n}",
    );
    let message = refused(
        try_tx(&db, "[[:bank/withdraw 500]]"),
        K::TxFunction,
        &[":bank/withdraw failed", "cannot withdraw 500", "line 3"],
    );
    assert!(message.contains("[:bank/withdraw 500]"), "{message}");
    // Code that does not compile: the error says where.
    let db = install(&db, ":bank/broken", "fn main(db) {\n  let x = ;\n}");
    refused(
        try_tx(&db, "[[:bank/broken]]"),
        K::TxFunction,
        &[":bank/broken failed", "does not compile", "line 2"],
    );
    // Wrong arity, no main, unknown function, an ident that is no function.
    refused(
        try_tx(&db, "[[:bank/withdraw 1 2]]"),
        K::TxFunction,
        &["called with 2 arguments after db", "main(db, amount)"],
    );
    let db = install(&db, ":bank/nomain", "fn helper(db) { [] }");
    refused(
        try_tx(&db, "[[:bank/nomain]]"),
        K::TxFunction,
        &["defines no fn main"],
    );
    refused(
        try_tx(&db, "[[:bank/nosuch]]"),
        K::TxFunction,
        &["no transaction function :bank/nosuch"],
    );
    refused(
        try_tx(&db, "[[:person/name]]"),
        K::TxFunction,
        &[":person/name is not a transaction function"],
    );
    // What it returns must be tx data, and the tx data must be right.
    let db = install(&db, ":bank/number", "fn main(db) { 42 }");
    refused(
        try_tx(&db, "[[:bank/number]]"),
        K::TxFunction,
        &["not an array of tx forms"],
    );
    let db = install(
        &db,
        ":bank/bad-attr",
        r#"fn main(db) { [#{ "no/such": 1 }] }"#,
    );
    refused(
        try_tx(&db, "[[:bank/bad-attr]]"),
        K::UnknownAttribute,
        &[":no/such"],
    );
}

/// A runtime with small limits, so the tests are quick.
fn small() -> model::TxFunctions {
    let limits = txfn::Limits {
        operations: 50_000,
        operations_per_tx: 60_000,
        collection_items: 1_000,
        ..txfn::Limits::default()
    };
    model::TxFunctions::new().with_installed(Arc::new(txfn::Runtime::new(limits)))
}

fn with_small(db: &model::Db, text: &str) -> Result<model::TxReport, model::Error> {
    db.with_edn(text, Instant(db.last_tx_instant().0 + 1), &small())
}

#[test]
fn over_its_time_limit_a_function_aborts_only_its_transaction() {
    let db = install(&people(), ":evil/spin", "fn main(db) {\n  loop { }\n}");
    let started = std::time::Instant::now();
    refused(
        with_small(&db, "[[:evil/spin]]"),
        K::TxFunction,
        &[":evil/spin failed", "over its limit of 50000 operations"],
    );
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    // The default runtime stops it too, and the next transaction commits.
    refused(
        try_tx(&db, "[[:evil/spin]]"),
        K::TxFunction,
        &["over its limit of 1000000 operations"],
    );
    tx(&db, r#"[{:person/name "After"}]"#);
    // One call of 5 000 iterations (some 15 000 to 50 000 operations) fits
    // the transaction's 60 000; five do not.
    let db = install(
        &db,
        ":evil/busy",
        "fn main(db) { let n = 0; while n < 5000 { n += 1; } [] }",
    );
    with_small(&db, "[[:evil/busy]]").unwrap();
    refused(
        with_small(
            &db,
            "[[:evil/busy] [:evil/busy] [:evil/busy] [:evil/busy] [:evil/busy]]",
        ),
        K::TxFunction,
        &["operations"],
    );
    // A query inside a function is charged too: a loop of reads stops.
    let db = install(
        &db,
        ":evil/reads",
        r#"fn main(db) { loop { db.q("[:find ?e :where [?e :person/name]]"); } }"#,
    );
    refused(
        with_small(&db, "[[:evil/reads]]"),
        K::TxFunction,
        &["over its limit of 50000 operations"],
    );
}

#[test]
fn over_its_memory_limit_a_function_aborts_only_its_transaction() {
    let db = install(
        &people(),
        ":evil/string",
        "fn main(db) {\n  let s = \"x\";\n  loop { s += s; }\n}",
    );
    refused(
        try_tx(&db, "[[:evil/string]]"),
        K::TxFunction,
        &[
            ":evil/string failed",
            "over its memory limit",
            "Length of string",
        ],
    );
    let db = install(
        &db,
        ":evil/array",
        "fn main(db) { let a = [\"item\"]; loop { a += a; } }",
    );
    refused(
        try_tx(&db, "[[:evil/array]]"),
        K::TxFunction,
        &["over its memory limit", "array"],
    );
    let db = install(
        &db,
        ":evil/push",
        "fn main(db) { let a = []; loop { a.push(\"item\"); } }",
    );
    refused(
        with_small(&db, "[[:evil/push]]"),
        K::TxFunction,
        &["over its memory limit", "1000 items"],
    );
    let db = install(
        &db,
        ":evil/map",
        "fn main(db) { let m = #{}; let i = 0; loop { let one = #{}; one[`k${i}`] = i; m += one; i += 1; } }",
    );
    refused(
        with_small(&db, "[[:evil/map]]"),
        K::TxFunction,
        &["over its memory limit", "map"],
    );
    // Nesting deeper than data may be is refused, not walked on the stack.
    let db = install(
        &db,
        ":evil/nest",
        "fn main(db) { let a = []; for i in 0..5000 { a = [a]; } [a] }",
    );
    let message = try_tx(&db, "[[:evil/nest]]").unwrap_err().to_string();
    assert!(message.contains(":evil/nest failed"), "{message}");
    tx(&db, r#"[{:person/name "Still here"}]"#);
}

#[test]
fn recursing_forever_aborts_only_its_transaction() {
    let db = install(
        &people(),
        ":evil/recurse",
        "fn again(n) { again(n + 1) }\nfn main(db) {\n  again(0)\n}",
    );
    refused(
        try_tx(&db, "[[:evil/recurse]]"),
        K::TxFunction,
        &[":evil/recurse failed", "over its recursion limit", "32"],
    );
    // On a thread with a small stack, as the transactor's blocking pool has.
    let db2 = db.clone();
    let outcome = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || try_tx(&db2, "[[:evil/recurse]]").map(|_| ()))
        .unwrap()
        .join()
        .unwrap();
    assert!(outcome.is_err());
    tx(&db, r#"[{:person/name "Still here"}]"#);
}

#[test]
fn hostile_code_finds_no_io_no_clock_and_no_way_out() {
    let db = people();
    let attempts = [
        (
            ":evil/import",
            r#"import "std" as s; fn main(db) { [] }"#,
            "does not compile",
        ),
        (
            ":evil/eval",
            r#"fn main(db) { eval("40 + 2"); [] }"#,
            "does not compile",
        ),
        (
            ":evil/print",
            r#"fn main(db) { print("hi"); [] }"#,
            "does not compile",
        ),
        (
            ":evil/debug",
            r#"fn main(db) { debug("hi"); [] }"#,
            "does not compile",
        ),
        (
            ":evil/clock",
            "fn main(db) { let t = timestamp(); [] }",
            "timestamp",
        ),
        (
            ":evil/file",
            r#"fn main(db) { open("/etc/passwd"); [] }"#,
            "open",
        ),
        (
            ":evil/exec",
            r#"fn main(db) { system("ls"); [] }"#,
            "system",
        ),
        (
            ":evil/random",
            r#"fn main(db) { let r = rand(); [] }"#,
            "rand",
        ),
        (
            ":evil/random-query",
            r#"fn main(db) { db.q("[:find (rand ?e) . :where [?e :person/name]]"); [] }"#,
            "rand or sample",
        ),
        (":evil/global", "fn main(db) { secret }", "secret"),
        (
            ":evil/fnptr",
            r#"fn main(db) { let f = Fn("eval"); f.call("1"); [] }"#,
            "eval",
        ),
        (
            ":evil/closure",
            "fn main(db) { let f = |x| x + 1; [f] }",
            "is not data",
        ),
    ];
    for (name, code, says) in attempts {
        let installed = install(&db, name, code);
        let text = format!("[[{name}]]");
        refused(try_tx(&installed, &text), K::TxFunction, &[name, says]);
    }
    // A principal is there only when the transaction has one; it cannot be
    // asserted either way.
    let db = install(
        &db,
        ":who/am-i",
        r#"fn main(db) { [#{ "db/id": "w", "person/name": `${db.principal()}` }] }"#,
    );
    let report = try_tx_as(&db, "[[:who/am-i]]", "alice").unwrap();
    assert_eq!(
        query(
            &report.db_after,
            "[:find ?n . :where [?e :person/name \"alice\"] [?e :person/name ?n]]"
        ),
        "\"alice\""
    );
}

#[test]
fn the_same_call_on_the_same_value_gives_the_same_datoms() {
    let db = install(
        &people(),
        ":person/friends-of",
        r#"fn main(db, who) {
            let m = #{};
            for n in db.q("[:find [?n ...] :where [_ :person/name ?n]]") { m[n] = n.len(); }
            let out = [];
            for k in m.keys() { out.push(#{ "person/name": k, "person/email": `${m[k]}` }); }
            out
        }"#,
    );
    let first = tx(&db, r#"[[:person/friends-of "Ann"]]"#);
    for _ in 0..5 {
        let again = tx(&db, r#"[[:person/friends-of "Ann"]]"#);
        assert_eq!(first.tx_data, again.tx_data);
    }
}

#[test]
fn a_transaction_runs_the_version_current_at_its_basis() {
    let v1 = r#"fn main(db, e) { [[kw("db/add"), e, kw("account/balance"), 1]] }"#;
    let v2 = r#"fn main(db, e) { [[kw("db/add"), e, kw("account/balance"), 2]] }"#;
    let db = people();
    let ann = person(&db, "Ann");
    let with_v1 = install(&db, ":account/open", v1);
    let with_v2 = install(&with_v1, ":account/open", v2);
    let balance = |db: &model::Db| {
        query(
            db,
            &format!("[:find ?b . :where [{ann} :account/balance ?b]]"),
        )
    };
    // Against the value before the change, the old version runs; after, the new.
    let call = format!("[[:account/open {ann}]]");
    assert_eq!(balance(&tx(&with_v1, &call).db_after), "1");
    assert_eq!(balance(&tx(&with_v2, &call).db_after), "2");
    // Changing the function and calling it in one transaction runs the
    // version at the basis: the change is not seen yet.
    let both = format!(
        "[{{:db/ident :account/open :db/fn {}}} [:account/open {ann}]]",
        model::edn::Edn::string(v1)
    );
    assert_eq!(balance(&tx(&with_v2, &both).db_after), "2");
    // History shows every version, with when it was installed.
    let versions = query(
        &with_v2.history(),
        "[:find ?added ?code :where [?f :db/ident :account/open] [?f :db/fn ?code ?tx ?added]]",
    );
    assert!(versions.contains(r#"balance\"), 1]]"#), "{versions}");
    assert!(versions.contains(r#"balance\"), 2]]"#), "{versions}");
}
