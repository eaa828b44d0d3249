//! What a run measured: per step an HDR histogram of latencies (µs) and errors by gRPC code;
//! as a table for people or JSON for machines.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tonic::Code;

use crate::{
    Config,
    timeline::{Second, Timeline},
};

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

/// Collects the outcome of every call, by step, in the order steps first appear, and second
/// by second for the plot.
pub struct Recorder {
    start: tokio::time::Instant,
    record: Mutex<Record>,
    /// The first failure with its message, for a run that cannot start.
    first_error: Mutex<Option<String>>,
    /// Iterations finished (whatever their outcome).
    iterations: AtomicU64,
    /// Where acknowledged creates are logged (`--ack-log`).
    acks: Option<Mutex<std::io::BufWriter<std::fs::File>>>,
}

struct Record {
    steps: Vec<(&'static str, StepRecord)>,
    timeline: Timeline,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            start: tokio::time::Instant::now(),
            record: Mutex::new(Record {
                steps: Vec::new(),
                timeline: Timeline::new(),
            }),
            first_error: Mutex::new(None),
            iterations: AtomicU64::new(0),
            acks: None,
        }
    }
}

/// Whether `step` is a propagation between services (named `a → b: what`) rather than a call:
/// the timeline counts calls only.
fn is_call(step: &str) -> bool {
    !step.contains('→')
}

impl Recorder {
    /// A recorder that also logs acknowledged creates to `path` (appended).
    pub fn with_ack_log(path: &std::path::Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Recorder {
            acks: Some(Mutex::new(std::io::BufWriter::new(file))),
            ..Recorder::default()
        })
    }

    /// The service acknowledged creating the `kind` with `id`.
    pub fn acknowledged(&self, kind: &str, id: &str) {
        use std::io::Write;
        if let Some(acks) = &self.acks {
            let mut acks = acks.lock().unwrap_or_else(PoisonError::into_inner);
            // A line per create, flushed at once: the log must hold every answer the tool saw,
            // even if the run is cut short.
            let _ = writeln!(acks, "{kind}\t{id}").and_then(|()| acks.flush());
        }
    }

    /// Records one outcome of `step`: in its own record, and on the timeline if a call (OK
    /// after `micros`, or failed).
    fn record(&self, step: &'static str, micros: Option<u64>, f: impl FnOnce(&mut StepRecord)) {
        let at = self.start.elapsed();
        let mut record = self.record.lock().unwrap_or_else(PoisonError::into_inner);
        let steps = &mut record.steps;
        let index = match steps.iter().position(|(name, _)| *name == step) {
            Some(index) => index,
            None => {
                steps.push((step, StepRecord::new()));
                steps.len() - 1
            }
        };
        f(&mut steps[index].1);
        if is_call(step) {
            record.timeline.call(at, micros);
        }
    }

    /// A call of `step` that answered OK after `latency`.
    pub fn ok(&self, step: &'static str, latency: Duration) {
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.record(step, Some(micros), |s| {
            s.latencies.saturating_record(micros)
        });
    }

    /// One iteration ended.
    pub fn iteration_done(&self) {
        self.iterations.fetch_add(1, Ordering::Relaxed);
    }

    /// A call of `step` that failed with `code`.
    pub fn error(&self, step: &'static str, code: Code) {
        self.record(step, None, |s| {
            *s.errors.entry(format!("{code:?}")).or_default() += 1;
        });
    }

    /// A call of `step` that failed with `status`.
    pub fn failed(&self, step: &'static str, status: &tonic::Status) {
        self.first_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(|| {
                use tonic_types::StatusExt;
                let mut why = format!("{step}: {:?} {}", status.code(), status.message());
                if let Some(reason) = status.get_details_error_info().map(|i| i.reason) {
                    why.push_str(&format!(" ({reason})"));
                }
                for violation in status
                    .get_details_bad_request()
                    .map(|b| b.field_violations)
                    .unwrap_or_default()
                {
                    why.push_str(&format!("; {}: {}", violation.field, violation.description));
                }
                why
            });
        self.error(step, status.code());
    }

    /// The first failure recorded by [`Recorder::failed`], as "step: code message".
    pub fn first_error(&self) -> Option<String> {
        self.first_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Calls answered so far (OK and errors), over all steps.
    fn calls(&self) -> (u64, u64) {
        let record = self.record.lock().unwrap_or_else(PoisonError::into_inner);
        record.steps.iter().fold((0, 0), |(ok, errors), (_, s)| {
            (
                ok + s.latencies.len(),
                errors + s.errors.values().sum::<u64>(),
            )
        })
    }

    /// The report after `elapsed`.
    pub fn report(&self, elapsed: Duration, config: &Config) -> Report {
        let record = self.record.lock().unwrap_or_else(PoisonError::into_inner);
        let steps = &record.steps;
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
            iterations: self.iterations.load(Ordering::Relaxed),
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
            first_error: self.first_error(),
            timeline: record.timeline.seconds(),
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
    /// Iterations finished, whatever their outcome.
    pub iterations: u64,
    /// Per step, in the scenario's order.
    pub steps: Vec<StepReport>,
    /// The first failure, with the server's message, to start looking from.
    pub first_error: Option<String>,
    /// The calls second by second (propagations aside).
    pub timeline: Vec<Second>,
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
            "iterations": self.iterations,
            "iterations_per_second": self.iterations as f64 / self.elapsed.as_secs_f64().max(1e-9),
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
            "first_error": self.first_error,
            "timeline": self.timeline.iter().map(|t| json!({
                "second": t.second, "ok": t.ok, "errors": t.errors,
                "p50_ms": t.p50_ms, "p99_ms": t.p99_ms, "max_ms": t.max_ms,
            })).collect::<Vec<_>>(),
        })
    }

    /// The report for people: one line per step.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{}; {:.1} s; {} iterations\n{:<44} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}  errors\n",
            self.model,
            self.elapsed.as_secs_f64(),
            self.iterations,
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
                "{:<44} {:>8} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}  {errors}",
                s.step, s.ok, s.per_second, s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms
            );
        }
        if let Some(first) = &self.first_error {
            let _ = writeln!(out, "first error: {first}");
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
