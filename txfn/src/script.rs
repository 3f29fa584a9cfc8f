//! The sandboxed engine and the database API scripts see.
//!
//! The engine is Rhai's raw engine plus its standard package (arithmetic,
//! strings, arrays, maps, iteration): no file modules (`import` does not
//! exist), no clock (`timestamp` does not exist), no `eval`, no `print` or
//! `debug`, nothing that reaches the process or the network. The only way
//! out of a script is its return value; the only way in is its arguments
//! and the database value it is given, read through these methods:
//!
//! - `db.q(query)`, `db.q(query, [inputs…])`: a Datalog query (EDN text);
//!   `$` is the database, the inputs follow in the order of `:in`.
//! - `db.pull(pattern, e)`: a map (empty when `e` names nothing).
//! - `db.datoms(index, [components…])`: `[e, a, v, tx, added]` rows, `a`
//!   as its keyword; `index` is `"eavt"`, `"aevt"`, `"avet"` or `"vaet"`.
//! - `db.entid(ident_or_lookup_ref)`: the entity id, or `()`.
//! - `db.rules(ident)`: the rule set installed under `ident` (`:db/rules`),
//!   to pass as the `%` input of `q`.
//! - `db.basis_t()`, and `db.principal()`: who commits the transaction
//!   (a string, or `()` when unknown).
//! - `kw("ns/name")` makes a keyword; `throw "message"` fails the
//!   transaction with that message.

use crate::convert::{Kw, Opaque, to_dynamic, to_edn};
use crate::meter;
use crate::{Limits, Shared};
use model::edn::{Edn, Keyword};
use model::{Db, Index, Value};
use query::{Input, Options};
use rhai::packages::{Package, StandardPackage};
use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, OptimizationLevel};
use std::sync::Arc;

type Fallible<T> = Result<T, Box<EvalAltResult>>;

/// The database value a script reads.
#[derive(Clone)]
pub(crate) struct ScriptDb {
    pub(crate) db: Db,
    pub(crate) principal: Option<ImmutableString>,
    pub(crate) shared: Arc<Shared>,
}

/// The one engine of a runtime: configured once, shared by all threads.
pub(crate) fn engine(limits: &Limits) -> Engine {
    let mut engine = Engine::new_raw();
    engine.register_global_module(StandardPackage::new().as_shared_module());
    for symbol in ["eval", "print", "debug"] {
        engine.disable_symbol(symbol);
    }
    engine
        .set_optimization_level(OptimizationLevel::Simple)
        .set_max_call_levels(limits.call_levels)
        .set_max_expr_depths(64, 32)
        .set_max_string_size(limits.string_bytes)
        .set_max_array_size(limits.collection_items)
        .set_max_map_size(limits.collection_items)
        .set_max_variables(1024)
        .set_max_functions(256)
        .set_strict_variables(true)
        .on_progress(|ops| meter::progress(ops).map(|over| over.token().into()));
    register_types(&mut engine);
    register_db(&mut engine);
    engine
}

fn register_types(engine: &mut Engine) {
    engine
        .register_type_with_name::<Kw>("Keyword")
        .register_fn("kw", |text: &str| Kw(Keyword::new(text)))
        .register_fn("to_string", |k: &mut Kw| k.to_string())
        .register_fn("to_debug", |k: &mut Kw| k.to_string())
        .register_fn("==", |a: Kw, b: Kw| a == b)
        .register_fn("!=", |a: Kw, b: Kw| a != b)
        .register_type_with_name::<Opaque>("Edn")
        .register_fn("to_string", |o: &mut Opaque| o.0.to_string())
        .register_fn("to_debug", |o: &mut Opaque| o.0.to_string())
        .register_fn("==", |a: Opaque, b: Opaque| a == b)
        .register_fn("!=", |a: Opaque, b: Opaque| a != b)
        .register_type_with_name::<ScriptDb>("Db");
}

fn register_db(engine: &mut Engine) {
    engine
        .register_fn("q", |db: &mut ScriptDb, query: &str| {
            db.q(query, Array::new())
        })
        .register_fn("q", |db: &mut ScriptDb, query: &str, inputs: Array| {
            db.q(query, inputs)
        })
        .register_fn("pull", |db: &mut ScriptDb, pattern: &str, e: Dynamic| {
            db.pull(pattern, &e)
        })
        .register_fn(
            "datoms",
            |db: &mut ScriptDb, index: &str, components: Array| db.datoms(index, components),
        )
        .register_fn("entid", |db: &mut ScriptDb, reference: Dynamic| {
            db.entid(&reference)
        })
        .register_fn("rules", |db: &mut ScriptDb, name: Dynamic| db.rules(&name))
        .register_fn("basis_t", |db: &mut ScriptDb| {
            i64::try_from(db.db.basis_t()).unwrap_or(i64::MAX)
        })
        .register_fn("principal", |db: &mut ScriptDb| {
            db.principal.clone().map_or(Dynamic::UNIT, Dynamic::from)
        });
}

/// A failure inside a database call, as the script sees it.
fn fail(message: impl Into<String>) -> Box<EvalAltResult> {
    message.into().into()
}

fn charge(cost: u64) -> Fallible<()> {
    meter::charge(cost).map_err(|over| {
        Box::new(EvalAltResult::ErrorTerminated(
            over.token().into(),
            rhai::Position::NONE,
        ))
    })
}

/// Work charged per database call, and per row or datom it returns: a
/// read costs far more than one engine operation.
const CALL_COST: u64 = 100;
const ROW_COST: u64 = 10;

