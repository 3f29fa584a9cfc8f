//! Fuzzing the frame decoder and the handshake (issue 17): arbitrary bytes
//! never panic the decoder, and arbitrary bytes sent to a real endpoint
//! that requires authentication never get past the handshake — the
//! connection ends within a bound, nothing but FAILED comes back, and the
//! database never sees a request.
//!
//! A small run by default; `ACCRETE_LONG=1` decodes 1 000 000 inputs and
//! sends 2 000 connections' worth.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use access::{Admission, Gate};
use bytes::{BufMut, BytesMut};
use common::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::Decoder;
use transactor::protocol::{Frame, FrameCodec};
use transactor::{Config, Security, Server};

fn long() -> bool {
    std::env::var("ACCRETE_LONG").is_ok_and(|v| v == "1")
}

/// Frame bodies: wholly arbitrary, or a known frame type (HELLO with its
/// magic most of all) followed by arbitrary fields.
fn bodies() -> impl Strategy<Value = Vec<u8>> {
    let typed = (
        prop::sample::select(vec![
            0x01u8, 0x02, 0x10, 0x11, 0x12, 0x13, 0x14, 0x20, 0x21, 0x22, 0x23, 0x2F,
        ]),
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..96),
    )
        .prop_map(|(kind, magic, tail)| {
            let mut body = vec![kind];
            if magic {
                body.extend_from_slice(b"ACRT");
            }
            body.extend(tail);
            body
        });
    prop_oneof![prop::collection::vec(any::<u8>(), 0..256), typed]
}

/// Bytes on the wire: a body with its true length prefix, or anything.
fn wire() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        bodies().prop_map(|body| {
            let mut out = (body.len() as u32).to_be_bytes().to_vec();
            out.extend(body);
            out
        }),
        prop::collection::vec(any::<u8>(), 0..300),
    ]
}

#[test]
fn the_decoder_never_panics_on_arbitrary_bytes() {
    let cases = if long() { 1_000_000 } else { 20_000 };
    let mut runner = TestRunner::new(RunnerConfig {
        cases,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    runner
        .run(&wire(), |bytes| {
            let mut codec = FrameCodec::default();
            let mut buffer = BytesMut::from(&bytes[..]);
            // Decode until the codec wants more or refuses: never a panic,
            // and never a frame from fewer bytes than its length says.
            for _ in 0..4 {
                match codec.decode(&mut buffer) {
                    Ok(Some(_)) => continue,
                    Ok(None) | Err(_) => break,
                }
            }
            if bytes.len() > 4 {
                let _ = Frame::decode(bytes::Bytes::from(bytes[4..].to_vec()));
            }
            Ok(())
        })
        .unwrap();
}

/// Sends `bytes`, half-closes, and returns everything the endpoint sent
/// until it closed; fails when it does not close within `bound`.
async fn exchange(endpoint: &str, bytes: &[u8], bound: Duration) -> Vec<u8> {
    let mut socket = tokio::net::TcpStream::connect(endpoint).await.unwrap();
    // The endpoint may close before reading everything: that is fine.
    let _ = socket.write_all(bytes).await;
    let _ = socket.shutdown().await;
    let mut answer = Vec::new();
    tokio::time::timeout(bound, async {
        let mut chunk = [0u8; 4096];
        loop {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .expect("the endpoint hung on a bad client");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_bytes_never_get_past_the_handshake() {
    let storage = mem();
    let db = create(&storage, "fuzz").await;
    let gate = Arc::new(Gate::new(storage.clone(), Admission::Authenticated));
    let security = Security {
        gate: Some(gate),
        ..Security::default()
    };
    let server = Server::bind_with("127.0.0.1:0", security).await.unwrap();
    let config = Config {
        endpoint: Some(server.local_addr().to_string()),
        ..config()
    };
    let transactor = Arc::new(start(&storage, &db, config).await);
    server.serve(transactor.clone());
    let basis = transactor.db().basis_t();
    let endpoint = server.local_addr().to_string();

    let cases = if long() { 2_000 } else { 48 };
    let mut runner = TestRunner::default();
    let strategy = wire();
    let mut inputs: Vec<Vec<u8>> = (0..cases)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();
    // A whole, valid HELLO without credentials and one with a made-up
    // token, for the database that exists: refused too.
    for token in [None, Some(access::NewToken::generate().unwrap().secret)] {
        let hello = Frame::Hello {
            min_version: 3,
            max_version: 3,
            token,
            db: "fuzz".into(),
            db_id: transactor.db_id(),
            epoch: transactor.epoch().0,
        };
        let mut body = BytesMut::new();
        hello.encode(&mut body);
        let mut framed = BytesMut::new();
        framed.put_u32(body.len() as u32);
        framed.extend_from_slice(&body);
        inputs.push(framed.to_vec());
    }
    // Four at a time: every failed attempt waits before its refusal.
    for batch in inputs.chunks(4) {
        let answers = futures::future::join_all(
            batch
                .iter()
                .map(|bytes| exchange(&endpoint, bytes, Duration::from_secs(5))),
        )
        .await;
        for answer in answers {
            let mut codec = FrameCodec::default();
            let mut buffer = BytesMut::from(&answer[..]);
            while let Ok(Some(frame)) = codec.decode(&mut buffer) {
                assert!(
                    matches!(frame, Frame::Failed { id: 0, .. }),
                    "a client without credentials heard {frame:?}"
                );
            }
        }
    }
    assert_eq!(transactor.db().basis_t(), basis, "nothing was committed");
    assert_eq!(transactor.metrics().transactions, 0);
}
