//! A TCP proxy that owns the wire between terminal and host, so that network faults are real
//! socket events the terminal's own stack sees, not flags it is told about.
//!
//! Link states: `Up` forwards; `Down` cuts every open connection and closes each new one at once
//! (the terminal sees a refused or reset connection); `Blackhole` accepts and swallows, never
//! answering (the terminal waits out its own host timeout).
//!
//! On top of `Up`, [`Faults`] apply per direction to the next connections: latency with jitter,
//! a bandwidth limit, a cut (reset) after N bytes, writes sliced into small pieces, a slow close,
//! and cut points drawn from a seed. Byte counts rather than timers make every cut land at the
//! same byte on every run. Each fault event is written to the transcript.

use payhil_transport::{Source, Transcript};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Resolves once the host has finished with the connection the proxy opened from this local
/// address (the host's side of a cut). The proxy waits for it before the terminal sees the cut,
/// so that whatever the host records about the cut is in the transcript before the terminal's
/// reaction: the order is causal, not a race.
pub type UpstreamClosed =
    Arc<dyn Fn(SocketAddr) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The state of the proxied link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Bytes flow (subject to [`Faults`]).
    Up,
    /// No connection survives or is accepted.
    Down,
    /// Connections are accepted and swallowed: nothing is forwarded, nothing answered.
    Blackhole,
}

/// Faults on one direction of a connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectionFaults {
    /// Added to every chunk.
    pub latency: Duration,
    /// Up to this much more, drawn from the seed.
    pub jitter: Duration,
    /// Bandwidth limit in bytes per second.
    pub bytes_per_s: Option<u32>,
    /// Reset the connection once this many bytes have passed in this direction (0: before the
    /// first byte).
    pub cut_after_bytes: Option<u64>,
    /// Write in pieces of at most this many bytes.
    pub slice: Option<usize>,
}

/// Faults for the next connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Terminal to host.
    pub upstream: DirectionFaults,
    /// Host to terminal.
    pub downstream: DirectionFaults,
    /// Cut each connection after a number of bytes (either direction together) drawn uniformly
    /// from 1..=this, from the seed: a flapping link that fails at a different byte each time.
    pub random_cut_max_bytes: Option<u64>,
    /// Hold the close of a connection the other side closed this long.
    pub slow_close: Duration,
    /// How many further connections these faults apply to (`None`: until changed).
    pub connections: Option<u32>,
}

impl Faults {
    /// No faults.
    pub fn none() -> Self {
        Self::default()
    }
}

struct Plan {
    faults: Faults,
    rng: ChaCha8Rng,
    seed: u64,
}

/// A running proxy.
pub struct NetProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    state: watch::Sender<LinkState>,
    /// Bumped whenever faults change: open connections end, so the faults apply from now on.
    epoch: watch::Sender<u64>,
    plan: Arc<Mutex<Plan>>,
    transcript: Transcript,
    /// The accept loop; `None` while the link is down (nothing listens: connections are refused).
    task: Mutex<Option<JoinHandle<()>>>,
    /// The listening socket of `task`, to stop it listening on a link change (see
    /// [`crate::peer_end::stop_listening`]).
    listening: Mutex<Option<std::os::fd::RawFd>>,
    /// While the link is down: the socket that keeps the port (see [`reserve`]).
    held: Mutex<Option<tokio::net::TcpSocket>>,
    /// Every connection task not yet known to have ended. A change of state or faults waits for
    /// them, so that a fault is in force (and the cut recorded) when the change returns.
    conns: Arc<Mutex<Conns>>,
    /// See [`UpstreamClosed`]; `None`: the host is not ours to wait for.
    upstream_closed: Arc<Mutex<Option<UpstreamClosed>>>,
    /// Bytes swallowed while the link was a blackhole (see [`NetProxy::swallowed`]).
    swallowed: watch::Sender<u64>,
}

/// The proxy's open connections, and how many it has accepted (their numbers name them in the
/// transcript: a peer's port differs from run to run, a connection's number does not).
#[derive(Default)]
struct Conns {
    accepted: u64,
    live: Vec<JoinHandle<()>>,
}

