//! fallwerk-load: load that follows the office's real process, with fresh data in every
//! iteration, against the configured addresses only.
//!
//! - **Open model** (`--rate`): iterations start at a fixed arrival rate, and each one's first
//!   call is timed from its *intended* start, so a server that falls behind cannot hide it by
//!   slowing the client down (no coordinated omission). `--concurrency` bounds what is in
//!   flight; a late start still counts from its intended time.
//! - **Closed model** (no `--rate`): `--concurrency` clients, each starting its next iteration
//!   when its last one ends.
//!
//! Both ramp up over `--ramp-up` and run for `--duration` or `--iterations`. The report
//! ([`report::Report`]) has per step the throughput, latency quantiles from an HDR histogram,
//! and errors by gRPC code; a progress line runs on stderr meanwhile.

pub mod plot;
pub mod report;
pub mod scenario;
pub mod timeline;

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{sync::Semaphore, task::JoinSet, time::Instant};

use crate::{report::Recorder, scenario::Kind};

/// What to run, against what.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "fallwerk-load",
    version,
    about = "Load for fallwerk, along the office's process"
)]
pub struct Config {
    /// What each iteration does.
    #[arg(long, value_enum, default_value_t = Kind::Arrival)]
    pub scenario: Kind,
    /// intake's gRPC address.
    #[arg(long, env = "FALLWERK_ADDR", default_value = "http://127.0.0.1:50051")]
    pub intake: String,
    /// case-plan's gRPC address: each opened case is then read there (at the feed position
    /// OpenCase answered), which measures the propagation from intake to case-plan.
    #[arg(long, env = "FALLWERK_CASE_PLAN_ADDR")]
    pub case_plan: Option<String>,
    /// partner's gRPC address: the run's agency follows its change stream, and referrals are
    /// timed from `CreateReferral`'s answer to their arrival on it.
    #[arg(long, env = "FALLWERK_PARTNER_ADDR")]
    pub partner: Option<String>,
    /// The weights of `--scenario mix`.
    #[arg(long, default_value_t = scenario::Mix::default())]
    pub mix: scenario::Mix,
    /// Cases the run takes to an accepted referral before it starts, for `advisor-reads`,
    /// `agency` and `mix` to read and report on.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub seed_cases: u32,
    /// Open model: iterations started per second. Without it, the closed model.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub rate: Option<u32>,
    /// Closed model: concurrent clients. Open model: most iterations in flight.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,
    /// How long to start iterations, e.g. `30s`, `2m` (default 10s unless `--iterations`).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// How many iterations to start at most.
    #[arg(long)]
    pub iterations: Option<u64>,
    /// The rate (or the clients) rises linearly to full over this time.
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub ramp_up: Duration,
    /// Directory of the development signing key (`fallwerk dev-key`, `make run`'s `.dev`):
    /// the tokens of the roles the scenario needs are minted from it.
    #[arg(long, env = "FALLWERK_KEY_DIR", default_value = ".dev")]
    pub key_dir: PathBuf,
    /// Tokens from files instead of minted ones, for a cluster whose identity provider issues
    /// them: `admin`, `front_desk`, `advisors` (one per line) and `partner` (scenario/tokens.rs).
    #[arg(long, env = "FALLWERK_TOKEN_DIR")]
    pub token_dir: Option<PathBuf>,
    /// PEM CA of the servers' certificates, for `https://` addresses.
    #[arg(long, env = "FALLWERK_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Advisors the run adds to its own team (each carries up to 500 open cases).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub advisors: u32,
    /// Writes the run as an SVG picture to this file: calls per second, and p50, p99 and max
    /// latency per second.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Append every create the services acknowledged to this file, one `kind<TAB>id` line
    /// each (kinds: applicant, visit, case, agreement, referral): what a fault test checks the
    /// databases against afterwards.
    #[arg(long)]
    pub ack_log: Option<PathBuf>,
    /// The report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress line.
    #[arg(long)]
    pub quiet: bool,
}

/// Why a run could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A setting is unusable.
    #[error("{0}")]
    Config(String),
    /// Setting up the run's own team and roster failed.
    #[error("setting up the run's team failed: {0}")]
    Setup(tonic::Status),
}

/// `30s`, `2m`, `500ms` or plain seconds.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let (number, scale) = if let Some(ms) = value.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(s) = value.strip_suffix('s') {
        (s, 1.0)
    } else if let Some(m) = value.strip_suffix('m') {
        (m, 60.0)
    } else {
        (value, 1.0)
    };
    number
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .map(|n| Duration::from_secs_f64(n * scale))
        .ok_or_else(|| format!("{value:?}: expected a duration such as 30s, 2m or 500ms"))
}

impl Config {
    /// How long iterations are started for.
    fn run_time(&self) -> Duration {
        match (self.duration, self.iterations) {
            (Some(duration), _) => duration,
            (None, Some(_)) => Duration::MAX,
            (None, None) => Duration::from_secs(10),
        }
    }
}

