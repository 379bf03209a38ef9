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
