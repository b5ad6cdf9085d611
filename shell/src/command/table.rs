//! The programs the policy knows, and for each the subcommands and options
//! that only read. Written from each program's manual (GNU coreutils 9,
//! util-linux 2.38, systemd 252, OpenZFS 2.2, smartmontools 7.3, Docker 27,
//! apt 2.6, restic 0.16, borg 1.2, git 2.39, curl 7.88, iproute2 6.1) for
//! the commands the built-in agents and their prompts use, and what a model
//! reaches for next to them. What is left out is not a read: an option
//! that writes a file (`sort -o`, `curl -o`, `git log --output`), runs a
//! program (`sort --compress-program`, `restic --password-command`,
//! `zpool status -c`, `tar --to-command`), or changes state (`zpool events
//! -c`, `smartctl -s`, `journalctl --rotate`, `date -s`).
//!
//! `basic` programs read without an allow rule naming them; the rest read
//! only where an agent's allow rules name them.

use super::custom;
use super::spec::{Access, Level, Operands, Program, Table};

use Access::{Content, Data, Meta};

fn any(access: Access) -> Operands {
    Operands::Any(access)
}

pub(crate) fn programs() -> Table {
    let mut t = Table::new();
    let mut add = |name: &'static str, program: Program| {
        assert!(t.insert(name, program).is_none(), "{name} twice");
    };

    // --- Basic: reading the machine's files and state -----------------------
    add("echo", Program::new(Level::raw(custom::anything)).basic());
    add("true", Program::new(Level::raw(custom::anything)).basic());
    add("false", Program::new(Level::raw(custom::anything)).basic());
    add(":", Program::new(Level::raw(custom::anything)).basic());
    add("test", Program::new(Level::raw(custom::anything)).basic());
    add("[", Program::new(Level::raw(custom::anything)).basic());
    add("printf", Program::new(Level::with("").operands(any(Data)).options_first()).basic());
    add("pwd", Program::new(Level::with("-L -P").closed()).basic());
    add("cd", Program::new(Level::with("-L -P -e").operands(Operands::AtMost(1, Meta))).basic());
    add("sleep", Program::new(Level::with("").closed().operands(any(Data))).basic());
    add("whoami", Program::new(Level::with("").closed()).basic());
    add("nproc", Program::new(Level::with("--all --ignore=").closed()).basic());
    add("type", Program::new(Level::with("-a -f -P -p -t").closed().operands(any(Data))).basic());
    add("which", Program::new(Level::with("-a").closed().operands(any(Data))).basic());
    add(
        "basename",
        Program::new(Level::with("-a|--multiple -s=|--suffix= -z|--zero").closed().operands(any(Data))).basic(),
    );
    add("dirname", Program::new(Level::with("-z|--zero").closed().operands(any(Data))).basic());
    add(
        "readlink",
        Program::new(
            Level::with("-f|--canonicalize -e|--canonicalize-existing -m|--canonicalize-missing -n|--no-newline -q|--quiet -s|--silent -v|--verbose -z|--zero")
                .closed()
                .operands(any(Meta)),
        )
        .basic(),
    );
    add(
        "realpath",
        Program::new(
            Level::with("-e|--canonicalize-existing -m|--canonicalize-missing -L|--logical -P|--physical -q|--quiet -s|--strip|--no-symlinks -z|--zero --relative-to= --relative-base=")
                .closed()
                .operands(any(Meta)),
        )
        .basic(),
    );
    add(
        "ls",
        Program::new(
            Level::with(
                "-a|--all -A|--almost-all --author -b|--escape --block-size= -B|--ignore-backups -c -C --color[=] \
                 -d|--directory -D|--dired -f -F|--classify[=] --file-type --format= --full-time -g \
                 --group-directories-first -G|--no-group -h|--human-readable --si -H|--dereference-command-line \
                 --dereference-command-line-symlink-to-dir --hide= --hyperlink[=] --indicator-style= -i|--inode \
                 -I=|--ignore= -k|--kibibytes -l -L|--dereference -m -n|--numeric-uid-gid -N|--literal -o -p \
                 -q|--hide-control-chars --show-control-chars -Q|--quote-name --quoting-style= -r|--reverse \
                 -R|--recursive -s|--size -S --sort= --time= --time-style= -t -T=|--tabsize= -u -U -v -w=|--width= \
                 -x -X -Z|--context --zero -1 --help --version",
            )
            .closed()
            .operands(any(Meta)),
        )
        .basic(),
    );
    add(
        "stat",
        Program::new(
            Level::with(
                "-L|--dereference -f|--file-system -c=|--format= --printf= -t|--terse --cached= --help --version",
            )
            .closed()
            .operands(any(Meta)),
        )
        .basic(),
    );
    add(
        "cat",
        Program::new(
            Level::with(
                "-A|--show-all -b|--number-nonblank -e -E|--show-ends -n|--number -s|--squeeze-blank -t \
                 -T|--show-tabs -u -v|--show-nonprinting --help --version",
            )
            .closed()
            .operands(any(Content)),
        )
        .basic(),
    );
    add(
        "tac",
        Program::new(Level::with("-b|--before -r|--regex -s=|--separator=").closed().operands(any(Content))).basic(),
    );
    add(
        "nl",
        Program::new(
            Level::with(
                "-b=|--body-numbering= -d=|--section-delimiter= -f=|--footer-numbering= -h=|--header-numbering= \
                 -i=|--line-increment= -l=|--join-blank-lines= -n=|--number-format= -p|--no-renumber \
                 -s=|--number-separator= -v=|--starting-line-number= -w=|--number-width=",
            )
            .closed()
            .operands(any(Content)),
        )
        .basic(),
    );
    let head = || {
        Level::with("-c=|--bytes= -n=|--lines= -q|--quiet|--silent -v|--verbose -z|--zero-terminated --help --version")
            .closed()
            .operands(any(Content))
            .counts()
    };
    add("head", Program::new(head()).basic());
    add(
        "tail",
        Program::new(
            Level::with(
                "-c=|--bytes= -f --follow[=] -F -n=|--lines= --max-unchanged-stats= --pid= -q|--quiet|--silent \
                 --retry -s=|--sleep-interval= -v|--verbose -z|--zero-terminated --help --version",
            )
            .closed()
            .operands(any(Content))
            .counts(),
        )
        .basic(),
    );
    add(
        "wc",
        Program::new(
            Level::with(
                "-c|--bytes -m|--chars -l|--lines --files0-from=path -L|--max-line-length -w|--words --total= \
                 --help --version",
            )
            .closed()
            .operands(any(Content)),
        )
        .basic(),
    );
    for md in ["md5sum", "sha1sum", "sha256sum", "sha512sum", "b2sum", "cksum"] {
        add(
            md,
            Program::new(
                Level::with(
                    "-b|--binary -c|--check -t|--text --tag -z|--zero --ignore-missing --quiet --status --strict \
                     -w|--warn -a=|--algorithm= -l=|--length= --untagged --base64 --raw --help --version",
                )
                .closed()
                .operands(any(Content)),
            )
            .basic(),
        );
    }
    let grep = || {
        Level::with(
            "-E|--extended-regexp -F|--fixed-strings -G|--basic-regexp -P|--perl-regexp -e=|--regexp= \
             -f=path|--file=path -i|--ignore-case -y --no-ignore-case -v|--invert-match -w|--word-regexp \
             -x|--line-regexp -c|--count --color[=]|--colour[=] -L|--files-without-match -l|--files-with-matches \
             -m=|--max-count= -o|--only-matching -q|--quiet|--silent -s|--no-messages -b|--byte-offset \
             -H|--with-filename -h|--no-filename --label= -n|--line-number -T|--initial-tab -Z|--null \
             -z|--null-data -A=|--after-context= -B=|--before-context= -C=|--context= -a|--text \
             --binary-files= -D=|--devices= -d=|--directories= --exclude= --exclude-from=path --exclude-dir= \
             -I --include= -r|--recursive -R|--dereference-recursive --line-buffered -U|--binary --help -V|--version",
        )
        .closed()
        .operands(Operands::Checked)
        .check(custom::grep)
    };
    for g in ["grep", "egrep", "fgrep"] {
        add(g, Program::new(grep()).basic());
    }
    add(
        "sort",
        Program::new(
            Level::with(
                "-b|--ignore-leading-blanks -d|--dictionary-order -f|--ignore-case -g|--general-numeric-sort \
                 -i|--ignore-nonprinting -M|--month-sort -h|--human-numeric-sort -n|--numeric-sort -R|--random-sort \
                 --random-source=path -r|--reverse -V|--version-sort --sort= -c|--check[=] -C -k=|--key= -m|--merge \
                 -s|--stable -S=|--buffer-size= -t=|--field-separator= -u|--unique -z|--zero-terminated --parallel= \
                 --debug --files0-from=path --help --version",
            )
            .operands(any(Content)),
        )
        .basic(),
    );
    add(
        "uniq",
        Program::new(
            Level::with(
                "-c|--count -d|--repeated -D --all-repeated[=] -f=|--skip-fields= --group[=] -i|--ignore-case \
                 -s=|--skip-chars= -u|--unique -z|--zero-terminated -w=|--check-chars= --help --version",
            )
            .closed()
            .operands(Operands::AtMost(1, Content)),
        )
        .basic(),
    );
    add(
        "cut",
        Program::new(
            Level::with(
                "-b=|--bytes= -c=|--characters= -d=|--delimiter= -f=|--fields= -n --complement -s|--only-delimited \
                 --output-delimiter= -z|--zero-terminated --help --version",
            )
            .closed()
            .operands(any(Content)),
        )
        .basic(),
    );
    add(
        "tr",
        Program::new(
            Level::with("-c|-C|--complement -d|--delete -s|--squeeze-repeats -t|--truncate-set1 --help --version")
                .closed()
                .operands(any(Data)),
        )
        .basic(),
    );
    add(
        "column",
        Program::new(
            Level::with(
                "-t|--table -s=|--separator= -o=|--output-separator= -c=|--output-width= -x|--fillrows \
                 -N=|--table-columns= -R=|--table-right= -H=|--table-hide= -J|--json -n=|--table-name= -l=|--table-columns-limit= \
                 -e|--table-header-repeat -W=|--table-wrap= -E=|--table-noextreme= -d|--table-noheadings -L|--keep-empty-lines \
                 -r=|--tree= -i=|--tree-id= -p=|--tree-parent=",
            )
            .closed()
            .operands(any(Content)),
        )
        .basic(),
    );
    add(
        "df",
        Program::new(
            Level::with(
                "-a|--all -B=|--block-size= -h|--human-readable -H|--si -i|--inodes -k -l|--local --no-sync --sync \
                 --output[=] -P|--portability --total -t=|--type= -T|--print-type -x=|--exclude-type= --help --version",
            )
            .closed()
            .operands(any(Meta)),
        )
        .basic(),
    );
    add(
        "du",
        Program::new(
            Level::with(
                "-0|--null -a|--all --apparent-size -B=|--block-size= -b|--bytes -c|--total -D|--dereference-args \
                 -d=|--max-depth= --files0-from=path -H -h|--human-readable --inodes -k -L|--dereference \
                 -l|--count-links -m -P|--no-dereference -S|--separate-dirs --si -s|--summarize -t=|--threshold= \
                 --time[=] --time-style= -X=path|--exclude-from=path --exclude= -x|--one-file-system --help --version",
            )
            .closed()
            .operands(any(Meta)),
        )
        .basic(),
    );
    add(
        "free",
        Program::new(
            Level::with(
                "-b|--bytes -k|--kibi -m|--mebi -g|--gibi --tebi --pebi --kilo --mega --giga --tera --peta \
                 -h|--human --si -l|--lohi -L|--line -t|--total -v|--committed -s=|--seconds= -c=|--count= -w|--wide \
                 --help -V|--version",
            )
            .closed(),
        )
        .basic(),
    );
    add("uptime", Program::new(Level::with("-p|--pretty -s|--since -h|--help -V|--version").closed()).basic());
    add(
        "date",
        Program::new(
            Level::with(
                "-d=|--date= -f=path|--file=path -I[=]|--iso-8601[=] -R|--rfc-email --rfc-3339= -r=|--reference= \
                 -u|--utc|--universal --debug --help --version",
            )
            .operands(Operands::Checked)
            .check(custom::date),
        )
        .basic(),
    );
    add(
        "id",
        Program::new(
            Level::with(
                "-a -Z|--context -g|--group -G|--groups -n|--name -r|--real -u|--user -z|--zero --help --version",
            )
            .closed()
            .operands(any(Data)),
        )
        .basic(),
    );
    add(
        "hostname",
        Program::new(Level::with(
            "-a|--alias -A|--all-fqdns -d|--domain -f|--fqdn|--long -i|--ip-address -I|--all-ip-addresses -s|--short \
             -y|--yp|--nis -h|--help -V|--version",
        ))
        .basic(),
    );
    add(
        "uname",
        Program::new(
            Level::with(
                "-a|--all -s|--kernel-name -n|--nodename -r|--kernel-release -v|--kernel-version -m|--machine \
                 -p|--processor -i|--hardware-platform -o|--operating-system --help --version",
            )
            .closed(),
        )
        .basic(),
    );
    // ps has no option that writes; its BSD options have no dash (`ps aux`).
    add("ps", Program::new(Level::raw(custom::anything)).basic());
    add(
        "file",
        Program::new(
            Level::with(
                "-b|--brief -i|--mime --mime-type --mime-encoding -L|--dereference -h|--no-dereference -z|--uncompress \
                 -Z|--uncompress-noreport -s|--special-files -k|--keep-going -r|--raw -0|--print0 -N|--no-pad -E \
                 -F=|--separator= -e=|--exclude= --exclude-quiet= -P=|--parameter= -m=path|--magic-file=path \
                 -n|--no-buffer -S|--no-sandbox --extension --apple --help -v|--version",
            )
            .operands(any(Content)),
        )
        .basic(),
    );
    add("set", Program::new(Level::raw(custom::set)).basic());
    add(
        "read",
        Program::new(
            Level::with("-r -s -e -a= -d= -n= -N= -p= -t= -u= -i=").operands(Operands::Checked).check(custom::read),
        )
        .basic(),
    );
    add("find", Program::new(Level::raw(custom::find)).basic());
    add("awk", Program::new(Level::raw(custom::awk)).basic());
    add("mawk", Program::new(Level::raw(custom::awk)).basic());
    add("gawk", Program::new(Level::raw(custom::awk)).basic());
    add("sed", Program::new(Level::raw(custom::sed)).basic());
    add("jq", Program::new(Level::raw(custom::jq)).basic());

    // --- Named: read only where an allow rule names them ---------------------
    add("zpool", zpool());
    add("zfs", zfs());
    add(
        "smartctl",
        Program::new(
            Level::with(
                "-h|--help|--usage -V|--version|--copyright|--license -i|--info --identify[=] -g=|--get= -a|--all \
                 -x|--xall --scan --scan-open -H|--health -c|--capabilities -A|--attributes -l=|--log= \
                 -d=|--device= -T=|--tolerance= -b=|--badsum= -r=|--report= -n=|--nocheck= -q=|--quietmode= \
                 -j|--json[=] -f=|--format= -F=|--firmwarebug= -v=|--vendorattribute= -B=path|--drivedb=path",
            )
            .operands(any(Data)),
        ),
    );
    add("journalctl", journalctl());
    add("systemctl", systemctl());
    add("docker", docker());
    add("podman", docker());
    add("apt", apt("apt"));
    add("apt-cache", apt("apt-cache"));
    add(
        "dpkg",
        Program::new(
            Level::with(
                "-l|--list -L|--listfiles -s|--status -S|--search -p|--print-avail --get-selections \
                 --print-architecture --print-foreign-architectures -V|--verify --verify-format= --audit -C \
                 --help --version --no-pager",
            )
            .operands(any(Data)),
        ),
    );
    add(
        "dpkg-query",
        Program::new(
            Level::with(
                "-l|--list -W|--show -s|--status -L|--listfiles -S|--search -p|--print-avail -f=|--showformat= \
                 --admindir= --no-pager --help --version",
            )
            .operands(any(Data)),
        ),
    );
    add("restic", restic());
    add("borg", borg());
    add("curl", Program::new(curl()));
    add("git", git());
    add(
        "tar",
        Program::new(
            Level::with(
                "-t|--list -x|--extract|--get -O|--to-stdout -f=path|--file=path -v|--verbose -z|--gzip|--gunzip \
                 -j|--bzip2 -J|--xz --zstd --lzma --lzip --lzop -a|--auto-compress --full-time --numeric-owner --utc \
                 --wildcards --no-wildcards --anchored --no-anchored --exclude= -T=path|--files-from=path --null \
                 -i|--ignore-zeros --occurrence[=] -C=|--directory= -b=|--blocking-factor= -B|--read-full-records \
                 --warning= --quoting-style= --show-transformed-names --label= --help --version",
            )
            .operands(any(Data))
            .check(custom::tar),
        ),
    );
    add(
        "ss",
        Program::new(
            Level::with(
                "-h|--help -V|--version -H|--no-header -O|--oneline -n|--numeric -r|--resolve -a|--all \
                 -l|--listening -o|--options -e|--extended -m|--memory -p|--processes -i|--info --tos --cgroup \
                 -T|--threads -s|--summary -E|--events -Z|--context -z|--contexts -N=|--net= -b|--bpf -4|--ipv4 \
                 -6|--ipv6 -0|--packet -t|--tcp -u|--udp -d|--dccp -w|--raw -x|--unix -S|--sctp --vsock --tipc \
                 --xdp -M|--mptcp --inet-sockets -f=|--family= -A=|--query=|--socket= -F=path|--filter=path",
            )
            .operands(any(Data)),
        ),
    );
    add(
        "lsblk",
        Program::new(
            Level::with(
                "-a|--all -b|--bytes -D|--discard -d|--nodeps -e=|--exclude= -f|--fs -I=|--include= -i|--ascii \
                 -J|--json -l|--list -M|--merge -m|--perms -n|--noheadings -o=|--output= -O|--output-all -P|--pairs \
                 -p|--paths -r|--raw -S|--scsi -s|--inverse -T[=]|--tree[=] -t|--topology -w=|--width= -x=|--sort= \
                 -z|--zoned --sysroot= -E=|--dedup= -Q=|--filter= -H|--list-columns -N|--nvme -v|--virtio \
                 -h|--help -V|--version",
            )
            .closed()
            .operands(any(Data)),
        ),
    );
    add(
        "findmnt",
        Program::new(
            Level::with(
                "-A|--all -a|--ascii -b|--bytes -C|--nocanonicalize -c|--canonicalize -D|--df -d=|--direction= \
                 -e|--evaluate -F=path|--tab-file=path -f|--first-only -i|--invert -J|--json -k|--kernel -l|--list \
                 -M=|--mountpoint= -m|--mtab -N=|--task= -n|--noheadings -O=|--options= -o=|--output= --output-all \
                 -P|--pairs -p[=]|--poll[=] -R|--submounts -r|--raw --real --pseudo -S=|--source= -s|--fstab \
                 -T=|--target= -t=|--types= --tree -U|--uniq -u|--notruncate -v|--nofsroot -w=|--timeout= \
                 -x|--verify --verbose --vfs-all --shadowed --hyperlink[=] -h|--help -V|--version",
            )
            .closed()
            .operands(any(Data)),
        ),
    );
    // lsof never writes; its options are not getopt's (`+L1`, `-i :22`).
    add("lsof", Program::new(Level::raw(custom::anything)));
    add(
        "who",
        Program::new(
            Level::with(
                "-a|--all -b|--boot -d|--dead -H|--heading -l|--login --lookup -m -p|--process -q|--count \
                 -r|--runlevel -s|--short -t|--time -T|-w|--mesg|--message|--writable -u|--users --ips --help --version",
            )
            .closed()
            .operands(Operands::AtMost(2, Data)),
        ),
    );
    add("w", Program::new(Level::with("-h|--no-header -u|--no-current -s|--short -f|--from -o|--old-style -i|--ip-addr -p|--pids --help -V|--version").closed().operands(any(Data))));
    for last in ["last", "lastb"] {
        add(
            last,
            Program::new(
                Level::with(
                    "-n=|--limit= -a|--hostlast -d|--dns -F|--fulltimes -i|--ip -R|--nohostname -w|--fullnames \
                     -x|--system -s=|--since= -t=|--until= -p=|--present= -f=path|--file=path --time-format= \
                     -h|--help -V|--version",
                )
                .closed()
                .operands(any(Data))
                .counts(),
            ),
        );
    }
    add(
        "ufw",
        Program::new(
            Level::default()
                .sub("status", Level::default().operands(Operands::AtMost(1, Data)).check(custom::ufw_status))
                .sub("show", Level::default().operands(Operands::AtMost(1, Data)))
                .sub("version", Level::default()),
        ),
    );
    add(
        "nft",
        Program::new(
            Level::with("-a|--handle -n|--numeric -s|--stateless -j|--json -t|--terse -N|--reversedns -S|--service -u|--guid -y|--numeric-priority -p|--numeric-protocol -T|--numeric-time -h|--help -v|--version")
                .sub("list", Level::default().operands(any(Data))),
        ),
    );
    for iptables in ["iptables", "ip6tables", "iptables-legacy", "ip6tables-legacy", "iptables-nft", "ip6tables-nft"] {
        add(
            iptables,
            Program::new(
                Level::with(
                    "-S[=]|--list-rules[=] -L[=]|--list[=] -n|--numeric -v|--verbose -x|--exact --line-numbers \
                     -t=|--table= -w[=]|--wait[=] -h|--help -V|--version",
                )
                .operands(Operands::AtMost(1, Data))
                .check(custom::iptables),
            ),
        );
    }
    add(
        "iptables-save",
        Program::new(Level::with("-c|--counters -t=|--table= -M=|--modprobe= -h|--help -V|--version")),
    );
    add("sshd", Program::new(Level::with("-T -t -G -f=path -C=").check(custom::sshd)));
    add(
        "midclt",
        Program::new(Level::default().sub("call", Level::with("-j|--job").operands(any(Data)).check(custom::midclt))),
    );
    add(
        "pvesm",
        Program::new(
            Level::default()
                .sub("status", Level::with("--content= --enabled --format --storage= --target=").closed())
                .sub("list", Level::with("--content= --vmid=").closed().operands(Operands::AtMost(1, Data))),
        ),
    );
    for pve in ["qm", "pct"] {
        add(
            pve,
            Program::new(
                Level::default()
                    .sub("list", Level::with("--full").closed())
                    .sub("status", Level::with("--verbose").closed().operands(Operands::AtMost(1, Data)))
                    .sub("config", Level::with("--current --snapshot=").closed().operands(Operands::AtMost(1, Data))),
            ),
        );
    }
    add(
        "dmesg",
        Program::new(
            Level::with(
                "-H|--human -T|--ctime -l=|--level= -f=|--facility= -k|--kernel -u|--userspace -x|--decode \
                 -L[=]|--color[=] -r|--raw -t|--notime -w|--follow -W|--follow-new -s=|--buffer-size= -S|--syslog \
                 --since= --until= -P|--nopager -J|--json -F=path|--file=path -e|--reltime -d|--show-delta \
                 -p|--force-prefix --time-format= -h|--help -V|--version",
            )
            .closed(),
        ),
    );
    add("ip", ip());

    // --- Programs that only change the machine -------------------------------
    // Known so that a denial can say what they do; none is ever a read.
    for (name, what) in [
        ("rm", "removes files"),
        ("rmdir", "removes folders"),
        ("unlink", "removes files"),
        ("mv", "moves files"),
        ("cp", "copies files"),
        ("install", "copies files"),
        ("ln", "makes links"),
        ("touch", "changes files"),
        ("mkdir", "makes folders"),
        ("tee", "writes files"),
        ("truncate", "changes files"),
        ("fallocate", "changes files"),
        ("shred", "overwrites files"),
        ("dd", "writes files and devices"),
        ("rsync", "copies files"),
        ("chmod", "changes permissions"),
        ("chown", "changes owners"),
        ("chgrp", "changes owners"),
        ("chattr", "changes file attributes"),
        ("setfacl", "changes permissions"),
        ("mkfs", "formats devices"),
        ("fdisk", "partitions disks"),
        ("sfdisk", "partitions disks"),
        ("parted", "partitions disks"),
        ("wipefs", "wipes devices"),
        ("mount", "mounts filesystems"),
        ("umount", "unmounts filesystems"),
        ("swapon", "changes swap"),
        ("swapoff", "changes swap"),
        ("kill", "signals processes"),
        ("killall", "signals processes"),
        ("pkill", "signals processes"),
        ("reboot", "restarts the machine"),
        ("shutdown", "stops the machine"),
        ("poweroff", "stops the machine"),
        ("halt", "stops the machine"),
        ("useradd", "changes users"),
        ("userdel", "changes users"),
        ("usermod", "changes users"),
        ("passwd", "changes passwords"),
        ("chpasswd", "changes passwords"),
        ("crontab", "changes scheduled jobs"),
        ("modprobe", "loads kernel modules"),
        ("rmmod", "unloads kernel modules"),
        ("insmod", "loads kernel modules"),
        ("apt-get", "installs and removes packages"),
        ("dpkg-reconfigure", "reconfigures packages"),
        ("pip", "installs packages"),
        ("pip3", "installs packages"),
        ("npm", "installs packages and runs scripts"),
        ("wget", "downloads files"),
        ("scp", "copies files between machines"),
        ("ssh", "runs commands on other machines"),
        ("nc", "opens network connections"),
        ("ncat", "opens network connections"),
        ("socat", "opens network connections"),
        ("su", "runs commands as another user"),
        ("python", "runs programs"),
        ("python3", "runs programs"),
        ("perl", "runs programs"),
        ("ruby", "runs programs"),
        ("node", "runs programs"),
        ("export", "changes the environment of what runs next"),
        ("declare", "sets variables"),
        ("typeset", "sets variables"),
        ("local", "sets variables"),
        ("readonly", "sets variables"),
        ("unset", "unsets variables"),
    ] {
        add(name, Program::changes(what));
    }
    // --- Programs that run shell code the analysis cannot see ---------------
    // Or change how bash reads what follows: no rule may vouch for them.
    for (name, what) in [
        ("sh", "runs a shell script"),
        ("bash", "runs a shell script"),
        ("dash", "runs a shell script"),
        ("zsh", "runs a shell script"),
        ("busybox", "runs any command"),
        ("eval", "runs its arguments as a command"),
        ("source", "runs a file's commands"),
        (".", "runs a file's commands"),
        ("alias", "changes what commands run"),
        ("hash", "changes which program a name runs"),
        ("enable", "changes the shell's builtins"),
        ("shopt", "changes how the shell reads commands"),
        ("trap", "runs commands on signals"),
        ("watch", "runs a command string repeatedly"),
        ("flock", "runs a command under a lock"),
        ("chroot", "runs commands in another root"),
        ("nsenter", "runs commands in other namespaces"),
        ("unshare", "runs commands in new namespaces"),
    ] {
        add(name, Program::opaque(what));
    }
    t
}

