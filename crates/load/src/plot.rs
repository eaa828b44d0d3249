//! The run as an SVG picture (`--plot`): calls per second above, latency per second below
//! (p50, p99 and max of the calls answered in that second), on a common time axis. Plain SVG
//! with no scripts or external references, so any browser or image viewer shows it.

use std::fmt::Write as _;

use crate::{report::Report, timeline::Second};

const WIDTH: f64 = 900.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const PANEL: f64 = 240.0;
const TOP: f64 = 50.0;
const GAP: f64 = 70.0;

/// The smallest of 1, 2, 5 × 10^k that is at least `value` (at least 1).
fn nice_ceiling(value: f64) -> f64 {
    let value = value.max(1.0);
    let scale = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * scale)
        .find(|v| *v >= value)
        .unwrap_or(10.0 * scale)
}

/// Escapes text for SVG.
fn text(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One panel: axes, grid, labels and a line per series.
struct Panel<'a> {
    top: f64,
    title: &'a str,
    unit: &'a str,
    y_max: f64,
    x_max: f64,
}

impl Panel<'_> {
    fn x(&self, second: f64) -> f64 {
        LEFT + (WIDTH - LEFT - RIGHT) * second / self.x_max
    }

    fn y(&self, value: f64) -> f64 {
        self.top + PANEL - PANEL * (value / self.y_max).min(1.0)
    }

    fn frame(&self, out: &mut String) {
        let _ = writeln!(
            out,
            r##"<text x="{LEFT}" y="{}" font-weight="bold">{}</text>"##,
            self.top - 10.0,
            text(self.title)
        );
        for tick in 0..=5 {
            let value = self.y_max * f64::from(tick) / 5.0;
            let y = self.y(value);
            let _ = writeln!(
                out,
                r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                WIDTH - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                format_value(value)
            );
        }
        let step = nice_ceiling(self.x_max / 10.0);
        let mut second = 0.0;
        while second <= self.x_max + 1e-9 {
            let x = self.x(second);
            let _ = writeln!(
                out,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{}" y2="{}" stroke="#999"/><text x="{x:.1}" y="{}" text-anchor="middle">{second} s</text>"##,
                self.top + PANEL,
                self.top + PANEL + 5.0,
                self.top + PANEL + 20.0,
            );
            second += step;
        }
        let _ = writeln!(
            out,
            r##"<text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle">{}</text>"##,
            self.top + PANEL / 2.0,
            self.top + PANEL / 2.0,
            text(self.unit)
        );
        let _ = writeln!(
            out,
            r##"<rect x="{LEFT}" y="{}" width="{}" height="{PANEL}" fill="none" stroke="#999"/>"##,
            self.top,
            WIDTH - LEFT - RIGHT
        );
    }

    /// A series as a line at the middle of each second, with its legend entry at `slot`.
    fn line(
        &self,
        out: &mut String,
        seconds: &[Second],
        value: impl Fn(&Second) -> f64,
        colour: &str,
        label: &str,
        slot: usize,
    ) {
        let points: Vec<String> = seconds
            .iter()
            .map(|s| {
                format!(
                    "{:.1},{:.1}",
                    self.x(s.second as f64 + 0.5),
                    self.y(value(s))
                )
            })
            .collect();
        let _ = writeln!(
            out,
            r##"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{}"/>"##,
            points.join(" ")
        );
        let x = WIDTH - RIGHT - 110.0 * (slot as f64 + 1.0);
        let _ = writeln!(
            out,
            r##"<line x1="{x}" x2="{}" y1="{}" y2="{}" stroke="{colour}" stroke-width="3"/><text x="{}" y="{}">{}</text>"##,
            x + 18.0,
            self.top - 14.0,
            self.top - 14.0,
            x + 22.0,
            self.top - 10.0,
            text(label)
        );
    }
}

fn format_value(value: f64) -> String {
    if value >= 100.0 || value == value.round() {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// The report's timeline as an SVG document.
pub fn svg(report: &Report) -> String {
    let seconds = &report.timeline;
    let x_max = (seconds.len() as f64).max(1.0);
    let height = TOP + 2.0 * PANEL + GAP + 40.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"##
    );
    let _ = writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="white"/><text x="{LEFT}" y="20" font-size="14">fallwerk-load: {}; {:.1} s</text>"##,
        text(&report.model),
        report.elapsed.as_secs_f64()
    );
    let calls = Panel {
        top: TOP + 20.0,
        title: "Calls per second",
        unit: "calls/s",
        y_max: nice_ceiling(
            seconds
                .iter()
                .map(|s| (s.ok + s.errors) as f64)
                .fold(0.0, f64::max)
                * 1.1,
        ),
        x_max,
    };
    calls.frame(&mut out);
    calls.line(&mut out, seconds, |s| s.ok as f64, "#1f77b4", "OK", 1);
    calls.line(
        &mut out,
        seconds,
        |s| s.errors as f64,
        "#d62728",
        "errors",
        0,
    );
    let latency = Panel {
        top: calls.top + PANEL + GAP,
        title: "Latency of the calls answered in each second (max is cut at the top)",
        unit: "ms",
        y_max: nice_ceiling(seconds.iter().map(|s| s.p99_ms).fold(0.0, f64::max) * 1.2),
        x_max,
    };
    latency.frame(&mut out);
    latency.line(&mut out, seconds, |s| s.max_ms, "#bbbbbb", "max", 0);
    latency.line(&mut out, seconds, |s| s.p99_ms, "#ff7f0e", "p99", 1);
    latency.line(&mut out, seconds, |s| s.p50_ms, "#2ca02c", "p50", 2);
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(1.3), 2.0);
        assert_eq!(nice_ceiling(4.9), 5.0);
        assert_eq!(nice_ceiling(730.0), 1000.0);
        assert_eq!(nice_ceiling(2000.0), 2000.0);
    }

    #[test]
    fn the_picture_has_a_point_per_second_in_each_line_and_escapes_text() {
        let second = |n, ok, p99_ms| Second {
            second: n,
            ok,
            errors: n,
            p50_ms: 1.0,
            p99_ms,
            max_ms: 30.0,
        };
        let report = Report {
            model: "closed, 2 clients <test>".into(),
            elapsed: Duration::from_secs(3),
            iterations: 0,
            steps: Vec::new(),
            first_error: None,
            timeline: vec![second(0, 100, 5.0), second(1, 120, 8.0), second(2, 90, 6.0)],
        };
        let svg = svg(&report);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("closed, 2 clients &lt;test&gt;"));
        // Five lines (OK, errors, max, p99, p50), three points each.
        let lines: Vec<&str> = svg.lines().filter(|l| l.starts_with("<polyline")).collect();
        assert_eq!(lines.len(), 5);
        assert!(lines.iter().all(|l| l.matches(',').count() == 3));
        // The calls axis ends at 200 (132 rounded up), the latency axis at 10 ms.
        assert!(svg.contains(">200</text>") && svg.contains(">10</text>"));
    }
}
