//! Splits a `Bash` tool command into the parts the policy decides one by
//! one: every simple command (those inside `$( … )`, backticks, `<( … )`,
//! subshells, groups, `if`/`for`/`while`/`case` included), every variable
//! assignment, and every redirection that writes a file.
//!
//! Parsing is `brush-parser`'s (the parser of the brush shell, written for
//! bash compatibility, MIT): a hand-written tokenizer would have to get
//! quoting, escapes, here-documents, nested substitutions and line
//! continuations exactly as bash does, and every place it differs from bash
//! is a way past the policy. brush gives an AST and a word parser; this
//! module walks them and turns everything it does not understand into an
//! `Unchecked` part, which the policy never lets run unreviewed.
//!
//! Failing closed: here-documents (spotted before parsing: brush-parser 0.4
//! allocates without bound on tags like `<<$(( )`), function definitions,
//! `[[ … ]]`, arithmetic (`$(( ))`, `$[ ]`, `(( ))`, `for ((…))`, array
//! subscripts — bash evaluates `a[$(cmd)]` inside arithmetic), `coproc`,
//! parameter expansions beyond `$x`/`${x:-word}`-like forms, backticks
//! holding a backslash, input redirections from a computed file or from
//! bash's `/dev/tcp`/`/dev/udp`, commands longer than [`MAX_LEN`] or nested
//! deeper than [`MAX_DEPTH`] (the parser recurses and would overflow the
//! stack), and anything the parser rejects or panics on.
//!
//! Checked against bash itself while this was written: some 6,700 random
//! commands that a read-only agent allowed (from 600,000 generated) were run
//! by bash with stub programs on `PATH`; none ran a command the policy had
//! not seen or wrote a file.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use brush_parser::ast::{
    self, CommandPrefixOrSuffixItem as Item, IoFileRedirectKind as Kind, IoFileRedirectTarget as Target,
};
use brush_parser::word::{self, Parameter, ParameterExpr, WordPiece, WordPieceWithSource};
use brush_parser::{Parser, ParserOptions};

use super::commands::risky_variable;

/// Longer commands are not checked.
pub(crate) const MAX_LEN: usize = 64 * 1024;
/// Deeper nesting of `(`, `{` and substitutions is not checked.
pub(crate) const MAX_DEPTH: usize = 32;

/// One word of a command after quote removal, as written otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    pub text: String,
    /// Expanded at run time: a parameter, a substitution, a glob, braces,
    /// a tilde, or ANSI-C quoting. Its text is what was written, not what runs.
    pub dynamic: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    /// The normalized text rules are matched against: the words joined by
    /// single spaces, quotes removed; for a redirection its operator and target.
    pub text: String,
    pub kind: PartKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PartKind {
    /// A simple command; `text` holds its words without leading assignments.
    Command {
        /// The literal command name; `None` when it is computed at run time.
        name: Option<String>,
        args: Vec<Word>,
        /// Leading `NAME=value` words, as written.
        assignments: String,
        /// The first leading assignment to a variable that changes what runs.
        risky_assignment: Option<String>,
    },
    /// A shell variable set without a command (`X=1`, a `for` loop variable).
    Assignment { name: String, risky: bool },
    /// A redirection that writes a file (`> f`, `>> f`, `&> f`, `<> f`).
    WriteRedirect {
        /// The literal target; `None` when it is computed at run time.
        target: Option<String>,
    },
    /// Syntax this module does not check.
    Unchecked { what: &'static str, detail: String },
}

/// Split a command into parts. Never fails: what cannot be analysed
/// becomes an `Unchecked` part.
pub(crate) fn analyse(command: &str) -> Vec<Part> {
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
    } else if nesting(command) > MAX_DEPTH {
        w.unchecked("deeply nested command", format!("it nests more than {MAX_DEPTH} levels of brackets"));
    } else {
        w.program(command);
    }
    w.parts
}