fn zpool() -> Program {
    let status =
        "-D -e -g -i -L -p -P -s -t -v -x -T= --json --json-int --json-flat-vdevs --json-pool-key-guid --power";
    Program::new(
        Level::with("-? -V|--version")
            .sub("status", Level::with(status).operands(any(Data)))
            .sub(
                "list",
                Level::with("-g -H -L -o= -p -P -T= -v -j|--json --json-int --json-pool-key-guid").operands(any(Data)),
            )
            .sub("iostat", Level::with("-g -H -l -L -n -p -P -q -r -T= -v -w -y").operands(any(Data)))
            .sub("get", Level::with("-H -o= -p -j|--json --json-int").operands(any(Data)))
            .sub("history", Level::with("-i -l").operands(any(Data)))
            .sub("events", Level::with("-v -H -f").operands(any(Data)))
            .sub("version", Level::default()),
    )
}

fn zfs() -> Program {
    let list = "-H -p -r -d= -o= -s= -S= -t= -j|--json --json-int";
    Program::new(
        Level::with("-? -V|--version")
            .sub("list", Level::with(list).operands(any(Data)))
            .sub("get", Level::with("-r -d= -H -p -o= -s= -t= -j|--json --json-int").operands(any(Data)))
            .sub("diff", Level::with("-F -H -t -h").operands(any(Data)))
            .sub("holds", Level::with("-H -p -r").operands(any(Data)))
            .sub("userspace", Level::with("-H -i -n -p -o= -s= -S= -t=").operands(any(Data)))
            .sub("groupspace", Level::with("-H -i -n -p -o= -s= -S= -t=").operands(any(Data)))
            .sub("version", Level::default()),
    )
}

