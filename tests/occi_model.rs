//! The OCCI library: renderings of a rich resource and of the query
//! interface (insta snapshots), render -> parse round trips, parsers that
//! never panic, JSON shapes checked against the OCCI 1.2 schema rules,
//! and validation errors.

use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use snf_occi::occi::infrastructure::{
    self as infra, attr, catalogue, os_template, resource_template,
};
use snf_occi::occi::{
    AttributeValue, Attributes, CategoryClass, EntityRef, Link, ParseError, Renderer, Resource,
    Validation, parse_request,
};
use snf_occi_types::MediaType;

const BASE: &str = "http://localhost:8888";

fn rich_resource() -> Resource {
    let mut r = Resource::new(infra::COMPUTE, "42", "/compute/42");
    r.mixins = vec![
        format!("{}{}", infra::OS_TPL_SCHEME, "img-debian"),
        format!("{}3", infra::RESOURCE_TPL_SCHEME),
    ];
    r.attributes.set(attr::TITLE, "web \"front\" 1");
    r.attributes.set(attr::COMPUTE_CORES, 2i64);
    r.attributes.set(attr::COMPUTE_MEMORY, 2.0f64);
    r.attributes.set(attr::COMPUTE_ARCHITECTURE, "x64");
    r.attributes.set(attr::COMPUTE_HOSTNAME, "web1");
    r.attributes.set(attr::COMPUTE_STATE, "active");
    r.attributes.set("org.example.flag", true);
    r.actions = vec![
        infra::COMPUTE_STOP.into(),
        infra::COMPUTE_RESTART.into(),
        infra::COMPUTE_SUSPEND.into(),
    ];
    let mut ni = Link::new(
        infra::NETWORKINTERFACE,
        "42_7",
        "/networkinterface/42_7",
        EntityRef::new("/compute/42", infra::COMPUTE),
        EntityRef::new("/network/7", infra::NETWORK),
    );
    ni.mixins = vec![infra::IPNETWORKINTERFACE.into()];
    ni.attributes.set(attr::NI_ADDRESS, "10.0.0.5");
    ni.attributes.set(attr::NI_STATE, "active");
    let mut sl = Link::new(
        infra::STORAGELINK,
        "42_9",
        "/storagelink/42_9",
        EntityRef::new("/compute/42", infra::COMPUTE),
        EntityRef::new("/storage/9", infra::STORAGE),
    );
    sl.attributes.set(attr::SL_DEVICEID, "vdb");
    r.links = vec![ni, sl];
    r
}

fn query_set() -> (Vec<snf_occi::occi::Mixin>,) {
    (vec![
        resource_template("3", "C2R2048D20", 2, 2.0, 20.0),
        os_template("img-debian", "Debian"),
    ],)
}

fn body(r: &snf_occi::occi::Rendered) -> String {
    String::from_utf8(r.body.to_vec()).unwrap()
}

fn headers_text(h: &HeaderMap) -> String {
    let mut out = String::new();
    for (n, v) in h {
        out.push_str(&format!("{}: {}\n", n, v.to_str().unwrap()));
    }
    out
}

#[test]
fn snapshots_of_a_rich_resource() {
    let r = Renderer::new(BASE);
    let res = rich_resource();
    insta::assert_snapshot!(
        "resource_text_plain",
        body(&r.resource(&res, MediaType::TextPlain).unwrap())
    );
    let occi = r.resource(&res, MediaType::TextOcci).unwrap();
    assert_eq!(occi.media, MediaType::TextOcci);
    assert_eq!(body(&occi), "OK");
    insta::assert_snapshot!("resource_text_occi", headers_text(&occi.headers));
    let json: serde_json::Value =
        serde_json::from_slice(&r.resource(&res, MediaType::OcciJson).unwrap().body).unwrap();
    insta::assert_json_snapshot!("resource_json", json);
}

#[test]
fn snapshots_of_the_query_interface() {
    let r = Renderer::new(BASE);
    let (tpls,) = query_set();
    let mut set = catalogue().category_set();
    set.mixins.extend(tpls.iter());
    insta::assert_snapshot!(
        "query_text_plain",
        body(&r.categories(&set, MediaType::TextPlain).unwrap())
    );
    let occi = r.categories(&set, MediaType::TextOcci).unwrap();
    insta::assert_snapshot!("query_text_occi", headers_text(&occi.headers));
    let json: serde_json::Value =
        serde_json::from_slice(&r.categories(&set, MediaType::OcciJson).unwrap().body).unwrap();
    insta::assert_json_snapshot!("query_json", json);
}

