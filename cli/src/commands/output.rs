//! `--format edn|json|table`: machine-readable output of the reading
//! commands, beside their default (readable, line by line) output.
//!
//! - `edn`: the whole answer as one EDN value (a vector of rows, a map…).
//! - `json`: the same value in the JSON mapping of `model::json` (the one
//!   the HTTP API speaks): keywords as `{"~kw": ":a/b"}`, big numbers,
//!   instants and the rest as tagged one-key objects, so a JSON client
//!   reads back exactly the values EDN would give.
//! - `table`: aligned columns with a header, for people.

use std::io::{BufWriter, Write};

use clap::ValueEnum;
use model::edn::Edn;

/// How a reading command prints its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// The whole answer as one EDN value.
    Edn,
    /// The whole answer as one JSON value (model::json mapping).
    Json,
    /// Aligned columns with a header.
    Table,
}

/// Prints `value` (the whole answer) in `format`; `columns` names the
/// cells of each row for `table` (rows are the items of a vector or set,
/// each a vector of cells; rows that are maps name their own columns).
pub(crate) fn print(format: Format, value: &Edn, columns: &[String]) {
    let text = match format {
        Format::Edn => format!("{value}\n"),
        Format::Json => format!("{}\n", model::json::to_string(value)),
        Format::Table => table(value, columns),
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    // A closed stdout (`| head`) has nowhere to report to.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// The rows of `value` as cells under `columns` (found from map keys when
/// `columns` is empty), aligned.
fn table(value: &Edn, columns: &[String]) -> String {
    let items: Vec<&Edn> = match value {
        Edn::Vector(items) | Edn::List(items) => items.iter().collect(),
        Edn::Set(items) => items.iter().collect(),
        Edn::Nil => Vec::new(),
        one => vec![one],
    };
    // Rows that are maps (return maps, pulls, list-dbs) name their own
    // columns.
    let maps = items.iter().any(|item| matches!(item, Edn::Map(_)));
    let mut header: Vec<String> = match maps {
        true => Vec::new(),
        false => columns.to_vec(),
    };
    if maps {
        for item in &items {
            if let Edn::Map(map) = item {
                for key in map.keys() {
                    let key = key.to_string();
                    if !header.contains(&key) {
                        header.push(key);
                    }
                }
            }
        }
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| match item {
            Edn::Vector(cells) => cells.iter().map(cell).collect(),
            Edn::Map(map) => header
                .iter()
                .map(|h| {
                    map.iter()
                        .find(|(k, _)| k.to_string() == *h)
                        .map_or_else(String::new, |(_, v)| cell(v))
                })
                .collect(),
            other => vec![cell(other)],
        })
        .collect();
    if header.is_empty() {
        let width = rows.iter().map(Vec::len).max().unwrap_or(1);
        header = (1..=width).map(|i| format!("col{i}")).collect();
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, c) in row.iter().enumerate() {
            if i >= widths.len() {
                widths.push(0);
            }
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let c = cells.get(i).map_or("", String::as_str);
                format!("{c:<w$}")
            })
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(&header);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&line(&rule));
    for row in &rows {
        out.push_str(&line(row));
    }
    out
}

/// A cell: strings without quotes, everything else as EDN.
fn cell(value: &Edn) -> String {
    match value {
        Edn::String(s) => s.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_rows_and_maps() {
        let rows = Edn::Vector(vec![
            Edn::Vector(vec![Edn::string("Ada"), Edn::Long(2)]),
            Edn::Vector(vec![Edn::string("Edward"), Edn::Long(10)]),
        ]);
        let text = table(&rows, &["?name".to_string(), "?n".to_string()]);
        assert_eq!(text, "?name   ?n\n------  --\nAda     2\nEdward  10\n");
        let maps = Edn::Vector(vec![Edn::Map(
            [(Edn::keyword(":a"), Edn::Long(1))].into_iter().collect(),
        )]);
        assert_eq!(table(&maps, &["ignored".to_string()]), ":a\n--\n1\n");
        assert_eq!(table(&Edn::Nil, &["x".to_string()]), "x\n-\n");
    }
}
