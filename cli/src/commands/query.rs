//! `q` and `pull`: Datalog queries and pulls (the `query` crate) against
//! the latest database value in storage, printed as EDN.
//!
//! The query, its inputs and the rules are read and parsed before storage
//! is contacted, so a typo costs no round trip.

use std::fmt::Display;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use model::Value;
use model::edn::{self, Edn};
use query::{Found, Input, PullPattern, Query, QueryResult, Rules, Shape};

use super::output;
use super::value::{blocking, latest, view};
use crate::args::{PullArgs, QueryArgs};
use crate::exit::{Failure, Outcome};

/// One input of `:in`: the database, known only once it is read, or an
/// input given on the command line.
enum Slot {
    Db,
    Given(Input),
}

pub(crate) async fn q(args: QueryArgs) -> Outcome {
    let (text, given) = query_text(&args)?;
    let query_edn = edn::parse(&text).map_err(|e| Failure::invalid(format!("query: {e}")))?;
    let query = Query::from_edn(&query_edn)?;
    let rules = args.rules.as_deref().map(read_rules).transpose()?;
    let slots = slots(&in_forms(&query_edn), given, rules)?;
    let db = latest(&args.uri).await?;
    blocking("running the query", move || {
        let db = view(&db, &args.time)?;
        let inputs: Vec<Input> = slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Db => Input::Db(db.clone()),
                Slot::Given(input) => input,
            })
            .collect();
        if args.explain {
            let plan = query::explain(&query, &inputs)?;
            match args.format {
                Some(format) => output::print(format, &plan_edn(&plan), &[]),
                None => emit([plan]),
            }
            return Ok(());
        }
        let result = query::q(&query, &inputs)?;
        match args.format {
            Some(format) => {
                let columns = find_forms(&query_edn);
                output::print(format, &whole(&result, args.limit), &columns);
            }
            None => print_result(&result, args.limit),
        }
        Ok(())
    })
    .await
}

pub(crate) async fn pull(args: PullArgs) -> Outcome {
    let pattern = PullPattern::parse(&args.pattern)?;
    let entity = edn::parse(&args.entity)
        .map_err(|e| Failure::invalid(format!("entity `{}`: {e}", args.entity)))?;
    let db = latest(&args.uri).await?;
    blocking("pulling", move || {
        let db = view(&db, &args.time)?;
        let pulled = match db.entid(&entity)? {
            Some(e) => query::pull(&db, &pattern, &Value::Ref(e))?.to_edn(),
            // As in Datomic: a lookup ref that matches nothing pulls nil.
            None if matches!(entity, Edn::Vector(_)) => Edn::Nil,
            None => return Err(Failure::invalid(format!("`{entity}` names no entity"))),
        };
        match args.format {
            Some(format) => output::print(format, &pulled, &[]),
            None => emit([pulled]),
        }
        Ok(())
    })
    .await
}

/// A plan as data: one map per clause, in the order they ran.
fn plan_edn(plan: &query::Explain) -> Edn {
    let k = |name: &str| Edn::Keyword(edn::Keyword::new(name));
    let n = |v: usize| Edn::Long(i64::try_from(v).unwrap_or(i64::MAX));
    Edn::Vector(
        plan.steps
            .iter()
            .map(|s| {
                Edn::map([
                    (k(":depth"), n(s.depth)),
                    (k(":clause"), Edn::string(&s.clause)),
                    (k(":how"), Edn::string(&s.how)),
                    (k(":runs"), n(s.runs)),
                    (k(":rows-in"), n(s.rows_in)),
                    (k(":rows-out"), n(s.rows_out)),
                ])
            })
            .collect(),
    )
}

/// The query text, and the command-line inputs that follow it.
fn query_text(args: &QueryArgs) -> Outcome<(String, Vec<String>)> {
    let mut given = args.inputs.clone();
    let source = match (&args.file, &args.query) {
        (Some(file), query) => {
            // With --file every positional argument is an input.
            given.splice(0..0, query.iter().cloned());
            file.as_path()
        }
        (None, Some(query)) if query == "-" => Path::new("-"),
        (None, Some(query)) => return Ok((query.clone(), given)),
        // clap requires the query unless --file is given.
        (None, None) => return Err(Failure::invalid("give a query or --file FILE")),
    };
    Ok((read_text(source, "the query")?, given))
}

/// The text of `path`, or of stdin for `-`.
fn read_text(path: &Path, what: &str) -> Outcome<String> {
    let mut text = String::new();
    let (read, source) = match path.as_os_str() == "-" {
        true => (
            std::io::stdin().read_to_string(&mut text),
            "stdin".to_string(),
        ),
        false => (
            std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text)),
            path.display().to_string(),
        ),
    };
    read.map_err(|e| Failure::invalid(format!("reading {what} from {source}: {e}")))?;
    Ok(text)
}

