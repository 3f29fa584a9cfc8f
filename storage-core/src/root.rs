//! Root records: a handful of small mutable records per storage, changed only
//! by compare-and-swap on their revision.

use std::fmt;
use std::num::NonZeroU64;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{Error, Result};

/// The largest root value (the caller's data, without the envelope): 64 KiB.
/// Roots are meant to be a few KiB; the limit leaves room for small recent
/// log entries riding inside the log root.
pub const MAX_ROOT_VALUE_BYTES: usize = 64 * 1024;

/// The longest root name.
pub const MAX_ROOT_NAME_BYTES: usize = 200;

/// The name of a root: 1 to 200 bytes of ASCII letters, digits and `. _ - /`,
/// not starting or ending with `/`, with no empty, `.` or `..` component.
///
/// Layers above storage namespace their roots by database, e.g.
/// `db/orders/log`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RootName(String);

impl RootName {
    /// Validates `name`.
    pub fn new(name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        validate_root_name(&name)?;
        Ok(RootName(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn validate_root_name(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::invalid(format!(
            "root name `{}`: {why}",
            truncate_for_message(name)
        )))
    };
    if name.is_empty() {
        return bad("is empty");
    }
    if name.len() > MAX_ROOT_NAME_BYTES {
        return bad(&format!(
            "is {} bytes long, the limit is {MAX_ROOT_NAME_BYTES}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')))
    {
        return bad(&format!(
            "contains {c:?}; only ASCII letters, digits and . _ - / are allowed"
        ));
    }
    if name
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return bad("has an empty, `.` or `..` path component");
    }
    Ok(())
}

/// User text cut to a length fit for an error message (80 characters),
/// with escapes visible, and its length in bytes when it was cut.
pub fn truncate_for_message(s: &str) -> String {
    const KEEP: usize = 80;
    if s.chars().count() <= KEEP {
        return s.escape_debug().to_string();
    }
    let head: String = s.chars().take(KEEP).collect();
    format!("{}… ({} bytes)", head.escape_debug(), s.len())
}

impl fmt::Display for RootName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RootName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RootName({:?})", self.0)
    }
}

/// The revision of a root: drawn at random when the root is created (its
/// *origin*), then one more with every applied compare-and-swap. Exactly
/// one writer wins each revision.
///
/// # Why the origin is random
///
/// A revision binds a CAS to one *incarnation* of a root, not only to a
/// place in its history. Roots are never deleted within a storage, but the
/// storage itself can be: a keyspace dropped, a directory wiped, a table
/// truncated, and the same names created again. Had every root started at
/// 1, a holder of the old incarnation (a paused transactor, say) whose
/// expected revision equals the new incarnation's current one would write
/// its state into the new database. With origins uniform in
/// `[1, ORIGIN_LIMIT)` (2^62), a revision from another incarnation that
/// has seen `w` writes matches one of the `w'` revisions of this one with
/// probability at most `(w + w') / 2^62`: never, for any real history.
///
/// The origin of a create is a function of the written value's
/// [`Nonce`] ([`Revision::origin`]), so every retry of the same logical
/// write aims for the same revision, as the ambiguity design needs
/// (`crate::ambiguity`). Revisions count up from the origin, leaving 2^62
/// CASes before they would leave a signed 64-bit integer, which is what
/// the Postgres and Cassandra backends store. Roots created before origins
/// were random simply go on from their small revisions.
///
/// Revisions of one root are ordered; revisions of different roots (or of
/// two incarnations of one name) are unrelated numbers and are never
/// compared.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Revision(NonZeroU64);

impl Revision {
    /// Origins are drawn from `[1, ORIGIN_LIMIT)`: 2^62.
    pub const ORIGIN_LIMIT: u64 = 1 << 62;

    /// The revision `n`; `None` for 0.
    pub fn new(n: u64) -> Option<Self> {
        NonZeroU64::new(n).map(Revision)
    }

    /// The revision a root created with a value of writer nonce `nonce`
    /// starts at: the nonce's first 62 bits (0 counts as 1), uniform in
    /// `[1, ORIGIN_LIMIT)` because the nonce is random.
    pub fn origin(nonce: Nonce) -> Revision {
        let mut head = [0u8; 8];
        head.copy_from_slice(&nonce.0[..8]);
        let drawn = u64::from_be_bytes(head) >> 2;
        Revision(NonZeroU64::new(drawn).unwrap_or(NonZeroU64::MIN))
    }

    /// The revision as a number.
    pub fn get(self) -> u64 {
        self.0.get()
    }

    /// The revision a successful CAS from `self` produces.
    pub fn next(self) -> Result<Revision> {
        self.0
            .checked_add(1)
            .map(Revision)
            .ok_or_else(|| Error::invalid("root revision overflow"))
    }

    /// The revision a CAS expecting `expected` and writing a value with
    /// writer nonce `nonce` produces: the [`Revision::origin`] of `nonce`
    /// for a create, the next revision otherwise.
    pub fn after(expected: Option<Revision>, nonce: Nonce) -> Result<Revision> {
        match expected {
            None => Ok(Revision::origin(nonce)),
            Some(r) => r.next(),
        }
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A random 128-bit value unique to one write, stored inside the root value,
/// so a linearizable re-read tells whether an ambiguous write won.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nonce([u8; 16]);

impl Nonce {
    /// A fresh random nonce.
    pub fn random() -> Self {
        Nonce(rand::random())
    }

    /// The nonce with these raw bytes (golden tests, decoding).
    pub fn from_bytes(raw: [u8; 16]) -> Self {
        Nonce(raw)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nonce({})", hex::encode(self.0))
    }
}

const ENVELOPE_VERSION: u8 = 1;
const ENVELOPE_HEADER: usize = 1 + 16;

/// The value of a root: the caller's data plus the writer's nonce.
///
/// Backends store [`RootValue::encode`]'s bytes and the revision, and give
/// back [`RootValue::decode`] of them: the envelope is the same everywhere.
#[derive(Clone, PartialEq, Eq)]
pub struct RootValue {
    nonce: Nonce,
    data: Bytes,
}

impl RootValue {
    /// A value with a fresh nonce. Fails when `data` is over
    /// [`MAX_ROOT_VALUE_BYTES`].
    pub fn new(data: impl Into<Bytes>) -> Result<Self> {
        Self::with_nonce(Nonce::random(), data)
    }

    /// A value with the given nonce.
    pub fn with_nonce(nonce: Nonce, data: impl Into<Bytes>) -> Result<Self> {
        let data = data.into();
        if data.len() > MAX_ROOT_VALUE_BYTES {
            return Err(Error::invalid(format!(
                "root value of {} bytes is over the limit of {MAX_ROOT_VALUE_BYTES} bytes",
                data.len()
            )));
        }
        Ok(RootValue { nonce, data })
    }

    /// The caller's data.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// The nonce of the write that stored this value.
    pub fn nonce(&self) -> Nonce {
        self.nonce
    }

    /// The stored form: version byte, 16 nonce bytes, data.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(ENVELOPE_HEADER + self.data.len());
        out.put_u8(ENVELOPE_VERSION);
        out.put_slice(&self.nonce.0);
        out.put_slice(&self.data);
        out.freeze()
    }

    /// Reads the stored form back; `name` goes into the corruption error.
    pub fn decode(name: &RootName, stored: Bytes) -> Result<Self> {
        let corrupt = |detail: String| Error::Corruption {
            what: format!("root `{name}`"),
            detail,
        };
        if stored.len() < ENVELOPE_HEADER {
            return Err(corrupt(format!(
                "stored value is {} bytes, shorter than the {ENVELOPE_HEADER}-byte envelope",
                stored.len()
            )));
        }
        if stored[0] != ENVELOPE_VERSION {
            return Err(corrupt(format!(
                "root envelope version {} is not supported (this build reads {ENVELOPE_VERSION})",
                stored[0]
            )));
        }
        let mut nonce = [0u8; 16];
        nonce.copy_from_slice(&stored[1..ENVELOPE_HEADER]);
        let data = stored.slice(ENVELOPE_HEADER..);
        if data.len() > MAX_ROOT_VALUE_BYTES {
            return Err(corrupt(format!(
                "value of {} bytes is over the limit",
                data.len()
            )));
        }
        Ok(RootValue {
            nonce: Nonce(nonce),
            data,
        })
    }
}

impl fmt::Debug for RootValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootValue")
            .field("nonce", &self.nonce)
            .field("data_len", &self.data.len())
            .finish()
    }
}

/// A root as read: its revision and value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Root {
    /// The current revision.
    pub revision: Revision,
    /// The current value.
    pub value: RootValue,
}

