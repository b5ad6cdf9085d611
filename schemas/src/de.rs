//! Typed documents out of positioned YAML trees.
//!
//! A serde `Deserializer` over [`yaml::Node`]: every error it returns carries
//! the position of the innermost key or value it concerns, so a wrong type or
//! a bad duration is reported at `file:line:col`. Unknown fields do not stop
//! deserialization: each is recorded (with a did-you-mean hint from the
//! struct's own field list) and skipped, so one pass reports all of them.
//! [`Spanned<T>`] captures the position of a value for later, semantic checks.
//! Fields marked `deserialize_with = "recover"` (or `recover_each` for lists)
//! do not stop deserialization either: a bad value is recorded and reading
//! goes on, so one pass reports every bad value of a document, not the first.

use std::cell::RefCell;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::diagnostic::{Span, did_you_mean, list};
use crate::yaml::{Node, Value};

/// A deserialization problem, located where the deserializer met it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeError {
    pub span: Option<Span>,
    pub message: String,
    pub hint: Option<String>,
}

/// Separates message and hint inside `de::Error::custom` strings, so that
/// `Deserialize` impls (which only see serde's error API) can give hints.
pub const HINT: &str = "\u{1f}hint:";

/// `message` with a `hint`, as a serde custom error.
pub fn hinted<E: de::Error>(message: impl fmt::Display, hint: impl fmt::Display) -> E {
    E::custom(format!("{message}{HINT}{hint}"))
}

impl DeError {
    fn at(mut self, span: Span) -> Self {
        self.span.get_or_insert(span);
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        let msg = msg.to_string();
        let (message, hint) = match msg.split_once(HINT) {
            Some((m, h)) => (m.to_string(), Some(h.to_string())),
            None => (msg, None),
        };
        DeError { span: None, message, hint }
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::custom(format!("expected {}, found {}", friendly(exp), describe_unexpected(&unexp)))
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::custom(format!("{} is not allowed here: expected {}", describe_unexpected(&unexp), friendly(exp)))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let hint = match did_you_mean(variant, expected.iter().copied()) {
            Some(c) => format!("did you mean {c:?}?"),
            None => format!("use one of {}", list(expected)),
        };
        DeError { span: None, message: format!("unknown value {variant:?}"), hint: Some(hint) }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        unknown_field(field, expected)
    }

    fn missing_field(field: &'static str) -> Self {
        DeError {
            span: None,
            message: format!("missing required field {field:?}"),
            hint: Some(format!("add `{field}:` here")),
        }
    }
}

fn unknown_field(shown: &str, fields: &[&str]) -> DeError {
    let hint = match did_you_mean(shown, fields.iter().copied()) {
        Some(c) => format!("did you mean {c:?}?"),
        None => format!("fields allowed here: {}", list(fields)),
    };
    DeError { span: None, message: format!("unknown field {shown:?}"), hint: Some(hint) }
}

/// serde names primitive types the Rust way (`u32`); users read YAML.
fn friendly(exp: &dyn de::Expected) -> String {
    let e = exp.to_string();
    match e.as_str() {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number (0 or more)".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" => "true or false".into(),
        _ => e,
    }
}

fn describe_unexpected(u: &de::Unexpected<'_>) -> String {
    match u {
        de::Unexpected::Str(s) => format!("the string {s:?}"),
        de::Unexpected::Unit => "nothing (null)".into(),
        de::Unexpected::Seq => "a list".into(),
        de::Unexpected::Map => "a mapping".into(),
        de::Unexpected::Signed(i) => format!("the number {i}"),
        de::Unexpected::Unsigned(i) => format!("the number {i}"),
        de::Unexpected::Float(f) => format!("the number {f}"),
        de::Unexpected::Bool(b) => format!("the boolean {b}"),
        other => other.to_string(),
    }
}

/// Deserializes `node` as `T`. Returns the value (if the document's shape
/// allowed one) and every problem found: unknown fields first, then the error
/// that stopped deserialization, if any.
pub fn from_node<T: DeserializeOwned>(node: &Node) -> (Option<T>, Vec<DeError>) {
    let ctx = Ctx::default();
    let result = T::deserialize(NodeDe { node, ctx: &ctx });
    let mut problems = ctx.unknown.into_inner();
    match result {
        Ok(v) => (Some(v), problems),
        Err(e) => {
            problems.push(e.at(node.span));
            (None, problems)
        }
    }
}

