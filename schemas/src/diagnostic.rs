//! Diagnostics: what went wrong, where (file:line:col), and how to fix it.
//!
//! Every stage of loading and validation produces [`Diagnostic`]s; this module
//! owns their shape and the three output formats of `car-server validate`
//! (`text`, `json`, `github`).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// A position in a YAML file, 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Span {
    pub line: u32,
    pub column: u32,
}

impl Span {
    pub const fn new(line: u32, column: u32) -> Self {
        Self { line, column }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One finding, located in a file of the config repo (paths are relative to its root).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: u32,
    pub column: u32,
    pub severity: Severity,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(file: impl Into<PathBuf>, span: Span, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: span.line,
            column: span.column,
            severity: Severity::Error,
            message: message.into(),
            hint: None,
        }
    }

    pub fn warning(file: impl Into<PathBuf>, span: Span, message: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, ..Self::error(file, span, message) }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_optional_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// `path:line:col: error: message (hint: …)`, the format of compilers and linters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}: {}", display_path(&self.file), self.line, self.column, self.severity, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

fn display_path(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

/// Sorts diagnostics by file, position, then severity, so output is stable across runs.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.severity, &a.message).cmp(&(&b.file, b.line, b.column, b.severity, &b.message))
    });
}

/// The output formats of `car-server validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Github,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "github" => Ok(Format::Github),
            other => Err(format!("unknown format {other:?}: use text, json or github")),
        }
    }
}

/// Renders diagnostics in `format`; `root` is prefixed to file paths so they
/// point at real files from the caller's working directory.
pub fn render(diags: &[Diagnostic], format: Format, root: &Path) -> String {
    let located = |d: &Diagnostic| Diagnostic { file: root.join(&d.file), ..d.clone() };
    match format {
        Format::Text => diags.iter().map(|d| format!("{}\n", located(d))).collect(),
        Format::Json => {
            let all: Vec<Diagnostic> = diags.iter().map(located).collect();
            let mut s = serde_json::to_string_pretty(&all).unwrap_or_else(|_| "[]".into());
            s.push('\n');
            s
        }
        Format::Github => diags
            .iter()
            .map(|d| {
                let d = located(d);
                let text = match &d.hint {
                    Some(h) => format!("{} (hint: {h})", d.message),
                    None => d.message.clone(),
                };
                format!(
                    "::{} file={},line={},col={}::{}\n",
                    d.severity,
                    github_escape_property(&display_path(&d.file)),
                    d.line,
                    d.column,
                    github_escape_data(&text)
                )
            })
            .collect(),
    }
}

/// GitHub Actions workflow-command escaping for the message part.
fn github_escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// GitHub Actions workflow-command escaping for `key=value` properties.
fn github_escape_property(s: &str) -> String {
    github_escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The closest candidate to `word`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= (c.chars().count().max(word.chars().count()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `did you mean "x"?`, or the list of what is allowed when nothing is close.
pub fn suggestion(word: &str, candidates: &[&str], what: &str) -> String {
    match did_you_mean(word, candidates.iter().copied()) {
        Some(c) => format!("did you mean {c:?}?"),
        None if candidates.is_empty() => format!("no {what} is declared"),
        None => format!("{what} allowed here: {}", list(candidates)),
    }
}

/// `a, b, c` with each item quoted, cut short when long.
pub fn list(items: &[&str]) -> String {
    const MAX: usize = 12;
    let mut out: Vec<String> = items.iter().take(MAX).map(|s| format!("{s:?}")).collect();
    if items.len() > MAX {
        out.push(format!("… ({} more)", items.len() - MAX));
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_is_path_line_col_severity_message_hint() {
        let d = Diagnostic::error("agents/zfs.yaml", Span::new(12, 3), "unknown field \"shedule\"")
            .with_hint("did you mean \"schedule\"?");
        assert_eq!(
            render(&[d], Format::Text, Path::new("repo")),
            "repo/agents/zfs.yaml:12:3: error: unknown field \"shedule\" (hint: did you mean \"schedule\"?)\n"
        );
    }

    #[test]
    fn github_format_escapes_newlines_and_commas() {
        let d = Diagnostic::error("a,b.yaml", Span::new(1, 2), "two\nlines");
        assert_eq!(render(&[d], Format::Github, Path::new("")), "::error file=a%2Cb.yaml,line=1,col=2::two%0Alines\n");
    }

    #[test]
    fn json_format_has_the_documented_fields() {
        let d = Diagnostic::warning("x.yaml", Span::new(4, 5), "m").with_hint("h");
        let v: serde_json::Value = serde_json::from_str(&render(&[d], Format::Json, Path::new("r"))).unwrap();
        assert_eq!(
            v,
            serde_json::json!([{"file": "r/x.yaml", "line": 4, "column": 5, "severity": "warning", "message": "m", "hint": "h"}])
        );
    }

    #[test]
    fn did_you_mean_finds_close_words_only() {
        assert_eq!(did_you_mean("shedule", ["schedule", "timezone"]), Some("schedule"));
        assert_eq!(did_you_mean("Agnet", ["Node", "Agent"]), Some("Agent"));
        assert_eq!(did_you_mean("banana", ["schedule", "timezone"]), None);
    }
}
