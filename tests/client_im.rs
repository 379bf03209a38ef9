//! The Infrastructure Manager's OCCI connector (grycap IM 1.19.1,
//! `IM/connectors/OCCI.py`), request by request: each test sends what
//! IM sends (bodies, headers, the way it reads answers) and checks what
//! IM needs from the answer. `tools/im` (see README, "Clients tested")
//! runs IM's own code against the gateway; these tests keep each finding
//! of that run fixed without needing IM installed.

mod common;
#[allow(dead_code)]
#[path = "../middleware/tests/auth_support/pki.rs"]
mod pki;

use common::{Gateway, start_gateway, start_gateway_with};
use reqwest::StatusCode;

/// The headers IM sends on every POST (`create_request`): a comma list
/// as Content-Type, text/plain answers.
fn im_post(gw: &Gateway, n: usize, path: &str, body: String) -> reqwest::RequestBuilder {
    gw.client(n)
        .post(gw.at(path))
        .header("accept", "text/plain")
        .header("connection", "close")
        .header("content-type", "text/plain,text/occi")
        .body(body)
}

/// IM's `create_volume` body.
fn im_volume_body(size: u64) -> String {
    format!(
        "Category: storage; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=\"kind\"\n\
         X-OCCI-Attribute: occi.core.id=\"im-vol-0001\"\n\
         X-OCCI-Attribute: occi.core.title=\"im-disk-0001\"\n\
         X-OCCI-Attribute: occi.storage.size={size}\n"
    )
}

