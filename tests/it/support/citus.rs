//! A real Citus cluster for the tests that ask for one (`PLANTDB_TEST_CITUS=1`): a coordinator
//! and two workers, throwaway servers like the shared one (see `support::postgres`), started
//! from the installed PostgreSQL with Citus preloaded. Citus comes from the installation or
//! from `PLANTDB_TEST_CITUS_DIR`, the root it was installed into with `make install DESTDIR=`;
//! nothing is built here. When Citus cannot be had, the tests that asked for it fail with the
//! reason: they never pass without a cluster.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use postgres::{Client, NoTls};

use super::postgres::{Server, ServerOptions, start_with_retries};

/// How many workers the cluster has.
pub const WORKERS: usize = 2;

struct Cluster {
    coordinator: Server,
    workers: Vec<Server>,
}

impl Cluster {
    fn nodes(&self) -> impl Iterator<Item = &Server> {
        std::iter::once(&self.coordinator).chain(&self.workers)
    }
}

fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
    let started = CLUSTER.get_or_init(|| {
        let options = ServerOptions::citus_node();
        let start = |role: &str| {
            start_with_retries(options).map_err(|e| format!("cannot start the Citus {role}: {e}"))
        };
        let coordinator = start("coordinator")?;
        let workers = (0..WORKERS)
            .map(|_| start("worker"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Cluster {
            coordinator,
            workers,
        })
    });
    match started {
        Ok(cluster) => cluster,
        Err(reason) => panic!("no Citus cluster for the tests that asked for one: {reason}"),
    }
}

/// A fresh database on the coordinator and each worker (Citus wants the same name on every
/// node), with the extension created on all three and the workers added: a coordinator
/// plantdb can distribute on. Dropped on every node afterwards, unless the test panics.
pub struct CitusDatabase {
    /// The coordinator's TCP URL for this database, as the test role.
    pub url: String,
    pub name: String,
    /// The workers' ports, as `pg_dist_node` lists them.
    pub worker_ports: Vec<u16>,
}

/// How far a [`CitusDatabase`] is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// The extension on every node, the coordinator registered, both workers added.
    Cluster,
    /// The extension on every node and the coordinator registered, but no worker added.
    NoWorkers,
    /// The database only: Citus is preloaded on the server, the extension not created.
    NoExtension,
}

impl CitusDatabase {
    pub fn new() -> CitusDatabase {
        CitusDatabase::with(Setup::Cluster)
    }

    pub fn with(setup_kind: Setup) -> CitusDatabase {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let cluster = cluster();
        let name = format!(
            "plantdb_citus_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let setup = || -> Result<(), String> {
            for node in cluster.nodes() {
                node.admin()
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .map_err(|e| format!("cannot create `{name}`: {e}"))?;
            }
            if setup_kind == Setup::NoExtension {
                return Ok(());
            }
            install_citus(cluster, &name, setup_kind)
        };
        if let Err(reason) = setup() {
            panic!("cannot set up Citus database `{name}`: {reason}");
        }
        CitusDatabase {
            // `CREATE EXTENSION citus` turns TLS on with a self-signed X.509 v1 certificate,
            // which rustls cannot parse even where nothing is verified: plain TCP, locally.
            url: format!("{}?sslmode=disable", cluster.coordinator.tcp_url(&name)),
            worker_ports: cluster.workers.iter().map(Server::port).collect(),
            name,
        }
    }

    /// Makes a database created with [`Setup::NoExtension`] the coordinator of a cluster, as
    /// someone taking an existing database into Citus does.
    pub fn join_cluster(&self) {
        if let Err(reason) = install_citus(cluster(), &self.name, Setup::Cluster) {
            panic!("cannot make `{}` a Citus coordinator: {reason}", self.name);
        }
    }

    /// A connection to the coordinator, as the test role.
    pub fn client(&self) -> Client {
        Client::connect(&self.url, NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to Citus database `{}`: {e}", self.name))
    }
}

/// The extension on every node, the coordinator registered and, for [`Setup::Cluster`], the
/// workers added.
fn install_citus(cluster: &Cluster, name: &str, setup_kind: Setup) -> Result<(), String> {
    for node in cluster.nodes() {
        node.admin_on(name)?
            .batch_execute("CREATE EXTENSION citus")
            .map_err(|e| format!("CREATE EXTENSION citus in `{name}`: {e}"))?;
    }
    let mut coordinator = cluster.coordinator.admin_on(name)?;
    coordinator
        .execute(
            "SELECT citus_set_coordinator_host('127.0.0.1', $1)",
            &[&i32::from(cluster.coordinator.port())],
        )
        .map_err(|e| format!("citus_set_coordinator_host: {e}"))?;
    if setup_kind == Setup::NoWorkers {
        return Ok(());
    }
    for worker in &cluster.workers {
        coordinator
            .execute(
                "SELECT citus_add_node('127.0.0.1', $1)",
                &[&i32::from(worker.port())],
            )
            .map_err(|e| format!("citus_add_node: {e}"))?;
    }
    Ok(())
}

impl Drop for CitusDatabase {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "keeping Citus database `{}` of the failed test (the cluster goes away when \
                 the test binary exits)",
                self.name
            );
            return;
        }
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        for node in cluster().nodes() {
            if let Err(e) = node.admin().batch_execute(&drop) {
                eprintln!("cannot drop Citus test database `{}`: {e}", self.name);
            }
        }
    }
}
