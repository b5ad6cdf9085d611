//! The six built-in agents (and the example's script agent) as their
//! authors wrote them: every gather command runs, and the commands their
//! prompts tell the model to use come out as the prompts intend.

use std::path::Path;

use car_schemas::{LoadOptions, Spec, check};

use super::*;

fn example_agents() -> Vec<(String, Policy, Vec<String>)> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../example-config-repo");
    let loaded = check(&repo, &LoadOptions::default()).expect("the example repo loads");
    loaded
        .documents
        .iter()
        .filter_map(|d| match &d.spec {
            Spec::Agent(a) => Some((
                d.metadata.name.to_string(),
                Policy::new(a),
                a.gather.iter().map(|g| g.command.clone()).collect(),
            )),
            _ => None,
        })
        .collect()
}

fn policy_of(name: &str) -> Policy {
    example_agents().into_iter().find(|(n, _, _)| n == name).map(|(_, p, _)| p).expect(name)
}

#[test]
fn every_gather_command_of_the_built_in_agents_is_allowed() {
    let agents = example_agents();
    assert!(agents.len() >= 7, "{} agents", agents.len());
    let mut checked = 0;
    for (name, policy, gather) in &agents {
        for command in gather {
            let e = policy.explain("Bash", &json!({ "command": command }), Some("/var/lib/car-runner/runs/x/work"));
            assert_eq!(
                e.verdict.decision,
                Decision::Allow,
                "{name}: `{command}`: {}\n{:#?}",
                e.verdict.reason,
                e.parts
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} gather commands");
}

#[test]
fn the_commands_the_prompts_name_come_out_as_intended() {
    use Decision::{Allow, Approve, Deny};
    let cases: &[(&str, &[(&str, Decision)])] = &[
        (
            "zfs-health",
            &[
                ("zpool status -v tank", Allow),
                ("zpool list -H -o name,cap", Allow),
                ("zpool events -v", Allow),
                ("zfs list -o name,used,avail,quota", Allow),
                ("smartctl -H /dev/sda", Allow),
                ("smartctl -A /dev/sda", Allow),
                ("smartctl -a /dev/nvme0", Allow),
                ("ls -l /dev/disk/by-id", Allow),
                ("lsblk -o NAME,SERIAL,MODEL", Allow),
                ("midclt call pool.query", Allow),
                ("midclt call disk.query", Allow),
                ("zpool scrub tank", Deny),
                ("zpool clear tank", Deny),
                ("zpool replace tank sda sdb", Deny),
                ("smartctl -t short /dev/sda", Deny),
                ("zpool events -c", Deny),
            ],
        ),
        (
            "backup-verifier",
            &[
                ("restic snapshots --latest 3 --compact", Allow),
                ("restic check", Allow),
                ("borg info /srv/borg", Allow),
                ("borg list --last 5", Allow),
                ("midclt call pool.snapshottask.query", Allow),
                ("midclt call replication.query", Allow),
                ("du -sh /srv/backups/daily.0", Allow),
                ("find /srv/backups -maxdepth 1 -type d", Allow),
                ("tail -n 20 /var/lib/vz/dump/vzdump-qemu-100.log", Allow),
                ("restic forget --keep-last 3", Deny),
                ("restic prune", Deny),
                ("restic check --read-data", Deny),
                ("borg prune --keep-daily 7 /srv/borg", Deny),
                ("zfs destroy tank/data@old", Deny),
                ("find /srv/backups -delete", Deny),
            ],
        ),
        (
            "disk-space",
            &[
                ("df -h", Allow),
                ("du -xh --max-depth=1 /var", Allow),
                ("find /var -xdev -size +1G", Allow),
                ("lsof +L1", Allow),
                ("journalctl --disk-usage", Allow),
                ("docker system df", Allow),
                ("journalctl --vacuum-size=500M", Approve),
                ("journalctl --vacuum-time=14d", Approve),
                ("apt-get clean", Approve),
                ("apt-get autoremove --purge -y", Approve),
                ("truncate -s 0 /var/log/app.log", Approve),
                ("rm /var/log/syslog.2.gz", Approve),
                ("rm /var/log/syslog.1", Approve),
                ("docker builder prune -f", Approve),
                ("rm -rf /var/log/old", Deny),
                ("rm -r /var/cache", Deny),
                ("rm /mnt/user/media/x.mkv", Deny),
                ("docker system prune -af", Deny),
                ("docker volume prune -f", Deny),
                ("sort -o /etc/passwd x", Deny),
                ("find /var/log -name '*.gz' -delete", Deny),
            ],
        ),
        (
            "docker-manager",
            &[
                ("docker ps -a", Allow),
                ("docker inspect web", Allow),
                ("docker logs --tail 100 --timestamps web", Allow),
                ("docker system df", Allow),
                ("docker image ls --filter dangling=true", Allow),
                ("docker restart web", Approve),
                ("docker image prune -f", Approve),
                ("docker container prune -f", Approve),
                ("docker system prune -af", Deny),
                ("docker volume rm data", Deny),
                ("docker rm -f web", Deny),
                ("docker container rm web", Deny),
                ("docker stop web", Deny),
                ("docker container stop web", Deny),
                ("docker pull nginx", Deny),
                ("docker exec web sh", Deny),
            ],
        ),
        (
            "security-scanner",
            &[
                ("ss -tulpn", Allow),
                ("journalctl -u ssh --since '24 hours ago' --no-pager", Allow),
                ("sshd -T", Allow),
                ("apt list --upgradable", Allow),
                ("docker inspect web", Allow),
                ("stat -c '%a %U' /etc/shadow", Allow),
                ("ls -l /root/.ssh/authorized_keys", Allow),
                ("nft list ruleset", Allow),
                ("iptables -S", Allow),
                ("ufw status verbose", Allow),
                ("last -n 20", Allow),
                ("who", Allow),
                ("cat /etc/version", Allow),
                ("cat /etc/shadow", Deny),
                ("grep root /etc/shadow", Deny),
                ("chmod 600 /root/.ssh/authorized_keys", Deny),
                ("ufw enable", Deny),
                ("systemctl restart ssh", Deny),
                ("journalctl --rotate", Deny),
            ],
        ),
        (
            "service-monitor",
            &[
                ("systemctl status nginx", Allow),
                ("journalctl -u nginx -n 100 --no-pager", Allow),
                ("journalctl -k", Allow),
                ("docker logs --tail 100 web", Allow),
                ("df -h", Allow),
                ("sleep 20", Allow),
                ("systemctl restart nginx", Approve),
                ("docker restart web", Approve),
                ("systemctl stop nginx", Deny),
                ("systemctl --failed stop nginx", Deny),
                ("systemctl mask nginx", Deny),
                ("systemctl daemon-reload", Deny),
                ("reboot", Deny),
                ("docker rm web", Deny),
                ("apt-get install -y nginx", Deny),
            ],
        ),
    ];
    for (name, commands) in cases {
        let p = policy_of(name);
        for (command, want) in *commands {
            let v = bash(&p, command);
            assert_eq!(v.decision, *want, "{name}: `{command}`: {} ({})", v.reason, v.rule);
        }
    }
}
