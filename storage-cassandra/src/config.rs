//! Connection settings: a `cassandra://` URI plus the environment,
//! validated into [`Settings`].
//!
//! `cassandra://[USER@]HOST[:PORT][,HOST[:PORT]…]/KEYSPACE?db=NAME[&…]`
//!
//! | URI parameter | environment | default | meaning |
//! |---|---|---|---|
//! | (user in URI) | `ACCRETE_CASSANDRA_USER` | none | role for PasswordAuthenticator |
//! | (password in URI, discouraged) | `ACCRETE_CASSANDRA_PASSWORD` | none | its password (never printed) |
//! | `password_file` | `ACCRETE_CASSANDRA_PASSWORD_FILE` | none | a file whose first line is the password |
//! | (port in URI) | — | 9042 | native protocol port of every host without one |
//! | `table_prefix` | — | `accrete_` | prefix of the three tables, so several stores share a keyspace |
//! | `consistency` | — | `quorum` | `quorum` (roots at SERIAL) or `local_quorum` (roots at LOCAL_SERIAL, needs `dc`) |
//! | `dc` | — | none | the local data centre: requests go only to its nodes |
//! | `tls` | — | `off` | `off`, `verify-ca` (chain only) or `verify-full` (chain and the node's IP address) |
//! | `tls_ca` | — | `system` | CA certificates: a PEM file, or `system` for the OS store |
//! | `tls_cert`, `tls_key` | — | none | client certificate chain and key (PEM), for mutual TLS |
//! | `compression` | — | `lz4` | frame compression: `lz4` or `none` |
//! | `connect_timeout` | — | 10 | seconds to open one connection |
//! | `request_timeout` | — | 12000 | milliseconds the client waits for one request |
//!
//! The password is looked for in the URI, then `ACCRETE_CASSANDRA_PASSWORD`,
//! then the password file; a user without a password, or a password without
//! a user, is an error that says what to set.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use scylla::statement::{Consistency, SerialConsistency};
use storage_core::{Result, Secret, StorageUri, truncate_for_message};

/// The URI parameters this backend understands (besides `db`).
pub const PARAMS: &[&str] = &[
    "table_prefix",
    "consistency",
    "dc",
    "password_file",
    "tls",
    "tls_ca",
    "tls_cert",
    "tls_key",
    "compression",
    "connect_timeout",
    "request_timeout",
];

/// The environment variable holding the user name.
pub const USER_VAR: &str = "ACCRETE_CASSANDRA_USER";
/// The environment variable holding the password.
pub const PASSWORD_VAR: &str = "ACCRETE_CASSANDRA_PASSWORD";
/// The environment variable naming a password file.
pub const PASSWORD_FILE_VAR: &str = "ACCRETE_CASSANDRA_PASSWORD_FILE";

const DEFAULT_PORT: u16 = 9042;
const DEFAULT_PREFIX: &str = "accrete_";
/// Cassandra's limit on table names.
const MAX_TABLE_NAME: usize = 48;
/// The longest table suffix ([`crate::schema`]'s `segment_chunks`).
const LONGEST_SUFFIX: usize = "segment_chunks".len();

/// Reads an environment variable; tests pass their own.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The consistency of segment writes and root commits, which also fixes the
/// serial consistency of roots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// QUORUM writes, SERIAL roots: linearizable across data centres.
    Quorum,
    /// LOCAL_QUORUM writes, LOCAL_SERIAL roots: linearizable within the
    /// `dc=` data centre, so every writer must use the same one.
    LocalQuorum,
}

impl Level {
    /// The consistency of segment writes, QUORUM-fallback reads, listing and
    /// the commit of root writes.
    pub fn consistency(self) -> Consistency {
        match self {
            Level::Quorum => Consistency::Quorum,
            Level::LocalQuorum => Consistency::LocalQuorum,
        }
    }

    /// The serial consistency of root writes and reads.
    pub fn serial(self) -> SerialConsistency {
        match self {
            Level::Quorum => SerialConsistency::Serial,
            Level::LocalQuorum => SerialConsistency::LocalSerial,
        }
    }

