//! Redaction of known secret values from run events, before they are
//! stored or shown: the runner redacts the credentials it was handed for a
//! run and its own keys, the server every secret it knows (stored secrets,
//! `{env: NAME}` values of the config, model credentials, node keys).
//!
//! Event lines are scanned as bytes first (aho-corasick, for every secret
//! in its raw and its JSON-escaped spelling at once), so the common line
//! with no secret costs one pass and is passed on untouched. A line with a
//! hit is parsed and every string in it redacted, so the result is always
//! valid JSON, whatever the secret looks like.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, MatchKind};
use serde_json::Value;

/// Values shorter than this are not redacted: they would blank out
/// ordinary words and numbers all over the log. (Real keys are longer.)
pub const MIN_LEN: usize = 8;

#[derive(Default)]
pub struct Redactor {
    /// Raw values, for strings.
    raw: Option<AhoCorasick>,
    /// Raw and JSON-escaped values, for serialized lines.
    json: Option<AhoCorasick>,
    /// `[redacted NAME]`, by value.
    labels: Vec<String>,
    /// The label of each pattern of `json`.
    json_labels: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the values themselves.
        write!(f, "Redactor({} secrets)", self.labels.len())
    }
}

impl Redactor {
    /// A redactor of `(name, value)` pairs; the name shows where a value was
    /// (`[redacted ANTHROPIC_API_KEY]`). Values shorter than [`MIN_LEN`] are left out.
    pub fn new(secrets: impl IntoIterator<Item = (String, String)>) -> Redactor {
        let mut pairs: Vec<(String, String)> = secrets.into_iter().filter(|(_, v)| v.len() >= MIN_LEN).collect();
        pairs.sort_by(|a, b| a.1.cmp(&b.1));
        pairs.dedup_by(|a, b| a.1 == b.1);
        if pairs.is_empty() {
            return Redactor::default();
        }
        let build = |patterns: &[&str]| {
            AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(patterns).expect("plain patterns build")
        };
        let labels: Vec<String> = pairs.iter().map(|(n, _)| format!("[redacted {n}]")).collect();
        let escaped: Vec<String> = pairs
            .iter()
            .map(|(_, v)| {
                let quoted = serde_json::to_string(v).expect("strings serialize");
                quoted[1..quoted.len() - 1].to_string()
            })
            .collect();
        let (mut spellings, mut json_labels) = (Vec::new(), Vec::new());
        for (((_, value), escaped), label) in pairs.iter().zip(&escaped).zip(&labels) {
            spellings.push(value.as_str());
            json_labels.push(label.clone());
            if escaped != value {
                spellings.push(escaped.as_str());
                json_labels.push(label.clone());
            }
        }
        let values: Vec<&str> = pairs.iter().map(|(_, v)| v.as_str()).collect();
        Redactor { raw: Some(build(&values)), json: Some(build(&spellings)), labels, json_labels }
    }

    /// Whether `bytes` hold a known value (raw or JSON-escaped).
    pub fn mentions(&self, bytes: &[u8]) -> bool {
        self.json.as_ref().is_some_and(|ac| ac.is_match(bytes))
    }

