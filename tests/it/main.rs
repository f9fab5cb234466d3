//! Integration tests: real SQLite files and a real PostgreSQL server.

mod adopt;
mod adopt_eras;
mod atomic;
mod cli;
mod connect;
mod converge;
mod driver_ownership;
mod errors;
mod harness;
mod layers;
mod local_guard;
mod lock;
mod messages;
mod migrate;
mod module_graph;
mod new_and_wait;
mod reset;
mod round_trips;
mod safety;
mod schema_spec;
mod seed;
mod seed_input;
mod seed_replace;
mod support;
mod tls;
mod verify;
