//! The settings of a long-running command from four layers, the first that
//! has a setting winning: a **flag** on the command line, an
//! **`ACCRETE_*` environment variable**, the **TOML file** of `--config
//! FILE` (or `ACCRETE_CONFIG`), and the command's **default**.
//!
//! It works on any clap command, so every server command (`accrete
//! transactor`, `accrete serve`) gets the same rules by naming itself in
//! [`parse`]:
//!
//! - Each argument of a layered command can be set by the variable
//!   `ACCRETE_` + the command + its long name, in capitals with `_` for
//!   `-` (`accrete transactor --lease-ttl` → `ACCRETE_TRANSACTOR_LEASE_TTL`);
//!   a positional argument by its name (`ACCRETE_TRANSACTOR_URIS`, several
//!   separated by spaces). Flags take `true`/`false`. The command is in
//!   the name because the client's variables (`ACCRETE_TOKEN`,
//!   `ACCRETE_TLS_CERT`, …) already mean a client's credentials, and a
//!   transactor and a server on one host must not read each other's
//!   `--listen`.
//! - The file is flat TOML whose keys are the long names:
//!   `listen = "127.0.0.1:4334"`, `lease-ttl = 5`, `auth = true`,
//!   `uris = ["file:/var/lib/accrete?db=shop"]`. A key that is not an
//!   argument of the command, or a value of the wrong shape, is an error
//!   that names the file and the key.
//! - [`effective`] lists every setting with the layer it came from, and
//!   [`render`] prints them as TOML with secrets redacted (passwords in
//!   storage URIs, anything whose name says token, password or secret).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Command};
use storage_core::StorageUri;

use crate::error::Error;

/// The argument of every layered command that names its file.
pub const CONFIG_ARG: &str = "config";

/// The prefix of the environment variables of settings.
pub const ENV_PREFIX: &str = "ACCRETE_";

/// Where a setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The command line.
    Flag,
    /// An `ACCRETE_*` variable.
    Env,
    /// The `--config` file.
    File,
    /// The command's default.
    Default,
}

impl Source {
    /// The name printed beside a setting.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Flag => "flag",
            Source::Env => "env",
            Source::File => "file",
            Source::Default => "default",
        }
    }
}

/// A parse that failed: clap's usage error, or a configuration file that
/// cannot be used.
#[derive(Debug)]
pub enum ParseError {
    /// Bad arguments (or `--help`, `--version`): clap's own error.
    Usage(clap::Error),
    /// The file named by `--config`, or a value in it, is wrong.
    Config(Error),
}

/// The arguments of a parse with every layer applied.
#[derive(Debug)]
pub struct Layered {
    /// The matches of the whole command line, ready for `from_arg_matches`.
    pub matches: ArgMatches,
    /// The layered subcommand that ran, if it was one of them.
    pub subcommand: Option<String>,
    /// The settings (argument ids) that the file gave.
    pub from_file: BTreeSet<String>,
    /// The file read, if any.
    pub file: Option<PathBuf>,
}

/// The variable that sets the argument `id` (long name `long`) of
/// `command`.
pub fn env_name(command: &str, id: &str, long: Option<&str>) -> String {
    let name = format!("{command}_{}", long.unwrap_or(id));
    format!("{ENV_PREFIX}{}", name.replace('-', "_").to_uppercase())
}

/// `cmd` with an `ACCRETE_*` variable on every argument of each of the
/// `layered` subcommands (positionals with several values split on
/// spaces).
pub fn with_env(mut cmd: Command, layered: &[&str]) -> Command {
    for &name in layered {
        cmd = cmd.mut_subcommand(name, |mut sub| {
            let ids: Vec<(String, Option<String>, bool)> = sub
                .get_arguments()
                .filter(|a| a.get_env().is_none() && settable(a))
                .map(|a| {
                    let many =
                        a.is_positional() && a.get_num_args().is_some_and(|n| n.max_values() > 1);
                    (
                        a.get_id().to_string(),
                        a.get_long().map(str::to_string),
                        many,
                    )
                })
                .collect();
            for (id, long, many) in ids {
                let env = env_name(name, &id, long.as_deref());
                sub = sub.mut_arg(id, |a| {
                    let a = a.env(env);
                    match many {
                        true => a.value_delimiter(' '),
                        false => a,
                    }
                });
            }
            sub
        });
    }
    cmd
}

