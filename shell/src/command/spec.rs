//! How a program is described: for each (sub)command level, the options
//! known to only read, the subcommands known to only read, and what its
//! operands are. Anything a description does not list is not a read.
//!
//! Options are written in a small syntax, one token per option, synonyms
//! joined by `|`, the first one canonical: `-n=|--lines=` (takes a value,
//! attached or as the next word), `--color[=]` (an optional value, attached
//! only), `-l|--long` (a flag). A value is any text unless the token ends
//! in `=path` (a file whose content is read) or `=tree` (a folder whose
//! files are read).

use std::collections::HashMap;

use crate::command::{Parsed, PathUse};

/// One program: `zpool`, `docker`, `ls`.
pub(crate) struct Program {
    /// What the program does when it is known only to change the machine
    /// (`rm`: "removes files"); such a program has no reading uses.
    pub changes: Option<&'static str>,
    /// It runs shell code the analysis cannot see, or changes how bash reads
    /// the commands after it (see [`crate::Culprit::opaque`]).
    pub opaque: bool,
    /// Reads without an allow rule naming it (`ls`, `cat`, `grep`, …); the
    /// others read only when an allow rule names them.
    pub basic: bool,
    pub root: Level,
    /// Subcommand paths that are another's (`container rm` → `rm`), so that
    /// rules on one apply to the other.
    pub aliases: Vec<(Vec<&'static str>, Vec<&'static str>)>,
}

/// A command or subcommand.
#[derive(Default)]
pub(crate) struct Level {
    pub opts: Vec<Opt>,
    /// `opts` lists every option the program has here, and none writes or
    /// runs anything: a computed word (`$x`) in an option's place is harmless.
    pub closed: bool,
    /// Subcommands that only read, each with its level.
    pub subs: Vec<(&'static str, Level)>,
    /// The options of this level still apply after the subcommand
    /// (`systemctl --failed status` and `systemctl status --failed`).
    pub shared: bool,
    pub operands: Operands,
    /// The first operand ends the options (`env`, `timeout`, POSIX style);
    /// GNU programs take options anywhere.
    pub options_first: bool,
    /// A word `-NUM` is a count (`head -5`, `git log -3`).
    pub counts: bool,
    /// Every word after the level's name is an operand: the program does
    /// not parse options as getopt does (`find`, `test`); `check` reads them.
    pub raw: bool,
    /// A last look at the whole parse: the paths it reads besides those of
    /// `operands`, or the word that keeps it from being a read.
    pub check: Option<Check>,
}

/// A program's own reading of its words (see [`Level::check`]).
pub(crate) type Check = fn(&Parsed) -> Result<Vec<PathUse>, CheckError>;

/// Why a check found a command not to be a read.
#[derive(Debug)]
pub(crate) struct CheckError {
    /// The word (an index into [`Parsed::words`]) it is about, if one.
    pub word: Option<usize>,
    pub why: String,
    /// See [`crate::Culprit::opaque`].
    pub opaque: bool,
}

/// A [`CheckError`] about word `k`.
pub(crate) fn fail(k: impl Into<Option<usize>>, why: impl Into<String>) -> CheckError {
    CheckError { word: k.into(), why: why.into(), opaque: false }
}

/// A [`CheckError`] about word `k` that runs code the analysis cannot see.
pub(crate) fn fail_opaque(k: impl Into<Option<usize>>, why: impl Into<String>) -> CheckError {
    CheckError { opaque: true, ..fail(k, why) }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arg {
    None,
    /// Attached (`-n5`, `--lines=5`) or the next word.
    Required,
    /// Attached only.
    Optional,
}

/// What an option's value or an operand is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Access {
    /// Data: a pattern, a unit name, a number.
    #[default]
    Data,
    /// A file whose content is read.
    Content,
    /// A folder whose files are read.
    Tree,
    /// A path whose name or metadata is read (`ls`, `stat`), not its content.
    Meta,
}

#[derive(Debug, Clone)]
pub(crate) struct Opt {
    /// Every spelling, canonical first: `-n`, `--lines`.
    pub names: Vec<&'static str>,
    pub arg: Arg,
    pub value: Access,
}

impl Opt {
    pub fn canonical(&self) -> &'static str {
        self.names[0]
    }
}

/// What the operands are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Operands {
    /// None at all.
    #[default]
    None,
    /// Any number, each one `Access`.
    Any(Access),
    /// At most this many, each one `Access` (`uniq IN`: a second one is written).
    AtMost(usize, Access),
    /// The level's check reads them.
    Checked,
}

