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
