//! Programs whose words a table of options cannot describe: `find`'s
//! expressions, `awk` and `sed` programs, `date`'s format operand, `curl`'s
//! URLs, and the few whose reading depends on which options are present
//! (`tar -t`, `git config --get`, `sshd -T`). Each is an allow-list too:
//! what it does not recognise is not a read.

use super::spec::{Access, CheckError, fail, fail_opaque};
use super::{Parsed, PathUse};
use crate::env;
use crate::word::Word;

type Checked = Result<Vec<PathUse>, CheckError>;

fn content(w: &Word) -> PathUse {
    PathUse { path: w.clone(), access: Access::Content }
}

/// Programs with no way to write (`echo`, `ps`, `lsof`, `test`).
pub(crate) fn anything(_: &Parsed) -> Checked {
    Ok(Vec::new())
}

/// `grep PATTERN FILE…`, or `grep -e PATTERN FILE…`; `-r` searches folders.
pub(crate) fn grep(p: &Parsed) -> Checked {
    let pattern_given = p.has("-e") || p.has("-f");
    let recursive = p.has("-r") || p.has("-R") || p.value("-d").is_some_and(|v| v.text == "recurse");
    let access = if recursive { Access::Tree } else { Access::Content };
    let files: Vec<PathUse> = p
        .operands
        .iter()
        .skip(usize::from(!pattern_given))
        .map(|&k| PathUse { path: p.words[k].clone(), access })
        .collect();
    if files.is_empty() && recursive {
        return Ok(vec![PathUse { path: Word::literal("."), access: Access::Tree }]);
    }
    Ok(files)
}

/// `date +FORMAT`; any other operand sets the clock.
pub(crate) fn date(p: &Parsed) -> Checked {
    for (n, &k) in p.operands.iter().enumerate() {
        let w = &p.words[k];
        if n > 0 || !w.prefix().starts_with('+') {
            return Err(fail(k, format!("`date {}` sets the clock; only `date +FORMAT` reads it", w.text)));
        }
    }
    Ok(Vec::new())
}

/// `set -euo pipefail`, `set -x`, `set -- a b`; `set -a` would export every variable set after it.
pub(crate) fn set(p: &Parsed) -> Checked {
    const OPTIONS: &[&str] = &["pipefail", "errexit", "nounset", "xtrace", "noglob", "noclobber"];
    let mut i = 1;
    while i < p.words.len() {
        let w = &p.words[i];
        if !w.is_literal() {
            return Err(fail(i, format!("`{}` is computed when it runs", w.text)));
        }
        if w.text == "--" {
            break;
        }
        let Some(flags) = w.text.strip_prefix('-').or_else(|| w.text.strip_prefix('+')) else {
            return Err(fail(
                i,
                "set only changes -e, -u, -x and -o pipefail here; give positional parameters after --",
            ));
        };
        for c in flags.chars() {
            match c {
                'e' | 'u' | 'x' | 'f' | 'C' => {}
                'o' => {
                    i += 1;
                    if !p.words.get(i).is_some_and(|o| o.is_literal() && OPTIONS.contains(&o.text.as_str())) {
                        return Err(fail(i - 1, format!("set -o only takes {} here", OPTIONS.join(", "))));
                    }
                }
                other => return Err(fail(i, format!("`set -{other}` is not an option the policy allows"))),
            }
        }
        i += 1;
    }
    Ok(Vec::new())
}

/// `read NAME…`: the names must be the user's own variables.
pub(crate) fn read(p: &Parsed) -> Checked {
    let arrays = p.opts.iter().filter(|(n, _)| *n == "-a").filter_map(|(_, v)| v.as_ref());
    for w in p.operands.iter().map(|&k| &p.words[k]).chain(arrays) {
        if !w.is_literal() {
            return Err(fail(None, format!("the variable name `{}` is computed when it runs", w.text)));
        }
        env::for_shell(&w.text).map_err(|why| fail(None, why))?;
    }
    Ok(Vec::new())
}

