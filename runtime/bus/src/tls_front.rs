//! MQTT over TLS for the embedded broker: a listener that completes each device's TLS
//! handshake and then carries the connection's bytes both ways to the broker's own
//! listener. Devices authenticate inside MQTT as on the plain port (user name and password,
//! each held to its own topics); the certificate proves the box to them, and nobody on the
//! network reads their scans, sales or whitelists.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// How long a device has to complete its TLS handshake.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A running TLS listener in front of the embedded broker.
pub struct TlsFront {
    local_addr: SocketAddr,
    stop: CancellationToken,
}

impl TlsFront {
    /// Listens on `addr` and carries each TLS connection to the broker at `broker`.
    pub async fn start(
        addr: SocketAddr,
        acceptor: TlsAcceptor,
        broker: SocketAddr,
    ) -> std::io::Result<TlsFront> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = stopped.cancelled() => return,
                };
                let Ok((stream, peer)) = accepted else {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                let (acceptor, stopped) = (acceptor.clone(), stopped.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        _ = carry(stream, peer, acceptor, broker) => {}
                        _ = stopped.cancelled() => {}
                    }
                });
            }
        });
        Ok(TlsFront { local_addr, stop })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn shutdown(&self) {
        self.stop.cancel();
    }
}

async fn carry(stream: TcpStream, peer: SocketAddr, acceptor: TlsAcceptor, broker: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let mut tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::info!(%peer, error = %e, "mqtt tls: handshake refused");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "mqtt tls: no handshake within {HANDSHAKE_TIMEOUT:?}");
            return;
        }
    };
    let Ok(mut inner) = TcpStream::connect(broker).await else {
        tracing::warn!(%peer, "mqtt tls: the embedded broker does not answer");
        return;
    };
    let _ = inner.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut tls, &mut inner).await;
}
