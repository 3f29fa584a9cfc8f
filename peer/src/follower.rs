//! The follower: the one task per connection that moves its database value
//! forward. It reaches the transactor the lease advertises, subscribes to
//! committed transactions from the t after its basis, applies each and
//! publishes the reports; when the transactor goes away it follows the log
//! in storage and tries again, so nothing is missed and nothing is applied
//! twice (entries at or before the basis are skipped). It also reads the
//! log root now and then to move onto newer index roots.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use index::{DurableStore, LogRoot, Segments, log_root_name};
use model::{Db, IndexStore, TxLog};
use storage_core::{DbName, SegmentId};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use transactor::client::{Client, Subscription};
use uuid::Uuid;

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::hub::Hub;
use crate::replay;

/// Most entries applied (and published) as one batch.
const MAX_BATCH: usize = 256;

/// The span of t read from storage at once while catching up.
const CATCH_UP_SPAN: u64 = 1 << 16;

/// The first pause before trying a transactor again.
const FIRST_RETRY: Duration = Duration::from_millis(50);

/// The transactor a connection talks to now.
#[derive(Clone, Debug)]
pub(crate) struct Link {
    /// Tells links apart (one more for every connection made).
    pub(crate) id: u64,
    pub(crate) client: Arc<Client>,
}

/// What the connection shares with its follower besides the hub.
#[derive(Debug)]
pub(crate) struct Wiring {
    /// The link the follower publishes.
    pub(crate) link: watch::Sender<Option<Link>>,
    /// A link id its users found broken (the follower drops that link).
    pub(crate) kick: watch::Receiver<Option<u64>>,
    pub(crate) stop: CancellationToken,
}

/// The database a follower follows.
#[derive(Debug)]
pub(crate) struct Followed {
    pub(crate) seg: Segments,
    pub(crate) name: DbName,
    pub(crate) uuid: Uuid,
    /// The index root under the opening value.
    pub(crate) index: Option<SegmentId>,
}

/// Why following through a link ended.
enum Ended {
    /// The connection was released.
    Stopped,
    /// The link broke or must be replaced; reconnect.
    Broken(Error),
}

/// The task state.
pub(crate) struct Follower {
    followed: Followed,
    hub: Arc<Hub>,
    wiring: Wiring,
    config: Config,
    db: Db,
    next_link: u64,
    /// Novelty when the log root was last read.
    checked_novelty: usize,
    /// The root's basis at the last poll, when the value was short of it.
    awaited: Option<u64>,
}

impl Follower {
    pub(crate) fn new(followed: Followed, hub: Arc<Hub>, wiring: Wiring, config: Config) -> Self {
        let db = hub.db();
        Follower {
            checked_novelty: db.novelty_len(),
            awaited: None,
            followed,
            hub,
            wiring,
            config,
            db,
            next_link: 1,
        }
    }

    /// Follows until the connection is released or a failure no retry can
    /// cure (the database is gone or its data is corrupt).
    pub(crate) async fn run(mut self) {
        let why = self.follow_and_retry().await;
        self.wiring.link.send_replace(None);
        tracing::debug!(db = %self.followed.name, reason = %why, "peer stopped following");
        self.hub.end(&why);
    }

    async fn follow_and_retry(&mut self) -> Error {
        let mut retry = FIRST_RETRY;
        loop {
            let broken = match self.connect().await {
                Ok(link) => {
                    retry = FIRST_RETRY;
                    let broken = match self.follow(link).await {
                        Ended::Stopped => return closed(),
                        Ended::Broken(e) => e,
                    };
                    tracing::info!(db = %self.followed.name, reason = %broken, "peer lost the transactor stream; following storage until it is back");
                    broken
                }
                Err(e) => e,
            };
            self.wiring.link.send_replace(None);
            if is_final(&broken) {
                return broken;
            }
            tracing::debug!(db = %self.followed.name, reason = %broken, "no transactor stream; following storage");
            if let Err(e) = self.catch_up_from_storage().await {
                if is_final(&e) {
                    return e;
                }
                tracing::debug!(db = %self.followed.name, error = %e, "catching up from storage failed");
            }
            tokio::select! {
                () = tokio::time::sleep(retry) => {}
                () = self.wiring.stop.cancelled() => return closed(),
            }
            retry = (retry * 2).min(self.config.reconnect_delay);
        }
    }

