//! Relations: rows of values for a list of variables, stored row after
//! row in one vector (no allocation per row), with hash joins.

use super::groups::Groups;
use super::guard;
use crate::parse::term::Var;
use model::Value;

/// Bindings of some variables: `len` rows of `vars.len()` values each.
#[derive(Clone, Debug)]
pub(crate) struct Relation {
    vars: Vec<Var>,
    data: Vec<Value>,
    len: usize,
}

impl Relation {
    /// No variables and one (empty) row: the identity of joins.
    pub(crate) fn unit() -> Relation {
        Relation {
            vars: Vec::new(),
            data: Vec::new(),
            len: 1,
        }
    }

    /// True for the unit relation (no variables, one row).
    fn is_unit(&self) -> bool {
        self.vars.is_empty() && self.len == 1
    }

    /// No rows over `vars`.
    pub(crate) fn empty(vars: Vec<Var>) -> Relation {
        Relation {
            vars,
            data: Vec::new(),
            len: 0,
        }
    }

    /// The variables, in column order.
    pub(crate) fn vars(&self) -> &[Var] {
        &self.vars
    }

    /// How many rows.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// True when there are no rows.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The column of `var`, if bound here.
    pub(crate) fn col(&self, var: &Var) -> Option<usize> {
        self.vars.iter().position(|v| v == var)
    }

    /// True when `var` is a column.
    pub(crate) fn has(&self, var: &Var) -> bool {
        self.vars.contains(var)
    }

    /// Row `i`.
    pub(crate) fn row(&self, i: usize) -> &[Value] {
        let w = self.vars.len();
        &self.data[i * w..(i + 1) * w]
    }

    /// Every row.
    pub(crate) fn rows(&self) -> impl Iterator<Item = &[Value]> {
        (0..self.len).map(|i| self.row(i))
    }

    /// Appends a row of `vars.len()` values.
    pub(crate) fn push(&mut self, row: &[Value]) {
        debug_assert_eq!(row.len(), self.vars.len());
        self.data.extend_from_slice(row);
        self.grew();
    }

    /// Counts a new row, looking at the query's limits every
    /// [`guard::CHECK_EVERY`] rows (loops stop once [`guard::stopped`]).
    fn grew(&mut self) {
        self.len += 1;
        if self.len.is_multiple_of(guard::CHECK_EVERY) {
            guard::grown(self.len);
        }
    }

    /// Appends a row given as two parts.
    pub(crate) fn push_parts(&mut self, head: &[Value], tail: impl IntoIterator<Item = Value>) {
        let before = self.data.len();
        self.data.extend_from_slice(head);
        self.data.extend(tail);
        debug_assert_eq!(self.data.len() - before, self.vars.len());
        self.grew();
    }

    /// The rows for which `keep` holds.
    pub(crate) fn retain(self, mut keep: impl FnMut(&[Value]) -> bool) -> Relation {
        let mut out = Relation::empty(self.vars.clone());
        for row in self.rows() {
            if guard::stopped() {
                break;
            }
            if keep(row) {
                out.push(row);
            }
        }
        out
    }

    /// The distinct rows over `vars` (each must be a column).
    pub(crate) fn project(&self, vars: &[Var]) -> Relation {
        let cols: Vec<usize> = vars.iter().filter_map(|v| self.col(v)).collect();
        debug_assert_eq!(cols.len(), vars.len());
        let mut seen = Groups::new(cols.len());
        let mut out = Relation::empty(vars.to_vec());
        for row in self.rows() {
            if guard::stopped() {
                break;
            }
            if seen.insert_key_cols(row, &cols) {
                out.push_parts(&[], cols.iter().map(|c| row[*c].clone()));
            }
        }
        out
    }

    /// The rows over `vars` (each must be a column), duplicates kept.
    pub(crate) fn select(&self, vars: &[Var]) -> Relation {
        let cols: Vec<usize> = vars.iter().filter_map(|v| self.col(v)).collect();
        let mut out = Relation::empty(vars.to_vec());
        for row in self.rows() {
            if guard::stopped() {
                break;
            }
            out.push_parts(&[], cols.iter().map(|c| row[*c].clone()));
        }
        out
    }

    /// An index of the rows by the values of `vars`.
    pub(crate) fn index_by(&self, vars: &[Var]) -> Groups {
        let cols: Vec<usize> = vars.iter().filter_map(|v| self.col(v)).collect();
        let mut groups = Groups::new(cols.len());
        for (i, row) in self.rows().enumerate() {
            groups.insert_cols(row, &cols, i);
        }
        groups
    }

