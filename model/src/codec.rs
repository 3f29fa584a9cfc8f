//! The stable binary encoding of values, datoms and log entries, used for
//! log entries and index segments. Deterministic: equal inputs give equal
//! bytes. Versioned: every top-level encoding starts with a magic and a
//! format version, and readers refuse versions they do not know.
//!
//! Format 1: integers are LEB128 varints (signed ones zigzag-encoded); a
//! value is its type tag ([`ValueType::tag`]) and a payload; a datom is
//! `e a value tx_op` with `tx_op = tx << 1 | added`.

use crate::datom::{Datom, EntityId};
use crate::edn::{BigDec, BigInt, Instant, Keyword, Symbol};
use crate::error::{Error, Result};
use crate::log::TxLog;
use crate::value::{Value, ValueType};
use std::sync::Arc;

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
const LOG_MAGIC: &[u8; 3] = b"ATX";
const DATOMS_MAGIC: &[u8; 3] = b"ADS";

/// Appends `n` as an unsigned LEB128 varint: 7 bits a byte, low bits
/// first, the high bit set on every byte but the last (1 to 10 bytes).
/// Every accrete format writes its integers so.
pub fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Why the bytes at a position hold no varint ([`read_varint`]), and how
/// many of them were read to find out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarintError {
    /// The bytes end inside the varint.
    Truncated(usize),
    /// The tenth byte carries bits beyond the 64th.
    Overflow(usize),
    /// Ten bytes, and the last still says more follow.
    TooLong(usize),
}

impl VarintError {
    /// How many bytes were read before the varint proved bad.
    pub fn read(self) -> usize {
        match self {
            VarintError::Truncated(n) | VarintError::Overflow(n) | VarintError::TooLong(n) => n,
        }
    }
}

impl std::fmt::Display for VarintError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            VarintError::Truncated(_) => "truncated inside a varint",
            VarintError::Overflow(_) => "varint overflows 64 bits",
            VarintError::TooLong(_) => "varint longer than 10 bytes",
        })
    }
}

/// Reads the varint [`put_varint`] wrote at the start of `bytes`: its value
/// and how many bytes it took.
pub fn read_varint(bytes: &[u8]) -> std::result::Result<(u64, usize), VarintError> {
    let mut n: u64 = 0;
    for (i, shift) in (0..64).step_by(7).enumerate() {
        let b = *bytes.get(i).ok_or(VarintError::Truncated(i))?;
        let bits = u64::from(b & 0x7f);
        if shift == 63 && bits > 1 {
            return Err(VarintError::Overflow(i + 1));
        }
        n |= bits << shift;
        if b & 0x80 == 0 {
            return Ok((n, i + 1));
        }
    }
    Err(VarintError::TooLong(10))
}

