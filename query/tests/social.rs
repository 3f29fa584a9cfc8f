//! Scenario §1: the queries of Datomic's query tour over the social news
//! database, with their expected results.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use model::edn::Edn;
use model::{Value, tx_to_t};
use query::{Input, Shape};
use std::collections::BTreeSet;

#[test]
fn all_users() {
    let s = social();
    let found = q("[:find ?e :where [?e :user/email]]", &[db(&s.db)]);
    assert_eq!(ids(&found), BTreeSet::from([s.editor, s.stu]));
    assert_eq!(found.shape(), Shape::Relation);
}

#[test]
fn a_user_by_email() {
    let s = social();
    let found = q(
        "[:find ?e :in $ ?email :where [?e :user/email ?email]]",
        &[db(&s.db), val("editor@example.com")],
    );
    assert_eq!(ids(&found), BTreeSet::from([s.editor]));
    let nobody = q(
        "[:find ?e :in $ ?email :where [?e :user/email ?email]]",
        &[db(&s.db), val("nobody@example.com")],
    );
    assert!(nobody.is_empty());
    assert_eq!(nobody.to_string(), "#{}");
}

#[test]
fn users_by_a_collection_of_emails() {
    let s = social();
    let emails = Input::Coll(vec![s_("editor@example.com"), s_("stu@example.com")]);
    let found = q(
        "[:find ?e :in $ [?email ...] :where [?e :user/email ?email]]",
        &[db(&s.db), emails],
    );
    assert_eq!(ids(&found), BTreeSet::from([s.editor, s.stu]));
    // The same input written as EDN.
    let found = q(
        "[:find ?e :in $ [?email ...] :where [?e :user/email ?email]]",
        &[
            db(&s.db),
            Input::Edn(edn(r#"["editor@example.com" "stu@example.com"]"#)),
        ],
    );
    assert_eq!(ids(&found), BTreeSet::from([s.editor, s.stu]));
}

fn s_(text: &str) -> Value {
    Value::string(text)
}

const EDITOR_COMMENTS: &str = "[:find ?comment :in $ ?email :where [?user :user/email ?email] [?comment :comment/author ?user]]";

#[test]
fn the_editors_comments() {
    let s = social();
    let found = q(EDITOR_COMMENTS, &[db(&s.db), val("editor@example.com")]);
    assert_eq!(ids(&found), s.editor_comments);
    assert_eq!(found.len(), 10);
}

#[test]
fn counting_the_editors_comments() {
    let s = social();
    let found = q(
        "[:find (count ?comment) :in $ ?email :where [?user :user/email ?email] [?comment :comment/author ?user]]",
        &[db(&s.db), val("editor@example.com")],
    );
    assert_eq!(found.to_string(), "[[10]]");
}

#[test]
fn nobody_comments_on_people() {
    let s = social();
    let found = q(
        "[:find (count ?comment) :where [?comment :comment/author] [?commentable :comments ?comment] [?commentable :user/email]]",
        &[db(&s.db)],
    );
    assert!(found.is_empty());
    assert_eq!(found.to_string(), "[]");
    // Comments on stories and on comments do exist: 12 comments, all held.
    let held = q(
        "[:find (count ?comment) :where [?comment :comment/author] [?commentable :comments ?comment]]",
        &[db(&s.db)],
    );
    assert_eq!(held.to_string(), "[[12]]");
}

#[test]
fn the_schema_query() {
    let s = social();
    let found = q(
        "[:find ?attr-name :where [?ref :comments] [?ref ?attr] [?attr :db/ident ?attr-name]]",
        &[db(&s.db)],
    );
    let names: BTreeSet<String> = found.column(0).iter().map(|f| f.to_string()).collect();
    let expected: BTreeSet<String> = [
        ":story/title",
        ":story/url",
        ":comments",
        ":comment/body",
        ":comment/author",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(names, expected);
}

#[test]
fn the_transaction_of_a_value_and_its_instant() {
    let s = social();
    let found = q(
        "[:find ?tx :in $ ?e :where [?e :user/firstName _ ?tx]]",
        &[db(&s.db), val(Value::Ref(s.editor))],
    );
    assert_eq!(ids(&found), BTreeSet::from([s.tx_edward]));
    let tx = found.scalar().unwrap().as_entity().unwrap();
    assert_eq!(tx_to_t(tx), tx_to_t(s.tx_edward));
    let instant = q(
        "[:find ?inst . :in $ ?tx :where [?tx :db/txInstant ?inst]]",
        &[db(&s.db), val(Value::Ref(tx))],
    );
    assert!(matches!(
        instant.scalar().and_then(|f| f.as_value()),
        Some(Value::Instant(_))
    ));
    // The entity id may also be given as a long, as Datomic users do.
    let by_long = q(
        "[:find ?tx :in $ ?e :where [?e :user/firstName _ ?tx]]",
        &[db(&s.db), val(Value::Long(s.editor as i64))],
    );
    assert_eq!(ids(&by_long), BTreeSet::from([s.tx_edward]));
}

#[test]
fn as_of_shows_the_old_first_name() {
    let s = social();
    let older = s.db.as_of(s.tx_edward - 1).unwrap();
    let query = "[:find ?name . :in $ ?e :where [?e :user/firstName ?name]]";
    let then = q(query, &[db(&older), val(Value::Ref(s.editor))]);
    assert_eq!(then.to_string(), "\"Ed\"");
    let now = q(query, &[db(&s.db), val(Value::Ref(s.editor))]);
    assert_eq!(now.to_string(), "\"Edward\"");
    let since = q(
        "[:find ?name :where [_ :user/firstName ?name]]",
        &[db(&s.db.since(s.tx_ed).unwrap())],
    );
    assert_eq!(rows(&since), vec![vec![Edn::string("Edward")]]);
}

#[test]
fn the_history_of_the_first_name() {
    let s = social();
    let found = q(
        "[:find ?tx ?v ?op :in $ ?e ?attr :where [?e ?attr ?v ?tx ?op]]",
        &[
            db(&s.db.history()),
            val(Value::Ref(s.editor)),
            val(Value::keyword(":user/firstName")),
        ],
    );
    let mut history: Vec<(u64, Value, bool)> = found
        .rows()
        .iter()
        .map(|r| {
            let op = matches!(r[2].as_value(), Some(Value::Boolean(true)));
            (
                r[0].as_entity().unwrap(),
                r[1].as_value().unwrap().clone(),
                op,
            )
        })
        .collect();
    history.sort_by_key(|(tx, _, op)| (*tx, *op));
    assert_eq!(
        history,
        vec![
            (s.tx_ed, s_("Ed"), true),
            (s.tx_edward, s_("Ed"), false),
            (s.tx_edward, s_("Edward"), true),
        ]
    );
    // On the current database the op is always true, and only "Edward" remains.
    let current = q(
        "[:find ?v ?op :in $ ?e :where [?e :user/firstName ?v _ ?op]]",
        &[db(&s.db), val(Value::Ref(s.editor))],
    );
    assert_eq!(current.to_string(), "#{[\"Edward\" true]}");
}

#[test]
fn a_query_over_a_plain_collection() {
    let tuples = Input::Edn(edn(
        r#"[[1 :user/email "a@x"] [1 :user/firstName "John"] [2 :user/email "b@x"]]"#,
    ));
    let found = q("[:find ?e :where [?e :user/email]]", &[tuples]);
    assert_eq!(found.to_string(), "#{[1] [2]}");
}

#[test]
fn navigating_entities_with_pull() {
    let s = social();
    // `:comment/_author` navigates backwards to the editor's comments; their
    // `:comments` reach the replies.
    let found = q(
        "[:find (pull ?e [:user/firstName {:comment/_author [:db/id {:comments [:db/id]}]}]) . :in $ ?e]",
        &[db(&s.db), val(Value::Ref(s.editor))],
    );
    let Some(query::Found::Pulled(editor)) = found.scalar() else {
        panic!("{found}")
    };
    assert_eq!(
        editor.get(":user/firstName").unwrap().to_string(),
        "\"Edward\""
    );
    let comments = editor.get(":comment/_author").unwrap().as_many().unwrap();
    let comment_ids: BTreeSet<u64> = comments
        .iter()
        .map(|c| c.as_map().unwrap().id().unwrap())
        .collect();
    assert_eq!(comment_ids, s.editor_comments);
    let replies: usize = comments
        .iter()
        .filter_map(|c| c.as_map().unwrap().get(":comments"))
        .map(|r| r.as_many().unwrap().len())
        .sum();
    // e1 holds e5 and e6, e7 holds t2, e3 holds e9, e4 holds e10.
    assert_eq!(replies, 5);
}
