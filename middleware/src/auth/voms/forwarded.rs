//! Certificates a trusted TLS front end forwards in headers
//! (`SSL_CLIENT_CERT` + `SSL_CLIENT_CERT_CHAIN_n`, or the
//! `SSL-Client-Cert` spelling), and the same form for astavoms.

use http::{HeaderMap, HeaderValue};
use rustls_pki_types::CertificateDer;

use super::error::VomsError;

/// Most forwarded chain headers read (a proxy chain is a handful deep).
const MAX_CHAIN: usize = 16;

/// `SSL_CLIENT_CERT` (+ chain) headers, either spelling.
pub(super) fn forwarded_chain(
    headers: &HeaderMap,
) -> Option<Result<Vec<CertificateDer<'static>>, VomsError>> {
    let leaf = match forwarded_header(headers, "ssl_client_cert", "ssl-client-cert") {
        Ok(leaf) => leaf?,
        Err(err) => return Some(Err(err)),
    };
    let mut chain = Vec::new();
    match decode_pem_header(leaf) {
        Some(Some(der)) => chain.push(der),
        Some(None) => return None, // "(null)": the front end saw no certificate
        None => return Some(Err(VomsError::BadHeader)),
    }
    for n in 0..MAX_CHAIN {
        let value = forwarded_header(
            headers,
            &format!("ssl_client_cert_chain_{n}"),
            &format!("ssl-client-cert-chain-{n}"),
        );
        let value = match value {
            Ok(Some(value)) => value,
            Ok(None) => break,
            Err(err) => return Some(Err(err)),
        };
        match decode_pem_header(value) {
            Some(Some(der)) => chain.push(der),
            Some(None) => break,
            None => return Some(Err(VomsError::BadHeader)),
        }
    }
    Some(Ok(chain))
}

/// One forwarded certificate header, in either spelling. A front end
/// sets one spelling once; a second value (repeated, or the other spelling
/// with a different value) can only come from the client, passed on by a
/// front end that overwrote just its own spelling (Apache forwards
/// `SSL_CLIENT_CERT` from a client untouched while it sets
/// `SSL-Client-Cert`), so it is refused rather than guessed between.
fn forwarded_header<'a>(
    headers: &'a HeaderMap,
    underscore: &str,
    dash: &str,
) -> Result<Option<&'a HeaderValue>, VomsError> {
    let mut values = headers
        .get_all(underscore)
        .iter()
        .chain(headers.get_all(dash).iter());
    let first = values.next();
    if let Some(first) = first
        && values.any(|other| other != first)
    {
        return Err(VomsError::AmbiguousHeader);
    }
    Ok(first)
}

/// One PEM certificate from a header value: `Some(None)` for an empty or
/// `(null)` value, `None` for garbage.
fn decode_pem_header(value: &HeaderValue) -> Option<Option<CertificateDer<'static>>> {
    use base64::Engine;
    let text = value.to_str().ok()?.trim();
    if text.is_empty() || text == "(null)" || text == "null" {
        return Some(None);
    }
    let text = if text.contains('%') {
        percent_decode(text)?
    } else {
        text.to_owned()
    };
    let body = text
        .split("-----BEGIN CERTIFICATE-----")
        .nth(1)?
        .split("-----END CERTIFICATE-----")
        .next()?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    Some(Some(CertificateDer::from(der)))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A certificate as astavoms wants it in a header: PEM with the newlines
/// flattened to spaces, the way Apache mod_ssl forwards it.
pub(super) fn pem_header(der: &[u8]) -> Option<HeaderValue> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    HeaderValue::from_str(&format!(
        "-----BEGIN CERTIFICATE----- {} -----END CERTIFICATE-----",
        lines.join(" ")
    ))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_headers_round_trip_in_every_spelling() {
        let der = vec![0x30, 0x03, 0x02, 0x01, 0x07];
        let flat = pem_header(&der).unwrap();
        assert_eq!(
            decode_pem_header(&flat),
            Some(Some(CertificateDer::from(der.clone())))
        );
        let newlines = HeaderValue::from_static(
            "-----BEGIN CERTIFICATE-----\tMAMCAQc=\t-----END CERTIFICATE-----",
        );
        assert_eq!(
            decode_pem_header(&newlines),
            Some(Some(CertificateDer::from(der.clone())))
        );
        let escaped = HeaderValue::from_static(
            "-----BEGIN%20CERTIFICATE-----%0AMAMCAQc%3D%0A-----END%20CERTIFICATE-----%0A",
        );
        assert_eq!(
            decode_pem_header(&escaped),
            Some(Some(CertificateDer::from(der)))
        );
        assert_eq!(
            decode_pem_header(&HeaderValue::from_static("(null)")),
            Some(None)
        );
        assert_eq!(
            decode_pem_header(&HeaderValue::from_static("not a cert")),
            None
        );
        assert_eq!(decode_pem_header(&HeaderValue::from_static("%zz")), None);
    }

    proptest::proptest! {
        #[test]
        fn header_decoding_never_panics(text in "[ -~]{0,200}") {
            if let Ok(value) = HeaderValue::from_str(&text) {
                let _ = decode_pem_header(&value);
            }
            let _ = percent_decode(&text);
        }
    }

    #[test]
    fn forwarded_chains() {
        let mut headers = HeaderMap::new();
        assert!(forwarded_chain(&headers).is_none());
        headers.insert("ssl-client-cert", pem_header(&[0x30, 0x00]).unwrap());
        headers.insert(
            "ssl-client-cert-chain-0",
            pem_header(&[0x30, 0x01, 0x00]).unwrap(),
        );
        headers.insert(
            "ssl-client-cert-chain-1",
            HeaderValue::from_static("(null)"),
        );
        headers.insert(
            "ssl-client-cert-chain-2",
            pem_header(&[0x30, 0x02, 0x00, 0x00]).unwrap(),
        );
        let chain = forwarded_chain(&headers).unwrap().unwrap();
        assert_eq!(chain.len(), 2, "reading stops at (null)");
        // The other spelling with the same value is the same header.
        headers.insert("ssl_client_cert", pem_header(&[0x30, 0x00]).unwrap());
        assert_eq!(forwarded_chain(&headers).unwrap().unwrap().len(), 2);
        // With another value it is ambiguous, whichever it is.
        headers.insert("ssl_client_cert", HeaderValue::from_static("garbage"));
        assert!(matches!(
            forwarded_chain(&headers),
            Some(Err(VomsError::AmbiguousHeader))
        ));
        headers.remove("ssl-client-cert");
        assert!(matches!(
            forwarded_chain(&headers),
            Some(Err(VomsError::BadHeader))
        ));
        // A chain header sent twice, or smuggled in the other spelling
        // where the front end said "(null)".
        let mut headers = HeaderMap::new();
        headers.insert("ssl-client-cert", pem_header(&[0x30, 0x00]).unwrap());
        headers.insert(
            "ssl-client-cert-chain-0",
            HeaderValue::from_static("(null)"),
        );
        headers.insert(
            "ssl_client_cert_chain_0",
            pem_header(&[0x30, 0x01, 0x00]).unwrap(),
        );
        assert!(matches!(
            forwarded_chain(&headers),
            Some(Err(VomsError::AmbiguousHeader))
        ));
        headers.remove("ssl_client_cert_chain_0");
        headers.append(
            "ssl-client-cert-chain-0",
            pem_header(&[0x30, 0x01, 0x00]).unwrap(),
        );
        assert!(matches!(
            forwarded_chain(&headers),
            Some(Err(VomsError::AmbiguousHeader))
        ));
    }
}
