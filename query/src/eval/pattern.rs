//! Matching a data pattern `[e a v tx op]` against a source, joined with
//! the bindings so far.
//!
//! The input rows are grouped by the values of the pattern's bound
//! variables (resolved: idents and lookup refs become entity ids). Then
//! either each distinct key probes the index its bound positions select
//! (EAVT, AEVT, AVET, VAET), or, when there are many keys and the
//! constants alone select few datoms, those datoms are scanned once and
//! hash-joined with the groups.

use super::Eval;
use super::context::Context;
use super::groups::Groups;
use super::probe::Probe;
use super::relation::Relation;
use super::source::Source;
use super::trace::{self, JoinStrategy};
use crate::error::{Error, ErrorKind, Result};
use crate::parse::clause::{Clause, Pattern};
use crate::parse::term::{Term, Var};
use crate::resolve;
use crate::value::{hash_key, key_eq};
use model::{Datom, Db, Value};

/// Positions of a pattern.
pub(super) const E: usize = 0;
pub(super) const A: usize = 1;
pub(super) const V: usize = 2;
pub(super) const TX: usize = 3;
pub(super) const OP: usize = 4;

/// Below this many distinct keys, probing is always right.
const FEW_KEYS: usize = 32;
/// Scan instead of probing when the constants select fewer than this many
/// datoms per key. A probe costs about as much as scanning eight datoms;
/// a lower bound keeps the counting that decides cheap next to the probes.
const SCAN_PER_KEY: usize = 2;

/// How one position of the pattern matches.
#[derive(Clone, Debug)]
pub(super) enum Slot {
    /// `_` or a position the pattern leaves out.
    Any,
    /// A constant (resolved for the source).
    Const(Value),
    /// A variable the input binds: key element `k`.
    Key(usize),
    /// A variable first seen here: new output column.
    New,
    /// A variable first seen at an earlier position of the pattern.
    Same(usize),
}

/// One candidate fact: a datom or a tuple of a collection.
trait Fact {
    /// The value at a position, if the fact has it.
    fn at(&self, pos: usize) -> Option<Value>;

    /// True when the fact has a value at the position.
    fn has(&self, pos: usize) -> bool;
}

impl Fact for Datom {
    fn at(&self, pos: usize) -> Option<Value> {
        Some(match pos {
            E => Value::Ref(self.e()),
            A => Value::Ref(self.a()),
            V => self.v().clone(),
            TX => Value::Ref(self.tx()),
            _ => Value::Boolean(self.added()),
        })
    }

    fn has(&self, pos: usize) -> bool {
        pos <= OP
    }
}

impl Fact for [Value] {
    fn at(&self, pos: usize) -> Option<Value> {
        self.get(pos).cloned()
    }

    fn has(&self, pos: usize) -> bool {
        pos < self.len()
    }
}

/// A pattern compiled against its input: slots, keys and new variables.
pub(super) struct Compiled<'p> {
    pub(super) slots: Vec<Slot>,
    /// For each key element: its position and its input column.
    keys: Vec<(usize, usize)>,
    /// New variables and their first positions.
    new: Vec<(&'p Var, usize)>,
    /// True when a constant resolves to nothing: no fact can match.
    impossible: bool,
}

impl Compiled<'_> {
    /// True when `fact` agrees with the constants and repeated variables.
    fn admits(&self, fact: &(impl Fact + ?Sized)) -> bool {
        self.slots.iter().enumerate().all(|(pos, slot)| match slot {
            Slot::Const(c) => fact.at(pos).is_some_and(|v| key_eq(&v, c)),
            Slot::Same(first) => match (fact.at(pos), fact.at(*first)) {
                (Some(x), Some(y)) => key_eq(&x, &y),
                _ => false,
            },
            _ => true,
        })
    }

    /// The fact's values at the key positions.
    fn key_of(&self, fact: &(impl Fact + ?Sized), key: &mut Vec<Value>) -> bool {
        key.clear();
        for (pos, _) in &self.keys {
            match fact.at(*pos) {
                Some(v) => key.push(v),
                None => return false,
            }
        }
        true
    }

    /// Appends the output rows of `fact` for the input rows `members`.
    fn emit(
        &self,
        fact: &(impl Fact + ?Sized),
        members: impl Iterator<Item = usize>,
        input: &Relation,
        out: &mut Relation,
    ) {
        if !self.new.iter().all(|(_, pos)| fact.has(*pos)) {
            return;
        }
        for m in members {
            let fresh = self.new.iter().filter_map(|(_, pos)| fact.at(*pos));
            out.push_parts(input.row(m), fresh);
        }
    }
}

