//! The OCCI JSON parser must return `Ok` or a `ParseError` for any input:
//! never panic, overflow the stack on deep nesting, or hang.
#![no_main]

use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use snf_occi_types::MediaType;
use snf_occi::occi::parse::json;
use snf_occi::occi::parse_request;

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = std::str::from_utf8(data) {
        let _ = json::parse(body);
    }
    let _ = parse_request(&HeaderMap::new(), data, Some(MediaType::OcciJson));
});