#[test]
fn query_interface_carries_attributes_actions_and_required_markers() {
    let r = Renderer::new(BASE);
    let text = body(
        &r.categories(&catalogue().category_set(), MediaType::TextPlain)
            .unwrap(),
    );
    let compute = text
        .lines()
        .find(|l| l.starts_with("Category: compute;"))
        .unwrap();
    assert!(compute.contains("location=\"/compute/\""));
    assert!(compute.contains("rel=\"http://schemas.ogf.org/occi/core#resource\""));
    assert!(compute.contains("occi.compute.state{immutable}"));
    assert!(
        compute
            .contains("actions=\"http://schemas.ogf.org/occi/infrastructure/compute/action#start")
    );
    let storage = text
        .lines()
        .find(|l| l.starts_with("Category: storage;"))
        .unwrap();
    assert!(storage.contains("occi.storage.size{required}"));
    let entity = text
        .lines()
        .find(|l| l.starts_with("Category: entity;"))
        .unwrap();
    assert!(
        !entity.contains("location="),
        "entity must not be bound: {entity}"
    );
    // Only what creation needs is required.
    let required: Vec<&str> = text
        .match_indices("{required}")
        .map(|(i, _)| &text[..i])
        .collect();
    assert_eq!(required.len(), 7, "{text}");
}

