//! Property tests: random schemas and transactions against a naive
//! reference model (a plain list of every datom). Every index, every as_of
//! point, since and history must agree with it; so must a value read
//! through a persistent layer split at a random t, and a replay of the log.
//! `ACCRETE_LONG=1` runs many more cases.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use model::edn::Instant;
use model::{Datom, Db, Index, MemoryStore, TxFunctions, Value};
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::sync::Arc;

#[derive(Debug, Clone)]
struct AttrSpec {
    ty: u8,
    many: bool,
    unique: u8,
    no_history: bool,
}

#[derive(Debug, Clone)]
enum OpSpec {
    Add { e: Option<u8>, a: u8, v: u8 },
    Retract { e: u8, a: u8, v: u8 },
    RetractEntity { e: u8 },
    Cas { e: u8, a: u8, old: u8, new: u8 },
}

fn attr_spec() -> impl Strategy<Value = AttrSpec> {
    (0u8..4, any::<bool>(), 0u8..3, prop::bool::weighted(0.15)).prop_map(
        |(ty, many, unique, no_history)| AttrSpec {
            ty,
            many,
            unique: if ty == 2 { 0 } else { unique },
            no_history,
        },
    )
}

fn op_spec() -> impl Strategy<Value = OpSpec> {
    prop_oneof![
        5 => (prop::option::weighted(0.6, 0u8..8), 0u8..8, 0u8..8).prop_map(|(e, a, v)| OpSpec::Add { e, a, v }),
        2 => (0u8..8, 0u8..8, 0u8..8).prop_map(|(e, a, v)| OpSpec::Retract { e, a, v }),
        1 => (0u8..8).prop_map(|e| OpSpec::RetractEntity { e }),
        1 => (0u8..8, 0u8..8, 0u8..8, 0u8..8).prop_map(|(e, a, old, new)| OpSpec::Cas { e, a, old, new }),
    ]
}

const TYPES: [&str; 4] = ["long", "string", "ref", "keyword"];

fn schema_text(attrs: &[AttrSpec]) -> String {
    let forms: Vec<String> = attrs
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let unique = match a.unique {
                1 => " :db/unique :db.unique/identity",
                2 => " :db/unique :db.unique/value",
                _ => "",
            };
            let card = if a.many { "many" } else { "one" };
            format!(
                "{{:db/ident :a/x{i} :db/valueType :db.type/{} :db/cardinality :db.cardinality/{card}{unique} :db/noHistory {}}}",
                TYPES[a.ty as usize], a.no_history
            )
        })
        .collect();
    format!("[{}]", forms.join(" "))
}

/// The reference model: every datom ever transacted, in log order.
#[derive(Default, Clone)]
struct Naive {
    log: Vec<Datom>,
}

impl Naive {
    fn visible(&self, as_of_tx: Option<u64>) -> BTreeSet<(u64, u64, Value, u64)> {
        let mut current: std::collections::BTreeMap<(u64, u64, Value), u64> = Default::default();
        for d in self
            .log
            .iter()
            .filter(|d| as_of_tx.is_none_or(|t| d.tx() <= t))
        {
            let key = (d.e(), d.a(), d.v().clone());
            if d.added() {
                current.insert(key, d.tx());
            } else {
                current.remove(&key);
            }
        }
        current
            .into_iter()
            .map(|((e, a, v), tx)| (e, a, v, tx))
            .collect()
    }

    fn entities(&self, db: &Db) -> Vec<u64> {
        let user: BTreeSet<u64> = self
            .visible(None)
            .into_iter()
            .filter(|(e, ..)| model::partition_of(*e) == model::PART_USER)
            .map(|(e, ..)| e)
            .collect();
        let _ = db;
        user.into_iter().collect()
    }
}

fn value_text(spec: &AttrSpec, v: u8, entities: &[u64]) -> String {
    match spec.ty {
        0 => format!("{}", v % 5),
        1 => format!("\"s{}\"", v % 5),
        2 if entities.is_empty() => format!("\"t{}\"", v % 3),
        2 => entities[v as usize % entities.len()].to_string(),
        _ => format!(":k/v{}", v % 5),
    }
}

