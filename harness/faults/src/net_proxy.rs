//! A TCP proxy that owns the wire between terminal and host, so that network faults are real
//! socket events the terminal's own stack sees, not flags it is told about.
//!
//! States: `Up` forwards bytes both ways; `Down` cuts every open connection and closes each new
//! one as soon as it is accepted, which the terminal sees as a refused or reset connection. The
//! finer faults (blackhole, latency, cut after N bytes, slicing, flapping) attach here.

use payhil_transport::{Source, Transcript};
use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The state of the proxied link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Bytes flow.
    Up,
    /// No connection survives or is accepted.
    Down,
}

/// A running proxy.
pub struct NetProxy {
    addr: SocketAddr,
    state: watch::Sender<LinkState>,
    transcript: Transcript,
    task: JoinHandle<()>,
}

impl NetProxy {
    /// Listens on `listen` (use port 0) and forwards to `upstream`; starts `Up`.
    pub async fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        transcript: Transcript,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (state, rx) = watch::channel(LinkState::Up);
        let t = transcript.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, peer)) = listener.accept().await else {
                    continue;
                };
                if *rx.borrow() == LinkState::Down {
                    t.record(
                        Source::Proxy,
                        format!("connection from {peer} closed: link down"),
                    );
                    drop(client);
                    continue;
                }
                tokio::spawn(pipe(client, peer, upstream, rx.clone(), t.clone()));
            }
        });
        Ok(Self {
            addr,
            state,
            transcript,
            task,
        })
    }

    /// Where the terminal should connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets the link state; going `Down` cuts the open connections at once.
    pub fn set(&self, state: LinkState) {
        self.transcript
            .record(Source::Proxy, format!("link {state:?}"));
        self.state.send_replace(state);
    }

    /// The current link state.
    pub fn state(&self) -> LinkState {
        *self.state.borrow()
    }
}

impl Drop for NetProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pipe(
    mut client: TcpStream,
    peer: SocketAddr,
    upstream: SocketAddr,
    mut state: watch::Receiver<LinkState>,
    t: Transcript,
) {
    let _ = client.set_nodelay(true);
    let mut server = match TcpStream::connect(upstream).await {
        Ok(s) => s,
        Err(e) => {
            t.record(
                Source::Proxy,
                format!("connection from {peer}: host unreachable ({e})"),
            );
            return;
        }
    };
    let _ = server.set_nodelay(true);
    tokio::select! {
        r = tokio::io::copy_bidirectional(&mut client, &mut server) => {
            if let Err(e) = r {
                t.record(Source::Proxy, format!("connection from {peer} ended: {e}"));
            }
        }
        _ = state.wait_for(|s| *s == LinkState::Down) => {
            t.record(Source::Proxy, format!("connection from {peer} cut: link down"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn down_cuts_open_connections_and_refuses_new_ones() {
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let echo_addr = echo.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = echo.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut b = [0u8; 64];
                    while let Ok(n) = s.read(&mut b).await {
                        if n == 0 || s.write_all(&b[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let t = Transcript::new();
        let proxy = NetProxy::start("127.0.0.1:0".parse().unwrap(), echo_addr, t.clone())
            .await
            .unwrap();
        let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
        c.write_all(b"ping").await.unwrap();
        let mut b = [0u8; 4];
        c.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"ping");

        proxy.set(LinkState::Down);
        let mut rest = Vec::new();
        // The cut connection ends (EOF or reset), bounded by the test's own timeout.
        let r =
            tokio::time::timeout(std::time::Duration::from_secs(5), c.read_to_end(&mut rest)).await;
        assert!(r.is_ok(), "cut connection must end");
        let mut c2 = TcpStream::connect(proxy.addr()).await.unwrap();
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), c2.read(&mut b))
            .await
            .unwrap();
        assert!(
            matches!(n, Ok(0) | Err(_)),
            "new connection is closed while down"
        );
        assert!(t.render().contains("link Down"));
    }
}