impl ScriptDb {
    fn q(&self, text: &str, inputs: Array) -> Fallible<Dynamic> {
        charge(CALL_COST)?;
        let query = self.shared.query(text).map_err(fail)?;
        let mut all = Vec::with_capacity(inputs.len() + 1);
        all.push(Input::Db(self.db.clone()));
        for input in &inputs {
            all.push(input_of(input)?);
        }
        let options = Options {
            timeout: meter::time_left(),
            max_rows: Some(self.shared.limits.query_rows),
            ..Options::default()
        };
        let found = query
            .run(&all, &options)
            .map_err(|e| fail(format!("query failed: {e}")))?;
        charge(ROW_COST * found.len() as u64)?;
        to_dynamic(&found.to_edn()).map_err(fail)
    }

    fn pull(&self, pattern: &str, e: &Dynamic) -> Fallible<Dynamic> {
        charge(CALL_COST)?;
        let pattern = self.shared.pattern(pattern).map_err(fail)?;
        let reference = to_edn(e).map_err(fail)?;
        let Some(e) = self.db.entid(&reference).map_err(|e| fail(e.to_string()))? else {
            return Ok(Dynamic::from_map(rhai::Map::new()));
        };
        let pulled = query::pull(&self.db, &pattern, &Value::Ref(e))
            .map_err(|e| fail(format!("pull failed: {e}")))?;
        to_dynamic(&pulled.to_edn()).map_err(fail)
    }

    fn datoms(&self, index: &str, components: Array) -> Fallible<Array> {
        charge(CALL_COST)?;
        let index = match index.to_ascii_lowercase().trim_start_matches(':') {
            "eavt" => Index::Eavt,
            "aevt" => Index::Aevt,
            "avet" => Index::Avet,
            "vaet" => Index::Vaet,
            other => {
                return Err(fail(format!(
                    "no index {other}: use eavt, aevt, avet or vaet"
                )));
            }
        };
        let components = components
            .iter()
            .map(component)
            .collect::<Fallible<Vec<_>>>()?;
        let limit = self.shared.limits.datoms_per_call;
        let mut rows = Array::new();
        let found = self
            .db
            .datoms(index, &components)
            .map_err(|e| fail(format!("datoms failed: {e}")))?;
        for d in found {
            let d = d.map_err(|e| fail(format!("datoms failed: {e}")))?;
            if rows.len() == limit {
                return Err(fail(format!(
                    "datoms found more than {limit} datoms: give more components"
                )));
            }
            charge(ROW_COST)?;
            let a = match self.db.ident(d.a()) {
                Some(k) => Dynamic::from(Kw(k.clone())),
                None => Dynamic::from_int(id(d.a())),
            };
            let row: Array = vec![
                Dynamic::from_int(id(d.e())),
                a,
                to_dynamic(&d.v().to_edn()).map_err(fail)?,
                Dynamic::from_int(id(d.tx())),
                Dynamic::from_bool(d.added()),
            ];
            rows.push(Dynamic::from_array(row));
        }
        Ok(rows)
    }

    fn entid(&self, reference: &Dynamic) -> Fallible<Dynamic> {
        charge(CALL_COST)?;
        let reference = to_edn(reference).map_err(fail)?;
        match self.db.entid(&reference).map_err(|e| fail(e.to_string()))? {
            Some(e) => Ok(Dynamic::from_int(id(e))),
            None => Ok(Dynamic::UNIT),
        }
    }

    fn rules(&self, name: &Dynamic) -> Fallible<Dynamic> {
        charge(CALL_COST)?;
        let name = to_edn(name).map_err(fail)?;
        let Some(e) = self.db.entid(&name).map_err(|e| fail(e.to_string()))? else {
            return Err(fail(format!("no rule set {name}")));
        };
        let text = self
            .db
            .datoms(
                Index::Eavt,
                &[Value::Ref(e), Value::Ref(model::schema::bootstrap::RULES)],
            )
            .map_err(|e| fail(e.to_string()))?
            .next()
            .transpose()
            .map_err(|e| fail(e.to_string()))?;
        match text.as_ref().and_then(|d| d.v().as_str()) {
            Some(text) => {
                let rules = model::edn::parse(text)
                    .map_err(|e| fail(format!("the :db/rules of {name}: {e}")))?;
                Ok(Dynamic::from(Opaque(rules)))
            }
            None => Err(fail(format!(
                "{name} is not a rule set: it has no :db/rules"
            ))),
        }
    }
}

/// An entity id as a script integer (ids stay below 2^63).
fn id(e: u64) -> i64 {
    i64::try_from(e).unwrap_or(i64::MAX)
}

/// A query input from a script value.
fn input_of(value: &Dynamic) -> Fallible<Input> {
    Ok(Input::Edn(to_edn(value).map_err(fail)?))
}

/// An index component from a script value.
fn component(value: &Dynamic) -> Fallible<Value> {
    let edn = to_edn(value).map_err(fail)?;
    Ok(match edn {
        Edn::Long(n) => Value::Long(n),
        Edn::Keyword(k) => Value::Keyword(k),
        Edn::String(s) => Value::String(s),
        Edn::Boolean(b) => Value::Boolean(b),
        Edn::Double(x) => Value::Double(x),
        Edn::Inst(i) => Value::Instant(i),
        Edn::Uuid(u) => Value::Uuid(u),
        other => return Err(fail(format!("{other} is not an index component"))),
    })
}
