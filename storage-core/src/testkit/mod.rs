//! Test support for every backend: the conformance suite that defines what
//! "a storage" means, a fault-injecting wrapper, closed-loop load for
//! benchmarks, and a linearizability checker for recorded histories. Built
//! with the `testkit` feature.

pub mod conformance;
pub mod containers;
pub mod faults;
pub mod history;
pub mod load;
