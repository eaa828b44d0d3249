//! Between the wire and a service's values, for every service: parsing request fields (each
//! complaint naming its field through [`Violations`]) and the wire forms of instants and dates.
//! A service's own messages are converted in its `api` modules; what any message needs is here.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use fallwerk_proto::google::r#type::Date;
use prost_types::Timestamp;
use uuid::Uuid;

use crate::Violations;

/// A required UUID.
pub fn id(value: &str) -> Result<Uuid, String> {
    if value.is_empty() {
        return Err("is required".into());
    }
    Uuid::parse_str(value).map_err(|_| "must be a UUID".into())
}

/// Required text, trimmed, at most `max` characters.
pub fn required_text(value: &str, max: usize) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("is required".into());
    }
    optional_text(trimmed, max)
}

/// Optional text, trimmed, at most `max` characters, without control characters and without
/// the bidirectional overrides and isolates that make text read otherwise than it is stored
/// ("Trojan Source"); right-to-left script itself needs none of them.
pub fn optional_text(value: &str, max: usize) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err("must not contain control characters".into());
    }
    if trimmed.chars().any(is_bidi_control) {
        return Err("must not contain bidirectional override or isolate characters".into());
    }
    Ok(trimmed.to_owned())
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A list of texts, each checked like [`required_text`]; at most `max_items`.
pub fn text_list(
    violations: &mut Violations,
    field: &str,
    values: &[String],
    max_items: usize,
    max_len: usize,
) -> Vec<String> {
    if values.len() > max_items {
        violations.add(field, format!("must have at most {max_items} entries"));
    }
    values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| violations.check(&format!("{field}[{i}]"), required_text(v, max_len)))
        .collect()
}

/// An optional id: empty is `None`, anything else must be a UUID.
pub fn optional_id(value: &str) -> Result<Option<Uuid>, String> {
    if value.is_empty() {
        Ok(None)
    } else {
        id(value).map(Some)
    }
}

/// The years `google.type.Date` allows; outside them a date is refused here rather than by
/// the database (whose range ends at 4713 BC, and its error would be ours).
const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// A required calendar date.
pub fn date(value: Option<&Date>) -> Result<NaiveDate, String> {
    let d = value.ok_or("is required")?;
    if !YEARS.contains(&d.year) {
        return Err("must have a year from 1 to 9999".into());
    }
    let (Ok(month), Ok(day)) = (u32::try_from(d.month), u32::try_from(d.day)) else {
        return Err("is not a valid calendar date".into());
    };
    NaiveDate::from_ymd_opt(d.year, month, day).ok_or_else(|| "is not a valid calendar date".into())
}

/// An optional calendar date: absent is `None`, present must be valid.
pub fn optional_date(value: Option<&Date>) -> Result<Option<NaiveDate>, String> {
    value.map(|d| date(Some(d))).transpose()
}

crate::stored_enum!(
    /// How much of a date of birth is known: identity documents may leave the day, or day and
    /// month, unknown (`google.type.Date` with `day` or `month` and `day` 0).
    DatePrecision {
        /// The full date.
        Day = "day",
        /// Year and month; stored as the month's first day.
        Month = "month",
        /// The year only; stored as 1 January.
        Year = "year",
    }
);

/// A date of birth, perhaps partly unknown: the earliest date it can be, and what is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BirthDate {
    /// The date, or the first day of the month or year when those are all that is known.
    pub earliest: NaiveDate,
    /// What is known.
    pub precision: DatePrecision,
}

impl BirthDate {
    /// A fully known date.
    pub fn exact(date: NaiveDate) -> Self {
        BirthDate {
            earliest: date,
            precision: DatePrecision::Day,
        }
    }

    /// The wire form, with the unknown parts 0.
    pub fn to_wire(self) -> Date {
        let d = self.earliest;
        match self.precision {
            DatePrecision::Day => wire_date(d),
            DatePrecision::Month => Date {
                year: d.year(),
                month: d.month() as i32,
                day: 0,
            },
            DatePrecision::Year => Date {
                year: d.year(),
                month: 0,
                day: 0,
            },
        }
    }

