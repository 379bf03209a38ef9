//! DER elements read with asn1-rs (the reader x509-parser is built on),
//! for the grid structures x509-parser does not decode: RFC 3820
//! ProxyCertInfo ([`proxy_chain`](super::proxy_chain)) and the RFC 5755
//! attribute certificates VOMS embeds in proxies ([`voms_ac`](super::voms_ac)).
//!
//! asn1-rs does the decoding (tags, definite lengths, DER integers, OIDs,
//! times, strings); this module only keeps each element's whole encoding
//! next to its value, because signatures cover the encoding. The
//! structures are matched element by element rather than with asn1-rs'
//! derived sequence parsers, which skip trailing elements they have no
//! field for: a ProxyCertInfo in the pre-RFC layout would read as an RFC
//! 3820 one without its path length.

use asn1_rs::{Any, Class, FromDer, Tag};

/// One DER element: its value and its whole encoding (header included).
pub(crate) struct Element<'a> {
    /// The decoded header and the content octets.
    pub(crate) value: Any<'a>,
    /// The whole element, as signatures cover it.
    pub(crate) raw: &'a [u8],
}

impl<'a> Element<'a> {
    /// Whether it has this class and tag number.
    pub(crate) fn is(&self, class: Class, tag: Tag) -> bool {
        self.value.class() == class && self.value.tag() == tag
    }

    /// Whether it is the universal type `tag` (SEQUENCE, INTEGER, ...).
    pub(crate) fn is_universal(&self, tag: Tag) -> bool {
        self.is(Class::Universal, tag)
    }

    /// Whether it is a constructed `[n]` (an IMPLICIT SEQUENCE or an
    /// EXPLICIT value).
    pub(crate) fn is_context(&self, n: u32) -> bool {
        self.is(Class::ContextSpecific, Tag(n)) && self.value.header.is_constructed()
    }

    /// The elements of a constructed value, all of its content.
    pub(crate) fn children(&self) -> Option<Vec<Element<'a>>> {
        if !self.value.header.is_constructed() {
            return None;
        }
        elements(self.value.data)
    }
}

/// Reads one element from the front of `input`.
pub(crate) fn element(input: &[u8]) -> Option<(Element<'_>, &[u8])> {
    let (rest, value) = Any::from_der(input).ok()?;
    let raw = &input[..input.len() - rest.len()];
    Some((Element { value, raw }, rest))
}

/// Reads exactly one element spanning all of `input`.
pub(crate) fn only_element(input: &[u8]) -> Option<Element<'_>> {
    match element(input)? {
        (element, []) => Some(element),
        _ => None,
    }
}

/// Reads elements until `content` is used up.
pub(crate) fn elements(mut content: &[u8]) -> Option<Vec<Element<'_>>> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (next, rest) = element(content)?;
        out.push(next);
        content = rest;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_keep_their_encoding() {
        let bytes = [0x04, 0x02, 0xaa, 0xbb, 0x05, 0x00];
        let (first, rest) = element(&bytes).unwrap();
        assert!(first.is_universal(Tag::OctetString));
        assert_eq!(
            (first.value.data, first.raw),
            (&[0xaa, 0xbb][..], &bytes[..4])
        );
        assert_eq!(rest, &[0x05, 0x00]);
        assert_eq!(elements(&bytes).unwrap().len(), 2);
        let mut long = vec![0x04, 0x81, 200];
        long.extend([7u8; 200]);
        assert_eq!(only_element(&long).unwrap().value.data.len(), 200);
        assert!(element(&[0x04, 0x05, 1]).is_none(), "truncated");
        assert!(
            element(&[0x04, 0x85, 1, 1, 1, 1, 1]).is_none(),
            "huge length"
        );
        assert!(
            element(&[0x30, 0x80, 0, 0]).is_none(),
            "indefinite length is not DER"
        );
        assert!(only_element(&bytes).is_none(), "trailing data");
        assert!(elements(&[0x04]).is_none());
        assert!(first.children().is_none(), "a primitive has no children");
        let seq = only_element(&[0x30, 0x03, 0x02, 0x01, 0x05]).unwrap();
        assert!(seq.children().unwrap()[0].is_universal(Tag::Integer));
        let tagged = only_element(&[0xa1, 0x03, 0x02, 0x01, 0x05]).unwrap();
        assert!(tagged.is_context(1) && !tagged.is_context(0));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_input(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            if let Some(all) = elements(&bytes) {
                for e in all {
                    let _ = e.children();
                }
            }
            let _ = only_element(&bytes);
        }
    }
}