    /// Reaches the transactor the lease advertises.
    async fn connect(&mut self) -> Result<Link> {
        let seg = &self.followed.seg;
        let connecting = self.config.connector.connect_to_lease(
            seg.storage.as_ref(),
            &self.followed.name,
            self.followed.uuid,
        );
        let client = tokio::select! {
            client = connecting => client?,
            () = self.wiring.stop.cancelled() => return Err(closed()),
        };
        let link = Link {
            id: self.next_link,
            client: Arc::new(client),
        };
        self.next_link += 1;
        tracing::info!(db = %self.followed.name, endpoint = link.client.endpoint(), epoch = link.client.welcome().epoch, "peer connected to the transactor");
        Ok(link)
    }

    /// Applies the transactor's stream until it ends or must be replaced.
    async fn follow(&mut self, link: Link) -> Ended {
        let epoch = link.client.welcome().epoch;
        let mut stream = match link.client.subscribe(self.db.basis_t() + 1).await {
            Ok(stream) => stream,
            Err(e) => return Ended::Broken(e.into()),
        };
        self.wiring.link.send_replace(Some(link.clone()));
        self.awaited = None;
        let mut poll = tokio::time::interval(self.config.root_poll);
        poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut kick = self.wiring.kick.clone();
        loop {
            let step = tokio::select! {
                biased;
                () = self.wiring.stop.cancelled() => return Ended::Stopped,
                kicked = kick.changed() => match kicked {
                    // The connection's handles are gone.
                    Err(_) => return Ended::Stopped,
                    Ok(()) if *kick.borrow_and_update() == Some(link.id) => Err(Error::new(
                        ErrorKind::Unavailable,
                        "a request found the transactor link broken",
                    )),
                    Ok(()) => Ok(()),
                },
                first = stream.next() => self.take_batch(first, &mut stream).await,
                _ = poll.tick() => self.poll(epoch).await,
            };
            if let Err(e) = step {
                return Ended::Broken(e);
            }
            let grown =
                self.db.novelty_len() >= self.checked_novelty + self.config.root_check_datoms;
            if grown && let Err(e) = self.check_root(epoch).await {
                return Ended::Broken(e);
            }
        }
    }

