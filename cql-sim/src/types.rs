//! CQL data types and typed values: the wire encoding of each type, its CQL
//! name, and a total order so values can key partitions and rows.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

/// A CQL column type the simulator stores and serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CqlType {
    /// `ascii`: US-ASCII text.
    Ascii,
    /// `bigint`: 64-bit signed integer.
    BigInt,
    /// `blob`: arbitrary bytes.
    Blob,
    /// `boolean`.
    Boolean,
    /// `double`: IEEE 754 binary64.
    Double,
    /// `int`: 32-bit signed integer.
    Int,
    /// `timestamp`: milliseconds since the Unix epoch.
    Timestamp,
    /// `uuid`.
    Uuid,
    /// `text` / `varchar`: UTF-8 text.
    Text,
    /// `inet`: an IPv4 or IPv6 address.
    Inet,
    /// `list<T>`.
    List(Box<CqlType>),
    /// `set<T>`.
    Set(Box<CqlType>),
    /// `map<K, V>`.
    Map(Box<CqlType>, Box<CqlType>),
}

impl CqlType {
    /// The type for a CQL type name without parameters (`text`, `bigint`, ...).
    pub fn from_simple_name(name: &str) -> Option<CqlType> {
        let ty = match name.to_ascii_lowercase().as_str() {
            "ascii" => CqlType::Ascii,
            "bigint" => CqlType::BigInt,
            "blob" => CqlType::Blob,
            "boolean" => CqlType::Boolean,
            "double" => CqlType::Double,
            "int" => CqlType::Int,
            "timestamp" => CqlType::Timestamp,
            "uuid" => CqlType::Uuid,
            "text" | "varchar" => CqlType::Text,
            "inet" => CqlType::Inet,
            _ => return None,
        };
        Some(ty)
    }

    /// Writes the protocol `[option]` describing this type (spec 4.2.5.2).
    pub(crate) fn write_option(&self, out: &mut Vec<u8>) {
        let id: u16 = match self {
            CqlType::Ascii => 0x0001,
            CqlType::BigInt => 0x0002,
            CqlType::Blob => 0x0003,
            CqlType::Boolean => 0x0004,
            CqlType::Double => 0x0007,
            CqlType::Int => 0x0009,
            CqlType::Timestamp => 0x000B,
            CqlType::Uuid => 0x000C,
            CqlType::Text => 0x000D,
            CqlType::Inet => 0x0010,
            CqlType::List(_) => 0x0020,
            CqlType::Map(_, _) => 0x0021,
            CqlType::Set(_) => 0x0022,
        };
        out.extend_from_slice(&id.to_be_bytes());
        match self {
            CqlType::List(element) | CqlType::Set(element) => element.write_option(out),
            CqlType::Map(key, value) => {
                key.write_option(out);
                value.write_option(out);
            }
            _ => {}
        }
    }

    /// Decodes a value of this type from its protocol serialization (spec 6).
    pub fn decode(&self, bytes: &[u8]) -> Result<Value, String> {
        match self {
            CqlType::Ascii => decode_ascii(bytes),
            CqlType::Text => String::from_utf8(bytes.to_vec())
                .map(Value::Text)
                .map_err(|_| "Invalid UTF-8 bytes for text".to_owned()),
            CqlType::Blob => Ok(Value::Blob(bytes.to_vec())),
            CqlType::Boolean => match bytes {
                [b] => Ok(Value::Boolean(*b != 0)),
                _ => Err(format!("Expected 1 byte for a boolean ({})", bytes.len())),
            },
            CqlType::Int => fixed::<4>(bytes, "int").map(|b| Value::Int(i32::from_be_bytes(b))),
            CqlType::BigInt | CqlType::Timestamp => {
                fixed::<8>(bytes, "long").map(|b| Value::BigInt(i64::from_be_bytes(b)))
            }
            CqlType::Double => {
                fixed::<8>(bytes, "double").map(|b| Value::Double(Double(f64::from_be_bytes(b))))
            }
            CqlType::Uuid => fixed::<16>(bytes, "uuid").map(Value::Uuid),
            CqlType::Inet => decode_inet(bytes),
            CqlType::List(element) => {
                decode_elements(bytes, element, 1).map(|items| Value::List(items.concat()))
            }
            CqlType::Set(element) => decode_elements(bytes, element, 1)
                .map(|items| Value::Set(items.into_iter().flatten().collect())),
            CqlType::Map(key, value) => decode_map(bytes, key, value),
        }
    }
}

