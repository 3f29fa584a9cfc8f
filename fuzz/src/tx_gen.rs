//! Tx data built from the fuzzer's bytes: list and map forms over the
//! fixture's schema ([`crate::fixture::ATTRIBUTES`]) with tempids, lookup
//! refs, entity ids, idents, nested component maps, reverse attributes,
//! `:db/cas`, `:db/retractEntity`, excision requests and schema changes —
//! mostly well typed, sometimes not, so the builder's checks and its happy
//! paths are both reached.

use std::sync::Arc;

use arbitrary::{Result, Unstructured};
use model::edn::{BigDec, BigInt, Edn, Instant, Keyword};

use crate::edn_gen;
use crate::fixture::{ATTRIBUTES, fixture};

const TEMPIDS: &[&str] = &["t0", "t1", "t2", "ann", "new"];
const NAMES: &[&str] = &["ann", "bob", "cy", "dee", ""];

fn kw(text: &str) -> Edn {
    Edn::Keyword(Keyword::new(text))
}

fn vector(items: Vec<Edn>) -> Edn {
    Edn::Vector(items)
}

/// An attribute: mostly one of the fixture's, sometimes a system
/// attribute, a reverse one, an unknown one or any keyword.
fn attribute(u: &mut Unstructured<'_>) -> Result<(Edn, &'static str)> {
    Ok(match u.int_in_range(0..=12)? {
        0 => (kw(":db/ident"), "keyword"),
        1 => (kw(":p/_friend"), "ref"),
        2 => (kw(":p/unknown"), "string"),
        3 => (Edn::Keyword(edn_gen::keyword(u)?), "string"),
        4 => (
            kw(u.choose(&[
                ":db/doc",
                ":db/txInstant",
                ":db/cardinality",
                ":tx/principal",
            ])?),
            "string",
        ),
        _ => {
            let (ident, ty, _) = *u.choose(ATTRIBUTES)?;
            (kw(ident), ty)
        }
    })
}

/// Something that names an entity.
fn entity(u: &mut Unstructured<'_>, depth: usize) -> Result<Edn> {
    let f = fixture();
    Ok(match u.int_in_range(0..=9)? {
        0 | 1 => Edn::string(u.choose(TEMPIDS)?),
        2 | 3 => Edn::Long(*u.choose(&f.people)? as i64),
        4 => vector(vec![kw(":p/name"), Edn::string(u.choose(NAMES)?)]),
        5 => vector(vec![
            kw(u.choose(&[":p/email", ":p/age", ":p/id", ":p/unknown"])?),
            value(u, "string", depth + 1)?,
        ]),
        6 => kw(u.choose(&[":p/name", ":db/ident", ":db.part/user", ":nope"])?),
        7 => Edn::Long(u.arbitrary()?),
        8 => Edn::Long(-(u.int_in_range(1..=3)? as i64)),
        _ => edn_gen::edn(u, 8)?,
    })
}

/// A value for an attribute of type `ty`, or now and then of another.
fn value(u: &mut Unstructured<'_>, ty: &str, depth: usize) -> Result<Edn> {
    let ty = match u.ratio(1, 6)? {
        true => *u.choose(&[
            "string", "long", "ref", "keyword", "double", "instant", "uuid", "bigint", "bigdec",
            "boolean", "tuple", "any",
        ])?,
        false => ty,
    };
    Ok(match ty {
        "string" => Edn::string(u.choose(NAMES)?),
        "long" => Edn::Long(match u.arbitrary::<bool>()? {
            true => u.int_in_range(-2..=100)?,
            false => u.arbitrary()?,
        }),
        "ref" if depth < 3 && u.ratio(1, 3)? => map_form(u, depth + 1)?,
        "ref" => entity(u, depth + 1)?,
        "keyword" => Edn::Keyword(edn_gen::keyword(u)?),
        "double" => Edn::Double(f64::from(u.int_in_range(-100..=100)?) / 4.0),
        "instant" => Edn::Inst(Instant(u.int_in_range(-5_000..=5_000)?)),
        "uuid" => Edn::Uuid(uuid::Uuid::from_bytes(u.arbitrary()?)),
        "bigint" => Edn::BigInt(Arc::new(BigInt::from(u.arbitrary::<i128>()?))),
        "bigdec" => Edn::BigDec(Arc::new(BigDec::new(
            BigInt::from(u.arbitrary::<i64>()?),
            i32::from(u.int_in_range(-6i8..=6)?),
        ))),
        "boolean" => Edn::Boolean(u.arbitrary()?),
        "tuple" => vector(vec![
            Edn::Long(u.int_in_range(-2..=2)?),
            Edn::string(u.choose(NAMES)?),
        ]),
        _ => edn_gen::edn(u, 8)?,
    })
}

