//! Format-preserving edits of config files: what the dashboard's write-back
//! commits.
//!
//! A change to an object's `spec` becomes targeted text edits at the
//! positions our own reader ([`crate::yaml`]) gives every key and value: a
//! changed scalar is replaced where it stands (in the quoting style it had),
//! a changed list or flow mapping is written again in place, a new key is
//! appended to its mapping at the mapping's indentation, a removed key loses
//! its lines (and the comment lines directly above it). Everything else of
//! the file (comments, key order, quoting, blank lines, the schema modeline,
//! the other documents) stays byte for byte. The result is then read again
//! and must give exactly the intended document while every other document
//! reads as before ([`prove`]); when targeted edits cannot be proven (a
//! layout they do not understand), the one document is written out afresh
//! below its leading comments, and that too is proven.
//!
//! Why not a crate: `yamlpatch` reads only the first document of a file, and
//! the config language allows several per file; `yaml-edit` is lossless over
//! multi-document files, but its API changed in each of its 0.x releases and
//! it would be a second YAML reader whose idea of a value can differ from the
//! one the sync uses. Edits at the sync's own reader's positions, checked by
//! that reader, cannot disagree with what the sync will see (the way
//! Renovate edits files).

use std::fmt::Write as _;

use serde_json::{Map, Value as Json};

use crate::yaml::{self, Node, Value};

/// Why a file could not be edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EditError(pub String);

/// The text of a file with the spec of its document number `index` (from 0)
/// changed from `old` to `new` (`old` as [`crate::Document::to_json`] gives a
/// spec; `new` as a form sends it, which may not be valid: the loader that
/// reads the result says what is wrong, at its line). Only the values that
/// differ between `old` and `new` move; reading the result again must show
/// exactly that.
pub fn change_spec(
    path: &std::path::Path,
    text: &str,
    index: usize,
    old: &Json,
    new: &Json,
) -> Result<String, EditError> {
    let file = yaml::parse(text);
    let doc =
        file.documents.get(index).ok_or_else(|| EditError(format!("{} has no document {index}", path.display())))?;
    let root =
        doc.root.as_ref().ok_or_else(|| EditError(format!("document {index} of {} is empty", path.display())))?;
    let mut want = raw_json(root);
    want["spec"] = merged(&want["spec"], old, new);
    let lines = Lines::new(text);
    let end = doc_end(&file, index, &lines);
    let targeted = root.get("spec").filter(|s| matches!(s.value, Value::Map(_)) && !lines.is_flow(s)).map(|spec| {
        let mut edits = Vec::new();
        let spec_end = entry_end(&lines, root, "spec", end);
        map_edits(&lines, spec, old, new, spec_end, &mut edits);
        lines.apply(edits)
    });
    if let Some(t) = targeted
        && prove(path, text, &t, index, &want).is_ok()
    {
        return Ok(t);
    }
    let rewritten = rewrite_document(&lines, root, end, &want);
    prove(path, text, &rewritten, index, &want)?;
    Ok(rewritten)
}

/// What the raw value `raw` (read from the file; `old` as typed) becomes when
/// the values that differ between `old` and `new` are set: mappings are
/// changed key by key, anything else is replaced.
fn merged(raw: &Json, old: &Json, new: &Json) -> Json {
    let (Json::Object(r), Json::Object(n)) = (raw, new) else { return new.clone() };
    let mut out = r.clone();
    for (k, v) in n {
        let before = old.get(k).unwrap_or(&Json::Null);
        if before == v || v.is_null() {
            continue;
        }
        let value = match r.get(k) {
            Some(rv) => merged(rv, before, v),
            None => v.clone(),
        };
        out.insert(k.clone(), value);
    }
    if let Json::Object(o) = old {
        for k in o.keys().filter(|k| n.get(*k).is_none_or(Json::is_null)) {
            out.remove(k);
        }
    }
    Json::Object(out)
}