fn journalctl() -> Program {
    Program::new(
        Level::with(
            "-u=|--unit= --user-unit= -k|--dmesg -p=|--priority= --facility= -S=|--since= -U=|--until= \
             -n[=]|--lines[=] --no-pager -q|--quiet -o=|--output= --output-fields= -b[=]|--boot[=] -e|--pager-end \
             -r|--reverse -x|--catalog -f|--follow --no-tail --disk-usage --list-boots --list-namespaces \
             -g=|--grep= --case-sensitive[=] -t=|--identifier= -T=|--exclude-identifier= --system --user -a|--all \
             --utc --no-hostname -l|--full --no-full -D=tree|--directory=tree --file=path -m|--merge -M=|--machine= \
             --namespace= -F=|--field= -N|--fields --header --list-catalog --dump-catalog --cursor= --after-cursor= \
             --show-cursor -c= --invocation= -I --truncate-newline --image-policy= -h|--help --version",
        )
        // `-b -1`: journalctl takes a boot offset as the next word.
        .counts()
        .operands(any(Data)),
    )
}

fn systemctl() -> Program {
    let reading = [
        "status",
        "show",
        "cat",
        "list-units",
        "list-sockets",
        "list-timers",
        "list-unit-files",
        "list-dependencies",
        "list-jobs",
        "list-machines",
        "list-automounts",
        "list-paths",
        "is-active",
        "is-enabled",
        "is-failed",
        "is-system-running",
        "get-default",
        "show-environment",
    ];
    Program::new(
        Level::with(
            "-t=|--type= --state= -p=|--property= -P= --value -a|--all -r|--recursive --reverse --after --before \
             -l|--full --show-types -q|--quiet --no-legend --legend= --no-pager --plain -n=|--lines= -o=|--output= \
             --system --user --failed --with-dependencies --timestamp= -h|--help --version",
        )
        .shared_subs(&reading, any(Data)),
    )
}

