//! The local signing key of `make run` and the tests: an Ed25519 key pair whose public half the
//! services read as a JWKS file, and whose private half mints tokens for any role. A deployed
//! service never uses this: in a cluster the JWKS comes from the office's identity provider.

use std::{
    fs, io,
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use ed25519_dalek::SigningKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use uuid::Uuid;

use fallwerk_platform::auth::Role;

/// PKCS#8 v1 prefix of an Ed25519 private key: the DER is this plus the 32-byte seed.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// Issuer of dev tokens; the services' default `JWT_ISSUER`.
pub const DEV_ISSUER: &str = "fallwerk-dev";
/// Audience of dev tokens; the services' default `JWT_AUDIENCE`.
pub const DEV_AUDIENCE: &str = "fallwerk";

/// A local Ed25519 signing key.
pub struct DevKey {
    seed: [u8; 32],
    kid: String,
}

/// What a minted token says.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    /// `sub`.
    pub subject: String,
    /// `roles`.
    pub roles: Vec<Role>,
    /// `team_id`.
    pub team_id: Option<Uuid>,
    /// `partner_id`.
    pub partner_id: Option<String>,
    /// Lifetime.
    pub ttl: Duration,
}

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    iss: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    roles: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    team_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    partner_id: Option<&'a str>,
}

impl DevKey {
    /// A fresh random key.
    pub fn generate() -> io::Result<Self> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Self::from_seed(seed))
    }

    fn from_seed(seed: [u8; 32]) -> Self {
        let public = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
        // The key id is derived from the public key, so a regenerated key never matches an old id.
        let kid = format!("dev-{}", &URL_SAFE_NO_PAD.encode(public)[..12]);
        DevKey { seed, kid }
    }

    /// The key in `dir` (`dev-signing-key.pem`); nothing is written.
    pub fn load(dir: &Path) -> io::Result<Self> {
        Self::from_pem(&fs::read_to_string(dir.join("dev-signing-key.pem"))?)
    }

    /// The key in `dir` (`dev-signing-key.pem`, `jwks.json`), created on first use.
    pub fn load_or_create(dir: &Path) -> io::Result<Self> {
        let pem_path = dir.join("dev-signing-key.pem");
        if let Ok(pem) = fs::read_to_string(&pem_path) {
            let key = Self::from_pem(&pem)?;
            key.write_jwks(&Self::jwks_path(dir))?;
            return Ok(key);
        }
        fs::create_dir_all(dir)?;
        let key = Self::generate()?;
        write_private(&pem_path, &key.to_pem())?;
        key.write_jwks(&Self::jwks_path(dir))?;
        Ok(key)
    }

    /// Where [`DevKey::load_or_create`] keeps the public key set.
    pub fn jwks_path(dir: &Path) -> PathBuf {
        dir.join("jwks.json")
    }

    fn to_pem(&self) -> String {
        let mut der = PKCS8_ED25519_PREFIX.to_vec();
        der.extend_from_slice(&self.seed);
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(der)
        )
    }

    fn from_pem(pem: &str) -> io::Result<Self> {
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = STANDARD
            .decode(body.trim())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        match der.strip_prefix(&PKCS8_ED25519_PREFIX[..]) {
            Some(seed) if seed.len() == 32 => {
                Ok(Self::from_seed(seed.try_into().expect("32 bytes")))
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not an Ed25519 PKCS#8 key",
            )),
        }
    }

    /// The public key set, as the services read it.
    pub fn jwks_json(&self) -> String {
        let public = SigningKey::from_bytes(&self.seed)
            .verifying_key()
            .to_bytes();
        serde_json::json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(public),
                "kid": self.kid,
                "alg": "EdDSA",
                "use": "sig",
            }]
        })
        .to_string()
    }

    /// Writes the public key set to `path`.
    pub fn write_jwks(&self, path: &Path) -> io::Result<()> {
        fs::write(path, self.jwks_json())
    }

    /// Mints a token for the dev issuer and audience.
    pub fn mint(&self, spec: &TokenSpec) -> String {
        self.mint_for(spec, DEV_ISSUER, DEV_AUDIENCE)
    }

    /// Mints a token for another issuer or audience (tests of rejection).
    pub fn mint_for(&self, spec: &TokenSpec, issuer: &str, audience: &str) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = Claims {
            sub: &spec.subject,
            iss: issuer,
            aud: audience,
            iat: now,
            exp: now + spec.ttl.as_secs(),
            roles: spec.roles.iter().map(|r| r.as_str()).collect(),
            team_id: spec.team_id.map(|t| t.to_string()),
            partner_id: spec.partner_id.as_deref(),
        };
        self.sign(&claims)
    }

    /// Signs arbitrary claims (tests of expiry and missing claims).
    pub fn sign<C: Serialize>(&self, claims: &C) -> String {
        let mut der = PKCS8_ED25519_PREFIX.to_vec();
        der.extend_from_slice(&self.seed);
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&der))
            .expect("Ed25519 signing does not fail")
    }
}

fn write_private(path: &Path, contents: &str) -> io::Result<()> {
    fs::write(path, contents)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
