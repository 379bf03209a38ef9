//! The server's protections against slow or oversized clients, over real
//! sockets on 127.0.0.1:0.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use snf_occi::config::LimitsConfig;
use snf_occi::server::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

async fn start(
    limits: LimitsConfig,
) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let service = common::build("[pipeline]\nfilters = []\napp = \"echo\"\n")
        .await
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::from_listener(listener, service, limits);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .serve(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (addr, stop, task)
}

/// Sends raw bytes and reads the whole answer (until the server closes or
/// `wait` passes).
async fn raw(addr: SocketAddr, request: &[u8], wait: Duration) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn too_many_headers_get_431() {
    let limits = LimitsConfig {
        max_headers: 10,
        ..LimitsConfig::default()
    };
    let (addr, stop, task) = start(limits).await;
    let mut req = String::from("GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n");
    for i in 0..20 {
        req.push_str(&format!("x-h{i}: v\r\n"));
    }
    req.push_str("\r\n");
    let answer = raw(addr, req.as_bytes(), Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert!(answer.contains("the request head is too large"), "{answer}");

    let ok = raw(
        addr,
        b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    stop.send(()).unwrap();
    task.await.unwrap();
}

/// The default bound, 100 headers, is hyper's own (left unset there, so
/// that it parses on the stack): 100 pass, 101 get the 431.
#[tokio::test]
async fn the_default_bound_is_100_headers() {
    let limits = LimitsConfig::default();
    assert_eq!(limits.max_headers, 100);
    let (addr, stop, task) = start(limits).await;
    let head = |n: usize| {
        // `host` and `connection` count too.
        let mut req = String::from("GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n");
        for i in 2..n {
            req.push_str(&format!("x-h{i}: v\r\n"));
        }
        req.push_str("\r\n");
        req
    };
    let answer = raw(addr, head(100).as_bytes(), Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let answer = raw(addr, head(101).as_bytes(), Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert!(answer.contains("the request head is too large"), "{answer}");
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn an_oversized_head_gets_431() {
    let limits = LimitsConfig {
        max_header_bytes: 8192,
        ..LimitsConfig::default()
    };
    let (addr, stop, task) = start(limits).await;
    let req = format!(
        "GET / HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let answer = raw(addr, req.as_bytes(), Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert!(answer.contains("the request head is too large"), "{answer}");
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn a_slow_client_is_cut_off_and_does_not_hold_others() {
    let limits = LimitsConfig {
        header_read_timeout: Duration::from_millis(300),
        ..LimitsConfig::default()
    };
    let (addr, stop, task) = start(limits).await;

    // Half a request head, never finished.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();

    // Another client is served meanwhile.
    let ok = raw(
        addr,
        b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");

    // The slow one is closed by the server (EOF, possibly after a 408),
    // long before the test's own 10 s limit.
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the server kept the slow connection open");
    let answer = String::from_utf8_lossy(&out);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );

    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn shutdown_closes_idle_keep_alive_connections_at_once() {
    let (addr, stop, task) = start(LimitsConfig::default()).await;
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 12];
    idle.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"HTTP/1.1 200");
    stop.send(()).unwrap();
    // The default grace is 30 s: returning well before shows the idle
    // connection did not hold the shutdown.
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("shutdown waited on an idle connection")
        .unwrap();
}

// ---------------------------------------------------- connection deadlines

/// Issue 16 item 3: short deadlines, so that the tests take a second.
fn short(head_ms: u64, idle_ms: u64) -> LimitsConfig {
    LimitsConfig {
        header_read_timeout: Duration::from_millis(head_ms),
        idle_timeout: Duration::from_millis(idle_ms),
        ..LimitsConfig::default()
    }
}

/// Like [`start`], optionally speaking h2c beside HTTP/1.1.
async fn start_h2c(
    limits: LimitsConfig,
    h2c: bool,
) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let service = common::build("[pipeline]\nfilters = []\napp = \"echo\"\n")
        .await
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::from_listener(listener, service, limits).with_h2c(h2c);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .serve(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (addr, stop, task)
}

/// Reads until the server closes; how long that took, and what it sent.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> (Duration, Vec<u8>) {
    let started = std::time::Instant::now();
    let mut out = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "still open after {limit:?}");
    (started.elapsed(), out)
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_head_timeout() {
    for h2c in [false, true] {
        let (addr, stop, task) = start_h2c(short(300, 60_000), h2c).await;
        // Ten silent connections (the 300, scaled down).
        let mut silent = Vec::new();
        for _ in 0..10 {
            silent.push(TcpStream::connect(addr).await.unwrap());
        }
        for stream in &mut silent {
            let (took, bytes) = until_closed(stream, Duration::from_secs(5)).await;
            assert!(bytes.is_empty(), "h2c={h2c}: {bytes:?}");
            assert!(took < Duration::from_secs(3), "h2c={h2c}: {took:?}");
        }
        stop.send(()).unwrap();
        task.await.unwrap();
    }
}

/// An HTTP/2 frame header: length, type, flags, stream.
fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = len.to_be_bytes()[1..].to_vec();
    out.extend([kind, flags, 0, 0, 0, 0]);
    out.extend_from_slice(payload);
    out
}

/// The frame types in `bytes` (a server's side of an HTTP/2 connection).
fn frame_types(bytes: &[u8]) -> Vec<u8> {
    let mut kinds = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 9 {
        let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        kinds.push(rest[3]);
        rest = &rest[(9 + len).min(rest.len())..];
    }
    kinds
}

const PING: u8 = 6;
const GOAWAY: u8 = 7;

#[tokio::test]
async fn an_h2c_connection_that_only_pings_is_closed() {
    let (addr, stop, task) = start_h2c(short(300, 60_000), true).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend(frame(4, 0, &[])); // SETTINGS
    hello.extend(frame(4, 1, &[])); // SETTINGS ack (of the server's)
    stream.write_all(&hello).await.unwrap();
    // Keep the connection busy with pings, never a request.
    let (mut read, mut write) = stream.into_split();
    let pinger = tokio::spawn(async move {
        for n in 0u64..100 {
            if write
                .write_all(&frame(PING, 0, &n.to_be_bytes()))
                .await
                .is_err()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let started = std::time::Instant::now();
    let mut bytes = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), read.read_to_end(&mut bytes)).await;
    assert!(
        closed.is_ok(),
        "an h2c connection without a request stayed open"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    let kinds = frame_types(&bytes);
    assert!(kinds.contains(&PING), "the pings were answered: {kinds:?}");
    assert!(kinds.contains(&GOAWAY), "closed with GOAWAY: {kinds:?}");
    pinger.abort();
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn http1_keep_alive_closes_after_the_idle_timeout_not_the_head_timeout() {
    // The head timeout (200 ms) is shorter than the idle one (1.2 s).
    let (addr, stop, task) = start_h2c(short(200, 1_200), false).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";
    let mut buf = [0u8; 12];
    stream.write_all(request).await.unwrap();
    stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"HTTP/1.1 200");
    // Idle longer than the head timeout: still open, and serving.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut rest = vec![0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(50), stream.read(&mut rest)).await;
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    while !String::from_utf8_lossy(&answer).contains("HTTP/1.1 200") {
        let n = stream.read(&mut rest).await.unwrap();
        assert!(n > 0, "closed before the idle timeout");
        answer.extend_from_slice(&rest[..n]);
    }
    // Then idle past the idle timeout: closed.
    let (took, _) = until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn a_slow_second_head_gets_the_head_timeout() {
    let (addr, stop, task) = start_h2c(short(300, 60_000), false).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 12];
    stream.read_exact(&mut buf).await.unwrap();
    // Half of a second head, never finished: the long idle allowance
    // does not cover it.
    stream.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let (took, _) = until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(3), "{took:?}");
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn http2_closes_after_the_idle_timeout_between_requests() {
    use http_body_util::BodyExt;
    let (addr, stop, task) = start_h2c(short(200, 1_000), true).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .timer(hyper_util::rt::TokioTimer::new())
            // The client pings too: traffic that is not a request.
            .keep_alive_interval(Duration::from_millis(100))
            .handshake::<_, http_body_util::Empty<bytes::Bytes>>(hyper_util::rt::TokioIo::new(tcp))
            .await
            .unwrap();
    let opened = std::time::Instant::now();
    let conn = tokio::spawn(async move {
        let _ = conn.await;
        std::time::Instant::now()
    });
    for _ in 0..2 {
        // Two requests 500 ms apart (more than the head timeout).
        let request = http::Request::get(format!("http://{addr}/"))
            .body(http_body_util::Empty::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        response.into_body().collect().await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let last = std::time::Instant::now() - Duration::from_millis(500);
    let closed = tokio::time::timeout(Duration::from_secs(5), conn)
        .await
        .expect("the server closed the idle HTTP/2 connection")
        .unwrap();
    let idle = closed - last;
    assert!(idle >= Duration::from_millis(800), "{idle:?}");
    assert!(idle < Duration::from_secs(3), "{idle:?}");
    assert!(closed - opened > Duration::from_secs(1));
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn h2c_is_off_by_default() {
    let (addr, stop, task) = start(LimitsConfig::default()).await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    assert!(h2.get(format!("http://{addr}/")).send().await.is_err());
    let h1 = reqwest::Client::new();
    let res = h1.get(format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_11);
    assert!(!snf_occi::config::ServerConfig::default().h2c);
    stop.send(()).unwrap();
    task.await.unwrap();
}
