//! Printing EDN as text the reader reads back.

use super::Edn;
use std::fmt::{self, Write};

fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c if c.is_control() => write!(f, "\\u{:04x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

fn write_char(f: &mut fmt::Formatter<'_>, c: char) -> fmt::Result {
    match c {
        '\n' => f.write_str("\\newline"),
        ' ' => f.write_str("\\space"),
        '\t' => f.write_str("\\tab"),
        '\r' => f.write_str("\\return"),
        c if c.is_control() => write!(f, "\\u{:04x}", c as u32),
        c => write!(f, "\\{c}"),
    }
}

/// Doubles always print with a decimal point or exponent so they read back as doubles.
pub(crate) fn write_double(f: &mut impl Write, d: f64) -> fmt::Result {
    if d.is_nan() {
        f.write_str("##NaN")
    } else if d.is_infinite() {
        f.write_str(if d > 0.0 { "##Inf" } else { "##-Inf" })
    } else {
        write!(f, "{d:?}")
    }
}

fn write_seq<'a>(
    f: &mut fmt::Formatter<'_>,
    open: &str,
    items: impl Iterator<Item = &'a Edn>,
    close: &str,
) -> fmt::Result {
    f.write_str(open)?;
    for (i, item) in items.enumerate() {
        if i > 0 {
            f.write_char(' ')?;
        }
        write!(f, "{item}")?;
    }
    f.write_str(close)
}

impl fmt::Display for Edn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Edn::Nil => f.write_str("nil"),
            Edn::Boolean(b) => write!(f, "{b}"),
            Edn::Long(n) => write!(f, "{n}"),
            Edn::BigInt(n) => write!(f, "{n}N"),
            Edn::Double(d) => write_double(f, *d),
            Edn::BigDec(d) => write!(f, "{d}M"),
            Edn::Char(c) => write_char(f, *c),
            Edn::String(s) => write_string(f, s),
            Edn::Keyword(k) => write!(f, "{k}"),
            Edn::Symbol(s) => write!(f, "{s}"),
            Edn::List(items) => write_seq(f, "(", items.iter(), ")"),
            Edn::Vector(items) => write_seq(f, "[", items.iter(), "]"),
            Edn::Set(items) => write_seq(f, "#{", items.iter(), "}"),
            Edn::Map(map) => {
                f.write_char('{')?;
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} {v}")?;
                }
                f.write_char('}')
            }
            Edn::Inst(i) => write!(f, "#inst \"{i}\""),
            Edn::Uuid(u) => write!(f, "#uuid \"{u}\""),
            Edn::Tagged(tag, value) => write!(f, "#{tag} {value}"),
        }
    }
}
