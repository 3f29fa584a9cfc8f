//! Aggregates of `:find`: count, count-distinct, sum, avg, min, max,
//! median, variance, stddev, distinct, rand, sample, `(min n ?x)`,
//! `(max n ?x)`, and registered ones.

use crate::functions::Functions;
use crate::parse::find::AggregateCall;
use crate::result::Found;
use crate::value::{as_f64, compare};
use model::Value;
use model::edn::{BigDec, BigInt};
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Applies an aggregate to the values of one group (never empty).
pub(crate) fn aggregate(
    call: &AggregateCall,
    values: &[Value],
    functions: &Functions,
) -> Result<Found, String> {
    let args: Vec<&Value> = call.args.iter().map(|c| &c.value).collect();
    if let Some(f) = functions.aggregate_named(&call.name) {
        let args: Vec<Value> = args.into_iter().cloned().collect();
        return f(&args, values).map(Found::Value);
    }
    let name = call.name.as_str();
    let name = name.strip_prefix("clojure.core/").unwrap_or(name);
    let value = |v: Value| Ok(Found::Value(v));
    match (name, args.as_slice()) {
        ("count", []) => value(Value::Long(values.len() as i64)),
        ("count-distinct", []) => value(Value::Long(distinct(values).len() as i64)),
        ("sum", []) => sum(values).map(Found::Value),
        ("avg", []) => value(Value::Double(mean(values)?)),
        ("min", []) => value(extreme(values, Ordering::Less)),
        ("max", []) => value(extreme(values, Ordering::Greater)),
        ("min", [n]) => Ok(Found::List(take_sorted(values, count_arg(n)?, false))),
        ("max", [n]) => Ok(Found::List(take_sorted(values, count_arg(n)?, true))),
        ("median", []) => median(values).map(Found::Value),
        ("variance", []) => value(Value::Double(variance(values)?)),
        ("stddev", []) => value(Value::Double(variance(values)?.sqrt())),
        ("distinct", []) => Ok(Found::Set(distinct(values))),
        ("rand", []) => value(values[random_below(values.len())].clone()),
        ("rand", [n]) => Ok(Found::List(
            (0..count_arg(n)?)
                .map(|_| values[random_below(values.len())].clone())
                .collect(),
        )),
        ("sample", [n]) => Ok(Found::List(sample(values, count_arg(n)?))),
        _ => Err(format!(
            "{} is not an aggregate taking {} argument(s) before the variable",
            call.name,
            args.len()
        )),
    }
}

/// True when `name` is a built-in aggregate.
pub(crate) fn is_builtin(name: &str) -> bool {
    let name = name.strip_prefix("clojure.core/").unwrap_or(name);
    matches!(
        name,
        "count"
            | "count-distinct"
            | "sum"
            | "avg"
            | "min"
            | "max"
            | "median"
            | "variance"
            | "stddev"
            | "distinct"
            | "rand"
            | "sample"
    )
}

fn count_arg(n: &Value) -> Result<usize, String> {
    match n {
        Value::Long(n) if *n >= 0 => usize::try_from(*n).map_err(|e| e.to_string()),
        other => Err(format!("{other} is not a count")),
    }
}

fn distinct(values: &[Value]) -> Vec<Value> {
    values
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn sorted(values: &[Value]) -> Vec<Value> {
    let mut sorted = values.to_vec();
    sorted.sort_by(compare);
    sorted
}

fn extreme(values: &[Value], keep: Ordering) -> Value {
    let mut best = &values[0];
    for v in &values[1..] {
        if compare(v, best) == keep {
            best = v;
        }
    }
    best.clone()
}

fn take_sorted(values: &[Value], n: usize, descending: bool) -> Vec<Value> {
    let mut sorted = sorted(values);
    if descending {
        sorted.reverse();
    }
    sorted.truncate(n);
    sorted
}

fn numbers(values: &[Value]) -> Result<Vec<f64>, String> {
    values
        .iter()
        .map(|v| as_f64(v).ok_or_else(|| format!("{v} is not a number")))
        .collect()
}

fn mean(values: &[Value]) -> Result<f64, String> {
    let xs = numbers(values)?;
    Ok(xs.iter().sum::<f64>() / xs.len() as f64)
}

/// The population variance.
fn variance(values: &[Value]) -> Result<f64, String> {
    let xs = numbers(values)?;
    let m = xs.iter().sum::<f64>() / xs.len() as f64;
    Ok(xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / xs.len() as f64)
}

/// The middle value; for an even count, the mean of the two middle numbers.
fn median(values: &[Value]) -> Result<Value, String> {
    let sorted = sorted(values);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        return Ok(sorted[mid].clone());
    }
    let (a, b) = (&sorted[mid - 1], &sorted[mid]);
    match (a, b) {
        (Value::Long(x), Value::Long(y)) if x.rem_euclid(2) == y.rem_euclid(2) => {
            Ok(Value::Long(x / 2 + y / 2 + (x % 2 + y % 2) / 2))
        }
        _ => Ok(Value::Double(mean(&[a.clone(), b.clone()])?)),
    }
}

/// A sum that keeps longs exact (overflow is an error) and widens to
/// bigint, bigdec or double as the values require.
fn sum(values: &[Value]) -> Result<Value, String> {
    let mut acc = Value::Long(0);
    for v in values {
        acc = add(&acc, v)?;
    }
    Ok(acc)
}

