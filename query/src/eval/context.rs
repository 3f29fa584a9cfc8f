//! The bindings found so far: relations over disjoint sets of variables,
//! standing for their product. Keeping unconnected relations apart avoids
//! cross products until a clause (or `:find`) asks for one.

use super::relation::Relation;
use crate::parse::term::Var;

/// The relations of a query in progress; no variable is in two of them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Context {
    rels: Vec<Relation>,
}

impl Context {
    /// A context holding one relation (the unit relation binds nothing).
    pub(crate) fn of(rel: Relation) -> Context {
        let mut ctx = Context::default();
        ctx.add(rel);
        ctx
    }

    /// True when some relation has no rows: the whole product is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.rels.iter().any(Relation::is_empty)
    }

    /// True when `var` is bound.
    pub(crate) fn bound(&self, var: &Var) -> bool {
        self.rels.iter().any(|r| r.has(var))
    }

    /// How many rows the relation binding `var` has.
    pub(crate) fn rows_of(&self, var: &Var) -> Option<usize> {
        self.rels.iter().find(|r| r.has(var)).map(Relation::len)
    }

    /// Removes and returns the relations binding any of `vars`, joined into
    /// one (their product, since they share no variable); the unit relation
    /// when none does.
    pub(crate) fn take(&mut self, vars: &[Var]) -> Relation {
        let mut taken = Relation::unit();
        let mut i = 0;
        while i < self.rels.len() {
            if vars.iter().any(|v| self.rels[i].has(v)) {
                taken = taken.join(self.rels.swap_remove(i));
            } else {
                i += 1;
            }
        }
        taken
    }

    /// Removes and returns the smallest relation binding any of `vars`
    /// (the unit relation when none does).
    pub(crate) fn take_smallest(&mut self, vars: &[Var]) -> Relation {
        let smallest = (0..self.rels.len())
            .filter(|i| vars.iter().any(|v| self.rels[*i].has(v)))
            .min_by_key(|i| self.rels[*i].len());
        match smallest {
            Some(i) => self.rels.swap_remove(i),
            None => Relation::unit(),
        }
    }

    /// Adds a relation, joining it with every relation it shares a variable
    /// with (one hash join each, never their product).
    pub(crate) fn add(&mut self, rel: Relation) {
        let mut joined = rel;
        let mut i = 0;
        while i < self.rels.len() {
            if self.rels[i].vars().iter().any(|v| joined.has(v)) {
                joined = joined.join(self.rels.swap_remove(i));
            } else {
                i += 1;
            }
        }
        if !joined.vars().is_empty() || joined.is_empty() {
            self.rels.push(joined);
        }
    }

    /// The distinct combinations of `vars`' values (each must be bound).
    pub(crate) fn project(&self, vars: &[Var]) -> Relation {
        if self.is_empty() {
            return Relation::empty(vars.to_vec());
        }
        let parts: Vec<&Relation> = self
            .rels
            .iter()
            .filter(|r| vars.iter().any(|v| r.has(v)))
            .collect();
        if let [only] = parts.as_slice() {
            return only.project(vars);
        }
        let mut product = Relation::unit();
        for rel in parts {
            let mine: Vec<Var> = vars.iter().filter(|v| rel.has(v)).cloned().collect();
            product = product.join(rel.project(&mine));
        }
        product.select(vars)
    }
}