/// What one connection gets, decided when it is accepted.
#[derive(Debug, Clone, Copy)]
struct ConnFaults {
    up: DirectionFaults,
    down: DirectionFaults,
    total_cut: Option<u64>,
    slow_close: Duration,
    jitter_seed: u64,
}

impl NetProxy {
    /// Listens on `listen` (use port 0) and forwards to `upstream`; starts `Up` without faults.
    /// `seed` drives every random choice of the proxy (jitter, random cut points).
    pub async fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        transcript: Transcript,
        seed: u64,
    ) -> std::io::Result<Self> {
        let listener = bind(listen)?;
        let addr = listener.local_addr()?;
        let (state, _) = watch::channel(LinkState::Up);
        let plan = Arc::new(Mutex::new(Plan {
            faults: Faults::none(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            seed,
        }));
        let (epoch, _) = watch::channel(0);
        let proxy = Self {
            addr,
            upstream,
            state,
            epoch,
            plan,
            transcript,
            task: Mutex::new(None),
            listening: Mutex::new(None),
            held: Mutex::new(None),
            conns: Arc::default(),
            upstream_closed: Arc::default(),
            swallowed: watch::channel(0).0,
        };
        proxy.serve(listener);
        Ok(proxy)
    }

    fn serve(&self, listener: TcpListener) {
        *lock(&self.listening) = Some(std::os::fd::AsRawFd::as_raw_fd(&listener));
        let (rx, t, p, upstream) = (
            self.state.subscribe(),
            self.transcript.clone(),
            self.plan.clone(),
            self.upstream,
        );
        let epoch = self.epoch.clone();
        let conns = self.conns.clone();
        let upstream_closed = self.upstream_closed.clone();
        let swallowed = self.swallowed.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _peer)) = listener.accept().await else {
                    // A persistent error (EMFILE) must not spin a core.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                // The state is read and the task registered under the lock a change takes, so
                // a change either sees this connection or this connection sees the change.
                let mut c = lock(&conns);
                c.live.retain(|h| !h.is_finished());
                c.accepted += 1;
                let id = c.accepted;
                let handle = match *rx.borrow() {
                    LinkState::Down => {
                        reset(client);
                        continue;
                    }
                    // Not recorded: the accept races the terminal's announcement of its host
                    // wait on the serial line (PROTOCOL.md 4.8), which the link records when it
                    // moves the terminal's clock; the id is still used up, so later
                    // connections keep their numbers.
                    LinkState::Blackhole => {
                        tokio::spawn(swallow(client, rx.clone(), swallowed.clone()))
                    }
                    LinkState::Up => {
                        let cf = next_connection(&p, &t, id);
                        let ends = Ends {
                            state: rx.clone(),
                            epoch: epoch.subscribe(),
                            upstream_closed: lock(&upstream_closed).clone(),
                        };
                        tokio::spawn(pipe(client, id, upstream, ends, t.clone(), cf))
                    }
                };
                c.live.push(handle);
            }
        });
        *lock(&self.task) = Some(task);
    }

    /// Has the proxy wait for the host's side of every cut (see [`UpstreamClosed`]).
    pub fn set_upstream_closed(&self, hook: UpstreamClosed) {
        *lock(&self.upstream_closed) = Some(hook);
    }

    /// Waits (a bounded time) until every open connection has ended by itself, e.g. after the
    /// terminal lost power, so that their ends are recorded before anything that follows.
    pub async fn wait_idle(&self) {
        let live = std::mem::take(&mut lock(&self.conns).live);
        for mut h in live {
            if tokio::time::timeout(IDLE_BOUND, &mut h).await.is_err() {
                h.abort();
                self.transcript.record(
                    Source::Proxy,
                    format!("a connection still open after {IDLE_BOUND:?}: cut"),
                );
            }
        }
    }

    /// Ends every open connection and waits until each has been cut and its end recorded.
    /// `change` runs under the registry lock, so no connection accepted afterwards misses it.
    async fn cut_open_connections(&self, change: impl FnOnce()) {
        let live = {
            let mut c = lock(&self.conns);
            change();
            std::mem::take(&mut c.live)
        };
        for h in live {
            let _ = h.await;
        }
    }

    /// Where the terminal should connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets the link state. `Down` closes the listening socket, so new connections are refused
    /// as when the host's network is gone (nothing was sent), and cuts the open ones; leaving
    /// `Down` listens on the same address again. `Blackhole` cuts open connections too. When
    /// this returns, the state is in force: every connection it ends has been cut and its cut
    /// recorded in the transcript.
    pub async fn set(&self, state: LinkState) {
        let was = self.state();
        self.transcript
            .record(Source::Proxy, format!("link {state:?}"));
        if state == was {
            // Nothing changes, so nothing is cut: an open connection stays as it is (waiting
            // for it to end would wait for ever, as nothing ends it).
            return;
        }
        if state == LinkState::Down && was != LinkState::Down {
            // Hold the port before the listener goes, so it is never free in between.
            match reserve(self.addr) {
                Ok(s) => *lock(&self.held) = Some(s),
                Err(e) => self.transcript.record(
                    Source::Proxy,
                    format!("cannot hold the proxy's port while the link is down: {e}"),
                ),
            }
            // Stop accepting: the socket stops listening, so nothing new gets in. Closing it
            // is not enough: a terminal process another scenario is spawning at this moment
            // holds a copy of every descriptor between its fork and its exec, and the socket
            // would listen on (and accept) until then.
            if let Some(fd) = lock(&self.listening).take() {
                crate::peer_end::stop_listening(fd);
            }
            let task = lock(&self.task).take();
            if let Some(t) = task {
                t.abort();
                let _ = t.await;
            }
        }
        self.cut_open_connections(|| {
            self.state.send_replace(state);
        })
        .await;
        if state != LinkState::Down && was == LinkState::Down {
            match bind(self.addr) {
                Ok(l) => self.serve(l),
                Err(e) => self.transcript.record(
                    Source::Proxy,
                    format!("cannot listen on {} again: {e}", self.addr),
                ),
            }
            lock(&self.held).take();
        }
    }

    /// Bytes the proxy has taken and swallowed while the link was a blackhole, as they grow. The
    /// harness moves a terminal's clock past its host wait only once the proxy holds the request
    /// (PROTOCOL.md 4.8): a connection the kernel accepted but the proxy had not yet taken when
    /// the link came back up would otherwise be forwarded, and the host would act on a request
    /// the terminal gave up on, depending on the scheduler.
    pub fn swallowed(&self) -> watch::Receiver<u64> {
        self.swallowed.subscribe()
    }

    /// The current link state.
    pub fn state(&self) -> LinkState {
        *self.state.borrow()
    }

    /// Sets the faults for the next connections and ends the open ones, so that the faults
    /// apply to every exchange from now on (a terminal reconnects as after any cut). When this
    /// returns, every open connection has been cut and its cut recorded.
    pub async fn set_faults(&self, faults: Faults) {
        self.transcript
            .record(Source::Proxy, format!("faults {faults:?}"));
        self.cut_open_connections(|| {
            lock(&self.plan).faults = faults;
            self.epoch.send_modify(|e| *e += 1);
        })
        .await;
    }

    /// The seed the proxy draws from.
    pub fn seed(&self) -> u64 {
        lock(&self.plan).seed
    }
}