/// Python's `os.path.basename`: what follows the last `/`.
fn basename(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// IM's `create_volume` takes the new storage's id as
/// `os.path.basename(resp.text)`, then polls `GET /storage/<id>` until
/// `occi.storage.state` is `online` and attaches it with that id: the
/// text/plain body must end with the id itself, not with a newline.
#[tokio::test]
async fn the_id_im_reads_from_a_storage_create_body_is_the_storage() {
    let gw = start_gateway().await;
    let res = im_post(&gw, 0, "/storage/", im_volume_body(1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let body = res.text().await.unwrap();
    assert_eq!(body, format!("X-OCCI-Location: {location}"));
    let id = basename(&body);
    assert_eq!(Some(id), location.rsplit('/').next());

    let res = gw
        .client(0)
        .get(gw.at(&format!("/storage/{id}")))
        .header("accept", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let shown = res.text().await.unwrap();
    assert!(
        shown.contains("X-OCCI-Attribute: occi.storage.state=\"online\""),
        "{shown}"
    );
}

const INFRA: &str = "http://schemas.ogf.org/occi/infrastructure#";
const RESOURCE_TPL: &str = "http://schemas.openstack.org/template/resource#";
const OS_TPL: &str = "http://schemas.openstack.org/template/os#";
const STORAGE_TPL: &str = "http://schemas.synnefo.org/template/storage#";
const UBUNTU_ID: &str = "0e5a4c4b-d2a1-4c1d-9d2b-ubuntu000002";
/// The image `Debian`, by id: the tests of other findings name templates
/// by id, as the gateway has always taken them.
const DEBIAN_ID: &str = "0e5a4c4b-d2a1-4c1d-9d2b-debian000001";

/// IM's `launch` body (`OCCICloudConnector.launch`): the kind, the OS
/// template, IM's two contextualization mixins, the resource template or
/// `extra` size attributes, its own attributes, and one inline storage
/// link per `(volume, device)`.
fn im_launch(
    os_tpl: &str,
    resource_tpl: Option<&str>,
    extra: &str,
    disks: &[(&str, &str)],
) -> String {
    let mut body = format!(
        "Category: compute; scheme=\"{INFRA}\"; class=\"kind\"\n\
         Category: {os_tpl}; scheme=\"{OS_TPL}\"; class=\"mixin\"\n\
         Category: user_data; scheme=\"http://schemas.openstack.org/compute/instance#\"; class=\"mixin\"\n\
         Category: public_key; scheme=\"http://schemas.openstack.org/instance/credentials#\"; class=\"mixin\"\n"
    );
    if let Some(t) = resource_tpl {
        body.push_str(&format!(
            "Category: {t}; scheme=\"{RESOURCE_TPL}\"; class=\"mixin\"\n"
        ));
    }
    body.push_str(extra);
    body.push_str(
        "X-OCCI-Attribute: occi.core.id=\"im-0001\"\n\
         X-OCCI-Attribute: occi.core.title=\"imnode\"\n\
         X-OCCI-Attribute: occi.compute.hostname=\"imnode\"\n\
         X-OCCI-Attribute: org.openstack.compute.user_data=\"I2Nsb3VkLWNvbmZpZwo=\"\n\
         X-OCCI-Attribute: org.openstack.credentials.publickey.data=\"ssh-rsa AAAAB3Nza im@host\"\n",
    );
    for (volume, device) in disks {
        body.push_str(&format!(
            "Link: </storage/{volume}>; rel=\"{INFRA}storage\"; self=\"/storagelink/im-l{volume}\"; \
             category=\"{INFRA}storagelink\"; occi.core.target=\"/storage/{volume}\"; \
             occi.core.source=\"/compute/im-0001\"; occi.core.id=\"im-l{volume}\";\
             occi.storagelink.deviceid=\"/dev/{device}\"\n"
        ));
    }
    body
}

/// IM's `attach_volume` body.
fn im_attach(compute: &str, volume: &str, device: &str) -> String {
    format!(
        "Category: storagelink;scheme=\"{INFRA}\";class=\"kind\"\n\
         X-OCCI-Attribute: occi.core.id=\"imdisk-0001\"\n\
         X-OCCI-Attribute: occi.core.target=\"/storage/{volume}\"\n\
         X-OCCI-Attribute: occi.core.source=\"/compute/{compute}\"\n\
         X-OCCI-Attribute: occi.storagelink.deviceid=\"/dev/{device}\""
    )
}

/// IM's `vm_action` body.
fn im_action(action: &str) -> String {
    format!(
        "Category: {action};scheme=\"http://schemas.ogf.org/occi/infrastructure/compute/action#\";class=\"action\"\n"
    )
}

/// Sends an IM POST; the status, `Location` and body.
async fn send(gw: &Gateway, path: &str, body: String) -> (StatusCode, Option<String>, String) {
    let res = im_post(gw, 0, path, body).send().await.unwrap();
    let status = res.status();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (status, location, res.text().await.unwrap())
}

/// IM's own id of a created entity: `os.path.basename` of `Location`.
async fn created(gw: &Gateway, path: &str, body: String) -> String {
    let (status, location, text) = send(gw, path, body).await;
    assert_eq!(status, StatusCode::CREATED, "{path}: {text}");
    basename(&location.expect("Location")).to_owned()
}

/// `GET` as IM does (text/plain), status and body.
async fn get(gw: &Gateway, path: &str, accept: &str) -> (StatusCode, String) {
    let res = gw
        .client(0)
        .get(gw.at(path))
        .header("accept", accept)
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

/// IM's `get_occi_attribute_value`.
fn attribute<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find(|l| l.contains(&format!("X-OCCI-Attribute: {name}=")))
        .and_then(|l| l.split('=').nth(1))
        .map(|v| v.trim_matches('"'))
}

/// Polls a compute until `occi.compute.state` is `state`.
async fn wait_compute(gw: &Gateway, id: &str, state: &str) -> String {
    for _ in 0..200 {
        let (status, text) = get(gw, &format!("/compute/{id}"), "text/plain").await;
        assert_eq!(status, StatusCode::OK, "{text}");
        if attribute(&text, "occi.compute.state") == Some(state) {
            return text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("compute {id} never became {state}");
}

/// Finding 1: IM's launch without `instance_type` sends
/// `occi.compute.cores` and `occi.compute.memory` (GiB) and must get that
/// size, the smallest template that has it; a size no template has is a
/// 400 saying which exist, and a size that contradicts the template named
/// beside it is a 400 too. Neither creates anything.
#[tokio::test]
async fn a_launch_without_instance_type_gets_the_size_it_asks_for() {
    let gw = start_gateway_with(
        |_| {},
        "default_flavor = \"C1R1024D20drbd\"\ndefault_image = \"Debian\"\n",
    )
    .await;
    let sized =
        "X-OCCI-Attribute: occi.compute.cores=2\nX-OCCI-Attribute: occi.compute.memory=2.0\n";
    let id = created(&gw, "/compute/", im_launch(DEBIAN_ID, None, sized, &[])).await;
    let (_, text) = get(&gw, &format!("/compute/{id}"), "text/plain").await;
    assert_eq!(attribute(&text, "occi.compute.cores"), Some("2"), "{text}");
    assert_eq!(
        attribute(&text, "occi.compute.memory"),
        Some("2.0"),
        "{text}"
    );
    // Of the two 2-core 2 GiB templates the one with less disk.
    assert!(
        text.contains(&format!("Category: C2R2048D20; scheme=\"{RESOURCE_TPL}\"")),
        "{text}"
    );
    // Without a size the default flavor still applies.
    let id = created(&gw, "/compute/", im_launch(DEBIAN_ID, None, "", &[])).await;
    let (_, text) = get(&gw, &format!("/compute/{id}"), "text/plain").await;
    assert_eq!(attribute(&text, "occi.compute.cores"), Some("1"), "{text}");

    let (status, _, text) = send(
        &gw,
        "/compute/",
        im_launch(
            DEBIAN_ID,
            None,
            "X-OCCI-Attribute: occi.compute.cores=64\n",
            &[],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(
        text.contains("no resource template has at least 64 cores"),
        "{text}"
    );
    assert!(
        text.contains("4 cores, 4 GiB of memory, 40 GiB of disk"),
        "{text}"
    );
    let (status, _, text) = send(
        &gw,
        "/compute/",
        im_launch(DEBIAN_ID, Some("1"), sized, &[]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(
        text.contains("occi.compute.cores=2 contradicts the resource template C1R1024D20drbd"),
        "{text}"
    );
    assert_eq!(gw.sim_state().await["servers"], 2);
}

/// Finding 2: templates are named by what users read and type. A flavor's
/// term is its name (Cyclades' names are valid terms), an image's is its
/// name made a term (`Ubuntu Server LTS` -> `Ubuntu_Server_LTS`); ids, and
/// the original snf-occi's lower-case terms, stay accepted; a compute
/// shows the terms whatever the create used, and `/os_tpl/<term>/` lists
/// it.
#[tokio::test]
async fn templates_have_the_terms_users_read_and_type() {
    let gw = start_gateway().await;
    let (_, query) = get(&gw, "/-/", "text/plain").await;
    for line in [
        format!(
            "Category: C1R1024D20drbd; scheme=\"{RESOURCE_TPL}\"; class=\"mixin\"; title=\"C1R1024D20drbd\"; \
             rel=\"{INFRA}resource_tpl\"; location=\"/resource_tpl/C1R1024D20drbd/\""
        ),
        format!(
            "Category: Ubuntu_Server_LTS; scheme=\"{OS_TPL}\"; class=\"mixin\"; title=\"Ubuntu Server LTS\"; \
             rel=\"{INFRA}os_tpl\"; location=\"/os_tpl/Ubuntu_Server_LTS/\""
        ),
    ] {
        assert!(
            query.lines().any(|l| l.starts_with(&line)),
            "{line} in {query}"
        );
    }
    // IM finds a template's scheme by its term (`get_scheme`) and sends
    // the term back.
    let scheme_of = |term: &str, kind: &str| {
        query
            .lines()
            .find(|l| l.contains(&format!("Category: {term}")) && l.contains(kind))
            .and_then(|l| l.split(';').find_map(|p| p.trim().strip_prefix("scheme=")))
            .map(|s| s.trim_matches('"').to_owned())
    };
    assert_eq!(
        scheme_of("Ubuntu_Server_LTS", "os_tpl").as_deref(),
        Some(OS_TPL)
    );
    assert_eq!(
        scheme_of("C1R1024D20drbd", "resource_tpl").as_deref(),
        Some(RESOURCE_TPL)
    );

    let by_term = created(
        &gw,
        "/compute/",
        im_launch("Ubuntu_Server_LTS", Some("C1R1024D20drbd"), "", &[]),
    )
    .await;
    let by_id = created(&gw, "/compute/", im_launch(UBUNTU_ID, Some("1"), "", &[])).await;
    let lower = created(
        &gw,
        "/compute/",
        im_launch("ubuntu_server_lts", Some("c1r1024d20drbd"), "", &[]),
    )
    .await;
    for id in [&by_term, &by_id, &lower] {
        let (_, text) = get(&gw, &format!("/compute/{id}"), "text/plain").await;
        assert!(
            text.contains(&format!(
                "Category: Ubuntu_Server_LTS; scheme=\"{OS_TPL}\"; class=\"mixin\""
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "Category: C1R1024D20drbd; scheme=\"{RESOURCE_TPL}\"; class=\"mixin\""
            )),
            "{text}"
        );
    }
    for path in [
        "/os_tpl/Ubuntu_Server_LTS/",
        &format!("/os_tpl/{UBUNTU_ID}/"),
        "/resource_tpl/C1R1024D20drbd/",
    ] {
        let (status, listed) = get(&gw, path, "text/plain").await;
        assert_eq!(status, StatusCode::OK, "{path}: {listed}");
        for id in [&by_term, &by_id, &lower] {
            assert!(
                listed.contains(&format!("/compute/{id}")),
                "{path}: {listed}"
            );
        }
    }
    let (status, _, text) = send(&gw, "/compute/", im_launch("Ubuntu", Some("1"), "", &[])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(
        text.contains(&format!("unknown OS template {OS_TPL}Ubuntu")),
        "{text}"
    );
}

/// The `Link:` lines IM's `get_attached_volumes` keeps for detaching and
/// deleting at `finalize`: those without a device id or whose device id
/// does not end in `vda`/`hda` (the root disk).
fn im_volumes_to_detach(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains("Link:") && l.contains("/storage/"))
        .filter_map(|l| {
            let mut link = None;
            let mut device = None;
            for part in l.split(';') {
                let kv: Vec<&str> = part.split('=').collect();
                match kv[0].trim() {
                    "self" => link = kv.get(1).map(|v| v.trim_matches('"').to_owned()),
                    "occi.storagelink.deviceid" => {
                        device = kv.get(1).map(|v| v.trim_matches('"').to_owned())
                    }
                    _ => {}
                }
            }
            let link = link?;
            match device {
                Some(d) if d.ends_with("vda") || d.ends_with("hda") => None,
                _ => Some(link),
            }
        })
        .collect()
}

/// Finding 4: a storage link is rendered the same inline in its compute
/// and on its own, device id included (`/dev/vda` for the root disk, by
/// Synnefo's disk index); so IM leaves the root disk alone at finalize
/// (it detaches and deletes every linked disk whose device is not `vda`).
#[tokio::test]
async fn a_storage_link_renders_the_same_inline_and_on_its_own() {
    // Volumes of the type of flavor 4's disks (named, not the default).
    let gw = start_gateway_with(|_| {}, "volume_type = \"ext_archipelago\"\n").await;
    let data = created(&gw, "/storage/", im_volume_body(1)).await;
    let vm = created(
        &gw,
        "/compute/",
        im_launch(DEBIAN_ID, Some("4"), "", &[(&data, "vdb")]),
    )
    .await;
    let text = wait_compute(&gw, &vm, "active").await;
    let detach = im_volumes_to_detach(&text);
    let data_link = format!("{vm}_{data}");
    assert_eq!(
        detach,
        [gw.at(&format!("/storagelink/{data_link}"))],
        "{text}"
    );

    let (_, shown) = get(&gw, &format!("/compute/{vm}"), "application/occi+json").await;
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    let links: Vec<&serde_json::Value> = shown["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == format!("{INFRA}storagelink"))
        .collect();
    assert_eq!(links.len(), 2, "{shown}");
    let mut devices = Vec::new();
    for inline in links {
        let id = inline["id"].as_str().unwrap();
        let (status, alone) =
            get(&gw, &format!("/storagelink/{id}"), "application/occi+json").await;
        assert_eq!(status, StatusCode::OK);
        let alone: serde_json::Value = serde_json::from_str(&alone).unwrap();
        assert_eq!(*inline, alone, "one link, one rendering");
        devices.push(
            inline["attributes"]["occi.storagelink.deviceid"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    devices.sort();
    assert_eq!(devices, ["/dev/vda", "/dev/vdb"]);
}

/// Finding 5: unlinking a compute's root disk is a 409 naming it (it was
/// a 400, which IM's `detach_volume` retried for a minute per finalize),
/// and so is deleting the root storage; the data disk unlinks as before.
#[tokio::test]
async fn the_root_disk_cannot_be_unlinked_or_deleted() {
    let gw = start_gateway_with(|_| {}, "volume_type = \"ext_archipelago\"\n").await;
    let data = created(&gw, "/storage/", im_volume_body(1)).await;
    let vm = created(
        &gw,
        "/compute/",
        im_launch(DEBIAN_ID, Some("4"), "", &[(&data, "vdb")]),
    )
    .await;
    wait_compute(&gw, &vm, "active").await;
    let data_link = format!("{vm}_{data}");
    let (_, shown) = get(&gw, &format!("/compute/{vm}"), "application/occi+json").await;
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    let root = shown["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| {
            l["kind"] == format!("{INFRA}storagelink") && l["id"].as_str() != Some(&data_link)
        })
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = gw
        .client(0)
        .delete(gw.at(&format!("/storagelink/{root}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let text = res.text().await.unwrap();
    assert!(
        text.contains(&format!("root disk of /compute/{vm}")),
        "{text}"
    );
    let root_storage = root.rsplit('_').next().unwrap();
    let res = gw
        .client(0)
        .delete(gw.at(&format!("/storage/{root_storage}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains("root disk"));
    let (status, _) = get(&gw, &format!("/storagelink/{root}"), "text/plain").await;
    assert_eq!(status, StatusCode::OK);
    // The data disk unlinks as before.
    let res = gw
        .client(0)
        .delete(gw.at(&format!("/storagelink/{data_link}")))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
}

/// Finding 7: IM's `stop()` always sends `suspend`. Cyclades cannot
/// suspend, so by default it is a 501 naming the option; a site that
/// sets `suspend = "shutdown"` has it shut the compute down, and then
/// offers it as an action of active computes.
#[tokio::test]
async fn suspend_is_a_501_unless_the_site_makes_it_a_shutdown() {
    let gw = start_gateway().await;
    let vm = created(&gw, "/compute/", im_launch(DEBIAN_ID, Some("4"), "", &[])).await;
    let text = wait_compute(&gw, &vm, "active").await;
    assert!(!text.contains("action=suspend"), "{text}");
    let (status, _, text) = send(
        &gw,
        &format!("/compute/{vm}?action=suspend"),
        im_action("suspend"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{text}");
    assert!(text.contains("app.occi.suspend"), "{text}");

    let gw = start_gateway_with(|_| {}, "suspend = \"shutdown\"\n").await;
    let vm = created(&gw, "/compute/", im_launch(DEBIAN_ID, Some("4"), "", &[])).await;
    let text = wait_compute(&gw, &vm, "active").await;
    assert!(
        text.contains(&format!("/compute/{vm}?action=suspend>")),
        "suspend offered: {text}"
    );
    let (status, _, text) = send(
        &gw,
        &format!("/compute/{vm}?action=suspend"),
        im_action("suspend"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let text = wait_compute(&gw, &vm, "inactive").await;
    assert!(text.contains("?action=start>"), "stopped: {text}");
}

/// Finding 8 (and issue 14's volume types): the cloud's volume types are
/// storage templates in `/-/`; new storage that names none gets the
/// default flavor's type when that is detachable (so IM's disks link to
/// the computes it makes from the defaults), else the first detachable
/// one; a non-detachable type is refused before anything is made; and a
/// storage linked to a compute of another type is a 400 naming both.
#[tokio::test]
async fn storage_templates_fit_the_computes_they_link_to() {
    let gw = start_gateway_with(|_| {}, "default_flavor = \"C2R2048D20\"\n").await;
    let (_, query) = get(&gw, "/-/", "text/plain").await;
    for term in ["ext_archipelago", "drbd"] {
        assert!(
            query.contains(&format!(
                "Category: {term}; scheme=\"{STORAGE_TPL}\"; class=\"mixin\"; title=\"Volume type {term}: "
            )),
            "{term}: {query}"
        );
    }
    assert!(
        query.contains("Category: storage_tpl; scheme=\"http://schemas.synnefo.org/occi/infrastructure#\"; class=\"mixin\""),
        "{query}"
    );

    // IM: create a volume, wait for it, attach it to a compute made from
    // the default flavor.
    let disk = created(&gw, "/storage/", im_volume_body(1)).await;
    let (_, shown) = get(&gw, &format!("/storage/{disk}"), "text/plain").await;
    assert!(
        shown.contains(&format!(
            "Category: ext_archipelago; scheme=\"{STORAGE_TPL}\""
        )),
        "{shown}"
    );
    let vm = created(&gw, "/compute/", im_launch(DEBIAN_ID, None, "", &[])).await;
    wait_compute(&gw, &vm, "active").await;
    let link = created(&gw, "/storagelink/", im_attach(&vm, &disk, "vdc")).await;
    assert_eq!(link, format!("{vm}_{disk}"));

    // A drbd storage cannot exist on its own: 400 naming what can.
    let (status, _, text) = send(
        &gw,
        "/storage/",
        format!(
            "{}Category: drbd; scheme=\"{STORAGE_TPL}\"; class=\"mixin\"\n",
            im_volume_body(1)
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(
        text.contains("drbd is not detachable") && text.contains("ext_archipelago"),
        "{text}"
    );
    // An ext_archipelago one cannot link to a drbd compute.
    let other = created(
        &gw,
        "/storage/",
        format!(
            "{}Category: ext_archipelago; scheme=\"{STORAGE_TPL}\"; class=\"mixin\"\n",
            im_volume_body(1)
        ),
    )
    .await;
    let drbd_vm = created(&gw, "/compute/", im_launch(DEBIAN_ID, Some("1"), "", &[])).await;
    wait_compute(&gw, &drbd_vm, "active").await;
    let (status, _, text) = send(&gw, "/storagelink/", im_attach(&drbd_vm, &other, "vdc")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(
        text.contains(&format!(
            "storage /storage/{other} has the storage template ext_archipelago and the resource template C1R1024D20drbd has drbd disks"
        )),
        "{text}"
    );
    // Storage by template: the drbd compute's root disk is drbd storage.
    let (_, listed) = get(&gw, "/storage_tpl/ext_archipelago/", "text/plain").await;
    assert!(
        listed.contains(&format!("/storage/{disk}"))
            && listed.contains(&format!("/storage/{other}")),
        "{listed}"
    );
    let (_, listed) = get(&gw, "/storage_tpl/drbd/", "text/plain").await;
    assert!(!listed.contains(&format!("/storage/{disk}")), "{listed}");
    assert_eq!(listed.matches("X-OCCI-Location").count(), 1, "{listed}");

    // With a drbd default flavor the default is still a type that can be
    // created: the first detachable one.
    let gw = start_gateway_with(|_| {}, "default_flavor = \"C1R1024D20drbd\"\n").await;
    let disk = created(&gw, "/storage/", im_volume_body(1)).await;
    let (_, shown) = get(&gw, &format!("/storage/{disk}"), "text/plain").await;
    assert!(
        shown.contains(&format!(
            "Category: ext_archipelago; scheme=\"{STORAGE_TPL}\""
        )),
        "{shown}"
    );
}

/// A VOMS proxy of the test PKI's user, and the headers astavoms' TLS
/// front end forwards it in after the handshake (`SSL-Client-Cert` and
/// `SSL-Client-Cert-Chain-<n>`, PEM on one line as Apache writes it):
/// what `tools/im/dn_header_proxy.py --chain` stands in for when IM
/// itself runs.
fn voms_front_headers() -> Vec<(String, String)> {
    let pki = pki::Pki::new();
    let proxy = pki.proxy(&pki::ProxySpec {
        ac: Some(pki.ac(&pki::AcSpec::default())),
        ..Default::default()
    });
    let flat = |der: &[u8]| pki::pem(der).replace('\n', " ").trim_end().to_owned();
    let mut headers = vec![("ssl-client-cert".to_owned(), flat(&proxy.chain[0]))];
    for (n, cert) in proxy.chain[1..].iter().enumerate() {
        headers.push((format!("ssl-client-cert-chain-{n}"), flat(cert)));
    }
    headers
}

/// `request` with the forwarded proxy headers.
fn from_front(
    mut request: reqwest::RequestBuilder,
    headers: &[(String, String)],
) -> reqwest::RequestBuilder {
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request
}

/// IM's `KeyStoneAuth.get_keystone_uri`: the challenge's `uri` after the
/// first `=`, quotes dropped, a trailing `/v2.0` or `/v3` stripped.
fn im_keystone_uri(challenge: &str) -> String {
    let uri = challenge.split('=').nth(1).unwrap_or("").replace('\'', "");
    let uri = uri.strip_suffix("/v2.0").unwrap_or(&uri);
    uri.strip_suffix("/v3").unwrap_or(uri).to_owned()
}

/// Finding 6: the default Keystone challenge is the version-less base
/// with no trailing `/`, the form pOCCI, IM and rOCCI-cli all join
/// correctly (it ended in `/`, and IM posted to `.../astavoms//v2.0/tokens`).
/// On a VOMS site (`voms_exchange` sends clients to astavoms), IM's whole
/// Keystone v2 VOMS flow (version discovery, unscoped token, tenants,
/// tenant token) runs through the simulator's astavoms and the token
/// opens the gateway; pOCCI's and rOCCI-cli's URL building lands on the
/// same endpoint.
#[tokio::test]
async fn ims_voms_flow_gets_a_token_through_astavoms() {
    let gw = common::start_gateway_config(
        |sim| {
            // astavoms maps the test PKI's user to alice, in the demo VO.
            let alice = &snf_occi_simulator::seed::default_users()[0];
            sim.voms_users = Some(vec![snf_occi_simulator::seed::VomsUserSeed {
                dn: pki::USER_DN.to_owned(),
                vo: pki::VO.to_owned(),
                user: alice.uuid.clone(),
                project: snf_occi_simulator::seed::DEMO_PROJECT.to_owned(),
            }]);
        },
        |identity| {
            // keystone_auth validates tokens; voms_exchange (inner: its
            // challenge goes out) sends clients to the simulator's astavoms.
            let astavoms = identity.replace("/identity/v2.0", "/astavoms");
            common::occi_toml(identity, "")
                .replace(
                    "filters = [\"request_id\", \"occi_negotiate\", \"keystone\"]",
                    "filters = [\"request_id\", \"occi_negotiate\", \"keystone\", \"voms\"]",
                )
                .replace(
                    "[app.occi]",
                    &format!("[filter.voms]\nuse = \"voms_exchange\"\nastavoms_url = \"{astavoms}\"\n\n[app.occi]"),
                )
        },
    )
    .await;
    let http = reqwest::Client::new();
    let front = voms_front_headers();
    // HEAD /-/ without a token: the challenge.
    let res = http
        .head(gw.at("/-/"))
        .header("accept", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Keystone uri"), "{challenge}");
    let uri = im_keystone_uri(&challenge);
    assert!(uri.ends_with("/astavoms"), "{uri}");
    // Versions (IM: v2 unless only v3 is offered).
    let res = http
        .get(&uri)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert!(
        matches!(res.status().as_u16(), 200 | 300),
        "{}",
        res.status()
    );
    let versions: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        versions["versions"]["values"][0]["id"], "v2.0",
        "{versions}"
    );
    // Unscoped token, as a proxy holder.
    let res = from_front(http.post(format!("{uri}/v2.0/tokens")), &front)
        .header("content-type", "application/json")
        .body(r#"{"auth":{"voms":true}}"#)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let access: serde_json::Value = res.json().await.unwrap();
    let unscoped = access["access"]["token"]["id"].as_str().unwrap().to_owned();
    // Tenants, then a token for the first one that works.
    let tenants: serde_json::Value = from_front(http.get(format!("{uri}/v2.0/tenants")), &front)
        .header("x-auth-token", &unscoped)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tenant = tenants["tenants"][0]["name"].as_str().unwrap().to_owned();
    let res = from_front(http.post(format!("{uri}/v2.0/tokens")), &front)
        .header("x-auth-token", &unscoped)
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"auth":{{"voms":true,"tenantName":"{tenant}"}}}}"#
        ))
        .send()
        .await
        .unwrap();
    assert!(
        matches!(res.status().as_u16(), 200 | 202),
        "{}",
        res.status()
    );
    let access: serde_json::Value = res.json().await.unwrap();
    let token = access["access"]["token"]["id"].as_str().unwrap().to_owned();
    // The token opens the gateway (IM's next HEAD /-/).
    let res = http
        .head(gw.at("/-/"))
        .header("x-auth-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // pOCCI (`auth_keystone`): a `/` added when missing, then
    // `v2.0/tokens`: the same endpoint.
    let raw = challenge
        .strip_prefix("Keystone uri='")
        .and_then(|s| s.strip_suffix('\''))
        .unwrap();
    let pocci = if raw.ends_with('/') {
        raw.to_owned()
    } else {
        format!("{raw}/")
    };
    assert_eq!(format!("{pocci}v2.0/tokens"), format!("{uri}/v2.0/tokens"));
    // rOCCI-cli (`authn_plugins/keystone.rb`): GET the URI, take the
    // version's `self` link, post to `<it>/tokens`.
    let href = versions["versions"]["values"][0]["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "self")
        .and_then(|l| l["href"].as_str())
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let res = from_front(http.post(format!("{href}/tokens")), &front)
        .header("content-type", "application/json")
        .body(r#"{"auth":{"voms":true}}"#)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
}

/// A gateway whose challenge sends clients to its own Keystone facade
/// (`/keystone`), as the default pipeline does.
async fn with_facade() -> Gateway {
    common::start_gateway_config(
        |_| {},
        |identity| {
            common::occi_toml(identity, "")
                .replace(
                    "use = \"keystone_auth\"",
                    "use = \"keystone_auth\"\nkeystone_url = \"/keystone\"",
                )
                .replace(
                    "[app.occi]",
                    "[urlmap]\n\"/\" = \"pipeline\"\n\"/keystone\" = \"keystone_facade\"\n\n\
                     [app.keystone_facade]\n\n[app.occi]",
                )
        },
    )
    .await
}

/// Finding 6, IM's token auth data: IM sends its `token` as
/// `Authorization: Bearer` with a VOMS-shaped body to the challenge's
/// Keystone, lists tenants and asks a token per tenant, which Astakos
/// cannot answer (400). The gateway's Keystone facade answers it, and
/// pOCCI's and rOCCI-cli's logins, with Astakos behind; a wrong token, a
/// foreign tenant and no credential at all are 401s.
#[tokio::test]
async fn ims_token_flow_gets_a_token_at_the_gateways_keystone() {
    let gw = with_facade().await;
    let token = gw.token(0);
    let http = reqwest::Client::new();
    let res = http.head(gw.at("/-/")).send().await.unwrap();
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(challenge, format!("Keystone uri='{}'", gw.at("/keystone")));
    let uri = im_keystone_uri(&challenge);
    // IM: versions with the bearer, then the VOMS-shaped body.
    let res = http
        .get(&uri)
        .header("accept", "application/json")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::MULTIPLE_CHOICES);
    let versions: serde_json::Value = res.json().await.unwrap();
    assert_eq!(versions["versions"]["values"][0]["id"], "v2.0");
    let voms = |tenant: Option<&str>, bearer: &str| {
        let body = match tenant {
            Some(t) => format!(r#"{{"auth":{{"voms":true,"tenantName":"{t}"}}}}"#),
            None => r#"{"auth":{"voms":true}}"#.to_owned(),
        };
        http.post(format!("{uri}/v2.0/tokens"))
            .header("content-type", "application/json")
            .bearer_auth(bearer)
            .body(body)
            .send()
    };
    let res = voms(None, &token).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let access: serde_json::Value = res.json().await.unwrap();
    let unscoped = access["access"]["token"]["id"].as_str().unwrap().to_owned();
    let tenants: serde_json::Value = http
        .get(format!("{uri}/v2.0/tenants"))
        .header("x-auth-token", &unscoped)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tenant = tenants["tenants"][0]["name"].as_str().unwrap().to_owned();
    let res = voms(Some(&tenant), &token).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let access: serde_json::Value = res.json().await.unwrap();
    assert_eq!(access["access"]["token"]["tenant"]["id"], tenant);
    let scoped = access["access"]["token"]["id"].as_str().unwrap();
    let res = http
        .head(gw.at("/-/"))
        .header("x-auth-token", scoped)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // pOCCI: passwordCredentials (user uuid, token) to `<uri>/v2.0/tokens`.
    let res = http
        .post(format!("{uri}/v2.0/tokens"))
        .json(&serde_json::json!({"auth": {"passwordCredentials": {"username": gw.user(0), "password": token}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // rOCCI-cli: the version's `self` link, then `<it>/tokens`.
    let href = versions["versions"]["values"][0]["links"][0]["href"]
        .as_str()
        .unwrap();
    assert_eq!(href, gw.at("/keystone/v2.0"));
    let res = http
        .post(format!("{href}/tokens"))
        .json(&serde_json::json!({"auth": {"passwordCredentials": {"username": gw.user(0), "password": token}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // Refusals: a token Astakos does not know, another user's tenant,
    // no credential; none echoes a token.
    let res = voms(None, "not-a-token").await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(!res.text().await.unwrap().contains("not-a-token"));
    let res = voms(Some(&gw.user(1)), &token).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Not conforming tenantName")
    );
    let res = http
        .post(format!("{uri}/v2.0/tokens"))
        .body(r#"{"auth":{"voms":true}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.text().await.unwrap().contains("astavoms"));
}

/// IM's finalize, then its leak check: a compute being deleted is a 404
/// at once (Synnefo keeps it, `DESTROYING`, until its delete job ends), and
/// so is every storage attached to it, which goes with it: its root disk
/// is neither listed nor shown meanwhile (it was listed as in use by the
/// 404 compute, and IM's check counted it as leaked).
#[tokio::test]
async fn the_disks_of_a_compute_being_deleted_go_with_it() {
    let gw = start_gateway_with(
        |c| c.action_delay = std::time::Duration::from_secs(30),
        "volume_type = \"ext_archipelago\"\n",
    )
    .await;
    let kept = created(&gw, "/storage/", im_volume_body(1)).await;
    let vm = created(&gw, "/compute/", im_launch(DEBIAN_ID, Some("4"), "", &[])).await;
    let text = wait_compute(&gw, &vm, "active").await;
    let root = text
        .lines()
        .find(|l| l.starts_with("Link:") && l.contains("/storage/"))
        .and_then(|l| l.split("/storage/").nth(1))
        .and_then(|rest| rest.split('>').next())
        .unwrap()
        .to_owned();
    let (_, listed) = get(&gw, "/storage/", "text/plain").await;
    assert!(listed.contains(&format!("/storage/{root}")), "{listed}");

    let res = gw
        .client(0)
        .delete(gw.at(&format!("/compute/{vm}")))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let (status, _) = get(&gw, &format!("/compute/{vm}"), "text/plain").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "being deleted");
    let (_, listed) = get(&gw, "/storage/", "text/plain").await;
    assert!(!listed.contains(&format!("/storage/{root}")), "{listed}");
    assert!(listed.contains(&format!("/storage/{kept}")), "{listed}");
    let (status, _) = get(&gw, &format!("/storage/{root}"), "text/plain").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, links) = get(&gw, "/storagelink/", "text/plain").await;
    assert!(!links.contains(&format!("/storagelink/{vm}_")), "{links}");
}
