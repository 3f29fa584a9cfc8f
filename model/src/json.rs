//! JSON, the second text form of accrete data: a documented, lossless
//! mapping of every EDN value (and so of every datom value, transaction
//! data and queries) to JSON and back, for clients in languages without an
//! EDN reader. `accrete serve` speaks it, and the CLI's `--format json`
//! prints it.
//!
//! # The mapping
//!
//! JSON has null, booleans, numbers, strings, arrays and objects. Values
//! JSON has are written as themselves; every other value is an object with
//! exactly one key that starts with `~` (a *tag*):
//!
//! | EDN                     | JSON                                              |
//! |-------------------------|---------------------------------------------------|
//! | `nil`                   | `null`                                            |
//! | `true`, `false`         | `true`, `false`                                   |
//! | `42` (long)             | `42`; beyond ±(2^53−1): `{"~long": "9007199254740993"}` |
//! | `1.5` (double)          | `1.5` (always with `.` or an exponent); `{"~double": "NaN"}`, `"Inf"`, `"-Inf"` |
//! | `"text"`                | `"text"` (never escaped or tagged)                 |
//! | `:user/email`           | `{"~kw": ":user/email"}`                          |
//! | `?e`, `$`, `pull`       | `{"~sym": "?e"}`                                  |
//! | `[1 2]`                 | `[1, 2]`                                          |
//! | `(f ?x)`                | `{"~list": [{"~sym": "f"}, {"~sym": "?x"}]}`      |
//! | `#{1 2}`                | `{"~set": [1, 2]}`                                |
//! | `{:a/b 1}` (keyword keys) | `{"a/b": 1}` (the key is the keyword without `:`) |
//! | `{"k" 1}` (other keys)  | `{"~map": [["k", 1]]}`                            |
//! | `#inst "2012-01-01T00:00:00.000-00:00"` | `{"~inst": "2012-01-01T00:00:00.000-00:00"}` (RFC 3339, as `#inst` reads it) |
//! | `#uuid "…"`             | `{"~uuid": "…"}`                                  |
//! | `#uri "https://x"`      | `{"~uri": "https://x"}`                           |
//! | `#bytes "00ff"`         | `{"~bytes": "00ff"}` (lowercase hex, as in EDN)    |
//! | `123N` (bigint)         | `{"~bigint": "123"}`                              |
//! | `1.50M` (bigdec)        | `{"~bigdec": "1.50"}` (the scale is kept)         |
//! | `\a` (char)             | `{"~char": "a"}`                                  |
//! | `#tag value` (other)    | `{"~#tag": value}`, e.g. `{"~#db/id": [{"~kw": ":db.part/user"}, -1]}` |
//!
//! Datom values map through their EDN form ([`crate::Value::to_edn`]): a
//! ref is its entity id (a long), a float is a double, a tuple is an array
//! with `null` for a missing element. Written back, a value takes the type
//! of its attribute, exactly as EDN does ([`crate::Value::from_edn`]).
//!
//! Writing JSON by hand:
//! - An integer must fit in 64 bits; larger ones are `{"~bigint": "…"}`
//!   (a JSON parser reads an integer literal beyond 64 bits as a double).
//!   `{"~long": …}` accepts a string or a number.
//! - A number with a fraction or an exponent is a double; to send a
//!   double that happens to be whole from a language that prints `1.0` as
//!   `1` (JavaScript), write `{"~double": 1}`.
//! - Keyword tags accept the text with or without the leading `:`.
//! - An object whose only key starts with `~` is a tag; `~` keys are
//!   refused anywhere else. A map with a keyword key that starts with `~`
//!   is written in the `~map` form.
//!
//! # Transaction data and queries in JSON
//!
//! Transaction data is the JSON form of the EDN list of forms:
//!
//! ```json
//! [{"db/id": "ed", "user/email": "ed@x", "user/tags": [{"~kw": ":tag/a"}]},
//!  [{"~kw": ":db/add"}, "ed", {"~kw": ":user/name"}, "Ed"],
//!  [{"~kw": ":db/retract"}, ["user/email", "old@x"], {"~kw": ":user/name"}, "Old"]]
//! ```
//!
//! Map forms read naturally (their keys are attribute keywords); `:db/id`
//! tempids are strings as in EDN; a lookup ref is `[{"~kw": ":user/email"}, "ed@x"]`.
//!
//! A query is the JSON form of the EDN query (vector or map form), e.g.
//! `{"find": [{"~sym": "?e"}], "where": [[{"~sym": "?e"}, {"~kw": ":user/email"}, "ed@x"]]}`,
//! or — simpler to write — the EDN query text as one JSON string
//! (`"[:find ?e :where [?e :user/email \"ed@x\"]]"`), which the server
//! reads with the EDN reader. Query arguments, rules and pull patterns are
//! JSON values under this mapping (or EDN text in a string where the
//! endpoint says so).
//!
//! ```
//! use model::{edn, json};
//! let form = edn::parse(r#"{:db/id "ed" :user/email "ed@x" :user/joined #inst "2020-01-01"}"#).unwrap();
//! let text = json::to_string(&form);
//! assert_eq!(
//!     text,
//!     r#"{"db/id":"ed","user/email":"ed@x","user/joined":{"~inst":"2020-01-01T00:00:00.000-00:00"}}"#
//! );
//! assert_eq!(json::parse(&text).unwrap(), form);
//! ```
//!
//! Bad JSON gets an error that names the place: `$[0]["db/id"]: …`.