/// The outcome of a compare-and-swap that reached a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CasOutcome {
    /// The write won; the root is now at this revision.
    Applied(Revision),
    /// The root was not at the expected revision (or, for a create, already
    /// existed); nothing was written. Carries the root as it is now.
    Conflict(Option<Root>),
}

impl CasOutcome {
    /// True for [`CasOutcome::Applied`].
    pub fn is_applied(&self) -> bool {
        matches!(self, CasOutcome::Applied(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_names_are_validated() {
        for good in ["a", "db/orders/log", "catalog", "x.y_z-1", &"a".repeat(200)] {
            RootName::new(good).unwrap();
        }
        let cases = [
            ("", "empty"),
            ("/a", "empty"),
            ("a/", "empty"),
            ("a//b", "empty"),
            ("a/../b", "`..`"),
            ("a b", "' '"),
            ("a'; drop table x", "'\\''"),
            ("ümlaut", "'ü'"),
        ];
        for (bad, why) in cases {
            let err = RootName::new(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
        let err = RootName::new("a".repeat(201)).unwrap_err().to_string();
        assert!(err.contains("201 bytes long") && err.contains('…'), "{err}");
    }

    #[test]
    fn revisions_start_at_an_origin_drawn_from_the_nonce() {
        let nonce = Nonce::random();
        let origin = Revision::after(None, nonce).unwrap();
        assert_eq!(origin, Revision::origin(nonce), "retries aim alike");
        assert!(origin.get() >= 1 && origin.get() < Revision::ORIGIN_LIMIT);
        assert_eq!(
            Revision::after(Some(origin), nonce).unwrap().get(),
            origin.get() + 1
        );
        assert_eq!(Revision::origin(Nonce::from_bytes([0; 16])).get(), 1);
        assert_eq!(
            Revision::origin(Nonce::from_bytes([0xff; 16])).get(),
            Revision::ORIGIN_LIMIT - 1
        );
        // Fits a signed 64-bit integer with 2^62 CASes to spare.
        assert!(i64::try_from(Revision::ORIGIN_LIMIT * 2 - 1).is_ok());
        assert!(Revision::new(0).is_none());
        assert!(Revision::new(u64::MAX).unwrap().next().is_err());
    }

    #[test]
    fn origins_of_independent_creates_differ() {
        let origins: std::collections::HashSet<u64> = (0..1000)
            .map(|_| Revision::origin(Nonce::random()).get())
            .collect();
        assert_eq!(origins.len(), 1000);
        // Spread over the whole range, not bunched at the bottom.
        assert!(origins.iter().any(|&o| o > Revision::ORIGIN_LIMIT / 2));
    }

    #[test]
    fn envelope_round_trips_and_rejects_garbage() {
        let name = RootName::new("r").unwrap();
        let v = RootValue::new(&b"hello"[..]).unwrap();
        let back = RootValue::decode(&name, v.encode()).unwrap();
        assert_eq!(back, v);
        assert_eq!(back.data().as_ref(), b"hello");
        let err = RootValue::decode(&name, Bytes::from_static(b"\x01short")).unwrap_err();
        assert!(err.is_corruption() && err.to_string().contains("root `r`"));
        let mut bad = v.encode().to_vec();
        bad[0] = 9;
        let err = RootValue::decode(&name, bad.into())
            .unwrap_err()
            .to_string();
        assert!(err.contains("version 9"), "{err}");
        let err = RootValue::new(vec![0u8; MAX_ROOT_VALUE_BYTES + 1]).unwrap_err();
        assert!(err.to_string().contains("over the limit"));
        RootValue::new(vec![0u8; MAX_ROOT_VALUE_BYTES]).unwrap();
    }
}
