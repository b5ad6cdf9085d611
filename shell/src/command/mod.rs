//! Which simple commands only read: a command is looked through its
//! wrappers (`timeout 5 …`, `env X=1 …`, `xargs …`, `sudo …`) to the program
//! that runs, whose words are then read against that program's description
//! in [`table`]: its reading subcommands, its reading options (short ones
//! bundled as getopt does, long ones only in full: `--rot` might be
//! `--rotate`), and what its operands are. Every word that the description
//! does not account for is a [`Culprit`]; a command with none only reads.
//!
//! The descriptions are allow-lists: an option nobody wrote down is not a
//! read, whatever it does. A program missing from the table is not a read.

mod custom;
pub(crate) mod spec;
mod table;
mod wrappers;

use std::sync::LazyLock;

pub use spec::Access;
use spec::{Arg, Level, Operands, Program, Table};

use crate::env;
use crate::script::Command;
use crate::word::Word;

static TABLE: LazyLock<Table> = LazyLock::new(table::programs);

/// What a simple command does, as far as its words tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Classified {
    /// Where the program that runs starts among the command's words (after
    /// `timeout 5`, `sudo`, …).
    pub start: usize,
    /// The program's name as the table knows it, when literal.
    pub program: Option<String>,
    /// The program's words with its aliases resolved and its path dropped
    /// (`/usr/bin/docker container rm -f x` → `docker rm -f x`).
    pub canonical: Vec<String>,
    /// Why it is not only a read; empty when it only reads.
    pub culprits: Vec<Culprit>,
    /// Files it reads the content of.
    pub reads: Vec<PathUse>,
    /// It reads without an allow rule naming it (`ls`, `cat`, …).
    pub basic: bool,
    /// The table describes the program (else nothing is known of what it does).
    pub known: bool,
    /// It changes the shell's directory, so relative paths after it are unknown.
    pub changes_dir: bool,
}

impl Classified {
    pub fn only_reads(&self) -> bool {
        self.culprits.is_empty()
    }
}

/// A word (or setting) that keeps a command from being a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Culprit {
    /// The command's word it is about; `None` for a variable set for the
    /// command, or arguments `xargs` adds.
    pub word: Option<usize>,
    /// The word is the program or its subcommand: what follows are its
    /// arguments, not further culprits.
    pub action: bool,
    /// One sentence: `stop` is not a reading subcommand of systemctl.
    pub why: String,
    /// It runs shell code the analysis does not see (`eval`, `sh -c`,
    /// `find -exec`, awk's `system`) or changes how later commands are read
    /// (`alias`, `hash -p`): no deny rule could see past it, so no allow rule
    /// may vouch for it either.
    pub opaque: bool,
}

/// A path a command reads the content of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathUse {
    /// The path; for a computed one, its fixed prefix is all that is known.
    pub path: Word,
    /// `Content` (one file) or `Tree` (every file below).
    pub access: Access,
}

/// A program's words and what parsing them found.
pub(crate) struct Parsed<'a> {
    /// The program's words (aliases resolved), the program first.
    pub words: &'a [Word],
    /// Options seen: canonical name and value.
    pub opts: &'a [(&'static str, Option<Word>)],
    /// Indices (in `words`) of the operands.
    pub operands: &'a [usize],
}

impl Parsed<'_> {
    pub fn has(&self, name: &str) -> bool {
        self.opts.iter().any(|(n, _)| *n == name)
    }

    pub fn operand(&self, i: usize) -> Option<&Word> {
        self.operands.get(i).map(|&k| &self.words[k])
    }

    /// The value of option `name` (canonical spelling), if given with one.
    pub fn value(&self, name: &str) -> Option<&Word> {
        self.opts.iter().find(|(n, _)| *n == name).and_then(|(_, v)| v.as_ref())
    }
}

/// A parse in progress: [`Parsed`] plus what the walk collected.
struct Parse<'w> {
    /// The program and subcommands read so far: `docker image`.
    name: String,
    words: &'w [Word],
    opts: Vec<(&'static str, Option<Word>)>,
    operands: Vec<usize>,
    /// Paths option values read.
    reads: Vec<PathUse>,
    checks: Vec<spec::Check>,
    operand_kind: Operands,
}

