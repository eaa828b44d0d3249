//! Tokens verified recently. A client sends the same token with every call, and checking its
//! signature (Ed25519 or RSA) costs more than the rest of a small read; so a token that passed
//! is remembered by its SHA-256 with what it said. An entry serves only before the token's
//! `exp` (after that, the full check decides, leeway and all), the cache is bounded, and it is
//! emptied whenever the keys change, so a token of a removed key is refused at once.

use std::{collections::HashMap, sync::RwLock};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::Principal;

/// The SHA-256 of a token: the cache's key, so the token itself is not kept.
pub(super) type TokenHash = [u8; 32];

/// Tokens verified recently, with their principals.
pub(super) struct VerifiedTokens {
    entries: RwLock<HashMap<TokenHash, Principal>>,
    capacity: usize,
}

impl VerifiedTokens {
    /// At most `capacity` tokens.
    pub(super) fn new(capacity: usize) -> Self {
        VerifiedTokens {
            entries: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    /// The key of `token`.
    pub(super) fn hash(token: &str) -> TokenHash {
        Sha256::digest(token.as_bytes()).into()
    }

    /// What `token` said when it was verified, if that was recently and it has not expired.
    pub(super) fn get(&self, token: &TokenHash, now: DateTime<Utc>) -> Option<Principal> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(token)
            .filter(|principal| now < principal.expires_at)
            .cloned()
    }

    /// Remembers a token that passed the full check. When full, expired entries go first,
    /// and if none had, all of them (the next calls verify again).
    pub(super) fn insert(&self, token: TokenHash, principal: &Principal, now: DateTime<Utc>) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.capacity {
            entries.retain(|_, p| now < p.expires_at);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(token, principal.clone());
    }

    /// Forgets every token (the keys changed).
    pub(super) fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn principal(expires_at: DateTime<Utc>) -> Principal {
        Principal {
            subject: "desk-1".into(),
            roles: BTreeSet::new(),
            team_id: None,
            partner_id: None,
            expires_at,
        }
    }

    #[test]
    fn a_verified_token_serves_until_it_expires_and_not_after_the_keys_change() {
        let now = Utc::now();
        let cache = VerifiedTokens::new(10);
        let token = VerifiedTokens::hash("header.claims.signature");
        assert!(cache.get(&token, now).is_none());
        cache.insert(token, &principal(now + chrono::Duration::seconds(60)), now);
        assert_eq!(
            cache.get(&token, now).map(|p| p.subject),
            Some("desk-1".to_owned())
        );
        assert!(
            cache
                .get(&token, now + chrono::Duration::seconds(60))
                .is_none(),
            "not at or past exp"
        );
        assert!(cache.get(&VerifiedTokens::hash("another"), now).is_none());
        cache.clear();
        assert!(cache.get(&token, now).is_none(), "emptied on key change");
    }

    #[test]
    fn a_full_cache_drops_expired_tokens_first_and_never_grows_past_its_bound() {
        let now = Utc::now();
        let cache = VerifiedTokens::new(2);
        let expired = VerifiedTokens::hash("expired");
        let live = VerifiedTokens::hash("live");
        cache.insert(expired, &principal(now - chrono::Duration::seconds(1)), now);
        cache.insert(live, &principal(now + chrono::Duration::seconds(60)), now);
        let third = VerifiedTokens::hash("third");
        cache.insert(third, &principal(now + chrono::Duration::seconds(60)), now);
        assert!(cache.get(&live, now).is_some(), "the live one stays");
        assert!(cache.get(&third, now).is_some());
        let fourth = VerifiedTokens::hash("fourth");
        cache.insert(fourth, &principal(now + chrono::Duration::seconds(60)), now);
        let len = cache.entries.read().map(|e| e.len()).unwrap_or_default();
        assert!(len <= 2, "bounded: {len}");
        assert!(cache.get(&fourth, now).is_some());
    }
}
