//! Where verification keys come from: a JWKS file (a mounted Secret or ConfigMap) or the
//! cluster identity provider's JWKS URL (http, or https checked against the web PKI roots).

use std::{path::PathBuf, sync::Arc, time::Duration};

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::{
    TlsConnector,
    rustls::{ClientConfig, RootCertStore, crypto::ring, pki_types::ServerName},
};

/// Largest key set accepted; real ones are a few kilobytes.
const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// A fetch that takes longer failed.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// A JWKS location.
#[derive(Debug, Clone)]
pub enum JwksSource {
    /// A local file, re-read when its modification time changes.
    File(PathBuf),
    /// An identity provider's endpoint, fetched again periodically.
    Url(http::Uri),
}

/// A fetched key set with what identifies its version.
pub struct Fetched {
    /// The JWKS document.
    pub json: String,
    /// The file's modification time; `None` for URLs (always treated as new).
    pub modified: Option<std::time::SystemTime>,
}

impl JwksSource {
    /// For log lines and errors.
    pub fn describe(&self) -> String {
        match self {
            JwksSource::File(path) => path.display().to_string(),
            JwksSource::Url(uri) => uri.to_string(),
        }
    }

    /// The file's current modification time (cheap change check); `None` for URLs.
    pub fn modified(&self) -> Option<std::time::SystemTime> {
        match self {
            JwksSource::File(path) => std::fs::metadata(path).and_then(|m| m.modified()).ok(),
            JwksSource::Url(_) => None,
        }
    }

    /// Reads the key set.
    pub async fn fetch(&self) -> Result<Fetched, String> {
        match self {
            JwksSource::File(path) => Ok(Fetched {
                json: tokio::fs::read_to_string(path)
                    .await
                    .map_err(|e| format!("{}: {e}", path.display()))?,
                modified: self.modified(),
            }),
            JwksSource::Url(uri) => Ok(Fetched {
                json: tokio::time::timeout(FETCH_TIMEOUT, get(uri))
                    .await
                    .map_err(|_| format!("{uri}: no answer within {FETCH_TIMEOUT:?}"))??,
                modified: None,
            }),
        }
    }
}

/// One HTTP/1.1 GET, over TLS for https.
async fn get(uri: &http::Uri) -> Result<String, String> {
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("{uri}: {what}: {e}");
    let host = uri
        .host()
        .ok_or_else(|| format!("{uri}: no host"))?
        .to_owned();
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(format!("{uri}: only http:// and https:// are supported")),
    };
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| fail("connect", &e))?;
    let request = http::Request::get(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header(
            http::header::HOST,
            uri.authority().map_or(host.as_str(), |a| a.as_str()),
        )
        .header(http::header::ACCEPT, "application/json")
        .body(Empty::<Bytes>::new())
        .map_err(|e| fail("request", &e))?;
    let response = if https {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| fail("TLS", &e))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from(host.clone()).map_err(|e| fail("TLS name", &e))?;
        let tls = TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| fail("TLS handshake", &e))?;
        send(TokioIo::new(tls), request).await
    } else {
        send(TokioIo::new(tcp), request).await
    }
    .map_err(|e| fail("HTTP", &e))?;
    if response.status() != http::StatusCode::OK {
        return Err(format!("{uri}: answered {}", response.status()));
    }
    let body = Limited::new(response.into_body(), MAX_JWKS_BYTES)
        .collect()
        .await
        .map_err(|e| fail("body", &e))?
        .to_bytes();
    String::from_utf8(body.to_vec()).map_err(|e| fail("body", &e))
}

async fn send<I>(
    io: I,
    request: http::Request<Empty<Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, hyper::Error>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "JWKS connection closed");
        }
    });
    sender.send_request(request).await
}
