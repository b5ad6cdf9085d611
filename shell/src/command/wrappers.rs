//! Programs that run another program: `timeout 5 zpool status`, `env
//! LANG=C ls`, `xargs docker inspect`, `sudo smartctl -H /dev/sda`. Each is
//! read with its own options, and the command is then judged as the program
//! it runs; a wrapper option the table does not know, or one that changes
//! more than the program's time, priority or buffering, keeps it from being
//! a read.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::spec::Level;

/// Where a wrapper's program starts among its operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inner {
    /// The first operand: `nice -n 5 CMD`.
    First,
    /// After one operand: `timeout 5 CMD`.
    Second,
    /// After `NAME=VALUE` operands: `env LANG=C CMD`.
    AfterAssignments,
    /// The first operand, and it adds arguments read from its input (or
    /// puts them where `-I` says): `xargs CMD`.
    Xargs,
}

pub(crate) struct Wrapper {
    pub level: Level,
    pub inner: Inner,
    /// With one of these options it runs nothing and only prints (`command -v`).
    pub prints_with: &'static [&'static str],
}

static WRAPPERS: LazyLock<HashMap<&'static str, Wrapper>> = LazyLock::new(|| {
    let w = |opts: &'static str, inner: Inner| Wrapper {
        level: Level::with(opts).options_first(),
        inner,
        prints_with: &[],
    };
    HashMap::from([
        ("timeout", w("-k=|--kill-after= -s=|--signal= --preserve-status --foreground -v|--verbose", Inner::Second)),
        ("nice", w("-n=|--adjustment=", Inner::First)),
        ("ionice", w("-c=|--class= -n=|--classdata= -t|--ignore", Inner::First)),
        ("stdbuf", w("-i=|--input= -o=|--output= -e=|--error=", Inner::First)),
        ("builtin", w("", Inner::First)),
        ("exec", w("-c -l -a=", Inner::First)),
        ("time", w("-p", Inner::First)),
        ("nohup", w("", Inner::First)),
        ("setsid", w("-c|--ctty -f|--fork -w|--wait", Inner::First)),
        ("command", Wrapper { prints_with: &["-v", "-V"], ..w("-p -v -V", Inner::First) }),
        (
            "sudo",
            Wrapper {
                prints_with: &["-l"],
                ..w(
                    "-n|--non-interactive -H|--set-home -E|--preserve-env -P|--preserve-groups -u=|--user= -g=|--group= -l|--list",
                    Inner::First,
                )
            },
        ),
        ("env", w("-i|--ignore-environment -0|--null -u=|--unset= -C=|--chdir=", Inner::AfterAssignments)),
        (
            "xargs",
            w(
                "-0|--null -r|--no-run-if-empty -t|--verbose -x|--exit -n=|--max-args= -L=|--max-lines= \
                 -P=|--max-procs= -s=|--max-chars= -d=|--delimiter= -E= -I=|--replace= -a=path|--arg-file=path",
                Inner::Xargs,
            ),
        ),
    ])
});

pub(crate) fn get(name: &str) -> Option<&'static Wrapper> {
    WRAPPERS.get(name)
}
