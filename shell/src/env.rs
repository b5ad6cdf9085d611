//! Which variables a command may set. Variables change what programs do in
//! ways no list of dangerous names keeps up with (`PATH`, `LD_PRELOAD`,
//! `BORG_RSH`, `GIT_SSH_COMMAND`, `PAGER`, `BASH_ENV`, …), so this is an
//! allow-list: the locale, the terminal and colours, and a pager that is
//! `cat`. A shell variable that is not exported (`x=1` on its own, a `for`
//! loop's variable) reaches no program, so any lowercase name is fine
//! there: every variable bash itself acts on is uppercase.

use crate::word::Word;

/// Variables that change only how output looks.
const HARMLESS: &[&str] = &[
    "LANG",
    "LANGUAGE",
    "TZ",
    "COLUMNS",
    "LINES",
    "TERM",
    "NO_COLOR",
    "FORCE_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "SYSTEMD_COLORS",
    "SYSTEMD_URLIFY",
    "TIME_STYLE",
    "QUOTING_STYLE",
];

/// Variables that name a pager: harmless when the pager is `cat` or none.
const PAGERS: &[&str] = &["PAGER", "GIT_PAGER", "SYSTEMD_PAGER", "MANPAGER"];

/// May a command run with `name=value` set for it (`LANG=C ls`, `env X=1 ls`)?
pub fn for_command(name: &str, value: &Word) -> Result<(), String> {
    if HARMLESS.contains(&name) || name.starts_with("LC_") {
        return Ok(());
    }
    if PAGERS.contains(&name) {
        if value.is_literal() && matches!(value.text.as_str(), "" | "cat") {
            return Ok(());
        }
        return Err(format!("{name} runs a program; only {name}=cat (or empty) is allowed"));
    }
    Err(format!(
        "setting {name} for a command can change what it runs or does; only the locale, TZ, colours, \
         the terminal size and a pager of cat may be set"
    ))
}

/// May the shell set `name` on its own (`x=1`, `for x in …`, `read x`)?
pub fn for_shell(name: &str) -> Result<(), String> {
    let lowercase = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if lowercase || HARMLESS.contains(&name) || name.starts_with("LC_") {
        Ok(())
    } else {
        Err(format!(
            "setting the shell variable {name} may change what bash or the programs after it do; \
             use a lowercase name for your own variables"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_harmless_variables_may_be_set_for_a_command() {
        for (name, value) in [("LANG", "C"), ("LC_ALL", "C"), ("TZ", "UTC"), ("PAGER", "cat"), ("SYSTEMD_PAGER", "")] {
            assert!(for_command(name, &Word::literal(value)).is_ok(), "{name}={value}");
        }
        for (name, value) in [
            ("PATH", "/tmp"),
            ("LD_PRELOAD", "x.so"),
            ("BORG_RSH", "sh -c x"),
            ("GIT_SSH_COMMAND", "x"),
            ("RESTIC_PASSWORD_COMMAND", "x"),
            ("PAGER", "sh"),
            ("BASH_ENV", "/tmp/x"),
            ("lc_all", "C"),
        ] {
            assert!(for_command(name, &Word::literal(value)).is_err(), "{name}={value}");
        }
    }

    #[test]
    fn lowercase_shell_variables_are_the_users_own() {
        assert!(for_shell("f").is_ok());
        assert!(for_shell("my_dir2").is_ok());
        for name in ["PATH", "IFS", "PS4", "BASH_ENV", "SHELLOPTS", "HOME", "Path"] {
            assert!(for_shell(name).is_err(), "{name}");
        }
    }
}
