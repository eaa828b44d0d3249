//! The gRPC listener's TLS. Certificate, key and (for mutual TLS) the client CA come from files
//! (a mounted Secret, renewed by cert-manager or by hand) and are read again while serving:
//! a changed file takes effect for the next connection, without a restart, and a broken one
//! is logged and counted while the last good configuration keeps serving.
//!
//! tonic's own TLS takes a fixed configuration, so the listener does the handshakes itself
//! (tokio-rustls, as tonic does) and hands tonic finished TLS streams; tonic still reads the
//! peer's certificates from them ([`tonic::transport::server::TlsConnectInfo`]).

use std::{
    io,
    path::PathBuf,
    sync::{Arc, RwLock},
    time::Duration,
};

use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        RootCertStore, ServerConfig,
        crypto::ring,
        pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
        server::WebPkiClientVerifier,
    },
    server::TlsStream,
};
use tokio_stream::{StreamExt, wrappers::ReceiverStream};
use tokio_util::sync::CancellationToken;
use tonic::transport::server::TcpIncoming;

use crate::config::ConfigError;

/// Longest a client may take over its handshake before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the listener's certificate, key and client CA are.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// PEM certificate chain (`TLS_CERT_FILE`).
    pub cert: PathBuf,
    /// PEM private key (`TLS_KEY_FILE`).
    pub key: PathBuf,
    /// PEM CA of client certificates (`TLS_CLIENT_CA_FILE`), for mutual TLS.
    pub client_ca: Option<PathBuf>,
}

/// The files' contents as last read, and the configuration built from them.
struct Loaded {
    fingerprint: Vec<u8>,
    config: Arc<ServerConfig>,
}

/// A TLS configuration that follows its files.
pub struct ReloadingTls {
    files: TlsFiles,
    loaded: RwLock<Loaded>,
}

impl ReloadingTls {
    /// Reads the files; unusable ones stop the start (exit code 2).
    pub fn load(files: TlsFiles) -> Result<Arc<Self>, ConfigError> {
        let (fingerprint, contents) = read(&files)?;
        let config = build(&contents)?;
        Ok(Arc::new(ReloadingTls {
            files,
            loaded: RwLock::new(Loaded {
                fingerprint,
                config: Arc::new(config),
            }),
        }))
    }

    /// The configuration for the next handshake.
    fn current(&self) -> Arc<ServerConfig> {
        match self.loaded.read() {
            Ok(loaded) => Arc::clone(&loaded.config),
            Err(poisoned) => Arc::clone(&poisoned.into_inner().config),
        }
    }

    /// Reads the files again and, when they changed and make a usable configuration, uses it
    /// from the next handshake. Whether the configuration changed.
    pub fn reload(&self) -> Result<bool, ConfigError> {
        let (fingerprint, contents) = read(&self.files)?;
        let unchanged = match self.loaded.read() {
            Ok(loaded) => loaded.fingerprint == fingerprint,
            Err(poisoned) => poisoned.into_inner().fingerprint == fingerprint,
        };
        if unchanged {
            return Ok(false);
        }
        let config = Arc::new(build(&contents)?);
        let mut loaded = match self.loaded.write() {
            Ok(loaded) => loaded,
            Err(poisoned) => poisoned.into_inner(),
        };
        *loaded = Loaded {
            fingerprint,
            config,
        };
        Ok(true)
    }

    /// Looks for changed files every `period` until `shutdown`.
    pub async fn watch(self: Arc<Self>, period: Duration, shutdown: CancellationToken) {
        let mut every = tokio::time::interval(period);
        every.tick().await;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = every.tick() => {}
            }
            // Reading and parsing a few kilobytes: cheap enough to do inline.
            match self.reload() {
                Ok(false) => {}
                Ok(true) => {
                    tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
                    metrics::counter!("tls_reloads_total", "result" => "ok").increment(1);
                }
                Err(e) => {
                    // A half-written Secret update is read again in a few seconds.
                    tracing::warn!(error = %e, "TLS files changed but are unusable; serving with the previous ones");
                    metrics::counter!("tls_reloads_total", "result" => "failed").increment(1);
                }
            }
        }
    }

    /// TLS over the connections of `tcp` (the plaintext listener's, with its socket options),
    /// each handshaken with the configuration current when it arrived; handshakes run
    /// concurrently, so a slow client holds up no one else. A failed handshake is logged and
    /// dropped.
    pub fn incoming(
        self: Arc<Self>,
        mut tcp: TcpIncoming,
        shutdown: CancellationToken,
    ) -> ReceiverStream<io::Result<TlsStream<TcpStream>>> {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = shutdown.cancelled() => return,
                    accepted = tcp.next() => accepted,
                };
                let tcp = match accepted {
                    None => return,
                    Some(Ok(tcp)) => tcp,
                    Some(Err(e)) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let peer = tcp.peer_addr().ok();
                let acceptor = TlsAcceptor::from(self.current());
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send(Ok(tls)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(?peer, error = %e, "TLS handshake failed");
                            metrics::counter!("tls_handshake_failures_total").increment(1);
                        }
                        Err(_) => {
                            tracing::debug!(?peer, "TLS handshake timed out");
                            metrics::counter!("tls_handshake_failures_total").increment(1);
                        }
                    }
                });
            }
        });
        ReceiverStream::new(rx)
    }
}

/// The files' contents: certificate, key, client CA.
struct Contents {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

fn read(files: &TlsFiles) -> Result<(Vec<u8>, Contents), ConfigError> {
    let read = |setting: &'static str, path: &PathBuf| {
        std::fs::read(path).map_err(|e| ConfigError {
            setting,
            problem: format!("{}: {e}", path.display()),
        })
    };
    let contents = Contents {
        cert: read("TLS_CERT_FILE", &files.cert)?,
        key: read("TLS_KEY_FILE", &files.key)?,
        client_ca: files
            .client_ca
            .as_ref()
            .map(|ca| read("TLS_CLIENT_CA_FILE", ca))
            .transpose()?,
    };
    let mut hash = Sha256::new();
    for part in [&contents.cert, &contents.key] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    if let Some(ca) = &contents.client_ca {
        hash.update(ca);
    }
    Ok((hash.finalize().to_vec(), contents))
}

fn build(contents: &Contents) -> Result<ServerConfig, ConfigError> {
    let problem = |setting: &'static str| {
        move |e: &dyn std::fmt::Display| ConfigError {
            setting,
            problem: e.to_string(),
        }
    };
    let chain = CertificateDer::pem_slice_iter(&contents.cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| problem("TLS_CERT_FILE")(&e))?;
    if chain.is_empty() {
        return Err(problem("TLS_CERT_FILE")(&"no PEM certificate in the file"));
    }
    let key =
        PrivateKeyDer::from_pem_slice(&contents.key).map_err(|e| problem("TLS_KEY_FILE")(&e))?;
    let provider = Arc::new(ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| problem("TLS_CERT_FILE")(&e))?;
    let builder = match &contents.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(ca) {
                let cert = cert.map_err(|e| problem("TLS_CLIENT_CA_FILE")(&e))?;
                roots
                    .add(cert)
                    .map_err(|e| problem("TLS_CLIENT_CA_FILE")(&e))?;
            }
            // Optional at the handshake: staff clients have no certificates. Who must present
            // one (partner systems) is the request layer's rule.
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| problem("TLS_CLIENT_CA_FILE")(&e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| problem("TLS_KEY_FILE")(&e))?;
    // gRPC is HTTP/2 only.
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}
