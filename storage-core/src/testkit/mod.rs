//! Test support for every backend: the conformance suite that defines what
//! "a storage" means, a fault-injecting wrapper, and closed-loop load for
//! benchmarks. Built with the
//! `testkit` feature.

pub mod conformance;
pub mod containers;
pub mod faults;
pub mod load;
