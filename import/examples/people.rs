//! Writes the sample import file of the benchmark and the import figures:
//! the schema's vector, then `N` people (about ten datoms each: id, name,
//! email, age, salary, three friends and a manager) as one vector of maps.
//!
//! ```text
//! cargo run --release -p import --example people -- 200000 /tmp/people.edn
//! accrete create-db 'file:///tmp/store?db=people'
//! accrete import 'file:///tmp/store?db=people' /tmp/people.edn
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [people, path] = args.as_slice() else {
        eprintln!("usage: people N FILE  (writes N people as EDN tx data to FILE)");
        return ExitCode::from(1);
    };
    let Ok(people) = people.parse::<u64>() else {
        eprintln!("N must be a whole number of people, not `{people}`");
        return ExitCode::from(1);
    };
    match std::fs::write(path, import::sample::people_edn(people)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cannot write {path}: {e}");
            ExitCode::from(2)
        }
    }
}
