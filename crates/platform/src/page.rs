//! Keyset pagination (AIP-158) with opaque page tokens.
//!
//! A page token names the last row of the previous page and is bound to the query it came
//! from: the listing and its filters. Sent with other filters (or to another listing), it is a
//! bad `page_token`, never a silently wrong page. Clients must treat tokens as opaque; their
//! layout (version, query fingerprint, row id, base64url) may change.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::Violations;

/// Page size when the request asks for none.
pub const DEFAULT_PAGE_SIZE: i64 = 50;
/// Larger requests are served this many.
pub const MAX_PAGE_SIZE: i64 = 200;

const VERSION: u8 = 2;
const TOKEN_LEN: usize = 1 + 8 + 8 + 16;

/// One page asked for: its size and where it starts.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// Rows on the page.
    pub size: i64,
    /// The id of the last row of the previous page; `None` for the first page.
    pub after: Option<Uuid>,
    /// The rank of that row, in listings sorted by a number before the id (see
    /// [`Self::finish_ranked`]); `None` for the first page.
    pub after_rank: Option<i64>,
    query: [u8; 8],
}

impl PageRequest {
    /// Parses `page_size` and `page_token` of a listing whose filters are `query` (the method
    /// name first, then every filter value as sent). Bad fields go to `violations`.
    pub fn parse(
        violations: &mut Violations,
        page_size: i32,
        page_token: &str,
        query: &[&str],
    ) -> Option<Self> {
        let size = violations.check("page_size", size(page_size));
        let query = fingerprint(query);
        let after = violations.check("page_token", decode(page_token, &query))?;
        Some(PageRequest {
            size: size?,
            after: after.map(|(_, id)| id),
            after_rank: after.map(|(rank, _)| rank),
            query,
        })
    }

    /// Rows to fetch: one more than the page, to know whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        self.size + 1
    }

    /// Cuts `rows` (fetched with [`Self::fetch_limit`]) to the page and makes the token of the
    /// next page from the last row's id (empty when this is the last page).
    pub fn finish<T>(&self, rows: Vec<T>, id: impl Fn(&T) -> Uuid) -> (Vec<T>, String) {
        self.finish_ranked(rows, |row| (0, id(row)))
    }

    /// [`Self::finish`] for rows sorted by a number first, then by id (an urgency day, say):
    /// `key` gives both, and the next page starts after them ([`Self::after_rank`],
    /// [`Self::after`]).
    pub fn finish_ranked<T>(
        &self,
        mut rows: Vec<T>,
        key: impl Fn(&T) -> (i64, Uuid),
    ) -> (Vec<T>, String) {
        if rows.len() as i64 <= self.size {
            return (rows, String::new());
        }
        rows.truncate(self.size as usize);
        let token = rows.last().map(|row| {
            let (rank, id) = key(row);
            encode(&self.query, rank, id)
        });
        (rows, token.unwrap_or_default())
    }

    /// The last row's key in listings keyed by a number alone (a sequence, a revision).
    pub fn after_number(&self) -> Option<i64> {
        self.after_rank
    }

    /// [`Self::finish`] for rows keyed by a number alone.
    pub fn finish_numbered<T>(&self, rows: Vec<T>, key: impl Fn(&T) -> i64) -> (Vec<T>, String) {
        self.finish_ranked(rows, |row| (key(row), Uuid::nil()))
    }
}

fn size(value: i32) -> Result<i64, String> {
    match value {
        v if v < 0 => Err("must not be negative".into()),
        0 => Ok(DEFAULT_PAGE_SIZE),
        v => Ok(i64::from(v).min(MAX_PAGE_SIZE)),
    }
}

fn fingerprint(query: &[&str]) -> [u8; 8] {
    let mut hash = Sha256::new();
    for part in query {
        hash.update(part.as_bytes());
        hash.update([0x1f]);
    }
    let mut out = [0; 8];
    out.copy_from_slice(&hash.finalize()[..8]);
    out
}

