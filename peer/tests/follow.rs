//! Connections following a transactor in this process: transact, report
//! queues (also overflowing ones), sync, restarts, storage without a
//! transactor endpoint, indexing, errors.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use peer::{Config, ErrorKind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transact_returns_the_report_and_db_includes_it() {
    let (uri, _storage) = mem_db("shop").await;
    let served = Served::start(&uri, transactor_config()).await;
    let conn = connect(&uri, peer_config()).await;
    let schema = within(conn.transact(SCHEMA)).await.unwrap();
    let report = within(conn.transact(r#"[{:db/id "ed" :user/email "ed@x" :user/name "Ed"}]"#))
        .await
        .unwrap();
    assert_eq!(report.db_before.basis_t(), schema.t());
    assert!(report.t() > schema.t());
    let ed = report.tempid("ed").expect("tempid resolved");
    assert!(report.tx_data.iter().any(|d| d.e() == ed));
    assert!(
        conn.basis_t() >= report.t(),
        "no round trip needed after transact"
    );
    let name = blocking(move || {
        query::q(
            "[:find ?n . :in $ ?e :where [?e :user/name ?n]]",
            &[report.db_after.into(), model::Value::Ref(ed).into()],
        )
        .unwrap()
        .to_edn()
        .to_string()
    })
    .await;
    assert_eq!(name, "\"Ed\"");
    assert_eq!(
        conn.transactor().map(|t| t.endpoint),
        Some(served.endpoint())
    );
    served.stop().await;
}

/// A transaction id sent again commits nothing and answers the first
/// commit, with its report (it failed as "report not kept" before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resubmitted_transaction_id_answers_the_first_commit() {
    let (uri, _storage) = mem_db("shop").await;
    let served = Served::start(&uri, transactor_config()).await;
    let conn = connect(&uri, peer_config()).await;
    within(conn.transact(SCHEMA)).await.unwrap();
    let id = uuid::Uuid::new_v4();
    let tx = r#"[{:db/id "ed" :user/email "ed@x" :user/name "Ed"}]"#;
    let first = within(conn.transact_with_id(tx, id)).await.unwrap();
    within(conn.transact(r#"[{:user/email "other@x"}]"#))
        .await
        .unwrap();
    let again = within(conn.transact_with_id(tx, id)).await.unwrap();
    assert_eq!(again.t(), first.t());
    assert_eq!(again.tx_data, first.tx_data);
    assert_eq!(again.tempids, first.tempids);
    assert_eq!(
        again.db_after.as_of_t(),
        Some(first.t()),
        "the value after it, as of its t"
    );
    assert!(
        conn.basis_t() > first.t(),
        "nothing new was committed after the other transaction"
    );
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_sees_every_transaction_in_one_order() {
    let (uri, _storage) = mem_db("order").await;
    let served = Served::start(&uri, transactor_config()).await;
    let a = connect(&uri, peer_config()).await;
    let b = connect(&uri, peer_config()).await;
    within(a.transact(SCHEMA)).await.unwrap();
    within(b.sync()).await.unwrap();
    let mut queue_a = a.tx_report_queue().unwrap();
    let mut queue_b = b.tx_report_queue().unwrap();
    let writers = (0..2u64).map(|w| {
        let conn = [a.clone(), b.clone()][w as usize].clone();
        tokio::spawn(async move {
            let mut ts = Vec::new();
            for i in 0..20 {
                ts.push(conn.transact(&marked(w * 100 + i)).await.unwrap().t());
            }
            ts
        })
    });
    let mut committed = BTreeSet::new();
    for writer in writers {
        committed.extend(within(writer).await.unwrap());
    }
    let seen_a = take(&mut queue_a, 40).await;
    let seen_b = take(&mut queue_b, 40).await;
    assert_chained(&seen_a);
    assert_chained(&seen_b);
    let ts_a: Vec<u64> = seen_a.iter().map(|r| r.t()).collect();
    let ts_b: Vec<u64> = seen_b.iter().map(|r| r.t()).collect();
    assert_eq!(ts_a, ts_b, "both peers saw one order");
    assert_eq!(ts_a.iter().copied().collect::<BTreeSet<_>>(), committed);
    for (ra, rb) in seen_a.iter().zip(&seen_b) {
        assert_eq!(ra.tx_data, rb.tx_data);
        assert!(ra.tempids.is_empty(), "queue reports carry no tempids");
    }
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_that_falls_behind_reads_the_log_and_misses_nothing() {
    let (uri, _storage) = mem_db("slow").await;
    let served = Served::start(&uri, transactor_config()).await;
    let config = Config {
        report_buffer: 4,
        ..peer_config()
    };
    let conn = connect(&uri, config).await;
    within(conn.transact(SCHEMA)).await.unwrap();
    let mut slow = conn.tx_report_queue().unwrap();
    let mut prompt = conn.tx_report_queue().unwrap();
    let mut committed = Vec::new();
    for n in 0..30 {
        committed.push(within(conn.transact(&marked(n))).await.unwrap().t());
        let report = within(prompt.next()).await.unwrap();
        assert_eq!(
            report.t(),
            *committed.last().unwrap(),
            "the prompt queue keeps up"
        );
    }
    assert_eq!(prompt.overflows(), 0);
    let late = take(&mut slow, 30).await;
    assert!(
        slow.overflows() >= 1,
        "the slow queue overflowed its buffer of 4"
    );
    assert_eq!(late.iter().map(|r| r.t()).collect::<Vec<_>>(), committed);
    assert_chained(&late);
    for (n, report) in late.iter().enumerate() {
        assert_eq!(ids_in(report), [n as i64]);
        assert!(!holds(&report.db_before, n as u64).await);
        assert!(holds(&report.db_after, n as u64).await);
    }
    // Caught up, it is pushed to again.
    let next = within(conn.transact(&marked(99))).await.unwrap();
    assert_eq!(within(slow.next()).await.unwrap().t(), next.t());
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_waits_for_what_another_peer_committed() {
    let (uri, _storage) = mem_db("sync").await;
    let served = Served::start(&uri, transactor_config()).await;
    let a = connect(&uri, peer_config()).await;
    let b = connect(&uri, peer_config()).await;
    within(a.transact(SCHEMA)).await.unwrap();
    let report = within(a.transact(&marked(1))).await.unwrap();
    // The basis t travels to B in a message; B's sync_t includes A's tx.
    let db = within(b.sync_t(report.t())).await.unwrap();
    assert!(db.basis_t() >= report.t());
    assert!(holds(&db, 1).await);

    // A wait for a t not committed yet ends when it is.
    let waiting = {
        let b = b.clone();
        let next_t = report.db_after.next_t();
        tokio::spawn(async move { b.sync_t(next_t).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished());
    let second = within(a.transact(&marked(2))).await.unwrap();
    let db = within(waiting).await.unwrap().unwrap();
    assert!(db.basis_t() >= second.t());

    // sync() includes everything acknowledged before the call.
    let third = within(a.transact(&marked(3))).await.unwrap();
    let db = within(b.sync()).await.unwrap();
    assert!(db.basis_t() >= third.t());
    assert!(holds(&db, 3).await);
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_to_a_t_that_never_comes_times_out() {
    let (uri, _storage) = mem_db("late").await;
    let served = Served::start(&uri, transactor_config()).await;
    let config = Config {
        sync_timeout: Duration::from_millis(300),
        ..peer_config()
    };
    let conn = connect(&uri, config).await;
    let far = conn.basis_t() + 1_000_000;
    let e = within(conn.sync_t(far)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.to_string().contains(&far.to_string()), "{e}");
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_follow_a_restarted_transactor_on_another_endpoint() {
    let (uri, _storage) = mem_db("moves").await;
    let first = Served::start(&uri, transactor_config()).await;
    let old_endpoint = first.endpoint();
    let conn = connect(&uri, peer_config()).await;
    within(conn.transact(SCHEMA)).await.unwrap();
    let mut queue = conn.tx_report_queue().unwrap();
    let mut committed = Vec::new();
    for n in 0..5 {
        committed.push(within(conn.transact(&marked(n))).await.unwrap().t());
    }
    first.stop().await;
    let writer = {
        let conn = conn.clone();
        // Sent while no transactor runs: it waits for the next one.
        tokio::spawn(async move { conn.transact(&marked(5)).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = Served::start(&uri, transactor_config()).await;
    committed.push(within(writer).await.unwrap().unwrap().t());
    for n in 6..10 {
        committed.push(within(conn.transact(&marked(n))).await.unwrap().t());
    }
    let seen = take(&mut queue, 10).await;
    assert_eq!(seen.iter().map(|r| r.t()).collect::<Vec<_>>(), committed);
    assert_chained(&seen);
    let now = conn.transactor().expect("connected").endpoint;
    assert_eq!(now, second.endpoint());
    assert_ne!(now, old_endpoint);
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_transactor_endpoint_the_peer_follows_storage() {
    let (uri, _storage) = mem_db("embedded").await;
    let embedded = embedded(&uri, transactor_config()).await;
    let config = Config {
        transact_timeout: Duration::from_millis(500),
        ..peer_config()
    };
    let conn = connect(&uri, config).await;
    let mut queue = conn.tx_report_queue().unwrap();
    embedded.transact_edn(SCHEMA).await.unwrap();
    let mut committed = Vec::new();
    for n in 0..5 {
        committed.push(embedded.transact_edn(&marked(n)).await.unwrap().t());
    }
    let seen = take(&mut queue, 6).await;
    assert_eq!(
        seen[1..].iter().map(|r| r.t()).collect::<Vec<_>>(),
        committed
    );
    let db = within(conn.sync()).await.unwrap();
    assert_eq!(db.basis_t(), *committed.last().unwrap());
    assert!(conn.transactor().is_none());
    let e = within(conn.transact(&marked(9))).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.not_committed(), "{e}");
    embedded.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_move_onto_new_index_roots_and_keep_novelty_small() {
    let (uri, _storage) = mem_db("indexed").await;
    let config = transactor::Config {
        index_threshold: 300,
        novelty_cap: 1_000_000,
        ..transactor_config()
    };
    let served = Served::start(&uri, config).await;
    let peer_config = Config {
        report_buffer: 8,
        root_check_datoms: 100,
        ..peer_config()
    };
    let conn = connect(&uri, peer_config).await;
    within(conn.transact(SCHEMA)).await.unwrap();
    let mut lagging = conn.tx_report_queue().unwrap();
    let mut committed = Vec::new();
    for n in 0..200 {
        committed.push(within(conn.transact(&marked(n))).await.unwrap().t());
    }
    let last = *committed.last().unwrap();
    // The transactor indexed several times; the peer follows.
    let mut db = conn.db();
    for _ in 0..100 {
        db = conn.db();
        if db.store().basis_t().is_some_and(|b| b + 200 >= last) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let indexed = db
        .store()
        .basis_t()
        .expect("the peer's value has a persistent layer");
    assert!(
        indexed + 200 >= last,
        "index basis {indexed}, last t {last}"
    );
    assert!(
        db.novelty_len() < 2_000,
        "novelty {} datoms",
        db.novelty_len()
    );
    for n in [0, 100, 199] {
        assert!(holds(&db, n).await, "entity {n} readable after rebase");
    }
    // The lagging queue started before any indexing and still gets all.
    let seen = take(&mut lagging, 200).await;
    assert_eq!(seen.iter().map(|r| r.t()).collect::<Vec<_>>(), committed);
    assert_chained(&seen);
    assert!(lagging.overflows() >= 1);
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_say_what_went_wrong() {
    let peer = peer::Peer::new(peer_config()).unwrap();
    let e = peer.connect("nosuch://x?db=a").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    let dir = tempfile::tempdir().unwrap();
    let e = peer
        .connect(&format!("file://{}", dir.path().display()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    assert!(e.to_string().contains("?db=NAME"), "{e}");
    let e = peer
        .connect("mem://peer-errors?db=absent")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("absent"), "{e}");
    let zero_cache = Config {
        cache_bytes: 0,
        ..peer_config()
    };
    let e = peer::Peer::new(zero_cache).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");

    let (uri, _storage) = mem_db("errs").await;
    let served = Served::start(&uri, transactor_config()).await;
    let conn = within(peer.connect(&uri)).await.unwrap();
    let e = within(conn.transact("[[:db/add \"x\" :no/such 1]]"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    assert_eq!(e.tx_code(), Some(":db.error/not-an-attribute"));
    assert!(e.not_committed());
    let e = within(conn.transact("[[:db/add")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");

    let again = within(peer.connect(&uri)).await.unwrap();
    let mut queue = again.tx_report_queue().unwrap();
    within(conn.transact(SCHEMA)).await.unwrap();
    conn.release();
    let buffered = within(queue.next()).await.unwrap();
    assert!(
        buffered.t() > 0,
        "reports buffered before the release still come"
    );
    let e = within(queue.next()).await.unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::Closed,
        "the same connection was returned: {e}"
    );
    let e = within(again.sync()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed, "{e}");
    let e = within(again.transact(&marked(1))).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed, "{e}");
    assert!(e.not_committed());
    let fresh = within(peer.connect(&uri)).await.unwrap();
    assert!(
        fresh.ended().is_none(),
        "a released connection is not handed out"
    );
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_thread_takes_reports_with_blocking_next() {
    let (uri, _storage) = mem_db("thread").await;
    let served = Served::start(&uri, transactor_config()).await;
    let config = Config {
        report_buffer: 2,
        ..peer_config()
    };
    let conn = connect(&uri, config).await;
    within(conn.transact(SCHEMA)).await.unwrap();
    let mut queue = conn.tx_report_queue().unwrap();
    let mut committed = Vec::new();
    for n in 0..10 {
        committed.push(within(conn.transact(&marked(n))).await.unwrap().t());
    }
    let consumer = std::thread::spawn(move || {
        let mut ts = Vec::new();
        for _ in 0..10 {
            ts.push(queue.blocking_next().unwrap().t());
        }
        (ts, queue.overflows())
    });
    let (ts, overflows) = within(blocking(move || consumer.join().unwrap())).await;
    assert_eq!(ts, committed);
    assert!(
        overflows >= 1,
        "the buffer of 2 overflowed and the log was read"
    );
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_read_segments_through_the_peers_bounded_cache() {
    let (uri, _storage) = mem_db("cached").await;
    let config = transactor::Config {
        index_threshold: 200,
        novelty_cap: 1_000_000,
        ..transactor_config()
    };
    let served = Served::start(&uri, config).await;
    let writer = connect(&uri, peer_config()).await;
    within(writer.transact(SCHEMA)).await.unwrap();
    for n in 0..150 {
        within(writer.transact(&marked(n))).await.unwrap();
    }
    let capacity = 16 * 1024;
    let peer = peer::Peer::new(Config {
        cache_bytes: capacity,
        ..peer_config()
    })
    .unwrap();
    let conn = within(peer.connect(&uri)).await.unwrap();
    let mut db = conn.db();
    for _ in 0..100 {
        if db.store().basis_t().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        db = conn.db();
    }
    assert!(
        db.store().basis_t().is_some(),
        "the value has indexed segments"
    );
    let before = peer.cache_stats();
    let count = blocking(move || {
        let datoms: model::Result<Vec<_>> = db.datoms(model::Index::Eavt, &[]).unwrap().collect();
        datoms.unwrap().len()
    })
    .await;
    let after = peer.cache_stats();
    assert!(count > 450, "read {count} datoms");
    assert!(after.misses > before.misses, "segments came from storage");
    assert_eq!(after.capacity, capacity);
    assert!(after.bytes <= capacity, "{after:?}");
    served.stop().await;
}
