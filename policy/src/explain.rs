//! The policy's dry run, as people read it: `car-server can-i` and
//! `car-runner can-i` print an [`Explanation`] with this, and the API
//! serves it as JSON. Also the one place a tool call is built from a line
//! typed at a prompt ([`input_for`]).

use std::fmt;

use serde_json::{Value, json};

use crate::{Decision, Explanation, PartReport};

/// The input of a `tool` call from one typed argument: the command for
/// `Bash`, the path for the file tools, the pattern for searches, the URL
/// for `WebFetch`; a JSON object is taken as the whole input.
pub fn input_for(tool: &str, arg: &str) -> Value {
    if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(arg) {
        return v;
    }
    let field = match tool {
        "Bash" => "command",
        "Read" | "Write" | "Edit" | "MultiEdit" => "file_path",
        "NotebookRead" | "NotebookEdit" => "notebook_path",
        "LS" => "path",
        "Grep" | "Glob" => "pattern",
        "WebFetch" => "url",
        _ => "input",
    };
    json!({ field: arg })
}

/// How a dry run ends, for scripts: 0 allowed, 1 denied, 3 held for approval
/// (2 is left for "could not run").
pub fn exit_code(decision: Decision) -> u8 {
    match decision {
        Decision::Allow => 0,
        Decision::Deny => 1,
        Decision::Approve => 3,
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = &self.verdict;
        writeln!(f, "{}: {}", decision_word(v.decision), v.reason)?;
        writeln!(f, "  decided by: {}", v.rule)?;
        if self.parts.is_empty() {
            return Ok(());
        }
        writeln!(f, "\nwhat the analysis saw, part by part:")?;
        for (i, part) in self.parts.iter().enumerate() {
            write_part(f, i + 1, part)?;
        }
        Ok(())
    }
}

fn decision_word(d: Decision) -> &'static str {
    match d {
        Decision::Allow => "allowed",
        Decision::Deny => "denied",
        Decision::Approve => "held for approval",
    }
}

fn write_part(f: &mut fmt::Formatter<'_>, n: usize, p: &PartReport) -> fmt::Result {
    writeln!(f, "  {n}. {}: {}", p.kind, p.text)?;
    if !p.words.is_empty() {
        let words: Vec<String> = p.words.iter().map(|w| format!("{w:?}")).collect();
        writeln!(f, "     words: {}", words.join(" "))?;
    }
    if let Some(program) = &p.program {
        let canonical = p.canonical.as_deref().filter(|c| !c.is_empty()).unwrap_or(program);
        writeln!(f, "     runs: {program}  (matched as: {canonical})")?;
    }
    match p.only_reads {
        Some(true) => writeln!(f, "     only reads: yes")?,
        Some(false) => writeln!(f, "     only reads: no: {}", p.not_reads.join("; "))?,
        None => {}
    }
    if !p.reads.is_empty() {
        writeln!(f, "     reads files: {}", p.reads.join(", "))?;
    }
    writeln!(f, "     → {} by {}: {}", p.verdict.decision, p.verdict.rule, p.verdict.reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::read_write_for_explain as policy;

    #[test]
    fn a_typed_argument_becomes_the_tools_input() {
        assert_eq!(input_for("Bash", "ls -la"), json!({"command": "ls -la"}));
        assert_eq!(input_for("Read", "/etc/shadow"), json!({"file_path": "/etc/shadow"}));
        assert_eq!(input_for("WebFetch", "https://x.org"), json!({"url": "https://x.org"}));
        assert_eq!(input_for("Grep", r#"{"pattern": "x", "path": "/"}"#), json!({"pattern": "x", "path": "/"}));
    }

    #[test]
    fn the_text_names_the_decision_the_rule_and_each_part() {
        let e = policy().explain("Bash", &input_for("Bash", "ls /tmp && systemctl --failed stop sshd"), None);
        let text = e.to_string();
        assert!(text.starts_with("held for approval: "), "{text}");
        assert!(text.contains("  decided by: default: needs approval\n"), "{text}");
        assert!(text.contains("  1. command: ls /tmp\n"), "{text}");
        assert!(text.contains("     words: \"systemctl\" \"--failed\" \"stop\" \"sshd\"\n"), "{text}");
        assert!(
            text.contains("     only reads: no: `systemctl stop` is not a subcommand the policy knows to only read"),
            "{text}"
        );
        assert_eq!(exit_code(e.verdict.decision), 3);
    }
}