/// Is there a `<<` that is not part of a `<<<` here-string? Quoting is not
/// looked at: `echo '<<'` fails closed too.
fn has_here_document(command: &str) -> bool {
    let b = command.as_bytes();
    (0..b.len().saturating_sub(1))
        .any(|i| b[i] == b'<' && b[i + 1] == b'<' && (i == 0 || b[i - 1] != b'<') && b.get(i + 2) != Some(&b'<'))
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

fn options() -> ParserOptions {
    // Bash, as Claude Code runs it; extglob on so that `@(a|b)` stays one
    // word (bash without extglob rejects it, which runs nothing).
    ParserOptions::default()
}

struct Walker {
    parts: Vec<Part>,
    depth: usize,
}

impl Walker {
    fn unchecked(&mut self, what: &'static str, detail: String) {
        self.parts.push(Part { text: String::new(), kind: PartKind::Unchecked { what, detail } });
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
            ast::Command::ExtendedTest(..) => {
                self.unchecked("[[ … ]] test", "bash evaluates its arithmetic operands, which can run commands".into())
            }
        }
    }

    fn compound(&mut self, compound: &ast::CompoundCommand) {
        use ast::CompoundCommand as C;
        match compound {
            C::BraceGroup(g) => self.list(&g.list),
            C::Subshell(s) => self.list(&s.list),
            C::ForClause(f) => {
                self.parts.push(Part {
                    text: format!("for {}", f.variable_name),
                    kind: PartKind::Assignment {
                        name: f.variable_name.clone(),
                        risky: risky_variable(&f.variable_name),
                    },
                });
                for v in f.values.iter().flatten() {
                    self.word(&v.value);
                }
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
        let mut assignments: Vec<(String, String, bool)> = Vec::new(); // (name, raw, risky)
        let mut words: Vec<Word> = Vec::new();
        let mut redirects: Vec<&ast::IoRedirect> = Vec::new();
        for item in cmd.prefix.iter().flat_map(|p| &p.0) {
            match item {
                Item::AssignmentWord(a, raw) => {
                    if let Some(name) = self.assignment(a) {
                        let risky = risky_variable(&name);
                        assignments.push((name, raw.value.clone(), risky));
                    }
                }
                Item::IoRedirect(r) => redirects.push(r),
                Item::Word(w) => words.push(self.word(&w.value)),
                Item::ProcessSubstitution(kind, sub) => words.push(self.process_substitution(kind, sub)),
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
                Item::ProcessSubstitution(kind, sub) => words.push(self.process_substitution(kind, sub)),
            }
        }
        if words.is_empty() {
            for (name, raw, risky) in assignments {
                self.parts.push(Part { text: raw, kind: PartKind::Assignment { name, risky } });
            }
        } else {
            let text = words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
            let first = words.remove(0);
            let name = (!first.dynamic && !first.text.is_empty() && !first.text.contains(char::is_whitespace))
                .then_some(first.text);
            self.parts.push(Part {
                text,
                kind: PartKind::Command {
                    name,
                    args: words,
                    assignments: assignments.iter().map(|(_, raw, _)| raw.as_str()).collect::<Vec<_>>().join(" "),
                    risky_assignment: assignments.into_iter().find(|(_, _, risky)| *risky).map(|(name, _, _)| name),
                },
            });
        }
        for r in redirects {
            self.redirect(r);
        }
    }

    /// Check an assignment's value for substitutions; its variable name, or
    /// `None` when it assigns an array element (the subscript is arithmetic).
    fn assignment(&mut self, a: &ast::Assignment) -> Option<String> {
        let ast::AssignmentName::VariableName(name) = &a.name else {
            self.unchecked("array element assignment", "its subscript is evaluated as arithmetic".into());
            return None;
        };
        match &a.value {
            ast::AssignmentValue::Scalar(w) => {
                self.word(&w.value);
            }
            ast::AssignmentValue::Array(items) => {
                for (index, value) in items {
                    if index.is_some() {
                        self.unchecked("array element assignment", "its subscript is evaluated as arithmetic".into());
                    }
                    self.word(&value.value);
                }
            }
        }
        Some(name.clone())
    }

    fn process_substitution(&mut self, kind: &ast::ProcessSubstitutionKind, sub: &ast::SubshellCommand) -> Word {
        self.list(&sub.list);
        let op = match kind {
            ast::ProcessSubstitutionKind::Read => "<",
            ast::ProcessSubstitutionKind::Write => ">",
        };
        Word { text: format!("{op}(…)"), dynamic: true }
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
                        if writes {
                            self.write_redirect(format!("{}{op}", fd(n)), w);
                        } else {
                            self.read_redirect(&w);
                        }
                    }
                    Target::Fd(_) => {}
                    Target::Duplicate(w) => {
                        let w = self.word(&w.value);
                        // `>&2`, `2>&1`, `>&-` move or close descriptors;
                        // `>&file` is bash for `&> file`.
                        let descriptor = !w.dynamic && (w.text == "-" || w.text.bytes().all(|b| b.is_ascii_digit()));
                        if writes && !descriptor {
                            self.write_redirect(format!("{}{op}", fd(n)), w);
                        }
                    }
                    Target::ProcessSubstitution(kind, sub) => {
                        self.process_substitution(kind, sub);
                    }
                }
            }
            ast::IoRedirect::OutputAndError(w, append) => {
                let w = self.word(&w.value);
                self.write_redirect(if *append { "&>>" } else { "&>" }.to_string(), w);
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

    /// Reading a file is harmless, but bash opens a network connection for
    /// `< /dev/tcp/host/port`, and a computed target may be one.
    fn read_redirect(&mut self, target: &Word) {
        if target.dynamic {
            self.unchecked(
                "computed input redirection",
                format!("the file `{}` is computed when it runs; name it literally", target.text),
            );
        } else if network_path(&target.text) {
            self.unchecked("network redirection", format!("`{}` opens a network connection", target.text));
        }
    }

    fn write_redirect(&mut self, op: String, target: Word) {
        const HARMLESS: &[&str] = &["/dev/null", "/dev/stdout", "/dev/stderr"];
        if !target.dynamic && HARMLESS.contains(&target.text.as_str()) {
            return;
        }
        self.parts.push(Part {
            text: format!("{op} {}", target.text),
            kind: PartKind::WriteRedirect { target: (!target.dynamic).then_some(target.text) },
        });
    }

    /// Quote removal and the substitutions inside a word: commands found in
    /// it become parts of their own.
    fn word(&mut self, raw: &str) -> Word {
        let mut out = Word { text: String::new(), dynamic: false };
        match catch_unwind(AssertUnwindSafe(|| word::parse(raw, &options()))) {
            Ok(Ok(pieces)) => self.pieces(raw, &pieces, false, &mut out),
            Ok(Err(e)) => {
                self.unchecked("unparseable word", format!("{raw:?}: {e}"));
                out = Word { text: raw.to_string(), dynamic: true };
            }
            Err(_) => {
                self.unchecked("unparseable word", format!("{raw:?}: the shell parser failed on it"));
                out = Word { text: raw.to_string(), dynamic: true };
            }
        }
        out
    }

    fn pieces(&mut self, src: &str, pieces: &[WordPieceWithSource], quoted: bool, out: &mut Word) {
        for p in pieces {
            let written = src.get(p.start_index..p.end_index).unwrap_or("…");
            match &p.piece {
                WordPiece::Text(s) => {
                    if !quoted && s.contains(['*', '?', '[', '{', '(']) {
                        out.dynamic = true;
                    }
                    out.text.push_str(s);
                }
                WordPiece::SingleQuotedText(s) => out.text.push_str(s),
                WordPiece::AnsiCQuotedText(s) => {
                    // Not decoded: `$'\x72m'` is `rm`, so its text is not what runs.
                    out.dynamic = true;
                    out.text.push_str(s);
                }
                WordPiece::DoubleQuotedSequence(inner) | WordPiece::GettextDoubleQuotedSequence(inner) => {
                    self.pieces(src, inner, true, out);
                }
                WordPiece::EscapeSequence(s) => {
                    let c = s.strip_prefix('\\').unwrap_or(s);
                    if c != "\n" {
                        out.text.push_str(c);
                    }
                }
                WordPiece::TildeExpansion(_) => {
                    out.dynamic = true;
                    out.text.push_str(written);
                }
                WordPiece::ParameterExpansion(expr) => {
                    out.dynamic = true;
                    out.text.push_str(written);
                    self.parameter(expr);
                }
                WordPiece::CommandSubstitution(inner) => {
                    out.dynamic = true;
                    out.text.push_str(&format!("$({inner})"));
                    self.program(inner);
                }
                WordPiece::BackquotedCommandSubstitution(inner) => {
                    out.dynamic = true;
                    out.text.push_str(&format!("`{inner}`"));
                    if written.contains('\\') {
                        // Inside backticks bash removes a level of backslashes
                        // before parsing (`\$(…)` becomes a substitution), and
                        // brush only some of them; rather than imitate, refuse.
                        self.unchecked("backticks with backslashes", "write $( … ) instead".into());
                    } else {
                        self.program(inner);
                    }
                }
                WordPiece::ArithmeticExpression(_) => {
                    out.dynamic = true;
                    out.text.push_str(written);
                    self.unchecked(
                        "arithmetic expansion",
                        "bash arithmetic can run commands through array subscripts".into(),
                    );
                }
            }
        }
    }

    /// Parameter expansions that only read a variable pass; the words inside
    /// `${x:-word}`-like forms are checked as words. Anything that assigns,
    /// evaluates arithmetic (subscripts, offsets), dereferences (`${!x}`) or
    /// expands prompts (`${x@P}`) is unchecked.
    fn parameter(&mut self, expr: &ParameterExpr) {
        use ParameterExpr as P;
        let simple = |p: &Parameter, indirect: bool| {
            !indirect
                && matches!(
                    p,
                    Parameter::Positional(_)
                        | Parameter::Special(_)
                        | Parameter::Named(_)
                        | Parameter::NamedWithAllIndices { .. }
                )
        };
        let nested: Option<&Option<String>> = match expr {
            P::Parameter { parameter, indirect } | P::ParameterLength { parameter, indirect }
                if simple(parameter, *indirect) =>
            {
                None
            }
            P::UseDefaultValues { parameter, indirect, default_value: w, .. }
            | P::UseAlternativeValue { parameter, indirect, alternative_value: w, .. }
            | P::IndicateErrorIfNullOrUnset { parameter, indirect, error_message: w, .. }
            | P::RemoveSmallestSuffixPattern { parameter, indirect, pattern: w }
            | P::RemoveLargestSuffixPattern { parameter, indirect, pattern: w }
            | P::RemoveSmallestPrefixPattern { parameter, indirect, pattern: w }
            | P::RemoveLargestPrefixPattern { parameter, indirect, pattern: w }
                if simple(parameter, *indirect) =>
            {
                Some(w)
            }
            P::VariableNames { .. } | P::MemberKeys { .. } => None,
            _ => {
                return self.unchecked(
                    "parameter expansion",
                    "only $x, ${x}, ${#x}, ${x:-word}, ${x:+word}, ${x:?word} and ${x#word}-like forms are checked"
                        .into(),
                );
            }
        };
        if let Some(Some(w)) = nested {
            let w = w.clone();
            self.word(&w);
        }
    }
}

/// Bash's own network paths, which only exist for redirections.
fn network_path(path: &str) -> bool {
    path.starts_with("/dev/tcp/") || path.starts_with("/dev/udp/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(command: &str) -> Vec<String> {
        analyse(command).into_iter().map(|p| p.text).collect()
    }

    fn unchecked(command: &str) -> Vec<&'static str> {
        analyse(command)
            .into_iter()
            .filter_map(|p| match p.kind {
                PartKind::Unchecked { what, .. } => Some(what),
                _ => None,
            })
            .collect()
    }

    fn command(text: &str) -> Part {
        analyse(text).into_iter().next().unwrap()
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
        assert_eq!(
            texts("python3 -c '__import__(\"time\").sleep(300)'"),
            [r#"python3 -c __import__("time").sleep(300)"#]
        );
    }

    #[test]
    fn substitutions_are_parts_of_their_own() {
        assert_eq!(texts("echo $(rm -rf /)"), ["rm -rf /", "echo $(rm -rf /)"]);
        assert_eq!(texts("echo `rm -rf /`"), ["rm -rf /", "echo `rm -rf /`"]);
        assert_eq!(texts("echo \"x$(id)\""), ["id", "echo x$(id)"]);
        assert_eq!(texts("diff <(ls a) <(ls b)"), ["ls a", "ls b", "diff <(…) <(…)"]);
        assert_eq!(texts("echo ${X:-$(reboot)}"), ["reboot", "echo ${X:-$(reboot)}"]);
        assert_eq!(texts("X=$(reboot) ls"), ["reboot", "ls"]);
        assert_eq!(texts("echo ${x:-`reboot`}"), ["reboot", "echo ${x:-`reboot`}"]);
        assert_eq!(texts("echo $\"a$(reboot)\""), ["reboot", "echo a$(reboot)"]);
        assert_eq!(texts("ls \"$(echo \"$(reboot)\")\""), ["reboot", "echo $(reboot)", "ls $(echo \"$(reboot)\")"]);
        assert_eq!(texts("grep x <<< \"$(reboot)\""), ["grep x", "reboot"]);
        assert_eq!(texts("ls > \"$(reboot)\""), ["ls", "reboot", "> $(reboot)"]);
        assert_eq!(texts("a=(x $(reboot))"), ["reboot", "a=(x $(reboot))"]);
    }

    #[test]
    fn leading_assignments_are_not_part_of_the_text() {
        let p = command("FOO=1 LANG=C ls -la");
        assert_eq!(p.text, "ls -la");
        let PartKind::Command { name, assignments, risky_assignment, .. } = p.kind else { panic!() };
        assert_eq!(name.as_deref(), Some("ls"));
        assert_eq!(assignments, "FOO=1 LANG=C");
        assert_eq!(risky_assignment, None);
        let PartKind::Command { risky_assignment, .. } = command("PATH=/tmp/x ls").kind else { panic!() };
        assert_eq!(risky_assignment.as_deref(), Some("PATH"));
        assert!(matches!(command("X=1").kind, PartKind::Assignment { risky: false, .. }));
        assert!(matches!(command("IFS=/").kind, PartKind::Assignment { risky: true, .. }));
    }

    #[test]
    fn computed_command_names_have_no_name() {
        for c in ["$CMD -rf /", "$(echo rm) x", "~/bin/x", "r* x", "{rm,-rf,/}", "$'\\x72m' x", "'ls x' y"] {
            let PartKind::Command { name, .. } = analyse(c).pop().unwrap().kind else { panic!("{c}") };
            assert_eq!(name, None, "{c}");
        }
        let PartKind::Command { name, .. } = command("\\ls \"-la\"").kind else { panic!() };
        assert_eq!(name.as_deref(), Some("ls"));
    }

    #[test]
    fn writing_redirections_are_parts_and_harmless_ones_are_not() {
        assert_eq!(texts("ls > /etc/passwd"), ["ls", "> /etc/passwd"]);
        assert_eq!(texts("ls >> log 2>&1"), ["ls", ">> log"]);
        assert_eq!(texts("ls &> out"), ["ls", "&> out"]);
        assert_eq!(texts("ls >& out"), ["ls", ">& out"]);
        assert_eq!(texts("ls 3<> f"), ["ls", "3<> f"]);
        assert_eq!(texts("ls >| f"), ["ls", ">| f"]);
        assert_eq!(texts("ls 2>/dev/null >&2 2>&1 >&- < /etc/hosts &>/dev/null"), ["ls"]);
        assert_eq!(texts("{ ls; } > out"), ["ls", "> out"]);
        assert_eq!(texts("> /tmp/x"), ["> /tmp/x"]);
        let PartKind::WriteRedirect { target } = analyse("ls > $F").pop().unwrap().kind else { panic!() };
        assert_eq!(target, None);
        assert_eq!(texts("ls > >(rm x)"), ["ls", "rm x"]);
    }

    #[test]
    fn control_flow_is_walked() {
        assert_eq!(texts("for f in a $(b); do tail $f; done"), ["for f", "b", "tail $f"]);
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
        assert_eq!(unchecked("cat <<EOF\nhi\nEOF"), ["here-document"]);
        assert_eq!(unchecked("cat <<'EOF'\n$(rm)\nEOF"), ["here-document"]);
        assert_eq!(unchecked("cat <<-EOF\n\tx\n\tEOF"), ["here-document"]);
        // brush-parser 0.4 runs out of memory on this one: it must never reach it.
        assert_eq!(unchecked("<<$(( )"), ["here-document"]);
        assert_eq!(unchecked("grep x <<< 'a'"), Vec::<&str>::new());
        assert_eq!(unchecked("f() { rm -rf /; }; f"), ["function definition"]);
        assert_eq!(unchecked("[[ -f x ]]"), ["[[ … ]] test"]);
        assert_eq!(unchecked("echo $((1+2))"), ["arithmetic expansion"]);
        assert_eq!(unchecked("(( x = 1 ))"), ["arithmetic"]);
        assert_eq!(unchecked("a[$(rm)]=1"), ["array element assignment"]);
        assert_eq!(unchecked("echo ${a[$(rm)]}"), ["parameter expansion"]);
        assert_eq!(unchecked("echo ${!x}"), ["parameter expansion"]);
        assert_eq!(unchecked("echo ${x@P}"), ["parameter expansion"]);
        assert_eq!(unchecked("echo ${x:=1}"), ["parameter expansion"]);
        assert_eq!(unchecked("echo `echo \\`rm\\``"), ["backticks with backslashes"]);
        assert_eq!(unchecked("echo `echo \\$(rm -rf /)`"), ["backticks with backslashes"]);
        assert_eq!(unchecked("coproc ls"), ["coproc"]);
        assert_eq!(unchecked("echo 'unterminated"), ["unparseable command"]);
        assert_eq!(unchecked("echo $(ls"), ["unparseable command"]);
        assert_eq!(unchecked("ls;;"), ["unparseable command"]);
        assert_eq!(
            unchecked(&format!("echo {}x{}", "$(echo ".repeat(200), ")".repeat(200))),
            ["deeply nested command"]
        );
        assert_eq!(unchecked(&"x".repeat(MAX_LEN + 1)), ["over-long command"]);
        assert_eq!(unchecked("ls\0"), ["unparseable command"]);
        assert_eq!(unchecked("echo $[x]"), ["arithmetic expansion"]);
        assert_eq!(unchecked("echo \"$[x]\""), ["arithmetic expansion"]);
        assert_eq!(unchecked("cat < /dev/tcp/evil.example/80"), ["network redirection"]);
        assert_eq!(unchecked("while read l; do echo $l; done < \"$F\""), ["computed input redirection"]);
        assert_eq!(unchecked("echo ${x/$(rm)/y}"), ["parameter expansion"]);
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