/// Parses the option syntax of the module docs. A typo in the table is a
/// programming error, caught by the table's tests.
pub(crate) fn opts(spec: &'static str) -> Vec<Opt> {
    spec.split_whitespace()
        .map(|token| {
            let mut arg = Arg::None;
            let mut value = Access::Data;
            let names = token
                .split('|')
                .map(|name| {
                    let (name, a, v) = if let Some(n) = name.strip_suffix("[=]") {
                        (n, Arg::Optional, Access::Data)
                    } else if let Some(n) = name.strip_suffix("=path") {
                        (n, Arg::Required, Access::Content)
                    } else if let Some(n) = name.strip_suffix("=tree") {
                        (n, Arg::Required, Access::Tree)
                    } else if let Some(n) = name.strip_suffix('=') {
                        (n, Arg::Required, Access::Data)
                    } else {
                        (name, Arg::None, Access::Data)
                    };
                    let short = name.len() == 2 && name.starts_with('-') && name != "--";
                    assert!(short || (name.starts_with("--") && name.len() > 3), "option {name:?} in {spec:?}");
                    if a != Arg::None {
                        arg = a;
                        value = v;
                    }
                    name
                })
                .collect();
            Opt { names, arg, value }
        })
        .collect()
}

impl Level {
    /// A level with these reading options.
    pub fn with(spec: &'static str) -> Level {
        Level { opts: opts(spec), ..Level::default() }
    }

    /// More reading options.
    pub fn also(mut self, spec: &'static str) -> Level {
        self.opts.extend(opts(spec));
        self
    }

    pub fn counts(mut self) -> Level {
        self.counts = true;
        self
    }

    pub fn closed(mut self) -> Level {
        self.closed = true;
        self
    }

    pub fn operands(mut self, operands: Operands) -> Level {
        self.operands = operands;
        self
    }

    pub fn options_first(mut self) -> Level {
        self.options_first = true;
        self
    }

    pub fn check(mut self, check: Check) -> Level {
        self.check = Some(check);
        self
    }

    /// A program that reads its own words (`check` must account for them).
    pub fn raw(check: Check) -> Level {
        Level { raw: true, operands: Operands::Checked, check: Some(check), ..Level::default() }
    }

    /// Subcommands sharing one level (`zfs list` and `zfs get` differ, so
    /// each is given on its own).
    pub fn sub(mut self, name: &'static str, level: Level) -> Level {
        self.subs.push((name, level));
        self
    }

    /// Subcommands whose options are this level's (`systemctl`).
    pub fn shared_subs(mut self, names: &[&'static str], operands: Operands) -> Level {
        self.shared = true;
        for name in names {
            self.subs.push((name, Level { operands, ..Level::default() }));
        }
        self
    }

    /// The option spelled `name` (exactly: abbreviations are not read).
    pub fn find(&self, name: &str) -> Option<&Opt> {
        self.opts.iter().find(|o| o.names.contains(&name))
    }
}

impl Program {
    pub fn new(root: Level) -> Program {
        Program { changes: None, opaque: false, basic: false, root, aliases: Vec::new() }
    }

    /// A program that runs shell code the analysis cannot see (`eval`, `sh`).
    pub fn opaque(what: &'static str) -> Program {
        Program { opaque: true, ..Program::changes(what) }
    }

    /// A program that changes the machine and never only reads.
    pub fn changes(what: &'static str) -> Program {
        Program { changes: Some(what), ..Program::new(Level::default()) }
    }

    pub fn basic(mut self) -> Program {
        self.basic = true;
        self
    }

    /// `from` (space separated) is another spelling of `to`.
    pub fn alias(mut self, from: &'static str, to: &'static str) -> Program {
        self.aliases.push((from.split(' ').collect(), to.split(' ').collect()));
        self
    }
}

/// The table, built once.
pub(crate) type Table = HashMap<&'static str, Program>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_syntax_gives_spellings_arguments_and_values() {
        let o = opts("-a -n=|--lines= --color[=] -f=path|--file=path -l|--long");
        assert_eq!(o.len(), 5);
        assert_eq!((o[0].canonical(), o[0].arg), ("-a", Arg::None));
        assert_eq!((o[1].names.clone(), o[1].arg), (vec!["-n", "--lines"], Arg::Required));
        assert_eq!(o[2].arg, Arg::Optional);
        assert_eq!((o[3].arg, o[3].value), (Arg::Required, Access::Content));
        assert_eq!(o[4].names, ["-l", "--long"]);
    }
}
