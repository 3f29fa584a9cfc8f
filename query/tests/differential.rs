//! Differential tests: random data and random queries (patterns, or-join,
//! recursive rules, predicates, not, counts) give the same answers from
//! the engine, over a database and over the same facts as a plain
//! collection, as from a naive nested-loop evaluator written here. The data
//! is asserted, then partly retracted; the queries run over the current
//! value, the value as of before the retractions, and the history (every
//! fact ever asserted), each against the facts the test itself transacted.
//!
//! `ACCRETE_LONG=1` runs many more cases.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use model::edn::Edn;
use model::{Db, Index, Value};
use query::Input;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};

const ATTRS: [&str; 4] = [":r/a", ":r/b", ":v/n", ":v/k"];
const VARS: [&str; 4] = ["?a", "?b", "?c", "?d"];
const RULES: &str = "[[(reach ?x ?y) [?x :r/a ?y]] [(reach ?x ?y) [?x :r/a ?z] (reach ?z ?y)]]";

#[derive(Clone, Debug)]
enum T {
    Var(&'static str),
    Const(Value),
}

#[derive(Clone, Debug)]
enum C {
    Pat(T, &'static str, T),
    OrJoin(&'static str, Vec<C>),
    Reach(T, T),
    Less(T, T),
    NotEq(T, T),
    Not(Vec<C>),
}

type Row = BTreeMap<&'static str, Value>;
type Fact = (Value, &'static str, Value);

fn render_t(t: &T) -> String {
    match t {
        T::Var(v) => v.to_string(),
        T::Const(c) => c.to_string(),
    }
}

fn render(c: &C) -> String {
    match c {
        C::Pat(e, a, v) => format!("[{} {a} {}]", render_t(e), render_t(v)),
        C::OrJoin(v, branches) => format!(
            "(or-join [{v}] {})",
            branches.iter().map(render).collect::<Vec<_>>().join(" ")
        ),
        C::Reach(x, y) => format!("(reach {} {})", render_t(x), render_t(y)),
        C::Less(x, y) => format!("[(< {} {})]", render_t(x), render_t(y)),
        C::NotEq(x, y) => format!("[(!= {} {})]", render_t(x), render_t(y)),
        C::Not(body) => format!(
            "(not {})",
            body.iter().map(render).collect::<Vec<_>>().join(" ")
        ),
    }
}

fn as_int(v: &Value) -> i128 {
    match v {
        Value::Ref(n) => i128::from(*n),
        Value::Long(n) => i128::from(*n),
        other => panic!("{other} is not a number"),
    }
}

fn same(x: &Value, y: &Value) -> bool {
    as_int(x) == as_int(y)
}

/// The value of a term under a row, if bound.
fn value_of(t: &T, row: &Row) -> Option<Value> {
    match t {
        T::Var(v) => row.get(v).cloned(),
        T::Const(c) => Some(c.clone()),
    }
}

/// Extends `row` so that `t` equals `value`; `None` when it disagrees.
fn unify(row: &Row, t: &T, value: &Value) -> Option<Row> {
    match value_of(t, row) {
        Some(bound) => same(&bound, value).then(|| row.clone()),
        None => {
            let T::Var(v) = t else { unreachable!() };
            let mut out = row.clone();
            out.insert(v, value.clone());
            Some(out)
        }
    }
}

struct Naive {
    facts: Vec<Fact>,
    reach: BTreeSet<(i128, i128)>,
}

impl Naive {
    fn new(facts: Vec<Fact>) -> Naive {
        let mut reach: BTreeSet<(i128, i128)> = facts
            .iter()
            .filter(|(_, a, _)| *a == ":r/a")
            .map(|(e, _, v)| (as_int(e), as_int(v)))
            .collect();
        loop {
            let edges: Vec<(i128, i128)> = facts
                .iter()
                .filter(|(_, a, _)| *a == ":r/a")
                .map(|(e, _, v)| (as_int(e), as_int(v)))
                .collect();
            let more: Vec<(i128, i128)> = edges
                .iter()
                .flat_map(|(x, z)| {
                    reach
                        .iter()
                        .filter(move |(z2, _)| z2 == z)
                        .map(move |(_, y)| (*x, *y))
                })
                .filter(|p| !reach.contains(p))
                .collect();
            if more.is_empty() {
                break;
            }
            reach.extend(more);
        }
        Naive { facts, reach }
    }

    /// Positive clauses in written order, then filters.
    fn solve(&self, clauses: &[C], rows: Vec<Row>) -> Vec<Row> {
        let (filters, positives): (Vec<&C>, Vec<&C>) = clauses
            .iter()
            .partition(|c| matches!(c, C::Less(..) | C::NotEq(..) | C::Not(_)));
        let mut rows = rows;
        for c in positives {
            rows = rows.iter().flat_map(|r| self.positive(c, r)).collect();
        }
        rows.into_iter()
            .filter(|r| filters.iter().all(|f| self.keeps(f, r)))
            .collect()
    }

    fn positive(&self, c: &C, row: &Row) -> Vec<Row> {
        match c {
            C::Pat(e, a, v) => self
                .facts
                .iter()
                .filter(|(_, fa, _)| fa == a)
                .filter_map(|(fe, _, fv)| unify(row, e, fe).and_then(|r| unify(&r, v, fv)))
                .collect(),
            C::Reach(x, y) => self
                .reach
                .iter()
                .filter_map(|(fx, fy)| {
                    let (fx, fy) = (Value::Long(*fx as i64), Value::Long(*fy as i64));
                    unify(row, x, &fx).and_then(|r| unify(&r, y, &fy))
                })
                .collect(),
            C::OrJoin(v, branches) => {
                let seed: Row = row
                    .get(v)
                    .map(|x| Row::from([(*v, x.clone())]))
                    .unwrap_or_default();
                branches
                    .iter()
                    .flat_map(|b| self.solve(std::slice::from_ref(b), vec![seed.clone()]))
                    .filter_map(|found| unify(row, &T::Var(v), &found[v]))
                    .collect()
            }
            _ => unreachable!(),
        }
    }

    fn keeps(&self, c: &C, row: &Row) -> bool {
        match c {
            C::Less(x, y) => {
                as_int(&value_of(x, row).unwrap()) < as_int(&value_of(y, row).unwrap())
            }
            C::NotEq(x, y) => !same(&value_of(x, row).unwrap(), &value_of(y, row).unwrap()),
            C::Not(body) => self.solve(body, vec![row.clone()]).is_empty(),
            _ => unreachable!(),
        }
    }
}

struct Gen {
    rng: StdRng,
    entities: u64,
    base: u64,
}

impl Gen {
    fn entity(&mut self) -> Value {
        Value::Long((self.base + self.rng.random_range(0..self.entities)) as i64)
    }

    fn term(&mut self, vars: &[&'static str], attr_value: Option<&str>) -> T {
        if self.rng.random_bool(0.15) {
            return T::Const(match attr_value {
                Some(":v/n" | ":v/k") => Value::Long(self.rng.random_range(0..4)),
                _ => self.entity(),
            });
        }
        T::Var(vars[self.rng.random_range(0..vars.len())])
    }

    fn pattern(&mut self, vars: &[&'static str]) -> C {
        let attr = ATTRS[self.rng.random_range(0..ATTRS.len())];
        let e = self.term(vars, None);
        let v = self.term(vars, Some(attr));
        C::Pat(e, attr, v)
    }

    fn positive(&mut self) -> C {
        match self.rng.random_range(0..10) {
            0 | 1 => {
                let v = VARS[self.rng.random_range(0..VARS.len())];
                let branch = |g: &mut Gen| {
                    let attr = ATTRS[g.rng.random_range(0..ATTRS.len())];
                    match g.rng.random_bool(0.5) {
                        true => C::Pat(T::Var(v), attr, T::Var("?l0")),
                        false => C::Pat(T::Var("?l0"), attr, T::Var(v)),
                    }
                };
                C::OrJoin(v, vec![branch(self), branch(self)])
            }
            2 => C::Reach(self.term(&VARS, None), self.term(&VARS, None)),
            _ => self.pattern(&VARS),
        }
    }

    fn query(&mut self) -> (Vec<C>, Vec<&'static str>, bool) {
        let mut clauses: Vec<C> = (0..self.rng.random_range(1..=4))
            .map(|_| self.positive())
            .collect();
        let bound: Vec<&'static str> = VARS
            .iter()
            .copied()
            .filter(|v| clauses.iter().any(|c| binds(c, v)))
            .collect();
        if bound.is_empty() {
            clauses.push(C::Pat(T::Var("?a"), ":v/k", T::Var("?b")));
            return self.finish(clauses, vec!["?a", "?b"]);
        }
        for _ in 0..self.rng.random_range(0..=2) {
            let x = T::Var(bound[self.rng.random_range(0..bound.len())]);
            let filter = match self.rng.random_range(0..3) {
                0 => C::Less(x, self.term(&bound, Some(":v/n"))),
                1 => C::NotEq(x, self.term(&bound, None)),
                _ => {
                    let attr = ATTRS[self.rng.random_range(0..ATTRS.len())];
                    let local = T::Var("?l1");
                    C::Not(vec![match self.rng.random_bool(0.5) {
                        true => C::Pat(x, attr, local),
                        false => C::Pat(local, attr, x),
                    }])
                }
            };
            clauses.push(filter);
        }
        self.finish(clauses, bound)
    }

    fn finish(
        &mut self,
        clauses: Vec<C>,
        bound: Vec<&'static str>,
    ) -> (Vec<C>, Vec<&'static str>, bool) {
        let mut find: Vec<&'static str> = bound
            .iter()
            .copied()
            .filter(|_| self.rng.random_bool(0.6))
            .collect();
        if find.is_empty() {
            find.push(bound[0]);
        }
        let count = find.len() >= 2 && self.rng.random_bool(0.25);
        (clauses, find, count)
    }
}

fn binds(c: &C, v: &str) -> bool {
    let is = |t: &T| matches!(t, T::Var(x) if *x == v);
    match c {
        C::Pat(e, _, x) | C::Reach(e, x) => is(e) || is(x),
        C::OrJoin(j, _) => *j == v,
        _ => false,
    }
}

/// A random database: its value, its first entity id, the t before the
/// retractions, and the facts as transacted (before and after them).
struct Random {
    db: Db,
    base: u64,
    first_t: u64,
    first: BTreeSet<Fact>,
    now: BTreeSet<Fact>,
}

fn random_db(rng: &mut StdRng, entities: u64) -> Random {
    let db = tx(
        &Db::new(),
        r#"[{:db/ident :r/a :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
            {:db/ident :r/b :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
            {:db/ident :v/n :db/valueType :db.type/long :db/cardinality :db.cardinality/many}
            {:db/ident :v/k :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]"#,
    )
    .db_after;
    let ids: Vec<String> = (0..entities)
        .map(|i| format!("{{:db/id \"e{i}\" :v/k {}}}", i % 4))
        .collect();
    let created = tx(&db, &format!("[{}]", ids.join(" ")));
    let base = created.tempid("e0").unwrap();
    for i in 0..entities {
        assert_eq!(
            created.tempid(&format!("e{i}")).unwrap(),
            base + i,
            "ids are consecutive"
        );
    }
    let mut first: BTreeSet<Fact> = (0..entities)
        .map(|i| (Value::Ref(base + i), ":v/k", Value::Long((i % 4) as i64)))
        .collect();
    let random_fact = |rng: &mut StdRng| -> Fact {
        let e = Value::Ref(base + rng.random_range(0..entities));
        match rng.random_range(0..3) {
            0 => (e, ":r/a", Value::Ref(base + rng.random_range(0..entities))),
            1 => (e, ":r/b", Value::Ref(base + rng.random_range(0..entities))),
            _ => (e, ":v/n", Value::Long(rng.random_range(0..4))),
        }
    };
    let added: Vec<Fact> = (0..entities * 2).map(|_| random_fact(rng)).collect();
    first.extend(added.iter().cloned());
    let db = tx(
        &created.db_after,
        &format!("[{}]", forms(":db/add", &added)),
    )
    .db_after;
    let first_t = db.basis_t();
    // Then retract about a third of the facts and assert a few new ones.
    let retracted: Vec<Fact> = first
        .iter()
        .filter(|_| rng.random_bool(0.3))
        .cloned()
        .collect();
    let more: Vec<Fact> = (0..entities / 2)
        .map(|_| random_fact(rng))
        .filter(|f| f.1 != ":v/k" && !retracted.contains(f))
        .collect();
    let mut now = first.clone();
    for f in &retracted {
        now.remove(f);
    }
    now.extend(more.iter().cloned());
    let text = format!(
        "[{} {}]",
        forms(":db/retract", &retracted),
        forms(":db/add", &more)
    );
    Random {
        db: tx(&db, &text).db_after,
        base,
        first_t,
        first,
        now,
    }
}

/// The `[op e a v]` forms of `facts`, one after another.
fn forms(op: &str, facts: &[Fact]) -> String {
    let forms: Vec<String> = facts
        .iter()
        .map(|(e, a, v)| format!("[{op} {e} {a} {v}]"))
        .collect();
    forms.join(" ")
}

fn facts(db: &Db) -> Vec<Fact> {
    let mut out = Vec::new();
    for attr in ATTRS {
        for d in db.datoms(Index::Aevt, &[Value::keyword(attr)]).unwrap() {
            let d = d.unwrap();
            out.push((Value::Ref(d.e()), attr, d.v().clone()));
        }
    }
    out
}

fn expected(
    naive: &Naive,
    clauses: &[C],
    find: &[&'static str],
    count: bool,
) -> BTreeSet<Vec<Edn>> {
    let rows = naive.solve(clauses, vec![Row::new()]);
    let projected: BTreeSet<Vec<i128>> = rows
        .iter()
        .map(|r| find.iter().map(|v| as_int(&r[v])).collect())
        .collect();
    if !count {
        return projected
            .into_iter()
            .map(|r| r.into_iter().map(|n| Edn::Long(n as i64)).collect())
            .collect();
    }
    let mut groups: BTreeMap<Vec<i128>, i64> = BTreeMap::new();
    for r in projected {
        *groups.entry(r[..r.len() - 1].to_vec()).or_default() += 1;
    }
    groups
        .into_iter()
        .map(|(k, n)| {
            k.into_iter()
                .map(|x| Edn::Long(x as i64))
                .chain([Edn::Long(n)])
                .collect()
        })
        .collect()
}

fn run_cases(seed: u64, queries: usize) {
    let mut rng = StdRng::seed_from_u64(seed);
    let entities = rng.random_range(4..10);
    let Random {
        db,
        base,
        first_t,
        first,
        now,
    } = random_db(&mut rng, entities);
    let read: BTreeSet<Fact> = facts(&db).into_iter().collect();
    assert_eq!(
        read, now,
        "seed {seed}: the database holds what was transacted"
    );
    let ever: BTreeSet<Fact> = first.union(&now).cloned().collect();
    let tuples = Input::Rel(
        now.iter()
            .map(|(e, a, v)| vec![e.clone(), Value::keyword(a), v.clone()])
            .collect(),
    );
    // (view, its input, the facts it holds)
    let views = [
        ("db", Input::Db(db.clone()), &now),
        ("tuples", tuples, &now),
        ("as-of", Input::Db(db.as_of(first_t).unwrap()), &first),
        ("history", Input::Db(db.history()), &ever),
    ];
    let naive: Vec<Naive> = views
        .iter()
        .map(|(_, _, facts)| Naive::new(facts.iter().cloned().collect()))
        .collect();
    let rules = Input::Edn(edn(RULES));
    let mut generator = Gen {
        rng,
        entities,
        base,
    };
    for case in 0..queries {
        let (clauses, find, count) = generator.query();
        let find_text = match count {
            true => {
                let (last, rest) = find.split_last().unwrap();
                format!("{} (count {last})", rest.join(" "))
            }
            false => find.join(" "),
        };
        let text = format!(
            "[:find {find_text} :in $ % :where {}]",
            clauses.iter().map(render).collect::<Vec<_>>().join(" ")
        );
        for ((source, input, _), naive) in views.iter().zip(&naive) {
            let want = expected(naive, &clauses, &find, count);
            let got = query::q(&text, &[input.clone(), rules.clone()])
                .unwrap_or_else(|e| panic!("seed {seed} case {case} ({source}): {e}\n{text}"));
            let got: BTreeSet<Vec<Edn>> = rows(&got).into_iter().collect();
            assert_eq!(got, want, "seed {seed} case {case} ({source})\n{text}");
        }
    }
}

#[test]
fn random_queries_agree_with_a_naive_evaluator() {
    let long = std::env::var("ACCRETE_LONG").is_ok_and(|v| v == "1");
    let (seeds, queries) = if long { (200, 200) } else { (12, 40) };
    for seed in 0..seeds {
        run_cases(seed, queries);
    }
}
