//! `create-db`, `delete-db`, `list-dbs`: the catalog of a storage.

use crate::args::{DbArgs, ListArgs};
use crate::exit::Outcome;
use crate::storage::{open, open_db, open_db_creating};

pub(crate) async fn create(args: DbArgs) -> Outcome {
    let (storage, db) = open_db_creating(&args.uri).await?;
    let entry = index::create_db(&storage, &db).await?;
    println!("created database {db} ({})", entry.uuid);
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
    for (name, entry) in index::list_dbs(&storage).await? {
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
    model::edn::Instant(i64::try_from(ms).unwrap_or(i64::MAX)).to_string()
}
