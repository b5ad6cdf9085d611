//! The analysis against bash itself. A policy decides on what
//! [`car_shell::analyse`] says a command holds; if bash then runs another
//! program, other arguments, or writes a file no redirection named, the
//! policy has judged a command that is not the one that runs. This test
//! generates thousands of commands from a grammar of the constructs where
//! a reimplementation of bash's parsing is most likely to slip (quotes of
//! every kind, `$'…'` escapes, line continuations, comments, separators,
//! compound commands, substitutions, expansions, globs, tildes,
//! assignments and redirections), and runs each one the analysis accepts
//! (no [`Part::Unchecked`]: the rest is refused anyway) the way the claude
//! CLI does, `bash -c 'eval "$CMD"'`, in a scratch directory with a `PATH`
//! of stub programs only. Each stub records its argv and which of the
//! variables the commands set it got.
//!
//! Every recorded run must be explained by a command part: its literal
//! words equal to the argv, word for word, a non-literal word standing for
//! any number of arguments, the first starting with its fixed prefix and
//! none with a `-` unless the analysis says it may be an option; and every
//! recorded variable set for it by that part (to its value, when literal). So a program bash runs must be one the analysis names (or
//! reached through a word it says is computed), and a part it says is
//! all literal must have run with exactly those words. Every file created
//! or changed must be named by a writing redirection (or one whose target
//! is computed). Parts that did not run (`&&`, `if`, `case`) are not
//! checked, and loops may run a part many times.
//!
//! The commands come from a fixed seed, so a failure reproduces; the first
//! is printed with both views, what the analysis said and what ran.
//! `CAR_SHELL_DIFF_SEED=<n>` explores other commands.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use car_shell::{Command, Part, Script, Word, analyse};

const SEED: u64 = 0x9e37_79b9_7f4a_7c15;
/// Commands the analysis accepts that are run; more are generated, since
/// some hold constructs it refuses.
const RUNNABLE: usize = 4000;
/// Bound on generation, should the grammar drift towards refused syntax.
const MAX_GENERATED: usize = 40_000;
const TIMEOUT: Duration = Duration::from_secs(5);
const BASH: &str = "/bin/bash";
/// Where a stub writes its record: one file per run, named by its pid.
const LOG_VAR: &str = "CAR_DIFF_LOG";

/// The stub programs and the status each exits with: a failing `grep` and
/// `head` make `&&`, `||`, `if` and `while` take both ways. None is a bash
/// builtin or keyword. `x=1` is a program bash runs only when the word is
/// not an assignment (`'x'=1`, `x\=1`).
const STUBS: &[(&str, u8)] = &[
    ("ls", 0),
    ("cat", 0),
    ("rm", 0),
    ("touch", 0),
    ("zpool", 0),
    ("sort", 0),
    ("find", 0),
    ("grep", 1),
    ("head", 2),
    ("x=1", 0),
];

/// The variables commands set, and stubs record when exported to them.
/// `IFS` is set too, for how it splits words, but `sh` does not take it from
/// its environment, so a stub cannot see it.
const VARIABLES: &[&str] = &["x", "y", "v", "LANG", "Z"];

/// Programs a command may name: the stubs, one that does not exist, and
/// builtins (which run but record nothing).
const PROGRAMS: &[&str] =
    &["ls", "cat", "rm", "touch", "zpool", "sort", "find", "grep", "head", "x=1", "nosuch", "true", "false", "echo"];

