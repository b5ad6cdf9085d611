//! The demo model's scripts (`testkit/demo/scenarios.json`): the sessions the
//! built-in agents of `example-config-repo` play when there are no model
//! credentials, and the `default` answer for every other agent.
//!
//! Whether each report matches its agent's `report` schema, and whether each
//! command is allowed by the agent's rules, cannot be checked from here (no
//! JSON Schema validator or policy in the testkit); this holds the shape: a
//! read, one structured report, and a closing text that says it is the demo.

use std::path::Path;
use std::time::Duration;

use car_testkit::anthropic::{Reply, Scenario, Step};

/// The built-in prompt agents; `cert-expiry` is a script and needs no model.
const AGENTS: [&str; 6] =
    ["backup-verifier", "disk-space", "docker-manager", "security-scanner", "service-monitor", "zfs-health"];

fn scenarios() -> Vec<Scenario> {
    Scenario::from_json_str(include_str!("../demo/scenarios.json")).expect("demo/scenarios.json is a valid script")
}

fn scenario(name: &str) -> Scenario {
    scenarios().into_iter().find(|s| s.name() == name).unwrap_or_else(|| panic!("no demo scenario {name:?}"))
}

fn replies(scenario: &Scenario) -> Vec<&Reply> {
    scenario
        .steps()
        .iter()
        .map(|step| match step {
            Step::Reply(reply) => reply,
            Step::Error(error) => panic!("{}: the demo scripts no API errors: {error:?}", scenario.name()),
        })
        .collect()
}

#[test]
fn the_demo_scripts_every_built_in_prompt_agent_and_a_default() {
    let names: Vec<String> = scenarios().iter().map(|s| s.name().to_owned()).collect();
    for name in AGENTS.iter().chain(&["default"]) {
        assert!(names.iter().any(|n| n == name), "no scenario {name:?} in {names:?}");
    }
    assert_eq!(names.len(), AGENTS.len() + 1, "{names:?}");

    // A prompt agent added to the example config needs a script as well.
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../example-config-repo/agents");
    for entry in std::fs::read_dir(&folder).expect("the example agents") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("an agent file");
        let has_prompt = text.lines().any(|l| l.trim_start().starts_with("prompt:"));
        let name = path.file_stem().and_then(|s| s.to_str()).expect("a file name");
        assert_eq!(has_prompt, AGENTS.contains(&name), "{}: a prompt agent needs a demo scenario", path.display());
    }
}

#[test]
fn each_agent_reads_then_reports_once_then_says_it_is_the_demo_model() {
    for name in AGENTS {
        let scenario = scenario(name);
        let replies = replies(&scenario);
        assert!((3..=5).contains(&replies.len()), "{name}: {} steps", replies.len());

        let first = &replies[0].tool_uses;
        assert!(!first.is_empty() && first.iter().all(|t| t.name == "Bash"), "{name} starts with {first:?}");
        for call in replies.iter().flat_map(|r| &r.tool_uses).filter(|t| t.name == "Bash") {
            assert!(call.input["command"].as_str().is_some_and(|c| !c.is_empty()), "{name}: {call:?}");
        }

        let reports: Vec<_> =
            replies.iter().flat_map(|r| &r.tool_uses).filter(|t| t.name == "StructuredOutput").collect();
        assert_eq!(reports.len(), 1, "{name}: one StructuredOutput call, got {reports:?}");
        assert!(reports[0].input.is_object(), "{name}: the report is an object");
        let before_last = replies[replies.len() - 2];
        assert!(before_last.tool_uses.iter().any(|t| t.name == "StructuredOutput"), "{name}: report, then the text");

        let last = replies.last().expect("a last step");
        assert!(last.tool_uses.is_empty(), "{name} ends with a tool call");
        let text = last.text.as_deref().unwrap_or_else(|| panic!("{name} ends without text"));
        assert!(text.to_lowercase().contains("demo model"), "{name}: {text}");
        assert!(text.contains("ANTHROPIC_API_KEY"), "{name}: {text}");
        // With a report schema (`--json-schema`) the CLI ends the session as
        // soon as the report arrives and never asks for the last turn, so the
        // report's turn carries the same summary to be seen at all.
        assert_eq!(before_last.text.as_deref(), Some(text), "{name}: the report's turn says the summary too");

        for reply in &replies {
            let delay = reply.delay;
            assert!(
                (Duration::from_millis(300)..=Duration::from_secs(1)).contains(&delay),
                "{name}: a delay of {delay:?}"
            );
        }
    }
}

#[test]
fn the_default_says_it_has_no_script_and_how_to_get_the_real_model() {
    let scenario = scenario("default");
    let replies = replies(&scenario);
    assert_eq!(replies.len(), 1);
    assert!(replies[0].tool_uses.is_empty());
    let text = replies[0].text.as_deref().expect("a text answer");
    for needle in
        ["Demo model", "no script", "ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "/api/v1/secrets/anthropic-api-key"]
    {
        assert!(text.contains(needle), "the default answer lacks {needle:?}: {text}");
    }
}
