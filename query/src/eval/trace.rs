//! What the evaluation did, for [`crate::explain`]: each clause as it ran
//! (in the order the planner picked), how a data pattern read its source
//! (index probes per key, or one scan hash-joined with the keys) and the
//! rows it took and gave. Also the join strategy a caller may force, so
//! tests can compare the plans' answers.
//!
//! Like the limits in [`super::guard`], the trace lives in a thread-local
//! for the duration of one evaluation: clauses deep inside rules and
//! branches record without a handle passed down to them.

use std::cell::{Cell, RefCell};

/// How data patterns with bound variables read a database.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum JoinStrategy {
    /// The planner decides per pattern from the attribute statistics:
    /// index probes per distinct key when the keys are few next to the
    /// datoms the constants select, else one scan and a hash join.
    #[default]
    Auto,
    /// Always index probes per key (for comparisons and tests).
    Probe,
    /// Always one scan of what the constants select and a hash join, when
    /// the constants select less than a whole index (for comparisons and
    /// tests).
    Scan,
}

/// One clause of an explained plan: how it ran and what it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Nesting: 0 for the query's own clauses, 1 inside a rule body,
    /// `or`/`not` branch, and so on.
    pub depth: usize,
    /// The clause as written.
    pub clause: String,
    /// How it ran (for data patterns: the index and the join strategy).
    pub how: String,
    /// How many times it ran (rule bodies run once per fixpoint round).
    pub runs: usize,
    /// Input rows (the bindings it joined with), summed over its runs.
    pub rows_in: usize,
    /// Output rows, summed over its runs.
    pub rows_out: usize,
}

thread_local! {
    static STEPS: RefCell<Option<Vec<Step>>> = const { RefCell::new(None) };
    static HOW: RefCell<Option<String>> = const { RefCell::new(None) };
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    static STRATEGY: Cell<JoinStrategy> = const { Cell::new(JoinStrategy::Auto) };
}

/// Recording and strategy for one evaluation on this thread, until dropped.
pub(crate) struct Scope {
    outer_steps: Option<Vec<Step>>,
    outer_strategy: JoinStrategy,
    outer_depth: usize,
}

impl Scope {
    pub(crate) fn enter(record: bool, strategy: JoinStrategy) -> Scope {
        Scope {
            outer_steps: STEPS.with(|s| s.replace(record.then(Vec::new))),
            outer_strategy: STRATEGY.with(|s| s.replace(strategy)),
            outer_depth: DEPTH.with(|d| d.replace(0)),
        }
    }

    /// The steps recorded so far (empty when not recording).
    pub(crate) fn steps(&self) -> Vec<Step> {
        STEPS.with(|s| s.borrow().clone().unwrap_or_default())
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        STEPS.with(|s| *s.borrow_mut() = self.outer_steps.take());
        STRATEGY.with(|s| s.set(self.outer_strategy));
        DEPTH.with(|d| d.set(self.outer_depth));
    }
}

/// The join strategy of the running evaluation.
pub(crate) fn strategy() -> JoinStrategy {
    STRATEGY.with(Cell::get)
}

/// True when the running evaluation records its plan.
pub(crate) fn recording() -> bool {
    STEPS.with(|s| s.borrow().is_some())
}

/// Says how the clause running now reads its source.
pub(crate) fn how(text: impl FnOnce() -> String) {
    if recording() {
        HOW.with(|h| *h.borrow_mut() = Some(text()));
    }
}

/// Runs `f` one level deeper (a rule body, a branch).
pub(crate) fn nested<T>(f: impl FnOnce() -> T) -> T {
    DEPTH.with(|d| d.set(d.get() + 1));
    let out = f();
    DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    out
}

/// A clause starts running on `rows_in` rows: its step goes before the
/// steps of what it runs inside (rule bodies, branches). Returns the
/// step's place for [`finish`]; `None` when not recording.
pub(crate) fn start(clause: &str, rows_in: usize) -> Option<usize> {
    if !recording() {
        return None;
    }
    HOW.with(|h| h.borrow_mut().take());
    let depth = DEPTH.with(Cell::get);
    STEPS.with(|s| {
        let mut s = s.borrow_mut();
        let steps = s.as_mut()?;
        steps.push(Step {
            depth,
            clause: clause.to_string(),
            how: String::new(),
            runs: 1,
            rows_in,
            rows_out: 0,
        });
        Some(steps.len() - 1)
    })
}

/// The clause of step `at` gave `rows_out`; `kind` says how it ran unless
/// the clause said more. Runs of the same clause at the same depth, run
/// the same way, add up into the first one's step.
pub(crate) fn finish(at: usize, kind: &str, rows_out: usize) {
    let how = HOW
        .with(|h| h.borrow_mut().take())
        .unwrap_or_else(|| kind.to_string());
    STEPS.with(|s| {
        let mut s = s.borrow_mut();
        let Some(steps) = s.as_mut() else { return };
        let Some(step) = steps.get_mut(at) else {
            return;
        };
        step.how = how;
        step.rows_out = rows_out;
        let step = step.clone();
        let earlier = steps[..at]
            .iter()
            .position(|x| x.depth == step.depth && x.clause == step.clause && x.how == step.how);
        if let Some(i) = earlier {
            let first = &mut steps[i];
            first.runs += 1;
            first.rows_in += step.rows_in;
            first.rows_out += step.rows_out;
            // Its nested steps stay: they are merged into their own
            // earlier twins when they finish.
            steps.remove(at);
        }
    });
}
