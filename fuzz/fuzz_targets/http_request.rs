//! Requests to `accrete serve`'s routes, straight to the router (no
//! socket): any endpoint, content type and accept header, any body. The
//! server never panics and never answers 500 (which is kept for corrupt
//! storage, and the storage here is sound); every answer is a body of its
//! media type. The database is the fixture's (schema and data through a
//! real transactor on memory storage); `transact` is left out so every
//! input meets the same database, and `with` stands in for it.
#![no_main]

use std::sync::{Arc, OnceLock};

use accrete_fuzz::fixture::{DATA, schema_text};
use index::{SegmentCache, Segments, create_db};
use libfuzzer_sys::fuzz_target;
use server::fuzzing::Routes;
use storage_core::{DbName, Registry};

const ENDPOINTS: &[&str] = &[
    "q",
    "pull",
    "pull-many",
    "datoms",
    "seek-datoms",
    "index-range",
    "entity",
    "tx-range",
    "tx-status",
    "with",
    "schema",
    "stats",
    "tx-rate",
];

const CONTENT_TYPES: &[Option<&str>] = &[
    Some("application/edn"),
    Some("application/json"),
    None,
    Some("text/plain"),
];

const ACCEPTS: &[Option<&str>] = &[Some("application/edn"), Some("application/json"), None];

struct Harness {
    runtime: tokio::runtime::Runtime,
    routes: Routes,
    /// Kept so the database's transactor keeps serving.
    _transactor: transactor::Server,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let (routes, transactor) = runtime.block_on(async {
            let (storage, _) = Registry::default()
                .open("mem://fuzz-http")
                .await
                .expect("memory storage");
            let name = DbName::new("shop").expect("a db name");
            create_db(&storage, &name).await.expect("create the db");
            let endpoint = transactor::Server::bind("127.0.0.1:0")
                .await
                .expect("bind the transactor's endpoint");
            let config = transactor::Config {
                endpoint: Some(endpoint.local_addr().to_string()),
                ..Default::default()
            };
            let seg = Segments::new(storage, SegmentCache::new(16 << 20).expect("a cache"));
            endpoint.serve(Arc::new(
                transactor::Transactor::start(seg, &name, config)
                    .await
                    .expect("start the transactor"),
            ));
            let peer = peer::Peer::new(peer::Config::default()).expect("a peer");
            let conn = peer
                .connect("mem://fuzz-http?db=shop")
                .await
                .expect("connect");
            conn.transact(&schema_text()).await.expect("the fixture's schema");
            conn.transact(DATA).await.expect("the fixture's data");
            let limits = server::Limits {
                request_timeout: std::time::Duration::from_secs(2),
                max_query_rows: 100_000,
                max_results: 1_000,
                max_response_bytes: 1 << 20,
                ..server::Limits::default()
            };
            let routes = Routes::new(vec![conn], limits).expect("the routes");
            (routes, endpoint)
        });
        Harness {
            runtime,
            routes,
            _transactor: transactor,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let [pick, kinds, rest @ ..] = data else {
        return;
    };
    let h = harness();
    let content_type = CONTENT_TYPES[usize::from(kinds & 3)];
    let accept = ACCEPTS[usize::from((kinds >> 2) % 3)];
    let (method, path, body) = if usize::from(*pick) < ENDPOINTS.len() * 16 {
        let endpoint = ENDPOINTS[usize::from(*pick) % ENDPOINTS.len()];
        ("POST", format!("/dbs/shop/{endpoint}"), rest.to_vec())
    } else {
        // Any path (and a GET now and then): the first line of the rest.
        let text = String::from_utf8_lossy(rest);
        let (line, body) = text.split_once('\n').unwrap_or((&text, ""));
        let method = if pick & 1 == 0 { "GET" } else { "POST" };
        let path = if line.starts_with('/') {
            line.to_string()
        } else {
            format!("/{line}")
        };
        (method, path, body.as_bytes().to_vec())
    };
    if path.contains("/reports") {
        return; // report streams do not end: not a request/answer pair
    }
    let Ok((status, answer)) = h.runtime.block_on(h.routes.call(
        method,
        &path,
        content_type,
        accept,
        body,
    )) else {
        return; // a path the HTTP layer refuses to build a request from
    };
    assert_ne!(status, 500, "{method} {path}: {}", String::from_utf8_lossy(&answer));
});
