//! ES256 signing keys generated at run time, their JWKs, and signed JWTs
//! (shared by the `jwt_auth` tests here and the root crate's end-to-end
//! tests, which include this file with `#[path]`).

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rcgen::KeyPair;

/// An ES256 signing key and its JWK.
pub struct Signer {
    pub kid: String,
    pub key: KeyPair,
}

impl Signer {
    /// A fresh P-256 key published under `kid`.
    pub fn new(kid: &str) -> Signer {
        Signer {
            kid: kid.into(),
            key: KeyPair::generate().unwrap(),
        }
    }

    /// The public key as a JWKS entry.
    pub fn jwk(&self) -> serde_json::Value {
        let raw = self.key.public_key_raw(); // 0x04 || x || y
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        serde_json::json!({"kty": "EC", "crv": "P-256", "x": b64(&raw[1..33]), "y": b64(&raw[33..65]),
            "kid": self.kid, "alg": "ES256", "use": "sig"})
    }

    /// A compact JWT of `claims`, with this key's `kid`.
    pub fn sign(&self, claims: &serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(
            &header,
            claims,
            &EncodingKey::from_ec_der(&self.key.serialize_der()),
        )
        .unwrap()
    }
}