fn op_text(op: &OpSpec, attrs: &[AttrSpec], entities: &[u64]) -> String {
    let pick = |e: u8| {
        entities
            .get(e as usize % entities.len().max(1))
            .map_or(format!("\"t{e}\""), u64::to_string)
    };
    let attr = |a: u8| (a as usize % attrs.len(), &attrs[a as usize % attrs.len()]);
    match op {
        OpSpec::Add { e, a, v } => {
            let (i, spec) = attr(*a);
            let e = e.map_or(format!("\"t{}\"", v % 4), pick);
            format!("[:db/add {e} :a/x{i} {}]", value_text(spec, *v, entities))
        }
        OpSpec::Retract { e, a, v } => {
            let (i, spec) = attr(*a);
            format!(
                "[:db/retract {} :a/x{i} {}]",
                pick(*e),
                value_text(spec, *v, entities)
            )
        }
        OpSpec::RetractEntity { e } => match entities.is_empty() {
            true => "[:db/add \"t0\" :a/x0 1]".replace("1", &value_text(&attrs[0], 1, entities)),
            false => format!("[:db/retractEntity {}]", pick(*e)),
        },
        OpSpec::Cas { e, a, old, new } => {
            let (i, spec) = attr(*a);
            match (spec.many, entities.is_empty()) {
                (false, false) => format!(
                    "[:db/cas {} :a/x{i} {} {}]",
                    pick(*e),
                    value_text(spec, *old, entities),
                    value_text(spec, *new, entities)
                ),
                _ => format!(
                    "[:db/add {} :a/x{i} {}]",
                    pick(*e),
                    value_text(spec, *new, entities)
                ),
            }
        }
    }
}

fn sorted(mut datoms: Vec<Datom>, index: Index) -> Vec<Datom> {
    datoms.sort_by(|x, y| index.compare(x, y));
    datoms
}

fn read(db: &Db, index: Index) -> Vec<Datom> {
    db.datoms(index, &[]).unwrap().map(|d| d.unwrap()).collect()
}

fn user_part(datoms: Vec<Datom>, attrs: &BTreeSet<u64>) -> Vec<Datom> {
    datoms
        .into_iter()
        .filter(|d| attrs.contains(&d.a()))
        .collect()
}

/// Checks every index and view of `db` against the naive model.
fn check_against(db: &Db, naive: &Naive, user_attrs: &BTreeSet<u64>, ts: &[u64]) {
    let no_history: BTreeSet<u64> = user_attrs
        .iter()
        .copied()
        .filter(|a| db.attribute(*a).is_some_and(|x| x.no_history))
        .collect();
    let current_of = |as_of: Option<u64>| -> Vec<Datom> {
        naive
            .visible(as_of)
            .into_iter()
            .map(|(e, a, v, tx)| Datom::new(e, a, v, tx, true))
            .collect()
    };
    let retained = |d: &&Datom| !no_history.contains(&d.a());
    for index in Index::ALL {
        let keep = |d: &Datom| index != Index::Vaet || matches!(d.v(), Value::Ref(_));
        let expect =
            |datoms: Vec<Datom>| sorted(datoms.into_iter().filter(|d| keep(d)).collect(), index);
        assert_eq!(
            user_part(read(db, index), user_attrs),
            expect(current_of(None)),
            "current {index}"
        );
        let history: Vec<Datom> = naive.log.iter().filter(retained).cloned().collect();
        let got = user_part(read(&db.history(), index), user_attrs);
        let got: Vec<Datom> = got
            .into_iter()
            .filter(|d| !no_history.contains(&d.a()))
            .collect();
        assert_eq!(got, expect(history), "history {index}");
        for &t in ts {
            let tx = model::t_to_tx(t);
            let as_of = db.as_of(t).unwrap();
            let got: Vec<Datom> = user_part(read(&as_of, index), user_attrs)
                .into_iter()
                .filter(|d| !no_history.contains(&d.a()))
                .collect();
            let want: Vec<Datom> = current_of(Some(tx))
                .into_iter()
                .filter(|d| !no_history.contains(&d.a()))
                .collect();
            assert_eq!(got, expect(want), "as of {t} {index}");
            let since = db.since(t).unwrap();
            let want: Vec<Datom> = current_of(None)
                .into_iter()
                .filter(|d| d.tx() > tx)
                .collect();
            assert_eq!(
                user_part(read(&since, index), user_attrs),
                expect(want),
                "since {t} {index}"
            );
        }
    }
}

