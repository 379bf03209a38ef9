//! A plain hyper service wrapped with two typed snf-occi layers
//! (`X-Request-Id` and a 504-answering timeout), no configuration file, no
//! boxing, served by hyper-util.
//!
//! ```text
//! cargo run --example hyper_layers          # listens on 127.0.0.1:3001
//! curl -i localhost:3001/                   # 200, with an X-Request-Id
//! curl -i localhost:3001/slow               # 504 with an OCCI error body
//! ```

use std::convert::Infallible;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use snf_occi::middleware::error_response::OcciErrorBodyLayer;
use snf_occi::middleware::request_id::RequestIdLayer;
use snf_occi::middleware::{Body, HttpRequest, HttpResponse};
use snf_occi_types::RequestId;
use tower::ServiceBuilder;

async fn hello(req: HttpRequest) -> Result<HttpResponse, Infallible> {
    if req.uri().path() == "/slow" {
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let id = req
        .extensions()
        .get::<RequestId>()
        .map(|id| id.to_string())
        .unwrap_or_default();
    Ok(HttpResponse::new(Body::from(format!(
        "hello, request {id}\n"
    ))))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let service = ServiceBuilder::new()
        .layer(RequestIdLayer::new())
        .layer(OcciErrorBodyLayer::timeout(Duration::from_secs(1)))
        .service_fn(hello);

    let addr = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3001".to_string());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        // hyper hands us `Request<Incoming>`; the layers take the boxed body.
        let service = tower::util::MapRequest::new(
            service.clone(),
            |req: http::Request<hyper::body::Incoming>| req.map(Body::new),
        );
        tokio::spawn(async move {
            let conn = auto::Builder::new(TokioExecutor::new());
            if let Err(e) = conn
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .await
            {
                eprintln!("connection error: {e}");
            }
        });
    }
}
