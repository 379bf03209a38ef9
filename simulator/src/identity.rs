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

use snf_occi_middleware::auth::proxy_chain::slash_dn;
use snf_occi_middleware::auth::voms_ac::{OID_VOMS_AC_SEQUENCE, VomsAttributes, parse_ac_sequence};

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

/// A DN as a list of `(KEY, value)`, in the order written.
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

/// Whether two DNs are the same, each in either notation (`/C=../CN=..`
/// or RFC 4514's reversed `CN=.., C=..`).
fn same_dn(a: &str, b: &str) -> bool {
    let (a, b) = (dn_components(a), dn_components(b));
    !a.is_empty() && (a == b || a.iter().eq(b.iter().rev()))
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

fn der_of_pem(raw: &str) -> Option<Vec<u8>> {
    let pem = normalize_pem(raw);
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    Some(pem.contents)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && !v.contains("(null)") && *v != "null")
}

/// Why astavoms refuses a proxy.
enum Refusal {
    /// No client certificate forwarded (`AstavomsInvalidProxy`, 400).
    Missing,
    /// libvomsapi refused the chain (`AstavomsUnauthorizedVOMS`, 401),
    /// with its error text.
    Voms(&'static str),
    /// No project for the VO (`AstavomsUnknownVO`, 400).
    UnknownVo(String),
    /// Nobody with this DN in the VO (the simulator's stand-in for
    /// astavoms creating an account).
    UnknownHolder,
}

impl Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Missing => astavoms_error(
                StatusCode::BAD_REQUEST,
                "Client proxy certificates are not well formated or missing",
                Some(("AstavomsInputIsMissing", "no client certificate")),
            ),
            Refusal::Voms(why) => astavoms_error(
                StatusCode::UNAUTHORIZED,
                "VOMS Authentication Failed",
                Some(("VomsError", why)),
            ),
            Refusal::UnknownVo(vo) => {
                astavoms_error(StatusCode::BAD_REQUEST, &format!("Unknown VO: {vo}"), None)
            }
            Refusal::UnknownHolder => Refusal::Voms("unknown holder").into_response(),
        }
    }
}

/// What astavoms learns from a forwarded proxy: the holder's DN and CA
/// and the VOMS attributes bound to the holder.
struct VomsUser {
    dn: String,
    ca: String,
    attributes: VomsAttributes,
}

/// `SSL-Client-Cert` and `SSL-Client-Cert-Chain-0..` (the first missing,
/// empty or `(null)` one ends the chain), DER; `SSL-Client-S-DN` is not
/// read: astavoms takes the DN from the VOMS data.
fn forwarded_chain(headers: &HeaderMap) -> Result<Vec<Vec<u8>>, Refusal> {
    let leaf = header(headers, "ssl-client-cert").ok_or(Refusal::Missing)?;
    let mut pems = vec![leaf];
    for i in 0.. {
        match header(headers, &format!("ssl-client-cert-chain-{i}")) {
            Some(c) => pems.push(c),
            None => break,
        }
    }
    pems.into_iter()
        .map(|pem| der_of_pem(pem).ok_or(Refusal::Voms("certificate problem")))
        .collect()
}

/// What the real astavoms does with the chain: libvomsapi's
/// `VOMS_Retrieve(cert, chain)`, as `astavoms/authvoms` calls it, whose
/// `user` (the DN astavoms maps to an account) is the subject of the
/// *holder*: the first certificate of the chain, leaf first, that is not a
/// proxy. The attributes are those of the first AC found (leaf first), and
/// must be issued to that holder (libvomsapi's VERIFY_ID) and valid now
/// (VERIFY_DATE). Any other certificate of the chain, whatever its DN,
/// names nobody. (The AC signature, which astavoms checks against its
/// vomsdir, is not checked here: the simulator has no VOMS server.)
fn voms_user(chain: &[Vec<u8>]) -> Result<VomsUser, Refusal> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let certs = chain
        .iter()
        .map(|der| X509Certificate::from_der(der).map(|(_, cert)| cert))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| Refusal::Voms("certificate problem"))?;
    let is_proxy = |cert: &X509Certificate<'_>| {
        cert.extensions().iter().any(|e| {
            let id = e.oid.to_id_string();
            id == "1.3.6.1.5.5.7.1.14" || id == "1.3.6.1.4.1.3536.1.222"
        })
    };
    let holder = certs.iter().find(|c| !is_proxy(c)).ok_or(Refusal::Voms(
        "cannot discover holder from certificate chain",
    ))?;
    let extension = certs
        .iter()
        .find_map(|c| {
            c.extensions()
                .iter()
                .find(|e| e.oid.to_id_string() == OID_VOMS_AC_SEQUENCE)
        })
        .ok_or(Refusal::Voms("voms extension missing"))?;
    let acs = parse_ac_sequence(extension.value).map_err(|_| Refusal::Voms("parse error"))?;
    let ac = acs.first().ok_or(Refusal::Voms("empty extension"))?;
    if !ac.is_issued_to(holder) {
        return Err(Refusal::Voms(
            "user data in extension different from the real",
        ));
    }
    let now = std::time::SystemTime::now();
    if now < ac.attributes.not_before || now > ac.attributes.not_after {
        return Err(Refusal::Voms("error in time checking"));
    }
    Ok(VomsUser {
        dn: slash_dn(holder.subject()),
        ca: slash_dn(holder.issuer()),
        attributes: ac.attributes.clone(),
    })
}

