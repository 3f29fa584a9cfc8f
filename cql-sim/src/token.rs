//! Cassandra's Murmur3Partitioner: the token of a partition key, so token
//! range scans (`WHERE token(pk) > ?`) walk partitions exactly as Cassandra does.

use std::num::Wrapping;

const C1: Wrapping<i64> = Wrapping(0x87c3_7b91_1142_53d5_u64 as i64);
const C2: Wrapping<i64> = Wrapping(0x4cf5_ad43_2745_937f_u64 as i64);

/// The Murmur3Partitioner token of a serialized partition key (the value's
/// bytes for one key column, the composite encoding for several).
pub fn token_of(key: &[u8]) -> i64 {
    let (h1, _) = murmur3_x64_128(key);
    // Cassandra reserves i64::MIN as the ring's minimum token.
    if h1 == i64::MIN { i64::MAX } else { h1 }
}

/// A 16-byte digest of `data` (the hash Cassandra's tokens come from), used
/// as a stable prepared-statement id.
pub(crate) fn digest(data: &[u8]) -> [u8; 16] {
    let (h1, h2) = murmur3_x64_128(data);
    let mut out = [0; 16];
    out[..8].copy_from_slice(&h1.to_be_bytes());
    out[8..].copy_from_slice(&h2.to_be_bytes());
    out
}

/// The composite partition-key serialization Cassandra hashes when a table
/// has several partition key columns: each component as a 2-byte length,
/// its bytes and a zero byte.
pub(crate) fn composite_key(components: &[Vec<u8>]) -> Vec<u8> {
    if let [single] = components {
        return single.clone();
    }
    let mut out = Vec::new();
    for component in components {
        let len = u16::try_from(component.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(component);
        out.push(0);
    }
    out
}

/// Cassandra's variant of MurmurHash3 x64 128 with seed 0: identical to the
/// reference except that tail bytes are sign-extended (Java bytes are signed).
fn murmur3_x64_128(data: &[u8]) -> (i64, i64) {
    let mut h1 = Wrapping(0_i64);
    let mut h2 = Wrapping(0_i64);
    let mut blocks = data.chunks_exact(16);
    for block in &mut blocks {
        let (k1, k2) = block.split_at(8);
        h1 ^= mix_k1(Wrapping(little_endian(k1)));
        h1 = rotl(h1, 27) + h2;
        h1 = h1 * Wrapping(5) + Wrapping(0x52dc_e729);
        h2 ^= mix_k2(Wrapping(little_endian(k2)));
        h2 = rotl(h2, 31) + h1;
        h2 = h2 * Wrapping(5) + Wrapping(0x3849_5ab5);
    }
    let tail = blocks.remainder();
    if tail.len() > 8 {
        h2 ^= mix_k2(signed_tail(&tail[8..]));
    }
    if !tail.is_empty() {
        h1 ^= mix_k1(signed_tail(&tail[..tail.len().min(8)]));
    }
    let len = Wrapping(i64::try_from(data.len()).unwrap_or(i64::MAX));
    h1 ^= len;
    h2 ^= len;
    h1 += h2;
    h2 += h1;
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 += h2;
    h2 += h1;
    (h1.0, h2.0)
}

fn little_endian(bytes: &[u8]) -> i64 {
    let mut word = [0; 8];
    word.copy_from_slice(bytes);
    i64::from_le_bytes(word)
}

/// Combines up to 8 tail bytes the way Cassandra does: each byte is
/// sign-extended before being shifted into place.
fn signed_tail(bytes: &[u8]) -> Wrapping<i64> {
    let mut k = 0_i64;
    for (i, byte) in bytes.iter().enumerate() {
        k ^= i64::from(*byte as i8) << (8 * i);
    }
    Wrapping(k)
}

fn mix_k1(k: Wrapping<i64>) -> Wrapping<i64> {
    rotl(k * C1, 31) * C2
}

fn mix_k2(k: Wrapping<i64>) -> Wrapping<i64> {
    rotl(k * C2, 33) * C1
}

fn rotl(x: Wrapping<i64>, r: u32) -> Wrapping<i64> {
    Wrapping(x.0.rotate_left(r))
}

fn fmix(mut k: Wrapping<i64>) -> Wrapping<i64> {
    k ^= Wrapping(((k.0 as u64) >> 33) as i64);
    k *= Wrapping(0xff51_afd7_ed55_8ccd_u64 as i64);
    k ^= Wrapping(((k.0 as u64) >> 33) as i64);
    k *= Wrapping(0xc4ce_b9fe_1a85_ec53_u64 as i64);
    k ^= Wrapping(((k.0 as u64) >> 33) as i64);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_cassandra_tokens() {
        // Values from Cassandra's `SELECT token(k)` for int and text keys.
        assert_eq!(token_of(&1_i32.to_be_bytes()), -4_069_959_284_402_364_209);
        assert_eq!(token_of(b""), 0);
    }
}
