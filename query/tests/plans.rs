//! Every join strategy finds the same answers: index probes per key,
//! one scan with a hash join, and the planner's choice (from attribute
//! statistics), on seeded random data and queries (joins on entities,
//! values and transactions, predicates, rules, not-join, or-join), over
//! the same database as novelty, as segment trees, and partly indexed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use model::Db;
use model::edn::Edn;
use query::{Input, JoinStrategy, Options};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SCHEMA: &str = r#"[
 {:db/ident :n/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :n/group :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :n/score :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :n/tag :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}
 {:db/ident :n/link :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]"#;

const RULES: &str =
    "[[(reach ?a ?b) [?a :n/link ?b]] [(reach ?a ?b) [?a :n/link ?m] (reach ?m ?b)]]";

/// A database of `n` nodes over a few transactions, with changes and
/// retractions after the first (so indexing them leaves history and
/// retired facts).
fn random_db(rng: &mut StdRng, n: usize) -> Db {
    let mut db = tx(&Db::new(), SCHEMA).db_after;
    let mut forms = Vec::new();
    for i in 0..n {
        let tags: Vec<String> = (0..rng.random_range(0..3))
            .map(|_| format!(":t/{}", rng.random_range(0..4)))
            .collect();
        forms.push(format!(
            r#"{{:db/id "n{i}" :n/name "n{i}" :n/group {} :n/score {} :n/tag [{}]}}"#,
            rng.random_range(0..5),
            rng.random_range(0..20),
            tags.join(" ")
        ));
    }
    db = tx(&db, &format!("[{}]", forms.join(" "))).db_after;
    for _ in 0..3 {
        let mut forms = Vec::new();
        let mut touched = std::collections::HashSet::new();
        for _ in 0..n {
            let a = rng.random_range(0..n);
            // One change per entity and transaction (no two values of a
            // cardinality-one attribute).
            if !touched.insert(a) {
                continue;
            }
            let b = rng.random_range(0..n);
            let e = format!(r#"[:n/name "n{a}"]"#);
            forms.push(match rng.random_range(0..6) {
                0..=2 => format!(r#"[:db/add {e} :n/link [:n/name "n{b}"]]"#),
                3 => format!("[:db/add {e} :n/group {}]", rng.random_range(0..5)),
                4 => format!("[:db/add {e} :n/score {}]", rng.random_range(0..20)),
                _ => format!("[:db/add {e} :n/tag :t/{}]", rng.random_range(0..4)),
            });
        }
        db = tx(&db, &format!("[{}]", forms.join(" "))).db_after;
        // Retract some links and tags that exist now.
        let links = q(
            "[:find ?a ?b :where [?a :n/link ?b]]",
            &[Input::Db(db.clone())],
        );
        let mut forms: Vec<String> = links
            .rows()
            .iter()
            .filter(|_| rng.random_range(0..4) == 0)
            .map(|r| format!("[:db/retract {} :n/link {}]", r[0], r[1]))
            .collect();
        let tags = q(
            "[:find ?a ?t :where [?a :n/tag ?t]]",
            &[Input::Db(db.clone())],
        );
        forms.extend(
            tags.rows()
                .iter()
                .filter(|_| rng.random_range(0..5) == 0)
                .map(|r| format!("[:db/retract {} :n/tag {}]", r[0], r[1])),
        );
        if !forms.is_empty() {
            db = tx(&db, &format!("[{}]", forms.join(" "))).db_after;
        }
    }
    db
}

/// A random query of one of the shapes, with its extra inputs.
fn random_query(rng: &mut StdRng, n: usize) -> (String, Vec<Input>) {
    let g = rng.random_range(0..5);
    let g2 = rng.random_range(0..5);
    let k = rng.random_range(0..20);
    let node = rng.random_range(0..n);
    let groups = Input::Coll(
        (0..rng.random_range(1..4))
            .map(|i| model::Value::Long((g + i) % 5))
            .collect(),
    );
    let (text, extra): (String, Vec<Input>) = match rng.random_range(0..12) {
        0 => ("[:find ?e ?n :in $ ?g :where [?e :n/group ?g] [?e :n/name ?n]]".into(), vec![val(g)]),
        1 => (format!("[:find ?e ?f ?s :where [?e :n/link ?f] [?f :n/score ?s] [(> ?s {k})]]"), vec![]),
        2 => (
            format!("[:find ?e :in $ [?g ...] :where [?e :n/group ?g] (not-join [?e] [?e :n/link ?x] [?x :n/group {g2}])]"),
            vec![groups],
        ),
        3 => (
            format!("[:find ?e ?x :where [?e :n/group {g}] (or-join [?e ?x] [?e :n/link ?x] (and [?x :n/link ?e] [?x :n/score ?s] [(< ?s {k})]))]"),
            vec![],
        ),
        4 => (
            format!("[:find ?a ?b :in $ % :where [?a :n/group {g}] (reach ?a ?b) [?b :n/score ?s] [(odd? ?s)]]"),
            vec![Input::Edn(edn(RULES))],
        ),
        5 => ("[:find ?e ?t :where [?e :n/tag ?t] [?e :n/score ?s] [(even? ?s)]]".into(), vec![]),
        6 => ("[:find ?e ?t :where [?e :n/name] [?e :n/tag ?t]]".into(), vec![]),
        7 => (format!("[:find ?a ?b :where [?a :n/group {g}] [?a :n/score ?s] [?b :n/score ?s] [(not= ?a ?b)]]"), vec![]),
        8 => (format!(r#"[:find ?v :where [?e :n/name "n{node}"] [?e :n/link ?f] [?f :n/link ?h] [?h :n/name ?v]]"#), vec![]),
        9 => (format!("[:find ?e ?f :where [?e :n/group {g} ?tx] [?f :n/score _ ?tx]]"), vec![]),
        10 => (
            format!("[:find ?e ?n :where [?e :n/tag :t/{}] [?e :n/name ?n] (not [?e :n/group {g}])]", k % 4),
            vec![],
        ),
        _ => (
            "[:find ?f (count ?e) :in $ [?g ...] :where [?e :n/group ?g] [?e :n/link ?f] [?f :n/tag ?t]]".into(),
            vec![groups],
        ),
    };
    (text, extra)
}

fn answers(text: &str, db: &Db, extra: &[Input], join: JoinStrategy) -> Vec<Vec<Edn>> {
    let mut inputs = vec![Input::Db(db.clone())];
    inputs.extend(extra.iter().cloned());
    let options = Options {
        join,
        ..Options::default()
    };
    let found = query::q_with(text, &inputs, &options)
        .unwrap_or_else(|e| panic!("{e}\nin {text} ({join:?})"));
    rows(&found)
}

#[test]
fn every_strategy_finds_the_same_answers_on_every_layer() {
    for seed in 0..6u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let n = rng.random_range(30..90);
        let db = random_db(&mut rng, n);
        let indexed = on_segments(&db, None);
        let partly = on_segments(&db, Some(3));
        let mut scans = 0;
        let mut found_some = 0;
        for _ in 0..25 {
            let (text, extra) = random_query(&mut rng, n);
            let expected = answers(&text, &db, &extra, JoinStrategy::Probe);
            found_some += usize::from(!expected.is_empty());
            for (layer, db) in [
                ("novelty", &db),
                ("segments", &indexed.db),
                ("partly indexed", &partly.db),
            ] {
                for join in [JoinStrategy::Auto, JoinStrategy::Probe, JoinStrategy::Scan] {
                    assert_eq!(
                        answers(&text, db, &extra, join),
                        expected,
                        "seed {seed}, {layer}, {join:?}: {text}"
                    );
                }
            }
            let mut inputs = vec![Input::Db(db.clone())];
            inputs.extend(extra.iter().cloned());
            let plan = query::explain_with(
                text.as_str(),
                &inputs,
                &Options {
                    join: JoinStrategy::Scan,
                    ..Options::default()
                },
            )
            .unwrap();
            scans += plan
                .steps
                .iter()
                .filter(|s| s.how.starts_with("scan :"))
                .count();
        }
        // The comparison means something: the forced scans did scan.
        assert!(scans > 0, "seed {seed}: no clause scanned");
        assert!(
            found_some >= 12,
            "seed {seed}: only {found_some} of 25 queries found anything"
        );
    }
}
