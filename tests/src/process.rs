//! fallwerk's services as processes of their own binaries, for faults only a process has:
//! SIGKILL, with no drain and none of the service's shutdown code.

use std::time::{Duration, Instant};

use crate::TestDatabase;

/// A service as its own process (the binary `cargo build --bins` made beside this test), on
/// a fixed loopback port, so that it can be killed with SIGKILL and started again there.
pub struct ServiceProcess {
    name: &'static str,
    port: u16,
    database_url: String,
    /// `UPSTREAMS`, set before [`ServiceProcess::start`].
    pub upstreams: String,
    child: Option<tokio::process::Child>,
}

impl ServiceProcess {
    /// `name`'s binary, to serve on `db` as `schema`'s runtime role, on a free loopback port.
    pub fn new(name: &'static str, db: &TestDatabase, schema: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        ServiceProcess {
            name,
            port,
            database_url: db.runtime_url(schema),
            upstreams: String::new(),
            child: None,
        }
    }

    /// Its gRPC address.
    pub fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the binary with only the environment a pod would give it, and waits until it
    /// is SERVING; how long that took.
    pub async fn start(&mut self) -> Duration {
        // target/debug/deps/<test>-… -> target/debug/<name>
        let binary = std::env::current_exe()
            .expect("test binary")
            .parent()
            .and_then(|deps| deps.parent())
            .expect("target dir")
            .join(self.name);
        assert!(
            binary.exists(),
            "{} is not built: `cargo build --bins` (deploy/local/test.sh does it)",
            binary.display()
        );
        let started = Instant::now();
        let child = tokio::process::Command::new(binary)
            .arg("serve")
            .env_clear()
            .env("DATABASE_URL", &self.database_url)
            .env("DB_MAX_CONNECTIONS", "6")
            .env("GRPC_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("GRPC_PLAINTEXT", "true")
            .env("METRICS_LISTEN", "off")
            .env("JWKS_FILE", crate::jwks_file())
            .env("SERVICE_TOKEN_FILE", crate::service_token_file(self.name))
            .env("UPSTREAMS", &self.upstreams)
            .env("SHUTDOWN_GRACE_SECS", "5")
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the service starts");
        self.child = Some(child);
        let endpoint = tonic::transport::Endpoint::from_shared(self.address()).expect("endpoint");
        let serving = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(channel) = endpoint.connect().await {
                let status = tonic_health::pb::health_client::HealthClient::new(channel)
                    .check(tonic_health::pb::HealthCheckRequest::default())
                    .await
                    .map(|r| r.into_inner().status);
                if status.is_ok_and(|s| s == serving) {
                    return started.elapsed();
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} did not become SERVING",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no drain, no shutdown code of ours runs.
    pub async fn kill_9(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().await.expect("SIGKILL");
    }
}
