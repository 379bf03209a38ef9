//! The one authenticating layer: [`AuthLayer`] + [`Auth`], generic over a
//! [`Verifier`] (one per login method: [`KeystoneVerifier`],
//! [`VomsVerifier`], [`JwtVerifier`]).
//!
//! What every method shares lives here, once: finding the credential or
//! passing the request on, the validation cache keyed by the credential's
//! digest, single-flight validation, the filter's own 401/503 with its
//! challenge, the `AuthContext` handed inward, the eviction when the
//! backend answers 401, the challenge on a bare 401, logs and metrics
//! that never carry the credential. A verifier says only how its method
//! finds, checks and maps a credential.
//!
//! Shaped like tower-http's `AsyncRequireAuthorization`: a `Clone` layer
//! holding its configuration behind an `Arc`, a service generic over the
//! inner one, `Error` the inner service's (so `Infallible` stays
//! `Infallible`). The response future is boxed: every authenticated call
//! awaits a cache lookup and maybe an identity service before the inner
//! call, and the benchmarks (`benches/pipeline.rs`) show the box is lost
//! in that.
//!
//! [`KeystoneVerifier`]: super::KeystoneVerifier
//! [`VomsVerifier`]: super::VomsVerifier
//! [`JwtVerifier`]: super::JwtVerifier

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderMap, HeaderValue, StatusCode, header};
use tower::{Layer, Service};

use super::cache::{AuthCache, CacheKey, Expiring, cache_key};
use super::outcome;
use crate::error_response::{occi_error, rendering_of};
use crate::{HttpRequest, HttpResponse};
use snf_occi_types::AuthContext;

/// The future of every auth service: boxed, because each awaits an
/// identity service (or the cache) before calling the inner service.
pub type AuthFuture<E> = Pin<Box<dyn Future<Output = Result<HttpResponse, E>> + Send>>;

/// Why a credential was not accepted, as every method's error tells it.
pub trait AuthFailure: std::error::Error + Send + Sync + 'static {
    /// The status the client gets: 401 for the credential's fault, 503
    /// when an identity service failed (the client may retry).
    fn status(&self) -> StatusCode;
    /// A fixed word naming why, for the `reason` metric label: never text
    /// from the client or an identity service.
    fn reason(&self) -> &'static str;
    /// Whether the credential turned out not to be this method's after
    /// all (a certificate chain without VOMS attributes): the request
    /// then passes on as if it carried none.
    fn passes_on(&self) -> bool {
        false
    }
}

/// How many validations a filter remembers, and for how long at most
/// (each entry also ends when its credential expires).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachePolicy {
    /// Most credentials remembered (at least 1).
    pub capacity: u64,
    /// Longest a validation is reused.
    pub ttl: Duration,
}

/// One login method: how a request's credential is found, verified and
/// turned into an [`AuthContext`].
pub trait Verifier: Send + Sync + 'static {
    /// What a request carries (a token, a certificate chain, a bearer).
    type Credential: Send + Sync + 'static;
    /// What a verification yields; cached, so it holds no more than the
    /// context needs.
    type Login: Expiring + Clone + Send + Sync + 'static;
    /// Why a credential was refused.
    type Error: AuthFailure;

    /// The filter's name (`keystone_auth`): the `AuthContext::method`,
    /// and the `filter` of its logs and metrics.
    fn name(&self) -> &'static str;

    /// The `WWW-Authenticate` challenge a 401 without one gets.
    fn challenge(&self) -> &HeaderValue;

    /// The challenge of this filter's own 401 (RFC 6750 names the error
    /// in it); by default [`Verifier::challenge`].
    fn rejection_challenge(&self) -> HeaderValue {
        self.challenge().clone()
    }

    /// How validations are cached.
    fn cache_policy(&self) -> CachePolicy;

    /// The credential of this method the request carries: `None` when it
    /// carries none (the request passes on), `Some(Err)` when it carries
    /// one that cannot be used (401 at once, nothing is called).
    fn credential(&self, request: &HttpRequest) -> Option<Result<Self::Credential, Self::Error>>;

    /// The bytes that identify a credential; the cache keeps only their
    /// SHA-256, never the credential.
    fn key_material<'a>(&self, credential: &'a Self::Credential) -> &'a [u8];

    /// Verifies a credential at the identity service(s). Run once for
    /// all concurrent requests with one credential; errors are not cached.
    fn verify(
        &self,
        credential: &Self::Credential,
    ) -> impl Future<Output = Result<Self::Login, Self::Error>> + Send;

    /// The context of a request authenticated as `login` (`headers` may
    /// name the project).
    fn context(&self, login: &Self::Login, headers: &HeaderMap) -> AuthContext;
}

/// Applies [`Auth`] with verifier `V` to a service.
pub struct AuthLayer<V: Verifier> {
    shared: Arc<Shared<V>>,
}

impl<V: Verifier> Clone for AuthLayer<V> {
    fn clone(&self) -> Self {
        AuthLayer {
            shared: self.shared.clone(),
        }
    }
}

struct Shared<V: Verifier> {
    verifier: V,
    cache: AuthCache<V::Login>,
}