/// `find [-H|-L|-P] START… EXPRESSION`: start points are read for names
/// and metadata; the expression may only test and print.
pub(crate) fn find(p: &Parsed) -> Checked {
    const FLAGS: &[&str] = &[
        "-print",
        "-print0",
        "-ls",
        "-prune",
        "-quit",
        "-true",
        "-false",
        "-not",
        "!",
        "-a",
        "-and",
        "-o",
        "-or",
        ",",
        "(",
        ")",
        "-empty",
        "-readable",
        "-writable",
        "-executable",
        "-nouser",
        "-nogroup",
        "-xdev",
        "-mount",
        "-depth",
        "-d",
        "-follow",
        "-daystart",
        "-noleaf",
        "-ignore_readdir_race",
        "-noignore_readdir_race",
        "-nowarn",
        "-warn",
    ];
    const WITH_VALUE: &[&str] = &[
        "-name",
        "-iname",
        "-path",
        "-ipath",
        "-wholename",
        "-iwholename",
        "-regex",
        "-iregex",
        "-regextype",
        "-lname",
        "-ilname",
        "-type",
        "-xtype",
        "-size",
        "-perm",
        "-user",
        "-group",
        "-uid",
        "-gid",
        "-mtime",
        "-mmin",
        "-atime",
        "-amin",
        "-ctime",
        "-cmin",
        "-used",
        "-newer",
        "-anewer",
        "-cnewer",
        "-links",
        "-inum",
        "-samefile",
        "-fstype",
        "-maxdepth",
        "-mindepth",
        "-printf",
        "-context",
    ];
    let words = p.words;
    let mut i = 1;
    let mut reads = Vec::new();
    // Options before the start points.
    while let Some(w) = words.get(i) {
        match w.text.as_str() {
            "-H" | "-L" | "-P" if w.is_literal() => i += 1,
            "-D" if w.is_literal() => i += 2,
            t if w.is_literal() && t.starts_with("-O") => i += 1,
            _ => break,
        }
    }
    // Start points: up to the first word that begins an expression.
    while let Some(w) = words.get(i) {
        let starts_expression =
            w.is_literal() && (w.text.starts_with('-') || matches!(w.text.as_str(), "(" | "!" | ","));
        if starts_expression {
            break;
        }
        if w.may_be_option {
            return Err(fail(
                i,
                format!(
                    "the start point `{}` is computed when it runs and could be a find action that writes; quote it or write it literally",
                    w.text
                ),
            ));
        }
        i += 1;
    }
    while let Some(w) = words.get(i) {
        if !w.is_literal() {
            return Err(fail(i, format!("`{}` is computed when it runs where find expects a test or action", w.text)));
        }
        let t = w.text.as_str();
        let newer_xy = t.len() == 9 && t.starts_with("-newer") && t[6..].bytes().all(|b| b"acmBt".contains(&b));
        if FLAGS.contains(&t) {
            i += 1;
        } else if WITH_VALUE.contains(&t) || newer_xy {
            if words.get(i + 1).is_none() {
                return Err(fail(i, format!("`{t}` needs a value")));
            }
            i += 2;
        } else if t == "-files0-from" {
            if let Some(f) = words.get(i + 1) {
                reads.push(content(f));
            }
            i += 2;
        } else {
            return Err(match t {
                "-delete" => fail(i, "`-delete` deletes files"),
                "-exec" | "-execdir" | "-ok" | "-okdir" => fail_opaque(i, format!("`{t}` runs a command")),
                "-fprint" | "-fprint0" | "-fprintf" | "-fls" => fail(i, format!("`{t}` writes a file")),
                _ => fail(i, format!("`{t}` is not a find test or action the policy knows to only read")),
            });
        }
    }
    Ok(reads)
}

/// Splits `awk`'s words into options, program and files; the program may
/// match, compute and print, but not run commands (`system`, `|`), read
/// through `getline`, or print into files (`print > f`).
pub(crate) fn awk(p: &Parsed) -> Checked {
    let words = p.words;
    let mut i = 1;
    while let Some(w) = words.get(i) {
        if !w.is_literal() {
            return Err(fail(i, format!("`{}` is computed when it runs", w.text)));
        }
        match w.text.as_str() {
            "--" => {
                i += 1;
                break;
            }
            "-F" | "-v" => i += 2,
            "-S" | "--sandbox" | "--posix" => i += 1,
            t if t.starts_with("-F") || t.starts_with("-v") => i += 1,
            t if t.starts_with('-') && t.len() > 1 => {
                return Err(fail(i, format!("`{t}` is not an awk option the policy allows (only -F and -v)")));
            }
            _ => break,
        }
    }
    let Some(program) = words.get(i) else { return Ok(Vec::new()) };
    if !program.is_literal() {
        return Err(fail(i, "the awk program is computed when it runs; write it literally"));
    }
    if let Err((why, runs)) = awk_program(&program.text) {
        return Err(if runs { fail_opaque(i, why) } else { fail(i, why) });
    }
    // The rest are files, or `name=value` assignments awk makes between them.
    Ok(words[i + 1..].iter().filter(|w| !w.text.contains('=') || w.text.starts_with('/')).map(content).collect())
}

