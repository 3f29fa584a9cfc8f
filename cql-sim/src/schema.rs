//! The cluster's schema: keyspaces and tables. Schema changes reach every
//! replica at once (the simulator does not model schema disagreement).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::cql::ast::{CreateKeyspace, CreateTable};
use crate::error::CqlError;
use crate::protocol::SchemaChange;
use crate::types::CqlType;

/// Identifies a table's data; a dropped and re-created table gets a new id.
pub(crate) type TableId = [u8; 16];

/// The role of a column in its table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ColumnKind {
    PartitionKey,
    Clustering,
    Regular,
}

/// One column of a table.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ColumnDef {
    pub(crate) name: String,
    pub(crate) ty: CqlType,
    pub(crate) kind: ColumnKind,
}

/// A table definition.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TableDef {
    pub(crate) id: TableId,
    pub(crate) keyspace: String,
    pub(crate) name: String,
    /// In definition order.
    pub(crate) columns: Vec<ColumnDef>,
    /// Indexes into `columns`, in key order.
    pub(crate) partition_key: Vec<usize>,
    pub(crate) clustering: Vec<usize>,
}

impl TableDef {
    /// Builds a table from a `CREATE TABLE`, checking its primary key.
    pub(crate) fn from_create(keyspace: &str, create: &CreateTable) -> Result<TableDef, CqlError> {
        let mut columns: Vec<ColumnDef> = Vec::new();
        for (name, ty) in &create.columns {
            if columns.iter().any(|c| &c.name == name) {
                return Err(CqlError::invalid(format!(
                    "Multiple definition of identifier {name}"
                )));
            }
            columns.push(ColumnDef {
                name: name.clone(),
                ty: ty.clone(),
                kind: ColumnKind::Regular,
            });
        }
        let mut table = TableDef {
            id: *uuid::Uuid::new_v4().as_bytes(),
            keyspace: keyspace.to_owned(),
            name: create.table.name.clone(),
            columns,
            partition_key: Vec::new(),
            clustering: Vec::new(),
        };
        table.partition_key = table.mark_keys(&create.partition_key, ColumnKind::PartitionKey)?;
        table.clustering = table.mark_keys(&create.clustering, ColumnKind::Clustering)?;
        Ok(table)
    }

    fn mark_keys(&mut self, names: &[String], kind: ColumnKind) -> Result<Vec<usize>, CqlError> {
        let mut indexes = Vec::new();
        for name in names {
            let index = self.column(name).ok_or_else(|| {
                CqlError::invalid(format!(
                    "Unknown definition {name} referenced in PRIMARY KEY"
                ))
            })?;
            if self.columns[index].kind != ColumnKind::Regular {
                return Err(CqlError::invalid(format!(
                    "Duplicate definition {name} in PRIMARY KEY"
                )));
            }
            self.columns[index].kind = kind;
            indexes.push(index);
        }
        Ok(indexes)
    }

    /// The index of a column by name.
    pub(crate) fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The index of a column, or Cassandra's "Undefined column name" error.
    pub(crate) fn require_column(&self, name: &str) -> Result<usize, CqlError> {
        self.column(name).ok_or_else(|| {
            CqlError::invalid(format!(
                "Undefined column name {name} in table {}.{}",
                self.keyspace, self.name
            ))
        })
    }

    /// The columns of `SELECT *`: partition key, clustering, then the other
    /// columns in alphabetical order (Cassandra's order).
    pub(crate) fn star_order(&self) -> Vec<usize> {
        let mut regular: Vec<usize> = (0..self.columns.len())
            .filter(|i| self.columns[*i].kind == ColumnKind::Regular)
            .collect();
        regular.sort_by(|a, b| self.columns[*a].name.cmp(&self.columns[*b].name));
        self.partition_key
            .iter()
            .chain(&self.clustering)
            .copied()
            .chain(regular)
            .collect()
    }

    /// Whether a column is part of the primary key.
    pub(crate) fn is_key(&self, index: usize) -> bool {
        self.columns[index].kind != ColumnKind::Regular
    }
}

/// A keyspace and its tables.
#[derive(Clone, Debug)]
pub(crate) struct KeyspaceDef {
    pub(crate) name: String,
    pub(crate) replication: BTreeMap<String, String>,
    pub(crate) durable_writes: bool,
    pub(crate) tables: BTreeMap<String, Arc<TableDef>>,
}

/// The user keyspaces of the cluster and the schema version.
#[derive(Debug)]
pub(crate) struct Schema {
    pub(crate) keyspaces: BTreeMap<String, KeyspaceDef>,
    pub(crate) version: [u8; 16],
}

/// Keyspaces the simulator serves itself and users cannot change.
pub(crate) const SYSTEM_KEYSPACES: [&str; 2] = ["system", "system_schema"];

impl Default for Schema {
    fn default() -> Self {
        Schema {
            keyspaces: BTreeMap::new(),
            version: *uuid::Uuid::new_v4().as_bytes(),
        }
    }
}

impl Schema {
    /// A table by keyspace and name, with Cassandra's errors when missing.
    pub(crate) fn table(&self, keyspace: &str, name: &str) -> Result<Arc<TableDef>, CqlError> {
        let ks = self.keyspace(keyspace)?;
        ks.tables
            .get(name)
            .cloned()
            .ok_or_else(|| CqlError::invalid(format!("unconfigured table {name}")))
    }

