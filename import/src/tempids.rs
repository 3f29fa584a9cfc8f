//! Tempids across a whole import: a string tempid names one entity in
//! every batch that uses it. The first batch that uses it lets the
//! transactor allocate the entity; every later batch gets the entity id in
//! its place, written in just before the batch applies (after every batch
//! before it applied), so batches stay pipelined.

use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};
use model::edn::{Edn, Keyword};
use model::{Db, TxReport};
use parking_lot::Mutex;
use transactor::TxScope;

/// The tempids resolved so far by the batches of one import.
#[derive(Debug, Default)]
pub(crate) struct Tempids {
    resolved: Mutex<HashMap<Arc<str>, u64>>,
}

impl Tempids {
    /// Records how a batch's tempids resolved (a batch applied now, or
    /// committed by an earlier run of the import).
    pub(crate) fn learn<'a>(&self, tempids: impl IntoIterator<Item = (&'a String, &'a u64)>) {
        let mut resolved = self.resolved.lock();
        for (tempid, &e) in tempids {
            resolved.insert(Arc::from(tempid.as_str()), e);
        }
    }

    /// How many tempids are known.
    pub(crate) fn len(&self) -> usize {
        self.resolved.lock().len()
    }
}

impl TxScope for Tempids {
    fn prepare(&self, db: &Db, mut forms: Vec<Edn>) -> model::Result<Vec<Edn>> {
        let resolved = self.resolved.lock();
        if resolved.is_empty() {
            return Ok(forms);
        }
        let mut rewrite = Rewrite {
            db,
            resolved: &resolved,
            refs: HashMap::new(),
        };
        for form in &mut forms {
            rewrite.form(form);
        }
        Ok(forms)
    }

    fn applied(&self, report: &TxReport) {
        self.learn(report.tempids.iter());
    }
}

/// Writes known entity ids in place of tempids, where tx data names an
/// entity: `:db/id`, the values of ref attributes (and of reverse
/// attributes) in map forms, nested maps, and the entity and ref value of
/// `[:db/add …]` and `[:db/retract …]`. Tempids elsewhere (arguments of
/// transaction functions) are left to the transaction.
struct Rewrite<'a> {
    db: &'a Db,
    resolved: &'a HashMap<Arc<str>, u64>,
    /// Whether an attribute is a ref, by its keyword (looked up once).
    refs: HashMap<Keyword, bool>,
}

impl Rewrite<'_> {
    fn form(&mut self, form: &mut Edn) {
        match form {
            Edn::Map(_) => self.map(form),
            Edn::Vector(items) | Edn::List(items) => self.list_form(items),
            _ => {}
        }
    }

    /// `[:db/add e a v]` and `[:db/retract e a v]`.
    fn list_form(&mut self, items: &mut [Edn]) {
        let op = match items.first() {
            Some(Edn::Keyword(k)) => k.as_str(),
            _ => return,
        };
        if op != "db/add" && op != "db/retract" {
            return;
        }
        if let Some(e) = items.get_mut(1) {
            self.entity(e);
        }
        let is_ref = match items.get(2) {
            Some(Edn::Keyword(a)) => self.is_ref(a),
            _ => false,
        };
        if is_ref && let Some(v) = items.get_mut(3) {
            self.entity(v);
        }
    }

    /// A map form (or a nested map): its `:db/id` and its ref values.
    fn map(&mut self, form: &mut Edn) {
        let Edn::Map(map) = form else {
            return;
        };
        for (key, value) in map.iter_mut() {
            let Edn::Keyword(k) = key else {
                continue;
            };
            if k.as_str() == "db/id" || k.is_reverse() || self.is_ref(k) {
                self.value(value);
            }
        }
    }

    /// The value of a ref attribute: an entity, a nested map, or a
    /// collection of them.
    fn value(&mut self, value: &mut Edn) {
        match value {
            Edn::Map(_) => self.map(value),
            Edn::Vector(items) | Edn::List(items) => {
                // A lookup ref `[:attr v]` is left alone.
                if matches!(items.first(), Some(Edn::Keyword(_))) {
                    return;
                }
                for item in items {
                    self.value(item);
                }
            }
            Edn::Set(set) => {
                let items = std::mem::take(set);
                *set = items
                    .into_iter()
                    .map(|mut item| {
                        self.value(&mut item);
                        item
                    })
                    .collect();
            }
            _ => self.entity(value),
        }
    }

    /// A string tempid already resolved becomes its entity id.
    fn entity(&mut self, e: &mut Edn) {
        if let Edn::String(s) = e
            && let Some(&id) = self.resolved.get(s)
            && let Ok(id) = i64::try_from(id)
        {
            *e = Edn::Long(id);
        }
    }

    fn is_ref(&mut self, a: &Keyword) -> bool {
        if let Some(&known) = self.refs.get(a) {
            return known;
        }
        let known = self.db.attribute_named(a).is_some_and(|attr| attr.is_ref());
        self.refs.insert(a.clone(), known);
        known
    }
}
