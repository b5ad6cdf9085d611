//! Scalar types of the config language, parsed once when a document is read:
//! names, durations, cron expressions, time zones, CEL conditions, secret
//! references, priorities. Each rejects bad input with a message and a hint,
//! serializes back to what the user wrote, and describes itself (with
//! examples) in the generated JSON Schemas.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::de::hinted;
use crate::diagnostic::did_you_mean;

/// Deserializes a type from a string through its `FromStr`, whose error is
/// `(message, hint)`, and serializes it back through `Display`.
macro_rules! string_type {
    ($ty:ty, $expecting:literal) => {
        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl ::serde::de::Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: ::serde::de::Error>(self, s: &str) -> Result<$ty, E> {
                        s.parse::<$ty>().map_err(|(m, h): (String, String)| $crate::de::hinted(m, h))
                    }
                }
                d.deserialize_str(V)
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}
pub(crate) use string_type;

type ParseError = (String, String);

// ---------------------------------------------------------------- Name

/// An object name: a DNS label, unique per kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

impl Name {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

pub const NAME_PATTERN: &str = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";

impl FromStr for Name {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let b = s.as_bytes();
        let ok_char = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-';
        let valid = !b.is_empty() && b.len() <= 63 && b.iter().all(ok_char) && b[0] != b'-' && b[b.len() - 1] != b'-';
        if valid {
            return Ok(Name(s.to_string()));
        }
        let suggested: String = s
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
            .trim_matches('-')
            .chars()
            .take(63)
            .collect();
        let hint = if suggested.is_empty() || suggested == s {
            "use 1 to 63 lowercase letters, digits and '-', starting and ending with a letter or digit".to_string()
        } else {
            format!("names are lowercase letters, digits and '-' (at most 63): try {suggested:?}")
        };
        Err((format!("{s:?} is not a valid name"), hint))
    }
}

string_type!(Name, "a name (lowercase letters, digits and '-')");

impl JsonSchema for Name {
    fn schema_name() -> Cow<'static, str> {
        "Name".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": NAME_PATTERN,
            "description": "A name: 1 to 63 lowercase letters, digits and '-', starting and ending with a letter or digit.",
            "examples": ["zfs-health", "nas"]
        })
    }
}

// ---------------------------------------------------------------- Duration

/// A duration written as numbers with units: `500ms`, `30s`, `10m`, `6h`, `7d`, `1h30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(std::time::Duration);

pub const DURATION_PATTERN: &str = "^([0-9]+(ms|s|m|h|d))+$";

impl Duration {
    pub const fn from_secs(s: u64) -> Self {
        Duration(std::time::Duration::from_secs(s))
    }
    pub fn get(self) -> std::time::Duration {
        self.0
    }
}

impl FromStr for Duration {
    type Err = ParseError;
    /// `humantime` (a maintained crate) reads it, once its characters show
    /// it uses only our units (humantime also takes `min`, `week`, spaces…,
    /// which the schema's pattern refuses; from digits and `m s h d` it
    /// makes exactly our units).
    fn from_str(s: &str) -> Result<Self, ParseError> {
        // humantime reads a bare "0" as no time; we want a unit after every number.
        let ours = s.starts_with(|c: char| c.is_ascii_digit())
            && s.ends_with(|c: char| c.is_ascii_alphabetic())
            && s.bytes().all(|b| b.is_ascii_digit() || b"mshd".contains(&b));
        match ours.then(|| humantime::parse_duration(s)) {
            Some(Ok(d)) => Ok(Duration(d)),
            _ => Err((
                format!("{s:?} is not a duration"),
                "write a number and a unit (ms, s, m, h, d), e.g. 30s, 10m, 6h or 1h30m".to_string(),
            )),
        }
    }
}

impl fmt::Display for Duration {
    /// The shortest way to write it with our units: `90s` is `1m30s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        let mut rest = ms;
        for (unit, size) in [("d", 86_400_000u128), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

string_type!(Duration, "a duration such as 30s, 10m or 6h");

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "A duration: numbers with units ms, s, m, h, d.",
            "examples": ["30s", "10m", "6h", "1h30m"]
        })
    }
}

// ---------------------------------------------------------------- Cron

/// A cron expression with 5 fields (minute hour day-of-month month weekday)
/// or 6 (seconds first), or a nickname such as `@daily`. Parsed by `croner`,
/// a maintained crate that follows Vixie cron and handles time zones and DST.
#[derive(Debug, Clone)]
pub struct CronExpr {
    source: String,
    cron: croner::Cron,
}

