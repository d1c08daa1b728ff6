//! Web conformance from WPT's data files (`../shared/conformance-data/`, see its README): each
//! driver in `tests/conformance/` runs one data set, and every failure must be listed, with its
//! reason, in `tests/conformance/expectations.json`. A new failure fails this test, and so does a
//! listed failure that now passes, so the list stays exact. Every suite runs on QuickJS and on
//! JavaScriptCore, which must agree: the list is one for both.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Engine;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Each driver and the data files it reads (several are concatenated into one array).
const SUITES: &[(&str, &[&str])] = &[
    ("urltestdata.js", &["url/urltestdata.json"]),
    ("setters.js", &["url/setters_tests.json"]),
    ("toascii.js", &["url/toascii.json"]),
    ("base64.js", &["fetch-misc/base64.json"]),
    ("percent_encoding.js", &["url/percent-encoding.json"]),
    ("data_urls.js", &["fetch-misc/data-urls.json"]),
    (
        "mime_types.js",
        &[
            "mimesniff/mime-types.json",
            "mimesniff/generated-mime-types.json",
        ],
    ),
];

/// The one API these suites reach whose ops are still QuickJS's alone: `fetch()` of a data URL
/// fails on JavaScriptCore, saying so, until fetch.js's ops are written for every engine.
const NOT_YET_ON_JAVASCRIPTCORE: &[&str] = &["js/fetch.js"];

/// Which of `apis` (files of the platform) `error` says is not available on JavaScriptCore yet:
/// its ops are still QuickJS's alone.
fn waits_on<'a>(error: &str, apis: &[&'a str]) -> Option<&'a str> {
    apis.iter()
        .find(|api| error.contains(&format!("{api} {}", verge_jsc::NOT_YET)))
        .copied()
}

/// The suite's data: one file as it is, or several arrays joined.
fn read_data(dir: &Path, files: &[&str]) -> String {
    let read = |file: &str| std::fs::read_to_string(dir.join(file)).unwrap();
    match files {
        [file] => read(file),
        files => {
            let joined: Vec<serde_json::Value> = files
                .iter()
                .flat_map(|file| {
                    let value: serde_json::Value = serde_json::from_str(&read(file)).unwrap();
                    value.as_array().cloned().unwrap()
                })
                .collect();
            serde_json::to_string(&joined).unwrap()
        }
    }
}

fn data_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance-data");
    assert!(
        dir.is_dir(),
        "the WPT data files are expected at {} (a copy of shared/ beside the repository)",
        dir.display()
    );
    dir
}

#[test]
fn wpt_data_driven() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let expectations: BTreeMap<String, BTreeMap<String, String>> =
        serde_json::from_str(&std::fs::read_to_string(here.join("expectations.json")).unwrap())
            .unwrap();
    let data = data_dir();
    let mut problems = Vec::new();
    let mut summary = Vec::new();
    let mut failing: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    common::block_on_local(async {
        for (engine, (driver, data_files)) in common::ENGINES
            .into_iter()
            .flat_map(|engine| SUITES.iter().map(move |suite| (engine, suite)))
        {
            let source = std::fs::read_to_string(here.join(driver)).unwrap();
            let json = read_data(&data, data_files);
            let results = match common::run_js(engine, driver, &source, Some(&json)).await {
                Ok(results) => results,
                Err(error) => {
                    problems.push(format!("{engine:?}: {error}"));
                    continue;
                }
            };
            let known = expectations.get(*driver).cloned().unwrap_or_default();
            let passed = results.iter().filter(|(_, e)| e.is_none()).count();
            let mut waiting = 0;
            for (name, error) in &results {
                let not_yet = error
                    .as_deref()
                    .and_then(|error| waits_on(error, NOT_YET_ON_JAVASCRIPTCORE));
                if let (Engine::JavaScriptCore, Some(_)) = (engine, not_yet) {
                    waiting += 1;
                    continue;
                }
                if let (Some(error), Engine::QuickJs) = (error, engine) {
                    failing
                        .entry(driver.to_string())
                        .or_default()
                        .insert(name.clone(), error.clone());
                }
                match (error, known.contains_key(name)) {
                    (Some(error), false) => {
                        problems.push(format!("{engine:?}: {driver} › {name}: {error}"))
                    }
                    (None, true) => problems.push(format!(
                        "{engine:?}: {driver} › {name}: passes now; remove it from expectations.json"
                    )),
                    _ => {}
                }
            }
            let waiting = match waiting {
                0 => String::new(),
                n => format!(" ({n} wait on QuickJS-only ops)"),
            };
            summary.push(format!(
                "{engine:?} {driver}: {passed}/{}{waiting}",
                results.len()
            ));
        }
    });
    eprintln!("WPT data-driven: {}", summary.join(", "));
    // To review the failures when the implementation changes: VERGE_WPT_FAILURES=path.json.
    if let Ok(path) = std::env::var("VERGE_WPT_FAILURES") {
        std::fs::write(path, serde_json::to_string_pretty(&failing).unwrap()).unwrap();
    }
    assert!(
        problems.is_empty(),
        "{} unexpected results:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
