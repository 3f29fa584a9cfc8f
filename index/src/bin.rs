//! The little binary helpers every format of this crate uses: LEB128
//! varints, fixed-size ids, length-prefixed byte strings, and a reader that
//! says where the bytes stopped making sense.

use model::{Datom, TxLog};
use storage_core::SegmentId;

/// Appends fields to a payload.
#[derive(Default)]
pub(crate) struct Writer(Vec<u8>);

impl Writer {
    pub(crate) fn with_version(version: u8) -> Self {
        Writer(vec![version])
    }

    pub(crate) fn u8(&mut self, b: u8) -> &mut Self {
        self.0.push(b);
        self
    }

    pub(crate) fn varint(&mut self, n: u64) -> &mut Self {
        model::codec::put_varint(&mut self.0, n);
        self
    }

    pub(crate) fn len(&mut self, n: usize) -> &mut Self {
        self.varint(n as u64)
    }

    pub(crate) fn id(&mut self, id: &SegmentId) -> &mut Self {
        self.0.extend_from_slice(id.as_bytes());
        self
    }

    pub(crate) fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.extend_from_slice(bytes);
        self
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.len(bytes.len()).raw(bytes)
    }

    /// A run of datoms in model's binary datom encoding.
    pub(crate) fn datoms(&mut self, datoms: &[Datom]) -> &mut Self {
        self.bytes(&model::codec::encode_datoms(datoms))
    }

    /// A log entry in model's binary log encoding.
    pub(crate) fn tx_log(&mut self, entry: &TxLog) -> &mut Self {
        self.bytes(&model::codec::encode_tx_log(entry))
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.0
    }
}

/// Reads fields back; every failure is a message with the byte offset.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

/// Why bytes did not decode: a message that names the offset.
pub(crate) type Bad = String;

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    pub(crate) fn fail(&self, message: impl std::fmt::Display) -> Bad {
        format!("{message} at byte {}", self.pos)
    }

    /// Reads the format version byte and refuses any other than `expected`.
    pub(crate) fn version(&mut self, expected: u8) -> Result<(), Bad> {
        match self.u8()? {
            v if v == expected => Ok(()),
            v => Err(format!(
                "format version {v} is not supported (this build reads version {expected})"
            )),
        }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Bad> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| self.fail(format!("truncated: {n} more bytes needed")))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Bad> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn varint(&mut self) -> Result<u64, Bad> {
        use model::codec::{VarintError, read_varint};
        let read = read_varint(&self.bytes[self.pos..]);
        self.pos += read.map_or_else(VarintError::read, |(_, len)| len);
        match read {
            Ok((n, _)) => Ok(n),
            Err(VarintError::Truncated(_)) => Err(self.fail("truncated: 1 more bytes needed")),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// A count of items that each take at least `min_item_bytes`: never
    /// trusted beyond what the remaining bytes can hold.
    pub(crate) fn count(&mut self, min_item_bytes: usize) -> Result<usize, Bad> {
        let n = self.varint()?;
        let room = (self.bytes.len() - self.pos) / min_item_bytes.max(1);
        match usize::try_from(n) {
            Ok(n) if n <= room => Ok(n),
            _ => Err(self.fail(format!(
                "count {n} is more than the remaining bytes can hold"
            ))),
        }
    }

    pub(crate) fn id(&mut self) -> Result<SegmentId, Bad> {
        let mut raw = [0u8; 32];
        raw.copy_from_slice(self.take(32)?);
        Ok(SegmentId::from_bytes(raw))
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], Bad> {
        let n = self.count(1)?;
        self.take(n)
    }

    pub(crate) fn datoms(&mut self) -> Result<Vec<Datom>, Bad> {
        let at = self.pos;
        let bytes = self.bytes()?;
        model::codec::decode_datoms(bytes).map_err(|e| format!("{e} (datoms at byte {at})"))
    }

    pub(crate) fn tx_log(&mut self) -> Result<TxLog, Bad> {
        let at = self.pos;
        let bytes = self.bytes()?;
        model::codec::decode_tx_log(bytes).map_err(|e| format!("{e} (log entry at byte {at})"))
    }

    /// True when every byte has been read.
    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }

    pub(crate) fn finish(&self) -> Result<(), Bad> {
        match self.pos == self.bytes.len() {
            true => Ok(()),
            false => Err(self.fail(format!("{} trailing bytes", self.bytes.len() - self.pos))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_bad_ones_fail() {
        let mut w = Writer::default();
        for n in [0, 1, 127, 128, 300, u64::MAX] {
            w.varint(n);
        }
        let bytes = w.finish();
        let mut r = Reader::new(&bytes);
        for n in [0, 1, 127, 128, 300, u64::MAX] {
            assert_eq!(r.varint().unwrap(), n);
        }
        r.finish().unwrap();
        let mut r = Reader::new(&[0xff; 11]);
        assert!(r.varint().unwrap_err().contains("overflows"));
        let mut r = Reader::new(&[0x80]);
        assert!(r.varint().unwrap_err().contains("truncated"));
        let mut r = Reader::new(&[200, 1, 2]);
        assert!(r.count(1).unwrap_err().contains("remaining bytes"));
    }
}
