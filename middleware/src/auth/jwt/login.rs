//! A bearer's verification (signature, claims) and the Synnefo account it
//! maps to: the static `mapping`, else the Keystone v3 federation style
//! exchange.

use std::time::{Duration, SystemTime};

use http::{HeaderValue, header};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, Validation};
use serde::Deserialize;

use super::JwtVerifier;
use super::error::JwtError;
use crate::auth::cache::Expiring;
use crate::auth::identity::{Identity, error_message, parse_access, parse_expiry};
use crate::auth::upstream;
use snf_occi_types::SecretToken;

/// A verified bearer's Synnefo identity (what the cache keeps).
#[derive(Clone)]
pub struct JwtLogin {
    pub(super) identity: Identity,
    pub(super) project: Option<String>,
    pub(super) expires: Option<SystemTime>,
}

impl Expiring for JwtLogin {
    fn expires(&self) -> Option<SystemTime> {
        self.expires
    }
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<String>,
    iss: String,
    exp: u64,
}

impl JwtVerifier {
    /// Verifies the JWT, then finds its Synnefo account.
    pub(super) async fn login(&self, token: &str) -> Result<JwtLogin, JwtError> {
        let claims = self.verify(token).await?;
        let sub = claims
            .sub
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| JwtError::MissingClaim("sub".into()))?;
        let jwt_expires = SystemTime::UNIX_EPOCH + Duration::from_secs(claims.exp);
        let mapped = self
            .mapping
            .get(&(Some(claims.iss.clone()), sub.clone()))
            .or_else(|| self.mapping.get(&(None, sub)));
        if let Some(account) = mapped {
            return Ok(JwtLogin {
                identity: Identity {
                    token: SecretToken::new(account.token.as_str()),
                    user: account.user.as_str().into(),
                    user_name: None,
                    projects: Vec::new(),
                    tenant: None,
                    expires: None,
                },
                project: account.project.clone(),
                expires: Some(jwt_expires),
            });
        }
        let Some(url) = &self.exchange_url else {
            return Err(JwtError::NoAccount(None));
        };
        let (identity, project) = self.exchange(url, token).await?;
        let expires = Some(identity.expires.map_or(jwt_expires, |t| t.min(jwt_expires)));
        Ok(JwtLogin {
            identity,
            project,
            expires,
        })
    }

    async fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Malformed)?;
        if !self.algorithms.contains(&header.alg) {
            return Err(JwtError::AlgorithmNotAllowed);
        }
        let jwk = self.jwks.key(header.kid.as_deref(), header.alg).await?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| JwtError::UnknownKey)?;
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.leeway = self.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audience);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| match e
            .kind()
        {
            ErrorKind::ExpiredSignature => JwtError::Expired,
            ErrorKind::ImmatureSignature => JwtError::NotYetValid,
            ErrorKind::InvalidIssuer => JwtError::WrongIssuer,
            ErrorKind::InvalidAudience => JwtError::WrongAudience,
            ErrorKind::InvalidSignature => JwtError::BadSignature,
            ErrorKind::MissingRequiredClaim(claim) => JwtError::MissingClaim(claim.clone()),
            ErrorKind::InvalidAlgorithm => JwtError::AlgorithmNotAllowed,
            _ => JwtError::Malformed,
        })?;
        Ok(data.claims)
    }

    /// Keystone v3 federation style: the OIDC token as a bearer.
    async fn exchange(
        &self,
        url: &str,
        token: &str,
    ) -> Result<(Identity, Option<String>), JwtError> {
        const WHAT: &str = "token exchange service";
        let mut bearer =
            HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| JwtError::Malformed)?;
        bearer.set_sensitive(true);
        let request = upstream::post_json(url, None, [(header::AUTHORIZATION, bearer)])
            .map_err(|_| JwtError::Unavailable(WHAT))?;
        let answer = upstream::call(
            &*self.upstream,
            "token_exchange",
            "POST exchange",
            request,
            self.timeout,
        )
        .await
        .map_err(|_| JwtError::Unavailable(WHAT))?;
        let status = answer.status().as_u16();
        let subject_token = answer
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = answer.body();
        match status {
            200 | 201 => {}
            401 | 403 => {
                return Err(JwtError::NoAccount(error_message(body)));
            }
            _ => return Err(JwtError::Unavailable(WHAT)),
        }
        if let Some(identity) = parse_access(body) {
            let tenant = identity.tenant.as_deref().map(str::to_owned);
            return Ok((identity, tenant));
        }
        let subject_token = subject_token
            .filter(|t| !t.is_empty())
            .ok_or(JwtError::Unavailable(WHAT))?;
        let v3: V3Answer = serde_json::from_slice(body).map_err(|_| JwtError::Unavailable(WHAT))?;
        let identity = Identity {
            token: SecretToken::new(subject_token),
            user: v3.token.user.id.into(),
            user_name: v3.token.user.name.map(Into::into),
            projects: Vec::new(),
            tenant: None,
            expires: v3.token.expires_at.as_deref().and_then(parse_expiry),
        };
        Ok((identity, v3.token.project.map(|p| p.id)))
    }
}

#[derive(Deserialize)]
struct V3Answer {
    token: V3Token,
}

#[derive(Deserialize)]
struct V3Token {
    user: V3User,
    #[serde(default)]
    project: Option<V3Project>,
    #[serde(default)]
    expires_at: Option<String>,
}

#[derive(Deserialize)]
struct V3User {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct V3Project {
    id: String,
}
