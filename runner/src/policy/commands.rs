//! What the policy knows about shell commands before any rule is read: the
//! small list of commands that only read (and the flags that would make one
//! of them write), and the environment variables that change what a command
//! runs. Which commands change the machine in general is
//! `car_schemas::rules::command_writes`, shared with the config validator.

use super::shell::Word;

/// Commands that only read, whatever their (static) arguments, except for
/// the write flags `only_reads` looks for. `cd`, `true` and `false` are not
/// in the list but change nothing on the machine either.
pub(crate) const READING_COMMANDS: &[&str] = &[
    "echo", "pwd", "ls", "cat", "head", "tail", "wc", "grep", "df", "du", "free", "uptime", "date", "whoami", "id",
    "hostname", "uname", "ps", "which", "stat", "file", "true", "false", "cd",
];

/// Does this simple command only read? `name` is its literal name (a bare
/// name: `/tmp/x/ls` is not `ls`).
pub(crate) fn only_reads(name: &str, args: &[Word]) -> bool {
    if !READING_COMMANDS.contains(&name) {
        return false;
    }
    // These three write with the right arguments; an argument computed at
    // run time (`date $X`, a glob that may expand to `--set=…`) cannot be
    // checked, so only literal arguments pass.
    let literal = || args.iter().all(|a| !a.dynamic).then(|| args.iter().map(|a| a.text.as_str()).collect::<Vec<_>>());
    match name {
        "date" => literal().is_some_and(|a| date_only_reads(&a)),
        "hostname" => literal().is_some_and(|a| hostname_only_reads(&a)),
        "file" => literal().is_some_and(|a| file_only_reads(&a)),
        _ => true,
    }
}

/// `date` sets the clock with `-s`/`--set` or with an operand that is not a
/// `+FORMAT` (`date 010100002030`).
fn date_only_reads(args: &[&str]) -> bool {
    let mut expect_value = false;
    let mut options_done = false;
    for a in args {
        if expect_value {
            expect_value = false;
            continue;
        }
        if !options_done && *a == "--" {
            options_done = true;
            continue;
        }
        if !options_done && a.starts_with("--") {
            let name = a.split('=').next().unwrap_or(a);
            // getopt accepts any unambiguous prefix: `--se` is `--set`.
            if name.len() >= 3 && "--set".starts_with(name) {
                return false;
            }
            if !a.contains('=')
                && ["--date", "--file", "--reference"].iter().any(|o| name.len() >= 4 && o.starts_with(name))
            {
                expect_value = true;
            }
            continue;
        }
        if !options_done && a.starts_with('-') && a.len() > 1 {
            let flags = &a.as_bytes()[1..];
            for (i, c) in flags.iter().enumerate() {
                match c {
                    b's' => return false,
                    // The rest of the cluster, or the next argument, is the value.
                    b'd' | b'f' | b'r' => {
                        expect_value = i + 1 == flags.len();
                        break;
                    }
                    b'I' => break,
                    _ => {}
                }
            }
            continue;
        }
        if !a.starts_with('+') {
            return false;
        }
    }
    true
}

/// `hostname NAME`, `-F FILE` and `-b` set the host name: only the
/// reporting flags pass.
fn hostname_only_reads(args: &[&str]) -> bool {
    const LONG: &[&str] = &[
        "--alias",
        "--all-fqdns",
        "--domain",
        "--fqdn",
        "--long",
        "--ip-address",
        "--all-ip-addresses",
        "--short",
        "--yp",
        "--nis",
        "--help",
        "--version",
    ];
    args.iter().all(|a| {
        if a.starts_with("--") {
            LONG.contains(a)
        } else if let Some(flags) = a.strip_prefix('-') {
            !flags.is_empty() && flags.chars().all(|c| "aAdfiIsyhV".contains(c))
        } else {
            false
        }
    })
}

/// `file -C` compiles a magic file into the working directory.
fn file_only_reads(args: &[&str]) -> bool {
    let mut options_done = false;
    args.iter().all(|a| {
        if options_done {
            return true;
        }
        if *a == "--" {
            options_done = true;
            true
        } else if a.starts_with("--") {
            let name = a.split('=').next().unwrap_or(a);
            !(name.len() >= 4 && "--compile".starts_with(name))
        } else if let Some(flags) = a.strip_prefix('-') {
            !flags.contains('C')
        } else {
            true
        }
    })
}