fn docker() -> Program {
    let container_names = any(Data);
    let system = Level::default()
        .sub("df", Level::with("-v|--verbose --format=").closed())
        .sub("info", Level::with("-f=|--format=").closed())
        .sub("events", Level::with("-f=|--filter= --format= --since= --until=").closed());
    let image =
        Level::default().sub("inspect", Level::with("-f=|--format= --platform=").closed().operands(any(Data))).sub(
            "history",
            Level::with("-H|--human --no-trunc -q|--quiet --format= --platform=").closed().operands(any(Data)),
        );
    let container = Level::default()
        .sub("port", Level::default().closed().operands(container_names))
        .sub("diff", Level::default().closed().operands(container_names))
        .sub("stats", Level::with("-a|--all --format= --no-stream --no-trunc").closed().operands(container_names));
    let volume = Level::default()
        .sub("ls", Level::with("-f=|--filter= --format= -q|--quiet --cluster").closed())
        .sub("inspect", Level::with("-f=|--format=").closed().operands(any(Data)));
    let network = Level::default()
        .sub("ls", Level::with("-f=|--filter= --format= --no-trunc -q|--quiet").closed())
        .sub("inspect", Level::with("-f=|--format= -v|--verbose").closed().operands(any(Data)));
    let compose = Level::default()
        .sub("ls", Level::with("-a|--all --filter= --format= -q|--quiet").closed())
        .sub(
            "ps",
            Level::with("-a|--all --filter= --format= --no-trunc --orphans -q|--quiet --services --status=")
                .closed()
                .operands(any(Data)),
        )
        .sub(
            "logs",
            Level::with(
                "-f|--follow --index= --no-color --no-log-prefix --since= -n=|--tail= -t|--timestamps --until=",
            )
            .closed()
            .operands(any(Data)),
        );
    Program::new(
        Level::with("-v|--version")
            .sub(
                "ps",
                Level::with("-a|--all -f=|--filter= --format= -n=|--last= -l|--latest --no-trunc -q|--quiet -s|--size")
                    .closed(),
            )
            .sub(
                "images",
                Level::with("-a|--all --digests -f=|--filter= --format= --no-trunc -q|--quiet --tree")
                    .closed()
                    .operands(Operands::AtMost(1, Data)),
            )
            .sub("inspect", Level::with("-f=|--format= -s|--size --type=").closed().operands(any(Data)))
            .sub(
                "logs",
                Level::with("--details -f|--follow --since= -n=|--tail= -t|--timestamps --until=")
                    .closed()
                    .operands(container_names),
            )
            .sub("stats", Level::with("-a|--all --format= --no-stream --no-trunc").closed().operands(container_names))
            .sub("top", Level::default().operands(any(Data)).options_first())
            .sub("info", Level::with("-f=|--format=").closed())
            .sub("version", Level::with("-f=|--format=").closed())
            .sub("events", Level::with("-f=|--filter= --format= --since= --until=").closed())
            .sub("port", Level::default().closed().operands(container_names))
            .sub("diff", Level::default().closed().operands(container_names))
            .sub(
                "history",
                Level::with("-H|--human --no-trunc -q|--quiet --format= --platform=").closed().operands(any(Data)),
            )
            .sub("system", system)
            .sub("image", image)
            .sub("container", container)
            .sub("volume", volume)
            .sub("network", network)
            .sub("compose", compose),
    )
    .alias("container ls", "ps")
    .alias("container list", "ps")
    .alias("container ps", "ps")
    .alias("container inspect", "inspect")
    .alias("container logs", "logs")
    .alias("container top", "top")
    .alias("container rm", "rm")
    .alias("container kill", "kill")
    .alias("container stop", "stop")
    .alias("container start", "start")
    .alias("container restart", "restart")
    .alias("container exec", "exec")
    .alias("container run", "run")
    .alias("container create", "create")
    .alias("container update", "update")
    .alias("container rename", "rename")
    .alias("container pause", "pause")
    .alias("container unpause", "unpause")
    .alias("container cp", "cp")
    .alias("container commit", "commit")
    .alias("image ls", "images")
    .alias("image list", "images")
    .alias("image rm", "rmi")
    .alias("image pull", "pull")
    .alias("image push", "push")
    .alias("image tag", "tag")
    .alias("image build", "build")
    .alias("image load", "load")
    .alias("image save", "save")
    .alias("image import", "import")
    .alias("volume list", "volume ls")
    .alias("network list", "network ls")
    .alias("builder build", "build")
}

