//! Calls authenticated by a shared secret rather than a user: the git push
//! webhook (`GIT_WEBHOOK_SECRET`) and each Trigger's hook (its `secret`).
//! One verifier for both, taking the forms the senders use: an HMAC-SHA256
//! of the raw body as `X-Hub-Signature-256: sha256=<hex>` (GitHub, Gitea,
//! Forgejo), `X-Signature-256: sha256=<hex>` (generic), a bare hex HMAC as
//! `X-Gitea-Signature` / `X-Forgejo-Signature`, or the secret itself as
//! `X-Gitlab-Token` or `Authorization: Bearer <secret>`.
//!
//! Every comparison runs in constant time. The first form present decides:
//! a wrong one is not excused by another. A refusal names the header and
//! which secret it was checked against, never the secret.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The form a call proved it knows the secret in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `X-Hub-Signature-256: sha256=<hex HMAC>` (GitHub; Gitea and Forgejo send it too).
    HubSignature,
    /// `X-Gitea-Signature` or `X-Forgejo-Signature: <hex HMAC>`.
    GiteaSignature,
    /// `X-Gitlab-Token: <secret>`.
    GitLabToken,
    /// `X-Signature-256: sha256=<hex HMAC>`.
    Signature,
    /// `Authorization: Bearer <secret>`.
    Bearer,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "no signature: send X-Hub-Signature-256, X-Gitlab-Token, X-Gitea-Signature, X-Signature-256 or Authorization: Bearer"
    )]
    Missing,
    /// `secret` says which secret the caller must use (`GIT_WEBHOOK_SECRET`,
    /// `the secret of trigger "x"`), never its value.
    #[error("{header} does not match {secret}")]
    Mismatch { header: &'static str, secret: String },
}

/// Checks that the call (its `headers` and raw `body`) knows `secret`,
/// which the caller describes as `named` for the refusal's message.
pub fn verify(headers: &HeaderMap, body: &[u8], secret: &str, named: &str) -> Result<Scheme, Refusal> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let hmac_ok = |hex_sig: &str| {
        let Ok(sig) = hex::decode(hex_sig) else { return false };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return false };
        mac.update(body);
        mac.verify_slice(&sig).is_ok()
    };
    let equal = |given: &str| bool::from(given.as_bytes().ct_eq(secret.as_bytes()));
    let check = |ok: bool, scheme: Scheme, header: &'static str| {
        if ok { Ok(scheme) } else { Err(Refusal::Mismatch { header, secret: named.to_string() }) }
    };
    if let Some(sig) = header("x-hub-signature-256") {
        return check(sig.strip_prefix("sha256=").is_some_and(hmac_ok), Scheme::HubSignature, "X-Hub-Signature-256");
    }
    for (name, shown) in [("x-gitea-signature", "X-Gitea-Signature"), ("x-forgejo-signature", "X-Forgejo-Signature")] {
        if let Some(sig) = header(name) {
            return check(hmac_ok(sig), Scheme::GiteaSignature, shown);
        }
    }
    if let Some(token) = header("x-gitlab-token") {
        return check(equal(token), Scheme::GitLabToken, "X-Gitlab-Token");
    }
    if let Some(sig) = header("x-signature-256") {
        return check(sig.strip_prefix("sha256=").is_some_and(hmac_ok), Scheme::Signature, "X-Signature-256");
    }
    if let Some(auth) = header("authorization") {
        return check(auth.strip_prefix("Bearer ").is_some_and(|t| equal(t.trim())), Scheme::Bearer, "Authorization");
    }
    Err(Refusal::Missing)
}

/// The hex HMAC-SHA256 of `body` under `secret`, as `X-Signature-256` carries it after `sha256=`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Headers and a push body for the tests of both callers.
#[cfg(test)]
pub mod fixtures {
    use axum::http::HeaderMap;

    pub fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    pub const BODY: &[u8] = br#"{"ref":"refs/heads/main"}"#;
}

#[cfg(test)]
mod tests {
    use super::fixtures::{BODY, headers};
    use super::*;

    #[test]
    fn each_form_of_the_secret_is_taken() {
        let sig = sign("s3cret", BODY);
        let ok = |pairs: &[(&'static str, &str)]| verify(&headers(pairs), BODY, "s3cret", "S");
        assert_eq!(ok(&[("x-hub-signature-256", &format!("sha256={sig}"))]), Ok(Scheme::HubSignature));
        assert_eq!(ok(&[("x-gitea-signature", &sig)]), Ok(Scheme::GiteaSignature));
        assert_eq!(ok(&[("x-forgejo-signature", &sig)]), Ok(Scheme::GiteaSignature));
        assert_eq!(ok(&[("x-gitlab-token", "s3cret")]), Ok(Scheme::GitLabToken));
        assert_eq!(ok(&[("x-signature-256", &format!("sha256={sig}"))]), Ok(Scheme::Signature));
        assert_eq!(ok(&[("authorization", "Bearer s3cret")]), Ok(Scheme::Bearer));
    }

    #[test]
    fn wrong_or_missing_signatures_are_refused_naming_the_secret_not_its_value() {
        let bad =
            |pairs: &[(&'static str, &str)]| verify(&headers(pairs), BODY, "s3cret", "GIT_WEBHOOK_SECRET").unwrap_err();
        let mismatch = |header| Refusal::Mismatch { header, secret: "GIT_WEBHOOK_SECRET".into() };
        assert_eq!(bad(&[]), Refusal::Missing);
        assert_eq!(
            bad(&[("x-hub-signature-256", &format!("sha256={}", "0".repeat(64)))]),
            mismatch("X-Hub-Signature-256")
        );
        assert_eq!(bad(&[("x-hub-signature-256", &sign("s3cret", BODY))]), mismatch("X-Hub-Signature-256"));
        assert_eq!(bad(&[("x-gitlab-token", "s3cre")]), mismatch("X-Gitlab-Token"));
        assert_eq!(bad(&[("authorization", "Bearer nope")]), mismatch("Authorization"));
        assert_eq!(bad(&[("authorization", "Basic czNjcmV0")]), mismatch("Authorization"));
        // A correct token elsewhere does not excuse a wrong signature.
        assert_eq!(
            bad(&[("x-hub-signature-256", "sha256=00"), ("x-gitlab-token", "s3cret")]),
            mismatch("X-Hub-Signature-256")
        );
        // The signature covers the body: another body fails.
        let sig = format!("sha256={}", sign("s3cret", BODY));
        assert!(verify(&headers(&[("x-signature-256", &sig)]), b"{}", "s3cret", "S").is_err());
        // The message names the secret to use, never the secret.
        let said = verify(&headers(&[("authorization", "Bearer nope")]), BODY, "s3cret", "the secret of trigger \"t\"")
            .unwrap_err()
            .to_string();
        assert_eq!(said, "Authorization does not match the secret of trigger \"t\"");
    }
}