    /// The natural join: rows agreeing on the shared variables, combined
    /// (a product when nothing is shared). Builds on the smaller side.
    pub(crate) fn join(self, other: Relation) -> Relation {
        if self.is_unit() {
            return other;
        }
        if other.is_unit() {
            return self;
        }
        let shared: Vec<Var> = self.vars.iter().filter(|v| other.has(v)).cloned().collect();
        let (build, probe) = match self.len <= other.len {
            true => (self, other),
            false => (other, self),
        };
        let index = build.index_by(&shared);
        let probe_cols: Vec<usize> = shared.iter().filter_map(|v| probe.col(v)).collect();
        let extra: Vec<usize> = (0..probe.vars.len())
            .filter(|c| !shared.contains(&probe.vars[*c]))
            .collect();
        let mut vars = build.vars.clone();
        vars.extend(extra.iter().map(|c| probe.vars[*c].clone()));
        let mut out = Relation::empty(vars);
        for row in probe.rows() {
            let Some(g) = index.find_cols(row, &probe_cols) else {
                continue;
            };
            for m in index.members(g) {
                if guard::stopped() {
                    return out;
                }
                out.push_parts(build.row(m), extra.iter().map(|c| row[*c].clone()));
            }
        }
        out
    }

    /// The rows whose values of `other`'s variables are not among
    /// `other`'s rows (every variable of `other` must be a column here).
    pub(crate) fn anti_join(self, other: &Relation) -> Relation {
        let index = other.index_by(other.vars());
        let cols: Vec<usize> = other.vars().iter().filter_map(|v| self.col(v)).collect();
        self.retain(|row| index.find_cols(row, &cols).is_none())
    }

    /// Adds the rows of `other` (same variables, maybe in another order).
    pub(crate) fn extend_from(&mut self, other: &Relation) {
        let cols: Vec<usize> = self.vars.iter().filter_map(|v| other.col(v)).collect();
        debug_assert_eq!(cols.len(), self.vars.len());
        for row in other.rows() {
            if guard::stopped() {
                break;
            }
            self.push_parts(&[], cols.iter().map(|c| row[*c].clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::edn::Symbol;

    fn rel(vars: &[&str], rows: &[&[i64]]) -> Relation {
        let mut r = Relation::empty(vars.iter().map(|v| Symbol::new(v)).collect());
        for row in rows {
            r.push(&row.iter().map(|n| Value::Long(*n)).collect::<Vec<_>>());
        }
        r
    }

    fn sorted(r: &Relation, vars: &[&str]) -> Vec<Vec<i64>> {
        let cols: Vec<usize> = vars
            .iter()
            .map(|v| r.col(&Symbol::new(v)).unwrap())
            .collect();
        let mut rows: Vec<Vec<i64>> = r
            .rows()
            .map(|row| {
                cols.iter()
                    .map(|c| match &row[*c] {
                        Value::Long(n) => *n,
                        _ => panic!(),
                    })
                    .collect()
            })
            .collect();
        rows.sort();
        rows
    }

    #[test]
    fn joins_on_shared_variables() {
        let a = rel(&["?a", "?b"], &[&[1, 2], &[1, 3], &[2, 3]]);
        let b = rel(&["?b", "?c"], &[&[3, 7], &[3, 8], &[4, 9]]);
        let j = a.join(b);
        assert_eq!(
            sorted(&j, &["?a", "?b", "?c"]),
            vec![vec![1, 3, 7], vec![1, 3, 8], vec![2, 3, 7], vec![2, 3, 8]]
        );
    }

    #[test]
    fn product_without_shared_variables() {
        let a = rel(&["?a"], &[&[1], &[2]]);
        let b = rel(&["?b"], &[&[5], &[6], &[7]]);
        assert_eq!(a.join(b).len(), 6);
        assert_eq!(Relation::unit().join(rel(&["?x"], &[&[1]])).len(), 1);
    }

    #[test]
    fn project_dedupes_and_anti_join_removes() {
        let a = rel(&["?a", "?b"], &[&[1, 2], &[1, 3], &[2, 3]]);
        assert_eq!(
            sorted(&a.project(&[Symbol::new("?a")]), &["?a"]),
            vec![vec![1], vec![2]]
        );
        let gone = rel(&["?b"], &[&[3]]);
        assert_eq!(sorted(&a.anti_join(&gone), &["?a", "?b"]), vec![vec![1, 2]]);
    }
}