/// The mapping of a VOMS user: astavoms looks the VO up in its
/// `vo_projects` (an unknown VO is 400) and the (DN, VO) pair in its
/// directory; the simulator's `voms_users` stand for both.
fn mapping_of<'a>(
    mappings: &'a [VomsUserSeed],
    user: &VomsUser,
) -> Result<&'a VomsUserSeed, Refusal> {
    let vo = &user.attributes.vo;
    if !mappings.iter().any(|m| m.vo == *vo) {
        return Err(Refusal::UnknownVo(vo.clone()));
    }
    mappings
        .iter()
        .find(|m| m.vo == *vo && same_dn(&m.dn, &user.dn))
        .ok_or(Refusal::UnknownHolder)
}

/// libvomsapi's date format (`20160708080318Z`).
fn voms_date(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let Ok(at) = x509_parser::time::ASN1Time::from_timestamp(i64::try_from(secs).unwrap_or(0))
    else {
        return String::new();
    };
    let at = at.to_datetime();
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
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
    let world = sim.world();
    let resolved = forwarded_chain(&headers)
        .and_then(|chain| voms_user(&chain))
        .and_then(|user| Ok((mapping_of(world.voms_users(), &user)?, user)));
    let (mapping, user) = match resolved {
        Ok(resolved) => resolved,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(account) = world.user(&mapping.user) else {
        return astavoms_error(
            StatusCode::UNAUTHORIZED,
            "VOMS Authentication Failed",
            Some(("VomsError", "unknown user")),
        );
    };
    // astavoms answers Astakos' access for the account, the VO's project
    // as tenant, plus libvomsapi's data (`r.update(voms_user)`).
    let attributes = &user.attributes;
    let mut answer = world.access(account, Some((&mapping.project, &mapping.vo)));
    if let Some(o) = answer.as_object_mut() {
        o.insert("user".into(), json!(user.dn));
        o.insert("userca".into(), json!(user.ca));
        o.insert("server".into(), json!(attributes.server_dn));
        o.insert("voname".into(), json!(attributes.vo));
        o.insert("uri".into(), json!(attributes.uri));
        o.insert("version".into(), json!(2));
        o.insert("not_before".into(), json!(voms_date(attributes.not_before)));
        o.insert("not_after".into(), json!(voms_date(attributes.not_after)));
        o.insert("fqans".into(), json!(attributes.fqans));
        o.insert("mail".into(), json!(account.name));
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
        let user = match forwarded_chain(&headers) {
            Err(Refusal::Missing) => {
                return astavoms_error(
                    StatusCode::BAD_REQUEST,
                    "X-Auth-token header or client proxy required",
                    None,
                );
            }
            other => other.and_then(|chain| voms_user(&chain)),
        };
        match user.and_then(|user| mapping_of(world.voms_users(), &user)) {
            Ok(m) => vec![tenant(m)],
            Err(refusal) => return refusal.into_response(),
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
    fn dns_compare_in_either_notation_and_exactly() {
        let mapped = "/C=GR/O=HellasGrid/OU=example.org/CN=Alice Example";
        assert!(same_dn(
            mapped,
            "/C=GR/O=HellasGrid/OU=example.org/CN=Alice Example"
        ));
        assert!(same_dn(
            mapped,
            "CN=Alice Example,OU=example.org,O=HellasGrid,C=GR"
        ));
        assert!(same_dn(
            mapped,
            "C=GR, O=HellasGrid, OU=example.org, CN=Alice Example"
        ));
        // A proxy's DN is not its holder's: astavoms maps the holder.
        assert!(!same_dn(mapped, &format!("{mapped}/CN=1234567")));
        assert!(!same_dn(
            mapped,
            "/C=GR/O=HellasGrid/OU=example.org/CN=Mallory"
        ));
        assert!(!same_dn(mapped, "garbage"));
        assert!(!same_dn("", ""));
    }

    #[test]
    fn apache_flattened_pem_is_restored() {
        let flat = "-----BEGIN CERTIFICATE----- QUJD REVG -----END CERTIFICATE-----";
        assert_eq!(
            normalize_pem(flat),
            "-----BEGIN CERTIFICATE-----\nQUJD\nREVG\n-----END CERTIFICATE-----\n"
        );
    }

    #[test]
    fn voms_dates() {
        let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_467_965_000);
        assert_eq!(voms_date(t), "20160708080320Z");
    }
}