impl<V: Verifier> AuthLayer<V> {
    /// A layer authenticating with `verifier` (see each verifier's
    /// constructor, or [`AuthLayer::keystone`](super::KeystoneAuthLayer),
    /// [`AuthLayer::voms`](super::VomsExchangeLayer) and
    /// [`AuthLayer::jwt`](super::JwtAuthLayer)).
    pub fn new(verifier: V) -> Self {
        let CachePolicy { capacity, ttl } = verifier.cache_policy();
        let cache = AuthCache::new(capacity.max(1), ttl).named(verifier.name());
        AuthLayer {
            shared: Arc::new(Shared { verifier, cache }),
        }
    }

    /// The verifier.
    pub fn verifier(&self) -> &V {
        &self.shared.verifier
    }
}

impl<S, V: Verifier> Layer<S> for AuthLayer<V> {
    type Service = Auth<S, V>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// Authenticates requests that carry `V`'s kind of credential (see the
/// [module docs](super) for the contract every method keeps).
pub struct Auth<S, V: Verifier> {
    inner: S,
    shared: Arc<Shared<V>>,
}

impl<S: Clone, V: Verifier> Clone for Auth<S, V> {
    fn clone(&self) -> Self {
        Auth {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S, V> Service<HttpRequest> for Auth<S, V>
where
    S: Service<HttpRequest, Response = HttpResponse> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    V: Verifier,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = AuthFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest) -> Self::Future {
        // The ready service goes into the future; a clone stays (tower's
        // readiness contract).
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        let verifier = &shared.verifier;

        // Someone further out authenticated it already: not ours.
        let found = if request.extensions().get::<AuthContext>().is_some() {
            None
        } else {
            verifier.credential(&request)
        };
        match found {
            None => Box::pin(pass_on(inner, request, shared)),
            Some(Err(err)) => {
                let response = shared.rejected(&request, &err);
                Box::pin(std::future::ready(Ok(response)))
            }
            Some(Ok(credential)) => Box::pin(authenticate(inner, request, shared, credential)),
        }
    }
}

/// No credential of this method: the inner service decides; a bare 401
/// coming back gets the challenge.
async fn pass_on<S, V>(
    mut inner: S,
    request: HttpRequest,
    shared: Arc<Shared<V>>,
) -> Result<HttpResponse, S::Error>
where
    S: Service<HttpRequest, Response = HttpResponse>,
    V: Verifier,
{
    let mut response = inner.call(request).await?;
    add_challenge(&mut response, shared.verifier.challenge());
    Ok(response)
}

async fn authenticate<S, V>(
    mut inner: S,
    mut request: HttpRequest,
    shared: Arc<Shared<V>>,
    credential: V::Credential,
) -> Result<HttpResponse, S::Error>
where
    S: Service<HttpRequest, Response = HttpResponse>,
    V: Verifier,
{
    let verifier = &shared.verifier;
    let filter = verifier.name();
    let key: CacheKey = cache_key(verifier.key_material(&credential));
    let login = shared
        .cache
        .get_or_try_insert(key, || verifier.verify(&credential))
        .await;
    // The credential is not needed past here: drop it now.
    drop(credential);
    let login = match login {
        Ok((login, fresh)) => {
            tracing::debug!(filter, outcome = "authenticated", cached = !fresh);
            outcome::record(
                filter,
                "accepted",
                if fresh { "validated" } else { "cached" },
            );
            login
        }
        Err(err) if err.passes_on() => {
            tracing::debug!(filter, outcome = "passed", reason = %err);
            outcome::record(filter, "passed", err.reason());
            return pass_on(inner, request, shared.clone()).await;
        }
        Err(err) => return Ok(shared.rejected(&request, &*err)),
    };
    let context = verifier.context(&login, request.headers());
    request.extensions_mut().insert(context);
    let mut response = inner.call(request).await?;
    if response.status() == StatusCode::UNAUTHORIZED {
        // A credential the identity service vouched for was refused
        // further in (revoked, renewed): ask again next time.
        shared.cache.invalidate(&key);
        tracing::info!(filter, outcome = "evicted", reason = "backend answered 401");
        outcome::record(filter, "evicted", "backend_401");
    }
    add_challenge(&mut response, verifier.challenge());
    Ok(response)
}

impl<V: Verifier> Shared<V> {
    /// The filter's own answer to a refused credential: its status, the
    /// challenge on a 401, a one-line OCCI error naming the reason (never
    /// the credential) in the negotiated rendering.
    fn rejected(&self, request: &HttpRequest, err: &V::Error) -> HttpResponse {
        let filter = self.verifier.name();
        tracing::info!(filter, outcome = "rejected", reason = %err);
        outcome::record(filter, "rejected", err.reason());
        let status = err.status();
        let mut response = occi_error(status, &err.to_string(), rendering_of(request.extensions()));
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                self.verifier.rejection_challenge(),
            );
        }
        response
    }
}

/// Adds `challenge` to a 401 that has none: only one challenge is ever
/// sent, the innermost auth filter's (rOCCI-cli matches the whole header).
fn add_challenge(response: &mut HttpResponse, challenge: &HeaderValue) {
    if response.status() == StatusCode::UNAUTHORIZED
        && !response.headers().contains_key(header::WWW_AUTHENTICATE)
    {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge.clone());
    }
}
