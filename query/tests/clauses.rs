//! `:where` clauses: patterns of five positions, predicates, function
//! bindings, database functions, not/not-join, or/or-join, and rules.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use model::Value;
use model::edn::Edn;
use query::Input;

#[test]
fn comparisons_and_arithmetic() {
    let p = people();
    let older = q(
        "[:find ?n1 ?n2 :where [?a :person/age ?x] [?b :person/age ?y] [(< ?x ?y)] [(- ?y ?x) ?d] [(> ?d 10)]
                             [?a :person/name ?n1] [?b :person/name ?n2]]",
        &[db(&p.db)],
    );
    assert_eq!(
        older.to_string(),
        r#"#{["Ann" "Cat"] ["Bob" "Cat"] ["Dan" "Cat"]}"#
    );
    let same_age = q(
        "[:find ?n1 ?n2 :where [?a :person/age ?x] [?b :person/age ?x] [(!= ?a ?b)] [?a :person/name ?n1] [?b :person/name ?n2] [(< ?n1 ?n2)]]",
        &[db(&p.db)],
    );
    assert_eq!(same_age.to_string(), r#"#{["Bob" "Dan"]}"#);
    let tall = q(
        "[:find [?n ...] :where [?e :person/height ?h] [(>= ?h 1.7)] [?e :person/name ?n]]",
        &[db(&p.db)],
    );
    assert_eq!(strings(&tall), ["Ann", "Bob"]);
    let even = q(
        "[:find [?n ...] :where [?e :person/age ?a] [(even? ?a)] [?e :person/name ?n]]",
        &[db(&p.db)],
    );
    assert_eq!(strings(&even), ["Ann"]);
}

#[test]
fn function_binding_forms() {
    let p = people();
    let scalar = q(
        "[:find ?s . :where [_ :person/name \"Ann\"] [(str \"Hello, \" \"Ann\") ?s]]",
        &[db(&p.db)],
    );
    assert_eq!(scalar.to_string(), "\"Hello, Ann\"");
    let tuple = q("[:find ?a ?b :where [(ground [1 2]) [?a ?b]]]", &[]);
    assert_eq!(tuple.to_string(), "#{[1 2]}");
    let coll = q("[:find ?x :where [(ground [1 2 3]) [?x ...]]]", &[]);
    assert_eq!(coll.to_string(), "#{[1] [2] [3]}");
    let rel = q(
        "[:find ?k ?v :where [(ground [[:a 1] [:b 2]]) [[?k ?v]]]]",
        &[],
    );
    assert_eq!(rel.to_string(), "#{[:a 1] [:b 2]}");
    let round_trip = q(
        "[:find ?x ?y :where [(ground 1) ?a] [(ground 2) ?b] [(tuple ?a ?b) ?t] [(untuple ?t) [?x ?y]]]",
        &[],
    );
    assert_eq!(round_trip.to_string(), "#{[1 2]}");
    // A function whose output is already bound must agree with it.
    let agree = q(
        "[:find ?x :where [(ground [1 2 3]) [?x ...]] [(* ?x 1) ?x]]",
        &[],
    );
    assert_eq!(agree.len(), 3);
    let disagree = q(
        "[:find ?x :where [(ground [1 2 3]) [?x ...]] [(+ ?x 1) ?x]]",
        &[],
    );
    assert!(disagree.is_empty());
    let regex = q(
        "[:find [?d ...] :where [_ :person/name ?n] [(re-find \"^[AB]\" ?n) ?d]]",
        &[db(&p.db)],
    );
    assert_eq!(strings(&regex), ["A", "B"]);
    let strings_fns = q(
        "[:find [?u ...] :where [_ :person/name ?n] [(clojure.string/starts-with? ?n \"C\")] [(clojure.string/upper-case ?n) ?u]]",
        &[db(&p.db)],
    );
    assert_eq!(strings(&strings_fns), ["CAT"]);
}

