//! Nobody writes without a key (issue 17), with real `accrete` processes
//! on loopback: a transactor with `--auth` (and TLS) refuses clients
//! without valid credentials before it looks at the database they name,
//! stops a revoked token on its next request, enforces the roles per
//! database, and records who committed each transaction as
//! `:tx/principal`, which no client can assert itself.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use access::testkit::Pki;
use access::{NewToken, Secret};
use common::*;
use storage_core::DbName;
use transactor::ErrorKind;
use transactor::client::{Connector, Target};

const SCHEMA: &str =
    "[{:db/ident :item/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]";

/// A database `shop` with the schema, served by `accrete transactor
/// --auth EXTRA…`, once it holds the lease.
struct Stage {
    dir: tempfile::TempDir,
    uri: String,
    transactor: TransactorProcess,
}

impl Stage {
    async fn start(extra: &[&str]) -> Stage {
        let dir = tempfile::tempdir().unwrap();
        let uri = file_uri(dir.path(), "shop");
        ok(&["create-db", &uri], "");
        ok(&["transact", &uri], SCHEMA);
        let mut args = vec!["--auth"];
        args.extend_from_slice(extra);
        let transactor = TransactorProcess::start(&uri, &args);
        let stage = Stage {
            dir,
            uri,
            transactor,
        };
        stage.wait_for_lease().await;
        stage
    }

