//! Runs each `tests/js/<api>.js` in a fresh isolate with the Web APIs installed, on QuickJS and
//! on JavaScriptCore: one file per API, each a list of `test(name, fn)` cases (see
//! `tests/js/harness.js`). On JavaScriptCore, a test may fail only because it uses an API whose
//! ops are still QuickJS's alone, and those APIs are exactly [`NOT_YET_ON_JAVASCRIPTCORE`].

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Engine;
use std::collections::BTreeSet;
use std::path::Path;

/// The files whose native ops are still written for QuickJS alone that these tests reach: a
/// test that needs one fails on JavaScriptCore with an error naming it.
const NOT_YET_ON_JAVASCRIPTCORE: &[&str] = &[
    "js/html_rewriter.js",
    "js/subtle.js",
    "js/transform_streams.js",
];

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
            let mut not_yet = BTreeSet::new();
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
                    let Some(error) = error else {
                        passed += 1;
                        continue;
                    };
                    match (engine, common::waits_on(&error, NOT_YET_ON_JAVASCRIPTCORE)) {
                        (Engine::JavaScriptCore, Some(api)) => {
                            not_yet.insert(api);
                        }
                        _ => failures.push(format!("{engine:?}: {name} › {test}: {error}")),
                    }
                }
            }
            if engine == Engine::JavaScriptCore {
                let expected: BTreeSet<&str> = NOT_YET_ON_JAVASCRIPTCORE.iter().copied().collect();
                if not_yet != expected {
                    failures.push(format!(
                        "the APIs these tests found not yet on JavaScriptCore: {not_yet:?}, not {expected:?}"
                    ));
                }
            }
            assert!(total > 0);
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
