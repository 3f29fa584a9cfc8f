//! The protocol endpoint and its client: transact, subscribe, status,
//! errors, bad clients, and standalone transactors handing a database over.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use futures::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use transactor::client::{Client, Target};
use transactor::lease::read_lease;
use transactor::{Config, ErrorKind, Server, Transactor, serve_databases};

/// A transactor for `db` served on a fresh endpoint.
async fn served(
    storage: &Arc<dyn storage_core::Storage>,
    db: &storage_core::DbName,
) -> (Server, Arc<Transactor>) {
    let server = Server::bind("127.0.0.1:0").await.expect("bind");
    let config = Config {
        endpoint: Some(server.local_addr().to_string()),
        ..config()
    };
    let t = Arc::new(start(storage, db, config).await);
    server.serve(t.clone());
    (server, t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_transact_subscribe_and_ask_for_status() {
    let storage = mem();
    let db = create(&storage, "net").await;
    let (_server, t) = served(&storage, &db).await;
    let client = within(Client::connect_by_lease(storage.as_ref(), &db))
        .await
        .expect("connect");
    assert_eq!(client.welcome().epoch, t.epoch().0);
    let schema = within(client.transact(SCHEMA)).await.expect("schema");
    let mut feed = within(client.subscribe(schema.t()))
        .await
        .expect("subscribe");
    let committed = within(client.transact(r#"[{:db/id "ed" :user/email "ed@x"}]"#))
        .await
        .expect("data");
    let ed = committed.tempids["ed"];
    assert!(committed.entry.data.iter().any(|d| d.e() == ed));
    assert_eq!(
        within(feed.next()).await.expect("schema entry").t,
        schema.t()
    );
    assert_eq!(
        within(feed.next()).await.expect("data entry"),
        committed.entry
    );
    let status = within(client.status()).await.expect("status");
    assert_eq!((status.basis_t, status.epoch), (committed.t(), t.epoch().0));

    let err = within(client.transact("[[:db/add \"x\" :no/such 1]]"))
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(err.tx_code(), Some(":db.error/not-an-attribute"));
    let err = within(client.transact("[[:db/add"))
        .await
        .expect_err("bad EDN");
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    within(t.shutdown()).await.expect("shutdown");
    let err = within(client.transact(&marked(1)))
        .await
        .expect_err("stopped");
    assert!(err.not_committed(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_network_clients_share_commits() {
    let storage = mem();
    let db = create(&storage, "many").await;
    let (server, t) = served(&storage, &db).await;
    let endpoint = server.local_addr().to_string();
    let setup = Client::connect(&endpoint, &t.target())
        .await
        .expect("connect");
    within(setup.transact(SCHEMA)).await.expect("schema");
    let clients = join_all((0..24u64).map(|c| {
        let (endpoint, target) = (endpoint.clone(), t.target());
        tokio::spawn(async move {
            let client = Client::connect(&endpoint, &target).await.expect("connect");
            // Several requests in flight on one connection.
            let txs = (0..10).map(|i| marked(c * 100 + i)).collect::<Vec<_>>();
            join_all(txs.iter().map(|tx| client.transact(tx)))
                .await
                .into_iter()
                .map(|r| r.expect("commit").t())
                .collect::<Vec<_>>()
        })
    }));
    let mut ts: Vec<u64> = within(clients)
        .await
        .into_iter()
        .flat_map(|r| r.expect("client"))
        .collect();
    ts.sort_unstable();
    ts.dedup();
    assert_eq!(ts.len(), 240);
    let m = t.metrics();
    assert!(m.commits < m.transactions, "{m:?}");
    within(t.shutdown()).await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_clients_get_clear_refusals() {
    let storage = mem();
    let db = create(&storage, "strict").await;
    let (server, t) = served(&storage, &db).await;
    let endpoint = server.local_addr().to_string();

    let other = Target {
        db: name("other"),
        ..t.target()
    };
    let err = within(Client::connect(&endpoint, &other))
        .await
        .expect_err("not served");
    assert_eq!(err.kind(), ErrorKind::NotServing, "{err}");

    // Not the protocol at all: an HTTP request.
    let mut socket = tokio::net::TcpStream::connect(&endpoint).await.unwrap();
    socket
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    within(socket.read_to_end(&mut answer)).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.contains("frame over the limit") || text.contains("HELLO"),
        "{text:?}"
    );

    // Nothing to the endpoint at all.
    let err = within(Client::connect("127.0.0.1:1", &t.target()))
        .await
        .expect_err("no listener");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    within(t.shutdown()).await.expect("shutdown");
    let err = within(Client::connect_by_lease(storage.as_ref(), &db))
        .await
        .expect_err("released");
    assert_eq!(err.kind(), ErrorKind::NotServing, "{err}");
}

/// A client names the database by catalog id and lease epoch as well as by
/// name: an endpoint serving another database of that name, or the same one
/// at another epoch, refuses it (not serving: re-read the lease), and no
/// transaction of it lands anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reaches_only_the_database_id_and_epoch_it_names() {
    let (prod, staging) = (mem(), mem());
    let db = create(&prod, "main").await;
    create(&staging, "main").await;
    let (server, t) = served(&staging, &db).await;
    let endpoint = server.local_addr().to_string();
    within(t.transact_edn(SCHEMA)).await.unwrap();
    let basis = t.db().basis_t();

    // Prod's id, read from prod's catalog, at the epoch staging's lease has.
    let (catalog, _) = index::read_catalog(&prod).await.unwrap();
    let prod_id = catalog.live("main").unwrap().uuid;
    assert_ne!(prod_id, t.db_id());
    let for_prod = Target {
        db_id: prod_id,
        ..t.target()
    };
    let err = within(Client::connect(&endpoint, &for_prod))
        .await
        .expect_err("another database of that name");
    assert_eq!(err.kind(), ErrorKind::NotServing, "{err}");
    assert!(
        err.to_string().contains("another database named `main`"),
        "{err}"
    );
    assert!(err.not_committed());

    let stale = Target {
        epoch: t.epoch().0 + 1,
        ..t.target()
    };
    let err = within(Client::connect(&endpoint, &stale))
        .await
        .expect_err("another epoch");
    assert_eq!(err.kind(), ErrorKind::NotServing, "{err}");
    assert!(err.to_string().contains("epoch"), "{err}");
    assert_eq!(t.db().basis_t(), basis, "nothing reached staging");

    // Through prod's lease: prod has no transactor, so not serving.
    let err = within(Client::connect_by_lease(prod.as_ref(), &db))
        .await
        .expect_err("prod is not served");
    assert_eq!(err.kind(), ErrorKind::NotServing, "{err}");
    within(t.shutdown()).await.unwrap();
}

/// One process serves a database name once: two storages that each hold a
/// database `d` are refused at start with a clear error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_refuses_two_databases_of_one_name() {
    let (a, b) = (mem(), mem());
    let db = create(&a, "d").await;
    create(&b, "d").await;
    let server = Server::bind("127.0.0.1:0").await.unwrap();
    let config = Config {
        endpoint: Some(server.local_addr().to_string()),
        ..config()
    };
    let databases = vec![(segments(&a), db.clone()), (segments(&b), db.clone())];
    let err = within(serve_databases(
        &server,
        databases,
        config,
        CancellationToken::new(),
    ))
    .await
    .expect_err("two databases named d");
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("`d` is given twice"), "{err}");
    let lease = read_lease(a.as_ref(), &db).await.unwrap();
    assert!(lease.is_none(), "refused before taking any lease");
}

/// Two standalone transactors on one database: the first serves, the
/// second stands by; when the first is frozen the second takes over, and
/// the first, resumed, is fenced and stands by in turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_a_frozen_transactor() {
    let storage = mem();
    let db = create(&storage, "ha").await;
    let (frozen_storage, plan) = faulty(&storage, 21);
    let stop = CancellationToken::new();
    let run = |storage: Arc<dyn storage_core::Storage>| {
        let (db, stop) = (db.clone(), stop.clone());
        async move {
            let server = Server::bind("127.0.0.1:0").await.expect("bind");
            let endpoint = server.local_addr().to_string();
            let config = Config {
                endpoint: Some(endpoint.clone()),
                ..config()
            };
            let task = tokio::spawn(async move {
                serve_databases(&server, vec![(segments(&storage), db)], config, stop).await
            });
            (endpoint, task)
        }
    };
    let (first, first_task) = run(frozen_storage).await;
    let client = within(connect_to(&storage, &db, &first)).await;
    within(client.transact(SCHEMA)).await.expect("schema");
    let (second, second_task) = run(storage.clone()).await;
    within(client.transact(&marked(1)))
        .await
        .expect("the first still serves");

    plan.pause();
    let standby = within(connect_to(&storage, &db, &second)).await;
    within(standby.transact(&marked(2)))
        .await
        .expect("the standby took over");
    plan.resume();
    let err = within(client.transact(&marked(3)))
        .await
        .expect_err("deposed");
    // Refused as not committed, or — when the deposed transactor stepped
    // down and closed the connection while the call was in flight —
    // outcome unknown; either way the transaction must be absent (below).
    match err.kind() {
        ErrorKind::Fenced | ErrorKind::NotServing | ErrorKind::Unavailable => {
            assert!(err.not_committed(), "{err}")
        }
        ErrorKind::OutcomeUnknown => assert!(!err.not_committed(), "{err}"),
        _ => panic!("deposed: {err}"),
    }

    stop.cancel();
    within(first_task)
        .await
        .unwrap()
        .expect("first stops cleanly");
    within(second_task)
        .await
        .unwrap()
        .expect("second stops cleanly");
    let lease = read_lease(storage.as_ref(), &db).await.unwrap().unwrap();
    assert!(lease.holder.is_none(), "released on stop: {lease:?}");
    let value = reopen(&storage, &db).await;
    let parts = blocking(move || (1..=3).map(|n| parts_of(&value, n)).collect::<Vec<_>>()).await;
    assert_eq!(parts, vec![3, 3, 0]);
}

/// Connects by lease once the lease advertises `endpoint`.
async fn connect_to(
    storage: &Arc<dyn storage_core::Storage>,
    db: &storage_core::DbName,
    endpoint: &str,
) -> Client {
    loop {
        if let Ok(client) = Client::connect_by_lease(storage.as_ref(), db).await
            && client.endpoint() == endpoint
        {
            return client;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A standalone transactor for a database that does not exist yet stands
/// by (a restore or re-create window) instead of exiting, and serves it
/// once it is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_waits_for_its_database_to_be_created() {
    let storage = mem();
    let db = name("later");
    let server = Server::bind("127.0.0.1:0").await.unwrap();
    let config = Config {
        endpoint: Some(server.local_addr().to_string()),
        ..config()
    };
    let stop = CancellationToken::new();
    let serving = {
        let (storage, db, stop) = (storage.clone(), db.clone(), stop.clone());
        tokio::spawn(async move {
            serve_databases(&server, vec![(segments(&storage), db)], config, stop).await
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!serving.is_finished(), "{:?}", serving.await);
    index::create_db(&storage, &db).await.unwrap();
    let client = within(async {
        loop {
            match Client::connect_by_lease(storage.as_ref(), &db).await {
                Ok(client) => return client,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await;
    within(client.transact(SCHEMA)).await.unwrap();
    stop.cancel();
    within(serving).await.unwrap().unwrap();
}
