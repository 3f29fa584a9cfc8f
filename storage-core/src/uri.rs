//! Storage URIs: one URI picks the backend, its address and the database.
//!
//! | scheme | form |
//! |--------|------|
//! | `mem` | `mem://NAME[?db=DB]` (the database defaults to NAME) |
//! | `file` | `file:///ABS/PATH?db=DB`, `file:REL/PATH?db=DB`, `file://localhost/ABS?db=DB` |
//! | `postgres` | `postgres://[USER[:PASSWORD]@]HOST[:PORT][,HOST[:PORT]…]/PGDB?db=DB[&schema=…&sslmode=…]` (also `postgresql://`) |
//! | `cassandra` | `cassandra://[USER[:PASSWORD]@]HOST[:PORT][,HOST[:PORT]…]/KEYSPACE?db=DB[&table_prefix=…&consistency=…&dc=…]` |
//!
//! [`StorageUri::parse`] is a pure function: it checks the shape common to
//! every scheme, percent-decodes, and leaves backend-specific parameters in
//! [`StorageUri::params`] for the backend to validate. Passwords belong in the
//! environment or a file the backend reads; when one is written into the URI
//! anyway it is kept as a [`Secret`] and never printed: `Display` and `Debug`
//! and every error show `***` instead.

use std::collections::BTreeMap;
use std::fmt;

use percent_encoding::percent_decode_str;

use crate::error::{Error, Result};
use crate::root::truncate_for_message;

/// The schemes whose URI grammar this crate knows (`postgresql` is read as
/// `postgres`). Which of them a binary can open is up to its registry: the
/// `backends` crate builds it, with one cargo feature per backend.
pub const KNOWN_SCHEMES: &[&str] = &["mem", "file", "postgres", "cassandra"];

/// Text that must never be printed: shows as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `s`.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for handing to a driver.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A database name: 1 to 64 ASCII letters, digits, `_` and `-`, starting
/// with a letter or digit.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct DbName(String);