#[test]
fn uri_list_only_for_listings() {
    let r = Renderer::new(BASE);
    assert!(r.resource(&rich_resource(), MediaType::UriList).is_err());
    let l = r
        .locations(&["/compute/1", "/compute/2"], MediaType::UriList)
        .unwrap();
    assert_eq!(
        body(&l),
        "http://localhost:8888/compute/1\r\nhttp://localhost:8888/compute/2\r\n"
    );
    let t = r.locations(&["/compute/1"], MediaType::TextOcci).unwrap();
    assert_eq!(
        t.headers["x-occi-location"],
        "http://localhost:8888/compute/1"
    );
    let empty = r.collection(&[], &[], MediaType::OcciJson);
    assert_eq!(body(&empty), r#"{"resources":[]}"#);
}

#[test]
fn large_text_occi_listing_falls_back_to_text_plain() {
    let r = Renderer::new(BASE).with_max_header_bytes(1024);
    let locs: Vec<String> = (0..100).map(|i| format!("/compute/{i}")).collect();
    let out = r.locations(&locs, MediaType::TextOcci).unwrap();
    assert_eq!(out.media, MediaType::TextPlain);
    assert!(out.headers.is_empty());
    assert_eq!(body(&out).lines().count(), 100);
}

fn assert_round_trip(res: &Resource, req: &snf_occi::occi::OcciRequest) {
    assert_eq!(req.kind().unwrap().type_id(), res.kind);
    let mixins: Vec<String> = req.mixins().map(|c| c.type_id()).collect();
    assert_eq!(mixins, res.mixins);
    let mut expected = Attributes::new();
    expected.set(attr::ID, res.id.clone());
    for (n, v) in res.attributes.iter() {
        expected.set(n, v.clone());
    }
    for (n, v) in expected.iter() {
        assert_eq!(req.attributes.get(n), Some(v), "attribute {n}");
    }
    assert_eq!(
        req.links.len(),
        res.links.len(),
        "action links are dropped, owned links kept"
    );
    for (l, p) in res.links.iter().zip(&req.links) {
        assert_eq!(p.target, format!("{BASE}{}", l.target.location));
        assert_eq!(p.kind.as_deref(), Some(l.kind.as_str()));
        assert_eq!(p.mixins, l.mixins);
        for (n, v) in l.attributes.iter() {
            assert_eq!(p.attributes.get(n), Some(v), "link attribute {n}");
        }
    }
}

#[test]
fn rich_resource_round_trips_in_every_rendering() {
    let r = Renderer::new(BASE);
    let res = rich_resource();
    let plain = r.resource(&res, MediaType::TextPlain).unwrap();
    assert_round_trip(
        &res,
        &parse_request(&HeaderMap::new(), &plain.body, Some(MediaType::TextPlain)).unwrap(),
    );
    let occi = r.resource(&res, MediaType::TextOcci).unwrap();
    assert_round_trip(
        &res,
        &parse_request(&occi.headers, &occi.body, Some(MediaType::TextOcci)).unwrap(),
    );
    let json = r.resource(&res, MediaType::OcciJson).unwrap();
    let req = parse_request(&HeaderMap::new(), &json.body, Some(MediaType::OcciJson)).unwrap();
    assert_round_trip(&res, &req);
}

fn value_strategy() -> impl Strategy<Value = AttributeValue> {
    prop_oneof![
        any::<String>().prop_map(AttributeValue::String),
        any::<i64>().prop_map(AttributeValue::Integer),
        (-1.0e12f64..1.0e12).prop_map(AttributeValue::Float),
        any::<bool>().prop_map(AttributeValue::Bool),
    ]
}

prop_compose! {
    fn resource_strategy()(
        id in "[a-z0-9-]{1,20}",
        attrs in proptest::collection::vec(("[a-z][a-z0-9_]{0,8}(\\.[a-z][a-z0-9_]{0,8}){1,3}", value_strategy()), 0..12),
        mixins in proptest::collection::btree_set("[a-z][a-z0-9_]{0,10}", 0..4),
        actions in proptest::collection::vec(prop_oneof![Just(infra::COMPUTE_START), Just(infra::COMPUTE_STOP)], 0..2),
    ) -> Resource {
        let mut r = Resource::new(infra::COMPUTE, id.clone(), format!("/compute/{id}"));
        for (n, v) in attrs {
            if n != attr::ID {
                r.attributes.set(n, v);
            }
        }
        r.mixins = mixins.into_iter().map(|m| format!("http://example.org/tpl#{m}")).collect();
        r.actions = actions.into_iter().map(str::to_owned).collect();
        r
    }
}

/// Arbitrary JSON with OCCI's member names in it (kind, mixins,
/// attributes, links, actions, source, target, ...), nested a few levels.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "[a-z:/#.]{0,30}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::from(
            "http://schemas.ogf.org/occi/infrastructure#compute"
        )),
    ];
    let keys = prop_oneof![
        Just("kind".to_owned()),
        Just("mixins".to_owned()),
        Just("attributes".to_owned()),
        Just("links".to_owned()),
        Just("actions".to_owned()),
        Just("action".to_owned()),
        Just("id".to_owned()),
        Just("source".to_owned()),
        Just("target".to_owned()),
        Just("location".to_owned()),
        Just("scheme".to_owned()),
        Just("term".to_owned()),
        Just("occi.core.title".to_owned()),
        "[a-z.]{1,12}",
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(keys.clone(), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn text_plain_round_trip(res in resource_strategy()) {
        let r = Renderer::new(BASE);
        let out = r.resource(&res, MediaType::TextPlain).unwrap();
        let req = parse_request(&HeaderMap::new(), &out.body, Some(MediaType::TextPlain)).unwrap();
        assert_round_trip(&res, &req);
    }

    #[test]
    fn text_occi_round_trip(res in resource_strategy()) {
        let r = Renderer::new(BASE);
        let out = r.resource(&res, MediaType::TextOcci).unwrap();
        let req = parse_request(&out.headers, &out.body, Some(out.media)).unwrap();
        assert_round_trip(&res, &req);
    }

    #[test]
    fn json_round_trip(res in resource_strategy()) {
        let r = Renderer::new(BASE);
        let out = r.resource(&res, MediaType::OcciJson).unwrap();
        let req = parse_request(&HeaderMap::new(), &out.body, Some(MediaType::OcciJson)).unwrap();
        assert_round_trip(&res, &req);
    }

    #[test]
    fn parsers_never_panic_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        for m in [None, Some(MediaType::TextPlain), Some(MediaType::TextOcci), Some(MediaType::OcciJson), Some(MediaType::UriList)] {
            let _ = parse_request(&HeaderMap::new(), &bytes, m);
        }
    }

    #[test]
    fn json_parser_never_panics_on_json_values(value in json_value()) {
        let body = value.to_string();
        for m in [MediaType::OcciJson, MediaType::Json] {
            let _ = parse_request(&HeaderMap::new(), body.as_bytes(), Some(m));
        }
    }

    #[test]
    fn parsers_never_panic_on_occi_like_text(s in "(Category|Link|X-OCCI-Attribute|X-OCCI-Location|Location): [a-z<>;=\" ,#:/\\\\.{}\\[\\]0-9-]{0,80}(\n|\r\n)?") {
        let _ = parse_request(&HeaderMap::new(), s.as_bytes(), Some(MediaType::TextPlain));
        if let Some((n, v)) = s.trim_end().split_once(": ")
            && let Ok(v) = HeaderValue::from_str(v)
        {
            let mut h = HeaderMap::new();
            h.insert(HeaderName::from_bytes(n.as_bytes()).unwrap(), v);
            let _ = parse_request(&h, b"", Some(MediaType::TextOcci));
        }
    }
}

