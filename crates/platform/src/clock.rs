//! Where "now" comes from. Services stamp arrivals, consultations and events with the server's
//! clock; tests that check calendar rules (same Europe/Berlin day, summer time) set the clock.

use chrono::{DateTime, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock: the one every deployed service uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The office's time zone: its calendar days and the times people read.
pub const OFFICE_ZONE: chrono_tz::Tz = chrono_tz::Europe::Berlin;

/// The office's calendar day of an instant. fallwerk's offices keep Europe/Berlin days: the
/// same-day promise and review dates are counted in them, also across summer-time changes.
pub fn office_day(at: DateTime<Utc>) -> chrono::NaiveDate {
    at.with_timezone(&OFFICE_ZONE).date_naive()
}

/// Whether two instants fall on the same office day.
pub fn same_office_day(a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
    office_day(a) == office_day(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn half_past_eleven_at_night_and_ten_past_midnight_are_two_office_days() {
        // 23:30 and 00:10 Berlin winter time are 22:30 and 23:10 UTC on one UTC day.
        assert!(!same_office_day(
            utc(2026, 1, 14, 22, 30),
            utc(2026, 1, 14, 23, 10)
        ));
    }

    #[test]
    fn office_days_follow_berlin_not_utc_in_summer_time() {
        // 00:30 Berlin summer time is 22:30 UTC of the day before.
        assert!(same_office_day(
            utc(2026, 7, 1, 22, 30),
            utc(2026, 7, 2, 8, 0)
        ));
        assert!(!same_office_day(
            utc(2026, 7, 1, 21, 30),
            utc(2026, 7, 1, 22, 30)
        ));
    }

    #[test]
    fn the_night_clocks_go_forward_is_still_one_office_day() {
        // 29 March 2026: 01:30 CET and 03:30 CEST are both that Sunday.
        assert!(same_office_day(
            utc(2026, 3, 29, 0, 30),
            utc(2026, 3, 29, 1, 30)
        ));
        assert_eq!(
            office_day(utc(2026, 3, 28, 23, 30)),
            NaiveDate::from_ymd_opt(2026, 3, 29).unwrap()
        );
    }
}
