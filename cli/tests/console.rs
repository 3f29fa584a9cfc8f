//! The console (`accrete serve` at `/console/`) in a real headless
//! Chromium, against a real `accrete serve` process and transactor with
//! the social-news scenario data (integration-tests/scenarios.md §1, with the
//! tour's users and stories, cli/examples/tour.sh). Every check reads the
//! page's DOM, not its pixels. Screenshots of every page go to
//! `target/console-screenshots/` for reviewers.
//!
//! Chromium missing fails these tests with how to install it (`.ci/run`
//! installs Debian's `chromium`); they are never skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "console/cdp.rs"]
mod cdp;
mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cdp::Browser;
use common::serve::ServeProcess;
use common::*;

const SCHEMA: &str = r#"[{:db/ident :user/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity :db/doc "A user's email, unique"}
 {:db/ident :user/firstName :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :user/lastName :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :user/upVotes :db/valueType :db.type/ref :db/cardinality :db.cardinality/many :db/doc "Stories the user voted for"}
 {:db/ident :story/title :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :story/url :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :story/author :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
 {:db/ident :comment/body :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :comment/author :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
 {:db/ident :comments :db/valueType :db.type/ref :db/cardinality :db.cardinality/many :db/isComponent true}]"#;

/// The tour's users and stories (the editor first transacted as "Ed").
const PEOPLE: &str = r#"[{:db/id "ed" :user/email "editor@example.com" :user/firstName "Ed" :user/lastName "Itor"}
 {:db/id "ada" :user/email "ada@example.com" :user/firstName "Ada"}
 {:db/id "s1" :story/title "Accretion-only databases" :story/url "http://example.com/accretion" :story/author "ed"}
 {:db/id "s2" :story/title "Datalog in practice" :story/url "http://example.com/datalog" :story/author "ada"}
 {:db/id "s3" :story/title "Time travel for auditors" :story/url "http://example.com/time" :story/author "ada"}
 [:db/add "ada" :user/upVotes "s1"] [:db/add "ada" :user/upVotes "s2"]]"#;

/// The tour's join: stories of the author given as input (2 rows for Ada).
const JOIN: &str = "[:find ?title :in $ ?email\n :where [?a :user/email ?email] [?s :story/author ?a] [?s :story/title ?title]]";