impl fmt::Display for CqlType {
    /// The CQL name of the type, as `system_schema.columns` spells it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CqlType::Ascii => f.write_str("ascii"),
            CqlType::BigInt => f.write_str("bigint"),
            CqlType::Blob => f.write_str("blob"),
            CqlType::Boolean => f.write_str("boolean"),
            CqlType::Double => f.write_str("double"),
            CqlType::Int => f.write_str("int"),
            CqlType::Timestamp => f.write_str("timestamp"),
            CqlType::Uuid => f.write_str("uuid"),
            CqlType::Text => f.write_str("text"),
            CqlType::Inet => f.write_str("inet"),
            CqlType::List(element) => write!(f, "list<{element}>"),
            CqlType::Set(element) => write!(f, "set<{element}>"),
            CqlType::Map(key, value) => write!(f, "map<{key}, {value}>"),
        }
    }
}

/// A 64-bit float with a total order (IEEE 754 `totalOrder`), so it can key rows.
#[derive(Clone, Copy, Debug)]
pub struct Double(pub f64);

impl PartialEq for Double {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Double {}

impl PartialOrd for Double {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Double {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A typed CQL value. Values of one column always share a variant, so the
/// derived order is the column's order (text and blobs by bytes, numbers
/// numerically, uuids by bytes).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Value {
    /// `boolean`.
    Boolean(bool),
    /// `int`.
    Int(i32),
    /// `bigint` and `timestamp`.
    BigInt(i64),
    /// `double`.
    Double(Double),
    /// `text`, `varchar` and `ascii`.
    Text(String),
    /// `blob`.
    Blob(Vec<u8>),
    /// `uuid`, as its 16 bytes.
    Uuid([u8; 16]),
    /// `inet`.
    Inet(IpAddr),
    /// `list<T>`.
    List(Vec<Value>),
    /// `set<T>`.
    Set(BTreeSet<Value>),
    /// `map<K, V>`.
    Map(BTreeMap<Value, Value>),
}

impl Value {
    /// Appends the protocol serialization of this value (without length prefix).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Boolean(b) => out.push(u8::from(*b)),
            Value::Int(i) => out.extend_from_slice(&i.to_be_bytes()),
            Value::BigInt(i) => out.extend_from_slice(&i.to_be_bytes()),
            Value::Double(d) => out.extend_from_slice(&d.0.to_be_bytes()),
            Value::Text(s) => out.extend_from_slice(s.as_bytes()),
            Value::Blob(b) => out.extend_from_slice(b),
            Value::Uuid(u) => out.extend_from_slice(u),
            Value::Inet(IpAddr::V4(a)) => out.extend_from_slice(&a.octets()),
            Value::Inet(IpAddr::V6(a)) => out.extend_from_slice(&a.octets()),
            Value::List(items) => encode_elements(out, items.len(), items.iter()),
            Value::Set(items) => encode_elements(out, items.len(), items.iter()),
            Value::Map(entries) => {
                let flat = entries.iter().flat_map(|(k, v)| [k, v]);
                encode_elements(out, entries.len(), flat);
            }
        }
    }

    /// The protocol serialization of this value.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

fn encode_elements<'a>(out: &mut Vec<u8>, count: usize, items: impl Iterator<Item = &'a Value>) {
    out.extend_from_slice(&len_i32(count).to_be_bytes());
    for item in items {
        let bytes = item.to_bytes();
        out.extend_from_slice(&len_i32(bytes.len()).to_be_bytes());
        out.extend_from_slice(&bytes);
    }
}

/// A length as the protocol's `[int]`; values beyond `i32::MAX` cannot reach
/// here because frames are capped far below that.
fn len_i32(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}

fn fixed<const N: usize>(bytes: &[u8], what: &str) -> Result<[u8; N], String> {
    bytes
        .try_into()
        .map_err(|_| format!("Expected {N} bytes for a {what} value ({})", bytes.len()))
}

fn decode_ascii(bytes: &[u8]) -> Result<Value, String> {
    if !bytes.is_ascii() {
        return Err("Invalid byte for ascii: non-ASCII characters".to_owned());
    }
    Ok(Value::Text(String::from_utf8_lossy(bytes).into_owned()))
}

