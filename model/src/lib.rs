//! The information model shared by transactor and peers: datoms, schema,
//! transaction data, covering indexes and immutable database values.
//!
//! What it is: EDN reading and printing ([`edn`]) and its lossless JSON
//! mapping ([`json`]); values, datoms and
//! entity ids; schema as data; transactions as a pure function from a
//! database value, tx data, an instant and registered transaction functions
//! to a [`TxReport`], including the functions and entity specs installed
//! as data (`:db/fn`, `:db/ensure`), run through the [`Installed`] trait
//! whose runtime lives in the `txfn` crate; database values with `as_of`, `since`, `history`,
//! `filter`, `datoms`, `seek_datoms`, `index_range`, the entity API and the
//! log; a stable binary [`codec`]; the size limits a transaction is held
//! to where tx data enters ([`limits`]).
//!
//! What it is not: storage, durability, networking or query. The persistent
//! half of the indexes is the [`IndexStore`] trait that the transactor's
//! indexing job fills; `q` and `pull` live in the `query` crate.
//!
//! ```
//! use model::{Db, TxFunctions, edn, edn::Instant, Index, Value};
//!
//! let db = Db::new();
//! let schema = edn::parse_all(r#"
//!   {:db/ident :user/email :db/valueType :db.type/string
//!    :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
//!   {:db/ident :user/firstName :db/valueType :db.type/string
//!    :db/cardinality :db.cardinality/one}"#).unwrap();
//! let fns = TxFunctions::new();
//! let db = db.with(&schema, Instant(1), &fns).unwrap().db_after;
//! let report = db
//!     .with_edn(r#"[{:db/id "ed" :user/email "ed@x" :user/firstName "Ed"}]"#, Instant(2), &fns)
//!     .unwrap();
//! let ed = report.tempid("ed").unwrap();
//! let db = report.db_after;
//! let first_name = db.entity(ed).get(&edn::Keyword::new(":user/firstName")).unwrap().unwrap();
//! assert_eq!(first_name.as_value(), Some(&Value::string("Ed")));
//! assert_eq!(db.datoms(Index::Eavt, &[Value::Ref(ed)]).unwrap().count(), 2);
//! ```
//!
//! # Design choices
//! - Entity ids carry their partition above bit 42 (`:db.part/db` 0,
//!   `:db.part/tx` 3, `:db.part/user` 4, installed partitions by their id);
//!   one counter serves t values and new entity ids; the first user
//!   transaction of a new database has t = 1000.
//! - Every index has a *current* layer and a *history* layer, in the
//!   persistent [`IndexStore`] and in the in-memory novelty alike, so
//!   reading the present never walks history. AVET covers every attribute
//!   (as Datomic 1.0 does); VAET covers reference attributes only.
//! - `:db/noHistory`: views never show past values of such attributes;
//!   the novelty keeps them until indexing so that indexing at any t is
//!   exact, and [`Db::indexed_layer`] leaves them out of the history layer.
//! - Transactions are pure: [`Db::with`] takes the instant from its caller
//!   (the transactor's clock) and never reads the wall clock. The datoms of
//!   the report ([`TxReport::log_entry`]) replay to an identical value with
//!   [`Db::apply_tx`].
//! - Excision requests are recorded as data ([`Db::excise_requests`]);
//!   removing the datoms is the indexing job's work
//!   ([`ExciseRequest::covers`] says which datoms a request removes).
//!
//! # For the query engine
//!
//! The read API `q` and `pull` build on (all on [`Db`] unless noted):
//! - Values and datoms: [`Value`] (total order: type tag, then value),
//!   [`ValueType`], [`Datom`] (`e()`, `a()`, `v()`, `tx()`, `t()`,
//!   `added()`), [`EntityId`], [`t_to_tx`] / [`tx_to_t`], [`partition_of`].
//! - EDN reader and printer: [`edn::parse`], [`edn::parse_all`],
//!   [`edn::Edn`] (`Display` prints EDN), [`edn::Keyword`], [`edn::Symbol`].
//! - Idents and schema: [`Db::entid`] (id, ident or lookup ref →
//!   `Option<EntityId>`), [`Db::lookup_ref`], [`Db::ident`],
//!   [`Db::attribute`] / [`Db::attribute_named`] → [`Attribute`]
//!   (`value_type`, `cardinality`, `unique`, `is_component`, `is_ref()`,
//!   `is_many()`), [`Db::schema`].
//! - Views: [`Db::as_of`], [`Db::since`] (a t, a tx id or an instant via
//!   [`TimePoint`]), [`Db::history`] (assertions and retractions, with
//!   `added` and `tx`), [`Db::filter`], [`Db::is_history`], [`Db::basis_t`],
//!   [`Db::next_t`], [`Db::as_of_t`], [`Db::since_t`].
//! - Index access: [`Db::datoms`] with any prefix of components in index
//!   order, [`Db::seek_datoms`], [`Db::index_range`]; each returns a
//!   [`DatomIter`] of `Result<Datom>` (reads may fail in storage).
//!   [`Db::components`] resolves components once.
//! - Entities: [`Db::entity`] → [`Entity`] (`get`, reverse `:ns/_attr`,
//!   `keys`, `touch`).
//! - The log: [`Db::tx_range`] → [`TxLog`] entries by t.
//! - Building test data: [`Db::with`] / [`Db::with_edn`] → [`TxReport`].

pub mod codec;
mod datom;
mod db;
pub mod edn;
mod error;
mod excise;
mod index;
pub mod json;
pub mod limits;
mod log;
pub mod schema;
#[cfg(feature = "testkit")]
pub mod testkit;
mod tx;
mod value;

pub use datom::{
    Datom, EntityId, PART_DB, PART_TX, PART_USER, PARTITION_SHIFT, counter_of, entity_id,
    partition_of, t_to_tx, tx_to_t,
};
pub use db::{Components, DatomFilter, Db, Entity, EntityValue, TimePoint};
pub use error::{Cause, Error, Result, TxErrorKind};
pub use excise::ExciseRequest;
pub use index::{
    AttrStats, DatomIter, EmptyStore, Index, IndexStore, Layer, MemoryStore, TxLogIter,
};
pub use log::TxLog;
pub use schema::{Attribute, Cardinality, Schema, Unique};
pub use tx::{
    CommittedTx, FnCall, Installed, InstalledFailure, PredCheck, TxFunction, TxFunctions, TxReport,
};
pub use value::{RefResolver, TupleShape, Value, ValueType};
