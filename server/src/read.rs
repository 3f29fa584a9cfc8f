//! The read endpoints: q, pull, pull-many, datoms, seek-datoms,
//! index-range, entity, tx-range (and `with`, which reads a speculative
//! value), plus the server-wide status, health and OpenAPI document.
//!
//! Each answer is a map with the basis fields (`:basis-t`, …) and the
//! result. Paged endpoints answer at most `limit` items (capped by the
//! server's `max_results`) and a `:next-cursor` (`:next-start` for the
//! log) when there may be more; giving it back (with the same basis)
//! resumes exactly after the last item.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use access::Identity;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use model::edn::Edn;
use model::{Datom, Db, Index, Value};
use query::{Input, Options, PullPattern, Query};

use crate::app::{Answer, Call, Endpoint};
use crate::basis::{self, View};
use crate::error::{ApiError, Kind, long};
use crate::format::{Format, truncate};
use crate::{OPENAPI, Shared};

/// The items of a page when the request names no `limit`.
const DEFAULT_PAGE: u64 = 1000;

/// Runs a per-database read endpoint.
pub(crate) async fn endpoint(endpoint: Endpoint, call: &Call) -> Result<Answer, ApiError> {
    let known = |own: &[&str]| -> Result<(), ApiError> {
        let all: Vec<&str> = own.iter().chain(basis::PARAMS.iter()).copied().collect();
        call.params.only(&all)
    };
    match endpoint {
        Endpoint::Q => known(&["query", "args"])?,
        Endpoint::Pull => known(&["pattern", "eid"])?,
        Endpoint::PullMany => known(&["pattern", "eids"])?,
        Endpoint::Datoms | Endpoint::SeekDatoms => {
            known(&["index", "components", "limit", "cursor"])?
        }
        Endpoint::IndexRange => known(&["attr", "start", "end", "limit", "cursor"])?,
        Endpoint::Entity => known(&["eid"])?,
        Endpoint::TxRange => known(&["start", "end", "limit", "attr"])?,
        Endpoint::With => known(&["tx-data"])?,
        Endpoint::Schema | Endpoint::Stats => known(&[])?,
        Endpoint::TxRate => known(&["bucket", "start", "end"])?,
        _ => {}
    }
    let db = basis::latest(call).await?;
    let view = View::of(call)?;
    let params = call.params.clone();
    let limits = call.app.limits.clone();
    let page = params
        .natural("limit")?
        .unwrap_or(DEFAULT_PAGE)
        .min(limits.max_results as u64) as usize;
    let answer = call
        .blocking(move |cancel| {
            let current = view.current().apply(&db)?;
            let view = view.apply(&db)?;
            let result = match endpoint {
                Endpoint::Q => q(&view, &params, &limits, cancel)?,
                Endpoint::Pull => pull(&view, &params)?,
                Endpoint::PullMany => pull_many(&view, &params, limits.max_results)?,
                Endpoint::Datoms => datoms(&view, &params, page, true)?,
                Endpoint::SeekDatoms => datoms(&view, &params, page, false)?,
                Endpoint::IndexRange => index_range(&view, &params, page)?,
                Endpoint::Entity => entity(&view, &current, &params)?,
                Endpoint::TxRange => tx_range(&view, &params, page)?,
                Endpoint::With => crate::write::with(&view, &params)?,
                Endpoint::Schema => crate::summary::schema(&view)?,
                Endpoint::Stats => crate::summary::stats(&view, &cancel)?,
                Endpoint::TxRate => {
                    crate::summary::tx_rate(&view, &params, limits.max_results, &cancel)?
                }
                other => {
                    return Err(ApiError::new(
                        Kind::Internal,
                        format!("{} is not a read", other.name()),
                    ));
                }
            };
            let mut fields = basis::fields(&view);
            fields.extend(result);
            Ok(Edn::map(fields))
        })
        .await?;
    Ok(Answer::Data(answer))
}

type Fields = Vec<(Edn, Edn)>;

fn field(name: &str, value: Edn) -> (Edn, Edn) {
    (Edn::keyword(name), value)
}

