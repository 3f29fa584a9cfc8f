//! Rules: named, possibly recursive groups of clauses, passed to a query
//! as the `%` input.
//!
//! `[[(name ?a [?required] …) clause …] …]`: several definitions with one
//! name are alternatives (or). Checked when parsed: every definition of a
//! name has the same arity, every variable of a head is bound by its body,
//! every rule a body calls exists with that arity, and no rule depends on
//! itself through `not` (negation must be stratified).

use super::clause::{Clause, ClauseKind, Occurrences, clause_vars, clauses};
use super::term::{Var, symbol, var_list, variable};
use crate::error::{Error, ErrorKind, Result, syntax};
use model::edn::{Edn, Symbol};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

/// One definition of a rule.
#[derive(Debug)]
pub(crate) struct RuleDef {
    pub(crate) name: Symbol,
    /// The head variables in call order: required ones first.
    pub(crate) head: Vec<Var>,
    /// How many leading head variables must be bound by the caller.
    pub(crate) required: usize,
    pub(crate) body: Vec<Clause>,
    /// How many rule calls the body makes (see `RuleCall::occurrence`).
    pub(crate) calls: usize,
    pub(crate) text: String,
}

/// A set of parsed rules, the `%` input of a query.
///
/// ```
/// let rules = query::Rules::parse(r#"[[(follows* ?a ?b) [?a :follows ?b]]
///                                     [(follows* ?a ?b) [?a :follows ?c] (follows* ?c ?b)]]"#).unwrap();
/// assert_eq!(rules.len(), 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Rules {
    by_name: HashMap<Symbol, Vec<Arc<RuleDef>>>,
    text: String,
}

impl Rules {
    /// Parses rules written as EDN text.
    pub fn parse(text: &str) -> Result<Rules> {
        let edn = model::edn::parse(text).map_err(|e| syntax(e.to_string(), "rules"))?;
        Rules::from_edn(&edn)
    }

    /// Parses rules given as EDN data: a vector of definitions.
    pub fn from_edn(edn: &Edn) -> Result<Rules> {
        let forms = edn
            .as_sequence()
            .ok_or_else(|| syntax("rules are a vector of rule definitions", edn))?;
        let mut by_name: HashMap<Symbol, Vec<Arc<RuleDef>>> = HashMap::new();
        for form in forms {
            let def = definition(form)?;
            if let Some(first) = by_name.get(&def.name).and_then(|defs| defs.first())
                && (first.head.len(), first.required) != (def.head.len(), def.required)
            {
                return Err(Error::new(
                    ErrorKind::Rule,
                    format!(
                        "every definition of {} must have the same arity and required variables",
                        def.name
                    ),
                    form,
                ));
            }
            by_name
                .entry(def.name.clone())
                .or_default()
                .push(Arc::new(def));
        }
        let rules = Rules {
            by_name,
            text: edn.to_string(),
        };
        rules.check_calls()?;
        rules.check_stratified()?;
        Ok(rules)
    }

    /// How many distinct rule names there are.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Every definition.
    pub(crate) fn definitions(&self) -> impl Iterator<Item = &RuleDef> {
        self.by_name.values().flatten().map(|d| &**d)
    }

    /// The definitions of a rule.
    pub(crate) fn get(&self, name: &Symbol) -> Option<&[Arc<RuleDef>]> {
        self.by_name.get(name).map(Vec::as_slice)
    }

    /// Every rule call in the bodies names a rule of the right arity.
    fn check_calls(&self) -> Result<()> {
        for def in self.by_name.values().flatten() {
            for (call, text, _) in rule_calls(&def.body, false) {
                self.check_call(call.0, call.1, &text)?;
            }
        }
        Ok(())
    }

