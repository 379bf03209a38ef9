//! The renderings of the computes shown lately, reused while nothing
//! they were made from changed.
//!
//! OCCI clients poll: the Infrastructure Manager shows each of its
//! computes every few seconds until it is running and then to watch it,
//! rOCCI scripts describe the same computes again and again. Each show
//! must ask Cyclades (only it knows the server now), but an answer
//! byte-for-byte the one the last show got renders byte-for-byte the
//! same, given the same other inputs. A show's rendering is a function
//! of:
//!
//! - Cyclades' answer for the server (its name, status, flavor, image,
//!   NICs, volumes, `updated` stamp, metadata);
//! - the caller's template catalog (the flavor's and image's terms, the
//!   flavor's sizes) and user mixins (the tags of the compute): both are
//!   shared snapshots that are replaced, never changed, so the same
//!   snapshot (`Arc::ptr_eq`) means the same content;
//! - the disks' attachment indexes, which [`super::disks`] keeps under
//!   the server's `updated` stamp because Cyclades changes them only
//!   with the server: the same answer (same stamp, same volumes) means
//!   the same indexes, if that show kept them ([`Disks::lasting`]);
//! - the media type, and the process's configuration (base URL,
//!   `suspend`).
//!
//! [`ShownComputes`] keeps, per user, server and media type, the answer a
//! show rendered with the snapshots it used and the rendering; a show
//! whose answer and snapshots are those serves the kept rendering and
//! skips decoding the answer, building the compute and rendering it (two
//! thirds of a show's CPU). A compute with storage links still pending
//! (attached once built, see [`crate::app::attach`]) is never kept: its
//! show may start that attach.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use snf_occi_types::MediaType;
use snf_occi_types::cache::TimedCache as Cache;

use super::disks::Disks;
use crate::app::collection::Ctx;
use crate::app::templates::TemplateCatalog;
use crate::occi::Rendered;
use crate::store::UserTags;

/// Bytes of answers and renderings kept at most: a compute's answer and
/// rendering are 2-4 KB, so some 20,000 computes.
const CAPACITY_BYTES: u64 = 64 * 1024 * 1024;
/// How long an entry no show used is kept.
const IDLE: Duration = Duration::from_secs(600);

/// What one show rendered, from what.
#[derive(Debug)]
pub struct Shown {
    /// Cyclades' answer (a copy: the transport's buffer may be larger).
    answer: Bytes,
    catalog: Arc<TemplateCatalog>,
    tags: Arc<UserTags>,
    rendered: Rendered,
}

/// The inputs of a show besides the media type: what a kept rendering
/// must have been made from to be served again.
pub struct ShowInputs<'a> {
    /// Cyclades' answer for the server.
    pub answer: &'a [u8],
    /// The caller's template catalog.
    pub catalog: &'a Arc<TemplateCatalog>,
    /// The caller's user mixins.
    pub tags: &'a Arc<UserTags>,
}

impl Shown {
    fn made_from(&self, inputs: &ShowInputs<'_>) -> bool {
        Arc::ptr_eq(&self.catalog, inputs.catalog)
            && Arc::ptr_eq(&self.tags, inputs.tags)
            && self.answer == inputs.answer
    }

    fn weight(&self) -> u32 {
        let bytes = self.answer.len() + self.rendered.size() + 256;
        u32::try_from(bytes).unwrap_or(u32::MAX)
    }
}

/// The renderings of the computes shown lately, keyed by the caller's
/// UUID, the server id and the media type: one user's shows never serve
/// another's, and an entry is only ever made from reads with the
/// caller's own token.
#[derive(Clone, Debug)]
pub struct ShownComputes(Cache<String, Arc<Shown>>);

impl Default for ShownComputes {
    fn default() -> Self {
        ShownComputes(
            Cache::builder(CAPACITY_BYTES)
                .weigher(|shown: &Arc<Shown>| shown.weight())
                .time_to_idle(IDLE)
                .build(),
        )
    }
}

impl ShownComputes {
    /// The kept rendering of server `id` for the caller in `media`, if
    /// it was made from `inputs`.
    pub fn get(&self, ctx: &Ctx, id: &str, inputs: &ShowInputs<'_>) -> Option<Rendered> {
        let shown = self.0.get(key(ctx, id, ctx.media()).as_str())?;
        shown.made_from(inputs).then(|| shown.rendered.clone())
    }

    /// Keeps `rendered`, made from `inputs` and `disks`, unless the disks
    /// were not kept (then the next show reads them again and may render
    /// otherwise).
    pub fn keep(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: ShowInputs<'_>,
        disks: &Disks,
        rendered: &Rendered,
    ) {
        if !disks.lasting() {
            return;
        }
        let shown = Shown {
            answer: Bytes::copy_from_slice(inputs.answer),
            catalog: inputs.catalog.clone(),
            tags: inputs.tags.clone(),
            rendered: rendered.clone(),
        };
        self.0.insert(key(ctx, id, ctx.media()), Arc::new(shown));
    }
}

/// The entry's key: the caller's UUID, the server id and the media type
/// (a UUID and an id hold no newline).
fn key(ctx: &Ctx, server: &str, media: MediaType) -> String {
    format!("{}\n{server}\n{}", ctx.auth.user, media.as_str())
}
