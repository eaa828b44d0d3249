//! The scenarios (`--scenario`), along the office's real process with fresh data in every
//! iteration:
//! - `arrival`: a new person comes to the front desk, is registered, checked, consulted the
//!   same day and gets a case with a responsible advisor; with case-plan's address, the case is
//!   then read there.
//! - `process`: the whole way, from the arrival to the closed case: the help plan with goals
//!   and steps, the agreement proposed and accepted, the consent and a referral, which the
//!   partner system sees on its change stream, accepts, reports on and completes; then the
//!   review and the closure.
//! - `advisor-reads`: what an advisor reads all day: what needs me today, the caseload page,
//!   a case and its timeline.
//! - `agency`: a partner system's work: its referral list, one referral, a progress report
//!   (its change stream runs throughout the run).
//! - `mix`: those three by the weights of `--mix`.
//! - `get-case`, `register-visit`, `list-teams`, `health`: one call each, for the ceilings
//!   (`make bench`).
//!
//! The run sets up a team of its own with `--advisors` advisors, and with partner's address a
//! partner agency with one offer, so runs never meet each other's data.

mod arrival;
mod process;
mod reads;
mod setup;
mod stream;
mod tokens;

use std::{future::Future, str::FromStr, time::Duration};

use fallwerk_platform::client::{Idempotent, SafeRetries};
use fallwerk_proto::intake as pb;
use tokio::time::Instant;
use tonic::{Request, Response, Status, metadata::MetadataValue, transport::Channel};

use crate::report::Recorder;

pub use setup::set_up;

/// A bearer token ready for the metadata.
type Bearer = MetadataValue<tonic::metadata::Ascii>;

/// What each iteration does.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Registration to a case readable in case-plan, a new person each time.
    Arrival,
    /// The whole process to the closed case (needs `--case-plan` and `--partner`).
    Process,
    /// An advisor's reads (needs `--case-plan` and `--partner`).
    AdvisorReads,
    /// A partner system's list, read and report (needs `--case-plan` and `--partner`).
    Agency,
    /// `process`, `advisor-reads` and `agency` by the weights of `--mix`.
    Mix,
    /// case-plan's GetCase alone, an audited read, on the cases made up front (needs
    /// `--case-plan` and `--partner`).
    GetCase,
    /// RegisterVisit alone.
    RegisterVisit,
    /// ListTeams alone: an authenticated read without personal data, so what it costs beyond
    /// Health/Check is the token's check and the service's request path.
    ListTeams,
    /// Health/Check alone (no token, no database).
    Health,
}

impl Kind {
    /// Whether the run needs case-plan and partner, and cases with referrals made up front.
    fn needs_cooperation(self) -> bool {
        matches!(
            self,
            Kind::Process | Kind::AdvisorReads | Kind::Agency | Kind::Mix | Kind::GetCase
        )
    }
}

/// The weights of `--mix`, e.g. `process=1,advisor-reads=6,agency=3`, and the order they
/// give each round of iterations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mix {
    weights: Vec<(Kind, u32)>,
    round: Vec<Kind>,
}

impl Mix {
    fn new(weights: Vec<(Kind, u32)>) -> Mix {
        // Smooth weighted round-robin: each scenario gains its weight every slot and the one
        // furthest ahead runs, paying the round's length; the shares spread evenly over the
        // round, so that short runs have the mix too and no scenario comes in a burst.
        let total: i64 = weights.iter().map(|(_, w)| i64::from(*w)).sum();
        let mut credit = vec![0_i64; weights.len()];
        let mut round = Vec::new();
        for _ in 0..total {
            for (c, (_, w)) in credit.iter_mut().zip(&weights) {
                *c += i64::from(*w);
            }
            let mut next = 0;
            for (index, c) in credit.iter().enumerate() {
                if *c > credit[next] {
                    next = index;
                }
            }
            credit[next] -= total;
            round.push(weights[next].0);
        }
        Mix { weights, round }
    }

    /// The scenario of the `i`-th iteration.
    fn pick(&self, i: u64) -> Kind {
        self.round[i as usize % self.round.len()]
    }
}

impl Default for Mix {
    /// An office day: for each whole process, six advisor reads and three partner-system turns.
    fn default() -> Self {
        Mix::new(vec![
            (Kind::Process, 1),
            (Kind::AdvisorReads, 6),
            (Kind::Agency, 3),
        ])
    }
}

impl std::fmt::Display for Mix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use clap::ValueEnum;
        let parts: Vec<String> = self
            .weights
            .iter()
            .map(|(kind, weight)| {
                let name = kind.to_possible_value().map(|v| v.get_name().to_owned());
                format!("{}={weight}", name.unwrap_or_default())
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl FromStr for Mix {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        use clap::ValueEnum;
        let mut weights = Vec::new();
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: expected scenario=weight"))?;
            let kind = Kind::from_str(name.trim(), false)
                .ok()
                .filter(|k| matches!(k, Kind::Process | Kind::AdvisorReads | Kind::Agency))
                .ok_or_else(|| {
                    format!("{name:?}: a mix is made of process, advisor-reads and agency")
                })?;
            let weight: u32 = weight
                .trim()
                .parse()
                .ok()
                .filter(|w| *w <= 1000)
                .ok_or_else(|| format!("{part:?}: the weight is a whole number 0 to 1000"))?;
            if weights.iter().any(|(k, _)| *k == kind) {
                return Err(format!("{name:?} is named twice"));
            }
            weights.push((kind, weight));
        }
        if weights.iter().all(|(_, w)| *w == 0) {
            return Err("the mix needs at least one scenario with a weight above 0".into());
        }
        Ok(Mix::new(weights))
    }
}

