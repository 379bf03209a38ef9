//! The forward proxy a transport's connections go through, if any: the
//! environment's (`HTTPS_PROXY`, `NO_PROXY`, ...) as curl reads it, one
//! configured `http://` proxy, or none.

use std::sync::Arc;

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;

use super::{ProxySetting, TransportError};

pub(super) fn proxy_matcher(setting: &ProxySetting) -> Result<Option<Matcher>, TransportError> {
    Ok(match setting {
        ProxySetting::None => None,
        ProxySetting::Environment => Some(Matcher::from_env()),
        ProxySetting::Url(url) => {
            if !url.starts_with("http://") {
                return Err(TransportError::InvalidUrl(
                    "the proxy must be an http:// URL".to_owned(),
                ));
            }
            Some(Matcher::builder().all(url.clone()).build())
        }
    })
}

/// TCP to the destination, or through a CONNECT tunnel when the proxy
/// rules name a proxy for it; TLS to the destination then runs inside.
/// Plain `http://` destinations are tunnelled too (not sent in absolute
/// form), so a proxy must allow CONNECT to their ports.
#[derive(Clone)]
pub(super) struct ProxyConnector {
    pub(super) http: HttpConnector,
    pub(super) matcher: Option<Arc<Matcher>>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower::Service<http::Uri> for ProxyConnector {
    type Response = TokioIo<tokio::net::TcpStream>;
    type Error = BoxError;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: http::Uri) -> Self::Future {
        let Some(proxy) = self.matcher.as_ref().and_then(|m| m.intercept(&dst)) else {
            let direct = self.http.call(dst);
            return Box::pin(async move { direct.await.map_err(Into::into) });
        };
        let mut tunnel = Tunnel::new(proxy.uri().clone(), self.http.clone());
        if let Some(auth) = proxy.basic_auth() {
            tunnel = tunnel.with_auth(auth.clone());
        }
        Box::pin(async move {
            // CONNECT names a port: the scheme's when the URL has none
            // (the tunnel would assume 443 for plain http).
            let dst = with_port(dst)?;
            tunnel.call(dst).await.map_err(Into::into)
        })
    }
}

fn with_port(dst: http::Uri) -> Result<http::Uri, BoxError> {
    if dst.port().is_some() {
        return Ok(dst);
    }
    let port = if dst.scheme_str() == Some("http") {
        80
    } else {
        443
    };
    let host = dst.host().ok_or("no host in the URL")?;
    let mut parts = dst.clone().into_parts();
    parts.authority = Some(format!("{host}:{port}").parse()?);
    Ok(http::Uri::from_parts(parts)?)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::{Request, StatusCode};
    use http_body_util::Full;

    use super::*;
    use crate::synnefo::transport::{AnswerSize, Transport, TransportConfig};

    /// A tiny CONNECT proxy: records each tunnel's target, answers 200
    /// and relays the bytes.
    async fn connect_proxy() -> (std::net::SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let record = seen.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let record = record.clone();
                tokio::spawn(async move {
                    let mut client = BufReader::new(client);
                    let mut line = String::new();
                    client.read_line(&mut line).await.unwrap();
                    let target = line.split(' ').nth(1).unwrap().to_owned();
                    loop {
                        let mut header = String::new();
                        client.read_line(&mut header).await.unwrap();
                        if header == "\r\n" {
                            break;
                        }
                    }
                    record.lock().unwrap().push(target.clone());
                    let mut up = tokio::net::TcpStream::connect(&target).await.unwrap();
                    let mut client = client.into_inner();
                    client
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .await
                        .unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut up).await;
                });
            }
        });
        (addr, seen)
    }

    /// A server answering every request `200 ok`.
    async fn ok_server() -> std::net::SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0
                            || s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                                .await
                                .is_err()
                        {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn calls_go_through_the_configured_proxy_and_only_then() {
        let (proxy, seen) = connect_proxy().await;
        let target = ok_server().await;
        let get = || {
            Request::get(format!("http://{target}/servers"))
                .body(Full::default())
                .unwrap()
        };
        let proxied = Transport::new(TransportConfig {
            proxy: ProxySetting::Url(format!("http://{proxy}")),
            ..TransportConfig::default()
        })
        .unwrap();
        let (status, body) = proxied
            .send(get(), Duration::from_secs(5), AnswerSize::Item)
            .await
            .unwrap();
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"ok"[..]));
        assert_eq!(*seen.lock().unwrap(), [target.to_string()]);

        let direct = Transport::new(TransportConfig {
            proxy: ProxySetting::None,
            ..TransportConfig::default()
        })
        .unwrap();
        let (status, _) = direct
            .send(get(), Duration::from_secs(5), AnswerSize::Item)
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(seen.lock().unwrap().len(), 1, "no tunnel for a direct call");

        assert!(matches!(
            Transport::new(TransportConfig {
                proxy: ProxySetting::Url("socks5://p:1080".into()),
                ..TransportConfig::default()
            }),
            Err(TransportError::InvalidUrl(_))
        ));
    }

    #[test]
    fn a_tunnel_names_the_schemes_port() {
        let uri = |s: &str| s.parse::<http::Uri>().unwrap();
        assert_eq!(with_port(uri("http://h/x")).unwrap(), uri("http://h:80/x"));
        assert_eq!(
            with_port(uri("https://h/x")).unwrap(),
            uri("https://h:443/x")
        );
        assert_eq!(
            with_port(uri("https://h:8443/x")).unwrap(),
            uri("https://h:8443/x")
        );
    }
}
