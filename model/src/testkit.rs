//! Generated data for benchmarks of the crates above (cargo feature
//! `testkit`): people with an email, an age, a biography and a friend, in
//! transactions of new people and age changes of earlier ones, from a
//! fixed-seed generator so every run writes the same datoms.

use crate::edn::{Instant, Keyword};
use crate::{Datom, Db, Error, PART_USER, Result, TxLog, Value, entity_id, schema, t_to_tx};

/// The attributes of the social-news scenario of the query tour
/// (`integration-tests/scenarios.md` §1), as EDN maps without the
/// enclosing vector: a literal, so that other schemas can `concat!` it.
/// [`SOCIAL_SCHEMA`] is the schema itself.
#[macro_export]
macro_rules! social_schema_attrs {
    () => {
        r#"{:db/ident :user/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :user/firstName :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :user/lastName :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :user/upVotes :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
 {:db/ident :story/title :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :story/url :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :comment/body :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :comment/author :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
 {:db/ident :comments :db/valueType :db.type/ref :db/cardinality :db.cardinality/many :db/isComponent true}"#
    };
}

/// The social-news schema (users, stories, comments as components), for
/// the tests and benchmarks of every crate that runs the scenario.
pub const SOCIAL_SCHEMA: &str = concat!("[\n ", social_schema_attrs!(), "\n]");

/// The schema of [`People`]: transact it before [`People::new`].
pub const PEOPLE_SCHEMA: &str = r#"[
 {:db/ident :p/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :p/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :p/bio :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :p/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}]"#;

/// A generator of people transactions against a database that holds
/// [`PEOPLE_SCHEMA`].
#[derive(Debug, Clone)]
pub struct People {
    /// `:p/email`, `:p/age`, `:p/bio`, `:p/friend`.
    attrs: [u64; 4],
    /// Every person made so far and their current age.
    people: Vec<(u64, i64)>,
    /// The last `:db/txInstant` given, in milliseconds.
    clock: i64,
    /// xorshift64 state.
    rng: u64,
}

impl People {
    /// A generator for `db`, which must already hold [`PEOPLE_SCHEMA`].
    pub fn new(db: &Db) -> Result<People> {
        let attr = |name: &str| {
            db.attribute_named(&Keyword::new(name))
                .map(|a| a.id)
                .ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "People needs the attribute {name}: transact PEOPLE_SCHEMA first"
                    ))
                })
        };
        Ok(People {
            attrs: [
                attr(":p/email")?,
                attr(":p/age")?,
                attr(":p/bio")?,
                attr(":p/friend")?,
            ],
            people: Vec::new(),
            clock: 1_700_000_000_000,
            rng: 0x2545_f491_4f6c_dd1d,
        })
    }

    /// How many people exist.
    pub fn len(&self) -> usize {
        self.people.len()
    }

    /// True before the first person.
    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }

    /// The next transaction on `db`: `new` people of 4 datoms each and up to
    /// `updates` age changes of earlier people (a retraction and an
    /// assertion each; one per person per transaction).
    pub fn tx(&mut self, db: &Db, new: usize, updates: usize) -> TxLog {
        let t = db.next_t();
        let tx = t_to_tx(t);
        self.clock += 1;
        let mut data = vec![Datom::new(
            tx,
            schema::bootstrap::TX_INSTANT,
            Value::Instant(Instant(self.clock)),
            tx,
            true,
        )];
        let [email, age, bio, friend] = self.attrs;
        for i in 0..new {
            let counter = t + 1 + i as u64;
            let e = entity_id(PART_USER, counter);
            let years = self.rand(90) as i64;
            let f = match self.people.len() as u64 {
                0 => e,
                n => {
                    let i = self.rand(n) as usize;
                    self.people[i].0
                }
            };
            let email_text = format!("person{counter}@example.org");
            let bio_text = format!("biography of person {counter}, who likes datoms");
            data.push(Datom::new(e, email, Value::string(&email_text), tx, true));
            data.push(Datom::new(e, age, Value::Long(years), tx, true));
            data.push(Datom::new(e, bio, Value::string(&bio_text), tx, true));
            data.push(Datom::new(e, friend, Value::Ref(f), tx, true));
            self.people.push((e, years));
        }
        let mut touched = std::collections::HashSet::new();
        for _ in 0..updates.min(self.people.len()) {
            let i = self.rand(self.people.len() as u64) as usize;
            let (e, old) = self.people[i];
            if !touched.insert(e) {
                continue;
            }
            let new_age = (old + 1) % 90;
            data.push(Datom::new(e, age, Value::Long(old), tx, false));
            data.push(Datom::new(e, age, Value::Long(new_age), tx, true));
            self.people[i].1 = new_age;
        }
        TxLog {
            t,
            data: data.into(),
        }
    }

    fn rand(&mut self, n: u64) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % n
    }
}

