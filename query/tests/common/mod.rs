//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use model::edn::{self, Edn, Instant};
use model::{Db, TxFunctions, TxReport, Value};
use query::{Input, QueryResult};
use std::collections::BTreeSet;

/// Transaction instants that always move forward (from 2001 on).
pub fn instant(db: &Db) -> Instant {
    Instant(db.last_tx_instant().0.max(1_000_000_000_000) + 1000)
}

/// Runs EDN tx data, panicking with the error if it fails.
pub fn tx(db: &Db, text: &str) -> TxReport {
    tx_with(db, text, &TxFunctions::new())
}

/// Runs EDN tx data with transaction functions.
pub fn tx_with(db: &Db, text: &str, fns: &TxFunctions) -> TxReport {
    db.with_edn(text, instant(db), fns)
        .unwrap_or_else(|e| panic!("{e}\nin {text}"))
}

/// Runs a query, panicking with the error if it fails.
pub fn q(query: &str, inputs: &[Input]) -> QueryResult {
    query::q(query, inputs).unwrap_or_else(|e| panic!("{e}\nin {query}"))
}

/// Runs a query that must fail; returns the error.
pub fn q_err(query: &str, inputs: &[Input]) -> query::Error {
    match query::q(query, inputs) {
        Ok(r) => panic!("expected an error, got {r}\nin {query}"),
        Err(e) => e,
    }
}

/// The rows of a result as EDN, sorted.
pub fn rows(result: &QueryResult) -> Vec<Vec<Edn>> {
    let mut rows: Vec<Vec<Edn>> = result
        .rows()
        .iter()
        .map(|r| r.iter().map(|f| f.to_edn()).collect())
        .collect();
    rows.sort();
    rows
}

/// The first column of a result as entity ids.
pub fn ids(result: &QueryResult) -> BTreeSet<u64> {
    result
        .column(0)
        .into_iter()
        .map(|f| {
            f.as_entity()
                .unwrap_or_else(|| panic!("{f} is not an entity id"))
        })
        .collect()
}

pub fn edn(text: &str) -> Edn {
    edn::parse(text).unwrap()
}

pub fn db(db: &Db) -> Input {
    Input::Db(db.clone())
}

pub fn val(v: impl Into<Value>) -> Input {
    Input::Value(v.into())
}

pub fn s(text: &str) -> Value {
    Value::string(text)
}

pub use model::testkit::SOCIAL_SCHEMA;

/// The social news database of the query tour.
pub struct Social {
    pub db: Db,
    pub editor: u64,
    pub stu: u64,
    /// The transactions that set "Ed" and then "Edward".
    pub tx_ed: u64,
    pub tx_edward: u64,
    pub stories: Vec<u64>,
    /// The ten comments by the editor.
    pub editor_comments: BTreeSet<u64>,
    /// Comments by Stu.
    pub stu_comments: BTreeSet<u64>,
}