fn read_rules(path: &Path) -> Outcome<Input> {
    let text = read_text(path, "rules")?;
    let rules = Rules::parse(&text)
        .map_err(|e| Failure::invalid(format!("rules in {}: {e}", path.display())))?;
    Ok(Input::from(rules))
}

/// The forms of the query's `:in` (`[$]` when it has none).
fn in_forms(query: &Edn) -> Vec<Edn> {
    let is_in = |e: &Edn| e.as_keyword().is_some_and(|k| k.as_str() == "in");
    let given = match query {
        Edn::Map(_) => query
            .get(&Edn::keyword(":in"))
            .and_then(Edn::as_sequence)
            .map(<[Edn]>::to_vec),
        _ => query.as_sequence().and_then(|items| {
            let start = items.iter().position(is_in)? + 1;
            let section = items[start..].iter();
            Some(
                section
                    .take_while(|e| e.as_keyword().is_none())
                    .cloned()
                    .collect(),
            )
        }),
    };
    given.unwrap_or_else(|| vec![Edn::symbol("$")])
}

/// An input for each form of `:in`: `$` is the database, `%` the rules,
/// every other form takes the next command-line input.
fn slots(forms: &[Edn], given: Vec<String>, mut rules: Option<Input>) -> Outcome<Vec<Slot>> {
    let is = |form: &Edn, name: &str| matches!(form, Edn::Symbol(s) if s.as_str() == name);
    let wanted: Vec<String> = forms
        .iter()
        .filter(|f| !is(f, "$") && !is(f, "%"))
        .map(Edn::to_string)
        .collect();
    if wanted.len() != given.len() {
        return Err(Failure::invalid(format!(
            "the query's :in takes {} input(s) after the query ({}), {} given",
            wanted.len(),
            wanted.join(" "),
            given.len()
        )));
    }
    let mut given = wanted.iter().zip(given);
    let mut slots = Vec::with_capacity(forms.len());
    for form in forms {
        let slot = match form {
            f if is(f, "$") => Slot::Db,
            f if is(f, "%") => Slot::Given(rules.take().ok_or_else(|| {
                Failure::invalid("the query's :in has % (rules): give them with --rules FILE")
            })?),
            _ => {
                // As many given as wanted, checked above.
                let Some((name, text)) = given.next() else {
                    break;
                };
                let edn = edn::parse(&text)
                    .map_err(|e| Failure::invalid(format!("input {name} `{text}`: {e}")))?;
                Slot::Given(Input::Edn(edn))
            }
        };
        slots.push(slot);
    }
    if rules.is_some() {
        return Err(Failure::invalid(
            "--rules was given but the query's :in has no %",
        ));
    }
    Ok(slots)
}

/// A relation one row (or return map) per line, a collection as one
/// vector, both sorted (their order means nothing, and sorted output can be
/// compared); a scalar or tuple as it is.
fn print_result(result: &QueryResult, limit: Option<usize>) {
    match (result.shape(), whole(result, limit)) {
        (Shape::Relation, Edn::Vector(rows)) => emit(rows),
        (_, value) => emit([value]),
    }
}

/// The whole result as one EDN value: a relation as a vector of its rows
/// (or return maps), a collection as a vector, both sorted and cut at
/// `limit`; a scalar or tuple as it is.
fn whole(result: &QueryResult, limit: Option<usize>) -> Edn {
    let cells = |r: &Vec<Found>| r.iter().map(Found::to_edn).collect::<Vec<Edn>>();
    let limit = limit.unwrap_or(usize::MAX);
    match result.shape() {
        Shape::Relation => {
            let mut rows = result.maps().unwrap_or_else(|| {
                result
                    .rows()
                    .iter()
                    .map(|r| Edn::Vector(cells(r)))
                    .collect()
            });
            rows.sort();
            rows.truncate(limit);
            Edn::Vector(rows)
        }
        Shape::Collection => {
            let mut items: Vec<Edn> = result.column(0).into_iter().map(Found::to_edn).collect();
            items.sort();
            items.truncate(limit);
            Edn::Vector(items)
        }
        Shape::Scalar | Shape::Tuple => result.to_edn(),
    }
}

/// The `:find` elements as text: the column names of `--format table`.
fn find_forms(query: &Edn) -> Vec<String> {
    let found = query::section_forms(query, "find");
    found
        .unwrap_or_default()
        .iter()
        .filter(|e| !matches!(e, Edn::Symbol(s) if s.as_str() == "."))
        .map(|e| match e {
            Edn::Vector(inner) => inner.first().map_or_else(String::new, Edn::to_string),
            other => other.to_string(),
        })
        .collect()
}

/// Prints each item on a line; a closed stdout (`| head`) stops quietly.
fn emit(lines: impl IntoIterator<Item = impl Display>) {
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in lines {
        if writeln!(out, "{line}").is_err() {
            return;
        }
    }
    let _ = out.flush();
}