    async fn wait_for_lease(&self) {
        let (storage, db) = open(&self.uri).await;
        for _ in 0..400 {
            let lease = transactor::lease::read_lease(storage.as_ref(), &db)
                .await
                .unwrap();
            let holder = lease.and_then(|l| l.holder);
            if holder.and_then(|h| h.endpoint().map(str::to_string))
                == Some(self.transactor.endpoint.clone())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the transactor never held the lease");
    }

    /// Exactly the database the lease names.
    async fn target(&self, db: &str) -> Target {
        let (storage, shop) = open(&self.uri).await;
        let lease = transactor::lease::read_lease(storage.as_ref(), &shop)
            .await
            .unwrap()
            .unwrap();
        Target {
            db: DbName::new(db).unwrap(),
            db_id: lease.db_id.unwrap(),
            epoch: lease.epoch.0,
        }
    }

    /// `accrete token create` of a token for `name`, with `role` on
    /// `shop` when given: the secret it printed.
    fn token(&self, name: &str, role: Option<&str>) -> String {
        let mut args = vec!["token", "create", &self.uri, "--name", name];
        if let Some(role) = role {
            args.extend(["--role", role]);
        }
        let out = ok(&args, "");
        let secret = out.trim().to_string();
        assert!(secret.starts_with("acrt_"), "{out}");
        secret
    }

    /// `accrete transact` of `tx` with the environment `env`.
    fn transact(&self, tx: &str, env: &[(&str, &str)]) -> Output {
        let file = self
            .dir
            .path()
            .join(format!("tx-{}.edn", uuid::Uuid::new_v4()));
        std::fs::write(&file, tx).unwrap();
        let file = file.display().to_string();
        accrete_env(&["transact", &self.uri, &file, "--lease-wait", "5"], env)
    }

    /// `accrete q` (a reader of storage, no transactor involved).
    fn q(&self, query: &str) -> String {
        ok(&["q", &self.uri, query], "")
    }
}

/// Asserts `out` failed with exit `want` and said every one of `says`.
fn refused(out: &Output, want: i32, says: &[&str]) {
    let err = stderr(out);
    assert_eq!(code(out), want, "{err}");
    for s in says {
        assert!(err.contains(s), "stderr lacks {s:?}: {err}");
    }
}

fn with_token(secret: &str) -> Connector {
    Connector {
        token: Some(Secret::new(secret)),
        tls: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credentials_are_refused_before_the_database_is_looked_at() {
    let stage = Stage::start(&[]).await;
    let endpoint = &stage.transactor.endpoint;
    let anonymous = Connector::default();
    let real = stage.target("shop").await;
    let mut missing = stage.target("nosuch").await;
    missing.db_id = uuid::Uuid::new_v4();
    let to_real = anonymous.connect(endpoint, &real).await.unwrap_err();
    let to_missing = anonymous.connect(endpoint, &missing).await.unwrap_err();
    assert_eq!(to_real.kind(), ErrorKind::Unauthenticated, "{to_real}");
    assert_eq!(
        to_missing.kind(),
        ErrorKind::Unauthenticated,
        "{to_missing}"
    );
    // The same answer whether the database exists or not.
    assert_eq!(to_real.message(), to_missing.message());
    for name in ["shop", "nosuch", "serv", "exist"] {
        assert!(!to_real.message().contains(name), "{to_real}");
    }
    let out = stage.transact("[{:item/name \"x\"}]", &[]);
    refused(&out, 7, &["refused", "no credentials"]);
    // A valid token for a principal without a role on `nosuch` is refused
    // as forbidden, again without a word about whether it exists.
    let ann = stage.token("ann", Some("write"));
    let err = with_token(&ann)
        .connect(endpoint, &missing)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
    assert!(
        !err.message().contains("serv") && !err.message().contains("exist"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_and_revoked_tokens_are_refused_revoked_ones_on_the_next_request() {
    let stage = Stage::start(&[]).await;
    let ann = stage.token("ann", Some("write"));
    let out = stage.transact("[{:item/name \"first\"}]", &[("ACCRETE_TOKEN", &ann)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    let unknown = NewToken::generate().unwrap();
    let out = stage.transact(
        "[{:item/name \"x\"}]",
        &[("ACCRETE_TOKEN", unknown.secret.expose())],
    );
    refused(&out, 7, &["is not valid"]);
    assert!(!stderr(&out).contains(&unknown.secret.expose()[22..]));
    let out = stage.transact("[{:item/name \"x\"}]", &[("ACCRETE_TOKEN", "hunter2")]);
    refused(&out, 7, &["malformed"]);
    // A token file works like the variable.
    let file = stage.dir.path().join("ann.token");
    std::fs::write(&file, format!("{ann}\n")).unwrap();
    let out = stage.transact(
        "[{:item/name \"from a file\"}]",
        &[("ACCRETE_TOKEN_FILE", file.to_str().unwrap())],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // A connection opened before the revocation: its next request is refused.
    let target = stage.target("shop").await;
    let client = with_token(&ann)
        .connect(&stage.transactor.endpoint, &target)
        .await
        .unwrap();
    client.transact("[{:item/name \"before\"}]").await.unwrap();
    let revoked = ok(&["token", "revoke", &stage.uri, "ann"], "");
    assert!(revoked.starts_with("revoked "), "{revoked}");
    let err = client
        .transact("[{:item/name \"after\"}]")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert!(err.message().contains("revoked"), "{err}");
    let out = stage.transact("[{:item/name \"after\"}]", &[("ACCRETE_TOKEN", &ann)]);
    refused(&out, 7, &["revoked"]);
    let listed = ok(&["token", "list", &stage.uri], "");
    assert!(
        listed.contains("ann") && listed.contains("revoked"),
        "{listed}"
    );
    assert!(!listed.contains(&ann[22..]), "a list never shows a secret");
    assert!(
        !stage
            .q("[:find ?n :where [_ :item/name ?n]]")
            .contains("after")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_cannot_transact_and_write_cannot_excise_or_alter_schema() {
    let stage = Stage::start(&[]).await;
    let reader = stage.token("reader", Some("read"));
    let writer = stage.token("writer", Some("write"));
    let admin = stage.token("admin", Some("admin"));
    let nobody = stage.token("nobody", None);

    let out = stage.transact("[{:item/name \"r\"}]", &[("ACCRETE_TOKEN", &reader)]);
    refused(&out, 7, &["`reader` holds the read role", "needs write"]);
    let target = stage.target("shop").await;
    let endpoint = &stage.transactor.endpoint;
    let client = with_token(&reader)
        .connect(endpoint, &target)
        .await
        .unwrap();
    client.status().await.unwrap();
    let mut feed = client.subscribe(0).await.unwrap();
    feed.next().await.unwrap();
    let err = with_token(&nobody)
        .connect(endpoint, &target)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");

    let out = stage.transact(
        "[{:db/id \"w\" :item/name \"w\"}]",
        &[("ACCRETE_TOKEN", &writer)],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let e = stage.q("[:find ?e . :where [?e :item/name \"w\"]]");
    let excise = format!("[{{:db/excise {}}}]", e.trim());
    let out = stage.transact(&excise, &[("ACCRETE_TOKEN", &writer)]);
    refused(&out, 7, &["requests an excision", "needs the admin role"]);
    let alter = "[{:db/id :item/name :db/doc \"what an item is called\"}]";
    let out = stage.transact(alter, &[("ACCRETE_TOKEN", &writer)]);
    refused(&out, 7, &["alters attribute :item/name", "admin"]);
    let install =
        "[{:db/ident :item/price :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]";
    let out = stage.transact(install, &[("ACCRETE_TOKEN", &writer)]);
    assert_eq!(
        code(&out),
        0,
        "a new attribute is no alteration: {}",
        stderr(&out)
    );

    let out = stage.transact(&excise, &[("ACCRETE_TOKEN", &admin)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = stage.transact(alter, &[("ACCRETE_TOKEN", &admin)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_shows_who_committed_and_no_client_can_forge_it() {
    let stage = Stage::start(&[]).await;
    let ann = stage.token("ann", Some("write"));
    let bob = stage.token("bob", Some("write"));
    for (token, name) in [(&ann, "by ann"), (&bob, "by bob")] {
        let out = stage.transact(
            &format!("[{{:item/name \"{name}\"}}]"),
            &[("ACCRETE_TOKEN", token)],
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let forged = "[{:item/name \"forged\"} [:db/add \"datomic.tx\" :tx/principal \"ann\"]]";
    let out = stage.transact(forged, &[("ACCRETE_TOKEN", &bob)]);
    refused(&out, 2, &[":db.error/provenance", ":tx/principal"]);

    let who =
        stage.q("[:find ?name ?who :where [_ :item/name ?name ?tx] [?tx :tx/principal ?who]]");
    assert!(who.contains("[\"by ann\" \"ann\"]"), "{who}");
    assert!(who.contains("[\"by bob\" \"bob\"]"), "{who}");
    assert!(!who.contains("forged"), "{who}");
    // The schema went in through a transactor in the `accrete transact`
    // process itself: the OS user that ran it.
    let schema =
        stage.q("[:find ?who . :where [:item/name :db/ident _ ?tx] [?tx :tx/principal ?who]]");
    assert!(schema.trim().starts_with("\"local"), "{schema}");
}

/// `(name, value)` pairs of the TLS client environment.
fn tls_env<'a>(ca: &'a Path, cert: Option<&'a (PathBuf, PathBuf)>) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![("ACCRETE_TLS_CA", ca.to_str().unwrap())];
    if let Some((cert, key)) = cert {
        env.push(("ACCRETE_TLS_CERT", cert.to_str().unwrap()));
        env.push(("ACCRETE_TLS_KEY", key.to_str().unwrap()));
    }
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_tokens_and_client_certificates() {
    let pki_dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(pki_dir.path());
    let other = Pki::new(pki_dir.path());
    let (cert, key, ca) = (
        pki.server_cert.display().to_string(),
        pki.server_key.display().to_string(),
        pki.ca.display().to_string(),
    );
    let stage = Stage::start(&[
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--tls-client-ca",
        &ca,
    ])
    .await;
    let ann = stage.token("ann", Some("write"));
    let mut env = tls_env(&pki.ca, None);
    env.push(("ACCRETE_TOKEN", &ann));
    let out = stage.transact("[{:item/name \"over tls\"}]", &env);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // Plaintext to the TLS listener: told to use TLS.
    let out = stage.transact("[{:item/name \"x\"}]", &[("ACCRETE_TOKEN", &ann)]);
    refused(&out, 7, &["speaks TLS only"]);
    // A server certificate from a CA the client does not trust.
    let mut env = tls_env(&other.ca, None);
    env.push(("ACCRETE_TOKEN", &ann));
    let out = stage.transact("[{:item/name \"x\"}]", &env);
    refused(&out, 7, &["TLS with the transactor", "UnknownIssuer"]);

    // A client certificate names its principal: CN=carol, granted write.
    ok(&["grant", &stage.uri, "CN=carol", "write"], "");
    let carol = pki.client("carol");
    let out = stage.transact(
        "[{:item/name \"by carol\"}]",
        &tls_env(&pki.ca, Some(&carol)),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let who =
        stage.q("[:find ?who . :where [_ :item/name \"by carol\" ?tx] [?tx :tx/principal ?who]]");
    assert_eq!(who.trim(), "\"CN=carol\"");
    // A certificate from another CA, and an expired one: refused.
    let stranger = other.client("carol");
    let out = stage.transact("[{:item/name \"x\"}]", &tls_env(&pki.ca, Some(&stranger)));
    refused(&out, 7, &["TLS with the transactor", "UnknownCA"]);
    let expired = pki.expired_client("carol");
    let out = stage.transact("[{:item/name \"x\"}]", &tls_env(&pki.ca, Some(&expired)));
    refused(&out, 7, &["TLS with the transactor", "CertificateExpired"]);
    let names = stage.q("[:find ?n :where [_ :item/name ?n]]");
    assert!(!names.contains("\"x\""), "{names}");
}

/// The stderr lines `accrete transactor ARGS` prints up to the one
/// saying where it listens, or all of them when it exits first.
fn startup_lines(args: &[&str]) -> (Vec<String>, Option<i32>) {
    let mut child = Command::new(ACCRETE)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let listening = line.contains("endpoint on ");
        lines.push(line);
        if listening {
            child.kill().unwrap();
            child.wait().unwrap();
            return (lines, None);
        }
    }
    let status = child.wait().unwrap();
    (lines, status.code())
}

#[test]
fn only_loopback_answers_without_authentication_and_plaintext_is_explicit() {
    let dir = tempfile::tempdir().unwrap();
    let uri = file_uri(dir.path(), "shop");
    ok(&["create-db", &uri], "");
    let (lines, exit) = startup_lines(&["transactor", &uri, "--listen", "0.0.0.0:0"]);
    assert_eq!(exit, Some(2), "{lines:?}");
    assert!(
        lines.join("\n").contains("without authentication"),
        "{lines:?}"
    );
    let (lines, exit) = startup_lines(&["transactor", &uri, "--listen", "0.0.0.0:0", "--auth"]);
    assert_eq!(exit, Some(2), "{lines:?}");
    assert!(lines.join("\n").contains("in plaintext"), "{lines:?}");
    // Loopback without --auth: development mode, and it says so.
    let (lines, exit) = startup_lines(&["transactor", &uri, "--listen", "127.0.0.1:0"]);
    assert_eq!(exit, None, "{lines:?}");
    assert!(lines.join("\n").contains("development mode"), "{lines:?}");
    // Plaintext by request: a warning at every start.
    let args = [
        "transactor",
        &uri,
        "--listen",
        "127.0.0.1:0",
        "--auth",
        "--insecure-plaintext",
    ];
    let (lines, exit) = startup_lines(&args);
    assert_eq!(exit, None, "{lines:?}");
    assert!(lines.join("\n").contains("INSECURE"), "{lines:?}");
}

#[test]
fn garbage_collection_knows_the_access_root() {
    let dir = tempfile::tempdir().unwrap();
    let uri = file_uri(dir.path(), "shop");
    ok(&["create-db", &uri], "");
    ok(
        &["token", "create", &uri, "--name", "ann", "--role", "read"],
        "",
    );
    let grants = ok(&["grants", &uri], "");
    assert_eq!(grants.trim(), "ann\tshop\tread");
    let out = accrete(&["gc-storage", &uri, "--older-than", "0", "--dry-run"], "");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_served_without_a_restart() {
    let pki_dir = tempfile::tempdir().unwrap();
    let first = Pki::new(pki_dir.path());
    let renewed = Pki::new(pki_dir.path());
    let (cert, key) = (
        first.server_cert.display().to_string(),
        first.server_key.display().to_string(),
    );
    let stage = Stage::start(&["--tls-cert", &cert, "--tls-key", &key]).await;
    let ann = stage.token("ann", Some("write"));
    let trusting = |ca: &Path, name: &str| {
        let mut env = tls_env(ca, None);
        env.push(("ACCRETE_TOKEN", &ann));
        stage.transact(&format!("[{{:item/name \"{name}\"}}]"), &env)
    };
    let out = trusting(&first.ca, "first");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // The operator puts the renewed pair in place of the old one.
    std::fs::copy(&renewed.server_cert, &first.server_cert).unwrap();
    std::fs::copy(&renewed.server_key, &first.server_key).unwrap();
    tokio::time::sleep(access::tls::RELOAD_CHECK + Duration::from_millis(200)).await;
    let mut out = trusting(&renewed.ca, "renewed");
    for _ in 0..20 {
        if code(&out) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        out = trusting(&renewed.ca, "renewed");
    }
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = trusting(&first.ca, "old");
    refused(&out, 7, &["UnknownIssuer"]);
}

#[test]
fn the_default_binary_speaks_tls_to_cassandra() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("no-such-ca.pem");
    let uri = format!(
        "cassandra://127.0.0.1:1/ks?db=x&tls=verify-ca&tls_ca={}",
        ca.display()
    );
    let out = accrete(&["list-dbs", &uri], "");
    assert_ne!(code(&out), 0);
    let err = stderr(&out);
    assert!(!err.contains("rebuild"), "{err}");
    assert!(err.contains("no-such-ca.pem"), "the CA file is read: {err}");
}
