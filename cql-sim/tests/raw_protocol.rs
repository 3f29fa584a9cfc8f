//! The protocol edges a driver never exercises, spoken byte by byte:
//! malformed frames, requests before STARTUP, named values, lz4 frames.

// Test helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod common;

use common::{start, within};
use cql_sim::SimConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const STARTUP: u8 = 0x01;
const OPTIONS: u8 = 0x05;
const QUERY: u8 = 0x07;
const ERROR: u8 = 0x00;
const READY: u8 = 0x02;
const SUPPORTED: u8 = 0x06;
const RESULT: u8 = 0x08;

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn startup(compression: Option<&str>) -> Vec<u8> {
    let pairs: Vec<(&str, &str)> = [("CQL_VERSION", "3.0.0")]
        .into_iter()
        .chain(compression.map(|c| ("COMPRESSION", c)))
        .collect();
    let mut body = (pairs.len() as u16).to_be_bytes().to_vec();
    for (k, v) in pairs {
        string(&mut body, k);
        string(&mut body, v);
    }
    body
}

/// A QUERY body with named text values.
fn query(cql: &str, named: &[(&str, &str)]) -> Vec<u8> {
    let mut body = (cql.len() as u32).to_be_bytes().to_vec();
    body.extend_from_slice(cql.as_bytes());
    body.extend_from_slice(&0x0004_u16.to_be_bytes()); // QUORUM
    body.push(if named.is_empty() { 0 } else { 0x01 | 0x40 });
    if !named.is_empty() {
        body.extend_from_slice(&(named.len() as u16).to_be_bytes());
        for (name, value) in named {
            string(&mut body, name);
            body.extend_from_slice(&(value.len() as i32).to_be_bytes());
            body.extend_from_slice(value.as_bytes());
        }
    }
    body
}

async fn send(
    socket: &mut TcpStream,
    version: u8,
    flags: u8,
    stream: i16,
    opcode: u8,
    body: &[u8],
) {
    let mut frame = vec![version, flags];
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.push(opcode);
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(body);
    socket.write_all(&frame).await.unwrap();
}

/// Reads one response: `(flags, stream, opcode, body)`.
async fn receive(socket: &mut TcpStream) -> (u8, i16, u8, Vec<u8>) {
    let mut header = [0; 9];
    within(10, socket.read_exact(&mut header)).await.unwrap();
    assert_eq!(header[0], 0x84, "responses are v4");
    let mut body = vec![0; u32::from_be_bytes(header[5..9].try_into().unwrap()) as usize];
    within(10, socket.read_exact(&mut body)).await.unwrap();
    (
        header[1],
        i16::from_be_bytes([header[2], header[3]]),
        header[4],
        body,
    )
}

fn error_code(body: &[u8]) -> i32 {
    i32::from_be_bytes(body[..4].try_into().unwrap())
}

#[tokio::test]
async fn requests_before_startup_and_other_versions_are_protocol_errors() {
    let sim = start(SimConfig::default()).await;
    let mut socket = TcpStream::connect(sim.contact_point()).await.unwrap();
    send(&mut socket, 0x04, 0, 3, OPTIONS, &[]).await;
    assert_eq!(receive(&mut socket).await.2, SUPPORTED);
    send(
        &mut socket,
        0x04,
        0,
        4,
        QUERY,
        &query("SELECT key FROM system.local", &[]),
    )
    .await;
    let (_, stream, opcode, body) = receive(&mut socket).await;
    assert_eq!((stream, opcode, error_code(&body)), (4, ERROR, 0x000A));
    send(&mut socket, 0x04, 0, 5, 0x42, &[]).await;
    let (_, stream, opcode, body) = receive(&mut socket).await;
    assert_eq!(
        (stream, opcode, error_code(&body)),
        (5, ERROR, 0x000A),
        "unknown opcode"
    );
    send(&mut socket, 0x05, 0, 6, OPTIONS, &[]).await;
    let (_, stream, opcode, body) = receive(&mut socket).await;
    assert_eq!(
        (stream, opcode, error_code(&body)),
        (6, ERROR, 0x000A),
        "protocol v5 is refused"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn named_values_truncated_bodies_and_lz4_frames() {
    let sim = start(SimConfig::default()).await;
    let mut socket = TcpStream::connect(sim.contact_point()).await.unwrap();
    send(&mut socket, 0x04, 0, 1, STARTUP, &startup(Some("lz4"))).await;
    let (flags, _, opcode, _) = receive(&mut socket).await;
    assert_eq!(
        (flags, opcode),
        (0, READY),
        "READY itself is not compressed"
    );

    let compressed = |body: &[u8]| {
        let mut out = (body.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&lz4_flex::block::compress(body));
        out
    };
    let decompressed = |body: &[u8]| {
        lz4_flex::block::decompress(
            &body[4..],
            u32::from_be_bytes(body[..4].try_into().unwrap()) as usize,
        )
        .unwrap()
    };
    let cql = "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = :ks";
    send(
        &mut socket,
        0x04,
        0x01,
        2,
        QUERY,
        &compressed(&query(cql, &[("ks", "system")])),
    )
    .await;
    let (flags, stream, opcode, body) = receive(&mut socket).await;
    assert_eq!((flags & 0x01, stream, opcode), (0x01, 2, RESULT));
    let body = decompressed(&body);
    assert_eq!(
        i32::from_be_bytes(body[..4].try_into().unwrap()),
        0x0002,
        "a Rows result"
    );
    assert!(
        body.windows(6).any(|w| w == b"system"),
        "the named value selected the row"
    );

    let mut truncated = query(cql, &[("ks", "system")]);
    truncated.truncate(truncated.len() - 3);
    send(&mut socket, 0x04, 0x01, 3, QUERY, &compressed(&truncated)).await;
    let (_, stream, opcode, body) = receive(&mut socket).await;
    let body = decompressed(&body);
    assert_eq!((stream, opcode, error_code(&body)), (3, ERROR, 0x000A));
    let message = String::from_utf8_lossy(&body[6..]).to_string();
    assert!(
        message.contains("not enough bytes to read bound value"),
        "{message}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_compression_is_refused() {
    let sim = start(SimConfig::default()).await;
    let mut socket = TcpStream::connect(sim.contact_point()).await.unwrap();
    send(&mut socket, 0x04, 0, 1, STARTUP, &startup(Some("snappy"))).await;
    let (_, _, opcode, body) = receive(&mut socket).await;
    assert_eq!((opcode, error_code(&body)), (ERROR, 0x000A));
    assert!(String::from_utf8_lossy(&body).contains("snappy"));
    sim.shutdown().await;
}
