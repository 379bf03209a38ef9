//! The [`Collection`] trait every OCCI kind collection implements, the
//! per-request context [`Ctx`] handed to it, and [`Entity`].
//!
//! The generic handlers in [`super::handlers`] do HTTP (methods, parsing,
//! rendering, status codes); a collection only maps OCCI onto Synnefo.

use std::future::Future;
use std::sync::Arc;

use crate::middleware::Negotiated;
use crate::occi::{Attributes, Link, Mixin, OcciRequest, ParsedCategory, Rendered, Resource};
use crate::synnefo::{Caller, Client};
use snf_occi_types::{AuthContext, MediaType, RequestId};

use super::AppState;
use super::error::AppError;

/// An OCCI entity: a resource or a link.
#[derive(Clone, Debug, PartialEq)]
pub enum Entity {
    /// A resource (compute, storage, network, ipreservation).
    Resource(Resource),
    /// A link (storagelink, networkinterface).
    Link(Link),
}

impl Entity {
    /// The entity's location (`/compute/42`).
    pub fn location(&self) -> &str {
        match self {
            Entity::Resource(r) => &r.location,
            Entity::Link(l) => &l.location,
        }
    }

    /// The entity's kind type id.
    pub fn kind(&self) -> &str {
        match self {
            Entity::Resource(r) => &r.kind,
            Entity::Link(l) => &l.kind,
        }
    }

    /// The entity's mixin type ids.
    pub fn mixins(&self) -> &[String] {
        match self {
            Entity::Resource(r) => &r.mixins,
            Entity::Link(l) => &l.mixins,
        }
    }

    /// The entity's id.
    pub fn id(&self) -> &str {
        match self {
            Entity::Resource(r) => &r.id,
            Entity::Link(l) => &l.id,
        }
    }

    /// The entity's attributes.
    pub fn attributes(&self) -> &Attributes {
        match self {
            Entity::Resource(r) => &r.attributes,
            Entity::Link(l) => &l.attributes,
        }
    }

    /// Adds a mixin type id if it is not there yet (user mixins from the
    /// store).
    pub fn add_mixin(&mut self, type_id: &str) {
        let mixins = match self {
            Entity::Resource(r) => &mut r.mixins,
            Entity::Link(l) => &mut l.mixins,
        };
        if !mixins.iter().any(|m| m == type_id) {
            mixins.push(type_id.to_owned());
        }
    }
}

impl From<Resource> for Entity {
    fn from(r: Resource) -> Self {
        Entity::Resource(r)
    }
}

impl From<Link> for Entity {
    fn from(l: Link) -> Self {
        Entity::Link(l)
    }
}

/// What a successful action made, for its answer.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionOutcome {
    /// Done; nothing new to show (200 with the empty rendering).
    Done,
    /// A new provider mixin, rendered in the answer: compute `save`
    /// makes an OS template (OCCI 1.2 INFRA 3.1: `save` MUST answer with
    /// the new OS template mixin).
    Mixin(Mixin),
}

/// What a collection needs to serve one request: who asks, how to call
/// Synnefo for them, the negotiated rendering and the app's shared state.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The authenticated caller (user uuid, token).
    pub auth: AuthContext,
    /// The Synnefo caller (the user's token and the request id).
    pub caller: Caller,
    /// The negotiated request and response media types.
    pub negotiated: Negotiated,
    /// The app's shared state.
    pub state: Arc<AppState>,
}

impl Ctx {
    /// A context for an authenticated request.
    pub fn new(
        auth: AuthContext,
        request_id: Option<&RequestId>,
        negotiated: Negotiated,
        state: Arc<AppState>,
    ) -> Self {
        let caller = Caller::from_auth(&auth, request_id);
        Ctx {
            auth,
            caller,
            negotiated,
            state,
        }
    }

    /// The Synnefo client.
    pub fn client(&self) -> &Client {
        &self.state.client
    }

    /// The caller's user uuid (the key of every per-user cache and store
    /// row; never the token).
    pub fn user(&self) -> &str {
        &self.auth.user
    }

    /// The response rendering.
    pub fn media(&self) -> MediaType {
        self.negotiated.response
    }
}