/// Whether an argument is a setting (help and version are not).
fn settable(arg: &clap::Arg) -> bool {
    !matches!(
        arg.get_action(),
        ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
    )
}

/// Parses `argv` against `cmd` (made by [`with_env`]) with the file of
/// `--config` applied to whichever of the `layered` subcommands runs.
pub fn parse(cmd: Command, argv: Vec<OsString>, layered: &[&str]) -> Result<Layered, ParseError> {
    let first = cmd.clone().ignore_errors(true).try_get_matches_from(&argv);
    let found = first.ok().and_then(|m| {
        let (name, sub) = m.subcommand()?;
        if !layered.contains(&name) {
            return None;
        }
        let file = sub.get_raw(CONFIG_ARG)?.next().map(PathBuf::from)?;
        Some((name.to_string(), sub.clone(), file))
    });
    let Some((name, sub_matches, file)) = found else {
        let matches = cmd.try_get_matches_from(&argv).map_err(ParseError::Usage)?;
        let subcommand = matches.subcommand_name().map(str::to_string);
        return Ok(Layered {
            matches,
            subcommand,
            from_file: BTreeSet::new(),
            file: None,
        });
    };
    let sub_cmd = cmd
        .find_subcommand(&name)
        .cloned()
        .ok_or_else(|| ParseError::Config(Error::invalid(format!("no command `{name}`"))))?;
    let (extra, from_file) =
        file_args(&file, &sub_cmd, &sub_matches).map_err(ParseError::Config)?;
    let mut argv = argv;
    argv.extend(extra);
    let matches = cmd
        .try_get_matches_from(&argv)
        .map_err(|e| match from_file.is_empty() {
            true => ParseError::Usage(e),
            false => ParseError::Config(Error::invalid(format!(
                "{} (with the settings of {})",
                e.render().to_string().trim_end(),
                file.display()
            ))),
        })?;
    Ok(Layered {
        matches,
        subcommand: Some(name),
        from_file,
        file: Some(file),
    })
}

/// The arguments the file adds: each of its settings that neither a flag
/// nor a variable gave. Returns them and the ids they set.
fn file_args(
    file: &Path,
    sub: &Command,
    given: &ArgMatches,
) -> Result<(Vec<OsString>, BTreeSet<String>), Error> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::invalid(format!("--config {}: cannot read it: {e}", file.display())))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| Error::invalid(format!("--config {}: not TOML: {e}", file.display())))?;
    let mut options = Vec::new();
    let mut positionals = Vec::new();
    let mut set = BTreeSet::new();
    for (key, value) in &table {
        let arg = sub
            .get_arguments()
            .find(|a| settable(a) && (a.get_long() == Some(key) || a.get_id() == key.as_str()))
            .filter(|a| a.get_id() != CONFIG_ARG)
            .ok_or_else(|| unknown_key(file, key, sub))?;
        let id = arg.get_id().as_str();
        let source = given.value_source(id);
        if matches!(
            source,
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        let values = values_of(file, key, value)?;
        let flag = matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse);
        match (arg.get_long(), flag) {
            (Some(long), true) => match values.as_slice() {
                [v] if v == "true" => options.push(OsString::from(format!("--{long}"))),
                [v] if v == "false" => {}
                _ => {
                    return Err(Error::invalid(format!(
                        "--config {}: `{key}` is a flag: true or false",
                        file.display()
                    )));
                }
            },
            (Some(long), false) => options.extend(
                values
                    .iter()
                    .map(|v| OsString::from(format!("--{long}={v}"))),
            ),
            (None, _) => positionals.extend(values.into_iter().map(OsString::from)),
        }
        set.insert(id.to_string());
    }
    options.extend(positionals);
    Ok((options, set))
}

