//! Runs each `tests/js/<api>.js` in a fresh isolate with the Web APIs installed: one file per API,
//! each a list of `test(name, fn)` cases (see `tests/js/harness.js`).

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
    let mut total = 0;
    common::block_on_local(async {
        for file in &files {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            match common::run_js(&name, &std::fs::read_to_string(file).unwrap(), None).await {
                Ok(results) => {
                    total += results.len();
                    for (test, error) in results {
                        if let Some(error) = error {
                            failures.push(format!("{name} › {test}: {error}"));
                        }
                    }
                }
                Err(error) => failures.push(error),
            }
        }
    });
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(total > 0);
    eprintln!("{total} Web API unit tests passed in {} files", files.len());
}
