//! `jwt_auth` with keys generated in the test, JWKS, discovery and a
//! Keystone v3-style exchange served on 127.0.0.1:0.

mod auth_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use http::{HeaderMap, Request, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use snf_occi_middleware::Body;
use snf_occi_middleware::auth::jwt::StaticMapping;
use snf_occi_middleware::auth::{AuthLayer, JwtAuthConfig, JwtAuthLayer};
use tower::{Layer, ServiceExt};

use auth_support::signer::Signer;
use auth_support::{echo_app, serve, text};

const AUD: &str = "snf-occi";

#[derive(Clone)]
struct Idp {
    issuer: Arc<Mutex<String>>,
    jwks: Arc<Mutex<serde_json::Value>>,
    jwks_fetches: Arc<AtomicUsize>,
    exchanges: Arc<AtomicUsize>,
    jwks_down: Arc<Mutex<bool>>,
}

async fn discovery(State(idp): State<Idp>) -> Response {
    let issuer = idp.issuer.lock().unwrap().clone();
    axum::Json(serde_json::json!({"issuer": issuer, "jwks_uri": format!("{issuer}/keys")}))
        .into_response()
}

async fn keys(State(idp): State<Idp>) -> Response {
    idp.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    if *idp.jwks_down.lock().unwrap() {
        return StatusCode::BAD_GATEWAY.into_response();
    }
    axum::Json(idp.jwks.lock().unwrap().clone()).into_response()
}

/// Keystone v3 federation: `Authorization: Bearer <OIDC token>`.
async fn federation(State(idp): State<Idp>, headers: HeaderMap) -> Response {
    idp.exchanges.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    if !auth.starts_with("Bearer ey") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let body = serde_json::json!({"token": {"user": {"id": "fed-user", "name": "Fed User"},
        "project": {"id": "fed-project"}, "expires_at": "2999-01-01T00:00:00.000000Z", "methods": ["openid"]}});
    (
        StatusCode::CREATED,
        [("x-subject-token", "synnefo-fed-token")],
        axum::Json(body),
    )
        .into_response()
}

async fn idp(signers: &[&Signer]) -> (String, Idp) {
    let state = Idp {
        issuer: Arc::default(),
        jwks: Arc::new(Mutex::new(
            serde_json::json!({"keys": signers.iter().map(|s| s.jwk()).collect::<Vec<_>>()}),
        )),
        jwks_fetches: Arc::default(),
        exchanges: Arc::default(),
        jwks_down: Arc::default(),
    };
    let router = axum::Router::new()
        .route("/realm/.well-known/openid-configuration", get(discovery))
        .route("/realm/keys", get(keys))
        .route(
            "/v3/OS-FEDERATION/identity_providers/egi/protocols/openid/auth",
            post(federation),
        )
        .route(
            "/v3/refuse",
            post(|| async {
                let error = serde_json::json!({"error": {"code": 401, "message": "No mapping for this user"}});
                (StatusCode::UNAUTHORIZED, axum::Json(error))
            }),
        )
        .with_state(state.clone());
    let addr = serve(router).await;
    let issuer = format!("http://{addr}/realm");
    *state.issuer.lock().unwrap() = issuer.clone();
    (issuer, state)
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn claims(issuer: &str) -> serde_json::Value {
    serde_json::json!({"iss": issuer, "aud": AUD, "sub": "alice@egi.eu", "exp": now() + 600, "iat": now(), "nbf": now() - 5})
}

fn exchange_config(issuer: &str) -> JwtAuthConfig {
    let base = issuer.trim_end_matches("/realm");
    JwtAuthConfig {
        leeway: Duration::from_secs(5),
        ..JwtAuthConfig::new(issuer, AUD)
    }
    .with_exchange_url(format!(
        "{base}/v3/OS-FEDERATION/identity_providers/egi/protocols/openid/auth"
    ))
}

fn layer(config: JwtAuthConfig) -> JwtAuthLayer {
    AuthLayer::jwt(config, reqwest::Client::new()).unwrap()
}

fn with_bearer(token: &str) -> Request<Body> {
    Request::get("/compute/")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn a_valid_bearer_is_exchanged_keystone_v3_style_via_discovery() {
    let signer = Signer::new("k1");
    let (issuer, idp) = idp(&[&signer]).await;
    let svc = layer(exchange_config(&issuer)).layer(echo_app());
    let token = signer.sign(&claims(&issuer));
    for _ in 0..3 {
        let response = svc.clone().oneshot(with_bearer(&token)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            text(response).await,
            "fed-user fed-project jwt_auth synnefo-fed-token"
        );
    }
    assert_eq!(
        idp.exchanges.load(Ordering::SeqCst),
        1,
        "cached after the first exchange"
    );
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_static_mapping_needs_no_exchange() {
    let signer = Signer::new("k1");
    let (issuer, idp) = idp(&[&signer]).await;
    let config = JwtAuthConfig::new(&issuer, AUD)
        .with_jwks_url(format!("{issuer}/keys"))
        .with_mapping(StaticMapping {
            iss: Some(issuer.clone()),
            sub: "alice@egi.eu".into(),
            token: "pre-provisioned".into(),
            user: "alice-uuid".into(),
            project: Some("alice-project".into()),
        });
    let svc = layer(config).layer(echo_app());
    let response = svc
        .clone()
        .oneshot(with_bearer(&signer.sign(&claims(&issuer))))
        .await
        .unwrap();
    assert_eq!(
        text(response).await,
        "alice-uuid alice-project jwt_auth pre-provisioned"
    );
    // Someone the table does not know.
    let mut bob = claims(&issuer);
    bob["sub"] = "bob@egi.eu".into();
    let response = svc.oneshot(with_bearer(&signer.sign(&bob))).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(text(response).await.contains("no cloud account"));
    assert_eq!(idp.exchanges.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn every_rejection_reason() {
    let signer = Signer::new("k1");
    let impostor = Signer::new("k1"); // same kid, other key
    let stranger = Signer::new("k9"); // a kid the IdP never published
    let (issuer, idp) = idp(&[&signer]).await;
    let svc = layer(exchange_config(&issuer)).layer(echo_app());

    let mut expired = claims(&issuer);
    expired["exp"] = (now() - 3600).into();
    let mut early = claims(&issuer);
    early["nbf"] = (now() + 3600).into();
    let mut other_iss = claims(&issuer);
    other_iss["iss"] = "https://evil.example.org".into();
    let mut other_aud = claims(&issuer);
    other_aud["aud"] = "someone-else".into();
    let mut no_sub = claims(&issuer);
    no_sub.as_object_mut().unwrap().remove("sub");
    let hs256 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(&issuer),
        &EncodingKey::from_secret(b"the public key, as a secret").unwrap(),
    )
    .unwrap();
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let alg_none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&claims(&issuer).to_string())
    );

    let cases = [
        (signer.sign(&expired), "has expired"),
        (signer.sign(&early), "not valid yet"),
        (signer.sign(&other_iss), "another issuer"),
        (signer.sign(&other_aud), "another audience"),
        (signer.sign(&no_sub), "lacks the \"sub\" claim"),
        (impostor.sign(&claims(&issuer)), "signature is invalid"),
        (stranger.sign(&claims(&issuer)), "unknown key"),
        (hs256, "algorithm is not allowed"),
        (alg_none, "not a well-formed JWT"),
        ("not-a-jwt".to_owned(), "not a well-formed JWT"),
    ];
    for (token, reason) in cases {
        let response = svc.clone().oneshot(with_bearer(&token)).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{reason}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"snf-occi\", error=\"invalid_token\""
        );
        let body = text(response).await;
        assert!(body.contains(reason), "{reason}: {body}");
        assert!(
            !body.contains(&token[..token.len().min(20)]) || token == "not-a-jwt",
            "token echoed: {body}"
        );
    }
    assert_eq!(
        idp.exchanges.load(Ordering::SeqCst),
        0,
        "nothing unverified is exchanged"
    );
}

#[tokio::test]
async fn unknown_kids_refetch_the_jwks_at_most_once_per_interval() {
    let signer = Signer::new("k1");
    let rotated = Signer::new("k2");
    let (issuer, idp) = idp(&[&signer]).await;
    let config = JwtAuthConfig {
        jwks_refresh_interval: Duration::from_millis(300),
        ..exchange_config(&issuer)
    };
    let svc = layer(config).layer(echo_app());
    assert_eq!(
        svc.clone()
            .oneshot(with_bearer(&signer.sign(&claims(&issuer))))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), 1);

    // The IdP rotates in k2. Right after a fetch, an unknown kid does not
    // trigger another (rate limit)...
    idp.jwks.lock().unwrap()["keys"]
        .as_array_mut()
        .unwrap()
        .push(rotated.jwk());
    let token = rotated.sign(&claims(&issuer));
    let response = svc.clone().oneshot(with_bearer(&token)).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), 1);
    // ...a flood of made-up kids neither...
    let junk = Signer::new("made-up");
    for _ in 0..5 {
        let _ = svc
            .clone()
            .oneshot(with_bearer(&junk.sign(&claims(&issuer))))
            .await
            .unwrap();
    }
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), 1);
    // ...but once the interval has passed, one refetch finds k2.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let response = svc.clone().oneshot(with_bearer(&token)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_unreachable_idp_is_503() {
    let signer = Signer::new("k1");
    let (issuer, idp) = idp(&[&signer]).await;
    *idp.jwks_down.lock().unwrap() = true;
    let response = layer(exchange_config(&issuer))
        .layer(echo_app())
        .oneshot(with_bearer(&signer.sign(&claims(&issuer))))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        text(response)
            .await
            .contains("identity provider is unavailable")
    );
}