/// Deserializes a JSON value (e.g. a document sent over the wire) with the
/// same rules as YAML from git; positions are then all zero.
pub fn from_json<T: DeserializeOwned>(v: &serde_json::Value) -> Result<T, Vec<DeError>> {
    match from_node(&Node::from_json(v)) {
        (Some(t), problems) if problems.is_empty() => Ok(t),
        (_, problems) => Err(problems),
    }
}

#[derive(Default)]
struct Ctx {
    unknown: RefCell<Vec<DeError>>,
}

#[derive(Clone, Copy)]
struct NodeDe<'a> {
    node: &'a Node,
    ctx: &'a Ctx,
}

impl<'a> NodeDe<'a> {
    fn wrong(&self, exp: &dyn de::Expected) -> DeError {
        DeError {
            span: Some(self.node.span),
            message: format!("expected {}, found {}", friendly(exp), self.node.value.describe()),
            hint: None,
        }
    }
}

const SPANNED: &str = "$car::Spanned";
const RECOVER: &str = "$car::Recover";
/// The error a recoverable value returns once its real error is recorded.
const RECORDED: &str = "$car::recorded";
const SPANNED_FIELDS: &[&str] = &["$car::line", "$car::column", "$car::value"];

impl<'de, 'a: 'de> de::Deserializer<'de> for NodeDe<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let span = self.node.span;
        match &self.node.value {
            Value::Null => v.visit_unit(),
            Value::Bool(b) => v.visit_bool(*b),
            Value::Int(i) => v.visit_i64(*i),
            Value::Float(f) => v.visit_f64(*f),
            Value::Str(s) => v.visit_borrowed_str(s),
            Value::Seq(items) => v.visit_seq(SeqAcc { items: items.iter(), ctx: self.ctx }),
            Value::Map(entries) => v.visit_map(MapAcc::new(entries, self.ctx)),
        }
        .map_err(|e| e.at(span))
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Str(s) => v.visit_borrowed_str(s).map_err(|e: DeError| e.at(self.node.span)),
            _ => Err(self.wrong(&v)),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Seq(items) => v.visit_seq(SeqAcc { items: items.iter(), ctx: self.ctx }),
            _ => Err(self.wrong(&v)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _n: &'static str,
        _len: usize,
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Map(entries) => v.visit_map(MapAcc::new(entries, self.ctx)),
            _ => Err(self.wrong(&v)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        if name == SPANNED {
            return v.visit_map(SpannedAcc { de: self, step: 0 });
        }
        if name == RECOVER {
            return v.visit_map(RecoverAcc { de: self, step: 0 });
        }
        let Value::Map(entries) = &self.node.value else {
            return Err(self.wrong(&v));
        };
        let mut known = Vec::with_capacity(entries.len());
        for entry in entries {
            match entry.0.as_str() {
                Some(k) if fields.contains(&k) => known.push(entry),
                key => {
                    let shown = key.map_or_else(|| entry.0.value.describe(), str::to_string);
                    self.ctx.unknown.borrow_mut().push(unknown_field(&shown, fields).at(entry.0.span));
                }
            }
        }
        v.visit_map(MapAcc { entries: known.into_iter(), value: None, ctx: self.ctx })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Str(_) => v.visit_enum(EnumAcc { variant: self, value: None }),
            Value::Map(entries) if entries.len() == 1 => {
                let (k, val) = &entries[0];
                v.visit_enum(EnumAcc {
                    variant: NodeDe { node: k, ctx: self.ctx },
                    value: Some(NodeDe { node: val, ctx: self.ctx }),
                })
            }
            _ => Err(self.wrong(&v)),
        }
        .map_err(|e| e.at(self.node.span))
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.node.value {
            Value::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _n: &'static str, v: V) -> Result<V::Value, DeError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char
        bytes byte_buf unit unit_struct
    }
}

