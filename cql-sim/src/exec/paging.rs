//! Paging states: where the previous page ended and how many rows the LIMIT
//! still allows. Opaque to the client; valid only for the same statement.

use crate::error::CqlError;
use crate::schema::TableDef;
use crate::store::{ClusteringKey, PartitionKey};
use crate::types::Value;

const VERSION: u8 = 1;

/// The position after which the next page starts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Cursor {
    pub(crate) key: PartitionKey,
    /// The last row returned; `None` when the whole partition was consumed.
    pub(crate) clustering: Option<ClusteringKey>,
    /// Rows the LIMIT still allows.
    pub(crate) remaining: Option<u32>,
}

impl Cursor {
    /// `[version][has clustering][remaining or -1][n][pk values...][n][ck values...]`
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION, u8::from(self.clustering.is_some())];
        let remaining = self.remaining.map_or(-1, i64::from);
        out.extend_from_slice(&remaining.to_be_bytes());
        put_values(&mut out, &self.key.values);
        put_values(&mut out, self.clustering.as_deref().unwrap_or_default());
        out
    }

    /// Decodes a paging state produced for a statement on `table`.
    pub(crate) fn decode(bytes: &[u8], table: &TableDef) -> Result<Cursor, CqlError> {
        let bad =
            || CqlError::Protocol("Invalid paging state: not produced for this statement".into());
        let mut rest = bytes;
        let header: [u8; 10] = take(&mut rest, 10)
            .and_then(|h| h.try_into().ok())
            .ok_or_else(bad)?;
        if header[0] != VERSION || header[1] > 1 {
            return Err(bad());
        }
        let remaining = i64::from_be_bytes(header[2..].try_into().map_err(|_| bad())?);
        let key_values = take_values(&mut rest, table, &table.partition_key).ok_or_else(bad)?;
        let clustering = take_values(&mut rest, table, &table.clustering).ok_or_else(bad)?;
        if !rest.is_empty() || key_values.len() != table.partition_key.len() {
            return Err(bad());
        }
        Ok(Cursor {
            key: PartitionKey::new(key_values),
            clustering: (header[1] == 1).then_some(clustering),
            remaining: u32::try_from(remaining).ok(),
        })
    }
}

fn put_values(out: &mut Vec<u8>, values: &[Value]) {
    out.extend_from_slice(
        &u16::try_from(values.len())
            .unwrap_or(u16::MAX)
            .to_be_bytes(),
    );
    for value in values {
        let bytes = value.to_bytes();
        out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(&bytes);
    }
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, tail) = rest.split_at_checked(n)?;
    *rest = tail;
    Some(head)
}

fn take_values(rest: &mut &[u8], table: &TableDef, columns: &[usize]) -> Option<Vec<Value>> {
    let count = usize::from(u16::from_be_bytes(take(rest, 2)?.try_into().ok()?));
    if count > columns.len() {
        return None;
    }
    let mut values = Vec::with_capacity(count);
    for column in &columns[..count] {
        let len = usize::try_from(u32::from_be_bytes(take(rest, 4)?.try_into().ok()?)).ok()?;
        values.push(table.columns[*column].ty.decode(take(rest, len)?).ok()?);
    }
    Some(values)
}