impl DbName {
    /// Validates `name`.
    pub fn new(name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        let valid = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(ok_char)
            && name.starts_with(|c: char| c.is_ascii_alphanumeric());
        if !valid {
            return Err(Error::invalid(format!(
                "database name `{}` must be 1 to 64 ASCII letters, digits, `_` or `-`, starting with a letter or digit",
                truncate_for_message(&name)
            )));
        }
        Ok(DbName(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DbName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A host and optional port from a URI's authority.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct HostPort {
    /// A host name, an IPv4 address, or an IPv6 address (without brackets).
    pub host: String,
    /// The port, if given.
    pub port: Option<u16>,
}

/// A parsed storage URI.
#[derive(Clone, PartialEq, Eq)]
pub struct StorageUri {
    scheme: &'static str,
    user: Option<String>,
    password: Option<Secret>,
    hosts: Vec<HostPort>,
    path: String,
    db: Option<DbName>,
    params: BTreeMap<String, String>,
    redacted: String,
}

impl StorageUri {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Self> {
        let redacted = redact(text);
        parse_uri(text, &redacted).map_err(|why| {
            Error::invalid(format!(
                "storage URI `{}`: {}",
                truncate_for_message(&redacted),
                without_userinfo(text, &why)
            ))
        })
    }

    /// The canonical scheme (`postgresql` is given as `postgres`).
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// The user name, if the URI names one.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// A password written into the URI (discouraged; prefer the environment).
    pub fn password(&self) -> Option<&Secret> {
        self.password.as_ref()
    }

    /// The hosts of the authority, in order.
    pub fn hosts(&self) -> &[HostPort] {
        &self.hosts
    }

    /// The scheme-specific path: the store name for `mem`, the directory for
    /// `file`, the PostgreSQL database for `postgres` (may be empty), the
    /// keyspace for `cassandra`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The accrete database the URI names, if any.
    pub fn db(&self) -> Option<&DbName> {
        self.db.as_ref()
    }

    /// The database, or an error saying the URI needs `?db=NAME`.
    pub fn require_db(&self) -> Result<&DbName> {
        self.db.as_ref().ok_or_else(|| {
            Error::invalid(format!(
                "storage URI `{}` names no database: add `?db=NAME`",
                self.redacted
            ))
        })
    }

    /// The same storage with database `db`.
    pub fn with_db(&self, db: DbName) -> Self {
        let mut uri = self.clone();
        uri.db = Some(db);
        uri
    }

    /// Query parameters other than `db`, for the backend.
    pub fn params(&self) -> &BTreeMap<String, String> {
        &self.params
    }

    /// The start of a backend's settings: refuses a URI of another scheme
    /// than `scheme` (the backend's, for `what`, e.g. "a postgres:// URI")
    /// and any parameter not in `allowed` ([`StorageUri::check_params`]).
    pub fn expect_backend(&self, scheme: &str, what: &str, allowed: &[&str]) -> Result<()> {
        if self.scheme != scheme {
            return Err(Error::invalid(format!(
                "storage URI `{}` is not {what}",
                self.redacted
            )));
        }
        self.check_params(allowed)
    }

    /// An error about this URI: `storage URI `…`: why` (the URI redacted).
    pub fn invalid(&self, why: impl fmt::Display) -> Error {
        Error::invalid(format!("storage URI `{}`: {why}", self.redacted))
    }

    /// The whole number in `min..=max` that parameter `name` holds, or else
    /// `fallback` (e.g. from the environment); `None` when neither is
    /// given. A bad number is refused naming the parameter and its range.
    pub fn number_param(
        &self,
        name: &str,
        fallback: Option<String>,
        min: u64,
        max: u64,
    ) -> Result<Option<u64>> {
        match self.params.get(name).cloned().or(fallback) {
            None => Ok(None),
            Some(text) => parse_param_number(name, &text, min, max)
                .map(Some)
                .map_err(|why| self.invalid(why)),
        }
    }

    /// Rejects any parameter not in `allowed`, naming it and the allowed ones.
    pub fn check_params(&self, allowed: &[&str]) -> Result<()> {
        match self.params.keys().find(|k| !allowed.contains(&k.as_str())) {
            None => Ok(()),
            Some(k) => Err(Error::invalid(format!(
                "storage URI `{}`: unknown parameter `{}` for {}; allowed: db{}{}",
                self.redacted,
                truncate_for_message(k),
                self.scheme,
                if allowed.is_empty() { "" } else { ", " },
                allowed.join(", ")
            ))),
        }
    }
}

/// A whole number in `min..=max` from the text of parameter `name`; the
/// error names the parameter, the (shortened) text and the range.
pub fn parse_param_number(
    name: &str,
    text: &str,
    min: u64,
    max: u64,
) -> std::result::Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{name}={}` must be a whole number in {min}..={max}",
            truncate_for_message(text)
        )),
    }
}

impl fmt::Display for StorageUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for StorageUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorageUri({})", self.redacted)
    }
}

/// `text` with the password of its authority replaced by `***`.
fn redact(text: &str) -> String {
    let Some(start) = text.find("://").map(|i| i + 3) else {
        return text.to_string();
    };
    let rest = &text[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let Some(at) = authority.rfind('@') else {
        return text.to_string();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return text.to_string();
    };
    format!(
        "{}{}:***{}",
        &text[..start],
        &userinfo[..colon],
        &text[start + at..]
    )
}

/// `why` with the userinfo (`user:password`) and the password of `text`'s
/// authority replaced by `***`: a safety net under every parse error, so
/// that none can echo a secret however the URI was malformed. A password
/// too short to replace without garbling the message withholds it whole.
fn without_userinfo(text: &str, why: &str) -> String {
    let Some(start) = text.find("://").map(|i| i + 3) else {
        return why.to_string();
    };
    let rest = &text[start..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return why.to_string();
    };
    let userinfo = &authority[..at];
    let Some((_, password)) = userinfo.split_once(':') else {
        return why.to_string();
    };
    let out = why.replace(userinfo, "***");
    match password {
        "" => out,
        p if !out.contains(p) => out,
        p if p.len() >= 4 => out.replace(p, "***"),
        _ => "is malformed (the details are withheld: they would show the password)".into(),
    }
}

type Why = String;

fn parse_uri(text: &str, redacted: &str) -> std::result::Result<StorageUri, Why> {
    if text.is_empty() {
        return Err("is empty".into());
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains whitespace or control characters".into());
    }
    let Some((scheme_text, rest)) = text.split_once(':') else {
        return Err(format!("has no scheme; use one of {}", known_scheme_list()));
    };
    let scheme = canonical_scheme(scheme_text)?;
    if rest.contains('#') {
        return Err("has a `#fragment`, which storage URIs do not use".into());
    }
    let (hier, query) = match rest.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (rest, None),
    };
    let (mut params, db) = parse_query(query)?;
    let mut uri = StorageUri {
        scheme,
        user: None,
        password: None,
        hosts: Vec::new(),
        path: String::new(),
        db,
        params: BTreeMap::new(),
        redacted: redacted.to_string(),
    };
    match scheme {
        "file" => uri.path = parse_file_path(hier)?,
        _ => {
            let Some(after) = hier.strip_prefix("//") else {
                return Err(format!("{scheme} URIs start with `{scheme}://`"));
            };
            let (authority, path) = match after.find('/') {
                Some(i) => (&after[..i], &after[i..]),
                None => (after, ""),
            };
            parse_authority(authority, &mut uri)?;
            uri.path = decode(path.strip_prefix('/').unwrap_or(path), "path")?;
        }
    }
    check_scheme_shape(&mut uri)?;
    uri.params = std::mem::take(&mut params);
    Ok(uri)
}

