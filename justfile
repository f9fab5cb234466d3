# plantdb's everyday tasks. `just` lists them.

default:
    @just --list

# Build the release binary.
build:
    cargo build --release

# Apply every migration to the configured database (SQLite file plantdb.sqlite3 by default).
migrate:
    cargo run --release -- migrate up

# Where the configured database stands.
status:
    cargo run --release -- status

# The whole test suite (starts its own PostgreSQL from the installed server binaries).
test:
    cargo test --locked

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --all-targets --locked -- -D warnings

# Time `migrate up` against psql/sqlite3 running the same SQL.
bench-migrate:
    cargo build --release --bins --examples
    cargo run --release --example migrate_bench

# Time `migrate up` against refinery, sqlx, dbmate and psql (peers installed into .peers/ first).
bench-peers ROUNDS="21":
    scripts/bench-peers-setup.sh
    cargo build --release --bins --examples
    cargo run --release --example peer_bench -- {{ROUNDS}}

# Roll the built-in schema out to 100 fresh databases with `fleet --parallel` 1, 4 and 16.
bench-fleet DATABASES="100":
    cargo build --release --bins --examples
    cargo run --release --example fleet_bench -- {{DATABASES}}

# Load and seed generated fixture files of 10k, 100k and 1M rows.
bench-fixtures:
    cargo build --release --examples
    cargo run --release --example fixture_bench -- 10000
    cargo run --release --example fixture_bench -- 100000
    cargo run --release --example fixture_bench -- 1000000

# Drop, recreate, migrate and seed the configured local database (see the README, "reset").
reset:
    cargo run --release -- reset

# Load the built-in seed fixtures into the configured, migrated database.
seed *ARGS:
    cargo run --release -- seed {{ARGS}}

# Time `plantdb seed --scale 165` (997,920 telemetry rows) as a whole process against psql \copy
# and sqlite3 .import of the same rows, in interleaved rounds on fresh databases.
bench-seed ROUNDS="5" SCALE="165" DIALECTS="both":
    cargo build --release --bins --examples
    cargo run --release --example seed_bench -- {{ROUNDS}} {{SCALE}} {{DIALECTS}}

# Seed 10,000,000 telemetry rows (or ROWS) into a plain PostgreSQL and into a Citus coordinator
# with two workers, against psql \copy, and time an hourly aggregate on both. Needs Citus,
# installed or staged: PLANTDB_TEST_CITUS_DIR=<DESTDIR root> just bench-citus (README, Citus).
bench-citus ROWS="10000000":
    cargo build --release --bins --examples
    cargo run --release --example citus_bench -- {{ROWS}}

# What CI runs, on this machine.
ci:
    CI=true bash .ci/run

# A PostgreSQL with TimescaleDB in Docker (see docker-compose.yml).
db-up:
    docker compose up -d --wait

# Check the migrations as CI should: checksums, up/down/up, PostgreSQL-SQLite parity.
verify:
    cargo run --release -- verify --all

# Scaffold a migration for both dialects: `just new add_widget_table`.
new NAME:
    cargo run --release -- migrate new {{NAME}}

# Write the man page and the bash completions into target/.
docs:
    cargo run --release -- man > target/plantdb.1
    cargo run --release -- completions bash > target/plantdb.bash
