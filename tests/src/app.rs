//! Services under test: started through the same entry point as their binaries, alone or
//! wired together by their feeds, on the shared test cluster or a private one; stopped,
//! crashed, restarted, tuned.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use fallwerk_platform::{
    app::{Blueprint, Command, RunError},
    clock::Clock,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::{
    service::interceptor::InterceptedService,
    transport::{Channel, Endpoint},
};
use tonic_health::pb::health_check_response::ServingStatus;

use crate::{
    Bearer, Client, ManualClock, TestDatabase, init_tracing, keys, proxy, service_token_file,
};

/// A running service of fallwerk, started through the same entry point as its binary.
pub struct ServiceApp {
    /// Which service.
    pub service: &'static Blueprint,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its database.
    pub db: TestDatabase,
    /// Its clock.
    pub clock: Arc<ManualClock>,
    /// The upstream feeds it consumes: name and address.
    upstreams: Vec<(String, String)>,
    /// Changes to the server's settings it was started with, kept for a restart.
    tune: Option<Tune>,
    /// The running server, until [`ServiceApp::pause`].
    running: Option<(CancellationToken, JoinHandle<Result<(), RunError>>)>,
}

/// A change to a test service's server settings (limits, timeouts) before it starts.
pub type Tune = Arc<dyn Fn(&mut fallwerk_platform::config::ServerArgs) + Send + Sync>;

/// How a test starts a service, beside its listener and database.
#[derive(Clone, Default)]
struct Launch {
    migrate: bool,
    jwks_url: Option<String>,
    upstreams: Vec<(String, String)>,
    health_listen: Option<std::net::SocketAddr>,
    tune: Option<Tune>,
}

/// Where a service started alone finds its upstreams: a loopback port nothing listens on, so
/// its subscribers retry as they would while an upstream is down in a cluster.
const ABSENT_UPSTREAM: &str = "http://127.0.0.1:9";

