//! Test support for every backend: the conformance suite that defines what
//! "a storage" means, a fault-injecting wrapper, closed-loop load for
//! benchmarks, and a linearizability checker for recorded histories. Built
//! with the `testkit` feature.

pub mod conformance;
pub mod containers;
pub mod faults;
pub mod history;
pub mod load;

/// One test per backend from one test body, so that a failure names its
/// backend and the backends run in parallel (rather than a loop inside one
/// test). `$name` is a function of the backend; the macro makes a module
/// of the same name with one test for each `case = Variant` of the enum.
///
/// ```ignore
/// per_backend! {
///     #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
///     async fn a_released_lease_is_taken_at_once for Backend {
///         mem = Mem, file = File, postgres = Postgres, cassandra = Cassandra
///     }
/// }
/// async fn a_released_lease_is_taken_at_once(backend: Backend) { /* … */ }
/// ```
///
/// runs as `a_released_lease_is_taken_at_once::mem`, `…::file`, and so
/// on. `fn` instead of `async fn` makes plain tests of a plain function.
#[macro_export]
macro_rules! per_backend {
    (
        $(#[$attr:meta])*
        async fn $name:ident for $enum:ident { $($cases:tt)* }
    ) => {
        $crate::per_backend!(@module [$(#[$attr])*] asynchronous $name $enum { $($cases)* });
    };
    (
        $(#[$attr:meta])*
        fn $name:ident for $enum:ident { $($cases:tt)* }
    ) => {
        $crate::per_backend!(@module [$(#[$attr])*] synchronous $name $enum { $($cases)* });
    };
    (@module $attrs:tt $kind:ident $name:ident $enum:ident {
        $($case:ident = $variant:ident),+ $(,)?
    }) => {
        mod $name {
            $( $crate::per_backend!(@test $attrs $kind $name $enum $case $variant); )+
        }
    };
    (@test [$(#[$attr:meta])*] asynchronous $name:ident $enum:ident $case:ident $variant:ident) => {
        $(#[$attr])*
        async fn $case() {
            super::$name(super::$enum::$variant).await
        }
    };
    (@test [$(#[$attr:meta])*] synchronous $name:ident $enum:ident $case:ident $variant:ident) => {
        $(#[$attr])*
        fn $case() {
            super::$name(super::$enum::$variant)
        }
    };
}
