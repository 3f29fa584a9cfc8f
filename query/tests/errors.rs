//! Every bad query or input gets an error of the right kind that names
//! the clause, binding or find element; storage failures surface as
//! query errors; nothing panics.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use model::{Datom, DatomIter, Db, Index, IndexStore, Layer, MemoryStore, TxLogIter, Value};
use query::{ErrorKind, Input};
use std::sync::Arc;

fn expect(query: &str, inputs: &[Input], kind: ErrorKind, at: &str) -> query::Error {
    let e = q_err(query, inputs);
    assert_eq!(e.kind(), kind, "{e}");
    assert!(e.at().contains(at), "{e} does not name {at:?}");
    assert!(e.to_string().contains(at), "{e}");
    e
}

#[test]
fn syntax_errors_name_the_form() {
    let p = people();
    let d = || vec![db(&p.db)];
    expect(
        "[:find ?e :where [?e :person/name",
        &d(),
        ErrorKind::Syntax,
        "",
    );
    expect("[:where [?e :person/name]]", &d(), ErrorKind::Syntax, "");
    expect(
        "[:find ?e :where [?e :a/b 1 2 true 6]]",
        &d(),
        ErrorKind::Syntax,
        "[?e :a/b 1 2 true 6]",
    );
    expect(
        "[:find ?e :where [?e person/name]]",
        &d(),
        ErrorKind::Syntax,
        "[?e person/name]",
    );
    expect(
        "[:find ?e :where [?e :a/b _ _ :maybe]]",
        &d(),
        ErrorKind::Syntax,
        "[?e :a/b _ _ :maybe]",
    );
    expect(
        "[:find ?e :bogus 1 :where [?e :a/b]]",
        &d(),
        ErrorKind::Syntax,
        ":bogus",
    );
    expect(
        "[:find ?e :where (or [?e :person/age 1] [?f :person/age 2])]",
        &d(),
        ErrorKind::Syntax,
        "(or [?e :person/age 1] [?f :person/age 2])",
    );
    expect(
        "[:find ?e :in $ [?x ... ?y] :where [?e :a/b ?x]]",
        &d(),
        ErrorKind::Syntax,
        "[?x ... ?y]",
    );
    expect(
        "[:find (pull ?e) :where [?e :a/b]]",
        &d(),
        ErrorKind::Syntax,
        "(pull ?e)",
    );
    expect(
        "[:find ?e :keys a b :where [?e :person/name]]",
        &d(),
        ErrorKind::Syntax,
        "",
    );
    expect("[:find ?e :where :oops]", &d(), ErrorKind::Syntax, ":oops");
}

#[test]
fn unbound_find_variables() {
    let p = people();
    expect(
        "[:find ?x :where [?e :person/name]]",
        &[db(&p.db)],
        ErrorKind::UnboundVariable,
        "?x",
    );
    expect(
        "[:find (count ?x) :where [?e :person/name]]",
        &[db(&p.db)],
        ErrorKind::UnboundVariable,
        "(count ?x)",
    );
    expect(
        "[:find ?e :with ?x :where [?e :person/name]]",
        &[db(&p.db)],
        ErrorKind::UnboundVariable,
        "?x",
    );
    // A variable bound only inside a not is not bound outside it.
    expect(
        "[:find ?f :where [?e :person/name] (not [?e :person/friend ?f])]",
        &[db(&p.db)],
        ErrorKind::UnboundVariable,
        "?f",
    );
}

#[test]
fn unknown_attributes_are_named_even_when_nothing_would_match() {
    let p = people();
    let e = expect(
        "[:find ?e :where [?e :person/name \"Nobody\"] [?e :person/shoeSize ?s]]",
        &[db(&p.db)],
        ErrorKind::UnknownAttribute,
        "[?e :person/shoeSize ?s]",
    );
    assert!(e.message().contains(":person/shoeSize"), "{e}");
    expect(
        "[:find ?e :where [?e :person/name] (not [?e :no/such])]",
        &[db(&p.db)],
        ErrorKind::UnknownAttribute,
        "[?e :no/such]",
    );
}

