//! Scenario tests: each folder under `tests/scenarios/` is a case with a `scenario.json` saying
//! which project to serve (default: the folder itself), the requests to send and the responses
//! expected, or the load error expected. See `tests/scenarios/README.md`. Every scenario runs on
//! QuickJS and again on JavaScriptCore (`verge dev --engine jsc`).

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use support::*;

#[test]
fn scenarios() {
    let root = repo_root().join("tests/scenarios");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("scenario.json").is_file())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no scenarios under {}", root.display());
    let mut failures = Vec::new();
    for engine in ["quickjs", "jsc"] {
        for case in &cases {
            let name = case.file_name().unwrap().to_string_lossy().into_owned();
            if let Err(message) = run_scenario(case, engine) {
                failures.push(format!("{name} on {engine}: {message}"));
            } else {
                eprintln!("scenario {name} on {engine}: ok");
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scenario runs failed:\n{}",
        failures.len(),
        cases.len() * 2,
        failures.join("\n")
    );
}

/// Runs the scenario in `dir` on `engine` (`quickjs` or `jsc`).
fn run_scenario(dir: &Path, engine: &str) -> Result<(), String> {
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("scenario.json")).unwrap())
            .map_err(|e| format!("scenario.json: {e}"))?;
    let project = dir.join(spec["project"].as_str().unwrap_or("."));
    let mut args: Vec<String> = spec["args"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    // An origin project is served by its own `verge dev`; the worker under test gets its address
    // as --origin and as the var ORIGIN.
    let origin = spec["origin"]
        .as_str()
        .map(|path| DevServer::start(&dir.join(path), &[]));
    if let Some(origin) = &origin {
        args.extend([
            "--origin".into(),
            origin.base.clone(),
            "--var".into(),
            format!("ORIGIN:{}", origin.base),
        ]);
    }
    args.extend(["--engine".into(), engine.into()]);
    // Bindings keep their data in a directory of this run's own, never in the repository.
    let state = tempfile::tempdir().unwrap();
    args.extend([
        "--persist-to".into(),
        state.path().to_string_lossy().into_owned(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    if let Some(expected) = spec.get("loadError") {
        let output = verge()
            .arg("dev")
            .arg(&project)
            .args(["--port", "0"])
            .args(&args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        if output.status.success() {
            return Err("expected verge dev to fail to load".into());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        for needle in expected.as_array().unwrap() {
            let needle = needle.as_str().unwrap();
            if !stderr.contains(needle) {
                return Err(format!("load error lacks {needle:?}:\n{stderr}"));
            }
        }
        if stderr.contains("panicked") {
            return Err(format!("verge panicked:\n{stderr}"));
        }
        return Ok(());
    }

    let mut server = DevServer::start(&project, &args);
    let agent = support::client_without_reuse();
    for (index, step) in spec["requests"]
        .as_array()
        .ok_or("no requests")?
        .iter()
        .enumerate()
    {
        let label = step["name"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("request {index}"));
        // A step marked "eventually" is retried (for at most 10 s) until it passes: for effects
        // that happen after a response, such as ctx.waitUntil work.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let target = match step["target"].as_str() {
                Some("origin") => origin
                    .as_ref()
                    .map(|o| o.base.clone())
                    .ok_or("no origin in this scenario")?,
                _ => server.base.clone(),
            };
            match check_step(&agent, &mut server, &target, step) {
                Ok(()) => break,
                Err(e)
                    if step["eventually"].as_bool() == Some(true)
                        && std::time::Instant::now() < deadline =>
                {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(format!("{label}: {e}")),
            }
        }
    }
    if server.stderr().contains("panicked") {
        return Err(format!("verge panicked:\n{}", server.stderr()));
    }
    Ok(())
}

fn check_step(
    agent: &ureq::Agent,
    server: &mut DevServer,
    base: &str,
    step: &Value,
) -> Result<(), String> {
    let request = &step["request"];
    let method = request["method"].as_str().unwrap_or("GET");
    let path = request["path"].as_str().unwrap_or("/");
    let mut builder = http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    if let Some(headers) = request["headers"].as_object() {
        for (name, value) in headers {
            builder = builder.header(name, value.as_str().unwrap());
        }
    }
    let body = match &request["body"] {
        Value::Null => Vec::new(),
        Value::String(s) => s.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    };
    let reply = send(agent, builder.body(body).unwrap());
    let expect = &step["expect"];
    if let Some(status) = expect["status"].as_u64() {
        if u64::from(reply.status) != status {
            return Err(format!(
                "status {} instead of {status}; body: {}",
                reply.status, reply.body
            ));
        }
    }
    if let Some(headers) = expect["headers"].as_object() {
        for (name, value) in headers {
            let actual: Vec<&str> = reply
                .headers
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap_or(""))
                .collect();
            let ok = match value {
                Value::Null => actual.is_empty(),
                Value::String(s) => actual.len() == 1 && actual[0] == s,
                Value::Array(all) => {
                    all.len() == actual.len() && all.iter().zip(&actual).all(|(e, a)| matches(e, a))
                }
                Value::Object(o) if o.contains_key("matches") => {
                    actual.len() == 1 && matches(value, actual[0])
                }
                _ => false,
            };
            if !ok {
                return Err(format!("header {name}: {actual:?}, expected {value}"));
            }
        }
    }
    if let Some(body) = expect["body"].as_str() {
        if reply.body != body {
            return Err(format!("body {:?}, expected {body:?}", reply.body));
        }
    }
    if let Some(needle) = expect["bodyContains"].as_str() {
        if !reply.body.contains(needle) {
            return Err(format!("body {:?} lacks {needle:?}", reply.body));
        }
    }
    if let Some(json) = expect.get("json") {
        let actual: Value = serde_json::from_str(&reply.body)
            .map_err(|e| format!("body is not JSON ({e}): {}", reply.body))?;
        json_matches(json, &actual, "$")?;
    }
    if let Some(needle) = expect["stdoutEventually"].as_str() {
        if !server.wait_for_stdout(needle, Duration::from_secs(10)) {
            return Err(format!(
                "stdout never showed {needle:?}:\n{}",
                server.stdout()
            ));
        }
    }
    if let Some(needle) = expect["stderrEventually"].as_str() {
        if !server.wait_for_stderr(needle, Duration::from_secs(10)) {
            return Err(format!(
                "stderr never showed {needle:?}:\n{}",
                server.stderr()
            ));
        }
    }
    Ok(())
}

/// A string expectation is either the exact value or `{ "matches": "regex" }`.
fn matches(expected: &Value, actual: &str) -> bool {
    match expected {
        Value::String(s) => s == actual,
        Value::Object(o) => o["matches"]
            .as_str()
            .is_some_and(|re| regex_lite::Regex::new(re).unwrap().is_match(actual)),
        _ => false,
    }
}

/// `expected` must appear in `actual`: objects may have more keys, everything else is equal,
/// `{ "matches": "regex" }` matches a string and `{ "absent": true }` a missing key.
fn json_matches(expected: &Value, actual: &Value, at: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(e), _) if e.len() == 1 && e.contains_key("matches") => match actual {
            Value::String(s) if matches(expected, s) => Ok(()),
            _ => Err(format!("{at}: {actual} does not match {}", e["matches"])),
        },
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e {
                if value == &serde_json::json!({ "absent": true }) {
                    if a.contains_key(key) {
                        return Err(format!("{at}.{key} should be absent in {actual}"));
                    }
                    continue;
                }
                let inner = a
                    .get(key)
                    .ok_or_else(|| format!("{at}.{key} is missing in {actual}"))?;
                json_matches(value, inner, &format!("{at}.{key}"))?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (e, a)) in e.iter().zip(a).enumerate() {
                json_matches(e, a, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        _ if expected == actual => Ok(()),
        _ => Err(format!("{at}: {actual}, expected {expected}")),
    }
}
