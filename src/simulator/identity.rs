//! Astakos identity v2.0 (tokens, tenants, user catalogs) and the
//! astavoms Keystone v2.0 facade that exchanges a VOMS proxy for a token.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::api::Authed;
use super::fault::{Fault, json};
use super::seed::VomsUserSeed;
use super::serve::Sim;

pub(crate) fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/identity/v2.0", get(identity_version))
        .route("/identity/v2.0/tokens", post(tokens))
        .route("/identity/v2.0/tenants", get(tenants))
        .route("/account/v1.0/user_catalogs", post(user_catalogs))
        .route("/astavoms", get(astavoms_versions))
        .route("/astavoms/v2.0", get(astavoms_version))
        .route("/astavoms/v2.0/tokens", post(astavoms_tokens))
        .route("/astavoms/v2.0/tenants", get(astavoms_tenants))
}

fn version_object(self_url: &str) -> Value {
    json!({
        "status": "stable", "updated": "2014-04-17T00:00:00Z",
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v2.0+json"}],
        "id": "v2.0",
        "links": [{"href": self_url, "rel": "self"}, {"href": "http://docs.openstack.org/", "rel": "describedby", "type": "text/html"}],
    })
}

async fn identity_version(State(sim): State<Arc<Sim>>) -> Response {
    let url = format!("{}/identity/v2.0", sim.world().base());
    json(StatusCode::OK, json!({ "version": version_object(&url) }))
}

/// `POST /identity/v2.0/tokens`: no body gives the public catalog; a
/// token, or passwordCredentials {username = UUID, password = token},
/// gives the full access answer.
async fn tokens(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let world = sim.world();
    if body.iter().all(u8::is_ascii_whitespace) {
        return json(
            StatusCode::OK,
            json!({"access": {"serviceCatalog": world.catalog()}}),
        );
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return Fault::bad_request("Could not decode request body as JSON").into_response();
    };
    let Some(auth) = request.get("auth") else {
        return Fault::bad_request("Malformed request: missing credentials").into_response();
    };
    let (token, uuid) = if let Some(t) = auth.pointer("/token/id").and_then(Value::as_str) {
        (t, None)
    } else if let Some(creds) = auth.get("passwordCredentials") {
        match (
            creds.get("username").and_then(Value::as_str),
            creds.get("password").and_then(Value::as_str),
        ) {
            (Some(u), Some(p)) => (p, Some(u)),
            _ => {
                return Fault::bad_request("Malformed request: missing credentials")
                    .into_response();
            }
        }
    } else {
        return Fault::bad_request("Malformed request: missing credentials").into_response();
    };
    let Some(user) = world.user_by_token(token) else {
        return Fault::unauthorized("Invalid token").into_response();
    };
    if uuid.is_some_and(|u| u != user.uuid) {
        return Fault::unauthorized("Invalid credentials").into_response();
    }
    // Astakos accepts only the user's own UUID as tenantName.
    if let Some(tenant) = auth.get("tenantName").and_then(Value::as_str)
        && !tenant.is_empty()
        && tenant != user.uuid
    {
        return Fault::bad_request("Not conforming tenantName").into_response();
    }
    json(StatusCode::OK, world.access(user, None))
}

/// `GET /identity/v2.0/tenants`: the caller's projects.
async fn tenants(State(sim): State<Arc<Sim>>, Authed(user): Authed) -> Response {
    let list: Vec<Value> = user
        .projects
        .iter()
        .map(|p| {
            let name = if *p == user.uuid {
                format!("system project of {}", user.name)
            } else {
                p.clone()
            };
            json!({"id": p, "name": name, "enabled": true, "description": ""})
        })
        .collect();
    drop(sim);
    json(
        StatusCode::OK,
        json!({"tenants": list, "tenants_links": []}),
    )
}

/// `POST /account/v1.0/user_catalogs`: UUID <-> display name.
async fn user_catalogs(State(sim): State<Arc<Sim>>, Authed(_): Authed, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let world = sim.world();
    let mut uuid_catalog = serde_json::Map::new();
    let mut name_catalog = serde_json::Map::new();
    for uuid in request
        .get("uuids")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if let Some(u) = world.user(uuid) {
            uuid_catalog.insert(u.uuid.clone(), json!(u.name));
        }
    }
    for name in request
        .get("displaynames")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if let Some(u) = world.user_by_name(name) {
            name_catalog.insert(u.name.clone(), json!(u.uuid));
        }
    }
    json(
        StatusCode::OK,
        json!({"uuid_catalog": uuid_catalog, "displayname_catalog": name_catalog}),
    )
}

// ----------------------------------------------------------------- astavoms

