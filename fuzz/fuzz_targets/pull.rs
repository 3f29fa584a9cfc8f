//! Pull patterns on any text: the parser never panics, and every pattern it
//! accepts pulls each fixture entity (by id and by ident, and ids that are not entities), from the
//! current database and its history, without panicking.
#![no_main]

use accrete_fuzz::fixture::fixture;
use libfuzzer_sys::fuzz_target;
use model::Value;
use model::edn::Edn;
use query::PullPattern;

fuzz_target!(|data: &[u8]| {
    let Some(text) = accrete_fuzz::text(data) else {
        return;
    };
    let Ok(pattern) = PullPattern::parse(text) else {
        return;
    };
    let again = PullPattern::parse(&pattern.to_string())
        .unwrap_or_else(|e| panic!("pattern {text:?} printed as {pattern} does not parse: {e}"));
    assert_eq!(again.to_string(), pattern.to_string());
    let f = fixture();
    let mut entities: Vec<Value> = f.people.iter().map(|&e| Value::Ref(e)).collect();
    entities.push(Value::keyword(":p/name"));
    entities.push(Value::Long(0));
    let _ = query::pull(&f.db, &pattern, &Value::Ref(f.people[0]));
    let _ = query::pull_many(&f.db, &pattern, &entities);
    let _ = query::pull_many(&f.db.history(), &pattern, &entities);
    if let Ok(q) = query::Query::parse(&format!(
        "[:find (pull ?e {pattern}) :in $ ?n :where [?e :p/name ?n]]"
    )) {
        let _ = query::q(
            &q,
            &[
                query::Input::Db(f.db.clone()),
                query::Input::Edn(Edn::string("bob")),
            ],
        );
    }
});
