//! Schemas, databases, passwords and TLS against real servers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::collections::HashMap;

use bytes::Bytes;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use storage_core::{Error, RootName, RootValue, Storage, StorageExt, StorageUri};
use storage_postgres::testkit::{PASSWORD_USER, PgServer, PrivateOptions, scratch_schema};
use storage_postgres::{PostgresStorage, Settings};

async fn open_with_env(uri: &str, env: &[(&str, &str)]) -> storage_core::Result<PostgresStorage> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let uri = StorageUri::parse(uri)?;
    let settings = Settings::from_uri_with_env(&uri, &|name| env.get(name).cloned())?;
    PostgresStorage::open(settings).await
}

async fn open(uri: &str) -> PostgresStorage {
    open_with_env(uri, &[]).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_isolate_and_databases_in_one_schema_share_segments() {
    let server = PgServer::shared().await.expect("a PostgreSQL server");
    let schema = scratch_schema();
    let a = open(&server.uri_with(&format!("db=a&schema={schema}"))).await;
    let b = open(&server.uri_with(&format!("db=b&schema={schema}"))).await;
    let other = open(&server.scratch_uri("a")).await;
    let id = a
        .put(Bytes::from_static(b"shared by content"))
        .await
        .unwrap();
    assert!(
        b.get_segment(id).await.unwrap().is_some(),
        "one schema, one segment namespace"
    );
    assert!(
        other.get_segment(id).await.unwrap().is_none(),
        "schemas are isolated"
    );

    // Reserved words are fine as schema names: every identifier is quoted.
    let reserved = open(&server.uri_with("db=x&schema=select")).await;
    reserved.put(Bytes::from_static(b"quoted")).await.unwrap();
    let name = RootName::new(format!("db/{}/log", scratch_schema())).unwrap();
    assert!(
        reserved
            .cas_root(&name, None, &RootValue::new("v").unwrap())
            .await
            .unwrap()
            .is_applied()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_opens_of_a_new_schema_all_succeed() {
    let server = PgServer::shared().await.expect("a PostgreSQL server");
    let uri = server.scratch_uri("race");
    let opens: Vec<_> = (0..8)
        .map(|_| {
            let uri = uri.clone();
            tokio::spawn(async move { open_with_env(&uri, &[]).await.map(drop) })
        })
        .collect();
    for o in opens {
        o.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_with_foreign_tables_is_refused() {
    let server = PgServer::shared().await.expect("a PostgreSQL server");
    let schema = scratch_schema();
    let admin = server.admin().await.unwrap();
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA {schema}; CREATE TABLE {schema}.segments (id int, body text);"
        ))
        .await
        .unwrap();
    let err = open_with_env(&server.uri_with(&format!("db=x&schema={schema}")), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("not accrete's")
            && msg.contains("segments.id bytea")
            && msg.contains("choose another schema"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_uri_path_names_the_database_and_a_missing_one_is_explained() {
    let server = PgServer::shared().await.expect("a PostgreSQL server");
    let database = format!("accrete odd-db {}", scratch_schema());
    let admin = server.admin().await.unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE \"{database}\""))
        .await
        .unwrap();
    let base = StorageUri::parse(&server.uri()).unwrap();
    let with_path = |path: &str| {
        let uri = server.uri();
        let root = uri.rsplit_once('/').unwrap().0.to_string();
        format!("{root}/{path}?db=x&schema={}", scratch_schema())
    };
    assert!(!base.path().is_empty());
    let storage = open(&with_path(&database.replace(' ', "%20"))).await;
    let id = storage
        .put(Bytes::from_static(b"in the odd database"))
        .await
        .unwrap();
    assert!(storage.get_segment(id).await.unwrap().is_some());
    let on_server: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&database],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(on_server, 1);
    storage.close();

    let err = open_with_env(&with_path("accrete_no_such_db"), &[])
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(!err.is_retryable(), "{msg}");
    assert!(
        msg.contains("3D000") && msg.contains("does not exist; create it first"),
        "{msg}"
    );
    admin
        .batch_execute(&format!("DROP DATABASE \"{database}\" WITH (FORCE)"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_from_every_source_authenticate_and_failures_say_why() {
    let server = PgServer::private()
        .await
        .expect("a private PostgreSQL server");
    let admin = server.admin().await.unwrap();
    admin
        .batch_execute(&format!(
            "CREATE ROLE {PASSWORD_USER} LOGIN PASSWORD 'correct-horse'; GRANT CREATE ON DATABASE postgres TO {PASSWORD_USER};"
        ))
        .await
        .unwrap();
    let port = server.port().unwrap();
    let uri = |auth: &str, extra: &str| {
        format!("postgres://{auth}@127.0.0.1:{port}/postgres?db=x&connect_timeout=3{extra}")
    };
    let user = PASSWORD_USER;

    let s = open_with_env(&uri(user, ""), &[("PGPASSWORD", "correct-horse")])
        .await
        .unwrap();
    s.put(Bytes::from_static(b"authenticated")).await.unwrap();
    open_with_env(&uri(&format!("{user}:correct-horse"), ""), &[])
        .await
        .unwrap();

    let dir = std::env::temp_dir().join(format!("accrete-auth-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let passfile = dir.join("pgpass");
    std::fs::write(
        &passfile,
        format!("127.0.0.1:{port}:postgres:{user}:correct-horse\n"),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let from_file = format!("&passfile={}", passfile.display());
    open_with_env(&uri(user, &from_file), &[]).await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    let err = open_with_env(&uri(user, ""), &[("PGPASSWORD", "wrong-staple")])
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(!err.is_retryable(), "{msg}");
    assert!(
        msg.contains("28P01") && msg.contains("password from PGPASSWORD"),
        "{msg}"
    );
    assert!(!msg.contains("wrong-staple") && !format!("{err:?}").contains("wrong-staple"));

    let err = open_with_env(&uri(user, ""), &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no password given; give one with PGPASSWORD"),
        "{err}"
    );

    let err = open_with_env(&uri("postgres", "&sslmode=require"), &[])
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().contains("TLS"), "{err}");
}

struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

/// A CA and a server certificate for `localhost` only (not 127.0.0.1).
fn pki() -> Pki {
    let ca = ca("accrete test CA");
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// Whether the sessions of application `app` are encrypted.
async fn encrypted(server: &PgServer, app: &str) -> Vec<bool> {
    let admin = server.admin().await.unwrap();
    let rows = admin
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = $1",
            &[&app],
        )
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_is_honoured_like_libpq() {
    let pki = pki();
    let server = PgServer::private_with(PrivateOptions {
        settings: vec![
            ("ssl".into(), "on".into()),
            ("ssl_cert_file".into(), "server.crt".into()),
            ("ssl_key_file".into(), "server.key".into()),
        ],
        files: vec![
            ("server.crt".into(), pki.cert_pem.into_bytes()),
            ("server.key".into(), pki.key_pem.into_bytes()),
        ],
    })
    .await
    .expect("a private PostgreSQL server with TLS");
    let dir = std::env::temp_dir().join(format!("accrete-tls-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();
    let other_ca = dir.join("other-ca.pem");
    std::fs::write(&other_ca, ca("some other CA").pem()).unwrap();
    let port = server.port().unwrap();
    let uri = |host: &str, params: &str, app: &str| {
        format!(
            "postgres://postgres@{host}:{port}/postgres?db=x&connect_timeout=3&application_name={app}&{params}"
        )
    };
    let ca = ca_file.display();
    let good = [
        ("127.0.0.1", "sslmode=disable".to_string(), false),
        ("127.0.0.1", "sslmode=prefer".to_string(), true),
        ("127.0.0.1", "sslmode=require".to_string(), true),
        (
            "127.0.0.1",
            format!("sslmode=verify-ca&sslrootcert={ca}"),
            true,
        ),
        (
            "localhost",
            format!("sslmode=verify-full&sslrootcert={ca}"),
            true,
        ),
    ];
    for (i, (host, params, tls)) in good.iter().enumerate() {
        let app = format!("tls_case_{i}");
        let storage = open(&uri(host, params, &app)).await;
        storage
            .put(Bytes::from(format!("over {params}")))
            .await
            .unwrap();
        let sessions = encrypted(&server, &app).await;
        assert!(
            !sessions.is_empty() && sessions.iter().all(|s| s == tls),
            "{params}: {sessions:?}"
        );
    }
    let bad = [
        (
            "127.0.0.1",
            format!("sslmode=verify-full&sslrootcert={ca}"),
            "not valid for name",
        ),
        (
            "localhost",
            format!("sslmode=verify-full&sslrootcert={}", other_ca.display()),
            "UnknownIssuer",
        ),
        (
            "127.0.0.1",
            format!("sslmode=require&sslrootcert={}", other_ca.display()),
            "UnknownIssuer",
        ),
    ];
    for (host, params, want) in bad {
        let err = open_with_env(&uri(host, &params, "tls_bad"), &[])
            .await
            .unwrap_err();
        assert!(!err.is_retryable(), "{params}: {err}");
        assert!(err.to_string().contains(want), "{params}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}
