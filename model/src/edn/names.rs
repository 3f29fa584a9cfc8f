//! Keywords and symbols: names with an optional namespace.

use std::fmt;
use std::sync::Arc;

/// Splits `ns/name` at the first slash; a lone `/` is a name.
fn split(text: &str) -> (Option<&str>, &str) {
    match text.find('/') {
        Some(i) if text.len() > 1 && i > 0 => (Some(&text[..i]), &text[i + 1..]),
        _ => (None, text),
    }
}

/// An EDN keyword such as `:db/ident`, held without the leading colon.
///
/// Cheap to clone (a shared string); compares by text.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Keyword(Arc<str>);

impl Keyword {
    /// A keyword from its text, with or without the leading colon.
    pub fn new(text: &str) -> Self {
        Keyword(Arc::from(text.strip_prefix(':').unwrap_or(text)))
    }

    /// The keyword whose text without the leading colon is exactly `text`,
    /// as the binary codec stored it: nothing is stripped, so what was
    /// encoded decodes to the same keyword (even one whose text itself
    /// starts with a colon, which only [`Keyword::new`] of `::…` makes).
    pub(crate) fn from_stored(text: &str) -> Self {
        Keyword(Arc::from(text))
    }

    /// The full text without the colon, e.g. `db/ident`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The namespace, e.g. `db` for `:db/ident`.
    pub fn namespace(&self) -> Option<&str> {
        split(&self.0).0
    }

    /// The name, e.g. `ident` for `:db/ident`.
    pub fn name(&self) -> &str {
        split(&self.0).1
    }

    /// True for reverse-navigation names such as `:order/_lineItems` (or
    /// `:_comments` for the attribute `:comments`).
    pub fn is_reverse(&self) -> bool {
        let name = self.name();
        name.len() > 1 && name.starts_with('_')
    }

    /// `:ns/_name` for `:ns/name` and back.
    pub fn reversed(&self) -> Keyword {
        let name = self.name();
        let flipped = match name.strip_prefix('_') {
            Some(plain) => plain.to_string(),
            None => format!("_{name}"),
        };
        match self.namespace() {
            Some(ns) => Keyword(Arc::from(format!("{ns}/{flipped}"))),
            None => Keyword(Arc::from(flipped)),
        }
    }
}

impl fmt::Display for Keyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, ":{}", self.0)
    }
}

impl fmt::Debug for Keyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, ":{}", self.0)
    }
}

/// An EDN symbol such as `?e`, `$` or `clojure.core/+`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbol(Arc<str>);

impl Symbol {
    /// A symbol from its text.
    pub fn new(text: &str) -> Self {
        Symbol(Arc::from(text))
    }

    /// The full text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The namespace, if any.
    pub fn namespace(&self) -> Option<&str> {
        split(&self.0).0
    }

    /// The name.
    pub fn name(&self) -> &str {
        split(&self.0).1
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_parts_and_reverse() {
        let k = Keyword::new(":order/lineItems");
        assert_eq!(k.namespace(), Some("order"));
        assert_eq!(k.name(), "lineItems");
        assert!(!k.is_reverse());
        assert_eq!(k.reversed().to_string(), ":order/_lineItems");
        assert!(k.reversed().is_reverse());
        assert_eq!(k.reversed().reversed(), k);
        assert_eq!(Keyword::new("plain").namespace(), None);
        assert!(Keyword::new("_plain").is_reverse());
        assert_eq!(Keyword::new("_plain").reversed(), Keyword::new("plain"));
        assert!(!Keyword::new("_").is_reverse());
        assert_eq!(Symbol::new("/").name(), "/");
    }
}
