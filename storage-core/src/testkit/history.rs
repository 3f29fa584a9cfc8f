//! Whether a recorded history of concurrent operations is linearizable:
//! Wing & Gong's search with Lowe's memoization of (operations done, state)
//! pairs. Tests of the Cassandra simulator and of the Cassandra backend
//! record what their callers saw and check it here against a model of the
//! register.

use std::collections::HashSet;
use std::hash::Hash;

/// One operation as a caller saw it.
#[derive(Clone, Debug)]
pub struct Event<Op> {
    /// When it was called (any monotonic clock, e.g. nanoseconds).
    pub call: u128,
    /// When it returned; `None` when its outcome is unknown: it may take
    /// effect at any time after `call`, or never.
    pub ret: Option<u128>,
    /// What was asked and what came back.
    pub op: Op,
}

/// Whether some order of `history` that respects real time (an event that
/// returned before another was called comes first) explains every result,
/// starting from `initial`. `step(state, op)` lists the states `op` may
/// leave behind when it takes effect on `state` (none when its result
/// cannot have come from `state`).
pub fn is_linearizable<Op, S, F>(history: &[Event<Op>], initial: S, step: F) -> bool
where
    S: Clone + Eq + Hash,
    F: Fn(&S, &Op) -> Vec<S>,
{
    let mut search = Search {
        history,
        step,
        done: vec![false; history.len()],
        seen: HashSet::new(),
    };
    search.from(initial)
}

struct Search<'h, Op, S, F> {
    history: &'h [Event<Op>],
    step: F,
    done: Vec<bool>,
    seen: HashSet<(Vec<bool>, S)>,
}

impl<Op, S, F> Search<'_, Op, S, F>
where
    S: Clone + Eq + Hash,
    F: Fn(&S, &Op) -> Vec<S>,
{
    fn from(&mut self, state: S) -> bool {
        if self.done.iter().all(|d| *d) {
            return true;
        }
        if !self.seen.insert((self.done.clone(), state.clone())) {
            return false;
        }
        // Whatever is taken next must have been called before the earliest
        // return among the events not yet taken.
        let horizon = self
            .history
            .iter()
            .zip(&self.done)
            .filter(|(_, d)| !**d)
            .filter_map(|(e, _)| e.ret)
            .min()
            .unwrap_or(u128::MAX);
        for i in 0..self.history.len() {
            if self.done[i] || self.history[i].call > horizon {
                continue;
            }
            for next in (self.step)(&state, &self.history[i].op) {
                self.done[i] = true;
                if self.from(next) {
                    return true;
                }
                self.done[i] = false;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A register of one number: writes and reads.
    #[derive(Clone, Copy)]
    enum Op {
        Write(u8),
        Read(u8),
    }

    fn step(state: &u8, op: &Op) -> Vec<u8> {
        match *op {
            Op::Write(v) => vec![v],
            Op::Read(v) => (v == *state).then_some(v).into_iter().collect(),
        }
    }

    fn event(call: u128, ret: Option<u128>, op: Op) -> Event<Op> {
        Event { call, ret, op }
    }

    #[test]
    fn a_stale_read_after_a_write_returned_is_not_linearizable() {
        let history = [
            event(0, Some(1), Op::Write(1)),
            event(2, Some(3), Op::Read(0)),
        ];
        assert!(!is_linearizable(&history, 0, step));
    }

    #[test]
    fn a_read_concurrent_with_a_write_may_see_either_value() {
        for seen in [0, 1] {
            let history = [
                event(0, Some(5), Op::Write(1)),
                event(1, Some(3), Op::Read(seen)),
            ];
            assert!(is_linearizable(&history, 0, step), "read {seen}");
        }
    }

    #[test]
    fn an_unknown_outcome_may_take_effect_later_or_never() {
        let unknown = event(0, None, Op::Write(1));
        let later = |v| event(10, Some(11), Op::Read(v));
        assert!(is_linearizable(&[unknown.clone(), later(1)], 0, step));
        assert!(is_linearizable(&[unknown.clone(), later(0)], 0, step));
        assert!(!is_linearizable(&[unknown, later(2)], 0, step));
    }
}