/// The text of a file without its document number `index`; `None` when no
/// document would be left (delete the file).
pub fn remove_document(path: &std::path::Path, text: &str, index: usize) -> Result<Option<String>, EditError> {
    let file = yaml::parse(text);
    let count = file.documents.iter().filter(|d| d.root.is_some()).count();
    let doc =
        file.documents.get(index).ok_or_else(|| EditError(format!("{} has no document {index}", path.display())))?;
    if count <= 1 {
        return Ok(None);
    }
    let lines = Lines::new(text);
    let root =
        doc.root.as_ref().ok_or_else(|| EditError(format!("document {index} of {} is empty", path.display())))?;
    // From its separator (or first line) to the next separator.
    let first = if index == 0 { leading_comments(&lines, root.span.line) } else { doc.start.line };
    let end = doc_end(&file, index, &lines);
    let end = if index == 0 { file.documents.get(1).map_or(end, |d| d.start.line + 1) } else { end };
    let out = lines.apply(vec![(lines.start(first), lines.start(end), String::new())]);
    let left = yaml::parse(&out);
    let before: Vec<Json> = file
        .documents
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != index)
        .filter_map(|(_, d)| d.root.as_ref().map(raw_json))
        .collect();
    let after: Vec<Json> = left.documents.iter().filter_map(|d| d.root.as_ref().map(raw_json)).collect();
    if left.error.is_some() || before != after {
        return Err(EditError(format!("removing document {index} of {} would change the others", path.display())));
    }
    Ok(Some(out))
}

/// A new file holding one document, under `modeline` (a comment line naming
/// the JSON Schema for editors) when there is one.
pub fn new_file(modeline: Option<&str>, manifest: &Json) -> String {
    let mut out = String::new();
    if let Some(m) = modeline {
        out.push_str(m.trim_end());
        out.push('\n');
    }
    for (k, v) in ordered(manifest.as_object().cloned().unwrap_or_default()) {
        block_entry(&mut out, 0, &k, &v);
    }
    out
}

/// The number of the document of `text` that starts at `start` (where
/// [`crate::document::Identity::start`] says an object's document starts).
pub fn document_index(text: &str, start: crate::Span) -> Option<usize> {
    yaml::parse(text).documents.iter().position(|d| d.start == start)
}

/// The field written at `at` in document `index` of `text` (`spec.cron`,
/// `spec.agents[1]`): where a form shows an error the loader reported there.
/// A position inside a value names that value's key on the same line.
pub fn field_at(text: &str, index: usize, at: crate::Span) -> Option<String> {
    fn walk(n: &Node, path: &str, at: crate::Span, same_line: bool) -> Option<String> {
        let hit = |s: crate::Span| if same_line { s.line == at.line } else { s == at };
        if !path.is_empty() && hit(n.span) && !same_line {
            return Some(path.to_string());
        }
        match &n.value {
            Value::Map(entries) => entries.iter().find_map(|(k, v)| {
                let key = k.as_str().unwrap_or_default();
                let p = if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
                walk(v, &p, at, same_line).or_else(|| hit(k.span).then_some(p))
            }),
            Value::Seq(items) => items.iter().enumerate().find_map(|(i, v)| {
                let p = format!("{path}[{i}]");
                walk(v, &p, at, same_line).or_else(|| (same_line && hit(v.span)).then_some(p))
            }),
            _ => None,
        }
    }
    let file = yaml::parse(text);
    let root = file.documents.get(index)?.root.as_ref()?;
    walk(root, "", at, false).or_else(|| walk(root, "", at, true))
}

/// The spec of document `index` of `text` as written (for a document that does not type).
pub fn raw_spec(text: &str, index: usize) -> Option<Json> {
    let file = yaml::parse(text);
    file.documents.get(index)?.root.as_ref()?.get("spec").map(raw_json)
}

/// A document as plain JSON, positions dropped (the reader's view, before typing).
pub fn raw_json(n: &Node) -> Json {
    match &n.value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Str(s) => Json::String(s.clone()),
        Value::Seq(items) => Json::Array(items.iter().map(raw_json).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| (k.as_str().map_or_else(|| raw_json(k).to_string(), String::from), raw_json(v)))
                .collect(),
        ),
    }
}

