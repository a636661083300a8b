use super::*;

async fn echo() -> SocketAddr {
    let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = echo.local_addr().unwrap();
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
    addr
}

/// A proxy on a free loopback port in front of a fresh echo server.
async fn proxy_to_echo(t: &Transcript, seed: u64) -> NetProxy {
    NetProxy::start(
        "127.0.0.1:0".parse().unwrap(),
        echo().await,
        t.clone(),
        seed,
    )
    .await
    .unwrap()
}

/// Sends `msg` on `c` and checks that the echo comes back whole.
async fn assert_echoed(c: &mut TcpStream, msg: &[u8], why: &str) {
    c.write_all(msg).await.unwrap();
    let mut b = vec![0u8; msg.len()];
    c.read_exact(&mut b).await.unwrap();
    assert_eq!(b, msg, "{why}");
}

async fn read_all(c: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut b = [0u8; 64];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), c.read(&mut b)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&b[..n]),
            Err(_) => panic!("a cut connection must end"),
        }
    }
}

#[tokio::test]
async fn down_cuts_open_connections_and_refuses_new_ones() {
    let t = Transcript::new();
    let proxy = proxy_to_echo(&t, 1).await;
    let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_echoed(&mut c, b"ping", "up").await;
    proxy.set(LinkState::Down).await;
    read_all(&mut c).await;
    assert!(
        TcpStream::connect(proxy.addr()).await.is_err(),
        "connections are refused while down"
    );
    proxy.set(LinkState::Up).await;
    let mut c3 = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_echoed(&mut c3, b"back", "the same address serves again").await;
    assert!(t.render().contains("link Down"));
}

/// A terminal keeps its host connection between exchanges and looks, before writing, whether
/// the proxy cut it: the look must see every cut that a change made before it returned, or
/// the terminal writes into a dead connection and (not knowing whether the host got the
/// request) stores a reversal on some runs and not on others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_cut_by_a_change_is_seen_closed_when_the_change_returns() {
    let t = Transcript::new();
    let proxy = proxy_to_echo(&t, 1).await;
    let addr = proxy.addr();
    for round in 0..40 {
        let c = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.write_all(b"ping").unwrap();
            let mut b = [0u8; 4];
            c.read_exact(&mut b).unwrap();
            c
        })
        .await
        .unwrap();
        if round % 2 == 0 {
            proxy.set_faults(Faults::none()).await;
        } else {
            proxy.set(LinkState::Down).await;
        }
        c.set_nonblocking(true).unwrap();
        let seen = c.peek(&mut [0u8; 1]);
        assert!(
            !matches!(&seen, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "round {round}: the cut is not visible yet ({seen:?})"
        );
        proxy.set(LinkState::Up).await;
    }
}

/// The full suite failed about one run in four: a terminal's first connection after
/// `network = "down"` was accepted, then reset ("request sent"), so it stored a reversal. A
/// terminal another scenario was spawning held a copy of the proxy's listening descriptor
/// between its fork and its exec, which kept the closed listener listening. A copy of the
/// descriptor stands in for that child here.
#[tokio::test]
async fn down_refuses_connections_even_while_a_copy_of_the_listener_is_open() {
    let t = Transcript::new();
    let proxy = proxy_to_echo(&t, 1).await;
    let fd = lock(&proxy.listening).expect("listening");
    // SAFETY: dup(2) of the proxy's open listening descriptor; the copy is closed below.
    let copy = unsafe { libc::dup(fd) };
    assert!(copy >= 0);
    proxy.set(LinkState::Down).await;
    let refused = TcpStream::connect(proxy.addr()).await.is_err();
    // SAFETY: closes the copy made above, which nothing else uses.
    unsafe { libc::close(copy) };
    assert!(refused, "a connection got in while the link was down");
}

/// A scenario run failed at random with "cannot listen on ... again: Address already in
/// use": while the link was down the port was free, and another socket on the machine (a
/// parallel test's) could take it. The proxy now holds it while down.
#[tokio::test]
async fn the_port_stays_the_proxys_while_the_link_is_down() {
    let t = Transcript::new();
    let proxy = proxy_to_echo(&t, 1).await;
    proxy.set(LinkState::Down).await;
    assert!(
        std::net::TcpListener::bind(proxy.addr()).is_err(),
        "nobody else can bind the port while the link is down"
    );
    assert!(TcpStream::connect(proxy.addr()).await.is_err(), "refused");
    proxy.set(LinkState::Up).await;
    let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_echoed(&mut c, b"up again", "serves again").await;
    assert!(!t.render().contains("cannot"), "{}", t.render());
}