impl CronExpr {
    pub fn cron(&self) -> &croner::Cron {
        &self.cron
    }
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl PartialEq for CronExpr {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl FromStr for CronExpr {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        use croner::parser::{CronParser, Seconds, Year};
        let fields = s.split_whitespace().count();
        let nickname = s.trim_start().starts_with('@');
        if !(nickname || fields == 5 || fields == 6) {
            return Err((
                format!("cron expression {s:?} has {fields} fields"),
                "write 5 fields (minute hour day month weekday), e.g. \"0 2 * * *\" for 02:00 daily, or 6 with seconds first".into(),
            ));
        }
        let parser = CronParser::builder().seconds(Seconds::Optional).year(Year::Disallowed).build();
        match parser.parse(s) {
            Ok(cron) => Ok(CronExpr { source: s.to_string(), cron }),
            Err(e) => Err((
                format!("invalid cron expression {s:?}: {e}"),
                "fields are minute (0-59) hour (0-23) day (1-31) month (1-12) weekday (0-7); e.g. \"*/15 * * * *\""
                    .into(),
            )),
        }
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

string_type!(CronExpr, "a cron expression such as \"0 2 * * *\"");

impl JsonSchema for CronExpr {
    fn schema_name() -> Cow<'static, str> {
        "Cron".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^\\s*(@[a-z]+|\\S+(\\s+\\S+){4,5})\\s*$",
            "description": "A cron expression: 5 fields (minute hour day-of-month month weekday), 6 with seconds first, or @hourly/@daily/@weekly/@monthly.",
            "examples": ["0 2 * * *", "*/15 * * * *", "@daily"]
        })
    }
}

// ---------------------------------------------------------------- Time zone

/// An IANA time zone name such as `Europe/Berlin` (from `chrono-tz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(pub chrono_tz::Tz);

impl Default for TimeZone {
    fn default() -> Self {
        TimeZone(chrono_tz::Tz::UTC)
    }
}

impl FromStr for TimeZone {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        s.parse::<chrono_tz::Tz>().map(TimeZone).map_err(|_| {
            let names = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
            let hint = match did_you_mean(s, names) {
                Some(c) => format!("did you mean {c:?}?"),
                None => "use an IANA name such as \"UTC\", \"Europe/Berlin\" or \"America/New_York\"".into(),
            };
            (format!("unknown time zone {s:?}"), hint)
        })
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

string_type!(TimeZone, "an IANA time zone such as \"Europe/Berlin\"");

impl JsonSchema for TimeZone {
    fn schema_name() -> Cow<'static, str> {
        "TimeZone".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "An IANA time zone name. Daylight-saving changes are handled.",
            "examples": ["UTC", "Europe/Berlin", "America/New_York"]
        })
    }
}

// ---------------------------------------------------------------- Condition

/// A CEL expression (Common Expression Language), parsed with the maintained
/// `cel` crate. Which variables it may use depends on where it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    source: String,
    variables: Vec<String>,
}