impl Eval<'_, '_> {
    /// Runs a data pattern.
    pub(super) fn pattern(
        &mut self,
        clause: &Clause,
        p: &Pattern,
        mut ctx: Context,
    ) -> Result<Context> {
        let bound: Vec<Var> = p
            .terms
            .iter()
            .filter_map(Term::var)
            .filter(|v| ctx.bound(v))
            .cloned()
            .collect();
        let input = ctx.take_smallest(&bound);
        let source = self.source(&p.src, &clause.text)?;
        let found = match source {
            Source::Db(db) => self.match_db(clause, p, db, input)?,
            Source::Tuples(tuples) => match_tuples(clause, p, tuples, input)?,
        };
        // Variables bound by other relations were matched as new ones: join
        // them back, resolving their values as the pattern would have.
        let elsewhere: Vec<Var> = bound.into_iter().filter(|v| ctx.bound(v)).collect();
        if elsewhere.is_empty() {
            ctx.add(found);
            return Ok(ctx);
        }
        let other = ctx.take(&elsewhere);
        let joined = match source {
            Source::Db(db) => {
                let value_is_ref = value_is_ref(db, p);
                join_resolved(found, other, |var, v| {
                    let pos = p
                        .terms
                        .iter()
                        .position(|t| t.var() == Some(var))
                        .unwrap_or(V);
                    resolve_key(db, pos, v, value_is_ref)
                })
            }
            .map_err(|e| Error::model(e, &clause.text))?,
            Source::Tuples(_) => found.join(other),
        };
        ctx.add(joined);
        Ok(ctx)
    }

    fn match_db(&self, clause: &Clause, p: &Pattern, db: &Db, input: Relation) -> Result<Relation> {
        let compiled = compile(p, &input, |pos, c| {
            resolve_constant(db, p, pos, c, &clause.text)
        })?;
        let mut out = output_relation(&input, &compiled);
        if compiled.impossible {
            return Ok(out);
        }
        let value_is_ref = value_is_ref(db, p);
        let groups = group_keys(&compiled, &input, |pos, v| {
            resolve_key(db, pos, v, value_is_ref)
        })
        .map_err(|e| Error::model(e, &clause.text))?;
        let fail = |e: model::Error| Error::model(e, &clause.text);
        let consts = Probe::of(&compiled, &[]);
        let keys = groups.len();
        if self.should_scan(db, &consts, keys) {
            trace::how(|| {
                format!(
                    "scan {}{} once, hash-join with {keys} keys",
                    consts.describe(),
                    selected(db, &consts)
                )
            });
            let mut key = Vec::with_capacity(compiled.keys.len());
            for d in consts.datoms(db).map_err(fail)? {
                let d = d.map_err(fail)?;
                if !compiled.admits(&d) || !compiled.key_of(&d, &mut key) {
                    continue;
                }
                if let Some(g) = groups.find_hashed(hash_key(&key), &key) {
                    compiled.emit(&d, groups.members(g), &input, &mut out);
                }
            }
            return Ok(out);
        }
        trace::how(|| match compiled.keys.is_empty() {
            true => format!("read {}{}", consts.describe(), selected(db, &consts)),
            false => format!(
                "probe {} per key, {keys} keys ({}{})",
                Probe::of(&compiled, groups.key(0)).describe(),
                consts.describe(),
                selected(db, &consts)
            ),
        });
        for g in 0..groups.len() {
            self.env.check_deadline()?;
            let probe = Probe::of(&compiled, groups.key(g));
            for d in probe.datoms(db).map_err(fail)? {
                let d = d.map_err(fail)?;
                if probe.admits(&d) && compiled.admits(&d) {
                    compiled.emit(&d, groups.members(g), &input, &mut out);
                }
            }
        }
        Ok(out)
    }

