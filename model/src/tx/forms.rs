//! Expanding tx data into operations: list forms, map forms (nested and
//! reverse), transaction function calls, and entity/value positions.

use super::TxFunctions;
use super::tempids::Temps;
use crate::datom::{EntityId, PART_USER, t_to_tx};
use crate::db::Db;
use crate::edn::{Edn, Keyword};
use crate::error::{Error, Result, TxErrorKind};
use crate::schema::Attribute;
use crate::schema::bootstrap as b;
use crate::value::{Value, ValueType};
use foldhash::{HashMap, HashMapExt};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Transaction functions may call others up to this depth.
const MAX_FN_DEPTH: usize = 32;
/// Most function calls in one transaction (nested ones included).
const MAX_FN_CALLS: usize = 1024;

/// Where an operation came from, to name the form in errors.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Origin {
    /// The n-th form of the tx data.
    Input(usize),
    /// The n-th form a transaction function returned.
    Generated(usize),
}

/// An entity position after parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    Id(EntityId),
    Temp(usize),
}

/// A value position after parsing: a value, or an entity for refs.
#[derive(Clone, Debug)]
pub(crate) enum Val {
    Value(Value),
    Entity(Target),
    /// A tuple with reference elements, resolved once tempids are.
    Tuple(Vec<Option<Val>>),
}

#[derive(Clone, Debug)]
pub(crate) enum OpKind {
    Add,
    Retract,
    /// Retract every current value of the attribute.
    RetractAttr,
    /// Compare-and-swap: the expected old value (`None`: absent).
    Cas(Option<Val>),
    RetractEntity,
}

/// One operation of the transaction before tempids are resolved.
#[derive(Clone, Debug)]
pub(crate) struct RawOp {
    pub(crate) kind: OpKind,
    pub(crate) e: Target,
    pub(crate) attr: Option<Arc<Attribute>>,
    pub(crate) v: Option<Val>,
    pub(crate) origin: Origin,
}

/// The state of one transaction while it is being built.
pub(crate) struct Ctx<'a> {
    pub(crate) db: &'a Db,
    input: &'a [Edn],
    generated: Vec<Edn>,
    pub(crate) functions: &'a TxFunctions,
    /// Who commits the transaction, when known.
    pub(crate) principal: Option<&'a str>,
    /// Work spent by installed functions and predicates so far.
    pub(crate) spent: u64,
    /// Function calls so far.
    calls: usize,
    pub(crate) tx: EntityId,
    pub(crate) temps: Temps,
    pub(crate) ops: Vec<RawOp>,
    /// Idents this transaction gives to new entities (usable in later forms).
    pub(crate) new_idents: HashMap<Keyword, Target>,
    /// String tempids resolved before this transaction (a series' shared ones).
    pub(crate) known: &'a dyn Fn(&str) -> Option<EntityId>,
}

