//! Datalog query, pull and rules over accrete database values and plain collections.
