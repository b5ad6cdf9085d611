//! The fake Messages API over HTTP, without the CLI: what each scripted step
//! looks like on the wire, and what the fake records.

use std::time::{Duration, Instant};

use car_testkit::anthropic::{FakeAnthropic, Scenario, ToolResult, Usage};
use serde_json::{Value, json};

const TOOLS: &str =
    r#"[{"name": "Bash", "input_schema": {"type": "object"}}, {"name": "Read", "input_schema": {"type": "object"}}]"#;

fn request(marker: &str, assistant_turns: usize, stream: bool) -> Value {
    let mut messages = vec![json!({"role": "user", "content": [{"type": "text", "text": format!("{marker} go")}]})];
    for i in 0..assistant_turns {
        let id = format!("toolu_{i}");
        messages.push(
            json!({"role": "assistant", "content": [{"type": "tool_use", "id": id, "name": "Bash", "input": {}}]}),
        );
        messages.push(json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": [{"type": "text", "text": "out"}]}]}));
    }
    json!({"model": "claude-test-model", "max_tokens": 1000, "stream": stream, "system": "You are a test.",
           "tools": serde_json::from_str::<Value>(TOOLS).unwrap(), "messages": messages})
}

async fn post(fake: &FakeAnthropic, path: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}{path}", fake.url()))
        .header("x-api-key", "sk-test")
        .json(body)
        .send()
        .await
        .expect("reach the fake")
}

/// `(event name, data)` of each server-sent event.
fn events(sse: &str) -> Vec<(String, Value)> {
    sse.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let name = e.lines().find_map(|l| l.strip_prefix("event: ")).expect("an event line");
            let data = e.lines().find_map(|l| l.strip_prefix("data: ")).expect("a data line");
            (name.to_owned(), serde_json::from_str(data).expect("JSON data"))
        })
        .collect()
}

#[tokio::test]
async fn non_streaming_reply_holds_the_scripted_blocks_and_usage() {
    let fake = FakeAnthropic::start([Scenario::new("s")
        .tool_uses([("Bash", json!({"command": "ls"})), ("Read", json!({"file_path": "/etc/hostname"}))])
        .text("done")])
    .await;
    let first: Value = post(&fake, "/v1/messages", &request("[[scenario:s]]", 0, false)).await.json().await.unwrap();
    assert_eq!(first["stop_reason"], "tool_use");
    assert_eq!(first["model"], "claude-test-model");
    let content = first["content"].as_array().unwrap();
    assert_eq!(content.len(), 2);
    assert_eq!(content[0]["name"], "Bash");
    assert_eq!(content[0]["input"], json!({"command": "ls"}));
    assert_ne!(content[0]["id"], content[1]["id"]);
    assert_eq!(first["usage"]["input_tokens"], 100);
    assert_eq!(first["usage"]["cache_creation_input_tokens"], 1000);
    assert_eq!(first["usage"]["output_tokens"], 20);

    let second: Value = post(&fake, "/v1/messages", &request("[[scenario:s]]", 1, false)).await.json().await.unwrap();
    assert_eq!(second["stop_reason"], "end_turn");
    assert_eq!(second["content"], json!([{"type": "text", "text": "done"}]));
    assert_eq!(second["usage"]["cache_read_input_tokens"], 1000);

    let seen = fake.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!((seen[0].scenario.as_str(), seen[0].turn, seen[1].turn), ("s", 0, 1));
    assert_eq!(seen[0].tools, ["Bash", "Read"]);
    assert_eq!(seen[0].key(), Some("sk-test"));
    assert_eq!(seen[0].model.as_deref(), Some("claude-test-model"));
    assert!(!seen[0].stream);
    assert_eq!(seen[0].system(), "You are a test.");
    assert_eq!(
        seen[1].tool_results(),
        [ToolResult { tool_use_id: "toolu_0".into(), is_error: false, text: "out".into() }]
    );
}