#[test]
fn missing_get_else_and_get_some() {
    let p = people();
    let no_role = q(
        "[:find [?n ...] :where [?e :person/name ?n] [(missing? $ ?e :person/role)]]",
        &[db(&p.db)],
    );
    assert_eq!(strings(&no_role), ["Bob", "Dan"]);
    let roles = q(
        "[:find ?n ?r :where [?e :person/name ?n] [(get-else $ ?e :person/role :none) ?r]]",
        &[db(&p.db)],
    );
    assert_eq!(roles.len(), 4);
    assert!(roles.to_string().contains(r#"["Dan" :none]"#), "{roles}");
    let some = q(
        "[:find ?n ?v :where [?e :person/name ?n] [(get-some $ ?e :person/role :person/age) [_ ?v]]]",
        &[db(&p.db)],
    );
    assert!(some.to_string().contains(r#"["Bob" 25]"#), "{some}");
    let many = query::q(
        "[:find ?v :where [?e :person/name] [(get-else $ ?e :person/likes \"x\") ?v]]",
        &[db(&p.db)],
    )
    .unwrap_err();
    assert_eq!(many.kind(), query::ErrorKind::Function);
}

#[test]
fn five_position_patterns() {
    let p = people();
    let report = tx(
        &p.db,
        r#"[[:db/retract [:person/name "Ann"] :person/likes "chess"]]"#,
    );
    let hist = report.db_after.history();
    let ops = q(
        "[:find ?v ?op :in $ ?e :where [?e :person/likes ?v _ ?op]]",
        &[db(&hist), val(Value::Ref(p.ann))],
    );
    assert_eq!(
        ops.to_string(),
        r#"#{["chess" false] ["chess" true] ["tea" true]}"#
    );
    let retracted = q(
        "[:find ?v ?tx :in $ ?e :where [?e :person/likes ?v ?tx false]]",
        &[db(&hist), val(Value::Ref(p.ann))],
    );
    assert_eq!(
        rows(&retracted),
        vec![vec![Edn::string("chess"), Edn::Long(report.tx() as i64)]]
    );
    let by_tx = q(
        "[:find ?e ?a :in $ ?tx :where [?e ?a _ ?tx]]",
        &[db(&hist), val(Value::Ref(report.tx()))],
    );
    assert_eq!(by_tx.len(), 2, "{by_tx}"); // the retraction and :db/txInstant
}

#[test]
fn not_and_not_join() {
    let p = people();
    let friendless = q(
        "[:find [?n ...] :where [?e :person/name ?n] (not [?e :person/friend _])]",
        &[db(&p.db)],
    );
    assert_eq!(strings(&friendless), ["Dan"]);
    let no_tea = q(
        "[:find [?n ...] :where [?e :person/name ?n] (not [?e :person/likes \"tea\"] [?e :person/age 30])]",
        &[db(&p.db)],
    );
    assert_eq!(strings(&no_tea), ["Bob", "Cat", "Dan"]);
    // Nobody 25 is a friend of this person.
    let not_join = q(
        "[:find [?n ...] :where [?e :person/name ?n]
           (not-join [?e] [?e :person/friend ?f] [?f :person/age 25])]",
        &[db(&p.db)],
    );
    assert_eq!(strings(&not_join), ["Bob", "Dan"]);
}

#[test]
fn or_and_or_join() {
    let p = people();
    let either = q(
        "[:find [?n ...] :where [?e :person/name ?n] (or [?e :person/age 41] [?e :person/likes \"chess\"])]",
        &[db(&p.db)],
    );
    assert_eq!(strings(&either), ["Ann", "Cat"]);
    let with_and = q(
        "[:find [?n ...] :where [?e :person/name ?n]
           (or (and [?e :person/age 25] [?e :person/likes \"tea\"]) [?e :person/role :role/guest])]",
        &[db(&p.db)],
    );
    assert_eq!(strings(&with_and), ["Bob", "Cat"]);
    let or_join = q(
        "[:find [?n ...] :where [?e :person/name ?n]
           (or-join [?e] (and [?e :person/friend ?f] [?f :person/age 41]) [?e :person/age 41])]",
        &[db(&p.db)],
    );
    assert_eq!(strings(&or_join), ["Ann", "Bob", "Cat"]);
    let required = q(
        "[:find [?n ...] :in $ ?e :where (or-join [[?e] ?n] (and [?e :person/friend ?f] [?f :person/name ?n]))]",
        &[db(&p.db), val(Value::Ref(p.ann))],
    );
    assert_eq!(strings(&required), ["Bob", "Cat"]);
    // An or that binds new variables in every branch.
    let binding = q(
        "[:find ?e ?x :where (or [?e :person/age ?x] [?e :person/height ?x]) [?e :person/name \"Dan\"]]",
        &[db(&p.db)],
    );
    assert_eq!(binding.len(), 1);
}

const FRIEND_RULES: &str = r#"[
 [(friends ?a ?b) [?a :person/friend ?b]]
 [(friends ?a ?b) [?b :person/friend ?a]]
 [(reach ?a ?b) [?a :person/friend ?b]]
 [(reach ?a ?b) [?a :person/friend ?c] (reach ?c ?b)]
 [(reach-left ?a ?b) [?a :person/friend ?b]]
 [(reach-left ?a ?b) (reach-left ?a ?c) [?c :person/friend ?b]]
 [(named-reach [?a] ?name) (reach ?a ?b) [?b :person/name ?name]]
]"#;

fn rules() -> Input {
    Input::Edn(edn(FRIEND_RULES))
}

#[test]
fn non_recursive_rules_are_alternatives() {
    let p = people();
    let found = q(
        "[:find [?n ...] :in $ % :where [?c :person/name \"Cat\"] (friends ?c ?f) [?f :person/name ?n]]",
        &[db(&p.db), rules()],
    );
    assert_eq!(strings(&found), ["Ann", "Bob", "Dan"]);
}

#[test]
fn recursive_rules_both_ways_and_unbound() {
    let p = people();
    for rule in ["reach", "reach-left"] {
        let from_ann = q(
            &format!(
                "[:find [?n ...] :in $ % :where [?a :person/name \"Ann\"] ({rule} ?a ?b) [?b :person/name ?n]]"
            ),
            &[db(&p.db), rules()],
        );
        assert_eq!(strings(&from_ann), ["Bob", "Cat", "Dan"], "{rule}");
        let to_dan = q(
            &format!(
                "[:find [?n ...] :in $ % :where [?d :person/name \"Dan\"] ({rule} ?a ?d) [?a :person/name ?n]]"
            ),
            &[db(&p.db), rules()],
        );
        assert_eq!(strings(&to_dan), ["Ann", "Bob", "Cat"], "{rule}");
        let all = q(
            &format!("[:find ?a ?b :in $ % :where ({rule} ?a ?b)]"),
            &[db(&p.db), rules()],
        );
        assert_eq!(all.len(), 3 + 2 + 1, "{rule}");
    }
    let required = q(
        "[:find [?n ...] :in $ % ?a :where (named-reach ?a ?n)]",
        &[db(&p.db), rules(), val(Value::Ref(p.bob))],
    );
    assert_eq!(strings(&required), ["Cat", "Dan"]);
}

#[test]
fn recursion_over_a_cycle_terminates() {
    let p = people();
    let cyclic = tx(
        &p.db,
        &format!("[[:db/add {} :person/friend {}]]", p.dan, p.ann),
    )
    .db_after;
    let found = q(
        "[:find (count ?b) . :in $ % ?a :where (reach ?a ?b)]",
        &[db(&cyclic), rules(), val(Value::Ref(p.ann))],
    );
    assert_eq!(found.to_string(), "4");
}

#[test]
fn rules_with_a_source_and_negation() {
    let p = people();
    let later = tx(
        &p.db,
        &format!("[[:db/retract {} :person/friend {}]]", p.cat, p.dan),
    )
    .db_after;
    let lost = q(
        "[:find [?n ...] :in $old $new % ?a
          :where ($old reach ?a ?b) (not ($new reach ?a ?b)) [$old ?b :person/name ?n]]",
        &[db(&p.db), db(&later), rules(), val(Value::Ref(p.ann))],
    );
    assert_eq!(strings(&lost), ["Dan"]);
    let stratified = query::Rules::parse(
        "[[(lonely ?p) [?p :person/name] (not (liked ?p))] [(liked ?p) [_ :person/friend ?p]]]",
    )
    .unwrap();
    let lonely = q(
        "[:find [?n ...] :in $ % :where (lonely ?p) [?p :person/name ?n]]",
        &[db(&p.db), Input::Rules(std::sync::Arc::new(stratified))],
    );
    assert_eq!(strings(&lonely), ["Ann"]);
}
