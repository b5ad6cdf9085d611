//! One word of a command as bash will pass it to the program, as far as it
//! can be known before the command runs: quotes removed, `$'…'` decoded,
//! and for a word with an expansion in it, what is fixed (its literal
//! prefix) and what is not.

/// A word after quote removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word as the program gets it when it is literal; otherwise the
    /// literal parts decoded and the expansions as written (`/var/log/$f`).
    pub text: String,
    /// How many leading bytes of `text` are fixed before the first
    /// expansion: all of it for a literal word.
    pub literal: usize,
    /// Bash may turn it into several words, or none: an unquoted parameter
    /// or command substitution is split on spaces and globbed.
    pub splits: bool,
    /// It may reach the program starting with `-`, that is as an option.
    pub may_be_option: bool,
}

impl Word {
    /// A word that is exactly `text`.
    pub fn literal(text: impl Into<String>) -> Word {
        let text = text.into();
        Word { literal: text.len(), splits: false, may_be_option: text.starts_with('-'), text }
    }

    /// Is this word known before the command runs?
    pub fn is_literal(&self) -> bool {
        self.literal == self.text.len()
    }

    /// What is fixed of it: everything before the first expansion.
    pub fn prefix(&self) -> &str {
        &self.text[..self.literal]
    }
}

/// Builds a word piece by piece, as the walker meets quoted and unquoted text.
#[derive(Debug, Default)]
pub(crate) struct WordBuilder {
    text: String,
    /// Where the first expansion started, if any.
    dynamic_from: Option<usize>,
    splits: bool,
    /// Starts with a tilde expansion: a home directory, never an option.
    tilde: bool,
}

impl WordBuilder {
    /// Literal text (quoted, escaped, or plain text bash does not expand).
    pub fn push_literal(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// Text bash expands when the command runs, as written. `splits`: it
    /// is unquoted, so bash splits and globs its value.
    pub fn push_dynamic(&mut self, written: &str, splits: bool) {
        self.dynamic_from.get_or_insert(self.text.len());
        self.splits |= splits;
        self.text.push_str(written);
    }

    /// A tilde expansion (`~`, `~user`): a home directory.
    pub fn push_tilde(&mut self, written: &str) {
        if self.text.is_empty() {
            self.tilde = true;
        }
        self.push_dynamic(written, false);
    }

    pub fn finish(self) -> Word {
        let literal = self.dynamic_from.unwrap_or(self.text.len());
        let prefix = &self.text[..literal];
        let may_be_option = if literal == self.text.len() {
            self.text.starts_with('-')
        } else if self.tilde {
            false
        } else {
            // Split pieces after the first can be anything; otherwise only an
            // empty or dash prefix can become an option.
            self.splits || prefix.is_empty() || prefix.starts_with('-')
        };
        Word { text: self.text, literal, splits: self.splits, may_be_option }
    }
}

/// Why an ANSI-C quoted string (`$'…'`) is not decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undecodable(pub String);

/// Decodes the inside of `$'…'` as bash does: `\n`, `\t`, `\e`, `\xHH`,
/// `\NNN` (octal), `\cX`, `\uHHHH`, … A NUL (which ends the string in
/// bash) and characters beyond ASCII from `\u`, `\U` and octal or hex
/// escapes above 0x7f (which depend on the locale) are not decoded.
pub fn decode_ansi_c(raw: &str) -> Result<String, Undecodable> {
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    let byte = |v: u32, out: &mut String| -> Result<(), Undecodable> {
        match v {
            0 => Err(Undecodable("it holds a NUL, where bash ends the string".into())),
            1..=0x7f => {
                out.push(char::from(v as u8));
                Ok(())
            }
            _ => Err(Undecodable("it encodes a byte beyond ASCII, which depends on the locale".into())),
        }
    };
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            out.push('\\');
            break;
        };
        match e {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'e' | 'E' => out.push('\x1b'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '\\' | '\'' | '"' | '?' => out.push(e),
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|c| c.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            chars.next();
                        }
                        None => break,
                    }
                }
                byte(v, &mut out)?;
            }
            'x' | 'u' | 'U' => {
                let max = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let mut v = 0u32;
                let mut n = 0;
                while n < max {
                    match chars.peek().and_then(|c| c.to_digit(16)) {
                        Some(d) => {
                            v = v.saturating_mul(16).saturating_add(d);
                            chars.next();
                            n += 1;
                        }
                        None => break,
                    }
                }
                if n == 0 {
                    // `\x` with no digits stays as written.
                    out.push('\\');
                    out.push(e);
                } else {
                    byte(v, &mut out)?;
                }
            }
            'c' => match chars.next() {
                // `\c\\` is one control backslash, the escaped pair taken whole.
                Some('\\') => {
                    if chars.peek() == Some(&'\\') {
                        chars.next();
                    }
                    byte(0x1c, &mut out)?
                }
                Some('?') => byte(0x7f, &mut out)?,
                Some(x) if x.is_ascii() => byte(u32::from(x as u8 & 0x1f), &mut out)?,
                _ => return Err(Undecodable("`\\c` is not followed by an ASCII character".into())),
            },
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