#[test]
fn rule_errors() {
    let p = people();
    let rules = || {
        Input::Edn(edn(
            "[[(reach ?a ?b) [?a :person/friend ?b]] [(named [?a] ?n) [?a :person/name ?n]]]",
        ))
    };
    expect(
        "[:find ?a :in $ % :where (reach ?a)]",
        &[db(&p.db), rules()],
        ErrorKind::Rule,
        "(reach ?a)",
    );
    expect(
        "[:find ?a :in $ % :where (nope ?a)]",
        &[db(&p.db), rules()],
        ErrorKind::Rule,
        "(nope ?a)",
    );
    expect(
        "[:find ?a :where (reach ?a ?b)]",
        &[db(&p.db)],
        ErrorKind::Rule,
        "(reach ?a ?b)",
    );
    expect(
        "[:find ?n :in $ % :where (named ?a ?n)]",
        &[db(&p.db), rules()],
        ErrorKind::InsufficientBinding,
        "(named ?a ?n)",
    );
    let arity = query::Rules::parse("[[(r ?a) [?a :x/y]] [(r ?a ?b) [?a :x/y ?b]]]").unwrap_err();
    assert_eq!(arity.kind(), ErrorKind::Rule);
    assert!(arity.at().contains("(r ?a ?b)"), "{arity}");
    let cycle = query::Rules::parse(
        "[[(odd ?x) [?x :a/b] (not (even ?x))] [(even ?x) [?x :a/b] (not (odd ?x))]]",
    )
    .unwrap_err();
    assert_eq!(cycle.kind(), ErrorKind::Rule);
    assert!(cycle.message().contains("through not"), "{cycle}");
    let undefined = query::Rules::parse("[[(r ?a) (s ?a)]]").unwrap_err();
    assert_eq!(undefined.kind(), ErrorKind::Rule);
    let unused = query::Rules::parse("[[(r ?a ?b) [?a :x/y]]]").unwrap_err();
    assert_eq!(unused.kind(), ErrorKind::UnboundVariable);
}

#[test]
fn wrong_inputs() {
    let p = people();
    let query = "[:find ?e :in $ ?n :where [?e :person/name ?n]]";
    expect(query, &[db(&p.db)], ErrorKind::Input, ":in $ ?n");
    expect(
        query,
        &[db(&p.db), val("a"), val("b")],
        ErrorKind::Input,
        ":in $ ?n",
    );
    expect(query, &[db(&p.db), db(&p.db)], ErrorKind::Input, "?n");
    expect(query, &[val(1), val("Ann")], ErrorKind::Input, "$");
    expect(
        "[:find ?e :in $ [?n ?a] :where [?e :person/name ?n]]",
        &[db(&p.db), val("Ann")],
        ErrorKind::Input,
        "[?n ?a]",
    );
    expect(
        "[:find ?e :in $ [?n ?a] :where [?e :person/name ?n]]",
        &[db(&p.db), Input::Coll(vec![s("Ann")])],
        ErrorKind::Input,
        "[?n ?a]",
    );
    expect(
        "[:find ?e :in $ % :where [?e :person/name]]",
        &[db(&p.db), val(1)],
        ErrorKind::Input,
        "%",
    );
    expect(
        "[:find ?e :in $ ?n :where [?e :person/name ?n]]",
        &[db(&p.db), Input::Edn(edn("nil"))],
        ErrorKind::Input,
        "?n",
    );
    expect(
        "[:find ?e :where [$other ?e :person/name]]",
        &[db(&p.db)],
        ErrorKind::Source,
        "$other",
    );
    expect(
        "[:find (pull ?e [*]) :in $ :where [?e :a ?b]]",
        &[Input::Edn(edn("[[1 :a 2]]"))],
        ErrorKind::Source,
        "(pull ?e [*])",
    );
}

#[test]
fn insufficient_bindings() {
    let p = people();
    let d = || vec![db(&p.db)];
    expect(
        "[:find ?e :where [?e :person/age ?a] [(< ?a ?max)]]",
        &d(),
        ErrorKind::InsufficientBinding,
        "[(< ?a ?max)]",
    );
    expect(
        "[:find ?x :where [(inc ?y) ?x]]",
        &d(),
        ErrorKind::InsufficientBinding,
        "[(inc ?y) ?x]",
    );
    expect(
        "[:find ?e :where [?e :person/age] (not [?f :person/age 3])]",
        &d(),
        ErrorKind::InsufficientBinding,
        "(not [?f :person/age 3])",
    );
    expect(
        "[:find ?e :where [?e :person/age] (not-join [?g] [?g :person/age 3])]",
        &d(),
        ErrorKind::InsufficientBinding,
        "(not-join [?g] [?g :person/age 3])",
    );
    expect(
        "[:find ?e :where (or-join [[?e]] [?e :person/age 3])]",
        &d(),
        ErrorKind::InsufficientBinding,
        "(or-join [[?e]] [?e :person/age 3])",
    );
}

