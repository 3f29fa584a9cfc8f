//! The functions and predicates every query can call: comparisons,
//! arithmetic, strings, regular expressions, tuples, and the database
//! functions `missing?`, `get-else` and `get-some`.

mod db;
mod math;
mod text;

use super::source::Source;
use crate::value::{compare, equal, truthy};
use math::{arith, extreme, test};
use model::Value;
use regex::Regex;
use std::cmp::Ordering;
use std::collections::HashMap;
use text::contains;

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
            return db::call(builtin, args);
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
}

pub(super) fn arity(name: &str, n: usize) -> String {
    format!("{name} takes {n} argument(s)")
}

pub(super) fn one<'a>(args: &[&'a Value], name: &str) -> Result<&'a Value, String> {
    match args {
        [v] => Ok(v),
        _ => Err(arity(name, 1)),
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