struct SeqAcc<'a> {
    items: std::slice::Iter<'a, Node>,
    ctx: &'a Ctx,
}

impl<'de, 'a: 'de> de::SeqAccess<'de> for SeqAcc<'a> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            None => Ok(None),
            Some(node) => seed.deserialize(NodeDe { node, ctx: self.ctx }).map(Some).map_err(|e| e.at(node.span)),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapAcc<'a, I> {
    entries: I,
    value: Option<(&'a Node, &'a Node)>,
    ctx: &'a Ctx,
}

impl<'a> MapAcc<'a, std::iter::Map<std::slice::Iter<'a, (Node, Node)>, fn(&'a (Node, Node)) -> &'a (Node, Node)>> {
    fn new(entries: &'a [(Node, Node)], ctx: &'a Ctx) -> Self {
        let id: fn(&'a (Node, Node)) -> &'a (Node, Node) = |e| e;
        MapAcc { entries: entries.iter().map(id), value: None, ctx }
    }
}

impl<'de, 'a: 'de, I: Iterator<Item = &'a (Node, Node)>> de::MapAccess<'de> for MapAcc<'a, I> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            None => Ok(None),
            Some((k, v)) => {
                self.value = Some((k, v));
                seed.deserialize(NodeDe { node: k, ctx: self.ctx }).map(Some).map_err(|e| e.at(k.span))
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((k, v)) = self.value.take() else {
            return Err(de::Error::custom("value requested before its key"));
        };
        // Problems with a whole mapping or list (a missing field, say) are
        // reported at its key, where a reader looks for them.
        let at = match v.value {
            Value::Map(_) | Value::Seq(_) => k.span,
            _ => v.span,
        };
        seed.deserialize(NodeDe { node: v, ctx: self.ctx }).map_err(|e| e.at(at))
    }
}

struct EnumAcc<'a> {
    variant: NodeDe<'a>,
    value: Option<NodeDe<'a>>,
}

impl<'de, 'a: 'de> de::EnumAccess<'de> for EnumAcc<'a> {
    type Error = DeError;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), DeError> {
        let span = self.variant.node.span;
        let v = seed.deserialize(self.variant).map_err(|e| e.at(span))?;
        Ok((v, self))
    }
}

impl<'de, 'a: 'de> de::VariantAccess<'de> for EnumAcc<'a> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.value {
            None => Ok(()),
            Some(v) if v.node.value == Value::Null => Ok(()),
            Some(v) => {
                Err(DeError { span: Some(v.node.span), message: "this option takes no value".into(), hint: None })
            }
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        match self.value {
            Some(v) => seed.deserialize(v).map_err(|e| e.at(v.node.span)),
            None => Err(DeError {
                span: Some(self.variant.node.span),
                message: "this option needs a value".into(),
                hint: Some(format!("write it as `{}: <value>`", self.variant.node.as_str().unwrap_or("name"))),
            }),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, DeError> {
        match self.value {
            Some(d) => de::Deserializer::deserialize_seq(d, v),
            None => Err(self.variant.wrong(&v)),
        }
    }

    fn struct_variant<V: Visitor<'de>>(self, fields: &'static [&'static str], v: V) -> Result<V::Value, DeError> {
        match self.value {
            Some(d) => de::Deserializer::deserialize_struct(d, "", fields, v),
            None => Err(self.variant.wrong(&v)),
        }
    }
}

/// Feeds a [`Spanned`] its position, then its value.
struct SpannedAcc<'a> {
    de: NodeDe<'a>,
    step: u8,
}

impl<'de, 'a: 'de> de::MapAccess<'de> for SpannedAcc<'a> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        match SPANNED_FIELDS.get(usize::from(self.step)) {
            Some(f) => seed.deserialize((*f).into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let step = self.step;
        self.step += 1;
        let span = self.de.node.span;
        match step {
            0 => seed.deserialize(span.line.into_deserializer()),
            1 => seed.deserialize(span.column.into_deserializer()),
            _ => seed.deserialize(self.de),
        }
    }
}

/// Hands a recoverable value to its visitor; records its error instead of
/// returning it.
struct RecoverAcc<'a> {
    de: NodeDe<'a>,
    step: u8,
}

