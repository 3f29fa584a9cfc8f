//! The PostgreSQL storage backend: segments as rows and roots changed by conditional UPDATE/INSERT.
