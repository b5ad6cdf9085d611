//! A YAML reader that keeps positions and refuses hostile input.
//!
//! Text enters as a `&str` and leaves as [`YamlDocument`]s: trees of [`Node`]s,
//! each carrying the [`Span`] of its first character, so every later error can
//! point at the offending key or value. Events come from `yaml-rust2` (a
//! maintained, pure-Rust YAML 1.2 parser with positions on every event); we
//! build the tree ourselves so that limits hold while it grows: nesting depth,
//! alias expansion (no "billion laughs"), duplicate keys, and unsupported tags
//! are errors with a location, never a hang or an out-of-memory.
//!
//! Why not `serde_yaml`: it is unmaintained (archived in 2024), and it and
//! its forks (`serde_yml`, `serde_norway`) stop at the first error and give
//! no position for values that deserialize fine but fail later checks. A
//! tree with a position on every node, read by our own serde `Deserializer`
//! (see `de`), gives both while keeping serde's data model.
//!
//! Scalars are resolved with the YAML 1.2 core schema (so `yes`/`no`/`on` stay
//! strings, as in YAML 1.2, and `0 2 * * *` is a string).

use std::collections::{HashMap, HashSet};

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::diagnostic::Span;

/// Nesting deeper than this is refused: no config needs it, and hostile input
/// should not be able to exhaust the stack of whoever walks the tree.
pub const MAX_DEPTH: usize = 64;
/// Nodes an alias may add, summed over one document. The example config
/// repository's largest document has a few hundred nodes.
pub const MAX_ALIAS_EXPANSION: usize = 10_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// How a value is named in messages: `expected a string, found a list`.
    pub fn describe(&self) -> String {
        match self {
            Value::Null => "nothing (null)".into(),
            Value::Bool(b) => format!("the boolean {b}"),
            Value::Int(i) => format!("the number {i}"),
            Value::Float(f) => format!("the number {f}"),
            Value::Str(s) => format!("the string {s:?}"),
            Value::Seq(_) => "a list".into(),
            Value::Map(_) => "a mapping".into(),
        }
    }
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value under `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Builds a position-less tree from JSON (documents that arrive over the wire).
    pub fn from_json(v: &serde_json::Value) -> Node {
        let value = match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(a) => Value::Seq(a.iter().map(Node::from_json).collect()),
            serde_json::Value::Object(o) => Value::Map(
                o.iter()
                    .map(|(k, v)| (Node { span: Span::default(), value: Value::Str(k.clone()) }, Node::from_json(v)))
                    .collect(),
            ),
        };
        Node { span: Span::default(), value }
    }
}

/// One `---`-separated document of a file; `root` is `None` for an empty one.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlDocument {
    pub start: Span,
    pub root: Option<Node>,
}

/// A YAML error with its position; reading stops at the first one in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub span: Span,
    pub message: String,
    pub hint: Option<String>,
}

/// Everything read from one file: the documents before any error, and that error.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct YamlFile {
    pub documents: Vec<YamlDocument>,
    pub error: Option<YamlError>,
}

pub fn span_of(m: &Marker) -> Span {
    // yaml-rust2 counts lines from 1 and columns from 0.
    Span::new(clamp(m.line()), clamp(m.col() + 1))
}

fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

enum Frame {
    Seq { span: Span, anchor: usize, items: Vec<Node> },
    Map { span: Span, anchor: usize, entries: Vec<(Node, Node)>, key: Option<Node>, seen: Option<HashSet<String>> },
}

/// Reads all documents of `text`.
pub fn parse(text: &str) -> YamlFile {
    let mut out = YamlFile::default();
    if let Err(e) = Reader::default().read(text, &mut out.documents) {
        out.error = Some(e);
    }
    out
}

#[derive(Default)]
struct Reader {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    expanded: usize,
    doc_start: Span,
}

fn err(span: Span, message: impl Into<String>) -> YamlError {
    YamlError { span, message: message.into(), hint: None }
}

impl Reader {
    fn read(&mut self, text: &str, docs: &mut Vec<YamlDocument>) -> Result<(), YamlError> {
        let mut parser = Parser::new_from_str(text);
        let mut root: Option<Node> = None;
        loop {
            let (event, marker) = parser.next_token().map_err(|e| {
                let mut m = e.info().to_string();
                if let Some(first) = m.get(..1) {
                    m = first.to_uppercase() + &m[1..];
                }
                let hint = if m.contains("anchor") || m.contains("alias") {
                    "a value starting with * or & is read as a YAML alias or anchor; quote it, e.g. cron: \"*/15 * * * *\""
                } else {
                    "check the indentation and quoting on this line and the one before"
                };
                YamlError { span: span_of(e.marker()), message: format!("YAML syntax error: {m}"), hint: Some(hint.into()) }
            })?;
            let span = span_of(&marker);
            match event {
                Event::StreamStart | Event::Nothing => {}
                Event::StreamEnd => return Ok(()),
                Event::DocumentStart => {
                    self.doc_start = span;
                    self.anchors.clear();
                    self.expanded = 0;
                }
                Event::DocumentEnd => {
                    // `---` with nothing after it (or a lone `~`) is an empty document.
                    let root = root.take().filter(|n| n.value != Value::Null);
                    docs.push(YamlDocument { start: self.doc_start, root });
                }
                Event::Scalar(text, style, anchor, tag) => {
                    let node = Node { span, value: resolve_scalar(text, style, tag.as_ref(), span)? };
                    self.finish(node, anchor, 1, &mut root)?;
                }
                Event::Alias(id) => {
                    let Some((node, size)) = self.anchors.get(&id) else {
                        return Err(err(span, "alias refers to an unknown anchor"));
                    };
                    self.expanded += size;
                    if self.expanded > MAX_ALIAS_EXPANSION {
                        return Err(YamlError {
                            span,
                            message: format!(
                                "YAML aliases expand to more than {MAX_ALIAS_EXPANSION} nodes in this document"
                            ),
                            hint: Some(
                                "this looks like an alias bomb; write the values out or use fewer nested aliases"
                                    .into(),
                            ),
                        });
                    }
                    let (node, size) = (Node { span, value: node.value.clone() }, *size);
                    self.finish(node, 0, size, &mut root)?;
                }
                Event::SequenceStart(anchor, tag) => {
                    check_collection_tag(tag.as_ref(), "seq", span)?;
                    self.push(Frame::Seq { span, anchor, items: Vec::new() })?;
                }
                Event::MappingStart(anchor, tag) => {
                    check_collection_tag(tag.as_ref(), "map", span)?;
                    self.push(Frame::Map { span, anchor, entries: Vec::new(), key: None, seen: None })?;
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let (node, anchor) = match self.stack.pop() {
                        Some(Frame::Seq { span, anchor, items }) => (Node { span, value: Value::Seq(items) }, anchor),
                        Some(Frame::Map { span, anchor, entries, .. }) => {
                            (Node { span, value: Value::Map(entries) }, anchor)
                        }
                        None => return Err(err(span, "unbalanced collection end")),
                    };
                    let size = if anchor == 0 { 0 } else { count(&node) };
                    self.finish(node, anchor, size, &mut root)?;
                }
            }
        }
    }

    fn push(&mut self, frame: Frame) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            let span = match &frame {
                Frame::Seq { span, .. } | Frame::Map { span, .. } => *span,
            };
            return Err(YamlError {
                span,
                message: format!("nesting is deeper than {MAX_DEPTH} levels"),
                hint: Some("config documents are a few levels deep; flatten this value".into()),
            });
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Places a completed node into its parent (or as the document root) and
    /// remembers it under its anchor.
    fn finish(&mut self, node: Node, anchor: usize, size: usize, root: &mut Option<Node>) -> Result<(), YamlError> {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size.max(1)));
        }
        match self.stack.last_mut() {
            None => *root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, seen, .. }) => match key.take() {
                None => {
                    let Some(name) = key_text(&node) else {
                        return Err(YamlError {
                            span: node.span,
                            message: "a mapping key must be a plain value, not a list or mapping".into(),
                            hint: None,
                        });
                    };
                    let duplicate = if entries.len() < 16 {
                        entries.iter().any(|(k, _)| key_text(k).as_deref() == Some(&name))
                    } else {
                        let set = seen.get_or_insert_with(|| entries.iter().filter_map(|(k, _)| key_text(k)).collect());
                        !set.insert(name.clone())
                    };
                    if duplicate {
                        let first =
                            entries.iter().find(|(k, _)| key_text(k).as_deref() == Some(&name)).map(|(k, _)| k.span);
                        return Err(YamlError {
                            span: node.span,
                            message: format!("duplicate key {name:?}"),
                            hint: Some(match first {
                                Some(s) => format!("it is already set at line {}; keep one of them", s.line),
                                None => "keep one of them".into(),
                            }),
                        });
                    }
                    *key = Some(node);
                }
                Some(k) => entries.push((k, node)),
            },
        }
        Ok(())
    }
}

fn key_text(n: &Node) -> Option<String> {
    match &n.value {
        Value::Str(s) => Some(s.clone()),
        Value::Null => Some(String::new()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Seq(_) | Value::Map(_) => None,
    }
}

fn count(n: &Node) -> usize {
    1 + match &n.value {
        Value::Seq(items) => items.iter().map(count).sum(),
        Value::Map(entries) => entries.iter().map(|(k, v)| count(k) + count(v)).sum(),
        _ => 0,
    }
}

fn check_collection_tag(tag: Option<&Tag>, expected: &str, span: Span) -> Result<(), YamlError> {
    match tag {
        None => Ok(()),
        Some(t) if t.handle == "tag:yaml.org,2002:" && t.suffix == expected => Ok(()),
        Some(t) => Err(unsupported_tag(t, span)),
    }
}

fn unsupported_tag(t: &Tag, span: Span) -> YamlError {
    YamlError {
        span,
        message: format!("unsupported YAML tag {}{}", t.handle, t.suffix),
        hint: Some("remove the tag; only !!str, !!int, !!float, !!bool and !!null are understood".into()),
    }
}

fn resolve_scalar(text: String, style: TScalarStyle, tag: Option<&Tag>, span: Span) -> Result<Value, YamlError> {
    if let Some(t) = tag {
        if t.handle != "tag:yaml.org,2002:" {
            return Err(unsupported_tag(t, span));
        }
        let bad = |what: &str| err(span, format!("{text:?} is not a valid {what}"));
        return match t.suffix.as_str() {
            "str" => Ok(Value::Str(text)),
            "null" => Ok(Value::Null),
            "bool" => match plain_scalar(&text) {
                v @ Value::Bool(_) => Ok(v),
                _ => Err(bad("boolean")),
            },
            "int" => match plain_scalar(&text) {
                v @ Value::Int(_) => Ok(v),
                _ => Err(bad("integer")),
            },
            "float" => match plain_scalar(&text) {
                Value::Int(i) => Ok(Value::Float(i as f64)),
                v @ Value::Float(_) => Ok(v),
                _ => Err(bad("number")),
            },
            _ => Err(unsupported_tag(t, span)),
        };
    }
    if style != TScalarStyle::Plain {
        return Ok(Value::Str(text));
    }
    Ok(plain_scalar(&text))
}

/// YAML 1.2 core schema resolution of a plain scalar.
fn plain_scalar(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Value::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let bytes = s.as_bytes();
    let digits = |b: &[u8]| !b.is_empty() && b.iter().all(u8::is_ascii_digit);
    let unsigned = bytes.strip_prefix(b"-").or_else(|| bytes.strip_prefix(b"+")).unwrap_or(bytes);
    if digits(unsigned) {
        if let Ok(i) = s.parse::<i64>() {
            return Value::Int(i);
        }
        return s.parse::<f64>().map_or_else(|_| Value::Str(s.into()), Value::Float);
    }
    if let Some(hex) = s.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Value::Int(i);
    }
    if let Some(oct) = s.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Value::Int(i);
    }
    if is_float(unsigned)
        && let Ok(f) = s.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Str(s.into())
}

/// `( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
fn is_float(s: &[u8]) -> bool {
    let (mantissa, exp) = match s.iter().position(|&c| c == b'e' || c == b'E') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.iter().position(|&c| c == b'.') {
        Some(i) => {
            let (int, frac) = (&mantissa[..i], &mantissa[i + 1..]);
            int.iter().all(u8::is_ascii_digit)
                && frac.iter().all(u8::is_ascii_digit)
                && !(int.is_empty() && frac.is_empty())
        }
        None => !mantissa.is_empty() && mantissa.iter().all(u8::is_ascii_digit),
    };
    let exp_ok = match exp {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(b"-").or_else(|| e.strip_prefix(b"+")).unwrap_or(e);
            !e.is_empty() && e.iter().all(u8::is_ascii_digit)
        }
    };
    mantissa_ok && exp_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key node (not the value) of `key` in a mapping, for positions.
    fn key<'a>(n: &'a Node, key: &str) -> Option<&'a Node> {
        match &n.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(k, _)| k),
            _ => None,
        }
    }

    fn one(text: &str) -> Node {
        let f = parse(text);
        assert_eq!(f.error, None);
        f.documents.into_iter().next().and_then(|d| d.root).expect("a document")
    }

    #[test]
    fn positions_are_one_based_and_point_at_keys_and_values() {
        let n = one("a: 1\nspec:\n  cron: \"0 2 * * *\"\n");
        assert_eq!(key(&n, "spec").unwrap().span, Span::new(2, 1));
        let spec = n.get("spec").unwrap();
        assert_eq!(key(spec, "cron").unwrap().span, Span::new(3, 3));
        assert_eq!(spec.get("cron").unwrap().span, Span::new(3, 9));
    }

    #[test]
    fn core_schema_scalars() {
        let n = one("[1, -2, 0x1f, 1.5, .inf, true, yes, null, ~, '1', 0 2 * * *, 1e3, 6h]");
        let Value::Seq(items) = n.value else { panic!() };
        let vals: Vec<Value> = items.into_iter().map(|n| n.value).collect();
        assert_eq!(vals[0], Value::Int(1));
        assert_eq!(vals[1], Value::Int(-2));
        assert_eq!(vals[2], Value::Int(31));
        assert_eq!(vals[3], Value::Float(1.5));
        assert_eq!(vals[4], Value::Float(f64::INFINITY));
        assert_eq!(vals[5], Value::Bool(true));
        assert_eq!(vals[6], Value::Str("yes".into()));
        assert_eq!(vals[7], Value::Null);
        assert_eq!(vals[8], Value::Null);
        assert_eq!(vals[9], Value::Str("1".into()));
        assert_eq!(vals[10], Value::Str("0 2 * * *".into()));
        assert_eq!(vals[11], Value::Float(1000.0));
        assert_eq!(vals[12], Value::Str("6h".into()));
    }

    #[test]
    fn anchors_and_aliases_copy_values() {
        let n = one("a: &x {k: v}\nb: *x\n");
        assert_eq!(n.get("b").unwrap().get("k").unwrap().as_str(), Some("v"));
        assert_eq!(n.get("b").unwrap().span, Span::new(2, 4));
    }

    #[test]
    fn alias_bomb_is_an_error_not_a_hang() {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            s.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let f = parse(&s);
        let e = f.error.expect("an error");
        assert!(e.message.contains("aliases expand"), "{}", e.message);
        assert_eq!(e.span.line, 4);
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let s = "[".repeat(100) + &"]".repeat(100);
        let e = parse(&s).error.expect("an error");
        assert!(e.message.contains("nesting is deeper than 64"), "{}", e.message);
        assert_eq!(e.span, Span::new(1, 65));
        // Far deeper input stops in the scanner, still as an error.
        let s = "[".repeat(1_000_000) + &"]".repeat(1_000_000);
        assert!(parse(&s).error.is_some());
        let block: String = (0..200).map(|i| format!("{}k{i}:\n", "  ".repeat(i))).collect();
        let e = parse(&block).error.expect("an error");
        assert!(e.message.contains("nesting is deeper than 64"), "{}", e.message);
    }

    #[test]
    fn duplicate_keys_are_errors_with_the_first_place() {
        let e = parse("a: 1\nb: 2\na: 3\n").error.expect("an error");
        assert_eq!(e.span, Span::new(3, 1));
        assert_eq!(e.message, "duplicate key \"a\"");
        assert_eq!(e.hint.as_deref(), Some("it is already set at line 1; keep one of them"));
    }

    #[test]
    fn documents_before_a_syntax_error_are_kept() {
        let f = parse("a: 1\n---\nb: [\n");
        assert_eq!(f.documents.len(), 1);
        let e = f.error.expect("an error");
        assert!(e.message.starts_with("YAML syntax error"), "{}", e.message);
    }

    #[test]
    fn an_unquoted_cron_gets_a_quoting_hint() {
        let e = parse("cron: */15 * * * *\n").error.expect("an error");
        assert!(e.hint.unwrap_or_default().contains("quote it"), "{}", e.message);
    }

    #[test]
    fn custom_tags_are_refused() {
        let e = parse("a: !secret foo\n").error.expect("an error");
        assert!(e.message.contains("unsupported YAML tag"), "{}", e.message);
        assert_eq!(e.span, Span::new(1, 12));
    }
}
