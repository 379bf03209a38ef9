//! `/compute/`: Synnefo servers as OCCI compute resources.
//!
//! Synnefo calls per operation (template caches warm):
//! - list: 1 (`GET /servers/detail`, with the cached templates for their
//!   terms; JSON also reads `GET /volumes/detail` for the device ids);
//! - show: 1 + 1 per disk (`GET /servers/{id}`: NICs and volume ids come
//!   with it; then `GET /volumes/{id}` for each of its volumes, all at
//!   once: the index each is attached at, the storage links'
//!   `occi.storagelink.deviceid`);
//! - create: 1 (`POST /servers`, inline network links as `networks`),
//!   plus 1 read per inline link to a storage (checked before the create,
//!   with one server listing) and per inline link to an IP reservation (`GET /floatingips/{id}`:
//!   its address and network, sent as `networks[].fixed_ip`), + 2 per
//!   "Please create a floating IP" retry; inline storage is attached in
//!   the background once the compute is built (see [`super::attach`]);
//! - action: 2 (`GET /servers/{id}` for the state check, `POST
//!   /servers/{id}/action`);
//! - save: 2 (`GET /servers/{id}`, whose `volumes` name the disks, and
//!   `POST /volume/v2.0/snapshots`), 3 when the server has more than one
//!   volume (`GET /volumes/detail` says which is the root disk); the
//!   caller's image list is reloaded (1) on the next template lookup;
//! - update: 1 (`GET /servers/{id}`), + 1 per change (`POST
//!   /servers/{id}/action` resize, `PUT /servers/{id}` rename), + the
//!   show of the answer (1). A new resource template resizes a stopped
//!   compute (409 otherwise), as do sizes asked for without a template
//!   (`occi.compute.cores`, `occi.compute.memory`: the smallest flavor
//!   Cyclades can resize to that has them), a different OS template is a
//!   400, the title renames (a full update without one resets it to
//!   `OCCI_VM`);
//! - delete: 1.
//!
//! Inline links of a create (`Link:` in text, `links` in JSON) may
//! target `/network/<id>`, `/storage/<id>` and `/ipreservation/<id>`
//! (relative, or absolute under `server.public_url`). Networks and IP
//! reservations go in the one `POST /servers`, and storage is checked
//! before it, so a refused link creates nothing. A link to an
//! IP reservation attaches that floating IP to the new compute exactly as
//! a networkinterface created afterwards would, and the compute renders
//! it the same way; deleting the compute keeps the reservation (Synnefo
//! only disassociates a floating IP from a deleted server's port).
//!
//! Templates are named by terms (see [`super::terms`]): the compute shows
//! its flavor's and image's, and a create or update may name them by
//! term, id or name; a create without a resource template but asking
//! for sizes gets the smallest flavor that has them (see
//! [`super::sizes`]).
//!
//! Link ids: a storagelink is `<server id>_<volume id>`, a
//! networkinterface `<server id>_<port id>`: both halves are Synnefo ids,
//! so a link is found again from its id with no lookup table.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use http::StatusCode;

use crate::occi::infrastructure::{
    self, COMPUTE, COMPUTE_RESTART, COMPUTE_SAVE, COMPUTE_START, COMPUTE_STOP, COMPUTE_SUSPEND,
    IPNETWORKINTERFACE, NETWORK, NETWORKINTERFACE, OS_TPL_SCHEME, RESOURCE_TPL_SCHEME, attr,
    os_template,
};
use crate::occi::{Attributes, EntityRef, Link, OcciRequest, ParsedCategory, Resource};
use crate::synnefo::{
    Flavor, FloatingIp, Image, NetworkRef, NewServer, NewSnapshot, Personality, RebootType, Server,
    ServerAction, ServerStatus, Service, SynnefoError, Volume,
};

use super::Suspend;
use super::attach;
use super::busy;
use super::collection::{ActionOutcome, Collection, Ctx, Entity};
use super::error::AppError;
use super::ids::{id_in, is_object_id, is_server_id};
use super::server_create;
use super::sizes::{SizeRequest, smallest};
use super::storagelink::{disk_index, pending_storage_link, storage_link};
use super::templates::{Ambiguous, TemplateCatalog};
use super::update::new_title;

/// Where cloud-init's NoCloud source reads user data and meta data.
const USER_DATA_PATH: &str = "/var/lib/cloud/seed/nocloud-net/user-data";
const META_DATA_PATH: &str = "/var/lib/cloud/seed/nocloud-net/meta-data";
/// The server name when the client gives no title (as the original).
const DEFAULT_NAME: &str = "OCCI_VM";
/// The longest `name` a `save` takes, in characters. Our bound, not
/// Synnefo's (which stores it as Pithos metadata): as long as a server
/// name may be, so that an absurd name is a clear 400 here.
const MAX_SAVE_NAME: usize = 255;
/// The longest server name Cyclades keeps, in characters
/// (`db/models.py` `VirtualMachine.VIRTUAL_MACHINE_NAME_LENGTH`).
const MAX_SERVER_NAME: usize = 255;

/// The `/compute/` collection.
pub struct Compute;

/// The location of server `id`.
pub fn location(id: &str) -> String {
    format!("/compute/{id}")
}

/// The OCCI state of a Synnefo status, and the state message (the Synnefo
/// status) for the transitional ones; `None` for DELETED (the server is
/// gone: 404).
pub fn state_of(status: &ServerStatus) -> Option<(&'static str, Option<String>)> {
    match status {
        ServerStatus::Active => Some(("active", None)),
        ServerStatus::Stopped => Some(("inactive", None)),
        ServerStatus::Error => Some(("error", None)),
        ServerStatus::Deleted => None,
        other => Some(("inactive", Some(other.as_str().to_owned()))),
    }
}

/// The actions applicable in `status`: `save` wherever start, stop or
/// restart applies (a running or a stopped server's disk can be
/// snapshotted); `suspend` only where the site made it a shutdown
/// (`suspend`), then where `stop` applies.
pub fn actions_of(status: &ServerStatus, suspend: Suspend) -> Vec<String> {
    match status {
        ServerStatus::Active if suspend == Suspend::Shutdown => vec![
            COMPUTE_STOP.to_owned(),
            COMPUTE_RESTART.to_owned(),
            COMPUTE_SUSPEND.to_owned(),
            COMPUTE_SAVE.to_owned(),
        ],
        ServerStatus::Active => vec![
            COMPUTE_STOP.to_owned(),
            COMPUTE_RESTART.to_owned(),
            COMPUTE_SAVE.to_owned(),
        ],
        ServerStatus::Stopped => vec![COMPUTE_START.to_owned(), COMPUTE_SAVE.to_owned()],
        _ => Vec::new(),
    }
}

fn gib(mib: u64) -> f64 {
    mib as f64 / 1024.0
}

/// Whether the server is gone for its owner: deleted, or being deleted
/// (Cyclades shows a server whose delete job runs with its last status
/// and `SNF:task_state` `DESTROYING` until the job ends, then `DELETED`).
pub fn is_gone(server: &Server) -> bool {
    server.status == ServerStatus::Deleted
        || server
            .task_state
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("DESTROYING"))
}