fn q(
    db: &Db,
    params: &crate::format::Params,
    limits: &crate::Limits,
    cancel: Arc<AtomicBool>,
) -> Result<Fields, ApiError> {
    let form = params
        .edn("query")?
        .ok_or_else(|| ApiError::invalid("missing parameter `query`"))?;
    let query = Query::from_edn(&form)?;
    let args: Vec<Edn> = match params.get("args") {
        None => Vec::new(),
        Some(Edn::Vector(items)) | Some(Edn::List(items)) => items.clone(),
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "`args` is a vector of the inputs after `$`, not {}",
                truncate(&other.to_string())
            )));
        }
    };
    let inputs = inputs(&form, db, args)?;
    let options = Options {
        timeout: Some(limits.request_timeout),
        cancel: Some(cancel),
        max_rows: Some(limits.max_query_rows),
        ..Options::default()
    };
    let result = query.run(&inputs, &options)?;
    if result.len() > limits.max_results {
        return Err(ApiError::new(
            Kind::TooLarge,
            format!(
                "the query found {} results, over the server's limit of {}: narrow it",
                result.len(),
                limits.max_results
            ),
        ));
    }
    Ok(vec![field("result", result.to_edn())])
}

/// An input for each form of the query's `:in`: the database for `$`
/// (`[$]` without `:in`), the next of `args` for every other form (rules
/// for `%` included; a string there is EDN text).
fn inputs(form: &Edn, db: &Db, args: Vec<Edn>) -> Result<Vec<Input>, ApiError> {
    let slots = in_forms(form);
    let is = |f: &Edn, name: &str| matches!(f, Edn::Symbol(s) if s.as_str() == name);
    let wanted = slots.iter().filter(|f| !is(f, "$")).count();
    if wanted != args.len() {
        let names: Vec<String> = slots
            .iter()
            .filter(|f| !is(f, "$"))
            .map(Edn::to_string)
            .collect();
        return Err(ApiError::invalid(format!(
            "the query's :in takes {wanted} input(s) in `args` ({}), {} given",
            names.join(" "),
            args.len()
        )));
    }
    let mut args = args.into_iter();
    let mut inputs = Vec::with_capacity(slots.len());
    for slot in &slots {
        if is(slot, "$") {
            inputs.push(Input::Db(db.clone()));
            continue;
        }
        let Some(arg) = args.next() else { break };
        let arg = match (is(slot, "%"), arg) {
            (true, Edn::String(text)) => model::edn::parse(&text)
                .map_err(|e| ApiError::invalid(format!("the rules (EDN text): {e}")))?,
            (_, arg) => arg,
        };
        inputs.push(Input::Edn(arg));
    }
    Ok(inputs)
}

/// The forms of the query's `:in` (`[$]` when it has none).
fn in_forms(query: &Edn) -> Vec<Edn> {
    let given = query::section_forms(query, "in");
    given.unwrap_or_else(|| vec![Edn::symbol("$")])
}

fn pattern(params: &crate::format::Params) -> Result<PullPattern, ApiError> {
    let form = params
        .edn("pattern")?
        .ok_or_else(|| ApiError::invalid("missing parameter `pattern`"))?;
    Ok(PullPattern::from_edn(&form)?)
}

/// An entity reference: an id, an ident, a lookup ref (a string is its
/// EDN text). `None` when it names no entity.
fn entity_id(db: &Db, reference: &Edn) -> Result<Option<u64>, ApiError> {
    let reference = match reference {
        Edn::String(text) => model::edn::parse(text)
            .map_err(|e| ApiError::invalid(format!("the entity reference (EDN text): {e}")))?,
        other => other.clone(),
    };
    Ok(db.entid(&reference)?)
}

fn pull(db: &Db, params: &crate::format::Params) -> Result<Fields, ApiError> {
    let pattern = pattern(params)?;
    let pulled = match entity_id(db, params.required("eid")?)? {
        Some(e) => query::pull(db, &pattern, &Value::Ref(e))?.to_edn(),
        None => Edn::Nil,
    };
    Ok(vec![field("result", pulled)])
}

fn pull_many(db: &Db, params: &crate::format::Params, max: usize) -> Result<Fields, ApiError> {
    let pattern = pattern(params)?;
    let refs = match params.required("eids")? {
        Edn::Vector(items) | Edn::List(items) => items.clone(),
        other => {
            return Err(ApiError::invalid(format!(
                "`eids` is a vector of entity references, not {}",
                truncate(&other.to_string())
            )));
        }
    };
    if refs.len() > max {
        return Err(ApiError::new(
            Kind::TooLarge,
            format!(
                "{} entities asked for, over the server's limit of {max}",
                refs.len()
            ),
        ));
    }
    let mut ids = Vec::with_capacity(refs.len());
    for reference in &refs {
        ids.push(entity_id(db, reference)?);
    }
    let found: Vec<Value> = ids.iter().flatten().map(|e| Value::Ref(*e)).collect();
    let mut pulled = query::pull_many(db, &pattern, &found)?.into_iter();
    let results = ids
        .iter()
        .map(|id| match id {
            Some(_) => pulled.next().map_or(Edn::Nil, |p| p.to_edn()),
            None => Edn::Nil,
        })
        .collect();
    Ok(vec![field("result", Edn::Vector(results))])
}