#[tokio::test]
async fn no_bearer_passes_and_gets_the_bearer_challenge() {
    let signer = Signer::new("k1");
    let (issuer, idp) = idp(&[&signer]).await;
    let svc = layer(exchange_config(&issuer)).layer(echo_app());
    for req in [
        Request::head("/-/").body(Body::empty()).unwrap(),
        Request::get("/")
            .header("authorization", "Basic dXNlcjpwdw==")
            .body(Body::empty())
            .unwrap(),
    ] {
        let response = svc.clone().oneshot(req).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"snf-occi\""
        );
        assert_eq!(text(response).await, "who?");
    }
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn exchange_refusals_and_failures() {
    let signer = Signer::new("k1");
    let (issuer, _) = idp(&[&signer]).await;
    let token = signer.sign(&claims(&issuer));
    let base = issuer.trim_end_matches("/realm");
    // Keystone maps nobody for this subject: 401 -> no account.
    let refused = JwtAuthConfig::new(&issuer, AUD).with_exchange_url(format!("{base}/v3/refuse"));
    let response = layer(refused)
        .layer(echo_app())
        .oneshot(with_bearer(&token))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        text(response)
            .await
            .contains("no cloud account corresponds to this identity (No mapping for this user)")
    );

    // A wrong exchange URL (404) is the site's problem, not the user's.
    let wrong = JwtAuthConfig::new(&issuer, AUD).with_exchange_url(format!("{base}/v3/nowhere"));
    let response = layer(wrong)
        .layer(echo_app())
        .oneshot(with_bearer(&token))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let down = JwtAuthConfig::new(&issuer, AUD).with_exchange_url(format!("http://{addr}/v3/auth"));
    let response = layer(down)
        .layer(echo_app())
        .oneshot(with_bearer(&token))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        text(response)
            .await
            .contains("token exchange service is unavailable")
    );
}
