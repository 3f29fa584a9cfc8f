//! A peer of an endpoint that requires authentication (issue 17): it
//! follows and transacts with the token of its [`peer::Config::connector`],
//! its transactions record that principal, and a principal without the
//! write role is refused at once, not retried.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use access::{Admission, Gate, Principal, Role, create_token, update_access};
use common::*;
use peer::{Config, ErrorKind};
use transactor::client::Connector;
use transactor::{Security, Server};

/// A token for `name` holding `role` on every database of `storage`.
async fn token(storage: &Arc<dyn storage_core::Storage>, name: &str, role: Role) -> Connector {
    let principal = Principal::token_name(name).unwrap();
    let token = create_token(storage, &principal).await.unwrap();
    update_access(storage, |r| {
        Ok(r.set_grant(&principal, access::ALL_DATABASES, Some(role)))
    })
    .await
    .unwrap();
    Connector {
        token: Some(token.secret),
        tls: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_transacts_as_the_principal_of_its_token() {
    let (uri, storage) = mem_db("shop").await;
    let gate = Arc::new(Gate::new(storage.clone(), Admission::Authenticated));
    let security = Security {
        gate: Some(gate),
        ..Security::default()
    };
    let server = Server::bind_with("127.0.0.1:0", security).await.unwrap();
    let config = transactor::Config {
        endpoint: Some(server.local_addr().to_string()),
        ..transactor_config()
    };
    let transactor = Arc::new(embedded(&uri, config).await);
    server.serve(transactor.clone());

    let writer = Config {
        connector: token(&storage, "app", Role::Write).await,
        ..peer_config()
    };
    let conn = connect(&uri, writer).await;
    within(conn.transact(SCHEMA)).await.unwrap();
    let report = within(conn.transact(r#"[{:user/email "ed@x"}]"#))
        .await
        .unwrap();
    let who = blocking(move || {
        query::q(
            "[:find ?who . :in $ ?tx :where [?tx :tx/principal ?who]]",
            &[
                report.db_after.clone().into(),
                model::Value::Ref(report.tx()).into(),
            ],
        )
        .unwrap()
        .to_edn()
        .to_string()
    })
    .await;
    assert_eq!(who, "\"app\"");

    let reader = Config {
        connector: token(&storage, "viewer", Role::Read).await,
        ..peer_config()
    };
    let conn = connect(&uri, reader).await;
    let err = within(conn.transact(r#"[{:user/email "x@x"}]"#))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
    assert!(err.not_committed(), "{err}");
    within(transactor.shutdown()).await.unwrap();
}
