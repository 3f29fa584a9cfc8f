//! The Datalog query parser and validator on any text, and every query
//! they accept run against the fixture database with inputs shaped after
//! its `:in` (databases, rules, scalars, collections, tuples, relations)
//! under a 20 ms timeout, so that slow plans end with an error rather than
//! stall the fuzzer. Nothing panics; a query that parses prints as text
//! that parses again to the same text.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use accrete_fuzz::fixture::fixture;
use libfuzzer_sys::fuzz_target;
use model::Value;
use model::edn::{self, Edn};
use query::{Input, Options, Query};

const RULES: &str = r#"[[(knows ?a ?b) [?a :p/friend ?b]]
                        [(knows ?a ?b) [?a :p/friend ?c] (knows ?c ?b)]
                        [(named ?e ?n) [?e :p/name ?n]]]"#;

fn rules() -> &'static Edn {
    static RULES_EDN: OnceLock<Edn> = OnceLock::new();
    RULES_EDN.get_or_init(|| edn::parse(RULES).unwrap_or_else(|e| panic!("fixture rules: {e}")))
}

/// The entries of the query's `:in`, in vector or map form.
fn in_section(query: &Edn) -> Vec<Edn> {
    match query {
        Edn::Map(map) => map
            .get(&Edn::keyword("in"))
            .and_then(|v| v.as_sequence())
            .map(<[Edn]>::to_vec)
            .unwrap_or_default(),
        Edn::Vector(items) => items
            .iter()
            .skip_while(|i| i.as_keyword().is_none_or(|k| k.as_str() != "in"))
            .skip(1)
            .take_while(|i| i.as_keyword().is_none())
            .cloned()
            .collect(),
        _ => Vec::new(),
    }
}

fn scalar(i: usize) -> Value {
    let f = fixture();
    match i % 4 {
        0 => Value::string("ann"),
        1 => Value::Long(42),
        2 => Value::Ref(f.people[i % 3]),
        _ => Value::keyword(":p/name"),
    }
}

/// An input fit for one `:in` entry.
fn input(spec: &Edn, i: usize) -> Input {
    let f = fixture();
    match spec {
        Edn::Symbol(s) if s.as_str().starts_with('$') => match i % 3 {
            2 => Input::Rel(vec![vec![scalar(0), scalar(1)], vec![scalar(2), scalar(3)]]),
            _ => Input::Db(f.db.clone()),
        },
        Edn::Symbol(s) if s.as_str() == "%" => Input::Edn(rules().clone()),
        Edn::Vector(items) => match items.as_slice() {
            [Edn::Vector(inner)] => Input::Rel(
                (0..3)
                    .map(|row| (0..inner.len()).map(|c| scalar(row + c)).collect())
                    .collect(),
            ),
            [_, Edn::Symbol(s)] if s.as_str() == "..." => Input::Coll((0..3).map(scalar).collect()),
            tuple => Input::Coll((0..tuple.len()).map(scalar).collect()),
        },
        _ => Input::Value(scalar(i)),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(text) = accrete_fuzz::text(data) else {
        return;
    };
    let Ok(parsed) = Query::parse(text) else {
        return;
    };
    let printed = parsed.to_string();
    let again = Query::parse(&printed)
        .unwrap_or_else(|e| panic!("query {text:?} printed as {printed:?} does not parse: {e}"));
    assert_eq!(again.to_string(), printed, "printing a query is not stable");
    let Ok(edn) = edn::parse(text) else {
        return;
    };
    let inputs: Vec<Input> = in_section(&edn)
        .iter()
        .enumerate()
        .map(|(i, spec)| input(spec, i))
        .collect();
    let options = Options {
        timeout: Some(Duration::from_millis(20)),
        ..Options::default()
    };
    let _ = query::q_with(&parsed, &inputs, &options);
    if inputs.is_empty() {
        let _ = query::q_with(&parsed, &[Input::Db(fixture().db.clone())], &options);
    }
});