fn put_signed(out: &mut Vec<u8>, n: i64) {
    put_varint(out, ((n << 1) ^ (n >> 63)) as u64);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends the encoding of a value.
pub fn encode_value(out: &mut Vec<u8>, value: &Value) {
    out.push(value.value_type().tag());
    match value {
        Value::Ref(e) => put_varint(out, *e),
        Value::Keyword(k) => put_bytes(out, k.as_str().as_bytes()),
        Value::Long(n) => put_signed(out, *n),
        Value::String(s) | Value::Uri(s) => put_bytes(out, s.as_bytes()),
        Value::Boolean(b) => out.push(u8::from(*b)),
        Value::Instant(i) => put_signed(out, i.0),
        Value::Uuid(u) => out.extend_from_slice(u.as_bytes()),
        Value::Double(d) => out.extend_from_slice(&d.to_bits().to_be_bytes()),
        Value::Float(f) => out.extend_from_slice(&f.to_bits().to_be_bytes()),
        Value::BigInt(n) => put_bytes(out, &n.to_signed_bytes_be()),
        Value::BigDec(d) => {
            put_signed(out, i64::from(d.scale()));
            put_bytes(out, &d.unscaled().to_signed_bytes_be());
        }
        Value::Symbol(s) => put_bytes(out, s.as_str().as_bytes()),
        Value::Bytes(b) => put_bytes(out, b),
        Value::Tuple(items) => {
            put_varint(out, items.len() as u64);
            for item in items.iter() {
                match item {
                    None => out.push(0),
                    Some(v) => encode_value(out, v),
                }
            }
        }
    }
}

/// Appends the encoding of a datom.
pub fn encode_datom(out: &mut Vec<u8>, datom: &Datom) {
    put_varint(out, datom.e());
    put_varint(out, datom.a());
    encode_value(out, datom.v());
    put_varint(out, datom.tx_op());
}

/// How many bytes [`put_varint`] writes for `n`.
pub fn varint_len(n: u64) -> usize {
    (64 - (n | 1).leading_zeros() as usize).div_ceil(7)
}

fn signed_len(n: i64) -> usize {
    varint_len(((n << 1) ^ (n >> 63)) as u64)
}

fn bytes_len(len: usize) -> usize {
    varint_len(len as u64) + len
}

/// How many bytes [`encode_value`] writes for `value`, counted without
/// writing them (segment writers size leaves by it).
pub fn encoded_value_len(value: &Value) -> usize {
    1 + match value {
        Value::Ref(e) => varint_len(*e),
        Value::Keyword(k) => bytes_len(k.as_str().len()),
        Value::Long(n) => signed_len(*n),
        Value::String(s) | Value::Uri(s) => bytes_len(s.len()),
        Value::Boolean(_) => 1,
        Value::Instant(i) => signed_len(i.0),
        Value::Uuid(_) => 16,
        Value::Double(_) => 8,
        Value::Float(_) => 4,
        Value::BigInt(n) => bytes_len(n.to_signed_bytes_be().len()),
        Value::BigDec(d) => {
            signed_len(i64::from(d.scale())) + bytes_len(d.unscaled().to_signed_bytes_be().len())
        }
        Value::Symbol(s) => bytes_len(s.as_str().len()),
        Value::Bytes(b) => bytes_len(b.len()),
        Value::Tuple(items) => {
            varint_len(items.len() as u64)
                + items
                    .iter()
                    .map(|item| item.as_ref().map_or(1, encoded_value_len))
                    .sum::<usize>()
        }
    }
}

/// How many bytes [`encode_datom`] writes for `datom`, counted without
/// writing them.
pub fn encoded_datom_len(datom: &Datom) -> usize {
    varint_len(datom.e())
        + varint_len(datom.a())
        + encoded_value_len(datom.v())
        + varint_len(datom.tx_op())
}

/// How many bytes [`encode_tx_log`] writes for `entry`, counted without
/// writing them.
pub fn encoded_tx_log_len(entry: &TxLog) -> usize {
    LOG_MAGIC.len()
        + 1
        + varint_len(entry.t)
        + varint_len(entry.data.len() as u64)
        + entry.data.iter().map(encoded_datom_len).sum::<usize>()
}

/// A log entry as bytes: `ATX`, version, t, datom count, datoms.
pub fn encode_tx_log(entry: &TxLog) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + entry.data.len() * 24);
    out.extend_from_slice(LOG_MAGIC);
    out.push(FORMAT_VERSION);
    put_varint(&mut out, entry.t);
    put_varint(&mut out, entry.data.len() as u64);
    entry.data.iter().for_each(|d| encode_datom(&mut out, d));
    out
}

/// A sorted run of datoms (a segment's payload) as bytes: `ADS`, version, count, datoms.
pub fn encode_datoms(datoms: &[Datom]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + datoms.len() * 24);
    out.extend_from_slice(DATOMS_MAGIC);
    out.push(FORMAT_VERSION);
    put_varint(&mut out, datoms.len() as u64);
    datoms.iter().for_each(|d| encode_datom(&mut out, d));
    out
}

/// Decodes what [`encode_tx_log`] wrote.
pub fn decode_tx_log(bytes: &[u8]) -> Result<TxLog> {
    let mut r = Decoder::new(bytes, "log entry");
    r.header(LOG_MAGIC)?;
    let t = r.varint()?;
    let data = r.datoms()?;
    r.finish()?;
    Ok(TxLog {
        t,
        data: data.into(),
    })
}

/// Decodes what [`encode_datoms`] wrote.
pub fn decode_datoms(bytes: &[u8]) -> Result<Vec<Datom>> {
    let mut r = Decoder::new(bytes, "datoms");
    r.header(DATOMS_MAGIC)?;
    let datoms = r.datoms()?;
    r.finish()?;
    Ok(datoms)
}

/// Decodes one value written by [`encode_value`] (all bytes must be used).
pub fn decode_value(bytes: &[u8]) -> Result<Value> {
    let mut r = Decoder::new(bytes, "value");
    let v = r.value(true)?;
    r.finish()?;
    Ok(v)
}

