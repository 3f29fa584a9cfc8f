//! The limits of the query running on this thread (deadline, cancel flag,
//! most rows), seen from the inner loops of joins and projections, which
//! have no [`super::Env`] at hand.
//!
//! A cross product the query asks for (`[?a :x/a] [?b :x/b]` found
//! together) is built inside one join: without a look at the limits there,
//! a query of two 100k-datom attributes would run for minutes and fill the
//! memory before any clause boundary checked the clock. So every relation
//! looks at the limits each [`CHECK_EVERY`] rows it grows by, and loops
//! stop as soon as a limit has tripped; the query then fails at the next
//! [`check`] with the limit's error, never with a truncated answer.
//!
//! The limits live in a thread-local set by [`Scope`] for the duration of
//! one evaluation (a query evaluates on the thread that calls it); nested
//! scopes restore the outer one.

use crate::error::{Error, ErrorKind, Result};
use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Rows between two looks at the clock and the cancel flag.
pub(crate) const CHECK_EVERY: usize = 4096;

/// What stops a query.
#[derive(Clone, Debug, Default)]
pub(crate) struct Limits {
    pub(crate) deadline: Option<Instant>,
    pub(crate) cancel: Option<Arc<AtomicBool>>,
    pub(crate) max_rows: Option<usize>,
}

/// Why a query stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trip {
    Deadline,
    Cancelled,
    Rows(usize),
}

thread_local! {
    static LIMITS: RefCell<Limits> = RefCell::new(Limits::default());
    static TRIPPED: Cell<Option<Trip>> = const { Cell::new(None) };
}

/// The limits of one evaluation on this thread, until dropped.
pub(crate) struct Scope {
    outer: Limits,
    outer_trip: Option<Trip>,
}

impl Scope {
    pub(crate) fn enter(limits: Limits) -> Scope {
        let outer = LIMITS.with(|l| l.replace(limits));
        let outer_trip = TRIPPED.with(|t| t.replace(None));
        Scope { outer, outer_trip }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        LIMITS.with(|l| *l.borrow_mut() = std::mem::take(&mut self.outer));
        TRIPPED.with(|t| t.set(self.outer_trip));
    }
}

/// True once a limit has tripped: loops stop, the query will fail.
pub(crate) fn stopped() -> bool {
    TRIPPED.with(Cell::get).is_some()
}

/// A relation has grown to `rows`: looks at the limits (call it every
/// [`CHECK_EVERY`] rows). Returns true when the query must stop.
pub(crate) fn grown(rows: usize) -> bool {
    if let Some(trip) = LIMITS.with(|l| look(&l.borrow(), rows)) {
        TRIPPED.with(|t| t.set(Some(trip)));
    }
    stopped()
}

fn look(limits: &Limits, rows: usize) -> Option<Trip> {
    if limits.max_rows.is_some_and(|max| rows > max) {
        return Some(Trip::Rows(limits.max_rows.unwrap_or(rows)));
    }
    if limits
        .cancel
        .as_ref()
        .is_some_and(|c| c.load(Ordering::Relaxed))
    {
        return Some(Trip::Cancelled);
    }
    if limits.deadline.is_some_and(|d| Instant::now() > d) {
        return Some(Trip::Deadline);
    }
    None
}

/// Fails when a limit has tripped or trips now (the deadline passed, the
/// cancel flag is set).
pub(crate) fn check() -> Result<()> {
    let trip = TRIPPED
        .with(Cell::get)
        .or_else(|| LIMITS.with(|l| look(&l.borrow(), 0)));
    match trip {
        None => Ok(()),
        Some(trip) => {
            TRIPPED.with(|t| t.set(Some(trip)));
            Err(error(trip))
        }
    }
}

fn error(trip: Trip) -> Error {
    match trip {
        Trip::Deadline => Error::new(ErrorKind::Timeout, "the query ran past its timeout", ""),
        Trip::Cancelled => Error::new(ErrorKind::Cancelled, "the query was cancelled", ""),
        Trip::Rows(max) => Error::new(
            ErrorKind::TooLarge,
            format!("an intermediate result grew past the limit of {max} rows"),
            "",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn limits_trip_and_scopes_nest() {
        assert!(check().is_ok());
        let cancel = Arc::new(AtomicBool::new(false));
        {
            let _outer = Scope::enter(Limits {
                cancel: Some(cancel.clone()),
                max_rows: Some(10),
                ..Limits::default()
            });
            assert!(!grown(5));
            {
                let _inner = Scope::enter(Limits {
                    deadline: Some(Instant::now() - Duration::from_millis(1)),
                    ..Limits::default()
                });
                assert_eq!(check().unwrap_err().kind(), ErrorKind::Timeout);
                assert!(stopped());
            }
            assert!(!stopped(), "the inner scope's trip ends with it");
            assert!(grown(11));
            assert_eq!(check().unwrap_err().kind(), ErrorKind::TooLarge);
        }
        assert!(check().is_ok());
        let _scope = Scope::enter(Limits {
            cancel: Some(cancel.clone()),
            ..Limits::default()
        });
        cancel.store(true, Ordering::Relaxed);
        assert_eq!(check().unwrap_err().kind(), ErrorKind::Cancelled);
    }
}
