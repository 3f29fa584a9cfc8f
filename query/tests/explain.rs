//! `query::explain` on the social news scenario (§1 of the scenarios):
//! the clauses in the order they ran, the index and join strategy of each
//! data pattern, the rows in and out, on novelty and on segment trees
//! (whose index root carries attribute statistics).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use model::Db;
use query::{Explain, Input, JoinStrategy, Options, explain, explain_with};

fn s_(text: &str) -> model::Value {
    model::Value::string(text)
}

fn plan(query: &str, inputs: &[Input]) -> Explain {
    let plan = explain(query, inputs).unwrap_or_else(|e| panic!("{e}\nin {query}"));
    // Explaining runs the query: the same number of results.
    assert_eq!(plan.results, q(query, inputs).len(), "{query}");
    plan
}

/// (clause, how it ran, rows out) of each step, for compact assertions.
fn steps(plan: &Explain) -> Vec<(String, String, usize)> {
    plan.steps
        .iter()
        .map(|s| (s.clause.clone(), s.how.clone(), s.rows_out))
        .collect()
}

const BY_EMAIL: &str = "[:find ?e :in $ ?email :where [?e :user/email ?email]]";
const EDITOR_COMMENTS: &str = "[:find ?comment :in $ ?email :where [?user :user/email ?email] [?comment :comment/author ?user]]";

fn scenario_plans(db: &Db, with_stats: bool) {
    let stats = |n: u64| match with_stats {
        true => format!(": ~{n} datoms"),
        false => String::new(),
    };
    let p = plan(
        BY_EMAIL,
        &[Input::Db(db.clone()), val("editor@example.com")],
    );
    assert_eq!(
        steps(&p),
        [(
            "[?e :user/email ?email]".into(),
            format!("probe :avet [a v] per key, 1 keys (:aevt [a]{})", stats(2)),
            1
        )]
    );

    // The user by email first (one row), then the comments holding that
    // reference: one AVET probe.
    let p = plan(
        EDITOR_COMMENTS,
        &[Input::Db(db.clone()), val("editor@example.com")],
    );
    assert_eq!(
        steps(&p),
        [
            (
                "[?user :user/email ?email]".into(),
                format!("probe :avet [a v] per key, 1 keys (:aevt [a]{})", stats(2)),
                1
            ),
            (
                "[?comment :comment/author ?user]".into(),
                format!("probe :avet [a v] per key, 1 keys (:aevt [a]{})", stats(12)),
                10
            ),
        ]
    );
    let text = p.to_string();
    assert!(text.starts_with("plan of [:find ?comment"), "{text}");
    assert!(
        text.contains(" 2. [?comment :comment/author ?user]"),
        "{text}"
    );
    assert!(text.contains("rows 1 -> 10"), "{text}");
    assert!(text.contains("10 results in"), "{text}");

    // No bound variable: the smallest attribute first (2 users), then
    // what connects to it; nobody comments on a person.
    let p = plan(
        "[:find (count ?comment) :where [?comment :comment/author] [?commentable :comments ?comment] [?commentable :user/email]]",
        &[Input::Db(db.clone())],
    );
    assert_eq!(p.results, 0);
    assert_eq!(p.steps[0].clause, "[?commentable :user/email]");
    assert_eq!(p.steps[0].how, format!("read :aevt [a]{}", stats(2)));
    assert_eq!(p.steps[0].rows_out, 2);
    assert_eq!(p.steps[1].clause, "[?commentable :comments ?comment]");
    assert!(
        p.steps[1]
            .how
            .starts_with("probe :eavt [e a] per key, 2 keys"),
        "{p}"
    );
    assert_eq!(p.steps[1].rows_out, 0);

    // Rules show their bodies one level down.
    let rules = "[[(commented ?x ?c) [?x :comments ?c]] [(commented ?x ?c) [?x :comments ?m] (commented ?m ?c)]]";
    let p = plan(
        "[:find ?c :in $ % ?url :where [?s :story/url ?url] (commented ?s ?c)]",
        &[
            Input::Db(db.clone()),
            Input::Edn(edn(rules)),
            val("http://norvig.com/21-days.html"),
        ],
    );
    assert_eq!(p.steps[0].clause, "[?s :story/url ?url]");
    assert_eq!(p.steps[1].clause, "(commented ?s ?c)");
    assert!(p.steps[1].how.starts_with("rule"), "{p}");
    assert!(
        p.steps.iter().any(|s| s.depth == 1
            && s.clause == "[?x :comments ?c]"
            && s.how.starts_with("probe :eavt [e a] per key")),
        "{p}"
    );
}

#[test]
fn the_scenario_queries_explain_their_plans_on_novelty() {
    let s = social();
    scenario_plans(&s.db, true);
}

#[test]
fn the_scenario_queries_explain_their_plans_on_segments() {
    let s = social();
    let seg = on_segments(&s.db, None);
    scenario_plans(&seg.db, true);
    // Partly indexed: statistics of the trees plus the novelty's counts.
    let seg = on_segments(&s.db, Some(3));
    scenario_plans(&seg.db, true);
}

#[test]
fn many_keys_against_a_small_attribute_scan_once() {
    // 100 more users, none with a last name: 102 keys probing
    // :user/lastName would cost more than reading its 2 datoms once.
    let s = social();
    let users: Vec<String> = (0..100)
        .map(|i| format!(r#"{{:user/email "u{i}@x" :user/firstName "U{i}"}}"#))
        .collect();
    let db = tx(&s.db, &format!("[{}]", users.join(" "))).db_after;
    let query =
        "[:find ?e ?l :in $ [?name ...] :where [?e :user/firstName ?name] [?e :user/lastName ?l]]";
    let mut names: Vec<model::Value> = (0..100).map(|i| s_(&format!("U{i}"))).collect();
    names.extend([s_("Edward"), s_("Stu")]);
    for db in [db.clone(), on_segments(&db, None).db.clone()] {
        let inputs = [Input::Db(db.clone()), Input::Coll(names.clone())];
        let p = plan(query, &inputs);
        assert_eq!(p.results, 2);
        assert_eq!(p.steps[0].clause, "[?e :user/firstName ?name]");
        assert_eq!(p.steps[0].rows_out, 102);
        assert_eq!(p.steps[1].clause, "[?e :user/lastName ?l]");
        assert_eq!(
            p.steps[1].how,
            "scan :aevt [a]: ~2 datoms once, hash-join with 102 keys"
        );
        // Forced probes find the same and say so.
        let probes = explain_with(
            query,
            &inputs,
            &Options {
                join: JoinStrategy::Probe,
                ..Options::default()
            },
        )
        .unwrap();
        assert_eq!(probes.results, 2);
        assert!(
            probes.steps[1]
                .how
                .starts_with("probe :eavt [e a] per key, 102 keys")
        );
    }
}
