//! Keystone v2.0 `access` answers (Astakos, astavoms) and what we take
//! from them.
//!
//! Astakos `POST /identity/v2.0/tokens` and astavoms `POST /v2.0/tokens`
//! both answer `{"access": {"token": {"id", "expires", "tenant"},
//! "user": {"id", "name", "projects"}, "serviceCatalog": [...]}}`; we read
//! only the fields below and ignore the rest (the catalog is the app's
//! business).

use std::sync::Arc;
use std::time::SystemTime;

use serde::Deserialize;

use super::cache::Expiring;
use snf_occi_types::SecretToken;

/// Who a Synnefo token belongs to, as the identity service told us: what
/// a [`TokenValidator`](super::TokenValidator) answers, and what the
/// filters cache (its `Debug` shows the token as `***`).
#[derive(Clone, Debug)]
pub struct Identity {
    /// The Synnefo token.
    pub token: SecretToken,
    /// The user's UUID (shared with every request's context).
    pub user: Arc<str>,
    /// The user's display name.
    pub user_name: Option<Arc<str>>,
    /// UUIDs of the projects the user is a member of.
    pub projects: Vec<Arc<str>>,
    /// The tenant the token is scoped to (astavoms: the VO's project).
    pub tenant: Option<Arc<str>>,
    /// When the token expires.
    pub expires: Option<SystemTime>,
}

impl Expiring for Identity {
    fn expires(&self) -> Option<SystemTime> {
        self.expires
    }
}

impl Identity {
    /// The [`AuthContext`](snf_occi_types::AuthContext) of a request authenticated
    /// as this identity in `project` by `method`.
    pub(crate) fn context(
        &self,
        project: Arc<str>,
        expires: Option<SystemTime>,
        method: &'static str,
    ) -> snf_occi_types::AuthContext {
        snf_occi_types::AuthContext {
            token: self.token.clone(),
            user: self.user.clone(),
            user_name: self.user_name.clone(),
            project: Some(project),
            expires,
            method,
        }
    }

    /// The project the original snf-occi chose when the client named none:
    /// the first project that is not the user's own system project (whose
    /// id is the user's UUID), else the user's own.
    pub fn default_project(&self) -> Arc<str> {
        self.projects
            .iter()
            .find(|p| **p != self.user && !p.is_empty())
            .cloned()
            .unwrap_or_else(|| self.user.clone())
    }
}

#[derive(Deserialize)]
struct Answer {
    access: Access,
}

#[derive(Deserialize)]
struct Access {
    token: Token,
    user: User,
}

#[derive(Deserialize)]
struct Token {
    id: String,
    #[serde(default)]
    expires: Option<String>,
    #[serde(default)]
    tenant: Option<Tenant>,
}

#[derive(Deserialize)]
struct Tenant {
    id: String,
}

#[derive(Deserialize)]
struct User {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    projects: Option<Vec<String>>,
}

/// Reads a Keystone v2.0 `access` answer. `None` when it is not one (or
/// has an empty token or user id).
pub(crate) fn parse_access(body: &[u8]) -> Option<Identity> {
    let answer: Answer = serde_json::from_slice(body).ok()?;
    let Access { token, user } = answer.access;
    if token.id.is_empty() || user.id.is_empty() {
        return None;
    }
    Some(Identity {
        token: SecretToken::new(token.id),
        user: user.id.into(),
        user_name: user.name.filter(|n| !n.is_empty()).map(Into::into),
        projects: user
            .projects
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect(),
        tenant: token
            .tenant
            .map(|t| t.id)
            .filter(|t| !t.is_empty())
            .map(Into::into),
        expires: token.expires.as_deref().and_then(parse_expiry),
    })
}

/// Parses an ISO 8601 expiry as Astakos and Keystone write it
/// (`2026-12-01T10:00:00.000000+00:00`, `...Z`, or without an offset,
/// meaning UTC). `None` when unreadable: the configured TTL then applies.
pub(crate) fn parse_expiry(text: &str) -> Option<SystemTime> {
    use time::format_description::well_known::Rfc3339;
    let parsed = time::OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| time::OffsetDateTime::parse(&format!("{text}Z"), &Rfc3339))
        .ok()?;
    Some(SystemTime::from(parsed))
}

/// A short, printable excerpt of an identity service's error message
/// (`{"message": ...}` or Keystone's `{"<kind>": {"message": ...}}`), for
/// the client; never the request we sent.
pub(crate) fn error_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let message = value.get("message").and_then(|m| m.as_str()).or_else(|| {
        value
            .as_object()?
            .values()
            .find_map(|v| v.get("message")?.as_str())
    })?;
    let clean: String = message
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect::<String>();
    (!clean.trim().is_empty()).then_some(clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn reads_an_astakos_answer() {
        let body =
            br#"{"access": {"token": {"id": "tok", "expires": "2026-12-01T10:00:00.000000+00:00",
            "tenant": {"id": "p1", "name": "p1"}},
            "user": {"id": "u1", "name": "User One", "projects": ["u1", "p2"], "roles": []},
            "serviceCatalog": []}}"#;
        let id = parse_access(body).unwrap();
        assert_eq!(id.token.expose(), "tok");
        assert_eq!(&*id.user, "u1");
        assert_eq!(id.user_name.as_deref(), Some("User One"));
        assert_eq!(id.tenant.as_deref(), Some("p1"));
        assert_eq!(&*id.default_project(), "p2");
        let expected = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_119_200);
        assert_eq!(id.expires, Some(expected));
    }

    #[test]
    fn default_project_skips_the_users_own() {
        let mut id = parse_access(
            br#"{"access": {"token": {"id": "t"}, "user": {"id": "u", "projects": ["u"]}}}"#,
        )
        .unwrap();
        assert_eq!(&*id.default_project(), "u");
        id.projects = vec!["u".into(), "a".into(), "b".into()];
        assert_eq!(&*id.default_project(), "a");
        id.projects.clear();
        assert_eq!(&*id.default_project(), "u");
    }

    #[test]
    fn rejects_what_is_not_an_access_answer() {
        assert!(parse_access(b"not json").is_none());
        assert!(
            parse_access(br#"{"access": {"token": {"id": ""}, "user": {"id": "u"}}}"#).is_none()
        );
        assert!(parse_access(br#"{"unauthorized": {"message": "Invalid token"}}"#).is_none());
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(text in ".{0,200}") {
            let _ = parse_access(text.as_bytes());
            let _ = parse_expiry(&text);
            let _ = error_message(text.as_bytes());
        }
    }

    #[test]
    fn expiry_formats() {
        assert!(parse_expiry("2016-07-13T09:57:07Z").is_some());
        assert!(parse_expiry("2016-07-13T09:57:07.123456+00:00").is_some());
        assert_eq!(
            parse_expiry("2016-07-13T09:57:07"),
            parse_expiry("2016-07-13T09:57:07Z")
        );
        assert!(parse_expiry("yesterday").is_none());
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            error_message(br#"{"unauthorized": {"message": "Invalid token", "code": 401}}"#)
                .as_deref(),
            Some("Invalid token")
        );
        assert_eq!(
            error_message(br#"{"message": "Unknown VO: x"}"#).as_deref(),
            Some("Unknown VO: x")
        );
        assert_eq!(error_message(b"<html>"), None);
    }
}
