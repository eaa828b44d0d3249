//! The run second by second: calls answered and their latency quantiles, for the plot. Only
//! the current second keeps a histogram; each finished one keeps six numbers, so a long run
//! costs little memory.

use std::time::Duration;

use hdrhistogram::Histogram;

/// One second of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Second {
    /// Seconds since the run began.
    pub second: u64,
    /// Calls answered OK in it.
    pub ok: u64,
    /// Calls that failed in it.
    pub errors: u64,
    /// Median latency of its OK calls, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Largest, ms.
    pub max_ms: f64,
}

pub(crate) struct Timeline {
    current: u64,
    ok: Histogram<u64>,
    errors: u64,
    seconds: Vec<Second>,
}

impl Timeline {
    pub(crate) fn new() -> Self {
        Timeline {
            current: 0,
            // 1 µs to 10 min at 2 significant figures: a few KiB, reused every second.
            ok: Histogram::new_with_bounds(1, 600_000_000, 2)
                .unwrap_or_else(|_| unreachable!("valid histogram bounds")),
            errors: 0,
            seconds: Vec::new(),
        }
    }

    /// A call that answered OK after `micros` (`Some`) or failed (`None`), `at` after the
    /// run began. Calls come in (nearly) in time order; a late one counts in the current second.
    pub(crate) fn call(&mut self, at: Duration, micros: Option<u64>) {
        let now = at.as_secs();
        while self.current < now {
            self.close_second();
        }
        match micros {
            Some(micros) => self.ok.saturating_record(micros),
            None => self.errors += 1,
        }
    }

    /// The current second's figures so far.
    fn current_second(&self) -> Second {
        let quantile = |q: f64| self.ok.value_at_quantile(q) as f64 / 1000.0;
        Second {
            second: self.current,
            ok: self.ok.len(),
            errors: self.errors,
            p50_ms: quantile(0.5),
            p99_ms: quantile(0.99),
            max_ms: self.ok.max() as f64 / 1000.0,
        }
    }

    fn close_second(&mut self) {
        self.seconds.push(self.current_second());
        self.ok.reset();
        self.errors = 0;
        self.current += 1;
    }

    /// Every second so far, the current one included if it had calls.
    pub(crate) fn seconds(&self) -> Vec<Second> {
        let mut seconds = self.seconds.clone();
        if !self.ok.is_empty() || self.errors > 0 {
            seconds.push(self.current_second());
        }
        seconds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_second_keeps_its_own_calls_and_quiet_seconds_count_zero() {
        let mut timeline = Timeline::new();
        let ms = Duration::from_millis;
        timeline.call(ms(10), Some(1_000));
        timeline.call(ms(20), Some(3_000));
        timeline.call(ms(900), None);
        timeline.call(ms(2_500), Some(10_000));
        let seconds = timeline.seconds();
        assert_eq!(seconds.len(), 3);
        assert_eq!((seconds[0].ok, seconds[0].errors), (2, 1));
        assert!((seconds[0].max_ms - 3.0).abs() < 0.05);
        assert_eq!(
            (seconds[1].second, seconds[1].ok, seconds[1].errors),
            (1, 0, 0)
        );
        assert_eq!((seconds[2].second, seconds[2].ok), (2, 1));
        assert!((seconds[2].p50_ms - 10.0).abs() < 0.1);
    }
}
