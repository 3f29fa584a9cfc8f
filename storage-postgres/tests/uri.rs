//! Hostile and malformed URIs get clear errors that never show a password;
//! settings come from the URI, then the libpq environment.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::collections::HashMap;
use std::time::Duration;

use storage_core::{Error, Registry, StorageUri};
use storage_postgres::{PasswordSource, PostgresStorage, Settings};

fn settings(uri: &str, env: &[(&str, &str)]) -> storage_core::Result<Settings> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let uri = StorageUri::parse(uri)?;
    Settings::from_uri_with_env(&uri, &|name| env.get(name).cloned())
}

fn error(uri: &str) -> String {
    let err = settings(uri, &[]).unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{uri}: {err:?}");
    err.to_string()
}

#[test]
fn hostile_fields_are_refused_with_what_and_where() {
    let long = "x".repeat(300);
    let cases: Vec<(String, &str)> = vec![
        (
            "postgres://u@h/d?schema=a\";drop%20table%20x;--".into(),
            "schema `a\\\";drop table x;--` must be",
        ),
        (
            "postgres://u@h/d?schema=a'b".into(),
            "schema `a\\'b` must be",
        ),
        ("postgres://u@h/d?schema=a;b".into(), "schema `a;b`"),
        ("postgres://u@h/d?schema=Orders".into(), "lowercase"),
        (
            "postgres://u@h/d?schema=pg_catalog".into(),
            "not start with `pg_`",
        ),
        ("postgres://u@h/d?schema=".into(), "schema ``"),
        ("postgres://u@h/d?schema=a%00b".into(), "schema `a\\0b`"),
        (format!("postgres://u@h/d?schema={long}"), "… (300 bytes)"),
        (format!("postgres://u@h/{long}"), "PostgreSQL database"),
        (
            "postgres://u@h/a%00b".into(),
            "the PostgreSQL database `a\\0b` must be 1 to 63 bytes",
        ),
        ("postgres://u%00x@h/d".into(), "the user name `u\\0x`"),
        (format!("postgres://{long}@h/d"), "the user name"),
        (
            "postgres://u@h/d?sslmode=sometimes".into(),
            "`sslmode=sometimes` is not one of disable, allow",
        ),
        (
            "postgres://u@h/d?pool_size=0".into(),
            "`pool_size=0` must be a whole number in 1..=1000",
        ),
        ("postgres://u@h/d?pool_size=-1".into(), "`pool_size=-1`"),
        (
            "postgres://u@h/d?connect_timeout=soon".into(),
            "`connect_timeout=soon`",
        ),
        (
            "postgres://u@h/d?statement_timeout=5".into(),
            "in 100..=3600000",
        ),
        (
            "postgres://u@h/d?application_name=caf%C3%A9".into(),
            "printable ASCII",
        ),
        (
            "postgres://u@h/d?search_path=evil".into(),
            "unknown parameter `search_path` for postgres",
        ),
        (
            "postgres://u@h/d?options=-c%20x".into(),
            "unknown parameter `options`",
        ),
    ];
    for (uri, want) in &cases {
        let msg = error(uri);
        assert!(msg.contains(want), "{uri}:\n  {msg}\n  wanted: {want}");
        assert!(msg.len() < 700, "message too long: {msg}");
    }
}

#[test]
fn non_utf8_escapes_are_refused_in_every_field() {
    for (uri, field) in [
        ("postgres://%ff@h/d", "user"),
        ("postgres://u:%ff@h/d", "password"),
        ("postgres://u@h/%ff%fe", "path"),
        ("postgres://u@h/d?schema=%ff", "value of `schema`"),
        ("postgres://u@h/d?%ff=1", "parameter name"),
    ] {
        let msg = StorageUri::parse(uri).unwrap_err().to_string();
        assert!(
            msg.contains(field) && msg.contains("not valid UTF-8"),
            "{uri}: {msg}"
        );
    }
}

#[test]
fn reserved_words_and_odd_names_are_fine_because_everything_is_quoted() {
    for schema in ["select", "user", "_x1", "t_12_ab"] {
        let s = settings(&format!("postgres://u@h/d?schema={schema}"), &[]).unwrap();
        assert_eq!(s.schema().as_str(), schema);
    }
    let s = settings("postgres://u@h/my-db%20name", &[]).unwrap();
    assert_eq!(s.database(), "my-db name");
}