    /// The consistency a root read is sent with.
    pub fn serial_read(self) -> Consistency {
        match self {
            Level::Quorum => Consistency::Serial,
            Level::LocalQuorum => Consistency::LocalSerial,
        }
    }

    /// The read at ONE tried first for segments.
    pub fn one(self) -> Consistency {
        match self {
            Level::Quorum => Consistency::One,
            Level::LocalQuorum => Consistency::LocalOne,
        }
    }

    fn parse(text: &str) -> std::result::Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "quorum" => Ok(Level::Quorum),
            "local_quorum" => Ok(Level::LocalQuorum),
            _ => Err(format!(
                "`consistency={}` is not `quorum` or `local_quorum`",
                truncate_for_message(text)
            )),
        }
    }
}

/// Whether and how connections are encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain TCP.
    Off,
    /// TLS; the node's certificate must chain to a trusted CA.
    VerifyCa,
    /// TLS; the certificate must also name the node's IP address (the driver
    /// connects to the addresses the cluster reports, so names are IPs).
    VerifyFull,
}

impl TlsMode {
    fn parse(text: &str) -> std::result::Result<Self, String> {
        match text {
            "off" => Ok(TlsMode::Off),
            "verify-ca" => Ok(TlsMode::VerifyCa),
            "verify-full" => Ok(TlsMode::VerifyFull),
            _ => Err(format!(
                "`tls={}` is not one of off, verify-ca, verify-full",
                truncate_for_message(text)
            )),
        }
    }

    /// The URI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Off => "off",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }
}

/// TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Whether and how to verify.
    pub mode: TlsMode,
    /// CA certificates: a PEM file, or `None` for the system store.
    pub ca_file: Option<PathBuf>,
    /// A client certificate chain and its private key (PEM), for mutual TLS.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// Where the password came from, for messages (never the password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// Written into the URI.
    Uri,
    /// The `ACCRETE_CASSANDRA_PASSWORD` environment variable.
    Environment,
    /// The first line of this file.
    File(PathBuf),
}

impl fmt::Display for PasswordSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordSource::Uri => f.write_str("password from the URI"),
            PasswordSource::Environment => write!(f, "password from {PASSWORD_VAR}"),
            PasswordSource::File(p) => write!(f, "password from {}", p.display()),
        }
    }
}

/// A user and password for PasswordAuthenticator.
#[derive(Clone)]
pub struct Credentials {
    pub(crate) user: String,
    pub(crate) password: Secret,
    pub(crate) source: PasswordSource,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({}, {})", self.user, self.source)
    }
}

/// Everything needed to connect, from a URI and the environment.
#[derive(Clone, Debug)]
pub struct Settings {
    pub(crate) uri: String,
    pub(crate) contact_points: Vec<String>,
    pub(crate) keyspace: String,
    pub(crate) table_prefix: String,
    pub(crate) level: Level,
    pub(crate) dc: Option<String>,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) tls: TlsSettings,
    pub(crate) compression: bool,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
}

impl Settings {
    /// Settings from `uri` and the process environment.
    pub fn from_uri(uri: &StorageUri) -> Result<Self> {
        Self::from_uri_with_env(uri, &|name| std::env::var(name).ok())
    }

    /// Settings from `uri` and the environment `env`.
    pub fn from_uri_with_env(uri: &StorageUri, env: Env<'_>) -> Result<Self> {
        uri.expect_backend(crate::SCHEME, "a cassandra:// URI", PARAMS)?;
        let bad = |why: String| uri.invalid(why);
        let param = |name: &str| param(uri, name);
        let level = param("consistency")
            .map_or(Ok(Level::Quorum), Level::parse)
            .map_err(bad)?;
        let dc = param("dc").map(check_dc).transpose().map_err(bad)?;
        if level == Level::LocalQuorum && dc.is_none() {
            return Err(bad(
                "`consistency=local_quorum` needs `dc=NAME`: LOCAL_SERIAL is linearizable only within one data centre, so every writer must name the same one".into(),
            ));
        }
        let table_prefix = param("table_prefix")
            .map_or(Ok(DEFAULT_PREFIX.to_string()), check_prefix)
            .map_err(bad)?;
        let compression = match param("compression") {
            None | Some("lz4") => true,
            Some("none") => false,
            Some(other) => {
                return Err(bad(format!(
                    "`compression={}` is not `lz4` or `none`",
                    truncate_for_message(other)
                )));
            }
        };
        let connect_timeout = uri
            .number_param("connect_timeout", None, 1, 600)?
            .map_or(Duration::from_secs(10), Duration::from_secs);
        let request_timeout = uri
            .number_param("request_timeout", None, 100, 600_000)?
            .map_or(Duration::from_secs(12), Duration::from_millis);
        Ok(Settings {
            uri: uri.to_string(),
            contact_points: contact_points(uri),
            keyspace: uri.path().to_string(),
            table_prefix,
            level,
            dc,
            credentials: credentials(uri, env).map_err(bad)?,
            tls: tls_settings(uri).map_err(bad)?,
            compression,
            connect_timeout,
            request_timeout,
        })
    }

