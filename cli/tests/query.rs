//! `accrete q` and `accrete pull` on file storage: results in every find
//! shape, inputs, rules, time travel, and each error's exit code.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

const SCHEMA: &str = r#"[{:db/ident :user/email :db/valueType :db.type/string
   :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
  {:db/ident :user/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
  {:db/ident :user/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
  {:db/ident :story/title :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
  {:db/ident :story/author :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}]"#;

/// Friends form a chain ann → bob → cid; ann wrote two stories, bob one.
const PEOPLE: &str = r#"[{:db/id "ann" :user/email "ann@x" :user/name "Ann" :user/friend "bob"}
  {:db/id "bob" :user/email "bob@x" :user/name "Bob" :user/friend "cid"}
  {:db/id "cid" :user/email "cid@x" :user/name "Cid"}
  {:story/title "On logs" :story/author "ann"}
  {:story/title "On trees" :story/author "ann"}
  {:story/title "On Paxos" :story/author "bob"}]"#;

const REACHES: &str = r#"[[(reaches ?a ?b) [?a :user/friend ?b]]
  [(reaches ?a ?b) [?a :user/friend ?c] (reaches ?c ?b)]]"#;

/// A database holding [`PEOPLE`], then Ann renamed to Anne; the t of
/// [`PEOPLE`]'s transaction.
struct Fixture {
    dir: tempfile::TempDir,
    uri: String,
    people_t: u64,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let uri = file_uri(&dir.path().join("data"), "shop");
    ok(&["create-db", &uri], "");
    ok(&["transact", &uri], SCHEMA);
    let people_t = t_of(&ok(&["transact", &uri], PEOPLE));
    ok(
        &["transact", &uri],
        r#"[[:db/add [:user/email "ann@x"] :user/name "Anne"]]"#,
    );
    Fixture { dir, uri, people_t }
}