struct Decoder<'a> {
    bytes: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Decoder<'a> {
    fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Decoder {
            bytes,
            pos: 0,
            what,
        }
    }

    fn fail(&self, message: impl Into<String>) -> Error {
        Error::Decode {
            what: self.what,
            message: format!("{} at byte {}", message.into(), self.pos),
        }
    }

    fn header(&mut self, magic: &[u8; 3]) -> Result<()> {
        if self.take(3)? != magic {
            return Err(self.fail(format!(
                "bad magic, expected {:?}",
                String::from_utf8_lossy(magic)
            )));
        }
        match self.byte()? {
            FORMAT_VERSION => Ok(()),
            v => Err(self.fail(format!(
                "format version {v} is not supported (this build reads {FORMAT_VERSION})"
            ))),
        }
    }

    fn finish(&self) -> Result<()> {
        match self.pos == self.bytes.len() {
            true => Ok(()),
            false => Err(self.fail("trailing bytes")),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| self.fail("truncated"))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn varint(&mut self) -> Result<u64> {
        let read = read_varint(&self.bytes[self.pos..]);
        self.pos += read.map_or_else(VarintError::read, |(_, len)| len);
        match read {
            Ok((n, _)) => Ok(n),
            Err(VarintError::Truncated(_)) => Err(self.fail("truncated")),
            Err(e) => Err(self.fail(e.to_string())),
        }
    }

    fn signed(&mut self) -> Result<i64> {
        let z = self.varint()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    fn bytes_field(&mut self) -> Result<&'a [u8]> {
        let len = usize::try_from(self.varint()?).map_err(|_| self.fail("length overflows"))?;
        self.take(len)
    }

    fn text(&mut self) -> Result<&'a str> {
        let bytes = self.bytes_field()?;
        std::str::from_utf8(bytes).map_err(|_| self.fail("text is not UTF-8"))
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn value(&mut self, allow_tuple: bool) -> Result<Value> {
        let tag = self.byte()?;
        let ty = ValueType::from_tag(tag)
            .ok_or_else(|| self.fail(format!("unknown value tag {tag}")))?;
        Ok(match ty {
            ValueType::Ref => Value::Ref(self.varint()?),
            ValueType::Keyword => Value::Keyword(Keyword::from_stored(self.text()?)),
            ValueType::Long => Value::Long(self.signed()?),
            ValueType::String => Value::String(Arc::from(self.text()?)),
            ValueType::Boolean => match self.byte()? {
                0 => Value::Boolean(false),
                1 => Value::Boolean(true),
                b => return Err(self.fail(format!("boolean byte {b}"))),
            },
            ValueType::Instant => Value::Instant(Instant(self.signed()?)),
            ValueType::Uuid => Value::Uuid(uuid::Uuid::from_bytes(self.array()?)),
            ValueType::Double => Value::Double(f64::from_bits(u64::from_be_bytes(self.array()?))),
            ValueType::Float => Value::Float(f32::from_bits(u32::from_be_bytes(self.array()?))),
            ValueType::BigInt => {
                Value::BigInt(Arc::new(BigInt::from_signed_bytes_be(self.bytes_field()?)))
            }
            ValueType::BigDec => {
                let scale = i32::try_from(self.signed()?)
                    .map_err(|_| self.fail("bigdec scale out of range"))?;
                let unscaled = BigInt::from_signed_bytes_be(self.bytes_field()?);
                Value::BigDec(Arc::new(BigDec::new(unscaled, scale)))
            }
            ValueType::Symbol => Value::Symbol(Symbol::new(self.text()?)),
            ValueType::Uri => Value::Uri(Arc::from(self.text()?)),
            ValueType::Bytes => Value::Bytes(Arc::from(self.bytes_field()?)),
            ValueType::Tuple if allow_tuple => self.tuple()?,
            ValueType::Tuple => return Err(self.fail("tuples do not nest")),
        })
    }

    fn tuple(&mut self) -> Result<Value> {
        let n = self.varint()?;
        if !(2..=8).contains(&n) {
            return Err(self.fail(format!("a tuple has 2 to 8 elements, not {n}")));
        }
        let mut items = Vec::with_capacity(n as usize);
        for _ in 0..n {
            if self.bytes.get(self.pos) == Some(&0) {
                self.pos += 1;
                items.push(None);
            } else {
                items.push(Some(self.value(false)?));
            }
        }
        Ok(Value::Tuple(items.into()))
    }

    fn datom(&mut self) -> Result<Datom> {
        let e: EntityId = self.varint()?;
        let a = self.varint()?;
        let v = self.value(true)?;
        let tx_op = self.varint()?;
        Ok(Datom::new(e, a, v, tx_op >> 1, tx_op & 1 == 1))
    }

    fn datoms(&mut self) -> Result<Vec<Datom>> {
        let n = self.varint()?;
        // Each datom takes at least 5 bytes: never trust a count beyond that.
        let bound = (self.bytes.len() - self.pos) / 5;
        let mut datoms = Vec::with_capacity(usize::try_from(n).unwrap_or(0).min(bound));
        for _ in 0..n {
            datoms.push(self.datom()?);
        }
        Ok(datoms)
    }
}
