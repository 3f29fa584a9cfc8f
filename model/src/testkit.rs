//! Generated data for benchmarks of the crates above (cargo feature
//! `testkit`): people with an email, an age, a biography and a friend, in
//! transactions of new people and age changes of earlier ones, from a
//! fixed-seed generator so every run writes the same datoms.

use crate::edn::{Instant, Keyword};
use crate::{Datom, Db, Error, PART_USER, Result, TxLog, Value, entity_id, schema, t_to_tx};

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
