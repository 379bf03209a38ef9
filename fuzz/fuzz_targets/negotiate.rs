//! `Accept` and `Content-Type` negotiation must choose a media type or
//! return a `NegotiateError` for any header text: never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snf_occi_middleware::negotiate::{choose_request, choose_response};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // First line: Accept; the rest: Content-Type.
    let (accept, content_type) = text.split_once('\n').unwrap_or((text, ""));
    let _ = choose_response(Some(accept));
    let _ = choose_request(Some(content_type));
    if let Ok(media) = choose_response(Some(accept)) {
        // The chosen type is one the server renders.
        assert!(snf_occi_types::MediaType::ALL.contains(&media));
    }
});