/// Does setting this variable change which program runs or what it runs
/// (`PATH`, `LD_PRELOAD`, `GIT_EXTERNAL_DIFF`, `PAGER`, `BASH_ENV`, …)?
/// A deny-list, so it leans wide: a harmless name caught here only costs an
/// approval (read-write) or a rewrite of the command (read-only).
pub(crate) fn risky_variable(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "IFS",
        "ENV",
        "SHELLOPTS",
        "BASHOPTS",
        "PROMPT_COMMAND",
        "GLOBIGNORE",
        "EXINIT",
        "VIMINIT",
        "HOSTALIASES",
        "TERMINFO",
        "BROWSER",
        "VISUAL",
        "CLASSPATH",
        "MAIL",
        "ZDOTDIR",
    ];
    const PREFIXES: &[&str] = &[
        "LD_", "DYLD_", "GIT_", "BASH", "PYTHON", "PERL", "RUBY", "NODE_", "NPM_", "LESS", "XDG_", "SSH_", "GNUPG",
        "MALLOC_", "GLIBC_", "SYSTEMD_", "DOCKER_", "KUBE", "CARGO_", "RUST", "JAVA", "JDK_", "_JAVA", "GEM_",
        "BUNDLE", "PIP_", "LUA_", "TCL", "OPENSSL", "SSL_", "CURL_", "SUDO_", "PS",
    ];
    const PARTS: &[&str] = &[
        "PAGER", "EDITOR", "ASKPASS", "PRELOAD", "COMMAND", "_CMD", "PROGRAM", "EXEC", "SHELL", "PATH", "CONF", "HOME",
        "LIB", "OPT", "PLUGIN", "HOOK", "MODULE",
    ];
    let n = name.to_ascii_uppercase();
    EXACT.contains(&n.as_str())
        || PREFIXES.iter().any(|p| n.starts_with(p))
        || PARTS.iter().any(|p| n.contains(p))
        || n.ends_with("RC")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(args: &[&str]) -> Vec<Word> {
        args.iter().map(|a| Word { text: (*a).to_string(), dynamic: false }).collect()
    }

    #[test]
    fn reading_commands_only_read() {
        assert!(only_reads("ls", &words(&["-la", "/tmp"])));
        assert!(only_reads("cat", &[Word { text: "/var/log/*.log".into(), dynamic: true }]));
        assert!(!only_reads("rm", &words(&["-rf", "/"])));
        assert!(!only_reads("/tmp/evil/ls", &[]));
    }

    #[test]
    fn date_that_sets_the_clock_is_not_reading() {
        assert!(only_reads("date", &[]));
        assert!(only_reads("date", &words(&["+%s"])));
        assert!(only_reads("date", &words(&["-u", "-d", "yesterday", "+%F"])));
        assert!(only_reads("date", &words(&["--date", "2020-01-01", "-Iseconds"])));
        assert!(only_reads("date", &words(&["-ud", "tomorrow"])));
        assert!(!only_reads("date", &words(&["-s", "2020-01-01"])));
        assert!(!only_reads("date", &words(&["-us", "2020-01-01"])));
        assert!(!only_reads("date", &words(&["--set=2020-01-01"])));
        assert!(!only_reads("date", &words(&["--se", "2020-01-01"])));
        assert!(!only_reads("date", &words(&["010100002030"])));
        assert!(!only_reads("date", &[Word { text: "$X".into(), dynamic: true }]));
    }

    #[test]
    fn hostname_that_renames_the_machine_is_not_reading() {
        assert!(only_reads("hostname", &[]));
        assert!(only_reads("hostname", &words(&["-f"])));
        assert!(only_reads("hostname", &words(&["-I", "--fqdn"])));
        assert!(!only_reads("hostname", &words(&["pwned"])));
        assert!(!only_reads("hostname", &words(&["-F", "/tmp/name"])));
        assert!(!only_reads("hostname", &words(&["-b", "x"])));
    }

    #[test]
    fn file_compiling_magic_is_not_reading() {
        assert!(only_reads("file", &words(&["-b", "/bin/ls"])));
        assert!(!only_reads("file", &words(&["-C", "-m", "x"])));
        assert!(!only_reads("file", &words(&["--compile"])));
        assert!(only_reads("file", &words(&["--", "-C"])));
    }

    #[test]
    fn variables_that_change_what_runs_are_risky() {
        for v in [
            "PATH",
            "LD_PRELOAD",
            "GIT_EXTERNAL_DIFF",
            "PAGER",
            "SYSTEMD_PAGER",
            "BASH_ENV",
            "IFS",
            "PYTHONPATH",
            "NODE_OPTIONS",
            "HOME",
            "PS4",
            "EDITOR",
            "INPUTRC",
            "path",
        ] {
            assert!(risky_variable(v), "{v} is risky");
        }
        for v in ["FOO", "LANG", "LC_ALL", "TZ", "COLUMNS", "NO_COLOR", "FORCE_COLOR", "TERM"] {
            assert!(!risky_variable(v), "{v} is harmless");
        }
    }
}