fn astavoms_error(status: StatusCode, message: &str, extra: Option<(&str, &str)>) -> Response {
    let mut body = json!({ "message": message });
    if let (Some((kind, error)), Some(o)) = (extra, body.as_object_mut()) {
        o.insert("type".into(), json!(kind));
        o.insert("error".into(), json!(error));
    }
    json(status, body)
}

async fn astavoms_versions(State(sim): State<Arc<Sim>>) -> Response {
    let url = format!("{}/astavoms/v2.0", sim.world().base());
    json(
        StatusCode::MULTIPLE_CHOICES,
        json!({"versions": {"values": [version_object(&url)]}}),
    )
}

async fn astavoms_version(State(sim): State<Arc<Sim>>) -> Response {
    let url = format!("{}/astavoms/v2.0", sim.world().base());
    json(StatusCode::OK, json!({ "version": version_object(&url) }))
}

/// A DN as a list of `(KEY, value)` in holder-first (`/C=../CN=..`) order.
fn dn_components(dn: &str) -> Vec<(String, String)> {
    let parts: Vec<&str> = if dn.trim_start().starts_with('/') {
        dn.split('/').collect()
    } else {
        dn.split(',').collect()
    };
    parts
        .into_iter()
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_uppercase(), v.trim().to_owned()))
        .collect()
}

/// Whether a presented DN is `mapped` or a proxy of it (extra `CN=`s).
fn dn_matches(presented: &[(String, String)], mapped: &[(String, String)]) -> bool {
    let check = |p: &[(String, String)]| {
        p.len() >= mapped.len()
            && p[..mapped.len()] == *mapped
            && p[mapped.len()..].iter().all(|(k, _)| k == "CN")
    };
    if mapped.is_empty() {
        return false;
    }
    if check(presented) {
        return true;
    }
    let reversed: Vec<(String, String)> = presented.iter().rev().cloned().collect();
    check(&reversed)
}

/// Restores the newlines Apache flattens to spaces in forwarded PEM.
fn normalize_pem(raw: &str) -> String {
    let raw = raw.trim();
    let Some(body) = raw
        .strip_prefix("-----BEGIN CERTIFICATE-----")
        .and_then(|r| r.strip_suffix("-----END CERTIFICATE-----"))
    else {
        return raw.to_owned();
    };
    let b64: String = body.split_whitespace().collect::<Vec<_>>().join("\n");
    format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n")
}

fn subject_of_pem(raw: &str) -> Option<String> {
    let pem = normalize_pem(raw);
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    let cert = pem.parse_x509().ok()?;
    Some(cert.subject().to_string())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && !v.contains("(null)") && *v != "null")
}

/// The DNs the client presented: `SSL-Client-S-DN` and the subjects of
/// `SSL-Client-Cert` and `SSL-Client-Cert-Chain-0..` (any may match a
/// mapping). `Err` when certificate headers are present but none is
/// readable and no DN header was sent.
fn presented_dns(headers: &HeaderMap) -> Result<Vec<String>, ()> {
    let mut dns: Vec<String> = header(headers, "ssl-client-s-dn")
        .map(str::to_owned)
        .into_iter()
        .collect();
    let mut certs: Vec<&str> = header(headers, "ssl-client-cert").into_iter().collect();
    for i in 0.. {
        match header(headers, &format!("ssl-client-cert-chain-{i}")) {
            Some(c) => certs.push(c),
            None => break,
        }
    }
    let readable: Vec<String> = certs.iter().filter_map(|c| subject_of_pem(c)).collect();
    if dns.is_empty() && !certs.is_empty() && readable.is_empty() {
        return Err(());
    }
    dns.extend(readable);
    Ok(dns)
}

fn resolve_voms<'a>(mappings: &'a [VomsUserSeed], dns: &[String]) -> Option<&'a VomsUserSeed> {
    let presented: Vec<Vec<(String, String)>> = dns.iter().map(|d| dn_components(d)).collect();
    mappings.iter().find(|m| {
        let mapped = dn_components(&m.dn);
        presented.iter().any(|p| dn_matches(p, &mapped))
    })
}