/// The OCCI resource of a server with its links. NICs and volume ids
/// come with the server; `disks` (the caller's volumes in detail) say at
/// which index each volume is attached, for its storage link's device id,
/// and `catalog` gives the template terms and the flavor's size. `None`
/// for a server that [`is_gone`].
pub fn to_resource(
    server: &Server,
    catalog: Option<&TemplateCatalog>,
    disks: &[Volume],
    suspend: Suspend,
) -> Option<Resource> {
    if is_gone(server) {
        return None;
    }
    let (state, message) = state_of(&server.status)?;
    let loc = location(&server.id);
    let mut r = Resource::new(COMPUTE, server.id.clone(), loc.clone());
    if let Some(image) = &server.image {
        let term = catalog.map_or(image.id.as_str(), |c| c.image_term(&image.id));
        r.mixins.push(format!("{OS_TPL_SCHEME}{term}"));
    }
    if let Some(flavor) = &server.flavor {
        let term = catalog.map_or(flavor.id.as_str(), |c| c.flavor_term(&flavor.id));
        r.mixins.push(format!("{RESOURCE_TPL_SCHEME}{term}"));
    }
    let a = &mut r.attributes;
    a.set(attr::TITLE, server.name.clone());
    a.set(attr::COMPUTE_HOSTNAME, server.name.clone());
    let flavor = server
        .flavor
        .as_ref()
        .and_then(|f| catalog?.flavor_by_id(&f.id));
    if let Some(f) = flavor {
        a.set(attr::COMPUTE_CORES, f.vcpus as i64);
        a.set(attr::COMPUTE_MEMORY, gib(f.ram));
    }
    a.set(attr::COMPUTE_STATE, state);
    if let Some(m) = message {
        a.set(attr::COMPUTE_STATE_MESSAGE, m);
    }
    r.actions = actions_of(&server.status, suspend);
    let source = EntityRef::new(loc.clone(), COMPUTE);
    for (i, nic) in server.attachments.iter().enumerate() {
        let id = format!("{}_{}", server.id, nic.id);
        let mut l = Link::new(
            NETWORKINTERFACE,
            id.clone(),
            format!("/networkinterface/{id}"),
            source.clone(),
            EntityRef::new(format!("/network/{}", nic.network_id), NETWORK),
        );
        l.mixins.push(IPNETWORKINTERFACE.to_owned());
        l.attributes.set(attr::NI_INTERFACE, format!("eth{i}"));
        if let Some(mac) = &nic.mac_address {
            l.attributes.set(attr::NI_MAC, mac.clone());
        }
        l.attributes.set(attr::NI_STATE, "active");
        let address = if nic.ipv4.is_empty() {
            &nic.ipv6
        } else {
            &nic.ipv4
        };
        if !address.is_empty() {
            l.attributes.set(attr::NI_ADDRESS, address.clone());
        }
        l.attributes.set(attr::NI_ALLOCATION, "dynamic");
        r.links.push(l);
    }
    for volume in &server.volumes {
        // The link as `/storagelink/<id>` renders it (one link, one
        // rendering): the device id comes from the volume's attachment.
        let index = disks
            .iter()
            .find(|v| v.id == *volume)
            .and_then(|v| disk_index(v, &server.id));
        r.links.push(storage_link(&server.id, volume, index));
    }
    // Storage linked inline with the create, attached once the compute is
    // built (see `super::attach`).
    for volume in attach::pending(server) {
        r.links.push(pending_storage_link(&server.id, &volume));
    }
    Some(r)
}

/// The volumes of `server` in detail, for the index each is attached at
/// (its storage link's device id): one `GET /volumes/{id}` per disk the
/// server names, all at once. Not the caller's whole `GET
/// /volumes/detail`: decoding it grew with every volume the user has (a
/// user with 100 volumes: 1.05 M of a show's 1.37 M instructions,
/// benches/README.md), where a server has one or a few disks. A volume
/// gone meanwhile (404) is left out, as the listing would have left it.
async fn disks_of(ctx: &Ctx, server: &Server) -> Result<Vec<Volume>, AppError> {
    let reads = server.volumes.iter().map(|volume| async move {
        match ctx.client().get_volume(&ctx.caller, volume).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(AppError::synnefo("read volume", e)),
        }
    });
    let disks = futures_util::future::try_join_all(reads).await?;
    Ok(disks.into_iter().flatten().collect())
}

/// Fetches the caller's server `id` (404 for an invalid id, another
/// user's server or a deleted one).
pub async fn get_server(ctx: &Ctx, id: &str) -> Result<Server, AppError> {
    let not_found = || AppError::NotFound(format!("no compute {id}"));
    if !is_server_id(id) {
        return Err(not_found());
    }
    match ctx.client().get_server(&ctx.caller, id).await {
        Ok(s) if is_gone(&s) => Err(not_found()),
        Ok(s) => Ok(s),
        Err(e) if e.is_not_found() => Err(not_found()),
        Err(e) => Err(AppError::synnefo(format!("get server {id}"), e)),
    }
}

/// What a create (or update) request asks for, resolved against the
/// caller's templates.
#[derive(Debug, Default)]
struct Wanted {
    flavor: Option<Flavor>,
    image: Option<Image>,
    /// Sizes asked for by attribute (see [`super::sizes`]).
    size: Option<SizeRequest>,
    ssh_key: Option<String>,
    /// Decoded user data.
    user_data: Option<Vec<u8>>,
}

fn is_compute_kind(c: &ParsedCategory) -> bool {
    c.type_id() == COMPUTE
}

/// A template lookup's ambiguity is the client's to resolve: a 400.
fn ambiguous(Ambiguous(why): Ambiguous) -> AppError {
    AppError::BadRequest(why)
}

