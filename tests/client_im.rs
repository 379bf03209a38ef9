//! The Infrastructure Manager's OCCI connector (grycap IM 1.19.1,
//! `IM/connectors/OCCI.py`), request by request: each test sends what
//! IM sends (bodies, headers, the way it reads answers) and checks what
//! IM needs from the answer. `tools/im` (see README, "Clients tested")
//! runs IM's own code against the gateway; these tests keep each finding
//! of that run fixed without needing IM installed.

mod common;

use common::{Gateway, start_gateway};
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