/// `Err((why, runs_commands))` when the program is not a read.
fn awk_program(program: &str) -> Result<(), (String, bool)> {
    let code = strip_awk_literals(program);
    for word in ["system", "getline", "close", "fflush"] {
        if has_identifier(&code, word) {
            return Err((format!("the awk program calls `{word}`, which can run commands or open files"), true));
        }
    }
    if code.contains('@') {
        return Err(("the awk program uses `@` (an extension, include or indirect call)".into(), true));
    }
    let b = code.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'|' && b.get(i + 1) != Some(&b'|') && (i == 0 || b[i - 1] != b'|') {
            return Err(("the awk program pipes into or from a command (`|`)".into(), true));
        }
    }
    // `>` after `print` or `printf`, outside parentheses, within one statement, prints into a file.
    for statement in code.split([';', '{', '}', '\n']) {
        let mut depth = 0i32;
        let mut printing = false;
        let bytes = statement.as_bytes();
        let mut j = 0;
        while j < bytes.len() {
            match bytes[j] {
                b'(' => depth += 1,
                b')' => depth -= 1,
                b'>' if depth <= 0 && printing => {
                    return Err(("the awk program prints into a file (`print > file`)".into(), false));
                }
                c if c.is_ascii_alphabetic() => {
                    let start = j;
                    while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                        j += 1;
                    }
                    if matches!(&statement[start..j], "print" | "printf") {
                        printing = true;
                    }
                    continue;
                }
                _ => {}
            }
            j += 1;
        }
    }
    Ok(())
}

/// An awk program with its strings and regular expressions blanked out.
fn strip_awk_literals(program: &str) -> String {
    let mut out = String::with_capacity(program.len());
    let mut chars = program.chars().peekable();
    let mut last_significant = ' ';
    while let Some(c) = chars.next() {
        let regex_start = c == '/' && (last_significant == ' ' || "(,{};!~&|=:\n?".contains(last_significant));
        if c == '"' || regex_start {
            let end = c;
            while let Some(d) = chars.next() {
                if d == '\\' {
                    chars.next();
                } else if d == end {
                    break;
                }
            }
            out.push('_');
            last_significant = '_';
            continue;
        }
        if c == '#' {
            // A comment, to the end of the line.
            for d in chars.by_ref() {
                if d == '\n' {
                    out.push('\n');
                    break;
                }
            }
            last_significant = '\n';
            continue;
        }
        out.push(c);
        if !c.is_whitespace() || c == '\n' {
            last_significant = c;
        }
    }
    out
}

