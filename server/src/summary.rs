//! The summaries the console draws, as read endpoints of their own:
//! `schema` (every attribute with its type, cardinality, uniqueness and
//! doc), `stats` (datoms per attribute and in all) and `tx-rate`
//! (transactions per time bucket). Each reads the basis of its request
//! like every other read, so the console can look at any point in time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use model::edn::{Edn, Instant};
use model::schema::bootstrap::{IDENT, TX_INSTANT};
use model::schema::{Attribute, Cardinality, Unique};
use model::{Db, Index, Value};

use crate::error::{ApiError, Kind, long};
use crate::format::Params;

type Fields = Vec<(Edn, Edn)>;

/// Datoms read between two looks at the cancel flag.
const CHECK_EVERY: usize = 4096;

fn field(name: &str, value: Edn) -> (Edn, Edn) {
    (Edn::keyword(name), value)
}

fn stopped() -> ApiError {
    ApiError::new(
        Kind::Timeout,
        "the request was stopped (time limit, or the client went away)",
    )
}

/// Whether attribute `a` exists in `view`: its `:db/ident` is there. The
/// schema a value carries is its latest; an as-of view sees only the
/// attributes installed by then.
fn installed(view: &Db, a: u64) -> Result<bool, ApiError> {
    if view.as_of_t().is_none() {
        return Ok(true);
    }
    let current = view.latest().as_of(view.as_of_t().unwrap_or(0))?;
    Ok(current
        .datoms(Index::Eavt, &[Value::Ref(a), Value::Ref(IDENT)])?
        .next()
        .is_some())
}

/// One attribute as the `schema` endpoint describes it.
fn attribute_edn(attr: &Attribute, db: &Db) -> Edn {
    let mut fields = vec![
        field("db/id", long(attr.id)),
        field("db/ident", Edn::Keyword(attr.ident.clone())),
        field("db/valueType", Edn::Keyword(attr.value_type.ident())),
        field(
            "db/cardinality",
            Edn::keyword(match attr.cardinality {
                Cardinality::One => "db.cardinality/one",
                Cardinality::Many => "db.cardinality/many",
            }),
        ),
    ];
    if let Some(unique) = attr.unique {
        fields.push(field(
            "db/unique",
            Edn::keyword(match unique {
                Unique::Value => "db.unique/value",
                Unique::Identity => "db.unique/identity",
            }),
        ));
    }
    let flags = [
        ("db/isComponent", attr.is_component),
        ("db/index", attr.index),
        ("db/noHistory", attr.no_history),
    ];
    for (name, set) in flags {
        if set {
            fields.push(field(name, Edn::Boolean(true)));
        }
    }
    if let Some(doc) = &attr.doc {
        fields.push(field("db/doc", Edn::string(doc)));
    }
    if let Some(parts) = &attr.tuple_attrs {
        let idents = parts
            .iter()
            .map(|p| {
                db.ident(*p)
                    .map_or_else(|| long(*p), |k| Edn::Keyword(k.clone()))
            })
            .collect();
        fields.push(field("db/tupleAttrs", Edn::Vector(idents)));
    }
    fields.push(field(
        "builtin",
        Edn::Boolean(model::schema::bootstrap::is_builtin(attr.id)),
    ));
    Edn::map(fields)
}

/// `schema`: every attribute of the view, sorted by ident.
pub(crate) fn schema(view: &Db) -> Result<Fields, ApiError> {
    let mut attrs: Vec<&Arc<Attribute>> = view.schema().attributes().collect();
    attrs.sort_by_cached_key(|a| a.ident.to_string());
    let mut out = Vec::with_capacity(attrs.len());
    for attr in attrs {
        if installed(view, attr.id)? {
            out.push(attribute_edn(attr, view));
        }
    }
    Ok(vec![field("attributes", Edn::Vector(out))])
}

