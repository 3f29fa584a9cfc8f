//! A Cassandra cluster simulator speaking the CQL native protocol v4, with
//! Paxos across simulated replicas and fault injection, for tests only.
//!
//! **What it is.** A TCP server on loopback that the real `scylla` driver
//! connects to as if it were a Cassandra 4 cluster of one coordinator node,
//! or of several ([`SimConfig::nodes`]: node `i` on the next loopback
//! address, same port, owning an even share of the token ring, so a
//! token-aware driver routes each statement to its partition's owner and
//! [`ReceivedStatement`] tells which node got it). Behind the coordinators
//! sit N replicas (default 3), each with its own data and Paxos state. Plain writes and reads honour their consistency level (a write
//! acknowledged at ONE may be missing from other replicas; reads merge
//! replicas by write timestamp and repair the stale ones), lightweight
//! transactions run Paxos v1 across the replicas with ballots, and a
//! [`Faults`] handle injects the failures a real cluster has.
//!
//! **What it is not.** A storage engine or a Cassandra replacement: data
//! lives in memory, every keyspace is replicated on all N replicas whatever
//! its replication map says, there is one data centre, schema changes reach
//! all replicas at once, and only the CQL below is understood.
//!
//! # Example
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use cql_sim::{Fault, FaultKind, SimCluster, SimConfig};
//!
//! let sim = SimCluster::start(SimConfig::default()).await.unwrap();
//! println!("connect the driver to {}", sim.contact_point());
//! sim.replica_down(2); // QUORUM still works with 2 of 3 replicas
//! sim.faults().inject(Fault::new(FaultKind::ReadTimeout).once());
//! sim.shutdown().await;
//! # });
//! ```
//!
//! # Protocol
//!
//! Native protocol v4 only (version byte 0x04/0x84): OPTIONS → SUPPORTED
//! (CQL_VERSION, COMPRESSION=lz4, no `SCYLLA_*` keys); STARTUP → READY, or
//! AUTHENTICATE (PasswordAuthenticator) → AUTH_RESPONSE (SASL PLAIN) →
//! AUTH_SUCCESS / ERROR 0x0100 when [`SimConfig::credentials`] is set;
//! REGISTER → READY (SCHEMA_CHANGE events are pushed on stream -1); QUERY,
//! PREPARE, EXECUTE (positional or named values, page size, paging state,
//! serial consistency, default timestamp) and BATCH (logged and unlogged,
//! prepared and text statements). Results: Void, Rows (always with full
//! metadata unless the client asked to skip it), Set_keyspace, Prepared
//! (bind metadata with partition-key indexes, result metadata) and
//! Schema_change. Errors carry Cassandra's codes and bodies: Server 0x0000,
//! Protocol 0x000A, BadCredentials 0x0100, Unavailable 0x1000,
//! WriteTimeout 0x1100, ReadTimeout 0x1200, Syntax 0x2000, Invalid 0x2200,
//! AlreadyExists 0x2400, Unprepared 0x2500. Frames may be lz4-compressed
//! (4-byte big-endian length + lz4 block) once STARTUP negotiated it.
//!
//! # CQL understood
//!
//! Types: `text`/`varchar`, `ascii`, `blob`, `int`, `bigint`, `boolean`,
//! `uuid`, `timestamp`, `double`, `inet`, and `list`/`set`/`map` of them
//! (stored as whole values, like frozen collections). Literals: strings,
//! integers and decimals, `0x…` blobs, `true`/`false`, uuids, `null`,
//! `[…]`, `{…}`, `{k: v}`. Bind markers: `?` and `:name`.
//!
//! - `USE ks`
//! - `CREATE KEYSPACE [IF NOT EXISTS] ks WITH replication = {…} [AND durable_writes = b]`
//! - `CREATE TABLE [IF NOT EXISTS] [ks.]t (col type [PRIMARY KEY], …, PRIMARY KEY ((p1, p2), c1, c2)) [WITH …]`
//!   — options are accepted and ignored, clustering order must be ascending,
//!   no static columns
//! - `DROP KEYSPACE [IF EXISTS] ks`, `DROP TABLE [IF EXISTS] [ks.]t`, `TRUNCATE [TABLE] [ks.]t`
//! - `SELECT [DISTINCT] * | sel [AS alias], … FROM [ks.]t [WHERE …] [ORDER BY c [ASC], …] [LIMIT n] [ALLOW FILTERING]`
//!   where `sel` is a column, `token(pk…)`, `writetime(col)`, `ttl(col)` or
//!   `count(*)`/`count(1)`, and the WHERE clause is `AND`-ed relations:
//!   `pk = v`, `pk IN (v, …)`, `pk IN ?` on every partition key column, or
//!   `token(pk…) >|>=|<|<=|= v`, or nothing (a full scan); clustering
//!   columns with `=, <, <=, >, >=, IN`; other columns only with
//!   `ALLOW FILTERING`. Results come in ring (token) order, rows in
//!   ascending clustering order (`ORDER BY … DESC` is refused), paged with
//!   the driver's page size.
//! - `INSERT INTO [ks.]t (cols) VALUES (vals) [IF NOT EXISTS] [USING TTL n [AND TIMESTAMP n]]`
//! - `UPDATE [ks.]t [USING TTL n [AND TIMESTAMP n]] SET col = v, … WHERE <full primary key, pk IN allowed> [IF EXISTS | IF col op v [AND …]]`
//! - `DELETE [col, …] FROM [ks.]t [USING TIMESTAMP n] WHERE <partition key [, full clustering key]> [IF EXISTS | IF col op v [AND …]]`
//!   (a partition key alone deletes the whole partition)
//! - `BEGIN [UNLOGGED] BATCH [USING TIMESTAMP n] <INSERT|UPDATE|DELETE>; … APPLY BATCH`
//!
//! Conditions (`op` is `=, !=, <, <=, >, >=, IN`) make a statement a
//! lightweight transaction; a conditional batch must stay in one partition.
//! The result is one row whose first column is `[applied]`; when not
//! applied it adds the current values (all columns for `IF NOT EXISTS`, the
//! condition columns otherwise, plus the primary key in a batch), or only
//! `[applied]` when the row does not exist. Anything else is a SyntaxError
//! or Invalid error naming the statement or construct; unknown keyspaces
//! and tables get Cassandra's `Keyspace 'x' does not exist` and
//! `unconfigured table x`. The control connection's `system.local`,
//! `system.peers` and `system.peers_v2` (the other nodes, with their
//! tokens) and `system_schema.{keyspaces, tables, columns,
//! types, views, indexes, triggers, functions, aggregates}` are answered
//! with Cassandra's column types; `system_schema.scylla_*` are unknown, so
//! the driver treats the simulator as Cassandra.
//!
//! # Consistency and Paxos
//!
//! ONE, TWO, THREE, QUORUM, ALL (LOCAL_* and EACH_QUORUM as their one-DC
//! equivalents, ANY as ONE). A write goes to every live replica and
//! returns once the level's count applied it; a read asks that many live
//! replicas (chosen by the seeded generator), merges by write timestamp
//! (tombstones win ties) and repairs the replicas that answered stale data.
//! Too few live replicas is Unavailable. SERIAL/LOCAL_SERIAL reads of one
//! partition run a Paxos prepare that completes any accepted but
//! uncommitted proposal, then read at QUORUM. An LWT prepares a ballot at
//! a quorum (retrying with backoff under contention until the contention
//! timeout, then WriteTimeout CAS), repairs an in-progress proposal, reads,
//! checks its condition, proposes, and commits at the statement's
//! consistency. If a proposal may have been accepted without reaching a
//! quorum the client gets WriteTimeout CAS: its outcome is unknown until a
//! later Paxos round (an LWT or SERIAL read) decides it.
//!
//! # Faults
//!
//! [`SimCluster::replica_down`]/[`SimCluster::replica_up`] (the replica
//! misses writes meanwhile; no hints), and rules added with
//! [`Faults::inject`], see [`FaultKind`]: a dropped or delayed message in
//! any Paxos phase or plain read/write, a CAS write timeout after the
//! proposal was accepted by a quorum, one replica or none, a plain write
//! timeout, a read timeout, a connection closed before or after execution,
//! a slow response. Rules fire with a probability drawn from a seeded
//! generator ([`SimConfig::seed`]), a limited number of times, and only for
//! statements whose text contains a given string if asked; the control
//! connection's system queries are never faulted. [`Faults::log`] lists
//! what fired.
//!
//! # Looking at what a client sent
//!
//! [`SimCluster::received`] lists the user statements the coordinator
//! received (text, consistency, serial consistency), so a test can check
//! that a client asks for the levels it should and count what one
//! operation costs, e.g. the LWTs per compare-and-swap
//! ([`ReceivedStatement::is_conditional`]).
//!
//! ## Fault recipes
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::time::Duration;
//! use cql_sim::{Accepted, DropPoint, Fault, FaultKind, Phase, SimCluster, SimConfig};
//!
//! let sim = SimCluster::start(SimConfig { seed: 42, ..SimConfig::default() }).await.unwrap();
//! let faults = sim.faults();
//! // A replica down: QUORUM still works with 2 of 3; with 2 down, Unavailable.
//! sim.replica_down(1);
//! sim.replica_up(1);
//! // The next LWT on the roots table times out (WriteTimeout, write type CAS)
//! // after a quorum accepted its proposal: the next SERIAL read or LWT commits it.
//! faults.inject(Fault::new(FaultKind::CasWriteTimeout(Accepted::ByQuorum)).once().when_query_contains("accrete_roots"));
//! // ... or after no replica accepted it: it never happens.
//! faults.inject(Fault::new(FaultKind::CasWriteTimeout(Accepted::ByNone)).once());
//! // Lost and late Paxos messages (any phase; Phase::Write/Read for plain statements).
//! faults.inject(Fault::new(FaultKind::DropMessage(Phase::Propose)).on_replicas(&[1, 2]).times(2));
//! faults.inject(Fault::new(FaultKind::DelayMessage(Phase::Commit, Duration::from_millis(50))).with_probability(0.1));
//! // Read and plain write timeouts.
//! faults.inject(Fault::new(FaultKind::ReadTimeout).once());
//! faults.inject(Fault::new(FaultKind::WriteTimeout).once());
//! // The connection closes after the LWT applied, before the client hears it.
//! faults.inject(Fault::new(FaultKind::DropConnection(DropPoint::AfterExecute)).once().when_query_contains(" IF "));
//! // Slow responses, 5% of the time (drawn from the seed).
//! let slow = faults.inject(Fault::new(FaultKind::SlowResponse(Duration::from_millis(200))).with_probability(0.05));
//! faults.remove(slow);
//! faults.clear();
//! assert!(faults.log().is_empty(), "nothing ran, so nothing fired");
//! sim.shutdown().await;
//! # });
//! ```

mod cluster;
mod connection;
mod cql;
mod error;
mod exec;
mod faults;
mod handler;
mod journal;
mod local;
mod node;
mod protocol;
mod ring;
mod schema;
mod server;
mod sim;
mod store;
mod token;
mod types;

pub use error::{CqlError, WriteType};
pub use faults::{Accepted, DropPoint, Fault, FaultEvent, FaultId, FaultKind, Faults, Phase};
pub use journal::ReceivedStatement;
pub use local::{LocalError, LocalResult, LocalSession};
pub use protocol::Consistency;
pub use sim::{SimCluster, SimConfig};
pub use token::token_of;
pub use types::{CqlType, Double, Value};
