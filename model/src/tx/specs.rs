//! Entity specs (`:db/ensure`): after the transaction is applied, every
//! entity it ensured a spec on must have the spec's required attributes
//! (`:db.entity/attrs`) and satisfy its predicates (`:db.entity/preds`),
//! or the whole transaction is refused with an error naming the spec, the
//! entity and what failed.
//!
//! The spec, its predicates and their rules are read at the transaction's
//! basis, like transaction functions: a transaction cannot weaken the spec
//! it is checked against. The predicates run against the value after it.

use super::forms::{Ctx, OpKind, Origin, RawOp};
use super::installed::{InstalledFailure, PredCheck};
use crate::datom::EntityId;
use crate::db::Db;
use crate::error::{Result, TxErrorKind};
use crate::schema::bootstrap as b;
use crate::value::Value;
use std::collections::BTreeSet;

/// One `:db/ensure` of the transaction.
#[derive(Clone, Debug)]
pub(crate) struct Ensure {
    pub(crate) e: EntityId,
    pub(crate) spec: EntityId,
    pub(crate) origin: Origin,
}

/// One predicate of a spec, as found at the basis.
struct Pred {
    name: String,
    query: Option<String>,
    code: Option<String>,
    rules: Option<String>,
}

fn text(db: &Db, e: EntityId, a: EntityId) -> Result<Option<String>> {
    Ok(db
        .current_values(e, a)?
        .pop()
        .and_then(|d| d.v().as_str().map(str::to_string)))
}

impl Ctx<'_> {
    /// The `:db/ensure` an operation asks for (only assertions).
    pub(crate) fn ensure(&self, op: &RawOp) -> Result<Ensure> {
        let spec = match (&op.kind, &op.v) {
            (OpKind::Add, Some(v)) => match self.value_of(v) {
                Value::Ref(spec) => spec,
                _ => {
                    return Err(self.error(
                        TxErrorKind::InvalidForm,
                        ":db/ensure names an entity spec (its ident or id)",
                        op.origin,
                    ));
                }
            },
            _ => {
                return Err(self.error(
                    TxErrorKind::InvalidForm,
                    ":db/ensure is never stored, so it can only be asserted (it asks for a check)",
                    op.origin,
                ));
            }
        };
        Ok(Ensure {
            e: self.resolved(op.e),
            spec,
            origin: op.origin,
        })
    }

    fn name_of(&self, e: EntityId) -> String {
        self.db
            .ident(e)
            .map_or_else(|| e.to_string(), ToString::to_string)
    }

    /// Checks every ensured spec against `after`.
    pub(crate) fn check_specs(&mut self, ensures: &[Ensure], after: &Db) -> Result<()> {
        let mut done = BTreeSet::new();
        for ensure in ensures {
            if done.insert((ensure.e, ensure.spec)) {
                self.check_spec(ensure, after)?;
            }
        }
        Ok(())
    }

    fn check_spec(&mut self, ensure: &Ensure, after: &Db) -> Result<()> {
        let (e, origin) = (ensure.e, ensure.origin);
        let spec = self.name_of(ensure.spec);
        let attrs = self.db.current_values(ensure.spec, b::ENTITY_ATTRS)?;
        let preds = self.db.current_values(ensure.spec, b::ENTITY_PREDS)?;
        if attrs.is_empty() && preds.is_empty() {
            let message = format!(
                "{spec} is not an entity spec at the basis of this transaction: it has neither :db.entity/attrs nor :db.entity/preds"
            );
            return Err(self.error(TxErrorKind::EntityAttrs, message, origin));
        }
        for d in &attrs {
            let Value::Keyword(attr) = d.v() else {
                continue;
            };
            let present = match after.schema().entid(attr) {
                Some(a) => !after.current_values(e, a)?.is_empty(),
                None => false,
            };
            if !present {
                let message = format!(
                    "entity {e} fails spec {spec}: it has no value of the required attribute {attr}"
                );
                return Err(self.error(TxErrorKind::EntityAttrs, message, origin));
            }
        }
        for d in &preds {
            let Some(pred) = d.v().as_ref_id() else {
                continue;
            };
            let pred = self.pred(pred)?;
            self.check_pred(&pred, &spec, e, after, origin)?;
        }
        Ok(())
    }

    fn pred(&self, pred: EntityId) -> Result<Pred> {
        let rules = match self.db.current_values(pred, b::PRED_RULES)?.pop() {
            Some(d) => match d.v().as_ref_id() {
                Some(r) => text(self.db, r, b::RULES)?,
                None => None,
            },
            None => None,
        };
        Ok(Pred {
            name: self.name_of(pred),
            query: text(self.db, pred, b::PRED_QUERY)?,
            code: text(self.db, pred, b::FN)?,
            rules,
        })
    }

    fn check_pred(
        &mut self,
        pred: &Pred,
        spec: &str,
        e: EntityId,
        after: &Db,
        origin: Origin,
    ) -> Result<()> {
        let fail = |ctx: &Self, message: String| {
            let message = format!(
                "entity {e} fails spec {spec}: predicate {} {message}",
                pred.name
            );
            ctx.error(TxErrorKind::EntityPred, message, origin)
        };
        if pred.query.is_none() && pred.code.is_none() {
            return Err(fail(self, "has neither :db.pred/query nor :db/fn".into()));
        }
        let Some(runtime) = self.functions.installed().cloned() else {
            return Err(fail(
                self,
                "cannot run: this process has no runtime for installed predicates (the txfn crate)"
                    .into(),
            ));
        };
        let check = PredCheck {
            db_after: after,
            name: &pred.name,
            query: pred.query.as_deref(),
            code: pred.code.as_deref(),
            rules: pred.rules.as_deref(),
            e,
            principal: self.principal,
            spent: &mut self.spent,
        };
        match runtime.holds(check) {
            Ok(true) => Ok(()),
            Ok(false) => Err(fail(self, "does not hold".into())),
            Err(InstalledFailure::Db(error)) => Err(error),
            Err(InstalledFailure::Failed(message)) => Err(fail(self, format!("failed: {message}"))),
        }
    }
}