/// `POST /astavoms/v2.0/tokens` with `{"auth": {"voms": true}}` and the
/// client proxy in the `SSL-Client-*` headers: 202 and the Astakos access
/// answer of the mapped user, tenant = the VO's project.
async fn astavoms_tokens(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    if body.iter().all(u8::is_ascii_whitespace) {
        return astavoms_error(
            StatusCode::BAD_REQUEST,
            "Request is missing data input",
            None,
        );
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if request.pointer("/auth/voms").is_none() {
        return astavoms_error(
            StatusCode::BAD_REQUEST,
            "Input is missing some elements",
            None,
        );
    }
    let dns = match presented_dns(&headers) {
        Ok(dns) if !dns.is_empty() => dns,
        _ => {
            return astavoms_error(
                StatusCode::BAD_REQUEST,
                "Client proxy certificates are not well formated or missing",
                Some(("AstavomsInputIsMissing", "no readable client certificate")),
            );
        }
    };
    let world = sim.world();
    let Some(mapping) = resolve_voms(world.voms_users(), &dns) else {
        return astavoms_error(
            StatusCode::UNAUTHORIZED,
            "VOMS Authentication Failed",
            Some(("VomsError", "unknown holder")),
        );
    };
    let Some(user) = world.user(&mapping.user) else {
        return astavoms_error(
            StatusCode::UNAUTHORIZED,
            "VOMS Authentication Failed",
            Some(("VomsError", "unknown user")),
        );
    };
    let mut answer = world.access(user, Some((&mapping.project, &mapping.vo)));
    if let Some(o) = answer.as_object_mut() {
        o.insert("user".into(), json!(mapping.dn));
        o.insert(
            "userca".into(),
            json!("/C=GR/O=HellasGrid/OU=Certification Authorities/CN=HellasGrid CA 2016"),
        );
        o.insert(
            "server".into(),
            json!(format!("/C=GR/O=HellasGrid/CN=voms.{}", mapping.vo)),
        );
        o.insert(
            "serverca".into(),
            json!("/C=GR/O=HellasGrid/OU=Certification Authorities/CN=HellasGrid CA 2016"),
        );
        o.insert("voname".into(), json!(mapping.vo));
        o.insert("uri".into(), json!(format!("voms.{}:15000", mapping.vo)));
        o.insert("version".into(), json!(2));
        o.insert("serial".into(), json!("7"));
        o.insert("not_before".into(), json!("20160708080318Z"));
        o.insert("not_after".into(), json!("20360708200318Z"));
        o.insert(
            "fqans".into(),
            json!([format!("/{}/Role=NULL/Capability=NULL", mapping.vo)]),
        );
        o.insert("mail".into(), json!(user.name));
    }
    json(StatusCode::ACCEPTED, answer)
}

/// `GET /astavoms/v2.0/tenants`: the VO projects of the token's user, or
/// of the presented proxy.
async fn astavoms_tenants(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    let world = sim.world();
    let tenant = |m: &VomsUserSeed| json!({"id": m.project, "name": m.vo, "enabled": true, "description": ""});
    let list: Vec<Value> = if let Some(token) = header(&headers, "x-auth-token") {
        let Some(user) = world.user_by_token(token) else {
            return Fault::unauthorized("Invalid token").into_response();
        };
        world
            .voms_users()
            .iter()
            .filter(|m| m.user == user.uuid)
            .map(tenant)
            .collect()
    } else {
        match presented_dns(&headers) {
            Ok(dns) if !dns.is_empty() => match resolve_voms(world.voms_users(), &dns) {
                Some(m) => vec![tenant(m)],
                None => {
                    return astavoms_error(
                        StatusCode::UNAUTHORIZED,
                        "VOMS Authentication Failed",
                        Some(("VomsError", "unknown holder")),
                    );
                }
            },
            _ => {
                return astavoms_error(
                    StatusCode::BAD_REQUEST,
                    "X-Auth-token header or client proxy required",
                    None,
                );
            }
        }
    };
    json(
        StatusCode::OK,
        json!({"tenants": list, "tenants_links": []}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_dns_match_their_holder_in_either_notation() {
        let mapped = dn_components("/C=GR/O=HellasGrid/OU=example.org/CN=Alice Example");
        assert!(dn_matches(
            &dn_components("/C=GR/O=HellasGrid/OU=example.org/CN=Alice Example"),
            &mapped
        ));
        assert!(dn_matches(
            &dn_components("/C=GR/O=HellasGrid/OU=example.org/CN=Alice Example/CN=1234567"),
            &mapped
        ));
        assert!(dn_matches(
            &dn_components("C=GR, O=HellasGrid, OU=example.org, CN=Alice Example, CN=99"),
            &mapped
        ));
        assert!(dn_matches(
            &dn_components("CN=99,CN=Alice Example,OU=example.org,O=HellasGrid,C=GR"),
            &mapped
        ));
        assert!(!dn_matches(
            &dn_components("/C=GR/O=HellasGrid/OU=example.org/CN=Mallory"),
            &mapped
        ));
        assert!(!dn_matches(
            &dn_components("/C=GR/O=HellasGrid/OU=example.org/CN=Alice Example/OU=x"),
            &mapped
        ));
        assert!(!dn_matches(&dn_components("garbage"), &mapped));
    }

    #[test]
    fn apache_flattened_pem_is_restored() {
        let flat = "-----BEGIN CERTIFICATE----- QUJD REVG -----END CERTIFICATE-----";
        assert_eq!(
            normalize_pem(flat),
            "-----BEGIN CERTIFICATE-----\nQUJD\nREVG\n-----END CERTIFICATE-----\n"
        );
    }
}