fn index_of(params: &crate::format::Params) -> Result<Index, ApiError> {
    let given = params.required("index")?;
    let name = match given {
        Edn::Keyword(k) => k.as_str().to_string(),
        Edn::String(s) => s.trim_start_matches(':').to_string(),
        Edn::Symbol(s) => s.as_str().to_string(),
        other => other.to_string(),
    };
    match name.as_str() {
        "eavt" => Ok(Index::Eavt),
        "aevt" => Ok(Index::Aevt),
        "avet" => Ok(Index::Avet),
        "vaet" => Ok(Index::Vaet),
        _ => Err(ApiError::invalid(format!(
            "`index` is one of :eavt :aevt :avet :vaet, not {given}"
        ))),
    }
}

/// The positions of an index's components.
fn slots(index: Index) -> [char; 4] {
    match index {
        Index::Eavt => ['e', 'a', 'v', 't'],
        Index::Aevt => ['a', 'e', 'v', 't'],
        Index::Avet => ['a', 'v', 'e', 't'],
        Index::Vaet => ['v', 'a', 'e', 't'],
    }
}

/// Components given as EDN, as values in index order; `None` when a
/// lookup ref names no entity (nothing can match).
fn components(db: &Db, index: Index, given: &[Edn]) -> Result<Option<Vec<Value>>, ApiError> {
    if given.len() > 4 {
        return Err(ApiError::invalid(format!(
            "an index has 4 components, got {}",
            given.len()
        )));
    }
    let slots = slots(index);
    let attribute = slots
        .iter()
        .zip(given)
        .find(|(slot, _)| **slot == 'a')
        .map(|(_, edn)| entity_id(db, edn))
        .transpose()?
        .flatten();
    let mut values = Vec::with_capacity(given.len());
    for (slot, edn) in slots.iter().zip(given) {
        let value = match slot {
            'v' if index != Index::Vaet => typed_value(db, attribute, edn)?,
            _ => match entity_id(db, edn)? {
                Some(e) => Value::Ref(e),
                None if matches!(edn, Edn::Vector(_)) => return Ok(None),
                None => return Err(ApiError::invalid(format!("`{edn}` names no entity"))),
            },
        };
        values.push(value);
    }
    Ok(Some(values))
}

/// A value position, typed by its attribute.
fn typed_value(db: &Db, attribute: Option<u64>, edn: &Edn) -> Result<Value, ApiError> {
    let resolve = |e: &Edn| -> Result<u64, String> {
        db.entid(e)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("`{e}` names no entity"))
    };
    let Some(attr) = attribute.and_then(|a| db.attribute(a)) else {
        return Err(ApiError::invalid(format!(
            "the value `{edn}` needs an attribute component before it"
        )));
    };
    Value::from_edn(attr.value_type, attr.tuple.as_ref(), edn, &resolve)
        .map_err(|e| ApiError::invalid(format!("value for {}: {e}", attr.ident)))
}

/// A datom as the API writes it: `[e a v tx added]`, `a` an id.
pub(crate) fn datom_edn(d: &Datom) -> Edn {
    Edn::Vector(vec![
        long(d.e()),
        long(d.a()),
        d.v().to_edn(),
        long(d.tx()),
        Edn::Boolean(d.added()),
    ])
}

/// The cursor after `d`: its components in index order.
fn cursor_of(index: Index, d: &Datom) -> Edn {
    let items = slots(index)
        .iter()
        .map(|slot| match slot {
            'e' => long(d.e()),
            'a' => long(d.a()),
            'v' if index == Index::Vaet => long(d.v().as_ref_id().unwrap_or(0)),
            'v' => d.v().to_edn(),
            _ => long(d.tx()),
        })
        .collect();
    Edn::Vector(items)
}