/// Locks, going on after a panic elsewhere: every guarded value stays consistent.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long [`NetProxy::wait_idle`] waits for a connection to end by itself.
const IDLE_BOUND: Duration = Duration::from_secs(5);
/// How long a cut waits for the host's side of it.
const HOST_BOUND: Duration = Duration::from_secs(5);

/// What ends a connection besides its own bytes: a change of state or faults; and whom to wait
/// for when it ends.
struct Ends {
    state: watch::Receiver<LinkState>,
    epoch: watch::Receiver<u64>,
    upstream_closed: Option<UpstreamClosed>,
}

/// A listening socket that may take over the address again right after it was closed.
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = socket_for(addr)?;
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

/// A socket bound to `addr` but not listening: it holds the port while the link is down, so
/// that connections to it are refused and no other socket on the machine (a parallel test's
/// outgoing connection, say) can take the port before the link comes up again. SO_REUSEPORT on
/// every socket of the proxy's lets the holder and the listener overlap for that hand-over;
/// the holder has no SO_REUSEADDR, which would let any other socket with it bind the port too.
fn reserve(addr: SocketAddr) -> std::io::Result<tokio::net::TcpSocket> {
    let socket = socket_for(addr)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    Ok(socket)
}

fn socket_for(addr: SocketAddr) -> std::io::Result<tokio::net::TcpSocket> {
    if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
}

