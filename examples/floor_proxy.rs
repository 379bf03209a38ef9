//! The least a gateway can do: answer each request with the body of one
//! backend GET over a pooled connection (hyper server, hyper-util client,
//! multi-thread tokio), nothing parsed or rendered. `benches/load.py
//! --floor` measures it the same way as the gateway, as the floor this
//! machine sets for CPU per request and added latency.
//!
//! `cargo run --release --example floor_proxy -- LISTEN_ADDR BACKEND_URL`

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let listen = args.next().expect("LISTEN_ADDR");
    let backend: String = args.next().expect("BACKEND_URL");
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(http);
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
        let (client, backend) = (client.clone(), backend.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let (client, backend) = (client.clone(), backend.clone());
                async move {
                    let uri = format!("{backend}{}", req.uri().path());
                    let mut forward = hyper::Request::new(Full::default());
                    *forward.uri_mut() = uri.parse().expect("uri");
                    if let Some(token) = req.headers().get("x-auth-token") {
                        forward.headers_mut().insert("x-auth-token", token.clone());
                    }
                    let body = match client.request(forward).await {
                        Ok(res) => res
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default(),
                        Err(_) => Bytes::new(),
                    };
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(body)))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