/// The datoms of one page: from the start of `prefix` (or just after
/// `cursor`), while `bounded` keeps them within the prefix.
fn page(
    view: &Db,
    index: Index,
    prefix: &[Value],
    cursor: Option<&Edn>,
    bounded: bool,
    limit: usize,
    within: impl Fn(&Datom) -> bool,
) -> Result<Fields, ApiError> {
    let prefix_components = view.components(index, prefix)?;
    let start: Vec<Value> = match cursor {
        None => prefix.to_vec(),
        Some(Edn::Vector(items)) if items.len() == 4 => components(view, index, items)?
            .ok_or_else(|| ApiError::invalid("the cursor names no entity"))?,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "`cursor` is the `next-cursor` of the previous page, not {}",
                truncate(&other.to_string())
            )));
        }
    };
    let after = cursor.map(|_| view.components(index, &start)).transpose()?;
    let matches = |c: &model::Components, d: &Datom| {
        c.e.is_none_or(|e| d.e() == e)
            && c.a.is_none_or(|a| d.a() == a)
            && c.v.as_ref().is_none_or(|v| d.v() == v)
            && c.tx.is_none_or(|tx| d.tx() == tx)
    };
    let mut datoms = Vec::new();
    let mut more = false;
    for d in view.seek_datoms(index, &start)? {
        let d = d?;
        if after.as_ref().is_some_and(|c| matches(c, &d)) {
            continue; // the cursor's own datom
        }
        if (bounded && !matches(&prefix_components, &d)) || !within(&d) {
            break;
        }
        if datoms.len() == limit {
            more = true;
            break;
        }
        datoms.push(d);
    }
    let next = match (more, datoms.last()) {
        (true, Some(last)) => cursor_of(index, last),
        _ => Edn::Nil,
    };
    Ok(vec![
        field(
            "datoms",
            Edn::Vector(datoms.iter().map(datom_edn).collect()),
        ),
        field("next-cursor", next),
    ])
}

fn datoms(
    view: &Db,
    params: &crate::format::Params,
    limit: usize,
    bounded: bool,
) -> Result<Fields, ApiError> {
    let index = index_of(params)?;
    let given = match params.get("components") {
        None => Vec::new(),
        Some(Edn::Vector(items)) | Some(Edn::List(items)) => items.clone(),
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "`components` is a vector in index order, not {}",
                truncate(&other.to_string())
            )));
        }
    };
    let Some(prefix) = components(view, index, &given)? else {
        return Ok(vec![
            field("datoms", Edn::Vector(Vec::new())),
            field("next-cursor", Edn::Nil),
        ]);
    };
    page(
        view,
        index,
        &prefix,
        params.get("cursor"),
        bounded,
        limit,
        |_| true,
    )
}

fn index_range(
    view: &Db,
    params: &crate::format::Params,
    limit: usize,
) -> Result<Fields, ApiError> {
    let attr = entity_id(view, params.required("attr")?)?
        .ok_or_else(|| ApiError::invalid("`attr` names no attribute"))?;
    let value = |name: &str| {
        params
            .get(name)
            .map(|edn| typed_value(view, Some(attr), edn))
            .transpose()
    };
    let (start, end) = (value("start")?, value("end")?);
    let mut prefix = vec![Value::Ref(attr)];
    prefix.extend(start);
    let within = |d: &Datom| d.a() == attr && end.as_ref().is_none_or(|e| d.v() < e);
    page(
        view,
        Index::Avet,
        &prefix,
        params.get("cursor"),
        false,
        limit,
        within,
    )
}

/// The entity's attributes (pulled with `[*]` from the view without
/// history) and, on a history view, its every assertion and retraction
/// `[attribute value tx added]`.
fn entity(view: &Db, current: &Db, params: &crate::format::Params) -> Result<Fields, ApiError> {
    let Some(e) = entity_id(current, params.required("eid")?)? else {
        return Ok(vec![field("entity", Edn::Nil)]);
    };
    let all = PullPattern::from_edn(&Edn::Vector(vec![Edn::symbol("*")]))?;
    let mut fields = vec![
        field("db/id", long(e)),
        field(
            "entity",
            query::pull(current, &all, &Value::Ref(e))?.to_edn(),
        ),
    ];
    if view.is_history() {
        let mut history = Vec::new();
        for d in view.datoms(Index::Eavt, &[Value::Ref(e)])? {
            let d = d?;
            let a = view
                .ident(d.a())
                .map_or_else(|| long(d.a()), |k| Edn::Keyword(k.clone()));
            history.push(Edn::Vector(vec![
                a,
                d.v().to_edn(),
                long(d.tx()),
                Edn::Boolean(d.added()),
            ]));
        }
        fields.push(field("history", Edn::Vector(history)));
    }
    Ok(fields)
}

