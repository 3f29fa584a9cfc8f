//! Codec encode/decode throughput and in-memory put/get/CAS rates.
//!
//! `cargo bench -p storage-core --bench core`

#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::sync::Arc;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use storage_core::{MemStorage, Revision, RootName, RootValue, Storage, StorageExt, codec};

/// Payload shaped like an index leaf: sorted entity ids, attribute ids,
/// short strings and tx numbers, so compression behaves realistically.
fn leaf_like(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut e: u64 = 17_592_186_045_418;
    let mut i = 0u64;
    while out.len() < len {
        e += 1 + (i % 3);
        out.extend_from_slice(&e.to_be_bytes());
        out.extend_from_slice(&(72 + (i % 9) as u32).to_be_bytes());
        out.extend_from_slice(format!("user-{}@example.com", i * 7919 % 100_003).as_bytes());
        out.extend_from_slice(&(13_194_139_533_312 + i / 10).to_be_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

fn codec_bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec");
    for len in [64 * 1024, 1024 * 1024] {
        let payload = leaf_like(len);
        let framed = codec::encode(1, &payload).expect("encode");
        println!(
            "codec: {len} B payload -> {} B frame (ratio {:.2})",
            framed.len(),
            len as f64 / framed.len() as f64
        );
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::new("encode", len), &payload, |b, p| {
            b.iter(|| codec::encode(1, p).expect("encode"))
        });
        group.bench_with_input(BenchmarkId::new("decode", len), &framed, |b, f| {
            b.iter(|| codec::decode(f).expect("decode"))
        });
        group.bench_with_input(BenchmarkId::new("blake3_id", len), &framed, |b, f| {
            b.iter(|| storage_core::SegmentId::of(f))
        });
    }
    group.finish();
}

fn mem_bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let mut group = c.benchmark_group("mem");
    let seg = codec::encode(1, &leaf_like(64 * 1024)).expect("encode");
    group.throughput(Throughput::Bytes(seg.len() as u64));
    let id = rt.block_on(storage.put(seg.clone())).expect("put");
    group.bench_function("put_64k_existing", |b| {
        b.to_async(&rt)
            .iter(|| async { storage.put_segment(id, seg.clone()).await.expect("put") })
    });
    group.bench_function("get_64k", |b| {
        b.to_async(&rt)
            .iter(|| async { storage.get_segment(id).await.expect("get") })
    });
    group.throughput(Throughput::Elements(1));
    let name = RootName::new("bench/root").expect("name");
    let mut rev = match rt
        .block_on(storage.cas_root(&name, None, &RootValue::new("0").expect("v")))
        .expect("create")
    {
        storage_core::CasOutcome::Applied(r) => r,
        other => panic!("{other:?}"),
    };
    group.bench_function("cas_root", |b| {
        b.iter(|| {
            let value = RootValue::new(Bytes::from_static(b"some root value")).expect("v");
            rev = match rt
                .block_on(storage.cas_root(&name, Some(rev), &value))
                .expect("cas")
            {
                storage_core::CasOutcome::Applied(r) => r,
                other => panic!("{other:?}"),
            };
        })
    });
    let _: Revision = rev;
    group.finish();
}

criterion_group!(benches, codec_bench, mem_bench);
criterion_main!(benches);
