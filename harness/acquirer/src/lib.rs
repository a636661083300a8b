//! The acquirer host, simulated: what a terminal's uplink talks to.
//!
//! * Online authorisations are decided by the test-card catalogue's issuer behaviour and kept
//!   per (terminal, sequence number), so a repeated request gets the same answer and is
//!   captured once.
//! * Advices (forwarded offline purchases) are accepted idempotently by the same key: a replay
//!   after a lost acknowledgement is acknowledged again but settled once (PBS-02).
//! * [`Books::settlement_file`] writes the settlement: Dankort and Visa batches apart (CARD-09),
//!   masked card numbers only (PCI-01).
//!
//! The wire format is ISO 8583 (`payhil_protocol::iso8583`): 0100/0110, 0200/0210, 0220/0221/0230,
//! 0400/0410, 0420/0421/0430 and 0800/0810 for the blocked-card list.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// The rules' banking calendar, which the host settles by (it is the model's: the rules).
pub use payhil_model::banking;
mod books;

pub use books::{Books, Delivery, Reconciliation, Reply, Settled, SettledKind};

use payhil_protocol::host_link::{HostRequest, MAX_HOST_MESSAGE, ResponseCode};
use payhil_protocol::iso8583::{Message, mapping};
use payhil_transport::{Source, Transcript};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Resolves once the host has finished with the connection from a peer address (the shape the
/// fault proxy's `UpstreamClosed` hook takes).
pub type ConnectionClosed =
    Arc<dyn Fn(SocketAddr) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A running host simulator.
pub struct HostSim {
    addr: SocketAddr,
    books: Arc<Mutex<Books>>,
    task: JoinHandle<()>,
    conns: Arc<Connections>,
    hook: Arc<Mutex<Option<PowerHook>>>,
}

/// Which requests a [`PowerHook`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hooked {
    /// Authorisations (0100, 0200, 0400).
    Authorisation,
    /// Advices: forwarded offline items (0220, 0420).
    Advice,
}

/// The harness's hook for a power cut at the host's side of an exchange: when the `nth`
/// request of a kind arrives, the host tells the harness (which cuts the terminal's power) and
/// never answers it. With `book`, the host has taken it into its books first (the terminal's
/// request reached the host; the answer never reaches the terminal); without, it never took it
/// in (the terminal died as it sent it).
struct PowerHook {
    on: Hooked,
    remaining: u32,
    book: bool,
    fired: tokio::sync::oneshot::Sender<()>,
}

/// The host's connection tasks by peer address, so a fault proxy can wait until the host has
/// finished with a connection it cut (see [`HostSim::connection_closed`]).
#[derive(Default)]
struct Connections {
    tasks: Mutex<std::collections::HashMap<SocketAddr, JoinHandle<()>>>,
    accepted: tokio::sync::Notify,
}

