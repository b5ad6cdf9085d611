//! Who may tell the server that the config repository moved: verification
//! of push webhooks from GitHub (`X-Hub-Signature-256`), GitLab
//! (`X-Gitlab-Token`), Gitea and Forgejo (`X-Gitea-Signature`,
//! `X-Forgejo-Signature`) and a generic form (`X-Signature-256:
//! sha256=<hex>` or `Authorization: Bearer <secret>`), checked by
//! [`crate::trust::signature`]; and what a push says (its event and ref).

use axum::http::HeaderMap;

use crate::trust::signature::{self, Refusal, Scheme};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    GitHub,
    GitLab,
    Gitea,
    Generic,
}

/// Checks a push against `GIT_WEBHOOK_SECRET` (with [`signature::verify`],
/// which the trigger hooks share) and says which provider sent it.
pub fn verify(headers: &HeaderMap, body: &[u8], secret: &str) -> Result<Provider, Refusal> {
    let gitea = headers.contains_key("x-gitea-event") || headers.contains_key("x-forgejo-event");
    Ok(match signature::verify(headers, body, secret, "GIT_WEBHOOK_SECRET")? {
        Scheme::HubSignature if gitea => Provider::Gitea,
        Scheme::HubSignature => Provider::GitHub,
        Scheme::GiteaSignature => Provider::Gitea,
        Scheme::GitLabToken => Provider::GitLab,
        Scheme::Signature | Scheme::Bearer => Provider::Generic,
    })
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
    use crate::trust::signature::fixtures::{BODY, headers};

    #[test]
    fn each_provider_is_told_by_how_it_signs() {
        let sig = signature::sign("s3cret", BODY);
        let ok = |pairs: &[(&'static str, &str)]| verify(&headers(pairs), BODY, "s3cret");
        assert_eq!(ok(&[("x-hub-signature-256", &format!("sha256={sig}"))]), Ok(Provider::GitHub));
        assert_eq!(
            ok(&[("x-hub-signature-256", &format!("sha256={sig}")), ("x-gitea-event", "push")]),
            Ok(Provider::Gitea)
        );
        assert_eq!(ok(&[("x-forgejo-signature", &sig)]), Ok(Provider::Gitea));
        assert_eq!(ok(&[("x-gitlab-token", "s3cret")]), Ok(Provider::GitLab));
        assert_eq!(ok(&[("authorization", "Bearer s3cret")]), Ok(Provider::Generic));
        let refused = verify(&headers(&[("x-gitlab-token", "nope")]), BODY, "s3cret").unwrap_err();
        assert_eq!(refused.to_string(), "X-Gitlab-Token does not match GIT_WEBHOOK_SECRET");
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
