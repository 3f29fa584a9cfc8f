//! EDN values built from the fuzzer's bytes: every kind of [`Edn`], nested,
//! with names the reader can read back (so a print → read mismatch is a bug
//! of the printer or the reader, not of the generator).

use std::sync::Arc;

use arbitrary::{Arbitrary, Result, Unstructured};
use model::edn::{BigDec, BigInt, Edn, Instant, Keyword, Symbol};

/// How deep generated values nest (the reader refuses more than 256).
pub const MAX_DEPTH: usize = 12;

/// First characters of generated names (no digit, `:`, `#` or delimiter).
const NAME_FIRST: &[u8] = b"abcdexyzABQZ*!_?<>=.$%&+-";
/// Later characters of generated names.
const NAME_REST: &[u8] = b"abcxyz0159*+!-_?<>=.:#'&$%";
/// Special symbols the query language gives meaning to.
const SPECIAL_SYMBOLS: &[&str] = &["/", "$", "%", "...", "_", "?e", "?x", "*", "+", "-"];

/// An EDN value for a target's input.
#[derive(Debug, Clone)]
pub struct ArbEdn(pub Edn);

impl<'a> Arbitrary<'a> for ArbEdn {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        edn(u, 0).map(ArbEdn)
    }
}

/// One name part: a first character that cannot start a number, then up
/// to seven more.
fn ident(u: &mut Unstructured<'_>, first: &[u8]) -> Result<String> {
    let len = u.int_in_range(1..=8)?;
    let mut s = String::new();
    let c = *u.choose(first)?;
    s.push(char::from(c));
    for i in 1..len {
        let mut c = *u.choose(NAME_REST)?;
        // `+1`/`-1` read as numbers: a sign is never followed by a digit.
        if i == 1 && matches!(s.as_bytes()[0], b'+' | b'-') && c.is_ascii_digit() {
            c = b'x';
        }
        s.push(char::from(c));
    }
    if matches!(s.as_str(), "nil" | "true" | "false") {
        s.push('_');
    }
    Ok(s)
}

/// `name` or `ns/name`.
pub fn name(u: &mut Unstructured<'_>) -> Result<String> {
    let local = ident(u, NAME_FIRST)?;
    Ok(match u.arbitrary::<bool>()? {
        true => format!("{}/{local}", ident(u, NAME_FIRST)?),
        false => local,
    })
}

/// A symbol the reader reads back.
pub fn symbol(u: &mut Unstructured<'_>) -> Result<Symbol> {
    if u.ratio(1, 6)? {
        return Ok(Symbol::new(u.choose(SPECIAL_SYMBOLS)?));
    }
    Ok(Symbol::new(&name(u)?))
}

/// A keyword the reader reads back.
pub fn keyword(u: &mut Unstructured<'_>) -> Result<Keyword> {
    Ok(Keyword::new(&name(u)?))
}

/// A tag: starts with a letter, and is not one of the tags the reader
/// turns into values of their own (`#inst`, `#uuid`).
fn tag(u: &mut Unstructured<'_>) -> Result<Symbol> {
    let first = ident(u, b"abcdmxyzQ")?;
    let text = match u.arbitrary::<bool>()? {
        true => format!("{first}/{}", ident(u, NAME_FIRST)?),
        false => first,
    };
    Ok(match text.as_str() {
        "inst" | "uuid" => Symbol::new("my/tag"),
        _ => Symbol::new(&text),
    })
}

fn double(u: &mut Unstructured<'_>) -> Result<f64> {
    let d: f64 = match u.int_in_range(0..=3)? {
        0 => f64::from(u.int_in_range(-1000..=1000)?) / 8.0,
        1 => *u.choose(&[
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            1e300,
            5e-324,
        ])?,
        _ => f64::from_bits(u.arbitrary()?),
    };
    // The reader has one NaN: a NaN of another payload prints as `##NaN`
    // and reads back as the one, which is the printer's contract.
    Ok(if d.is_nan() { f64::NAN } else { d })
}

fn big_int(u: &mut Unstructured<'_>) -> Result<BigInt> {
    Ok(match u.arbitrary::<bool>()? {
        true => BigInt::from(u.arbitrary::<i128>()?),
        false => {
            let n = u.int_in_range(0..=40)?;
            BigInt::from_signed_bytes_be(u.bytes(n)?)
        }
    })
}

/// A leaf value (no collection).
fn scalar(u: &mut Unstructured<'_>) -> Result<Edn> {
    Ok(match u.int_in_range(0..=13)? {
        0 => Edn::Nil,
        1 => Edn::Boolean(u.arbitrary()?),
        2 => Edn::Long(u.arbitrary()?),
        3 => Edn::BigInt(Arc::new(big_int(u)?)),
        4 => Edn::Double(double(u)?),
        5 => Edn::BigDec(Arc::new(BigDec::new(
            big_int(u)?,
            i32::from(u.int_in_range(-40i8..=40)?),
        ))),
        6 => Edn::Char(u.arbitrary()?),
        7 => Edn::String(Arc::from(u.arbitrary::<String>()?)),
        8 => Edn::Keyword(keyword(u)?),
        9 => Edn::Symbol(symbol(u)?),
        10 => Edn::Inst(Instant(u.arbitrary()?)),
        11 => Edn::Uuid(uuid::Uuid::from_bytes(u.arbitrary()?)),
        12 => Edn::Long(u.int_in_range(-3..=3)?),
        _ => Edn::String(Arc::from(
            *u.choose(&["", "a", "é", "\"", "\\", "\n", "\u{0}"])?,
        )),
    })
}

/// A value nested `depth` levels deep.
pub fn edn(u: &mut Unstructured<'_>, depth: usize) -> Result<Edn> {
    if depth >= MAX_DEPTH || u.is_empty() || u.ratio(1, 2)? {
        return scalar(u);
    }
    let items = |u: &mut Unstructured<'_>| -> Result<Vec<Edn>> {
        let n = u.int_in_range(0..=5)?;
        (0..n).map(|_| edn(u, depth + 1)).collect()
    };
    Ok(match u.int_in_range(0..=4)? {
        0 => Edn::List(items(u)?),
        1 => Edn::Vector(items(u)?),
        2 => {
            let n = u.int_in_range(0..=4)?;
            let mut pairs = Vec::with_capacity(n);
            for _ in 0..n {
                pairs.push((edn(u, depth + 1)?, edn(u, depth + 1)?));
            }
            Edn::map(pairs)
        }
        3 => Edn::Set(items(u)?.into_iter().collect()),
        _ => Edn::Tagged(tag(u)?, Box::new(edn(u, depth + 1)?)),
    })
}