    /// Scan the constants' datoms once instead of probing per key? Never
    /// a whole index; otherwise as the query's strategy says, or (the
    /// default) when the constants select fewer datoms than
    /// [`SCAN_PER_KEY`] per key: known from the attribute statistics, or
    /// counted up to that budget when there are none.
    fn should_scan(&self, db: &Db, consts: &Probe, keys: usize) -> bool {
        if !consts.selective() {
            return false;
        }
        match trace::strategy() {
            JoinStrategy::Probe => return false,
            JoinStrategy::Scan => return true,
            JoinStrategy::Auto if keys <= FEW_KEYS => return false,
            JoinStrategy::Auto => {}
        }
        let budget = keys.saturating_mul(SCAN_PER_KEY);
        if let Some(n) = consts.selects(db) {
            return n < budget as u64;
        }
        consts
            .datoms(db)
            .map(|it| it.take(budget).count() < budget)
            .unwrap_or(false)
    }
}

/// What the statistics say a lookup selects, for the plan (`""` when
/// they do not say).
fn selected(db: &Db, consts: &Probe) -> String {
    consts
        .selects(db)
        .map_or(String::new(), |n| format!(": ~{n} datoms"))
}

/// Matches a pattern against a collection of tuples (by position).
fn match_tuples(
    clause: &Clause,
    p: &Pattern,
    tuples: &[Box<[Value]>],
    input: Relation,
) -> Result<Relation> {
    let compiled = compile(p, &input, |_, c| Ok(Some(c.clone())))?;
    trace::how(|| format!("scan the collection ({} tuples), hash-join", tuples.len()));
    let mut out = output_relation(&input, &compiled);
    let groups = group_keys(&compiled, &input, |_, v| Ok(Some(v.clone())))
        .map_err(|e| Error::model(e, &clause.text))?;
    let mut key = Vec::with_capacity(compiled.keys.len());
    for t in tuples.iter().filter(|t| t.len() >= p.terms.len()) {
        if !compiled.admits(&t[..]) || !compiled.key_of(&t[..], &mut key) {
            continue;
        }
        if let Some(g) = groups.find_hashed(hash_key(&key), &key) {
            compiled.emit(&t[..], groups.members(g), &input, &mut out);
        }
    }
    Ok(out)
}

/// Compiles the pattern's positions; `constant` resolves a constant at a
/// position (`None`: it names nothing, so nothing matches).
fn compile<'p>(
    p: &'p Pattern,
    input: &Relation,
    mut constant: impl FnMut(usize, &Value) -> Result<Option<Value>>,
) -> Result<Compiled<'p>> {
    let mut c = Compiled {
        slots: vec![Slot::Any; 5],
        keys: Vec::new(),
        new: Vec::new(),
        impossible: false,
    };
    for (pos, term) in p.terms.iter().enumerate() {
        c.slots[pos] = match term {
            Term::Blank | Term::Src(_) => Slot::Any,
            Term::Const(k) => match constant(pos, &k.value)? {
                Some(v) => Slot::Const(v),
                None => {
                    c.impossible = true;
                    Slot::Any
                }
            },
            Term::Var(v) => match (input.col(v), c.new.iter().find(|(n, _)| *n == v)) {
                (Some(col), _) => {
                    c.keys.push((pos, col));
                    Slot::Key(c.keys.len() - 1)
                }
                (None, Some((_, first))) => Slot::Same(*first),
                (None, None) => {
                    c.new.push((v, pos));
                    Slot::New
                }
            },
        };
    }
    Ok(c)
}

fn output_relation(input: &Relation, c: &Compiled<'_>) -> Relation {
    let mut vars = input.vars().to_vec();
    vars.extend(c.new.iter().map(|(v, _)| (*v).clone()));
    Relation::empty(vars)
}

/// Groups the input rows by their (resolved) key values; rows whose key
/// resolves to nothing are left out.
fn group_keys(
    c: &Compiled<'_>,
    input: &Relation,
    mut resolve: impl FnMut(usize, &Value) -> model::Result<Option<Value>>,
) -> model::Result<Groups> {
    let mut groups = Groups::new(c.keys.len());
    let mut key = Vec::with_capacity(c.keys.len());
    'rows: for (i, row) in input.rows().enumerate() {
        key.clear();
        for (pos, col) in &c.keys {
            match resolve(*pos, &row[*col])? {
                Some(v) => key.push(v),
                None => continue 'rows,
            }
        }
        groups.insert(&key, i);
    }
    Ok(groups)
}