/// Sorts the request's categories into templates, contextualization and
/// the rest; templates may be named by term, id or name under their
/// scheme or, as the seed does, under any scheme (see
/// [`TemplateCatalog::flavor`]). `with_defaults` (a create): a compute
/// without a resource template gets the smallest flavor of the sizes the
/// request asks for, else the configured default flavor; without an OS
/// template the configured default image.
async fn resolve(ctx: &Ctx, req: &OcciRequest, with_defaults: bool) -> Result<Wanted, AppError> {
    let catalog = ctx.state.templates.catalog(ctx).await?;
    let default_flavor = catalog.default_flavor(&ctx.state.config);
    let prefer = default_flavor.and_then(|f| f.disk_template.as_deref());
    let mut w = Wanted::default();
    let set_flavor = |w: &mut Wanted, f: &Flavor| -> Result<(), AppError> {
        match &w.flavor {
            Some(old) if old.id != f.id => Err(AppError::BadRequest(format!(
                "two resource templates given: {} and {}",
                catalog.flavor_term(&old.id),
                catalog.flavor_term(&f.id)
            ))),
            _ => {
                w.flavor = Some(f.clone());
                Ok(())
            }
        }
    };
    let set_image = |w: &mut Wanted, i: &Image| -> Result<(), AppError> {
        match &w.image {
            Some(old) if old.id != i.id => Err(AppError::BadRequest(format!(
                "two OS templates given: {} and {}",
                catalog.image_term(&old.id),
                catalog.image_term(&i.id)
            ))),
            _ => {
                w.image = Some(i.clone());
                Ok(())
            }
        }
    };
    for c in &req.categories {
        if is_compute_kind(c) {
            continue;
        }
        let tid = c.type_id();
        if c.scheme == RESOURCE_TPL_SCHEME {
            let f = catalog
                .flavor(&c.term, prefer)
                .map_err(ambiguous)?
                .ok_or_else(|| {
                    AppError::BadRequest(format!(
                        "unknown resource template {tid}: the resource templates are listed in /-/"
                    ))
                })?;
            set_flavor(&mut w, f)?;
        } else if c.scheme == OS_TPL_SCHEME {
            let i = catalog.image(&c.term).map_err(ambiguous)?.ok_or_else(|| {
                AppError::BadRequest(format!(
                    "unknown OS template {tid}: the OS templates are listed in /-/"
                ))
            })?;
            set_image(&mut w, i)?;
        } else if [
            infrastructure::SSH_KEY,
            infrastructure::USER_DATA,
            infrastructure::OPENSTACK_PUBLIC_KEY,
            infrastructure::OPENSTACK_USER_DATA,
        ]
        .contains(&tid.as_str())
        {
            // Read from the attributes below.
        } else if let Some(a) = infrastructure::catalogue().action(&tid) {
            return Err(AppError::BadRequest(format!(
                "the action {} cannot be part of a create",
                a.category.type_id()
            )));
        } else if infrastructure::catalogue().kind(&tid).is_some() {
            return Err(AppError::BadRequest(format!(
                "a compute cannot be created with kind {tid}"
            )));
        } else if infrastructure::catalogue().mixin(&tid).is_some() {
            // Provider mixins such as os_tpl/resource_tpl themselves: nothing to do.
        } else if let Some(f) = catalog.flavor(&c.term, prefer).map_err(ambiguous)? {
            set_flavor(&mut w, f)?;
        } else if let Some(i) = catalog.image(&c.term).map_err(ambiguous)? {
            set_image(&mut w, i)?;
        } else {
            // The generic handlers take the caller's user mixins out and
            // refuse unknown ones before this (`sort_create`,
            // `sort_update`); never drop one silently all the same.
            return Err(AppError::BadRequest(format!(
                "no mixin {tid}: define it with POST /-/ first"
            )));
        }
    }
    w.size = SizeRequest::of(&req.attributes)?;
    if let (Some(size), Some(f)) = (&w.size, &w.flavor)
        && let Some(e) = size.contradicts(f, catalog.flavor_term(&f.id))
    {
        return Err(e);
    }
    if with_defaults {
        // Only a create falls back: an update without a template keeps
        // the compute's own (or resizes by size, see `plan_update`).
        if w.flavor.is_none() {
            w.flavor = match &w.size {
                Some(size) => Some(smallest(catalog.flavors(), size, prefer)?.clone()),
                None => default_flavor.cloned(),
            };
        }
        if w.image.is_none() {
            w.image = catalog.default_image(&ctx.state.config).cloned();
        }
    }
    let a = &req.attributes;
    let key_occi = a.get_str(attr::SSH_PUBLICKEY);
    let key_os = a.get_str(attr::OS_PUBLICKEY_DATA);
    w.ssh_key = match (key_occi, key_os) {
        (Some(x), Some(y)) if x != y => {
            return Err(AppError::BadRequest(format!(
                "both {} and {} given, with different keys",
                attr::SSH_PUBLICKEY,
                attr::OS_PUBLICKEY_DATA
            )));
        }
        (k, o) => k.or(o).map(str::to_owned),
    };
    let data_occi = a.get_str(attr::USERDATA);
    let data_os = a.get_str(attr::OS_USER_DATA);
    let data = match (data_occi, data_os) {
        (Some(x), Some(y)) if x != y => {
            return Err(AppError::BadRequest(format!(
                "both {} and {} given, with different data",
                attr::USERDATA,
                attr::OS_USER_DATA
            )));
        }
        (d, o) => d.or(o),
    };
    if let Some(d) = data {
        // User data arrives base64-encoded (OCCI and rOCCI); the file must
        // hold it decoded, so decode exactly once here.
        let compact: String = d.split_whitespace().collect();
        let decoded = B64.decode(compact.as_bytes()).map_err(|_| {
            AppError::BadRequest(
                "the user data is not valid base64 (it must be base64-encoded)".to_owned(),
            )
        })?;
        w.user_data = Some(decoded);
    }
    Ok(w)
}

/// The personality files of the contextualization, as the original
/// wrote them: user data to the NoCloud seed, the key to the NoCloud
/// meta data and to each image user's `authorized_keys` (mode 0600).
fn personality(w: &Wanted, image: &Image) -> Vec<Personality> {
    let mut files = Vec::new();
    if let Some(data) = &w.user_data {
        files.push(Personality {
            path: USER_DATA_PATH.to_owned(),
            contents: B64.encode(data),
            owner: None,
            group: None,
            mode: None,
        });
    }
    if let Some(key) = &w.ssh_key {
        files.push(Personality {
            path: META_DATA_PATH.to_owned(),
            contents: B64.encode(format!("public-keys: {key}\n")),
            owner: None,
            group: None,
            mode: None,
        });
        for user in image.users() {
            let path = if user == "root" {
                "/root/.ssh/authorized_keys".to_owned()
            } else {
                format!("/home/{user}/.ssh/authorized_keys")
            };
            files.push(Personality {
                path,
                contents: B64.encode(format!("{key}\n")),
                owner: Some(user.to_owned()),
                group: Some(user.to_owned()),
                mode: Some(0o600),
            });
        }
    }
    files
}

/// The inline links of a create, by target: all of them go in the server
/// create itself.
#[derive(Debug, Default)]
struct InlineLinks {
    /// Networks to connect (`networks[].uuid`).
    networks: Vec<String>,
    /// Volumes to attach (`block_device_mapping_v2`).
    volumes: Vec<String>,
    /// IP reservations (floating IPs) to attach (`networks[].fixed_ip`).
    ip_reservations: Vec<String>,
}

/// Sorts the inline links of a create by target; a target outside these
/// collections, an absolute URL not under `base`, an invalid id or an IP
/// reservation linked twice is a 400 naming it.
fn inline_links(base: &str, req: &OcciRequest) -> Result<InlineLinks, AppError> {
    let mut links = InlineLinks::default();
    for link in &req.links {
        let target = link.target.as_str();
        let valid = |id: &str, what: &str| -> Result<String, AppError> {
            if is_object_id(id) {
                Ok(id.to_owned())
            } else {
                Err(AppError::BadRequest(format!(
                    "invalid {what} id in link target {target}"
                )))
            }
        };
        if let Some(id) = id_in(target, base, "/network/") {
            links.networks.push(valid(id, "network")?);
        } else if let Some(id) = id_in(target, base, "/storage/") {
            links.volumes.push(valid(id, "storage")?);
        } else if let Some(id) = id_in(target, base, "/ipreservation/") {
            let id = valid(id, "ipreservation")?;
            if links.ip_reservations.contains(&id) {
                // One floating IP holds one port: Cyclades would refuse
                // the second (409 "already in use").
                return Err(AppError::BadRequest(format!(
                    "the ipreservation /ipreservation/{id} is linked twice; a floating IP connects one interface"
                )));
            }
            links.ip_reservations.push(id);
        } else {
            return Err(AppError::BadRequest(format!(
                "a compute can only be linked to a /network/, /storage/ or /ipreservation/ resource, not {target}"
            )));
        }
    }
    Ok(links)
}