/// Starts `services` wired together as in a cluster: each on a fresh, migrated database of its
/// own, each consuming the others' feeds over loopback. Returns them in the order given, once
/// every one is SERVING.
pub async fn spawn_wired(services: &[&'static Blueprint]) -> Vec<ServiceApp> {
    spawn_wired_on(None, services, false).await.0
}

/// [`spawn_wired`] with the databases on the server whose superuser URL is `admin` (a
/// [`crate::cluster::PrivateCluster`]), each migrated by its service at start; `None`: the shared
/// test cluster. With `proxied`, the services reach each other through a [`proxy::TcpProxy`]
/// per service (returned in the same order), for network faults.
pub async fn spawn_wired_on(
    admin: Option<&str>,
    services: &[&'static Blueprint],
    proxied: bool,
) -> (Vec<ServiceApp>, Vec<proxy::TcpProxy>) {
    let mut listeners = Vec::with_capacity(services.len());
    let mut proxies = Vec::new();
    for _ in services {
        let listener = bind_loopback().await;
        if proxied {
            let target = listener.local_addr().expect("local addr");
            proxies.push(proxy::TcpProxy::start(target).await);
        }
        listeners.push(listener);
    }
    let upstreams: Vec<(String, String)> = services
        .iter()
        .zip(&listeners)
        .enumerate()
        .map(|(i, (service, listener))| {
            let addr = match proxies.get(i) {
                Some(proxy) => proxy.addr,
                None => listener.local_addr().expect("local addr"),
            };
            (service.name.to_owned(), format!("http://{addr}"))
        })
        .collect();
    let mut apps = Vec::with_capacity(services.len());
    for (service, listener) in services.iter().zip(listeners) {
        // The wired services, and for a feed of one not started here, an absent upstream.
        let mut wired = upstreams.clone();
        for (name, absent) in absent_upstreams(service) {
            if !wired.iter().any(|(n, _)| *n == name) {
                wired.push((name, absent));
            }
        }
        let db = match admin {
            Some(admin) => TestDatabase::create_on(admin).await,
            None => TestDatabase::migrated(&service.migrator).await,
        };
        let launch = Launch {
            migrate: true,
            upstreams: wired,
            ..Launch::default()
        };
        apps.push(ServiceApp::start_on(service, listener, db, launch).await);
    }
    for app in &apps {
        app.wait_serving().await;
    }
    (apps, proxies)
}

async fn bind_loopback() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback")
}

/// The upstreams of `service` started alone: every feed it consumes, absent.
fn absent_upstreams(service: &Blueprint) -> Vec<(String, String)> {
    (service.feeds)()
        .iter()
        .map(|feed| (feed.upstream().to_owned(), ABSENT_UPSTREAM.to_owned()))
        .collect()
}

impl ServiceApp {
    /// Starts `service` alone on a fresh, migrated database and waits until it is SERVING. The
    /// feeds it consumes point at an absent upstream.
    pub async fn spawn(service: &'static Blueprint) -> Self {
        let db = TestDatabase::migrated(&service.migrator).await;
        let app = Self::start(service, db, true).await;
        app.wait_serving().await;
        app
    }

    /// [`Self::start`] with the plaintext health port on `health_listen` too.
    pub async fn start_with_health_port(
        service: &'static Blueprint,
        db: TestDatabase,
        migrate: bool,
        health_listen: std::net::SocketAddr,
    ) -> Self {
        let launch = Launch {
            migrate,
            upstreams: absent_upstreams(service),
            health_listen: Some(health_listen),
            ..Launch::default()
        };
        Self::start_on(service, bind_loopback().await, db, launch).await
    }

    /// Starts `service` alone on `db`, migrating at start when `migrate`; does not wait for
    /// readiness.
    pub async fn start(service: &'static Blueprint, db: TestDatabase, migrate: bool) -> Self {
        let launch = Launch {
            migrate,
            upstreams: absent_upstreams(service),
            ..Launch::default()
        };
        Self::start_on(service, bind_loopback().await, db, launch).await
    }

    /// [`Self::spawn`] with the server's settings changed by `tune` (limits, timeouts); a
    /// restart keeps them.
    pub async fn spawn_tuned(
        service: &'static Blueprint,
        tune: impl Fn(&mut fallwerk_platform::config::ServerArgs) + Send + Sync + 'static,
    ) -> Self {
        let db = TestDatabase::migrated(&service.migrator).await;
        let launch = Launch {
            migrate: true,
            upstreams: absent_upstreams(service),
            tune: Some(Arc::new(tune)),
            ..Launch::default()
        };
        let app = Self::start_on(service, bind_loopback().await, db, launch).await;
        app.wait_serving().await;
        app
    }

    /// Starts `service` alone on a fresh, migrated database that takes its keys from
    /// `jwks_url`.
    pub async fn spawn_with_jwks_url(service: &'static Blueprint, jwks_url: &str) -> Self {
        let db = TestDatabase::migrated(&service.migrator).await;
        let launch = Launch {
            migrate: true,
            jwks_url: Some(jwks_url.to_owned()),
            upstreams: absent_upstreams(service),
            ..Launch::default()
        };
        let app = Self::start_on(service, bind_loopback().await, db, launch).await;
        app.wait_serving().await;
        app
    }

    /// Stops this instance and starts a new one on the same address and database, as a
    /// restarted pod behind a stable Service address.
    pub async fn restart(mut self) -> Self {
        self.pause().await;
        self.resume().await;
        self
    }

    /// Restarts the service (as [`ServiceApp::restart`] does) with its server settings
    /// changed by `tune` from now on; `None`: the defaults again.
    pub async fn restart_tuned(&mut self, tune: Option<Tune>) {
        self.pause().await;
        self.tune = tune;
        self.resume().await;
    }

    /// Stops the service as a crash would: the server is dropped mid-call (connections cut,
    /// open transactions rolled back by PostgreSQL when their connections close), then its
    /// background work (feed subscribers, sequencer, chainer) is stopped. In-process, so the
    /// nearest there is to SIGKILL; [`ServiceApp::resume`] starts it again.
    pub async fn crash(&mut self) {
        let (shutdown, task) = self.running.take().expect("the service is running");
        task.abort();
        let _ = task.await;
        shutdown.cancel();
    }

    /// Stops the service the way SIGTERM does (clients then find nothing listening), keeping
    /// its address and database for [`ServiceApp::resume`].
    pub async fn pause(&mut self) {
        let (shutdown, task) = self.running.take().expect("the service is running");
        shutdown.cancel();
        task.await
            .expect("service task")
            .expect("the service stopped cleanly");
    }

    /// Stops the service and starts it on `db` (a restored copy of its database), on the same
    /// address, as pods pointed at a restored cluster.
    pub async fn move_to(&mut self, db: TestDatabase) {
        self.pause().await;
        self.db = db;
        self.resume().await;
    }

    /// Starts the service again on its address and database, and waits until it is SERVING.
    pub async fn resume(&mut self) {
        assert!(self.running.is_none(), "the service is running");
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .expect("rebind the same port");
        let launch = Launch {
            upstreams: self.upstreams.clone(),
            tune: self.tune.clone(),
            ..Launch::default()
        };
        let again = Self::start_on(self.service, listener, self.db.clone(), launch).await;
        again.wait_serving().await;
        // The clock goes on where it was: a restart does not travel in time.
        again.clock.set(self.clock.now());
        self.clock = again.clock;
        self.running = again.running;
    }

    async fn start_on(
        service: &'static Blueprint,
        listener: tokio::net::TcpListener,
        db: TestDatabase,
        launch: Launch,
    ) -> Self {
        init_tracing();
        let jwks_file = keys().jwks.to_string_lossy().into_owned();
        let (jwks_flag, jwks) = match &launch.jwks_url {
            Some(url) => ("--jwks-url", url.as_str()),
            None => ("--jwks-file", jwks_file.as_str()),
        };
        let token_file = service_token_file(service.name)
            .to_string_lossy()
            .into_owned();
        let upstream_args: Vec<String> = launch
            .upstreams
            .iter()
            .map(|(name, url)| format!("{name}={url}"))
            .collect();
        // As in a cluster: the roles exist, migrations run as the schema's owner (the init
        // container), and the service serves as its runtime role.
        let schema = service.migrator.schema();
        db.set_up_roles().await;
        if launch.migrate {
            let owner = db.url_as(&crate::owner_role(schema));
            let runtime = crate::runtime_role(schema);
            let migrate = service
                .parse_cli([
                    service.name,
                    "--database-url",
                    &owner,
                    "--db-runtime-role",
                    &runtime,
                    "migrate",
                ])
                .expect("valid migrate configuration");
            service
                .migrate(&migrate.database)
                .await
                .expect("migrate as the owner");
        }
        let runtime_url = db.runtime_url(schema);
        let mut args = vec![
            service.name,
            "--database-url",
            &runtime_url,
            "--db-max-connections",
            "6",
            "serve",
            "--listen",
            "127.0.0.1:0",
            jwks_flag,
            jwks,
            "--shutdown-grace-secs",
            "5",
            "--plaintext",
            "--service-token-file",
            &token_file,
        ];
        for upstream in &upstream_args {
            args.extend(["--upstream", upstream.as_str()]);
        }
        let cli = service.parse_cli(args).expect("valid test configuration");
        let Command::Serve(mut serve) = cli.command else {
            unreachable!("serve was given")
        };
        serve.server.health_listen = launch.health_listen;
        if let Some(tune) = &launch.tune {
            tune(&mut serve.server);
        }
        let addr = listener.local_addr().expect("local addr");
        let clock = Arc::new(ManualClock::default());
        let shutdown = CancellationToken::new();
        let database = cli.database.clone();
        let task = tokio::spawn({
            let clock: Arc<dyn Clock> = clock.clone();
            let shutdown = shutdown.clone();
            async move {
                service
                    .run(listener, &database, &serve, clock, shutdown)
                    .await
            }
        });
        ServiceApp {
            service,
            addr,
            db,
            clock,
            upstreams: launch.upstreams,
            tune: launch.tune,
            running: Some((shutdown, task)),
        }
    }

    /// A plain channel to the service.
    pub async fn channel(&self) -> Channel {
        Endpoint::from_shared(format!("http://{}", self.addr))
            .expect("endpoint")
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .expect("connect to the service")
    }

    /// A client of the service presenting `token`.
    pub async fn client<C: Client>(&self, token: &str) -> C {
        C::on(InterceptedService::new(
            self.channel().await,
            Bearer::new(token),
        ))
    }

    /// The health status the service reports for `name` (`""`: the server as a whole).
    pub async fn health_of(&self, name: &str) -> i32 {
        let mut health = tonic_health::pb::health_client::HealthClient::new(self.channel().await);
        health
            .check(tonic_health::pb::HealthCheckRequest {
                service: name.into(),
            })
            .await
            .map(|r| r.into_inner().status)
            .unwrap_or(-1)
    }

    /// Runs the service's retention rules at `now` with the default periods, as
    /// `<service> retention run [--dry-run]` does.
    pub async fn retention_run(
        &self,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> fallwerk_platform::retention::Report {
        let run = fallwerk_platform::retention::Run {
            pool: self.db.pool().await,
            schema: self.service.migrator.schema(),
            now,
            dry_run,
            periods: fallwerk_platform::retention::Periods::Given(Vec::new()),
        };
        (self.service.retention)(run).await.expect("retention run")
    }

    /// Waits (up to 30 s) until the server reports SERVING.
    pub async fn wait_serving(&self) {
        self.wait_health(ServingStatus::Serving).await;
    }

    /// Waits (up to 30 s) until the server as a whole reports `status`; how long it took.
    pub async fn wait_health(&self, status: ServingStatus) -> Duration {
        let started = std::time::Instant::now();
        for _ in 0..300 {
            if self.health_of("").await == status as i32 {
                return started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{} did not report {status:?} within 30 s",
            self.service.name
        );
    }

    /// Stops the service the way SIGTERM does and waits for it to finish.
    pub async fn stop(mut self) -> Result<(), RunError> {
        let (shutdown, task) = self.running.take().expect("the service is running");
        shutdown.cancel();
        task.await.expect("service task")
    }
}
