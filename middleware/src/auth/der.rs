//! A minimal DER reader for the structures x509-parser does not decode:
//! RFC 3820 ProxyCertInfo and the RFC 5755 attribute certificates VOMS
//! embeds in proxies. Reads definite lengths and low tag numbers only,
//! which is all DER (and those structures) use; anything else is `None`.

/// One tag-length-value element.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tlv<'a> {
    /// The identifier octet (class, constructed bit and tag number).
    pub(crate) tag: u8,
    /// The value octets.
    pub(crate) content: &'a [u8],
    /// The whole element, header included (what signatures cover).
    pub(crate) raw: &'a [u8],
}

pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const OID: u8 = 0x06;
pub(crate) const UTF8_STRING: u8 = 0x0c;
pub(crate) const SEQUENCE: u8 = 0x30;

/// Reads one element from the front of `input`.
pub(crate) fn read(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // high tag numbers: not used by these structures
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    let header = input.len() - rest.len();
    let (content, rest) = rest.split_at(len);
    Some((
        Tlv {
            tag,
            content,
            raw: &input[..header + len],
        },
        rest,
    ))
}

/// Reads exactly one element spanning all of `input`.
pub(crate) fn read_all(input: &[u8]) -> Option<Tlv<'_>> {
    match read(input)? {
        (tlv, []) => Some(tlv),
        _ => None,
    }
}

/// The elements inside a constructed element's content.
pub(crate) fn children(content: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        let (tlv, next) = read(rest)?;
        out.push(tlv);
        rest = next;
    }
    Some(out)
}

/// Encodes a dotted OID's arcs as DER content (to compare with `OID` TLVs).
pub(crate) fn oid_content(arcs: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut push = |mut v: u64| {
        let mut bytes = vec![(v & 0x7f) as u8];
        v >>= 7;
        while v > 0 {
            bytes.push(((v & 0x7f) as u8) | 0x80);
            v >>= 7;
        }
        out.extend(bytes.iter().rev());
    };
    if arcs.len() >= 2 {
        push(arcs[0] * 40 + arcs[1]);
        for arc in &arcs[2..] {
            push(*arc);
        }
    }
    out
}

/// Parses a GeneralizedTime `YYYYMMDDHHMMSS[.fff]Z`.
pub(crate) fn generalized_time(content: &[u8]) -> Option<std::time::SystemTime> {
    let text = std::str::from_utf8(content).ok()?;
    let text = text.strip_suffix('Z')?;
    let text = text.split('.').next()?;
    if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text[r].parse::<u32>().ok();
    let year = i32::try_from(num(0..4)?).ok()?;
    let month = time::Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?;
    let date = time::Date::from_calendar_date(year, month, u8::try_from(num(6..8)?).ok()?).ok()?;
    let time = time::Time::from_hms(
        u8::try_from(num(8..10)?).ok()?,
        u8::try_from(num(10..12)?).ok()?,
        u8::try_from(num(12..14)?).ok()?,
    )
    .ok()?;
    Some(time::PrimitiveDateTime::new(date, time).assume_utc().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn reads_short_and_long_lengths() {
        let short = [0x04, 0x02, 0xaa, 0xbb, 0x05, 0x00];
        let (tlv, rest) = read(&short).unwrap();
        assert_eq!(
            (tlv.tag, tlv.content, tlv.raw.len(), rest.len()),
            (0x04, &[0xaa, 0xbb][..], 4, 2)
        );
        let mut long = vec![0x04, 0x81, 200];
        long.extend([7u8; 200]);
        assert_eq!(read_all(&long).unwrap().content.len(), 200);
        assert!(read(&[0x04, 0x05, 1]).is_none(), "truncated");
        assert!(read(&[0x04, 0x85, 1, 1, 1, 1, 1]).is_none(), "huge length");
        assert!(read_all(&short).is_none(), "trailing data");
        assert!(read(&[]).is_none());
    }

    #[test]
    fn oids() {
        // 1.3.6.1.5.5.7.1.14 (ProxyCertInfo)
        assert_eq!(
            oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 14]),
            vec![0x2b, 6, 1, 5, 5, 7, 1, 14]
        );
        // 1.3.6.1.4.1.8005.100.100.5: 8005 needs two octets
        assert_eq!(
            oid_content(&[1, 3, 6, 1, 4, 1, 8005, 100, 100, 5]),
            vec![0x2b, 6, 1, 4, 1, 0xbe, 0x45, 100, 100, 5]
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_input(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = read(&bytes);
            let _ = read_all(&bytes);
            let _ = children(&bytes);
            let _ = generalized_time(&bytes);
        }
    }

    #[test]
    fn times() {
        assert_eq!(
            generalized_time(b"19700101000100Z"),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(60))
        );
        assert!(generalized_time(b"20261301000000Z").is_none());
        assert!(generalized_time(b"2026").is_none());
    }
}
