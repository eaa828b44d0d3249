//! Hostile input is the caller's fault, answered as such: never INTERNAL (which must mean a
//! fault of ours), never an answer a standard client cannot read.

use std::str::FromStr;

use fallwerk_proto::{google::r#type::Date, intake as pb};
use fallwerk_tests::bad_fields;
use prost_types::FieldMask;
use tonic::Code;

use crate::{Office, applicant};

/// A message whose field 1 holds any bytes.
#[derive(Clone, PartialEq, prost::Message)]
struct Field1 {
    #[prost(bytes = "vec", tag = "1")]
    value: Vec<u8>,
}

/// Sends `message` encoded as it is to `method`, decoding the answer as `R`.
async fn raw<M, R>(office: &Office, method: &str, message: M) -> Result<R, tonic::Status>
where
    M: prost::Message + Send + Sync + 'static,
    R: prost::Message + Default + Send + Sync + 'static,
{
    let mut grpc = tonic::client::Grpc::new(office.app.channel().await);
    grpc.ready().await.expect("channel ready");
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", office.desk).parse().expect("ascii"),
    );
    let path =
        http::uri::PathAndQuery::from_str(&format!("/fallwerk.intake.v1.IntakeService/{method}"))
            .expect("path");
    grpc.unary::<M, R, _>(request, path, tonic_prost::ProstCodec::default())
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn a_request_that_does_not_decode_is_invalid_argument_not_internal() {
    let office = Office::open().await;
    // Field 1 of GetApplicantRequest is a string; these bytes are not UTF-8.
    let not_utf8 = Field1 {
        value: vec![0xff, 0xfe, 0xfd],
    };
    let status = raw::<_, pb::GetApplicantResponse>(&office, "GetApplicant", not_utf8)
        .await
        .expect_err("not a valid message");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains("not a valid message"),
        "{status:?}"
    );
}

#[tokio::test]
async fn a_request_over_the_size_limit_is_resource_exhausted() {
    let office = Office::open().await;
    let mut person = applicant("Groß", "Gustav", 1980, 1, 1);
    person.given_name = "g".repeat(5 * 1024 * 1024);
    let request = pb::CreateApplicantRequest {
        applicant: Some(person),
        ..Default::default()
    };
    let status = raw::<_, pb::CreateApplicantResponse>(&office, "CreateApplicant", request)
        .await
        .expect_err("too large");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
}

#[tokio::test]
async fn a_huge_mask_path_is_named_in_an_answer_a_client_can_read() {
    let office = Office::open().await;
    let id = office.applicant(&office.desk, "Maske").await;
    let status = office
        .client(&office.desk)
        .await
        .update_applicant(pb::UpdateApplicantRequest {
            applicant: Some(pb::Applicant {
                id,
                etag: "1".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["x".repeat(20_000)],
            }),
        })
        .await
        .expect_err("no such field");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(bad_fields(&status), ["update_mask.paths"]);
}

#[tokio::test]
async fn a_date_outside_years_1_to_9999_is_a_bad_field_not_a_database_error() {
    let office = Office::open().await;
    let mut desk = office.client(&office.desk).await;
    for year in [-5000, 0, 10_000] {
        let status = desk
            .search_applicants(pb::SearchApplicantsRequest {
                birth_date: Some(Date {
                    year,
                    month: 1,
                    day: 1,
                }),
                ..Default::default()
            })
            .await
            .expect_err("out of range");
        assert_eq!(status.code(), Code::InvalidArgument, "{year}: {status:?}");
        assert_eq!(bad_fields(&status), ["birth_date"]);
    }
    let status = office
        .client(&office.lead)
        .await
        .get_team_figures(pb::GetTeamFiguresRequest {
            team_id: office.team.to_string(),
            start_date: Some(Date {
                year: -5000,
                month: 1,
                day: 1,
            }),
            end_date: Some(Date {
                year: 2026,
                month: 12,
                day: 1,
            }),
        })
        .await
        .expect_err("out of range");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
}

#[tokio::test]
async fn hostile_texts_are_refused_by_name_or_stored_exactly_as_sent() {
    let office = Office::open().await;
    let mut desk = office.client(&office.desk).await;
    let stored = [
        "Robert'); DROP TABLE intake.applicants;--",
        "Zoë Ñúñez-Ångström",
        "e\u{301}\u{301}\u{301} combining marks",
        "محمد",
        "%_\\ wildcards",
        "🙂 emoji",
    ];
    for text in stored {
        let mut person = applicant(text, text, 1990, 1, 1);
        person.interpreter_language = String::new();
        let created = desk
            .create_applicant(pb::CreateApplicantRequest {
                applicant: Some(person),
                allow_duplicate: true,
                ..Default::default()
            })
            .await
            .unwrap_or_else(|s| panic!("{text:?}: {s:?}"))
            .into_inner()
            .applicant
            .expect("applicant");
        let read = desk
            .get_applicant(pb::GetApplicantRequest { id: created.id })
            .await
            .expect("read back")
            .into_inner()
            .applicant
            .expect("applicant");
        assert_eq!(
            (read.family_name.as_str(), read.given_name.as_str()),
            (text, text)
        );
    }
    // A wildcard in a search matches itself only.
    let found = desk
        .search_applicants(pb::SearchApplicantsRequest {
            family_name: "%".into(),
            ..Default::default()
        })
        .await
        .expect("search")
        .into_inner()
        .applicants;
    assert_eq!(found.len(), 1, "only the name starting with %");

    for (what, text) in [
        ("NUL", "Anna\0Schmidt"),
        ("a control character", "Anna\u{7}"),
        ("a right-to-left override", "Anna\u{202E}tdimhcS"),
        ("a directional isolate", "\u{2066}Anna\u{2069}"),
    ] {
        let status = desk
            .create_applicant(pb::CreateApplicantRequest {
                applicant: Some(applicant(text, "Anna", 1990, 1, 1)),
                allow_duplicate: true,
                ..Default::default()
            })
            .await
            .expect_err(what);
        assert_eq!(status.code(), Code::InvalidArgument, "{what}");
        assert_eq!(bad_fields(&status), ["applicant.family_name"], "{what}");
    }
}
