//! `datoms`: the datoms of one index of a database value, printed as EDN
//! vectors `[e :attribute value tx added]`.

use std::io::{BufWriter, Write};

use model::edn::{self, Edn};
use model::{Datom, Db, Index, Value};

use super::output;
use super::value::{blocking, latest, view};
use crate::args::{DatomsArgs, IndexArg};
use crate::exit::{Failure, Outcome};

pub(crate) async fn run(args: DatomsArgs) -> Outcome {
    let db = latest(&args.uri).await?;
    blocking("reading datoms", move || print(&db, &args)).await
}

fn print(db: &Db, args: &DatomsArgs) -> Outcome {
    let view = view(db, &args.time)?;
    let index = match args.index {
        IndexArg::Eavt => Index::Eavt,
        IndexArg::Aevt => Index::Aevt,
        IndexArg::Avet => Index::Avet,
        IndexArg::Vaet => Index::Vaet,
    };
    let Some(components) = components(&view, index, &args.components)? else {
        return Ok(()); // a lookup ref that matches nothing: no datoms
    };
    let datoms = view.datoms(index, &components)?;
    if let Some(format) = args.format {
        let mut rows = Vec::new();
        for datom in datoms.take(args.limit.unwrap_or(usize::MAX)) {
            rows.push(as_edn(db, &datom?));
        }
        let columns = ["e", "a", "v", "tx", "added"].map(str::to_string);
        output::print(format, &Edn::Vector(rows), &columns);
        return Ok(());
    }
    let mut out = BufWriter::new(std::io::stdout().lock());
    for datom in datoms.take(args.limit.unwrap_or(usize::MAX)) {
        let line = render(db, &datom?);
        if writeln!(out, "{line}").is_err() {
            return Ok(()); // stdout closed (e.g. `| head`): stop quietly
        }
    }
    let _ = out.flush();
    Ok(())
}

/// The components as values in index order; `None` when a lookup ref
/// names no entity (so nothing can match).
fn components(db: &Db, index: Index, given: &[String]) -> Outcome<Option<Vec<Value>>> {
    let slots: [char; 4] = match index {
        Index::Eavt => ['e', 'a', 'v', 't'],
        Index::Aevt => ['a', 'e', 'v', 't'],
        Index::Avet => ['a', 'v', 'e', 't'],
        Index::Vaet => ['v', 'a', 'e', 't'],
    };
    if given.len() > 4 {
        return Err(Failure::invalid(format!(
            "an index has 4 components, got {}",
            given.len()
        )));
    }
    let parsed = given
        .iter()
        .map(|text| {
            edn::parse(text).map_err(|e| Failure::invalid(format!("component `{text}`: {e}")))
        })
        .collect::<Outcome<Vec<Edn>>>()?;
    let attribute = slots
        .iter()
        .zip(&parsed)
        .find(|(slot, _)| **slot == 'a')
        .map(|(_, edn)| db.entid(edn))
        .transpose()?
        .flatten();
    let mut values = Vec::with_capacity(parsed.len());
    for (slot, edn) in slots.iter().zip(&parsed) {
        let value = match slot {
            'v' if index != Index::Vaet => value(db, attribute, edn)?,
            _ => match db.entid(edn)? {
                Some(e) => Value::Ref(e),
                None if matches!(edn, Edn::Vector(_)) => return Ok(None),
                None => return Err(Failure::invalid(format!("`{edn}` names no entity"))),
            },
        };
        values.push(value);
    }
    Ok(Some(values))
}

/// A value position: typed by its attribute when there is one.
fn value(db: &Db, attribute: Option<u64>, edn: &Edn) -> Outcome<Value> {
    let resolve = |e: &Edn| -> Result<u64, String> {
        db.entid(e)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("`{e}` names no entity"))
    };
    let Some(attr) = attribute.and_then(|a| db.attribute(a)) else {
        return Err(Failure::invalid(format!(
            "the value `{edn}` needs an attribute component before it"
        )));
    };
    Value::from_edn(attr.value_type, attr.tuple.as_ref(), edn, &resolve)
        .map_err(|e| Failure::invalid(format!("value for {}: {e}", attr.ident)))
}

/// `[e :attribute value tx added]` as one EDN value.
fn as_edn(db: &Db, d: &Datom) -> Edn {
    let attribute = db
        .ident(d.a())
        .map_or_else(|| Edn::Long(d.a() as i64), |k| Edn::Keyword(k.clone()));
    Edn::Vector(vec![
        Edn::Long(d.e() as i64),
        attribute,
        d.v().to_edn(),
        Edn::Long(d.tx() as i64),
        Edn::Boolean(d.added()),
    ])
}

/// `[e :attribute value tx added]`, the attribute by its ident.
fn render(db: &Db, d: &Datom) -> String {
    let attribute = db
        .ident(d.a())
        .map_or_else(|| d.a().to_string(), |k| k.to_string());
    format!("[{} {attribute} {} {} {}]", d.e(), d.v(), d.tx(), d.added())
}
