//! Rules checked on the settled datoms: uniqueness, schema alteration,
//! excision requests.

use super::forms::{Ctx, Origin};
use crate::datom::{Datom, EntityId, PART_DB};
use crate::error::{Error, Result, TxErrorKind};
use crate::index::Index;
use crate::schema::bootstrap::{self as b, is_builtin};
use crate::schema::{Attribute, Cardinality};
use crate::value::Value;
use foldhash::{HashMap, HashMapExt, HashSet};

/// Attributes whose datoms define schema.
pub(crate) fn is_schema_attribute(a: EntityId) -> bool {
    a == b::IDENT || (b::VALUE_TYPE..=b::TUPLE_TYPES).contains(&a)
}

fn is_excision_attribute(a: EntityId) -> bool {
    (b::EXCISE..=b::EXCISE_BEFORE).contains(&a)
}

/// What `:db.part/db` may still be given: installations.
fn is_install(a: EntityId) -> bool {
    (b::INSTALL_PARTITION..=b::ALTER_ATTRIBUTE).contains(&a)
}

impl Ctx<'_> {
    pub(crate) fn check(&self, settled: &[(Datom, Origin)]) -> Result<()> {
        self.check_unique(settled)?;
        for (d, origin) in settled {
            if d.a() == b::TX_PRINCIPAL {
                let message = ":tx/principal is written by the transactor from the authenticated principal; tx data may not assert it";
                return Err(self.error(TxErrorKind::Provenance, message, *origin));
            }
            self.check_builtin(d, *origin)?;
            if let Some(old) = self.db.attribute(d.e()) {
                self.check_alteration(d, old, settled, *origin)?;
            }
            if let (b::INSTALL_PARTITION, Some(p)) = (d.a(), d.v().as_ref_id())
                && p >= 1 << (64 - crate::datom::PARTITION_SHIFT)
            {
                let message =
                    format!("partition id {p} does not fit the partition bits of an entity id");
                return Err(self.error(TxErrorKind::Schema, message, *origin));
            }
            if is_excision_attribute(d.a()) {
                self.check_excision(d, settled, *origin)?;
            }
        }
        Ok(())
    }

    fn check_unique(&self, settled: &[(Datom, Origin)]) -> Result<()> {
        let retracted: HashSet<(EntityId, EntityId, &Value)> = settled
            .iter()
            .filter(|(d, _)| !d.added())
            .map(|(d, _)| (d.e(), d.a(), d.v()))
            .collect();
        let mut claimed: HashMap<(EntityId, &Value), EntityId> = HashMap::new();
        for (d, origin) in settled.iter().filter(|(d, _)| d.added()) {
            let Some(attr) = self.db.attribute(d.a()).filter(|a| a.unique.is_some()) else {
                continue;
            };
            let conflict = |holder: EntityId| {
                let message = format!(
                    "{} {} is already held by entity {holder}",
                    attr.ident,
                    d.v()
                );
                self.error(TxErrorKind::UniqueConflict, message, *origin)
            };
            match claimed.insert((d.a(), d.v()), d.e()) {
                Some(other) if other != d.e() => return Err(conflict(other)),
                _ => {}
            }
            let holder = self.db.current_holder(d.a(), d.v())?;
            if let Some(holder) =
                holder.filter(|h| *h != d.e() && !retracted.contains(&(*h, d.a(), d.v())))
            {
                return Err(conflict(holder));
            }
        }
        Ok(())
    }

    fn check_builtin(&self, d: &Datom, origin: Origin) -> Result<()> {
        if !is_builtin(d.e()) || (d.e() == PART_DB && is_install(d.a())) {
            return Ok(());
        }
        let name = self
            .db
            .ident(d.e())
            .map_or(d.e().to_string(), ToString::to_string);
        Err(self.error(
            TxErrorKind::Schema,
            format!("built-in {name} cannot be changed"),
            origin,
        ))
    }

    fn check_alteration(
        &self,
        d: &Datom,
        old: &Attribute,
        settled: &[(Datom, Origin)],
        origin: Origin,
    ) -> Result<()> {
        let fail = |message: String| Err(self.error(TxErrorKind::Schema, message, origin));
        let ident = &old.ident;
        match (d.a(), d.added()) {
            (b::VALUE_TYPE, true) => fail(format!("the value type of {ident} cannot be changed")),
            (b::TUPLE_ATTRS | b::TUPLE_TYPE | b::TUPLE_TYPES, _) => {
                fail(format!("the tuple definition of {ident} cannot be changed"))
            }
            (b::IDENT | b::VALUE_TYPE | b::CARDINALITY, false) => {
                let replaced = settled
                    .iter()
                    .any(|(x, _)| x.added() && x.e() == d.e() && x.a() == d.a());
                if !replaced && self.in_use(old.id)? {
                    let what = self
                        .db
                        .ident(d.a())
                        .map_or(String::new(), ToString::to_string);
                    return fail(format!(
                        "cannot retract {what} of {ident}: the attribute is in use"
                    ));
                }
                Ok(())
            }
            (b::CARDINALITY, true)
                if d.v() == &Value::Ref(b::CARDINALITY_ONE)
                    && old.cardinality == Cardinality::Many =>
            {
                self.check_single_valued(old, origin)
            }
            (b::UNIQUE, true) if old.unique.is_none() => self.check_distinct_values(old, origin),
            _ => Ok(()),
        }
    }

    /// True when any datom, current or past, uses attribute `a`.
    fn in_use(&self, a: EntityId) -> Result<bool> {
        Ok(self
            .db
            .history()
            .datoms(Index::Aevt, &[Value::Ref(a)])?
            .next()
            .transpose()?
            .is_some())
    }

    fn check_single_valued(&self, attr: &Attribute, origin: Origin) -> Result<()> {
        let mut previous: Option<EntityId> = None;
        for d in self.db.datoms(Index::Aevt, &[Value::Ref(attr.id)])? {
            let e = d?.e();
            if previous == Some(e) {
                let message = format!(
                    "{} cannot become cardinality one: entity {e} has several values",
                    attr.ident
                );
                return Err(self.error(TxErrorKind::Schema, message, origin));
            }
            previous = Some(e);
        }
        Ok(())
    }

    fn check_distinct_values(&self, attr: &Attribute, origin: Origin) -> Result<()> {
        let mut previous: Option<Datom> = None;
        for d in self.db.datoms(Index::Avet, &[Value::Ref(attr.id)])? {
            let d = d?;
            if previous.as_ref().is_some_and(|p| p.v() == d.v()) {
                let message = format!(
                    "{} cannot become unique: {} is held by several entities",
                    attr.ident,
                    d.v()
                );
                return Err(self.error(TxErrorKind::Schema, message, origin));
            }
            previous = Some(d);
        }
        Ok(())
    }

    fn check_excision(&self, d: &Datom, settled: &[(Datom, Origin)], origin: Origin) -> Result<()> {
        let fail = |message: &str| Err(self.error(TxErrorKind::Excision, message, origin));
        if !d.added() {
            return fail("excision requests cannot be retracted");
        }
        let is_request = |e: EntityId| -> Result<bool> {
            let now = settled
                .iter()
                .any(|(x, _)| x.added() && x.e() == e && x.a() == b::EXCISE);
            Ok(now || !self.db.current_values(e, b::EXCISE)?.is_empty())
        };
        match (d.a(), d.v().as_ref_id()) {
            (b::EXCISE, Some(target)) if is_builtin(target) => {
                fail("built-in schema cannot be excised")
            }
            (b::EXCISE, Some(target)) if is_request(target)? => {
                fail("excision requests cannot be excised")
            }
            (b::EXCISE_ATTRS, Some(a)) if is_builtin(a) || is_excision_attribute(a) => {
                fail("built-in attributes cannot be excised")
            }
            (b::EXCISE_ATTRS, Some(a)) if self.db.attribute(a).is_none() => {
                fail(":db.excise/attrs lists attributes only")
            }
            (b::EXCISE, _) => Ok(()),
            _ if !is_request(d.e())? => fail("an excision request needs :db/excise"),
            _ => Ok(()),
        }
    }

    /// Turns a schema problem found while applying into an error naming
    /// the first form that changed schema.
    pub(crate) fn schema_error(&self, error: Error, origin: Option<Origin>) -> Error {
        match (error, origin) {
            (Error::Replay { message, .. }, Some(origin)) => {
                self.error(TxErrorKind::Schema, message, origin)
            }
            (other, _) => other,
        }
    }
}
