//! The accrete command-line tool: run a transactor, create and list databases, transact, read datoms, back up and restore.
