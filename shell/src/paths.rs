//! What a path names. Rules name paths as written (`Read(//etc/shadow)`),
//! but a command can reach the same file another way: `/etc/../etc/shadow`,
//! `/proc/self/root/etc/shadow`, a symbolic link. [`resolve`] gives every
//! form a rule should be matched against, and says when a path could name
//! anything (`/dev/fd/3`, `/proc/1/cwd/x`).

use std::path::{Path, PathBuf};

/// How far to resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolve {
    /// Only by the text: `..`, `.`, `//` and `/proc/*/root`.
    Lexical,
    /// Also follow symbolic links on this machine (the node the command runs on).
    Filesystem,
}

/// The forms of one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Absolute forms, the lexical one first; one relative form when the
    /// directory it is relative to is not known.
    pub forms: Vec<String>,
    /// The path goes through a file descriptor or another process's working
    /// directory: it could name any file.
    pub opaque: bool,
}

impl Resolved {
    pub fn is_absolute(&self) -> bool {
        self.forms.first().is_some_and(|f| f.starts_with('/'))
    }
}

/// Every form of `path` (relative to `cwd` when it is relative and `cwd` is known).
pub fn resolve(path: &str, cwd: Option<&str>, how: Resolve) -> Resolved {
    let lexical = normalize(path, cwd);
    let mut forms = vec![lexical.clone()];
    let mut opaque = false;
    if lexical.starts_with('/') {
        let mut current = lexical;
        // `/proc/self/root/proc/1/root/etc` takes two steps.
        for _ in 0..8 {
            match through_proc(&current) {
                Proc::Plain => break,
                Proc::Opaque => {
                    opaque = true;
                    break;
                }
                Proc::Root(rest) => {
                    current = rest;
                    if !forms.contains(&current) {
                        forms.push(current.clone());
                    }
                }
            }
        }
        if how == Resolve::Filesystem {
            let joined = match cwd {
                Some(dir) if !path.starts_with('/') => Path::new(dir).join(path),
                _ => PathBuf::from(path),
            };
            if let Some(real) = canonical(&joined)
                && !forms.contains(&real)
            {
                forms.push(real);
            }
        }
    }
    Resolved { forms, opaque }
}

enum Proc {
    Plain,
    /// `/proc/PID/root/REST` is `/REST`.
    Root(String),
    /// Through a descriptor or another process's directories.
    Opaque,
}

fn through_proc(path: &str) -> Proc {
    if path == "/dev/fd" || path.starts_with("/dev/fd/") || matches!(path, "/dev/stdin" | "/dev/stdout" | "/dev/stderr")
    {
        return Proc::Opaque;
    }
    let Some(rest) = path.strip_prefix("/proc/") else { return Proc::Plain };
    let mut segs = rest.splitn(3, '/');
    let (Some(_pid), Some(what)) = (segs.next(), segs.next()) else { return Proc::Plain };
    let tail = segs.next().unwrap_or("");
    match what {
        "root" => Proc::Root(normalize(&format!("/{tail}"), None)),
        "cwd" | "fd" | "map_files" | "exe" | "task" | "fdinfo" => Proc::Opaque,
        _ => Proc::Plain,
    }
}

/// The real path of `path`: its longest existing prefix with symbolic
/// links followed, and the rest as written.
fn canonical(path: &Path) -> Option<String> {
    let mut head = path.to_path_buf();
    let mut tail: Vec<std::ffi::OsString> = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(&head) {
            let mut full = real;
            for part in tail.iter().rev() {
                full.push(part);
            }
            return full.to_str().map(|s| normalize(s, None));
        }
        let name = head.file_name()?.to_os_string();
        tail.push(name);
        if !head.pop() {
            return None;
        }
    }
}

/// Lexically normalise a path: resolve it against `base` when relative and a
/// base is known, collapse `//`, drop `.`, apply `..`. Symlinks are not
/// followed: this is a pure function, and rules name the paths as written.
pub fn normalize(path: &str, base: Option<&str>) -> String {
    let joined;
    let path = match base {
        Some(b) if !path.starts_with('/') => {
            joined = format!("{}/{path}", b.trim_end_matches('/'));
            joined.as_str()
        }
        _ => path,
    };
    let absolute = path.starts_with('/');
    let mut segs: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if segs.last().is_some_and(|s| *s != "..") {
                    segs.pop();
                } else if !absolute {
                    segs.push("..");
                }
            }
            s => segs.push(s),
        }
    }
    let body = segs.join("/");
    if absolute {
        format!("/{body}")
    } else if body.is_empty() {
        ".".to_string()
    } else {
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_lexically() {
        assert_eq!(normalize("/etc/../root/.ssh//id_rsa", None), "/root/.ssh/id_rsa");
        assert_eq!(normalize("/../../etc/./shadow", None), "/etc/shadow");
        assert_eq!(normalize("src/../Cargo.toml", Some("/work")), "/work/Cargo.toml");
        assert_eq!(normalize("../x", None), "../x");
        assert_eq!(normalize("/", None), "/");
    }

    #[test]
    fn another_processs_root_is_the_root_and_descriptors_are_opaque() {
        let r = resolve("/proc/self/root/etc/shadow", None, Resolve::Lexical);
        assert!(r.forms.contains(&"/etc/shadow".to_string()) && !r.opaque, "{r:?}");
        let r = resolve("/proc/1/root/proc/self/root/etc/../etc/shadow", None, Resolve::Lexical);
        assert!(r.forms.contains(&"/etc/shadow".to_string()), "{r:?}");
        assert!(
            resolve("/proc/thread-self/root/etc/shadow", None, Resolve::Lexical).forms.contains(&"/etc/shadow".into())
        );
        for opaque in ["/dev/fd/3", "/proc/self/fd/3", "/proc/1/cwd/etc/shadow", "/dev/stdin"] {
            assert!(resolve(opaque, None, Resolve::Lexical).opaque, "{opaque}");
        }
        assert!(!resolve("/proc/cpuinfo", None, Resolve::Lexical).opaque);
    }

    #[test]
    fn symbolic_links_are_followed_on_the_filesystem() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "x").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        let real = std::fs::canonicalize(&secret).unwrap().display().to_string();
        let r = resolve(&link.display().to_string(), None, Resolve::Filesystem);
        assert!(r.forms.contains(&real), "{r:?}");
        // A missing file below a linked folder: the folder is followed.
        let linked_dir = dir.path().join("d");
        std::os::unix::fs::symlink(dir.path(), &linked_dir).unwrap();
        let r = resolve("d/missing", Some(&dir.path().display().to_string()), Resolve::Filesystem);
        let real_dir = std::fs::canonicalize(dir.path()).unwrap().display().to_string();
        assert!(r.forms.contains(&format!("{real_dir}/missing")), "{r:?}");
        // Lexical resolution never touches the filesystem.
        assert_eq!(resolve(&link.display().to_string(), None, Resolve::Lexical).forms.len(), 1);
    }
}