impl Drop for NetProxy {
    fn drop(&mut self) {
        if let Some(t) = lock(&self.task).take() {
            t.abort();
        }
        for h in lock(&self.conns).live.drain(..) {
            h.abort();
        }
    }
}

fn next_connection(plan: &Mutex<Plan>, t: &Transcript, id: u64) -> ConnFaults {
    let mut p = lock(plan);
    let f = p.faults;
    let total_cut = f
        .random_cut_max_bytes
        .map(|max| p.rng.random_range(1..=max.max(1)));
    let jitter_seed = p.rng.random();
    let cf = ConnFaults {
        up: f.upstream,
        down: f.downstream,
        total_cut,
        slow_close: f.slow_close,
        jitter_seed,
    };
    if f != Faults::none() {
        t.record(
            Source::Proxy,
            format!("connection {id}: {f:?}, random cut at {total_cut:?}"),
        );
    }
    if let Some(n) = f.connections {
        p.faults.connections = Some(n.saturating_sub(1));
        if n <= 1 {
            p.faults = Faults::none();
        }
    }
    cf
}

/// Closes with a TCP reset (linger 0), the way a dropped link or a crashed peer looks.
fn reset(s: TcpStream) {
    let _ = socket_linger_zero(&s);
    drop(s);
}

fn socket_linger_zero(s: &TcpStream) -> std::io::Result<()> {
    #[allow(deprecated)] // tokio deprecates set_linger for its blocking close; we want the RST.
    s.set_linger(Some(Duration::ZERO))
}

/// Takes whatever the terminal sends on a blackholed connection and never answers. Its end is
/// not recorded: a terminal that gave up on it (its own timeout) closes it while it answers the
/// harness, so whether the close or the next link change comes first is the scheduler's
/// choice. Its start is not recorded either (see the accept loop); the terminal's announced
/// wait and the harness moving its clock are the record.
async fn swallow(
    mut client: TcpStream,
    mut state: watch::Receiver<LinkState>,
    swallowed: watch::Sender<u64>,
) {
    let mut buf = [0u8; 1024];
    loop {
        tokio::select! {
            biased;
            _ = state.wait_for(|s| *s != LinkState::Blackhole) => {
                reset(client);
                return;
            }
            r = client.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => swallowed.send_modify(|b| *b = b.saturating_add(n as u64)),
            },
        }
    }
}

enum End {
    Closed,
    Cut(u64),
}

/// Copies one direction, applying its faults. `passed` counts both directions' bytes for a
/// connection-wide cut.
async fn pump(
    from: &mut OwnedReadHalf,
    to: &mut OwnedWriteHalf,
    f: DirectionFaults,
    total_cut: Option<u64>,
    passed_total: Arc<Mutex<u64>>,
    jitter_seed: u64,
) -> std::io::Result<End> {
    let mut buf = [0u8; 4096];
    let mut passed = 0u64;
    let mut rng = ChaCha8Rng::seed_from_u64(jitter_seed);
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            return Ok(End::Closed);
        }
        // How much of this chunk may pass before a cut.
        let mut allow = n as u64;
        if let Some(limit) = f.cut_after_bytes {
            allow = allow.min(limit - passed);
        }
        if let Some(limit) = total_cut {
            let t = *passed_total.lock().unwrap_or_else(|e| e.into_inner());
            allow = allow.min(limit.saturating_sub(t));
        }
        // The limit is checked when bytes arrive, never before: "cut after 0 bytes towards the
        // terminal" means the host's first answer byte is where the link breaks, so the host
        // has certainly received the request. Checking earlier would race the other direction.
        if allow == 0 {
            return Ok(End::Cut(passed));
        }
        let delay = f.latency
            + if f.jitter.is_zero() {
                Duration::ZERO
            } else {
                f.jitter.mul_f64(rng.random::<f64>())
            };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let chunk = &buf[..allow as usize];
        for piece in chunk.chunks(f.slice.unwrap_or(usize::MAX).max(1)) {
            if let Some(bps) = f.bytes_per_s {
                tokio::time::sleep(Duration::from_secs_f64(
                    piece.len() as f64 / f64::from(bps.max(1)),
                ))
                .await;
            }
            to.write_all(piece).await?;
            to.flush().await?;
        }
        passed += allow;
        *passed_total.lock().unwrap_or_else(|e| e.into_inner()) += allow;
        if allow < n as u64 {
            return Ok(End::Cut(passed));
        }
    }
}

