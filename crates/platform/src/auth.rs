//! Who is calling, and may they call this method.
//!
//! Authentication: a bearer JWT on every RPC except health and reflection. The signature is
//! checked with a public key from a JWKS file (re-read when it changes), chosen by `kid`; the
//! algorithm comes from the key, never from the token alone, so `alg: none` and HMAC tokens
//! "signed" with a public key are refused. `exp`, `iss`, `aud` and `sub` are required.
//!
//! Authorization, method level: each service declares an [`AccessPolicy`], one readable list
//! of which roles may call which method. A method without a rule is denied. Object-level rules
//! (same team, addressed partner) live in the service's handlers, which get the [`Principal`].

use std::{
    collections::{BTreeSet, HashMap},
    path::PathBuf,
    sync::{Arc, RwLock},
    time::{Duration, SystemTime},
};

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
}

impl Principal {
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

    /// The roles as token strings, for the audit log.
    pub fn role_names(&self) -> Vec<String> {
        self.roles.iter().map(|r| r.as_str().to_owned()).collect()
    }
}

/// Reads the principal that the request layer put into the request.
pub fn principal<T>(request: &tonic::Request<T>) -> Result<Principal, ApiError> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| ApiError::Unauthenticated("no authenticated caller".into()))
}

/// The claims fallwerk reads from a token.
#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
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
#[derive(Debug)]
pub enum Access {
    /// No token needed.
    Public,
    /// A token with one of these roles is needed.
    Roles(&'static [Role]),
    /// No rule exists: deny.
    NoRule,
}

/// All method rules of a server, looked up by HTTP/2 path (`/package.Service/Method`).
#[derive(Debug, Default)]
pub struct Authorizer {
    by_path: HashMap<String, &'static [Role]>,
}

impl Authorizer {
    /// Collects the rules of every service the server hosts.
    pub fn new(policies: &[AccessPolicy]) -> Self {
        let by_path = policies
            .iter()
            .flat_map(|p| {
                p.rules
                    .iter()
                    .map(move |r| (format!("/{}/{}", p.service, r.method), r.roles))
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
        match self.by_path.get(path) {
            Some(roles) => Access::Roles(roles),
            None => Access::NoRule,
        }
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

/// Verifies bearer tokens against the keys of a JWKS file.
pub struct Authenticator {
    path: PathBuf,
    issuer: String,
    audience: String,
    cache: RwLock<KeyCache>,
}

impl Authenticator {
    /// Loads the key set named in the settings; fails on an unreadable or keyless file.
    pub fn from_args(args: &AuthArgs) -> Result<Arc<Self>, ConfigError> {
        let (keys, modified) = load_jwks(&args.jwks_file).map_err(|problem| ConfigError {
            setting: "JWKS_FILE",
            problem,
        })?;
        Ok(Arc::new(Authenticator {
            path: args.jwks_file.clone(),
            issuer: args.jwt_issuer.clone(),
            audience: args.jwt_audience.clone(),
            cache: RwLock::new(KeyCache { keys, modified }),
        }))
    }

    /// Re-reads the key file every `every` while `shutdown` is not cancelled, so rotated keys in
    /// a mounted Secret take effect without a restart. A broken new file keeps the old keys.
    pub fn spawn_reload(
        self: &Arc<Self>,
        every: Duration,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tick.tick() => this.reload_if_changed(),
                }
            }
        });
    }

    fn reload_if_changed(&self) {
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        if modified == self.cache.read().expect("key cache lock").modified {
            return;
        }
        match load_jwks(&self.path) {
            Ok((keys, modified)) => {
                tracing::info!(keys = keys.len(), path = %self.path.display(), "JWKS reloaded");
                *self.cache.write().expect("key cache lock") = KeyCache { keys, modified };
            }
            Err(problem) => tracing::error!(%problem, "JWKS reload failed; keeping the old keys"),
        }
    }

    /// Verifies a bearer token and returns its principal.
    pub fn authenticate(&self, token: &str) -> Result<Principal, ApiError> {
        let denied = |why: &str| ApiError::Unauthenticated(format!("invalid token: {why}"));
        let header = jsonwebtoken::decode_header(token).map_err(|_| denied("malformed"))?;
        let cache = self.cache.read().expect("key cache lock");
        let key = cache
            .keys
            .iter()
            .find(|k| header.kid.is_none() || k.kid == header.kid)
            .ok_or_else(|| denied("unknown key id"))?;
        if !key.algorithms.contains(&header.alg) {
            return Err(denied("algorithm does not match the key"));
        }
        let mut validation = Validation::new(header.alg);
        validation.algorithms = key.algorithms.clone();
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        let data = jsonwebtoken::decode::<Claims>(token, &key.key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => denied("expired"),
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
        })
    }
}

fn load_jwks(path: &PathBuf) -> Result<(Vec<VerificationKey>, Option<SystemTime>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let set: JwkSet = serde_json::from_str(&text).map_err(|e| format!("not a JWKS: {e}"))?;
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
    Ok((keys, modified))
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
