//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use snf_occi::config::Config;
use snf_occi::middleware::{Body, BoxHttp, HttpResponse};
use snf_occi::pipeline::{BuildContext, BuildErrors, Registry};

/// The body of a response as text.
pub async fn body_text(res: HttpResponse) -> String {
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Builds the whole service of a TOML configuration with the built-ins.
pub async fn build(toml: &str) -> Result<BoxHttp, BuildErrors> {
    build_with(Registry::with_builtins(), toml).await
}

/// Builds the whole service of a TOML configuration with `registry`.
pub async fn build_with(registry: Registry, toml: &str) -> Result<BoxHttp, BuildErrors> {
    let config = Config::from_toml_str(toml).unwrap_or_else(|e| panic!("config rejected: {e}"));
    let ctx = BuildContext::new(Arc::new(config)).expect("context");
    registry.build_service(&ctx).await
}

/// A GET request.
pub fn get(uri: &str) -> http::Request<Body> {
    http::Request::get(uri)
        .body(Body::empty())
        .expect("request")
}

/// A running simulator plus the OCCI gateway in front of it, both on
/// 127.0.0.1:0; dropping it stops both.
pub struct Gateway {
    /// The simulator (counters, faults, users).
    pub sim: snf_occi_simulator::RunningSimulator,
    /// The gateway's base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The default pipeline's filters in front of `app = "occi"` (keystone
/// auth on the simulator), with `extra` appended to `[app.occi]`.
pub fn occi_toml(identity_url: &str, extra: &str) -> String {
    occi_toml_with(identity_url, "", extra)
}

/// [`occi_toml`] with `synnefo` appended to the `[synnefo]` table (after
/// its `identity_url`) and `extra` to `[app.occi]` (last in the file, so
/// `extra` may open tables of its own).
pub fn occi_toml_with(identity_url: &str, synnefo: &str, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
public_url = "http://gateway.test"

[store]
url = "sqlite::memory:"

[synnefo]
identity_url = "{identity_url}"
{synnefo}

[pipeline]
filters = ["request_id", "occi_negotiate", "keystone"]
app = "occi"

[filter.keystone]
use = "keystone_auth"

[app.occi]
{extra}
"#
    )
}

/// Starts an instant simulator (`adjust` may change its configuration)
/// and the gateway (`[app.occi]` gets `extra`), with `server.public_url`
/// set to the gateway's real address.
pub async fn start_gateway_with(
    adjust: impl FnOnce(&mut snf_occi_simulator::SimulatorConfig),
    extra: &str,
) -> Gateway {
    start_gateway_config(adjust, |identity_url| occi_toml(identity_url, extra)).await
}

/// [`start_gateway_with`], with `synnefo` appended to `[synnefo]` too.
pub async fn start_gateway_synnefo(
    adjust: impl FnOnce(&mut snf_occi_simulator::SimulatorConfig),
    synnefo: &str,
    extra: &str,
) -> Gateway {
    start_gateway_config(adjust, |identity_url| {
        occi_toml_with(identity_url, synnefo, extra)
    })
    .await
}

/// [`start_gateway_with`] with the whole gateway configuration written by
/// `toml` (given the simulator's identity URL); `http://gateway.test` in
/// it becomes the gateway's real address.
pub async fn start_gateway_config(
    adjust: impl FnOnce(&mut snf_occi_simulator::SimulatorConfig),
    toml: impl FnOnce(&str) -> String,
) -> Gateway {
    use snf_occi_simulator::{SimulatorConfig, start};
    let mut sim_config = SimulatorConfig::instant("127.0.0.1:0".parse().expect("addr"));
    adjust(&mut sim_config);
    let sim = start(&sim_config).await.expect("simulator starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let url = format!("http://{addr}");
    let toml = toml(&sim.identity_url()).replace("http://gateway.test", &url);
    let config = Config::from_toml_str(&toml).unwrap_or_else(|e| panic!("config rejected: {e}"));
    let limits = config.server.limits.clone();
    let ctx = BuildContext::new(Arc::new(config)).expect("context");
    let service = Registry::with_builtins()
        .build_service(&ctx)
        .await
        .unwrap_or_else(|e| panic!("build failed: {e}"));
    let server = snf_occi::server::Server::from_listener(listener, service, limits);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = server
            .serve(async {
                let _ = stopped.await;
            })
            .await;
    });
    Gateway {
        sim,
        url,
        stop: Some(stop),
    }
}

