//! The pattern half of Claude Code's permission rules: what `Bash(zpool
//! status *)`, `Read(//etc/*)` and `WebFetch(domain:example.com)` match.
//!
//! Everything here is a pure function of a pattern and a candidate string;
//! which rules apply to which tool call is decided in the parent module.

/// Does a shell rule's pattern match one simple command's normalized text?
///
/// `*` matches any run of characters (spaces and nothing included), the rest
/// is literal. A trailing ` *` also matches the bare command (`ls *` matches
/// `ls`), and the legacy form `prefix:*` matches `prefix` alone or followed
/// by a space and anything (`npm run test:*` matches `npm run test -- -v`
/// but not `npm run testing`).
pub(crate) fn command_matches(pattern: &str, text: &str) -> bool {
    if let Some(prefix) = pattern.strip_suffix(":*") {
        return wildcard(prefix, text) || wildcard(&format!("{prefix} *"), text);
    }
    wildcard(pattern, text) || pattern.strip_suffix(" *").is_some_and(|bare| wildcard(bare, text))
}

/// Is this a shell pattern that admits every command (`*`, `**`, `:*`)?
pub(crate) fn matches_everything(pattern: &str) -> bool {
    let p = pattern.strip_suffix(":*").unwrap_or(pattern);
    p.chars().all(|c| c == '*')
}

/// `*` matches any run of characters, everything else is literal.
pub(crate) fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // The classic two-pointer match with backtracking to the last star:
    // linear in practice, O(p·t) at worst, no recursion.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `?`: one character within a path segment.
    One,
    /// `*`: any run within a path segment.
    Star,
    /// `**`: any run, across segments.
    Globstar,
    /// `**/`: nothing, or any run that ends with `/` (zero or more whole directories).
    Dirs,
}

fn compile(pattern: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                while chars.peek() == Some(&'*') {
                    chars.next();
                }
                if chars.peek() == Some(&'/') {
                    chars.next();
                    toks.push(Tok::Dirs);
                } else {
                    toks.push(Tok::Globstar);
                }
            }
            '*' => toks.push(Tok::Star),
            '?' => toks.push(Tok::One),
            c => toks.push(Tok::Lit(c)),
        }
    }
    toks
}

/// Gitignore-style glob on a path: `*` and `?` stay within one segment,
/// `**` crosses segments, `dir/**` also matches `dir` itself.
pub(crate) fn glob_path(pattern: &str, path: &str) -> bool {
    if let Some(dir) = pattern.strip_suffix("/**")
        && !dir.is_empty()
        && glob_path(dir, path)
    {
        return true;
    }
    let toks = compile(pattern);
    let t: Vec<char> = path.chars().collect();
    let n = t.len();
    // next[j]: does toks[i+1..] match t[j..]? Filled from the last token back.
    let mut next = vec![false; n + 1];
    next[n] = true;
    for tok in toks.iter().rev() {
        let mut cur = vec![false; n + 1];
        // For Dirs: is there a k >= j with t[k] == '/' and next[k + 1]?
        let mut slash_ahead = false;
        for j in (0..=n).rev() {
            if j < n && t[j] == '/' && next[j + 1] {
                slash_ahead = true;
            }
            cur[j] = match *tok {
                Tok::Lit(c) => j < n && t[j] == c && next[j + 1],
                Tok::One => j < n && t[j] != '/' && next[j + 1],
                Tok::Star => next[j] || (j < n && t[j] != '/' && cur[j + 1]),
                Tok::Globstar => next[j] || (j < n && cur[j + 1]),
                Tok::Dirs => next[j] || slash_ahead,
            };
        }
        next = cur;
    }
    next[0]
}

/// The directory a path pattern is anchored in: everything before the
/// segment holding its first wildcard (`/var/log/*.log` → `/var/log`).
pub(crate) fn literal_dir(pattern: &str) -> &str {
    let Some(wild) = pattern.find(['*', '?']) else {
        return pattern;
    };
    match pattern[..wild].rfind('/') {
        Some(0) => "/",
        Some(i) => &pattern[..i],
        None => "",
    }
}

/// The directories above an absolute, normalized path, nearest first
/// (`/a/b/c` → `/a/b`, `/a`, `/`).
pub(crate) fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(path);
    std::iter::from_fn(move || {
        let current = rest?;
        let parent = match current.rfind('/') {
            Some(0) if current.len() > 1 => "/",
            Some(i) if i > 0 => &current[..i],
            _ => {
                rest = None;
                return None;
            }
        };
        rest = Some(parent);
        Some(parent)
    })
}

/// Could the pattern match some path strictly below `dir`? True when the
/// pattern can consume `dir/` as a prefix: whatever tokens remain can always
/// be satisfied by some longer path.
pub(crate) fn could_match_below(pattern: &str, dir: &str) -> bool {
    let toks = compile(pattern);
    let text = if dir.ends_with('/') { dir.to_string() } else { format!("{dir}/") };
    // Forward simulation of the pattern as an automaton: `states` holds the
    // token indices that can come next after the text read so far.
    let close = |states: &mut Vec<usize>| {
        let mut i = 0;
        while i < states.len() {
            let s = states[i];
            if s < toks.len() && matches!(toks[s], Tok::Star | Tok::Globstar | Tok::Dirs) && !states.contains(&(s + 1))
            {
                states.push(s + 1);
            }
            i += 1;
        }
    };
    let mut states = vec![0];
    close(&mut states);
    for c in text.chars() {
        let mut next = Vec::new();
        let mut add = |s: usize| {
            if !next.contains(&s) {
                next.push(s);
            }
        };
        for &s in &states {
            match toks.get(s) {
                Some(Tok::Lit(l)) if *l == c => add(s + 1),
                Some(Tok::One) if c != '/' => add(s + 1),
                Some(Tok::Star) if c != '/' => add(s),
                Some(Tok::Globstar) => add(s),
                Some(Tok::Dirs) => {
                    add(s);
                    if c == '/' {
                        add(s + 1);
                    }
                }
                _ => {}
            }
        }
        close(&mut next);
        if next.is_empty() {
            return false;
        }
        states = next;
    }
    true
}