fn run(attrs: Vec<AttrSpec>, txs: Vec<Vec<OpSpec>>, split: prop::sample::Index) {
    let fns = TxFunctions::new();
    let mut clock = 1_000_000;
    let mut tick = || {
        clock += 1000;
        Instant(clock)
    };
    let mut db = Db::new()
        .with_edn(&schema_text(&attrs), tick(), &fns)
        .unwrap()
        .db_after;
    let user_attrs: BTreeSet<u64> = (0..attrs.len())
        .map(|i| {
            db.attribute_named(&model::edn::Keyword::new(&format!(":a/x{i}")))
                .unwrap()
                .id
        })
        .collect();
    let mut naive = Naive::default();
    let mut ts = vec![db.basis_t()];
    for ops in &txs {
        let entities = naive.entities(&db);
        let text = format!(
            "[{}]",
            ops.iter()
                .map(|op| op_text(op, &attrs, &entities))
                .collect::<Vec<_>>()
                .join(" ")
        );
        match db.with_edn(&text, tick(), &fns) {
            Err(e) => assert!(e.is_invalid_input(), "{e} for {text}"),
            Ok(report) => {
                for d in report
                    .tx_data
                    .iter()
                    .filter(|d| user_attrs.contains(&d.a()))
                {
                    naive.log.push(d.clone());
                }
                check_tx_rules(&report, &text, &attrs, &user_attrs);
                db = report.db_after;
                ts.push(db.basis_t());
            }
        }
    }
    check_against(&db, &naive, &user_attrs, &ts);
    let at = ts[split.index(ts.len())];
    let rebased = db
        .rebase(Arc::new(MemoryStore::index(&db, at).unwrap()))
        .unwrap();
    check_against(&rebased, &naive, &user_attrs, &ts);
    let mut replayed = Db::new();
    for entry in db.tx_range(Some(1), None).unwrap() {
        replayed = replayed.apply_tx(&entry.unwrap()).unwrap();
    }
    for index in Index::ALL {
        assert_eq!(read(&replayed, index), read(&db, index));
        assert_eq!(read(&replayed.history(), index), read(&db.history(), index));
    }
}

/// Rules visible in one report: cardinality one holds, unique values are
/// unique, and tx data never asserts what was true or retracts what was not.
fn check_tx_rules(
    report: &model::TxReport,
    text: &str,
    attrs: &[AttrSpec],
    user_attrs: &BTreeSet<u64>,
) {
    let after = &report.db_after;
    for (i, spec) in attrs.iter().enumerate() {
        let a = *user_attrs.iter().nth(i).unwrap();
        let datoms = read(after, Index::Aevt)
            .into_iter()
            .filter(|d| d.a() == a)
            .collect::<Vec<_>>();
        if !spec.many {
            let es: BTreeSet<u64> = datoms.iter().map(Datom::e).collect();
            assert_eq!(es.len(), datoms.len(), "cardinality one broken by {text}");
        }
        if spec.unique != 0 {
            let vs: BTreeSet<&Value> = datoms.iter().map(Datom::v).collect();
            assert_eq!(vs.len(), datoms.len(), "uniqueness broken by {text}");
        }
    }
    for d in report
        .tx_data
        .iter()
        .filter(|d| user_attrs.contains(&d.a()))
    {
        let before = report.db_before.datoms(
            Index::Eavt,
            &[Value::Ref(d.e()), Value::Ref(d.a()), d.v().clone()],
        );
        let was = before.unwrap().next().is_some();
        assert_eq!(was, !d.added(), "{d:?} in {text}");
    }
}

fn cases() -> u32 {
    if std::env::var("ACCRETE_LONG").is_ok_and(|v| v == "1") {
        2000
    } else {
        256
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn indexes_and_views_agree_with_the_naive_model(
        attrs in prop::collection::vec(attr_spec(), 1..6),
        txs in prop::collection::vec(prop::collection::vec(op_spec(), 1..7), 1..10),
        split in any::<prop::sample::Index>(),
    ) {
        run(attrs, txs, split);
    }
}
