//! A synthetic dataset of people for tests and benchmarks: the schema and
//! `n` people, each with an id, a name, an email, an age, a salary, a
//! department, three friends and a manager (ten datoms), the friends and
//! the manager among the people before them, so that every tempid is an
//! entity in the batch where it first appears.

use std::fmt::Write as _;

/// The schema of the people dataset, as one transaction.
pub const SCHEMA: &str = r#"[{:db/ident :person/id :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :person/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :person/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :person/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/index true}
 {:db/ident :person/salary :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :person/dept :db/valueType :db.type/keyword :db/cardinality :db.cardinality/one :db/index true}
 {:db/ident :person/friends :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
 {:db/ident :person/manager :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}]
"#;

/// The friends of person `i`: three distinct people before it (fewer for
/// the first three).
pub fn friends(i: u64) -> Vec<u64> {
    if i <= 3 {
        return (0..i).collect();
    }
    let mut out = Vec::new();
    let mut k = 0u64;
    while out.len() < 3 {
        k += 1;
        let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ k.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 31;
        x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 29;
        let f = x % i;
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

/// The manager of person `i` (none for person 0).
pub fn manager(i: u64) -> Option<u64> {
    (i > 0).then_some(i / 10)
}

/// Person `i` as an EDN map form.
pub fn person(i: u64, out: &mut String) {
    let _ = write!(
        out,
        "{{:db/id \"p{i}\" :person/id {i} :person/name \"Person {i}\" :person/email \"p{i}@example.com\" :person/age {} :person/salary {} :person/dept :dept/d{}",
        18 + i % 60,
        30_000 + (i * 7919) % 90_000,
        i % 50
    );
    let friends = friends(i);
    if !friends.is_empty() {
        out.push_str(" :person/friends [");
        for f in friends {
            let _ = write!(out, "\"p{f}\" ");
        }
        out.push(']');
    }
    if let Some(m) = manager(i) {
        let _ = write!(out, " :person/manager \"p{m}\"");
    }
    out.push('}');
}

/// The schema and `n` people as EDN: the schema's vector, then the people
/// as one vector of forms.
pub fn people_edn(n: u64) -> String {
    let mut out = String::with_capacity(SCHEMA.len() + n as usize * 200);
    out.push_str(SCHEMA);
    out.push('[');
    for i in 0..n {
        person(i, &mut out);
        out.push('\n');
    }
    out.push_str("]\n");
    out
}
