//! Tokens from files (`--token-dir`), for clusters whose identity provider issues them: the
//! tool cannot mint those, so it reads one file per role and learns from each token's claims
//! who it is (the services verify the signatures; the tool only reads the payload).
//!
//! The directory holds `admin`, `front_desk` (its `team_id` is the run's team), `advisors`
//! (one token per line, each an advisor of that team; the run enrols any not yet in the
//! roster) and, for scenarios with partner, `partner` (its `partner_id` names an existing
//! partner; the run adds an offer of its own).

use std::path::Path;

use base64::Engine;

use super::Bearer;
use crate::LoadError;

/// The tokens of one run, read from its directory.
pub(super) struct TokenFiles {
    pub(super) admin: Bearer,
    pub(super) desk: Bearer,
    /// The front desk token's team: the team the run works in.
    pub(super) team: uuid::Uuid,
    /// Each advisor's token with its subject.
    pub(super) advisors: Vec<(Bearer, String)>,
    /// The partner system's token with its partner, if the file is there.
    pub(super) partner: Option<(Bearer, String)>,
}

impl TokenFiles {
    /// Reads `dir`; every problem names its file.
    pub(super) fn read(dir: &Path) -> Result<TokenFiles, LoadError> {
        let file = |name: &str| -> Result<Option<Vec<String>>, LoadError> {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok(Some(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(str::to_owned)
                        .collect(),
                )),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(LoadError::Config(format!("{}: {e}", path.display()))),
            }
        };
        let one = |name: &str| -> Result<String, LoadError> {
            file(name)?
                .and_then(|tokens| tokens.into_iter().next())
                .ok_or_else(|| {
                    LoadError::Config(format!("--token-dir: {name} is missing or empty"))
                })
        };
        let claim = |name: &str, token: &str, claim: &str| -> Result<String, LoadError> {
            claims(token)
                .ok()
                .and_then(|c| c.get(claim).and_then(|v| v.as_str()).map(str::to_owned))
                .ok_or_else(|| {
                    LoadError::Config(format!("--token-dir: the token in {name} has no {claim}"))
                })
        };
        let desk = one("front_desk")?;
        let team = claim("front_desk", &desk, "team_id")?
            .parse()
            .map_err(|_| {
                LoadError::Config("--token-dir: front_desk's team_id is no UUID".into())
            })?;
        let mut advisors = Vec::new();
        for token in file("advisors")?.unwrap_or_default() {
            let subject = claim("advisors", &token, "sub")?;
            advisors.push((bearer(&token)?, subject));
        }
        if advisors.is_empty() {
            return Err(LoadError::Config(
                "--token-dir: advisors is missing or empty".into(),
            ));
        }
        let partner = match file("partner")?.and_then(|t| t.into_iter().next()) {
            Some(token) => {
                let partner_id = claim("partner", &token, "partner_id")?;
                Some((bearer(&token)?, partner_id))
            }
            None => None,
        };
        Ok(TokenFiles {
            admin: bearer(&one("admin")?)?,
            desk: bearer(&desk)?,
            team,
            advisors,
            partner,
        })
    }
}

fn bearer(token: &str) -> Result<Bearer, LoadError> {
    format!("Bearer {token}")
        .parse()
        .map_err(|_| LoadError::Config("--token-dir: a token is no header value".into()))
}

/// A JWT's payload, decoded but not verified.
fn claims(token: &str) -> Result<serde_json::Value, String> {
    let payload = token.split('.').nth(1).ok_or("not a JWT")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_is_read_without_its_signature_and_garbage_is_refused() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"advisor-7","team_id":"0193a5e2-0000-7000-8000-000000000001"}"#);
        let token = format!("eyJhbGciOiJFZERTQSJ9.{payload}.c2lnbmF0dXJl");
        let read = claims(&token).expect("claims");
        assert_eq!(read["sub"], "advisor-7");
        for bad in ["", "only-one-part", "a.!!!.c", "a.bm90IGpzb24.c"] {
            assert!(claims(bad).is_err(), "{bad:?} read");
        }
    }
}
