//! The functions and predicates every query can call: comparisons,
//! arithmetic, strings, regular expressions, tuples, and the database
//! functions `missing?`, `get-else` and `get-some`.

use super::source::Source;
use crate::value::{as_f64, compare, equal, truthy};
use model::{Db, Index, Value};
use regex::Regex;
use std::cmp::Ordering;
use std::collections::HashMap;

/// One argument of a call: a value or a source.
pub(crate) enum Arg<'a> {
    Value(&'a Value),
    Source(&'a Source),
}

/// What a call returns: a value, or nil (`None`).
pub(crate) type Returned = Result<Option<Value>, String>;

/// A built-in function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Builtin {
    Eq,
    NotEq,
    Cmp(Ordering, bool),
    Compare,
    Arith(Op),
    Inc,
    Dec,
    Max,
    Min,
    Test(Test),
    Str,
    Subs,
    Count,
    Identity,
    Keyword,
    Name,
    Namespace,
    Tuple,
    Untuple,
    Contains,
    Not,
    StartsWith,
    EndsWith,
    Includes,
    Blank,
    LowerCase,
    UpperCase,
    Trim,
    ReFind,
    ReMatches,
    ReSeq,
    RePattern,
    Missing,
    GetElse,
    GetSome,
}

/// An arithmetic operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Quot,
    Rem,
    Mod,
}

/// A one-argument test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Test {
    Zero,
    Pos,
    Neg,
    Even,
    Odd,
    True,
    False,
    Some,
    Nil,
}

impl Builtin {
    /// The built-in a symbol names (`clojure.core/` and `clojure.string/`
    /// prefixes allowed), if any.
    pub(crate) fn named(name: &str) -> Option<Builtin> {
        let short = name
            .strip_prefix("clojure.core/")
            .or_else(|| name.strip_prefix("clojure.string/"))
            .unwrap_or(name);
        use Builtin as B;
        Some(match short {
            "=" | "==" | "identical?" => B::Eq,
            "!=" | "not=" => B::NotEq,
            "<" => B::Cmp(Ordering::Less, true),
            ">" => B::Cmp(Ordering::Greater, true),
            "<=" => B::Cmp(Ordering::Less, false),
            ">=" => B::Cmp(Ordering::Greater, false),
            "compare" => B::Compare,
            "+" => B::Arith(Op::Add),
            "-" => B::Arith(Op::Sub),
            "*" => B::Arith(Op::Mul),
            "/" => B::Arith(Op::Div),
            "quot" => B::Arith(Op::Quot),
            "rem" => B::Arith(Op::Rem),
            "mod" => B::Arith(Op::Mod),
            "inc" => B::Inc,
            "dec" => B::Dec,
            "max" => B::Max,
            "min" => B::Min,
            "zero?" => B::Test(Test::Zero),
            "pos?" => B::Test(Test::Pos),
            "neg?" => B::Test(Test::Neg),
            "even?" => B::Test(Test::Even),
            "odd?" => B::Test(Test::Odd),
            "true?" => B::Test(Test::True),
            "false?" => B::Test(Test::False),
            "some?" => B::Test(Test::Some),
            "nil?" => B::Test(Test::Nil),
            "str" => B::Str,
            "subs" => B::Subs,
            "count" => B::Count,
            "identity" | "ground" => B::Identity,
            "keyword" => B::Keyword,
            "name" => B::Name,
            "namespace" => B::Namespace,
            "tuple" | "vector" | "list" => B::Tuple,
            "untuple" => B::Untuple,
            "contains?" => B::Contains,
            "not" => B::Not,
            "starts-with?" => B::StartsWith,
            "ends-with?" => B::EndsWith,
            "includes?" => B::Includes,
            "blank?" => B::Blank,
            "lower-case" => B::LowerCase,
            "upper-case" => B::UpperCase,
            "trim" => B::Trim,
            "re-find" => B::ReFind,
            "re-matches" => B::ReMatches,
            "re-seq" => B::ReSeq,
            "re-pattern" => B::RePattern,
            "missing?" => B::Missing,
            "get-else" => B::GetElse,
            "get-some" => B::GetSome,
            _ => return None,
        })
    }

