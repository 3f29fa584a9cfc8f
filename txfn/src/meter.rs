//! The work meter of the script running on this thread: operations the
//! engine counts, plus what the database calls charge, against the call's
//! allowance and a wall-clock backstop.
//!
//! A thread-local because the engine is shared by every thread and its
//! progress callback cannot carry per-call state; a script always runs to
//! its end on the thread that started it.

use std::cell::Cell;
use std::time::Instant;

/// What stopped a script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Over {
    /// The operations allowance.
    Operations,
    /// The wall-clock backstop.
    Time,
}

impl Over {
    /// The token the progress callback hands the engine.
    pub(crate) fn token(self) -> &'static str {
        match self {
            Over::Operations => "over-operations",
            Over::Time => "over-time",
        }
    }

    pub(crate) fn from_token(token: &str) -> Option<Over> {
        match token {
            "over-operations" => Some(Over::Operations),
            "over-time" => Some(Over::Time),
            _ => None,
        }
    }
}

#[derive(Clone, Copy)]
struct Meter {
    allowance: u64,
    ops: u64,
    charged: u64,
    deadline: Instant,
}

thread_local! {
    static METER: Cell<Option<Meter>> = const { Cell::new(None) };
}

/// Runs `f` metered with `allowance` operations until `deadline`; returns
/// its result and the work it spent.
pub(crate) fn metered<T>(allowance: u64, deadline: Instant, f: impl FnOnce() -> T) -> (T, u64) {
    let outer = METER.with(|m| {
        m.replace(Some(Meter {
            allowance,
            ops: 0,
            charged: 0,
            deadline,
        }))
    });
    let result = f();
    let spent = METER.with(|m| {
        let spent = m.get().map_or(0, |m| m.ops + m.charged);
        m.set(outer);
        spent
    });
    (result, spent)
}

/// The engine's progress callback: `ops` operations so far in this run.
pub(crate) fn progress(ops: u64) -> Option<Over> {
    METER.with(|m| {
        let mut meter = m.get()?;
        meter.ops = ops;
        m.set(Some(meter));
        if ops + meter.charged > meter.allowance {
            return Some(Over::Operations);
        }
        // The clock is cheap, but not free: look every 256 operations.
        (ops.is_multiple_of(256) && Instant::now() > meter.deadline).then_some(Over::Time)
    })
}

/// Charges `cost` operations for work done outside the engine (database
/// reads); `Err` when that goes over the allowance or the time is up.
pub(crate) fn charge(cost: u64) -> Result<(), Over> {
    METER.with(|m| {
        let Some(mut meter) = m.get() else {
            return Ok(());
        };
        meter.charged = meter.charged.saturating_add(cost);
        m.set(Some(meter));
        if meter.ops + meter.charged > meter.allowance {
            return Err(Over::Operations);
        }
        match Instant::now() > meter.deadline {
            true => Err(Over::Time),
            false => Ok(()),
        }
    })
}

/// The time left to the running script, for the queries it runs.
pub(crate) fn time_left() -> Option<std::time::Duration> {
    METER.with(|m| {
        m.get()
            .map(|meter| meter.deadline.saturating_duration_since(Instant::now()))
    })
}