/// Every datom of `db` in each index ([`crate::Index::ALL`] order).
pub fn everything(db: &Db) -> Vec<Vec<Datom>> {
    crate::Index::ALL
        .iter()
        .map(|&index| {
            db.datoms(index, &[])
                .and_then(|datoms| datoms.collect::<Result<Vec<Datom>>>())
                .unwrap_or_else(|e| panic!("reading {index:?}: {e}"))
        })
        .collect()
}

/// Every log entry of `db`.
pub fn log(db: &Db) -> Vec<TxLog> {
    db.tx_range(None, None)
        .and_then(|entries| entries.collect::<Result<Vec<TxLog>>>())
        .unwrap_or_else(|e| panic!("reading the log: {e}"))
}

/// Asserts that two values read the same (for tests: it panics naming
/// `what` and the first view that differs): basis and next t, every index
/// now and in history, and at sample points of `ts` every index as of,
/// since and in history as of that t, with the log from it; then the
/// whole log. Blocking reads.
pub fn assert_same_reads(actual: &Db, expected: &Db, ts: &[u64], what: &str) {
    assert_eq!(actual.basis_t(), expected.basis_t(), "{what}: basis t");
    assert_eq!(actual.next_t(), expected.next_t(), "{what}: next t");
    assert_eq!(everything(actual), everything(expected), "{what}: current");
    let (actual_history, expected_history) = (actual.history(), expected.history());
    assert_eq!(
        everything(&actual_history),
        everything(&expected_history),
        "{what}: history"
    );
    let at = |db: &Db, t: u64, view: &str| -> Db {
        match view {
            "as of" => db.as_of(t),
            _ => db.since(t),
        }
        .unwrap_or_else(|e| panic!("{what}: {view} {t}: {e}"))
    };
    let step = (ts.len() / 6).max(1);
    for &t in ts.iter().step_by(step).chain(ts.last()) {
        for view in ["as of", "since"] {
            assert_eq!(
                everything(&at(actual, t, view)),
                everything(&at(expected, t, view)),
                "{what}: {view} {t}"
            );
        }
        assert_eq!(
            everything(&at(&actual_history, t, "as of")),
            everything(&at(&expected_history, t, "as of")),
            "{what}: history as of {t}"
        );
        let range = |db: &Db| -> Vec<TxLog> {
            db.tx_range(Some(t), Some(t + 3000))
                .and_then(|entries| entries.collect::<Result<Vec<TxLog>>>())
                .unwrap_or_else(|e| panic!("{what}: tx_range from {t}: {e}"))
        };
        assert_eq!(range(actual), range(expected), "{what}: tx_range from {t}");
    }
    assert_eq!(log(actual), log(expected), "{what}: log");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TxFunctions;

    #[test]
    fn generated_transactions_apply_and_change_ages() {
        let db = Db::new()
            .with_edn(PEOPLE_SCHEMA, Instant(1), &TxFunctions::new())
            .unwrap()
            .db_after;
        let mut people = People::new(&db).unwrap();
        let first = people.tx(&db, 10, 0);
        assert_eq!(
            first.data.len(),
            1 + 40,
            "the instant and 4 datoms a person"
        );
        let db = db.apply_tx(&first).unwrap();
        let second = people.tx(&db, 0, 5);
        let retracted = second.data.iter().filter(|d| !d.added()).count();
        assert!(retracted >= 1 && 2 * retracted + 1 == second.data.len());
        let db = db.apply_tx(&second).unwrap();
        assert_eq!(people.len(), 10);
        assert_eq!(db.basis_t(), second.t);
    }
}
