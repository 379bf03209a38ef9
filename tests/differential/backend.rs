//! One Synnefo the differential scenario runs against: the embedded
//! simulator or a real Synnefo, reached the same way (over HTTP, its
//! endpoints found in its own service catalog), and what was seen of it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use super::shape::{Fault, Obs, Shape, values_of};

/// How long a state change may take before the scenario gives up.
pub const STATE_TIMEOUT: Duration = Duration::from_secs(120);
/// The pause between two polls of a state.
const POLL_PAUSE: Duration = Duration::from_millis(100);

/// Which backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The embedded simulator.
    Simulator,
    /// A real Synnefo.
    Synnefo,
}

impl Kind {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Simulator => "simulator",
            Kind::Synnefo => "synnefo",
        }
    }
}

/// The user a call is made as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum User {
    /// The first token ("alice").
    Alice,
    /// The second token ("bob").
    Bob,
    /// No `X-Auth-Token` at all.
    Anonymous,
    /// A token no user has.
    Forged,
}

/// A service of the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Svc {
    /// `/identity/v2.0`.
    Identity,
    /// The `compute` endpoint.
    Compute,
    /// The `network` endpoint.
    Network,
    /// The `volume` endpoint.
    Volume,
}

/// What part of an answer a step compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Status, fault, shape and the enumerated values.
    Full,
    /// Status, fault and shape: the values may legitimately differ (a
    /// transition whose progress depends on timing).
    Shape,
}

/// An answer.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The status.
    pub status: u16,
    /// The body (`Null` when empty, a string when not JSON).
    pub body: Value,
}

impl Answer {
    /// A string or number at a JSON pointer, as text.
    pub fn text(&self, pointer: &str) -> String {
        match self.body.pointer(pointer) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            other => panic!("no {pointer} in {} (found {other:?})", self.body),
        }
    }
}

/// A thing the scenario made, to remove at the end whatever happened.
#[derive(Clone, Debug)]
pub struct Made {
    /// The service.
    pub svc: Svc,
    /// Its path (`/servers/12`).
    pub path: String,
    /// Its owner.
    pub user: User,
}

/// A backend, its catalog, and everything observed of it.
pub struct Backend {
    /// Which one.
    pub kind: Kind,
    http: reqwest::Client,
    identity: String,
    endpoints: BTreeMap<&'static str, String>,
    tokens: [String; 2],
    /// Placeholder -> value, for the normalization of messages.
    vars: Vec<(String, String)>,
    /// Ids of things the scenario made or uses (lists are cut to them).
    pub known: BTreeSet<String>,
    /// Observations, in order.
    pub obs: Vec<Obs>,
    /// What to delete at the end, in order of creation.
    pub made: Vec<Made>,
    /// The steps of the attempt in progress (see [`Backend::attempt`]).
    attempt_from: Option<usize>,
    /// Whether this (real) Synnefo answers an unknown server id with 400
    /// "Invalid server ID." instead of 404 "Server not found.": Synnefo
    /// 0.20's `api/util.py` `get_random_helper_vm` ends in
    /// `except IndexError, VirtualMachine.DoesNotExist:`, Python 2 for
    /// binding the IndexError to `VirtualMachine.DoesNotExist`, so once
    /// a detached volume was deleted on a site without helper servers,
    /// `get_vm` no longer catches `DoesNotExist` as such, for the life of
    /// the process. Steps that look up unknown servers are then skipped.
    pub helper_vm_bug: bool,
    /// The simulator's admin URL: its transitions complete when asked
    /// (`POST /_sim/jobs/complete`), as a real Synnefo's complete when
    /// Ganeti's jobs do.
    pub admin: Option<String>,
}

