//! Hostile input and isolation, over real sockets against the gateway on
//! the simulator: a corpus of malformed requests (each a 4xx that says
//! what is wrong; never a 5xx, a panic or a hang), client URLs that must
//! never reach Synnefo, and two users who cannot touch each other's
//! resources.

mod common;

use std::time::Duration;

use common::Gateway;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const INFRA: &str = "http://schemas.ogf.org/occi/infrastructure#";
const COMPUTE_KIND: &str =
    "Category: compute; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=\"kind\"";
const DEBIAN_ID: &str = "0e5a4c4b-d2a1-4c1d-9d2b-debian000001";
const HANG: Duration = Duration::from_secs(10);

fn compute_body(title: &str) -> String {
    format!(
        "{COMPUTE_KIND}\n\
         Category: 4; scheme=\"http://schemas.openstack.org/template/resource#\"; class=\"mixin\"\n\
         Category: {DEBIAN_ID}; scheme=\"http://schemas.openstack.org/template/os#\"; class=\"mixin\"\n\
         X-OCCI-Attribute: occi.core.title=\"{title}\"\n"
    )
}

/// One raw HTTP/1.1 exchange: the status and the body of the answer
/// (read until the server closes; `connection: close` is always sent).
async fn raw(addr: &str, head: &[u8], body: &[u8]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(HANG, stream.read_to_end(&mut out))
        .await
        .unwrap_or_else(|_| panic!("hang on {}", String::from_utf8_lossy(head)))
        .unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no HTTP answer to {}: {text:?}",
                String::from_utf8_lossy(head)
            )
        });
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A request of the corpus.
struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    /// Extra header lines (each ending in `\r\n`), raw bytes.
    headers: Vec<u8>,
    body: Vec<u8>,
    /// Words (lower case) the explanation must contain.
    explains: &'static [&'static str],
}

fn case(
    name: &'static str,
    method: &'static str,
    path: &str,
    content_type: &str,
    body: impl Into<Vec<u8>>,
    explains: &'static [&'static str],
) -> Case {
    Case {
        name,
        method,
        path: path.to_owned(),
        headers: format!("content-type: {content_type}\r\n").into_bytes(),
        body: body.into(),
        explains,
    }
}