    /// `s` with every known value replaced by its label.
    pub fn redact_str<'a>(&self, s: &'a str) -> Cow<'a, str> {
        match &self.raw {
            Some(ac) if ac.is_match(s) => Cow::Owned(ac.replace_all(s, &self.labels)),
            _ => Cow::Borrowed(s),
        }
    }

    /// Redacts every string in `v`; true when something was.
    pub fn redact_value(&self, v: &mut Value) -> bool {
        match v {
            Value::String(s) => match self.redact_str(s) {
                Cow::Owned(r) => {
                    *s = r;
                    true
                }
                Cow::Borrowed(_) => false,
            },
            Value::Array(items) => items.iter_mut().fold(false, |hit, i| self.redact_value(i) | hit),
            Value::Object(map) => map.values_mut().fold(false, |hit, i| self.redact_value(i) | hit),
            _ => false,
        }
    }

    /// One JSON line (with or without its newline), redacted. Untouched
    /// when it holds no known value; a line that is not JSON is redacted as text.
    pub fn redact_line<'a>(&self, line: &'a [u8]) -> Cow<'a, [u8]> {
        let Some(json) = self.json.as_ref().filter(|ac| ac.is_match(line)) else { return Cow::Borrowed(line) };
        let (body, newline) = match line.strip_suffix(b"\n") {
            Some(b) => (b, true),
            None => (line, false),
        };
        let mut out = match serde_json::from_slice::<Value>(body) {
            Ok(mut v) => {
                self.redact_value(&mut v);
                serde_json::to_vec(&v).expect("values serialize")
            }
            Err(_) => json.replace_all_bytes(body, &self.json_labels),
        };
        if newline {
            out.push(b'\n');
        }
        Cow::Owned(out)
    }

    /// Every line of `lines` (NDJSON) redacted; untouched when none holds a known value.
    pub fn redact_lines<'a>(&self, lines: &'a [u8]) -> Cow<'a, [u8]> {
        if !self.mentions(lines) {
            return Cow::Borrowed(lines);
        }
        let mut out = Vec::with_capacity(lines.len());
        for line in lines.split_inclusive(|b| *b == b'\n') {
            out.extend_from_slice(&self.redact_line(line));
        }
        Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn redactor() -> Redactor {
        Redactor::new([
            ("ANTHROPIC_API_KEY".to_string(), "sk-ant-secret-0001".to_string()),
            ("secret quoted".to_string(), "pa\"ss\\word-99".to_string()),
            ("short".to_string(), "abc".to_string()),
        ])
    }

    #[test]
    fn a_line_without_secrets_is_passed_on_untouched() {
        let line = br#"{"seq":1,"type":"log","data":{"line":"all well"}}"#;
        assert!(matches!(redactor().redact_line(line), Cow::Borrowed(_)));
    }

    #[test]
    fn secrets_are_replaced_by_their_name_and_the_line_stays_json() {
        let r = redactor();
        let event = json!({"seq": 2, "type": "tool.result", "data": {"output": "KEY=sk-ant-secret-0001\n", "pw": "pa\"ss\\word-99!"}});
        let mut line = serde_json::to_vec(&event).unwrap();
        line.push(b'\n');
        let out = r.redact_line(&line);
        assert!(out.ends_with(b"\n"));
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["data"]["output"], "KEY=[redacted ANTHROPIC_API_KEY]\n");
        assert_eq!(v["data"]["pw"], "[redacted secret quoted]!");
        assert_eq!(v["seq"], 2);
    }

    #[test]
    fn short_values_are_not_redacted_and_not_counted() {
        let r = redactor();
        assert_eq!(format!("{r:?}"), "Redactor(2 secrets)");
        assert_eq!(r.redact_str("abc abc"), "abc abc");
    }

    #[test]
    fn several_lines_are_each_redacted() {
        let r = redactor();
        let lines = b"{\"a\":\"x sk-ant-secret-0001\"}\n{\"b\":1}\nnot json sk-ant-secret-0001\n";
        let out = String::from_utf8(r.redact_lines(lines).into_owned()).unwrap();
        assert_eq!(
            out,
            "{\"a\":\"x [redacted ANTHROPIC_API_KEY]\"}\n{\"b\":1}\nnot json [redacted ANTHROPIC_API_KEY]\n"
        );
    }

    #[test]
    fn an_empty_redactor_redacts_nothing() {
        let r = Redactor::new(Vec::new());
        assert!(!r.mentions(b"anything"));
        assert!(matches!(r.redact_line(b"{\"a\":\"anything\"}"), Cow::Borrowed(_)));
    }

    #[test]
    fn debug_never_shows_values() {
        assert_eq!(format!("{:?}", redactor()), "Redactor(2 secrets)");
    }
}