/// The host of a URL, lower-cased, without user info or port.
pub(crate) fn url_host(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    parsed.host_str().map(|h| h.trim_end_matches('.').to_ascii_lowercase())
}

/// `WebFetch(domain:example.com)` matches example.com and its subdomains.
pub(crate) fn domain_matches(domain: &str, host: &str) -> bool {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    if let Some(suffix) = domain.strip_prefix("*.") {
        return host.strip_suffix(suffix).is_some_and(|h| h.ends_with('.'));
    }
    host == domain || host.strip_suffix(domain.as_str()).is_some_and(|h| h.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_matches_any_run_including_spaces_and_nothing() {
        assert!(wildcard("zpool status *", "zpool status -x tank"));
        assert!(wildcard("zpool status *", "zpool status "));
        assert!(wildcard("*", ""));
        assert!(wildcard("a*b*c", "a  b c"));
        assert!(!wildcard("zpool status *", "zpool list"));
        assert!(!wildcard("ls", "ls -la"));
        assert!(wildcard("git * --oneline", "git log -n 5 --oneline"));
        assert!(!wildcard("git * --oneline", "git log --oneline -n 5"));
    }

    #[test]
    fn trailing_space_star_also_matches_the_bare_command_but_not_a_longer_name() {
        assert!(command_matches("ls *", "ls"));
        assert!(command_matches("ls *", "ls -la /tmp"));
        assert!(!command_matches("ls *", "lsof -i"));
        assert!(command_matches("ls*", "lsof -i"));
    }

    #[test]
    fn legacy_prefix_form_matches_at_a_word_boundary() {
        assert!(command_matches("npm run test:*", "npm run test"));
        assert!(command_matches("npm run test:*", "npm run test -- --watch"));
        assert!(!command_matches("npm run test:*", "npm run testing"));
        assert!(!command_matches("npm run test:*", "npm run build"));
    }

    #[test]
    fn everything_patterns_are_recognised() {
        assert!(matches_everything("*"));
        assert!(matches_everything("**"));
        assert!(matches_everything(":*"));
        assert!(!matches_everything("ls *"));
    }

    #[test]
    fn path_star_stays_within_a_segment_and_globstar_crosses() {
        assert!(glob_path("/etc/*", "/etc/passwd"));
        assert!(!glob_path("/etc/*", "/etc/ssh/sshd_config"));
        assert!(glob_path("/etc/**", "/etc/ssh/sshd_config"));
        assert!(glob_path("/etc/**", "/etc"));
        assert!(glob_path("/srv/**/*.log", "/srv/a/b/c.log"));
        assert!(glob_path("/srv/**/*.log", "/srv/c.log"));
        assert!(!glob_path("/srv/**/*.log", "/srv/c.txt"));
        assert!(glob_path("/etc/host?", "/etc/hosts"));
        assert!(!glob_path("/etc/host?", "/etc/host/"));
        assert!(glob_path("**/.env", "/app/.env"));
        assert!(!glob_path("/etc/passwd", "/etc/passwd.bak"));
    }

    #[test]
    fn literal_dir_is_where_a_pattern_is_anchored() {
        assert_eq!(literal_dir("/var/log/*.log"), "/var/log");
        assert_eq!(literal_dir("/root/**"), "/root");
        assert_eq!(literal_dir("/etc/shadow"), "/etc/shadow");
        assert_eq!(literal_dir("/*"), "/");
        assert_eq!(literal_dir("**/.env"), "");
    }

    #[test]
    fn a_pattern_can_match_below_a_directory_it_is_in_or_reaches() {
        assert!(could_match_below("/root/**", "/"));
        assert!(could_match_below("/etc/shadow", "/etc"));
        assert!(could_match_below("/**/.env", "/var/log"));
        assert!(could_match_below("/srv/*/secret", "/srv/app"));
        assert!(could_match_below("/root/**", "/root/.ssh"));
        assert!(!could_match_below("/etc/shadow", "/var"));
        assert!(!could_match_below("/srv/*/secret", "/srv/app/deep"));
        assert!(!could_match_below("/etc/shadow", "/etc/shadow.d"));
    }

    #[test]
    fn ancestors_are_the_folders_above_nearest_first() {
        assert_eq!(ancestors("/a/b/c").collect::<Vec<_>>(), ["/a/b", "/a", "/"]);
        assert_eq!(ancestors("/").count(), 0);
    }

    #[test]
    fn domains_match_themselves_and_subdomains_only() {
        let host = url_host("https://User@Docs.Example.com:8443/x?y").unwrap();
        assert_eq!(host, "docs.example.com");
        assert!(domain_matches("example.com", &host));
        assert!(domain_matches("*.example.com", &host));
        assert!(!domain_matches("*.example.com", "example.com"));
        assert!(!domain_matches("example.com", "evilexample.com"));
        assert!(url_host("not a url").is_none());
    }
}