#[test]
fn passwords_never_print_and_follow_libpq_precedence() {
    let uri = "postgres://app:uri-s3cret@h/d?db=x&pool_size=0";
    let msg = error(uri);
    assert!(
        !msg.contains("uri-s3cret") && msg.contains("app:***@h"),
        "{msg}"
    );

    let s = settings(
        "postgres://app:uri-s3cret@h/d",
        &[("PGPASSWORD", "env-s3cret")],
    )
    .unwrap();
    assert_eq!(s.password_source(), &PasswordSource::Uri);
    let shown = format!("{s:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("password from the URI"), "{shown}");

    let s = settings("postgres://app@h/d", &[("PGPASSWORD", "env-s3cret")]).unwrap();
    assert_eq!(s.password_source(), &PasswordSource::Environment);
    assert!(!format!("{s:?}").contains("env-s3cret"));

    let dir = std::env::temp_dir().join(format!("accrete-uri-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let passfile = dir.join("pgpass");
    std::fs::write(&passfile, "other:*:*:*:no\nh:5432:d:app:file-s3cret\n").unwrap();
    set_mode(&passfile, 0o600);
    let uri = format!("postgres://app@h/d?passfile={}", passfile.display());
    let s = settings(&uri, &[]).unwrap();
    assert_eq!(
        s.password_source(),
        &PasswordSource::Passfile(passfile.clone())
    );
    let s = settings(
        "postgres://app@h/d",
        &[("PGPASSFILE", passfile.to_str().unwrap())],
    )
    .unwrap();
    assert_eq!(
        s.password_source(),
        &PasswordSource::Passfile(passfile.clone())
    );
    // Another port matches no line.
    let s = settings(
        "postgres://app@h:5433/d",
        &[("PGPASSFILE", passfile.to_str().unwrap())],
    )
    .unwrap();
    assert_eq!(s.password_source(), &PasswordSource::None);

    set_mode(&passfile, 0o644);
    let msg = error(&uri);
    assert!(
        msg.contains("group or others") && !msg.contains("file-s3cret"),
        "{msg}"
    );
    // The default ~/.pgpass is skipped with a warning instead, as libpq does.
    std::fs::copy(&passfile, dir.join(".pgpass")).unwrap();
    set_mode(&dir.join(".pgpass"), 0o644);
    let s = settings("postgres://app@h/d", &[("HOME", dir.to_str().unwrap())]).unwrap();
    assert_eq!(s.password_source(), &PasswordSource::None);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn defaults_come_from_the_libpq_environment() {
    let s = settings(
        "postgres://h1,h2:6000/?schema=s1",
        &[
            ("PGUSER", "envuser"),
            ("PGPORT", "5999"),
            ("PGDATABASE", "envdb"),
        ],
    )
    .unwrap();
    assert_eq!(
        (s.user(), s.database(), s.pool_size()),
        ("envuser", "envdb", 16)
    );
    let shown = format!("{s:?}");
    assert!(
        shown.contains("(\"h1\", 5999)") && shown.contains("(\"h2\", 6000)"),
        "{shown}"
    );
    let s = settings("postgres://h/", &[("USER", "osuser")]).unwrap();
    assert_eq!(
        (s.user(), s.database(), s.schema().as_str()),
        ("osuser", "osuser", "accrete")
    );
    let msg = settings("postgres://h/d", &[]).unwrap_err().to_string();
    assert!(msg.contains("names no user"), "{msg}");
    let msg = settings("postgres://u@h/d", &[("PGPORT", "0")])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("`PGPORT=0`"), "{msg}");
    let msg = settings("postgres://u@h/d", &[("PGSSLMODE", "bogus")])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("`sslmode=bogus`"), "{msg}");
}

#[tokio::test]
async fn tls_modes_that_need_certificates_say_where_to_put_them() {
    for (params, want) in [
        (
            "sslmode=verify-full",
            "sslmode=verify-full needs CA certificates",
        ),
        (
            "sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem",
            "/nonexistent/ca.pem",
        ),
        (
            "sslmode=require&sslrootcert=/nonexistent/ca.pem",
            "sslmode=require: CA certificates",
        ),
    ] {
        let uri = StorageUri::parse(&format!("postgres://u@127.0.0.1:1/d?{params}")).unwrap();
        let s = Settings::from_uri_with_env(&uri, &|_| None).unwrap();
        let err = PostgresStorage::open(s).await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
        assert!(err.to_string().contains(want), "{params}: {err}");
    }
}

#[tokio::test]
async fn an_unreachable_server_is_a_retryable_error_within_the_connect_timeout() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut registry = Registry::default();
    storage_postgres::register(&mut registry);
    let uri = format!("postgres://u:pw-s3cret@127.0.0.1:{port}/d?db=x&connect_timeout=1");
    let started = std::time::Instant::now();
    let err = registry.open(&uri).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert!(err.is_retryable(), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("postgres unavailable during open") && !msg.contains("pw-s3cret"),
        "{msg}"
    );
    assert!(!format!("{err:?}").contains("pw-s3cret"), "{err:?}");
}
