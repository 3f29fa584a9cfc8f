//! Help texts that the arguments of several commands share.

/// The help of every argument that names a database by storage URI.
pub(crate) const URI_HELP: &str = "Storage URI naming the database: file:PATH?db=NAME, \
file:///ABS/PATH?db=NAME, postgres://USER@HOST[:PORT]/PGDB?db=NAME, \
cassandra://HOST[:PORT]/KEYSPACE?db=NAME, mem://NAME";

/// How the settings of a server command are found, after its help.
pub(crate) const LAYERED_HELP: &str = "\
Settings: every flag (and the URIs) can also come from an environment variable
ACCRETE_<COMMAND>_<FLAG> (ACCRETE_TRANSACTOR_LISTEN, ACCRETE_TRANSACTOR_LEASE_TTL,
ACCRETE_TRANSACTOR_URIS separated by spaces, flags as true/false; see [env: …]
above) or from the TOML file of --config (ACCRETE_TRANSACTOR_CONFIG); a flag wins
over a variable, a variable over the file, the file over the default.";
