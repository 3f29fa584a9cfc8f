//! Pull patterns: which attributes of an entity to read, and how deep.
//!
//! ```text
//! pattern   = [spec+]
//! spec      = :attr | :ns/_attr (reverse) | * | {attr-or-expr (pattern | n | ...)}
//!           | [:attr option+] | (limit :attr n) | (default :attr value)
//! option    = :as value | :limit n-or-nil | :default value
//! ```

use crate::error::{Result, syntax};
use crate::value;
use model::Value;
use model::edn::{Edn, Keyword};
use std::fmt;
use std::sync::Arc;

/// How many values of a many-valued attribute pull returns unless told
/// otherwise (as Datomic does); `:limit nil` lifts it.
pub const DEFAULT_LIMIT: usize = 1000;

/// A parsed pull pattern.
///
/// ```
/// let p = query::PullPattern::parse("[:user/email {:user/upVotes [:story/title]}]").unwrap();
/// assert_eq!(p.to_string(), "[:user/email {:user/upVotes [:story/title]}]");
/// ```
#[derive(Clone, Debug)]
pub struct PullPattern {
    pub(crate) specs: Vec<Spec>,
    text: String,
}

/// One element of a pattern.
#[derive(Clone, Debug)]
pub(crate) enum Spec {
    /// `*`: every attribute.
    Wildcard,
    /// One attribute, with options and perhaps a nested pattern.
    Attr(AttrSpec),
}

/// One attribute of a pattern.
#[derive(Clone, Debug)]
pub(crate) struct AttrSpec {
    /// The attribute as written (`:ns/_name` for reverse references).
    pub(crate) name: Keyword,
    /// The key in the result map (`:as`, else `name`).
    pub(crate) key: Edn,
    /// At most this many values of a many-valued attribute (`None`: all).
    pub(crate) limit: Option<usize>,
    /// The value when the entity has none.
    pub(crate) default: Option<Value>,
    /// What to pull of referenced entities.
    pub(crate) nested: Option<Nested>,
}

/// What a map spec pulls of the entities an attribute references.
#[derive(Clone, Debug)]
pub(crate) enum Nested {
    /// A pattern of its own.
    Pattern(Arc<PullPattern>),
    /// The enclosing pattern again, at most `depth` levels (`None`: `...`,
    /// until a cycle).
    Recurse { depth: Option<usize> },
}

impl PullPattern {
    /// Parses a pattern written as EDN text.
    pub fn parse(text: &str) -> Result<PullPattern> {
        let edn = model::edn::parse(text).map_err(|e| syntax(e.to_string(), "pull pattern"))?;
        PullPattern::from_edn(&edn)
    }

    /// Parses a pattern given as EDN data.
    pub fn from_edn(edn: &Edn) -> Result<PullPattern> {
        let items = match edn {
            Edn::Vector(items) if !items.is_empty() => items,
            _ => return Err(syntax("a pull pattern is a non-empty vector", edn)),
        };
        let mut specs = Vec::new();
        for item in items {
            specs.extend(spec(item, edn)?);
        }
        Ok(PullPattern {
            specs,
            text: edn.to_string(),
        })
    }
}

impl fmt::Display for PullPattern {
    /// The pattern as EDN.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn spec(item: &Edn, pattern: &Edn) -> Result<Vec<Spec>> {
    match item {
        Edn::Symbol(s) if s.as_str() == "*" => Ok(vec![Spec::Wildcard]),
        Edn::String(s) if &**s == "*" => Ok(vec![Spec::Wildcard]),
        Edn::Keyword(_) | Edn::Vector(_) | Edn::List(_) => {
            Ok(vec![Spec::Attr(attr(item, pattern)?)])
        }
        Edn::Map(map) => map
            .iter()
            .map(|(k, v)| {
                let mut a = attr(k, pattern)?;
                a.nested = Some(nested(v, pattern)?);
                Ok(Spec::Attr(a))
            })
            .collect(),
        other => Err(syntax(format!("{other} is not an attribute spec"), pattern)),
    }
}

fn nested(edn: &Edn, pattern: &Edn) -> Result<Nested> {
    match edn {
        Edn::Symbol(s) if s.as_str() == "..." => Ok(Nested::Recurse { depth: None }),
        Edn::Long(n) if *n > 0 => Ok(Nested::Recurse {
            depth: usize::try_from(*n).ok(),
        }),
        Edn::Vector(_) => Ok(Nested::Pattern(Arc::new(PullPattern::from_edn(edn)?))),
        other => Err(syntax(
            format!("{other} is not a nested pattern, a recursion depth or ..."),
            pattern,
        )),
    }
}

