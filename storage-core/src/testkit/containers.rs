//! The one switch that sends the backends' test suites to real servers in
//! containers instead of their default (the simulator, the private
//! PostgreSQL server): `ACCRETE_TEST_CONTAINERS`.

/// Asks the suites for containers when `1` (Cassandra and PostgreSQL).
pub const CONTAINERS_VAR: &str = "ACCRETE_TEST_CONTAINERS";

/// Reads a value of [`CONTAINERS_VAR`]: `1` yes; unset, empty or `0` no;
/// anything else is an error (a typo must not quietly run `otherwise`, the
/// suites' default, instead).
pub fn parse_switch(value: Option<&str>, otherwise: &str) -> Result<bool, String> {
    match value.map(str::trim) {
        None | Some("") | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(other) => Err(format!(
            "{CONTAINERS_VAR}=`{other}`: use 1 to run the suites against containers, 0 or unset for {otherwise}"
        )),
    }
}

/// [`parse_switch`] of the environment.
pub fn containers_asked(otherwise: &str) -> Result<bool, String> {
    parse_switch(std::env::var(CONTAINERS_VAR).ok().as_deref(), otherwise)
}

/// One of `all` by its name (`name`), as environment variable `var` holds
/// it (`text`): the error lists the names there are.
pub fn choose_by_name<T: Copy>(
    var: &str,
    text: &str,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<T, String> {
    all.iter()
        .copied()
        .find(|&item| name(item) == text.trim())
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|&item| name(item)).collect();
            format!("{var}=`{text}` is none of {}", names.join(", "))
        })
}

/// [`choose_by_name`] on the value of `var` in the environment; `default`
/// when it is unset or blank.
pub fn choose_from_env<T: Copy>(
    var: &str,
    all: &[T],
    name: fn(T) -> &'static str,
    default: T,
) -> Result<T, String> {
    match std::env::var(var) {
        Ok(text) if !text.trim().is_empty() => choose_by_name(var, &text, all, name),
        _ => Ok(default),
    }
}

/// Removes container `id` (`docker rm -f -v`) once this process has
/// ended, however it ends: for containers held in statics, which are never
/// dropped. A detached shell polls the process; where the `docker` command
/// is missing the container stays, and the message says how to remove it.
pub fn remove_when_process_ends(id: &str) {
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; docker rm -f -v {id} >/dev/null 2>&1",
        pid = std::process::id()
    );
    let spawned = std::process::Command::new("sh")
        .args(["-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = spawned {
        eprintln!(
            "test container {id} will outlive this process ({e}): remove it with docker rm -f {id}"
        );
    }
}