impl<'de, 'a: 'de> de::MapAccess<'de> for RecoverAcc<'a> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        if self.step > 0 {
            return Ok(None);
        }
        seed.deserialize(RECOVER.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        self.step += 1;
        let span = self.de.node.span;
        seed.deserialize(self.de).map_err(|e| {
            if e.message != RECORDED {
                self.de.ctx.unknown.borrow_mut().push(e.at(span));
            }
            de::Error::custom(RECORDED)
        })
    }
}

/// Reads `T`, or records why it could not and gives `None`.
struct RecoverSeed<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for RecoverSeed<T> {
    type Value = Option<T>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Option<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut m: A) -> Result<Option<T>, A::Error> {
                m.next_key::<de::IgnoredAny>()?;
                match m.next_value::<T>() {
                    Ok(v) => Ok(Some(v)),
                    Err(e) if e.to_string() == RECORDED => Ok(None),
                    Err(e) => Err(e),
                }
            }
        }
        d.deserialize_struct(RECOVER, &[], V(std::marker::PhantomData))
    }
}

/// `deserialize_with` for a field whose bad value should be recorded, not
/// stop the document: the field then takes its default.
pub fn recover<'de, D: de::Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    RecoverSeed(std::marker::PhantomData).deserialize(d).map(Option::unwrap_or_default)
}

/// `deserialize_with` for a list whose bad items should each be recorded;
/// the good items are kept.
pub fn recover_each<'de, D: de::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list")
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut s: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = s.next_element_seed(RecoverSeed::<T>(std::marker::PhantomData))? {
                out.extend(item);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(V(std::marker::PhantomData))
}

/// A value with the position it was written at, for checks that run after
/// deserialization (references, duplicates). Serializes and describes itself
/// in JSON Schema exactly as `T` does.
#[derive(Clone, Default)]
pub struct Spanned<T> {
    pub span: Span,
    pub value: T,
}

impl<T> Spanned<T> {
    pub fn new(span: Span, value: T) -> Self {
        Self { span, value }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: fmt::Debug> fmt::Debug for Spanned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    /// Positions do not take part: the same value written elsewhere is equal.
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Spanned<T> {}

impl<T: Serialize> Serialize for Spanned<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Spanned<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut m: A) -> Result<Spanned<T>, A::Error> {
                let (_, line) = m.next_entry::<de::IgnoredAny, u32>()?.ok_or_else(|| de::Error::custom("no line"))?;
                let (_, column) =
                    m.next_entry::<de::IgnoredAny, u32>()?.ok_or_else(|| de::Error::custom("no column"))?;
                let (_, value) = m.next_entry::<de::IgnoredAny, T>()?.ok_or_else(|| de::Error::custom("no value"))?;
                Ok(Spanned { span: Span::new(line, column), value })
            }
        }
        d.deserialize_struct(SPANNED, SPANNED_FIELDS, V(std::marker::PhantomData))
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(g)
    }
}

