//! Strings and regular expressions (patterns are strings, compiled once per clause).

use super::{Builtin, Calls, Returned, arity, one};
use crate::value::equal;
use model::Value;
use regex::Regex;

impl Calls {
    pub(super) fn text(&mut self, builtin: Builtin, args: &[&Value]) -> Returned {
        use Builtin as B;
        let string = |v: Value| Ok(Some(v));
        match builtin {
            B::Str => string(Value::string(
                &args.iter().map(|v| text_of(v)).collect::<String>(),
            )),
            B::Subs => subs(args),
            B::Count => count(one(args, "count")?),
            B::Keyword => keyword(args),
            B::Name => named_part(one(args, "name")?, false),
            B::Namespace => named_part(one(args, "namespace")?, true),
            B::StartsWith => two_strings(args, "starts-with?", |a, b| a.starts_with(b)),
            B::EndsWith => two_strings(args, "ends-with?", |a, b| a.ends_with(b)),
            B::Includes => two_strings(args, "includes?", |a, b| a.contains(b)),
            B::Blank => Ok(Some(Value::Boolean(
                str_arg(one(args, "blank?")?)?.trim().is_empty(),
            ))),
            B::LowerCase => string(Value::string(
                &str_arg(one(args, "lower-case")?)?.to_lowercase(),
            )),
            B::UpperCase => string(Value::string(
                &str_arg(one(args, "upper-case")?)?.to_uppercase(),
            )),
            B::Trim => string(Value::string(str_arg(one(args, "trim")?)?.trim())),
            B::RePattern => {
                let pattern = str_arg(one(args, "re-pattern")?)?;
                self.regex(pattern)?;
                string(Value::string(pattern))
            }
            B::ReFind | B::ReMatches | B::ReSeq => self.regex_call(builtin, args),
            _ => Err(format!("{builtin:?} is not a text function")),
        }
    }

    fn regex(&mut self, pattern: &str) -> Result<&Regex, String> {
        if !self.regexes.contains_key(pattern) {
            let compiled =
                Regex::new(pattern).map_err(|e| format!("bad regular expression: {e}"))?;
            self.regexes.insert(pattern.to_string(), compiled);
        }
        self.regexes
            .get(pattern)
            .ok_or_else(|| "regular expression cache lost an entry".to_string())
    }

    fn regex_call(&mut self, builtin: Builtin, args: &[&Value]) -> Returned {
        let [pattern, text] = args else {
            return Err(arity("a regular expression function", 2));
        };
        let (pattern, text) = (str_arg(pattern)?, str_arg(text)?);
        let regex = self.regex(pattern)?;
        let found = match builtin {
            Builtin::ReSeq => {
                let all: Vec<Option<Value>> = regex
                    .captures_iter(text)
                    .map(|c| Some(captured(&c)))
                    .collect();
                return Ok((!all.is_empty()).then(|| Value::Tuple(all.into())));
            }
            Builtin::ReMatches => regex.captures(text).filter(|c| {
                c.get(0)
                    .is_some_and(|m| m.start() == 0 && m.end() == text.len())
            }),
            _ => regex.captures(text),
        };
        Ok(found.map(|c| captured(&c)))
    }
}

/// A match as Clojure returns it: the text, or `[text group…]` with groups.
fn captured(c: &regex::Captures<'_>) -> Value {
    let text = |m: Option<regex::Match<'_>>| m.map(|m| Value::string(m.as_str()));
    match c.len() {
        1 => text(c.get(0)).unwrap_or_else(|| Value::string("")),
        _ => Value::Tuple(c.iter().map(text).collect()),
    }
}

fn str_arg(v: &Value) -> Result<&str, String> {
    v.as_str().ok_or_else(|| format!("{v} is not a string"))
}

fn two_strings(args: &[&Value], name: &str, f: impl Fn(&str, &str) -> bool) -> Returned {
    match args {
        [a, b] => Ok(Some(Value::Boolean(f(str_arg(a)?, str_arg(b)?)))),
        _ => Err(arity(name, 2)),
    }
}

/// A value as `str` shows it: strings bare, everything else as EDN.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        other => other.to_string(),
    }
}

fn subs(args: &[&Value]) -> Returned {
    let (s, start, end) = match args {
        [s, Value::Long(a)] => (str_arg(s)?, *a, None),
        [s, Value::Long(a), Value::Long(b)] => (str_arg(s)?, *a, Some(*b)),
        _ => return Err("subs takes a string, a start and an optional end".into()),
    };
    let chars: Vec<char> = s.chars().collect();
    let end = end.unwrap_or(chars.len() as i64);
    let range = usize::try_from(start).ok().zip(usize::try_from(end).ok());
    match range {
        Some((a, b)) if a <= b && b <= chars.len() => {
            Ok(Some(Value::string(&chars[a..b].iter().collect::<String>())))
        }
        _ => Err(format!("subs: {start}..{end} is outside the string")),
    }
}

fn count(v: &Value) -> Returned {
    let n = match v {
        Value::String(s) => s.chars().count(),
        Value::Tuple(items) => items.len(),
        Value::Bytes(b) => b.len(),
        other => return Err(format!("count of {other}")),
    };
    Ok(Some(Value::Long(n as i64)))
}

fn keyword(args: &[&Value]) -> Returned {
    let text = match args {
        [Value::Keyword(k)] => return Ok(Some(Value::Keyword(k.clone()))),
        [v] => str_arg(v)?.to_string(),
        [ns, name] => format!("{}/{}", str_arg(ns)?, str_arg(name)?),
        _ => return Err("keyword takes a name, or a namespace and a name".into()),
    };
    Ok(Some(Value::keyword(&text)))
}

fn named_part(v: &Value, namespace: bool) -> Returned {
    let (ns, name) = match v {
        Value::Keyword(k) => (k.namespace(), k.name()),
        Value::Symbol(s) => (s.namespace(), s.name()),
        Value::String(s) => (None, &**s),
        other => return Err(format!("{other} has no name")),
    };
    Ok(match namespace {
        true => ns.map(Value::string),
        false => Some(Value::string(name)),
    })
}

pub(super) fn contains(args: &[&Value]) -> Returned {
    match args {
        [Value::Tuple(items), x] => Ok(Some(Value::Boolean(
            items.iter().flatten().any(|i| equal(i, x)),
        ))),
        [Value::String(s), Value::String(x)] => Ok(Some(Value::Boolean(s.contains(&**x)))),
        _ => Err("contains? takes a collection and a value".into()),
    }
}
