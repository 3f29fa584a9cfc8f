//! `config check`: validates the configuration file of a server command
//! and prints the settings it would run with.

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches};

use crate::args::{Cli, Command, ConfigAction, ConfigArgs, LAYERED};
use crate::exit::{Failure, Outcome};

pub(crate) async fn run(args: ConfigArgs) -> Outcome {
    match args.action {
        ConfigAction::Check { file, command } => check(&file, &command).await,
    }
}

/// Parses `accrete COMMAND --config FILE` as the command would (with the
/// ACCRETE_* variables of this environment), checks the values the way the
/// command does before it starts, and prints the effective settings.
async fn check(file: &std::path::Path, command: &str) -> Outcome {
    if !LAYERED.contains(&command) {
        return Err(Failure::invalid(format!(
            "--for {command}: only {} read a configuration file",
            LAYERED.join(", ")
        )));
    }
    let argv: Vec<OsString> = vec![
        "accrete".into(),
        command.into(),
        "--config".into(),
        file.as_os_str().to_owned(),
    ];
    let cmd = ops::config::with_env(Cli::command(), LAYERED);
    let layered = ops::config::parse(cmd.clone(), argv, LAYERED).map_err(|e| match e {
        ops::config::ParseError::Config(e) => Failure::from(e),
        ops::config::ParseError::Usage(e) => Failure::invalid(format!(
            "{}: {}",
            file.display(),
            e.render().to_string().trim_end()
        )),
    })?;
    let cli = Cli::from_arg_matches(&layered.matches)
        .map_err(|e| Failure::invalid(e.render().to_string()))?;
    if let Command::Transactor(args) = &cli.command {
        crate::commands::serve::check(args).await?;
    }
    println!(
        "# effective settings of `accrete {command}` with {} (flag > ACCRETE_* variable > file > default); secrets redacted",
        file.display()
    );
    print!(
        "{}",
        ops::config::render(&ops::config::effective(&layered, &cmd))
    );
    Ok(())
}
