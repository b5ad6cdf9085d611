//! `car-server can-i` as a user runs it: the real binary against a config
//! folder, the decision and its reasons on stdout, the exit code for scripts.

use std::path::Path;
use std::process::{Command, Output};

fn can_i(args: &[&str]) -> Output {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../example-config-repo");
    Command::new(env!("CARGO_BIN_EXE_car-server"))
        .args(["can-i", "--config", example.to_str().unwrap()])
        .args(args)
        // Nothing else of the server's settings is needed for a folder.
        .env_remove("CONFIG_REPO")
        .output()
        .expect("car-server runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn allowed_denied_and_held_calls_exit_zero_one_and_three() {
    let out = can_i(&["zfs-health", "--", "zpool status -x"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        text(&out.stdout)
            .starts_with("allowed: `zpool status -x` only reads and matches allow rule Bash(zpool status *)\n")
    );

    let out = can_i(&["zfs-health", "--", "zpool", "events", "-c"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("words: \"zpool\" \"events\" \"-c\""), "{stdout}");
    assert!(stdout.contains("only reads: no: `-c` is not an option of zpool events"), "{stdout}");

    let out = can_i(&["docker-manager", "--", "docker restart web"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stdout)
            .starts_with("held for approval: `docker restart web` matches approve rule Bash(docker restart *)")
    );
}

#[test]
fn other_tools_and_json_output() {
    let out = can_i(&["security-scanner", "--tool", "Read", "--json", "--", "/proc/self/root/etc/shadow"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["rule"], "Read(//etc/shadow)");
    let out = can_i(&["security-scanner", "--json", "--", "cat /etc/shadow"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["parts"][0]["reads"], serde_json::json!(["/etc/shadow"]));
}

#[test]
fn an_unknown_agent_or_a_missing_call_could_not_run() {
    let out = can_i(&["no-such-agent", "--", "ls"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("no agent named \"no-such-agent\" in the config (hint: the agents are"), "{stderr}");
    assert!(stderr.contains("zfs-health"), "{stderr}");
    let out = can_i(&["zfs-health"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("give the call after --"));
}