    /// Reads the wire form: a full date, or one with the day 0, or with month and day 0.
    pub fn from_wire(value: Option<&Date>) -> Result<Self, String> {
        let d = value.ok_or("is required")?;
        if !YEARS.contains(&d.year) {
            return Err("must have a year from 1 to 9999".into());
        }
        let (precision, month, day) = match (d.month, d.day) {
            (0, 0) => (DatePrecision::Year, 1, 1),
            (0, _) => {
                return Err(
                    "a date with an unknown month must leave the day unknown (0) too".into(),
                );
            }
            (m, 0) => (DatePrecision::Month, m, 1),
            (m, d) => (DatePrecision::Day, m, d),
        };
        let (Ok(month), Ok(day)) = (u32::try_from(month), u32::try_from(day)) else {
            return Err("is not a valid calendar date".into());
        };
        let earliest =
            NaiveDate::from_ymd_opt(d.year, month, day).ok_or("is not a valid calendar date")?;
        Ok(BirthDate {
            earliest,
            precision,
        })
    }
}

/// A date of birth, perhaps partly unknown ([`BirthDate::from_wire`]): not after `today`, not
/// before 1900.
pub fn birth_date(value: Option<&Date>, today: NaiveDate) -> Result<BirthDate, String> {
    let d = BirthDate::from_wire(value)?;
    if d.earliest > today {
        return Err("must not be in the future".into());
    }
    if d.earliest.year() < 1900 {
        return Err("must not be before 1900".into());
    }
    Ok(d)
}

/// A language: empty, or a BCP 47 tag like `ar` or `uk`.
pub fn language_tag(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(String::new());
    }
    let mut parts = value.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    let rest_ok =
        parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if primary_ok && rest_ok {
        Ok(value.to_owned())
    } else {
        Err("must be a BCP 47 language tag such as `ar` or `uk`".into())
    }
}

/// A required enum value: the protobuf number `value` of enum `P` (not `*_UNSPECIFIED`, not a
/// number this build does not know), as the domain value `D` it maps to (see
/// [`crate::wire_enum!`]).
pub fn enum_value<P, D>(value: i32) -> Result<D, String>
where
    P: TryFrom<i32>,
    D: TryFrom<P>,
{
    P::try_from(value)
        .ok()
        .and_then(|p| D::try_from(p).ok())
        .ok_or_else(|| "is required and must be one of the enum's values".into())
}

/// An optional enum value: `*_UNSPECIFIED` (0) is `None`, any other must be known.
pub fn optional_enum<P, D>(value: i32) -> Result<Option<D>, String>
where
    P: TryFrom<i32>,
    D: TryFrom<P>,
{
    if value == 0 {
        return Ok(None);
    }
    P::try_from(value)
        .ok()
        .and_then(|p| D::try_from(p).ok())
        .map(Some)
        .ok_or_else(|| "must be one of the enum's values".into())
}

/// An etag as issued by fallwerk (the object's version).
pub fn etag(value: &str) -> Result<i32, String> {
    if value.is_empty() {
        return Err("is required".into());
    }
    value
        .parse()
        .map_err(|_| "is not an etag issued by this service".into())
}

/// The paths of an update mask, each one of `allowed`, at least one.
pub fn update_mask(
    violations: &mut Violations,
    mask: Option<&prost_types::FieldMask>,
    allowed: &[&str],
) -> Vec<String> {
    let paths = mask.map(|m| m.paths.clone()).unwrap_or_default();
    if paths.is_empty() {
        violations.add(
            "update_mask",
            format!("must name at least one of: {}", allowed.join(", ")),
        );
    }
    for path in &paths {
        if !allowed.contains(&path.as_str()) {
            violations.add(
                "update_mask.paths",
                format!(
                    "`{path}` cannot be updated; allowed: {}",
                    allowed.join(", ")
                ),
            );
        }
    }
    paths
}

/// A required sub-message.
pub fn required<'a, T>(
    violations: &mut Violations,
    field: &str,
    value: Option<&'a T>,
) -> Option<&'a T> {
    if value.is_none() {
        violations.add(field, "is required");
    }
    value
}

/// The wire form of an instant.
pub fn timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

/// An instant from the wire; `None` when absent or out of range.
pub fn datetime(timestamp: Option<&Timestamp>) -> Option<DateTime<Utc>> {
    let t = timestamp?;
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
}

