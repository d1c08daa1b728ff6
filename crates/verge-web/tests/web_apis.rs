//! Runs each `tests/js/<api>.js` in a fresh isolate with the Web APIs installed, on QuickJS and
//! on JavaScriptCore alike: one file per API, each a list of `test(name, fn)` cases (see
//! `tests/js/harness.js`).

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

#[test]
fn web_api_unit_tests() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "js") && !p.ends_with("harness.js"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    common::block_on_local(async {
        for engine in common::ENGINES {
            let (mut passed, mut total) = (0, 0);
            for file in &files {
                let name = file.file_name().unwrap().to_string_lossy().into_owned();
                let source = std::fs::read_to_string(file).unwrap();
                let results = match common::run_js(engine, &name, &source, None).await {
                    Ok(results) => results,
                    Err(error) => {
                        failures.push(format!("{engine:?}: {error}"));
                        continue;
                    }
                };
                for (test, error) in results {
                    total += 1;
                    match error {
                        None => passed += 1,
                        Some(error) => {
                            failures.push(format!("{engine:?}: {name} › {test}: {error}"))
                        }
                    }
                }
            }
            if total == 0 {
                failures.push(format!("{engine:?}: no test ran"));
            }
            eprintln!(
                "{engine:?}: {passed} of {total} Web API unit tests passed in {} files",
                files.len()
            );
        }
    });
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
