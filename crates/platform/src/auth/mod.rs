//! Who is calling, and may they call this method.
//!
//! Authentication: a bearer JWT on every RPC except health and reflection. The signature is
//! checked with a public key from a JWKS file (re-read when it changes) or the identity
//! provider's JWKS URL (fetched periodically and when an unknown key id appears), chosen by
//! `kid`; the
//! algorithm comes from the key, never from the token alone, so `alg: none` and HMAC tokens
//! "signed" with a public key are refused. `exp`, `iss`, `aud` and `sub` are required.
//! A token that passed is remembered by its hash until its `exp` or the next key change
//! (`auth/verified.rs`), so a client's later calls skip the signature check.
//!
//! Authorization, method level: each service declares an [`AccessPolicy`], one readable list
//! of which roles may call which method. A method without a rule is denied. Object-level rules
//! (same team, addressed partner) live in the service's handlers, which get the [`Principal`].

mod jwks;
mod verified;

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, RwLock},
    time::{Duration, SystemTime},
};

use chrono::{DateTime, Utc};
use jwks::JwksSource;
use tokio::sync::Notify;
use verified::VerifiedTokens;

use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet},
};
use serde::Deserialize;
use uuid::Uuid;

use crate::{
    ApiError,
    config::{AuthArgs, ConfigError},
};

