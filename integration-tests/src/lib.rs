//! Cross-crate tests of accrete: whole-system scenarios across every backend, with real processes and injected faults.
