//! The OCCI text rendering parsers (body lines and `text/occi` headers)
//! must return `Ok` or a `ParseError` for any input: never panic or hang.
#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use snf_occi_types::MediaType;
use snf_occi::occi::parse::text;
use snf_occi::occi::parse_request;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    let _ = text::parse_body(body);

    // The same lines as `Name: value` headers (what text/occi carries).
    let mut headers = HeaderMap::new();
    for line in body.lines() {
        if let Some((name, value)) = line.split_once(':')
            && let (Ok(name), Ok(value)) = (
                HeaderName::try_from(name.trim()),
                HeaderValue::try_from(value.trim()),
            )
        {
            headers.append(name, value);
        }
    }
    let _ = text::parse_headers(&headers);
    for media in [None, Some(MediaType::TextPlain), Some(MediaType::TextOcci), Some(MediaType::UriList)] {
        let _ = parse_request(&headers, data, media);
    }
});