/// Does this unquoted text hold a brace expansion (`{a,b}`, `{1..3}`)?
/// `{}` and `{{.Names}}` do not expand; a `{` whose matching `}` encloses
/// an unquoted comma or `..` does.
pub(crate) fn has_brace_expansion(unquoted: &str) -> bool {
    let b = unquoted.as_bytes();
    let mut open: Vec<usize> = Vec::new();
    for (i, c) in b.iter().enumerate() {
        match c {
            b'{' => open.push(i),
            b'}' => {
                if let Some(start) = open.pop() {
                    let inner = &unquoted[start + 1..i];
                    if inner.contains(',') || inner.contains("..") {
                        return true;
                    }
                }
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_c_strings_decode_as_bash_does() {
        assert_eq!(decode_ansi_c(r"\x72m").unwrap(), "rm");
        assert_eq!(decode_ansi_c(r"\162\155").unwrap(), "rm");
        assert_eq!(decode_ansi_c(r"\u0072\U0000006d").unwrap(), "rm");
        assert_eq!(decode_ansi_c(r"a\tb\n\'\\").unwrap(), "a\tb\n'\\");
        assert_eq!(decode_ansi_c(r"\cA").unwrap(), "\x01");
        // As bash 5.2 has it: `\c?` is DEL, and `\c\\` takes both backslashes.
        assert_eq!(decode_ansi_c(r"\c?").unwrap(), "\x7f");
        assert_eq!(decode_ansi_c(r"\c\\x").unwrap(), "\x1cx");
        assert_eq!(decode_ansi_c(r"\c\x").unwrap(), "\x1cx");
        assert_eq!(decode_ansi_c(r"\c\\\\").unwrap(), "\x1c\\");
        assert_eq!(decode_ansi_c(r"\q\x").unwrap(), r"\q\x");
        assert!(decode_ansi_c(r"a\0b").is_err());
        assert!(decode_ansi_c(r"\x00").is_err());
        assert!(decode_ansi_c(r"\u00e9").is_err());
        assert!(decode_ansi_c(r"\377").is_err());
    }

    #[test]
    fn brace_expansion_is_told_from_literal_braces() {
        assert!(has_brace_expansion("{rm,-rf,/}"));
        assert!(has_brace_expansion("/tmp/{a,b}"));
        assert!(has_brace_expansion("x{1..3}"));
        assert!(has_brace_expansion("{a,{b}}"));
        assert!(!has_brace_expansion("{}"));
        assert!(!has_brace_expansion("{{.Names}}"));
        assert!(!has_brace_expansion("a}b{c,d"));
    }

    #[test]
    fn a_word_may_be_an_option_only_where_a_dash_can_land_first() {
        let w = |parts: &[(&str, bool, bool)]| {
            let mut b = WordBuilder::default();
            for (s, dynamic, splits) in parts {
                if *dynamic { b.push_dynamic(s, *splits) } else { b.push_literal(s) }
            }
            b.finish()
        };
        assert!(w(&[("-x", false, false)]).may_be_option);
        assert!(!w(&[("/var/", false, false), ("$f", true, false)]).may_be_option);
        // Unquoted: `$f` may split into `x -delete`.
        assert!(w(&[("/var/", false, false), ("$f", true, true)]).may_be_option);
        assert!(w(&[("$f", true, false)]).may_be_option);
        let mut t = WordBuilder::default();
        t.push_tilde("~");
        t.push_literal("/x");
        let t = t.finish();
        assert!(!t.may_be_option && !t.is_literal() && t.prefix().is_empty());
    }
}
