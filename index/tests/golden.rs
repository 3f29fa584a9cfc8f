//! Golden files pin the bytes of every segment kind, the log root and the
//! catalog; every truncation and byte flip of them is refused without a
//! panic. `ACCRETE_BLESS=1` rewrites the files (only for a deliberate
//! format change, with a new version byte).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use bytes::Bytes;
use index::segment::{
    IndexBranch, IndexChild, IndexLeaf, IndexRoot, LogBranch, LogChild, LogLeaf, Node, TreeRef,
};
use index::{Catalog, CatalogEntry, DbState, LogRoot, LogTree};
use model::edn::Instant;
use model::{Datom, Index, Layer, TxLog, Value, t_to_tx};
use storage_core::{RootName, SegmentId, codec};
use uuid::Uuid;

fn golden(name: &str, bytes: &[u8]) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var("ACCRETE_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, bytes).unwrap();
    }
    let stored = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with ACCRETE_BLESS=1 to create it)",
            path.display()
        )
    });
    assert_eq!(
        stored, bytes,
        "{name}: the encoding changed; bump the format version instead"
    );
    stored
}

fn datoms() -> Vec<Datom> {
    let tx = t_to_tx(1000);
    vec![
        Datom::new(17_592_186_045_418, 72, Value::string("Ed"), tx, true),
        Datom::new(17_592_186_045_418, 73, Value::Long(-42), tx, true),
        Datom::new(
            17_592_186_045_418,
            74,
            Value::Ref(17_592_186_045_419),
            tx,
            false,
        ),
        Datom::new(17_592_186_045_419, 75, Value::keyword(":t/x"), tx, true),
        Datom::new(tx, 26, Value::Instant(Instant(1_300_000_000_000)), tx, true),
    ]
}

fn entry(t: u64) -> TxLog {
    let data: Vec<Datom> = datoms()
        .into_iter()
        .map(|d| d.with_op(t_to_tx(t), d.added()))
        .collect();
    TxLog {
        t,
        data: data.into(),
    }
}

fn id(seed: &[u8]) -> SegmentId {
    SegmentId::of(seed)
}

fn nodes() -> Vec<(&'static str, Node)> {
    let mut trees = [None; 8];
    trees[IndexRoot::slot(Index::Eavt, Layer::Current)] = Some(TreeRef {
        id: id(b"eavt"),
        height: 2,
        count: 123_456,
    });
    trees[IndexRoot::slot(Index::Vaet, Layer::History)] = Some(TreeRef {
        id: id(b"vaet-h"),
        height: 0,
        count: 7,
    });
    vec![
        (
            "log-leaf.seg",
            Node::LogLeaf(LogLeaf {
                entries: vec![entry(1000), entry(1001)],
            }),
        ),
        (
            "log-branch.seg",
            Node::LogBranch(LogBranch {
                children: vec![
                    LogChild {
                        first_t: 1000,
                        last_t: 1500,
                        id: id(b"l1"),
                    },
                    LogChild {
                        first_t: 1501,
                        last_t: 2000,
                        id: id(b"l2"),
                    },
                ],
            }),
        ),
        (
            "index-leaf.seg",
            Node::IndexLeaf(IndexLeaf {
                index: Index::Eavt,
                layer: Layer::Current,
                datoms: datoms(),
            }),
        ),
        (
            "index-branch.seg",
            Node::IndexBranch(IndexBranch {
                index: Index::Avet,
                layer: Layer::History,
                height: 1,
                children: datoms()
                    .into_iter()
                    .take(2)
                    .enumerate()
                    .map(|(i, first)| IndexChild {
                        first,
                        id: id(&[i as u8]),
                        count: 1000 + i as u64,
                    })
                    .collect(),
            }),
        ),
        (
            "index-root.seg",
            Node::IndexRoot(Box::new(IndexRoot {
                basis_t: 2000,
                next_t: 2042,
                trees,
                excisions: vec![17_592_186_045_500],
                stats: None,
            })),
        ),
        (
            "index-root-stats.seg",
            Node::IndexRoot(Box::new(IndexRoot {
                basis_t: 2001,
                next_t: 2042,
                trees,
                excisions: vec![],
                stats: Some(vec![
                    model::AttrStats {
                        attr: 10,
                        datoms: 1000,
                        values: 1,
                    },
                    model::AttrStats {
                        attr: 72,
                        datoms: 200_000,
                        values: 1_000,
                    },
                ]),
            })),
        ),
    ]
}