impl Condition {
    pub fn as_str(&self) -> &str {
        &self.source
    }
    /// The top-level variables the expression refers to, sorted.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    /// Evaluates the condition with `vars` (name and JSON value, e.g.
    /// `("payload", &body)`) bound as CEL variables. An evaluation that
    /// fails (a field the value lacks, a type mismatch) or gives something
    /// other than true or false is an `Err` saying why: callers decide what
    /// that means (a webhook trigger treats it as false).
    pub fn eval_bool(&self, vars: &[(&str, &serde_json::Value)]) -> Result<bool, String> {
        // Compiled again each time: it parsed when the document was read, and
        // a program is neither `Clone` nor comparable, which `Condition` is.
        let program = cel::Program::compile(&self.source).map_err(|e| format!("it does not parse: {e}"))?;
        let mut context = cel::Context::default();
        for (name, value) in vars {
            let value = cel::to_value(value).map_err(|e| format!("{name} cannot be given to CEL: {e}"))?;
            context.add_variable_from_value(*name, value);
        }
        match program.execute(&context) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            // The type, not the value: a condition's result is no place to echo a request.
            Ok(other) => Err(format!("it gives a {}, not true or false", other.type_of())),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The variables `e` reads from outside, leaving out those its macros bind
/// (`a` in `payload.alerts.exists(a, a.status == "firing")`); the `cel`
/// crate's own `references()` counts those too.
fn free_variables(e: &cel::IdedExpr, bound: &mut Vec<String>, out: &mut std::collections::BTreeSet<String>) {
    use cel::common::ast::{EntryExpr, Expr};
    let entries = |entries: &[cel::common::ast::IdedEntryExpr],
                   bound: &mut Vec<String>,
                   out: &mut std::collections::BTreeSet<String>| {
        for entry in entries {
            match &entry.expr {
                EntryExpr::StructField(f) => free_variables(&f.value, bound, out),
                EntryExpr::MapEntry(m) => {
                    free_variables(&m.key, bound, out);
                    free_variables(&m.value, bound, out);
                }
            }
        }
    };
    match &e.expr {
        Expr::Ident(name) if !name.starts_with('@') && !bound.contains(name) => {
            out.insert(name.clone());
        }
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                free_variables(target, bound, out);
            }
            for arg in &call.args {
                free_variables(arg, bound, out);
            }
        }
        Expr::Comprehension(c) => {
            free_variables(&c.iter_range, bound, out);
            free_variables(&c.accu_init, bound, out);
            let outer = bound.len();
            bound.extend([c.iter_var.clone(), c.accu_var.clone()]);
            bound.extend(c.iter_var2.clone());
            for part in [&c.loop_cond, &c.loop_step, &c.result] {
                free_variables(part, bound, out);
            }
            bound.truncate(outer);
        }
        Expr::List(list) => {
            for element in &list.elements {
                free_variables(element, bound, out);
            }
        }
        Expr::Map(map) => entries(&map.entries, bound, out),
        Expr::Struct(s) => entries(&s.entries, bound, out),
        Expr::Select(select) => free_variables(&select.operand, bound, out),
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

impl FromStr for Condition {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        match cel::Program::compile(s) {
            Ok(p) => {
                let mut free = std::collections::BTreeSet::new();
                free_variables(p.expression(), &mut Vec::new(), &mut free);
                Ok(Condition { source: s.to_string(), variables: free.into_iter().collect() })
            }
            Err(errors) => {
                let first = errors.errors.first();
                // The parser lists every token it would have accepted; the
                // position and the found token are what help.
                let msg = first.map_or_else(
                    || "syntax error".to_string(),
                    |e| e.msg.split(" expecting ").next().unwrap_or(&e.msg).to_string(),
                );
                let col = first.map(|e| e.pos.1 + 1).filter(|c| *c > 0);
                Err((
                    match col {
                        Some(c) => format!("invalid CEL condition {s:?}: {msg} (at character {c})"),
                        None => format!("invalid CEL condition {s:?}: {msg}"),
                    },
                    "conditions are CEL expressions, e.g. payload.alert == \"critical\"; quote the whole value in YAML"
                        .into(),
                ))
            }
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

string_type!(Condition, "a CEL expression");

impl JsonSchema for Condition {
    fn schema_name() -> Cow<'static, str> {
        "Condition".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "minLength": 1,
            "description": "A CEL (Common Expression Language) expression that must evaluate to true.",
            "examples": ["payload.alert == \"critical\"", "run.report.degraded == true"]
        })
    }
}

// ---------------------------------------------------------------- Secrets

/// Where a secret comes from. Secrets never live in git: `{env: NAME}` reads
/// the server's environment, `{secret: NAME}` the server's encrypted store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretRef {
    Env(String),
    Secret(String),
}

impl SecretRef {
    pub fn name(&self) -> &str {
        match self {
            SecretRef::Env(n) | SecretRef::Secret(n) => n,
        }
    }
}

fn plain_secret_error<E: de::Error>() -> E {
    hinted(
        "secrets must not be written into git as plain text",
        "write {env: NAME} to read it from the server's environment, or {secret: NAME} for a secret stored on the server",
    )
}

fn secret_name<E: de::Error>(kind: &str, name: &str) -> Result<String, E> {
    let ok = kind == "secret" && Name::from_str(name).is_ok()
        || kind == "env"
            && name.bytes().next().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
            && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
    if ok {
        Ok(name.to_string())
    } else if kind == "env" {
        Err(hinted(
            format!("{name:?} is not an environment variable name"),
            "use letters, digits and '_', e.g. GOTIFY_TOKEN",
        ))
    } else {
        Err(hinted(format!("{name:?} is not a secret name"), "secret names are lowercase letters, digits and '-'"))
    }
}

struct SecretVisitor;

