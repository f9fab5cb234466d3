//! `plantdb seed` reads its catalog from the live database: tables that `--migrations`
//! created can be seeded, rows another tool wrote are found by their unique keys, and a
//! column the fixtures cannot fill is named before anything is written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plantdb::seed::catalog::{self, NaturalKey};
use plantdb::seed::{SeedMode, live_catalog};

use crate::adopt::{PGMIGRATIONS_HISTORY, plantdb};
use crate::migrate::{connect, up_all};
use crate::seed::{count, rows, seed_sources, test_key};
use crate::support::{PgDatabase, TestDb, each_dialect};

fn execute(db: &TestDb, sql: &str) {
    match db {
        TestDb::Postgres(pg) => pg.client().batch_execute(sql).expect("SQL runs"),
        TestDb::Sqlite(file) => file.connection().execute_batch(sql).expect("SQL runs"),
    }
}

fn source(text: &str) -> Vec<(String, String)> {
    vec![("seeds/live.yaml".into(), text.into())]
}

#[test]
fn the_catalog_read_from_a_migrated_database_is_the_built_in_one() {
    each_dialect(|db| {
        let db = &db;
        up_all(&db.url());
        let mut driver = connect(&db.url());
        let live = live_catalog::read(driver.as_mut()).expect("the catalog reads");
        for table in catalog::TABLES {
            assert_eq!(
                live.table(table.name),
                Some(table),
                "{} on {}",
                table.name,
                db.dialect_name()
            );
        }
        let order = |tables: Vec<&catalog::Table>| -> Vec<&str> {
            tables
                .iter()
                .map(|t| t.name)
                .filter(|n| catalog::table(n).is_some())
                .collect()
        };
        assert_eq!(
            order(live.parent_first()),
            order(catalog::parent_first()),
            "{}",
            db.dialect_name()
        );
        // The unique keys beyond the match key, partial ones with their NULL condition.
        assert_eq!(
            live.natural_keys("gateways"),
            [NaturalKey {
                columns: vec!["gateway_id"],
                where_null: vec!["deleted_at"],
            }],
            "{}",
            db.dialect_name()
        );
        assert_eq!(
            live.natural_keys("plant"),
            [NaturalKey {
                columns: vec!["name"],
                where_null: vec![],
            }],
            "{}",
            db.dialect_name()
        );
    });
}

/// A migrations directory with one migration of the user's own, for both dialects.
fn suppliers_migrations(root: &Path) -> PathBuf {
    let dir = root.join("migrations");
    let version = "V20260301000000__create_suppliers";
    let postgres = "CREATE TABLE suppliers (
            id SERIAL PRIMARY KEY,
            code VARCHAR(8) NOT NULL UNIQUE,
            name TEXT NOT NULL,
            rating INTEGER,
            since TIMESTAMPTZ,
            tags JSONB NOT NULL DEFAULT '[]'
        );
        CREATE TABLE parts (
            sku TEXT PRIMARY KEY,
            supplier_id INTEGER NOT NULL REFERENCES suppliers (id) ON DELETE CASCADE,
            weight DOUBLE PRECISION
        );";
    let sqlite = "CREATE TABLE suppliers (
            id INTEGER PRIMARY KEY,
            code VARCHAR(8) NOT NULL UNIQUE,
            name TEXT NOT NULL,
            rating INTEGER,
            since TIMESTAMP,
            tags TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags))
        );
        CREATE TABLE parts (
            sku TEXT PRIMARY KEY,
            supplier_id INTEGER NOT NULL REFERENCES suppliers (id) ON DELETE CASCADE,
            weight REAL
        );";
    for (folder, up) in [("postgres", postgres), ("sqlite", sqlite)] {
        let at = dir.join(folder);
        std::fs::create_dir_all(&at).unwrap();
        std::fs::write(at.join(format!("{version}.sql")), up).unwrap();
        std::fs::write(
            at.join(format!("{version}.down.sql")),
            "DROP TABLE parts;\nDROP TABLE suppliers;\n",
        )
        .unwrap();
    }
    dir
}

