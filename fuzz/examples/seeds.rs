//! Writes the seed corpora of the fuzz targets into `fuzz/corpus/<target>/`:
//! the golden files of storage-core and index, the EDN, tx data, queries
//! and pull patterns written in the workspace's tests (every raw string
//! `r#"…"#` of their sources that the target's parser accepts), and fresh
//! encodings of the fixture's datoms, log entries, lease records, backup
//! records and protocol frames.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example seeds` (from the
//! repository root); each seed's file name is a hash of its bytes, so
//! running it again adds nothing twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use accrete_fuzz::fixture::{fixture, schema_text};
use bytes::BytesMut;
use model::edn::{self, Edn};
use model::{TxFunctions, TxLog, Value, codec};
use transactor::lease::{Epoch, Holder, LeaseRecord};
use transactor::protocol::{Frame, PROTOCOL_VERSION};

/// Seeds larger than this are left out (the corpus stays small).
const MAX_SEED: usize = 4096;

struct Seeds {
    root: PathBuf,
    written: usize,
}

impl Seeds {
    fn add(&mut self, target: &str, bytes: &[u8]) {
        if bytes.len() > MAX_SEED {
            return;
        }
        let dir = self.root.join("fuzz/corpus").join(target);
        fs::create_dir_all(&dir).unwrap();
        // FNV-1a: a stable name from the content.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
        let path = dir.join(format!("seed-{h:016x}"));
        if !path.exists() {
            fs::write(path, bytes).unwrap();
            self.written += 1;
        }
    }
}

/// Every raw string literal `r#"…"#` in the Rust sources under `dir`.
fn raw_strings(dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            raw_strings(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).unwrap_or_default();
            let mut rest = text.as_str();
            while let Some(start) = rest.find("r#\"") {
                let after = &rest[start + 3..];
                let Some(end) = after.find("\"#") else { break };
                out.push(after[..end].to_string());
                rest = &after[end + 2..];
            }
        }
    }
}

