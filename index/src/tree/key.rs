//! Branch keys, and splitting runs of items into nodes by bytes.
//!
//! A branch records for each child a key: any datom that sorts after every
//! datom of the previous child and at or before the child's own first datom
//! (for the first child of a tree, anything at or before it). Readers only
//! compare against keys, so the shortest such datom serves as well as the
//! first datom itself and keeps branches small when values are large: two
//! long strings that differ early are separated by a short prefix. When
//! neighbours share a long prefix the key stays long, which is why branches
//! are also split by bytes ([`split_by_bytes`]).

use std::ops::Range;
use std::sync::Arc;

use model::{Datom, Index, Value};

/// The smallest datom of all: the key of a tree's first child.
pub(crate) fn lowest() -> Datom {
    Datom::new(0, 0, Value::MIN, 0, false)
}

/// A short key for a child whose first datom is `first`, after a child
/// whose last datom is `prev` (`prev < first` in `index` order).
pub(crate) fn separator(index: Index, prev: &Datom, first: &Datom) -> Datom {
    // Components equal in both are kept; at the first that differs the
    // key takes the next one's (or a short value between them); the rest
    // are the smallest possible.
    let (mut e, mut a, mut v) = (0, 0, Value::MIN);
    for component in order(index) {
        match component {
            Component::E if prev.e() != first.e() => return key(first.e(), a, v),
            Component::E => e = first.e(),
            Component::A if prev.a() != first.a() => return key(e, first.a(), v),
            Component::A => a = first.a(),
            Component::V if prev.v() != first.v() => {
                return key(e, a, between(prev.v(), first.v()));
            }
            Component::V => v = first.v().clone(),
        }
    }
    // Equal but for tx and operation.
    first.clone()
}

/// The key with these leading components and the rest smallest.
fn key(e: u64, a: u64, v: Value) -> Datom {
    Datom::new(e, a, v, 0, false)
}

#[derive(Clone, Copy)]
enum Component {
    E,
    A,
    V,
}

/// The components before tx, in `index` order.
fn order(index: Index) -> [Component; 3] {
    use Component::*;
    match index {
        Index::Eavt => [E, A, V],
        Index::Aevt => [A, E, V],
        Index::Avet => [A, V, E],
        Index::Vaet => [V, A, E],
    }
}

/// A short value `v` with `low < v <= high` (given `low < high`): the
/// shortest prefix of a string or byte array that still sorts after `low`,
/// the smallest value of a later type, otherwise `high` itself.
fn between(low: &Value, high: &Value) -> Value {
    match (low, high) {
        (Value::String(l), Value::String(h)) => Value::String(Arc::from(str_after(l, h))),
        (Value::Uri(l), Value::Uri(h)) => Value::Uri(Arc::from(str_after(l, h))),
        (Value::Bytes(l), Value::Bytes(h)) => Value::Bytes(Arc::from(bytes_after(l, h))),
        _ if low.value_type() == high.value_type() => high.clone(),
        (_, Value::String(_)) => Value::string(""),
        (_, Value::Uri(_)) => Value::Uri(Arc::from("")),
        (_, Value::Bytes(_)) => Value::Bytes(Arc::from(&[][..])),
        _ => high.clone(),
    }
}

/// The shortest prefix of `high` (on a char boundary) above `low`.
fn str_after<'h>(low: &str, high: &'h str) -> &'h str {
    let mut end = common_prefix(low.as_bytes(), high.as_bytes()) + 1;
    while end < high.len() && !high.is_char_boundary(end) {
        end += 1;
    }
    &high[..end.min(high.len())]
}

/// The shortest prefix of `high` above `low`.
fn bytes_after<'h>(low: &[u8], high: &'h [u8]) -> &'h [u8] {
    &high[..(common_prefix(low, high) + 1).min(high.len())]
}

fn common_prefix(x: &[u8], y: &[u8]) -> usize {
    x.iter().zip(y).take_while(|(a, b)| a == b).count()
}