fn encode(query: &[u8; 8], rank: i64, last: Uuid) -> String {
    let mut bytes = Vec::with_capacity(TOKEN_LEN);
    bytes.push(VERSION);
    bytes.extend_from_slice(query);
    bytes.extend_from_slice(&rank.to_be_bytes());
    bytes.extend_from_slice(last.as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

fn decode(token: &str, query: &[u8; 8]) -> Result<Option<(i64, Uuid)>, String> {
    if token.is_empty() {
        return Ok(None);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .filter(|b| b.len() == TOKEN_LEN && b[0] == VERSION)
        .ok_or("is not a page token of this service")?;
    if bytes[1..9] != query[..] {
        return Err("belongs to another query: send the same filters as for the first page".into());
    }
    let mut rank = [0; 8];
    rank.copy_from_slice(&bytes[9..17]);
    Uuid::from_slice(&bytes[17..])
        .map(|id| Some((i64::from_be_bytes(rank), id)))
        .map_err(|_| "is not a page token of this service".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(size: i32, token: &str, query: &[&str]) -> Result<PageRequest, Vec<String>> {
        let mut v = Violations::new();
        let page = PageRequest::parse(&mut v, size, token, query);
        v.finish(page).map_err(|e| vec![format!("{e}")])
    }

    #[test]
    fn a_token_leads_to_the_row_after_the_last_one_shown() {
        let first = page(2, "", &["List", "a"]).expect("first page");
        let ids: Vec<Uuid> = (1..=3).map(Uuid::from_u128).collect();
        let (rows, token) = first.finish(ids.clone(), |id| *id);
        assert_eq!(rows, ids[..2]);
        let second = page(2, &token, &["List", "a"]).expect("second page");
        assert_eq!(second.after, Some(ids[1]));
        let (rows, token) = second.finish(vec![ids[2]], |id| *id);
        assert_eq!((rows.len(), token.as_str()), (1, ""));
    }

    #[test]
    fn a_ranked_token_carries_the_rank_and_the_id() {
        let first = page(1, "", &["List"]).expect("first page");
        let rows = vec![(-3_i64, Uuid::from_u128(7)), (5, Uuid::from_u128(1))];
        let (_, token) = first.finish_ranked(rows, |row| *row);
        let second = page(1, &token, &["List"]).expect("second page");
        assert_eq!(
            (second.after_rank, second.after),
            (Some(-3), Some(Uuid::from_u128(7)))
        );
    }

    #[test]
    fn a_token_is_refused_with_other_filters_or_when_made_up() {
        let (_, token) = page(1, "", &["List", "a"])
            .expect("first page")
            .finish(vec![Uuid::from_u128(1), Uuid::from_u128(2)], |id| *id);
        assert!(page(1, &token, &["List", "b"]).is_err());
        assert!(page(1, &token, &["Other", "a"]).is_err());
        assert!(page(1, "bm90IGEgdG9rZW4", &["List", "a"]).is_err());
        assert!(page(1, &Uuid::from_u128(1).to_string(), &["List", "a"]).is_err());
    }

    #[test]
    fn page_sizes_default_cap_and_refuse_negatives() {
        assert_eq!(page(0, "", &[]).expect("default").size, DEFAULT_PAGE_SIZE);
        assert_eq!(page(10_000, "", &[]).expect("capped").size, MAX_PAGE_SIZE);
        assert!(page(-1, "", &[]).is_err());
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #[test]
            fn any_token_is_read_or_refused_never_misread(token in "\\PC{0,60}", size in any::<i32>()) {
                // Whatever a client sends, parsing answers: a page or named bad fields.
                let _ = page(size, &token, &["List", "a"]);
            }

            #[test]
            fn a_token_leads_back_only_to_its_own_query(
                rank in any::<i64>(), id in any::<u128>(), filter in "[a-z]{0,8}", other in "[a-z]{0,8}",
            ) {
                let first = page(1, "", &["List", &filter]).expect("first page");
                let rows = vec![(rank, Uuid::from_u128(id)), (0, Uuid::nil())];
                let (_, token) = first.finish_ranked(rows, |row| *row);
                let again = page(1, &token, &["List", &filter]).expect("same query");
                prop_assert_eq!((again.after_rank, again.after), (Some(rank), Some(Uuid::from_u128(id))));
                if other != filter {
                    prop_assert!(page(1, &token, &["List", &other]).is_err());
                }
            }
        }
    }
}
