//! The bearer secrets the server hands out, and how they are kept: each is
//! 256 random bits behind a prefix that says what it is, so people and
//! secret scanners recognise it (`car_` API keys, `care_` enrollment
//! tokens, `carn_` node keys); the database keeps only its SHA-256.

use base64::Engine;
use sha2::{Digest, Sha256};

pub const API_KEY: &str = "car_";
pub const ENROLLMENT: &str = "care_";
pub const NODE_KEY: &str = "carn_";

/// A new secret: `prefix` and 256 random bits (base64url, no padding).
pub fn generate(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// A short random id for a row (`key_3f9a…`), safe to show.
pub fn id(prefix: &str) -> String {
    format!("{prefix}{}", hex::encode(rand::random::<[u8; 8]>()))
}

/// What the database keeps of a secret.
pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// The part of a secret that may be shown to tell it apart (`car_AbC1dE2f…`).
pub fn shown_prefix(secret: &str) -> String {
    secret.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_carry_their_prefix_and_differ_every_time() {
        let (a, b) = (generate(API_KEY), generate(API_KEY));
        assert!(a.starts_with("car_") && a.len() == 4 + 43, "{a}");
        assert_ne!(a, b);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
        assert_eq!(shown_prefix(&a).len(), 12);
    }
}
