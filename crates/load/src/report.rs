//! What a run measured: per step an HDR histogram of latencies (µs) and errors by gRPC code;
//! as a table for people or JSON for machines.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tonic::Code;

use crate::Config;

/// One step's record.
struct StepRecord {
    latencies: Histogram<u64>,
    errors: BTreeMap<String, u64>,
}

impl StepRecord {
    fn new() -> Self {
        StepRecord {
            // 1 µs to 10 min at 3 significant figures.
            latencies: Histogram::new_with_bounds(1, 600_000_000, 3)
                .unwrap_or_else(|_| unreachable!("valid histogram bounds")),
            errors: BTreeMap::new(),
        }
    }
}

/// Collects the outcome of every call, by step, in the order steps first appear.
#[derive(Default)]
pub struct Recorder {
    steps: Mutex<Vec<(&'static str, StepRecord)>>,
}

impl Recorder {
    fn with_step<R>(&self, step: &'static str, f: impl FnOnce(&mut StepRecord) -> R) -> R {
        let mut steps = self.steps.lock().unwrap_or_else(PoisonError::into_inner);
        let index = match steps.iter().position(|(name, _)| *name == step) {
            Some(index) => index,
            None => {
                steps.push((step, StepRecord::new()));
                steps.len() - 1
            }
        };
        f(&mut steps[index].1)
    }

    /// A call of `step` that answered OK after `latency`.
    pub fn ok(&self, step: &'static str, latency: Duration) {
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.with_step(step, |s| s.latencies.saturating_record(micros));
    }

    /// A call of `step` that failed with `code`.
    pub fn error(&self, step: &'static str, code: Code) {
        self.with_step(step, |s| {
            *s.errors.entry(format!("{code:?}")).or_default() += 1;
        });
    }

    /// Calls answered so far (OK and errors), over all steps.
    fn calls(&self) -> (u64, u64) {
        let steps = self.steps.lock().unwrap_or_else(PoisonError::into_inner);
        steps.iter().fold((0, 0), |(ok, errors), (_, s)| {
            (
                ok + s.latencies.len(),
                errors + s.errors.values().sum::<u64>(),
            )
        })
    }

    /// The report after `elapsed`.
    pub fn report(&self, elapsed: Duration, config: &Config) -> Report {
        let steps = self.steps.lock().unwrap_or_else(PoisonError::into_inner);
        let seconds = elapsed.as_secs_f64().max(1e-9);
        let quantile = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        Report {
            model: match config.rate {
                Some(rate) => format!(
                    "open, {rate} iterations/s, at most {} in flight",
                    config.concurrency
                ),
                None => format!("closed, {} clients", config.concurrency),
            },
            elapsed,
            steps: steps
                .iter()
                .map(|(name, s)| StepReport {
                    step: name,
                    ok: s.latencies.len(),
                    per_second: s.latencies.len() as f64 / seconds,
                    p50_ms: quantile(&s.latencies, 0.5),
                    p90_ms: quantile(&s.latencies, 0.9),
                    p99_ms: quantile(&s.latencies, 0.99),
                    p999_ms: quantile(&s.latencies, 0.999),
                    max_ms: s.latencies.max() as f64 / 1000.0,
                    errors: s.errors.clone(),
                })
                .collect(),
        }
    }
}

/// What a run measured.
#[derive(Debug)]
pub struct Report {
    /// Open or closed, and its numbers.
    pub model: String,
    /// How long it ran.
    pub elapsed: Duration,
    /// Per step, in the scenario's order.
    pub steps: Vec<StepReport>,
}

/// One step's figures.
#[derive(Debug)]
pub struct StepReport {
    /// The step (an RPC, or a propagation between services).
    pub step: &'static str,
    /// Calls answered OK.
    pub ok: u64,
    /// OK answers per second of the run.
    pub per_second: f64,
    /// Latency quantiles in milliseconds.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest.
    pub max_ms: f64,
    /// Failed calls by gRPC code.
    pub errors: BTreeMap<String, u64>,
}

impl Report {
    /// The report for machines.
    pub fn json(&self) -> Value {
        json!({
            "model": self.model,
            "elapsed_seconds": self.elapsed.as_secs_f64(),
            "steps": self.steps.iter().map(|s| json!({
                "step": s.step,
                "ok": s.ok,
                "per_second": s.per_second,
                "latency_ms": {
                    "p50": s.p50_ms, "p90": s.p90_ms, "p99": s.p99_ms,
                    "p99_9": s.p999_ms, "max": s.max_ms,
                },
                "errors": s.errors,
            })).collect::<Vec<_>>(),
        })
    }

    /// The report for people: one line per step.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{}; {:.1} s\n{:<34} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}  errors\n",
            self.model,
            self.elapsed.as_secs_f64(),
            "step",
            "ok",
            "per s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
        );
        for s in &self.steps {
            let errors = if s.errors.is_empty() {
                "-".to_owned()
            } else {
                s.errors
                    .iter()
                    .map(|(code, n)| format!("{code} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                out,
                "{:<34} {:>8} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}  {errors}",
                s.step, s.ok, s.per_second, s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms
            );
        }
        out
    }
}

/// A progress line on stderr every second until `stop`.
pub async fn progress(recorder: Arc<Recorder>, stop: Arc<AtomicBool>) {
    let begin = tokio::time::Instant::now();
    let mut last = 0;
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.tick().await;
    while !stop.load(Ordering::Relaxed) {
        every.tick().await;
        let (ok, errors) = recorder.calls();
        eprint!(
            "\r{:>6.0} s  {ok:>9} calls ok  {:>7} calls/s  {errors} errors   ",
            begin.elapsed().as_secs_f64(),
            ok - last,
        );
        last = ok;
    }
    eprintln!();
}