#[tokio::test]
async fn streaming_reply_sends_the_events_in_the_api_order() {
    let long = "a reply longer than forty characters, so it arrives in several deltas";
    let fake = FakeAnthropic::start([Scenario::new("s")
        .step(car_testkit::anthropic::Step::Reply(car_testkit::anthropic::Reply {
            text: Some(long.into()),
            tool_uses: vec![car_testkit::anthropic::ToolUse {
                name: "Bash".into(),
                input: json!({"command": "ls -la"}),
            }],
            ..Default::default()
        }))
        .usage(Usage {
            input_tokens: 7,
            output_tokens: 9,
            cache_creation_input_tokens: 3,
            cache_read_input_tokens: 5,
        })])
    .await;
    let response = post(&fake, "/v1/messages", &request("[[scenario:s]]", 0, true)).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = events(&response.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    for (name, data) in &events {
        assert_eq!(&data["type"], name);
    }
    let start = &events[0].1["message"];
    assert_eq!(
        start["usage"],
        json!({"input_tokens": 7, "cache_creation_input_tokens": 3, "cache_read_input_tokens": 5, "output_tokens": 1, "service_tier": "standard"})
    );
    let text: String = events
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == "text_delta")
        .map(|(_, d)| d["delta"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, long);
    assert_eq!(events[6].1["content_block"]["name"], "Bash");
    assert_eq!(events[6].1["index"], 1);
    let input = events[7].1["delta"]["partial_json"].as_str().unwrap();
    assert_eq!(serde_json::from_str::<Value>(input).unwrap(), json!({"command": "ls -la"}));
    assert_eq!(events[9].1["delta"]["stop_reason"], "tool_use");
    assert_eq!(events[9].1["usage"]["output_tokens"], 9);
    assert!(fake.requests()[0].stream);
}

#[tokio::test]
async fn scripted_errors_come_before_the_reply_and_requests_without_tools_get_ok() {
    let fake = FakeAnthropic::start([Scenario::new("rl").error(429, 3, 2).error(529, 1, 1).text("finally")]).await;
    let mut no_tools = request("[[scenario:rl]]", 0, false);
    no_tools.as_object_mut().unwrap().remove("tools");
    let title: Value = post(&fake, "/v1/messages", &no_tools).await.json().await.unwrap();
    assert_eq!(title["content"][0]["text"], "ok");

    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = post(&fake, "/v1/messages", &request("[[scenario:rl]]", 0, false)).await;
        let status = response.status().as_u16();
        if status == 429 {
            assert_eq!(response.headers()["retry-after"], "3");
        }
        let body: Value = response.json().await.unwrap();
        statuses.push(status);
        match status {
            429 => assert_eq!(body["error"]["type"], "rate_limit_error"),
            529 => assert_eq!(body["error"]["type"], "overloaded_error"),
            _ => assert_eq!(body["content"][0]["text"], "finally"),
        }
    }
    assert_eq!(statuses, [429, 429, 529, 200]);
    let recorded: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(recorded, [200, 429, 429, 529, 200]);
}

#[tokio::test]
async fn json_scenarios_and_the_default_scenario_are_served() {
    let scenarios = Scenario::from_json_str(
        r#"{"default": [{"text": "no marker"}],
            "slow": [{"text": "late", "delay": 0.3}]}"#,
    )
    .unwrap();
    let fake = FakeAnthropic::start(scenarios).await;
    let plain: Value = post(&fake, "/v1/messages", &request("", 0, false)).await.json().await.unwrap();
    assert_eq!(plain["content"][0]["text"], "no marker");

    let started = Instant::now();
    let slow: Value = post(&fake, "/v1/messages", &request("[[scenario:slow]]", 0, false)).await.json().await.unwrap();
    assert_eq!(slow["content"][0]["text"], "late");
    assert!(started.elapsed() >= Duration::from_millis(300));

    // Past the end of the script, the last reply repeats.
    let again: Value = post(&fake, "/v1/messages", &request("[[scenario:slow]]", 3, false)).await.json().await.unwrap();
    assert_eq!(again["content"][0]["text"], "late");
    // A marker without a script gets the default scenario (the demo model's answer for agents it has no script for).
    let unknown: Value =
        post(&fake, "/v1/messages", &request("[[scenario:nope]]", 0, false)).await.json().await.unwrap();
    assert_eq!(unknown["content"][0]["text"], "no marker");
    assert_eq!(fake.requests_for("default").len(), 2);
    // Without a default, it is a plain "ok".
    let bare = FakeAnthropic::start([Scenario::new("only").text("x")]).await;
    let unknown: Value =
        post(&bare, "/v1/messages", &request("[[scenario:nope]]", 0, false)).await.json().await.unwrap();
    assert_eq!(unknown["content"][0]["text"], "ok");
}

#[tokio::test]
async fn count_tokens_answers_and_other_paths_are_404_and_noted() {
    let fake = FakeAnthropic::start([]).await;
    let counted: Value = post(&fake, "/v1/messages/count_tokens", &request("", 0, false)).await.json().await.unwrap();
    assert!(counted["input_tokens"].as_u64().unwrap() > 10);
    let missing = post(&fake, "/v1/models", &json!({})).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.json::<Value>().await.unwrap()["error"]["type"], "not_found_error");
    assert_eq!(fake.other_requests(), ["POST /v1/messages/count_tokens", "POST /v1/models"]);
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn dropping_the_fake_stops_it() {
    let fake = FakeAnthropic::start([]).await;
    let addr = fake.addr();
    drop(fake);
    let deadline = Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(Instant::now() < deadline, "the fake still accepts connections after being dropped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