#[test]
fn bash_runs_what_the_analysis_says() {
    let started = Instant::now();
    let seed = std::env::var("CAR_SHELL_DIFF_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(SEED);
    let mut grammar = Gen(seed);
    let (mut generated, mut refused) = (0, 0);
    let mut runnable: Vec<(String, Script)> = Vec::new();
    while runnable.len() < RUNNABLE && generated < MAX_GENERATED {
        let command = grammar.script();
        generated += 1;
        let script = analyse(&command);
        if script.unchecked().next().is_some() {
            refused += 1;
        } else {
            runnable.push((command, script));
        }
    }
    assert_eq!(runnable.len(), RUNNABLE, "only {} of {generated} generated commands are accepted", runnable.len());

    let sandbox = Sandbox::new();
    let workers = thread::available_parallelism().map_or(2, |n| n.get() + 1).min(8);
    let results: Vec<Vec<Ran>> = thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let (sandbox, runnable) = (&sandbox, &runnable);
                s.spawn(move || {
                    (w..runnable.len())
                        .step_by(workers)
                        .map(|i| {
                            let (command, script) = &runnable[i];
                            let outcome = sandbox.run(&format!("w{w}"), command);
                            Ran { index: i, problem: sandbox.check(script, &outcome).err(), outcome }
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a worker panicked")).collect()
    });
    let mut ran: Vec<Ran> = results.into_iter().flatten().collect();
    ran.sort_by_key(|r| r.index);

    let invocations: usize = ran.iter().map(|r| r.outcome.invocations.len()).sum();
    let writes = ran.iter().filter(|r| !r.outcome.changed.is_empty()).count();
    let exact = ran
        .iter()
        .filter(|r| {
            r.outcome.invocations.iter().any(|inv| {
                commands(&runnable[r.index].1)
                    .any(|c| c.words.iter().all(Word::is_literal) && words_match(&c.words, &inv.argv))
            })
        })
        .count();
    eprintln!(
        "{generated} generated, {refused} refused by the analysis, {} run in {:.1?} on {workers} workers: \
         {invocations} stub runs, {exact} commands with an all-literal part that ran, {writes} that wrote files",
        ran.len(),
        started.elapsed()
    );
    let failures: Vec<&Ran> = ran.iter().filter(|r| r.problem.is_some()).collect();
    if let Some(first) = failures.first() {
        let (command, script) = &runnable[first.index];
        panic!(
            "{} of {} commands ran otherwise than analysed; the first:\n{}",
            failures.len(),
            ran.len(),
            report(command, script, &first.outcome, first.problem.as_deref().unwrap_or_default())
        );
    }
    // The harness must have seen something for the checks to mean anything.
    assert!(invocations >= RUNNABLE / 2, "only {invocations} stub runs");
    assert!(exact >= RUNNABLE / 4, "only {exact} commands ran an all-literal part");
    assert!(writes >= RUNNABLE / 50, "only {writes} commands wrote a file");
}

#[test]
fn the_harness_catches_a_command_run_otherwise_than_analysed() {
    let sandbox = Sandbox::new();
    let ran = |command: &str, analysed: &str| sandbox.check(&analyse(analysed), &sandbox.run("t", command));
    assert!(ran("ls -l 'a b'", "ls -l 'a b'").is_ok());
    assert!(ran("ls -l $x", "ls -l $x").is_ok());
    assert!(ran("ls ./*", "ls ./*").is_ok());
    // A word the analysis says cannot be an option became one.
    assert!(ran("ls -rf", "ls ./*").is_err());
    assert!(ran("ls > out", "ls > out").is_ok());
    assert!(ran("x=1 ls", "x=1 ls").is_ok());
    // Another argument, another program, an argument too many, a variable
    // and a file the analysis did not see.
    assert!(ran("ls -l 'a b'", "ls -l a b").is_err());
    assert!(ran("rm -rf d", "ls -rf d").is_err());
    assert!(ran("ls a b", "ls a").is_err());
    assert!(ran("x=1 ls", "ls").is_err());
    assert!(ran("ls > out", "ls").is_err());
    assert!(ran("ls > out", "ls > other").is_err());
    // A background job is waited for, however it is written.
    assert!(ran("ls >/dev/null 2>&1 &", "true").is_err());
    assert!(ran("ls >/dev/null 2>&1 \\<&", "true").is_err());
}

/// One command run: which it was, what ran, and what is wrong with it.
struct Ran {
    index: usize,
    outcome: Outcome,
    problem: Option<String>,
}

fn commands(script: &Script) -> impl Iterator<Item = &Command> {
    script.parts.iter().filter_map(|p| match p {
        Part::Command(c) => Some(c),
        _ => None,
    })
}

fn report(command: &str, script: &Script, outcome: &Outcome, problem: &str) -> String {
    let mut s = format!("command: {command:?}\nproblem: {problem}\nthe analysis:\n");
    for p in &script.parts {
        let _ = match p {
            Part::Command(c) => writeln!(
                s,
                "  command {:?}{}",
                c.words
                    .iter()
                    .map(|w| if w.is_literal() { w.text.clone() } else { format!("«{}»", w.text) })
                    .collect::<Vec<_>>(),
                c.env.iter().map(|a| format!(" with {}={:?}", a.name, a.value.text)).collect::<String>()
            ),
            Part::Redirect(r) => writeln!(s, "  redirect {} {:?} (writes: {})", r.op, r.target.text, r.writes),
            other => writeln!(s, "  {}", other.text()),
        };
    }
    s.push_str("what ran:\n");
    for inv in &outcome.invocations {
        let extra: Vec<String> = inv.env.iter().map(|(k, v)| format!("{}={}", lossy(k), lossy(v))).collect();
        let _ = writeln!(s, "  {:?} env {:?}", inv.argv.iter().map(|a| lossy(a)).collect::<Vec<_>>(), extra);
    }
    for f in &outcome.changed {
        let _ = writeln!(s, "  wrote {}", f.display());
    }
    let _ = write!(s, "bash's output:\n{}", lossy(&outcome.output));
    s
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

// ---------------------------------------------------------------------------
// The commands.

/// xorshift64*: the same commands on every run, without a dependency.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }

    fn script(&mut self) -> String {
        let mut s = String::new();
        for i in 0..1 + self.below(3) {
            if i > 0 {
                s.push_str(
                    self.pick(&["; ", ";", " && ", "&&", " || ", " | ", "|", " |& ", " & ", "&", "\n", " ;\n", "\n\n"]),
                );
            }
            s.push_str(&self.item(0));
        }
        if self.chance(15) {
            s.push_str(self.pick(&[
                ";",
                " &",
                "\n",
                " # ; rm -rf d",
                "#x\nrm c.gz",
                " \\\n",
                "\t",
                "&#x",
                ";#x",
                " |#x\nsort",
                "&&#x\nls",
            ]));
        }
        s
    }

    /// A list inside a compound command.
    fn list(&mut self, depth: usize) -> String {
        let mut s = self.item(depth);
        if self.chance(30) {
            s.push_str(self.pick(&["; ", " && ", " || ", " | ", "\n", " & "]));
            s.push_str(&self.item(depth));
        }
        s
    }

    fn item(&mut self, depth: usize) -> String {
        let d = depth + 1;
        if depth >= 2 {
            return self.simple(d);
        }
        match self.below(100) {
            0..=54 => self.simple(d),
            55..=58 => format!("! {}", self.simple(d)),
            59..=63 => {
                let n = 1 + self.below(2);
                (0..n).map(|_| self.assignment(d)).collect::<Vec<_>>().join(" ")
            }
            64..=68 => format!(
                "{}{}{}{}",
                self.pick(&["( ", "("]),
                self.list(d),
                self.pick(&[" )", ")", "\n)"]),
                self.redirects()
            ),
            69..=73 => format!("{{ {}{} }}{}", self.list(d), self.pick(&[";", "\n", " ;"]), self.redirects()),
            74..=79 => {
                let mut s = format!("if {}; then {}; ", self.list(d), self.list(d));
                if self.chance(30) {
                    s += &format!("elif {}; then {}; ", self.list(d), self.list(d));
                }
                if self.chance(50) {
                    s += &format!("else {}; ", self.list(d));
                }
                s + "fi" + &self.redirects()
            }
            80..=85 => {
                let words: Vec<String> = (0..self.below(4)).map(|_| self.word(d)).collect();
                match self.below(4) {
                    0 => format!("for v do {}; done", self.list(d)),
                    1 => format!("for v in {}\ndo\n{}\ndone", words.join(" "), self.list(d)),
                    _ => format!("for v in {}; do {}; done{}", words.join(" "), self.list(d), self.redirects()),
                }
            }
            86..=89 => {
                // Conditions that end the loop whatever the body does.
                let (keyword, condition) = if self.chance(50) {
                    ("while", self.pick(&["false", "read v", "grep q", "head", "! true", "[ -n '' ]", "test a = b"]))
                } else {
                    ("until", self.pick(&["true", "ls", "cat x", ":", "[ a = a ]", "! false"]))
                };
                // `lines` is no redirection's target: a body appending to the
                // file it reads would never end.
                let input = if keyword == "while" && condition == "read v" { self.pick(&["", " < lines"]) } else { "" };
                format!("{keyword} {condition}; do {}; done{input}", self.list(d))
            }
            90..=95 => {
                let mut s = format!("case {} in ", self.case_word(d));
                for _ in 0..1 + self.below(3) {
                    let pattern = (0..1 + self.below(2)).map(|_| self.pattern()).collect::<Vec<_>>().join("|");
                    let open = self.pick(&["", "(", " "]);
                    let end = self.pick(&[";;", ";;", ";&", ";;&"]);
                    s += &format!("{open}{pattern}) {}{end} ", self.list(d));
                }
                s + "esac"
            }
            96..=97 => format!("time {}", self.simple(d)),
            // Keywords and brackets where bash may not take them for such.
            _ => self
                .pick(&[
                    "{ls;}",
                    "{ ls;}",
                    "(ls)",
                    "! (ls)",
                    "x=1 if true; then ls; fi",
                    "ls if; then",
                    "time -p ls",
                    "ls } {",
                    "{ ls; } }",
                    "ls 2 >out",
                    "ls 2>out 3",
                    "ls>out",
                    "ls&>out",
                    "ls >&out",
                    "! ! ls",
                    "ls ! x",
                    "case a in (a) ls;; esac",
                    "for v in a\\\nb; do ls $v; done",
                    "while false\\\n; do ls; done",
                    "export x=$(ls) y=~",
                    "ls \\\\",
                    "ls \\",
                    "ls ''\\'''",
                    "ls \\\"\"'\"",
                    "ls ['-']rf",
                    "select v in a b; do ls $v; done",
                    "ls {x}>out",
                    "ls {fd}<a.txt",
                    "ls 1<&- 2>&-",
                    "ls | ! sort",
                    "x=(a b) ls",
                    "ls {$x,b}",
                ])
                .to_string(),
        }
    }

    fn case_word(&mut self, depth: usize) -> String {
        if self.chance(50) {
            self.pick(&["a", "x", "$x", "\"$x\"", "-rf", "a.txt", "'*'"]).to_string()
        } else {
            self.word(depth)
        }
    }

    fn pattern(&mut self) -> &'static str {
        self.pick(&["a", "\"a\"", "'a'", "*", "a*", "[ab]", "$x", "\"x\"", "-rf", "\"*\"", "\\*", "x", "1", "?"])
    }

    /// Redirections after a compound command.
    fn redirects(&mut self) -> String {
        if self.chance(80) { String::new() } else { format!(" {}", self.redirect()) }
    }

    fn simple(&mut self, depth: usize) -> String {
        let mut words = Vec::new();
        if self.chance(15) {
            for _ in 0..1 + self.below(2) {
                words.push(self.assignment(depth));
            }
        }
        words.push(self.program(depth));
        for _ in 0..self.below(5) {
            words.push(self.word(depth));
        }
        let redirects = match self.below(10) {
            0..=5 => 0,
            6..=8 => 1,
            _ => 2,
        };
        for _ in 0..redirects {
            let at = self.below(words.len() + 1);
            let r = self.redirect();
            words.insert(at, r);
        }
        let mut s = String::new();
        for (i, w) in words.iter().enumerate() {
            if i > 0 {
                s.push_str(self.pick(&[" ", " ", " ", " ", "  ", "\t", " \\\n", "\\\n "]));
            }
            s.push_str(w);
        }
        if self.chance(4) {
            s.push_str(self.pick(&[" # c", " #; rm d", " #`rm d`", "#x"]));
        }
        s
    }

    fn program(&mut self, depth: usize) -> String {
        let name = self.pick(PROGRAMS);
        let cut = self.below(name.len() + 1);
        match self.below(20) {
            0..=6 => name.to_string(),
            7 => format!("'{name}'"),
            8 => format!("\"{name}\""),
            9 => format!("{}'{}'", &name[..cut], &name[cut..]),
            10 => format!("{}\"{}\"", &name[..cut], &name[cut..]),
            11 => name.chars().map(|c| format!("\\{c}")).collect(),
            12 => format!("$'{}'", name.bytes().map(|b| self.ansi_escape(b)).collect::<String>()),
            13 => format!("{}$'{}'", &name[..cut], &name[cut..]),
            14 => format!("$\"{name}\""),
            15 => format!("{}\\\n{}", &name[..cut], &name[cut..]),
            16 => format!("{}{name}", self.pick(&["\"\"", "''", "$''", "$\"\""])),
            17 => self.pick(&["$x", "${x}", "\"$x\"", "$y", "$x$y"]).to_string(),
            18 if depth < 3 => format!("$(echo {name})"),
            _ => self.pick(&["x\"=1\"", "\"x=1\"", "x\\=1", "'x'=1", "x=1", "x=\"1\"", "x$'='1"]).to_string(),
        }
    }

    /// One byte inside `$'…'`, escaped one of the ways bash decodes.
    fn ansi_escape(&mut self, b: u8) -> String {
        match self.below(6) {
            0 => format!("\\x{b:02x}"),
            1 => format!("\\x{b:02X}"),
            2 => format!("\\{b:03o}"),
            3 => format!("\\u{b:04x}"),
            4 => format!("\\U{b:08x}"),
            _ if b == b'\'' || b == b'\\' => format!("\\{}", b as char),
            _ => (b as char).to_string(),
        }
    }

    /// An argument: a few pieces run together.
    fn word(&mut self, depth: usize) -> String {
        (0..1 + self.below(3)).map(|_| self.piece(depth)).collect()
    }

    fn piece(&mut self, depth: usize) -> String {
        match self.below(100) {
            0..=24 => self
                .pick(&[
                    "a", "b", "-rf", "-l", "--", "a.txt", "x.txt", "d", "a=b", "x=1", "%", "@", "+", ":", ",", "a,b",
                    "-", ".", "#", "a#b", "!", "!x", "}", "{", "{}", "]", "^", "=", "x=~", "a:~", "--o=~", "--", "if",
                    "then", "fi", "do", "done", "esac", "in", "time", "1", "2", "é", "\u{a0}", "\r", "$x[0]",
                    "${x[0]}", "x[1]=~", "[", "[-", "[a", "-]", "]rf",
                ])
                .to_string(),
            25..=33 => format!(
                "'{}'",
                self.pick(&[
                    "a b", ";rm d", "$x", "\\", "\"", "`ls`", "$(ls)", "*", "", "a\nb", "#", "|&", "\\n", "{a,b}", "~",
                    "\\\n",
                ])
            ),
            34..=45 => format!("\"{}\"", self.double_quoted(depth)),
            46..=53 => format!("$'{}'", self.ansi_c()),
            54..=56 => format!("$\"{}\"", self.double_quoted(depth)),
            57..=64 => format!(
                "\\{}",
                self.pick(&[
                    ";", "|", "&", " ", "$", "*", "#", "'", "\"", "\\", "a", "n", "<", ">", "(", ")", "{", "}", "~",
                    "\n", "\t", "!", "`", "=", "?", "[",
                ])
            ),
            65..=70 => self
                .pick(&[
                    "*",
                    "?",
                    "*.txt",
                    "[ab].txt",
                    "a*",
                    "[!a]*",
                    "[",
                    "[a",
                    "*/",
                    "d/*",
                    "?.gz",
                    "[[:alpha:]]*",
                    "[]a]*",
                    "[a-c].txt",
                    "\\[a]*",
                    "[a\\]b]*",
                    "[!]]*",
                ])
                .to_string(),
            71..=73 => self.pick(&["{a,b}", "{1..2}", "{}", "{x}", "{a,}", "{,}", "{a\\,b}", "{'a,b'}"]).to_string(),
            74..=78 => self.pick(&["~", "~/x", "~root", "~+", "~-", "~nosuchuser/x", "a=~", "=~"]).to_string(),
            79..=88 => self
                .pick(&[
                    "$x", "${x}", "${x:-y}", "${#x}", "$1", "$@", "$*", "$#", "$?", "$-", "${x[@]}", "$x$y", "$_",
                    "$0", "$", "${x}y", "${x#a}", "${!x}", "$x:", "$=", "$%",
                ])
                .to_string(),
            89..=94 if depth < 3 => {
                let inner = self.simple(depth + 1);
                match self.below(4) {
                    0 => format!("`{inner}`"),
                    1 => format!("$( {inner} )"),
                    _ => format!("$({inner})"),
                }
            }
            95..=96 => "\\\n".to_string(),
            _ => self.pick(&["$((1+1))", "<(ls)", "$[1]", "a(b)", "a)", "@(a)", "\\\\", "$'", "\"", "'"]).to_string(),
        }
    }

    fn double_quoted(&mut self, depth: usize) -> String {
        let mut s = String::new();
        for _ in 0..self.below(4) {
            let piece = match self.below(10) {
                0..=6 => self
                    .pick(&[
                        "a b",
                        ";|&",
                        "'",
                        "\\\"",
                        "\\\\",
                        "\\$",
                        "\\`",
                        "\\a",
                        "\\\n",
                        "$x",
                        "${x}",
                        "!",
                        "*",
                        "~",
                        "{a,b}",
                        "#",
                        "\n",
                        "$",
                        "${#x}",
                        "$@",
                        "$1",
                        "${x:-a b}",
                        "$'x'",
                        "\\'",
                        "-rf",
                        "$\"",
                    ])
                    .to_string(),
                7..=8 if depth < 3 => format!("$({})", self.simple(depth + 1)),
                9 if depth < 3 => format!("`{}`", self.simple(depth + 1)),
                _ => "x".to_string(),
            };
            s.push_str(&piece);
        }
        s
    }

    fn ansi_c(&mut self) -> String {
        let mut s = String::new();
        for _ in 0..1 + self.below(4) {
            match self.below(10) {
                0..=3 => {
                    // Printable ASCII or a tab or newline, in any spelling.
                    let b = match self.below(20) {
                        0 => b'\t',
                        1 => b'\n',
                        _ => 0x20 + self.below(0x5f) as u8,
                    };
                    s += &self.ansi_escape(b);
                }
                4..=5 => {
                    s += self.pick(&["\\n", "\\t", "\\e", "\\a", "\\\\", "\\'", "\\\"", "\\?", "\\cA", "\\q", "\\E"])
                }
                6..=7 => {
                    // A short escape and whatever follows it, which may or
                    // may not be a digit it takes.
                    s += self.pick(&["\\x", "\\x4", "\\u", "\\u4", "\\U6", "\\1", "\\12", "\\c"]);
                    s += self.pick(&["", "1", "7", "9", "a", "F", "g", " ", "-", "?", "\\", "\\\\", "\\x"]);
                }
                8 => s += self.pick(&["\\0", "\\xff", "\\u00e9", "\\400", "\\c@", "\\x7f", "\\177"]),
                _ => s += self.pick(&["a b", "-rf", "x", ";", "$x", "\""]),
            }
        }
        s
    }

    fn assignment(&mut self, depth: usize) -> String {
        let name = if self.chance(10) { "IFS" } else { self.pick(VARIABLES) };
        let op = if self.chance(15) { "+=" } else { "=" };
        let value = match self.below(4) {
            0 => String::new(),
            1 => self.word(depth),
            _ => self
                .pick(&[
                    "1", "'a b'", "rm", "-rf", "~/t", "a:~/t", "$y", "\"$x\"", "(a b)", "*", "$(ls)", "ls", "a\\ b",
                    ":",
                ])
                .to_string(),
        };
        format!("{name}{op}{value}")
    }

    fn redirect(&mut self) -> String {
        let target = self.pick(&[
            "out",
            "o\\ut",
            "'q f'",
            "\"d/out\"",
            "$x",
            "~/h",
            "$'o\\x41'",
            "o$'\\x41'",
            "nodir/x",
            "a.txt",
            "./out2",
            "o*",
            "\"$x\"",
            "/dev/null",
            "o\\\nut",
        ]);
        // A here-document is refused whatever it holds: seldom.
        let k = self.below(40);
        match if k < 39 { k % 13 } else { 13 } {
            0 => format!(">{target}"),
            1 => format!("> {target}"),
            2 => format!(">>{target}"),
            3 => "2>&1".to_string(),
            4 => self
                .pick(&[">/dev/null", "2>/dev/null", "&>/dev/null", ">&2", "1>&2", "<&0", ">&-", "2>&-"])
                .to_string(),
            5 => format!("<{}", self.pick(&["a.txt", "b.txt", "missing", "'a.txt'", "/dev/null"])),
            6 => format!("<<<{}", self.word(3)),
            7 => format!("2>{target}"),
            8 => format!("&>{target}"),
            9 => format!("&>>{target}"),
            10 => format!(">&{target}"),
            11 => format!("3<>{target}"),
            12 => format!(">|{target}"),
            _ => "<<E\nls\nE\n".to_string(),
        }
    }
}

// ---------------------------------------------------------------------------
// Running a command.

/// Stub programs on a `PATH` of their own, and a place for each run.
struct Sandbox {
    dir: tempfile::TempDir,
    /// Numbers each run's log directory: a stub that outlives its command
    /// cannot write into another's.
    runs: AtomicUsize,
}

/// One program a command ran: its name (for argv[0]) and arguments, and
/// which of [`VARIABLES`] it got.
#[derive(Debug, Clone)]
struct Invocation {
    argv: Vec<Vec<u8>>,
    env: BTreeMap<Vec<u8>, Vec<u8>>,
}

#[derive(Debug)]
struct Outcome {
    invocations: Vec<Invocation>,
    /// Files created, changed or removed: paths in the run's directory.
    changed: Vec<PathBuf>,
    /// The run's work directory, for redirections' relative targets.
    work: PathBuf,
    output: Vec<u8>,
}

impl Sandbox {
    fn new() -> Sandbox {
        assert!(Path::new(BASH).is_file(), "{BASH} is missing: this test compares the analysis with bash");
        let dir = tempfile::tempdir().expect("a temp dir");
        let stubs = dir.path().join("stubs");
        fs::create_dir(&stubs).unwrap();
        for (name, status) in STUBS {
            // One record per run, in a file of its own: a pipeline's stubs
            // run at once. NUL ends each field, as no argument holds one.
            let env: String = VARIABLES.iter().map(|v| format!(" ${{{v}+\"{v}=${v}\"}}")).collect();
            let script = format!(
                "#!/bin/sh\nprintf '%s\\000' \"$#\" \"${{0##*/}}\" \"$@\"{env} > \"${LOG_VAR}/$$\"\nexit {status}\n"
            );
            let path = stubs.join(name);
            fs::write(&path, script).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        Sandbox { dir, runs: AtomicUsize::new(0) }
    }

    /// Runs a command as the claude CLI does, in a directory named `name`
    /// (one per worker) set up afresh unless the last command left it as
    /// it was, and gathers what it did.
    fn run(&self, name: &str, command: &str) -> Outcome {
        let run = self.dir.path().join(name);
        let (work, home) = (run.join("work"), run.join("home"));
        let log = self.dir.path().join(format!("log{}", self.runs.fetch_add(1, Ordering::Relaxed)));
        fs::create_dir(&log).unwrap();
        if !run.exists() {
            for d in [&work, &work.join("d"), &home] {
                fs::create_dir_all(d).unwrap();
            }
            for (file, content) in
                [("a.txt", "1\n2\n"), ("lines", "1\n2\n"), ("b.txt", "b\n"), ("c.gz", ""), ("-rf", ""), ("d/x", "x")]
            {
                fs::write(work.join(file), content).unwrap();
            }
        }
        let before = snapshot(&run);

        let (mut reader, writer) = std::io::pipe().expect("a pipe");
        let mut child = {
            let mut bash = Process::new(BASH);
            bash.args(["--noprofile", "--norc", "-c", "eval \"$CMD\""])
                .env_clear()
                .env("PATH", self.dir.path().join("stubs"))
                .env("HOME", &home)
                .env("CMD", command)
                .env(LOG_VAR, &log)
                .current_dir(&work)
                .stdin(Stdio::null())
                .stdout(writer.try_clone().expect("a pipe"))
                .stderr(writer)
                .process_group(0);
            bash.spawn().unwrap_or_else(|e| panic!("cannot run {BASH}: {e}"))
        };
        // The pipe closes when bash and every background job that kept its
        // descriptors have ended.
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut output = Vec::new();
            let _ = reader.read_to_end(&mut output);
            let _ = tx.send(output);
        });
        let pgid = child.id();
        let output = match rx.recv_timeout(TIMEOUT) {
            Ok(output) => output,
            Err(_) => {
                let _ = Process::new("/bin/kill").args(["-KILL", "--", &format!("-{pgid}")]).status();
                let _ = child.wait();
                panic!("{command:?} ran longer than {TIMEOUT:?}");
            }
        };
        child.wait().expect("bash's status");
        // A background job with its output sent elsewhere holds no pipe.
        if command.contains('&') {
            wait_for_group(pgid, command);
        }

        let mut invocations = Vec::new();
        for entry in fs::read_dir(&log).unwrap() {
            let path = entry.unwrap().path();
            let record = fs::read(&path).unwrap();
            invocations.push(parse_record(&record).unwrap_or_else(|| panic!("a malformed stub record: {record:?}")));
        }
        fs::remove_dir_all(&log).unwrap();
        let after = snapshot(&run);
        let mut changed: Vec<PathBuf> =
            after.iter().filter(|(p, m)| before.get(*p) != Some(m)).map(|(p, _)| p.clone()).collect();
        changed.extend(before.keys().filter(|p| !after.contains_key(*p)).cloned());
        if !changed.is_empty() {
            fs::remove_dir_all(&run).unwrap();
        }
        Outcome { invocations, changed, work, output }
    }

    /// Is every program that ran, and every file written, explained by a
    /// part of the analysis?
    fn check(&self, script: &Script, outcome: &Outcome) -> Result<(), String> {
        // `export x=…` puts `x` in every later program's environment.
        let exported: Vec<&str> = commands(script)
            .filter(|c| c.words[0].is_literal() && c.words[0].text == "export")
            .flat_map(|c| c.words[1..].iter().map(|w| w.text.split('=').next().unwrap_or_default()))
            .collect();
        for inv in &outcome.invocations {
            if commands(script).any(|c| words_match(&c.words, &inv.argv) && env_matches(c, inv, &exported)) {
                continue;
            }
            let program = &inv.argv[0];
            let seen = commands(script).any(|c| !c.words[0].is_literal() || c.words[0].text.as_bytes() == program);
            return Err(if seen {
                format!("bash ran {} with words or variables no part has", lossy(program))
            } else {
                format!("bash ran {}, a program no part names", lossy(program))
            });
        }
        for file in &outcome.changed {
            let named = script.parts.iter().any(|p| match p {
                Part::Redirect(r) => {
                    r.writes && (!r.target.is_literal() || normalise(&outcome.work.join(&r.target.text)) == *file)
                }
                _ => false,
            });
            if !named {
                return Err(format!("bash wrote {}, which no redirection names", file.display()));
            }
        }
        Ok(())
    }
}

/// Every variable the program got is set by the part, to its value when
/// that is literal, or was exported. The analysis may claim more than a
/// program gets, the safe way: in `y=1 x=$(ls) $cmd`, `ls` sees `y` only
/// when `$cmd` is not empty.
fn env_matches(c: &Command, inv: &Invocation, exported: &[&str]) -> bool {
    inv.env.iter().all(|(k, v)| {
        exported.iter().any(|e| e.as_bytes() == k)
            || c.env.iter().any(|a| a.name.as_bytes() == k && (!a.value.is_literal() || a.value.text.as_bytes() == v))
    })
}

/// Waits until no process of the group is left but zombies.
fn wait_for_group(pgid: u32, command: &str) {
    let deadline = Instant::now() + TIMEOUT;
    while group_alive(pgid) {
        if Instant::now() > deadline {
            let _ = Process::new("/bin/kill").args(["-KILL", "--", &format!("-{pgid}")]).status();
            panic!("{command:?} left background jobs running for {TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(1));
    }
}

fn group_alive(pgid: u32) -> bool {
    let Ok(procs) = fs::read_dir("/proc") else { return false };
    procs.flatten().any(|p| {
        let Ok(stat) = fs::read_to_string(p.path().join("stat")) else { return false };
        // `pid (comm) state ppid pgrp …`; comm may hold spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else { return false };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string()
    })
}

/// `argc`, the program's name, its arguments, then `name=value` for each of
/// [`VARIABLES`] set: all ended by NUL.
fn parse_record(record: &[u8]) -> Option<Invocation> {
    let mut fields = record.split(|&b| b == 0);
    let argc: usize = std::str::from_utf8(fields.next()?).ok()?.parse().ok()?;
    let argv: Vec<Vec<u8>> = fields.by_ref().take(argc + 1).map(<[u8]>::to_vec).collect();
    if argv.len() != argc + 1 {
        return None;
    }
    let mut env = BTreeMap::new();
    for entry in fields.filter(|f| !f.is_empty()) {
        let eq = entry.iter().position(|&b| b == b'=')?;
        env.insert(entry[..eq].to_vec(), entry[eq + 1..].to_vec());
    }
    Some(Invocation { argv, env })
}

/// Every file under `root`, with its size and time.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (u64, Option<SystemTime>)> {
    let mut files = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                dirs.push(path);
            } else {
                files.insert(path, (meta.len(), meta.modified().ok()));
            }
        }
    }
    files
}

/// Drops the `.` in `work/./out`.
fn normalise(path: &Path) -> PathBuf {
    path.components().filter(|c| !matches!(c, Component::CurDir)).collect()
}

/// Do the argv match the words? A literal word is one argument exactly; a
/// non-literal one stands for any number, the first of which starts with
/// its fixed prefix when it has one (a fixed prefix is never dropped), and
/// none with a `-` unless the word [may be an option](Word::may_be_option).
fn words_match(words: &[Word], argv: &[Vec<u8>]) -> bool {
    let Some((w, rest)) = words.split_first() else { return argv.is_empty() };
    if w.is_literal() {
        return argv.first().is_some_and(|a| a == w.text.as_bytes()) && words_match(rest, &argv[1..]);
    }
    let prefix = w.prefix().as_bytes();
    if !prefix.is_empty() && !argv.first().is_some_and(|a| a.starts_with(prefix)) {
        return false;
    }
    let fewest = usize::from(!prefix.is_empty());
    let options = if w.may_be_option { argv.len() } else { argv.iter().take_while(|a| !a.starts_with(b"-")).count() };
    (fewest..=options).any(|n| words_match(rest, &argv[n..]))
}