fn kw(text: &str) -> Edn {
    Edn::Keyword(Keyword::new(text))
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        db: &'a Db,
        input: &'a [Edn],
        functions: &'a TxFunctions,
        principal: Option<&'a str>,
        known: &'a dyn Fn(&str) -> Option<EntityId>,
    ) -> Self {
        let tx = t_to_tx(db.next_t());
        Ctx {
            db,
            input,
            generated: Vec::new(),
            functions,
            principal,
            spent: 0,
            calls: 0,
            tx,
            temps: Temps::default(),
            ops: Vec::with_capacity(input.len()),
            new_idents: HashMap::new(),
            known,
        }
    }

    /// The transaction's basis t.
    pub(crate) fn t(&self) -> u64 {
        crate::datom::tx_to_t(self.tx)
    }

    pub(crate) fn form(&self, origin: Origin) -> &Edn {
        match origin {
            Origin::Input(i) => &self.input[i],
            Origin::Generated(i) => &self.generated[i],
        }
    }

    /// An error naming the form `origin` points to.
    pub(crate) fn error(
        &self,
        kind: TxErrorKind,
        message: impl Into<String>,
        origin: Origin,
    ) -> Error {
        Error::tx(kind, message, self.form(origin))
    }

    pub(crate) fn expand_all(&mut self) -> Result<()> {
        for i in 0..self.input.len() {
            self.expand(Origin::Input(i), 0)?;
        }
        Ok(())
    }

    fn expand(&mut self, origin: Origin, depth: usize) -> Result<()> {
        // An input form is borrowed for `'a`, apart from `self`; a
        // generated one (a function's output, rare) is cloned out.
        let generated;
        let form: &Edn = match origin {
            Origin::Input(i) => {
                let input: &'a [Edn] = self.input;
                &input[i]
            }
            Origin::Generated(i) => {
                generated = self.generated[i].clone();
                &generated
            }
        };
        match form {
            Edn::Map(map) => self.expand_map(map, origin, None).map(|_| ()),
            Edn::Vector(items) | Edn::List(items) => self.expand_list(items, origin, depth),
            _ => Err(self.error(
                TxErrorKind::InvalidForm,
                "a tx form is a list like [:db/add e a v] or a map",
                origin,
            )),
        }
    }

    fn expand_list(&mut self, items: &[Edn], origin: Origin, depth: usize) -> Result<()> {
        let Some(Edn::Keyword(op)) = items.first() else {
            return Err(self.error(
                TxErrorKind::InvalidForm,
                "a list form starts with an operation keyword",
                origin,
            ));
        };
        let args = &items[1..];
        let arity = |n: usize, shape: &str| match args.len() == n {
            true => Ok(()),
            false => Err(self.error(
                TxErrorKind::InvalidForm,
                format!("{op} takes {shape}"),
                origin,
            )),
        };
        match op.as_str() {
            "db/add" => {
                arity(3, "[e a v]")?;
                self.push_list_op(OpKind::Add, args, origin)
            }
            "db/retract" if args.len() == 2 => {
                let (e, attr) = (
                    self.target(&args[0], origin)?,
                    self.attribute(&args[1], origin)?,
                );
                self.push(OpKind::RetractAttr, e, Some(attr), None, origin);
                Ok(())
            }
            "db/retract" => {
                arity(3, "[e a v] or [e a]")?;
                self.push_list_op(OpKind::Retract, args, origin)
            }
            "db/cas" | "db.fn/cas" => {
                arity(4, "[e a old-value new-value]")?;
                let attr = self.attribute(&args[1], origin)?;
                let old = match &args[2] {
                    Edn::Nil => None,
                    old => Some(self.val(&attr, old, origin)?),
                };
                let (e, new) = (
                    self.target(&args[0], origin)?,
                    self.val(&attr, &args[3], origin)?,
                );
                self.push(OpKind::Cas(old), e, Some(attr), Some(new), origin);
                Ok(())
            }
            "db/retractEntity" | "db.fn/retractEntity" => {
                arity(1, "[e]")?;
                let e = self.target(&args[0], origin)?;
                self.push(OpKind::RetractEntity, e, None, None, origin);
                Ok(())
            }
            _ => self.call(op, args, origin, depth),
        }
    }

    fn push_list_op(&mut self, kind: OpKind, args: &[Edn], origin: Origin) -> Result<()> {
        let attr = self.attribute(&args[1], origin)?;
        if matches!(args[2], Edn::Map(_)) {
            return Err(self.error(
                TxErrorKind::InvalidForm,
                "nested maps belong in map forms",
                origin,
            ));
        }
        let e = self.target(&args[0], origin)?;
        let v = self.val(&attr, &args[2], origin)?;
        self.push(kind, e, Some(attr), Some(v), origin);
        Ok(())
    }

    fn push(
        &mut self,
        kind: OpKind,
        e: Target,
        attr: Option<Arc<Attribute>>,
        v: Option<Val>,
        origin: Origin,
    ) {
        let a = attr.as_ref().map_or(0, |a| a.id);
        if let (OpKind::Add | OpKind::Cas(_), Target::Temp(i)) = (&kind, e) {
            self.temps.mark_entity(i, a == b::VALUE_TYPE);
        }
        match (&kind, a, &v) {
            (OpKind::Add, b::IDENT, Some(Val::Value(Value::Keyword(k)))) => {
                self.new_idents.insert(k.clone(), e);
            }
            (
                OpKind::Add,
                b::INSTALL_PARTITION | b::INSTALL_ATTRIBUTE,
                Some(Val::Entity(Target::Temp(j))),
            ) => {
                self.temps.mark_entity_in_db(*j);
            }
            _ => {}
        }
        self.ops.push(RawOp {
            kind,
            e,
            attr,
            v,
            origin,
        });
    }

    fn call(&mut self, name: &Keyword, args: &[Edn], origin: Origin, depth: usize) -> Result<()> {
        if depth >= MAX_FN_DEPTH {
            return Err(self.error(
                TxErrorKind::TxFunction,
                format!("transaction functions nest more than {MAX_FN_DEPTH} deep (at {name})"),
                origin,
            ));
        }
        self.calls += 1;
        if self.calls > MAX_FN_CALLS {
            return Err(self.error(
                TxErrorKind::TxFunction,
                format!("more than {MAX_FN_CALLS} transaction function calls in one transaction (at {name})"),
                origin,
            ));
        }
        let produced = match self.functions.get(name).cloned() {
            Some(function) => function(self.db, args).map_err(|e| {
                self.error(
                    TxErrorKind::TxFunction,
                    format!("{name} failed: {e}"),
                    origin,
                )
            })?,
            None => self.call_installed(name, args, origin)?,
        };
        for form in produced {
            self.generated.push(form);
            self.expand(Origin::Generated(self.generated.len() - 1), depth + 1)?;
        }
        Ok(())
    }

    /// Runs the `:db/fn` code of the entity named `name`, as of the basis.
    fn call_installed(&mut self, name: &Keyword, args: &[Edn], origin: Origin) -> Result<Vec<Edn>> {
        let fail =
            |ctx: &Self, message: String| ctx.error(TxErrorKind::TxFunction, message, origin);
        let Some(function) = self.db.schema().entid(name) else {
            return Err(fail(self, format!("no transaction function {name}")));
        };
        let code = match self.db.current_values(function, b::FN)?.pop() {
            Some(d) => match d.v() {
                Value::String(code) => code.clone(),
                _ => return Err(fail(self, format!("the :db/fn of {name} is not text"))),
            },
            None => {
                return Err(fail(
                    self,
                    format!("{name} is not a transaction function: it has no :db/fn"),
                ));
            }
        };
        let Some(runtime) = self.functions.installed().cloned() else {
            return Err(fail(
                self,
                format!(
                    "{name} is installed as data (:db/fn), but this process has no runtime for installed functions (the txfn crate)"
                ),
            ));
        };
        let call = crate::tx::FnCall {
            db: self.db,
            name,
            function,
            code: &code,
            args,
            principal: self.principal,
            spent: &mut self.spent,
        };
        match runtime.call(call) {
            Ok(forms) => Ok(forms),
            Err(crate::tx::InstalledFailure::Db(e)) => Err(e),
            Err(crate::tx::InstalledFailure::Failed(message)) => {
                Err(fail(self, format!("{name} failed: {message}")))
            }
        }
    }

    /// Expands a map form; returns its entity. `parent` is the partition of
    /// the entity a nested map hangs from.
    fn expand_map(
        &mut self,
        map: &BTreeMap<Edn, Edn>,
        origin: Origin,
        parent: Option<EntityId>,
    ) -> Result<Target> {
        let e = match map.get(&kw("db/id")) {
            Some(id) => self.target(id, origin)?,
            None => Target::Temp(self.temps.anonymous(parent.unwrap_or(PART_USER), origin)),
        };
        for (key, value) in map {
            let Edn::Keyword(k) = key else {
                return Err(self.error(
                    TxErrorKind::InvalidForm,
                    format!("map keys are attributes, not {key}"),
                    origin,
                ));
            };
            if k.as_str() == "db/id" {
                continue;
            }
            match self.db.attribute_named(k) {
                None if k.is_reverse() => self.expand_reverse(e, k, value, origin)?,
                _ => self.expand_attribute(e, key, value, origin)?,
            }
        }
        Ok(e)
    }

    fn expand_attribute(
        &mut self,
        e: Target,
        key: &Edn,
        value: &Edn,
        origin: Origin,
    ) -> Result<()> {
        let attr = self.attribute(key, origin)?;
        for item in self.values_of(&attr, value) {
            let v = match item {
                Edn::Map(nested) if attr.is_ref() => {
                    Val::Entity(self.expand_nested(&attr, e, nested, origin)?)
                }
                other => self.val(&attr, other, origin)?,
            };
            self.push(OpKind::Add, e, Some(attr.clone()), Some(v), origin);
        }
        Ok(())
    }

    /// `{:order/_lineItems parent}`: the listed entities point to `e`.
    fn expand_reverse(
        &mut self,
        e: Target,
        k: &Keyword,
        value: &Edn,
        origin: Origin,
    ) -> Result<()> {
        let attr = match self.db.attribute_named(&k.reversed()) {
            Some(a) if a.is_ref() => a.clone(),
            Some(a) => {
                let message = format!(
                    "reverse attribute {k} needs a ref attribute, {} is not",
                    a.ident
                );
                return Err(self.error(TxErrorKind::UnknownAttribute, message, origin));
            }
            None => {
                return Err(self.error(
                    TxErrorKind::UnknownAttribute,
                    format!("unknown attribute {k}"),
                    origin,
                ));
            }
        };
        for item in self.values_of(&attr, value) {
            let source = self.target(item, origin)?;
            self.push(
                OpKind::Add,
                source,
                Some(attr.clone()),
                Some(Val::Entity(e)),
                origin,
            );
        }
        Ok(())
    }

    fn expand_nested(
        &mut self,
        attr: &Attribute,
        parent: Target,
        nested: &BTreeMap<Edn, Edn>,
        origin: Origin,
    ) -> Result<Target> {
        let has_unique = nested.keys().any(|k| {
            k.as_keyword()
                .and_then(|k| self.db.attribute_named(k))
                .is_some_and(|a| a.unique.is_some())
        });
        if !attr.is_component && !has_unique && !nested.contains_key(&kw("db/id")) {
            let message = format!(
                "nested maps under {} must be components or have a unique attribute",
                attr.ident
            );
            return Err(self.error(TxErrorKind::InvalidNestedEntity, message, origin));
        }
        let partition = match parent {
            Target::Id(id) => crate::datom::partition_of(id),
            Target::Temp(i) => self.temps.partition(i),
        };
        self.expand_map(nested, origin, Some(partition))
    }

    /// The values a map entry asserts: the elements of a collection for
    /// cardinality-many attributes, else the value itself.
    fn values_of<'v>(&self, attr: &Attribute, value: &'v Edn) -> Vec<&'v Edn> {
        let items: &[Edn] = match value {
            Edn::Set(set) if attr.is_many() => return set.iter().collect(),
            Edn::List(items) | Edn::Vector(items) if attr.is_many() => items,
            _ => return vec![value],
        };
        let single = match attr.value_type {
            ValueType::Tuple => !matches!(items.first(), Some(Edn::Vector(_)) | None),
            ValueType::Ref => self.is_lookup_ref(items),
            _ => false,
        };
        if single {
            vec![value]
        } else {
            items.iter().collect()
        }
    }

    fn is_lookup_ref(&self, items: &[Edn]) -> bool {
        match items {
            [Edn::Keyword(k), _] => self
                .db
                .attribute_named(k)
                .is_some_and(|a| a.unique.is_some()),
            _ => false,
        }
    }
}