/// `plantdb --migrations DIR seed FILE`; the JSON report, or the error text.
fn seed_cli(
    url: &str,
    dir: &Path,
    migrations: &Path,
    text: &str,
    mode: &str,
) -> Result<serde_json::Value, String> {
    let file = dir.join("live.yaml");
    std::fs::write(&file, text).unwrap();
    let output = plantdb(dir)
        .args(["--database-url", url, "--json", "--migrations"])
        .arg(migrations)
        .args(["seed", "--mode", mode])
        .arg(&file)
        .output()
        .unwrap();
    if output.status.success() {
        Ok(serde_json::from_slice(&output.stdout).expect("a JSON report"))
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// (inserted, updated, deleted, unchanged, cascade_deleted) of `table` in a JSON report.
fn counts(report: &serde_json::Value, table: &str) -> (u64, u64, u64, u64, u64) {
    let tables = report["tables"].as_array().expect("tables");
    let t = tables
        .iter()
        .find(|t| t["table"] == table)
        .unwrap_or_else(|| panic!("{table} in {report}"));
    let n = |k: &str| t[k].as_u64().unwrap_or_else(|| panic!("{k} in {t}"));
    (
        n("inserted"),
        n("updated"),
        n("deleted"),
        n("unchanged"),
        n("cascade_deleted"),
    )
}

const SUPPLIERS: &str = "suppliers:
  acme: {code: ACME, name: Acme Parts, rating: 4, since: 2025-01-02T03:04:05Z, tags: [bolts, nuts]}
  bolt: {code: BOLT, name: Bolt & Co}
parts:
  m4: {supplier: acme, weight: 1.5}
  m5: {supplier: bolt, weight: 2.25}
";

#[test]
fn a_table_added_by_migrations_is_seeded_in_every_mode() {
    each_dialect(|db| {
        let db = &db;
        let dir = tempfile::tempdir().unwrap();
        let migrations = suppliers_migrations(dir.path());
        let url = db.url();
        plantdb(dir.path())
            .args(["--database-url", &url, "--migrations"])
            .arg(&migrations)
            .args(["migrate", "up", "-q"])
            .assert()
            .success();
        let name = db.dialect_name();

        let first = seed_cli(&url, dir.path(), &migrations, SUPPLIERS, "replace")
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(counts(&first, "suppliers"), (2, 0, 0, 0, 0), "{name}");
        assert_eq!(counts(&first, "parts"), (2, 0, 0, 0, 0), "{name}");
        let stored = rows(
            db,
            "SELECT code, CAST(rating AS TEXT), CAST(tags AS TEXT), p.sku FROM suppliers s \
             JOIN parts p ON p.supplier_id = s.id ORDER BY p.sku",
        );
        assert_eq!(stored.len(), 2, "{name}");
        assert_eq!(stored[0][0].as_deref(), Some("ACME"), "{name}");
        assert_eq!(stored[0][1].as_deref(), Some("4"), "{name}");
        assert!(stored[0][2].as_deref().unwrap().contains("bolts"), "{name}");
        assert_eq!(stored[1][3].as_deref(), Some("m5"), "{name}");
        // Typed by the column: a timestamp is stored as one, on SQLite as ISO-8601 UTC text.
        let since = rows(
            db,
            "SELECT CAST(since AS TEXT) FROM suppliers WHERE code = 'ACME'",
        );
        assert!(
            since[0][0].as_deref().unwrap().starts_with("2025-01-02"),
            "{name}: {since:?}"
        );
        let acme_id = rows(
            db,
            "SELECT CAST(id AS TEXT) FROM suppliers WHERE code = 'ACME'",
        );

        // Upsert: one value changed, matched by the UNIQUE code, the id kept.
        let changed = SUPPLIERS.replace("rating: 4", "rating: 5");
        let upsert = seed_cli(&url, dir.path(), &migrations, &changed, "upsert")
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(counts(&upsert, "suppliers"), (0, 1, 0, 1, 0), "{name}");
        assert_eq!(counts(&upsert, "parts"), (0, 0, 0, 2, 0), "{name}");
        assert_eq!(
            rows(
                db,
                "SELECT CAST(id AS TEXT) FROM suppliers WHERE code = 'ACME'"
            ),
            acme_id,
            "{name}"
        );
        assert_eq!(count(db, "suppliers"), 2, "{name}");

        // Replace without `bolt`: it goes, and its part with it through ON DELETE CASCADE.
        let without_bolt = "suppliers:\n  acme: {code: ACME, name: Acme Parts, rating: 5}\n\
                            parts:\n  m4: {supplier: acme, weight: 1.5}\n";
        let replace = seed_cli(&url, dir.path(), &migrations, without_bolt, "replace")
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(counts(&replace, "suppliers").2, 1, "{name}: {replace}");
        assert_eq!(counts(&replace, "parts").2, 1, "{name}: {replace}");
        assert_eq!(count(db, "suppliers"), 1, "{name}");
        assert_eq!(count(db, "parts"), 1, "{name}");
        assert_eq!(
            rows(
                db,
                "SELECT CAST(id AS TEXT) FROM suppliers WHERE code = 'ACME'"
            ),
            acme_id,
            "{name}"
        );

        // The live tables' rules hold before anything is written.
        let long = seed_cli(
            &url,
            dir.path(),
            &migrations,
            "suppliers:\n  x: {code: TOOLONGCODE, name: X}\n",
            "upsert",
        )
        .expect_err("a code longer than VARCHAR(8)");
        assert!(
            long.contains("live.yaml:2:13") && long.contains("at most 8 characters"),
            "{name}: {long}"
        );
        assert_eq!(count(db, "suppliers"), 1, "{name}");
    });
}

#[test]
fn a_column_the_database_requires_and_the_fixture_lacks_is_named_before_any_write() {
    each_dialect(|db| {
        let db = &db;
        up_all(&db.url());
        // Another application's version of `settings`: two NOT NULL columns without a default.
        let updated_at = match db {
            TestDb::Postgres(_) => "TIMESTAMPTZ DEFAULT now()",
            TestDb::Sqlite(_) => "TEXT",
        };
        execute(
            db,
            &format!(
                "DROP TABLE settings;
                 CREATE TABLE settings (
                     key TEXT PRIMARY KEY,
                     value TEXT NOT NULL,
                     updated_at {updated_at},
                     scope TEXT NOT NULL,
                     owner_id INTEGER NOT NULL
                 );"
            ),
        );
        let fixture = "plants:\n  fern: {name: Fern}\nsettings:\n  units: {value: metric}\n";
        let err = seed_sources(&db.url(), &source(fixture), SeedMode::Upsert)
            .expect_err("the fixture cannot fill scope and owner_id");
        let text = format!("{err} | {}", err.hint().unwrap_or_default());
        assert!(
            text.starts_with(
                "seeds/live.yaml:4:3: row `units` of `settings` does not give `scope`, `owner_id`"
            ),
            "{}: {text}",
            db.dialect_name()
        );
        assert!(text.contains("NOT NULL without a default"), "{text}");
        // Nothing was written, not even the rows before it.
        assert_eq!(count(db, "plants"), 0, "{}", db.dialect_name());
        assert_eq!(count(db, "settings"), 0, "{}", db.dialect_name());
    });
}

const ONE_GATEWAY: &str = "organizations:\n  acme: {name: Acme}\n\
    factories:\n  spr: {organization: acme, name: Springfield}\n\
    gateways:\n  north: {factory: spr, gateway_id: GW-1, name: North, url: 'ws://10.0.0.1:5000', email: a@example.com, password: secret}\n";

#[test]
fn a_row_that_two_unique_keys_find_in_different_stored_rows_is_refused_naming_both() {
    each_dialect(|db| {
        let db = &db;
        up_all(&db.url());
        seed_sources(&db.url(), &source(ONE_GATEWAY), SeedMode::Upsert).expect("first seed");
        // Another tool's gateway holds GW-2 under an id of its own.
        execute(
            db,
            "INSERT INTO gateways (id, factory_id, gateway_id, name, url, email, password_encrypted)
             SELECT '00000000-0000-4000-8000-000000000002', factory_id, 'GW-2', 'Other', 'ws://x', 'o@example.com', 'x'
             FROM gateways",
        );
        let before = rows(
            db,
            "SELECT CAST(id AS TEXT), gateway_id, name FROM gateways ORDER BY gateway_id",
        );
        let renamed = ONE_GATEWAY.replace("gateway_id: GW-1", "gateway_id: GW-2");
        let err = seed_sources(&db.url(), &source(&renamed), SeedMode::Upsert)
            .expect_err("north is one stored row by its id and another by GW-2");
        let text = err.to_string();
        assert!(
            text.contains("row `north` of `gateways` matches different stored rows")
                && text.contains("(gateway_id) = ('GW-2') finds the stored row id='00000000-0000-4000-8000-000000000002'")
                && text.contains("(id) = ('"),
            "{}: {text}",
            db.dialect_name()
        );
        assert_eq!(
            rows(
                db,
                "SELECT CAST(id AS TEXT), gateway_id, name FROM gateways ORDER BY gateway_id"
            ),
            before,
            "{}",
            db.dialect_name()
        );
    });
}

#[test]
fn a_row_another_tool_wrote_is_found_by_its_unique_key_and_keeps_its_id() {
    each_dialect(|db| {
        let db = &db;
        up_all(&db.url());
        seed_sources(&db.url(), &source(ONE_GATEWAY), SeedMode::Upsert).expect("first seed");
        // Another tool's gateway GW-9, under an id of its own, in the same factory.
        execute(
            db,
            "INSERT INTO gateways (id, factory_id, gateway_id, name, url, email, password_encrypted)
             SELECT '00000000-0000-4000-8000-000000000009', factory_id, 'GW-9', 'Theirs', 'ws://y', 'o@example.com', 'x'
             FROM gateways",
        );
        let fixture = format!(
            "{ONE_GATEWAY}  south: {{factory: spr, gateway_id: GW-9, name: South, url: 'ws://10.0.0.2:5000', email: a@example.com, password: other}}\n"
        );
        let report = seed_sources(&db.url(), &source(&fixture), SeedMode::Upsert)
            .unwrap_or_else(|e| panic!("{}: {e}", db.dialect_name()));
        let gateways = report
            .tables
            .iter()
            .find(|t| t.table == "gateways")
            .expect("gateways");
        assert_eq!(
            (gateways.inserted, gateways.updated, gateways.unchanged),
            (0, 1, 1),
            "{}",
            db.dialect_name()
        );
        assert_eq!(
            rows(
                db,
                "SELECT CAST(id AS TEXT), name FROM gateways WHERE gateway_id = 'GW-9'"
            ),
            [[
                Some("00000000-0000-4000-8000-000000000009".to_string()),
                Some("South".to_string())
            ]],
            "{}",
            db.dialect_name()
        );
        assert_eq!(count(db, "gateways"), 2, "{}", db.dialect_name());
    });
}

/// The fleet application's schema as its node-pg-migrate migrations make it (`seeds/002_*`:
/// names as node-pg-migrate gives them), and the rows its `seed.ts` writes: random UUIDs
/// and a placeholder password.
const FLEET_APP: &str = "
    CREATE OR REPLACE FUNCTION update_updated_at_column() RETURNS trigger AS $$
    BEGIN NEW.updated_at = NOW(); RETURN NEW; END;
    $$ LANGUAGE plpgsql;
    CREATE TABLE organizations (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name varchar(255) NOT NULL,
        metadata jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT NOW(),
        updated_at timestamptz NOT NULL DEFAULT NOW(),
        deleted_at timestamptz
    );
    CREATE INDEX organizations_deleted_at_index ON organizations (deleted_at) WHERE deleted_at IS NULL;
    CREATE INDEX organizations_name_index ON organizations (name);
    CREATE TRIGGER update_organizations_updated_at BEFORE UPDATE ON organizations
        FOR EACH ROW EXECUTE PROCEDURE update_updated_at_column();
    CREATE TABLE factories (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        organization_id uuid NOT NULL REFERENCES organizations ON DELETE CASCADE,
        name varchar(255) NOT NULL,
        location varchar(500),
        timezone varchar(100) NOT NULL DEFAULT 'UTC',
        metadata jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT NOW(),
        updated_at timestamptz NOT NULL DEFAULT NOW(),
        deleted_at timestamptz
    );
    CREATE INDEX factories_organization_id_index ON factories (organization_id);
    CREATE INDEX factories_deleted_at_index ON factories (deleted_at) WHERE deleted_at IS NULL;
    CREATE INDEX factories_name_index ON factories (name);
    CREATE TRIGGER update_factories_updated_at BEFORE UPDATE ON factories
        FOR EACH ROW EXECUTE PROCEDURE update_updated_at_column();
    CREATE TABLE gateways (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        factory_id uuid NOT NULL REFERENCES factories ON DELETE CASCADE,
        gateway_id varchar(255) NOT NULL,
        name varchar(255) NOT NULL,
        url varchar(500) NOT NULL,
        email varchar(255) NOT NULL,
        password_encrypted text NOT NULL,
        model varchar(100),
        firmware_version varchar(50),
        last_seen_at timestamptz,
        metadata jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT NOW(),
        updated_at timestamptz NOT NULL DEFAULT NOW(),
        deleted_at timestamptz
    );
    CREATE INDEX gateways_factory_id_index ON gateways (factory_id);
    CREATE UNIQUE INDEX gateways_gateway_id_unique_index ON gateways (gateway_id) WHERE deleted_at IS NULL;
    CREATE INDEX gateways_deleted_at_index ON gateways (deleted_at) WHERE deleted_at IS NULL;
    CREATE INDEX gateways_last_seen_at_index ON gateways (last_seen_at);
    CREATE TRIGGER update_gateways_updated_at BEFORE UPDATE ON gateways
        FOR EACH ROW EXECUTE PROCEDURE update_updated_at_column();

    INSERT INTO organizations (name, metadata) VALUES ('Acme Manufacturing', '{}');
    INSERT INTO factories (organization_id, name, location, timezone, metadata)
    SELECT o.id, f.name, f.location, f.timezone, f.metadata::jsonb
    FROM organizations o, (VALUES
        ('Springfield Plant', 'Building 3, Springfield, IL', 'America/Chicago', '{\"manager\": \"Jane Doe\"}'),
        ('Detroit Assembly', '1200 Industrial Pkwy, Detroit, MI', 'America/Detroit', '{\"shifts\": 3}'),
        ('Austin Facility', '500 Tech Blvd, Austin, TX', 'America/Chicago', '{}')
    ) AS f(name, location, timezone, metadata);
    INSERT INTO gateways (factory_id, gateway_id, name, url, email, password_encrypted, model, firmware_version, last_seen_at)
    SELECT f.id, g.gateway_id, g.name, g.url, 'admin@example.com', 'PLACEHOLDER_ENCRYPTED_PASSWORD', g.model, '2.1.0',
           CASE WHEN g.seen THEN NOW() END
    FROM factories f JOIN (VALUES
        ('Springfield Plant', 'GW-SPR-001', 'North Wing Gateway', 'ws://192.168.1.100:5000', 'CTC-GW-100', true),
        ('Springfield Plant', 'GW-SPR-002', 'South Wing Gateway', 'ws://192.168.1.101:5000', 'CTC-GW-200', false),
        ('Detroit Assembly', 'GW-DET-001', 'Main Floor Gateway', 'ws://192.168.2.100:5000', 'CTC-GW-100', true),
        ('Detroit Assembly', 'GW-DET-002', 'Assembly Line Gateway', 'ws://192.168.2.101:5000', 'CTC-GW-200', false),
        ('Austin Facility', 'GW-AUS-001', 'Lab Gateway', 'ws://192.168.3.100:5000', 'CTC-GW-100', true),
        ('Austin Facility', 'GW-AUS-002', 'Server Room Gateway', 'ws://192.168.3.101:5000', 'CTC-GW-200', false)
    ) AS g(factory, gateway_id, name, url, model, seen) ON g.factory = f.name;
";

#[test]
fn upsert_on_the_fleet_apps_rows_updates_its_gateways_in_place() {
    let pg = PgDatabase::new();
    pg.client()
        .batch_execute(FLEET_APP)
        .expect("the fleet app's schema and rows");
    pg.client()
        .batch_execute(PGMIGRATIONS_HISTORY)
        .expect("its history");
    let db = TestDb::Postgres(pg);
    let url = db.url();
    let ids = |db: &TestDb| -> BTreeMap<String, String> {
        rows(db, "SELECT gateway_id, CAST(id AS TEXT) FROM gateways")
            .into_iter()
            .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
            .collect()
    };
    let app_ids = ids(&db);
    assert_eq!(app_ids.len(), 6);
    let app_org = rows(&db, "SELECT CAST(id AS TEXT) FROM organizations");

    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["migrate", "adopt", "--from", "node-pg-migrate"][..],
        &["migrate", "up", "-q"][..],
    ] {
        plantdb(dir.path())
            .args(["--database-url", &url])
            .args(args)
            .assert()
            .success();
    }
    let fleet = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/001_fleet.yaml");
    let upsert = || {
        let output = plantdb(dir.path())
            .env(plantdb::seed::secrets::KEY_VAR, test_key_text())
            .args(["--database-url", &url, "--json", "seed", "--mode", "upsert"])
            .args(["--now", "2026-02-07T12:02:00Z"])
            .arg(&fleet)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&output.stdout).expect("a JSON report")
    };
    let report = upsert();
    assert_eq!(counts(&report, "gateways"), (0, 6, 0, 0, 0), "{report}");

    // No duplicate, every gateway kept its id, and its fields are the fixture's.
    assert_eq!(ids(&db), app_ids);
    let placeholders = rows(
        &db,
        "SELECT gateway_id FROM gateways WHERE password_encrypted = 'PLACEHOLDER_ENCRYPTED_PASSWORD'",
    );
    assert!(placeholders.is_empty(), "{placeholders:?}");
    // The password is the fixture's, encrypted with the key.
    let sealed = rows(
        &db,
        "SELECT password_encrypted FROM gateways WHERE gateway_id = 'GW-SPR-001'",
    );
    assert!(
        test_key()
            .decrypt(sealed[0][0].as_deref().unwrap())
            .is_some()
    );
    // References are intact: each gateway belongs to the fixture's factory of its name.
    let homes = rows(
        &db,
        "SELECT g.gateway_id, f.name FROM gateways g JOIN factories f ON f.id = g.factory_id \
         JOIN organizations o ON o.id = f.organization_id ORDER BY g.gateway_id",
    );
    assert_eq!(homes.len(), 6, "{homes:?}");
    assert!(
        homes.iter().any(|r| r[0].as_deref() == Some("GW-DET-001")
            && r[1].as_deref() == Some("Detroit Assembly")),
        "{homes:?}"
    );
    // No row lost: the app's organization and factories have no unique key to be found by,
    // so they stay beside the fixture's.
    let orgs = rows(&db, "SELECT CAST(id AS TEXT) FROM organizations");
    assert!(orgs.contains(&app_org[0]), "{orgs:?}");
    assert_eq!(count(&db, "factories"), 6);

    // A second run finds every row by its key and changes nothing.
    let again = upsert();
    assert_eq!(counts(&again, "gateways"), (0, 0, 0, 6, 0), "{again}");
    assert_eq!(ids(&db), app_ids);
}

fn test_key_text() -> &'static str {
    "K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols="
}