/// Checks that `after` reads as `before` with document `index` as `want`
/// and every other document as it was.
fn prove(path: &std::path::Path, before: &str, after: &str, index: usize, want: &Json) -> Result<(), EditError> {
    let fail = |why: String| Err(EditError(format!("the edit of {} could not be proven: {why}", path.display())));
    let (a, b) = (yaml::parse(before), yaml::parse(after));
    if let Some(e) = b.error {
        return fail(format!("the result does not read as YAML ({}: {})", e.span, e.message));
    }
    if a.documents.len() != b.documents.len() {
        return fail("the number of documents changed".into());
    }
    for (i, (x, y)) in a.documents.iter().zip(&b.documents).enumerate() {
        let (x, y) = (x.root.as_ref().map(raw_json), y.root.as_ref().map(raw_json));
        let expected = if i == index { Some(want.clone()) } else { x };
        if expected != y {
            return fail(format!("document {i} reads back differently"));
        }
    }
    Ok(())
}

/// Byte offsets of the lines of a text.
struct Lines<'a> {
    text: &'a str,
    /// Where each line starts; one more entry for the end of the text.
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        if *starts.last().unwrap_or(&0) != text.len() {
            starts.push(text.len());
        }
        Lines { text, starts }
    }

    /// Lines counted from 1; one past the last is the end of the text.
    fn count(&self) -> u32 {
        u32::try_from(self.starts.len()).unwrap_or(u32::MAX)
    }

    fn start(&self, line: u32) -> usize {
        let i = usize::try_from(line.max(1) - 1).unwrap_or(usize::MAX);
        self.starts.get(i).copied().unwrap_or(self.text.len())
    }

    fn line(&self, line: u32) -> &'a str {
        let (a, b) = (self.start(line), self.start(line + 1));
        self.text[a..b].trim_end_matches(['\n', '\r'])
    }

    /// The byte offset of a node's first character (columns count characters from 1).
    fn offset(&self, n: &Node) -> usize {
        let line = self.line(n.span.line);
        let col = usize::try_from(n.span.column.max(1) - 1).unwrap_or(0);
        self.start(n.span.line) + line.char_indices().nth(col).map_or(line.len(), |(i, _)| i)
    }

    /// A blank or comment-only line.
    fn is_filler(&self, line: u32) -> bool {
        let t = self.line(line).trim_start();
        t.is_empty() || t.starts_with('#')
    }

    fn is_flow(&self, n: &Node) -> bool {
        matches!(self.text[self.offset(n)..].chars().next(), Some('{' | '['))
    }

    fn apply(&self, mut edits: Vec<(usize, usize, String)>) -> String {
        edits.sort_by_key(|e| std::cmp::Reverse(e.0));
        let mut out = self.text.to_string();
        for (a, b, with) in edits {
            out.replace_range(a..b, &with);
        }
        out
    }
}

/// The first line after document `index` (its successor's separator, or the end).
fn doc_end(file: &yaml::YamlFile, index: usize, lines: &Lines<'_>) -> u32 {
    match file.documents.get(index + 1) {
        Some(next) => {
            // The separator line of the next document, when it has one.
            let l = next.start.line;
            if lines.line(l).starts_with("---") { l } else { next.root.as_ref().map_or(l, |r| r.span.line) }
        }
        None => lines.count(),
    }
}

/// The comment lines directly above `line` (no blank line between).
fn leading_comments(lines: &Lines<'_>, line: u32) -> u32 {
    let mut first = line;
    while first > 1 && lines.line(first - 1).trim_start().starts_with('#') {
        first -= 1;
    }
    first
}

/// Where the entry `key` of the mapping `map` ends: the line after its last
/// line of content (comments before the next key belong to that key).
fn entry_end(lines: &Lines<'_>, map: &Node, key: &str, map_end: u32) -> u32 {
    let Value::Map(entries) = &map.value else { return map_end };
    let pos = entries.iter().position(|(k, _)| k.as_str() == Some(key));
    let next = pos.and_then(|p| entries.get(p + 1)).map_or(map_end, |(k, _)| k.span.line);
    let from = pos.map_or(1, |p| entries[p].0.span.line);
    let mut end = next;
    while end > from + 1 && lines.is_filler(end - 1) {
        end -= 1;
    }
    end
}

type Edit = (usize, usize, String);