fn corpus() -> Vec<Case> {
    let mut many_attributes = compute_body("many");
    for i in 0..10_000 {
        many_attributes.push_str(&format!("X-OCCI-Attribute: x.attr{i}=\"{i}\"\n"));
    }
    let mut invalid_utf8 = compute_body("bad").into_bytes();
    invalid_utf8.extend_from_slice(b"X-OCCI-Attribute: occi.core.summary=\"\xff\xfe\xc0\"\n");
    let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let long_term = format!(
        "Category: {}; scheme=\"{INFRA}\"; class=\"kind\"\n",
        "c".repeat(200_000)
    );
    let long_title = compute_body(&"t".repeat(300_000));
    let json = "application/occi+json";
    let text = "text/plain";
    vec![
        case(
            "empty category",
            "POST",
            "/compute/",
            text,
            "Category: \n",
            &["empty field", "category"],
        ),
        case(
            "category of semicolons",
            "POST",
            "/compute/",
            text,
            "Category: ;;;\n",
            &["category"],
        ),
        case(
            "category without scheme",
            "POST",
            "/compute/",
            text,
            "Category: compute; class=\"kind\"\n",
            &["scheme"],
        ),
        case(
            "unterminated quote in a category",
            "POST",
            "/compute/",
            text,
            "Category: compute; scheme=\"http://schemas.ogf.org/occi/infrastructure#; class=\"kind\n",
            &["quote"],
        ),
        case(
            "unterminated quote in an attribute",
            "POST",
            "/compute/",
            text,
            format!("{COMPUTE_KIND}\nX-OCCI-Attribute: occi.core.title=\"abc\n"),
            &["quote"],
        ),
        case(
            "attribute without a value",
            "POST",
            "/compute/",
            text,
            format!("{COMPUTE_KIND}\nX-OCCI-Attribute: occi.core.title\n"),
            &["attribute"],
        ),
        case(
            "unknown line",
            "POST",
            "/compute/",
            text,
            "Hello: world\n",
            &["hello"],
        ),
        case(
            "absurdly long kind term",
            "POST",
            "/compute/",
            text,
            long_term,
            &["category term", "at most"],
        ),
        case(
            "absurdly long title",
            "POST",
            "/compute/",
            text,
            long_title,
            &["occi.core.title", "at most"],
        ),
        case(
            "10,000 attributes",
            "POST",
            "/compute/",
            text,
            many_attributes,
            &["10001 attributes", "at most"],
        ),
        case(
            "invalid UTF-8",
            "POST",
            "/compute/",
            text,
            invalid_utf8,
            &["utf-8"],
        ),
        case(
            "invalid JSON",
            "POST",
            "/compute/",
            json,
            "{\"kind\": ",
            &["json"],
        ),
        case(
            "JSON that is not an object",
            "POST",
            "/compute/",
            json,
            "[1, 2]",
            &["json"],
        ),
        case(
            "kind is a number",
            "POST",
            "/compute/",
            json,
            "{\"kind\": 5}",
            &["kind"],
        ),
        case(
            "attributes is a list",
            "POST",
            "/compute/",
            json,
            format!("{{\"kind\": \"{INFRA}compute\", \"attributes\": []}}"),
            &["attributes"],
        ),
        case(
            "mixins is a string",
            "POST",
            "/compute/",
            json,
            format!("{{\"kind\": \"{INFRA}compute\", \"mixins\": \"x\"}}"),
            &["mixins"],
        ),
        case(
            "deeply nested JSON",
            "POST",
            "/compute/",
            json,
            deep_json,
            &["json"],
        ),
        case(
            "unsupported content type",
            "POST",
            "/compute/",
            "application/x-evil",
            "x",
            &["application/x-evil"],
        ),
        case(
            "action that does not exist",
            "POST",
            "/compute/?action=explode",
            text,
            "Category: explode; scheme=\"http://schemas.ogf.org/occi/infrastructure/compute/action#\"; class=\"action\"\n",
            &["explode"],
        ),
        case(
            "dot-dot path",
            "GET",
            "/compute/../-/",
            text,
            "",
            &["/compute/../-/"],
        ),
        case(
            "encoded dot-dot id",
            "GET",
            "/compute/%2e%2e",
            text,
            "",
            &["compute"],
        ),
        case(
            "NUL in the id",
            "GET",
            "/compute/%00",
            text,
            "",
            &["compute"],
        ),
        case(
            "NUL in a storage id",
            "DELETE",
            "/storage/1%00",
            text,
            "",
            &["storage"],
        ),
        case(
            "double slash",
            "GET",
            "//compute/",
            text,
            "",
            &["//compute/"],
        ),
        case(
            "encoded slashes",
            "GET",
            "/compute/1%2F..%2F..%2Fservers",
            text,
            "",
            &["compute"],
        ),
        case(
            "id with a query of its own",
            "GET",
            "/network/1%3Fx=1",
            text,
            "",
            &["network"],
        ),
        case(
            "a huge id",
            "GET",
            &format!("/compute/{}", "9".repeat(5000)),
            text,
            "",
            &["compute"],
        ),
        case("wrong method", "PATCH", "/compute/", text, "", &["patch"]),
        Case {
            name: "conflicting Content-Length",
            method: "POST",
            path: "/compute/".into(),
            headers: b"content-type: text/plain\r\ncontent-length: 5\r\ncontent-length: 7\r\n"
                .to_vec(),
            body: b"abcdefg".to_vec(),
            explains: &["conflicting content-length values 5 and 7"],
        },
        Case {
            name: "Content-Length that is not a number",
            method: "POST",
            path: "/compute/".into(),
            headers: b"content-type: text/plain\r\ncontent-length: 1e3\r\n".to_vec(),
            body: Vec::new(),
            explains: &["content-length \"1e3\" is not a number"],
        },
        Case {
            name: "a header line without a name",
            method: "GET",
            path: "/compute/".into(),
            headers: b"no colon on this line\r\n".to_vec(),
            body: Vec::new(),
            explains: &["no valid name", "line 5"],
        },
        Case {
            name: "Transfer-Encoding other than chunked",
            method: "POST",
            path: "/compute/".into(),
            headers:
                b"content-type: text/plain\r\ncontent-length: 0\r\ntransfer-encoding: gzip\r\n"
                    .to_vec(),
            body: Vec::new(),
            explains: &["must end in chunked"],
        },
        Case {
            name: "Content-Length and chunked",
            method: "POST",
            path: "/compute/".into(),
            headers:
                b"content-type: text/plain\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n"
                    .to_vec(),
            // RFC 9112 §6.3: Transfer-Encoding wins (the body is the empty
            // chunked one, not "0\r\n"), and the connection is closed after
            // the answer, so nothing can be smuggled behind it.
            body: b"0\r\n\r\n".to_vec(),
            explains: &["no categories"],
        },
        Case {
            name: "invalid UTF-8 in a text/occi header",
            method: "POST",
            path: "/compute/".into(),
            headers: b"content-type: text/occi\r\ncategory: comp\xffute; scheme=\"x#\"\r\n"
                .to_vec(),
            body: Vec::new(),
            explains: &["category header", "utf-8"],
        },
        Case {
            name: "bad Category syntax in a text/occi header",
            method: "POST",
            path: "/compute/".into(),
            headers: b"content-type: text/occi\r\ncategory: compute; scheme=\"http://x#; class\r\n"
                .to_vec(),
            body: Vec::new(),
            explains: &["quote"],
        },
    ]
}