fn decode_inet(bytes: &[u8]) -> Result<Value, String> {
    match bytes.len() {
        4 => Ok(Value::Inet(IpAddr::from(fixed::<4>(bytes, "inet")?))),
        16 => Ok(Value::Inet(IpAddr::from(fixed::<16>(bytes, "inet")?))),
        n => Err(format!("Expected 4 or 16 bytes for an inet value ({n})")),
    }
}

/// Decodes `count` then `count * per_item` length-prefixed elements, returning
/// them grouped per item.
fn decode_elements(bytes: &[u8], ty: &CqlType, per_item: usize) -> Result<Vec<Vec<Value>>, String> {
    decode_grouped(bytes, &vec![ty; per_item])
}

fn decode_map(bytes: &[u8], key: &CqlType, value: &CqlType) -> Result<Value, String> {
    let pairs = decode_grouped(bytes, &[key, value])?;
    let mut map = BTreeMap::new();
    for mut pair in pairs {
        let v = pair.pop();
        let k = pair.pop();
        if let (Some(k), Some(v)) = (k, v) {
            map.insert(k, v);
        }
    }
    Ok(Value::Map(map))
}

fn decode_grouped(bytes: &[u8], types: &[&CqlType]) -> Result<Vec<Vec<Value>>, String> {
    let mut rest = bytes;
    let count = take_len(&mut rest)?;
    let mut items = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let mut group = Vec::with_capacity(types.len());
        for ty in types {
            let len = take_len(&mut rest)?;
            let (element, tail) = rest
                .split_at_checked(len)
                .ok_or("Not enough bytes to read a collection element")?;
            group.push(ty.decode(element)?);
            rest = tail;
        }
        items.push(group);
    }
    if !rest.is_empty() {
        return Err("Unexpected extraneous bytes after a collection value".to_owned());
    }
    Ok(items)
}

fn take_len(rest: &mut &[u8]) -> Result<usize, String> {
    let (head, tail) = rest
        .split_first_chunk::<4>()
        .ok_or("Not enough bytes to read a collection length")?;
    *rest = tail;
    usize::try_from(i32::from_be_bytes(*head))
        .map_err(|_| "Null or negative length inside a collection".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_their_encoding() {
        let map_type = CqlType::Map(Box::new(CqlType::Text), Box::new(CqlType::Text));
        let map = Value::Map(BTreeMap::from([(
            Value::Text("class".into()),
            Value::Text("SimpleStrategy".into()),
        )]));
        let cases = [
            (CqlType::Int, Value::Int(-7)),
            (CqlType::BigInt, Value::BigInt(1 << 40)),
            (CqlType::Double, Value::Double(Double(1.5))),
            (CqlType::Boolean, Value::Boolean(true)),
            (CqlType::Text, Value::Text("héllo".into())),
            (CqlType::Blob, Value::Blob(vec![0, 1, 255])),
            (CqlType::Uuid, Value::Uuid([7; 16])),
            (CqlType::Inet, Value::Inet("127.0.0.1".parse().unwrap())),
            (map_type, map),
        ];
        for (ty, value) in cases {
            assert_eq!(ty.decode(&value.to_bytes()).unwrap(), value, "{ty}");
        }
    }

    #[test]
    fn malformed_values_are_rejected_with_the_reason() {
        assert!(
            CqlType::Int
                .decode(&[1, 2, 3])
                .unwrap_err()
                .contains("Expected 4 bytes")
        );
        assert!(CqlType::Ascii.decode("é".as_bytes()).is_err());
        let truncated_set = [0, 0, 0, 2, 0, 0, 0, 1, b'a'];
        assert!(
            CqlType::Set(Box::new(CqlType::Text))
                .decode(&truncated_set)
                .is_err()
        );
    }

    #[test]
    fn type_names_follow_cql() {
        let ty = CqlType::Map(
            Box::new(CqlType::Text),
            Box::new(CqlType::Set(Box::new(CqlType::Int))),
        );
        assert_eq!(ty.to_string(), "map<text, set<int>>");
        assert_eq!(CqlType::from_simple_name("VARCHAR"), Some(CqlType::Text));
    }
}