    /// Applies `first` and whatever else the stream has ready.
    async fn take_batch(
        &mut self,
        first: transactor::Result<TxLog>,
        stream: &mut Subscription,
    ) -> Result<()> {
        let mut batch = vec![first?];
        let mut ended = None;
        while batch.len() < MAX_BATCH {
            match stream.next().now_or_never() {
                Some(Ok(entry)) => batch.push(entry),
                Some(Err(e)) => {
                    ended = Some(e);
                    break;
                }
                None => break,
            }
        }
        self.apply(batch).await?;
        match ended {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// Applies committed entries (in t order) and publishes their reports.
    async fn apply(&mut self, entries: Vec<TxLog>) -> Result<()> {
        let db = self.db.clone();
        let (reports, failure) = blocking(move || Ok(replay::apply_entries(&db, entries))).await?;
        if let Some(last) = reports.last() {
            self.db = last.db_after.clone();
            self.hub.publish(reports)?;
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Applies what the log in storage has beyond the basis, then follows
    /// its index.
    async fn catch_up_from_storage(&mut self) -> Result<()> {
        let root = self.read_root().await?;
        let mut from = self.db.basis_t() + 1;
        while from <= root.basis_t {
            let until = from.saturating_add(CATCH_UP_SPAN).min(root.basis_t + 1);
            let entries = index::read_log(&self.followed.seg, &root, from, Some(until)).await?;
            self.apply(entries).await?;
            from = until;
        }
        if self.db.basis_t() < root.basis_t {
            return Err(Error::corruption(format!(
                "the log in storage ends at t {} but replays only to t {}",
                root.basis_t,
                self.db.basis_t()
            )));
        }
        self.follow_index(&root).await
    }

    /// On every poll of the root: [`Follower::check_root`], and a stream
    /// that stalled (a connection that died without closing): the value is
    /// still short of the t storage had at the previous poll.
    async fn poll(&mut self, epoch: u64) -> Result<()> {
        let root = self.check_root(epoch).await?;
        let basis = self.db.basis_t();
        if let Some(t) = self.awaited.filter(|t| basis < *t) {
            return Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "the transactor's stream stalled: storage had t {t} a poll ({:?}) ago and this peer is at t {basis}",
                    self.config.root_poll
                ),
            ));
        }
        self.awaited = (root.basis_t > basis).then_some(root.basis_t);
        Ok(())
    }

    /// Reads the log root: a transactor of a newer epoch than the one
    /// connected (`epoch`) means that one was replaced; a newer index root
    /// is moved onto.
    async fn check_root(&mut self, epoch: u64) -> Result<LogRoot> {
        let root = self.read_root().await?;
        self.checked_novelty = self.db.novelty_len();
        if root.epoch > epoch {
            return Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "the transactor of epoch {epoch} was replaced by one of epoch {}",
                    root.epoch
                ),
            ));
        }
        self.follow_index(&root).await?;
        Ok(root)
    }

    /// Moves the value onto `root`'s index root when it is newer and covers
    /// nothing after the value's basis (else a later check does it).
    async fn follow_index(&mut self, root: &LogRoot) -> Result<()> {
        let Some(id) = root.index else { return Ok(()) };
        if self.followed.index == Some(id) {
            return Ok(());
        }
        let store = DurableStore::load(&self.followed.seg, id, root).await?;
        if store.basis_t() > Some(self.db.basis_t()) {
            return Ok(());
        }
        let db = self.db.clone();
        let store: Arc<dyn IndexStore> = store;
        let rebased = blocking(move || replay::rebase(&db, store)).await?;
        tracing::debug!(
            db = %self.followed.name,
            index = %id,
            basis_t = rebased.basis_t(),
            novelty_before = self.db.novelty_len(),
            novelty_after = rebased.novelty_len(),
            "peer moved onto a newer index"
        );
        self.hub.rebase(rebased.clone())?;
        self.db = rebased;
        self.followed.index = Some(id);
        self.checked_novelty = self.db.novelty_len();
        Ok(())
    }

    async fn read_root(&self) -> Result<LogRoot> {
        let followed = &self.followed;
        read_log_root(&followed.seg, &followed.name, followed.uuid).await
    }
}

/// A linearizable read of the log root of database `name`, checked to be
/// of the database (`uuid`) a connection opened.
pub(crate) async fn read_log_root(seg: &Segments, name: &DbName, uuid: Uuid) -> Result<LogRoot> {
    let root_name = log_root_name(name);
    let stored = seg.storage.read_root(&root_name).await?.ok_or_else(|| {
        Error::new(
            ErrorKind::NotFound,
            format!("database `{name}` has no log root any more"),
        )
    })?;
    let root = LogRoot::decode(&root_name, stored.value.data())?;
    if root.db_uuid != uuid {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!("database `{name}` was replaced by another of the same name"),
        ));
    }
    Ok(root)
}

/// Failures that reconnecting cannot cure.
fn is_final(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::NotFound | ErrorKind::Corruption | ErrorKind::Closed | ErrorKind::Internal
    )
}

fn closed() -> Error {
    Error::new(ErrorKind::Closed, "the connection was released")
}

/// Runs `work` on the blocking pool (database reads may block on storage).
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            format!("a blocking read of the peer failed: {e}"),
        )
    })?
}