#[tokio::test]
async fn a_cut_after_n_bytes_lands_on_that_byte() {
    let t = Transcript::new();
    let proxy = proxy_to_echo(&t, 1).await;
    proxy
        .set_faults(Faults {
            downstream: DirectionFaults {
                cut_after_bytes: Some(5),
                slice: Some(2),
                ..Default::default()
            },
            connections: Some(1),
            ..Faults::none()
        })
        .await;
    let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
    c.write_all(b"0123456789").await.unwrap();
    assert_eq!(read_all(&mut c).await, b"01234");
    assert!(
        t.render()
            .contains("cut after 5 bytes towards the terminal"),
        "{}",
        t.render()
    );
    // The fault was for one connection only.
    let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_echoed(&mut c, b"abc", "no fault after the first connection").await;
}

#[tokio::test]
async fn random_cuts_are_reproducible_from_the_seed() {
    let mut cuts = Vec::new();
    for _ in 0..2 {
        let t = Transcript::new();
        let proxy = proxy_to_echo(&t, 42).await;
        proxy
            .set_faults(Faults {
                random_cut_max_bytes: Some(8),
                ..Faults::none()
            })
            .await;
        let mut run = Vec::new();
        for _ in 0..3 {
            let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
            c.write_all(b"0123456789abcdef").await.unwrap();
            run.push(read_all(&mut c).await.len());
        }
        cuts.push(run);
    }
    assert_eq!(cuts[0], cuts[1], "same seed, same cuts");
    assert!(cuts[0].iter().all(|&n| n < 16), "{cuts:?}");
}

#[tokio::test]
async fn blackhole_accepts_and_never_answers() {
    let proxy = proxy_to_echo(&Transcript::new(), 1).await;
    proxy.set(LinkState::Blackhole).await;
    let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
    c.write_all(b"hello").await.unwrap();
    let mut b = [0u8; 1];
    let r = tokio::time::timeout(Duration::from_millis(200), c.read(&mut b)).await;
    assert!(r.is_err(), "no answer from a blackhole");
}

#[tokio::test]
async fn changing_faults_ends_open_connections() {
    let t = Transcript::new();
    let proxy = proxy_to_echo(&t, 1).await;
    let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_echoed(&mut c, b"hi", "up").await;
    proxy
        .set_faults(Faults {
            downstream: DirectionFaults {
                cut_after_bytes: Some(0),
                ..Default::default()
            },
            ..Faults::none()
        })
        .await;
    // In force when the change returns: the cut is already in the transcript.
    assert!(t.render().contains("cut: faults changed"), "{}", t.render());
    read_all(&mut c).await;
}

/// A change of state is in force when `set` returns: open connections have been cut and
/// the cut is in the transcript before anything else happens (issue 8: the terminal's next
/// authorisation reached the host after "link Down").
#[tokio::test]
async fn a_state_change_is_in_force_when_set_returns() {
    for state in [LinkState::Down, LinkState::Blackhole] {
        let t = Transcript::new();
        let proxy = proxy_to_echo(&t, 1).await;
        let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_echoed(&mut c, b"ping", "up").await;
        proxy.set(state).await;
        let log = t.render();
        let down = log.find(&format!("link {state:?}")).unwrap();
        let cut = log.find("connection 1 cut: link down");
        assert!(cut.is_some_and(|c| c > down), "{state:?}: {log}");
        // Bytes written after the change never reach the other side.
        let _ = c.write_all(b"late").await;
        assert!(read_all(&mut c).await.is_empty(), "{state:?}");
    }
}

/// Setting the state the link is already in changes nothing and returns at once, with the
/// connection still open. It used to wait for the open connection to end, which nothing ends:
/// `network = "up"` on an up link hung a soak replay for good.
#[tokio::test]
async fn setting_the_state_the_link_is_in_returns_at_once_and_cuts_nothing() {
    let t = Transcript::new();
    let proxy = proxy_to_echo(&t, 1).await;
    let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_echoed(&mut c, b"ping", "up").await;
    for state in [
        LinkState::Up,
        LinkState::Blackhole,
        LinkState::Blackhole,
        LinkState::Up,
        LinkState::Up,
    ] {
        tokio::time::timeout(Duration::from_secs(5), proxy.set(state))
            .await
            .unwrap_or_else(|_| panic!("set({state:?}) returns"));
    }
    let mut c2 = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_echoed(&mut c2, b"again", "up again").await;
    proxy.set(LinkState::Down).await;
    tokio::time::timeout(Duration::from_secs(5), proxy.set(LinkState::Down))
        .await
        .expect("down twice returns");
}