use crate::edn::{BigDec, BigInt, Edn, Instant, Keyword, Symbol};
use serde_json::{Map, Number, Value as Json};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// The largest integer every JSON parser reads exactly (JavaScript's
/// `Number.MAX_SAFE_INTEGER`); longs beyond it are written as `{"~long": "…"}`.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// JSON that does not map to EDN: what was wrong, and where (a JSON path
/// such as `$[0]["db/id"]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    /// Where in the document, as a JSON path from `$`.
    pub path: String,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for JsonError {}

/// The JSON text of an EDN value (compact).
pub fn to_string(edn: &Edn) -> String {
    to_json(edn).to_string()
}

/// Parses JSON text into the EDN value it maps to.
pub fn parse(text: &str) -> Result<Edn, JsonError> {
    let json: Json = serde_json::from_str(text).map_err(|e| JsonError {
        path: "$".into(),
        message: format!("not JSON: {e}"),
    })?;
    from_json(&json)
}

/// The JSON form of an EDN value.
pub fn to_json(edn: &Edn) -> Json {
    match edn {
        Edn::Nil => Json::Null,
        Edn::Boolean(b) => Json::Bool(*b),
        Edn::Long(n) if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(n) => Json::from(*n),
        Edn::Long(n) => tagged("~long", Json::String(n.to_string())),
        Edn::Double(d) => match Number::from_f64(*d) {
            Some(n) => Json::Number(n),
            None => tagged("~double", Json::String(non_finite_name(*d).into())),
        },
        Edn::BigInt(n) => tagged("~bigint", Json::String(n.to_string())),
        Edn::BigDec(d) => tagged("~bigdec", Json::String(d.to_string())),
        Edn::Char(c) => tagged("~char", Json::String(c.to_string())),
        Edn::String(s) => Json::String(s.to_string()),
        Edn::Keyword(k) => tagged("~kw", Json::String(k.to_string())),
        Edn::Symbol(s) => tagged("~sym", Json::String(s.to_string())),
        Edn::Vector(items) => Json::Array(items.iter().map(to_json).collect()),
        Edn::List(items) => tagged("~list", Json::Array(items.iter().map(to_json).collect())),
        Edn::Set(items) => tagged("~set", Json::Array(items.iter().map(to_json).collect())),
        Edn::Map(map) => map_to_json(map),
        Edn::Inst(i) => tagged("~inst", Json::String(i.to_string())),
        Edn::Uuid(u) => tagged("~uuid", Json::String(u.to_string())),
        Edn::Tagged(tag, inner) => match (tag.as_str(), &**inner) {
            ("uri", Edn::String(s)) => tagged("~uri", Json::String(s.to_string())),
            ("bytes", Edn::String(s)) => tagged("~bytes", Json::String(s.to_string())),
            (tag, inner) => tagged(&format!("~#{tag}"), to_json(inner)),
        },
    }
}

/// The JSON form of a datom value (through its EDN form).
pub fn value_to_json(value: &crate::Value) -> Json {
    to_json(&value.to_edn())
}

fn tagged(tag: &str, value: Json) -> Json {
    let mut map = Map::new();
    map.insert(tag.to_string(), value);
    Json::Object(map)
}

fn non_finite_name(d: f64) -> &'static str {
    if d.is_nan() {
        "NaN"
    } else if d > 0.0 {
        "Inf"
    } else {
        "-Inf"
    }
}

