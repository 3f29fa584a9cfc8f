//! `:find` shapes, return maps, `:with`, aggregates, and every kind of
//! `:in` binding and source.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use model::Value;
use model::edn::Edn;
use query::{Found, Functions, Input, Options, Query, Shape};

#[test]
fn find_shapes() {
    let p = people();
    let all = q("[:find ?n :where [_ :person/name ?n]]", &[db(&p.db)]);
    assert_eq!(all.to_string(), r#"#{["Ann"] ["Bob"] ["Cat"] ["Dan"]}"#);
    let coll = q("[:find [?n ...] :where [_ :person/name ?n]]", &[db(&p.db)]);
    assert_eq!(coll.shape(), Shape::Collection);
    assert_eq!(strings(&coll), ["Ann", "Bob", "Cat", "Dan"]);
    let tuple = q(
        "[:find [?n ?a] :in $ ?e :where [?e :person/name ?n] [?e :person/age ?a]]",
        &[db(&p.db), val(Value::Ref(p.ann))],
    );
    assert_eq!(tuple.to_string(), r#"["Ann" 30]"#);
    let scalar = q(
        "[:find ?a . :in $ ?n :where [?e :person/name ?n] [?e :person/age ?a]]",
        &[db(&p.db), val("Cat")],
    );
    assert_eq!(scalar.scalar(), Some(&Found::Value(Value::Long(41))));
    let none = q(
        "[:find ?a . :in $ ?n :where [?e :person/name ?n] [?e :person/age ?a]]",
        &[db(&p.db), val("Zed")],
    );
    assert_eq!(none.to_string(), "nil");
    let no_tuple = q(
        "[:find [?a ?b] :where [?a :person/friend ?b] [?b :person/name \"Ann\"]]",
        &[db(&p.db)],
    );
    assert_eq!(no_tuple.to_string(), "nil");
}

#[test]
fn return_maps() {
    let p = people();
    let keys = q(
        "[:find ?n ?a :keys name age :in $ ?n :where [?e :person/name ?n] [?e :person/age ?a]]",
        &[db(&p.db), val("Bob")],
    );
    assert_eq!(keys.to_string(), r#"[{:age 25, :name "Bob"}]"#);
    let strs = q(
        "[:find ?n :strs name :in $ ?n :where [_ :person/name ?n]]",
        &[db(&p.db), val("Bob")],
    );
    assert_eq!(
        strs.maps().unwrap(),
        vec![Edn::map([(Edn::string("name"), Edn::string("Bob"))])]
    );
    let syms = q(
        "[:find [?n ?a] :syms n a :in $ ?n :where [?e :person/name ?n] [?e :person/age ?a]]",
        &[db(&p.db), val("Bob")],
    );
    assert_eq!(syms.maps().unwrap()[0].to_string(), r#"{a 25, n "Bob"}"#);
}

#[test]
fn map_form_and_parsed_queries_run_alike() {
    let p = people();
    let map_form = q(
        "{:find [?n] :in [$ ?min] :where [[?e :person/age ?a] [(>= ?a ?min)] [?e :person/name ?n]]}",
        &[db(&p.db), val(30)],
    );
    assert_eq!(strings(&map_form), ["Ann", "Cat"]);
    let parsed = Query::parse(
        "[:find ?n :in $ ?min :where [?e :person/age ?a] [(>= ?a ?min)] [?e :person/name ?n]]",
    )
    .unwrap();
    for (min, expected) in [(30, 2), (26, 2), (25, 4), (50, 0)] {
        let found = parsed
            .run(&[db(&p.db), val(min)], &Options::default())
            .unwrap();
        assert_eq!(found.len(), expected, "min {min}");
    }
}

#[test]
fn with_keeps_duplicates_for_aggregates() {
    let p = people();
    // Bob and Dan are both 25: without :with the ages collapse.
    let collapsed = q("[:find (sum ?a) . :where [_ :person/age ?a]]", &[db(&p.db)]);
    assert_eq!(collapsed.to_string(), "96");
    let kept = q(
        "[:find (sum ?a) . :with ?e :where [?e :person/age ?a]]",
        &[db(&p.db)],
    );
    assert_eq!(kept.to_string(), "121");
    let bag = q(
        "[:find ?a :with ?e :where [?e :person/age ?a]]",
        &[db(&p.db)],
    );
    assert_eq!(bag.len(), 4);
    assert_eq!(bag.to_string().matches("25").count(), 2);
}

#[test]
fn aggregates() {
    let p = people();
    let one = |agg: &str| {
        q(
            &format!("[:find {agg} . :with ?e :where [?e :person/age ?a]]"),
            &[db(&p.db)],
        )
        .to_string()
    };
    assert_eq!(one("(count ?a)"), "4");
    assert_eq!(one("(count-distinct ?a)"), "3");
    assert_eq!(one("(sum ?a)"), "121");
    assert_eq!(one("(avg ?a)"), "30.25");
    assert_eq!(one("(min ?a)"), "25");
    assert_eq!(one("(max ?a)"), "41");
    assert_eq!(one("(median ?a)"), "27.5");
    assert_eq!(one("(variance ?a)"), "42.6875");
    assert_eq!(one("(stddev ?a)"), 42.6875f64.sqrt().to_string());
    assert_eq!(one("(distinct ?a)"), "#{25 30 41}");
    assert_eq!(one("(min 2 ?a)"), "[25 25]");
    assert_eq!(one("(max 2 ?a)"), "[41 30]");
    let rand = one("(rand ?a)");
    assert!(["25", "30", "41"].contains(&rand.as_str()), "{rand}");
    let sample = q(
        "[:find (sample 2 ?a) . :with ?e :where [?e :person/age ?a]]",
        &[db(&p.db)],
    );
    let Some(Found::List(chosen)) = sample.scalar() else {
        panic!("{sample}")
    };
    assert_eq!(chosen.len(), 2);
    assert_ne!(chosen[0], chosen[1]);
    let grouped = q(
        "[:find ?a (count ?e) :where [?e :person/age ?a]]",
        &[db(&p.db)],
    );
    assert_eq!(
        rows(&grouped),
        vec![
            vec![Edn::Long(25), Edn::Long(2)],
            vec![Edn::Long(30), Edn::Long(1)],
            vec![Edn::Long(41), Edn::Long(1)],
        ]
    );
    let heights = q(
        "[:find (sum ?h) . :where [_ :person/height ?h]]",
        &[db(&p.db)],
    );
    assert!(
        matches!(heights.scalar().unwrap().as_value(), Some(Value::Double(h)) if (h - 5.1).abs() < 1e-9)
    );
    let mixed = q(
        "[:find (max ?n) (min ?n) :where [_ :person/name ?n]]",
        &[db(&p.db)],
    );
    assert_eq!(mixed.to_string(), r#"[["Dan" "Ann"]]"#);
}

#[test]
fn registered_aggregates() {
    let p = people();
    let mut options = Options::default();
    options.functions.aggregate("longest", |_, values| {
        values
            .iter()
            .filter_map(|v| v.as_str())
            .max_by_key(|s| s.len())
            .map(Value::string)
            .ok_or_else(|| "no strings".to_string())
    });
    let found = query::q_with(
        "[:find (longest ?l) . :where [_ :person/likes ?l]]",
        &[db(&p.db)],
        &options,
    )
    .unwrap();
    assert_eq!(found.to_string(), "\"chess\"");
}

#[test]
fn scalar_tuple_collection_and_relation_inputs() {
    let p = people();
    let tuple = q(
        "[:find ?e :in $ [?n ?a] :where [?e :person/name ?n] [?e :person/age ?a]]",
        &[db(&p.db), Input::Coll(vec![s("Bob"), Value::Long(25)])],
    );
    assert_eq!(ids(&tuple), [p.bob].into());
    let relation = q(
        "[:find ?e :in $ [[?n ?a]] :where [?e :person/name ?n] [?e :person/age ?a]]",
        &[
            db(&p.db),
            Input::Rel(vec![
                vec![s("Bob"), Value::Long(25)],
                vec![s("Cat"), Value::Long(41)],
                vec![s("Dan"), Value::Long(99)],
            ]),
        ],
    );
    assert_eq!(ids(&relation), [p.bob, p.cat].into());
    let blank = q(
        "[:find ?n :in $ [[?n _]] :where [_ :person/name ?n]]",
        &[db(&p.db), Input::Edn(edn(r#"[["Ann" 1] ["Zed" 2]]"#))],
    );
    assert_eq!(strings(&blank), ["Ann"]);
    let set = q(
        "[:find ?e :in $ [?n ...] :where [?e :person/name ?n]]",
        &[db(&p.db), Input::Edn(edn(r#"#{"Ann" "Dan"}"#))],
    );
    assert_eq!(ids(&set), [p.ann, p.dan].into());
    let empty = q(
        "[:find ?e :in $ [?n ...] :where [?e :person/name ?n]]",
        &[db(&p.db), Input::Coll(vec![])],
    );
    assert!(empty.is_empty());
    // An input variable not used by any clause is still part of the result.
    let passthrough = q(
        "[:find ?x ?n :in $ ?x :where [_ :person/name ?n]]",
        &[db(&p.db), val(7)],
    );
    assert_eq!(passthrough.len(), 4);
}

#[test]
fn lookup_refs_and_idents_as_constants() {
    let p = people();
    let age = q(
        "[:find ?a . :where [[:person/name \"Cat\"] :person/age ?a]]",
        &[db(&p.db)],
    );
    assert_eq!(age.to_string(), "41");
    let friend_of_ann = q(
        "[:find [?n ...] :where [?e :person/friend [:person/name \"Cat\"]] [?e :person/name ?n]]",
        &[db(&p.db)],
    );
    assert_eq!(strings(&friend_of_ann), ["Ann", "Bob"]);
    let admins = q(
        "[:find ?n :where [?e :person/role :role/admin] [?e :person/name ?n]]",
        &[db(&p.db)],
    );
    assert_eq!(strings(&admins), ["Ann"]);
    let by_input = q(
        "[:find ?a . :in $ ?e :where [?e :person/age ?a]]",
        &[db(&p.db), Input::Edn(edn("[:person/name \"Bob\"]"))],
    );
    assert_eq!(by_input.to_string(), "25");
    let missing = q(
        "[:find ?a :where [[:person/name \"Zed\"] :person/age ?a]]",
        &[db(&p.db)],
    );
    assert!(missing.is_empty());
}

#[test]
fn several_databases_in_one_query() {
    let p = people();
    let later = tx(
        &p.db,
        r#"[{:db/id [:person/name "Bob"] :person/age 26} {:person/name "Eve" :person/age 22}]"#,
    )
    .db_after;
    // Who changed age between the two values?
    let changed = q(
        "[:find ?n ?before ?after :in $old $new
          :where [$old ?e :person/age ?before] [$new ?e :person/age ?after] [(!= ?before ?after)]
                 [$new ?e :person/name ?n]]",
        &[db(&p.db), db(&later)],
    );
    assert_eq!(changed.to_string(), r#"#{["Bob" 25 26]}"#);
    // Who is new?
    let new = q(
        "[:find ?n :in $old $new :where [$new ?e :person/name ?n] (not [$old ?e :person/name])]",
        &[db(&p.db), db(&later)],
    );
    assert_eq!(strings(&new), ["Eve"]);
    // A database joined with a plain collection.
    let nicknames = q(
        "[:find ?nick ?a :in $ $nicks :where [$nicks ?n ?nick] [?e :person/name ?n] [?e :person/age ?a]]",
        &[
            db(&p.db),
            Input::Edn(edn(r#"[["Ann" "Annie"] ["Cat" "Kitty"] ["Zed" "Z"]]"#)),
        ],
    );
    assert_eq!(nicknames.to_string(), r#"#{["Annie" 30] ["Kitty" 41]}"#);
}

#[test]
fn transaction_data_as_a_source() {
    let p = people();
    let report = tx(&p.db, r#"[[:db/add [:person/name "Dan"] :person/age 26]]"#);
    let age =
        p.db.attribute_named(&model::edn::Keyword::new(":person/age"))
            .unwrap()
            .id;
    let found = q(
        "[:find ?e ?v ?added :in $ ?a :where [?e ?a ?v _ ?added]]",
        &[Input::datoms(&report.tx_data), val(Value::Ref(age))],
    );
    assert_eq!(
        rows(&found),
        vec![
            vec![Edn::Long(p.dan as i64), Edn::Long(25), Edn::Boolean(false)],
            vec![Edn::Long(p.dan as i64), Edn::Long(26), Edn::Boolean(true)],
        ]
    );
}

#[test]
fn pull_in_find() {
    let p = people();
    let found = q(
        "[:find (pull ?e [:person/name {:person/friend [:person/name]}]) :in $ ?n :where [?e :person/name ?n]]",
        &[db(&p.db), val("Ann")],
    );
    assert_eq!(
        found.to_string(),
        r#"#{[{:person/friend [{:person/name "Bob"} {:person/name "Cat"}], :person/name "Ann"}]}"#
    );
    let by_input = q(
        "[:find [(pull $ ?e ?pattern) ...] :in $ ?pattern :where [?e :person/age 25]]",
        &[
            db(&p.db),
            Input::Edn(edn("[:person/name [:person/role :default :none]]")),
        ],
    );
    let mut printed: Vec<String> = by_input.column(0).iter().map(|f| f.to_string()).collect();
    printed.sort();
    assert_eq!(
        printed,
        [
            r#"{:person/name "Bob", :person/role :none}"#,
            r#"{:person/name "Dan", :person/role :none}"#
        ]
    );
    let grouped = q(
        "[:find (pull ?e [:person/name]) (count ?f) :where [?e :person/friend ?f]]",
        &[db(&p.db)],
    );
    assert_eq!(rows(&grouped).len(), 3);
}

#[test]
fn user_functions_and_predicates() {
    let p = people();
    let mut functions = Functions::new();
    functions.predicate(
        "adult?",
        |args| matches!(args, [Value::Long(n)] if *n >= 30),
    );
    functions.function("initial", |args| match args {
        [Value::String(s)] => Ok(s.chars().next().map(|c| Value::string(&c.to_string()))),
        _ => Err("initial takes a string".into()),
    });
    functions.function("my/split", |args| match args {
        [Value::String(s)] => Ok(Some(Value::Tuple(
            s.chars()
                .map(|c| Some(Value::string(&c.to_string())))
                .collect(),
        ))),
        _ => Err("split takes a string".into()),
    });
    let options = Options {
        functions,
        ..Options::default()
    };
    let adults = query::q_with(
        "[:find ?i :where [?e :person/age ?a] [(adult? ?a)] [?e :person/name ?n] [(initial ?n) ?i]]",
        &[db(&p.db)],
        &options,
    )
    .unwrap();
    assert_eq!(adults.to_string(), r#"#{["A"] ["C"]}"#);
    let letters = query::q_with(
        "[:find [?c ...] :where [_ :person/name \"Ann\"] [(my/split \"Ann\") [?c ...]]]",
        &[db(&p.db)],
        &options,
    )
    .unwrap();
    assert_eq!(strings(&letters), ["A", "n"]);
    let failing = query::q_with(
        "[:find ?i :where [?e :person/age ?a] [(initial ?a) ?i]]",
        &[db(&p.db)],
        &options,
    )
    .unwrap_err();
    assert_eq!(failing.kind(), query::ErrorKind::Function);
    assert!(
        failing.to_string().contains("initial takes a string"),
        "{failing}"
    );
    assert!(failing.at().contains("(initial ?a)"), "{failing}");
}

#[test]
fn a_timeout_stops_a_runaway_query() {
    let options = Options {
        timeout: Some(std::time::Duration::from_millis(50)),
        ..Options::default()
    };
    // Counting up forever: every round derives a new number.
    let rules = Input::Edn(edn(
        "[[(nat ?n) [(ground 0) ?n]] [(nat ?n) (nat ?m) [(inc ?m) ?n]]]",
    ));
    let started = std::time::Instant::now();
    let err = query::q_with("[:find ?n :in % :where (nat ?n)]", &[rules], &options).unwrap_err();
    assert_eq!(err.kind(), query::ErrorKind::Timeout);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

/// Two 100k-value collections found together: a cross product of 10^10
/// rows, built inside one join. Each limit stops it within milliseconds of
/// tripping, with its own error and no partial answer.
#[test]
fn limits_stop_a_cross_product_inside_the_join() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};
    let column = |offset: i64| Input::Coll((0..100_000).map(|n| Value::Long(n + offset)).collect());
    let query = "[:find ?a ?b :in [?a ...] [?b ...]]";
    let run = |options: &Options| {
        let started = Instant::now();
        let err = query::q_with(query, &[column(0), column(1_000_000)], options).unwrap_err();
        (err, started.elapsed())
    };

    let (err, took) = run(&Options {
        timeout: Some(Duration::from_millis(200)),
        ..Options::default()
    });
    assert_eq!(err.kind(), query::ErrorKind::Timeout, "{err}");
    assert!(took < Duration::from_secs(3), "stopped after {took:?}");

    let (err, _) = run(&Options {
        max_rows: Some(50_000),
        ..Options::default()
    });
    assert_eq!(err.kind(), query::ErrorKind::TooLarge, "{err}");
    assert!(err.to_string().contains("50000 rows"), "{err}");
    assert!(err.is_invalid_input());

    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        flag.store(true, Ordering::Relaxed);
    });
    let (err, took) = run(&Options {
        cancel: Some(cancel),
        ..Options::default()
    });
    canceller.join().unwrap();
    assert_eq!(err.kind(), query::ErrorKind::Cancelled, "{err}");
    assert!(!err.is_invalid_input());
    assert!(took < Duration::from_secs(3), "stopped after {took:?}");

    // The limits end with the query: the next one on this thread answers.
    let small = query::q(
        "[:find ?a ?b :in [?a ...] [?b ...]]",
        &[val_coll(3), val_coll(2)],
    )
    .unwrap();
    assert_eq!(small.len(), 6);
}

fn val_coll(n: i64) -> Input {
    Input::Coll((0..n).map(Value::Long).collect())
}
