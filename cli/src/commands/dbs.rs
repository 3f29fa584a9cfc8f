//! `create-db`, `delete-db`, `list-dbs`: the catalog of a storage.

use model::edn::Edn;

use crate::args::{DbArgs, ListArgs};
use crate::exit::Outcome;
use crate::storage::{open, open_db, open_db_creating};

pub(crate) async fn create(args: DbArgs) -> Outcome {
    let (storage, db) = open_db_creating(&args.uri).await?;
    let entry = index::create_db(&storage, &db).await?;
    println!("created database {db} ({})", entry.uuid);
    if storage.backend() == "mem" {
        eprintln!(
            "accrete create-db: note: a mem:// storage lives only inside one process, so `{db}` is gone now that this command exits; use file:PATH?db={db} (or postgres://, cassandra://) for a database that stays"
        );
    }
    Ok(())
}

pub(crate) async fn delete(args: DbArgs) -> Outcome {
    let (storage, db) = open_db(&args.uri).await?;
    index::delete_db(&storage, &db).await?;
    println!("deleted database {db}");
    Ok(())
}

pub(crate) async fn list(args: ListArgs) -> Outcome {
    let (storage, _) = open(&args.uri).await?;
    let dbs = index::list_dbs(&storage).await?;
    if let Some(format) = args.format {
        let rows = dbs
            .iter()
            .map(|(name, entry)| {
                Edn::Map(
                    [
                        (Edn::keyword(":name"), Edn::string(name)),
                        (Edn::keyword(":uuid"), Edn::Uuid(entry.uuid)),
                        (
                            Edn::keyword(":created-at"),
                            Edn::Inst(instant(entry.created_at_ms)),
                        ),
                    ]
                    .into_iter()
                    .collect(),
                )
            })
            .collect();
        let columns = [":name", ":uuid", ":created-at"].map(str::to_string);
        super::output::print(format, &Edn::Vector(rows), &columns);
        return Ok(());
    }
    for (name, entry) in dbs {
        match args.long {
            true => println!(
                "{name}\t{}\t{}",
                entry.uuid,
                created_at(entry.created_at_ms)
            ),
            false => println!("{name}"),
        }
    }
    Ok(())
}

/// A creation time as an instant (`2024-01-01T00:00:00.000Z`).
fn created_at(ms: u64) -> String {
    instant(ms).to_string()
}

fn instant(ms: u64) -> model::edn::Instant {
    model::edn::Instant(i64::try_from(ms).unwrap_or(i64::MAX))
}