/// Writes `text` into a file of the fixture's directory and returns its path.
fn file(fx: &Fixture, name: &str, text: &str) -> String {
    let path = fx.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// `accrete q URI QUERY ARGS…`, which must succeed.
fn q(fx: &Fixture, query: &str, args: &[&str]) -> String {
    let mut all = vec!["q", &fx.uri, query];
    all.extend(args);
    ok(&all, "")
}

/// Asserts `accrete ARGS` fails with `code` and a message containing `why`.
fn fails(args: &[&str], code_wanted: i32, why: &str) {
    let out = accrete(args, "");
    assert_eq!(code(&out), code_wanted, "{args:?}: {}", stderr(&out));
    assert!(stderr(&out).contains(why), "{args:?}: {}", stderr(&out));
    assert_eq!(stdout(&out), "", "{args:?}");
}

#[test]
fn q_prints_each_find_shape() {
    let fx = fixture();
    let relation = q(
        &fx,
        "[:find ?name ?email :where [?e :user/email ?email] [?e :user/name ?name]]",
        &[],
    );
    assert_eq!(
        relation, "[\"Anne\" \"ann@x\"]\n[\"Bob\" \"bob@x\"]\n[\"Cid\" \"cid@x\"]\n",
        "one sorted row per line"
    );
    let collection = q(
        &fx,
        "[:find [?email ...] :where [_ :user/email ?email]]",
        &[],
    );
    assert_eq!(collection.trim_end(), r#"["ann@x" "bob@x" "cid@x"]"#);
    let scalar = q(&fx, "[:find (count ?s) . :where [?s :story/title]]", &[]);
    assert_eq!(scalar, "3\n");
    let tuple = q(
        &fx,
        r#"[:find [?name ?email] :where [?e :user/email ?email] [?e :user/name ?name] [(= ?name "Bob")]]"#,
        &[],
    );
    assert_eq!(tuple, "[\"Bob\" \"bob@x\"]\n");
    let nothing = q(&fx, r#"[:find ?e . :where [?e :user/name "Zed"]]"#, &[]);
    assert_eq!(nothing, "nil\n");
    let maps = q(
        &fx,
        "{:find [?name (count ?s)] :keys [author stories] :where [[?s :story/author ?a] [?a :user/name ?name]]}",
        &[],
    );
    assert_eq!(
        maps,
        "{:author \"Anne\", :stories 2}\n{:author \"Bob\", :stories 1}\n"
    );
}

#[test]
fn q_takes_inputs_after_the_query_in_the_order_of_in() {
    let fx = fixture();
    let titles = q(
        &fx,
        "[:find ?title :in $ ?email :where [?a :user/email ?email] [?s :story/author ?a] [?s :story/title ?title]]",
        &[r#""ann@x""#],
    );
    assert_eq!(titles, "[\"On logs\"]\n[\"On trees\"]\n");
    let names = q(
        &fx,
        "[:find [?name ...] :in [?email ...] $ :where [?e :user/email ?email] [?e :user/name ?name]]",
        &[r#"["bob@x" "cid@x"]"#],
    );
    assert_eq!(names.trim_end(), r#"["Bob" "Cid"]"#);
    let joined = q(
        &fx,
        "[:find ?name ?age :in $ [[?email ?age]] :where [?e :user/email ?email] [?e :user/name ?name]]",
        &[r#"[["ann@x" 41] ["cid@x" 7] ["nobody@x" 1]]"#],
    );
    assert_eq!(joined, "[\"Anne\" 41]\n[\"Cid\" 7]\n");
    let arithmetic = q(&fx, "[:find ?y . :in ?x :where [(- ?x 1) ?y]]", &["-5"]);
    assert_eq!(
        arithmetic, "-6\n",
        "a negative number is an input, not an option"
    );
    let plain_collection = q(
        &fx,
        "[:find ?b :in $data :where [$data ?a ?b] [(> ?a 1)]]",
        &["[[1 :one] [2 :two] [3 :three]]"],
    );
    assert_eq!(plain_collection, "[:three]\n[:two]\n");
}

#[test]
fn q_reads_the_query_from_a_file_or_stdin() {
    let fx = fixture();
    let query = "[:find ?name :in $ ?email :where [?e :user/email ?email] [?e :user/name ?name]]";
    let path = file(&fx, "query.edn", query);
    let from_file = ok(&["q", &fx.uri, "--file", &path, r#""bob@x""#], "");
    assert_eq!(from_file, "[\"Bob\"]\n");
    let from_stdin = ok(&["q", &fx.uri, "-", r#""cid@x""#], query);
    assert_eq!(from_stdin, "[\"Cid\"]\n");
    let file_stdin = ok(&["q", &fx.uri, "-f", "-", r#""ann@x""#], query);
    assert_eq!(file_stdin, "[\"Anne\"]\n");
}

#[test]
fn q_with_recursive_rules_from_a_file() {
    let fx = fixture();
    let rules = file(&fx, "rules.edn", REACHES);
    let reached = ok(
        &[
            "q",
            &fx.uri,
            "[:find [?name ...] :in $ % ?email :where [?a :user/email ?email] (reaches ?a ?b) [?b :user/name ?name]]",
            r#""ann@x""#,
            "--rules",
            &rules,
        ],
        "",
    );
    assert_eq!(reached.trim_end(), r#"["Bob" "Cid"]"#);
}

#[test]
fn q_as_of_since_and_with_history() {
    let fx = fixture();
    let t = fx.people_t.to_string();
    let name = r#"[:find ?name . :where [?e :user/email "ann@x"] [?e :user/name ?name]]"#;
    assert_eq!(q(&fx, name, &[]), "\"Anne\"\n");
    assert_eq!(q(&fx, name, &["--as-of", &t]), "\"Ann\"\n");
    let before_people = (fx.people_t - 1).to_string();
    assert_eq!(q(&fx, name, &["--as-of", &before_people]), "nil\n");
    let changed = q(
        &fx,
        "[:find ?name :where [_ :user/name ?name]]",
        &["--since", &t],
    );
    assert_eq!(changed, "[\"Anne\"]\n", "only the rename is after t");
    let history = q(
        &fx,
        r#"[:find ?name ?added :where [?e :user/email "ann@x"] [?e :user/name ?name _ ?added]]"#,
        &["--history"],
    );
    assert_eq!(
        history,
        "[\"Ann\" false]\n[\"Ann\" true]\n[\"Anne\" true]\n"
    );
}

#[test]
fn pull_by_id_ident_and_lookup_ref() {
    let fx = fixture();
    let ann = r#"[:user/email "ann@x"]"#;
    let pulled = ok(
        &[
            "pull",
            &fx.uri,
            "[:user/name {:user/friend [:user/name]} {:story/_author [:story/title]}]",
            ann,
        ],
        "",
    );
    assert_eq!(
        pulled,
        "{:story/_author [{:story/title \"On logs\"} {:story/title \"On trees\"}], :user/friend [{:user/name \"Bob\"}], :user/name \"Anne\"}\n"
    );
    let id = q(&fx, r#"[:find ?e . :where [?e :user/email "bob@x"]]"#, &[]);
    let by_id = ok(&["pull", &fx.uri, "[:user/email]", id.trim()], "");
    assert_eq!(by_id, "{:user/email \"bob@x\"}\n");
    let attribute = ok(
        &[
            "pull",
            &fx.uri,
            "[:db/ident {:db/cardinality [:db/ident]}]",
            ":user/friend",
        ],
        "",
    );
    assert_eq!(
        attribute,
        "{:db/cardinality {:db/ident :db.cardinality/many}, :db/ident :user/friend}\n"
    );
    let then = ok(
        &[
            "pull",
            &fx.uri,
            "[:user/name]",
            ann,
            "--as-of",
            &fx.people_t.to_string(),
        ],
        "",
    );
    assert_eq!(then, "{:user/name \"Ann\"}\n");
    let nobody = ok(&["pull", &fx.uri, "[*]", r#"[:user/email "nobody@x"]"#], "");
    assert_eq!(nobody, "nil\n");
}

#[test]
fn query_errors_name_what_was_wrong() {
    let fx = fixture();
    let uri = fx.uri.as_str();
    let rules = file(&fx, "rules.edn", REACHES);
    let bad_rules = file(
        &fx,
        "bad-rules.edn",
        "[[(reaches ?a) [?a :user/friend ?b]] 7]",
    );
    let by_email = "[:find ?e :in $ ?email :where [?e :user/email ?email]]";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["q", uri, "[:find ?x :where [?e :user/email]]"],
            "unbound variable: ?x in :find is not bound",
        ),
        (
            vec!["q", uri, "[:find ?e :where [?e :no/such]]"],
            "unknown attribute: :no/such",
        ),
        (
            vec!["q", uri, "[:find ?e :where"],
            "query: EDN syntax error",
        ),
        (
            vec!["q", uri, "[:where [?e :user/email]]"],
            "a query needs :find",
        ),
        (
            vec!["q", uri, by_email],
            "the query's :in takes 1 input(s) after the query (?email), 0 given",
        ),
        (
            vec!["q", uri, by_email, r#""a""#, r#""b""#],
            "takes 1 input(s) after the query (?email), 2 given",
        ),
        (
            vec!["q", uri, by_email, r#""a"#],
            "input ?email `\"a`: EDN syntax error",
        ),
        (vec!["q", uri, "[:find ?x :in ?x]", "{:a 1}"], "wrong input"),
        (
            vec!["q", uri, "[:find ?a :in $ % :where (reaches ?a ?b)]"],
            "give them with --rules FILE",
        ),
        (
            vec![
                "q",
                uri,
                "[:find ?e :where [?e :user/email]]",
                "--rules",
                &rules,
            ],
            "--rules was given but the query's :in has no %",
        ),
        (
            vec![
                "q",
                uri,
                "[:find ?a :in $ % :where (reaches ?a ?b)]",
                "--rules",
                &bad_rules,
            ],
            "rules in ",
        ),
        (
            vec!["q", uri, "--file", "/no/such/query.edn"],
            "reading the query from /no/such/query.edn",
        ),
        (
            vec![
                "q",
                uri,
                "[:find ?e :where [?e :user/email]]",
                "--as-of",
                "yesterday",
            ],
            "--as-of yesterday: not a t",
        ),
        (
            vec!["pull", uri, "[:no/such]", r#"[:user/email "ann@x"]"#],
            ":no/such",
        ),
        (vec!["pull", uri, "{:a 1}", ":user/email"], "pull pattern"),
        (
            vec!["pull", uri, "[*]", ":no/such"],
            "`:no/such` names no entity",
        ),
        (
            vec!["pull", uri, "[*]", "[:user/email"],
            "entity `[:user/email`",
        ),
    ];
    for (args, why) in &cases {
        fails(args, 2, why);
    }
    let missing = file_uri(&fx.dir.path().join("data"), "nope");
    fails(
        &["q", &missing, "[:find ?e :where [?e :db/ident]]"],
        2,
        "database `nope` does not exist",
    );
    fails(
        &["pull", &missing, "[*]", ":db/ident"],
        2,
        "database `nope` does not exist",
    );
    let unreachable = accrete(
        &[
            "q",
            "postgres://u:hunter2@127.0.0.1:1/pg?db=shop&connect_timeout=1",
            "[:find ?e :where [?e :db/ident]]",
        ],
        "",
    );
    assert_eq!(code(&unreachable), 3, "{}", stderr(&unreachable));
    assert!(
        stderr(&unreachable).contains("unavailable") && !stderr(&unreachable).contains("hunter2"),
        "{}",
        stderr(&unreachable)
    );
}

#[test]
fn explain_prints_the_plan_instead_of_the_answer() {
    let fx = fixture();
    let query = "[:find ?title :in $ ?email :where [?u :user/email ?email] [?s :story/author ?u] [?s :story/title ?title]]";
    let plan = q(&fx, query, &["--explain", r#""ann@x""#]);
    let lines: Vec<&str> = plan.lines().collect();
    assert!(lines[0].starts_with("plan of [:find ?title"), "{plan}");
    // The user by her email, her stories by the author reference, their titles.
    assert_eq!(lines[1].trim(), "1. [?u :user/email ?email]", "{plan}");
    assert!(
        lines[2]
            .trim()
            .starts_with("probe :avet [a v] per key, 1 keys"),
        "{plan}"
    );
    assert!(lines[2].trim().ends_with("rows 1 -> 1"), "{plan}");
    assert_eq!(lines[3].trim(), "2. [?s :story/author ?u]", "{plan}");
    assert!(lines[4].trim().ends_with("rows 1 -> 2"), "{plan}");
    assert_eq!(lines[5].trim(), "3. [?s :story/title ?title]", "{plan}");
    assert!(
        lines[6]
            .trim()
            .starts_with("probe :eavt [e a] per key, 2 keys"),
        "{plan}"
    );
    assert!(lines[7].starts_with("2 results in "), "{plan}");

    // As data: one map per clause.
    let json = q(&fx, query, &["--explain", "--format", "json", r#""ann@x""#]);
    let steps: serde_json::Value = serde_json::from_str(&json).unwrap();
    let steps = steps.as_array().unwrap();
    assert_eq!(steps.len(), 3, "{json}");
    assert_eq!(steps[2]["clause"], "[?s :story/title ?title]", "{json}");
    assert_eq!(steps[2]["rows-out"], 2, "{json}");
}
