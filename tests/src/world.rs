//! Both services of the case's way (intake, case-plan) and optionally partner, wired by their
//! feeds, with the steps the tests of case-plan and partner start from: a case opened at
//! intake, its plan, its agreement.

use fallwerk_proto::{caseplan as pb, google::r#type::Date, intake, types};

use crate::{CasePlanClient, ServiceApp, office::Office, spawn_wired_on};

/// intake with its roster (see [`Office`]) and case-plan, each consuming the other's feed;
/// with [`World::open_with_partner`] also partner, consuming case-plan's feed and calling it.
pub struct World {
    /// intake with its roster.
    pub office: Office,
    /// case-plan.
    pub case_plan: ServiceApp,
    /// partner, when opened with it.
    pub partner: Option<ServiceApp>,
    /// The proxies the services reach each other through, in the order intake, case-plan,
    /// partner ([`World::open_with_partner_on`] with `proxied`); empty otherwise.
    pub proxies: Vec<crate::proxy::TcpProxy>,
}

impl World {
    /// intake and case-plan.
    pub async fn open() -> World {
        Self::wired(&[&fallwerk_intake::SERVICE, &fallwerk_case_plan::SERVICE]).await
    }

    /// intake, case-plan and partner.
    pub async fn open_with_partner() -> World {
        Self::open_with_partner_on(None, false).await
    }

    /// intake, case-plan and partner with their databases on the server whose superuser URL
    /// is `admin` (a [`crate::cluster::PrivateCluster`]; `None`: the shared test cluster), and
    /// with `proxied` reaching each other through [`World::proxies`].
    pub async fn open_with_partner_on(admin: Option<&str>, proxied: bool) -> World {
        Self::wired_on(
            admin,
            &[
                &fallwerk_intake::SERVICE,
                &fallwerk_case_plan::SERVICE,
                &fallwerk_partner::SERVICE,
            ],
            proxied,
        )
        .await
    }

    async fn wired(services: &[&'static fallwerk_platform::app::Blueprint]) -> World {
        Self::wired_on(None, services, false).await
    }

    async fn wired_on(
        admin: Option<&str>,
        services: &[&'static fallwerk_platform::app::Blueprint],
        proxied: bool,
    ) -> World {
        let (apps, proxies) = spawn_wired_on(admin, services, proxied).await;
        let mut apps = apps.into_iter();
        let intake = apps.next().expect("intake");
        let case_plan = apps.next().expect("case-plan");
        let partner = apps.next();
        // All on one fixed office day, so dates in the tests keep their meaning any day.
        for app in [Some(&intake), Some(&case_plan), partner.as_ref()]
            .into_iter()
            .flatten()
        {
            app.clock.set(today());
        }
        World {
            office: Office::open_on(intake).await,
            case_plan,
            partner,
            proxies,
        }
    }

    /// Waits (up to 10 s) until intake has learned from case-plan's `CaseErased` that
    /// `case_id` is erased.
    pub async fn intake_learns_erasure_of(&self, case_id: &str) {
        let pool = self.office.app.db.pool().await;
        let case: uuid::Uuid = case_id.parse().expect("uuid");
        for _ in 0..100 {
            let erased: bool = sqlx::query_scalar(
                "SELECT erased_at IS NOT NULL FROM intake.case_openings WHERE case_id = $1",
            )
            .bind(case)
            .fetch_one(&pool)
            .await
            .expect("case opening");
            if erased {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("intake did not learn of the erasure of {case_id}");
    }

    /// A case-plan client presenting `token`.
    pub async fn plans(&self, token: &str) -> CasePlanClient {
        self.case_plan.client(token).await
    }

    /// Opens a case at intake for a new walk-in consulted by `advisor` of `desk`'s team and
    /// reads it in case-plan at the feed position OpenCase answered (read-your-writes).
    pub async fn case(&self, desk: &str, advisor: &str) -> pb::Case {
        let opened = self.open_case(desk, advisor).await;
        let opening = opened.case_opening.expect("case opening");
        self.read_case_at(advisor, &opening.case_id, opened.feed_position)
            .await
    }

    /// A new case at intake for the applicant `applicant_id`, back for another visit, as
    /// case-plan shows it.
    pub async fn returning_case(&self, applicant_id: &str) -> pb::Case {
        let office = &self.office;
        let mut desk = office.client(&office.desk).await;
        let visit = desk
            .register_visit(intake::RegisterVisitRequest {
                applicant_id: applicant_id.into(),
                concern: "Wieder da".into(),
                request_id: String::new(),
                ..Default::default()
            })
            .await
            .expect("visit")
            .into_inner()
            .visit
            .expect("visit");
        desk.record_access_check(crate::office::continue_check(&visit.id))
            .await
            .expect("access check");
        let mut advisor = office.client(&office.advisor).await;
        let consultation = advisor
            .start_consultation(intake::StartConsultationRequest {
                visit_id: visit.id,
                request_id: String::new(),
            })
            .await
            .expect("consultation")
            .into_inner()
            .consultation
            .expect("consultation");
        advisor
            .complete_consultation(crate::office::complete(&consultation.id))
            .await
            .expect("completed");
        let opened = advisor
            .open_case(intake::OpenCaseRequest {
                consultation_id: consultation.id,
                assignment: intake::AdvisorAssignment::ConsultingAdvisor.into(),
                request_id: String::new(),
            })
            .await
            .expect("case opened")
            .into_inner();
        let opening = opened.case_opening.expect("opening");
        self.read_case_at(&office.advisor, &opening.case_id, opened.feed_position)
            .await
    }

    /// Opens a case at intake (case-plan learns of it from the feed).
    pub async fn open_case(&self, desk: &str, advisor: &str) -> intake::OpenCaseResponse {
        let consultation = self.office.completed_consultation(desk, advisor).await;
        self.office
            .client(advisor)
            .await
            .open_case(intake::OpenCaseRequest {
                consultation_id: consultation.id,
                assignment: intake::AdvisorAssignment::ConsultingAdvisor.into(),
                request_id: String::new(),
            })
            .await
            .expect("case opened")
            .into_inner()
    }

    /// The case as case-plan shows it to `token` now.
    pub async fn read_case(&self, token: &str, case_id: &str) -> pb::Case {
        self.read_case_at(token, case_id, 0).await
    }

    /// The case as case-plan shows it to `token` once it has applied intake's feed up to
    /// `position`.
    pub async fn read_case_at(&self, token: &str, case_id: &str, position: i64) -> pb::Case {
        self.plans(token)
            .await
            .get_case(pb::GetCaseRequest {
                case_id: case_id.into(),
                min_intake_position: position,
            })
            .await
            .expect("the case in case-plan")
            .into_inner()
            .case
            .expect("case")
    }
}

impl World {
    /// `fallwerk-load`'s settings aimed at this world's services (partner's too when it was
    /// opened with it): tokens minted from the tests' key, two advisors, no progress line;
    /// `flags` add the rest.
    pub fn load_config(&self, flags: &[&str]) -> fallwerk_load::Config {
        use clap::Parser;
        let address = |app: &ServiceApp| format!("http://{}", app.addr);
        let key_dir = crate::key_dir().to_string_lossy().into_owned();
        let mut args = vec![
            "fallwerk-load".to_owned(),
            "--intake".to_owned(),
            address(&self.office.app),
            "--case-plan".to_owned(),
            address(&self.case_plan),
            "--key-dir".to_owned(),
            key_dir,
            "--advisors".to_owned(),
            "2".to_owned(),
            "--quiet".to_owned(),
        ];
        if let Some(partner) = &self.partner {
            args.extend(["--partner".to_owned(), address(partner)]);
        }
        args.extend(flags.iter().map(|f| (*f).to_owned()));
        fallwerk_load::Config::try_parse_from(args).expect("valid flags")
    }

    /// A case of the home team's advisor-1 with `basis` set and the first plan made.
    pub async fn planned_case(&self, basis: types::LegalBasis) -> (pb::Case, pb::HelpPlan) {
        let office = &self.office;
        let case = self.case(&office.desk, &office.advisor).await;
        let mut plans = self.plans(&office.advisor).await;
        let case = plans
            .update_case(pb::UpdateCaseRequest {
                case: Some(pb::Case {
                    id: case.id.clone(),
                    legal_basis: basis.into(),
                    etag: case.etag.clone(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["legal_basis".into()],
                }),
            })
            .await
            .expect("legal basis set")
            .into_inner()
            .case
            .expect("case");
        let plan = plans
            .revise_help_plan(first_plan(&case.id))
            .await
            .expect("first plan")
            .into_inner()
            .plan
            .expect("plan");
        (case, plan)
    }

    /// An SGB II case with its first plan and a drafted cooperation plan.
    pub async fn case_with_agreement(&self) -> (pb::Case, pb::Agreement) {
        let (case, _) = self.planned_case(types::LegalBasis::SgbIi).await;
        let agreement = self.draft(&case.id, date(2027, 3, 1)).await;
        (case, agreement)
    }

    /// Drafts an agreement on the case's current plan, reviewed by `review_date`.
    pub async fn draft(&self, case_id: &str, review_date: Option<Date>) -> pb::Agreement {
        self.plans(&self.office.advisor)
            .await
            .create_agreement(pb::CreateAgreementRequest {
                case_id: case_id.into(),
                agreement: Some(agreement_draft(review_date)),
                request_id: String::new(),
            })
            .await
            .expect("agreement drafted")
            .into_inner()
            .agreement
            .expect("agreement")
    }

    /// Proposes and accepts `agreement` with `acknowledgement`.
    pub async fn agree(
        &self,
        agreement: pb::Agreement,
        acknowledgement: pb::Acknowledgement,
    ) -> Result<pb::Agreement, tonic::Status> {
        let mut plans = self.plans(&self.office.advisor).await;
        let proposed = plans
            .propose_agreement(pb::ProposeAgreementRequest {
                request_id: String::new(),
                agreement_id: agreement.id.clone(),
                etag: agreement.etag,
            })
            .await?
            .into_inner()
            .agreement
            .expect("agreement");
        Ok(plans
            .accept_agreement(pb::AcceptAgreementRequest {
                request_id: String::new(),
                agreement_id: proposed.id,
                acknowledgement: Some(acknowledgement),
                etag: proposed.etag,
            })
            .await?
            .into_inner()
            .agreement
            .expect("agreement"))
    }
}

impl World {
    /// An agreement as advisor-1 reads it now.
    pub async fn agreement(&self, id: &str) -> pb::Agreement {
        self.plans(&self.office.advisor)
            .await
            .get_agreement(pb::GetAgreementRequest {
                agreement_id: id.into(),
            })
            .await
            .expect("agreement")
            .into_inner()
            .agreement
            .expect("agreement")
    }
}

/// The content of a draft agreement.
pub fn agreement_draft(review_date: Option<Date>) -> pb::Agreement {
    pb::Agreement {
        text: "Frau Weber beantragt den Kita-Gutschein bis 15.1.; das Amt schickt passende \
               Stellenangebote in der Pflege."
            .into(),
        review_date,
        ..Default::default()
    }
}

/// Agreed in text form by e-mail, unsigned (a cooperation plan's way).
pub fn text_form() -> pb::Acknowledgement {
    pb::Acknowledgement {
        channel: pb::AcknowledgementChannel::Email.into(),
        ..Default::default()
    }
}

/// The tests' "now": Tuesday 1 December 2026, 09:00 in Berlin.
pub fn today() -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .with_ymd_and_hms(2026, 12, 1, 8, 0, 0)
        .single()
        .expect("a valid instant")
}

pub use crate::office::date;

/// A goal with its steps, as sent for a new plan.
pub fn goal(category: pb::GoalCategory, words: &str, steps: Vec<pb::Step>) -> pb::Goal {
    pb::Goal {
        category: category.into(),
        own_words: words.into(),
        steps,
        ..Default::default()
    }
}

/// A step done by `owner`, due on `due`.
pub fn step(action: &str, owner: pb::StepOwner, due: Option<Date>) -> pb::Step {
    pb::Step {
        action: action.into(),
        owner: owner.into(),
        due_date: due,
        ..Default::default()
    }
}

/// The first plan of the seed's single mother: childcare first, then work.
pub fn first_plan(case_id: &str) -> pb::ReviseHelpPlanRequest {
    pb::ReviseHelpPlanRequest {
        case_id: case_id.into(),
        goals: vec![
            goal(
                pb::GoalCategory::Childcare,
                "Einen Kita-Platz für meine Tochter finden",
                vec![step(
                    "Kita-Gutschein beim Jugendamt beantragen",
                    pb::StepOwner::Client,
                    date(2027, 1, 15),
                )],
            ),
            goal(
                pb::GoalCategory::Work,
                "Wieder in der Pflege arbeiten, erst in Teilzeit",
                vec![
                    step(
                        "Lebenslauf aktualisieren",
                        pb::StepOwner::Client,
                        date(2027, 1, 31),
                    ),
                    step(
                        "Stellenangebote Pflege schicken",
                        pb::StepOwner::Office,
                        None,
                    ),
                ],
            ),
        ],
        cause: pb::RevisionCause::FirstPlan.into(),
        etag: "0".into(),
        request_id: String::new(),
    }
}
