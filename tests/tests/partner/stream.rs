//! The partner system's change stream: its own referrals' changes, in order, resumable from a
//! position with nothing missed, including closure and redaction.

use std::time::Duration;

use fallwerk_proto::{partner as pb, types};
use tokio_stream::StreamExt;

use crate::Cooperation;

type Changes = tonic::Streaming<pb::StreamMyReferralChangesResponse>;

/// The next change (heartbeats skipped), within 10 s.
async fn next_change(stream: &mut Changes) -> pb::ReferralChange {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("a change within 10 s")
            .expect("the stream goes on")
            .expect("no error");
        if let Some(pb::stream_my_referral_changes_response::Item::Change(change)) = message.item {
            return change;
        }
    }
}

#[tokio::test]
async fn the_stream_resumes_after_a_disconnect_with_nothing_missed() {
    let c = Cooperation::open(5).await;
    let consent = c.consent(&[types::DataCategory::Identity]).await;
    let mut staff = c.staff(&c.world.office.advisor).await;
    let mut agency = c.agency(&c.agency).await;
    let subscribe = |after| pb::StreamMyReferralChangesRequest {
        after_position: after,
    };

    let mut stream = agency
        .stream_my_referral_changes(subscribe(0))
        .await
        .expect("stream")
        .into_inner();
    let first = staff
        .create_referral(c.referral(&[types::DataCategory::Identity]))
        .await
        .expect("first")
        .into_inner()
        .referral
        .expect("referral");
    let change = next_change(&mut stream).await;
    assert_eq!(change.state(), pb::ReferralState::Sent);
    assert_eq!(
        change.referral.as_ref().map(|r| r.id.as_str()),
        Some(first.id.as_str())
    );
    let seen = change.position;
    drop(stream);

    // While disconnected: a second referral, the first withdrawn, the consent revoked.
    let second = staff
        .create_referral(c.referral(&[types::DataCategory::Identity]))
        .await
        .expect("second")
        .into_inner()
        .referral
        .expect("referral");
    staff
        .withdraw_referral(pb::WithdrawReferralRequest {
            referral_id: first.id.clone(),
            request_id: String::new(),
        })
        .await
        .expect("withdrawn");
    staff
        .revoke_consent(pb::RevokeConsentRequest {
            consent_id: consent.id.clone(),
            request_id: String::new(),
        })
        .await
        .expect("revoked");

    let mut stream = agency
        .stream_my_referral_changes(subscribe(seen))
        .await
        .expect("resumed")
        .into_inner();
    let mut after = Vec::new();
    for _ in 0..4 {
        let change = next_change(&mut stream).await;
        assert!(change.position > seen);
        after.push((
            change
                .referral
                .as_ref()
                .map(|r| r.id.clone())
                .unwrap_or_default(),
            change.state(),
            change.position,
        ));
    }
    let positions: Vec<i64> = after.iter().map(|(_, _, p)| *p).collect();
    let mut sorted = positions.clone();
    sorted.sort_unstable();
    assert_eq!(positions, sorted, "in feed order");
    let ids_states: Vec<(String, pb::ReferralState)> = after
        .into_iter()
        .map(|(id, state, _)| (id, state))
        .collect();
    assert_eq!(ids_states[0], (second.id.clone(), pb::ReferralState::Sent));
    assert_eq!(
        ids_states[1],
        (first.id.clone(), pb::ReferralState::Withdrawn)
    );
    // The revocation redacted both; each is a change on the stream, showing no data.
    let mut redacted: Vec<String> = ids_states[2..].iter().map(|(id, _)| id.clone()).collect();
    redacted.sort();
    let mut both = vec![first.id.clone(), second.id.clone()];
    both.sort();
    assert_eq!(redacted, both);
    let read = agency
        .get_my_referral(pb::GetMyReferralRequest {
            referral_id: second.id.clone(),
        })
        .await
        .expect("read")
        .into_inner()
        .referral
        .expect("referral");
    assert!(read.data.expect("data").redact_time.is_some());
}

#[tokio::test]
async fn a_stream_ends_unauthenticated_when_its_token_expires_and_resumes_with_a_fresh_one() {
    let c = Cooperation::open(5).await;
    c.consent(&[types::DataCategory::Identity]).await;
    let partner_id: uuid::Uuid = c.partner.id.parse().expect("partner id");
    let short_lived = fallwerk_tests::signing_key().mint(&fallwerk_devkey::TokenSpec {
        subject: "kita-system".into(),
        roles: vec![fallwerk_platform::auth::Role::Partner],
        team_id: None,
        partner_id: Some(partner_id.to_string()),
        ttl: Duration::from_secs(2),
    });
    let mut stream = c
        .agency(&short_lived)
        .await
        .stream_my_referral_changes(pb::StreamMyReferralChangesRequest { after_position: 0 })
        .await
        .expect("stream")
        .into_inner();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.next().await {
                Some(Ok(_)) => continue,
                Some(Err(status)) => return status,
                None => panic!("the stream ended without saying why"),
            }
        }
    })
    .await
    .expect("ended within 10 s");
    assert_eq!(ended.code(), tonic::Code::Unauthenticated, "{ended:?}");

    // A fresh token resumes where the system left off, and sees what happened meanwhile.
    let referral = c.refer(&[types::DataCategory::Identity]).await;
    let mut resumed = c
        .agency(&c.agency)
        .await
        .stream_my_referral_changes(pb::StreamMyReferralChangesRequest { after_position: 0 })
        .await
        .expect("stream")
        .into_inner();
    let change = next_change(&mut resumed).await;
    assert_eq!(
        change.referral.map(|r| r.id),
        Some(referral.id),
        "the referral made while disconnected"
    );
}