/// Ten comments by the editor, on stories and on comments, and two by Ada.
fn comments() -> String {
    let mut forms = Vec::new();
    for i in 1..=10 {
        forms.push(format!(
            r#"{{:db/id "e{i}" :comment/author [:user/email "editor@example.com"] :comment/body "editor remark {i}"}}"#
        ));
    }
    for i in 1..=2 {
        forms.push(format!(
            r#"{{:db/id "a{i}" :comment/author [:user/email "ada@example.com"] :comment/body "ada remark {i}"}}"#
        ));
    }
    let story = |url: &str| format!(r#"[:story/url "http://example.com/{url}"]"#);
    for (holder, comment) in [
        (story("accretion"), "e1"),
        (story("accretion"), "e2"),
        (story("datalog"), "e3"),
        (story("time"), "e4"),
        (story("accretion"), "a1"),
        ("\"e1\"".into(), "e5"),
        ("\"e1\"".into(), "e6"),
        ("\"a1\"".into(), "e7"),
        ("\"e7\"".into(), "a2"),
        ("\"a2\"".into(), "e8"),
        ("\"e3\"".into(), "e9"),
        ("\"e4\"".into(), "e10"),
    ] {
        forms.push(format!(r#"[:db/add {holder} :comments "{comment}"]"#));
    }
    format!("[{}]", forms.join("\n "))
}

/// The tx id of a transact summary `{:t T :tx TX …}`.
fn tx_of(summary: &str) -> u64 {
    summary
        .split(":tx ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|tx| tx.parse().ok())
        .unwrap_or_else(|| panic!("no tx in {summary:?}"))
}

/// A JavaScript string literal.
fn js(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("console-screenshots")
}

/// The social-news database, its transactor and `accrete serve`.
struct Stage {
    _dir: tempfile::TempDir,
    uri: String,
    _transactor: TransactorProcess,
    serve: ServeProcess,
    /// (t, tx) of the editor's first transaction and of the rename.
    created: (u64, u64),
    renamed: (u64, u64),
}

impl Stage {
    fn new(serve_args: &[&str], before_serving: impl FnOnce(&str)) -> Stage {
        let dir = tempfile::tempdir().unwrap();
        let uri = file_uri(dir.path(), "news");
        ok(&["create-db", &uri], "");
        ok(&["transact", &uri], SCHEMA);
        let people = ok(&["transact", &uri], PEOPLE);
        ok(&["transact", &uri], &comments());
        let rename = ok(
            &["transact", &uri],
            r#"[[:db/add [:user/email "editor@example.com"] :user/firstName "Edward"]]"#,
        );
        before_serving(&uri);
        let transactor = TransactorProcess::start(&uri, &[]);
        transactor.wait_active(&uri);
        let serve = ServeProcess::start(&[&uri], serve_args);
        Stage {
            _dir: dir,
            uri,
            _transactor: transactor,
            serve,
            created: (t_of(&people), tx_of(&people)),
            renamed: (t_of(&rename), tx_of(&rename)),
        }
    }

    fn url(&self, page: &str) -> String {
        format!("{}/console/#/{page}", self.serve.base())
    }
}

/// Opens a page of the console and waits until it has drawn itself.
fn open(browser: &mut Browser, url: &str, page: &str) -> Duration {
    let started = Instant::now();
    browser.navigate(url);
    browser.wait_for(
        &format!("the {page} page"),
        &format!(
            "document.body && document.body.dataset.ready === {}",
            js(page)
        ),
        Duration::from_secs(20),
    );
    started.elapsed()
}

/// Sets a form control's value as typing would (an `input` event).
fn type_into(browser: &mut Browser, selector: &str, text: &str) {
    let done = browser.eval(&format!(
        "(() => {{ const el = document.querySelector({}); if (!el) return false; el.value = {}; el.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()",
        js(selector),
        js(text)
    ));
    assert_eq!(done, serde_json::json!(true), "no {selector} on the page");
}

fn click(browser: &mut Browser, selector: &str) {
    let done = browser.eval(&format!(
        "(() => {{ const el = document.querySelector({}); if (!el) return false; el.click(); return true; }})()",
        js(selector)
    ));
    assert_eq!(done, serde_json::json!(true), "no {selector} to click");
}

fn text(browser: &mut Browser, selector: &str) -> String {
    browser
        .eval(&format!(
            "(() => {{ const el = document.querySelector({}); return el ? el.innerText : null; }})()",
            js(selector)
        ))
        .as_str()
        .unwrap_or_else(|| panic!("no {selector} on the page"))
        .to_string()
}

/// Every visible form control has a label (or an aria-label).
fn assert_labelled(browser: &mut Browser, page: &str) {
    let unlabelled = browser.eval(
        "[...document.querySelectorAll('input, select, textarea')]
           .filter((e) => e.type !== 'hidden' && !e.closest('[hidden]'))
           .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
           .map((e) => e.outerHTML)",
    );
    assert_eq!(
        unlabelled,
        serde_json::json!([]),
        "controls without a label on {page}"
    );
}

/// Runs the query in the editor with `inputs` (EDN texts, one per `:in`
/// form after `$`) and returns the summary line once the results are there.
fn run_query(browser: &mut Browser, query: &str, inputs: &[&str]) -> String {
    type_into(browser, "#query-text", query);
    for (k, input) in inputs.iter().enumerate() {
        type_into(browser, &format!("#input-{k}"), input);
    }
    browser.eval("document.querySelector('#results').replaceChildren(); true");
    click(browser, "#run-query");
    browser
        .wait_for(
            "the query's results",
            "(() => { const s = document.querySelector('#results .summary, #results [role=alert]'); return s ? s.innerText : ''; })()",
            Duration::from_secs(20),
        )
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_console_shows_schema_queries_entities_the_log_and_indexes_in_a_browser() {
    let stage = Stage::new(&[], |_| {});
    let shots = screenshots();
    let mut browser = Browser::launch();

    // Page load of the Query page: the first load (a new browser profile,
    // a new renderer process), then ten full loads of the page (a new
    // query string each time: no cache of the document, the browser's own
    // cache of the script and style allowed to revalidate). The page marks
    // `ready:query` when it has drawn itself (after its /status call).
    let cold = open(&mut browser, &stage.url("query"), "query");
    let mut loads = Vec::new();
    for k in 0..10 {
        let url = format!("{}/console/?load={k}#/query", stage.serve.base());
        open(&mut browser, &url, "query");
        let timing = browser.eval(
            "(() => { const n = performance.getEntriesByType('navigation')[0]; const r = performance.getEntriesByName('ready:query')[0]; return [n.responseEnd, n.domContentLoadedEventEnd, r.startTime]; })()",
        );
        let timing: Vec<f64> = serde_json::from_value(timing).unwrap();
        loads.push(timing);
    }
    let median = |k: usize| {
        let mut values: Vec<f64> = loads.iter().map(|l| l[k]).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let worst = loads.iter().map(|l| l[2]).fold(0.0, f64::max);
    println!(
        "console: Query page load on loopback (navigation start to): document {:.0} ms, DOMContentLoaded {:.0} ms, page drawn {:.0} ms (median of 10; slowest drawn {:.0} ms); first load in a new browser {} ms wall clock",
        median(0),
        median(1),
        median(2),
        worst,
        cold.as_millis()
    );
    assert!(
        median(2) < 3000.0,
        "the Query page took {:.0} ms to draw (a generous guard; the goal is under 300 ms)",
        median(2)
    );
    // Keyboard: the first Tab reaches the skip link, then the pages.
    browser.press("Tab", 9);
    assert_eq!(
        browser.eval("document.activeElement && document.activeElement.id"),
        serde_json::json!("skip")
    );
    browser.press("Tab", 9);
    browser.press("Tab", 9);
    assert_eq!(
        browser.eval("document.activeElement.closest('nav') !== null"),
        serde_json::json!(true),
        "Tab moves on into the navigation"
    );

    // Schema: :user/email with its type, uniqueness and doc.
    open(&mut browser, &stage.url("schema"), "schema");
    let row = browser.wait_for(
        ":user/email in the schema",
        "[...document.querySelectorAll('main table tr')].map((r) => r.innerText).find((t) => t.startsWith(':user/email')) || ''",
        Duration::from_secs(5),
    );
    let row = row.as_str().unwrap();
    for expected in ["string", "one", "identity", "A user's email, unique"] {
        assert!(row.contains(expected), "{expected} in {row:?}");
    }
    assert!(
        browser.eval("document.querySelector('main svg.plot') !== null") == serde_json::json!(true),
        "the datoms-per-attribute plot"
    );
    type_into(&mut browser, "main select", "story");
    let shown = text(&mut browser, "main table");
    assert!(
        shown.contains(":story/title") && !shown.contains(":user/email"),
        "filtered by namespace: {shown}"
    );
    assert_labelled(&mut browser, "schema");
    type_into(&mut browser, "main select", "");
    browser.screenshot(&shots.join("schema.png"));

    // Query: the tour's join, 2 rows.
    open(&mut browser, &stage.url("query"), "query");
    let summary = run_query(&mut browser, JOIN, &["\"ada@example.com\""]);
    assert!(summary.starts_with("2 rows"), "{summary}");
    let rows =
        browser.eval("[...document.querySelectorAll('#results tbody tr')].map((r) => r.innerText)");
    let rows: Vec<String> = serde_json::from_value(rows).unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows.iter().any(|r| r.contains("Datalog in practice")),
        "{rows:?}"
    );
    assert!(
        rows.iter().any(|r| r.contains("Time travel for auditors")),
        "{rows:?}"
    );
    assert_labelled(&mut browser, "query");
    browser.screenshot(&shots.join("query.png"));
    // The query history lives in the browser and comes back on a reload.
    open(&mut browser, &stage.url("query"), "query");
    let history = text(&mut browser, ".history-list");
    assert!(history.contains(":story/author"), "{history}");
    // Rules: the same join as a rule, given for % beside the email.
    let summary = run_query(
        &mut browser,
        "[:find ?title :in $ % ?email :where (wrote ?email ?title)]",
        &[
            "[[(wrote ?email ?title) [?a :user/email ?email] [?s :story/author ?a] [?s :story/title ?title]]]",
            "\"ada@example.com\"",
        ],
    );
    assert!(summary.starts_with("2 rows"), "{summary}");
    assert!(text(&mut browser, "label[for=input-0]").contains("Rules"));
    // Another basis: as of the transaction before the rename, the editor is Ed.
    let first_name = "[:find ?name . :in $ ?e :where [?e :user/firstName ?name]]";
    type_into(&mut browser, ".basis-kind", "as-of");
    type_into(
        &mut browser,
        ".basis-point",
        &(stage.renamed.0 - 1).to_string(),
    );
    let summary = run_query(
        &mut browser,
        first_name,
        &[r#"[:user/email "editor@example.com"]"#],
    );
    assert!(
        summary.contains(&format!("as of t {}", stage.renamed.0 - 1)),
        "{summary}"
    );
    assert_eq!(text(&mut browser, "#results tbody"), "\"Ed\"");
    type_into(&mut browser, ".basis-kind", "latest");
    run_query(
        &mut browser,
        first_name,
        &[r#"[:user/email "editor@example.com"]"#],
    );
    assert_eq!(text(&mut browser, "#results tbody"), "\"Edward\"");

    // A 10,000-row result is paged: 50 rows drawn, 200 pages, sortable.
    let numbers: Vec<String> = (0..10_000).map(|n| n.to_string()).collect();
    let started = Instant::now();
    let summary = run_query(
        &mut browser,
        "[:find ?n :in [?n ...]]",
        &[&format!("[{}]", numbers.join(" "))],
    );
    println!(
        "console: a 10,000-row result shown (paged) in {} ms",
        started.elapsed().as_millis()
    );
    assert!(summary.starts_with("10000 rows"), "{summary}");
    assert_eq!(
        browser.eval("document.querySelectorAll('#results tbody tr').length"),
        serde_json::json!(50)
    );
    assert_eq!(text(&mut browser, "#results .page-of"), "page 1 of 200");
    click(&mut browser, "#results th button");
    click(&mut browser, "#results th button");
    assert_eq!(
        browser.eval("document.querySelector('#results tbody td').innerText"),
        serde_json::json!("9999"),
        "sorted descending"
    );
    click(&mut browser, "#results .pager button:nth-of-type(3)");
    assert_eq!(text(&mut browser, "#results .page-of"), "page 2 of 200");
    assert_eq!(
        browser.eval("document.querySelector('#results tbody td').innerText"),
        serde_json::json!("9949")
    );

    // Entity: the editor's history after the rename, both values with their
    // transactions; references in both directions.
    let editor = r#"[:user/email "editor@example.com"]"#;
    open(
        &mut browser,
        &stage.url(&format!("entity/{}", urlencode(editor))),
        "entity",
    );
    let timeline: Vec<String> = serde_json::from_value(
        browser.eval("[...document.querySelectorAll('.timeline > li')].map((li) => li.innerText)"),
    )
    .unwrap();
    let rename = timeline
        .iter()
        .find(|tx| tx.contains(&format!("tx {}", stage.renamed.1)))
        .unwrap_or_else(|| panic!("the rename's transaction in {timeline:?}"));
    assert!(
        rename.contains(&format!("t {}", stage.renamed.0)),
        "{rename}"
    );
    assert!(rename.contains(":user/firstName \"Edward\""), "{rename}");
    assert!(
        rename.contains(":user/firstName \"Ed\""),
        "the retraction of Ed: {rename}"
    );
    assert!(rename.contains('−') && rename.contains('+'), "{rename}");
    let created = timeline
        .iter()
        .find(|tx| tx.contains(&format!("tx {}", stage.created.1)))
        .unwrap_or_else(|| panic!("the creating transaction in {timeline:?}"));
    assert!(created.contains(":user/firstName \"Ed\""), "{created}");
    assert!(
        created.contains(&format!("t {}", stage.created.0)),
        "{created}"
    );
    let attributes = text(&mut browser, "#attrs-title + div");
    assert!(
        attributes.contains("\"Edward\"") && !attributes.contains("\"Ed\""),
        "{attributes}"
    );
    let referrers = text(&mut browser, "#refs-title + div");
    assert!(
        referrers.contains(":story/author") && referrers.contains(":comment/author"),
        "{referrers}"
    );
    assert_labelled(&mut browser, "entity");
    browser.screenshot(&shots.join("entity.png"));
    // A link leads on to a referring entity.
    click(&mut browser, "#refs-title + div tbody a");
    browser.wait_for(
        "the referring entity",
        "location.hash.startsWith('#/entity/') && document.body.dataset.ready === 'entity' && !location.hash.includes('editor')",
        Duration::from_secs(10),
    );

    // Transactions: one committed by another process appears within 2 s.
    open(&mut browser, &stage.url("txs"), "txs");
    browser.wait_for(
        "the report stream",
        "document.querySelector('#live-state').textContent === 'live'",
        Duration::from_secs(10),
    );
    let log = text(&mut browser, "main");
    assert!(
        log.contains("\"Accretion-only databases\""),
        "the log lists the data"
    );
    let other = ok(
        &["transact", &stage.uri],
        r#"[{:story/title "Live from another process" :story/url "http://example.com/live"}]"#,
    );
    let committed = Instant::now();
    browser.wait_for(
        "the new transaction on the Transactions page",
        "document.querySelector('#live-txs').innerText.includes('Live from another process')",
        Duration::from_secs(2),
    );
    println!(
        "console: a transaction committed by `accrete transact` shown {} ms after the command returned",
        committed.elapsed().as_millis()
    );
    let t = t_of(&other);
    assert_eq!(
        text(&mut browser, "#basis-t"),
        t.to_string(),
        "the basis t follows"
    );
    let card = text(&mut browser, "#live-txs > li");
    assert!(
        card.contains(&format!("t {t}")) && card.contains(&format!("tx {}", tx_of(&other))),
        "{card}"
    );
    assert!(card.contains("by "), "the principal: {card}");
    assert!(
        browser.eval("document.querySelector('#rate-title + div svg.plot') !== null")
            == serde_json::json!(true),
        "the transactions-per-minute plot"
    );
    // Filtered by time: nothing from the year 2999 on.
    type_into(
        &mut browser,
        "main input[type=datetime-local]",
        "2999-01-01T00:00",
    );
    click(&mut browser, "main form.bar button[type=submit]");
    browser.wait_for(
        "the log filtered by time",
        "document.querySelector('main section:last-of-type .timeline').innerText.includes('No transactions match')",
        Duration::from_secs(10),
    );
    type_into(&mut browser, "main input[type=datetime-local]", "");
    // Filtered by attribute: only transactions with a :comment/body datom.
    type_into(
        &mut browser,
        "main input[list=attr-idents]",
        ":comment/body",
    );
    click(&mut browser, "main form.bar button[type=submit]");
    browser.wait_for(
        "the filtered log",
        "(() => { const items = [...document.querySelectorAll('main section:last-of-type .timeline > li')]; return items.length > 0 && items.every((li) => li.innerText.includes(':comment/body')); })()",
        Duration::from_secs(10),
    );
    assert_labelled(&mut browser, "txs");
    browser.screenshot(&shots.join("transactions.png"));

    // Indexes: AEVT from :user/email, paged.
    open(&mut browser, &stage.url("indexes"), "indexes");
    type_into(&mut browser, "#index-select", "aevt");
    type_into(&mut browser, "#index-start", "[:user/email]");
    browser.eval("document.querySelector('#index-page').replaceChildren(); true");
    click(&mut browser, "main form button[type=submit]");
    let first = browser
        .wait_for(
            "the AEVT page",
            "(() => { const td = document.querySelector('#index-page tbody tr'); return td ? td.innerText : ''; })()",
            Duration::from_secs(10),
        )
        .as_str()
        .unwrap()
        .to_string();
    assert!(first.contains(":user/email"), "{first}");
    assert!(text(&mut browser, "#index-page").contains("editor@example.com"));
    click(&mut browser, "#index-page .pager button:nth-of-type(2)");
    browser.wait_for(
        "the second page",
        "document.querySelector('#index-page .hint') && document.querySelector('#index-page .hint').innerText.includes('page 2')",
        Duration::from_secs(10),
    );
    let second = text(&mut browser, "#index-page tbody tr");
    assert_ne!(first, second, "the next page starts after the first");
    assert_labelled(&mut browser, "indexes");
    browser.screenshot(&shots.join("indexes.png"));

    // Databases: the database, its basis, its datoms.
    open(&mut browser, &stage.url("dbs"), "dbs");
    let dbs = browser.wait_for(
        "the datom count",
        "(() => { const r = document.querySelector('main tbody tr'); return r && !r.innerText.includes('…') ? r.innerText : ''; })()",
        Duration::from_secs(10),
    );
    let dbs = dbs.as_str().unwrap();
    assert!(
        dbs.starts_with("news") && dbs.contains(&t.to_string()),
        "{dbs}"
    );
    assert!(dbs.contains("admin"), "development mode: every role: {dbs}");
    browser.screenshot(&shots.join("databases.png"));
    assert!(
        browser.errors.is_empty(),
        "page errors: {:?}",
        browser.errors
    );
}

/// Percent-encoding for a hash route.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn a_reader_signs_in_with_a_token_and_sees_no_transact_box() {
    let mut tokens = (String::new(), String::new());
    let stage = Stage::new(&["--auth"], |uri| {
        let make = |name: &str, role: &str| {
            ok(
                &["token", "create", uri, "--name", name, "--role", role],
                "",
            )
            .trim()
            .to_string()
        };
        tokens = (make("reader", "read"), make("writer", "write"));
    });
    let (reader, writer) = tokens;
    let mut browser = Browser::launch();
    open(&mut browser, &stage.url("txs"), "login");
    assert_labelled(&mut browser, "login");
    browser.screenshot(&screenshots().join("login.png"));
    // A wrong token is refused and said so.
    type_into(&mut browser, "#token", "acrt_nope_nope");
    click(&mut browser, "#login-form button");
    browser.wait_for(
        "the refusal",
        "document.querySelector('#login-why').innerText.includes('refused')",
        Duration::from_secs(10),
    );
    // The reader: the log, no transact box.
    type_into(&mut browser, "#token", &reader);
    click(&mut browser, "#login-form button");
    browser.wait_for(
        "the Transactions page for the reader",
        "document.body.dataset.ready === 'txs'",
        Duration::from_secs(20),
    );
    assert!(text(&mut browser, "#who").contains("reader"));
    assert!(text(&mut browser, "main").contains("Accretion-only databases"));
    assert_eq!(
        browser.eval("document.querySelector('#transact') === null"),
        serde_json::json!(true),
        "a reader sees no transact box"
    );
    // The writer: the transact box, and a transaction through it.
    click(&mut browser, "#sign-out");
    browser.wait_for(
        "the sign-in form",
        "!document.querySelector('#login').hidden",
        Duration::from_secs(5),
    );
    type_into(&mut browser, "#token", &writer);
    click(&mut browser, "#login-form button");
    browser.wait_for(
        "the transact box for the writer",
        "document.body.dataset.ready === 'txs' && document.querySelector('#transact') !== null",
        Duration::from_secs(20),
    );
    browser.wait_for(
        "the report stream",
        "document.querySelector('#live-state').textContent === 'live'",
        Duration::from_secs(10),
    );
    type_into(
        &mut browser,
        "#tx-data",
        r#"[{:story/title "Sent from the console" :story/url "http://example.com/console"}]"#,
    );
    click(&mut browser, "#transact button");
    let done = browser.wait_for(
        "the transaction's answer",
        "(() => { const s = document.querySelector('#transact [role=status], #transact [role=alert]'); return s ? s.innerText : ''; })()",
        Duration::from_secs(20),
    );
    assert!(
        done.as_str().unwrap().starts_with("Committed at t "),
        "{done}"
    );
    browser.wait_for(
        "the console's own transaction in the live list",
        "document.querySelector('#live-txs').innerText.includes('Sent from the console')",
        Duration::from_secs(5),
    );
    let card = text(&mut browser, "#live-txs > li");
    assert!(card.contains("by "), "the principal is recorded: {card}");
    assert!(
        browser.errors.is_empty(),
        "page errors: {:?}",
        browser.errors
    );
}
