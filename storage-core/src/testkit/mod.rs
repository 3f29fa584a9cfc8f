//! Test support for every backend: the conformance suite that defines what
//! "a storage" means, and a fault-injecting wrapper. Built with the
//! `testkit` feature.

pub mod conformance;
pub mod faults;