fn known_scheme_list() -> String {
    KNOWN_SCHEMES
        .iter()
        .map(|s| format!("{s}:"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn canonical_scheme(s: &str) -> std::result::Result<&'static str, Why> {
    let lower = s.to_ascii_lowercase();
    let name = if lower == "postgresql" {
        "postgres"
    } else {
        lower.as_str()
    };
    KNOWN_SCHEMES
        .iter()
        .copied()
        .find(|k| *k == name)
        .ok_or_else(|| {
            format!(
                "unknown scheme `{}`; accrete knows {}",
                truncate_for_message(s),
                known_scheme_list()
            )
        })
}

fn decode(s: &str, what: &str) -> std::result::Result<String, Why> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| format!("the {what} is not valid UTF-8 after percent-decoding"))
}

fn parse_query(
    query: Option<&str>,
) -> std::result::Result<(BTreeMap<String, String>, Option<DbName>), Why> {
    let mut params = BTreeMap::new();
    let Some(query) = query else {
        return Ok((params, None));
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(k, "parameter name")?;
        let value = decode(v, &format!("value of `{key}`"))?;
        if key.is_empty() {
            return Err("has a parameter with an empty name".into());
        }
        if params.insert(key.clone(), value).is_some() {
            return Err(format!("gives parameter `{key}` twice"));
        }
    }
    let db = match params.remove("db") {
        None => None,
        Some(name) => Some(DbName::new(name).map_err(|e| match e {
            Error::InvalidInput(m) => m,
            other => other.to_string(),
        })?),
    };
    Ok((params, db))
}

fn parse_file_path(hier: &str) -> std::result::Result<String, Why> {
    let path = match hier.strip_prefix("//") {
        Some(after) => {
            let i = after.find('/').unwrap_or(after.len());
            let host = &after[..i];
            if host.contains('@') {
                return Err(
                    "file URIs name a local directory and take no user name or password (the part before `@`); use file:///PATH"
                        .into(),
                );
            }
            if !(host.is_empty() || host.eq_ignore_ascii_case("localhost")) {
                return Err(format!(
                    "file URIs name a local directory; host `{}` is not allowed (use file:///PATH)",
                    truncate_for_message(host)
                ));
            }
            &after[i..]
        }
        None => hier,
    };
    let path = decode(path, "path")?;
    if path.is_empty() {
        return Err("names no directory (use file:///ABS/PATH or file:REL/PATH)".into());
    }
    if path.contains('\0') {
        return Err("the path contains a NUL byte".into());
    }
    Ok(path)
}

fn parse_authority(authority: &str, uri: &mut StorageUri) -> std::result::Result<(), Why> {
    let hosts = match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            let user = decode(user, "user name")?;
            if user.is_empty() {
                return Err("has an empty user name before `@`".into());
            }
            uri.user = Some(user);
            uri.password = password
                .map(|p| decode(p, "password"))
                .transpose()?
                .map(Secret);
            &authority[at + 1..]
        }
        None => authority,
    };
    if hosts.is_empty() {
        return Err("names no host".into());
    }
    for part in hosts.split(',') {
        uri.hosts.push(parse_host_port(part)?);
    }
    Ok(())
}