/// The edits that turn the block mapping `map` (ending before line `end`)
/// from `old` into `new`.
fn map_edits(lines: &Lines<'_>, map: &Node, old: &Json, new: &Json, end: u32, out: &mut Vec<Edit>) {
    let Value::Map(entries) = &map.value else { return };
    let empty = Map::new();
    let (old, new) = (old.as_object().unwrap_or(&empty), new.as_object().unwrap_or(&empty));
    let indent = entries.first().map_or(0, |(k, _)| k.span.column - 1) as usize;
    let mut added = String::new();
    for (k, v) in ordered(new.clone()) {
        if old.get(&k) == Some(&v) || v.is_null() {
            continue;
        }
        match entries.iter().find(|(key, _)| key.as_str() == Some(&k)) {
            Some((key, node)) => {
                let e = entry_end(lines, map, &k, end);
                value_edits(lines, key, node, old.get(&k).unwrap_or(&Json::Null), &v, e, out);
            }
            None => block_entry(&mut added, indent, &k, &v),
        }
    }
    for (k, _) in old.iter().filter(|(k, _)| new.get(*k).is_none_or(Json::is_null)) {
        if let Some((key, _)) = entries.iter().find(|(key, _)| key.as_str() == Some(k)) {
            let first = leading_comments(lines, key.span.line);
            let e = entry_end(lines, map, k, end);
            out.push((lines.start(first), lines.start(e), String::new()));
        }
    }
    if !added.is_empty() {
        let last = entries.last().map_or(end, |(k, _)| entry_end(lines, map, k.as_str().unwrap_or_default(), end));
        out.push((lines.start(last), lines.start(last), added));
    }
}

/// The edits that change the value `node` of the entry `key` (ending before `end`) to `new`.
fn value_edits(lines: &Lines<'_>, key: &Node, node: &Node, old: &Json, new: &Json, end: u32, out: &mut Vec<Edit>) {
    let same_line = node.span.line == key.span.line;
    let single = (key.span.line + 1..end).all(|l| lines.is_filler(l));
    match (&node.value, new) {
        (Value::Map(_), Json::Object(_)) if !lines.is_flow(node) && !same_line => {
            return map_edits(lines, node, old, new, end, out);
        }
        (Value::Map(_) | Value::Seq(_), _) if lines.is_flow(node) && same_line && single => {
            if let Some(e) = flow_end(lines.text, lines.offset(node)) {
                return out.push((lines.offset(node), e, flow(&merged(&raw_json(node), old, new))));
            }
        }
        (Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Str(_), _)
            if same_line && single && !matches!(new, Json::Object(_) | Json::Array(_)) =>
        {
            let start = lines.offset(node);
            if let Some((e, style)) = scalar_end(lines.text, start) {
                return out.push((start, e, scalar(new, style)));
            }
        }
        _ => {}
    }
    // Anything else: the entry written again at its indentation.
    let mut with = String::new();
    let value = merged(&raw_json(node), old, new);
    block_entry(&mut with, (key.span.column - 1) as usize, key.as_str().unwrap_or_default(), &value);
    out.push((lines.start(key.span.line), lines.start(end), with));
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
}

/// Where a one-line scalar starting at `start` ends, and how it is quoted;
/// `None` for block scalars (`|`, `>`).
fn scalar_end(text: &str, start: usize) -> Option<(usize, Style)> {
    let rest = &text[start..];
    let line = &rest[..rest.find('\n').unwrap_or(rest.len())];
    let line = line.trim_end_matches('\r');
    match line.chars().next() {
        Some('"') => {
            let mut escaped = false;
            for (i, c) in line.char_indices().skip(1) {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => return Some((start + i + 1, Style::Double)),
                    _ => escaped = false,
                }
            }
            None
        }
        Some('\'') => {
            let b = line.as_bytes();
            let mut i = 1;
            while i < b.len() {
                if b[i] == b'\'' {
                    if b.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    return Some((start + i + 1, Style::Single));
                }
                i += 1;
            }
            None
        }
        Some('|' | '>') => None,
        _ => {
            let cut = line.find(" #").unwrap_or(line.len());
            Some((start + line[..cut].trim_end().len(), Style::Plain))
        }
    }
}