    /// The URI these settings came from, with any password redacted.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The keyspace holding the tables.
    pub fn keyspace(&self) -> &str {
        &self.keyspace
    }

    /// The prefix of the table names.
    pub fn table_prefix(&self) -> &str {
        &self.table_prefix
    }

    /// The consistency of writes and roots.
    pub fn level(&self) -> Level {
        self.level
    }

    /// The local data centre, if named.
    pub fn dc(&self) -> Option<&str> {
        self.dc.as_deref()
    }

    /// The contact points as `host:port`.
    pub fn contact_points(&self) -> &[String] {
        &self.contact_points
    }

    /// The user and where its password came from, if any.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// The TLS settings.
    pub fn tls(&self) -> &TlsSettings {
        &self.tls
    }

    /// How long the client waits for one request.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
}

impl Credentials {
    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Where the password came from.
    pub fn source(&self) -> &PasswordSource {
        &self.source
    }
}

fn contact_points(uri: &StorageUri) -> Vec<String> {
    uri.hosts()
        .iter()
        .map(|h| {
            let port = h.port.unwrap_or(DEFAULT_PORT);
            if h.host.contains(':') {
                format!("[{}]:{port}", h.host)
            } else {
                format!("{}:{port}", h.host)
            }
        })
        .collect()
}

fn credentials(uri: &StorageUri, env: Env<'_>) -> std::result::Result<Option<Credentials>, String> {
    let user = uri.user().map(str::to_string).or_else(|| env(USER_VAR));
    let password = match (uri.password(), env(PASSWORD_VAR)) {
        (Some(pw), _) => Some((pw.clone(), PasswordSource::Uri)),
        (None, Some(pw)) => Some((Secret::new(pw), PasswordSource::Environment)),
        (None, None) => {
            let file = uri
                .params()
                .get("password_file")
                .cloned()
                .or_else(|| env(PASSWORD_FILE_VAR));
            file.map(|path| read_password_file(PathBuf::from(path)))
                .transpose()?
        }
    };
    match (user, password) {
        (None, None) => Ok(None),
        (Some(user), Some((password, source))) => Ok(Some(Credentials {
            user,
            password,
            source,
        })),
        (Some(user), None) => Err(format!(
            "user `{}` has no password: set {PASSWORD_VAR}, or name a file holding it with {PASSWORD_FILE_VAR} or `password_file=`",
            truncate_for_message(&user)
        )),
        (None, Some((_, source))) => Err(format!(
            "a password was given ({source}) but no user: write cassandra://USER@HOST/… or set {USER_VAR}"
        )),
    }
}

fn read_password_file(path: PathBuf) -> std::result::Result<(Secret, PasswordSource), String> {
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("password file {}: {e}", path.display()))?;
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        return Err(format!(
            "password file {} is empty: its first line must be the password",
            path.display()
        ));
    }
    Ok((Secret::new(line), PasswordSource::File(path)))
}

fn param<'a>(uri: &'a StorageUri, name: &str) -> Option<&'a str> {
    uri.params().get(name).map(String::as_str)
}