fn plain(name: &Keyword) -> AttrSpec {
    AttrSpec {
        name: name.clone(),
        key: Edn::Keyword(name.clone()),
        limit: Some(DEFAULT_LIMIT),
        default: None,
        nested: None,
    }
}

fn attr(item: &Edn, pattern: &Edn) -> Result<AttrSpec> {
    match item {
        Edn::Keyword(k) => Ok(plain(k)),
        Edn::Vector(items) => attr_with_options(items, pattern),
        Edn::List(items) => legacy(items, pattern),
        other => Err(syntax(format!("{other} is not an attribute"), pattern)),
    }
}

fn attr_with_options(items: &[Edn], pattern: &Edn) -> Result<AttrSpec> {
    let name = items
        .first()
        .and_then(Edn::as_keyword)
        .ok_or_else(|| syntax("an attribute expression starts with the attribute", pattern))?;
    let mut spec = plain(name);
    let options = &items[1..];
    if options.is_empty() || !options.len().is_multiple_of(2) {
        return Err(syntax(
            format!("{name}: options come in pairs (:as, :limit, :default)"),
            pattern,
        ));
    }
    for pair in options.chunks_exact(2) {
        let option = pair[0].as_keyword().map(Keyword::as_str);
        match option {
            Some("as") => spec.key = pair[1].clone(),
            Some("limit") => spec.limit = limit(&pair[1], pattern)?,
            Some("default") => spec.default = Some(default(&pair[1], pattern)?),
            _ => return Err(syntax(format!("{} is not a pull option", pair[0]), pattern)),
        }
    }
    Ok(spec)
}

fn legacy(items: &[Edn], pattern: &Edn) -> Result<AttrSpec> {
    let head = items.first().and_then(|h| match h {
        Edn::Symbol(s) => Some(s.as_str().to_string()),
        Edn::String(s) => Some(s.to_string()),
        _ => None,
    });
    let (name, arg) = match (
        items.get(1).and_then(Edn::as_keyword),
        items.get(2),
        items.len(),
    ) {
        (Some(name), Some(arg), 3) => (name, arg),
        _ => {
            return Err(syntax(
                "expected (limit :attr n) or (default :attr value)",
                pattern,
            ));
        }
    };
    let mut spec = plain(name);
    match head.as_deref() {
        Some("limit") => spec.limit = limit(arg, pattern)?,
        Some("default") => spec.default = Some(default(arg, pattern)?),
        _ => {
            return Err(syntax(
                "expected (limit :attr n) or (default :attr value)",
                pattern,
            ));
        }
    }
    Ok(spec)
}

fn limit(edn: &Edn, pattern: &Edn) -> Result<Option<usize>> {
    match edn {
        Edn::Nil => Ok(None),
        Edn::Long(n) if *n > 0 => Ok(usize::try_from(*n).ok()),
        other => Err(syntax(
            format!(":limit is a positive number or nil, not {other}"),
            pattern,
        )),
    }
}

fn default(edn: &Edn, pattern: &Edn) -> Result<Value> {
    value::from_edn(edn).map_err(|m| syntax(format!(":default {m}"), pattern))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let p = PullPattern::parse(
            r#"[* :db/id [:a/b :as "B" :limit 2] (limit :a/c nil) (default :a/d 0) {:a/e ... [:a/f :limit 3] [:a/g]}]"#,
        )
        .unwrap();
        assert_eq!(p.specs.len(), 7);
        let Spec::Attr(b) = &p.specs[2] else { panic!() };
        assert_eq!((b.key.clone(), b.limit), (Edn::string("B"), Some(2)));
        let Spec::Attr(c) = &p.specs[3] else { panic!() };
        assert_eq!(c.limit, None);
        let Spec::Attr(d) = &p.specs[4] else { panic!() };
        assert_eq!(d.default, Some(Value::Long(0)));
        assert!(matches!(
            p.specs[5..]
                .iter()
                .filter(|s| matches!(
                    s,
                    Spec::Attr(AttrSpec {
                        nested: Some(_),
                        ..
                    })
                ))
                .count(),
            2
        ));
    }

    #[test]
    fn bad_patterns() {
        for bad in [
            "[]",
            ":a",
            "[1]",
            "[[:a :as]]",
            "[[:a :bogus 1]]",
            "[{:a 0}]",
            "[(limit :a -1)]",
        ] {
            assert!(PullPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