#[test]
fn unknown_functions_and_failing_functions() {
    let p = people();
    expect(
        "[:find ?e :where [?e :person/age ?a] [(frobnicate ?a)]]",
        &[db(&p.db)],
        ErrorKind::UnknownFunction,
        "(frobnicate ?a)",
    );
    expect(
        "[:find (median2 ?a) :where [?e :person/age ?a]]",
        &[db(&p.db)],
        ErrorKind::UnknownFunction,
        "(median2 ?a)",
    );
    expect(
        "[:find ?x :where [?e :person/name ?n] [(+ ?n 1) ?x]]",
        &[db(&p.db)],
        ErrorKind::Function,
        "[(+ ?n 1) ?x]",
    );
    expect(
        "[:find (sum ?n) :where [?e :person/name ?n]]",
        &[db(&p.db)],
        ErrorKind::Function,
        "(sum ?n)",
    );
    expect(
        "[:find ?x :where [?e :person/age ?a] [(re-find \"(\" \"x\") ?x]]",
        &[db(&p.db)],
        ErrorKind::Function,
        "re-find",
    );
}

/// A persistent layer that fails reads of one attribute's AEVT datoms.
#[derive(Debug)]
struct Failing {
    inner: MemoryStore,
    attribute: u64,
}

impl IndexStore for Failing {
    fn basis_t(&self) -> Option<u64> {
        self.inner.basis_t()
    }

    fn next_t(&self) -> u64 {
        self.inner.next_t()
    }

    fn seek(&self, index: Index, layer: Layer, from: &Datom) -> model::Result<DatomIter<'_>> {
        if index == Index::Aevt && from.a() == self.attribute {
            let error = model::Error::Storage {
                operation: "reading a segment".into(),
                source: "the disk is on fire".into(),
            };
            return Ok(Box::new(std::iter::once(Err(error))));
        }
        self.inner.seek(index, layer, from)
    }

    fn tx_range(&self, from_t: u64, until_t: Option<u64>) -> model::Result<TxLogIter<'_>> {
        self.inner.tx_range(from_t, until_t)
    }
}

#[test]
fn storage_failures_become_query_errors() {
    let p = people();
    let age =
        p.db.attribute_named(&model::edn::Keyword::new(":person/age"))
            .unwrap()
            .id;
    let store = Failing {
        inner: MemoryStore::index(&p.db, p.db.basis_t()).unwrap(),
        attribute: age,
    };
    let broken = Db::from_store(Arc::new(store), []).unwrap();
    // Reads that avoid the failing part still work.
    let names = q("[:find ?n :where [_ :person/name ?n]]", &[db(&broken)]);
    assert_eq!(names.len(), 4);
    let e = expect(
        "[:find ?a :where [_ :person/age ?a]]",
        &[db(&broken)],
        ErrorKind::Storage,
        "[_ :person/age ?a]",
    );
    assert!(!e.is_invalid_input());
    assert!(e.to_string().contains("the disk is on fire"), "{e}");
    assert!(std::error::Error::source(&e).is_some());
    let via_rule = q_err(
        "[:find ?a :in $ % :where (aged ?e ?a)]",
        &[
            db(&broken),
            Input::Edn(edn("[[(aged ?e ?a) [?e :person/age ?a]]]")),
        ],
    );
    assert_eq!(via_rule.kind(), ErrorKind::Storage);
    let pulled = query::pull(
        &broken,
        &query::PullPattern::parse("[*]").unwrap(),
        &Value::Ref(p.ann),
    );
    assert!(pulled.is_ok(), "pull reads EAVT, which works");
}

#[test]
fn pull_errors() {
    let p = people();
    let pattern = query::PullPattern::parse("[:person/shoeSize]").unwrap();
    let e = query::pull(&p.db, &pattern, &Value::Ref(p.ann)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnknownAttribute);
    assert!(e.to_string().contains(":person/shoeSize"), "{e}");
    let history = query::pull(
        &p.db.history(),
        &query::PullPattern::parse("[*]").unwrap(),
        &Value::Ref(p.ann),
    );
    assert_eq!(history.unwrap_err().kind(), ErrorKind::Source);
    let bad_lookup = query::pull(
        &p.db,
        &query::PullPattern::parse("[*]").unwrap(),
        &Value::Tuple(vec![Some(Value::keyword(":person/age")), Some(Value::Long(30))].into()),
    );
    assert_eq!(bad_lookup.unwrap_err().kind(), ErrorKind::Input);
}
