//! Opening a driver session from [`Settings`]: contact points, credentials,
//! TLS, lz4, and the execution profile every statement starts from.

use std::sync::Arc;
use std::time::Duration;

use scylla::client::Compression;
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::errors::NewSessionError;
use scylla::policies::load_balancing::{DefaultPolicy, LoadBalancingPolicy};
use scylla::policies::retry::DefaultRetryPolicy;
use storage_core::{Error, Result};

use crate::SCHEME;
use crate::config::{Level, PASSWORD_FILE_VAR, PASSWORD_VAR, Settings, USER_VAR};
use crate::error::{Failure, is_authentication, is_tls};
use crate::tls;

/// Added to the connect timeout per host for the whole session setup
/// (control connection, topology, pools).
const SETUP_GRACE: Duration = Duration::from_secs(5);

/// Connects to the cluster the settings name.
///
/// The default profile: the settings' consistency and serial consistency,
/// the request timeout, the driver's default retry policy (which retries
/// only idempotent statements, and never serial reads or CAS timeouts),
/// and no speculative execution. Statements that must never be retried
/// (lightweight transactions) set their own retry policy.
pub(crate) async fn connect(settings: &Settings) -> Result<Session> {
    let profile = ExecutionProfile::builder()
        .consistency(settings.level.consistency())
        .serial_consistency(Some(settings.level.serial()))
        .request_timeout(Some(settings.request_timeout))
        .retry_policy(Arc::new(DefaultRetryPolicy::new()))
        .speculative_execution_policy(None)
        .load_balancing_policy(load_balancing(settings))
        .build();
    let mut builder = SessionBuilder::new()
        .known_nodes(&settings.contact_points)
        // Routing needs the keyspace's replication and its tables' partition
        // keys: fetch them for this keyspace only (no columns, no UDTs), so
        // the token-aware policy sends each statement to a replica owning
        // its partition, and schema of other keyspaces costs nothing.
        .fetch_schema_metadata(true)
        .fetch_full_schema_metadata(false)
        .keyspaces_to_fetch([settings.keyspace.clone()])
        .connection_timeout(settings.connect_timeout)
        .compression(settings.compression.then_some(Compression::Lz4))
        .default_execution_profile_handle(profile.into_handle());
    if let Some(credentials) = &settings.credentials {
        builder = builder.user(&credentials.user, credentials.password.expose());
    }
    if let Some(dc) = &settings.dc {
        builder = builder.prefer_datacenter(dc.clone());
    }
    builder = tls::configure(builder, &settings.tls)?;
    let hosts = settings.contact_points.len() as u32;
    let deadline = settings.connect_timeout * hosts + SETUP_GRACE;
    let op = format!("open {}", settings.uri);
    let session = match tokio::time::timeout(deadline, builder.build()).await {
        Err(_) => {
            return Err(Failure::Deadline {
                seconds: deadline.as_secs_f64(),
            }
            .into_error(&op));
        }
        Ok(Err(e)) if is_authentication(&e) => return Err(login_refused(settings, &op, e)),
        Ok(Err(e)) => {
            let advice = advice(settings, &e);
            return Err(Failure::from(e).into_error_advising(&op, &advice));
        }
        Ok(Ok(session)) => session,
    };
    check_dc(&session, settings)?;
    Ok(session)
}

/// Token-aware routing; with `dc=`, only that data centre's nodes, unless
/// the level is QUORUM, where any node may coordinate.
fn load_balancing(settings: &Settings) -> Arc<dyn LoadBalancingPolicy> {
    let mut policy = DefaultPolicy::builder().token_aware(true);
    if let Some(dc) = &settings.dc {
        policy = policy
            .prefer_datacenter(dc.clone())
            .permit_dc_failover(settings.level == Level::Quorum);
    }
    policy.build()
}

/// A `dc=` that names no data centre of the cluster would leave every
/// request without a node to go to: say so at open.
fn check_dc(session: &Session, settings: &Settings) -> Result<()> {
    let Some(dc) = &settings.dc else {
        return Ok(());
    };
    let state = session.get_cluster_state();
    let mut known: Vec<String> = state
        .get_nodes_info()
        .iter()
        .filter_map(|node| node.datacenter.clone())
        .collect();
    if known.iter().any(|d| d == dc) {
        return Ok(());
    }
    known.sort();
    known.dedup();
    Err(Error::invalid(format!(
        "storage URI `{}`: no node of the cluster is in data centre `{dc}` (`dc=`); its data centres: {}",
        settings.uri,
        known.join(", ")
    )))
}

/// The cluster refused the login, or demands one: what to set, in
/// accrete's terms (the driver's text advises calls of its own API). The
/// driver's error stays as the source, for `-v`.
fn login_refused(settings: &Settings, op: &str, e: NewSessionError) -> Error {
    let detail = match &settings.credentials {
        None => format!(
            "the cluster requires a login: set {USER_VAR} and {PASSWORD_VAR} (or {PASSWORD_FILE_VAR}, a file holding the password)"
        ),
        Some(c) => format!(
            "the cluster refused the login of user `{}` ({}): check {USER_VAR} and {PASSWORD_VAR} (or {PASSWORD_FILE_VAR}, a file holding the password)",
            c.user, c.source
        ),
    };
    tracing::debug!(error = %e, "the driver's account of the refused login");
    Error::Backend {
        backend: SCHEME,
        op: op.to_string(),
        detail,
        source: Some(Box::new(e)),
    }
}

fn advice(settings: &Settings, e: &NewSessionError) -> String {
    if is_tls(e) {
        return format!(
            " (TLS `tls={}`: the CA certificates must sign the nodes' certificates, and verify-full needs the nodes' IP addresses in them)",
            settings.tls.mode.as_str()
        );
    }
    format!(
        " (contact points {}; is the native transport port right and the cluster up?)",
        settings.contact_points.join(", ")
    )
}