#[test]
fn every_segment_kind_matches_its_golden_file() {
    for (name, node) in nodes() {
        let framed = codec::encode(node.kind(), &node.encode()).unwrap();
        let stored = golden(name, &framed);
        let frame = codec::decode(&Bytes::from(stored.clone())).unwrap();
        assert_eq!(frame.kind, node.kind(), "{name}");
        assert_eq!(
            Node::decode(frame.kind, &frame.payload).unwrap(),
            node,
            "{name}"
        );
        // Every truncation of the payload and every flipped byte is refused
        // or decodes to something else, never a panic.
        // The one exception: an index root cut exactly before its
        // statistics is a root as older versions wrote it (the segment's
        // content hash catches such a cut in storage).
        let without_stats = match &node {
            Node::IndexRoot(r) if r.stats.is_some() => Some(Node::IndexRoot(Box::new(IndexRoot {
                stats: None,
                ..(**r).clone()
            }))),
            _ => None,
        };
        for cut in 0..frame.payload.len() {
            match Node::decode(frame.kind, &frame.payload[..cut]) {
                Err(_) => {}
                Ok(older) => assert_eq!(Some(older), without_stats, "{name} cut at {cut}"),
            }
        }
        for at in 0..frame.payload.len() {
            let mut bad = frame.payload.to_vec();
            bad[at] ^= 0xa5;
            let _ = Node::decode(frame.kind, &bad);
        }
        let mut newer = frame.payload.to_vec();
        newer[0] = 2;
        let err = Node::decode(frame.kind, &newer).unwrap_err();
        assert!(err.contains("version 2 is not supported"), "{err}");
    }
}

fn log_root() -> LogRoot {
    LogRoot {
        db_uuid: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
        epoch: 3,
        basis_t: 2001,
        next_t: 2050,
        index: Some(id(b"index-root")),
        log: Some(LogTree {
            id: id(b"log"),
            height: 1,
            first_t: 0,
            last_t: 2000,
        }),
        tail: vec![entry(2001)],
    }
}

#[test]
fn log_root_matches_its_golden_file_and_checks_itself() {
    let name = RootName::new("db/golden/log").unwrap();
    let root = log_root();
    let stored = golden("log-root.bin", &root.encode().unwrap());
    assert_eq!(LogRoot::decode(&name, &stored).unwrap(), root);
    for cut in 0..stored.len() {
        assert!(
            LogRoot::decode(&name, &stored[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    let mut bad = root.clone();
    bad.basis_t = 1999;
    let err = LogRoot::decode(&name, &bad.encode().unwrap()).unwrap_err();
    assert!(
        err.is_corruption() && err.to_string().contains("db/golden/log"),
        "{err}"
    );
    assert!(err.to_string().contains("last logged t is 2001"), "{err}");
    let mut bad = root.clone();
    bad.tail.insert(0, entry(1999));
    let err = LogRoot::decode(&name, &bad.encode().unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("out of order"), "{err}");
    let genesis = LogRoot::genesis(root.db_uuid);
    assert_eq!(
        LogRoot::decode(&name, &genesis.encode().unwrap()).unwrap(),
        genesis
    );
    assert_eq!(
        genesis.tail[0].t, 0,
        "the log starts with the bootstrap transaction"
    );
}

#[test]
fn catalog_matches_its_golden_file() {
    let mut catalog = Catalog::default();
    catalog.dbs.insert(
        "orders".into(),
        CatalogEntry {
            uuid: Uuid::from_u128(1),
            created_at_ms: 1_700_000_000_000,
            state: DbState::Live,
        },
    );
    catalog.dbs.insert(
        "old-db".into(),
        CatalogEntry {
            uuid: Uuid::from_u128(2),
            created_at_ms: 1_600_000_000_000,
            state: DbState::Deleted,
        },
    );
    let stored = golden("catalog.bin", &catalog.encode());
    assert_eq!(Catalog::decode(&stored).unwrap(), catalog);
    for cut in 0..stored.len() {
        assert!(Catalog::decode(&stored[..cut]).is_err(), "cut at {cut}");
    }
}