/// Everything the run set up; iterations only read it.
pub struct Scenario {
    kind: Kind,
    mix: Mix,
    intake: Vec<Channel>,
    case_plan: Vec<Channel>,
    partner: Vec<Channel>,
    desk: Bearer,
    advisors: Vec<Bearer>,
    /// People `register-visit` sends again and again.
    regulars: Vec<String>,
    /// The run's partner agency, with `--partner`.
    agency: Option<setup::Agency>,
    /// Cases made up front for the reads, each with an accepted referral.
    seeded: Vec<setup::Seeded>,
}

tokio::task_local! {
    /// Whether a call of the iteration under way failed (see [`Scenario::iteration`]).
    static FAILED: std::cell::Cell<bool>;
}

impl Scenario {
    /// The `i`-th iteration, its first call timed from `intended`; whether every call of it
    /// answered.
    pub async fn iteration(&self, i: u64, intended: Instant, recorder: &Recorder) -> bool {
        FAILED
            .scope(std::cell::Cell::new(false), async {
                self.run_iteration(i, intended, recorder).await;
                !FAILED.with(std::cell::Cell::get)
            })
            .await
    }

    async fn run_iteration(&self, i: u64, intended: Instant, recorder: &Recorder) {
        let kind = match self.kind {
            Kind::Mix => self.mix.pick(i),
            kind => kind,
        };
        match kind {
            Kind::Arrival => {
                self.arrival(i, intended, recorder).await;
            }
            Kind::Process | Kind::Mix => self.process(i, intended, recorder).await,
            Kind::AdvisorReads => self.advisor_reads(i, intended, recorder).await,
            Kind::Agency => self.agency_turn(i, intended, recorder).await,
            Kind::GetCase => self.get_case(i, intended, recorder).await,
            Kind::RegisterVisit => {
                let mut intake =
                    pb::intake_service_client::IntakeServiceClient::new(pick(&self.intake, i));
                let applicant = &self.regulars[i as usize % self.regulars.len()];
                let visit = pb::RegisterVisitRequest {
                    applicant_id: applicant.clone(),
                    concern: "Miete und Strom nicht mehr bezahlbar".into(),
                    request_id: request_id(),
                    ..Default::default()
                };
                let call = intake.register_visit(idempotent(visit, &self.desk));
                timed(recorder, "intake RegisterVisit", intended, call).await;
            }
            Kind::ListTeams => {
                let mut intake =
                    pb::intake_service_client::IntakeServiceClient::new(pick(&self.intake, i));
                let call = intake.list_teams(with(pb::ListTeamsRequest::default(), &self.desk));
                timed(recorder, "intake ListTeams", intended, call).await;
            }
            Kind::Health => {
                let channel = pick(&self.intake, i);
                let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
                let call = health.check(tonic_health::pb::HealthCheckRequest::default());
                timed(recorder, "intake Health/Check", intended, call).await;
            }
        }
    }
}

/// The `i`-th of the run's connections to a service.
/// The `i`-th of the run's connections to a service, asking again what is safe to ask again.
fn pick(channels: &[Channel], i: u64) -> SafeRetries {
    SafeRetries::new(channels[i as usize % channels.len()].clone())
}

/// A fresh `request_id`, so a retried create would not be done twice.
fn request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn with<T>(message: T, token: &Bearer) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", token.clone());
    request
}

/// [`with`] for a request whose `request_id` makes a second attempt harmless: the channel
/// may send it again when the service was unavailable ([`SafeRetries`]).
fn idempotent<T>(message: T, token: &Bearer) -> Request<T> {
    let mut request = with(message, token);
    request.extensions_mut().insert(Idempotent);
    request
}

/// Awaits `call`, records it under `step` timed from `since`; its answer if OK.
async fn timed<T>(
    recorder: &Recorder,
    step: &'static str,
    since: Instant,
    call: impl Future<Output = Result<Response<T>, Status>>,
) -> Option<T> {
    match call.await {
        Ok(answer) => {
            recorder.ok(step, since.elapsed());
            Some(answer.into_inner())
        }
        Err(status) => {
            recorder.failed(step, &status);
            // Outside an iteration (set-up, a spawned follower) there is nothing to mark.
            let _ = FAILED.try_with(|failed| failed.set(true));
            None
        }
    }
}

/// How long a propagation is waited for before it counts as DEADLINE_EXCEEDED.
const PROPAGATION_LIMIT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mix_reads_its_weights_and_names_what_is_wrong() {
        let mix: Mix = "process=1, advisor-reads=6,agency=3"
            .parse()
            .expect("a mix");
        assert_eq!(mix, Mix::default());
        assert_eq!(mix.to_string(), "process=1,advisor-reads=6,agency=3");
        for bad in [
            "process",
            "process=x",
            "arrival=1",
            "process=1,process=2",
            "process=0",
            "",
            "agency=1001",
        ] {
            assert!(bad.parse::<Mix>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_mix_gives_each_scenario_its_share_in_every_round() {
        let mix = Mix::default();
        let round: Vec<Kind> = (0..10).map(|i| mix.pick(i)).collect();
        let count = |kind| round.iter().filter(|k| **k == kind).count();
        assert_eq!(count(Kind::Process), 1);
        assert_eq!(count(Kind::AdvisorReads), 6);
        assert_eq!(count(Kind::Agency), 3);
        // The next round is the same.
        assert_eq!(round, (10..20).map(|i| mix.pick(i)).collect::<Vec<_>>());
        // No scenario runs more than twice in a row within the default mix.
        assert!(round.windows(3).all(|w| !(w[0] == w[1] && w[1] == w[2])));
        // A zero weight never runs.
        let only: Mix = "process=0,agency=2".parse().expect("a mix");
        assert!((0..10).all(|i| only.pick(i) == Kind::Agency));
    }
}