    /// Checks a call of `name` with `arity` arguments; `at` names the call.
    pub(crate) fn check_call(&self, name: &Symbol, arity: usize, at: &str) -> Result<()> {
        let defs = self
            .get(name)
            .ok_or_else(|| Error::new(ErrorKind::Rule, format!("no rule named {name}"), at))?;
        let expected = defs[0].head.len();
        if arity != expected {
            return Err(Error::new(
                ErrorKind::Rule,
                format!("{name} takes {expected} arguments, not {arity}"),
                at,
            ));
        }
        Ok(())
    }

    /// No rule may depend on itself through `not`.
    fn check_stratified(&self) -> Result<()> {
        for name in self.by_name.keys() {
            if let Some(path) = self.negative_cycle(name) {
                return Err(Error::new(
                    ErrorKind::Rule,
                    format!("{name} depends on itself through not (negation must be stratified)"),
                    path,
                ));
            }
        }
        Ok(())
    }

    /// A `not` on a path from `start` back to `start`, printed, if any.
    fn negative_cycle(&self, start: &Symbol) -> Option<String> {
        // Depth-first over (rule, passed a negation yet) states.
        let mut seen: BTreeSet<(Symbol, bool)> = BTreeSet::new();
        let mut stack = vec![(start.clone(), false)];
        while let Some((name, negated)) = stack.pop() {
            for def in self.get(&name).into_iter().flatten() {
                for ((callee, _), text, under_not) in rule_calls(&def.body, false) {
                    let negated = negated || under_not;
                    if callee == start && negated {
                        return Some(text);
                    }
                    if seen.insert((callee.clone(), negated)) {
                        stack.push((callee.clone(), negated));
                    }
                }
            }
        }
        None
    }
}

impl fmt::Display for Rules {
    /// The rules as EDN.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Every rule call in `body` (nested ones too): (name, arity), its text,
/// and whether it sits under a `not`.
fn rule_calls(body: &[Clause], under_not: bool) -> Vec<((&Symbol, usize), String, bool)> {
    let mut out = Vec::new();
    for c in body {
        match &c.kind {
            ClauseKind::Rule(r) => {
                out.push(((&r.name, r.args.len()), c.text.to_string(), under_not))
            }
            ClauseKind::Not(n) => out.extend(rule_calls(&n.body, true)),
            ClauseKind::Or(o) => {
                for b in &o.branches {
                    out.extend(rule_calls(b, under_not));
                }
            }
            _ => {}
        }
    }
    out
}

fn definition(form: &Edn) -> Result<RuleDef> {
    let items = match form {
        Edn::Vector(items) if items.len() >= 2 => items,
        _ => {
            return Err(syntax(
                "a rule definition is [(name ?vars…) clauses…] with at least one clause",
                form,
            ));
        }
    };
    let head = match &items[0] {
        Edn::List(head) if !head.is_empty() => head,
        _ => return Err(syntax("a rule head is a list (name ?vars…)", form)),
    };
    let name = symbol(&head[0])
        .filter(|_| variable(&head[0]).is_none())
        .ok_or_else(|| syntax("a rule head starts with the rule's name", form))?;
    let (required, free) = match head.get(1) {
        Some(first @ Edn::Vector(_)) => {
            (var_list(first, form, "the required variables")?, &head[2..])
        }
        _ => (Vec::new(), &head[1..]),
    };
    let free = var_list(&Edn::Vector(free.to_vec()), form, "the rule's variables")?;
    let mut vars = required.clone();
    for v in free {
        if vars.contains(&v) {
            return Err(syntax(format!("the head names {v} twice"), form));
        }
        vars.push(v);
    }
    let mut calls = Occurrences::default();
    let body = clauses(&items[1..], &mut calls)?;
    let used = clause_vars(&body);
    if let Some(v) = vars.iter().find(|v| !used.contains(*v)) {
        return Err(Error::new(
            ErrorKind::UnboundVariable,
            format!("the head variable {v} of {name} is not used in the rule's body"),
            form,
        ));
    }
    Ok(RuleDef {
        name: name.clone(),
        required: required.len(),
        head: vars,
        body,
        calls: calls.count(),
        text: form.to_string(),
    })
}