/// A constant of a database pattern, resolved: entities and attributes
/// to ids (an unknown attribute is an error), ref values to ids.
fn resolve_constant(
    db: &Db,
    p: &Pattern,
    pos: usize,
    v: &Value,
    at: &str,
) -> Result<Option<Value>> {
    let fail = |e: model::Error| Error::model(e, at);
    match pos {
        E | TX => Ok(resolve::entity(db, v).map_err(fail)?.map(Value::Ref)),
        A => match resolve::attribute(db, v) {
            Some(a) => Ok(Some(Value::Ref(a))),
            None => Err(Error::new(
                ErrorKind::UnknownAttribute,
                format!("{v} is not an attribute"),
                at,
            )),
        },
        V => {
            let ref_attr = match p.terms.get(A) {
                Some(Term::Const(a)) => resolve::attribute(db, &a.value)
                    .and_then(|a| db.attribute(a))
                    .is_some_and(|a| a.is_ref()),
                _ => false,
            };
            match ref_attr {
                true => Ok(resolve::entity(db, v).map_err(fail)?.map(Value::Ref)),
                false => Ok(Some(v.clone())),
            }
        }
        _ => match v {
            Value::Boolean(_) => Ok(Some(v.clone())),
            other => Err(Error::new(
                ErrorKind::Syntax,
                format!("the op position holds true or false, not {other}"),
                at,
            )),
        },
    }
}

/// True when the pattern's attribute is a constant reference attribute.
fn value_is_ref(db: &Db, p: &Pattern) -> bool {
    match p.terms.get(A) {
        Some(Term::Const(a)) => resolve::attribute(db, &a.value)
            .and_then(|a| db.attribute(a))
            .is_some_and(|a| a.is_ref()),
        _ => false,
    }
}

/// Joins a pattern's result with a relation binding some of its variables
/// (matched as new ones), whose values are resolved first (an ident or a
/// lookup ref finds the entity id the pattern produced). The relation's
/// own values are kept.
fn join_resolved(
    found: Relation,
    other: Relation,
    mut resolve: impl FnMut(&Var, &Value) -> model::Result<Option<Value>>,
) -> model::Result<Relation> {
    let shared: Vec<(usize, usize)> = other
        .vars()
        .iter()
        .enumerate()
        .filter_map(|(i, v)| found.col(v).map(|j| (i, j)))
        .collect();
    let mut index = Groups::new(shared.len());
    let mut key = Vec::with_capacity(shared.len());
    'rows: for (r, row) in other.rows().enumerate() {
        key.clear();
        for (i, _) in &shared {
            match resolve(&other.vars()[*i], &row[*i])? {
                Some(v) => key.push(v),
                None => continue 'rows,
            }
        }
        index.insert(&key, r);
    }
    let extra: Vec<usize> = (0..found.vars().len())
        .filter(|j| !shared.iter().any(|(_, s)| s == j))
        .collect();
    let mut vars = other.vars().to_vec();
    vars.extend(extra.iter().map(|j| found.vars()[*j].clone()));
    let mut out = Relation::empty(vars);
    for row in found.rows() {
        key.clear();
        key.extend(shared.iter().map(|(_, j)| row[*j].clone()));
        if let Some(g) = index.find(&key) {
            for m in index.members(g) {
                out.push_parts(other.row(m), extra.iter().map(|j| row[*j].clone()));
            }
        }
    }
    Ok(out)
}

/// A bound value at a position of a database pattern, resolved like a constant.
fn resolve_key(db: &Db, pos: usize, v: &Value, value_is_ref: bool) -> model::Result<Option<Value>> {
    match pos {
        E | TX => Ok(resolve::entity(db, v)?.map(Value::Ref)),
        A => Ok(resolve::attribute(db, v).map(Value::Ref)),
        V if value_is_ref => Ok(resolve::entity(db, v)?.map(Value::Ref)),
        _ => Ok(Some(v.clone())),
    }
}