fn has_identifier(code: &str, word: &str) -> bool {
    code.match_indices(word).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let after = code[i + word.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

/// `sed [-n] [-E] SCRIPT FILE…`: the script may not write (`w`, `s///w`),
/// run commands (`e`, `s///e`) or edit in place (`-i`); `r FILE` reads.
pub(crate) fn sed(p: &Parsed) -> Checked {
    let words = p.words;
    let mut scripts: Vec<usize> = Vec::new();
    let mut files: Vec<usize> = Vec::new();
    let mut i = 1;
    let mut options_done = false;
    while let Some(w) = words.get(i) {
        if !w.is_literal() && (!options_done && w.may_be_option) {
            return Err(fail(i, format!("`{}` is computed when it runs and could be an option of sed", w.text)));
        }
        let t = w.text.as_str();
        if options_done || !t.starts_with('-') || t == "-" {
            files.push(i);
            i += 1;
            continue;
        }
        match t {
            "--" => options_done = true,
            "-n" | "--quiet" | "--silent" | "-E" | "-r" | "--regexp-extended" | "-s" | "--separate" | "-z"
            | "--null-data" | "-u" | "--unbuffered" | "--posix" | "--debug" | "--sandbox" => {}
            "-e" => {
                scripts.push(i + 1);
                i += 1;
            }
            "-l" | "--line-length" => i += 1,
            t if t.starts_with("--expression=") || t.starts_with("--line-length=") => {}
            t if t.starts_with("-e") => scripts.push(i),
            t if t.len() > 2 && !t.starts_with("--") && t[1..].bytes().all(|b| b"nEsruz".contains(&b)) => {}
            t if t.starts_with("-i") || t.starts_with("--in-place") => {
                return Err(fail(i, "`-i` edits files in place"));
            }
            other => return Err(fail(i, format!("`{other}` is not a sed option the policy knows to only read"))),
        }
        i += 1;
    }
    if scripts.is_empty() {
        if files.is_empty() {
            return Ok(Vec::new());
        }
        scripts.push(files.remove(0));
    }
    let mut reads: Vec<PathUse> = Vec::new();
    for k in scripts {
        let Some(w) = words.get(k) else { return Err(fail(k - 1, "-e needs a script")) };
        if !w.is_literal() {
            return Err(fail(k, "the sed script is computed when it runs; write it literally"));
        }
        let text = w.text.strip_prefix("--expression=").or_else(|| w.text.strip_prefix("-e")).unwrap_or(&w.text);
        let text = if k > 0 && words[k - 1].text == "-e" { w.text.as_str() } else { text };
        let script = sed_script(text).map_err(|(why, runs)| if runs { fail_opaque(k, why) } else { fail(k, why) })?;
        for read in script {
            reads.push(content(&Word::literal(read)));
        }
    }
    reads.extend(files.into_iter().map(|k| content(&words[k])));
    Ok(reads)
}

/// Reads a sed script; returns the files its `r`/`R` commands read, or why
/// it is not a read and whether that is because it runs commands.
fn sed_script(script: &str) -> Result<Vec<String>, (String, bool)> {
    let s: Vec<char> = script.chars().collect();
    let mut reads = Vec::new();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < s.len() && (s[*i] == ' ' || s[*i] == '\t') {
            *i += 1;
        }
    };
    // Up to an unescaped `delim`; returns the index after it.
    let until = |mut i: usize, delim: char| -> Result<usize, (String, bool)> {
        while i < s.len() {
            if s[i] == '\\' {
                i += 2;
                continue;
            }
            if s[i] == delim {
                return Ok(i + 1);
            }
            i += 1;
        }
        Err(("an unterminated expression in the sed script".into(), false))
    };
    let rest_of_line = |i: usize| -> (String, usize) {
        let end = s[i..].iter().position(|&c| c == '\n').map_or(s.len(), |n| i + n);
        (s[i..end].iter().collect::<String>().trim().to_string(), end)
    };
    while i < s.len() {
        let c = s[i];
        if c.is_whitespace() || c == ';' || c == '}' {
            i += 1;
            continue;
        }
        // Addresses: numbers, $, /re/, \cREc, first~step, ranges, !.
        loop {
            match s.get(i) {
                Some(d) if d.is_ascii_digit() || *d == '$' || *d == '~' || *d == ',' || *d == '+' => i += 1,
                Some('/') => i = until(i + 1, '/')?,
                Some('\\') => {
                    let delim = *s.get(i + 1).ok_or(("a dangling \\ in the sed script".to_string(), false))?;
                    i = until(i + 2, delim)?;
                }
                Some(' ') | Some('!') => i += 1,
                Some('I') | Some('M') if i > 0 && s[i - 1] == '/' => i += 1,
                _ => break,
            }
        }
        let Some(&cmd) = s.get(i) else { break };
        i += 1;
        match cmd {
            '{' | '=' | 'd' | 'D' | 'g' | 'G' | 'h' | 'H' | 'n' | 'N' | 'p' | 'P' | 'x' | 'z' | 'F' => {}
            'q' | 'Q' | 'l' | 'L' => {
                while s.get(i).is_some_and(|c| c.is_ascii_digit() || *c == ' ') {
                    i += 1;
                }
            }
            '#' | ':' | 'b' | 't' | 'T' | 'v' | 'a' | 'i' | 'c' => {
                // A label, comment or text: to the end of the line (or `;` for labels).
                while i < s.len() && s[i] != '\n' && !(matches!(cmd, 'b' | 't' | 'T' | 'v') && s[i] == ';') {
                    if s[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            'r' | 'R' => {
                skip_ws(&mut i);
                let (file, end) = rest_of_line(i);
                reads.push(file);
                i = end;
            }
            'w' | 'W' => return Err(("the sed script writes a file (`w`)".into(), false)),
            'e' => return Err(("the sed script runs a command (`e`)".into(), true)),
            's' | 'y' => {
                let delim = *s.get(i).ok_or(("an unterminated s command in the sed script".to_string(), false))?;
                if delim == '\n' || delim == '\\' {
                    return Err(("an s command with an unusual delimiter".into(), false));
                }
                i = until(i + 1, delim)?;
                i = until(i, delim)?;
                if cmd == 's' {
                    while let Some(&f) = s.get(i) {
                        match f {
                            'g' | 'p' | 'i' | 'I' | 'm' | 'M' | '0'..='9' => i += 1,
                            'w' => return Err(("the sed script writes a file (`s///w`)".into(), false)),
                            'e' => return Err(("the sed script runs a command (`s///e`)".into(), true)),
                            _ => break,
                        }
                    }
                }
            }
            other => return Err((format!("`{other}` is not a sed command the policy knows to only read"), false)),
        }
    }
    Ok(reads)
}

/// `jq [OPTIONS] FILTER [FILE…]`: jq cannot write or run anything; it reads
/// its files and those `--slurpfile`, `--rawfile` and `-f` name.
pub(crate) fn jq(p: &Parsed) -> Checked {
    const FLAGS: &[&str] = &[
        "-r",
        "-j",
        "-a",
        "-c",
        "-n",
        "-s",
        "-e",
        "-S",
        "-C",
        "-M",
        "-R",
        "--tab",
        "--seq",
        "--stream",
        "--stream-errors",
        "--raw-input",
        "--raw-output",
        "--raw-output0",
        "--join-output",
        "--ascii-output",
        "--compact-output",
        "--null-input",
        "--slurp",
        "--exit-status",
        "--sort-keys",
        "--color-output",
        "--monochrome-output",
        "--unbuffered",
        "--args",
        "--jsonargs",
    ];
    let words = p.words;
    let mut reads = Vec::new();
    let mut filter_seen = false;
    let mut i = 1;
    let mut options_done = false;
    while let Some(w) = words.get(i) {
        let t = w.text.as_str();
        let option = !options_done && w.may_be_option;
        if option && !w.is_literal() {
            return Err(fail(i, format!("`{t}` is computed when it runs and could be an option of jq")));
        }
        if option {
            match t {
                "--" => options_done = true,
                "--indent" => i += 1,
                "--arg" | "--argjson" => i += 2,
                "--slurpfile" | "--rawfile" => {
                    if let Some(f) = words.get(i + 2) {
                        reads.push(content(f));
                    }
                    i += 2;
                }
                "-f" | "--from-file" => {
                    if let Some(f) = words.get(i + 1) {
                        reads.push(content(f));
                    }
                    filter_seen = true;
                    i += 1;
                }
                "-L" => i += 1,
                t if FLAGS.contains(&t) => {}
                t if t.len() > 2 && !t.starts_with("--") && t[1..].bytes().all(|b| b"rjacnseSCMR".contains(&b)) => {}
                other => return Err(fail(i, format!("`{other}` is not a jq option the policy knows"))),
            }
        } else if !filter_seen {
            filter_seen = true;
        } else {
            reads.push(content(w));
        }
        i += 1;
    }
    Ok(reads)
}

/// `tar -tf ARCHIVE` lists and `tar -xOf ARCHIVE` extracts to standard
/// output; anything else writes files.
pub(crate) fn tar(p: &Parsed) -> Checked {
    if p.has("-t") || (p.has("-x") && p.has("-O")) {
        return Ok(Vec::new());
    }
    Err(fail(
        None,
        "tar only reads with -t (list) or -x -O (to standard output); write options with a dash: tar -tvf ARCHIVE",
    ))
}

pub(crate) fn ufw_status(p: &Parsed) -> Checked {
    match p.operand(0) {
        None => Ok(Vec::new()),
        Some(w) if w.is_literal() && matches!(w.text.as_str(), "verbose" | "numbered") => Ok(Vec::new()),
        Some(w) => Err(fail(p.operands[0], format!("`ufw status {}` is not a way of reading the status", w.text))),
    }
}

/// `iptables -S` and `-L` list; everything else changes the rules.
pub(crate) fn iptables(p: &Parsed) -> Checked {
    if p.has("-S") || p.has("-L") { Ok(Vec::new()) } else { Err(fail(None, "iptables reads only with -S or -L")) }
}

/// `sshd -T` prints the configuration and `-t` checks it; without them sshd starts a server.
pub(crate) fn sshd(p: &Parsed) -> Checked {
    if p.has("-T") || p.has("-t") || p.has("-G") {
        Ok(p.value("-f").map(content).into_iter().collect())
    } else {
        Err(fail(None, "sshd only reads with -T, -t or -G; without them it starts a server"))
    }
}

/// TrueNAS middleware calls that read: `*.query`, `*.config`, `*.get_*`.
pub(crate) fn midclt(p: &Parsed) -> Checked {
    let Some(method) = p.operand(0) else { return Ok(Vec::new()) };
    if !method.is_literal() {
        return Err(fail(p.operands[0], "the method is computed when it runs"));
    }
    let last = method.text.rsplit('.').next().unwrap_or("");
    if matches!(last, "query" | "config" | "get_instance") || last.starts_with("get_") {
        Ok(Vec::new())
    } else {
        Err(fail(
            p.operands[0],
            format!(
                "`{}` is not a middleware method the policy knows to only read (…query, …config, …get_*)",
                method.text
            ),
        ))
    }
}

/// `curl` fetching web pages: http(s) URLs only, GET or HEAD, no headers
/// or formats read from files (`-H @/etc/shadow` would send it), output to
/// standard output or `/dev/null` only.
pub(crate) fn curl(p: &Parsed) -> Checked {
    let web = |w: &Word| {
        let t = w.prefix().to_ascii_lowercase();
        t.starts_with("http://") || t.starts_with("https://")
    };
    let urls = p.operands.iter().map(|&k| (Some(k), &p.words[k]));
    let more = p.opts.iter().filter(|(n, _)| *n == "--url").filter_map(|(_, v)| v.as_ref().map(|v| (None, v)));
    for (k, url) in urls.chain(more) {
        if !web(url) {
            return Err(fail(k, format!("`{}` is not an http:// or https:// URL written literally", url.text)));
        }
    }
    for (name, value) in p.opts {
        let Some(v) = value else { continue };
        let bad = match *name {
            "-X" => !(v.is_literal() && matches!(v.text.as_str(), "GET" | "HEAD")),
            "-o" => !(v.is_literal() && matches!(v.text.as_str(), "/dev/null" | "-")),
            "-H" | "-w" => v.prefix().starts_with('@') || v.text.contains("%output{") || !v.is_literal(),
            _ => false,
        };
        if bad {
            return Err(fail(None, format!("`{name} {}` could send a file, change something, or write one", v.text)));
        }
    }
    Ok(Vec::new())
}

/// `git branch NAME` and `git tag NAME` create; with `--list` they read.
pub(crate) fn git_list_only(p: &Parsed) -> Checked {
    if p.operands.is_empty() || p.has("-l") {
        Ok(Vec::new())
    } else {
        Err(fail(p.operands[0], "with a name, this creates it; list with --list PATTERN"))
    }
}

/// `git reflog` and `git reflog show` read; `expire` and `delete` do not.
pub(crate) fn git_reflog(p: &Parsed) -> Checked {
    match p.operand(0) {
        Some(w) if !w.is_literal() || matches!(w.text.as_str(), "expire" | "delete" | "drop") => {
            Err(fail(p.operands[0], format!("`git reflog {}` changes the reflog", w.text)))
        }
        _ => Ok(Vec::new()),
    }
}

/// `git config --get NAME`, `--list`, `git config get NAME`; a name and a value set it.
pub(crate) fn git_config(p: &Parsed) -> Checked {
    let reading_option = ["--get", "--get-all", "--get-regexp", "--get-urlmatch", "-l"].iter().any(|o| p.has(o));
    let reading_verb = p.operand(0).is_some_and(|w| w.is_literal() && matches!(w.text.as_str(), "get" | "list"));
    if reading_option || reading_verb {
        Ok(p.value("-f").map(content).into_iter().collect())
    } else {
        Err(fail(None, "git config without --get or --list sets a value"))
    }
}

/// `ip [OPTIONS] OBJECT [show|list] …`: showing addresses, links, routes,
/// neighbours and rules. `ip` accepts abbreviations of its words, so only
/// the full words and the short forms it resolves are taken.
pub(crate) fn ip(p: &Parsed) -> Checked {
    const OPTIONS: &[&str] = &[
        "-4",
        "-6",
        "-0",
        "-s",
        "-stats",
        "-statistics",
        "-d",
        "-details",
        "-j",
        "-json",
        "-p",
        "-pretty",
        "-br",
        "-brief",
        "-o",
        "-oneline",
        "-h",
        "-human",
        "-human-readable",
        "-t",
        "-timestamp",
        "-N",
        "-Numeric",
        "-c",
        "-color",
    ];
    const OBJECTS: &[&str] = &[
        "a",
        "ad",
        "addr",
        "address",
        "l",
        "li",
        "link",
        "r",
        "ro",
        "route",
        "ru",
        "rule",
        "n",
        "neigh",
        "neighbor",
        "neighbour",
        "m",
        "maddr",
        "maddress",
    ];
    let words = p.words;
    let mut i = 1;
    while let Some(w) = words.get(i).filter(|w| w.text.starts_with('-') || w.may_be_option) {
        if !(w.is_literal() && (OPTIONS.contains(&w.text.as_str()) || w.text.starts_with("-color="))) {
            return Err(fail(i, format!("`{}` is not an ip option the policy knows to only read", w.text)));
        }
        i += 1;
    }
    let Some(object) = words.get(i) else { return Ok(Vec::new()) };
    if !(object.is_literal() && OBJECTS.contains(&object.text.as_str())) {
        return Err(fail(i, format!("`ip {}` is not an object the policy knows how to read", object.text)));
    }
    match words.get(i + 1) {
        None => Ok(Vec::new()),
        Some(verb) if verb.is_literal() && matches!(verb.text.as_str(), "show" | "list" | "lst" | "get") => {
            Ok(Vec::new())
        }
        Some(verb) if verb.text.starts_with('-') => Err(fail(i + 1, "options go before the object")),
        Some(verb) => {
            Err(fail(i + 1, format!("`ip {} {}` is not a way of showing it; use show", object.text, verb.text)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awk_programs_that_only_compute_and_print_read() {
        for ok in [
            "{print $1}",
            "$5+0 > 85 {print $6}",
            "{ if ($3 > 80) print $1, $3 }",
            "/err|warn/ {n++} END {print n}",
            "$0 ~ /a>b/ {print}",
            "{ printf \"%s > %s\\n\", $1, $2 }",
            "{ s += $2 } END { print s / 1024 }",
            "NR > 1 && $1 != \"x\" || $2 >= 3",
        ] {
            assert!(awk_program(ok).is_ok(), "{ok}: {:?}", awk_program(ok));
        }
        for bad in [
            "{system(\"rm -rf /\")}",
            "{print > \"/tmp/x\"}",
            "{print $1 >> \"/etc/passwd\"}",
            "{ if (x) print $1 > \"f\" }",
            "{print | \"sh\"}",
            "{\"id\" | getline x}",
            "BEGIN { while ((getline l < \"/etc/shadow\") > 0) print l }",
            "@load \"filefuncs\"",
            "{ printf(\"x\") > \"/tmp/y\" }",
        ] {
            assert!(awk_program(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sed_scripts_that_write_or_run_are_not_reads() {
        for ok in ["s/a/b/g", "1,10p", "/^#/d; s|/usr|/opt|g", "$!N;P;D", "y/abc/xyz/", "/x/{p;q}", "s/a\\/b/c/2"] {
            assert!(sed_script(ok).is_ok(), "{ok}: {:?}", sed_script(ok));
        }
        assert_eq!(sed_script("r /etc/shadow").unwrap(), ["/etc/shadow"]);
        for bad in ["w /tmp/x", "s/a/b/w /tmp/x", "s/a/id/e", "e rm -rf /", "1W out", "s/x/y/gw f", "/a/ { w f }"] {
            assert!(sed_script(bad).is_err(), "{bad}");
        }
    }
}