/// [`start_gateway_with`] with the simulator's defaults.
pub async fn start_gateway() -> Gateway {
    start_gateway_with(|_| {}, "").await
}

/// An HTTP client that sends `token` as `X-Auth-Token` on every request.
pub fn client_for(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "x-auth-token",
        reqwest::header::HeaderValue::from_str(token).expect("token header"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client")
}

impl Gateway {
    /// The token of the simulator's `n`th user (0 = alice, 1 = bob).
    pub fn token(&self, n: usize) -> String {
        self.sim.users()[n].token.clone()
    }

    /// The uuid of the simulator's `n`th user.
    pub fn user(&self, n: usize) -> String {
        self.sim.users()[n].uuid.clone()
    }

    /// A client for the simulator's `n`th user.
    pub fn client(&self, n: usize) -> reqwest::Client {
        client_for(&self.token(n))
    }

    /// The absolute URL of `path` on the gateway.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Synnefo calls counted since the last reset, by `METHOD path-class`
    /// (see `/_sim/counters`), excluding identity calls (the auth filter's
    /// token validation is cached, but not the first time).
    pub fn calls(&self) -> std::collections::BTreeMap<String, u64> {
        self.sim.counters()
    }

    /// `POST path` as user `n` with a text/plain OCCI body: the status,
    /// the `Location` header and the body.
    pub async fn post_text(
        &self,
        n: usize,
        path: &str,
        body: String,
    ) -> (reqwest::StatusCode, Option<String>, String) {
        let res = self
            .client(n)
            .post(self.at(path))
            .header("content-type", "text/plain")
            .body(body)
            .send()
            .await
            .expect("POST reaches the gateway");
        let status = res.status();
        let location = res
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        (status, location, res.text().await.expect("body"))
    }

    /// An OCCI update of `path` as user `n`: full (`PUT`) or partial
    /// (`POST`), the body in `content_type`, which is also the rendering
    /// asked for. The status and the body.
    pub async fn update(
        &self,
        n: usize,
        full: bool,
        path: &str,
        content_type: &str,
        body: String,
    ) -> (reqwest::StatusCode, String) {
        let client = self.client(n);
        let req = if full {
            client.put(self.at(path))
        } else {
            client.post(self.at(path))
        };
        let res = req
            .header("content-type", content_type)
            .header("accept", content_type)
            .body(body)
            .send()
            .await
            .expect("the update reaches the gateway");
        (res.status(), res.text().await.expect("body"))
    }

    /// User `n`'s `GET` of `path` (a Synnefo API path) straight from the
    /// simulator, past the gateway: what Synnefo itself shows.
    pub async fn synnefo_json(&self, n: usize, path: &str) -> serde_json::Value {
        self.client(n)
            .get(format!("{}{path}", self.sim.url()))
            .send()
            .await
            .expect("simulator answer")
            .json()
            .await
            .expect("simulator JSON")
    }

    /// The simulator's `/_sim/state` summary (counts of servers, volumes,
    /// floating IPs, ...).
    pub async fn sim_state(&self) -> serde_json::Value {
        reqwest::get(format!("{}/_sim/state", self.sim.url()))
            .await
            .expect("simulator state")
            .json()
            .await
            .expect("state JSON")
    }

    /// The total number of Synnefo calls (identity excluded) since the
    /// last reset.
    pub fn backend_calls(&self) -> u64 {
        self.sim
            .counters()
            .iter()
            .filter(|(k, _)| !k.contains("identity") && !k.contains("tokens"))
            .map(|(_, v)| *v)
            .sum()
    }
}
