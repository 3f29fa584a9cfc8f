//! The storage contract of accrete: the Storage trait, segment ids and codec, root records with CAS, URIs, the in-memory backend and the conformance suite.
