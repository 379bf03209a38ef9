//! Creating a compute: what the request asks for (templates by term, id
//! or name, sizes, contextualization) resolved against the caller's
//! templates, the personality files of the contextualization, and the
//! one server create that carries the inline links.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use http::StatusCode;

use crate::occi::infrastructure::{self, COMPUTE, OS_TPL_SCHEME, RESOURCE_TPL_SCHEME, attr};
use crate::occi::{OcciRequest, ParsedCategory};
use crate::synnefo::{Flavor, Image, NetworkRef, NewServer, Personality};

use super::DEFAULT_NAME;
use super::floating_ips::floating_ip_networks;
use super::inline_links::{InlineLinks, check_linkable, inline_links};
use crate::app::attach;
use crate::app::collection::Ctx;
use crate::app::error::AppError;
use crate::app::server_create;
use crate::app::sizes::{SizeRequest, smallest};
use crate::app::templates::Ambiguous;

/// Where cloud-init's NoCloud source reads user data and meta data.
const USER_DATA_PATH: &str = "/var/lib/cloud/seed/nocloud-net/user-data";
const META_DATA_PATH: &str = "/var/lib/cloud/seed/nocloud-net/meta-data";

/// `POST /compute/`: resolves the templates, checks the inline links and
/// creates the server (see the module docs of [`super`]).
pub(super) async fn create(ctx: &Ctx, req: &OcciRequest) -> Result<String, AppError> {
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
        project: ctx.auth.project.as_deref().map(str::to_owned),
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

/// What a create (or update) request asks for, resolved against the
/// caller's templates.
#[derive(Debug, Default)]
pub(super) struct Wanted {
    pub(super) flavor: Option<Flavor>,
    pub(super) image: Option<Image>,
    /// Sizes asked for by attribute (see [`crate::app::sizes`]).
    pub(super) size: Option<SizeRequest>,
    pub(super) ssh_key: Option<String>,
    /// Decoded user data.
    pub(super) user_data: Option<Vec<u8>>,
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
/// [`TemplateCatalog::flavor`](crate::app::templates::TemplateCatalog::flavor)). `with_defaults` (a create): a compute
/// without a resource template gets the smallest flavor of the sizes the
/// request asks for, else the configured default flavor; without an OS
/// template the configured default image.
pub(super) async fn resolve(
    ctx: &Ctx,
    req: &OcciRequest,
    with_defaults: bool,
) -> Result<Wanted, AppError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synnefo::Image;

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
}