/// The 409 for IP reservation `id` when its floating IP is in use:
/// naming the compute (and its networkinterface) that holds it.
fn ip_in_use(id: &str, ip: &FloatingIp) -> Option<AppError> {
    let address = &ip.floating_ip_address;
    let holder = match (&ip.instance_id, &ip.port_id) {
        (Some(server), Some(port)) => format!(
            "is already linked to /compute/{server} (/networkinterface/{server}_{port}); \
             delete that networkinterface first or link another ipreservation"
        ),
        (Some(server), None) => format!(
            "is already linked to /compute/{server}; \
             delete that networkinterface first or link another ipreservation"
        ),
        (None, Some(port)) => format!("is already in use by port {port}"),
        (None, None) => return None,
    };
    Some(AppError::Conflict(format!(
        "ipreservation /ipreservation/{id} ({address}) {holder}"
    )))
}

/// The `networks` entries that attach the IP reservations `ids` to a new
/// server: each floating IP is read (1 call each, concurrently) for its
/// address and network, and must be the caller's (404 naming it: Synnefo
/// shows nobody another user's floating IP) and free (409 naming the
/// compute that holds it).
///
/// The entry is `{"uuid": <floating_network_id>, "fixed_ip": <address>}`,
/// what kamaki's `server create --network NET,IP` and `snf-manage
/// server-create --port floatingip:<id>` send (grnet/kamaki
/// `kamaki/cli/cmds/cyclades.py` `NetworkArgument`; grnet/synnefo
/// `snf-cyclades-app/synnefo/logic/management/commands/server-create.py`
/// `parse_connections`). Cyclades' server create
/// (`snf-cyclades-app/synnefo/logic/servers.py` `create` ->
/// `create_instance_ports` -> `_port_for_request` ->
/// `create_public_ipv4_port`) looks the address up among the caller's
/// floating IPs (`api/util.py` `get_floating_ip_by_address`: 404
/// "Floating IP does not exist."), and `_create_port` refuses one of
/// another network (409 "IP Address <ip> does not belong to network
/// <id>") or in use (409 "IP address '<ip>' is already in use"), all in
/// the create's one transaction: a refusal leaves no server.
async fn floating_ip_networks(ctx: &Ctx, ids: &[String]) -> Result<Vec<NetworkRef>, AppError> {
    let reads = ids
        .iter()
        .map(|id| async move { (id, ctx.client().get_floating_ip(&ctx.caller, id).await) });
    let mut networks = Vec::with_capacity(ids.len());
    for (id, read) in futures_util::future::join_all(reads).await {
        let ip = match read {
            Ok(ip) => ip,
            Err(e) if e.is_not_found() => {
                return Err(AppError::NotFound(format!(
                    "no ipreservation {id}: /ipreservation/{id} is not an IP reservation of yours"
                )));
            }
            Err(e) => return Err(AppError::synnefo(format!("reading floating IP {id}"), e)),
        };
        if let Some(conflict) = ip_in_use(id, &ip) {
            return Err(conflict);
        }
        let Some(network) = ip.floating_network_id.clone() else {
            return Err(AppError::synnefo(
                format!("reading floating IP {id}"),
                SynnefoError::InvalidResponse {
                    service: Service::Network,
                    reason: format!("floating IP {id} has no floating_network_id"),
                },
            ));
        };
        networks.push(NetworkRef::floating_ip(network, ip.floating_ip_address));
    }
    Ok(networks)
}

/// Checks that every one of `volumes` can be linked to a new compute
/// before the compute is made (Synnefo attaches them only after the
/// build, see [`attach`]): missing or another user's (404), linked
/// elsewhere (409; Synnefo volumes attach to one server at a time), not
/// ready (409) or of another volume type than the flavor's disks (400).
async fn check_linkable(ctx: &Ctx, volumes: &[String], flavor: &Flavor) -> Result<(), AppError> {
    if volumes.is_empty() {
        return Ok(());
    }
    let reads = volumes
        .iter()
        .map(|id| async move { (id, ctx.client().get_volume(&ctx.caller, id).await) });
    // A storage waiting for another new compute's build is taken too.
    let (reads, servers) = tokio::join!(
        futures_util::future::join_all(reads),
        ctx.client().list_servers_detail(&ctx.caller)
    );
    let servers = servers.map_err(|e| AppError::synnefo("list servers", e))?;
    for id in volumes {
        if let Some(server) = servers
            .iter()
            .find(|s| attach::pending(s).iter().any(|v| v == id))
        {
            return Err(AppError::Conflict(format!(
                "storage /storage/{id} is already linked to /compute/{} (attached once that \
                 compute is built); delete that storagelink first or link another storage",
                server.id
            )));
        }
    }
    for (id, read) in reads {
        let volume = match read {
            Err(e) if e.is_not_found() => {
                return Err(AppError::NotFound(format!("no storage {id}")));
            }
            Err(e) => return Err(AppError::synnefo(format!("reading volume {id}"), e)),
            Ok(volume) => volume,
        };
        if let Some(other) = volume.attachments.first() {
            return Err(AppError::Conflict(format!(
                "storage /storage/{id} is already linked to /compute/{}; \
                 delete that storagelink first or link another storage",
                other.server_id
            )));
        }
        let status = volume.status.as_deref().unwrap_or("unknown");
        if !status.eq_ignore_ascii_case("available") {
            return Err(AppError::Conflict(format!(
                "storage /storage/{id} is {} (Synnefo status); link it once it is online",
                status.to_ascii_lowercase()
            )));
        }
        if let (Some(wanted), Some(has)) =
            (flavor.volume_type.as_deref(), volume.volume_type.as_deref())
            && wanted != has
        {
            let (types, catalog) = tokio::try_join!(
                ctx.state.templates.storage_types(ctx),
                ctx.state.templates.catalog(ctx)
            )?;
            return Err(super::storage::type_mismatch(
                id,
                Some(has),
                &types,
                flavor,
                catalog.flavor_term(&flavor.id),
            ));
        }
    }
    Ok(())
}

/// The name of a `save`'s OS template: the action's `name`, else
/// "<server name> snapshot <UTC time>".
fn save_name(attrs: &Attributes, server: &Server) -> Result<String, AppError> {
    let Some(value) = attrs.get(attr::NAME) else {
        let now = crate::synnefo::timestamp::format_rfc3339(std::time::SystemTime::now());
        // "2024-05-01T12:00:00.123456+00:00" -> "2024-05-01T12:00:00Z"
        let stamp = now.get(..19).unwrap_or(&now);
        return Ok(format!("{} snapshot {stamp}Z", server.name));
    };
    let name = value.as_str().ok_or_else(|| {
        AppError::BadRequest(format!("the save name must be a string, not {value}"))
    })?;
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::BadRequest(
            "the save name is empty; give the new OS template a name or leave name out".to_owned(),
        ));
    }
    if name.chars().count() > MAX_SAVE_NAME {
        return Err(AppError::BadRequest(format!(
            "the save name is longer than {MAX_SAVE_NAME} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "the save name contains control characters".to_owned(),
        ));
    }
    Ok(name.to_owned())
}