#[tokio::test]
async fn a_corpus_of_hostile_requests_gets_explained_4xx_answers() {
    let gw = common::start_gateway().await;
    let addr = gw.url.trim_start_matches("http://").to_owned();
    let mut failures = Vec::new();
    for c in corpus() {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nhost: {addr}\r\nx-auth-token: alice-token\r\nconnection: close\r\n",
            c.method, c.path
        )
        .into_bytes();
        head.extend_from_slice(&c.headers);
        let declares_length = String::from_utf8_lossy(&c.headers)
            .to_ascii_lowercase()
            .contains("content-length");
        if !declares_length {
            head.extend_from_slice(format!("content-length: {}\r\n", c.body.len()).as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        let (status, body) = raw(&addr, &head, &c.body).await;
        let lower = body.to_lowercase();
        let explained = c.explains.iter().all(|w| lower.contains(w));
        if !(400..500).contains(&status) || !explained {
            let shown: String = body.chars().take(300).collect();
            failures.push(format!("{}: {status} {shown:?}", c.name));
        }
    }
    assert!(
        failures.is_empty(),
        "not a 4xx explaining the problem:\n{}",
        failures.join("\n")
    );
    // The gateway is still fine, and nothing was created.
    let res = gw.client(0).get(gw.at("/compute/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(gw.sim_state().await["servers"], 0);
}

async fn post(gw: &Gateway, n: usize, path: &str, body: String) -> (StatusCode, String) {
    let (status, _, body) = gw.post_text(n, path, body).await;
    (status, body)
}

async fn created(gw: &Gateway, n: usize, collection: &str, body: String) -> String {
    let res = gw
        .client(n)
        .post(gw.at(collection))
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    location
        .strip_prefix(&gw.at(collection))
        .unwrap_or_else(|| panic!("{location} under {collection}"))
        .to_owned()
}

fn storage_body() -> String {
    format!(
        "Category: storage; scheme=\"{INFRA}\"; class=\"kind\"\nX-OCCI-Attribute: occi.storage.size=2\n"
    )
}

fn link_body(kind: &str, source: &str, target: &str) -> String {
    format!(
        "Category: {kind}; scheme=\"{INFRA}\"; class=\"kind\"\n\
         X-OCCI-Attribute: occi.core.source=\"{source}\"\n\
         X-OCCI-Attribute: occi.core.target=\"{target}\"\n"
    )
}

#[tokio::test]
async fn client_urls_are_never_fetched_nor_used_for_backend_paths() {
    let gw = common::start_gateway().await;
    let server = created(&gw, 0, "/compute/", compute_body("mine")).await;
    let volume = created(&gw, 0, "/storage/", storage_body()).await;
    let evil = "http://evil.example";
    let dotdot = "/storage/../../servers";
    gw.sim.reset_counters();
    let attempts: Vec<(&str, String)> = vec![
        (
            "/storagelink/",
            link_body(
                "storagelink",
                &format!("/compute/{server}"),
                &format!("{evil}/storage/{volume}"),
            ),
        ),
        (
            "/storagelink/",
            link_body(
                "storagelink",
                &format!("{evil}/compute/{server}"),
                &format!("/storage/{volume}"),
            ),
        ),
        (
            "/storagelink/",
            link_body("storagelink", &format!("/compute/{server}"), dotdot),
        ),
        (
            "/networkinterface/",
            link_body(
                "networkinterface",
                &format!("/compute/{server}"),
                &format!("{evil}/network/1"),
            ),
        ),
        (
            "/networkinterface/",
            link_body(
                "networkinterface",
                &format!("/compute/{server}"),
                "/network/../../servers",
            ),
        ),
        (
            "/compute/",
            format!(
                "{}Link: <{evil}/storage/{volume}>; rel=\"{INFRA}storage\"; category=\"{INFRA}storagelink\"\n",
                compute_body("ssrf")
            ),
        ),
        (
            "/compute/",
            format!(
                "{}Link: <{dotdot}>; rel=\"{INFRA}storage\"; category=\"{INFRA}storagelink\"\n",
                compute_body("ssrf")
            ),
        ),
        (
            "/resource_tpl/2/",
            format!("X-OCCI-Location: {evil}/compute/{server}\n"),
        ),
    ];
    for (path, body) in attempts {
        let (status, answer) = post(&gw, 0, path, body.clone()).await;
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND,
            "{path} {body}: {status} {answer}"
        );
        assert!(!answer.is_empty());
    }
    let calls = gw.calls();
    let backend: Vec<_> = calls
        .iter()
        .filter(|(k, _)| {
            !k.contains("/identity/") && !k.contains("flavors") && !k.contains("images")
        })
        .collect();
    assert!(
        backend.is_empty(),
        "no Synnefo call was made for a foreign or crafted URL: {backend:?}"
    );
}

#[tokio::test]
async fn a_user_cannot_touch_another_users_resources() {
    let gw = common::start_gateway().await;
    const ALICE: usize = 0;
    const BOB: usize = 1;
    // Flavor 4 (ext_archipelago): Cyclades attaches a volume only to a
    // server whose disks have its template.
    let ext = |title: &str| compute_body(title).replace("Category: 1;", "Category: 4;");
    let server = created(&gw, ALICE, "/compute/", ext("alices")).await;
    let volume = created(&gw, ALICE, "/storage/", storage_body()).await;
    let network = created(
        &gw,
        ALICE,
        "/network/",
        format!("Category: network; scheme=\"{INFRA}\"; class=\"kind\"\n"),
    )
    .await;
    let storagelink = created(
        &gw,
        ALICE,
        "/storagelink/",
        link_body(
            "storagelink",
            &format!("/compute/{server}"),
            &format!("/storage/{volume}"),
        ),
    )
    .await;
    let interface = created(
        &gw,
        ALICE,
        "/networkinterface/",
        link_body(
            "networkinterface",
            &format!("/compute/{server}"),
            &format!("/network/{network}"),
        ),
    )
    .await;
    // Bob's own things, to link with Alice's.
    let bob_server = created(&gw, BOB, "/compute/", ext("bobs")).await;
    let bob_volume = created(&gw, BOB, "/storage/", storage_body()).await;
    let bob_network = created(
        &gw,
        BOB,
        "/network/",
        format!("Category: network; scheme=\"{INFRA}\"; class=\"kind\"\n"),
    )
    .await;
    let (status, _) = post(
        &gw,
        BOB,
        "/-/",
        "Category: bobtag; scheme=\"http://example.org/bob#\"; class=\"mixin\"; location=\"/bobtag/\"\n"
            .to_owned(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let before = gw.sim_state().await;

    let bob = gw.client(BOB);
    let update = |path: String, body: String| {
        bob.put(gw.at(&path))
            .header("content-type", "text/plain")
            .body(body)
    };
    let entities = [
        format!("/compute/{server}"),
        format!("/storage/{volume}"),
        format!("/network/{network}"),
        format!("/storagelink/{storagelink}"),
        format!("/networkinterface/{interface}"),
    ];
    let mut attempts: Vec<(String, reqwest::RequestBuilder)> = Vec::new();
    for path in &entities {
        attempts.push((format!("GET {path}"), bob.get(gw.at(path))));
        attempts.push((
            format!("PUT {path}"),
            update(
                path.clone(),
                "X-OCCI-Attribute: occi.core.title=\"bob was here\"\n".to_owned(),
            ),
        ));
        attempts.push((
            format!("POST {path} (update)"),
            bob.post(gw.at(path))
                .header("content-type", "text/plain")
                .body("X-OCCI-Attribute: occi.core.title=\"bob was here\"\n"),
        ));
        attempts.push((format!("DELETE {path}"), bob.delete(gw.at(path))));
    }
    for (term, path) in [
        ("stop", format!("/compute/{server}")),
        ("restart", format!("/compute/{server}")),
    ] {
        attempts.push((
            format!("action {term} on {path}"),
            bob.post(gw.at(&format!("{path}?action={term}")))
                .header("content-type", "text/plain")
                .body(format!(
                    "Category: {term}; scheme=\"http://schemas.ogf.org/occi/infrastructure/compute/action#\"; class=\"action\"\n"
                )),
        ));
    }
    let link_creates = [
        (
            "storagelink",
            format!("/compute/{server}"),
            format!("/storage/{bob_volume}"),
        ),
        (
            "storagelink",
            format!("/compute/{bob_server}"),
            format!("/storage/{volume}"),
        ),
        (
            "networkinterface",
            format!("/compute/{server}"),
            format!("/network/{bob_network}"),
        ),
        (
            "networkinterface",
            format!("/compute/{bob_server}"),
            format!("/network/{network}"),
        ),
    ];
    for (kind, source, target) in &link_creates {
        attempts.push((
            format!("create {kind} {source} -> {target}"),
            bob.post(gw.at(&format!("/{kind}/")))
                .header("content-type", "text/plain")
                .body(link_body(kind, source, target)),
        ));
    }
    let alice_url = gw.at(&format!("/compute/{server}"));
    for mixin in ["/bobtag/", "/resource_tpl/2/"] {
        attempts.push((
            format!("associate {mixin} with Alice's compute"),
            bob.post(gw.at(mixin))
                .header("content-type", "text/plain")
                .body(format!("X-OCCI-Location: {alice_url}\n")),
        ));
    }
    let mut wrong = Vec::new();
    for (what, request) in attempts {
        let res = request.send().await.unwrap();
        let status = res.status();
        let body = res.text().await.unwrap();
        if status != StatusCode::NOT_FOUND {
            wrong.push(format!("{what}: {status} {body}"));
        }
    }
    assert!(wrong.is_empty(), "not 404:\n{}", wrong.join("\n"));

    // Nothing of Alice's changed; Bob's listings never show it.
    assert_eq!(gw.sim_state().await, before);
    let alice = gw.client(ALICE);
    for path in &entities {
        let res = alice.get(gw.at(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert!(!res.text().await.unwrap().contains("bob was here"));
    }
    for listing in [
        "/compute/",
        "/storage/",
        "/network/",
        "/storagelink/",
        "/networkinterface/",
        "/bobtag/",
    ] {
        let text = bob
            .get(gw.at(listing))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for path in &entities {
            assert!(
                !text.contains(path.as_str()),
                "{listing} shows {path} to Bob: {text}"
            );
        }
    }
}
