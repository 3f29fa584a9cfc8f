//! `token create|list|revoke`, `grant`, `grants`: the access records of a
//! storage (token verifiers and roles per database), written directly
//! with the storage's own credentials — whoever holds those administers
//! the storage.

use std::path::Path;
use std::sync::Arc;

use access::tls::{ServerConfig, ServerTlsFiles};
use access::{
    ALL_DATABASES, Admission, Gate, Principal, Role, create_token, read_access, revoke_tokens,
    update_access,
};
use clap::{Args, Subcommand};

use crate::exit::{Failure, Outcome};
use crate::help::URI_HELP;
use crate::storage::open;

#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    #[command(subcommand)]
    pub(crate) command: TokenCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Make a token for a principal and print its secret on stdout — the
    /// only time it is shown (the storage keeps only its verifier). Give
    /// it to the client in ACCRETE_TOKEN or a file named by
    /// ACCRETE_TOKEN_FILE, never on a command line.
    Create(TokenCreateArgs),
    /// List the tokens of the storage: id, principal, creation, state.
    List(TokenListArgs),
    /// Revoke a token by its id, or every token of a principal by its
    /// name: every transactor of the storage refuses it from its next
    /// request on.
    Revoke(TokenRevokeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct TokenCreateArgs {
    #[arg(help = URI_HELP)]
    pub(crate) uri: String,
    /// The principal the token authenticates (letters, digits, `.`, `_`,
    /// `@`, `-`), as recorded on its transactions (`:tx/principal`).
    #[arg(long, value_name = "NAME")]
    pub(crate) name: String,
    /// Also grant this role on the URI's database (`?db=`), or on every
    /// database with --all-dbs.
    #[arg(long, value_name = "ROLE", value_parser = ["read", "write", "admin"])]
    pub(crate) role: Option<String>,
    /// The role of --role is on every database of the storage.
    #[arg(long, requires = "role")]
    pub(crate) all_dbs: bool,
}

#[derive(Debug, Args)]
pub(crate) struct TokenListArgs {
    /// Storage URI (`?db=` is ignored: tokens are per storage).
    pub(crate) uri: String,
}

#[derive(Debug, Args)]
pub(crate) struct TokenRevokeArgs {
    /// Storage URI (`?db=` is ignored).
    pub(crate) uri: String,
    /// A token id (the 16 hex digits after `acrt_`), or a principal name
    /// (revokes every live token of it).
    #[arg(value_name = "ID|NAME")]
    pub(crate) token: String,
}

#[derive(Debug, Args)]
pub(crate) struct GrantArgs {
    #[arg(help = URI_HELP)]
    pub(crate) uri: String,
    /// Who: a token's name, or a client certificate's subject as RFC 4514
    /// text (`CN=alice, O=acme`).
    pub(crate) principal: String,
    /// The role: read (subscribe, status, tx-status), write (transact),
    /// admin (excise, alter schema); `none` takes the grant away.
    #[arg(value_parser = ["read", "write", "admin", "none"])]
    pub(crate) role: String,
    /// On every database of the storage rather than the URI's `?db=`.
    #[arg(long)]
    pub(crate) all_dbs: bool,
}

#[derive(Debug, Args)]
pub(crate) struct GrantsArgs {
    /// Storage URI (`?db=` is ignored: every grant of the storage is listed).
    pub(crate) uri: String,
}

pub(crate) async fn token(args: TokenArgs) -> Outcome {
    match args.command {
        TokenCommand::Create(a) => create(a).await,
        TokenCommand::List(a) => list(a).await,
        TokenCommand::Revoke(a) => revoke(a).await,
    }
}

async fn create(args: TokenCreateArgs) -> Outcome {
    let principal = Principal::token_name(&args.name)?;
    let grant = match &args.role {
        Some(role) => Some((Role::parse(role)?, scope(&args.uri, args.all_dbs)?)),
        None => None,
    };
    let (storage, _) = open(&args.uri).await?;
    let token = create_token(&storage, &principal).await?;
    if let Some((role, db)) = &grant {
        update_access(&storage, |r| Ok(r.set_grant(&principal, db, Some(*role)))).await?;
    }
    println!("{}", token.secret.expose());
    let granted = grant.map_or(String::new(), |(role, db)| {
        format!(", holding {role} on {}", describe(&db))
    });
    eprintln!(
        "created token {} for `{principal}`{granted}; its secret is shown this once",
        token.id
    );
    Ok(())
}

async fn list(args: TokenListArgs) -> Outcome {
    let (storage, _) = open(&args.uri).await?;
    let (records, _) = read_access(storage.as_ref()).await?;
    for t in &records.tokens {
        let state = match t.revoked_ms {
            None => "live".to_string(),
            Some(ms) => format!("revoked {}", instant(ms)),
        };
        println!(
            "{}\t{}\t{}\t{state}",
            t.id,
            t.principal,
            instant(t.created_ms)
        );
    }
    Ok(())
}

async fn revoke(args: TokenRevokeArgs) -> Outcome {
    let (storage, _) = open(&args.uri).await?;
    let revoked = revoke_tokens(&storage, &args.token).await?;
    println!("revoked {}", revoked.join(" "));
    Ok(())
}

pub(crate) async fn grant(args: GrantArgs) -> Outcome {
    let principal = Principal::named(&args.principal)?;
    let role = match args.role.as_str() {
        "none" => None,
        other => Some(Role::parse(other)?),
    };
    let db = scope(&args.uri, args.all_dbs)?;
    let (storage, _) = open(&args.uri).await?;
    update_access(&storage, |r| Ok(r.set_grant(&principal, &db, role))).await?;
    match role {
        Some(role) => println!("granted {role} on {} to `{principal}`", describe(&db)),
        None => println!("`{principal}` holds no grant on {} now", describe(&db)),
    }
    Ok(())
}

pub(crate) async fn grants(args: GrantsArgs) -> Outcome {
    let (storage, _) = open(&args.uri).await?;
    let (records, _) = read_access(storage.as_ref()).await?;
    for g in &records.grants {
        println!("{}\t{}\t{}", g.principal, g.db, g.role);
    }
    Ok(())
}

/// The database a grant is on: the URI's `?db=`, or every one.
fn scope(uri: &str, all_dbs: bool) -> Outcome<String> {
    if all_dbs {
        return Ok(ALL_DATABASES.to_string());
    }
    let parsed = storage_core::StorageUri::parse(uri)?;
    match parsed.db() {
        Some(db) => Ok(db.to_string()),
        None => Err(Failure::invalid(
            "say which database the role is on with ?db=NAME in the URI, or give --all-dbs",
        )),
    }
}

fn describe(db: &str) -> String {
    match db == ALL_DATABASES {
        true => "every database".to_string(),
        false => format!("database `{db}`"),
    }
}

fn instant(ms: u64) -> String {
    model::edn::Instant(i64::try_from(ms).unwrap_or(i64::MAX)).to_string()
}

/// The gate and TLS of an endpoint (the transactor's, or `accrete
/// serve`'s): a gate over the access records of `access` (or the first
/// URI's storage), admitting only authenticated clients with `auth`, and
/// TLS from the certificate files when both are given.
pub(crate) async fn endpoint_security(
    access: Option<&str>,
    uris: &[String],
    auth: bool,
    tls_cert: Option<&Path>,
    tls_key: Option<&Path>,
    tls_client_ca: Option<&Path>,
) -> Outcome<(Arc<Gate>, Option<Arc<ServerConfig>>)> {
    let access_uri = access
        .or(uris.first().map(String::as_str))
        .ok_or_else(|| Failure::invalid("no storage URI to read the access records from"))?;
    let (storage, _) = open(access_uri).await?;
    let admission = match auth {
        true => Admission::Authenticated,
        false => Admission::OpenLoopback,
    };
    let tls = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => Some(
            ServerTlsFiles {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
                client_ca: tls_client_ca.map(Path::to_path_buf),
            }
            .load()?,
        ),
        _ => None,
    };
    Ok((Arc::new(Gate::new(storage, admission)), tls))
}
