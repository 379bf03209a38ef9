//! The least a gateway can do: answer each request with the body of one
//! backend GET over a pooled connection (hyper's server, hyper's own
//! HTTP/1.1 client connections in a list under a lock, as the gateway's
//! transport pools them; multi-thread tokio), nothing parsed or rendered.
//! `benches/load.py` measures it the same way as the gateway, as the
//! floor this machine sets for CPU per request and added latency.
//!
//! `cargo run --release --example floor_proxy -- LISTEN_ADDR BACKEND_URL`
//! (BACKEND_URL: `http://host:port`).
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

/// Idle connections to the one backend.
type Pool = Arc<Mutex<Vec<SendRequest<Full<Bytes>>>>>;

/// An idle connection that is still up, else a new one.
async fn checkout(pool: &Pool, addr: &str) -> SendRequest<Full<Bytes>> {
    loop {
        let idle = pool.lock().unwrap().pop();
        match idle {
            Some(mut s) => {
                if s.ready().await.is_ok() {
                    return s;
                }
            }
            None => {
                let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
                let _ = stream.set_nodelay(true);
                let (s, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .expect("handshake");
                tokio::spawn(conn);
                return s;
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let listen = args.next().expect("LISTEN_ADDR");
    let backend: String = args.next().expect("BACKEND_URL");
    let addr = backend.trim_start_matches("http://").to_owned();
    let pool: Pool = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind(&listen).await.expect("bind");
    println!(
        "listening on http://{}",
        listener.local_addr().expect("addr")
    );
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (pool, addr) = (pool.clone(), addr.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let (pool, addr) = (pool.clone(), addr.clone());
                async move {
                    let mut forward = hyper::Request::new(Full::default());
                    *forward.uri_mut() = req.uri().path().parse().expect("uri");
                    forward.headers_mut().insert("host", addr.parse().unwrap());
                    if let Some(token) = req.headers().get("x-auth-token") {
                        forward.headers_mut().insert("x-auth-token", token.clone());
                    }
                    let mut sender = checkout(&pool, &addr).await;
                    let body = match sender.send_request(forward).await {
                        Ok(res) => res
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default(),
                        Err(_) => Bytes::new(),
                    };
                    pool.lock().unwrap().push(sender);
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(body)))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
