//! A TCP proxy between services, for network faults: it can cut every connection through it
//! and add latency to what it forwards.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
};

/// A proxy on a loopback port forwarding to `target`.
pub struct TcpProxy {
    /// Where clients connect instead of the target.
    pub addr: SocketAddr,
    /// Bumped to cut every open connection.
    cuts: watch::Sender<u64>,
    /// Added before each chunk is forwarded, in either direction.
    delay: Arc<watch::Sender<Duration>>,
}

impl TcpProxy {
    /// Starts forwarding a fresh loopback port to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let (cuts, _) = watch::channel(0);
        let delay = Arc::new(watch::Sender::new(Duration::ZERO));
        let (cut, latency) = (cuts.subscribe(), Arc::clone(&delay));
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(target).await else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                tokio::spawn(forward(client, server, cut.clone(), latency.subscribe()));
            }
        });
        TcpProxy { addr, cuts, delay }
    }

    /// Closes every connection through the proxy now; new ones are accepted.
    pub fn cut(&self) {
        self.cuts.send_modify(|n| *n += 1);
    }

    /// Delays each forwarded chunk by `delay` from now on.
    pub fn set_delay(&self, delay: Duration) {
        self.delay.send_replace(delay);
    }
}

/// Copies both ways until either side closes or the proxy cuts the connection.
async fn forward(
    client: TcpStream,
    server: TcpStream,
    mut cut: watch::Receiver<u64>,
    delay: watch::Receiver<Duration>,
) {
    cut.mark_unchanged();
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::select! {
        _ = copy(client_read, server_write, delay.clone()) => {}
        _ = copy(server_read, client_write, delay) => {}
        _ = cut.changed() => {}
    }
}

async fn copy(
    mut from: impl AsyncReadExt + Unpin,
    mut to: impl AsyncWriteExt + Unpin,
    delay: watch::Receiver<Duration>,
) {
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let wait = *delay.borrow();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}
