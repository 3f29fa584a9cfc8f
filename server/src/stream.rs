//! `GET /dbs/NAME/reports`: every transaction from a given t on, as
//! Server-Sent Events, gapless and in t order.
//!
//! Each event is `id: T`, `event: tx`, `data: {"t": …, "tx": …,
//! "tx-data": [[e a v tx added] …]}` (EDN with `format=edn`). The stream
//! starts at `from` (a t; default: the next transaction), or right after
//! the `Last-Event-ID` an EventSource sends when it reconnects, so a
//! client that lost its connection resumes with the first transaction it
//! did not see: no gap, no duplicate. Transactions before the peer's
//! report queue starts are read from the log; then the queue's reports
//! follow, those already sent skipped. The peer follows the database
//! through transactor failovers, so the stream does too. A stream that can
//! go on no longer ends with an `event: error` whose data is the error
//! body.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use model::edn::Edn;
use model::{Datom, TxLog};
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use crate::app::{Answer, Call};
use crate::error::{ApiError, long};
use crate::format::Format;
use crate::read::datom_edn;

/// Log entries read at once while catching up.
const CHUNK: u64 = 256;

/// Events buffered for a slow client before the stream waits for it.
const BUFFER: usize = 64;

pub(crate) async fn reports(call: &Call, slot: OwnedSemaphorePermit) -> Result<Answer, ApiError> {
    call.params.only(&["from", "format"])?;
    let format = match call.params.get("format") {
        None => call.format,
        Some(Edn::Symbol(s)) if s.as_str() == "edn" => Format::Edn,
        Some(Edn::Symbol(s)) if s.as_str() == "json" => Format::Json,
        Some(Edn::String(s)) if &**s == "edn" => Format::Edn,
        Some(Edn::String(s)) if &**s == "json" => Format::Json,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "`format` is edn or json, not {other}"
            )));
        }
    };
    let resume = match call.headers.get("last-event-id") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::invalid("Last-Event-ID is the t of the last event seen")
                })?
                + 1,
        ),
    };
    let mut queue = call.conn.tx_report_queue()?;
    let started = queue.basis_t();
    let from = resume
        .or(call.params.natural("from")?)
        .unwrap_or(started + 1);
    let db = call.conn.sync_t(started).await?;
    let (send, receive) = mpsc::channel::<Event>(BUFFER);
    tokio::spawn(async move {
        let _slot = slot;
        let mut next = from;
        // Catch up from the log, in chunks, up to where the queue starts.
        while next <= started {
            let end = (next + CHUNK).min(started + 1);
            let read_db = db.clone();
            let entries = tokio::task::spawn_blocking(move || -> Result<Vec<TxLog>, ApiError> {
                let mut out = Vec::new();
                for entry in read_db.tx_range(Some(next), Some(end))? {
                    out.push(entry?);
                }
                Ok(out)
            })
            .await
            .map_err(|e| ApiError::new(crate::error::Kind::Internal, e.to_string()))
            .and_then(|r| r);
            let entries = match entries {
                Ok(entries) => entries,
                Err(e) => {
                    let _ = send.send(error_event(format, &e)).await;
                    return;
                }
            };
            for entry in entries {
                if send
                    .send(event(format, entry.t, &entry.data))
                    .await
                    .is_err()
                {
                    return; // the client went away
                }
            }
            next = end;
        }
        loop {
            let report = match queue.next().await {
                Ok(report) => report,
                Err(e) => {
                    let _ = send.send(error_event(format, &ApiError::from(e))).await;
                    return;
                }
            };
            if report.t() < next {
                continue; // sent from the log already, or before `from`
            }
            next = report.t() + 1;
            if send
                .send(event(format, report.t(), &report.tx_data))
                .await
                .is_err()
            {
                return;
            }
        }
    });
    let events = futures::stream::unfold(receive, |mut receive| async move {
        let event = receive.recv().await?;
        Some((Ok::<Event, Infallible>(event), receive))
    });
    let sse = Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)));
    let mut response = sse.into_response();
    // The stream ends only when the client leaves, so its connection is
    // never reused: saying so lets a browser close it at once when the
    // page goes away, rather than hold it (and one of its few connections
    // to this host) trying to drain a body that does not end.
    response.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    Ok(Answer::Raw(response))
}

fn event(format: Format, t: u64, data: &[Datom]) -> Event {
    let body = Edn::map([
        (Edn::keyword("t"), long(t)),
        (Edn::keyword("tx"), long(model::t_to_tx(t))),
        (
            Edn::keyword("tx-data"),
            Edn::Vector(data.iter().map(datom_edn).collect()),
        ),
    ]);
    Event::default()
        .id(t.to_string())
        .event("tx")
        .data(format.render(&body))
}

fn error_event(format: Format, error: &ApiError) -> Event {
    Event::default()
        .event("error")
        .data(format.render(&error.to_edn()))
}
