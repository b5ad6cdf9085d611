//! Pull requests checked before they are merged: a `pull_request` event on
//! the git webhook (GitHub, Gitea/Forgejo) or a `Merge Request Hook`
//! (GitLab) makes the server fetch the pull request's head, validate it with
//! the sync's loader, and tell the forge: a commit status (success, or the
//! first error with file:line) and a comment with the plan or every error.
//! A merged or closed pull request of an edit moves its proposal's state.

use serde_json::Value;

use crate::config::changes;
use crate::config::plan;
use crate::config::sync::desired;
use crate::config::write::{WriteError, Writer};

/// What a pull request event asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullAction {
    /// Opened, reopened or pushed to: check its head.
    Check,
    Merged,
    Closed,
    /// Labelled, edited, …: nothing to do.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullEvent {
    pub number: i64,
    pub action: PullAction,
    /// The head commit the event names.
    pub sha: Option<String>,
    /// The branch it would merge into.
    pub base: Option<String>,
}

/// The pull request event in a webhook, if it is one (`event` as
/// [`crate::config::webhook::event`] reads it).
pub fn pull_event(event: Option<&str>, body: &[u8]) -> Option<PullEvent> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let text = |v: &Value| v.as_str().map(String::from);
    match event? {
        "pull_request" => {
            let pr = &json["pull_request"];
            let action = match json["action"].as_str()? {
                "opened" | "reopened" | "synchronize" | "synchronized" => PullAction::Check,
                "closed" if pr["merged"].as_bool() == Some(true) => PullAction::Merged,
                "closed" => PullAction::Closed,
                _ => PullAction::Other,
            };
            let number = json["number"].as_i64().or_else(|| pr["number"].as_i64())?;
            Some(PullEvent { number, action, sha: text(&pr["head"]["sha"]), base: text(&pr["base"]["ref"]) })
        }
        "merge request hook" => {
            let mr = &json["object_attributes"];
            let action = match mr["action"].as_str().unwrap_or_default() {
                "open" | "reopen" | "update" => PullAction::Check,
                "merge" => PullAction::Merged,
                "close" => PullAction::Closed,
                _ => PullAction::Other,
            };
            Some(PullEvent {
                number: mr["iid"].as_i64()?,
                action,
                sha: text(&mr["last_commit"]["id"]),
                base: text(&mr["target_branch"]),
            })
        }
        _ => None,
    }
}

impl Writer {
    /// Acts on a pull request event: checks the head and tells the forge, or
    /// notes that a proposal was merged or closed.
    pub async fn review(&self, pr: &PullEvent) -> Result<(), WriteError> {
        let Some(forge) = self.forge.clone() else {
            tracing::info!(number = pr.number, "a pull request event, but the forge is unknown: set CONFIG_FORGE");
            return Ok(());
        };
        if pr.base.as_deref().is_some_and(|b| b != self.branch) {
            return Ok(());
        }
        let kind = forge.settings.kind.as_str();
        match pr.action {
            PullAction::Merged | PullAction::Closed => {
                let state = if pr.action == PullAction::Merged { "merged" } else { "closed" };
                changes::set_state(self.repo.pool(), kind, pr.number, state).await?;
                if pr.action == PullAction::Merged {
                    self.sync.request(crate::config::sync::Trigger::Webhook);
                }
                return Ok(());
            }
            PullAction::Other => return Ok(()),
            PullAction::Check => {}
        }
        let (source, name, opts) = (self.source.clone(), forge.head_ref(pr.number), self.load.clone());
        let (head, loaded) = tokio::task::spawn_blocking(move || {
            let head = source.fetch_ref(&name)?;
            let loaded = source.load(&head, &opts)?;
            Ok::<_, crate::config::source::SourceError>((head, loaded))
        })
        .await??;
        let errors: Vec<&car_schemas::Diagnostic> = loaded.diagnostics.iter().filter(|d| d.is_error()).collect();
        let sha = pr.sha.clone().unwrap_or_else(|| head.id.clone());
        let link = format!("{}/sync", self.dashboard.trim_end_matches('/'));
        let place = |d: &car_schemas::Diagnostic| format!("{}:{}:{}", d.file.display(), d.line, d.column);
        let (ok, description, comment) = match errors.first() {
            Some(first) => {
                let mut comment = format!(
                    "### car-server: this config is invalid\n\nMerging it would leave the last good revision live. {} error{}:\n\n",
                    errors.len(),
                    if errors.len() == 1 { "" } else { "s" }
                );
                for d in &errors {
                    let hint = d.hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default();
                    comment.push_str(&format!("- `{}` {}{hint}\n", place(d), d.message));
                }
                let count = format!("{} error{}", errors.len(), if errors.len() == 1 { "" } else { "s" });
                (false, format!("{count}; {}: {}", place(first), first.message), comment)
            }
            None => {
                let live = self.repo.objects(None).await?;
                let steps = plan::diff(&live, &desired(&loaded));
                let rendered = plan::render_plan(&steps, self.repo.sync_state().await?.applied_revision.as_deref());
                let summary = rendered.lines().next().unwrap_or_default().to_string();
                (true, format!("valid; {summary}"), format!("### car-server plan\n\n```\n{rendered}```\n"))
            }
        };
        let told = forge.status(&sha, ok, &description, Some(&link)).await;
        let commented = forge.comment(pr.number, &comment).await;
        for e in [told.err(), commented.err()].into_iter().flatten() {
            tracing::warn!(error = %e, number = pr.number, "could not tell the forge about a pull request");
        }
        tracing::info!(number = pr.number, ok, "pull request checked");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_gitea_and_gitlab_events_are_read_alike() {
        let gh = br#"{"action": "synchronize", "number": 7, "pull_request": {"head": {"sha": "abc"}, "base": {"ref": "main"}, "merged": false}}"#;
        assert_eq!(
            pull_event(Some("pull_request"), gh),
            Some(PullEvent {
                number: 7,
                action: PullAction::Check,
                sha: Some("abc".into()),
                base: Some("main".into())
            })
        );
        let merged = br#"{"action": "closed", "number": 7, "pull_request": {"merged": true}}"#;
        assert_eq!(pull_event(Some("pull_request"), merged).unwrap().action, PullAction::Merged);
        let gl = br#"{"object_attributes": {"iid": 3, "action": "update", "last_commit": {"id": "def"}, "target_branch": "main"}}"#;
        assert_eq!(
            pull_event(Some("merge request hook"), gl),
            Some(PullEvent {
                number: 3,
                action: PullAction::Check,
                sha: Some("def".into()),
                base: Some("main".into())
            })
        );
        assert_eq!(pull_event(Some("push"), gh), None);
        assert_eq!(pull_event(Some("pull_request"), b"not json"), None);
    }
}