async fn pipe(
    client: TcpStream,
    id: u64,
    upstream: SocketAddr,
    mut ends: Ends,
    t: Transcript,
    cf: ConnFaults,
) {
    let _ = client.set_nodelay(true);
    let server = match TcpStream::connect(upstream).await {
        Ok(s) => s,
        Err(e) => {
            t.record(
                Source::Proxy,
                format!("connection {id}: host unreachable ({e})"),
            );
            return;
        }
    };
    let _ = server.set_nodelay(true);
    let _ = socket_linger_zero(&client);
    let _ = socket_linger_zero(&server);
    let server_local = server.local_addr().ok();
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let total = Arc::new(Mutex::new(0u64));
    enum Ended {
        Up(std::io::Result<End>),
        Down(std::io::Result<End>),
        LinkDown,
        FaultsChanged,
    }
    let ended = {
        let up = pump(
            &mut cr,
            &mut sw,
            cf.up,
            cf.total_cut,
            total.clone(),
            cf.jitter_seed,
        );
        let down = pump(
            &mut sr,
            &mut cw,
            cf.down,
            cf.total_cut,
            total.clone(),
            cf.jitter_seed.wrapping_add(1),
        );
        tokio::pin!(up, down);
        // Biased: a change of state or faults wins over bytes waiting to be copied, so nothing
        // passes once the change has been made (the order is also the same on every run).
        tokio::select! {
            biased;
            _ = ends.state.wait_for(|s| *s != LinkState::Up) => Ended::LinkDown,
            _ = ends.epoch.changed() => Ended::FaultsChanged,
            r = &mut up => Ended::Up(r),
            r = &mut down => Ended::Down(r),
        }
    };
    // A link or fault change ends the connection so that the terminal knows before the change
    // returns (see `peer_end`); a terminal that kept it idle then never writes into it.
    let confirm = matches!(ended, Ended::LinkDown | Ended::FaultsChanged);
    let why = match ended {
        Ended::Up(Ok(End::Cut(n))) => Some(format!("cut after {n} bytes towards the host")),
        Ended::Down(Ok(End::Cut(n))) => Some(format!("cut after {n} bytes towards the terminal")),
        // A connection its peer closed after an exchange is the normal end: not recorded, as
        // it happens while the terminal is already answering the harness and its place in the
        // transcript would be the scheduler's choice.
        Ended::Up(Ok(End::Closed)) | Ended::Down(Ok(End::Closed)) => {
            // Not even a zero sleep: tokio's timer would round it up to its next millisecond
            // tick, and every exchange ends here.
            if !cf.slow_close.is_zero() {
                tokio::time::sleep(cf.slow_close).await;
            }
            None
        }
        Ended::Up(Err(e)) | Ended::Down(Err(e)) => Some(format!("ended: {}", e.kind())),
        Ended::LinkDown => Some("cut: link down".into()),
        Ended::FaultsChanged => Some("cut: faults changed".into()),
    };
    if let Some(why) = why {
        t.record(Source::Proxy, format!("connection {id} {why}"));
    }
    // The host's side first (linger 0: a reset), and the host done with it, then the
    // terminal's: what the host makes of the cut is recorded before the terminal can react.
    drop((sr, sw));
    if let (Some(hook), Some(local)) = (ends.upstream_closed, server_local) {
        let _ = tokio::time::timeout(HOST_BOUND, hook(local)).await;
    }
    if confirm && !crate::peer_end::close_acknowledged(&mut cw).await {
        t.record(
            Source::Proxy,
            format!("connection {id}: the terminal did not acknowledge the cut; reset"),
        );
    }
    drop((cr, cw));
}

#[cfg(test)]
mod tests;