/// Where the flow collection starting at `start` closes (after its bracket), on its line.
fn flow_end(text: &str, start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote = None;
    for (i, c) in text[start..].char_indices() {
        match (quote, c) {
            (_, '\n') => return None,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '{' | '[') => depth += 1,
            (None, '}' | ']') => {
                depth -= 1;
                if depth == 0 {
                    return Some(start + i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// A scalar as YAML text: in `style` when the old one was quoted, plain when
/// that reads back as the same string, else double-quoted (JSON's escapes are
/// YAML's).
fn scalar(v: &Json, style: Style) -> String {
    match v {
        Json::String(s) => match style {
            Style::Double => Json::String(s.clone()).to_string(),
            Style::Single if !s.contains('\n') => format!("'{}'", s.replace('\'', "''")),
            _ if plain_reads_back(s) => s.clone(),
            _ => Json::String(s.clone()).to_string(),
        },
        Json::Null => "null".into(),
        other => other.to_string(),
    }
}

/// Whether `s` written plain reads back as the string `s`.
fn plain_reads_back(s: &str) -> bool {
    if s.is_empty() || s.contains('\n') || s.trim() != s {
        return false;
    }
    let file = yaml::parse(&format!("k: {s}\n"));
    file.error.is_none()
        && file.documents.len() == 1
        && file.documents[0].root.as_ref().and_then(|r| r.get("k")).and_then(Node::as_str) == Some(s)
}

fn key_text(k: &str) -> String {
    if plain_reads_back(k) && !k.contains(':') { k.to_string() } else { Json::String(k.to_string()).to_string() }
}

/// A value in flow style: `{channels: [gotify], priority: low}`.
fn flow(v: &Json) -> String {
    match v {
        Json::Object(m) => {
            let parts: Vec<String> =
                ordered(m.clone()).into_iter().map(|(k, v)| format!("{}: {}", key_text(&k), flow(&v))).collect();
            format!("{{{}}}", parts.join(", "))
        }
        Json::Array(a) => format!("[{}]", a.iter().map(flow).collect::<Vec<_>>().join(", ")),
        Json::String(s) if plain_reads_back(s) && !s.contains([',', '[', ']', '{', '}']) => s.clone(),
        Json::String(s) => Json::String(s.clone()).to_string(),
        other => other.to_string(),
    }
}

/// `key: value` in block style at `indent` spaces, with a line end.
fn block_entry(out: &mut String, indent: usize, key: &str, v: &Json) {
    let pad = " ".repeat(indent);
    let _ = write!(out, "{pad}{}:", key_text(key));
    match v {
        Json::Object(m) if !m.is_empty() => {
            out.push('\n');
            for (k, v) in ordered(m.clone()) {
                block_entry(out, indent + 2, &k, &v);
            }
        }
        Json::Array(a) if !a.is_empty() => {
            out.push('\n');
            for item in a {
                block_item(out, indent + 2, item);
            }
        }
        other => {
            let _ = writeln!(
                out,
                " {}",
                if other.is_object() || other.is_array() { flow(other) } else { scalar(other, Style::Plain) }
            );
        }
    }
}

/// `- item` in block style at `indent` spaces.
fn block_item(out: &mut String, indent: usize, v: &Json) {
    let pad = " ".repeat(indent);
    match v {
        Json::Object(m) if !m.is_empty() => {
            let mut inner = String::new();
            for (k, v) in ordered(m.clone()) {
                block_entry(&mut inner, indent + 2, &k, &v);
            }
            // The first entry goes on the dash's line.
            let _ = write!(out, "{pad}- {}", &inner[indent + 2..]);
        }
        Json::Array(_) | Json::Object(_) => {
            let _ = writeln!(out, "{pad}- {}", flow(v));
        }
        other => {
            let _ = writeln!(out, "{pad}- {}", scalar(other, Style::Plain));
        }
    }
}

/// A mapping's entries in the order people write them: the manifest's keys
/// first, `name` and `description` first within, the rest by name.
fn ordered(m: Map<String, Json>) -> Vec<(String, Json)> {
    const FIRST: [&str; 6] = ["apiVersion", "kind", "metadata", "name", "description", "spec"];
    let mut v: Vec<(String, Json)> = m.into_iter().collect();
    v.sort_by_key(|(k, _)| (FIRST.iter().position(|f| f == k).unwrap_or(FIRST.len()), k.clone()));
    v
}

/// Document `root` (ending before line `end`) written out afresh as `want`,
/// below its leading comments.
fn rewrite_document(lines: &Lines<'_>, root: &Node, end: u32, want: &Json) -> String {
    let mut body = String::new();
    for (k, v) in ordered(want.as_object().cloned().unwrap_or_default()) {
        block_entry(&mut body, 0, &k, &v);
    }
    lines.apply(vec![(lines.start(root.span.line), lines.start(end), body)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    const SCHEDULE: &str = "\
# yaml-language-server: $schema=../schemas/json/schedule.schema.json
#
# The nightly routine.
apiVersion: car/v1
kind: Schedule
metadata:
  name: nightly
spec:
  description: Nightly tidy-up   # kept
  # 02:00 Berlin time.
  cron: \"0 2 * * *\"
  timezone: Europe/Berlin

  agents:
    - docker-manager  # first
    - disk-space
  nodes: all
  notify:
    onFailure: {channels: [gotify], priority: high}
";

    fn spec_of(text: &str, index: usize) -> Json {
        let f = yaml::parse(text);
        let d = crate::document::parse(Path::new("s.yaml"), &f.documents[index]);
        d.document.unwrap_or_else(|| panic!("{:?}", d.diagnostics)).to_json()["spec"].clone()
    }

    fn changed_lines(a: &str, b: &str) -> Vec<(String, String)> {
        assert_eq!(a.lines().count(), b.lines().count(), "{b}");
        a.lines().zip(b.lines()).filter(|(x, y)| x != y).map(|(x, y)| (x.into(), y.into())).collect()
    }

    #[test]
    fn a_changed_scalar_moves_alone_and_keeps_its_quotes() {
        let old = spec_of(SCHEDULE, 0);
        let mut new = old.clone();
        new["cron"] = json!("15 3 * * *");
        let out = change_spec(Path::new("s.yaml"), SCHEDULE, 0, &old, &new).unwrap();
        assert_eq!(changed_lines(SCHEDULE, &out), [("  cron: \"0 2 * * *\"".into(), "  cron: \"15 3 * * *\"".into())]);
        new["description"] = json!("Nightly: tidy # and check");
        let out = change_spec(Path::new("s.yaml"), SCHEDULE, 0, &old, &new).unwrap();
        let changed = changed_lines(SCHEDULE, &out);
        assert_eq!(changed[0].1, "  description: \"Nightly: tidy # and check\"   # kept", "{out}");
        assert_eq!(spec_of(&out, 0), new);
    }

    #[test]
    fn lists_and_flow_mappings_are_written_again_in_place() {
        let old = spec_of(SCHEDULE, 0);
        let mut new = old.clone();
        new["agents"] = json!(["disk-space"]);
        new["notify"]["onFailure"]["priority"] = json!("critical");
        let out = change_spec(Path::new("s.yaml"), SCHEDULE, 0, &old, &new).unwrap();
        assert!(out.contains("  agents:\n    - disk-space\n  nodes: all\n"), "{out}");
        assert!(out.contains("    onFailure: {channels: [gotify], priority: critical}\n"), "{out}");
        assert!(
            out.starts_with("# yaml-language-server: $schema=../schemas/json/schedule.schema.json\n#\n# The nightly")
        );
        assert!(out.contains("  # 02:00 Berlin time.\n  cron: \"0 2 * * *\"\n  timezone: Europe/Berlin\n\n  agents:"));
        assert_eq!(spec_of(&out, 0), new);
    }

    #[test]
    fn added_keys_join_their_mapping_and_removed_keys_take_their_comments() {
        let old = spec_of(SCHEDULE, 0);
        let mut new = old.clone();
        new["jitter"] = json!("5m");
        new.as_object_mut().unwrap().remove("cron");
        new["every"] = json!("6h");
        new.as_object_mut().unwrap().remove("timezone");
        let out = change_spec(Path::new("s.yaml"), SCHEDULE, 0, &old, &new).unwrap();
        assert!(!out.contains("Berlin"), "{out}");
        assert!(
            out.contains("  notify:\n    onFailure: {channels: [gotify], priority: high}\n  every: 6h\n  jitter: 5m\n"),
            "{out}"
        );
        assert_eq!(spec_of(&out, 0), new);
    }

    #[test]
    fn other_documents_of_the_file_stay_byte_for_byte() {
        let two = format!(
            "{SCHEDULE}---\n# second\n{}",
            SCHEDULE
                .replace("name: nightly", "name: weekly")
                .replace("# yaml-language-server: $schema=../schemas/json/schedule.schema.json\n", "")
        );
        let old = spec_of(&two, 1);
        let mut new = old.clone();
        new["timezone"] = json!("UTC");
        let out = change_spec(Path::new("s.yaml"), &two, 1, &old, &new).unwrap();
        let changed = changed_lines(&two, &out);
        assert_eq!(changed, [("  timezone: Europe/Berlin".into(), "  timezone: UTC".into())]);
        assert!(out.find("UTC").unwrap() > out.find("weekly").unwrap());
        assert_eq!(spec_of(&out, 1), new);
        assert_eq!(spec_of(&out, 0), spec_of(&two, 0));
        let removed = remove_document(Path::new("s.yaml"), &two, 0).unwrap().unwrap();
        assert!(
            removed.starts_with("# second\n#\n# The nightly routine.\napiVersion")
                && !removed.contains("name: nightly"),
            "{removed}"
        );
        assert_eq!(spec_of(&removed, 0), spec_of(&two, 1));
        let removed = remove_document(Path::new("s.yaml"), &two, 1).unwrap().unwrap();
        assert_eq!(removed.trim_end(), SCHEDULE.trim_end());
        assert_eq!(
            remove_document(Path::new("s.yaml"), SCHEDULE, 0).unwrap(),
            None,
            "the last document: delete the file"
        );
    }

    #[test]
    fn a_layout_the_edits_do_not_understand_is_written_afresh_below_its_comments() {
        let flow_spec = "# keep me\napiVersion: car/v1\nkind: Schedule\nmetadata: {name: x}\nspec: {cron: \"0 2 * * *\", agents: [a], nodes: all}\n";
        let old = spec_of(flow_spec, 0);
        let mut new = old.clone();
        new["cron"] = json!("0 3 * * *");
        let out = change_spec(Path::new("s.yaml"), flow_spec, 0, &old, &new).unwrap();
        assert!(
            out.starts_with("# keep me\napiVersion: car/v1\nkind: Schedule\nmetadata:\n  name: x\nspec:\n"),
            "{out}"
        );
        assert_eq!(spec_of(&out, 0), new);
    }

    #[test]
    fn errors_are_placed_on_the_field_a_form_shows() {
        let at = |line, column| field_at(SCHEDULE, 0, crate::Span::new(line, column));
        assert_eq!(at(11, 9).as_deref(), Some("spec.cron"));
        assert_eq!(at(15, 7).as_deref(), Some("spec.agents[0]"));
        assert_eq!(at(16, 9).as_deref(), Some("spec.agents[1]"), "inside the value");
        assert_eq!(at(7, 9).as_deref(), Some("metadata.name"));
        assert_eq!(at(3, 1), None, "a comment");
        assert_eq!(
            document_index(SCHEDULE, yaml::parse(SCHEDULE).documents[0].start),
            Some(0),
            "{:?}",
            yaml::parse(SCHEDULE).documents[0].start
        );
    }

    #[test]
    fn new_files_carry_the_modeline_and_read_back() {
        let manifest = json!({"apiVersion": "car/v1", "kind": "Schedule", "metadata": {"name": "n"},
            "spec": {"cron": "*/5 * * * *", "agents": ["a", "b"], "nodes": "all", "description": "yes", "notify": {"onFailure": {"channels": ["g"]}}}});
        let text = new_file(Some("# yaml-language-server: $schema=x.json"), &manifest);
        assert!(text.starts_with("# yaml-language-server: $schema=x.json\napiVersion: car/v1\nkind: Schedule\nmetadata:\n  name: n\nspec:\n  description: yes\n"), "{text}");
        let read = yaml::parse(&text);
        assert_eq!(raw_json(read.documents[0].root.as_ref().unwrap()), manifest);
        assert_eq!(spec_of(&text, 0)["agents"], json!(["a", "b"]), "it reads as config");
    }
}
