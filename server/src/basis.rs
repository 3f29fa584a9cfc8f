//! The basis of a read: the database value it answers from. The peer's
//! latest value, or — with `t` — one that includes transaction t (waiting
//! for it, as `sync`); then seen `as-of` or `since` a point (a t, a tx id,
//! or an instant) and with `history`. Every answer names it.

use model::edn::Edn;
use model::{Db, TimePoint};

use crate::app::Call;
use crate::error::{ApiError, long};

/// The basis parameters every read takes.
pub(crate) const PARAMS: [&str; 4] = ["as-of", "since", "history", "t"];

/// The database value `call`'s basis parameters name (the views are
/// applied later, off the async workers: see [`view`]).
pub(crate) async fn latest(call: &Call) -> Result<Db, ApiError> {
    match call.params.natural("t")? {
        Some(t) => Ok(call.conn.sync_t(t).await?),
        None => Ok(call.conn.db()),
    }
}

/// The views the parameters ask for, on `db` (may read storage).
#[derive(Clone, Debug, Default)]
pub(crate) struct View {
    as_of: Option<TimePoint>,
    since: Option<TimePoint>,
    history: bool,
}

impl View {
    pub(crate) fn of(call: &Call) -> Result<View, ApiError> {
        Ok(View {
            as_of: point(call, "as-of")?,
            since: point(call, "since")?,
            history: call.params.flag("history")?,
        })
    }

    /// The same view without history (what the entity map reads).
    pub(crate) fn current(&self) -> View {
        View {
            history: false,
            ..self.clone()
        }
    }

    pub(crate) fn apply(&self, db: &Db) -> Result<Db, ApiError> {
        let mut view = db.clone();
        if let Some(p) = &self.as_of {
            view = view.as_of(*p)?;
        }
        if let Some(p) = &self.since {
            view = view.since(*p)?;
        }
        if self.history {
            view = view.history();
        }
        Ok(view)
    }
}

/// A t or tx id (an integer), or an instant (`#inst`, or its text).
fn point(call: &Call, name: &str) -> Result<Option<TimePoint>, ApiError> {
    let bad = |what: &Edn| {
        ApiError::invalid(format!(
            "`{name}` is a t, a tx id or an instant (e.g. 1000 or #inst \"2024-01-01\"), not {}",
            crate::format::truncate(&what.to_string())
        ))
    };
    match call.params.get(name) {
        None => Ok(None),
        Some(Edn::Long(n)) if *n >= 0 => Ok(Some(TimePoint::from(n.unsigned_abs()))),
        Some(Edn::Inst(i)) => Ok(Some(TimePoint::Instant(*i))),
        Some(Edn::String(s)) => model::edn::Instant::parse(s)
            .map(|i| Some(TimePoint::Instant(i)))
            .map_err(|_| bad(&Edn::String(s.clone()))),
        Some(other) => Err(bad(other)),
    }
}

/// The fields naming the basis of an answer: `:basis-t`, and `:as-of-t`,
/// `:since-t`, `:history` as the view has them.
pub(crate) fn fields(view: &Db) -> Vec<(Edn, Edn)> {
    let mut out = vec![(Edn::keyword("basis-t"), long(view.basis_t()))];
    if let Some(t) = view.as_of_t() {
        out.push((Edn::keyword("as-of-t"), long(t)));
    }
    if let Some(t) = view.since_t() {
        out.push((Edn::keyword("since-t"), long(t)));
    }
    if view.is_history() {
        out.push((Edn::keyword("history"), Edn::Boolean(true)));
    }
    out
}
