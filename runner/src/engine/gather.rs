//! The gather step: the agent's `gather` commands run on the node before the
//! model starts, each with its timeout and an output cap; their output is
//! logged as `gather.output` events and handed to the model in the prompt,
//! so it starts from facts instead of guesses.

use car_schemas::kinds::agent::GatherStep;
use car_schemas::run::{Event, GatherOutput};

use super::claude::Launch;
use super::command;
use crate::eventlog::{EventLog, LogError};

/// Most output kept of one gather command.
pub const MAX_OUTPUT: usize = 32 * 1024;

/// Runs the steps in order as `launch` starts things, with `env`; returns the text for the prompt.
pub async fn gather(
    steps: &[GatherStep],
    launch: &Launch,
    env: &[(String, String)],
    log: &EventLog,
) -> Result<String, LogError> {
    let mut prompt = String::new();
    for step in steps {
        let name = step.name.clone().unwrap_or_else(|| step.command.clone());
        let timeout = step.timeout.as_ref().map_or(GatherStep::DEFAULT_TIMEOUT, |t| t.value).get();
        let out = command::run("/bin/sh", &step.command, launch, env, timeout, MAX_OUTPUT).await;
        let both = out.stdout + &out.stderr;
        let (output, cut) = super::converse::cut(&both, MAX_OUTPUT);
        let note = out.note.or_else(|| cut.then(|| format!("output cut at {MAX_OUTPUT} bytes")));
        let exit = out.exit_code;
        log.append(Event::GatherOutput(GatherOutput {
            name: name.clone(),
            command: step.command.clone(),
            exit_code: exit,
            output: output.to_string(),
            note: note.clone(),
        }))?;
        prompt.push_str(&format!("\n### {name}\n$ {}\n{output}", step.command));
        if let Some(n) = note {
            prompt.push_str(&format!("\n({n})"));
        }
        prompt.push('\n');
    }
    Ok(prompt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eventlog::{DEFAULT_QUOTA, read_all};
    use std::time::Duration;

    fn launch(dir: &std::path::Path) -> Launch {
        Launch { workdir: dir.to_path_buf(), tmp_dir: dir.to_path_buf(), ..Launch::default() }
    }

    fn step(command: &str) -> GatherStep {
        GatherStep { name: None, command: command.into(), timeout: None }
    }

    #[tokio::test]
    async fn output_reaches_the_prompt_and_the_log_with_caps_and_timeouts() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(&dir.path().join("e.jsonl"), DEFAULT_QUOTA).unwrap();
        let steps =
            [step("echo pools ok; echo warn >&2"), step("head -c 100000 /dev/zero | tr '\\0' x"), step("exit 3")];
        let prompt = gather(&steps, &launch(dir.path()), &[], &log).await.unwrap();
        assert!(prompt.contains("$ echo pools ok; echo warn >&2\npools ok\nwarn"), "{prompt}");
        assert!(prompt.contains("(output cut at 32768 bytes)"), "{prompt}");
        let events = read_all(log.path()).unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].data["exit_code"], 0);
        assert_eq!(events[1].data["output"].as_str().unwrap().len(), MAX_OUTPUT);
        assert_eq!(events[2].data["exit_code"], 3);
    }

    #[tokio::test]
    async fn a_hanging_command_is_stopped_at_its_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(&dir.path().join("e.jsonl"), DEFAULT_QUOTA).unwrap();
        let slow = GatherStep {
            name: Some("slow".into()),
            command: "python3 -c '__import__(\"time\").sleep(30)'".into(),
            timeout: Some(car_schemas::de::Spanned::new(Default::default(), "1s".parse().unwrap())),
        };
        let t = std::time::Instant::now();
        let prompt = gather(&[slow], &launch(dir.path()), &[], &log).await.unwrap();
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(prompt.contains("### slow") && prompt.contains("(stopped after 1s)"), "{prompt}");
    }
}