    /// A keyspace by name.
    pub(crate) fn keyspace(&self, name: &str) -> Result<&KeyspaceDef, CqlError> {
        self.keyspaces
            .get(name)
            .ok_or_else(|| CqlError::invalid(format!("Keyspace '{name}' does not exist")))
    }

    fn bump_version(&mut self) {
        self.version = *uuid::Uuid::new_v4().as_bytes();
    }

    /// `CREATE KEYSPACE`; `None` when it existed and `IF NOT EXISTS` was given.
    pub(crate) fn create_keyspace(
        &mut self,
        create: &CreateKeyspace,
    ) -> Result<Option<SchemaChange>, CqlError> {
        check_name(&create.name, "keyspace")?;
        if SYSTEM_KEYSPACES.contains(&create.name.as_str())
            || self.keyspaces.contains_key(&create.name)
        {
            if create.if_not_exists {
                return Ok(None);
            }
            return Err(CqlError::AlreadyExists {
                message: format!("Keyspace {} already exists", create.name),
                keyspace: create.name.clone(),
                table: String::new(),
            });
        }
        if !create.replication.contains_key("class") {
            return Err(CqlError::Syntax(
                "Missing replication strategy class".into(),
            ));
        }
        self.keyspaces.insert(
            create.name.clone(),
            KeyspaceDef {
                name: create.name.clone(),
                replication: create.replication.clone(),
                durable_writes: create.durable_writes,
                tables: BTreeMap::new(),
            },
        );
        self.bump_version();
        Ok(Some(SchemaChange {
            change: "CREATED",
            keyspace: create.name.clone(),
            table: None,
        }))
    }

    /// `CREATE TABLE`; `None` when it existed and `IF NOT EXISTS` was given.
    pub(crate) fn create_table(
        &mut self,
        keyspace: &str,
        create: &CreateTable,
    ) -> Result<Option<SchemaChange>, CqlError> {
        check_name(&create.table.name, "table")?;
        let table = TableDef::from_create(keyspace, create)?;
        let ks = self.keyspace_mut(keyspace)?;
        if ks.tables.contains_key(&table.name) {
            if create.if_not_exists {
                return Ok(None);
            }
            return Err(CqlError::AlreadyExists {
                message: format!("Table {keyspace}.{} already exists", table.name),
                keyspace: keyspace.to_owned(),
                table: table.name.clone(),
            });
        }
        let name = table.name.clone();
        ks.tables.insert(name.clone(), Arc::new(table));
        self.bump_version();
        Ok(Some(SchemaChange {
            change: "CREATED",
            keyspace: keyspace.to_owned(),
            table: Some(name),
        }))
    }

    /// `DROP TABLE`: the dropped table, or `None` with `IF EXISTS`.
    pub(crate) fn drop_table(
        &mut self,
        keyspace: &str,
        name: &str,
        if_exists: bool,
    ) -> Result<Option<Arc<TableDef>>, CqlError> {
        let dropped = match self.keyspaces.get_mut(keyspace) {
            Some(ks) => ks.tables.remove(name),
            None if if_exists => return Ok(None),
            None => {
                return Err(CqlError::invalid(format!(
                    "Keyspace '{keyspace}' does not exist"
                )));
            }
        };
        if dropped.is_none() && !if_exists {
            return Err(CqlError::invalid(format!(
                "Table '{keyspace}.{name}' doesn't exist"
            )));
        }
        if dropped.is_some() {
            self.bump_version();
        }
        Ok(dropped)
    }

    /// `DROP KEYSPACE`: the dropped keyspace, or `None` with `IF EXISTS`.
    pub(crate) fn drop_keyspace(
        &mut self,
        name: &str,
        if_exists: bool,
    ) -> Result<Option<KeyspaceDef>, CqlError> {
        if SYSTEM_KEYSPACES.contains(&name) {
            return Err(CqlError::invalid(format!(
                "{name} keyspace is not user-modifiable"
            )));
        }
        let dropped = self.keyspaces.remove(name);
        if dropped.is_none() && !if_exists {
            return Err(CqlError::invalid(format!(
                "Keyspace '{name}' doesn't exist"
            )));
        }
        if dropped.is_some() {
            self.bump_version();
        }
        Ok(dropped)
    }

    fn keyspace_mut(&mut self, name: &str) -> Result<&mut KeyspaceDef, CqlError> {
        if SYSTEM_KEYSPACES.contains(&name) {
            return Err(CqlError::invalid(format!(
                "{name} keyspace is not user-modifiable"
            )));
        }
        self.keyspaces
            .get_mut(name)
            .ok_or_else(|| CqlError::invalid(format!("Keyspace '{name}' does not exist")))
    }
}

/// Cassandra's rule for keyspace and table names.
fn check_name(name: &str, what: &str) -> Result<(), CqlError> {
    let valid = !name.is_empty()
        && name.len() <= 48
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(CqlError::invalid(format!(
            "{what} name must not be empty, more than 48 characters long, or contain non-alphanumeric-underscore characters (got \"{name}\")"
        )))
    }
}
