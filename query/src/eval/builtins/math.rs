//! Arithmetic (checked for longs), comparisons of extremes, and numeric tests.

use super::{Op, Returned, Test};
use crate::value::{as_f64, compare};
use model::Value;
use std::cmp::Ordering;

pub(super) fn extreme(args: &[&Value], keep: Ordering) -> Returned {
    let mut best = *args.first().ok_or("max and min need arguments")?;
    for v in &args[1..] {
        if compare(v, best) == keep {
            best = v;
        }
    }
    Ok(Some(best.clone()))
}

pub(super) fn test(t: Test, v: &Value) -> Result<bool, String> {
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
pub(super) fn arith(op: Op, args: &[&Value]) -> Result<Value, String> {
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