fn apt(name: &'static str) -> Program {
    let data = || Level::default().operands(any(Data));
    let list = if name == "apt" {
        Level::with("--installed --upgradable --upgradeable -a|--all-versions --manual-installed").operands(any(Data))
    } else {
        data()
    };
    let mut root = Level::with("-q|--quiet -h|--help -v|--version")
        .sub("show", Level::with("-a|--all-versions").operands(any(Data)))
        .sub("policy", data())
        .sub("search", Level::with("-n|--names-only -f|--full").operands(any(Data)))
        .sub("depends", Level::with("-i|--important --recurse --installed").operands(any(Data)))
        .sub("rdepends", Level::with("-i|--important --recurse --installed").operands(any(Data)))
        .sub("madison", data());
    root = if name == "apt" {
        root.sub("list", list)
    } else {
        root.sub("showpkg", data())
            .sub("stats", Level::default())
            .sub("pkgnames", Level::default().operands(Operands::AtMost(1, Data)))
    };
    Program::new(root)
}

fn restic() -> Program {
    const FILTERS: &str = "-H=|--host= --path= --tag=";
    let sub = |opts: &'static str| Level::with(opts).operands(any(Data));
    let filtered = |opts: &'static str| sub(opts).also(FILTERS);
    Program::new(
        Level::with(
            "-r=|--repo= --repository-file=path -p=path|--password-file=path --key-hint= -q|--quiet \
             -v[=]|--verbose[=] --json --no-lock --no-cache --cacert=path --limit-download= --retry-lock= \
             --pack-size= --compression= --cleanup-cache -h|--help",
        )
        .sub("snapshots", filtered("-c|--compact -g=|--group-by= --latest="))
        .sub("stats", filtered("--mode="))
        .sub("check", sub("--read-data --read-data-subset= --with-cache"))
        .sub("ls", filtered("-l|--long --recursive --human-readable --ncdu"))
        .sub("cat", sub(""))
        .sub(
            "find",
            filtered(
                "-i|--ignore-case -l|--long -N=|--newest= -O=|--oldest= -s=|--snapshot= --pack --blob --tree \
                 --show-pack-id --human-readable --reverse",
            ),
        )
        .sub("diff", sub("--metadata"))
        .sub("version", Level::default())
        .sub("key", Level::default().sub("list", Level::default()))
        .sub("list", sub("")),
    )
}