/// A bound of the log: a t, or an instant (the first t at or after it).
fn log_bound(
    view: &Db,
    params: &crate::format::Params,
    name: &str,
) -> Result<Option<u64>, ApiError> {
    if let Some(Edn::Long(_)) | None = params.get(name) {
        return params.natural(name);
    }
    let Some(at) = crate::summary::instant(params, name)? else {
        return Ok(None);
    };
    // The last t at or before the millisecond before `at`, plus one.
    let before = model::edn::Instant(at.millis().saturating_sub(1));
    let last = view.latest().as_of(model::TimePoint::Instant(before))?;
    Ok(Some(last.as_of_t().unwrap_or(0) + 1))
}

fn tx_range(view: &Db, params: &crate::format::Params, limit: usize) -> Result<Fields, ApiError> {
    let start = log_bound(view, params, "start")?;
    let end = log_bound(view, params, "end")?;
    let attr = params
        .get("attr")
        .map(|a| {
            entity_id(view, a)?
                .ok_or_else(|| ApiError::invalid(format!("`attr` {a} names no attribute")))
        })
        .transpose()?;
    // The log of this basis: nothing past it.
    let basis_end = view.as_of_t().unwrap_or(view.basis_t()) + 1;
    let end = Some(end.map_or(basis_end, |e| e.min(basis_end)));
    let mut txs = Vec::new();
    let mut next = Edn::Nil;
    for entry in view.tx_range(start, end)? {
        let entry = entry?;
        if attr.is_some_and(|a| !entry.data.iter().any(|d| d.a() == a)) {
            continue;
        }
        if txs.len() == limit {
            next = long(entry.t);
            break;
        }
        txs.push(Edn::map([
            (Edn::keyword("t"), long(entry.t)),
            (Edn::keyword("tx"), long(entry.tx())),
            (
                Edn::keyword("data"),
                Edn::Vector(entry.data.iter().map(datom_edn).collect()),
            ),
        ]));
    }
    Ok(vec![
        field("txs", Edn::Vector(txs)),
        field("next-start", next),
    ])
}

/// `/status`, `/health` and `/openapi.json`.
pub(crate) async fn server_wide(
    app: &Shared,
    endpoint: Endpoint,
    who: &Identity,
    format: Format,
) -> Result<Answer, ApiError> {
    let readable = app.readable(who).await;
    match endpoint {
        Endpoint::OpenApi => {
            let mut response = OPENAPI.into_response();
            response.headers_mut().insert(
                CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            );
            Ok(Answer::Raw(response))
        }
        Endpoint::Status => {
            let dbs = readable.iter().map(|(name, conn, role)| {
                let mut fields = vec![
                    (Edn::keyword("name"), Edn::string(name)),
                    (Edn::keyword("basis-t"), long(conn.basis_t())),
                    (Edn::keyword("role"), Edn::string(role.as_str())),
                ];
                if let Some(t) = conn.transactor() {
                    fields.push((Edn::keyword("transactor"), Edn::string(&t.endpoint)));
                    fields.push((Edn::keyword("epoch"), long(t.epoch)));
                }
                if let Some(e) = conn.ended() {
                    fields.push((Edn::keyword("ended"), Edn::string(&e.to_string())));
                }
                Edn::map(fields)
            });
            Ok(Answer::Data(Edn::map([
                (Edn::keyword("dbs"), Edn::Vector(dbs.collect())),
                (
                    Edn::keyword("principal"),
                    Edn::string(who.principal.as_str()),
                ),
                (
                    Edn::keyword("version"),
                    Edn::string(env!("CARGO_PKG_VERSION")),
                ),
            ])))
        }
        Endpoint::Health => {
            let ended: Vec<Edn> = app
                .dbs
                .iter()
                .filter_map(|(name, conn)| {
                    conn.ended().map(|e| Edn::string(&format!("{name}: {e}")))
                })
                .collect();
            let ok = ended.is_empty();
            let body = Edn::map([
                (
                    Edn::keyword("status"),
                    Edn::string(if ok { "ok" } else { "failing" }),
                ),
                (Edn::keyword("failing"), Edn::Vector(ended)),
            ]);
            if ok {
                return Ok(Answer::Data(body));
            }
            let mut response = crate::app::error_response(
                format,
                &ApiError::new(Kind::Unavailable, "a database is no longer followed"),
            );
            *response.body_mut() = axum::body::Body::from(format.render(&body));
            Ok(Answer::Raw(response))
        }
        other => Err(ApiError::new(
            Kind::Internal,
            format!("{} is not a server-wide endpoint", other.name()),
        )),
    }
}
