//! `keystone_auth` against an in-test Astakos.

mod auth_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use http::{Method, Request, StatusCode};
use snf_occi_middleware::auth::{AstakosTokens, AuthLayer, KeystoneAuthConfig, KeystoneAuthLayer};
use snf_occi_middleware::{Body, Negotiated};
use snf_occi_types::{AuthContext, MediaType, SecretToken};
use tower::{Layer, Service, ServiceExt};

use auth_support::{access, echo_app, serve, text};

const USER: &str = "0c2bd5c6-6d3a-4b3f-9f0e-user00000001";

#[derive(Clone, Default)]
struct Astakos {
    calls: Arc<AtomicUsize>,
    delay: Duration,
}

/// Astakos `POST /identity/v2.0/tokens`: `good*` tokens are valid
/// (`good-short` expires in the past... no: in 2 seconds), `boom` fails
/// with 500, `slow` hangs, everything else is 401.
async fn tokens(
    State(astakos): State<Astakos>,
    Json(body): Json<serde_json::Value>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    astakos.calls.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(astakos.delay).await;
    let token = body["auth"]["token"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    match token.as_str() {
        "good" => Json(access("good", USER, &[USER, "proj-vo", "proj-other"], "2999-01-01T00:00:00.000000+00:00")).into_response(),
        "good-own-only" => Json(access("good-own-only", USER, &[USER], "2999-01-01T00:00:00Z")).into_response(),
        "good-expired" => Json(access("good-expired", USER, &[USER], "2000-01-01T00:00:00Z")).into_response(),
        "boom" => (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response(),
        "garbage" => (StatusCode::OK, "{\"not\": \"access\"}").into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            StatusCode::OK.into_response()
        }
        _ => (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"unauthorized": {"code": 401, "message": "Invalid token", "details": ""}})),
        )
            .into_response(),
    }
}

async fn astakos(delay: Duration) -> (String, Astakos) {
    let state = Astakos {
        calls: Arc::default(),
        delay,
    };
    let addr = serve(
        axum::Router::new()
            .route("/identity/v2.0/tokens", post(tokens))
            .with_state(state.clone()),
    )
    .await;
    (format!("http://{addr}/identity/v2.0"), state)
}

fn layer(identity: &str) -> KeystoneAuthLayer {
    let config =
        KeystoneAuthConfig::default().with_keystone_url("https://keystone.example.org:5000/");
    let astakos = AstakosTokens::new(identity, reqwest::Client::new())
        .unwrap()
        .with_timeout(Duration::from_secs(2));
    AuthLayer::keystone(config, astakos).unwrap()
}

fn request(method: Method, token: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri("/compute/");
    if let Some(token) = token {
        builder = builder.header("x-auth-token", token);
    }
    builder.body(Body::empty()).unwrap()
}

const CHALLENGE: &str = "Keystone uri='https://keystone.example.org:5000/'";

#[tokio::test]
async fn no_token_gets_the_keystone_challenge_on_every_method() {
    let (url, astakos) = astakos(Duration::ZERO).await;
    let svc = layer(&url).layer(echo_app());
    for method in [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::DELETE,
        Method::PUT,
    ] {
        let response = svc
            .clone()
            .oneshot(request(method.clone(), None))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method}");
        assert_eq!(
            response.headers()["www-authenticate"],
            CHALLENGE,
            "{method}"
        );
    }
    assert_eq!(astakos.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_valid_token_authenticates_with_the_first_non_personal_project() {
    let (url, _) = astakos(Duration::ZERO).await;
    let response = layer(&url)
        .layer(echo_app())
        .oneshot(request(Method::GET, Some("good")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        text(response).await,
        format!("{USER} proj-vo keystone_auth good")
    );
}

#[tokio::test]
async fn the_seed_auth_token_header_and_project_headers() {
    let (url, _) = astakos(Duration::ZERO).await;
    let svc = layer(&url).layer(echo_app());
    let req = Request::get("/")
        .header("auth-token", "good")
        .header("x-project-id", "chosen")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        text(svc.clone().oneshot(req).await.unwrap()).await,
        format!("{USER} chosen keystone_auth good")
    );
    let req = Request::get("/")
        .header("x-auth-token", "good")
        .header("x-project-id", "second")
        .header("x-snf-project", "first")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        text(svc.clone().oneshot(req).await.unwrap()).await,
        format!("{USER} first keystone_auth good")
    );
    let req = request(Method::GET, Some("good-own-only"));
    assert_eq!(
        text(svc.oneshot(req).await.unwrap()).await,
        format!("{USER} {USER} keystone_auth good-own-only")
    );
}