impl Backend {
    /// Connects to the identity service at `identity` (`.../identity/v2.0`)
    /// with two users' tokens, and reads the endpoints from the catalog
    /// as Synnefo's own clients do (`publicURL`, plus `versionId` when
    /// `SNF:exposeVersion` is false).
    pub async fn connect(kind: Kind, identity: &str, tokens: [String; 2]) -> Backend {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        let identity = identity.trim_end_matches('/').to_owned();
        let access: Value = http
            .post(format!("{identity}/tokens"))
            .json(&json!({"auth": {"token": {"id": tokens[0]}}}))
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{}: the identity service at {identity} is unreachable: {e}",
                    kind.name()
                )
            })
            .json()
            .await
            .expect("the token answer is JSON");
        let mut endpoints = BTreeMap::new();
        let catalog = access
            .pointer("/access/serviceCatalog")
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{}: no serviceCatalog in {access}", kind.name()));
        for service in ["compute", "network", "volume", "image"] {
            let endpoint = catalog
                .iter()
                .find(|s| s["type"] == service)
                .and_then(|s| s.pointer("/endpoints/0"))
                .unwrap_or_else(|| panic!("{}: no {service} in the catalog", kind.name()));
            let url = endpoint["publicURL"].as_str().expect("publicURL");
            let exposed = match &endpoint["SNF:exposeVersion"] {
                Value::Bool(b) => *b,
                Value::String(s) => !s.eq_ignore_ascii_case("false"),
                _ => true,
            };
            let url = if exposed {
                url.trim_end_matches('/').to_owned()
            } else {
                let version = endpoint["versionId"].as_str().unwrap_or_default();
                format!("{}/{version}", url.trim_end_matches('/'))
            };
            endpoints.insert(service, url);
        }
        let mut backend = Backend {
            kind,
            http,
            identity,
            endpoints,
            tokens,
            vars: Vec::new(),
            known: BTreeSet::new(),
            obs: Vec::new(),
            made: Vec::new(),
            attempt_from: None,
            helper_vm_bug: false,
            admin: None,
        };
        let [a, b] = backend.tokens.clone();
        backend.var("alice_token", &a);
        backend.var("bob_token", &b);
        backend
    }

    fn base(&self, svc: Svc) -> &str {
        match svc {
            Svc::Identity => &self.identity,
            Svc::Compute => &self.endpoints["compute"],
            Svc::Network => &self.endpoints["network"],
            Svc::Volume => &self.endpoints["volume"],
        }
    }

    /// Remembers a value by name: messages show `{name}` in its place,
    /// and lists keep only the entries whose id is known.
    pub fn var(&mut self, name: &str, value: &str) {
        if value.is_empty() {
            return;
        }
        self.vars.retain(|(n, _)| n != name);
        self.vars.push((name.to_owned(), value.to_owned()));
        self.vars.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
        self.known.insert(value.to_owned());
    }

    /// Whether a value was remembered under `name`.
    pub fn vars_has(&self, name: &str) -> bool {
        self.vars.iter().any(|(n, _)| n == name)
    }

    /// A remembered value.
    pub fn v(&self, name: &str) -> String {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{}: no variable {name}", self.kind.name()))
    }

    /// `text` with every remembered value (standing alone, not inside a
    /// longer word or number) replaced by `{name}`, or by `{id}` for a
    /// number (small integer ids of different kinds coincide, so which
    /// one a number is cannot be told from the text).
    pub fn normalize(&self, text: &str) -> String {
        let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-');
        let mut out = text.to_owned();
        for (name, value) in &self.vars {
            let placeholder = if value.bytes().all(|b| b.is_ascii_digit()) {
                "{id}".to_owned()
            } else {
                format!("{{{name}}}")
            };
            let mut result = String::with_capacity(out.len());
            let mut from = 0;
            while let Some(found) = out[from..].find(value.as_str()) {
                let at = from + found;
                let end = at + value.len();
                let before = out[..at].chars().next_back();
                let after = out[end..].chars().next();
                result.push_str(&out[from..at]);
                if word(before) || word(after) {
                    result.push_str(value);
                } else {
                    result.push_str(&placeholder);
                }
                from = end;
            }
            result.push_str(&out[from..]);
            out = result;
        }
        out
    }

    /// Sends a request (no observation).
    pub async fn send(
        &self,
        user: User,
        method: Method,
        svc: Svc,
        path: &str,
        body: Option<&Value>,
    ) -> Answer {
        let url = format!("{}{path}", self.base(svc));
        let mut request = self.http.request(method.clone(), &url);
        match user {
            User::Alice => request = request.header("X-Auth-Token", &self.tokens[0]),
            User::Bob => request = request.header("X-Auth-Token", &self.tokens[1]),
            User::Forged => {
                request = request.header("X-Auth-Token", "forged-token-000000000000000000")
            }
            User::Anonymous => {}
        }
        if let Some(body) = body {
            request = match body {
                // A raw (possibly invalid) body is given as a JSON string
                // starting with `raw:`.
                Value::String(s) if s.starts_with("raw:") => request
                    .header("content-type", "application/json")
                    .body(s["raw:".len()..].to_owned()),
                _ => request.json(body),
            };
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: {method} {url}: {e}", self.kind.name()));
        let status = response.status().as_u16();
        let text = response.text().await.expect("answer body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer { status, body }
    }

    /// Sends a request and records what is compared of its answer under
    /// `step`; `view` may narrow the body first (lists to known ids, a
    /// catalog to the services used).
    #[allow(clippy::too_many_arguments)]
    pub async fn step_with(
        &mut self,
        step: &str,
        mode: Mode,
        user: User,
        method: Method,
        svc: Svc,
        path: &str,
        body: Option<Value>,
        view: impl FnOnce(&Backend, Value) -> Value,
    ) -> Answer {
        let answer = self
            .send(user, method.clone(), svc, path, body.as_ref())
            .await;
        let viewed = view(self, answer.body.clone());
        self.record(
            step,
            mode,
            &format!("{method} {path}"),
            answer.status,
            &viewed,
        );
        answer
    }

    /// [`Backend::step_with`] comparing the whole body.
    #[allow(clippy::too_many_arguments)] // a request's parts, as step_with's
    pub async fn step(
        &mut self,
        step: &str,
        mode: Mode,
        user: User,
        method: Method,
        svc: Svc,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        self.step_with(step, mode, user, method, svc, path, body, |_, v| v)
            .await
    }

    /// `GET path` as alice, compared in full.
    pub async fn get(&mut self, step: &str, svc: Svc, path: &str) -> Answer {
        self.step(step, Mode::Full, User::Alice, Method::GET, svc, path, None)
            .await
    }

    /// `GET path` as `user`, compared in full.
    pub async fn get_as(&mut self, step: &str, user: User, svc: Svc, path: &str) -> Answer {
        self.step(step, Mode::Full, user, Method::GET, svc, path, None)
            .await
    }

    /// `GET path` as alice, its list at `key` cut to the known ids.
    pub async fn list(&mut self, step: &str, svc: Svc, path: &str, key: &'static str) -> Answer {
        self.step_with(
            step,
            Mode::Full,
            User::Alice,
            Method::GET,
            svc,
            path,
            None,
            move |b, v| known_only(b, v, key),
        )
        .await
    }

    /// `POST path` as alice with `body`, compared in full.
    pub async fn post(&mut self, step: &str, svc: Svc, path: &str, body: Value) -> Answer {
        self.step(
            step,
            Mode::Full,
            User::Alice,
            Method::POST,
            svc,
            path,
            Some(body),
        )
        .await
    }

    /// `PUT path` as alice with `body`, compared in full.
    pub async fn put(&mut self, step: &str, svc: Svc, path: &str, body: Value) -> Answer {
        self.step(
            step,
            Mode::Full,
            User::Alice,
            Method::PUT,
            svc,
            path,
            Some(body),
        )
        .await
    }

    /// `DELETE path` as alice, compared in full.
    pub async fn delete(&mut self, step: &str, svc: Svc, path: &str) -> Answer {
        self.step(
            step,
            Mode::Full,
            User::Alice,
            Method::DELETE,
            svc,
            path,
            None,
        )
        .await
    }

    /// `POST path` as alice without observing the answer (setting up).
    pub async fn make(&self, svc: Svc, path: &str, body: Value) -> Answer {
        self.send(User::Alice, Method::POST, svc, path, Some(&body))
            .await
    }

    /// Records an observation of an answer.
    pub fn record(&mut self, step: &str, mode: Mode, request: &str, status: u16, body: &Value) {
        assert!(
            !self.obs.iter().any(|o| o.step == step),
            "step {step:?} is recorded twice"
        );
        let request = self.normalize(request);
        let mut obs = Obs {
            step: step.to_owned(),
            request,
            status,
            skipped: None,
            shape: None,
            values: BTreeMap::new(),
            fault: None,
            text: None,
        };
        if let Some((kind, inner)) = Fault::of(body) {
            let text = |k: &str| match &inner[k] {
                Value::String(s) => self.normalize(s),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            obs.fault = Some(Fault {
                kind,
                code: inner["code"].to_string(),
                message: text("message"),
                // Details carry quota numbers, not ids: they are not
                // normalized by the run's values.
                details: digits(&match &inner["details"] {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                }),
            });
        } else {
            match body {
                Value::Null => obs.text = Some(String::new()),
                Value::String(s) => obs.text = Some(self.normalize(s)),
                v => {
                    obs.shape = Some(Shape::of(v, false));
                    if mode == Mode::Full {
                        obs.values = values_of(v);
                    }
                }
            }
        }
        self.obs.push(obs);
    }

    /// Records that `step` could not be observed here (its precondition
    /// did not hold), so that it is not compared.
    pub fn skip(&mut self, step: &str, why: &str) {
        self.obs.push(Obs {
            step: step.to_owned(),
            request: String::new(),
            status: 0,
            skipped: Some(why.to_owned()),
            shape: None,
            values: BTreeMap::new(),
            fault: None,
            text: None,
        });
    }

    /// Starts an attempt: its steps can be dropped with
    /// [`Backend::abandon`] when a state it relied on was gone before
    /// its end (a real Ganeti job finished meanwhile).
    pub fn attempt(&mut self) {
        self.attempt_from = Some(self.obs.len());
    }

    /// Drops the steps of the attempt in progress.
    pub fn abandon(&mut self) {
        if let Some(from) = self.attempt_from.take() {
            self.obs.truncate(from);
        }
    }

    /// Ends the attempt in progress, keeping its steps.
    pub fn keep(&mut self) {
        self.attempt_from = None;
    }

    /// Polls `GET path` until `done` holds of the answer, or panics after
    /// [`STATE_TIMEOUT`] naming the last answer.
    pub async fn wait(
        &self,
        what: &str,
        user: User,
        svc: Svc,
        path: &str,
        done: impl Fn(&Answer) -> bool,
    ) -> Answer {
        let start = Instant::now();
        loop {
            if let Some(admin) = &self.admin {
                let r = self
                    .http
                    .post(format!("{admin}/jobs/complete"))
                    .send()
                    .await
                    .expect("simulator admin");
                assert!(
                    r.status().is_success(),
                    "POST /_sim/jobs/complete: {}",
                    r.status()
                );
            }
            let answer = self.send(user, Method::GET, svc, path, None).await;
            if done(&answer) {
                return answer;
            }
            if start.elapsed() > STATE_TIMEOUT {
                panic!(
                    "{}: {what}: still not there after {STATE_TIMEOUT:?}: {} {}",
                    self.kind.name(),
                    answer.status,
                    answer.body
                );
            }
            tokio::time::sleep(POLL_PAUSE).await;
        }
    }

    /// Polls a server until its status is `status` and it has no task
    /// (a deleted server keeps its `DESTROYING` task in Synnefo).
    pub async fn wait_server(&self, id: &str, status: &str) -> Answer {
        self.wait(
            &format!("server {id} {status}"),
            User::Alice,
            Svc::Compute,
            &format!("/servers/{id}"),
            |a| {
                a.status == 200
                    && a.body.pointer("/server/status").and_then(Value::as_str) == Some(status)
                    && (status == "DELETED"
                        || a.body
                            .pointer("/server/SNF:task_state")
                            .and_then(Value::as_str)
                            .is_none_or(str::is_empty))
            },
        )
        .await
    }

    /// A server's status and task, as `STATUS/TASK`.
    pub async fn server_state(&self, id: &str) -> String {
        let a = self
            .send(
                User::Alice,
                Method::GET,
                Svc::Compute,
                &format!("/servers/{id}"),
                None,
            )
            .await;
        format!(
            "{}/{}",
            a.body
                .pointer("/server/status")
                .and_then(Value::as_str)
                .unwrap_or("?"),
            a.body
                .pointer("/server/SNF:task_state")
                .and_then(Value::as_str)
                .unwrap_or("")
        )
    }

    /// Remembers to delete `path` at the end.
    pub fn made(&mut self, user: User, svc: Svc, path: String) {
        self.made.push(Made { svc, path, user });
    }

    /// Deletes what the scenario made, newest first; servers are waited
    /// for (their ports and disks go with them) before the networks, IPs
    /// and volumes they used.
    pub async fn clean_up(&mut self) {
        let made = std::mem::take(&mut self.made);
        let (servers, others): (Vec<_>, Vec<_>) = made
            .into_iter()
            .partition(|m| m.path.starts_with("/servers/"));
        for m in servers.iter().rev() {
            let _ = self
                .send(m.user, Method::DELETE, m.svc, &m.path, None)
                .await;
        }
        for m in servers.iter().rev() {
            self.wait(
                &format!("{} deleted", m.path),
                m.user,
                m.svc,
                &m.path,
                |a| {
                    a.status == 404
                        || a.body.pointer("/server/status").and_then(Value::as_str)
                            == Some("DELETED")
                },
            )
            .await;
        }
        // A port or attachment goes first; a volume, IP or network may
        // still be held for a moment by what was just removed.
        for m in others.iter().rev() {
            let start = Instant::now();
            loop {
                let a = self
                    .send(m.user, Method::DELETE, m.svc, &m.path, None)
                    .await;
                if a.status < 300 || a.status == 404 || start.elapsed() > STATE_TIMEOUT {
                    if a.status >= 300 && a.status != 404 {
                        eprintln!(
                            "{}: could not delete {}: {} {}",
                            self.kind.name(),
                            m.path,
                            a.status,
                            a.body
                        );
                    }
                    break;
                }
                // A deleted network answers 400 "has been deleted".
                if a.status == 400 && a.body.to_string().contains("has been deleted") {
                    break;
                }
                tokio::time::sleep(POLL_PAUSE * 5).await;
            }
        }
    }
}

/// Runs of 4 or more digits (sizes and remaining quotas in fault
/// details, which depend on what the account already holds) as `<n>`.
fn digits(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once('\0')) {
        if c.is_ascii_digit() {
            run.push(c);
            continue;
        }
        if run.len() >= 4 {
            out.push_str("<n>");
        } else {
            out.push_str(&run);
        }
        run.clear();
        if c != '\0' {
            out.push(c);
        }
    }
    out
}

/// The listing (`servers`, `ports`, ...) a remembered value's name
/// belongs to, if it names an id.
fn list_of(var: &str) -> Option<&'static str> {
    Some(match var {
        "server1" | "server2" => "servers",
        v if v.starts_with("server1_port") => "ports",
        "port" | "port_alone" | "fip_port" => "ports",
        "net" | "net_gone" | "public" => "networks",
        "subnet" | "public_subnet" | "subnet_gone" => "subnets",
        "volume1" | "volume_gone" | "volume3" | "volume_build" | "server1_root" => "volumes",
        v if v.starts_with("fip") && !v.ends_with("_address") => "floatingips",
        _ => return None,
    })
}

/// Keeps, in the list at `key` of `body`, only the entries whose `id` the
/// run remembered for that listing (things it made, and the public ones
/// it uses), so that what else the accounts hold does not matter.
pub fn known_only(b: &Backend, mut body: Value, key: &str) -> Value {
    let ids: BTreeSet<&str> = b
        .vars
        .iter()
        .filter(|(name, _)| list_of(name) == Some(key))
        .map(|(_, v)| v.as_str())
        .collect();
    if let Some(list) = body.get_mut(key).and_then(Value::as_array_mut) {
        list.retain(|e| {
            let id = match &e["id"] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return false,
            };
            ids.contains(id.as_str())
        });
    }
    body
}