/// The root disk of `server`: the volume at device index 0.
///
/// Server details list volume ids sorted by id (`api/servers.py`
/// `vm_to_dict`), not by index: a volume attached at create
/// (`block_device_mapping_v2`) is older than the root disk made with the
/// server. One volume is the root; with more, the volume details say
/// (`attachments[].device_index`, `volume/views.py`
/// `get_volume_attachments`).
async fn root_volume(ctx: &Ctx, server: &Server) -> Result<String, AppError> {
    match server.volumes.as_slice() {
        [] => Err(AppError::Conflict(format!(
            "{COMPUTE_SAVE} does not apply: compute {} has no disk",
            server.id
        ))),
        [only] => Ok(only.clone()),
        _ => {
            let volumes = ctx
                .client()
                .list_volumes_detail(&ctx.caller)
                .await
                .map_err(|e| AppError::synnefo("list volumes", e))?;
            volumes
                .iter()
                .find(|v| {
                    server.volumes.contains(&v.id)
                        && v.attachments.iter().any(|a| {
                            a.server_id == server.id && a.device_index.as_deref() == Some("0")
                        })
                })
                .map(|v| v.id.clone())
                .ok_or_else(|| {
                    AppError::Conflict(format!(
                        "{COMPUTE_SAVE} does not apply: no volume of compute {} is its root disk (device index 0)",
                        server.id
                    ))
                })
        }
    }
}

/// `save`: snapshots the compute's root disk and answers with the new OS
/// template.
///
/// Why a volume snapshot (grnet/synnefo, Synnefo 0.16+):
/// `snf-cyclades-app/synnefo/volume/snapshots.py` `create` registers the
/// snapshot in Pithos as a Plankton image whose id is the snapshot id
/// (`is_snapshot`, `exclude_all_tasks`; the server's `OS` and `users`
/// metadata copied for a root disk), `api/images.py` lists it among its
/// owner's images only (`SAVING`, then `ACTIVE`) and `logic/servers.py`
/// `create` boots it like any image: it is an os_tpl of that user.
///
/// `method`: Cyclades snapshots the disk of a running server as it is,
/// without stopping it (`docs/design/volume-snapshots.rst`: the user is
/// accountable for the volume's consistency), so `hot` and `deferred`
/// both mean "now"; any other method is a 400.
///
/// States: Cyclades refuses the disk of a building server (`CREATING`)
/// or of a failed one (`ERROR`): "Cannot create snapshot while volume is
/// in '...' status"; a deleted server's disk is gone (404 here, as for
/// every action). We take `save` where start/stop/restart apply (active,
/// stopped), so that it is listed exactly where it works, and answer 409
/// in the transitional states too. Cyclades' own refusals (a disk
/// template other than `ext_*`, a volume it finds busy) are 400
/// `badRequest` about the compute, not about the request: 409 with its
/// message.
async fn save(ctx: &Ctx, id: &str, attrs: &Attributes) -> Result<ActionOutcome, AppError> {
    if let Some(method) = attrs.get(attr::METHOD)
        && !matches!(method.as_str(), Some("hot" | "deferred"))
    {
        return Err(AppError::BadRequest(format!(
            "save method {method} is not one of hot, deferred"
        )));
    }
    let (server, catalog) =
        tokio::try_join!(get_server(ctx, id), ctx.state.templates.catalog(ctx))?;
    let name = save_name(attrs, &server)?;
    if !matches!(server.status, ServerStatus::Active | ServerStatus::Stopped) {
        let state = state_of(&server.status).map(|s| s.0).unwrap_or("deleted");
        return Err(AppError::Conflict(format!(
            "{COMPUTE_SAVE} does not apply: compute {id} is {state} (Synnefo status {}); \
             only an active or stopped compute can be saved",
            server.status
        )));
    }
    let volume = root_volume(ctx, &server).await?;
    let new = NewSnapshot {
        volume_id: volume.clone(),
        display_name: Some(name),
        display_description: Some(format!(
            "Saved from compute {id} ({}) through OCCI",
            server.name
        )),
    };
    let snapshot = match ctx.client().create_snapshot(&ctx.caller, &new).await {
        Ok(s) => s,
        Err(e) if e.fault_kind() == Some(&crate::synnefo::FaultKind::BadRequest) => {
            return Err(AppError::Conflict(format!(
                "{COMPUTE_SAVE} of compute {id} is refused by Synnefo (snapshot of volume {volume}): {}",
                e.user_message()
            )));
        }
        Err(e) => {
            // A timeout or a lost answer may still have made one.
            ctx.state.templates.forget_images(ctx.user()).await;
            return Err(AppError::synnefo(
                format!("snapshot volume {volume} of compute {id}"),
                e,
            ));
        }
    };
    // The snapshot is an image now: the caller's OS templates must show
    // it (and a create must accept it) at once.
    ctx.state.templates.forget_images(ctx.user()).await;
    let title = if snapshot.display_name.is_empty() {
        new.display_name.unwrap_or_default()
    } else {
        snapshot.display_name
    };
    // Its term is the one `/-/` will show: the terms of the caller's
    // images (read before the snapshot) with this one among them.
    let term = catalog.term_with_new_image(&snapshot.id, &title);
    Ok(ActionOutcome::Mixin(os_template(&term, &title)))
}

/// Detaches every volume of `server` but its root disk and waits (within
/// `busy_wait`) until they are detached: a compute's delete must not take
/// its linked storage with it. Past the wait, a 409 with `Retry-After`:
/// the detaches go on, and the next delete finds them done.
async fn detach_data_disks(ctx: &Ctx, server: &Server) -> Result<(), AppError> {
    let id = &server.id;
    let volumes = ctx
        .client()
        .list_volumes_detail(&ctx.caller)
        .await
        .map_err(|e| AppError::synnefo("listing volumes", e))?;
    let data: Vec<&str> = volumes
        .iter()
        .filter(|v| v.attachments.iter().any(|a| a.server_id == *id))
        .filter(|v| !super::storagelink::is_root_disk(v, id))
        .map(|v| v.id.as_str())
        .collect();
    for volume in &data {
        busy::when_idle(ctx, || ctx.client().detach_volume(&ctx.caller, id, volume))
            .await
            .or_else(|e| if e.is_not_found() { Ok(()) } else { Err(e) })
            .map_err(|e| match e {
                e if busy::is_busy(&e) => busy::busy_error(
                    &format!("delete compute {id} (its storage is detached first)"),
                    &e,
                ),
                e => AppError::synnefo(format!("detaching volume {volume} of server {id}"), e),
            })?;
    }
    let all_detached = busy::settled(ctx, || async {
        for volume in &data {
            if !super::storagelink::detached(ctx, id, volume).await {
                return false;
            }
        }
        true
    })
    .await;
    if !all_detached {
        return Err(AppError::Busy {
            message: format!(
                "delete compute {id}: its storage is being unlinked first (Synnefo would \
                 delete storage still linked to it); delete it again in a few seconds"
            ),
            retry_after: std::time::Duration::from_secs(5),
        });
    }
    Ok(())
}