fn borg() -> Program {
    const ARCHIVES: &str = "-P=|--prefix= -a=|--glob-archives= --sort-by= --first= --last= --consider-checkpoints";
    let sub = |opts: &'static str| Level::with(opts).operands(any(Data));
    let archives = |opts: &'static str| sub(opts).also(ARCHIVES);
    Program::new(
        Level::with(
            "--critical --error --warning --info -v|--verbose --debug --debug-topic= -p|--progress --iec \
             --log-json --lock-wait= --bypass-lock --show-version --show-rc -V|--version -h|--help",
        )
        .sub("list", archives("--short --format= --json --json-lines"))
        .sub("info", archives("--json"))
        .sub("check", archives("--repository-only --archives-only --verify-data --max-duration="))
        .sub("diff", sub("--numeric-owner --numeric-ids --same-chunker-params --sort --content-only --json-lines"))
        .sub("--version", Level::default()),
    )
}

fn curl() -> Level {
    Level::with(
        "-s|--silent -S|--show-error -f|--fail --fail-with-body -I|--head -i|--include -L|--location \
         --max-redirs= -k|--insecure -m=|--max-time= --connect-timeout= -v|--verbose -4|--ipv4 -6|--ipv6 \
         --compressed -A=|--user-agent= -H=|--header= -w=|--write-out= -X=|--request= -r=|--range= \
         --resolve= --connect-to= --cacert=path --capath=tree --retry= --retry-delay= --retry-max-time= -G|--get \
         --http1.1 --http2 --no-progress-meter --show-headers --tlsv1.2 --tlsv1.3 --noproxy= --url= -h|--help \
         -V|--version -#|--progress-bar --no-buffer|-N -o=|--output=",
    )
    .operands(any(Data))
    .check(custom::curl)
}