fn unknown_key(file: &Path, key: &str, sub: &Command) -> Error {
    let known: Vec<String> = sub
        .get_arguments()
        .filter(|a| settable(a) && a.get_id() != CONFIG_ARG)
        .map(|a| {
            a.get_long()
                .map_or_else(|| a.get_id().to_string(), str::to_string)
        })
        .collect();
    Error::invalid(format!(
        "--config {}: `{key}` is not a setting of `accrete {}` (settings: {})",
        file.display(),
        sub.get_name(),
        known.join(", ")
    ))
}

/// The text values of a TOML value: a string, number or boolean, or an
/// array of them.
fn values_of(file: &Path, key: &str, value: &toml::Value) -> Result<Vec<String>, Error> {
    let scalar = |v: &toml::Value| match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    };
    let values = match value {
        toml::Value::Array(items) => items.iter().map(scalar).collect::<Option<Vec<_>>>(),
        other => scalar(other).map(|v| vec![v]),
    };
    values.ok_or_else(|| {
        Error::invalid(format!(
            "--config {}: `{key}` must be a string, number, boolean or an array of them",
            file.display()
        ))
    })
}

/// One effective setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// Its long name (or a positional's name).
    pub key: String,
    /// Its values as given (unredacted: print with [`render`]).
    pub values: Vec<String>,
    /// Where they came from.
    pub source: Source,
    /// Whether it takes several values.
    pub many: bool,
}

/// Every setting of the layered subcommand that ran, in the command's
/// order, with where it came from (unset settings without a default are
/// left out).
pub fn effective(layered: &Layered, cmd: &Command) -> Vec<Setting> {
    let Some(name) = layered.subcommand.as_deref() else {
        return Vec::new();
    };
    let (Some(sub), Some(matches)) = (
        cmd.find_subcommand(name),
        layered.matches.subcommand_matches(name),
    ) else {
        return Vec::new();
    };
    sub.get_arguments()
        .filter(|a| settable(a) && a.get_id() != CONFIG_ARG)
        .filter_map(|a| {
            let id = a.get_id().as_str();
            let values: Vec<String> = matches
                .get_raw(id)?
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            let source = match matches.value_source(id)? {
                ValueSource::EnvVariable => Source::Env,
                ValueSource::DefaultValue => Source::Default,
                _ if layered.from_file.contains(id) => Source::File,
                _ => Source::Flag,
            };
            let many = a.get_num_args().is_some_and(|n| n.max_values() > 1)
                || matches!(a.get_action(), ArgAction::Append);
            Some(Setting {
                key: a.get_long().map_or_else(|| id.to_string(), str::to_string),
                values,
                source,
                many,
            })
        })
        .collect()
}

/// The value printed for `value` of setting `key`: secrets redacted.
pub fn redact(key: &str, value: &str) -> String {
    let lower = key.to_lowercase();
    if ["token", "password", "secret"]
        .iter()
        .any(|s| lower.contains(s))
        && !lower.ends_with("-file")
    {
        return "<redacted>".to_string();
    }
    match StorageUri::parse(value) {
        // The URI's Display hides its password and secret parameters.
        Ok(uri) if value.contains(':') => uri.to_string(),
        _ => value.to_string(),
    }
}

/// `settings` as TOML lines, each with its source in a comment, secrets
/// redacted.
pub fn render(settings: &[Setting]) -> String {
    let mut out = String::new();
    for s in settings {
        let values: Vec<toml::Value> = s.values.iter().map(|v| typed(&redact(&s.key, v))).collect();
        let value = match (s.many, values.as_slice()) {
            (false, [one]) => one.to_string(),
            _ => toml::Value::Array(values).to_string(),
        };
        let _ = writeln!(out, "{} = {value}  # {}", s.key, s.source.as_str());
    }
    out
}

