//! `fallwerk applicant`: register, read, update and find the people seeking help.

use clap::{ArgGroup, Args, Subcommand};
use fallwerk_proto::{google::r#type::Date, intake as pb, types};
use serde_json::json;
use uuid::Uuid;

use crate::{
    client::IntakeClient,
    client::{once, request_id},
    error::CliError,
    output::{Output, human, json},
    parse,
};

use super::{PageArgs, present};

/// `fallwerk applicant ...`.
#[derive(Debug, Subcommand)]
pub enum ApplicantCommand {
    /// Registers a person seeking help; refuses a likely duplicate unless told otherwise.
    Create(Box<ApplicantCreateArgs>),
    /// Shows one applicant.
    Get {
        /// Applicant id.
        id: Uuid,
    },
    /// Finds applicants by name and/or date of birth, to reuse an existing record.
    Search(SearchArgs),
}

/// `fallwerk applicant create`.
#[derive(Debug, Args)]
pub struct ApplicantCreateArgs {
    /// Given name(s) as the person writes them.
    #[arg(long)]
    given: String,
    /// Family name as the person writes it.
    #[arg(long)]
    family: String,
    /// Date of birth: YYYY-MM-DD, or YYYY-MM or YYYY when the identity document leaves day or
    /// month unknown.
    #[arg(long, value_parser = parse::birth_date)]
    birth: Date,
    /// Does the person raise children alone? Alone, the flag means yes; left out: not asked.
    #[arg(long, value_enum, value_name = "yes|no", num_args = 0..=1, default_missing_value = "yes")]
    single_parent: Option<parse::Answer>,
    /// Do children live in the household? Left out: not asked (or yes, with --child-age).
    #[arg(long, value_enum, value_name = "yes|no", num_args = 0..=1, default_missing_value = "yes")]
    children: Option<parse::Answer>,
    /// Age in years of a child in the household; repeat for each child.
    #[arg(long = "child-age", value_name = "YEARS")]
    child_ages: Vec<u32>,
    /// Does a spouse or partner live in the household? Left out: not asked.
    #[arg(long, value_enum, value_name = "yes|no", num_args = 0..=1, default_missing_value = "yes")]
    partner: Option<parse::Answer>,
    /// Another applicant living in the same household; repeat for each.
    #[arg(long, value_name = "APPLICANT_ID")]
    household_member: Vec<Uuid>,
    /// Where the person lives and how to reach them.
    #[command(flatten)]
    contact: ContactArgs,
    /// The identity was checked with a document of this kind (its number is never recorded).
    #[arg(long, value_enum, value_name = "DOCUMENT")]
    identity_checked: Option<parse::Document>,
    /// Residence status, as far as entitlement needs it.
    #[arg(long, value_enum, value_name = "STATUS")]
    residence: Option<parse::Status>,
    /// Language the person needs an interpreter for (BCP 47, e.g. ar, uk).
    #[arg(long, value_name = "BCP47")]
    interpreter: Option<String>,
    /// Register even though records with this name and birth date exist (checked them).
    #[arg(long)]
    allow_duplicate: bool,
    /// Idempotency key: repeating the command with the same id registers the person once.
    #[arg(long)]
    request_id: Option<Uuid>,
}

/// Address and contact of `fallwerk applicant create`; all left out: not recorded yet.
#[derive(Debug, Args)]
pub struct ContactArgs {
    /// Street and house number of the home address.
    #[arg(long, requires_all = ["postal_code", "city"])]
    street: Option<String>,
    /// Postal code (five digits) of the home address, or of the contact address with
    /// --no-fixed-abode.
    #[arg(long)]
    postal_code: Option<String>,
    /// City of the home address, or of the contact address.
    #[arg(long)]
    city: Option<String>,
    /// The person has no fixed abode; --contact-street etc. say where post reaches them
    /// (left out: at the office).
    #[arg(long, conflicts_with = "street")]
    no_fixed_abode: bool,
    /// Street of the contact address of a person without fixed abode.
    #[arg(long, requires_all = ["no_fixed_abode", "postal_code", "city"])]
    contact_street: Option<String>,
    /// Phone number.
    #[arg(long)]
    phone: Option<String>,
    /// E-mail address.
    #[arg(long)]
    email: Option<String>,
    /// How the person wants to be contacted.
    #[arg(long, value_enum)]
    contact_by: Option<parse::Channel>,
}

impl ContactArgs {
    /// The contact to send, or `None` when nothing of it was given.
    fn contact(self) -> Option<types::Contact> {
        let address = |street: String| types::PostalAddress {
            street,
            postal_code: self.postal_code.clone().unwrap_or_default(),
            city: self.city.clone().unwrap_or_default(),
            ..Default::default()
        };
        let given = self.street.is_some()
            || self.no_fixed_abode
            || self.phone.is_some()
            || self.email.is_some()
            || self.contact_by.is_some();
        given.then(|| types::Contact {
            address: self.street.clone().map(address),
            no_fixed_abode: self.no_fixed_abode,
            contact_address: self.contact_street.clone().map(address),
            phone: self.phone.unwrap_or_default(),
            email: self.email.unwrap_or_default(),
            preferred_channel: self
                .contact_by
                .map_or(0, |c| types::ContactChannel::from(c).into()),
        })
    }
}

/// `fallwerk applicant search`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("criteria").args(["family", "given", "birth"]).required(true).multiple(true)))]
pub struct SearchArgs {
    /// Family name starts with this (case, spacing and umlaut spelling ignored).
    #[arg(long)]
    family: Option<String>,
    /// Given name starts with this.
    #[arg(long)]
    given: Option<String>,
    /// Date of birth: YYYY-MM-DD, or YYYY-MM / YYYY (matches every date it allows).
    #[arg(long, value_parser = parse::birth_date)]
    birth: Option<Date>,
    #[command(flatten)]
    page: PageArgs,
}

pub(super) async fn applicant(
    command: ApplicantCommand,
    client: &mut IntakeClient,
    out: &Output,
) -> Result<(), CliError> {
    let applicant = match command {
        ApplicantCommand::Create(args) => {
            let request = pb::CreateApplicantRequest {
                applicant: Some(pb::Applicant {
                    given_name: args.given,
                    family_name: args.family,
                    birth_date: Some(args.birth),
                    household: Some(pb::Household {
                        single_parent_answer: parse::answer(args.single_parent).into(),
                        children_answer: parse::answer(args.children).into(),
                        partner_answer: parse::answer(args.partner).into(),
                        children_ages: args.child_ages,
                        member_applicant_ids: args
                            .household_member
                            .iter()
                            .map(Uuid::to_string)
                            .collect(),
                        ..Default::default()
                    }),
                    contact: args.contact.contact(),
                    identity_check: args.identity_checked.map(|d| pb::IdentityCheck {
                        document: pb::IdentityDocument::from(d).into(),
                        ..Default::default()
                    }),
                    residence_status: args
                        .residence
                        .map_or(0, |r| pb::ResidenceStatus::from(r).into()),
                    interpreter_language: args.interpreter.unwrap_or_default(),
                    ..Default::default()
                }),
                allow_duplicate: args.allow_duplicate,
                request_id: args.request_id.map_or_else(request_id, |id| id.to_string()),
            };
            client
                .create_applicant(once(request))
                .await?
                .into_inner()
                .applicant
        }
        ApplicantCommand::Get { id } => {
            let request = pb::GetApplicantRequest { id: id.to_string() };
            client.get_applicant(request).await?.into_inner().applicant
        }
        ApplicantCommand::Search(args) => {
            let request = pb::SearchApplicantsRequest {
                family_name: args.family.unwrap_or_default(),
                given_name: args.given.unwrap_or_default(),
                birth_date: args.birth,
                page_size: args.page.page_size.unwrap_or_default(),
                page_token: args.page.page_token.unwrap_or_default(),
            };
            let answer = client.search_applicants(request).await?.into_inner();
            return out.show(
                || {
                    json!({
                        "applicants": json::list(&answer.applicants, json::applicant_summary),
                        "next_page_token": answer.next_page_token,
                    })
                },
                || human::applicants(&answer.applicants, &answer.next_page_token),
            );
        }
    };
    let applicant = present(applicant, "applicant")?;
    out.show(
        || json!({ "applicant": json::applicant(&applicant) }),
        || human::applicant(&applicant),
    )
}
