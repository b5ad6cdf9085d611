//! Model runs without model credentials: refused when started, with the fix,
//! unless the server has the demo model (`DEMO_MODEL_URL`), whose runs say
//! so; a stored key switches new runs to the real model.

mod common;

use car_server::app::settings::Settings;
use car_server::app::startup::Application;
use car_server::runs::service::{DEMO_MODEL, ServiceError, Start};
use car_server::trust::audit::Actor;

async fn server(demo: Option<&str>) -> Application {
    let store = common::store().await;
    let data = tempfile::tempdir().unwrap().keep();
    let config = common::example_dir().display().to_string();
    let settings = Settings::from_lookup(|k| match k {
        "CONFIG_REPO" => Some(config.clone()),
        "DATA_DIR" => Some(data.display().to_string()),
        "SECRET_KEY" => Some("5e".repeat(32)),
        "DEMO_MODEL_URL" => demo.map(String::from),
        _ => None,
    })
    .unwrap();
    let mut app = Application::build(settings, store, Box::new(|_| None)).await.expect("the server");
    app.start(&[car_server::app::startup::Task::Sync]);
    for _ in 0..200 {
        if app.live.now().revision.is_some() {
            return app;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the example config was not applied");
}

#[tokio::test]
async fn without_credentials_a_model_run_is_refused_with_the_fix_and_a_script_run_is_not() {
    let app = server(None).await;
    let refused = app.runs.queue("disk-space", "local", Start::default()).await.unwrap_err();
    let ServiceError::Invalid { message, hint } = refused else { panic!("{refused:?}") };
    assert_eq!(message, "agent disk-space needs the model, and car-server has no model credentials");
    assert!(hint.contains("ANTHROPIC_API_KEY") && hint.contains("PUT /api/v1/secrets/anthropic-api-key"), "{hint}");
    // A script agent needs no model.
    let run = app.runs.queue("cert-expiry", "local", Start::default()).await.unwrap().unwrap();
    assert!(!run.context.contains_key(DEMO_MODEL));
}

#[tokio::test]
async fn with_the_demo_model_runs_say_so_until_a_real_key_is_stored() {
    let app = server(Some("http://127.0.0.1:8190")).await;
    let run = app.runs.queue("disk-space", "local", Start::default()).await.unwrap().unwrap();
    assert_eq!(run.context.get(DEMO_MODEL), Some(&serde_json::Value::Bool(true)));
    let script = app.runs.queue("cert-expiry", "local", Start::default()).await.unwrap().unwrap();
    assert!(!script.context.contains_key(DEMO_MODEL), "a script run uses no model");

    app.state.secrets.put("anthropic-api-key", "sk-ant-real", &Actor::system("test")).await.unwrap();
    let real = app.runs.queue("disk-space", "local", Start::default()).await.unwrap().unwrap();
    assert!(!real.context.contains_key(DEMO_MODEL), "a stored key switches to the real model: {:?}", real.context);
}
