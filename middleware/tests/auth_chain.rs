//! The three filters chained, and what reaches the logs.

mod auth_support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use http::{Request, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rcgen::KeyPair;
use snf_occi_middleware::auth::{
    AstakosTokens, AuthLayer, JwtAuthConfig, KeystoneAuthConfig, VomsExchangeConfig,
};
use snf_occi_middleware::{Body, HttpRequest, HttpResponse, PeerCertificates, RemoteAddr};
use tower::{ServiceBuilder, ServiceExt};

use auth_support::pki::{AcSpec, Pki, ProxySpec};
use auth_support::{access, echo_app, serve, text};

const GOOD_TOKEN: &str = "astakos-token-0123456789";
const SYNNEFO_FED_TOKEN: &str = "fed-synnefo-token-abcdef";

async fn astakos_tokens(Json(body): Json<serde_json::Value>) -> Response {
    if body["auth"]["token"]["id"] == GOOD_TOKEN {
        Json(access(
            GOOD_TOKEN,
            "ks-user",
            &["ks-user", "ks-project"],
            "2999-01-01T00:00:00Z",
        ))
        .into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"unauthorized": {"message": "Invalid token"}})),
        )
            .into_response()
    }
}

async fn astavoms_tokens() -> Response {
    let mut answer = access(
        "voms-token-value",
        "voms-user",
        &["voms-user"],
        "2999-01-01T00:00:00Z",
    );
    answer["access"]["token"]["tenant"] = serde_json::json!({"id": "vo-project"});
    (StatusCode::ACCEPTED, Json(answer)).into_response()
}

struct World {
    base: String,
    signer: KeyPair,
}

async fn world() -> World {
    let signer = KeyPair::generate().unwrap();
    let raw = signer.public_key_raw().to_vec();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwks = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "x": b64(&raw[1..33]), "y": b64(&raw[33..65]), "kid": "k", "alg": "ES256"}]});
    let router = axum::Router::new()
        .route("/identity/v2.0/tokens", post(astakos_tokens))
        .route("/astavoms/v2.0/tokens", post(astavoms_tokens))
        .route("/oidc/keys", get(move || async move { Json(jwks) }))
        .route(
            "/v3/auth",
            post(|| async {
                let body = serde_json::json!({"token": {"user": {"id": "oidc-user"}, "project": {"id": "oidc-project"}}});
                (StatusCode::CREATED, [("x-subject-token", SYNNEFO_FED_TOKEN)], Json(body))
            }),
        );
    let addr = serve(router).await;
    World {
        base: format!("http://{addr}"),
        signer,
    }
}

impl World {
    fn bearer(&self, sub: &str) -> String {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = serde_json::json!({"iss": format!("{}/oidc", self.base), "aud": "snf-occi", "sub": sub, "exp": now + 600});
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("k".into());
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_ec_der(&self.signer.serialize_der()),
        )
        .unwrap()
    }

    /// keystone_auth, voms_exchange, jwt_auth, app (request order).
    fn pipeline(
        &self,
    ) -> impl tower::Service<
        HttpRequest,
        Response = HttpResponse,
        Error = std::convert::Infallible,
        Future: Send,
    > + Clone {
        let client = reqwest::Client::new();
        let keystone = AuthLayer::keystone(
            KeystoneAuthConfig::default().with_keystone_url(format!("{}/astavoms/v2.0", self.base)),
            AstakosTokens::new(&format!("{}/identity/v2.0", self.base), client.clone()).unwrap(),
        )
        .unwrap();
        let voms = AuthLayer::voms(
            VomsExchangeConfig::default().with_astavoms_url(format!("{}/astavoms", self.base)),
            client.clone(),
        )
        .unwrap();
        let jwt = AuthLayer::jwt(
            JwtAuthConfig {
                timeout: Duration::from_secs(2),
                ..JwtAuthConfig::new(format!("{}/oidc", self.base), "snf-occi")
            }
            .with_jwks_url(format!("{}/oidc/keys", self.base))
            .with_exchange_url(format!("{}/v3/auth", self.base)),
            client,
        )
        .unwrap();
        ServiceBuilder::new()
            .layer(keystone)
            .layer(voms)
            .layer(jwt)
            .service(echo_app())
    }
}

#[tokio::test]
async fn the_first_filter_with_a_credential_decides() {
    let world = world().await;
    let app = world.pipeline();

    // A token (and a bearer too): keystone_auth, outermost, wins.
    let req = Request::get("/")
        .header("x-auth-token", GOOD_TOKEN)
        .header("authorization", format!("Bearer {}", world.bearer("alice")))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        text(app.clone().oneshot(req).await.unwrap()).await,
        format!("ks-user ks-project keystone_auth {GOOD_TOKEN}")
    );

    // A proxy over TLS: voms_exchange.
    let pki = Pki::new();
    let proxy = pki.proxy(&ProxySpec {
        ac: Some(pki.ac(&AcSpec::default())),
        ..Default::default()
    });
    let mut req = Request::get("/").body(Body::empty()).unwrap();
    req.extensions_mut()
        .insert(PeerCertificates(Arc::new(proxy.chain.clone())));
    req.extensions_mut()
        .insert(RemoteAddr("127.0.0.1:1".parse().unwrap()));
    assert_eq!(
        text(app.clone().oneshot(req).await.unwrap()).await,
        "voms-user vo-project voms_exchange voms-token-value"
    );

    // A bearer only: jwt_auth.
    let req = Request::get("/")
        .header("authorization", format!("Bearer {}", world.bearer("alice")))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        text(app.clone().oneshot(req).await.unwrap()).await,
        format!("oidc-user oidc-project jwt_auth {SYNNEFO_FED_TOKEN}")
    );

    // Nothing: the app's 401 with exactly one challenge, the innermost
    // filter's (put keystone_auth last to advertise Keystone to rOCCI).
    let response = app
        .clone()
        .oneshot(Request::head("/-/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenges: Vec<_> = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .collect();
    assert_eq!(challenges, vec!["Bearer realm=\"snf-occi\""]);
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn credentials_never_reach_the_logs_or_bodies() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let world = world().await;
    let app = world.pipeline();
    let bad_bearer = format!("{}x", world.bearer("mallory"));
    let requests = [
        Request::get("/")
            .header("x-auth-token", GOOD_TOKEN)
            .body(Body::empty())
            .unwrap(),
        Request::get("/")
            .header("x-auth-token", "wrong-secret-token-42")
            .body(Body::empty())
            .unwrap(),
        Request::get("/")
            .header("authorization", format!("Bearer {bad_bearer}"))
            .body(Body::empty())
            .unwrap(),
        Request::get("/")
            .header("authorization", format!("Bearer {}", world.bearer("alice")))
            .body(Body::empty())
            .unwrap(),
    ];
    let mut bodies = String::new();
    for req in requests {
        let response = app.clone().oneshot(req).await.unwrap();
        if response.status() != StatusCode::OK {
            bodies.push_str(&text(response).await);
        }
    }
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("keystone_auth") && logs.contains("jwt_auth"),
        "the capture works: {logs}"
    );
    for secret in [
        GOOD_TOKEN,
        "wrong-secret-token-42",
        &bad_bearer[bad_bearer.len() - 30..],
        SYNNEFO_FED_TOKEN,
    ] {
        assert!(!logs.contains(secret), "{secret} logged");
        assert!(!bodies.contains(secret), "{secret} in an error body");
    }
}
