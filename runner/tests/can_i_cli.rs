//! `car-runner can-i` on a node: an agent file, the decision with the real
//! filesystem behind it (symbolic links followed), and the exit code.

use std::process::{Command, Output};

fn can_i(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_car-runner")).arg("can-i").args(args).output().expect("car-runner runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const AGENT: &str = "apiVersion: car/v1\nkind: Agent\nmetadata: {name: reader}\nspec:\n  prompt: Look.\n  mode: read-only\n  tools:\n    allow: [\"Bash(zpool status *)\"]\n";

#[test]
fn an_agent_file_is_asked_about_calls_with_links_followed_on_this_machine() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "x").unwrap();
    let link = dir.path().join("innocent.txt");
    std::os::unix::fs::symlink(&secret, &link).unwrap();
    let real = std::fs::canonicalize(&secret).unwrap();
    let agent = dir.path().join("reader.yaml");
    std::fs::write(&agent, format!("{AGENT}    deny: [\"Read(/{})\"]\n", real.display())).unwrap();
    let agent = agent.to_str().unwrap();

    let out = can_i(&["--agent", agent, "--", "zpool status -x"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    let out = can_i(&["--agent", agent, "--", "zpool scrub tank"]);
    assert_eq!(out.status.code(), Some(1));
    let out = can_i(&["--agent", agent, "--json", "--", &format!("cat {}", link.display())]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rule"], format!("Read(/{})", real.display()));
}

#[test]
fn a_bad_agent_file_or_arguments_could_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: car/v1\nkind: Agent\nmetadata: {name: bad}\nspec:\n  prompt: x\n  mode: sometimes\n",
    )
    .unwrap();
    let out = can_i(&["--agent", bad.to_str().unwrap(), "--", "ls"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is not a valid agent:\nbad.yaml:6:9: error:"), "{}", text(&out.stderr));
    let out = can_i(&["--", "ls"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--agent <FILE>"), "{}", text(&out.stderr));
    let out = can_i(&["--agent", "reader.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("<CALL>"), "{}", text(&out.stderr));
    let out = can_i(&["--agent", "/no/such/file.yaml", "--", "ls"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read /no/such/file.yaml"));
}