/// A number or boolean as itself, anything else as a string.
fn typed(value: &str) -> toml::Value {
    if let Ok(i) = value.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    if let Ok(f) = value.parse::<f64>()
        && f.is_finite()
    {
        return toml::Value::Float(f);
    }
    match value {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction};

    fn cmd() -> Command {
        let sub = Command::new("run")
            .arg(Arg::new("uris").num_args(1..).required(true))
            .arg(
                Arg::new("listen")
                    .long("listen")
                    .default_value("127.0.0.1:1"),
            )
            .arg(Arg::new("lease_ttl").long("lease-ttl").default_value("1"))
            .arg(Arg::new("auth").long("auth").action(ArgAction::SetTrue))
            .arg(Arg::new(CONFIG_ARG).long("config"));
        with_env(Command::new("accrete").subcommand(sub), &["run"])
    }

    fn argv(args: &[&str]) -> Vec<OsString> {
        std::iter::once("accrete")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn env_names_follow_the_long_names() {
        assert_eq!(
            env_name("transactor", "lease_ttl", Some("lease-ttl")),
            "ACCRETE_TRANSACTOR_LEASE_TTL"
        );
        assert_eq!(
            env_name("transactor", "uris", None),
            "ACCRETE_TRANSACTOR_URIS"
        );
        let c = cmd();
        let sub = c.find_subcommand("run").expect("run");
        let env: Vec<_> = sub.get_arguments().filter_map(|a| a.get_env()).collect();
        assert!(env.iter().any(|e| *e == "ACCRETE_RUN_LISTEN"), "{env:?}");
    }

    #[test]
    fn the_file_fills_what_flags_leave_and_says_what_is_wrong() {
        let dir = std::env::temp_dir().join(format!("ops-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("a.toml");
        std::fs::write(
            &file,
            "uris = [\"mem://a\"]\nlisten = \"127.0.0.1:2\"\nlease-ttl = 5\nauth = true\n",
        )
        .expect("write");
        let path = file.to_str().expect("utf-8");
        let layered = parse(
            cmd(),
            argv(&["run", "--config", path, "--listen", "127.0.0.1:3"]),
            &["run"],
        )
        .expect("parse");
        let settings = effective(&layered, &cmd());
        let find = |k: &str| settings.iter().find(|s| s.key == k).expect(k).clone();
        assert_eq!(find("listen").values, ["127.0.0.1:3"]);
        assert_eq!(find("listen").source, Source::Flag);
        assert_eq!(find("lease-ttl").values, ["5"]);
        assert_eq!(find("lease-ttl").source, Source::File);
        assert_eq!(find("uris").source, Source::File);
        assert_eq!(find("auth").source, Source::File);
        let printed = render(&settings);
        assert!(printed.contains("lease-ttl = 5  # file"), "{printed}");
        assert!(
            printed.contains("uris = [\"mem://a\"]  # file"),
            "{printed}"
        );

        std::fs::write(&file, "listn = \"x\"\n").expect("write");
        let Err(ParseError::Config(e)) = parse(cmd(), argv(&["run", "--config", path]), &["run"])
        else {
            panic!("an unknown key is an error");
        };
        assert!(e.message().contains("`listn` is not a setting"), "{e}");
        std::fs::write(&file, "uris = [\"mem://a\"]\nlease-ttl = { a = 1 }\n").expect("write");
        assert!(parse(cmd(), argv(&["run", "--config", path]), &["run"]).is_err());
        std::fs::write(&file, "uris = [\"mem://a\"]\nauth = \"yes\"\n").expect("write");
        assert!(parse(cmd(), argv(&["run", "--config", path]), &["run"]).is_err());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(redact("token", "acrt_x_y"), "<redacted>");
        assert_eq!(redact("tls-key", "/k.pem"), "/k.pem");
        let uri = redact("uris", "postgres://ann:hunter2@db:5432/pg?db=x");
        assert!(!uri.contains("hunter2"), "{uri}");
        assert_eq!(redact("listen", "127.0.0.1:1"), "127.0.0.1:1");
    }
}