/// Splits items of the given encoded sizes into consecutive groups of
/// about equal bytes. A group holds at most `max_items` and at most
/// `limit` bytes, except that every group holds at least `min_items` (the
/// last group takes in a shorter remainder): so a group is over `limit`
/// only by fewer than `min_items + 1` items, and with `min_items >= 2`
/// there are at most half as many groups as items.
pub(crate) fn split_by_bytes(
    sizes: &[usize],
    limit: usize,
    min_items: usize,
    max_items: usize,
) -> Vec<Range<usize>> {
    let n = sizes.len();
    let total: usize = sizes.iter().sum();
    let groups = total
        .div_ceil(limit.max(1))
        .max(n.div_ceil(max_items.max(1)))
        .max(1);
    let target = total.div_ceil(groups);
    let mut out = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (i, s) in sizes.iter().enumerate() {
        let len = i - start;
        if len >= min_items && (size + s > limit || len >= max_items) {
            out.push(start..i);
            (start, size) = (i, 0);
        }
        size += s;
        if i + 1 - start >= min_items && size >= target {
            out.push(start..i + 1);
            (start, size) = (i + 1, 0);
        }
    }
    if start < n {
        match out.last_mut() {
            Some(last) if n - start < min_items => last.end = n,
            _ => out.push(start..n),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::t_to_tx;

    fn d(e: u64, a: u64, v: Value, t: u64) -> Datom {
        Datom::new(e, a, v, t_to_tx(t), true)
    }

    fn check(index: Index, prev: &Datom, first: &Datom) -> Datom {
        let key = separator(index, prev, first);
        assert_eq!(index.compare(prev, &key), std::cmp::Ordering::Less, "{key}");
        assert_ne!(
            index.compare(&key, first),
            std::cmp::Ordering::Greater,
            "{key}"
        );
        key
    }

    #[test]
    fn keys_between_long_strings_are_short() {
        let big = |c: char| Value::string(&format!("{c}{}", "x".repeat(1 << 20)));
        for index in Index::ALL {
            let key = check(index, &d(7, 3, big('a'), 1000), &d(7, 3, big('b'), 1000));
            assert!(key.v().as_str().is_some_and(|s| s.len() <= 1), "{index}");
            // Equal values before the entity in the order stay whole.
            let key = check(index, &d(7, 3, big('a'), 1000), &d(8, 3, big('a'), 1000));
            let short = matches!(index, Index::Eavt | Index::Aevt);
            assert_eq!(key.v().as_str().is_none(), short, "{index}");
        }
        // A shared prefix makes the key as long as the prefix plus one.
        let key = check(
            Index::Eavt,
            &d(7, 3, Value::string("same-a"), 1),
            &d(7, 3, Value::string("same-b-and-more"), 1),
        );
        assert_eq!(key.v(), &Value::string("same-b"));
        // Multi-byte characters are never cut.
        let key = check(
            Index::Avet,
            &d(1, 3, Value::string("é"), 1),
            &d(1, 3, Value::string("ê and more"), 1),
        );
        assert_eq!(key.v(), &Value::string("ê"));
    }

    #[test]
    fn keys_of_other_shapes_still_separate() {
        let blob = |b: &[u8]| Value::Bytes(Arc::from(b));
        let cases = [
            (d(1, 3, Value::Long(5), 9), d(1, 3, Value::string("zzz"), 2)),
            (d(1, 3, Value::Long(5), 9), d(1, 3, Value::Long(6), 2)),
            (d(1, 3, blob(b"ab"), 9), d(1, 3, blob(b"abc"), 2)),
            (
                d(1, 3, Value::string("ab"), 9),
                d(1, 3, Value::string("ab"), 10),
            ),
            (d(1, 3, Value::Ref(4), 9), d(1, 3, Value::Ref(4), 10)),
            (d(1, 3, Value::Ref(4), 9), d(2, 1, Value::Ref(4), 10)),
        ];
        for index in Index::ALL {
            for (x, y) in &cases {
                let (prev, first) = match index.compare(x, y) {
                    std::cmp::Ordering::Less => (x, y),
                    _ => (y, x),
                };
                check(index, prev, first);
            }
        }
    }

    #[test]
    fn groups_stay_under_the_limit_unless_too_few() {
        let sizes = [10, 10, 10, 1000, 10, 10];
        assert_eq!(
            split_by_bytes(&sizes, 100, 1, usize::MAX),
            [0..3, 3..4, 4..6]
        );
        // Every group has two items, even when they are over the limit.
        assert_eq!(split_by_bytes(&[1000, 1000, 1000], 100, 2, 8), vec![0..3]);
        assert_eq!(
            split_by_bytes(&[1000, 1000, 1000, 1000], 100, 2, 8),
            [0..2, 2..4]
        );
        assert_eq!(split_by_bytes(&[5; 10], 1000, 2, 4), [0..4, 4..8, 8..10]);
        assert_eq!(split_by_bytes(&[], 100, 2, 4), Vec::<Range<usize>>::new());
        // Even fill: 10 items of 10 bytes under a limit of 60 make 5 + 5.
        assert_eq!(split_by_bytes(&[10; 10], 60, 1, 100), [0..5, 5..10]);
    }
}
