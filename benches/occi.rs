//! OCCI library benchmarks (divan): parse and render a 50-attribute
//! resource, render listings of 1,000 and 10,000 locations (linear?) and a
//! query interface of 500 categories.

use divan::{Bencher, black_box};
use snf_occi::occi::infrastructure::{self as infra, catalogue, os_template};
use snf_occi::occi::{Renderer, Resource, parse_request};
use snf_occi_types::MediaType;

fn main() {
    divan::main();
}

const MEDIA: [MediaType; 3] = [
    MediaType::TextPlain,
    MediaType::TextOcci,
    MediaType::OcciJson,
];

fn resource50() -> Resource {
    let mut r = Resource::new(infra::COMPUTE, "42", "/compute/42");
    for i in 0..50 {
        match i % 3 {
            0 => r
                .attributes
                .set(format!("org.example.attr{i}"), format!("value number {i}")),
            1 => r.attributes.set(format!("org.example.attr{i}"), i as i64),
            _ => r
                .attributes
                .set(format!("org.example.attr{i}"), i as f64 / 3.0),
        }
    }
    r
}

#[divan::bench(args = MEDIA)]
fn render_resource_50_attributes(bencher: Bencher, media: MediaType) {
    let r = Renderer::new("http://localhost:8888");
    let res = resource50();
    bencher.bench(|| r.resource(black_box(&res), media));
}

#[divan::bench(args = MEDIA)]
fn parse_resource_50_attributes(bencher: Bencher, media: MediaType) {
    let out = Renderer::new("http://localhost:8888")
        .resource(&resource50(), media)
        .unwrap();
    bencher.bench(|| parse_request(black_box(&out.headers), black_box(&out.body), Some(media)));
}

#[divan::bench(args = [1_000, 10_000])]
fn render_locations_text_plain(bencher: Bencher, n: usize) {
    let r = Renderer::new("http://localhost:8888");
    let locs: Vec<String> = (0..n).map(|i| format!("/compute/{i}")).collect();
    bencher.bench(|| r.locations(black_box(&locs), MediaType::TextPlain));
}

#[divan::bench(args = [1_000, 10_000])]
fn render_locations_uri_list(bencher: Bencher, n: usize) {
    let r = Renderer::new("http://localhost:8888");
    let locs: Vec<String> = (0..n).map(|i| format!("/compute/{i}")).collect();
    bencher.bench(|| r.locations(black_box(&locs), MediaType::UriList));
}

#[divan::bench(args = MEDIA)]
fn render_query_500_categories(bencher: Bencher, media: MediaType) {
    let r = Renderer::new("http://localhost:8888");
    let n = 500 - catalogue().category_set().len();
    let tpls: Vec<_> = (0..n)
        .map(|i| os_template(&format!("img-{i}"), &format!("Image {i}")))
        .collect();
    let mut set = catalogue().category_set();
    set.mixins.extend(tpls.iter());
    assert_eq!(set.len(), 500);
    bencher.bench(|| r.categories(black_box(&set), media));
}