/// Keyword-keyed maps become objects; any other map (or a keyword key that
/// would read as a tag) the `~map` list of pairs.
fn map_to_json(map: &BTreeMap<Edn, Edn>) -> Json {
    let plain = map.keys().all(|k| match k {
        Edn::Keyword(k) => !k.as_str().starts_with('~'),
        _ => false,
    });
    if plain {
        let object = map
            .iter()
            .filter_map(|(k, v)| Some((k.as_keyword()?.as_str().to_string(), to_json(v))))
            .collect();
        return Json::Object(object);
    }
    let pairs = map
        .iter()
        .map(|(k, v)| Json::Array(vec![to_json(k), to_json(v)]))
        .collect();
    tagged("~map", Json::Array(pairs))
}

/// The EDN value a JSON value maps to.
pub fn from_json(json: &Json) -> Result<Edn, JsonError> {
    Reader {
        path: vec!["$".to_string()],
    }
    .read(json)
}

struct Reader {
    path: Vec<String>,
}

impl Reader {
    fn error(&self, message: impl Into<String>) -> JsonError {
        JsonError {
            path: self.path.concat(),
            message: message.into(),
        }
    }

    fn at<T>(
        &mut self,
        step: String,
        f: impl FnOnce(&mut Self) -> Result<T, JsonError>,
    ) -> Result<T, JsonError> {
        self.path.push(step);
        let out = f(self);
        self.path.pop();
        out
    }

    fn read(&mut self, json: &Json) -> Result<Edn, JsonError> {
        match json {
            Json::Null => Ok(Edn::Nil),
            Json::Bool(b) => Ok(Edn::Boolean(*b)),
            Json::Number(n) => self.number(n),
            Json::String(s) => Ok(Edn::String(Arc::from(s.as_str()))),
            Json::Array(items) => self.items(items).map(Edn::Vector),
            Json::Object(map) => match map.iter().next() {
                Some((key, value)) if map.len() == 1 && key.starts_with('~') => {
                    self.at(format!("[{key:?}]"), |r| r.tag(key, value))
                }
                _ => self.object(map),
            },
        }
    }

    fn number(&self, n: &Number) -> Result<Edn, JsonError> {
        if let Some(i) = n.as_i64() {
            return Ok(Edn::Long(i));
        }
        if n.is_u64() {
            return Err(self.error(format!(
                "{n} does not fit in a 64-bit long; write {{\"~bigint\": \"{n}\"}}"
            )));
        }
        n.as_f64()
            .map(Edn::Double)
            .ok_or_else(|| self.error(format!("{n} is not a number accrete reads")))
    }

    fn items(&mut self, items: &[Json]) -> Result<Vec<Edn>, JsonError> {
        items
            .iter()
            .enumerate()
            .map(|(i, item)| self.at(format!("[{i}]"), |r| r.read(item)))
            .collect()
    }

    fn object(&mut self, map: &Map<String, Json>) -> Result<Edn, JsonError> {
        let mut out = BTreeMap::new();
        for (key, value) in map {
            if key.starts_with('~') {
                return Err(self.error(format!(
                    "the key {key:?} starts with '~': a tagged value is an object with exactly one key, and '~' keys appear nowhere else"
                )));
            }
            let value = self.at(format!("[{key:?}]"), |r| r.read(value))?;
            out.insert(Edn::Keyword(Keyword::new(key)), value);
        }
        Ok(Edn::Map(out))
    }