impl Collection for Compute {
    const KIND: &'static str = COMPUTE;
    const PATH: &'static str = "compute";

    async fn list(ctx: &Ctx) -> Result<Vec<Entity>, AppError> {
        // The template terms are needed to render (and to filter by)
        // templates; the volume details only for the links' device ids,
        // which only JSON collections show.
        let servers = async {
            ctx.client()
                .list_servers_detail(&ctx.caller)
                .await
                .map_err(|e| AppError::synnefo("list servers", e))
        };
        let disks = async {
            if !ctx.media().is_json() {
                return Ok(Vec::new());
            }
            ctx.client()
                .list_volumes_detail(&ctx.caller)
                .await
                .map_err(|e| AppError::synnefo("list volumes", e))
        };
        let (servers, catalog, disks) =
            tokio::try_join!(servers, ctx.state.templates.catalog(ctx), disks)?;
        Ok(servers
            .iter()
            .filter_map(|s| to_resource(s, Some(&catalog), &disks, ctx.state.config.suspend))
            .take(ctx.state.config.collection_limit)
            .map(Entity::Resource)
            .collect())
    }

    async fn locations(ctx: &Ctx) -> Result<Vec<String>, AppError> {
        // The detailed listing, read for ids and states only: Cyclades
        // lists a server being deleted until its delete job ends, and only
        // the details say so; a compute a client deleted is not listed
        // (its GET is a 404 too).
        let servers = ctx
            .client()
            .list_server_states(&ctx.caller)
            .await
            .map_err(|e| AppError::synnefo("list servers", e))?;
        Ok(servers
            .iter()
            .filter(|s| !s.is_gone())
            .take(ctx.state.config.collection_limit)
            .map(|s| location(&s.id))
            .collect())
    }

    async fn show(ctx: &Ctx, id: &str) -> Result<Entity, AppError> {
        if !is_server_id(id) {
            return Err(AppError::NotFound(format!("no compute {id}")));
        }
        let (server, catalog) =
            tokio::try_join!(get_server(ctx, id), ctx.state.templates.catalog(ctx))?;
        let disks = disks_of(ctx, &server).await?;
        attach::resume(ctx, &server);
        to_resource(&server, Some(&catalog), &disks, ctx.state.config.suspend)
            .map(Entity::Resource)
            .ok_or_else(|| AppError::NotFound(format!("no compute {id}")))
    }

    async fn create(ctx: &Ctx, req: &OcciRequest) -> Result<String, AppError> {
        if let Some(kind) = req.kind().filter(|k| !is_compute_kind(k)) {
            return Err(AppError::BadRequest(format!(
                "/compute/ creates {COMPUTE}, not {}",
                kind.type_id()
            )));
        }
        let InlineLinks {
            networks,
            volumes,
            ip_reservations,
        } = inline_links(ctx.state.renderer.base_url(), req)?;
        let w = resolve(ctx, req, true).await?;
        let flavor = w.flavor.clone().ok_or_else(|| {
            AppError::BadRequest(format!(
                "a resource template is missing: name one (scheme {RESOURCE_TPL_SCHEME}, see /-/), \
                 ask for a size ({}, {}) or configure default_flavor",
                attr::COMPUTE_CORES,
                attr::COMPUTE_MEMORY
            ))
        })?;
        let image = w.image.clone().ok_or_else(|| {
            AppError::BadRequest(format!(
                "an OS template is missing: name one (scheme {OS_TPL_SCHEME}, see /-/) or configure default_image"
            ))
        })?;
        if !flavor.allow_create {
            return Err(AppError::BadRequest(format!(
                "the resource template {} cannot be used for new computes",
                flavor.name
            )));
        }
        let name = req
            .attributes
            .get_str(attr::TITLE)
            .filter(|t| !t.trim().is_empty())
            .unwrap_or(DEFAULT_NAME)
            .to_owned();
        let mut network_refs: Vec<NetworkRef> = networks.iter().map(NetworkRef::network).collect();
        network_refs.extend(floating_ip_networks(ctx, &ip_reservations).await?);
        check_linkable(ctx, &volumes, &flavor).await?;
        let mut metadata = BTreeMap::from([(
            server_create::CREATE_TAG.to_owned(),
            uuid::Uuid::new_v4().to_string(),
        )]);
        if !volumes.is_empty() {
            metadata.insert(
                attach::PENDING_KEY.to_owned(),
                attach::pending_value(&volumes),
            );
        }
        let new = NewServer {
            name,
            flavor_ref: flavor.id.clone(),
            image_ref: image.id.clone(),
            project: ctx.auth.project.clone(),
            personality: personality(&w, &image),
            networks: (!network_refs.is_empty()).then_some(network_refs),
            metadata,
            ..NewServer::default()
        };
        match server_create::create_server(ctx, &new).await {
            Ok(server) => {
                if !volumes.is_empty() {
                    attach::spawn(ctx, &server.id);
                }
                Ok(server.id)
            }
            // A floating IP taken or released since it was read: say which
            // (read again only on this failure path).
            Err(e)
                if !ip_reservations.is_empty()
                    && matches!(e.status(), StatusCode::NOT_FOUND | StatusCode::CONFLICT) =>
            {
                Err(floating_ip_networks(ctx, &ip_reservations)
                    .await
                    .err()
                    .unwrap_or(e))
            }
            Err(e) => Err(e),
        }
    }

    async fn delete(ctx: &Ctx, id: &str) -> Result<(), AppError> {
        if !is_server_id(id) {
            return Err(AppError::NotFound(format!("no compute {id}")));
        }
        // A compute being deleted is gone for its owner (its GET is a
        // 404), yet Cyclades accepts another DELETE of it (204) until its
        // delete job ends (`logic/commands.py` `validate_server_action`
        // permits DESTROY in any state): a second delete is a 404 too.
        let server = ctx.client().get_server(&ctx.caller, id).await.ok();
        if server.as_ref().is_some_and(is_gone) {
            return Err(AppError::NotFound(format!("no compute {id}")));
        }
        // Storage outlives the compute it is linked to (OCCI: deleting a
        // resource deletes its links, not their targets), but Cyclades 0.20
        // deletes every volume attached to a server with it
        // (`volume/volumes.py` `validate_volume_termination`: volumes
        // cannot be kept). So the data disks are detached first.
        if let Some(server) = server.as_ref().filter(|s| s.volumes.len() > 1) {
            detach_data_disks(ctx, server).await?;
        }
        // Cyclades refuses to destroy a server while its create job runs
        // (`logic/servers.py` `destroy`: 409 buildInProgress "Server is
        // being build"); clients delete what they just made (pOCCI, IM's
        // clean-up of a failed launch): wait for it (`busy`).
        match busy::when_idle(ctx, || ctx.client().delete_server(&ctx.caller, id)).await {
            Ok(()) => Ok(()),
            // Also Cyclades' 400 "Server ... has been deleted.": the
            // compute is gone, as a GET of it says.
            Err(e) if e.is_not_found() => Err(AppError::NotFound(format!("no compute {id}"))),
            Err(e) if busy::is_busy(&e) => {
                Err(busy::busy_error(&format!("delete compute {id}"), &e))
            }
            Err(e) => Err(AppError::synnefo(format!("delete server {id}"), e)),
        }
    }