fn git() -> Program {
    let history = "--oneline -n=|--max-count= --skip= --since=|--after= --until=|--before= --author= --committer= \
         --grep= --all-match --invert-grep -i|--regexp-ignore-case -E|--extended-regexp -F|--fixed-strings \
         --stat[=] --shortstat --numstat --name-only --name-status -p|-u|--patch -s|--no-patch --format= --pretty[=] \
         --graph --decorate[=] --no-decorate --all --branches[=] --tags[=] --remotes[=] --merges --no-merges \
         --first-parent --reverse --follow --date= --abbrev-commit --abbrev[=] --no-abbrev-commit --relative-date \
         --color[=] --no-color -S= -G= --pickaxe-all --pickaxe-regex -U=|--unified= -w|--ignore-all-space \
         -b|--ignore-space-change --ignore-blank-lines --word-diff[=] --diff-filter= -M[=]|--find-renames[=] \
         --no-renames --summary --dirstat[=] --full-diff --no-ext-diff --no-textconv --exit-code --quiet -z --raw \
         --full-index --binary --src-prefix= --dst-prefix= --no-prefix --relative[=] -R --minimal --patience \
         --histogram --diff-algorithm= --topo-order --date-order --author-date-order -L= --left-right \
         --cherry-pick --boundary --ancestry-path --simplify-by-decoration --source --mailmap --use-mailmap \
         --encoding= --no-notes --expand-tabs[=] --no-expand-tabs --no-walk[=] --cached --staged --ws-error-highlight=";
    let data = |opts: &'static str| Level::with(opts).operands(any(Data));
    Program::new(
        Level::with(
            "-C= --no-pager --git-dir= --work-tree= --no-optional-locks --literal-pathspecs --glob-pathspecs \
             --noglob-pathspecs --icase-pathspecs --bare --version",
        )
        .sub(
            "status",
            data(
                "-s|--short -b|--branch --porcelain[=] --long -u[=]|--untracked-files[=] --ignored[=] \
                 --ignore-submodules[=] --column[=] --no-column -z --ahead-behind --no-ahead-behind --renames \
                 --no-renames --find-renames[=] -v|--verbose --show-stash",
            ),
        )
        .sub("log", data(history).counts())
        .sub("show", data(history))
        .sub("diff", data(history))
        .sub(
            "branch",
            Level::with(
                "-a|--all -r|--remotes -v|--verbose -l|--list --contains[=] --no-contains[=] --merged[=] \
                 --no-merged[=] --points-at= --sort= --format= --color[=] --no-color --column[=] --no-column \
                 --show-current --abbrev= --no-abbrev -i|--ignore-case",
            )
            .operands(any(Data))
            .check(custom::git_list_only),
        )
        .sub(
            "tag",
            Level::with(
                "-l|--list -n[=] --contains[=] --no-contains[=] --points-at= --sort= --format= --merged[=] \
                 --no-merged[=] --color[=] --column[=] --no-column -i|--ignore-case",
            )
            .operands(any(Data))
            .check(custom::git_list_only),
        )
        .sub("remote", Level::with("-v|--verbose").sub("get-url", data("--push --all")))
        .sub(
            "rev-parse",
            data(
                "--abbrev-ref[=] --short[=] --verify -q|--quiet --symbolic --symbolic-full-name --show-toplevel \
                 --show-prefix --show-cdup --git-dir --absolute-git-dir --git-common-dir --is-inside-work-tree \
                 --is-inside-git-dir --is-bare-repository --is-shallow-repository --all --branches[=] --tags[=] \
                 --remotes[=] --default= --sq --not --local-env-vars --show-object-format[=]",
            ),
        )
        .sub(
            "ls-files",
            data(
                "-c|--cached -d|--deleted -m|--modified -o|--others -i|--ignored -s|--stage -u|--unmerged -k|--killed \
                 -z -t -v -f --directory --no-empty-directory --exclude-standard --full-name --abbrev[=] --eol \
                 --error-unmatch --deduplicate -x=|--exclude= --format=",
            ),
        )
        .sub("ls-tree", data("-d -r -t -l|--long -z --name-only|--name-status --object-only --full-name --full-tree --abbrev[=] --format="))
        .sub("cat-file", data("-t -s -e -p --textconv --filters --allow-unknown-type"))
        .sub("describe", data("--all --tags --contains --abbrev= --candidates= --exact-match --debug --long --match= --exclude= --always --first-parent --dirty[=] --broken[=]"))
        .sub("blame", data("-b --root --show-stats -L= -l -t -S=path --reverse= -p|--porcelain --line-porcelain --incremental --encoding= --contents=path --date= --progress --no-progress -M[=] -C[=] --ignore-rev= -h -c --score-debug -f|--show-name -n|--show-number -s -e|--show-email -w --abbrev="))
        .sub("shortlog", data("-n|--numbered -s|--summary -e|--email --format= --group= -c|--committer -w[=] --all --since= --until= --no-merges"))
        .sub("reflog", Level::with("-n=|--max-count= --date= --format= --oneline --all").operands(Operands::AtMost(2, Data)).check(custom::git_reflog))
        .sub("show-ref", data("--head --branches --tags -d|--dereference -s|--hash[=] --verify --abbrev[=] -q|--quiet --exists"))
        .sub("for-each-ref", data("--count= --sort= --format= --color[=] --shell --perl --python --tcl --points-at= --merged[=] --no-merged[=] --contains[=] --no-contains[=] --ignore-case --omit-empty"))
        .sub("rev-list", data("--count --all --branches[=] --tags[=] --remotes[=] -n=|--max-count= --skip= --since= --until= --max-age= --min-age= --merges --no-merges --first-parent --reverse --objects --left-right --cherry-pick --boundary --oneline --format= --abbrev-commit --parents --children --timestamp --quiet --not --topo-order --date-order"))
        .sub("merge-base", data("-a|--all --octopus --independent --is-ancestor --fork-point"))
        .sub(
            "config",
            Level::with(
                "--get --get-all --get-regexp --get-urlmatch -l|--list --show-origin --show-scope --name-only \
                 --global --system --local --worktree -f=path|--file=path --blob= -z|--null --type= --bool --int \
                 --bool-or-int --path --expiry-date --default= --includes --no-includes",
            )
            .operands(Operands::AtMost(2, Data))
            .check(custom::git_config),
        ),
    )
}

fn ip() -> Program {
    Program::new(Level::raw(custom::ip))
}
