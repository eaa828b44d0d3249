//! A PostgreSQL cluster of one test's own, for faults the shared test cluster must not see:
//! stopping the database under a running service and starting it again.

use std::{path::PathBuf, process::Command};

/// A durable cluster under `.dev/`, started by `deploy/local/postgres.sh` (as `make run`'s
/// is), destroyed when dropped.
pub struct PrivateCluster {
    dir: PathBuf,
    port: u16,
}

impl PrivateCluster {
    /// A fresh cluster on a free loopback port.
    pub async fn start() -> Self {
        let port = {
            let free = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            free.local_addr().expect("addr").port()
        };
        let dir = repo_root()
            .join(".dev")
            .join(format!("pg-private-{}", uuid::Uuid::new_v4().simple()));
        let cluster = PrivateCluster { dir, port };
        cluster.script(&["start", "--fresh"]).await;
        cluster
    }

    /// The superuser URL.
    pub fn admin_url(&self) -> String {
        format!("postgres://fallwerk@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops PostgreSQL (fast shutdown: sessions are ended, as in a restart or failover).
    pub async fn stop(&self) {
        self.script(&["stop"]).await;
    }

    /// Starts it again on the same data and port.
    pub async fn resume(&self) {
        self.script(&["start"]).await;
    }

    async fn script(&self, args: &[&str]) {
        let (command, flag) = (args[0].to_owned(), args.get(1).map(|f| f.to_string()));
        let dir = self.dir.clone();
        let port = self.port.to_string();
        let status = tokio::task::spawn_blocking(move || {
            let mut run = Command::new(repo_root().join("deploy/local/postgres.sh"));
            run.arg(&command).arg(&dir).arg(&port);
            if let Some(flag) = flag {
                run.arg(flag);
            }
            run.status()
        })
        .await
        .expect("joined")
        .expect("postgres.sh runs");
        assert!(status.success(), "postgres.sh {args:?} failed");
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let script = repo_root().join("deploy/local/postgres.sh");
        let _ = Command::new(script).arg("destroy").arg(&self.dir).status();
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}
