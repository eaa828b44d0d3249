//! The person as a front desk records them: address and local responsibility with the
//! forwarding of a misplaced application, identity checked without a document number,
//! household questions that can be "not asked", linked household members, partial birth dates.

use fallwerk_proto::{google::r#type::Date, intake as pb, types};
use fallwerk_tests::{bad_fields, error_reason, office::create_team_with_area};
use prost_types::FieldMask;
use tonic::Code;

use crate::{Office, applicant, continue_check, date};

fn home(street: &str, postal_code: &str, city: &str) -> types::Contact {
    types::Contact {
        address: Some(types::PostalAddress {
            street: street.into(),
            postal_code: postal_code.into(),
            city: city.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn person_at(family: &str, contact: Option<types::Contact>) -> pb::CreateApplicantRequest {
    pb::CreateApplicantRequest {
        applicant: Some(pb::Applicant {
            contact,
            ..applicant(family, "Anna", 1988, 3, 2)
        }),
        allow_duplicate: true,
        request_id: String::new(),
    }
}

async fn create(office: &Office, request: pb::CreateApplicantRequest) -> pb::Applicant {
    office
        .client(&office.desk)
        .await
        .create_applicant(request)
        .await
        .expect("applicant created")
        .into_inner()
        .applicant
        .expect("applicant")
}

async fn get(office: &Office, id: &str) -> pb::Applicant {
    office
        .client(&office.desk)
        .await
        .get_applicant(pb::GetApplicantRequest { id: id.into() })
        .await
        .expect("applicant")
        .into_inner()
        .applicant
        .expect("applicant")
}

async fn update(
    office: &Office,
    token: &str,
    applicant: pb::Applicant,
    fields: &[&str],
) -> Result<pb::Applicant, tonic::Status> {
    office
        .client(token)
        .await
        .update_applicant(pb::UpdateApplicantRequest {
            applicant: Some(applicant),
            update_mask: Some(FieldMask {
                paths: fields.iter().map(|f| f.to_string()).collect(),
            }),
        })
        .await
        .map(|r| r.into_inner().applicant.expect("applicant"))
}

async fn visit_of(office: &Office, applicant_id: &str) -> pb::Visit {
    office
        .client(&office.desk)
        .await
        .register_visit(pb::RegisterVisitRequest {
            applicant_id: applicant_id.into(),
            ..Default::default()
        })
        .await
        .expect("visit")
        .into_inner()
        .visit
        .expect("visit")
}

fn check(
    visit_id: &str,
    decision: pb::AccessDecision,
    forwarded_to: &str,
) -> pb::RecordAccessCheckRequest {
    pb::RecordAccessCheckRequest {
        visit_id: visit_id.into(),
        access_check: Some(pb::AccessCheck {
            decision: decision.into(),
            forwarded_to: forwarded_to.into(),
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

#[tokio::test]
async fn the_address_decides_local_responsibility_by_the_teams_service_areas() {
    let office = Office::open().await;
    let berliner = create(
        &office,
        person_at("Berliner", Some(home("Invalidenstr. 1", "10115", "Berlin"))),
    )
    .await;
    assert_eq!(
        berliner.local_responsibility(),
        pb::LocalResponsibility::Unspecified,
        "while no team has a service area, nothing is decided"
    );

    let mut admin = office.client(&office.admin).await;
    let mitte = create_team_with_area(&mut admin, "Aktivierung Mitte", &["101", "10117"]).await;
    let tiergarten = create_team_with_area(&mut admin, "Aktivierung Tiergarten", &["10115"]).await;

    let read = get(&office, &berliner.id).await;
    assert_eq!(
        read.local_responsibility(),
        pb::LocalResponsibility::Responsible
    );
    assert_eq!(
        read.responsible_team_id,
        tiergarten.to_string(),
        "the longest matching prefix wins"
    );
    let mitte_person = create(
        &office,
        person_at("Mitte", Some(home("Torstr. 5", "10119", "Berlin"))),
    )
    .await;
    assert_eq!(mitte_person.responsible_team_id, mitte.to_string());

    let muenchner = create(
        &office,
        person_at("Münchner", Some(home("Marienplatz 8", "80331", "München"))),
    )
    .await;
    assert_eq!(
        muenchner.local_responsibility(),
        pb::LocalResponsibility::NotResponsible
    );
    assert_eq!(muenchner.responsible_team_id, "");

    let homeless = create(
        &office,
        person_at(
            "Ohnewohnung",
            Some(types::Contact {
                no_fixed_abode: true,
                preferred_channel: types::ContactChannel::InPerson.into(),
                ..Default::default()
            }),
        ),
    )
    .await;
    assert_eq!(
        homeless.local_responsibility(),
        pb::LocalResponsibility::Responsible,
        "without a fixed abode, the office where the person is"
    );
    let contact = homeless.contact.expect("contact");
    assert!(
        contact.no_fixed_abode && contact.address.is_none() && contact.contact_address.is_none()
    );

    let unknown = create(&office, person_at("Ohneadresse", None)).await;
    assert_eq!(
        unknown.local_responsibility(),
        pb::LocalResponsibility::Unspecified
    );
    assert!(unknown.contact.is_none(), "no contact recorded yet");
}

#[tokio::test]
async fn not_locally_responsible_forwards_the_application_and_keeps_the_day_the_need_was_known() {
    let office = Office::open().await;
    let mut admin = office.client(&office.admin).await;
    create_team_with_area(&mut admin, "Aktivierung Mitte", &["101"]).await;
    let muenchner = create(
        &office,
        person_at("Münchner", Some(home("Marienplatz 8", "80331", "München"))),
    )
    .await;
    let visit = visit_of(&office, &muenchner.id).await;
    let mut desk = office.client(&office.desk).await;

    // Continuing with a person another office is responsible for is refused, writing nothing.
    let refused = desk
        .record_access_check(continue_check(&visit.id))
        .await
        .expect_err("not responsible");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(
        error_reason(&refused).as_deref(),
        Some("NOT_LOCALLY_RESPONSIBLE")
    );
    let still = desk
        .get_visit(pb::GetVisitRequest {
            id: visit.id.clone(),
        })
        .await
        .expect("visit")
        .into_inner()
        .visit
        .expect("visit");
    assert_eq!(still.state(), pb::VisitState::Waiting);
    assert!(still.access_check.is_none());

    // Forwarding must say where to.
    let status = desk
        .record_access_check(check(
            &visit.id,
            pb::AccessDecision::NotLocallyResponsible,
            "",
        ))
        .await
        .expect_err("where to");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&status), ["access_check.forwarded_to"]);

    let forwarded = desk
        .record_access_check(check(
            &visit.id,
            pb::AccessDecision::NotLocallyResponsible,
            "Sozialreferat München, Amt für Soziale Sicherung",
        ))
        .await
        .expect("forwarded")
        .into_inner()
        .visit
        .expect("visit");
    assert_eq!(forwarded.state(), pb::VisitState::Closed);
    assert_eq!(
        forwarded.end_reason(),
        pb::VisitEndReason::NotLocallyResponsible
    );
    assert_eq!(
        forwarded.end_note,
        "Sozialreferat München, Amt für Soziale Sicherung"
    );
    assert_eq!(
        forwarded.end_time,
        forwarded.access_check.as_ref().and_then(|c| c.check_time)
    );
    let check_recorded = forwarded.access_check.expect("access check");
    assert_eq!(check_recorded.forwarded_to, forwarded.end_note);
    let arrival = fallwerk_platform::wire::datetime(visit.arrive_time.as_ref()).expect("arrival");
    let berlin_day = fallwerk_platform::clock::office_day(arrival);
    assert_eq!(
        check_recorded.need_known_date,
        Some(fallwerk_tests::office::wire_date(berlin_day)),
        "the application counts as made on the day the office learned of the need"
    );

    // Read back as recorded.
    let read = desk
        .get_visit(pb::GetVisitRequest {
            id: visit.id.clone(),
        })
        .await
        .expect("visit")
        .into_inner()
        .visit
        .expect("visit");
    assert_eq!(
        read.access_check.map(|c| c.forwarded_to),
        Some(forwarded.end_note.clone())
    );

    // An emergency need is met where the person is, whatever their address.
    let emergency = visit_of(&office, &muenchner.id).await;
    let mut request = continue_check(&emergency.id);
    if let Some(c) = request.access_check.as_mut() {
        c.emergency_need = true;
        c.emergency_note = "Kein Geld für Lebensmittel heute".into();
    }
    let continued = desk
        .record_access_check(request)
        .await
        .expect("an emergency continues")
        .into_inner()
        .visit
        .expect("visit");
    assert_eq!(continued.state(), pb::VisitState::ReadyForConsultation);
}

#[tokio::test]
async fn household_questions_tell_not_asked_from_no_and_links_show_on_both_records() {
    let office = Office::open().await;
    let mut first = applicant("Hausmann", "Lena", 1985, 1, 1);
    first.household = Some(pb::Household {
        single_parent_answer: pb::HouseholdAnswer::No.into(),
        ..Default::default()
    });
    let first = create(
        &office,
        pb::CreateApplicantRequest {
            applicant: Some(first),
            ..Default::default()
        },
    )
    .await;
    let h = first.household.clone().expect("household");
    assert_eq!(h.single_parent_answer(), pb::HouseholdAnswer::No);
    assert_eq!(
        h.children_answer(),
        pb::HouseholdAnswer::Unspecified,
        "not asked is not no"
    );
    assert_eq!(h.partner_answer(), pb::HouseholdAnswer::Unspecified);
    assert!(!h.single_parent);

    // An older client's `single_parent: true` still means yes; ages mean children, yes.
    let old_client = create(
        &office,
        pb::CreateApplicantRequest {
            applicant: Some(applicant("Altmann", "Olga", 1980, 2, 2)),
            ..Default::default()
        },
    )
    .await;
    let h = old_client.household.expect("household");
    assert_eq!(h.single_parent_answer(), pb::HouseholdAnswer::Yes);
    assert_eq!(h.children_answer(), pb::HouseholdAnswer::Yes);
    assert!(h.single_parent);

    // The partner registers too and links the first: the link shows on both records.
    let mut partner = applicant("Hausmann", "Jonas", 1984, 4, 4);
    partner.household = Some(pb::Household {
        partner_answer: pb::HouseholdAnswer::Yes.into(),
        children_answer: pb::HouseholdAnswer::No.into(),
        member_applicant_ids: vec![first.id.clone()],
        ..Default::default()
    });
    let partner = create(
        &office,
        pb::CreateApplicantRequest {
            applicant: Some(partner),
            ..Default::default()
        },
    )
    .await;
    let linked = partner.household.clone().expect("household");
    assert_eq!(linked.member_applicant_ids, std::slice::from_ref(&first.id));
    assert_eq!(linked.children_answer(), pb::HouseholdAnswer::No);
    let first_read = get(&office, &first.id).await;
    assert_eq!(
        first_read
            .household
            .expect("household")
            .member_applicant_ids,
        std::slice::from_ref(&partner.id)
    );

    // Writing the partner's household without members removes the link from both.
    let unlinked = update(
        &office,
        &office.desk,
        pb::Applicant {
            id: partner.id.clone(),
            etag: partner.etag.clone(),
            household: Some(pb::Household {
                partner_answer: pb::HouseholdAnswer::No.into(),
                ..Default::default()
            }),
            ..Default::default()
        },
        &["household"],
    )
    .await
    .expect("updated");
    let h = unlinked.household.expect("household");
    assert!(h.member_applicant_ids.is_empty());
    assert_eq!(h.partner_answer(), pb::HouseholdAnswer::No);
    assert!(
        get(&office, &first.id)
            .await
            .household
            .expect("household")
            .member_applicant_ids
            .is_empty()
    );

    // A member who is not an applicant, or the applicant itself, is named.
    let status = update(
        &office,
        &office.desk,
        pb::Applicant {
            id: partner.id.clone(),
            etag: unlinked.etag.clone(),
            household: Some(pb::Household {
                member_applicant_ids: vec![uuid::Uuid::new_v4().to_string()],
                ..Default::default()
            }),
            ..Default::default()
        },
        &["household"],
    )
    .await
    .expect_err("no such applicant");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        bad_fields(&status),
        ["applicant.household.member_applicant_ids[0]"]
    );
    assert_eq!(
        get(&office, &partner.id).await.etag,
        unlinked.etag,
        "nothing written"
    );
    let status = update(
        &office,
        &office.desk,
        pb::Applicant {
            id: partner.id.clone(),
            etag: unlinked.etag.clone(),
            household: Some(pb::Household {
                member_applicant_ids: vec![partner.id.clone()],
                ..Default::default()
            }),
            ..Default::default()
        },
        &["household"],
    )
    .await
    .expect_err("itself");
    assert_eq!(
        bad_fields(&status),
        ["applicant.household.member_applicant_ids"]
    );
}

#[tokio::test]
async fn an_identity_check_keeps_the_kind_of_document_who_checked_and_when() {
    let office = Office::open().await;
    // Whole seconds: PostgreSQL keeps microseconds.
    let now = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 12, 1, 9, 0, 0).unwrap();
    office.app.clock.set(now);
    let mut person = applicant("Ausweis", "Ida", 1970, 7, 7);
    person.identity_check = Some(pb::IdentityCheck {
        document: pb::IdentityDocument::Passport.into(),
        // Set by the server, whatever a client sends.
        checked_by: "someone-else".into(),
        ..Default::default()
    });
    person.residence_status = pb::ResidenceStatus::EuFreedomOfMovement.into();
    let created = create(
        &office,
        pb::CreateApplicantRequest {
            applicant: Some(person),
            ..Default::default()
        },
    )
    .await;
    let identity = created.identity_check.clone().expect("checked");
    assert_eq!(identity.document(), pb::IdentityDocument::Passport);
    assert_eq!(identity.checked_by, "desk-1");
    assert_eq!(
        identity.check_time,
        Some(fallwerk_platform::wire::timestamp(now))
    );
    assert_eq!(
        created.residence_status(),
        pb::ResidenceStatus::EuFreedomOfMovement
    );

    // The same document again keeps who checked it first; another one is a new check.
    let later = now + chrono::Duration::minutes(30);
    office.app.clock.set(later);
    let again = update(
        &office,
        &office.advisor,
        pb::Applicant {
            id: created.id.clone(),
            etag: created.etag.clone(),
            identity_check: created.identity_check.clone(),
            ..Default::default()
        },
        &["identity_check"],
    )
    .await
    .expect("same document");
    assert_eq!(
        again.identity_check.as_ref().map(|i| i.checked_by.as_str()),
        Some("desk-1")
    );
    let card = update(
        &office,
        &office.advisor,
        pb::Applicant {
            id: created.id.clone(),
            etag: again.etag.clone(),
            identity_check: Some(pb::IdentityCheck {
                document: pb::IdentityDocument::IdCard.into(),
                ..Default::default()
            }),
            ..Default::default()
        },
        &["identity_check"],
    )
    .await
    .expect("new document");
    let identity = card.identity_check.clone().expect("checked");
    assert_eq!(identity.checked_by, "advisor-1");
    assert_eq!(
        identity.check_time,
        Some(fallwerk_platform::wire::timestamp(later))
    );

    // Unset in the mask: no longer counted as checked.
    let cleared = update(
        &office,
        &office.advisor,
        pb::Applicant {
            id: created.id.clone(),
            etag: card.etag.clone(),
            ..Default::default()
        },
        &["identity_check", "residence_status"],
    )
    .await
    .expect("cleared");
    assert!(cleared.identity_check.is_none());
    assert_eq!(cleared.residence_status(), pb::ResidenceStatus::Unspecified);
}

#[tokio::test]
async fn birth_dates_with_an_unknown_day_or_month_are_kept_matched_and_found() {
    let office = Office::open().await;
    let partial = |year, month| {
        Some(Date {
            year,
            month,
            day: 0,
        })
    };
    let mut person = applicant("Teilweise", "Tarek", 1990, 5, 14);
    person.birth_date = partial(1990, 5);
    let created = create(
        &office,
        pb::CreateApplicantRequest {
            applicant: Some(person.clone()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(created.birth_date, partial(1990, 5));
    let mut year_only = applicant("Jahr", "Jana", 1975, 1, 1);
    year_only.birth_date = Some(Date {
        year: 1975,
        month: 0,
        day: 0,
    });
    let year_only = create(
        &office,
        pb::CreateApplicantRequest {
            applicant: Some(year_only),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        year_only.birth_date,
        Some(Date {
            year: 1975,
            month: 0,
            day: 0
        })
    );

    // The same name with a full date in that month may be the same person.
    let status = office
        .client(&office.desk)
        .await
        .create_applicant(pb::CreateApplicantRequest {
            applicant: Some(applicant("Teilweise", "Tarek", 1990, 5, 14)),
            ..Default::default()
        })
        .await
        .expect_err("maybe the same person");
    assert_eq!(error_reason(&status).as_deref(), Some("LIKELY_DUPLICATE"));

    // A search by a full date finds the dates it falls into; by a month, those in it.
    let search = |birth_date| pb::SearchApplicantsRequest {
        birth_date,
        ..Default::default()
    };
    let mut desk = office.client(&office.desk).await;
    for (query, expected) in [
        (date(1990, 5, 14), vec![created.id.clone()]),
        (partial(1990, 5), vec![created.id.clone()]),
        (
            Some(Date {
                year: 1990,
                month: 0,
                day: 0,
            }),
            vec![created.id.clone()],
        ),
        (date(1990, 6, 14), vec![]),
        (date(1975, 9, 30), vec![year_only.id.clone()]),
    ] {
        let found: Vec<String> = desk
            .search_applicants(search(query))
            .await
            .expect("search")
            .into_inner()
            .applicants
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(found, expected, "{query:?}");
    }
}

#[tokio::test]
async fn contact_and_person_fields_are_refused_field_by_field_and_nothing_is_written() {
    let office = Office::open().await;
    let mut desk = office.client(&office.desk).await;
    let mut person = applicant("Falsch", "Fritz", 1990, 1, 1);
    person.birth_date = Some(Date {
        year: 1990,
        month: 0,
        day: 14,
    });
    person.contact = Some(types::Contact {
        address: Some(types::PostalAddress {
            street: "Hauptstr. 1".into(),
            postal_code: "1011".into(),
            city: String::new(),
            ..Default::default()
        }),
        no_fixed_abode: true,
        phone: "call me".into(),
        email: "anna@".into(),
        preferred_channel: 42,
        ..Default::default()
    });
    person.identity_check = Some(pb::IdentityCheck::default());
    person.residence_status = 99;
    person.household = Some(pb::Household {
        single_parent: true,
        single_parent_answer: pb::HouseholdAnswer::No.into(),
        children_answer: pb::HouseholdAnswer::No.into(),
        children_ages: vec![3],
        member_applicant_ids: vec!["nope".into()],
        ..Default::default()
    });
    let status = desk
        .create_applicant(pb::CreateApplicantRequest {
            applicant: Some(person),
            ..Default::default()
        })
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        bad_fields(&status),
        [
            "applicant.birth_date",
            "applicant.contact.address.city",
            "applicant.contact.address.postal_code",
            "applicant.contact.email",
            "applicant.contact.no_fixed_abode",
            "applicant.contact.phone",
            "applicant.contact.preferred_channel",
            "applicant.household.children_ages",
            "applicant.household.member_applicant_ids[0]",
            "applicant.household.single_parent",
            "applicant.identity_check.document",
            "applicant.residence_status",
        ]
    );

    // Preferring a channel needs its address; a contact address is only for the homeless.
    let mut person = applicant("Falsch", "Frieda", 1990, 1, 1);
    person.contact = Some(types::Contact {
        contact_address: home("Postfach 1", "10115", "Berlin").address,
        preferred_channel: types::ContactChannel::Email.into(),
        ..home("Hauptstr. 1", "10115", "Berlin")
    });
    let status = desk
        .create_applicant(pb::CreateApplicantRequest {
            applicant: Some(person),
            ..Default::default()
        })
        .await
        .expect_err("refused");
    assert_eq!(
        bad_fields(&status),
        [
            "applicant.contact.contact_address",
            "applicant.contact.email"
        ]
    );

    // A team's service area takes digits of postal codes, each once.
    let status = office
        .client(&office.admin)
        .await
        .create_team(pb::CreateTeamRequest {
            team: Some(pb::Team {
                display_name: "Aktivierung West".into(),
                postal_code_prefixes: vec![
                    "10a".into(),
                    "123456".into(),
                    "101".into(),
                    "101".into(),
                ],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect_err("refused");
    assert_eq!(
        bad_fields(&status),
        [
            "team.postal_code_prefixes[0]",
            "team.postal_code_prefixes[1]",
            "team.postal_code_prefixes[3]",
        ]
    );
    let written: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM intake.applicants) + (SELECT count(*) FROM intake.household_links)
              + (SELECT count(*) FROM intake.teams WHERE display_name = 'Aktivierung West')",
    )
    .fetch_one(&office.app.db.pool().await)
    .await
    .expect("count");
    assert_eq!(written, 0);
}

#[tokio::test]
async fn an_admin_changes_a_teams_service_area_and_responsibility_follows() {
    let office = Office::open().await;
    let person = create(
        &office,
        person_at("Umzug", Some(home("Torstr. 5", "10119", "Berlin"))),
    )
    .await;
    let mut admin = office.client(&office.admin).await;
    let teams = admin
        .list_teams(pb::ListTeamsRequest::default())
        .await
        .expect("teams")
        .into_inner()
        .teams;
    let nord = teams
        .iter()
        .find(|t| t.id == office.team.to_string())
        .expect("home team")
        .clone();
    let serve = |etag: &str, prefixes: &[&str]| pb::UpdateTeamRequest {
        team: Some(pb::Team {
            id: nord.id.clone(),
            etag: etag.into(),
            postal_code_prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["postal_code_prefixes".into()],
        }),
    };
    let updated = admin
        .update_team(serve(&nord.etag, &["101"]))
        .await
        .expect("service area set")
        .into_inner()
        .team
        .expect("team");
    assert_eq!(updated.postal_code_prefixes, ["101"]);
    assert_eq!(
        updated.display_name, nord.display_name,
        "unmasked fields stay"
    );
    let read = get(&office, &person.id).await;
    assert_eq!(
        read.local_responsibility(),
        pb::LocalResponsibility::Responsible
    );
    assert_eq!(read.responsible_team_id, nord.id);

    // A stale etag changes nothing; nor does a name another team has.
    let status = admin
        .update_team(serve(&nord.etag, &["80"]))
        .await
        .expect_err("stale");
    assert_eq!(status.code(), Code::Aborted);
    let status = admin
        .update_team(pb::UpdateTeamRequest {
            team: Some(pb::Team {
                id: nord.id.clone(),
                etag: updated.etag.clone(),
                display_name: "Aktivierung Süd".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["display_name".into()],
            }),
        })
        .await
        .expect_err("name taken");
    assert_eq!(error_reason(&status).as_deref(), Some("TEAM_NAME_TAKEN"));
    let status = admin
        .update_team(serve(&updated.etag, &["8x"]))
        .await
        .expect_err("bad prefix");
    assert_eq!(bad_fields(&status), ["team.postal_code_prefixes[0]"]);

    // Moving the area elsewhere leaves the person outside it.
    admin
        .update_team(serve(&updated.etag, &["80"]))
        .await
        .expect("area moved");
    assert_eq!(
        get(&office, &person.id).await.local_responsibility(),
        pb::LocalResponsibility::NotResponsible
    );

    // Only an admin changes a team.
    let status = office
        .client(&office.lead)
        .await
        .update_team(serve(&updated.etag, &["101"]))
        .await
        .expect_err("a team lead may not");
    assert_eq!(status.code(), Code::PermissionDenied);
}