fn add(a: &Value, b: &Value) -> Result<Value, String> {
    use Value as V;
    Ok(match (a, b) {
        (V::Long(x), V::Long(y)) => V::Long(x.checked_add(*y).ok_or("integer overflow in sum")?),
        (V::Double(_) | V::Float(_), _) | (_, V::Double(_) | V::Float(_)) => {
            let (x, y) = (as_f64(a), as_f64(b));
            V::Double(
                x.zip(y)
                    .map(|(x, y)| x + y)
                    .ok_or_else(|| format!("cannot sum {a} and {b}"))?,
            )
        }
        (V::BigDec(_), _) | (_, V::BigDec(_)) => {
            V::BigDec(Arc::new(add_decimals(&decimal(a)?, &decimal(b)?)))
        }
        (V::BigInt(_) | V::Long(_), V::BigInt(_) | V::Long(_)) => {
            V::BigInt(Arc::new(integer(a)? + integer(b)?))
        }
        _ => return Err(format!("cannot sum {a} and {b}")),
    })
}

fn integer(v: &Value) -> Result<BigInt, String> {
    match v {
        Value::Long(n) => Ok(BigInt::from(*n)),
        Value::BigInt(n) => Ok((**n).clone()),
        other => Err(format!("{other} is not an integer")),
    }
}

fn decimal(v: &Value) -> Result<BigDec, String> {
    match v {
        Value::BigDec(d) => Ok((**d).clone()),
        other => Ok(BigDec::new(integer(other)?, 0)),
    }
}

fn add_decimals(a: &BigDec, b: &BigDec) -> BigDec {
    let scale = a.scale().max(b.scale());
    let widen =
        |d: &BigDec| d.unscaled() * BigInt::from(10).pow((scale - d.scale()).unsigned_abs());
    BigDec::new(widen(a) + widen(b), scale)
}

/// Up to `n` distinct values, chosen at random.
fn sample(values: &[Value], n: usize) -> Vec<Value> {
    let mut pool = distinct(values);
    let mut chosen = Vec::with_capacity(n.min(pool.len()));
    while chosen.len() < n && !pool.is_empty() {
        chosen.push(pool.swap_remove(random_below(pool.len())));
    }
    chosen
}

/// A random index below `n` (n > 0), from a per-call xorshift seeded by the clock.
fn random_below(n: usize) -> usize {
    use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut x = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, AtomicOrdering::Relaxed) ^ nanos;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (x % n as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::term::Constant;
    use model::edn::{Edn, Symbol};

    fn agg(name: &str, args: &[i64], values: &[Value]) -> Found {
        let call = AggregateCall {
            name: Symbol::new(name),
            args: args
                .iter()
                .map(|n| Constant {
                    edn: Edn::Long(*n),
                    value: Value::Long(*n),
                })
                .collect(),
            var: Symbol::new("?x"),
        };
        aggregate(&call, values, &Functions::new()).unwrap()
    }

    fn longs(xs: &[i64]) -> Vec<Value> {
        xs.iter().map(|n| Value::Long(*n)).collect()
    }

    #[test]
    fn numeric_aggregates() {
        let xs = longs(&[4, 1, 3, 2, 2]);
        assert_eq!(agg("count", &[], &xs), Found::Value(Value::Long(5)));
        assert_eq!(
            agg("count-distinct", &[], &xs),
            Found::Value(Value::Long(4))
        );
        assert_eq!(agg("sum", &[], &xs), Found::Value(Value::Long(12)));
        assert_eq!(agg("avg", &[], &xs), Found::Value(Value::Double(2.4)));
        assert_eq!(agg("min", &[], &xs), Found::Value(Value::Long(1)));
        assert_eq!(agg("max", &[], &xs), Found::Value(Value::Long(4)));
        assert_eq!(agg("median", &[], &xs), Found::Value(Value::Long(2)));
        assert_eq!(
            agg("median", &[], &longs(&[1, 2])),
            Found::Value(Value::Double(1.5))
        );
        assert_eq!(agg("min", &[2], &xs), Found::List(longs(&[1, 2])));
        assert_eq!(agg("max", &[2], &xs), Found::List(longs(&[4, 3])));
        assert_eq!(agg("distinct", &[], &xs), Found::Set(longs(&[1, 2, 3, 4])));
        let Found::Value(Value::Double(v)) = agg("variance", &[], &longs(&[1, 3])) else {
            panic!()
        };
        assert_eq!(v, 1.0);
        let Found::List(s) = agg("sample", &[3], &xs) else {
            panic!()
        };
        assert_eq!(s.len(), 3);
        assert_eq!(s.iter().collect::<BTreeSet<_>>().len(), 3);
    }

    #[test]
    fn sums_widen_and_overflow_fails() {
        let big = Value::BigDec(Arc::new(BigDec::parse("1.50").unwrap()));
        assert_eq!(
            agg("sum", &[], &[big, Value::Long(2)]),
            Found::Value(Value::BigDec(Arc::new(BigDec::parse("3.50").unwrap())))
        );
        let call = AggregateCall {
            name: Symbol::new("sum"),
            args: vec![],
            var: Symbol::new("?x"),
        };
        assert!(aggregate(&call, &longs(&[i64::MAX, 1]), &Functions::new()).is_err());
        assert!(aggregate(&call, &[Value::string("a")], &Functions::new()).is_err());
    }
}
