//! EDN in and out of scripts.
//!
//! In a script: `nil` is `()`, booleans, longs (`i64`), doubles, strings
//! and characters are Rhai's own; vectors, lists and sets are arrays; maps
//! are object maps whose keys are the keywords' text without the colon
//! (`#{"person/name": "Ann"}`; other keys by their EDN text); keywords are
//! values of type `Keyword` (made with `kw("person/name")`); anything else
//! (instants, UUIDs, big numbers, symbols, …) is an opaque `Edn` value that
//! goes back unchanged. Back out, arrays become vectors and map keys become
//! keywords, so a script writes tx data as
//! `[kw("db/add"), e, kw("person/name"), "Ann"]` or as a map.

use model::edn::{Edn, Keyword};
use rhai::{Array, Dynamic, ImmutableString, Map};
use std::collections::BTreeMap;
use std::fmt;

/// Deepest nesting of data converted either way: deeper is refused
/// rather than walked on the stack.
pub(crate) const MAX_DEPTH: usize = 64;

/// A keyword in a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Kw(pub(crate) Keyword);

impl fmt::Display for Kw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, ":{}", self.0.as_str())
    }
}

/// Any other EDN value in a script, carried unchanged.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Opaque(pub(crate) Edn);

/// EDN to a script value.
pub(crate) fn to_dynamic(edn: &Edn) -> Result<Dynamic, String> {
    to_dynamic_at(edn, 0)
}

fn to_dynamic_at(edn: &Edn, depth: usize) -> Result<Dynamic, String> {
    if depth > MAX_DEPTH {
        return Err(format!("data nested deeper than {MAX_DEPTH}"));
    }
    let items = |items: &mut dyn Iterator<Item = &Edn>| -> Result<Dynamic, String> {
        let array: Array = items
            .map(|i| to_dynamic_at(i, depth + 1))
            .collect::<Result<_, _>>()?;
        Ok(Dynamic::from_array(array))
    };
    Ok(match edn {
        Edn::Nil => Dynamic::UNIT,
        Edn::Boolean(b) => Dynamic::from_bool(*b),
        Edn::Long(n) => Dynamic::from_int(*n),
        Edn::Double(x) => Dynamic::from_float(*x),
        Edn::String(s) => Dynamic::from(ImmutableString::from(&**s)),
        Edn::Char(c) => Dynamic::from_char(*c),
        Edn::Keyword(k) => Dynamic::from(Kw(k.clone())),
        Edn::Vector(v) | Edn::List(v) => items(&mut v.iter())?,
        Edn::Set(s) => items(&mut s.iter())?,
        Edn::Map(m) => {
            let mut map = Map::new();
            for (k, v) in m {
                let key = match k {
                    Edn::Keyword(k) => k.as_str().to_string(),
                    Edn::String(s) => s.to_string(),
                    other => other.to_string(),
                };
                map.insert(key.into(), to_dynamic_at(v, depth + 1)?);
            }
            Dynamic::from_map(map)
        }
        other => Dynamic::from(Opaque(other.clone())),
    })
}

/// A script value to EDN; `what` names it in errors.
pub(crate) fn to_edn(value: &Dynamic) -> Result<Edn, String> {
    to_edn_at(value, 0)
}

fn to_edn_at(value: &Dynamic, depth: usize) -> Result<Edn, String> {
    if depth > MAX_DEPTH {
        return Err(format!("data nested deeper than {MAX_DEPTH}"));
    }
    if value.is_unit() {
        return Ok(Edn::Nil);
    }
    if let Ok(b) = value.as_bool() {
        return Ok(Edn::Boolean(b));
    }
    if let Ok(n) = value.as_int() {
        return Ok(Edn::Long(n));
    }
    if let Ok(x) = value.as_float() {
        return Ok(Edn::Double(x));
    }
    if let Ok(c) = value.as_char() {
        return Ok(Edn::String(c.to_string().into()));
    }
    if let Some(s) = value.read_lock::<ImmutableString>() {
        return Ok(Edn::String(s.as_str().into()));
    }
    if let Some(k) = value.read_lock::<Kw>() {
        return Ok(Edn::Keyword(k.0.clone()));
    }
    if let Some(o) = value.read_lock::<Opaque>() {
        return Ok(o.0.clone());
    }
    if let Some(array) = value.read_lock::<Array>() {
        let items = array
            .iter()
            .map(|i| to_edn_at(i, depth + 1))
            .collect::<Result<_, _>>()?;
        return Ok(Edn::Vector(items));
    }
    if let Some(map) = value.read_lock::<Map>() {
        let mut out = BTreeMap::new();
        for (k, v) in map.iter() {
            out.insert(Edn::Keyword(Keyword::new(k)), to_edn_at(v, depth + 1)?);
        }
        return Ok(Edn::Map(out));
    }
    Err(format!(
        "a value of type {} is not data (tx data holds nil, booleans, numbers, strings, keywords, arrays and maps)",
        value.type_name()
    ))
}