/// The wire form of a date.
pub fn wire_date(d: NaiveDate) -> Date {
    Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_outside_the_years_of_google_type_date_is_refused() {
        let wire = |year| {
            Some(Date {
                year,
                month: 1,
                day: 1,
            })
        };
        for year in [-5000, 0, 10_000] {
            assert!(date(wire(year).as_ref()).is_err(), "{year}");
            assert!(BirthDate::from_wire(wire(year).as_ref()).is_err(), "{year}");
        }
        assert!(date(wire(1).as_ref()).is_ok());
        assert!(date(wire(9999).as_ref()).is_ok());
    }

    #[test]
    fn a_birth_date_may_leave_day_or_month_unknown() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let wire = |year, month, day| Date { year, month, day };
        for d in [wire(1990, 5, 14), wire(1990, 5, 0), wire(1990, 0, 0)] {
            let parsed = birth_date(Some(&d), today).unwrap();
            assert_eq!(parsed.to_wire(), d);
        }
        let month = birth_date(Some(&wire(1990, 5, 0)), today).unwrap();
        assert_eq!(month.precision, DatePrecision::Month);
        assert_eq!(month.earliest, NaiveDate::from_ymd_opt(1990, 5, 1).unwrap());
        assert!(birth_date(Some(&wire(1990, 0, 14)), today).is_err());
        assert!(birth_date(Some(&wire(1990, 13, 0)), today).is_err());
        assert!(birth_date(Some(&wire(2027, 0, 0)), today).is_err());
        assert!(birth_date(Some(&wire(1899, 0, 0)), today).is_err());
    }

    #[test]
    fn a_timestamp_survives_the_round_trip_to_the_nanosecond() {
        let at = DateTime::from_timestamp(1_790_000_000, 123_456_789).expect("in range");
        assert_eq!(datetime(Some(&timestamp(at))), Some(at));
        assert_eq!(
            datetime(Some(&Timestamp {
                seconds: 0,
                nanos: -1
            })),
            None
        );
    }

    #[test]
    fn dates_that_do_not_exist_are_refused() {
        let feb = |day| Date {
            year: 2026,
            month: 2,
            day,
        };
        assert!(date(Some(&feb(28))).is_ok());
        assert!(date(Some(&feb(29))).is_err());
        assert!(date(None).is_err());
        assert_eq!(optional_date(None), Ok(None));
    }

    #[test]
    fn language_tags_follow_bcp47_shape() {
        assert_eq!(language_tag(" uk "), Ok("uk".into()));
        assert_eq!(language_tag("sr-Latn"), Ok("sr-Latn".into()));
        assert!(language_tag("x").is_err());
        assert!(language_tag("de_DE").is_err());
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #[test]
            fn accepted_text_is_trimmed_bounded_clean_and_accepted_again(
                text in "\\PC{0,40}|[\\x00-\\x1f\\u{202A}-\\u{202E} a-zé]{0,40}",
                max in 0usize..50,
            ) {
                if let Ok(kept) = optional_text(&text, max) {
                    prop_assert_eq!(kept.as_str(), kept.trim());
                    prop_assert!(kept.chars().count() <= max);
                    prop_assert!(!kept.chars().any(|c| (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c)));
                    prop_assert_eq!(optional_text(&kept, max), Ok(kept.clone()));
                }
            }

            #[test]
            fn a_date_is_accepted_only_in_years_1_to_9999_and_reads_back_as_sent(
                year in any::<i32>(), month in -2i32..15, day in -2i32..34,
            ) {
                let sent = Date { year, month, day };
                if let Ok(parsed) = date(Some(&sent)) {
                    prop_assert!((1..=9999).contains(&year));
                    prop_assert_eq!(wire_date(parsed), sent);
                }
                if let Ok(birth) = BirthDate::from_wire(Some(&sent)) {
                    prop_assert!((1..=9999).contains(&year));
                    prop_assert_eq!(birth.to_wire(), sent);
                }
            }

            #[test]
            fn a_language_tag_is_kept_only_when_it_is_plain_ascii(text in "\\PC{0,20}") {
                if let Ok(tag) = language_tag(&text) {
                    prop_assert!(tag.is_ascii());
                    prop_assert!(!tag.contains(char::is_whitespace));
                }
            }
        }
    }
}
