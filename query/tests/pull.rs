//! `pull` and `pull_many`: nested patterns, wildcards, reverse references,
//! components, `:limit`, `:default`, `:as`, and recursion limits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use model::Value;
use model::edn::Edn;
use query::{PullPattern, pull, pull_many};

fn pulled(db: &model::Db, pattern: &str, e: u64) -> String {
    pull(db, &PullPattern::parse(pattern).unwrap(), &Value::Ref(e))
        .unwrap()
        .to_string()
}

#[test]
fn attributes_nested_patterns_and_ids() {
    let p = people();
    assert_eq!(
        pulled(&p.db, "[:person/name :person/age]", p.bob),
        r#"{:person/age 25, :person/name "Bob"}"#
    );
    assert_eq!(
        pulled(&p.db, "[:db/id :person/name]", p.bob),
        format!(r#"{{:db/id {}, :person/name "Bob"}}"#, p.bob)
    );
    assert_eq!(
        pulled(
            &p.db,
            "[:person/name {:person/friend [:person/name {:person/friend [:person/age]}]}]",
            p.ann
        ),
        r#"{:person/friend [{:person/friend [{:person/age 41}], :person/name "Bob"} {:person/friend [{:person/age 25}], :person/name "Cat"}], :person/name "Ann"}"#
    );
    // A reference without a nested pattern is its id.
    assert_eq!(
        pulled(&p.db, "[:person/role]", p.cat),
        format!("{{:person/role {{:db/id {}}}}}", role(&p, ":role/guest"))
    );
    // Missing attributes are left out; an entity with none of them is empty.
    assert_eq!(
        pulled(&p.db, "[:person/role :person/name]", p.dan),
        r#"{:person/name "Dan"}"#
    );
    assert_eq!(pulled(&p.db, "[:person/role]", p.dan), "{}");
}

fn role(p: &People, ident: &str) -> u64 {
    p.db.schema()
        .entid(&model::edn::Keyword::new(ident))
        .unwrap()
}

#[test]
fn wildcard_and_overrides() {
    let p = people();
    let all = pull(
        &p.db,
        &PullPattern::parse("[*]").unwrap(),
        &Value::Ref(p.bob),
    )
    .unwrap();
    let keys: Vec<String> = all.iter().map(|(k, _)| k.to_string()).collect();
    assert_eq!(
        keys,
        [
            ":db/id",
            ":person/age",
            ":person/friend",
            ":person/height",
            ":person/likes",
            ":person/name"
        ]
    );
    assert_eq!(all.get(":person/likes").unwrap().to_string(), r#"["tea"]"#);
    let overridden = pulled(&p.db, "[* {:person/friend [:person/name]}]", p.bob);
    assert!(
        overridden.contains(r#":person/friend [{:person/name "Cat"}]"#),
        "{overridden}"
    );
}

#[test]
fn reverse_references() {
    let p = people();
    assert_eq!(
        pulled(
            &p.db,
            "[:person/name {:person/_friend [:person/name]}]",
            p.cat
        ),
        r#"{:person/_friend [{:person/name "Ann"} {:person/name "Bob"}], :person/name "Cat"}"#
    );
    assert_eq!(pulled(&p.db, "[:person/_friend]", p.ann), "{}");
}

#[test]
fn options_limit_default_as() {
    let p = people();
    assert_eq!(
        pulled(&p.db, "[[:person/friend :limit 1]]", p.ann)
            .matches(":db/id")
            .count(),
        1
    );
    assert_eq!(
        pulled(&p.db, "[(limit :person/friend 1)]", p.ann)
            .matches(":db/id")
            .count(),
        1
    );
    assert_eq!(
        pulled(&p.db, "[[:person/friend :limit nil]]", p.ann)
            .matches(":db/id")
            .count(),
        2
    );
    assert_eq!(
        pulled(&p.db, "[[:person/role :default :role/none]]", p.dan),
        "{:person/role :role/none}"
    );
    assert_eq!(
        pulled(&p.db, "[(default :person/age 0)]", p.dan),
        "{:person/age 25}"
    );
    assert_eq!(
        pulled(
            &p.db,
            r#"[[:person/name :as "name"] {[:person/friend :as :pals :limit 1] [[:person/name :as :n]]}]"#,
            p.ann
        ),
        r#"{"name" "Ann", :pals [{:n "Bob"}]}"#
    );
}

#[test]
fn the_default_limit_is_a_thousand() {
    let db = tx(
        &model::Db::new(),
        r#"[{:db/ident :n/xs :db/valueType :db.type/long :db/cardinality :db.cardinality/many}]"#,
    )
    .db_after;
    let xs: Vec<String> = (0..1200).map(|i| i.to_string()).collect();
    let r = tx(
        &db,
        &format!(r#"[{{:db/id "e" :n/xs [{}]}}]"#, xs.join(" ")),
    );
    let e = r.tempid("e").unwrap();
    let count = |pattern: &str| {
        pull(
            &r.db_after,
            &PullPattern::parse(pattern).unwrap(),
            &Value::Ref(e),
        )
        .unwrap()
        .get(":n/xs")
        .unwrap()
        .as_many()
        .unwrap()
        .len()
    };
    assert_eq!(count("[:n/xs]"), query::DEFAULT_LIMIT);
    assert_eq!(count("[[:n/xs :limit nil]]"), 1200);
    assert_eq!(count("[[:n/xs :limit 5]]"), 5);
}

#[test]
fn recursion_by_depth_and_until_a_cycle() {
    let p = people();
    let depth1 = pulled(&p.db, "[:person/name {:person/friend 1}]", p.ann);
    assert_eq!(
        depth1,
        r#"{:person/friend [{:person/name "Bob"} {:person/name "Cat"}], :person/name "Ann"}"#
    );
    let depth2 = pulled(&p.db, "[:person/name {:person/friend 2}]", p.bob);
    assert_eq!(
        depth2,
        r#"{:person/friend [{:person/friend [{:person/name "Dan"}], :person/name "Cat"}], :person/name "Bob"}"#
    );
    let unbounded = pulled(&p.db, "[:person/name {:person/friend ...}]", p.bob);
    assert_eq!(
        unbounded,
        r#"{:person/friend [{:person/friend [{:person/name "Dan"}], :person/name "Cat"}], :person/name "Bob"}"#
    );
    // A cycle stops at an entity already on the path: it appears as its id.
    let cyclic = tx(
        &p.db,
        &format!("[[:db/add {} :person/friend {}]]", p.dan, p.bob),
    )
    .db_after;
    let around = pulled(&cyclic, "[:person/name {:person/friend ...}]", p.bob);
    assert_eq!(
        around,
        format!(
            r#"{{:person/friend [{{:person/friend [{{:person/friend [{{:db/id {}}}], :person/name "Dan"}}], :person/name "Cat"}}], :person/name "Bob"}}"#,
            p.bob
        )
    );
}

#[test]
fn components_are_pulled_whole_and_their_reverse_is_single() {
    let s = social();
    let story = s.stories[0];
    let whole = pull(
        &s.db,
        &PullPattern::parse("[:story/title :comments]").unwrap(),
        &Value::Ref(story),
    )
    .unwrap();
    let comments = whole.get(":comments").unwrap().as_many().unwrap();
    assert_eq!(comments.len(), 3);
    for c in comments {
        let c = c.as_map().unwrap();
        assert!(
            c.get(":comment/body").is_some(),
            "components are pulled whole: {c}"
        );
        // The author is not a component: only its id.
        assert_eq!(c.get(":comment/author").unwrap().as_map().unwrap().len(), 1);
    }
    // Nested components (replies) are pulled too.
    assert!(
        whole.to_string().matches(":comment/body").count() > 3,
        "{whole}"
    );
    let reply = *s.stu_comments.iter().max().unwrap();
    let parent = pull(
        &s.db,
        &PullPattern::parse("[{:_comments [:db/id]}]").unwrap(),
        &Value::Ref(reply),
    )
    .unwrap();
    assert!(
        parent.get(":_comments").unwrap().as_map().is_some(),
        "{parent}"
    );
}

#[test]
fn pull_many_and_entity_references() {
    let p = people();
    let pattern = PullPattern::parse("[:person/name]").unwrap();
    let many = pull_many(
        &p.db,
        &pattern,
        &[
            Value::Ref(p.ann),
            Value::Long(p.cat as i64),
            Value::Tuple(
                vec![
                    Some(Value::keyword(":person/name")),
                    Some(Value::string("Dan")),
                ]
                .into(),
            ),
            Value::Tuple(
                vec![
                    Some(Value::keyword(":person/name")),
                    Some(Value::string("Zed")),
                ]
                .into(),
            ),
        ],
    )
    .unwrap();
    let printed: Vec<String> = many.iter().map(|m| m.to_string()).collect();
    assert_eq!(
        printed,
        [
            r#"{:person/name "Ann"}"#,
            r#"{:person/name "Cat"}"#,
            r#"{:person/name "Dan"}"#,
            "{}"
        ]
    );
    let by_ident = pull(
        &p.db,
        &PullPattern::parse("[:db/ident]").unwrap(),
        &Value::keyword(":role/admin"),
    )
    .unwrap();
    assert_eq!(
        by_ident.to_edn(),
        Edn::map([(Edn::keyword(":db/ident"), Edn::keyword(":role/admin"))])
    );
}
