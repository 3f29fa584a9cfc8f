//! Datalog query, pull and rules over accrete database values and plain
//! collections.
//!
//! What it is: [`q`] runs queries as Datomic users write them, from EDN text
//! or a parsed [`Query`], over database values (current, `as_of`, `since`,
//! `history`, filtered) and collections of tuples, with aggregates, pull
//! expressions, return maps, predicates and functions (built in or
//! registered in [`Functions`]), `not`/`or`, and [`Rules`], recursive ones
//! included. [`pull`] and [`pull_many`] read entities by pattern.
//!
//! What it is not: storage, transactions or the entity API (those live in
//! `model`). Queries only read.
//!
//! How it evaluates: clauses run in the order a planner picks (filters as
//! soon as they can, then the connected clause with the smallest estimate;
//! never a cross product the query does not ask for); data patterns probe
//! the covering index their bound positions select, or scan once and
//! hash-join when that is cheaper, judged by the attribute statistics
//! (datoms, distinct values) the indexes keep; [`explain`] shows the plan; relations are row vectors without a
//! per-row allocation; rules run bottom-up, semi-naively, only for the
//! bindings the query asks about.
//!
//! ```
//! use model::{Db, TxFunctions, Value, edn::Instant};
//! use query::{Input, q};
//!
//! let fns = TxFunctions::new();
//! let db = Db::new()
//!     .with_edn(r#"[{:db/ident :user/email :db/valueType :db.type/string
//!                    :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
//!                   {:db/ident :user/friend :db/valueType :db.type/ref
//!                    :db/cardinality :db.cardinality/many}]"#, Instant(1), &fns)
//!     .unwrap()
//!     .db_after
//!     .with_edn(r#"[{:db/id "a" :user/email "a@x" :user/friend "b"}
//!                   {:db/id "b" :user/email "b@x" :user/friend "c"}
//!                   {:db/id "c" :user/email "c@x"}]"#, Instant(2), &fns)
//!     .unwrap()
//!     .db_after;
//! let rules = r#"[[(reaches ?a ?b) [?a :user/friend ?b]]
//!                 [(reaches ?a ?b) [?a :user/friend ?c] (reaches ?c ?b)]]"#;
//! let found = q(
//!     "[:find [?email ...] :in $ % ?start :where [?s :user/email ?start] (reaches ?s ?f) [?f :user/email ?email]]",
//!     &[Input::Db(db), Input::Edn(model::edn::parse(rules).unwrap()), Input::Value(Value::string("a@x"))],
//! )
//! .unwrap();
//! let mut emails: Vec<String> = found.column(0).iter().map(|f| f.to_string()).collect();
//! emails.sort();
//! assert_eq!(emails, ["\"b@x\"", "\"c@x\""]);
//! ```

mod aggregate;
mod error;
mod eval;
mod explain;
mod functions;
mod input;
mod parse;
mod pull;
mod resolve;
mod result;
mod run;
mod shape;
mod validate;
mod value;

pub use error::{Error, ErrorKind, Result};
pub use explain::{Explain, JoinStrategy, Step, explain, explain_with};
pub use functions::{Aggregate, Function, Functions};
pub use input::Input;
pub use parse::find::KeyKind;
pub use parse::{Query, Rules, Shape, section_forms};
pub use pull::{DEFAULT_LIMIT, PullMap, PullPattern, Pulled, pull, pull_many};
pub use result::{Found, QueryResult};
pub use run::{AsQuery, Options, q, q_with};