    async fn action(
        ctx: &Ctx,
        id: &str,
        action: &str,
        attrs: &Attributes,
    ) -> Result<ActionOutcome, AppError> {
        if action == COMPUTE_SUSPEND && ctx.state.config.suspend == Suspend::Refuse {
            return Err(AppError::NotImplemented(
                "suspend is not supported: Synnefo servers cannot be suspended \
                 (a site may make it a shutdown: app.occi.suspend = \"shutdown\")"
                    .to_owned(),
            ));
        }
        if action == COMPUTE_SAVE {
            return save(ctx, id, attrs).await;
        }
        let server = get_server(ctx, id).await?;
        let (synnefo_action, needs) = match action {
            COMPUTE_START => (ServerAction::Start, ServerStatus::Stopped),
            // `suspend` gets here only where the site made it a shutdown.
            COMPUTE_STOP | COMPUTE_SUSPEND => (ServerAction::Shutdown, ServerStatus::Active),
            COMPUTE_RESTART => {
                let reboot = match attrs.get_str(attr::METHOD) {
                    None | Some("graceful") | Some("warm") => RebootType::Soft,
                    Some("cold") => RebootType::Hard,
                    Some(other) => {
                        return Err(AppError::BadRequest(format!(
                            "restart method {other:?} is not one of graceful, warm, cold"
                        )));
                    }
                };
                (ServerAction::Reboot(reboot), ServerStatus::Active)
            }
            other => {
                return Err(AppError::BadRequest(format!(
                    "{other} is not a compute action"
                )));
            }
        };
        if server.status != needs {
            let state = state_of(&server.status).map(|s| s.0).unwrap_or("deleted");
            return Err(AppError::Conflict(format!(
                "{action} does not apply: compute {id} is {state} (Synnefo status {})",
                server.status
            )));
        }
        busy::when_idle(ctx, || {
            ctx.client().server_action(&ctx.caller, id, &synnefo_action)
        })
        .await
        .map_err(|e| match e {
            e if busy::is_busy(&e) => busy::busy_error(&format!("{action} compute {id}"), &e),
            e => AppError::synnefo(format!("{action} server {id}"), e),
        })?;
        Ok(ActionOutcome::Done)
    }

    type Update = ComputeUpdate;

    async fn plan_update(
        ctx: &Ctx,
        id: &str,
        req: &OcciRequest,
        full: bool,
    ) -> Result<ComputeUpdate, AppError> {
        let server = get_server(ctx, id).await?;
        let mut w = resolve(ctx, req, false).await?;
        if let (None, Some(size)) = (&w.flavor, &w.size) {
            w.flavor = resize_by_size(ctx, &server, size).await?;
        }
        if let (Some(image), Some(current)) = (&w.image, &server.image)
            && image.id != current.id
        {
            return Err(AppError::BadRequest(format!(
                "the OS template of a compute cannot change (it would need a rebuild); create a new compute with {}",
                image.name
            )));
        }
        if w.ssh_key.is_some() || w.user_data.is_some() {
            return Err(AppError::BadRequest(
                "contextualization applies only when a compute is created".to_owned(),
            ));
        }
        let mut update = ComputeUpdate::default();
        if let Some(flavor) = &w.flavor {
            let current = server.flavor.as_ref().map(|f| f.id.as_str());
            if current != Some(flavor.id.as_str()) {
                if server.status != ServerStatus::Stopped {
                    return Err(AppError::Conflict(format!(
                        "a new resource template resizes the compute, which must be stopped first (it is {})",
                        state_of(&server.status).map(|s| s.0).unwrap_or("deleted")
                    )));
                }
                update.resize = Some(flavor.id.clone());
            }
        }
        // A full update without a title resets it, as a create would.
        update.rename = new_title(&req.attributes, full, DEFAULT_NAME, MAX_SERVER_NAME)?
            .filter(|name| *name != server.name);
        Ok(update)
    }

    async fn apply_update(ctx: &Ctx, id: &str, update: ComputeUpdate) -> Result<(), AppError> {
        // Resize first: it is the step Synnefo may still refuse (409).
        if let Some(flavor_ref) = update.resize {
            ctx.client()
                .server_action(&ctx.caller, id, &ServerAction::Resize { flavor_ref })
                .await
                .map_err(|e| AppError::synnefo(format!("resize server {id}"), e))?;
        }
        if let Some(name) = update.rename {
            ctx.client()
                .rename_server(&ctx.caller, id, &name)
                .await
                .map_err(|e| AppError::synnefo(format!("rename server {id}"), e))?;
        }
        Ok(())
    }

    /// A template named by term, id or name under any scheme (the seed's
    /// `Category: Debian; scheme="...infrastructure#"`), as creates take.
    async fn understands(ctx: &Ctx, category: &ParsedCategory) -> Result<bool, AppError> {
        let catalog = ctx.state.templates.catalog(ctx).await?;
        // An ambiguous name is understood too: the create then says which
        // templates it could mean.
        Ok(!matches!(catalog.flavor(&category.term, None), Ok(None))
            || !matches!(catalog.image(&category.term), Ok(None)))
    }
}

/// The flavor an update that asks for sizes (and names no template)
/// resizes `server` to: `None` when its own flavor already has them (a
/// full update resends them); else the smallest creatable flavor with at
/// least the sizes asked for and the current ones for the rest, among
/// those Cyclades can resize to (`logic/servers.py` `resize`: the same
/// disk size and volume type).
async fn resize_by_size(
    ctx: &Ctx,
    server: &Server,
    size: &SizeRequest,
) -> Result<Option<Flavor>, AppError> {
    let catalog = ctx.state.templates.catalog(ctx).await?;
    let Some(current) = server
        .flavor
        .as_ref()
        .and_then(|f| catalog.flavor_by_id(&f.id))
    else {
        return Err(AppError::Conflict(format!(
            "compute {} has a flavor this account cannot see; name a resource template to resize it",
            server.id
        )));
    };
    let term = catalog.flavor_term(&current.id);
    if size.contradicts(current, term).is_none() {
        return Ok(None);
    }
    if size.disk_gib.is_some_and(|d| d != current.disk as f64) {
        return Err(AppError::Conflict(format!(
            "{} cannot change: Synnefo cannot resize a compute's disk ({} GiB, resource template {term})",
            attr::TPL_DISK,
            current.disk
        )));
    }
    let floor = SizeRequest {
        cores: Some(size.cores.unwrap_or(current.vcpus)),
        memory_gib: Some(size.memory_gib.unwrap_or(current.ram as f64 / 1024.0)),
        disk_gib: None,
    };
    let same_disks: Vec<Flavor> = catalog
        .flavors()
        .iter()
        .filter(|f| {
            f.disk == current.disk
                && f.volume_type == current.volume_type
                && f.disk_template == current.disk_template
        })
        .cloned()
        .collect();
    smallest(&same_disks, &floor, None).map(|f| Some(f.clone()))
}

