//! Excision requests, recorded as data. Carrying them out (removing the
//! datoms from the persistent indexes) is the indexing job's work; this
//! module says which requests exist and which datoms each one covers.

use crate::datom::{Datom, EntityId};
use crate::db::Db;
use crate::edn::Instant;
use crate::error::Result;
use crate::index::Index;
use crate::schema::bootstrap as b;
use crate::value::Value;

/// One `:db/excise` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExciseRequest {
    /// The request entity.
    pub id: EntityId,
    /// The `:db/excise` target: an entity, or an attribute.
    pub target: EntityId,
    /// True when the target is an attribute: its values are excised.
    pub target_is_attribute: bool,
    /// `:db.excise/attrs`: only these attributes of an entity target.
    pub attrs: Vec<EntityId>,
    /// `:db.excise/beforeT` (as a t): only datoms of transactions before it.
    pub before_t: Option<u64>,
    /// `:db.excise/before`: only datoms of transactions before this instant.
    pub before: Option<Instant>,
    /// The t of the transaction that recorded the request.
    pub t: u64,
}

impl ExciseRequest {
    /// True when the request removes `datom`, whose transaction happened
    /// at `tx_instant`.
    pub fn covers(&self, datom: &Datom, tx_instant: Instant) -> bool {
        let subject = match self.target_is_attribute {
            true => datom.a() == self.target,
            false => {
                datom.e() == self.target
                    && (self.attrs.is_empty() || self.attrs.contains(&datom.a()))
            }
        };
        let before_t = self.before_t.is_none_or(|t| datom.t() < t);
        let before = self.before.is_none_or(|i| tx_instant < i);
        subject && before_t && before
    }
}

impl Db {
    /// Every excision request recorded in this value.
    pub fn excise_requests(&self) -> Result<Vec<ExciseRequest>> {
        let mut requests = Vec::new();
        for d in self.datoms(Index::Aevt, &[Value::Ref(b::EXCISE)])? {
            let d = d?;
            let Some(target) = d.v().as_ref_id() else {
                continue;
            };
            let mut request = ExciseRequest {
                id: d.e(),
                target,
                target_is_attribute: self.attribute(target).is_some(),
                attrs: Vec::new(),
                before_t: None,
                before: None,
                t: d.t(),
            };
            self.fill_request(&mut request)?;
            requests.push(request);
        }
        Ok(requests)
    }

    fn fill_request(&self, request: &mut ExciseRequest) -> Result<()> {
        for d in self.datoms(Index::Eavt, &[Value::Ref(request.id)])? {
            let d = d?;
            match (d.a(), d.v()) {
                (b::EXCISE_ATTRS, Value::Ref(a)) => request.attrs.push(*a),
                // beforeT may be written as a t or as a tx id.
                (b::EXCISE_BEFORE_T, Value::Long(t)) => {
                    request.before_t = u64::try_from(*t).ok().map(crate::datom::tx_to_t)
                }
                (b::EXCISE_BEFORE, Value::Instant(i)) => request.before = Some(*i),
                _ => {}
            }
        }
        Ok(())
    }
}