fn tls_settings(uri: &StorageUri) -> std::result::Result<TlsSettings, String> {
    let param = |name: &str| param(uri, name);
    let mode = param("tls").map_or(Ok(TlsMode::Off), TlsMode::parse)?;
    let ca_file = match param("tls_ca") {
        None | Some("system") => None,
        Some(path) => Some(PathBuf::from(path)),
    };
    let client = match (param("tls_cert"), param("tls_key")) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some((PathBuf::from(cert), PathBuf::from(key))),
        _ => return Err("`tls_cert=` and `tls_key=` go together".into()),
    };
    let tls_only = param("tls_ca").is_some() || client.is_some();
    if mode == TlsMode::Off && tls_only {
        return Err(
            "`tls_ca`, `tls_cert` and `tls_key` need `tls=verify-ca` or `tls=verify-full`".into(),
        );
    }
    Ok(TlsSettings {
        mode,
        ca_file,
        client,
    })
}

fn check_dc(name: &str) -> std::result::Result<String, String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(format!(
            "`dc={}` must be 1 to 64 ASCII letters, digits, `-`, `_` or `.`",
            truncate_for_message(name)
        ));
    }
    Ok(name.to_string())
}

fn check_prefix(prefix: &str) -> std::result::Result<String, String> {
    let max = MAX_TABLE_NAME - LONGEST_SUFFIX;
    let valid = prefix.len() <= max
        && prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && prefix.chars().next().is_none_or(|c| c.is_ascii_lowercase());
    if !valid {
        return Err(format!(
            "`table_prefix={}` must be at most {max} lowercase ASCII letters, digits or `_`, starting with a letter",
            truncate_for_message(prefix)
        ));
    }
    Ok(prefix.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use storage_core::Error;

    fn parse(uri: &str, env: &[(&str, &str)]) -> Result<Settings> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        Settings::from_uri_with_env(&StorageUri::parse(uri)?, &lookup)
    }

    fn error(uri: &str, env: &[(&str, &str)]) -> String {
        let err = parse(uri, env).unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{uri}: {err:?}");
        err.to_string()
    }

    #[test]
    fn defaults() {
        let s = parse("cassandra://db1,db2:9043,[::1]/accrete?db=orders", &[]).unwrap();
        assert_eq!(s.contact_points(), ["db1:9042", "db2:9043", "[::1]:9042"]);
        assert_eq!(s.keyspace(), "accrete");
        assert_eq!(s.table_prefix(), "accrete_");
        assert_eq!(s.level(), Level::Quorum);
        assert_eq!(s.level().serial(), SerialConsistency::Serial);
        assert_eq!(s.level().serial_read(), Consistency::Serial);
        assert_eq!(s.dc(), None);
        assert!(s.credentials().is_none());
        assert_eq!(s.tls().mode, TlsMode::Off);
        assert!(s.compression);
        assert_eq!(s.connect_timeout, Duration::from_secs(10));
        assert_eq!(s.request_timeout(), Duration::from_secs(12));
    }

    #[test]
    fn every_parameter() {
        let s = parse(
            "cassandra://h/ks?db=x&table_prefix=t2_&consistency=LOCAL_QUORUM&dc=eu-west.1&compression=none&connect_timeout=3&request_timeout=2500&tls=verify-ca&tls_ca=/ca.pem&tls_cert=/c.pem&tls_key=/k.pem",
            &[],
        )
        .unwrap();
        assert_eq!(s.table_prefix(), "t2_");
        assert_eq!(s.level(), Level::LocalQuorum);
        assert_eq!(s.level().consistency(), Consistency::LocalQuorum);
        assert_eq!(s.level().serial(), SerialConsistency::LocalSerial);
        assert_eq!(s.level().one(), Consistency::LocalOne);
        assert_eq!(s.dc(), Some("eu-west.1"));
        assert!(!s.compression);
        assert_eq!(s.connect_timeout, Duration::from_secs(3));
        assert_eq!(s.request_timeout(), Duration::from_millis(2500));
        assert_eq!(s.tls().mode, TlsMode::VerifyCa);
        assert_eq!(s.tls().ca_file, Some(PathBuf::from("/ca.pem")));
        assert_eq!(
            s.tls().client,
            Some((PathBuf::from("/c.pem"), PathBuf::from("/k.pem")))
        );
        let empty = parse("cassandra://h/ks?table_prefix=", &[]).unwrap();
        assert_eq!(empty.table_prefix(), "");
    }

    #[test]
    fn bad_parameters_are_named() {
        let cases = [
            ("cassandra://h/ks?consistency=one", "`consistency=one`"),
            (
                "cassandra://h/ks?consistency=local_quorum",
                "needs `dc=NAME`",
            ),
            ("cassandra://h/ks?dc=a%27b", "`dc=a\\'b`"),
            ("cassandra://h/ks?table_prefix=Up", "`table_prefix=Up`"),
            ("cassandra://h/ks?table_prefix=1a", "`table_prefix=1a`"),
            (
                "cassandra://h/ks?table_prefix=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "at most 34",
            ),
            (
                "cassandra://h/ks?compression=snappy",
                "`compression=snappy`",
            ),
            ("cassandra://h/ks?connect_timeout=0", "`connect_timeout=0`"),
            ("cassandra://h/ks?request_timeout=5", "`request_timeout=5`"),
            ("cassandra://h/ks?tls=yes", "`tls=yes`"),
            ("cassandra://h/ks?tls_ca=/x", "need `tls=verify-ca`"),
            (
                "cassandra://h/ks?tls=verify-full&tls_cert=/c",
                "go together",
            ),
            ("cassandra://h/ks?schema=s", "unknown parameter `schema`"),
            ("postgres://h/db", "not a cassandra:// URI"),
        ];
        for (uri, want) in cases {
            let msg = error(uri, &[]);
            assert!(msg.contains(want), "{uri}: {msg}");
        }
    }

    #[test]
    fn credentials_come_from_uri_environment_or_file() {
        let s = parse("cassandra://app:s3cret@h/ks", &[(PASSWORD_VAR, "env")]).unwrap();
        let c = s.credentials().unwrap();
        assert_eq!(
            (c.user(), c.password.expose(), c.source()),
            ("app", "s3cret", &PasswordSource::Uri)
        );

        let env = [(USER_VAR, "svc"), (PASSWORD_VAR, "from-env")];
        let s = parse("cassandra://h/ks", &env).unwrap();
        let c = s.credentials().unwrap();
        assert_eq!((c.user(), c.password.expose()), ("svc", "from-env"));
        assert_eq!(c.source(), &PasswordSource::Environment);

        let dir = std::env::temp_dir().join(format!("accrete-cass-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, "from-file\nignored\n").unwrap();
        let path = file.display().to_string();
        for (uri, env) in [
            (format!("cassandra://app@h/ks?password_file={path}"), vec![]),
            (
                "cassandra://app@h/ks".to_string(),
                vec![(PASSWORD_FILE_VAR, path.as_str())],
            ),
        ] {
            let s = parse(&uri, &env).unwrap();
            let c = s.credentials().unwrap();
            assert_eq!(c.password.expose(), "from-file");
            assert_eq!(c.source(), &PasswordSource::File(file.clone()));
            let shown = format!("{s:?}");
            assert!(
                !shown.contains("from-file") && shown.contains("password from"),
                "{shown}"
            );
        }
        std::fs::write(&file, "").unwrap();
        let msg = error(&format!("cassandra://app@h/ks?password_file={path}"), &[]);
        assert!(msg.contains("is empty"), "{msg}");
        let msg = error("cassandra://app@h/ks?password_file=/no/such/file", &[]);
        assert!(msg.contains("/no/such/file"), "{msg}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn half_credentials_are_refused_without_showing_the_password() {
        let msg = error("cassandra://app@h/ks", &[]);
        assert!(
            msg.contains("user `app` has no password") && msg.contains(PASSWORD_VAR),
            "{msg}"
        );
        let msg = error("cassandra://h/ks", &[(PASSWORD_VAR, "hunter2")]);
        assert!(msg.contains("no user") && msg.contains(USER_VAR), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
        let msg = error("cassandra://app:hunter2@h/ks?tls=maybe", &[]);
        assert!(
            !msg.contains("hunter2") && msg.contains("app:***@h"),
            "{msg}"
        );
        let s = parse("cassandra://app:hunter2@h/ks", &[]).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!s.uri().contains("hunter2"));
    }
}
