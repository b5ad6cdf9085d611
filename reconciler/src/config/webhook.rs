//! Who may tell the server that the config repository moved: verification
//! of push webhooks from GitHub (`X-Hub-Signature-256`), GitLab
//! (`X-Gitlab-Token`), Gitea and Forgejo (`X-Gitea-Signature`,
//! `X-Forgejo-Signature`) and a generic form (`X-Signature-256:
//! sha256=<hex>` or `Authorization: Bearer <secret>`). Every comparison runs
//! in constant time. The first signature header present decides: a wrong one
//! is not excused by another.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    GitHub,
    GitLab,
    Gitea,
    Generic,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "no signature: send X-Hub-Signature-256, X-Gitlab-Token, X-Gitea-Signature, X-Signature-256 or Authorization: Bearer"
    )]
    Missing,
    #[error("{0} does not match GIT_WEBHOOK_SECRET")]
    Mismatch(&'static str),
}

pub fn verify(headers: &HeaderMap, body: &[u8], secret: &str) -> Result<Provider, Refusal> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let hmac_ok = |hex_sig: &str| {
        let Ok(sig) = hex::decode(hex_sig) else { return false };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return false };
        mac.update(body);
        mac.verify_slice(&sig).is_ok()
    };
    let equal = |given: &str| bool::from(given.as_bytes().ct_eq(secret.as_bytes()));
    let check = |ok: bool, provider: Provider, header: &'static str| {
        if ok { Ok(provider) } else { Err(Refusal::Mismatch(header)) }
    };
    if let Some(sig) = header("x-hub-signature-256") {
        let provider = if header("x-gitea-event").is_some() || header("x-forgejo-event").is_some() {
            Provider::Gitea
        } else {
            Provider::GitHub
        };
        return check(sig.strip_prefix("sha256=").is_some_and(hmac_ok), provider, "X-Hub-Signature-256");
    }
    for name in ["x-gitea-signature", "x-forgejo-signature"] {
        if let Some(sig) = header(name) {
            let shown = if name == "x-gitea-signature" { "X-Gitea-Signature" } else { "X-Forgejo-Signature" };
            return check(hmac_ok(sig), Provider::Gitea, shown);
        }
    }
    if let Some(token) = header("x-gitlab-token") {
        return check(equal(token), Provider::GitLab, "X-Gitlab-Token");
    }
    if let Some(sig) = header("x-signature-256") {
        return check(sig.strip_prefix("sha256=").is_some_and(hmac_ok), Provider::Generic, "X-Signature-256");
    }
    if let Some(auth) = header("authorization") {
        return check(
            auth.strip_prefix("Bearer ").is_some_and(|t| equal(t.trim())),
            Provider::Generic,
            "Authorization",
        );
    }
    Err(Refusal::Missing)
}

/// The event a provider says it sends (`push`, `ping`, `Push Hook`, …).
pub fn event(headers: &HeaderMap) -> Option<String> {
    ["x-github-event", "x-gitlab-event", "x-gitea-event", "x-forgejo-event"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()).map(str::to_ascii_lowercase))
}

/// The ref a push payload names, from JSON or GitHub's form encoding.
pub fn pushed_ref(body: &[u8]) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(body).ok().or_else(|| {
        url::form_urlencoded::parse(body).find(|(k, _)| k == "payload").and_then(|(_, v)| serde_json::from_str(&v).ok())
    })?;
    json.get("ref").and_then(|r| r.as_str()).map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    const BODY: &[u8] = br#"{"ref":"refs/heads/main"}"#;

    #[test]
    fn each_provider_signs_its_own_way() {
        let sig = sign("s3cret", BODY);
        let ok = |pairs: &[(&'static str, &str)]| verify(&headers(pairs), BODY, "s3cret");
        assert_eq!(ok(&[("x-hub-signature-256", &format!("sha256={sig}"))]), Ok(Provider::GitHub));
        assert_eq!(
            ok(&[("x-hub-signature-256", &format!("sha256={sig}")), ("x-gitea-event", "push")]),
            Ok(Provider::Gitea)
        );
        assert_eq!(ok(&[("x-gitea-signature", &sig)]), Ok(Provider::Gitea));
        assert_eq!(ok(&[("x-forgejo-signature", &sig)]), Ok(Provider::Gitea));
        assert_eq!(ok(&[("x-gitlab-token", "s3cret")]), Ok(Provider::GitLab));
        assert_eq!(ok(&[("x-signature-256", &format!("sha256={sig}"))]), Ok(Provider::Generic));
        assert_eq!(ok(&[("authorization", "Bearer s3cret")]), Ok(Provider::Generic));
    }

    #[test]
    fn wrong_or_missing_signatures_are_refused() {
        let bad = |pairs: &[(&'static str, &str)]| verify(&headers(pairs), BODY, "s3cret").unwrap_err();
        assert_eq!(bad(&[]), Refusal::Missing);
        assert_eq!(
            bad(&[("x-hub-signature-256", &format!("sha256={}", "0".repeat(64)))]),
            Refusal::Mismatch("X-Hub-Signature-256")
        );
        assert_eq!(bad(&[("x-hub-signature-256", &sign("s3cret", BODY))]), Refusal::Mismatch("X-Hub-Signature-256"));
        assert_eq!(bad(&[("x-gitlab-token", "s3cre")]), Refusal::Mismatch("X-Gitlab-Token"));
        assert_eq!(bad(&[("authorization", "Bearer nope")]), Refusal::Mismatch("Authorization"));
        // A correct token elsewhere does not excuse a wrong signature.
        assert_eq!(
            bad(&[("x-hub-signature-256", "sha256=00"), ("x-gitlab-token", "s3cret")]),
            Refusal::Mismatch("X-Hub-Signature-256")
        );
        // The signature covers the body: another body fails.
        let sig = format!("sha256={}", sign("s3cret", BODY));
        assert!(verify(&headers(&[("x-hub-signature-256", &sig)]), b"{}", "s3cret").is_err());
    }

    #[test]
    fn the_pushed_ref_is_read_from_json_or_form_bodies() {
        assert_eq!(pushed_ref(BODY).as_deref(), Some("refs/heads/main"));
        assert_eq!(
            pushed_ref(b"payload=%7B%22ref%22%3A%22refs%2Fheads%2Fdev%22%7D").as_deref(),
            Some("refs/heads/dev")
        );
        assert_eq!(pushed_ref(b"not json"), None);
    }
}
