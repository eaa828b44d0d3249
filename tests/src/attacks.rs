//! What an attacker sends: tokens that must not be accepted, and raw calls that bypass the
//! generated clients (any method path, any token), for every service's suite.

use std::str::FromStr;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use fallwerk_devkey::DevKey;

use crate::{ServiceApp, signing_key};

/// The claims of a front desk token for the test issuer and audience, expiring `exp_offset`
/// seconds from now; `extra` is merged in.
fn claims(exp_offset: i64, iss: &str, aud: &str, extra: serde_json::Value) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    let mut claims = serde_json::json!({
        "sub": "desk-1", "iss": iss, "aud": aud, "iat": now, "exp": now + exp_offset,
        "roles": ["front_desk", "advisor", "team_lead", "admin", "auditor", "service", "partner"],
    });
    if let (Some(claims), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
        claims.extend(extra.clone());
    }
    claims
}

/// A token the services accept: every role, the test issuer and audience, valid 5 minutes.
pub fn valid_token() -> String {
    signing_key().sign(&claims(
        300,
        "fallwerk-dev",
        "fallwerk",
        serde_json::json!({}),
    ))
}

/// Tokens every service must answer UNAUTHENTICATED, each with what is wrong with it. Each
/// would carry every role, so a refusal is the token's, never the role's.
pub fn bad_tokens() -> Vec<(&'static str, String)> {
    let key = signing_key();
    let ok = |extra| claims(300, "fallwerk-dev", "fallwerk", extra);
    let jwks: serde_json::Value = serde_json::from_str(&key.jwks_json()).expect("jwks");
    let kid = jwks["keys"][0]["kid"].as_str().expect("kid").to_owned();
    let public_x = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().expect("x"))
        .expect("x bytes");
    let segment = |json: &serde_json::Value| URL_SAFE_NO_PAD.encode(json.to_string());
    let unsigned = format!(
        "{}.{}.",
        segment(&serde_json::json!({"alg": "none", "typ": "JWT"})),
        segment(&ok(serde_json::json!({})))
    );
    // HMAC "signed" with the public key: accepted by a verifier that takes alg from the token.
    let mut hmac_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hmac_header.kid = Some(kid.clone());
    let confused = jsonwebtoken::encode(
        &hmac_header,
        &ok(serde_json::json!({})),
        &jsonwebtoken::EncodingKey::from_secret(&public_x),
    )
    .expect("hmac token");
    // A real signature over a header naming a key nobody published.
    let signed = key.sign(&ok(serde_json::json!({})));
    let (_, rest) = signed.split_once('.').expect("jwt");
    let unknown_kid = format!(
        "{}.{rest}",
        segment(&serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": "nobody-knows"}))
    );
    let now = chrono::Utc::now().timestamp();
    vec![
        ("no token", String::new()),
        ("garbage", "not-a-jwt".to_owned()),
        ("three dots of garbage", "a.b.c".to_owned()),
        (
            "signed by a key the services do not trust",
            DevKey::generate()
                .expect("other key")
                .sign(&ok(serde_json::json!({}))),
        ),
        ("unknown key id", unknown_kid),
        (
            "expired",
            key.sign(&claims(-120, "fallwerk-dev", "fallwerk", serde_json::json!({}))),
        ),
        (
            "not yet valid",
            key.sign(&ok(serde_json::json!({"nbf": now + 3600}))),
        ),
        (
            "wrong issuer",
            key.sign(&claims(300, "evil", "fallwerk", serde_json::json!({}))),
        ),
        (
            "wrong audience",
            key.sign(&claims(300, "fallwerk-dev", "other-system", serde_json::json!({}))),
        ),
        ("alg none", unsigned),
        ("HS256 with the public key", confused),
        (
            "no subject",
            key.sign(&serde_json::json!({"iss": "fallwerk-dev", "aud": "fallwerk", "exp": now + 300, "roles": ["front_desk"]})),
        ),
        (
            "no expiry",
            key.sign(&serde_json::json!({"sub": "desk-1", "iss": "fallwerk-dev", "aud": "fallwerk", "roles": ["front_desk"]})),
        ),
    ]
}

/// Calls `path` (`/package.Service/Method`) on `app` with an empty request, which is valid
/// protobuf for every message, presenting `token` unless it is empty.
pub async fn raw_call(app: &ServiceApp, token: &str, path: &str) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(app.channel().await);
    grpc.ready().await.expect("channel ready");
    let mut request = tonic::Request::new(());
    if !token.is_empty() {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("ascii"),
        );
    }
    let path = http::uri::PathAndQuery::from_str(path).expect("path");
    match grpc
        .unary::<(), (), _>(request, path, tonic_prost::ProstCodec::default())
        .await
    {
        Ok(_) => tonic::Status::ok(""),
        Err(status) => status,
    }
}