impl HostSim {
    /// Listens on `listen` (use `127.0.0.1:0` for a free port) and serves until dropped.
    pub async fn start(listen: SocketAddr, transcript: Transcript) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let books = Arc::new(Mutex::new(Books::default()));
        let b = books.clone();
        let conns = Arc::new(Connections::default());
        let c = conns.clone();
        let hook: Arc<Mutex<Option<PowerHook>>> = Arc::default();
        let h = hook.clone();
        let task = tokio::spawn(async move {
            // Connections are named by number in the transcript: a peer's port differs from run
            // to run, and the transcript of a seeded run must not.
            let mut accepted = 0u64;
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    // A persistent error (EMFILE) must not spin a core.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                accepted += 1;
                let _ = stream.set_nodelay(true);
                let handle = tokio::spawn(serve(
                    stream,
                    accepted,
                    b.clone(),
                    h.clone(),
                    transcript.clone(),
                ));
                let mut tasks = c.tasks.lock().unwrap_or_else(|p| p.into_inner());
                tasks.retain(|_, h| !h.is_finished());
                tasks.insert(peer, handle);
                drop(tasks);
                c.accepted.notify_waiters();
            }
        });
        Ok(Self {
            addr,
            books,
            task,
            conns,
            hook,
        })
    }

    /// Arms a power-cut hook (see [`Hooked`]): the `nth` request of kind `on` from now (1: the
    /// next) is not answered, and the returned receiver resolves when it has arrived, so the
    /// harness can cut the terminal's power while the exchange is open. With `book` the host
    /// takes it into its books first. Replaces any hook armed before.
    pub fn power_hook(
        &self,
        on: Hooked,
        nth: u32,
        book: bool,
    ) -> tokio::sync::oneshot::Receiver<()> {
        let (fired, rx) = tokio::sync::oneshot::channel();
        *self.hook.lock().unwrap_or_else(|p| p.into_inner()) = Some(PowerHook {
            on,
            remaining: nth.max(1),
            book,
            fired,
        });
        rx
    }

    /// Disarms the power-cut hook, if one is armed.
    pub fn clear_power_hook(&self) {
        self.hook.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// A hook for the fault proxy: resolves once the host has finished with the connection from
    /// `peer` (it may not have been accepted yet when the proxy cuts it; the hook waits for the
    /// accept first). The caller bounds the wait.
    pub fn connection_closed(&self) -> ConnectionClosed {
        let conns = self.conns.clone();
        Arc::new(move |peer| {
            let conns = conns.clone();
            Box::pin(async move {
                loop {
                    let accepted = conns.accepted.notified();
                    tokio::pin!(accepted);
                    accepted.as_mut().enable();
                    let task = conns
                        .tasks
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&peer);
                    if let Some(task) = task {
                        let _ = task.await;
                        return;
                    }
                    accepted.await;
                }
            })
        })
    }

    /// The address terminals (or the fault proxy) connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts fault epoch `epoch` (`faulty`: faults are active on the link); every later
    /// delivery is stamped with it, so the oracle can tell a repeat after a lost answer from a
    /// repeat after an answer the terminal received.
    pub fn set_fault_context(&self, epoch: u64, faulty: bool) {
        self.books
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .fault_context = (epoch, faulty);
    }

    /// From now on the host answers `code` for the card `pan` (see [`Books::answer_card_with`]).
    pub fn answer_card_with(&self, pan: &payhil_cards::Pan, code: ResponseCode) {
        self.books
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .answer_card_with(pan, code);
    }

    /// Test cards a scenario defines: the issuer knows them for this run (CARD-10's blocked
    /// list included).
    pub fn add_cards(&self, cards: &[payhil_cards::catalogue::TestCard]) {
        self.books
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .cards
            .extend_from_slice(cards);
    }

    /// The controlled clock moved: items arriving from now on were received at `unix_s`.
    pub fn set_clock(&self, unix_s: i64) {
        self.books.lock().unwrap_or_else(|p| p.into_inner()).clock = unix_s;
    }

    /// A snapshot of the host's records.
    pub fn books(&self) -> Books {
        self.books.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for HostSim {
    fn drop(&mut self) {
        self.task.abort();
        for (_, t) in self
            .conns
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
        {
            t.abort();
        }
    }
}

/// Whether `req` is the request the power hook waits for; if so, takes the hook.
fn hooked(hook: &Mutex<Option<PowerHook>>, req: &HostRequest<'_>) -> Option<PowerHook> {
    let mut h = hook.lock().unwrap_or_else(|p| p.into_inner());
    let kind = match req {
        HostRequest::Authorise(_) => Hooked::Authorisation,
        HostRequest::Advice(_) => Hooked::Advice,
        _ => return None,
    };
    let armed = h.as_mut().filter(|x| x.on == kind)?;
    if armed.remaining > 1 {
        armed.remaining -= 1;
        return None;
    }
    h.take()
}

async fn serve(
    mut s: TcpStream,
    conn: u64,
    books: Arc<Mutex<Books>>,
    hook: Arc<Mutex<Option<PowerHook>>>,
    t: Transcript,
) {
    let mut body = vec![0u8; MAX_HOST_MESSAGE];
    loop {
        let mut len = [0u8; 2];
        if s.read_exact(&mut len).await.is_err() {
            return; // peer closed or the proxy cut the link
        }
        let n = usize::from(u16::from_be_bytes(len));
        if n > MAX_HOST_MESSAGE {
            t.record(
                Source::Host,
                format!("connection {conn}: message of {n} bytes exceeds the limit; closing"),
            );
            return;
        }
        if s.read_exact(&mut body[..n]).await.is_err() {
            t.record(
                Source::Host,
                format!("connection {conn}: connection lost inside a message"),
            );
            return;
        }
        let mti = mapping::request_mti(&body[..n]).unwrap_or(0);
        let req: HostRequest<'_> = match mapping::decode_request(&body[..n]) {
            Ok(r) => r,
            Err(e) => {
                t.record(
                    Source::Host,
                    format!("connection {conn}: undecodable ISO 8583 message ({e:?}); closing"),
                );
                return;
            }
        };
        t.record(Source::Host, format!("<- {mti:04} {req:?}"));
        if let Some(h) = hooked(&hook, &req) {
            if h.book {
                let reply = books.lock().unwrap_or_else(|p| p.into_inner()).handle(&req);
                t.record(
                    Source::Host,
                    format!(
                        "booked as {:?}; the answer is withheld: the terminal loses power now",
                        reply.message()
                    ),
                );
            } else {
                t.record(
                    Source::Host,
                    "not taken in: the terminal loses power as it sends it",
                );
            }
            let _ = h.fired.send(());
            // Nothing more is answered on this connection; it ends when the terminal's side
            // goes with its power (the proxy closes it).
            let mut rest = [0u8; 256];
            while matches!(s.read(&mut rest).await, Ok(n) if n > 0) {}
            return;
        }
        let mut fields = mapping::Fields::new();
        let mut out = vec![0u8; mapping::MAX_WIRE];
        let wire = {
            let mut b = books.lock().unwrap_or_else(|p| p.into_inner());
            let reply = b.handle(&req);
            t.record(
                Source::Host,
                format!("-> {:04} {:?}", mapping::response_mti(mti), reply.message()),
            );
            // The answer echoes the request's DE 3, 4, 11 and 41; the body decoded above, so
            // it decodes as a message here too.
            let request = match Message::decode(&body[..n]) {
                Ok(m) => m,
                Err(_) => Message::new(mti),
            };
            match mapping::encode_response(&reply.message(), &request, &mut fields, &mut out) {
                Ok(w) => w.to_vec(),
                Err(e) => {
                    t.record(
                        Source::Host,
                        format!("connection {conn}: cannot encode the answer ({e:?}); closing"),
                    );
                    return;
                }
            }
        };
        if s.write_all(&wire).await.is_err() {
            t.record(
                Source::Host,
                format!("connection {conn}: response could not be delivered"),
            );
            return;
        }
    }
}