/// Two users (the editor, first "Ed" then "Edward"), three stories, ten
/// comments by the editor on stories and comments, two by Stu.
pub fn social() -> Social {
    let db = tx(&Db::new(), SOCIAL_SCHEMA).db_after;
    let users = tx(
        &db,
        r#"[{:db/id "ed" :user/email "editor@example.com" :user/firstName "Ed" :user/lastName "Itor"}
            {:db/id "stu" :user/email "stu@example.com" :user/firstName "Stu" :user/lastName "Dent"}]"#,
    );
    let (editor, stu) = (users.tempid("ed").unwrap(), users.tempid("stu").unwrap());
    let stories = tx(
        &users.db_after,
        &format!(
            r#"[{{:db/id "s1" :story/title "Teach Yourself Programming in Ten Years" :story/url "http://norvig.com/21-days.html"}}
                {{:db/id "s2" :story/title "Clojure Rationale" :story/url "http://clojure.org/rationale"}}
                {{:db/id "s3" :story/title "Beating the Averages" :story/url "http://www.paulgraham.com/avg.html"}}
                [:db/add {stu} :user/upVotes "s1"] [:db/add {stu} :user/upVotes "s2"]]"#
        ),
    );
    let story_ids: Vec<u64> = ["s1", "s2", "s3"]
        .iter()
        .map(|t| stories.tempid(t).unwrap())
        .collect();
    // Editor comments e1..e10; Stu comments t1, t2. Stories and comments hold comments.
    let c = |id: &str, author: u64, body: &str| {
        format!(r#"{{:db/id "{id}" :comment/author {author} :comment/body "{body}"}}"#)
    };
    let mut forms: Vec<String> = Vec::new();
    for i in 1..=10 {
        forms.push(c(&format!("e{i}"), editor, &format!("editor remark {i}")));
    }
    forms.push(c("t1", stu, "stu remark 1"));
    forms.push(c("t2", stu, "stu remark 2"));
    let [s1, s2, s3] = [story_ids[0], story_ids[1], story_ids[2]];
    for (holder, comment) in [
        (s1.to_string(), "e1"),
        (s1.to_string(), "e2"),
        (s2.to_string(), "e3"),
        (s3.to_string(), "e4"),
        (s1.to_string(), "t1"),
        ("\"e1\"".to_string(), "e5"),
        ("\"e1\"".to_string(), "e6"),
        ("\"t1\"".to_string(), "e7"),
        ("\"e7\"".to_string(), "t2"),
        ("\"t2\"".to_string(), "e8"),
        ("\"e3\"".to_string(), "e9"),
        ("\"e4\"".to_string(), "e10"),
    ] {
        forms.push(format!(r#"[:db/add {holder} :comments "{comment}"]"#));
    }
    let comments = tx(&stories.db_after, &format!("[{}]", forms.join("\n")));
    let editor_comments = (1..=10)
        .map(|i| comments.tempid(&format!("e{i}")).unwrap())
        .collect();
    let stu_comments = ["t1", "t2"]
        .iter()
        .map(|t| comments.tempid(t).unwrap())
        .collect();
    let renamed = tx(
        &comments.db_after,
        r#"[[:db/add [:user/email "editor@example.com"] :user/firstName "Edward"]]"#,
    );
    Social {
        db: renamed.db_after.clone(),
        editor,
        stu,
        tx_ed: users.tx(),
        tx_edward: renamed.tx(),
        stories: story_ids,
        editor_comments,
        stu_comments,
    }
}

pub const PEOPLE_SCHEMA: &str = r#"[
 {:db/ident :person/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :person/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :person/height :db/valueType :db.type/double :db/cardinality :db.cardinality/one}
 {:db/ident :person/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
 {:db/ident :person/likes :db/valueType :db.type/string :db/cardinality :db.cardinality/many}
 {:db/ident :person/role :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
 {:db/ident :role/admin} {:db/ident :role/guest}
]"#;

/// Ann (30, admin) befriends Bob and Cat; Bob (25) befriends Cat; Cat (41,
/// guest) befriends Dan; Dan (25) has no friends and no role.
pub struct People {
    pub db: Db,
    pub ann: u64,
    pub bob: u64,
    pub cat: u64,
    pub dan: u64,
}

pub fn people() -> People {
    let db = tx(&Db::new(), PEOPLE_SCHEMA).db_after;
    let r = tx(
        &db,
        r#"[{:db/id "ann" :person/name "Ann" :person/age 30 :person/height 1.70 :person/friend ["bob" "cat"]
             :person/likes ["tea" "chess"] :person/role :role/admin}
            {:db/id "bob" :person/name "Bob" :person/age 25 :person/height 1.80 :person/friend ["cat"] :person/likes ["tea"]}
            {:db/id "cat" :person/name "Cat" :person/age 41 :person/height 1.60 :person/friend ["dan"] :person/role :role/guest}
            {:db/id "dan" :person/name "Dan" :person/age 25}]"#,
    );
    People {
        db: r.db_after.clone(),
        ann: r.tempid("ann").unwrap(),
        bob: r.tempid("bob").unwrap(),
        cat: r.tempid("cat").unwrap(),
        dan: r.tempid("dan").unwrap(),
    }
}

/// The names in the first column, sorted.
pub fn strings(result: &QueryResult) -> Vec<String> {
    let mut out: Vec<String> = result
        .column(0)
        .iter()
        .map(|f| match f.as_value() {
            Some(Value::String(s)) => s.to_string(),
            _ => f.to_string(),
        })
        .collect();
    out.sort();
    out
}

/// A database value read from segment trees in (mem) storage, with the
/// runtime that serves its segment cache.
pub struct Segmented {
    pub db: Db,
    _rt: tokio::runtime::Runtime,
}

/// The same transactions as `db`, committed to a log in mem storage; the
/// first `indexed` of them (all when `None`) merged by the indexing job
/// into segment trees, the rest left as novelty.
pub fn on_segments(db: &Db, indexed: Option<usize>) -> Segmented {
    use index::{LogRoot, SegmentCache, Segments, append, db_from_root, index_db};
    use std::sync::Arc;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let storage: Arc<dyn storage_core::Storage> = Arc::new(storage_core::MemStorage::new());
    let seg = Segments::new(
        storage,
        SegmentCache::with_handle(64 << 20, rt.handle().clone()),
    );
    let entries: Vec<model::TxLog> = db
        .tx_range(None, None)
        .unwrap()
        .map(|e| e.unwrap())
        // The genesis log root holds t 0 (the bootstrap schema) already.
        .filter(|e| e.t > 0)
        .collect();
    let split = indexed.unwrap_or(entries.len()).min(entries.len());
    let db = rt.block_on(async {
        let mut root = LogRoot::genesis(uuid::Uuid::new_v4());
        root = append(&seg, &root, &entries[..split]).await.unwrap();
        let db = db_from_root(&seg, &root).await.unwrap();
        let job = index_db(&seg, &db, &root).await.unwrap();
        root = job.next_root(&seg, &root).await.unwrap();
        root = append(&seg, &root, &entries[split..]).await.unwrap();
        db_from_root(&seg, &root).await.unwrap()
    });
    Segmented { db, _rt: rt }
}
