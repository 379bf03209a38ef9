//! `text/uri-list` (RFC 2483): one absolute URL per line, CRLF-separated.

use bytes::Bytes;

use super::Renderer;

/// Renders locations as a uri-list body.
pub fn render<S: AsRef<str>>(r: &Renderer, locations: &[S]) -> Bytes {
    let mut out = String::with_capacity(locations.len() * (r.base_url().len() + 24));
    for l in locations {
        let l = l.as_ref();
        if !l.contains("://") {
            out.push_str(r.base_url());
            if !l.starts_with('/') {
                out.push('/');
            }
        }
        out.push_str(l);
        out.push_str("\r\n");
    }
    Bytes::from(out)
}
