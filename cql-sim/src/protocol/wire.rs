//! The protocol's primitive notations (spec section 3): a bounds-checked
//! reader over a frame body and the matching writers.

use std::collections::HashMap;

use super::ProtocolError;

/// Reads protocol notations from a frame body, failing with a
/// [`ProtocolError`] that names what was being read when bytes run out.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(body: &'a [u8]) -> Self {
        Reader { rest: body }
    }

    fn take(&mut self, len: usize, what: &str) -> Result<&'a [u8], ProtocolError> {
        let (head, tail) = self
            .rest
            .split_at_checked(len)
            .ok_or_else(|| ProtocolError(format!("not enough bytes to read {what}")))?;
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ProtocolError> {
        let bytes = self.take(N, what)?;
        let mut out = [0; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub(crate) fn byte(&mut self, what: &str) -> Result<u8, ProtocolError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(crate) fn short(&mut self, what: &str) -> Result<u16, ProtocolError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn int(&mut self, what: &str) -> Result<i32, ProtocolError> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn long(&mut self, what: &str) -> Result<i64, ProtocolError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn string(&mut self, what: &str) -> Result<String, ProtocolError> {
        let len = usize::from(self.short(what)?);
        utf8(self.take(len, what)?, what)
    }

    pub(crate) fn long_string(&mut self, what: &str) -> Result<String, ProtocolError> {
        let len = self.int(what)?;
        let len = usize::try_from(len)
            .map_err(|_| ProtocolError(format!("negative length for {what}")))?;
        utf8(self.take(len, what)?, what)
    }

    pub(crate) fn short_bytes(&mut self, what: &str) -> Result<Vec<u8>, ProtocolError> {
        let len = usize::from(self.short(what)?);
        Ok(self.take(len, what)?.to_vec())
    }

    /// A `[bytes]`: `None` for a negative length (null).
    pub(crate) fn bytes(&mut self, what: &str) -> Result<Option<Vec<u8>>, ProtocolError> {
        match usize::try_from(self.int(what)?) {
            Ok(len) => Ok(Some(self.take(len, what)?.to_vec())),
            Err(_) => Ok(None),
        }
    }

    /// A `[value]`: a length of -1 is null, -2 is "not set".
    pub(crate) fn value(&mut self, what: &str) -> Result<BoundValue, ProtocolError> {
        match self.int(what)? {
            -1 => Ok(BoundValue::Null),
            -2 => Ok(BoundValue::Unset),
            len if len < 0 => Err(ProtocolError(format!("invalid length {len} for {what}"))),
            len => {
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                Ok(BoundValue::Bytes(self.take(len, what)?.to_vec()))
            }
        }
    }

    pub(crate) fn string_list(&mut self, what: &str) -> Result<Vec<String>, ProtocolError> {
        let count = self.short(what)?;
        (0..count).map(|_| self.string(what)).collect()
    }

    pub(crate) fn string_map(
        &mut self,
        what: &str,
    ) -> Result<HashMap<String, String>, ProtocolError> {
        let count = self.short(what)?;
        (0..count)
            .map(|_| Ok((self.string(what)?, self.string(what)?)))
            .collect()
    }

    /// Skips a `[bytes map]` (custom payloads, which the simulator ignores).
    pub(crate) fn skip_bytes_map(&mut self) -> Result<(), ProtocolError> {
        let count = self.short("custom payload")?;
        for _ in 0..count {
            self.string("custom payload key")?;
            self.bytes("custom payload value")?;
        }
        Ok(())
    }
}

fn utf8(bytes: &[u8], what: &str) -> Result<String, ProtocolError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| ProtocolError(format!("invalid UTF-8 in {what}")))
}

/// A bound value as sent by the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum BoundValue {
    /// A serialized value.
    Bytes(Vec<u8>),
    /// `null`.
    Null,
    /// "Not set": leaves the column untouched.
    Unset,
}

/// Writers for the protocol notations, appending to a frame body.
pub(crate) trait Writer {
    fn put_short(&mut self, v: u16);
    fn put_int(&mut self, v: i32);
    fn put_string(&mut self, s: &str);
    fn put_short_bytes(&mut self, b: &[u8]);
    fn put_bytes(&mut self, b: Option<&[u8]>);
    fn put_string_list(&mut self, items: &[&str]);
}

impl Writer for Vec<u8> {
    fn put_short(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }

    fn put_int(&mut self, v: i32) {
        self.extend_from_slice(&v.to_be_bytes());
    }

    fn put_string(&mut self, s: &str) {
        // Strings the simulator writes (names, messages) are far below 64 KiB;
        // a longer one is cut rather than corrupting the frame.
        let bytes = &s.as_bytes()[..s.len().min(usize::from(u16::MAX))];
        self.put_short(u16::try_from(bytes.len()).unwrap_or(u16::MAX));
        self.extend_from_slice(bytes);
    }

    fn put_short_bytes(&mut self, b: &[u8]) {
        self.put_short(u16::try_from(b.len()).unwrap_or(u16::MAX));
        self.extend_from_slice(b);
    }

    fn put_bytes(&mut self, b: Option<&[u8]>) {
        match b {
            Some(b) => {
                self.put_int(i32::try_from(b.len()).unwrap_or(i32::MAX));
                self.extend_from_slice(b);
            }
            None => self.put_int(-1),
        }
    }

    fn put_string_list(&mut self, items: &[&str]) {
        self.put_short(u16::try_from(items.len()).unwrap_or(u16::MAX));
        for item in items {
            self.put_string(item);
        }
    }
}