    fn text<'j>(&self, tag: &str, value: &'j Json) -> Result<&'j str, JsonError> {
        value
            .as_str()
            .ok_or_else(|| self.error(format!("{tag} takes a string, not {value}")))
    }

    fn array<'j>(&self, tag: &str, value: &'j Json) -> Result<&'j [Json], JsonError> {
        value
            .as_array()
            .map(Vec::as_slice)
            .ok_or_else(|| self.error(format!("{tag} takes an array, not {value}")))
    }

    fn tag(&mut self, tag: &str, value: &Json) -> Result<Edn, JsonError> {
        let edn = match tag {
            "~kw" => Edn::Keyword(Keyword::new(self.name(tag, value)?)),
            "~sym" => Edn::Symbol(Symbol::new(self.name(tag, value)?)),
            "~list" => Edn::List(self.items(self.array(tag, value)?)?),
            "~set" => Edn::Set(self.set(self.array(tag, value)?)?),
            "~map" => self.pairs(self.array(tag, value)?)?,
            "~long" => self.long(value)?,
            "~double" => self.double(value)?,
            "~bigint" => {
                let text = self.text(tag, value)?;
                let n: BigInt = text
                    .parse()
                    .map_err(|_| self.error(format!("{text:?} is not an integer")))?;
                Edn::BigInt(Arc::new(n))
            }
            "~bigdec" => {
                let text = self.text(tag, value)?;
                Edn::BigDec(Arc::new(BigDec::parse(text).map_err(|e| self.error(e))?))
            }
            "~char" => {
                let text = self.text(tag, value)?;
                let mut chars = text.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Edn::Char(c),
                    _ => return Err(self.error(format!("{text:?} is not one character"))),
                }
            }
            "~inst" => {
                let text = self.text(tag, value)?;
                Edn::Inst(
                    Instant::parse(text)
                        .map_err(|e| self.error(format!("{text:?} is not an instant: {e}")))?,
                )
            }
            "~uuid" => {
                let text = self.text(tag, value)?;
                Edn::Uuid(
                    uuid::Uuid::parse_str(text)
                        .map_err(|e| self.error(format!("{text:?} is not a UUID: {e}")))?,
                )
            }
            "~uri" => Edn::Tagged(
                Symbol::new("uri"),
                Box::new(Edn::string(self.text(tag, value)?)),
            ),
            "~bytes" => Edn::Tagged(
                Symbol::new("bytes"),
                Box::new(Edn::string(self.text(tag, value)?)),
            ),
            other => match other.strip_prefix("~#") {
                Some(name) if !name.is_empty() => {
                    Edn::Tagged(Symbol::new(name), Box::new(self.read(value)?))
                }
                _ => {
                    return Err(self.error(format!(
                        "unknown tag {other:?} (known: ~kw ~sym ~list ~set ~map ~long ~double ~bigint ~bigdec ~char ~inst ~uuid ~uri ~bytes ~#TAG)"
                    )));
                }
            },
        };
        Ok(edn)
    }

    fn name<'j>(&self, tag: &str, value: &'j Json) -> Result<&'j str, JsonError> {
        let text = self.text(tag, value)?;
        if text.is_empty() || text == ":" {
            return Err(self.error(format!("{tag} needs a name")));
        }
        Ok(text)
    }

    fn set(&mut self, items: &[Json]) -> Result<BTreeSet<Edn>, JsonError> {
        let mut set = BTreeSet::new();
        for (i, item) in items.iter().enumerate() {
            let value = self.at(format!("[{i}]"), |r| r.read(item))?;
            if !set.insert(value) {
                return Err(
                    self.error(format!("element {i} repeats an earlier element of the set"))
                );
            }
        }
        Ok(set)
    }

    fn pairs(&mut self, items: &[Json]) -> Result<Edn, JsonError> {
        let mut map = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            let (k, v) = self.at(format!("[{i}]"), |r| {
                match item.as_array().map(Vec::as_slice) {
                    Some([k, v]) => Ok((r.read(k)?, r.read(v)?)),
                    _ => Err(r.error(format!("a ~map entry is a [key, value] pair, not {item}"))),
                }
            })?;
            if map.insert(k, v).is_some() {
                return Err(self.error(format!("entry {i} repeats an earlier key of the map")));
            }
        }
        Ok(Edn::Map(map))
    }

    fn long(&self, value: &Json) -> Result<Edn, JsonError> {
        let parsed = match value {
            Json::String(s) => s.parse::<i64>().ok(),
            Json::Number(n) => n.as_i64(),
            _ => None,
        };
        parsed
            .map(Edn::Long)
            .ok_or_else(|| self.error(format!("{value} is not a 64-bit long")))
    }

    fn double(&self, value: &Json) -> Result<Edn, JsonError> {
        let parsed = match value {
            Json::String(s) => match s.as_str() {
                "NaN" => Some(f64::NAN),
                "Inf" | "Infinity" => Some(f64::INFINITY),
                "-Inf" | "-Infinity" => Some(f64::NEG_INFINITY),
                other => other.parse::<f64>().ok(),
            },
            Json::Number(n) => n.as_f64(),
            _ => None,
        };
        parsed
            .map(Edn::Double)
            .ok_or_else(|| self.error(format!("{value} is not a double")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edn;
    use crate::{TupleShape, Value, ValueType};

    fn round_trip(edn_text: &str, json_text: &str) {
        let form = edn::parse(edn_text).expect("edn");
        assert_eq!(to_string(&form), json_text, "EDN {edn_text} → JSON");
        assert_eq!(
            parse(json_text).expect("json"),
            form,
            "JSON {json_text} → EDN"
        );
    }

    /// Every EDN kind, in the form the documentation promises.
    #[test]
    fn the_documented_table() {
        round_trip("nil", "null");
        round_trip("true", "true");
        round_trip("false", "false");
        round_trip("42", "42");
        round_trip("-9007199254740991", "-9007199254740991");
        round_trip("9007199254740992", r#"{"~long":"9007199254740992"}"#);
        round_trip(
            "-9223372036854775808",
            r#"{"~long":"-9223372036854775808"}"#,
        );
        round_trip("1.5", "1.5");
        round_trip("1.0", "1.0");
        round_trip("-0.0", "-0.0");
        round_trip("1e300", "1e+300");
        round_trip("##NaN", r#"{"~double":"NaN"}"#);
        round_trip("##Inf", r#"{"~double":"Inf"}"#);
        round_trip("##-Inf", r#"{"~double":"-Inf"}"#);
        round_trip(r#""a \"q\" ~x""#, r#""a \"q\" ~x""#);
        round_trip(":user/email", r#"{"~kw":":user/email"}"#);
        round_trip("?e", r#"{"~sym":"?e"}"#);
        round_trip("[1 [2]]", "[1,[2]]");
        round_trip("(f ?x)", r#"{"~list":[{"~sym":"f"},{"~sym":"?x"}]}"#);
        round_trip("#{1 2}", r#"{"~set":[1,2]}"#);
        round_trip("{:a/b 1 :c 2}", r#"{"a/b":1,"c":2}"#);
        round_trip("{}", "{}");
        round_trip(r#"{"k" 1}"#, r#"{"~map":[["k",1]]}"#);
        round_trip(r#"{:a 1 "k" 2}"#, r#"{"~map":[["k",2],[{"~kw":":a"},1]]}"#);
        round_trip(
            "#inst \"2012-06-30T23:59:59.123Z\"",
            r#"{"~inst":"2012-06-30T23:59:59.123-00:00"}"#,
        );
        round_trip(
            "#uuid \"5f1b0d1c-3c39-4a5b-9d3f-0f2a5c3b1e01\"",
            r#"{"~uuid":"5f1b0d1c-3c39-4a5b-9d3f-0f2a5c3b1e01"}"#,
        );
        round_trip("#uri \"https://x/y?z\"", r#"{"~uri":"https://x/y?z"}"#);
        round_trip("#bytes \"00ff\"", r#"{"~bytes":"00ff"}"#);
        round_trip(
            "123456789012345678901234567890N",
            r#"{"~bigint":"123456789012345678901234567890"}"#,
        );
        round_trip("1.50M", r#"{"~bigdec":"1.50"}"#);
        round_trip("\\a", r#"{"~char":"a"}"#);
        round_trip(
            "#db/id [:db.part/user -1]",
            r#"{"~#db/id":[{"~kw":":db.part/user"},-1]}"#,
        );
        round_trip("#uri 5", r#"{"~#uri":5}"#);
    }

    /// A keyword key that would read as a tag takes the general map form.
    #[test]
    fn tilde_keys_stay_unambiguous() {
        let form = Edn::map([(Edn::keyword(":~kw"), Edn::Long(1))]);
        let text = to_string(&form);
        assert_eq!(text, r#"{"~map":[[{"~kw":":~kw"},1]]}"#);
        assert_eq!(parse(&text).unwrap(), form);
    }

    /// Every datom value type goes to JSON text and back to the same value.
    #[test]
    fn every_value_type_round_trips() {
        let resolve = |e: &Edn| match e {
            Edn::Long(n) => Ok(*n as u64),
            other => Err(format!("{other} is not an id")),
        };
        let tuple_shape = TupleShape::Heterogeneous(
            vec![ValueType::Long, ValueType::Keyword, ValueType::String].into(),
        );
        let values = [
            Value::Ref(17_592_186_045_418),
            Value::keyword(":color/red"),
            Value::Long(i64::MIN),
            Value::Long(-1),
            Value::string("ünïcode \u{1F600} \"quoted\"\n"),
            Value::Boolean(true),
            Value::Instant(Instant(-86_400_001)),
            Value::Uuid(uuid::Uuid::from_u128(
                0x0123_4567_89ab_cdef_0123_4567_89ab_cdef,
            )),
            Value::Double(0.1),
            Value::Double(f64::NAN),
            Value::Double(f64::NEG_INFINITY),
            Value::Float(1.25),
            Value::BigInt(Arc::new("-98765432109876543210987654321".parse().unwrap())),
            Value::BigDec(Arc::new(BigDec::parse("-3.14150").unwrap())),
            Value::Symbol(Symbol::new("my.ns/sym")),
            Value::Uri(Arc::from("urn:isbn:0451450523")),
            Value::Bytes(Arc::from(&[0u8, 1, 254, 255][..])),
            Value::Tuple(vec![Some(Value::Long(1)), None, Some(Value::string("x"))].into()),
        ];
        let mut covered = BTreeSet::new();
        for value in values {
            let ty = value.value_type();
            covered.insert(ty);
            let text = value_to_json(&value).to_string();
            let edn = parse(&text).unwrap_or_else(|e| panic!("{value}: {e}"));
            let shape = (ty == ValueType::Tuple).then_some(&tuple_shape);
            let back = Value::from_edn(ty, shape, &edn, &resolve)
                .unwrap_or_else(|e| panic!("{value} via {text}: {e}"));
            assert_eq!(back, value, "{ty} via {text}");
        }
        assert_eq!(
            covered.len(),
            ValueType::ALL.len(),
            "every value type is in the table"
        );
    }

    /// Transaction data and queries as a JSON client writes them.
    #[test]
    fn tx_data_and_queries_in_json() {
        let tx = parse(
            r#"[{"db/id": "ed", "user/email": "ed@x"},
                [{"~kw": "db/add"}, "ed", {"~kw": ":user/name"}, "Ed"]]"#,
        )
        .unwrap();
        assert_eq!(
            tx,
            edn::parse(r#"[{:db/id "ed" :user/email "ed@x"} [:db/add "ed" :user/name "Ed"]]"#)
                .unwrap()
        );
        let query = parse(
            r#"{"find": [{"~sym": "?e"}], "in": [{"~sym": "$"}, {"~sym": "?email"}],
                "where": [[{"~sym": "?e"}, {"~kw": ":user/email"}, {"~sym": "?email"}]]}"#,
        )
        .unwrap();
        assert_eq!(
            query,
            edn::parse("{:find [?e] :in [$ ?email] :where [[?e :user/email ?email]]}").unwrap()
        );
    }

    /// Bad JSON is refused with the place and the reason.
    #[test]
    fn errors_name_the_place() {
        let cases = [
            (
                "[1, {\"~kw\": 5}]",
                "$[1][\"~kw\"]: ~kw takes a string, not 5",
            ),
            (
                "{\"a\": {\"~nope\": 1}}",
                "$[\"a\"][\"~nope\"]: unknown tag",
            ),
            (
                "{\"~kw\": \"a\", \"b\": 1}",
                "$: the key \"~kw\" starts with '~': a tagged value is an object with exactly one key",
            ),
            (
                "{\"b\": 1, \"~kw\": \"a\"}",
                "$: the key \"~kw\" starts with '~'",
            ),
            (
                "18446744073709551615",
                "$: 18446744073709551615 does not fit in a 64-bit long",
            ),
            ("{\"~set\": [1, 1]}", "$[\"~set\"]: element 1 repeats"),
            (
                "{\"~map\": [[1, 2, 3]]}",
                "$[\"~map\"][0]: a ~map entry is a [key, value] pair",
            ),
            (
                "{\"~inst\": \"2012-13\"}",
                "$[\"~inst\"]: \"2012-13\" is not an instant",
            ),
            ("{\"~uuid\": \"x\"}", "$[\"~uuid\"]: \"x\" is not a UUID"),
            (
                "{\"~bigint\": \"1.5\"}",
                "$[\"~bigint\"]: \"1.5\" is not an integer",
            ),
            (
                "{\"~long\": \"9223372036854775808\"}",
                "is not a 64-bit long",
            ),
            ("{\"~char\": \"ab\"}", "is not one character"),
            ("[1,", "$: not JSON"),
        ];
        for (text, expected) in cases {
            let error = parse(text).expect_err(text).to_string();
            assert!(
                error.contains(expected),
                "{text}: got {error:?}, expected {expected:?}"
            );
        }
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(
            parse(&deep).is_err(),
            "deep nesting is refused, not a stack overflow"
        );
    }
}