#[tokio::test]
async fn a_bad_token_is_401_with_the_challenge_and_no_echo_of_the_token() {
    let (url, _) = astakos(Duration::ZERO).await;
    let svc = layer(&url).layer(echo_app());
    let response = svc
        .clone()
        .oneshot(request(Method::HEAD, Some("s3cr3t-wrong")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], CHALLENGE);
    let body = text(response).await;
    assert!(body.contains("invalid or expired"), "{body}");
    assert!(body.contains("Invalid token"), "{body}");
    assert!(!body.contains("s3cr3t"), "{body}");

    // The negotiated rendering is honoured.
    let mut req = request(Method::GET, Some("s3cr3t-wrong"));
    req.extensions_mut().insert(Negotiated {
        response: MediaType::OcciJson,
        request: None,
    });
    let response = svc.oneshot(req).await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/occi+json");
    let json: serde_json::Value = serde_json::from_str(&text(response).await).unwrap();
    assert_eq!(json["code"], 401);
}

#[tokio::test]
async fn a_malformed_token_never_reaches_astakos() {
    let (url, astakos) = astakos(Duration::ZERO).await;
    let req = Request::get("/")
        .header("x-auth-token", "has spaces in it")
        .body(Body::empty())
        .unwrap();
    let response = layer(&url).layer(echo_app()).oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], CHALLENGE);
    assert!(text(response).await.contains("not a well-formed token"));
    assert_eq!(astakos.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn astakos_failures_are_503_not_401_or_500() {
    let (url, _) = astakos(Duration::ZERO).await;
    let svc = layer(&url).layer(echo_app());
    for (token, reason) in [
        ("boom", "status 500"),
        ("garbage", "unreadable"),
        ("slow", "unreachable"),
    ] {
        let response = svc
            .clone()
            .oneshot(request(Method::GET, Some(token)))
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{token}"
        );
        assert!(text(response).await.contains(reason), "{token}");
    }
    // A wrong identity_url (404) is the site's problem, not the token's.
    let wrong = layer(&format!("{url}/misplaced")).layer(echo_app());
    let response = wrong
        .oneshot(request(Method::GET, Some("good")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Nobody listening at all.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let svc = layer(&format!("http://{addr}/identity/v2.0")).layer(echo_app());
    let response = svc
        .oneshot(request(Method::GET, Some("good")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn concurrent_first_requests_make_one_astakos_call() {
    let (url, astakos) = astakos(Duration::from_millis(200)).await;
    let svc = layer(&url).layer(echo_app());
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let svc = svc.clone();
        tasks.push(tokio::spawn(async move {
            svc.oneshot(request(Method::GET, Some("good")))
                .await
                .unwrap()
                .status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(astakos.calls.load(Ordering::SeqCst), 1);
    // And later requests come from the cache.
    let _ = svc
        .oneshot(request(Method::GET, Some("good")))
        .await
        .unwrap();
    assert_eq!(astakos.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_expired_token_is_not_cached() {
    let (url, astakos) = astakos(Duration::ZERO).await;
    let svc = layer(&url).layer(echo_app());
    for _ in 0..3 {
        let _ = svc
            .clone()
            .oneshot(request(Method::GET, Some("good-expired")))
            .await
            .unwrap();
    }
    assert_eq!(astakos.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_backend_401_evicts_the_cached_token() {
    let (url, astakos) = astakos(Duration::ZERO).await;
    // The app accepts the first request and rejects the second (Cyclades
    // revoked the token in between).
    let seen = Arc::new(AtomicUsize::new(0));
    let app = {
        let seen = seen.clone();
        tower::service_fn(move |_req: Request<Body>| {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            async move {
                let status = if n == 1 {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::OK
                };
                Ok::<_, std::convert::Infallible>(
                    http::Response::builder()
                        .status(status)
                        .body(Body::empty())
                        .unwrap(),
                )
            }
        })
    };
    let mut svc = layer(&url).layer(app);
    let r1 = svc
        .ready()
        .await
        .unwrap()
        .call(request(Method::GET, Some("good")))
        .await
        .unwrap();
    assert_eq!(r1.status(), StatusCode::OK);
    let r2 = svc
        .ready()
        .await
        .unwrap()
        .call(request(Method::GET, Some("good")))
        .await
        .unwrap();
    assert_eq!(r2.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r2.headers()["www-authenticate"], CHALLENGE);
    assert_eq!(astakos.calls.load(Ordering::SeqCst), 1);
    let r3 = svc
        .ready()
        .await
        .unwrap()
        .call(request(Method::GET, Some("good")))
        .await
        .unwrap();
    assert_eq!(r3.status(), StatusCode::OK);
    assert_eq!(
        astakos.calls.load(Ordering::SeqCst),
        2,
        "the evicted token was validated again"
    );
}

#[tokio::test]
async fn an_existing_auth_context_passes_untouched() {
    let (url, astakos) = astakos(Duration::ZERO).await;
    let mut req = request(Method::GET, Some("whatever"));
    req.extensions_mut().insert(AuthContext {
        token: SecretToken::new("from-voms"),
        user: "voms-user".into(),
        user_name: None,
        project: Some("vo".into()),
        expires: None,
        method: "voms_exchange",
    });
    let response = layer(&url).layer(echo_app()).oneshot(req).await.unwrap();
    assert_eq!(text(response).await, "voms-user vo voms_exchange from-voms");
    assert_eq!(astakos.calls.load(Ordering::SeqCst), 0);
}