/// `stats`: how many datoms the view holds, in all and per attribute
/// (`[[ident count] …]`, most first). One pass over AEVT: it costs what
/// the database's size costs, under the request's time limit.
pub(crate) fn stats(view: &Db, cancel: &Arc<AtomicBool>) -> Result<Fields, ApiError> {
    let mut per: BTreeMap<u64, u64> = BTreeMap::new();
    let mut total: u64 = 0;
    for (i, d) in view.datoms(Index::Aevt, &[])?.enumerate() {
        if i % CHECK_EVERY == 0 && cancel.load(Ordering::Relaxed) {
            return Err(stopped());
        }
        *per.entry(d?.a()).or_default() += 1;
        total += 1;
    }
    let mut rows: Vec<(u64, u64)> = per.into_iter().collect();
    rows.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    let rows = rows
        .into_iter()
        .map(|(a, n)| {
            let name = view
                .ident(a)
                .map_or_else(|| long(a), |k| Edn::Keyword(k.clone()));
            Edn::Vector(vec![name, long(n)])
        })
        .collect();
    Ok(vec![
        field("datoms", long(total)),
        field("attributes", Edn::Vector(rows)),
    ])
}

/// An instant parameter: `#inst`, its text, or milliseconds since 1970.
pub(crate) fn instant(params: &Params, name: &str) -> Result<Option<Instant>, ApiError> {
    let bad = |what: &Edn| {
        ApiError::invalid(format!(
            "`{name}` is an instant (#inst \"2024-01-01T10:00\", or its text), not {}",
            crate::format::truncate(&what.to_string())
        ))
    };
    match params.get(name) {
        None => Ok(None),
        Some(Edn::Inst(i)) => Ok(Some(*i)),
        Some(Edn::String(s)) => Instant::parse(s)
            .map(Some)
            .map_err(|_| bad(&Edn::string(s))),
        Some(other) => Err(bad(other)),
    }
}

/// `tx-rate`: transactions per bucket of `bucket` seconds (default 60),
/// `[[#inst bucket-start count] …]` in time order, empty buckets left
/// out; `start` and `end` (instants) bound the span read.
pub(crate) fn tx_rate(
    view: &Db,
    params: &Params,
    max_buckets: usize,
    cancel: &Arc<AtomicBool>,
) -> Result<Fields, ApiError> {
    let seconds = params.natural("bucket")?.unwrap_or(60);
    if seconds == 0 || seconds > 366 * 86_400 {
        return Err(ApiError::invalid(format!(
            "`bucket` is a number of seconds from 1 to a year, not {seconds}"
        )));
    }
    let width = i64::try_from(seconds * 1000).unwrap_or(i64::MAX);
    let start = instant(params, "start")?.map(Value::Instant);
    let end = instant(params, "end")?.map(Value::Instant);
    let mut buckets: Vec<(i64, u64)> = Vec::new();
    let range = view.index_range(&Value::Ref(TX_INSTANT), start.as_ref(), end.as_ref())?;
    for (i, d) in range.enumerate() {
        if i % CHECK_EVERY == 0 && cancel.load(Ordering::Relaxed) {
            return Err(stopped());
        }
        let d = d?;
        // The bootstrap transaction (t 0) is the system's, not a user's.
        if model::tx_to_t(d.e()) == 0 {
            continue;
        }
        let Value::Instant(at) = d.v() else { continue };
        let from = at.millis().div_euclid(width) * width;
        match buckets.last_mut() {
            Some((last, n)) if *last == from => *n += 1,
            _ => {
                if buckets.len() == max_buckets {
                    return Err(ApiError::new(
                        Kind::TooLarge,
                        format!(
                            "more than {max_buckets} buckets of {seconds} s: a wider bucket or a shorter span"
                        ),
                    ));
                }
                buckets.push((from, 1));
            }
        }
    }
    let rows = buckets
        .into_iter()
        .map(|(from, n)| Edn::Vector(vec![Edn::Inst(Instant(from)), long(n)]))
        .collect();
    Ok(vec![
        field("bucket", long(seconds)),
        field("buckets", Edn::Vector(rows)),
    ])
}