impl<'w> Parse<'w> {
    fn parsed(&self) -> Parsed<'_> {
        Parsed { words: self.words, opts: &self.opts, operands: &self.operands }
    }

    fn has(&self, name: &str) -> bool {
        self.opts.iter().any(|(n, _)| *n == name)
    }
}

/// Classifies one simple command.
pub fn classify(cmd: &Command) -> Classified {
    let mut c = Classifier { out: Classified::default(), origin: Vec::new() };
    c.run(cmd);
    c.out
}

struct Classifier {
    out: Classified,
    /// For each canonical word, the index of the command's word it came from.
    origin: Vec<Option<usize>>,
}

/// The directories a program may be named from and still be itself.
const BIN_DIRS: &[&str] = &["/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"];

/// The program a command word names: `ls`, or `/usr/bin/ls`; `None` for a
/// computed word or a path elsewhere (`./ls`, `/tmp/x/ls`).
pub fn program_name(word: &Word) -> Option<&str> {
    if !word.is_literal() || word.text.is_empty() {
        return None;
    }
    match word.text.rsplit_once('/') {
        None => Some(&word.text),
        Some((dir, name)) if BIN_DIRS.contains(&dir) && !name.is_empty() => Some(name),
        Some(_) => None,
    }
}

impl Classifier {
    fn culprit(&mut self, word: Option<usize>, action: bool, why: String) {
        self.out.culprits.push(Culprit { word, action, why, opaque: false });
    }

    fn run(&mut self, cmd: &Command) {
        for a in &cmd.env {
            if let Err(why) = env::for_command(&a.name, &a.value) {
                self.culprit(None, false, why);
            }
        }
        let words = &cmd.words;
        self.origin = (0..words.len()).map(Some).collect();
        // Through the wrappers to the program.
        let mut start = 0;
        let mut xargs: Option<Option<String>> = None;
        while let Some(name) = words.get(start).and_then(program_name)
            && let Some(wrapper) = wrappers::get(name)
        {
            let Some(parsed) = self.parse(name, &wrapper.level, &[], words, start + 1) else { return };
            if wrapper.prints_with.iter().any(|o| parsed.has(o)) {
                self.out.start = words.len();
                self.out.basic = true;
                return;
            }
            let mut operands = parsed.operands.iter().copied();
            let inner = match wrapper.inner {
                wrappers::Inner::First => operands.next(),
                wrappers::Inner::Second => operands.nth(1),
                wrappers::Inner::Xargs => {
                    let replace = parsed.opts.iter().find(|(n, _)| *n == "-I").and_then(|(_, v)| v.clone());
                    xargs = Some(replace.map(|w| w.text));
                    operands.next()
                }
                wrappers::Inner::AfterAssignments => {
                    let mut inner = None;
                    for k in operands {
                        match words[k].text.split_once('=') {
                            Some((var, _)) if !var.is_empty() && !var.starts_with('-') => {
                                let value = Word::literal(&words[k].text[var.len() + 1..]);
                                if !words[k].is_literal() {
                                    self.culprit(
                                        Some(k),
                                        false,
                                        format!("`{}` is computed when it runs", words[k].text),
                                    );
                                } else if let Err(why) = env::for_command(var, &value) {
                                    self.culprit(Some(k), false, why);
                                }
                            }
                            _ => {
                                inner = Some(k);
                                break;
                            }
                        }
                    }
                    inner
                }
            };
            // `env -C DIR` runs the program elsewhere.
            self.out.changes_dir |= parsed.has("-C");
            self.out.reads.extend(parsed.reads);
            match inner {
                Some(k) => start = k,
                // `xargs` alone runs echo; the others alone print or do nothing.
                None if xargs.is_some() => return self.program("echo", words, words.len(), xargs),
                None => {
                    self.out.start = words.len();
                    self.out.basic = true;
                    return;
                }
            }
        }
        self.out.start = start;
        let Some(first) = words.get(start) else { return };
        let Some(name) = program_name(first) else {
            let why = if first.is_literal() {
                format!(
                    "`{}` is a program outside the system's bin folders; the policy cannot tell what it does",
                    first.text
                )
            } else {
                format!("the program name `{}` is computed when it runs", first.text)
            };
            return self.culprit(Some(start), true, why);
        };
        self.program(name, words, start, xargs);
    }