fn frame_body(frame: &Frame) -> Vec<u8> {
    let mut body = BytesMut::new();
    frame.encode(&mut body);
    body.to_vec()
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let mut seeds = Seeds {
        root: root.clone(),
        written: 0,
    };

    // Text seeds from the tests.
    let mut texts = vec![schema_text()];
    for dir in [
        "model/tests",
        "query/tests",
        "query/src",
        "model/src",
        "transactor/tests",
        "index/tests",
    ] {
        raw_strings(&root.join(dir), &mut texts);
    }
    texts.sort();
    texts.dedup();
    for text in &texts {
        let Ok(value) = edn::parse(text) else {
            continue;
        };
        seeds.add("edn_text", text.as_bytes());
        if matches!(value, Edn::Vector(_)) {
            let mut tx = vec![0u8];
            tx.extend_from_slice(text.as_bytes());
            seeds.add("tx", &tx);
        }
        if query::Query::parse(text).is_ok() {
            seeds.add("query", text.as_bytes());
        }
        if query::PullPattern::parse(text).is_ok() {
            seeds.add("pull", text.as_bytes());
        }
    }
    for text in [
        "[*]",
        "[:p/name {:p/friend [:p/name]}]",
        "[:p/name {:p/friend ...}]",
        "[[:p/friend :limit 2] [:p/name :as \"n\"] :p/_friend {:p/address [*]}]",
        "[(:p/tags :default :none) (default :p/age 0)]",
    ] {
        seeds.add("pull", text.as_bytes());
    }
    for text in [
        "[:find ?n :where [?e :p/name ?n]]",
        "[:find ?a (count ?b) :in $ % :where (knows ?a ?b)]",
        "[:find [?n ...] :in $ [?x ...] :where [?e :p/name ?x] [?e :p/friend ?f] [?f :p/name ?n]]",
        "{:find [?e] :in [$ ?x] :where [[?e :p/age ?a] [(> ?a ?x)]]}",
        "[:find ?e . :where (not [?e :p/friend]) [?e :p/name]]",
        "[:find (pull ?e [*]) :where [?e :p/name \"ann\"]]",
    ] {
        seeds.add("query", text.as_bytes());
        seeds.add("edn_text", text.as_bytes());
    }

    // Frames and segments from the golden files.
    for name in ["frame-v1-lz4.bin", "frame-v1-stored.bin"] {
        let bytes = fs::read(root.join("storage-core/tests/golden").join(name)).unwrap();
        seeds.add("frame", &bytes);
    }
    seeds.add(
        "root_envelope",
        &fs::read(root.join("storage-core/tests/golden/root-v1.bin")).unwrap(),
    );
    for (file, target) in [
        ("log-leaf.seg", "segment_log_leaf"),
        ("log-branch.seg", "segment_log_branch"),
        ("index-leaf.seg", "segment_index_leaf"),
        ("index-branch.seg", "segment_index_branch"),
        ("index-root.seg", "segment_index_root"),
    ] {
        let bytes = fs::read(root.join("index/tests/golden").join(file)).unwrap();
        seeds.add("frame", &bytes);
        let frame = storage_core::codec::decode(&bytes.into()).unwrap();
        seeds.add(target, &frame.payload);
    }
    seeds.add(
        "log_root",
        &fs::read(root.join("index/tests/golden/log-root.bin")).unwrap(),
    );
    seeds.add(
        "catalog",
        &fs::read(root.join("index/tests/golden/catalog.bin")).unwrap(),
    );

    // The model codec: the fixture's datoms, a log entry, single values.
    let f = fixture();
    let report =
        f.db.with_edn(
            r#"[{:db/id "z" :p/name "zed" :p/friend [:p/name "ann"]}]"#,
            model::edn::Instant(9_000),
            &TxFunctions::new(),
        )
        .unwrap();
    let entry: TxLog = report.log_entry();
    let mut datoms = vec![0u8];
    datoms.extend(codec::encode_datoms(&f.datoms));
    seeds.add("model_codec", &datoms);
    let mut log = vec![1u8];
    log.extend(codec::encode_tx_log(&entry));
    seeds.add("model_codec", &log);
    for d in f.datoms.iter().step_by(3) {
        let mut value = vec![2u8];
        codec::encode_value(&mut value, d.v());
        seeds.add("model_codec", &value);
    }
    let mut tuple = vec![2u8];
    codec::encode_value(&mut tuple, &Value::Long(-7));
    seeds.add("model_codec", &tuple);

    // Lease records.
    let holder = Holder::new(
        uuid::Uuid::from_u128(7),
        Some("127.0.0.1:4334".into()),
        PROTOCOL_VERSION,
    )
    .unwrap();
    let held = LeaseRecord::held(
        uuid::Uuid::from_u128(9),
        Epoch(3),
        holder,
        Duration::from_secs(10),
    );
    seeds.add("lease_record", &held.encode());
    seeds.add("lease_record", &held.released().encode());

    // Backup and gc records: a version byte and JSON.
    let id = "ab".repeat(32);
    for (which, json) in [
        (
            0u8,
            format!(
                r#"{{"db_name":"orders","db_uuid":"0b5e2a48-0c3c-4a0e-9e1f-1c2d3e4f5a6b","db_created_at_ms":1,"basis_t":1004,"index_basis_t":null,"created_at_ms":2,"segments":3,"digest":"{id}","log_root":"{}","writer":"accrete"}}"#,
                hex(&fs::read(root.join("index/tests/golden/log-root.bin")).unwrap())
            ),
        ),
        (
            1,
            format!(
                r#"{{"db_uuid":"0b5e2a48-0c3c-4a0e-9e1f-1c2d3e4f5a6b","db_name":"orders","points":"{id}"}}"#
            ),
        ),
        (
            2,
            format!(
                r#"{{"points":[{{"basis_t":1004,"manifest":"{id}","created_at_ms":2,"segments":3,"copied_segments":1,"copied_bytes":100}}]}}"#
            ),
        ),
        (
            3,
            format!(
                r#"{{"state":"{id}","holds":[{{"id":"0b5e2a48-0c3c-4a0e-9e1f-1c2d3e4f5a6b","what":"restore of orders","started_ms":1,"expires_ms":2}}],"sweep":{{"id":"0b5e2a48-0c3c-4a0e-9e1f-1c2d3e4f5a6b","until_ms":5}}}}"#
            ),
        ),
        (
            4,
            format!(r#"{{"marked_at_ms":5,"condemned":["{id}"],"excisions":[]}}"#),
        ),
    ] {
        let mut bytes = vec![which, backup::manifest::FORMAT_VERSION];
        bytes.extend_from_slice(json.as_bytes());
        let record = backup::fuzzing::Record::ALL[usize::from(which)];
        if let Err(e) = backup::fuzzing::decode(record, &bytes[1..]) {
            eprintln!("seed of {record:?} does not decode: {e}");
        }
        seeds.add("backup_records", &bytes);
    }

    // Storage URIs (from storage-core's URI tests and the design).
    for uri in [
        "mem://orders",
        "file:///var/lib/accrete?db=orders",
        "file:data/dir?db=orders",
        "file://localhost/tmp/x?db=a",
        "postgres://accrete@localhost:5432/accrete?db=orders&schema=acc",
        "postgresql://u:secretpw@[::1]:5432/pg?db=x",
        "cassandra://h1:9042,h2,[::1]:9043/ks?db=orders&consistency=local_quorum&dc=dc1&table_prefix=t_",
        "cassandra://u:p%40ss@h1/ks?db=a",
        "mem://a?db=b&db=c",
    ] {
        seeds.add("storage_uri", uri.as_bytes());
    }

    // Protocol frames: bodies, and whole streams starting with a HELLO.
    let frames = vec![
        Frame::Hello {
            min_version: PROTOCOL_VERSION,
            max_version: PROTOCOL_VERSION,
            token: Some(access::Secret::new("acrt_example_token".to_string())),
            db: "orders".into(),
            db_id: uuid::Uuid::from_u128(9),
            epoch: 3,
        },
        Frame::Welcome {
            version: PROTOCOL_VERSION,
            epoch: 3,
            basis_t: 1004,
        },
        Frame::Transact {
            id: 1,
            tx: r#"[[:db/add "a" :p/name "x"]]"#.into(),
            tx_id: Some(uuid::Uuid::from_u128(5)),
        },
        Frame::Transact {
            id: 2,
            tx: "[]".into(),
            tx_id: None,
        },
        Frame::TxStatus {
            id: 3,
            tx_id: uuid::Uuid::from_u128(5),
        },
        Frame::Subscribe {
            id: 4,
            from_t: 1000,
        },
        Frame::Unsubscribe { id: 4 },
        Frame::Status { id: 5 },
        Frame::Committed {
            id: 1,
            entry: entry.clone(),
            tempids: vec![("z".into(), 17)],
        },
        Frame::Tx { id: 4, entry },
        Frame::StatusReply {
            id: 5,
            basis_t: 1004,
            epoch: 3,
        },
        Frame::Failed {
            id: 1,
            kind: transactor::ErrorKind::Invalid,
            tx_code: ":db.error/not-a-keyword".into(),
            message: "bad".into(),
        },
    ];
    let mut stream = vec![7u8];
    for frame in &frames {
        let body = frame_body(frame);
        seeds.add("protocol_frame", &body);
        stream.extend_from_slice(&(body.len() as u32).to_be_bytes());
        stream.extend_from_slice(&body);
    }
    seeds.add("protocol_stream", &stream);
    println!("seeds: wrote {} new seed files", seeds.written);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