/// The roles of fallwerk's security model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Registers people and visits; sees the queue and identity data, not consultation content.
    FrontDesk,
    /// Consults and is responsible for cases of their team.
    Advisor,
    /// Leads a team: its roster, caseload and figures.
    TeamLead,
    /// A cooperation partner's system (with `partner_id`).
    Partner,
    /// Runs the roster, partners and offers; no case content.
    Admin,
    /// Reads audit logs and event feeds.
    Auditor,
    /// Another fallwerk service (event feeds).
    Service,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 7] = [
        Role::FrontDesk,
        Role::Advisor,
        Role::TeamLead,
        Role::Partner,
        Role::Admin,
        Role::Auditor,
        Role::Service,
    ];

    /// The name used in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::FrontDesk => "front_desk",
            Role::Advisor => "advisor",
            Role::TeamLead => "team_lead",
            Role::Partner => "partner",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
            Role::Service => "service",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}`"))
    }
}

/// The authenticated caller, as the handlers see it.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The token's `sub`.
    pub subject: String,
    /// Known roles from the `roles` claim (unknown ones are ignored).
    pub roles: BTreeSet<Role>,
    /// The `team_id` claim.
    pub team_id: Option<Uuid>,
    /// The `partner_id` claim.
    pub partner_id: Option<String>,
    /// The token's `exp`: a stream opened with it ends then ([`Principal::until_token_expires`]).
    pub expires_at: DateTime<Utc>,
}

impl Principal {
    /// Sleeps until the token expires. A long-lived stream races its work against this and
    /// ends with [`token_expired`] when it wins: the client reconnects with a fresh token and
    /// resumes from its last position.
    pub async fn until_token_expires(&self) {
        let left = (self.expires_at - Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(left).await;
    }

    /// Whether the caller holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The caller's team, required for team-scoped work.
    pub fn team(&self) -> Result<Uuid, ApiError> {
        self.team_id
            .ok_or_else(|| ApiError::PermissionDenied("the token carries no team_id".into()))
    }

    /// Whether the caller belongs to `team`.
    pub fn in_team(&self, team: Uuid) -> bool {
        self.team_id == Some(team)
    }

    /// A central front desk: the front-desk role without a team in the token. It serves the
    /// front desk work (visits, queues) of every team, naming the team where it must.
    pub fn is_central_desk(&self) -> bool {
        self.team_id.is_none() && self.has(Role::FrontDesk)
    }

    /// The roles as token strings, for the audit log.
    pub fn role_names(&self) -> Vec<String> {
        self.roles.iter().map(|r| r.as_str().to_owned()).collect()
    }
}

/// The caller of one RPC, as a handler sees it: who (the [`Principal`]) and which method they
/// called, resolved once by the request layer from the method's [`MethodRule`] (so the
/// audit log, idempotency keys and page tokens never spell the method name again).
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who is calling.
    pub principal: Principal,
    /// The method called, as in the `.proto` (e.g. `CreateApplicant`).
    pub method: &'static str,
    /// When the call must be answered: the client's `grpc-timeout` or the server's request
    /// timeout, whichever comes first. Calls to other services end by then too.
    pub deadline: std::time::Instant,
}

impl std::ops::Deref for Caller {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.principal
    }
}

impl Caller {
    /// The caller the request layer put into `request`.
    pub fn of<T>(request: &tonic::Request<T>) -> Result<Caller, ApiError> {
        request
            .extensions()
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::Unauthenticated("no authenticated caller".into()))
    }

    /// Like [`Self::same_team`], but a central front desk serves every team: for front-desk
    /// objects (visits, queues).
    pub fn desk_of(
        &self,
        team: impl Into<Uuid>,
        resource: &'static str,
        id: impl ToString,
    ) -> Result<(), ApiError> {
        if self.is_central_desk() {
            Ok(())
        } else {
            self.same_team(team, resource, id)
        }
    }

    /// Another team's object answers NOT_FOUND: its existence is none of the caller's
    /// business.
    pub fn same_team(
        &self,
        team: impl Into<Uuid>,
        resource: &'static str,
        id: impl ToString,
    ) -> Result<(), ApiError> {
        if self.in_team(team.into()) {
            Ok(())
        } else {
            Err(ApiError::not_found(resource, id))
        }
    }
}

/// How a stream ends when the token it was opened with expires.
pub fn token_expired() -> tonic::Status {
    tonic::Status::unauthenticated(
        "the token expired; reconnect with a fresh token and resume from your last position",
    )
}

/// The claims fallwerk reads from a token.
#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    partner_id: Option<String>,
}

/// One method's rule: the roles that may call it.
#[derive(Debug, Clone, Copy)]
pub struct MethodRule {
    /// Method name as in the `.proto` (e.g. `CreateApplicant`).
    pub method: &'static str,
    /// Roles allowed; any one suffices.
    pub roles: &'static [Role],
}

/// The method-level rules of one gRPC service.
#[derive(Debug, Clone, Copy)]
pub struct AccessPolicy {
    /// Full service name (e.g. `fallwerk.intake.v1.IntakeService`).
    pub service: &'static str,
    /// Its rules; a method without one is denied.
    pub rules: &'static [MethodRule],
}

/// Services anyone may call: a kubelet probing health has no token.
const PUBLIC_SERVICES: &[&str] = &[
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// What the request layer must do with a request path.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    /// No token needed.
    Public,
    /// A token with one of `roles` is needed to call `method`.
    Roles {
        /// The method's name as in its rule.
        method: &'static str,
        /// The roles allowed.
        roles: &'static [Role],
        /// `package.Service/Method`: the method's label in metrics.
        label: &'static str,
    },
    /// No rule exists: deny.
    NoRule,
}

/// All method rules of a server, looked up by HTTP/2 path (`/package.Service/Method`).
#[derive(Debug, Default)]
pub struct Authorizer {
    by_path: HashMap<String, Access>,
}

impl Authorizer {
    /// Collects the rules of every service the server hosts.
    pub fn new(policies: &[AccessPolicy]) -> Self {
        let by_path = policies
            .iter()
            .flat_map(|p| {
                p.rules.iter().map(move |r| {
                    let path = format!("/{}/{}", p.service, r.method);
                    // Once per method at start-up: labels live as long as the server.
                    let label: &'static str = Box::leak(path[1..].to_owned().into_boxed_str());
                    let access = Access::Roles {
                        method: r.method,
                        roles: r.roles,
                        label,
                    };
                    (path, access)
                })
            })
            .collect();
        Authorizer { by_path }
    }

    /// What `path` needs.
    pub fn access(&self, path: &str) -> Access {
        let service = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        if PUBLIC_SERVICES.contains(&service) {
            return Access::Public;
        }
        self.by_path.get(path).copied().unwrap_or(Access::NoRule)
    }
}

/// A verification key with the algorithms it may verify.
struct VerificationKey {
    kid: Option<String>,
    key: DecodingKey,
    algorithms: Vec<Algorithm>,
}

struct KeyCache {
    keys: Vec<VerificationKey>,
    modified: Option<SystemTime>,
}

/// Verifies bearer tokens against the keys of a JWKS file or URL.
pub struct Authenticator {
    source: JwksSource,
    refresh_every: Duration,
    issuer: String,
    audience: String,
    cache: RwLock<KeyCache>,
    /// Poked when a token names a key id we do not know: the IdP may have rotated.
    unknown_key: Notify,
    /// Tokens that passed recently, so a client's next call skips the signature check.
    verified: VerifiedTokens,
}

/// Most tokens remembered as verified (a few MB at most).
const VERIFIED_TOKENS: usize = 10_000;

/// Fetches of the key set come at most this often, however many unknown key ids arrive.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

impl Authenticator {
    /// Loads the key set named in the settings. A file must be readable and hold a usable key;
    /// an identity provider that is not reachable yet is retried in the background, tokens
    /// being refused until it answers, so pods do not crash-loop through an IdP restart.
    pub async fn from_args(args: &AuthArgs) -> Result<Arc<Self>, ConfigError> {
        let source = match (&args.jwks_file, &args.jwks_url) {
            (Some(path), None) => JwksSource::File(path.clone()),
            (None, Some(url)) => JwksSource::Url(url.parse().map_err(|e| ConfigError {
                setting: "JWKS_URL",
                problem: format!("{e}"),
            })?),
            _ => {
                return Err(ConfigError {
                    setting: "JWKS_FILE",
                    problem: "set exactly one of JWKS_FILE and JWKS_URL".into(),
                });
            }
        };
        let authenticator = Arc::new(Authenticator {
            refresh_every: match source {
                JwksSource::File(_) => Duration::from_secs(10),
                JwksSource::Url(_) => Duration::from_secs(args.jwks_refresh_secs),
            },
            source,
            issuer: args.jwt_issuer.clone(),
            audience: args.jwt_audience.clone(),
            cache: RwLock::new(KeyCache {
                keys: Vec::new(),
                modified: None,
            }),
            unknown_key: Notify::new(),
            verified: VerifiedTokens::new(VERIFIED_TOKENS),
        });
        if let Err(problem) = authenticator.reload().await {
            match authenticator.source {
                JwksSource::File(_) => {
                    return Err(ConfigError {
                        setting: "JWKS_FILE",
                        problem,
                    });
                }
                JwksSource::Url(_) => {
                    tracing::error!(%problem, "JWKS not loaded yet; retrying in the background")
                }
            }
        }
        Ok(authenticator)
    }

    /// Keeps the keys current while `shutdown` is not cancelled: a file is re-read when it
    /// changes (a rotated Secret), a URL fetched every `JWKS_REFRESH_SECS` and whenever a token
    /// names an unknown key. A broken new key set keeps the old keys.
    pub fn spawn_reload(self: &Arc<Self>, shutdown: tokio_util::sync::CancellationToken) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(this.refresh_every);
            tick.reset();
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tick.tick() => {}
                    _ = this.unknown_key.notified() => {}
                }
                let unchanged = matches!(this.source, JwksSource::File(_))
                    && this.source.modified()
                        == this.cache.read().expect("key cache lock").modified;
                if !unchanged {
                    let result = match this.reload().await {
                        Ok(()) => "ok",
                        Err(problem) => {
                            tracing::error!(%problem, "JWKS reload failed; keeping the old keys");
                            "failed"
                        }
                    };
                    metrics::counter!("jwks_reloads_total", "result" => result).increment(1);
                }
                // However many unknown key ids arrive, the IdP is asked at most this often.
                tokio::time::sleep(MIN_REFRESH_INTERVAL.min(this.refresh_every)).await;
            }
        });
    }

    async fn reload(&self) -> Result<(), String> {
        let fetched = self.source.fetch().await?;
        let keys = parse_jwks(&fetched.json)?;
        tracing::info!(keys = keys.len(), source = %self.source.describe(), "JWKS loaded");
        *self.cache.write().expect("key cache lock") = KeyCache {
            keys,
            modified: fetched.modified,
        };
        // A token of a removed key must not outlive it.
        self.verified.clear();
        Ok(())
    }

    /// Verifies a bearer token and returns its principal.
    pub fn authenticate(&self, token: &str) -> Result<Principal, ApiError> {
        let hash = VerifiedTokens::hash(token);
        let now = Utc::now();
        if let Some(principal) = self.verified.get(&hash, now) {
            return Ok(principal);
        }
        let principal = self.verify(token)?;
        self.verified.insert(hash, &principal, now);
        Ok(principal)
    }

    /// The full check of a token: key, algorithm, signature, claims.
    fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let denied = |why: &str| ApiError::Unauthenticated(format!("invalid token: {why}"));
        let header = jsonwebtoken::decode_header(token).map_err(|_| denied("malformed"))?;
        let cache = self.cache.read().expect("key cache lock");
        let key = cache
            .keys
            .iter()
            .find(|k| header.kid.is_none() || k.kid == header.kid)
            .ok_or_else(|| {
                self.unknown_key.notify_one();
                denied("unknown key id")
            })?;
        if !key.algorithms.contains(&header.alg) {
            return Err(denied("algorithm does not match the key"));
        }
        let mut validation = Validation::new(header.alg);
        validation.algorithms = key.algorithms.clone();
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // jsonwebtoken ignores `nbf` unless told: a token not yet valid is not valid.
        validation.validate_nbf = true;
        validation.leeway = 30;
        let data = jsonwebtoken::decode::<Claims>(token, &key.key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => denied("expired"),
                ErrorKind::ImmatureSignature => denied("not yet valid"),
                ErrorKind::InvalidIssuer => denied("wrong issuer"),
                ErrorKind::InvalidAudience => denied("wrong audience"),
                ErrorKind::InvalidSignature => denied("bad signature"),
                ErrorKind::MissingRequiredClaim(_) => denied("missing claim"),
                _ => denied("rejected"),
            }
        })?;
        let claims = data.claims;
        let team_id = match claims.team_id.as_deref() {
            None | Some("") => None,
            Some(t) => Some(Uuid::parse_str(t).map_err(|_| denied("team_id is not a UUID"))?),
        };
        Ok(Principal {
            subject: claims.sub,
            roles: claims.roles.iter().filter_map(|r| r.parse().ok()).collect(),
            team_id,
            partner_id: claims.partner_id.filter(|p| !p.is_empty()),
            expires_at: DateTime::from_timestamp(claims.exp, 0)
                .ok_or_else(|| denied("exp is out of range"))?,
        })
    }
}

fn parse_jwks(json: &str) -> Result<Vec<VerificationKey>, String> {
    let set: JwkSet = serde_json::from_str(json).map_err(|e| format!("not a JWKS: {e}"))?;
    let keys = set
        .keys
        .iter()
        .filter_map(|jwk| match verification_key(jwk) {
            Ok(key) => Some(key),
            Err(problem) => {
                tracing::warn!(kid = ?jwk.common.key_id, %problem, "JWKS key skipped");
                None
            }
        })
        .collect::<Vec<_>>();
    if keys.is_empty() {
        return Err("the JWKS holds no usable public key".into());
    }
    Ok(keys)
}

/// The algorithms a key may verify follow from its type. Symmetric keys are refused: a JWKS
/// is public, and accepting HMAC would let anyone holding it forge tokens.
fn verification_key(jwk: &Jwk) -> Result<VerificationKey, String> {
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => return Err("unsupported curve".into()),
        },
        AlgorithmParameters::OctetKeyPair(_) => vec![Algorithm::EdDSA],
        AlgorithmParameters::OctetKey(_) => return Err("symmetric keys are not accepted".into()),
        _ => return Err("unsupported key type".into()),
    };
    let algorithms = match jwk.common.key_algorithm {
        Some(declared) => {
            let declared = Algorithm::try_from(declared).map_err(|e| e.to_string())?;
            if !by_type.contains(&declared) {
                return Err("declared alg does not fit the key type".into());
            }
            vec![declared]
        }
        None => by_type,
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    Ok(VerificationKey {
        kid: jwk.common.key_id.clone(),
        key,
        algorithms,
    })
}