/// When the `i`-th iteration of the open model is meant to start, after `start`: at `rate`
/// per second, the rate rising linearly from 0 over `ramp` (so `rate·t²/(2·ramp)` iterations
/// have started by time `t` within it).
fn intended_start(i: u64, rate: f64, ramp: Duration) -> Duration {
    let ramp = ramp.as_secs_f64();
    let during_ramp = rate * ramp / 2.0;
    let i = i as f64;
    let at = if i < during_ramp {
        (2.0 * ramp * i / rate).sqrt()
    } else {
        ramp + (i - during_ramp) / rate
    };
    Duration::from_secs_f64(at)
}

/// A closed-model client's wait after a failed iteration; doubled while failures go on.
const FAILURE_BACKOFF: Duration = Duration::from_millis(50);
/// The longest such wait.
const MAX_FAILURE_BACKOFF: Duration = Duration::from_secs(1);

/// Runs the load and gives its report.
pub async fn run(config: &Config) -> Result<report::Report, LoadError> {
    let scenario = Arc::new(scenario::set_up(config).await?);
    let recorder = Arc::new(match &config.ack_log {
        Some(path) => Recorder::with_ack_log(path)
            .map_err(|e| LoadError::Config(format!("--ack-log {}: {e}", path.display())))?,
        None => Recorder::default(),
    });
    let started = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let progress = (!config.quiet)
        .then(|| tokio::spawn(report::progress(Arc::clone(&recorder), Arc::clone(&stop))));
    let run_time = config.run_time();
    let limit = config.iterations.unwrap_or(u64::MAX);
    let begin = Instant::now();
    let mut running = JoinSet::new();
    match config.rate {
        Some(rate) => {
            let in_flight = Arc::new(Semaphore::new(config.concurrency as usize));
            for i in 0..limit {
                let offset = intended_start(i, f64::from(rate), config.ramp_up);
                if offset >= run_time {
                    break;
                }
                let intended = begin + offset;
                tokio::time::sleep_until(intended).await;
                let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
                    break;
                };
                started.fetch_add(1, Ordering::Relaxed);
                let (scenario, recorder) = (Arc::clone(&scenario), Arc::clone(&recorder));
                running.spawn(async move {
                    scenario.iteration(i, intended, &recorder).await;
                    recorder.iteration_done();
                    drop(permit);
                });
                // Reap finished iterations as we go, so the set stays small.
                while running.try_join_next().is_some() {}
            }
        }
        None => {
            let clients = u64::from(config.concurrency);
            for client in 0..clients {
                let delay = config.ramp_up.mul_f64(client as f64 / clients as f64);
                let (scenario, recorder, started) = (
                    Arc::clone(&scenario),
                    Arc::clone(&recorder),
                    Arc::clone(&started),
                );
                running.spawn(async move {
                    tokio::time::sleep(delay).await;
                    let mut backoff = Duration::ZERO;
                    loop {
                        let i = started.fetch_add(1, Ordering::Relaxed);
                        if i >= limit || begin.elapsed() >= run_time {
                            break;
                        }
                        let ok = scenario.iteration(i, Instant::now(), &recorder).await;
                        recorder.iteration_done();
                        // A client whose calls fail waits before its next iteration, as a
                        // well-behaved client backs off (exponential, full jitter), instead of
                        // failing again in a tight loop while a service is down.
                        backoff = if ok {
                            Duration::ZERO
                        } else {
                            (backoff * 2).clamp(FAILURE_BACKOFF, MAX_FAILURE_BACKOFF)
                        };
                        if !backoff.is_zero() {
                            tokio::time::sleep(backoff.mul_f64(fastrand::f64())).await;
                        }
                    }
                });
            }
        }
    }
    while running.join_next().await.is_some() {}
    stop.store(true, Ordering::Relaxed);
    if let Some(progress) = progress {
        let _ = progress.await;
    }
    Ok(recorder.report(begin.elapsed(), config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_their_unit() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        for bad in ["", "s", "-1s", "ten", "NaNs"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_open_model_starts_on_schedule_and_ramps_up_linearly() {
        let at = |i, ramp| intended_start(i, 100.0, Duration::from_secs(ramp)).as_secs_f64();
        // No ramp: every 10 ms.
        assert!((at(0, 0) - 0.0).abs() < 1e-9);
        assert!((at(250, 0) - 2.5).abs() < 1e-9);
        // A 2 s ramp starts 100 iterations (half of 2 s at full rate), then full rate.
        assert!((at(100, 2) - 2.0).abs() < 1e-9);
        assert!((at(200, 2) - 3.0).abs() < 1e-9);
        // Within the ramp, the first quarter of its iterations take half its time.
        assert!((at(25, 2) - 1.0).abs() < 1e-9);
    }
}