    /// True for the built-ins that read a database (their first argument).
    pub(crate) fn takes_source(self) -> bool {
        matches!(self, Builtin::Missing | Builtin::GetElse | Builtin::GetSome)
    }
}

/// State kept across the rows of one clause: compiled regular expressions.
#[derive(Default)]
pub(crate) struct Calls {
    regexes: HashMap<String, Regex>,
}

impl Calls {
    /// Calls `builtin` with `args`.
    pub(crate) fn call(&mut self, builtin: Builtin, args: &[Arg<'_>]) -> Returned {
        if builtin.takes_source() {
            return database(builtin, args);
        }
        let values = args
            .iter()
            .map(|a| match a {
                Arg::Value(v) => Ok(*v),
                Arg::Source(_) => Err("a source cannot be passed to this function".to_string()),
            })
            .collect::<Result<Vec<&Value>, String>>()?;
        self.values(builtin, &values)
    }

    fn values(&mut self, builtin: Builtin, args: &[&Value]) -> Returned {
        use Builtin as B;
        let bool = |b: bool| Ok(Some(Value::Boolean(b)));
        match builtin {
            B::Eq => bool(args.windows(2).all(|w| equal(w[0], w[1]))),
            B::NotEq => bool(!args.windows(2).all(|w| equal(w[0], w[1]))),
            B::Cmp(order, strict) => bool(args.windows(2).all(|w| {
                let c = compare(w[0], w[1]);
                c == order || (!strict && c == Ordering::Equal)
            })),
            B::Compare => match args {
                [a, b] => Ok(Some(Value::Long(compare(a, b) as i64))),
                _ => Err(arity("compare", 2)),
            },
            B::Arith(op) => arith(op, args).map(Some),
            B::Inc => arith(Op::Add, &[one(args, "inc")?, &Value::Long(1)]).map(Some),
            B::Dec => arith(Op::Sub, &[one(args, "dec")?, &Value::Long(1)]).map(Some),
            B::Max => extreme(args, Ordering::Greater),
            B::Min => extreme(args, Ordering::Less),
            B::Test(t) => test(t, one(args, "the test")?).map(|b| Some(Value::Boolean(b))),
            B::Identity => one(args, "identity").map(|v| Some(v.clone())),
            B::Tuple => Ok(Some(Value::Tuple(
                args.iter().map(|v| Some((*v).clone())).collect(),
            ))),
            B::Untuple => match one(args, "untuple")? {
                v @ Value::Tuple(_) => Ok(Some(v.clone())),
                other => Err(format!("untuple takes a tuple, not {other}")),
            },
            B::Not => bool(!truthy(one(args, "not")?)),
            B::Contains => contains(args),
            _ => self.text(builtin, args),
        }
    }

    fn text(&mut self, builtin: Builtin, args: &[&Value]) -> Returned {
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

fn arity(name: &str, n: usize) -> String {
    format!("{name} takes {n} argument(s)")
}

fn one<'a>(args: &[&'a Value], name: &str) -> Result<&'a Value, String> {
    match args {
        [v] => Ok(v),
        _ => Err(arity(name, 1)),
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

fn contains(args: &[&Value]) -> Returned {
    match args {
        [Value::Tuple(items), x] => Ok(Some(Value::Boolean(
            items.iter().flatten().any(|i| equal(i, x)),
        ))),
        [Value::String(s), Value::String(x)] => Ok(Some(Value::Boolean(s.contains(&**x)))),
        _ => Err("contains? takes a collection and a value".into()),
    }
}

fn extreme(args: &[&Value], keep: Ordering) -> Returned {
    let mut best = *args.first().ok_or("max and min need arguments")?;
    for v in &args[1..] {
        if compare(v, best) == keep {
            best = v;
        }
    }
    Ok(Some(best.clone()))
}

fn test(t: Test, v: &Value) -> Result<bool, String> {
    let long = || match v {
        Value::Long(n) => Ok(*n),
        other => Err(format!("{other} is not an integer")),
    };
    let sign = || {
        as_f64(v)
            .map(|f| f.partial_cmp(&0.0))
            .ok_or_else(|| format!("{v} is not a number"))
    };
    Ok(match t {
        Test::Zero => sign()? == Some(Ordering::Equal),
        Test::Pos => sign()? == Some(Ordering::Greater),
        Test::Neg => sign()? == Some(Ordering::Less),
        Test::Even => long()? % 2 == 0,
        Test::Odd => long()? % 2 != 0,
        Test::True => matches!(v, Value::Boolean(true)),
        Test::False => matches!(v, Value::Boolean(false)),
        Test::Some => true,
        Test::Nil => false,
    })
}

/// Arithmetic over longs (checked: overflow is an error) and doubles.
pub(crate) fn arith(op: Op, args: &[&Value]) -> Result<Value, String> {
    let (first, rest) = args.split_first().ok_or("arithmetic needs arguments")?;
    if rest.is_empty() {
        return match op {
            Op::Sub => arith(Op::Sub, &[&Value::Long(0), first]),
            Op::Div => arith(Op::Div, &[&Value::Long(1), first]),
            _ => number(first).map(|_| (*first).clone()),
        };
    }
    let mut acc = (*first).clone();
    for v in rest {
        acc = step(op, &acc, v)?;
    }
    Ok(acc)
}

fn number(v: &Value) -> Result<f64, String> {
    match v {
        Value::Long(n) => Ok(*n as f64),
        Value::Double(d) => Ok(*d),
        Value::Float(f) => Ok(f64::from(*f)),
        other => Err(format!("{other} is not a number")),
    }
}

fn step(op: Op, a: &Value, b: &Value) -> Result<Value, String> {
    if let (Value::Long(x), Value::Long(y)) = (a, b) {
        return long_step(op, *x, *y);
    }
    let (x, y) = (number(a)?, number(b)?);
    Ok(Value::Double(match op {
        Op::Add => x + y,
        Op::Sub => x - y,
        Op::Mul => x * y,
        Op::Div if y == 0.0 => return Err("division by zero".into()),
        Op::Div => x / y,
        Op::Quot | Op::Rem | Op::Mod => return Err(format!("{op:?} takes integers")),
    }))
}

fn long_step(op: Op, x: i64, y: i64) -> Result<Value, String> {
    let overflow = || format!("integer overflow in {op:?} of {x} and {y}");
    if y == 0 && matches!(op, Op::Div | Op::Quot | Op::Rem | Op::Mod) {
        return Err("division by zero".into());
    }
    let n = match op {
        Op::Add => x.checked_add(y),
        Op::Sub => x.checked_sub(y),
        Op::Mul => x.checked_mul(y),
        Op::Div if x % y != 0 => return Ok(Value::Double(x as f64 / y as f64)),
        Op::Div | Op::Quot => x.checked_div(y),
        Op::Rem => x.checked_rem(y),
        Op::Mod => x.checked_rem(y).map(|r| {
            if r != 0 && (r < 0) != (y < 0) {
                r + y
            } else {
                r
            }
        }),
    };
    n.map(Value::Long).ok_or_else(overflow)
}

/// `missing?`, `get-else` and `get-some`: `[$ entity attr…]`.
fn database(builtin: Builtin, args: &[Arg<'_>]) -> Returned {
    let (db, e, rest) = match args {
        [Arg::Source(Source::Db(db)), Arg::Value(e), rest @ ..] => (db, *e, rest),
        _ => return Err("the first argument must be a database, the second an entity".into()),
    };
    let Some(e) = crate::resolve::entity(db, e).map_err(|err| err.to_string())? else {
        return Ok(match builtin {
            Builtin::Missing => Some(Value::Boolean(true)),
            Builtin::GetElse => default_of(rest)?.cloned(),
            _ => None,
        });
    };
    let attrs = rest
        .iter()
        .map(|a| match a {
            Arg::Value(v) => Ok(*v),
            Arg::Source(_) => Err("an attribute is expected, not a source".to_string()),
        })
        .collect::<Result<Vec<&Value>, String>>()?;
    match builtin {
        Builtin::Missing => match attrs.as_slice() {
            [a] => Ok(Some(Value::Boolean(first_value(db, e, a)?.is_none()))),
            _ => Err(arity("missing?", 3)),
        },
        Builtin::GetElse => match attrs.as_slice() {
            [a, default] => {
                if attribute(db, a)?.is_many() {
                    return Err(format!("get-else of the cardinality-many attribute {a}"));
                }
                Ok(Some(
                    first_value(db, e, a)?.unwrap_or_else(|| (*default).clone()),
                ))
            }
            _ => Err(arity("get-else", 4)),
        },
        _ => {
            for a in &attrs {
                if let Some(v) = first_value(db, e, a)? {
                    let id = attribute(db, a)?.id;
                    return Ok(Some(Value::Tuple(
                        vec![Some(Value::Ref(id)), Some(v)].into(),
                    )));
                }
            }
            Ok(None)
        }
    }
}

fn default_of<'a>(rest: &'a [Arg<'a>]) -> Result<Option<&'a Value>, String> {
    match rest {
        [_, Arg::Value(default)] => Ok(Some(default)),
        _ => Err(arity("get-else", 4)),
    }
}

fn attribute<'a>(db: &'a Db, a: &Value) -> Result<&'a std::sync::Arc<model::Attribute>, String> {
    crate::resolve::attribute(db, a)
        .and_then(|id| db.attribute(id))
        .ok_or_else(|| format!("{a} is not an attribute"))
}

fn first_value(db: &Db, e: u64, a: &Value) -> Result<Option<Value>, String> {
    let attr = attribute(db, a)?;
    let mut datoms = db
        .datoms(Index::Eavt, &[Value::Ref(e), Value::Ref(attr.id)])
        .map_err(|err| err.to_string())?;
    match datoms.next() {
        Some(Ok(d)) => Ok(Some(d.v().clone())),
        Some(Err(err)) => Err(err.to_string()),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &[Value]) -> Returned {
        let refs: Vec<Arg<'_>> = args.iter().map(Arg::Value).collect();
        Calls::default().call(Builtin::named(name).unwrap(), &refs)
    }

    #[test]
    fn comparisons_and_arithmetic() {
        let l = Value::Long;
        assert_eq!(
            call("<", &[l(1), l(2), l(3)]).unwrap(),
            Some(Value::Boolean(true))
        );
        assert_eq!(
            call(">=", &[l(2), l(2)]).unwrap(),
            Some(Value::Boolean(true))
        );
        assert_eq!(call("+", &[l(1), l(2)]).unwrap(), Some(l(3)));
        assert_eq!(call("/", &[l(6), l(3)]).unwrap(), Some(l(2)));
        assert_eq!(call("/", &[l(1), l(2)]).unwrap(), Some(Value::Double(0.5)));
        assert_eq!(call("mod", &[l(-7), l(3)]).unwrap(), Some(l(2)));
        assert_eq!(call("rem", &[l(-7), l(3)]).unwrap(), Some(l(-1)));
        assert!(call("+", &[l(i64::MAX), l(1)]).is_err());
        assert!(call("quot", &[l(1), l(0)]).is_err());
        assert!(call("+", &[l(1), Value::string("x")]).is_err());
        assert_eq!(call("-", &[l(4)]).unwrap(), Some(l(-4)));
    }

    #[test]
    fn strings_and_regexes() {
        let s = Value::string;
        assert_eq!(
            call("str", &[s("a"), Value::Long(1), Value::keyword(":k")]).unwrap(),
            Some(s("a1:k"))
        );
        assert_eq!(
            call("subs", &[s("hello"), Value::Long(1), Value::Long(3)]).unwrap(),
            Some(s("el"))
        );
        assert_eq!(
            call("re-find", &[s("[0-9]+"), s("ab12c")]).unwrap(),
            Some(s("12"))
        );
        assert_eq!(
            call("re-matches", &[s("[0-9]+"), s("ab12c")]).unwrap(),
            None
        );
        assert_eq!(
            call("re-find", &[s("(a)(b)"), s("xab")]).unwrap(),
            Some(Value::Tuple(
                vec![Some(s("ab")), Some(s("a")), Some(s("b"))].into()
            ))
        );
        assert!(call("re-find", &[s("("), s("x")]).is_err());
        assert_eq!(
            call("clojure.string/starts-with?", &[s("abc"), s("ab")]).unwrap(),
            Some(Value::Boolean(true))
        );
        assert_eq!(
            call("namespace", &[Value::keyword(":a/b")]).unwrap(),
            Some(s("a"))
        );
    }
}