    /// Judges `words[start..]` as program `name` (`start == words.len()`:
    /// a program `xargs` runs by default). `xargs`: the arguments xargs
    /// adds, or the string it replaces with them.
    fn program(&mut self, name: &str, words: &[Word], start: usize, xargs: Option<Option<String>>) {
        self.out.start = start;
        self.out.program = Some(name.to_string());
        let mut program_words: Vec<Word> = vec![Word::literal(name)];
        program_words.extend(words.iter().skip(start + 1).cloned());
        self.origin =
            std::iter::once((start < words.len()).then_some(start)).chain((start + 1..words.len()).map(Some)).collect();
        match xargs {
            Some(Some(replace)) if !replace.is_empty() => {
                for w in program_words.iter_mut().skip(1) {
                    if let Some(at) = w.text.find(&replace) {
                        let fixed = w.literal.min(at);
                        *w = Word {
                            literal: fixed,
                            splits: w.splits,
                            may_be_option: w.may_be_option || w.text[..fixed].is_empty() || w.text.starts_with('-'),
                            text: w.text.clone(),
                        };
                    }
                }
            }
            Some(_) => {
                program_words.push(Word {
                    text: "(input of xargs)".into(),
                    literal: 0,
                    splits: true,
                    may_be_option: true,
                });
                self.origin.push(None);
            }
            None => {}
        }
        let Some(program) = TABLE.get(name) else {
            self.out.canonical = program_words.iter().map(|w| w.text.clone()).collect();
            return self.culprit(
                self.origin[0],
                true,
                format!("`{name}` is not a program the policy knows to only read"),
            );
        };
        self.out.basic = program.basic;
        self.out.known = true;
        if let Some(what) = program.changes {
            self.out.canonical = program_words.iter().map(|w| w.text.clone()).collect();
            let why = format!("`{name}` {what}");
            let word = self.origin[0];
            self.out.culprits.push(Culprit { word, action: true, why, opaque: program.opaque });
            return;
        }
        self.out.changes_dir |= matches!(name, "cd" | "pushd" | "popd");
        let program_words = self.resolve_aliases(program, program_words);
        self.out.canonical = program_words.iter().map(|w| w.text.clone()).collect();
        self.level(name, &program.root, &program_words);
    }

    /// Replaces the first alias found after the program name (`docker
    /// container rm` → `docker rm`), keeping track of where words came from.
    fn resolve_aliases(&mut self, program: &Program, mut words: Vec<Word>) -> Vec<Word> {
        for (from, to) in &program.aliases {
            let Some(at) = (1..words.len()).find(|&i| {
                words.len() >= i + from.len()
                    && from.iter().zip(&words[i..]).all(|(f, w)| w.is_literal() && w.text == *f)
            }) else {
                continue;
            };
            // Only where a subcommand can be: after the program and its global options.
            if words[1..at].iter().any(|w| !w.text.starts_with('-')) {
                continue;
            }
            let origin = self.origin[at];
            words.splice(at..at + from.len(), to.iter().map(|t| Word::literal(*t)));
            self.origin.splice(at..at + from.len(), to.iter().map(|_| origin));
            break;
        }
        words
    }

    fn at(&self, i: usize) -> Option<usize> {
        self.origin.get(i).copied().flatten()
    }

    /// Reads a program's words against its description: options,
    /// subcommands, operands, and the level's own check.
    fn level(&mut self, name: &str, level: &Level, words: &[Word]) {
        let Some(end) = self.parse(name, level, &[], words, 1) else { return };
        self.out.reads.extend(end.reads.iter().cloned());
        self.operands(&end.name, end.operand_kind, &end.parsed());
        for check in &end.checks {
            match check(&end.parsed()) {
                Ok(reads) => self.out.reads.extend(reads),
                Err(e) => {
                    let word = e.word.and_then(|k| self.at(k));
                    self.out.culprits.push(Culprit { word, action: false, why: e.why, opaque: e.opaque });
                }
            }
        }
    }