/// What a compute update changes (see [`Compute`]'s `plan_update`).
#[derive(Debug, Default)]
pub struct ComputeUpdate {
    /// The flavor to resize to (the compute is stopped).
    resize: Option<String>,
    /// The new server name.
    rename: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(users: &str) -> Image {
        serde_json::from_value(serde_json::json!({
            "id": "img", "name": "Debian", "metadata": {"users": users}
        }))
        .expect("image")
    }

    #[test]
    fn user_data_reaches_the_file_decoded_exactly_once() {
        let w = Wanted {
            user_data: Some(b"#cloud-config\nruncmd: [echo hi]\n".to_vec()),
            ..Wanted::default()
        };
        let files = personality(&w, &image(""));
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].path, USER_DATA_PATH);
        // Personality contents are base64 of the file: one decode gives
        // the user's text (not its base64 again).
        let file = B64.decode(&files[0].contents).unwrap();
        assert_eq!(file, b"#cloud-config\nruncmd: [echo hi]\n");
    }

    #[test]
    fn an_ssh_key_goes_to_meta_data_and_each_image_user() {
        let w = Wanted {
            ssh_key: Some("ssh-ed25519 AAAA me@host".to_owned()),
            ..Wanted::default()
        };
        let files = personality(&w, &image("root user"));
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                META_DATA_PATH,
                "/root/.ssh/authorized_keys",
                "/home/user/.ssh/authorized_keys"
            ]
        );
        let user = &files[2];
        assert_eq!(user.owner.as_deref(), Some("user"));
        assert_eq!(user.mode, Some(0o600));
        assert_eq!(
            B64.decode(&user.contents).unwrap(),
            b"ssh-ed25519 AAAA me@host\n"
        );
    }

    fn server(name: &str) -> Server {
        serde_json::from_value(serde_json::json!({
            "id": 7, "name": name, "status": "ACTIVE"
        }))
        .expect("server")
    }

    #[test]
    fn save_names_default_to_the_server_and_the_time_and_are_checked() {
        let vm = server("web");
        let default = save_name(&Attributes::new(), &vm).unwrap();
        assert!(default.starts_with("web snapshot 20"), "{default}");
        assert!(default.ends_with('Z') && default.len() == "web snapshot ".len() + 20);
        let named = |v: crate::occi::AttributeValue| {
            let mut a = Attributes::new();
            a.set(attr::NAME, v);
            save_name(&a, &vm)
        };
        assert_eq!(named("  golden ".into()).unwrap(), "golden");
        for bad in [
            crate::occi::AttributeValue::from("   "),
            "x".repeat(MAX_SAVE_NAME + 1).into(),
            "two\nlines".into(),
            7i64.into(),
        ] {
            let err = named(bad.clone()).unwrap_err();
            assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{bad}");
        }
        assert_eq!(
            named("é".repeat(MAX_SAVE_NAME).into())
                .unwrap()
                .chars()
                .count(),
            MAX_SAVE_NAME
        );
    }

    fn linking(targets: &[&str]) -> OcciRequest {
        OcciRequest {
            links: targets
                .iter()
                .map(|t| crate::occi::LinkRequest {
                    target: (*t).to_owned(),
                    ..Default::default()
                })
                .collect(),
            ..OcciRequest::default()
        }
    }

    #[test]
    fn inline_links_sort_targets_and_take_ip_reservations() {
        let base = "http://gw:8888";
        let links = inline_links(
            base,
            &linking(&[
                "/network/7",
                "http://gw:8888/storage/8",
                "/ipreservation/9",
                "http://gw:8888/ipreservation/10/",
            ]),
        )
        .unwrap();
        assert_eq!(links.networks, ["7"]);
        assert_eq!(links.volumes, ["8"]);
        assert_eq!(links.ip_reservations, ["9", "10"]);

        for (targets, says) in [
            (
                &["http://evil.example/ipreservation/9"][..],
                "/network/, /storage/ or /ipreservation/",
            ),
            (&["/ipreservation/a%20b"][..], "invalid ipreservation id"),
            (
                &["/ipreservation/9", "http://gw:8888/ipreservation/9"][..],
                "linked twice",
            ),
            (
                &["/compute/1"][..],
                "/ipreservation/ resource, not /compute/1",
            ),
        ] {
            let err = inline_links(base, &linking(targets)).unwrap_err();
            assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{targets:?}");
            assert!(err.to_string().contains(says), "{targets:?}: {err}");
        }
    }

    fn floating(instance: Option<&str>, port: Option<&str>) -> FloatingIp {
        serde_json::from_value(serde_json::json!({
            "id": "9", "floating_ip_address": "83.212.0.5", "floating_network_id": "1",
            "instance_id": instance, "port_id": port,
        }))
        .expect("floating IP")
    }

    #[test]
    fn an_ip_reservation_in_use_names_its_compute() {
        assert!(ip_in_use("9", &floating(None, None)).is_none());
        let err = ip_in_use("9", &floating(Some("42"), Some("77"))).unwrap();
        assert_eq!(err.status(), StatusCode::CONFLICT);
        let text = err.to_string();
        for part in [
            "/ipreservation/9",
            "83.212.0.5",
            "/compute/42",
            "/networkinterface/42_77",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
        let err = ip_in_use("9", &floating(None, Some("77"))).unwrap();
        assert!(err.to_string().contains("port 77"), "{err}");
    }

    #[test]
    fn states_and_applicable_actions_follow_the_design() {
        assert_eq!(state_of(&ServerStatus::Active), Some(("active", None)));
        assert_eq!(state_of(&ServerStatus::Stopped), Some(("inactive", None)));
        assert_eq!(
            state_of(&ServerStatus::Build),
            Some(("inactive", Some("BUILD".to_owned())))
        );
        assert_eq!(
            state_of(&ServerStatus::Reboot),
            Some(("inactive", Some("REBOOT".to_owned())))
        );
        assert_eq!(state_of(&ServerStatus::Error), Some(("error", None)));
        assert_eq!(state_of(&ServerStatus::Deleted), None);
        for suspend in [Suspend::Refuse, Suspend::Shutdown] {
            assert_eq!(
                actions_of(&ServerStatus::Stopped, suspend),
                [COMPUTE_START, COMPUTE_SAVE]
            );
            assert!(actions_of(&ServerStatus::Build, suspend).is_empty());
            assert!(actions_of(&ServerStatus::Error, suspend).is_empty());
        }
        assert_eq!(
            actions_of(&ServerStatus::Active, Suspend::Refuse),
            [COMPUTE_STOP, COMPUTE_RESTART, COMPUTE_SAVE]
        );
        assert_eq!(
            actions_of(&ServerStatus::Active, Suspend::Shutdown),
            [COMPUTE_STOP, COMPUTE_RESTART, COMPUTE_SUSPEND, COMPUTE_SAVE]
        );
    }
}
