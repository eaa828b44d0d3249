//! Channels to fallwerk's gRPC servers, for every client of ours (the CLI, feed subscribers,
//! tests): connect and call timeouts, HTTP/2 keepalive, and TLS for `https://` addresses with
//! the web PKI roots plus an optional CA of the deployment's own.

use std::time::Duration;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Uri};

/// How long reaching a server may take, so a wrong address fails fast.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A lazily connecting channel to `addr` (`http://` plaintext, `https://` TLS); an unreachable
/// server shows up as the first call's UNAVAILABLE.
pub fn channel(addr: Uri, ca_cert: Option<Certificate>) -> Result<Channel, String> {
    let tls = addr.scheme_str() == Some("https");
    let mut endpoint = Endpoint::from(addr)
        .connect_timeout(CONNECT_TIMEOUT)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10))
        .tcp_nodelay(true);
    if tls {
        let mut config = ClientTlsConfig::new().with_enabled_roots();
        if let Some(ca_cert) = ca_cert {
            config = config.ca_certificate(ca_cert);
        }
        endpoint = endpoint
            .tls_config(config)
            .map_err(|error| format!("TLS set-up failed: {error}"))?;
    }
    Ok(endpoint.connect_lazy())
}