    /// Reads `words[i..]` against `level` (descending into subcommands);
    /// `outer` are levels whose options still apply. `None` when a
    /// subcommand keeps it from being a read (already a culprit).
    fn parse<'w>(
        &mut self,
        name: &str,
        level: &Level,
        outer: &[&Level],
        words: &'w [Word],
        mut i: usize,
    ) -> Option<Parse<'w>> {
        let mut active: Vec<&Level> = outer.to_vec();
        active.push(level);
        let mut parsed = Parse {
            name: name.to_string(),
            words,
            opts: Vec::new(),
            operands: Vec::new(),
            reads: Vec::new(),
            checks: Vec::new(),
            operand_kind: level.operands,
        };
        let mut options_done = false;
        let mut sub_chosen = level.subs.is_empty();
        let mut options_first = level.options_first;
        if level.raw {
            parsed.operands.extend(i..words.len());
            i = words.len();
        }
        while i < words.len() {
            let w = &words[i];
            if !options_done && w.is_literal() && w.text == "--" {
                options_done = true;
                i += 1;
                continue;
            }
            let is_option = !options_done && w.may_be_option && !(w.is_literal() && w.text == "-");
            if is_option
                && w.is_literal()
                && active.iter().any(|l| l.counts)
                && w.text[1..].bytes().all(|b| b.is_ascii_digit())
            {
                parsed.opts.push(("-NUM", Some(Word::literal(&w.text[1..]))));
                i += 1;
                continue;
            }
            if is_option {
                if !w.is_literal() {
                    if sub_chosen && active.iter().all(|l| l.closed) {
                        // Every option reads, so it is harmless as one; as an operand it counts.
                        parsed.operands.push(i);
                    } else {
                        self.culprit(
                            self.at(i),
                            false,
                            format!(
                                "`{}` is computed when it runs and could be an option of {name} that writes; write it literally",
                                w.text
                            ),
                        );
                    }
                    i += 1;
                    continue;
                }
                i = self.option(name, &active, words, i, &mut parsed);
                continue;
            }
            if !sub_chosen {
                if !w.is_literal() {
                    self.culprit(
                        self.at(i),
                        true,
                        format!("the subcommand `{}` of {name} is computed when it runs", w.text),
                    );
                    return None;
                }
                let Some((_, sub)) = level.subs.iter().find(|(s, _)| *s == w.text) else {
                    self.culprit(
                        self.at(i),
                        true,
                        format!("`{name} {}` is not a subcommand the policy knows to only read", w.text),
                    );
                    return None;
                };
                if !level.shared {
                    let mut inner = self.parse(&format!("{name} {}", w.text), sub, &[], words, i + 1)?;
                    inner.reads.extend(parsed.reads);
                    inner.checks.extend(level.check);
                    return Some(inner);
                }
                active.push(sub);
                parsed.operand_kind = sub.operands;
                options_first |= sub.options_first;
                sub_chosen = true;
                i += 1;
                continue;
            }
            parsed.operands.push(i);
            options_done |= options_first;
            i += 1;
        }
        parsed.checks.extend(active.iter().filter_map(|l| l.check));
        Some(parsed)
    }

    /// One option word at `i` (a long option, or a bundle of short ones);
    /// returns the index after it and its value.
    fn option(&mut self, name: &str, active: &[&Level], words: &[Word], i: usize, parsed: &mut Parse) -> usize {
        let text = words[i].text.as_str();
        let find = |spelling: &str| active.iter().rev().find_map(|l| l.find(spelling));
        if let Some(long) = text.strip_prefix("--") {
            let (spelling, attached) = match long.split_once('=') {
                Some((n, v)) => (&text[..2 + n.len()], Some(v)),
                None => (text, None),
            };
            let Some(opt) = find(spelling) else {
                let abbreviates =
                    active.iter().flat_map(|l| &l.opts).flat_map(|o| &o.names).any(|n| n.starts_with(spelling));
                let why = if abbreviates {
                    format!(
                        "`{spelling}` abbreviates a long option of {name}, which could be one that writes; write options in full"
                    )
                } else {
                    format!("`{spelling}` is not an option of {name} the policy knows to only read")
                };
                self.culprit(self.at(i), false, why);
                return i + 1;
            };
            return match (opt.arg, attached) {
                (Arg::None, Some(_)) => {
                    self.culprit(self.at(i), false, format!("`{spelling}` of {name} takes no value"));
                    i + 1
                }
                (Arg::None, None) | (Arg::Optional, None) => {
                    parsed.opts.push((opt.canonical(), None));
                    i + 1
                }
                (_, Some(v)) => {
                    self.value(opt, attached_word(&words[i], v), parsed);
                    i + 1
                }
                (Arg::Required, None) => self.next_value(name, opt, words, i, parsed),
            };
        }
        // A bundle of short options: `-tulpn`, `-n5`, `-o name`.
        let flags = &text[1..];
        for (j, c) in flags.char_indices() {
            let spelling = format!("-{c}");
            let Some(opt) = find(&spelling) else {
                let why = if flags.len() > 1 {
                    format!("`{spelling}` (in `{text}`) is not an option of {name} the policy knows to only read")
                } else {
                    format!("`{spelling}` is not an option of {name} the policy knows to only read")
                };
                self.culprit(self.at(i), false, why);
                return i + 1;
            };
            let rest = &flags[j + c.len_utf8()..];
            match opt.arg {
                Arg::None => parsed.opts.push((opt.canonical(), None)),
                Arg::Optional => {
                    let value = (!rest.is_empty()).then(|| attached_word(&words[i], rest));
                    match value {
                        Some(v) => self.value(opt, v, parsed),
                        None => parsed.opts.push((opt.canonical(), None)),
                    }
                    return i + 1;
                }
                Arg::Required if !rest.is_empty() => {
                    self.value(opt, attached_word(&words[i], rest), parsed);
                    return i + 1;
                }
                Arg::Required => return self.next_value(name, opt, words, i, parsed),
            }
        }
        i + 1
    }

    /// The value of option `opt` at `i` is the next word.
    fn next_value(&mut self, name: &str, opt: &spec::Opt, words: &[Word], i: usize, parsed: &mut Parse) -> usize {
        match words.get(i + 1) {
            None => {
                self.culprit(self.at(i), false, format!("`{}` of {name} needs a value", opt.canonical()));
                i + 1
            }
            // Were the description wrong about the option taking a value, the
            // program would read this word as an option.
            Some(v) if v.may_be_option => {
                self.culprit(
                    self.at(i + 1),
                    false,
                    format!(
                        "the value `{}` of `{}` looks like an option; attach it: {}=…",
                        v.text,
                        opt.canonical(),
                        opt.canonical()
                    ),
                );
                i + 2
            }
            Some(v) => {
                self.value(opt, v.clone(), parsed);
                i + 2
            }
        }
    }

    fn value(&mut self, opt: &spec::Opt, value: Word, parsed: &mut Parse) {
        if matches!(opt.value, Access::Content | Access::Tree) {
            parsed.reads.push(PathUse { path: value.clone(), access: opt.value });
        }
        parsed.opts.push((opt.canonical(), Some(value)));
    }

    fn operands(&mut self, name: &str, operands: Operands, parsed: &Parsed) {
        let (limit, access) = match operands {
            Operands::Checked => return,
            Operands::None => (0, Access::Data),
            Operands::Any(a) => (usize::MAX, a),
            Operands::AtMost(n, a) => (n, a),
        };
        for (n, &k) in parsed.operands.iter().enumerate() {
            let w = &parsed.words[k];
            if n >= limit {
                let why = if limit == 0 {
                    format!("{name} takes no operand here, and `{}` is one", w.text)
                } else {
                    format!("{name} reads at most {limit} operand(s); `{}` would be used otherwise (written)", w.text)
                };
                self.culprit(self.at(k), false, why);
                continue;
            }
            if w.splits && limit != usize::MAX {
                self.culprit(
                    self.at(k),
                    false,
                    format!("`{}` may expand to more operands than {name} only reads", w.text),
                );
            }
            if matches!(access, Access::Content | Access::Tree) {
                self.out.reads.push(PathUse { path: w.clone(), access });
            }
        }
    }
}

/// The value attached to an option word (`--lines=5`, `-n5`): literal when
/// the word is.
fn attached_word(word: &Word, value: &str) -> Word {
    if word.is_literal() {
        return Word::literal(value);
    }
    // Computed words never reach here as options; keep it conservative anyway.
    let offset = word.text.len() - value.len();
    Word {
        text: value.to_string(),
        literal: word.literal.saturating_sub(offset),
        splits: word.splits,
        may_be_option: word.may_be_option,
    }
}

#[cfg(test)]
mod tests;
