//! Referral figures: CreateReferral latency (consent check, the synchronous snapshot call to
//! case-plan, the write) one at a time and its throughput with 16 callers, the snapshot call
//! alone as the floor under it, and how soon a partner system's open change stream delivers a
//! referral after CreateReferral answered. A benchmark, not a test: it prints figures and
//! asserts nothing about time. Run with `make bench-partner` (durable PostgreSQL, release
//! build; all three services, the client and PostgreSQL share this machine).

use std::time::{Duration, Instant};

use fallwerk_platform::auth::Role;
use fallwerk_proto::{caseplan, partner as pb, types};
use fallwerk_tests::{
    AgencyClient, CaseSnapshotClient, PartnerClient, partner_token, token, world::World,
};
use tokio_stream::StreamExt;

const SEQUENTIAL: usize = 300;
const CALLERS: usize = 16;
const PER_CALLER: usize = 50;

fn quantiles(mut xs: Vec<Duration>) -> String {
    xs.sort();
    let q = |p: f64| xs[((xs.len() as f64 * p) as usize).min(xs.len() - 1)].as_secs_f64() * 1e3;
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (n={})",
        q(0.5),
        q(0.9),
        q(0.99),
        xs[xs.len() - 1].as_secs_f64() * 1e3,
        xs.len()
    )
}

#[tokio::main]
async fn main() {
    let world = World::open_with_partner().await;
    let partner_app = world.partner.as_ref().expect("partner");
    let admin = token("admin-1", &[Role::Admin], None);
    let mut as_admin: PartnerClient = partner_app.client(&admin).await;
    let partner = as_admin
        .create_partner(pb::CreatePartnerRequest {
            partner: Some(pb::Partner {
                kind: pb::PartnerKind::WelfareAssociation.into(),
                display_name: "Bench".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("partner")
        .into_inner()
        .partner
        .expect("partner");
    let offer = as_admin
        .create_offer(pb::CreateOfferRequest {
            offer: Some(pb::Offer {
                partner_id: partner.id.clone(),
                category: pb::OfferCategory::Childcare.into(),
                title: "Bench".into(),
                places: 10_000,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("offer")
        .into_inner()
        .offer
        .expect("offer");
    let (case, plan) = world.planned_case(types::LegalBasis::SgbIi).await;
    let categories: Vec<i32> = [
        types::DataCategory::Identity,
        types::DataCategory::PlanSteps,
    ]
    .into_iter()
    .map(Into::into)
    .collect();
    let mut staff: PartnerClient = partner_app.client(&world.office.advisor).await;
    // partner learns of the case from case-plan's feed.
    loop {
        let consent = staff
            .record_consent(pb::RecordConsentRequest {
                consent: Some(pb::Consent {
                    case_id: case.id.clone(),
                    partner_id: partner.id.clone(),
                    purpose: "Bench".into(),
                    categories: categories.clone(),
                    form: pb::ConsentForm::Written.into(),
                    evidence: "Bench".into(),
                    given_date: fallwerk_tests::world::date(2026, 11, 30),
                    valid_until: fallwerk_tests::world::date(2027, 11, 30),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await;
        match consent {
            Ok(_) => break,
            Err(s) if s.code() == tonic::Code::NotFound => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(s) => panic!("consent: {s:?}"),
        }
    }
    let request = pb::CreateReferralRequest {
        case_id: case.id.clone(),
        offer_id: offer.id.clone(),
        step_id: plan.goals[0].steps[0].id.clone(),
        reason: "Bench".into(),
        categories: categories.clone(),
        notes: String::new(),
        when_full: pb::WhenFull::Refuse.into(),
        request_id: String::new(),
    };

    // The snapshot call alone, as partner makes it.
    let mut snapshots: CaseSnapshotClient = world
        .case_plan
        .client(&token("partner", &[Role::Service], None))
        .await;
    let snapshot = caseplan::GetCaseSnapshotRequest {
        case_id: case.id.clone(),
        categories: categories.clone(),
        step_id: plan.goals[0].steps[0].id.clone(),
    };
    let mut times = Vec::with_capacity(SEQUENTIAL);
    for _ in 0..SEQUENTIAL {
        let start = Instant::now();
        snapshots
            .get_case_snapshot(snapshot.clone())
            .await
            .expect("snapshot");
        times.push(start.elapsed());
    }
    println!("GetCaseSnapshot alone, one at a time: {}", quantiles(times));

    // CreateReferral one at a time, with a partner system's stream open: delivery latency is
    // from CreateReferral answered to the change read from the stream.
    let agency_token = partner_token("bench-system", partner.id.parse().expect("uuid"));
    let mut agency: AgencyClient = partner_app.client(&agency_token).await;
    let mut stream = agency
        .stream_my_referral_changes(pb::StreamMyReferralChangesRequest { after_position: 0 })
        .await
        .expect("stream")
        .into_inner();
    let mut create = Vec::with_capacity(SEQUENTIAL);
    let mut delivery = Vec::with_capacity(SEQUENTIAL);
    for _ in 0..SEQUENTIAL {
        let start = Instant::now();
        let referral = staff
            .create_referral(request.clone())
            .await
            .expect("referral")
            .into_inner()
            .referral
            .expect("referral");
        let answered = Instant::now();
        create.push(answered - start);
        loop {
            let message = stream.next().await.expect("stream open").expect("change");
            if let Some(pb::stream_my_referral_changes_response::Item::Change(change)) =
                message.item
                && change.referral.as_ref().map(|r| r.id.as_str()) == Some(referral.id.as_str())
            {
                delivery.push(answered.elapsed());
                break;
            }
        }
    }
    println!("CreateReferral, one at a time: {}", quantiles(create));
    println!(
        "stream delivery after CreateReferral answered: {}",
        quantiles(delivery)
    );
    drop(stream);

    // Throughput with 16 concurrent callers.
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CALLERS {
        let mut client: PartnerClient = partner_app.client(&world.office.advisor).await;
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::with_capacity(PER_CALLER);
            for _ in 0..PER_CALLER {
                let t = Instant::now();
                client
                    .create_referral(request.clone())
                    .await
                    .expect("referral");
                times.push(t.elapsed());
            }
            times
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("caller"));
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "CreateReferral, {CALLERS} callers: {:.0} referrals/s; {}",
        all.len() as f64 / elapsed,
        quantiles(all)
    );
}
