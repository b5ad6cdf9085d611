//! What a `Bash(…)` rule matches in one command.
//!
//! As text, the rule is Claude Code's: `*` matches any run of characters
//! (`pattern::command_matches`). Deny and approve rules are also read for
//! their meaning ([`by_meaning`]), so that reordering or re-spelling a
//! command does not get past them: `Bash(docker rm -f *)` refuses `docker
//! rm db -f` and `docker rm -f -v db`, `Bash(systemctl stop *)` refuses
//! `systemctl --failed stop sshd`. An allow rule's `*` stands only for
//! arguments that read: [`named_words`] is how much of a command the rule's
//! literal words name, so that `Bash(systemctl --failed *)` does not allow
//! `systemctl --failed stop sshd`.

use crate::pattern::wildcard;

/// The words of a rule's pattern before its first wildcard that a command
/// starts with: how many of the command's words the rule names literally.
/// A rule with no wildcard names every word.
pub(crate) fn named_words(pattern: &str, words: &[String]) -> usize {
    // The legacy `prefix:*` names the prefix's words.
    let (p, open) = match pattern.strip_suffix(":*") {
        Some(prefix) => (prefix, true),
        None => (pattern, pattern.contains('*')),
    };
    if !open {
        return words.len();
    }
    let literal: Vec<&str> = p.split(' ').take_while(|w| !w.contains('*')).filter(|w| !w.is_empty()).collect();
    literal.iter().zip(words).take_while(|(l, w)| *l == w).count()
}

/// Does a deny or approve rule's pattern match the command by meaning? The
/// program must be the one the rule names; every option the rule names must
/// be given (short options in any bundle, long ones also abbreviated); the
/// rule's other words must come in order, the first of them as the
/// command's first operand (its subcommand).
pub(crate) fn by_meaning(pattern: &str, words: &[String]) -> bool {
    let p = pattern.strip_suffix(":*").unwrap_or(pattern);
    let mut rule = p.split_whitespace();
    let (Some(program), Some(first)) = (rule.next(), words.first()) else { return false };
    if program.contains('*') || base(program) != base(first) {
        return false;
    }
    let (rule_options, rule_operands) = split(rule.filter(|w| *w != "*"));
    let (options, operands) = split(words[1..].iter().map(String::as_str));
    let has = |wanted: &Opt| {
        options.iter().any(|o| match (wanted, o) {
            (Opt::Short(a), Opt::Short(b)) => a == b,
            (Opt::Long(name, value), Opt::Long(n, v)) => {
                let same = n == name || (n.len() >= 4 && name.starts_with(n.as_str()));
                same && value.as_ref().is_none_or(|want| v.as_ref().is_some_and(|v| wildcard(want, v)))
            }
            _ => false,
        })
    };
    if !rule_options.iter().all(has) {
        return false;
    }
    let mut operands = operands.iter();
    let mut wanted = rule_operands.iter();
    if let Some(w) = wanted.next() {
        // The first named operand is the subcommand: it must come first.
        if !operands.next().is_some_and(|o| wildcard(w, o)) {
            return false;
        }
    }
    wanted.all(|w| operands.any(|o| wildcard(w, o)))
}

fn base(program: &str) -> &str {
    program.rsplit('/').next().unwrap_or(program)
}

#[derive(Debug, PartialEq)]
enum Opt {
    Short(char),
    /// `--name` and its value pattern, if the word gives one.
    Long(String, Option<String>),
}

/// Options (short bundles split, long ones with their values) and the
/// other words.
fn split<'a>(words: impl Iterator<Item = &'a str>) -> (Vec<Opt>, Vec<String>) {
    let (mut options, mut operands) = (Vec::new(), Vec::new());
    for w in words {
        if let Some(long) = w.strip_prefix("--").filter(|l| !l.is_empty()) {
            match long.split_once('=') {
                Some((n, v)) => options.push(Opt::Long(format!("--{n}"), Some(v.to_string()))),
                None => options.push(Opt::Long(w.to_string(), None)),
            }
        } else if let Some(short) = w.strip_prefix('-').filter(|s| !s.is_empty() && !s.contains('*')) {
            options.extend(short.chars().map(Opt::Short));
        } else if !w.starts_with('-') {
            operands.push(w.to_string());
        }
    }
    (options, operands)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn a_rule_names_the_words_before_its_first_wildcard() {
        assert_eq!(named_words("systemctl --failed *", &words("systemctl --failed stop sshd")), 2);
        assert_eq!(named_words("docker image prune *", &words("docker image prune -af")), 3);
        assert_eq!(named_words("ls", &words("ls")), 1);
        assert_eq!(named_words("midclt call pool.query*", &words("midclt call pool.query")), 2);
        assert_eq!(named_words("*", &words("rm -rf /")), 0);
        assert_eq!(named_words("npm run test:*", &words("npm run test")), 3);
    }

    #[test]
    fn deny_rules_match_reordered_and_rebundled_commands() {
        for (rule, command) in [
            ("docker rm -f *", "docker rm db -f"),
            ("docker rm -f *", "docker rm -fv db"),
            ("docker rm *", "docker rm -f db"),
            ("systemctl stop *", "systemctl --failed stop sshd"),
            ("systemctl stop *", "systemctl -q stop sshd"),
            ("rm -rf *", "rm -r -f /x"),
            ("rm -rf *", "rm -fr /x"),
            ("rm -rf *", "/bin/rm -v -rf /x"),
            ("journalctl --vacuum-size=*", "journalctl --vacuum-size=1G"),
            ("journalctl --vacuum-size=*", "journalctl --vacuum=1G"),
            ("zfs destroy *", "zfs destroy -r tank/x"),
            ("systemctl daemon-reload", "systemctl daemon-reload --no-block"),
        ] {
            assert!(by_meaning(rule, &words(command)), "{rule} should match {command}");
        }
        for (rule, command) in [
            ("docker rm *", "docker logs rm"),
            ("rm *", "grep rm file"),
            ("rm -rf *", "rm -r /x"),
            ("systemctl stop *", "systemctl status stop"),
            ("find *-delete*", "find / -name x"),
        ] {
            assert!(!by_meaning(rule, &words(command)), "{rule} should not match {command}");
        }
    }
}
