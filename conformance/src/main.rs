//! `verge-wpt`: runs the web-platform-tests' `.any.js` files of chosen areas inside Verge's
//! Workers global scope, with `resources/testharness.js` and each file's `// META: script=`
//! helpers, one fresh isolate per file. Prints passes per area, compares the failures with an
//! expectations file (every known failure listed with its reason), and exits non-zero when a
//! test that is not listed fails. See `conformance/README.md`.

mod harness;

use anyhow::Context as _;
use clap::Parser;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "verge-wpt", about = "Run web-platform-tests against Verge")]
struct Args {
    /// A WPT checkout (the directory holding `resources/testharness.js`).
    wpt: PathBuf,
    /// Areas to run, as directories under the checkout.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "url,encoding,fetch/api/headers,fetch/api/request,fetch/api/response,fetch/api/body,fetch/data-urls,mimesniff,streams,FileAPI/blob,FileAPI/file,WebCryptoAPI,html/webappapis/atob,html/webappapis/structured-clone,html/webappapis/timers"
    )]
    areas: Vec<String>,
    /// Only files whose path contains this.
    #[arg(long)]
    filter: Option<String>,
    /// The expectations file: known failures with their reasons.
    #[arg(long, default_value = "conformance/expectations.json")]
    expectations: PathBuf,
    /// Rewrite the expectations file from this run (new failures get the reason "unclassified").
    #[arg(long)]
    update: bool,
    /// Print every failing subtest.
    #[arg(long)]
    verbose: bool,
    /// Seconds a file may run (files marked `timeout=long` get four times as long).
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// The engine to run on: `quickjs`, or `jsc` (JavaScriptCore, where the APIs whose ops are
    /// still QuickJS's alone fail, saying so).
    #[arg(long, value_enum, default_value_t = harness::Engine::Quickjs)]
    engine: harness::Engine,
}

/// Known failures: file (relative to the checkout) → subtest → reason. A file in which nothing
/// passes is listed once, with the subtest name `*`.
type Expectations = BTreeMap<String, BTreeMap<String, String>>;

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("verge-wpt: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> anyhow::Result<bool> {
    if args.update && args.engine != harness::Engine::Quickjs {
        anyhow::bail!(
            "--update writes QuickJS's expectations: run it without --engine (the other engines are measured against them)"
        );
    }
    let testharness = std::fs::read_to_string(args.wpt.join("resources/testharness.js"))
        .with_context(|| {
            format!(
                "{} does not look like a WPT checkout (no resources/testharness.js)",
                args.wpt.display()
            )
        })?;
    let expectations: Expectations = match std::fs::read_to_string(&args.expectations) {
        Ok(text) => serde_json::from_str(&text)
            .with_context(|| format!("reading {}", args.expectations.display()))?,
        Err(_) => Expectations::new(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let mut failures = Expectations::new();
    let mut regressions = Vec::new();
    let mut fixed = Vec::new();
    let mut table = Vec::new();
    let (mut all_passed, mut all_total) = (0, 0);
    // Failures of a file reaching an API an engine cannot load yet (see `waits_on_quickjs_ops`).
    let mut waiting = 0;
    for area in &args.areas {
        let dir = args.wpt.join(area);
        if !dir.is_dir() {
            println!("{area:<34} (not in this checkout)");
            continue;
        }
        let mut files = Vec::new();
        collect_tests(&dir, &mut files);
        files.sort();
        let (mut passed, mut total) = (0, 0);
        for file in files {
            let name = file
                .strip_prefix(&args.wpt)
                .unwrap_or(&file)
                .to_string_lossy()
                .replace('\\', "/");
            if args.filter.as_deref().is_some_and(|f| !name.contains(f)) {
                continue;
            }
            let outcome = local.block_on(
                &runtime,
                harness::run_file(
                    args.engine,
                    &args.wpt,
                    &file,
                    &testharness,
                    Duration::from_secs(args.timeout),
                ),
            );
            let known = expectations.get(&name).cloned().unwrap_or_default();
            let whole_file = known.get("*").cloned();
            let mut file_passes = 0;
            for (subtest, result) in &outcome.results {
                total += 1;
                match result {
                    harness::Status::Pass => {
                        passed += 1;
                        file_passes += 1;
                        if known.contains_key(subtest) {
                            fixed.push(format!("{name} › {subtest}"));
                        }
                    }
                    harness::Status::Fail(message) if waits_on_quickjs_ops(message) => {
                        waiting += 1;
                        if args.verbose {
                            println!("  WAITS {name} › {subtest}: {message}");
                        }
                    }
                    harness::Status::Fail(message) => {
                        let listed = known.get(subtest).or(whole_file.as_ref());
                        if listed.is_none() {
                            regressions.push(format!("{name} › {subtest}: {message}"));
                        }
                        if args.verbose {
                            println!("  FAIL {name} › {subtest}: {message}");
                        }
                        let reason = listed.cloned().unwrap_or_else(|| "unclassified".into());
                        failures
                            .entry(name.clone())
                            .or_default()
                            .insert(subtest.clone(), reason);
                    }
                }
            }
            if file_passes > 0 && whole_file.is_some() {
                fixed.push(format!(
                    "{name}: {file_passes} subtests pass now; list its failures one by one"
                ));
            }
            // A file in which nothing passes is kept as one entry.
            if file_passes == 0 {
                if let Some(subtests) = failures.get_mut(&name) {
                    let reason = whole_file.clone().unwrap_or_else(|| most_common(subtests));
                    *subtests = BTreeMap::from([("*".to_owned(), reason)]);
                }
            }
        }
        println!("{area:<34} {passed:>6} / {total:<6}");
        table.push((area.clone(), passed, total));
        all_passed += passed;
        all_total += total;
    }
    println!("{:<34} {all_passed:>6} / {all_total:<6}", "all");
    if waiting > 0 {
        println!("({waiting} failed only because an API they reach still has QuickJS-only ops)");
    }
    if args.update {
        let mut merged = expectations.clone();
        // Only the files this run covered are rewritten.
        merged.retain(|file, _| {
            !args
                .areas
                .iter()
                .any(|a| file.starts_with(&format!("{a}/")))
                || args.filter.is_some()
        });
        for (file, subtests) in failures {
            merged.insert(file, subtests);
        }
        std::fs::write(
            &args.expectations,
            serde_json::to_string_pretty(&merged)? + "\n",
        )?;
        println!("wrote {}", args.expectations.display());
        return Ok(true);
    }
    for line in &fixed {
        println!("now passes (remove from the expectations): {line}");
    }
    for line in &regressions {
        println!("UNEXPECTED FAILURE: {line}");
    }
    Ok(regressions.is_empty())
}

/// Whether a failure is an engine refusing an API whose ops are still QuickJS's alone: not a
/// conformance failure, counted apart.
fn waits_on_quickjs_ops(message: &str) -> bool {
    message.contains(verge_jsc::NOT_YET)
}

/// The reason given most often among a file's failures.
fn most_common(subtests: &BTreeMap<String, String>) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for reason in subtests.values() {
        *counts.entry(reason).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(r, _)| r.to_owned())
        .unwrap_or_default()
}

/// The `.any.js` test files under `dir`.
fn collect_tests(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| n != "resources" && n != "support")
            {
                collect_tests(&path, out);
            }
        } else if path.to_string_lossy().ends_with(".any.js") {
            out.push(path);
        }
    }
}