/// One OCCI collection (kind location) mapped onto Synnefo.
///
/// Ids are Synnefo's; implementations validate an id (see
/// [`super::ids`]) before it reaches a Synnefo path and answer
/// [`AppError::NotFound`] for an invalid or foreign one.
pub trait Collection: Send + Sync + 'static {
    /// The kind's type id, e.g. `occi::infrastructure::COMPUTE`.
    const KIND: &'static str;
    /// The path segment, e.g. "compute" (location `/compute/`).
    const PATH: &'static str;
    /// Entities of this kind owned by the caller (full renderable
    /// entities; listing handlers render only locations unless JSON).
    fn list(ctx: &Ctx) -> impl Future<Output = Result<Vec<Entity>, AppError>> + Send;
    /// The locations of [`Collection::list`]'s entities (what an
    /// unfiltered text listing shows); override when Synnefo has a cheaper
    /// call for ids alone.
    fn locations(ctx: &Ctx) -> impl Future<Output = Result<Vec<String>, AppError>> + Send {
        async move {
            Ok(Self::list(ctx)
                .await?
                .iter()
                .map(|e| e.location().to_owned())
                .collect())
        }
    }
    /// One entity of the caller.
    fn show(ctx: &Ctx, id: &str) -> impl Future<Output = Result<Entity, AppError>> + Send;
    /// What a GET of entity `id` answers: [`Collection::show`] with the
    /// caller's user mixins, rendered in the negotiated media type.
    /// Override to serve a rendering again while nothing it was made
    /// from changed (computes: [`super::compute::shown`]).
    fn show_rendered(ctx: &Ctx, id: &str) -> impl Future<Output = Result<Rendered, AppError>> + Send
    where
        Self: Sized,
    {
        async move {
            let entity = super::handlers::show_with_user_mixins::<Self>(ctx, id).await?;
            super::handlers::render(ctx, &entity)
        }
    }
    /// Creates from a parsed request; returns the new entity's id.
    /// Must undo what it did if a later step fails. `req` holds no user
    /// mixins and no unknown mixins (the generic create handler sorts the
    /// categories first and tags the new entity, see
    /// [`super::handlers::create_entity`]).
    fn create(
        ctx: &Ctx,
        req: &OcciRequest,
    ) -> impl Future<Output = Result<String, AppError>> + Send;
    /// Deletes one entity of the caller.
    fn delete(ctx: &Ctx, id: &str) -> impl Future<Output = Result<(), AppError>> + Send;
    /// Triggers `action` (a full type id, already checked to be one of the
    /// kind's actions) with its parameters; says what it made.
    fn action(
        ctx: &Ctx,
        id: &str,
        action: &str,
        attrs: &Attributes,
    ) -> impl Future<Output = Result<ActionOutcome, AppError>> + Send;
    /// What [`Collection::plan_update`] found to change, for
    /// [`Collection::apply_update`].
    type Update: Send + Sync;
    /// Checks a partial (`full = false`, POST) or full (`full = true`,
    /// PUT) update of entity `id` against the entity as it is, and says
    /// what would change. Reads only: 404 for an entity that is not the
    /// caller's, a 4xx naming the attribute for a change the kind cannot
    /// make, so that nothing is written when any part of the update is
    /// wrong. `req` holds no user mixins (the generic update handler
    /// stores those, see [`super::handlers`]).
    fn plan_update(
        ctx: &Ctx,
        id: &str,
        req: &OcciRequest,
        full: bool,
    ) -> impl Future<Output = Result<Self::Update, AppError>> + Send;
    /// Makes the changes [`Collection::plan_update`] found (the Synnefo
    /// writes, if any).
    fn apply_update(
        ctx: &Ctx,
        id: &str,
        update: Self::Update,
    ) -> impl Future<Output = Result<(), AppError>> + Send;
    /// [`Collection::plan_update`] then [`Collection::apply_update`]: an
    /// update without user mixins (the template collections' resizes).
    fn update(
        ctx: &Ctx,
        id: &str,
        req: &OcciRequest,
        full: bool,
    ) -> impl Future<Output = Result<(), AppError>> + Send {
        async move {
            let update = Self::plan_update(ctx, id, req, full).await?;
            Self::apply_update(ctx, id, update).await
        }
    }
    /// Whether an update's Category that is neither a catalogue category,
    /// a template nor one of the caller's mixins still means something to
    /// this kind (compute: a template named by flavor or image name, as
    /// the seed document does). Anything else such is a 400 "no mixin".
    fn understands(
        ctx: &Ctx,
        category: &ParsedCategory,
    ) -> impl Future<Output = Result<bool, AppError>> + Send {
        let _ = (ctx, category);
        async { Ok(false) }
    }
}