#[test]
fn parses_what_real_clients_send() {
    // The seed's curl example: headers, unquoted scheme, trailing `;`, no class,
    // spaces around `=`.
    let mut h = HeaderMap::new();
    h.append(
        "category",
        HeaderValue::from_static(
            r#"compute; scheme=http://schemas.ogf.org/occi/infrastructure#; class="kind";"#,
        ),
    );
    h.append(
        "x-occi-attribute",
        HeaderValue::from_static("occi.core.title = newVM"),
    );
    h.append(
        "category",
        HeaderValue::from_static(
            "C2R2048D20; scheme=http://schemas.ogf.org/occi/infrastructure#; ",
        ),
    );
    h.append(
        "category",
        HeaderValue::from_static("Debian; scheme=http://schemas.ogf.org/occi/infrastructure#;"),
    );
    let req = parse_request(&h, b"", Some(MediaType::TextOcci)).unwrap();
    assert_eq!(req.kind().unwrap().term, "compute");
    assert_eq!(req.attributes.get_str(attr::TITLE), Some("newVM"));
    let names: Vec<&str> = req.unclassified().map(|c| c.term.as_str()).collect();
    assert_eq!(names, ["C2R2048D20", "Debian"]);

    // rOCCI-cli: no spaces after `;`, CRLF, OpenStack user_data, inline link,
    // action link and client `self` ignored.
    let body = "Category: compute;scheme=\"http://schemas.ogf.org/occi/infrastructure#\";class=\"kind\"\r\n\
Category: user_data;scheme=\"http://schemas.openstack.org/compute/instance#\";class=\"mixin\"\r\n\
Link: </network/7>;rel=\"http://schemas.ogf.org/occi/infrastructure#network\";self=\"/networkinterface/x\";category=\"http://schemas.ogf.org/occi/infrastructure#networkinterface\"\r\n\
Link: </compute/1?action=start>;rel=\"http://schemas.ogf.org/occi/infrastructure/compute/action#start\"\r\n\
X-OCCI-Attribute: org.openstack.compute.user_data=\"I2Nsb3VkLWNvbmZpZw==\"\r\n\
X-OCCI-Attribute: occi.compute.cores=2, occi.compute.memory=2.5\r\n";
    let req = parse_request(&HeaderMap::new(), body.as_bytes(), None).unwrap();
    assert_eq!(
        req.mixins().next().unwrap().type_id(),
        infra::OPENSTACK_USER_DATA
    );
    assert_eq!(req.links.len(), 1);
    assert_eq!(req.links[0].target, "/network/7");
    assert_eq!(req.links[0].kind.as_deref(), Some(infra::NETWORKINTERFACE));
    assert_eq!(
        req.attributes.get(attr::COMPUTE_CORES),
        Some(&AttributeValue::Integer(2))
    );
    assert_eq!(
        req.attributes.get(attr::COMPUTE_MEMORY),
        Some(&AttributeValue::Float(2.5))
    );

    // Target only in occi.core.target (ooi style), X-OCCI-Category alias.
    let mut h = HeaderMap::new();
    h.insert(
        "x-occi-category",
        HeaderValue::from_static(
            r#"storagelink; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind""#,
        ),
    );
    h.insert("x-occi-link", HeaderValue::from_static(r#"occi.core.target="/storage/3"; category="http://schemas.ogf.org/occi/infrastructure#storagelink""#));
    let req = parse_request(&h, b"", Some(MediaType::TextOcci)).unwrap();
    assert_eq!(req.kind().unwrap().term, "storagelink");
    assert_eq!(req.links[0].target, "/storage/3");

    // Action invocation in JSON.
    let req = parse_request(
        &HeaderMap::new(),
        br#"{"action": "http://schemas.ogf.org/occi/infrastructure/compute/action#stop", "attributes": {"method": "graceful"}}"#,
        Some(MediaType::OcciJson),
    )
    .unwrap();
    assert_eq!(req.action().unwrap().term, "stop");
    assert_eq!(req.attributes.get_str("method"), Some("graceful"));

    // Mixin definition (POST /-/), text and JSON.
    let req = parse_request(
        &HeaderMap::new(),
        b"Category: mytag; scheme=\"http://example.org/user#\"; class=\"mixin\"; location=\"/mytag/\"\n",
        Some(MediaType::TextPlain),
    )
    .unwrap();
    assert_eq!(req.categories[0].class, Some(CategoryClass::Mixin));
    assert_eq!(req.categories[0].location.as_deref(), Some("/mytag/"));
    let req = parse_request(
        &HeaderMap::new(),
        br#"{"mixins": [{"term": "mytag", "scheme": "http://example.org/user#", "location": "/mytag/"}]}"#,
        Some(MediaType::OcciJson),
    )
    .unwrap();
    assert_eq!(req.categories[0].location.as_deref(), Some("/mytag/"));
}

#[test]
fn malformed_input_gives_errors_that_quote_it() {
    let cases: &[(&str, &str)] = &[
        (
            "X-OCCI-Attribute: occi.core.title=\"unterminated\n",
            "unterminated",
        ),
        ("Category: ; scheme=\"http://x#\"\n", "without a term"),
        ("X-OCCI-Attribute: occi.core.title\n", "occi.core.title"),
        ("Category: compute; class=\"kind\"\n", "without a scheme"),
        (
            "Category: compute; scheme=\"http://a#\"; class=\"kind\"\nCategory: storage; scheme=\"http://a#\"; class=\"kind\"\n",
            "more than one kind",
        ),
        ("Bogus: thing\n", "Bogus: thing"),
    ];
    for (input, needle) in cases {
        let e = parse_request(
            &HeaderMap::new(),
            input.as_bytes(),
            Some(MediaType::TextPlain),
        )
        .unwrap_err();
        assert!(e.to_string().contains(needle), "{input:?} -> {e}");
    }
    let e = parse_request(
        &HeaderMap::new(),
        br#"{"kind": 3}"#,
        Some(MediaType::OcciJson),
    )
    .unwrap_err();
    assert!(e.to_string().contains("\"kind\""), "{e}");
    let big = vec![b' '; 5 * 1024 * 1024];
    assert!(matches!(
        parse_request(&HeaderMap::new(), &big, None),
        Err(ParseError::TooLarge(_))
    ));
}

#[test]
fn validation_names_attribute_value_and_rule() {
    let cat = catalogue();
    let compute = cat.kind(infra::COMPUTE).unwrap();
    let defs = cat.attribute_defs(compute, &[]);
    let mut a = Attributes::new();
    a.set(attr::COMPUTE_ARCHITECTURE, "arm");
    let e = a
        .validate(defs.iter().copied(), Validation::Create)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("occi.compute.architecture") && e.contains("arm") && e.contains("x86, x64"),
        "{e}"
    );

    let storage = cat.kind(infra::STORAGE).unwrap();
    let e = Attributes::new()
        .validate(
            cat.attribute_defs(storage, &[]).iter().copied(),
            Validation::Create,
        )
        .unwrap_err();
    assert!(e.to_string().contains("occi.storage.size is required"));

    let mut a = Attributes::new();
    a.set(attr::COMPUTE_STATE, "active");
    let e = a
        .validate(defs.iter().copied(), Validation::Update)
        .unwrap_err();
    assert!(e.to_string().contains("immutable"));

    let mut a = Attributes::new();
    a.set(attr::COMPUTE_MEMORY, 4i64);
    a.set(attr::COMPUTE_CORES, "2");
    let ok = a
        .validate(defs.iter().copied(), Validation::Create)
        .unwrap();
    assert_eq!(
        ok.get(attr::COMPUTE_MEMORY),
        Some(&AttributeValue::Float(4.0))
    );
    assert_eq!(
        ok.get(attr::COMPUTE_CORES),
        Some(&AttributeValue::Integer(2))
    );

    let net = cat.kind(infra::NETWORK).unwrap();
    let mut a = Attributes::new();
    a.set(attr::NETWORK_VLAN, 5000i64);
    let e = a
        .validate(
            cat.attribute_defs(net, &[]).iter().copied(),
            Validation::Create,
        )
        .unwrap_err();
    assert!(e.to_string().contains("at most 4095"));
}

/// What a user mixin of a store may hold, including what the grammar
/// forbids: quotes, `;`, `,`, spaces, CR, LF, `#` in odd places.
fn stored_mixin() -> impl Strategy<Value = snf_occi::occi::Mixin> {
    (
        prop_oneof!["[a-z][a-z0-9_.-]{0,8}", "[a-zA-Z0-9_.\" ;=,\r\n#-]{0,12}"],
        prop_oneof![
            Just("http://example.com/tags#".to_owned()),
            "[a-z:/#.\" ;,\r\n]{0,24}",
        ],
        proptest::option::of(any::<String>()),
        prop_oneof![Just("/tag/".to_owned()), "[a-z/\" ;\r\n]{0,10}"],
    )
        .prop_map(|(term, scheme, title, location)| {
            infra::user_mixin(&scheme, &term, title.as_deref(), &location, Vec::new())
        })
}

proptest! {
    /// Whatever a store holds, the query interface renders well-formed in
    /// every media type: each text/plain line is one Category, and parsing
    /// any rendering back finds exactly the categories that follow the
    /// grammar, with their terms, schemes and titles unchanged.
    #[test]
    fn stored_mixins_never_break_a_rendering(mixins in proptest::collection::vec(stored_mixin(), 0..5)) {
        use snf_occi::occi::{CategoryRef, CategorySet};
        let r = Renderer::new(BASE);
        let set = CategorySet { kinds: Vec::new(), mixins: mixins.iter().collect(), actions: Vec::new() };
        let valid: Vec<_> = mixins.iter().filter(|m| CategoryRef::Mixin(m).check().is_ok()).collect();
        let same = |req: &snf_occi::occi::OcciRequest| {
            prop_assert_eq!(req.categories.len(), valid.len());
            for (c, m) in req.categories.iter().zip(&valid) {
                prop_assert_eq!(&c.term, &m.category.term);
                prop_assert_eq!(&c.scheme, &m.category.scheme);
                prop_assert_eq!(&c.title, &m.category.title);
                prop_assert_eq!(c.location.as_ref(), m.location.as_ref());
            }
            Ok(())
        };

        let plain = r.categories(&set, MediaType::TextPlain).unwrap();
        let body = std::str::from_utf8(&plain.body).unwrap();
        prop_assert!(body.lines().all(|l| l.starts_with("Category: ")), "{}", body);
        same(&parse_request(&HeaderMap::new(), &plain.body, Some(MediaType::TextPlain)).unwrap())?;

        let occi = r.categories(&set, MediaType::TextOcci).unwrap();
        prop_assert_eq!(occi.headers.contains_key("category"), !valid.is_empty());
        same(&parse_request(&occi.headers, &occi.body, Some(occi.media)).unwrap())?;

        let json = r.categories(&set, MediaType::OcciJson).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
        prop_assert_eq!(v["mixins"].as_array().unwrap().len(), valid.len());
    }

    /// Whatever mixin definition the parser accepts renders back to the
    /// same category: nothing accepted is later left out or changed.
    #[test]
    fn accepted_definitions_render_back_unchanged(
        term in "[a-zA-Z0-9_.\" ;=,\r\n#-]{0,10}",
        scheme in prop_oneof![Just("http://example.com/tags#".to_owned()), "[a-z:/#.\" ;,\r\n%]{0,24}"],
        title in proptest::option::of(any::<String>()),
    ) {
        let def = serde_json::json!({"mixins": [{"term": term, "scheme": scheme, "title": title, "location": "/t/"}]});
        let Ok(req) = parse_request(&HeaderMap::new(), def.to_string().as_bytes(), Some(MediaType::OcciJson)) else {
            return Ok(());
        };
        let c = &req.categories[0];
        let m = infra::user_mixin(&c.scheme, &c.term, c.title.as_deref(), "/t/", Vec::new());
        let r = Renderer::new(BASE);
        let set = snf_occi::occi::CategorySet { kinds: Vec::new(), mixins: vec![&m], actions: Vec::new() };
        let plain = r.categories(&set, MediaType::TextPlain).unwrap();
        let back = parse_request(&HeaderMap::new(), &plain.body, Some(MediaType::TextPlain)).unwrap();
        prop_assert_eq!(back.categories.len(), 1);
        prop_assert_eq!(&back.categories[0].term, &term);
        prop_assert_eq!(&back.categories[0].scheme, &scheme);
        prop_assert_eq!(&back.categories[0].title, &title);
    }
}

#[test]
fn categories_that_break_the_grammar_are_400_naming_the_field() {
    let cases: &[(&[u8], Option<MediaType>, &str)] = &[
        (
            br#"{"mixins": [{"term": "a\r\nCategory: x", "scheme": "http://x.org/t#", "location": "/a/"}]}"#,
            Some(MediaType::OcciJson),
            r#"category term "a\r\nCategory: x": a term is a letter or digit"#,
        ),
        (
            br#"{"mixins": [{"term": "a\"; class=\"kind", "scheme": "http://x.org/t#", "location": "/a/"}]}"#,
            Some(MediaType::OcciJson),
            "category term",
        ),
        (
            br#"{"mixins": [{"term": "a", "scheme": "http://x.org/t", "location": "/a/"}]}"#,
            Some(MediaType::OcciJson),
            "category scheme \"http://x.org/t\": a scheme ends in '#'",
        ),
        (
            br#"{"mixins": [{"term": "a", "scheme": "x.org/t#", "location": "/a/"}]}"#,
            Some(MediaType::OcciJson),
            "a scheme is an absolute URI",
        ),
        (
            br#"{"mixins": [{"term": "a", "scheme": "http://x.org/t#", "title": "x\ty", "location": "/a/"}]}"#,
            Some(MediaType::OcciJson),
            "category title \"x\\ty\": a title may not contain control characters",
        ),
        (
            br#"{"mixins": [{"term": "a", "scheme": "http://x.org/t#", "location": "/a b/"}]}"#,
            Some(MediaType::OcciJson),
            "category location",
        ),
        (
            br#"{"kind": "http://schemas.ogf.org/occi/infrastructure#compute", "mixins": ["http://x.org/t#a b"]}"#,
            Some(MediaType::OcciJson),
            "category term \"a b\"",
        ),
        (
            br#"{"kind": "http://schemas.ogf.org/occi/infrastructure#compute", "links": [{"target": "/network/1", "kind": "http://x.org/t#a\"b"}]}"#,
            Some(MediaType::OcciJson),
            "category term",
        ),
        (
            b"Category: .a; scheme=\"http://x.org/t#\"; class=\"mixin\"\n",
            Some(MediaType::TextPlain),
            "category term \".a\"",
        ),
        (
            b"Category: a; scheme=\"http://x.org/t#\"; class=\"mixin\"; rel=\"x.org#b\"\n",
            Some(MediaType::TextPlain),
            "a scheme is an absolute URI",
        ),
        (
            b"Category: compute; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=\"kind\"\n\
              Link: </network/1>; rel=\"http://schemas.ogf.org/occi/infrastructure#network\"; category=\"nohash\"\n",
            Some(MediaType::TextPlain),
            "category type id \"nohash\"",
        ),
    ];
    for (input, media, needle) in cases {
        let e = parse_request(&HeaderMap::new(), input, *media).unwrap_err();
        assert!(matches!(e, ParseError::Grammar(_)), "{e:?}");
        assert!(
            e.to_string().contains(needle),
            "{} -> {e}",
            String::from_utf8_lossy(input)
        );
    }
}