/// A whole JSON number that fits `T`: JSON Schema's `integer`, so `90` and
/// `90.0` alike (serde's integers take only the first).
pub fn whole<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<u64>,
{
    use serde::de::Error;
    let Some(n) = <Option<serde_json::Number> as serde::Deserialize>::deserialize(d)? else { return Ok(None) };
    let whole =
        n.as_u64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e19).map(|f| f as u64));
    let value = whole.ok_or_else(|| D::Error::custom(format!("{n} is not a whole number from 0 up")))?;
    T::try_from(value).map(Some).map_err(|_| D::Error::custom(format!("{n} is too large")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Inner {
        cron: Spanned<String>,
        max_turns: Option<u32>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        name: String,
        spec: Inner,
        #[serde(default)]
        tags: Vec<String>,
        mode: Option<Mode>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Recovering {
        #[serde(default, deserialize_with = "recover")]
        mode: Option<Mode>,
        #[serde(default, deserialize_with = "recover_each")]
        limits: Vec<u8>,
        #[serde(default, deserialize_with = "recover")]
        inner: Option<Inner>,
    }

    #[test]
    fn recoverable_fields_report_every_bad_value() {
        let (v, errs) = de::<Recovering>("mode: sideways\nlimits: [1, 300, x, 4]\ninner: {cron: [], maxTurns: -1}\n");
        let v = v.expect("a value despite the errors");
        assert_eq!(v.mode, None);
        assert_eq!(v.limits, vec![1, 4]);
        let got: Vec<(Option<Span>, &str)> = errs.iter().map(|e| (e.span, e.message.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (Some(Span::new(1, 7)), "unknown value \"sideways\""),
                (Some(Span::new(2, 13)), "the number 300 is not allowed here: expected a whole number (0 or more)"),
                (Some(Span::new(2, 18)), "expected a whole number (0 or more), found the string \"x\""),
                (Some(Span::new(3, 15)), "expected a string, found a list"),
            ]
        );
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "kebab-case")]
    enum Mode {
        ReadOnly,
        ReadWrite,
    }

    fn de<T: DeserializeOwned>(text: &str) -> (Option<T>, Vec<DeError>) {
        let f = yaml::parse(text);
        from_node(f.documents[0].root.as_ref().unwrap())
    }

    #[test]
    fn spanned_values_know_where_they_were_written() {
        let (v, errs) = de::<Outer>("name: a\nspec:\n  cron: \"0 2 * * *\"\n");
        assert!(errs.is_empty(), "{errs:?}");
        let v = v.unwrap();
        assert_eq!(v.spec.cron.value, "0 2 * * *");
        assert_eq!(v.spec.cron.span, Span::new(3, 9));
    }

    #[test]
    fn every_unknown_field_is_reported_with_a_suggestion() {
        let (v, errs) = de::<Outer>("name: a\nnmae: b\nspec:\n  cron: x\n  maxTurn: 3\n");
        assert!(v.is_some());
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].span, Some(Span::new(2, 1)));
        assert_eq!(errs[0].message, "unknown field \"nmae\"");
        assert_eq!(errs[0].hint.as_deref(), Some("did you mean \"name\"?"));
        assert_eq!(errs[1].span, Some(Span::new(5, 3)));
        assert_eq!(errs[1].hint.as_deref(), Some("did you mean \"maxTurns\"?"));
    }

    #[test]
    fn wrong_types_are_reported_at_the_value() {
        let (v, errs) = de::<Outer>("name: a\nspec:\n  cron: x\n  maxTurns: many\n");
        assert!(v.is_none());
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].span, Some(Span::new(4, 13)));
        assert_eq!(errs[0].message, "expected a whole number (0 or more), found the string \"many\"");
    }

    #[test]
    fn missing_fields_are_reported_at_the_parent_key() {
        let (_, errs) = de::<Outer>("name: a\nspec:\n  maxTurns: 3\n");
        assert_eq!(errs[0].span, Some(Span::new(2, 1)));
        assert_eq!(errs[0].message, "missing required field \"cron\"");
    }

    #[test]
    fn unknown_enum_values_get_a_suggestion() {
        let (_, errs) = de::<Outer>("name: a\nspec: {cron: x}\nmode: read-onyl\n");
        assert_eq!(errs[0].span, Some(Span::new(3, 7)));
        assert_eq!(errs[0].message, "unknown value \"read-onyl\"");
        assert_eq!(errs[0].hint.as_deref(), Some("did you mean \"read-only\"?"));
    }

    #[test]
    fn list_items_are_located() {
        let (_, errs) = de::<Outer>("name: a\nspec: {cron: x}\ntags:\n  - ok\n  - [nested]\n");
        assert_eq!(errs[0].span, Some(Span::new(5, 5)));
        assert_eq!(errs[0].message, "expected a string, found a list");
    }

    #[test]
    fn json_documents_deserialize_with_the_same_rules() {
        let v: Outer = from_json(&serde_json::json!({"name": "a", "spec": {"cron": "x", "maxTurns": 2}})).unwrap();
        assert_eq!(v.spec.max_turns, Some(2));
        let errs =
            from_json::<Outer>(&serde_json::json!({"name": "a", "spec": {"cron": "x"}, "extra": 1})).unwrap_err();
        assert_eq!(errs[0].message, "unknown field \"extra\"");
    }
}
