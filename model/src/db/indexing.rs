//! What the indexing job needs: novelty in index order, the merged layers
//! for a new persistent index, and database values over a new persistent
//! layer.

use super::{Db, Novelty, State, View};
use crate::datom::{Datom, t_to_tx};
use crate::edn::Instant;
use crate::error::Result;
use crate::index::merge::{FactGroups, Merge, split_fact};
use crate::index::{DatomIter, Index, IndexStore, Layer};
use crate::log::TxLog;
use crate::schema::Schema;
use crate::schema::bootstrap as b;
use crate::value::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

impl Db {
    /// The novelty (datoms after the persistent layer's basis) up to and
    /// including `until_t`, assertions and retractions, in `index` order.
    pub fn novelty_datoms(&self, index: Index, until_t: u64) -> DatomIter<'_> {
        let novelty = &self.state.novelty;
        let from = Datom::new(0, 0, Value::MIN, 0, false);
        // The layers hold distinct datoms: a datom is current or history.
        let layers = vec![
            novelty.current.range(index, &from),
            novelty.history.range(index, &from),
        ];
        let until = t_to_tx(until_t);
        Box::new(
            crate::index::sorted::merged(index, layers)
                .filter(move |d| d.tx() <= until)
                .cloned()
                .map(Ok),
        )
    }

    /// One layer of the persistent index that covers everything up to and
    /// including `until_t`: the persistent layer merged with novelty. The
    /// history layer leaves out `:db/noHistory` attributes.
    pub fn indexed_layer(&self, index: Index, layer: Layer, until_t: u64) -> Result<DatomIter<'_>> {
        let from = Datom::new(0, 0, Value::MIN, 0, false);
        let mut sources = vec![self.novelty_datoms(index, until_t)];
        if !self.state.store.is_empty() {
            sources.push(self.state.store.seek(index, Layer::Current, &from)?);
            sources.push(self.state.store.seek(index, Layer::History, &from)?);
        }
        let as_of = Some(t_to_tx(until_t));
        let groups = FactGroups::new(Box::new(Merge::new(index, sources)));
        let schema = self.state.schema.clone();
        Ok(Box::new(groups.flat_map(move |group| {
            let picked: Vec<Result<Datom>> = match group {
                Err(e) => vec![Err(e)],
                Ok(group) => {
                    let (current, history) = split_fact(group, as_of);
                    match layer {
                        Layer::Current => current.into_iter().map(Ok).collect(),
                        Layer::History if keeps_history(&schema, &history) => {
                            history.into_iter().map(Ok).collect()
                        }
                        Layer::History => Vec::new(),
                    }
                }
            };
            picked
        })))
    }

    /// A database value over the persistent layer `store`, with the log
    /// entries after its basis (`later`, in t order) as novelty.
    pub fn from_store(
        store: Arc<dyn IndexStore>,
        later: impl IntoIterator<Item = TxLog>,
    ) -> Result<Db> {
        let basis_t = store.basis_t().unwrap_or(0);
        let state = State {
            next_t: store.next_t(),
            store,
            novelty: Novelty::default(),
            // The built-ins, even those added after the stored index was
            // written (`:tx/id`), then what the index holds on top.
            schema: Arc::new(Schema::bootstrap(&b::bootstrap_tx())),
            basis_t,
            last_instant: Instant(i64::MIN),
        };
        let mut db = Db {
            state: Arc::new(state),
            view: View::default(),
        };
        db.load_schema()?;
        for entry in later {
            if entry.t > basis_t {
                db = db.apply(&entry, true)?;
            }
        }
        Ok(db)
    }

    /// This value over a newer persistent layer: novelty up to the layer's
    /// basis is dropped, later novelty kept. The result reads the same.
    pub fn rebase(&self, store: Arc<dyn IndexStore>) -> Result<Db> {
        let from = store.basis_t().map_or(0, |t| t + 1);
        let later = self
            .state
            .novelty
            .log
            .range(from..)
            .map(|(_, bytes)| crate::codec::decode_tx_log(bytes));
        let later = later.collect::<Result<Vec<TxLog>>>()?;
        let db = Db::from_store(store, later)?;
        Ok(Db {
            view: self.view.clone(),
            ..db
        })
    }

    /// Derives the schema cache and the last tx instant from the persistent layer.
    fn load_schema(&mut self) -> Result<()> {
        let mut entities = BTreeSet::new();
        let mut partitions = Vec::new();
        for a in std::iter::once(b::IDENT)
            .chain(b::VALUE_TYPE..=b::TUPLE_TYPES)
            .chain([b::INSTALL_PARTITION])
        {
            for d in self.datoms(Index::Aevt, &[Value::Ref(a)])? {
                let d = d?;
                match d.v().as_ref_id() {
                    Some(p) if a == b::INSTALL_PARTITION => partitions.push(p),
                    _ => {
                        entities.insert(d.e());
                    }
                }
            }
        }
        let tx = t_to_tx(self.state.basis_t);
        let instant = self
            .datoms(Index::Eavt, &[Value::Ref(tx), Value::Ref(b::TX_INSTANT)])?
            .next()
            .transpose()?;
        let state = Arc::make_mut(&mut self.state);
        let schema = Arc::make_mut(&mut state.schema);
        for p in partitions {
            schema.set_partition(p, true);
        }
        if let Some(Value::Instant(i)) = instant.as_ref().map(Datom::v) {
            state.last_instant = *i;
        }
        self.refresh_schema(&entities)
            .map_err(|message| crate::error::Error::Replay {
                t: self.state.basis_t,
                message,
            })
    }
}

/// False for facts of `:db/noHistory` attributes.
fn keeps_history(schema: &Schema, history: &[Datom]) -> bool {
    history
        .first()
        .is_none_or(|d| schema.attribute(d.a()).is_none_or(|a| !a.no_history))
}
