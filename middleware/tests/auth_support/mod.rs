//! Helpers shared by the auth integration tests: in-test HTTP servers on
//! 127.0.0.1:0 and generated X.509 fixtures.
#![allow(dead_code)]

pub mod pki;
pub mod signer;

use std::convert::Infallible;
use std::net::SocketAddr;

use snf_occi_middleware::{Body, HttpRequest, HttpResponse};

/// Serves `router` on an ephemeral local port until the test ends.
pub async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// An inner service that answers 200 with `user project method` of the
/// `AuthContext` it received, or 401 without one (like the OCCI app).
pub fn echo_app() -> impl tower::Service<
    HttpRequest,
    Response = HttpResponse,
    Error = Infallible,
    Future = impl Future<Output = Result<HttpResponse, Infallible>> + Send,
> + Clone
+ Send
+ 'static {
    tower::service_fn(|req: HttpRequest| async move {
        let response = match req.extensions().get::<snf_occi_types::AuthContext>() {
            Some(auth) => http::Response::new(Body::from(format!(
                "{} {} {} {}",
                auth.user,
                auth.project.clone().unwrap_or_default(),
                auth.method,
                auth.token.expose()
            ))),
            None => http::Response::builder()
                .status(401)
                .body(Body::from("who?"))
                .unwrap(),
        };
        Ok::<_, Infallible>(response)
    })
}

/// The body of a response as text.
pub async fn text(response: HttpResponse) -> String {
    use http_body_util::BodyExt;
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// A Keystone v2.0 `access` answer as Astakos gives it.
pub fn access(token: &str, user: &str, projects: &[&str], expires: &str) -> serde_json::Value {
    serde_json::json!({"access": {
        "token": {"id": token, "expires": expires, "tenant": {"id": user, "name": "User"}},
        "user": {"id": user, "name": "User Name", "projects": projects, "roles": [], "roles_links": []},
        "serviceCatalog": []
    }})
}