/// `{:db/id e, attr value, …}`, with cardinality-many values as vectors
/// now and then.
fn map_form(u: &mut Unstructured<'_>, depth: usize) -> Result<Edn> {
    let mut pairs = Vec::new();
    if u.ratio(2, 3)? {
        pairs.push((kw(":db/id"), entity(u, depth)?));
    }
    for _ in 0..u.int_in_range(0..=4)? {
        let (a, ty) = attribute(u)?;
        let v = match u.ratio(1, 5)? {
            true => vector(vec![value(u, ty, depth)?, value(u, ty, depth)?]),
            false => value(u, ty, depth)?,
        };
        pairs.push((a, v));
    }
    Ok(Edn::map(pairs))
}

/// A new or changed attribute definition.
fn schema_form(u: &mut Unstructured<'_>) -> Result<Edn> {
    let ident = kw(u.choose(&[":q/new", ":q/other", ":p/age", ":p/name"])?);
    let mut pairs = vec![(kw(":db/ident"), ident)];
    let ty = *u.choose(&[
        ":db.type/long",
        ":db.type/string",
        ":db.type/ref",
        ":db.type/tuple",
        ":db.type/nope",
    ])?;
    if u.ratio(4, 5)? {
        pairs.push((kw(":db/valueType"), kw(ty)));
    }
    if u.ratio(4, 5)? {
        let c = *u.choose(&[":db.cardinality/one", ":db.cardinality/many"])?;
        pairs.push((kw(":db/cardinality"), kw(c)));
    }
    if u.arbitrary::<bool>()? {
        let unique = *u.choose(&[":db.unique/identity", ":db.unique/value"])?;
        pairs.push((kw(":db/unique"), kw(unique)));
    }
    if u.arbitrary::<bool>()? {
        pairs.push((kw(":db/isComponent"), Edn::Boolean(u.arbitrary()?)));
    }
    if u.ratio(1, 4)? {
        let attrs = vec![kw(":p/name"), kw(":p/age")];
        pairs.push((kw(":db/tupleAttrs"), vector(attrs)));
    }
    Ok(Edn::map(pairs))
}

/// One form of tx data.
pub fn form(u: &mut Unstructured<'_>) -> Result<Edn> {
    Ok(match u.int_in_range(0..=11)? {
        0..=2 => {
            let (a, ty) = attribute(u)?;
            vector(vec![kw(":db/add"), entity(u, 0)?, a, value(u, ty, 0)?])
        }
        3 => {
            let (a, ty) = attribute(u)?;
            let mut items = vec![kw(":db/retract"), entity(u, 0)?, a];
            if u.arbitrary::<bool>()? {
                items.push(value(u, ty, 0)?);
            }
            vector(items)
        }
        4..=6 => map_form(u, 0)?,
        7 => {
            let (a, ty) = attribute(u)?;
            let old = match u.arbitrary::<bool>()? {
                true => value(u, ty, 0)?,
                false => Edn::Nil,
            };
            vector(vec![kw(":db/cas"), entity(u, 0)?, a, old, value(u, ty, 0)?])
        }
        8 => {
            let op = *u.choose(&[":db/retractEntity", ":db.fn/retractEntity"])?;
            vector(vec![kw(op), entity(u, 0)?])
        }
        9 => {
            let mut pairs = vec![(kw(":db/excise"), entity(u, 0)?)];
            if u.arbitrary::<bool>()? {
                let (a, _) = attribute(u)?;
                pairs.push((kw(":db.excise/attrs"), vector(vec![a])));
            }
            if u.arbitrary::<bool>()? {
                pairs.push((
                    kw(":db.excise/beforeT"),
                    Edn::Long(u.int_in_range(0..=2000)?),
                ));
            }
            Edn::map(pairs)
        }
        10 => schema_form(u)?,
        _ => edn_gen::edn(u, 6)?,
    })
}

/// A transaction: up to eight forms.
pub fn transaction(u: &mut Unstructured<'_>) -> Result<Vec<Edn>> {
    let n = u.int_in_range(0..=8)?;
    (0..n).map(|_| form(u)).collect()
}