fn parse_host_port(part: &str) -> std::result::Result<HostPort, Why> {
    let (host, port) = if let Some(rest) = part.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(format!(
                "host `{}` has an unclosed `[`",
                truncate_for_message(part)
            ));
        };
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!(
                "`[{}]` is not an IPv6 address",
                truncate_for_message(host)
            ));
        }
        match after {
            "" => (host, None),
            p if p.starts_with(':') => (host, Some(&p[1..])),
            _ => {
                return Err(format!(
                    "unexpected `{}` after `]`",
                    truncate_for_message(after)
                ));
            }
        }
    } else {
        match part.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (part, None),
        }
    };
    let valid_name = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' || c == ':');
    if !valid_name {
        return Err(format!(
            "`{}` is not a valid host name or address",
            truncate_for_message(host)
        ));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                return Err(format!(
                    "port `{}` of host `{host}` is not a number in 1..=65535",
                    truncate_for_message(p)
                ));
            }
        },
    };
    Ok(HostPort {
        host: host.to_string(),
        port,
    })
}

fn check_scheme_shape(uri: &mut StorageUri) -> std::result::Result<(), Why> {
    match uri.scheme {
        "mem" => {
            if uri.user.is_some() || uri.hosts.len() != 1 || uri.hosts[0].port.is_some() {
                return Err(
                    "mem URIs are `mem://NAME`: a name, no user, port or second host".into(),
                );
            }
            if !uri.path.is_empty() {
                return Err("mem URIs are `mem://NAME` with no path".into());
            }
            let name = DbName::new(uri.hosts[0].host.clone()).map_err(|_| {
                format!(
                    "mem store name `{}` must be 1 to 64 ASCII letters, digits, `_` or `-`",
                    uri.hosts[0].host
                )
            })?;
            uri.path = name.as_str().to_string();
            if uri.db.is_none() {
                uri.db = Some(name);
            }
        }
        "cassandra" => {
            let ks = &uri.path;
            let valid = !ks.is_empty()
                && ks.len() <= 48
                && ks.starts_with(|c: char| c.is_ascii_alphabetic())
                && ks.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!(
                    "the keyspace `{}` must be 1 to 48 ASCII letters, digits or `_`, starting with a letter (cassandra://HOST/KEYSPACE)",
                    truncate_for_message(ks)
                ));
            }
        }
        "postgres" if uri.path.contains('/') => {
            return Err(format!(
                "the PostgreSQL database `{}` contains `/`",
                truncate_for_message(&uri.path)
            ));
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_uris() {
        let u = StorageUri::parse("mem://orders").unwrap();
        assert_eq!(
            (u.scheme(), u.path(), u.db().unwrap().as_str()),
            ("mem", "orders", "orders")
        );
        let u = StorageUri::parse("mem://store?db=x").unwrap();
        assert_eq!((u.path(), u.db().unwrap().as_str()), ("store", "x"));

        let u = StorageUri::parse("file:///var/lib/accrete?db=orders").unwrap();
        assert_eq!((u.scheme(), u.path()), ("file", "/var/lib/accrete"));
        assert_eq!(u.db().unwrap().as_str(), "orders");
        assert_eq!(
            StorageUri::parse("file:data/dir").unwrap().path(),
            "data/dir"
        );
        assert_eq!(StorageUri::parse("file:./data").unwrap().path(), "./data");
        assert_eq!(
            StorageUri::parse("file://localhost/srv/a").unwrap().path(),
            "/srv/a"
        );
        assert_eq!(
            StorageUri::parse("file:///with%20space").unwrap().path(),
            "/with space"
        );

        let u = StorageUri::parse(
            "postgres://app@db1:5433/accrete?db=orders&schema=s1&sslmode=require",
        )
        .unwrap();
        assert_eq!(u.scheme(), "postgres");
        assert_eq!(u.user(), Some("app"));
        assert_eq!(
            u.hosts(),
            &[HostPort {
                host: "db1".into(),
                port: Some(5433)
            }]
        );
        assert_eq!(u.path(), "accrete");
        assert_eq!(u.params().get("schema").map(String::as_str), Some("s1"));
        assert!(u.check_params(&["schema", "sslmode"]).is_ok());
        let u = StorageUri::parse("postgresql://h/").unwrap();
        assert_eq!((u.scheme(), u.path(), u.user()), ("postgres", "", None));

        let u = StorageUri::parse("cassandra://10.0.0.1,10.0.0.2:9043,[::1]:9044/ks1?db=a&consistency=local_quorum&dc=dc1").unwrap();
        assert_eq!(u.hosts().len(), 3);
        assert_eq!(u.hosts()[1].port, Some(9043));
        assert_eq!(
            u.hosts()[2],
            HostPort {
                host: "::1".into(),
                port: Some(9044)
            }
        );
        assert_eq!(u.path(), "ks1");
        assert_eq!(u.params().len(), 2);
        assert_eq!(
            StorageUri::parse("CASSANDRA://h/k").unwrap().scheme(),
            "cassandra"
        );
    }

    #[test]
    fn passwords_never_print() {
        let text = "postgres://app:s3cr%40t@db1/accrete?db=x";
        let u = StorageUri::parse(text).unwrap();
        assert_eq!(u.password().unwrap().expose(), "s3cr@t");
        for shown in [
            u.to_string(),
            format!("{u:?}"),
            format!("{:?}", u.password()),
        ] {
            assert!(!shown.contains("s3cr"), "{shown}");
        }
        assert_eq!(u.to_string(), "postgres://app:***@db1/accrete?db=x");
        let err = StorageUri::parse("postgres://app:hunter2@db1:99999/x")
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("hunter2") && err.contains("port `99999`"),
            "{err}"
        );
        for text in [
            "file://alice:Pass@/srv/x?db=s9",
            "file://alice:Pass@host/srv/x?db=s9",
            "mem://alice:Pass@store",
            "cassandra://alice:Pass@h:notaport/ks",
            "postgres://alice:Pass@/db",
        ] {
            let err = StorageUri::parse(text).unwrap_err().to_string();
            assert!(!err.contains("Pass"), "{text}: {err}");
        }
        let err = StorageUri::parse("file://alice:Pass@/srv/x?db=s9")
            .unwrap_err()
            .to_string();
        assert!(err.contains("take no user name or password"), "{err}");
        let err = StorageUri::parse("cassandra://u:pw@h/ks?bogus=1")
            .unwrap()
            .check_params(&[])
            .unwrap_err();
        assert!(
            !err.to_string().contains("pw@") && err.to_string().contains("bogus"),
            "{err}"
        );
    }

    #[test]
    fn bad_uris() {
        let cases: &[(&str, &str)] = &[
            ("", "is empty"),
            ("orders", "has no scheme"),
            ("redis://h/x", "unknown scheme `redis`"),
            ("mem:orders", "start with `mem://`"),
            ("mem://", "names no host"),
            ("mem://a/b", "no path"),
            ("mem://a:1", "mem URIs are"),
            ("mem://bad.name", "mem store name"),
            ("file:", "names no directory"),
            ("file://otherhost/x", "host `otherhost`"),
            ("file:///x?db=", "database name ``"),
            ("file:///x?db=a;drop", "database name `a;drop`"),
            ("file:///x?db=a&db=b", "gives parameter `db` twice"),
            ("file:///x#frag", "#fragment"),
            ("file:///a b", "whitespace"),
            ("file:///%ff%fe", "not valid UTF-8"),
            ("postgres://h:0/x", "port `0`"),
            ("postgres://h:abc/x", "port `abc`"),
            ("postgres://@h/x", "empty user name"),
            ("postgres://h/a/b", "contains `/`"),
            ("postgres://h'/x", "not a valid host"),
            ("postgres://[zz]/x", "not an IPv6"),
            ("cassandra://h", "keyspace ``"),
            ("cassandra://h/1ks", "keyspace `1ks`"),
            ("cassandra://h/ks;drop", "keyspace `ks;drop`"),
            ("cassandra://h,/ks", "not a valid host"),
            ("cassandra://h/ks?=1", "empty name"),
        ];
        for (text, want) in cases {
            let err = StorageUri::parse(text).unwrap_err();
            assert!(matches!(err, Error::InvalidInput(_)), "{text}");
            let msg = err.to_string();
            assert!(msg.contains(want), "{text:?}: {msg}");
        }
        let long = format!("file:///{}", "x".repeat(10_000));
        assert!(StorageUri::parse(&long).is_ok());
        let err = StorageUri::parse(&format!("redis://{}", "y".repeat(10_000)))
            .unwrap_err()
            .to_string();
        assert!(err.len() < 500, "long input is shortened in messages");
    }
}