impl<'de> Visitor<'de> for SecretVisitor {
    type Value = SecretRef;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a secret reference {env: NAME} or {secret: NAME}")
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<SecretRef, E> {
        Err(plain_secret_error())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<SecretRef, E> {
        Err(plain_secret_error())
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut m: A) -> Result<SecretRef, A::Error> {
        let Some(kind) = m.next_key::<String>()? else {
            return Err(hinted("empty secret reference", "write {env: NAME} or {secret: NAME}"));
        };
        let name: String = m.next_value()?;
        let r = match kind.as_str() {
            "env" => SecretRef::Env(secret_name("env", &name)?),
            "secret" => SecretRef::Secret(secret_name("secret", &name)?),
            other => {
                let hint = match did_you_mean(other, ["env", "secret"]) {
                    Some(c) => format!("did you mean {c:?}?"),
                    None => "write {env: NAME} or {secret: NAME}".into(),
                };
                return Err(hinted(format!("unknown secret source {other:?}"), hint));
            }
        };
        if m.next_key::<String>()?.is_some() {
            return Err(hinted("a secret reference names one source", "write either {env: NAME} or {secret: NAME}"));
        }
        Ok(r)
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SecretVisitor)
    }
}

impl JsonSchema for SecretRef {
    fn schema_name() -> Cow<'static, str> {
        "SecretRef".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A secret, never written into git: {env: NAME} reads the server's environment variable NAME; {secret: NAME} reads the server's encrypted secret store.",
            "oneOf": [
                {
                    "type": "object",
                    "properties": {"env": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "description": "Name of an environment variable of car-server.", "examples": ["GOTIFY_TOKEN"]}},
                    "required": ["env"],
                    "additionalProperties": false
                },
                {
                    "type": "object",
                    "properties": {"secret": {"type": "string", "pattern": NAME_PATTERN, "description": "Name of a secret stored on the server.", "examples": ["gotify-token"]}},
                    "required": ["secret"],
                    "additionalProperties": false
                }
            ],
            "examples": [{"env": "GOTIFY_TOKEN"}, {"secret": "nas-runner-token"}]
        })
    }
}

/// A value that is either plain text or a secret reference (HTTP headers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum TextOrSecret {
    Text(String),
    Secret(SecretRef),
}

impl<'de> Deserialize<'de> for TextOrSecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TextOrSecret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("text or a secret reference {env: NAME}")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<TextOrSecret, E> {
                Ok(TextOrSecret::Text(s.to_string()))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, m: A) -> Result<TextOrSecret, A::Error> {
                SecretVisitor.visit_map(m).map(TextOrSecret::Secret)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for TextOrSecret {
    fn schema_name() -> Cow<'static, str> {
        "TextOrSecret".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Plain text, or a secret reference for values that must not live in git.",
            "anyOf": [{"type": "string"}, g.subschema_for::<SecretRef>()],
            "examples": ["application/json", {"env": "HOOK_TOKEN"}]
        })
    }
}

// ---------------------------------------------------------------- Priority

/// How loudly a notification arrives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Silent (Gotify priority 0).
    Min,
    /// Quiet (Gotify 2).
    Low,
    /// With sound (Gotify 5).
    #[default]
    Normal,
    /// Pops up (Gotify 8).
    High,
    /// Highest (Gotify 10).
    Critical,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_with_our_units() {
        let d = |s: &str| s.parse::<Duration>().map(|d| d.get().as_millis());
        assert_eq!(d("500ms"), Ok(500));
        assert_eq!(d("10m"), Ok(600_000));
        assert_eq!(d("1h30m"), Ok(5_400_000));
        assert_eq!(d("7d"), Ok(604_800_000));
        for bad in
            ["", "10", "m", "6 h", "1.5h", "10min", "-1s", "99999999999999999999d", "1w", "5sm", "3dh", "1s5", "0"]
        {
            assert!(bad.parse::<Duration>().is_err(), "{bad} should be refused");
        }
        assert_eq!("90s".parse::<Duration>().unwrap().to_string(), "1m30s");
    }

    #[test]
    fn cron_takes_five_or_six_fields_and_nicknames() {
        assert!("0 2 * * *".parse::<CronExpr>().is_ok());
        assert!("*/10 0 2 * * *".parse::<CronExpr>().is_ok());
        assert!("@daily".parse::<CronExpr>().is_ok());
        let (m, _) = "0 2 * *".parse::<CronExpr>().unwrap_err();
        assert_eq!(m, "cron expression \"0 2 * *\" has 4 fields");
        assert!("0 25 * * *".parse::<CronExpr>().is_err());
        assert!("0 2 * * * * 2030".parse::<CronExpr>().is_err());
    }

    #[test]
    fn time_zones_suggest_the_closest_name() {
        assert!("Europe/Berlin".parse::<TimeZone>().is_ok());
        let (m, h) = "Europe/Berln".parse::<TimeZone>().unwrap_err();
        assert_eq!(m, "unknown time zone \"Europe/Berln\"");
        assert_eq!(h, "did you mean \"Europe/Berlin\"?");
    }

    #[test]
    fn conditions_are_cel_and_know_their_variables() {
        let c: Condition = "payload.alert == \"critical\" && size(payload.hosts) > 0".parse().unwrap();
        assert_eq!(c.variables(), ["payload"]);
        let (m, _) = "payload.alert ==".parse::<Condition>().unwrap_err();
        assert!(m.starts_with("invalid CEL condition"), "{m}");
    }

    #[test]
    fn a_macros_own_variable_is_not_a_variable_of_the_condition() {
        let c: Condition =
            r#"payload.alerts.exists(a, a.labels.severity == "critical") && size(headers) > 0"#.parse().unwrap();
        assert_eq!(c.variables(), ["headers", "payload"]);
        let c: Condition = "payload.alerts.all(a, a.status == x)".parse().unwrap();
        assert_eq!(c.variables(), ["payload", "x"], "a free variable inside the macro still counts");
        let body =
            serde_json::json!({"alerts": [{"labels": {"severity": "warning"}}, {"labels": {"severity": "critical"}}]});
        let c: Condition = r#"payload.alerts.exists(a, a.labels.severity == "critical")"#.parse().unwrap();
        assert_eq!(c.eval_bool(&[("payload", &body)]), Ok(true));
    }

    #[test]
    fn conditions_evaluate_on_json_variables() {
        let eval =
            |c: &str, payload: serde_json::Value| c.parse::<Condition>().unwrap().eval_bool(&[("payload", &payload)]);
        // Alertmanager, Uptime Kuma (a JSON 0 compares equal to CEL's 0), Grafana.
        let alert = serde_json::json!({"status": "firing", "commonLabels": {"severity": "critical"}});
        let rule = r#"payload.status == "firing" && payload.commonLabels.severity == "critical""#;
        assert_eq!(eval(rule, alert), Ok(true));
        assert_eq!(eval(rule, serde_json::json!({"status": "resolved", "commonLabels": {}})), Ok(false));
        assert_eq!(eval("payload.heartbeat.status == 0", serde_json::json!({"heartbeat": {"status": 0}})), Ok(true));
        assert_eq!(eval("payload.heartbeat.status == 0", serde_json::json!({"heartbeat": {"status": 1}})), Ok(false));
        assert_eq!(
            eval(
                "payload.score > 2.5 && size(payload.hosts) == 2",
                serde_json::json!({"score": 3.1, "hosts": ["a", "b"]})
            ),
            Ok(true)
        );
        assert_eq!(eval(r#""db" in payload.tags"#, serde_json::json!({"tags": ["web", "db"]})), Ok(true));
        assert_eq!(eval("payload.gone == null", serde_json::json!({"gone": null})), Ok(true));
        // A field the payload lacks is an error that names it; `has()` tests for one.
        let missing = eval(rule, serde_json::json!({"status": "firing"})).unwrap_err();
        assert!(missing.contains("commonLabels"), "{missing}");
        assert_eq!(
            eval("has(payload.commonLabels) && payload.commonLabels.severity == 'x'", serde_json::json!({})),
            Ok(false)
        );
        // Something other than a bool is an error, not false.
        let not_bool = eval("payload.status", serde_json::json!({"status": "firing"})).unwrap_err();
        assert!(not_bool.contains("not true or false"), "{not_bool}");
        // Several variables; a header map from strings to strings.
        let c: Condition = r#"headers["x-source"] == "grafana" && payload.state == "alerting""#.parse().unwrap();
        let headers = serde_json::json!({"x-source": "grafana"});
        let payload = serde_json::json!({"state": "alerting"});
        assert_eq!(c.eval_bool(&[("payload", &payload), ("headers", &headers)]), Ok(true));
        let unbound = c.eval_bool(&[("payload", &payload)]).unwrap_err();
        assert!(unbound.contains("headers"), "{unbound}");
    }

    #[test]
    fn names_are_dns_labels() {
        assert!("zfs-health".parse::<Name>().is_ok());
        let (m, h) = "ZFS_Health".parse::<Name>().unwrap_err();
        assert_eq!(m, "\"ZFS_Health\" is not a valid name");
        assert!(h.contains("\"zfs-health\""), "{h}");
        assert!("-a".parse::<Name>().is_err());
        assert!("a".repeat(64).parse::<Name>().is_err());
    }
}
