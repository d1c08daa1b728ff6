//! Running one WPT file: a fresh isolate with the Web APIs, testharness.js, the file's META
//! scripts and the file itself, evaluated as one script turn so that every test is registered
//! before the harness sees the page as loaded.
//!
//! Tests that `fetch()` their data (`resources/urltestdata.json`…) get it from the checkout:
//! relative URLs resolve against `http://wpt.test/<path of the test>` (a shim in the glue, since
//! Workers have no base URL), and an `Outbound` serves that host from disk.

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;
use verge_js::rquickjs::context::EvalOptions;
use verge_js::rquickjs::{Array, Promise};
use verge_js::{Data, Isolate, IsolateLimits, OpError};
use verge_jsc::Web;
use verge_web::{Body, HeaderList, Outbound, OutboundFuture, Platform, Request, Response, WebHost};

/// The Web platform and `WebAssembly` (whose shared memories WPT's helpers make
/// SharedArrayBuffers with): what a worker's global scope has, without Workers' bindings.
static PLATFORM: Platform =
    Platform::new(|| verge_web::APIS.iter().chain([&verge_wasm::API]).collect());

const ORIGIN: &str = "http://wpt.test";

pub enum Status {
    Pass,
    Fail(String),
}

pub struct FileOutcome {
    pub results: Vec<(String, Status)>,
}

/// Serves the checkout's files at `http://wpt.test/`; nothing else is reachable.
struct CheckoutFiles {
    root: PathBuf,
}

impl Outbound for CheckoutFiles {
    fn fetch(&self, request: Request) -> OutboundFuture {
        let root = self.root.clone();
        Box::pin(async move {
            let Some(path) = request.url.strip_prefix(ORIGIN) else {
                return Err(OpError::Type(format!(
                    "fetch failed: {} is not reachable from the WPT runner",
                    request.url
                )));
            };
            let path = path
                .split(['?', '#'])
                .next()
                .unwrap_or("")
                .trim_start_matches('/');
            let file = root.join(path);
            let (status, body, content_type) = match (path.contains(".."), std::fs::read(&file)) {
                (false, Ok(bytes)) => (200, bytes, content_type(&file)),
                _ => (404, b"not found".to_vec(), "text/plain"),
            };
            let mut headers = HeaderList::default();
            headers.push("content-type", content_type);
            Ok(Response {
                status_text: if status == 200 { "OK" } else { "Not Found" }.into(),
                url: request.url,
                ..Response::new(status, headers, Body::Full(body.into()))
            })
        })
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => "application/json",
        Some("js") => "text/javascript",
        Some("html") => "text/html",
        Some("txt") => "text/plain",
        _ => "application/octet-stream",
    }
}

/// The META lines of a test file.
struct Meta {
    scripts: Vec<String>,
    long: bool,
    runs_in_workers: bool,
}

fn read_meta(source: &str) -> Meta {
    let mut meta = Meta {
        scripts: Vec::new(),
        long: false,
        runs_in_workers: true,
    };
    for line in source.lines().take_while(|l| l.starts_with("//")) {
        let Some(rest) = line.strip_prefix("// META:") else {
            continue;
        };
        let Some((key, value)) = rest.trim().split_once('=') else {
            continue;
        };
        match key.trim() {
            "script" => meta.scripts.push(value.trim().to_owned()),
            "timeout" => meta.long = value.trim() == "long",
            "global" => {
                meta.runs_in_workers = value.split(',').any(|g| {
                    matches!(
                        g.trim(),
                        "worker"
                            | "dedicatedworker"
                            | "serviceworker"
                            | "sharedworker"
                            | "jsshell"
                            | "shadowrealm"
                    ) || g.trim().starts_with("worker")
                        || g.trim().starts_with("dedicatedworker")
                })
            }
            _ => {}
        }
    }
    meta
}

/// Some vendored copies (llrt's) turn helpers into modules: `export default function (scope)
/// { … }`, which runs here as that function called with the global scope (which holds
/// everything testharness.js defines), or a script ending in `export default name;`, which runs
/// without that line (its top-level bindings are global already).
fn as_script(text: String) -> String {
    let exports_a_binding = |line: &str| {
        line.trim()
            .strip_prefix("export default ")
            .map(|rest| rest.trim_end_matches(';').trim())
            .is_some_and(|name| {
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
            })
    };
    let text = if text.lines().any(exports_a_binding) {
        text.lines()
            .filter(|line| !exports_a_binding(line))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        text
    };
    match text.find("export default function") {
        Some(at)
            if text[..at].lines().all(|l| {
                l.trim().is_empty()
                    || l.trim().starts_with("//")
                    || l.trim().starts_with("/*")
                    || l.trim().starts_with('*')
                    || l.trim().trim_end_matches(';') == "\"use strict\""
                    || l.trim().trim_end_matches(';') == "'use strict'"
            }) =>
        {
            format!(
                "{}(function{}\n)(globalThis);",
                &text[..at],
                &text[at + "export default function".len()..]
            )
        }
        _ => text,
    }
}

/// JavaScript run after testharness.js: collects results and resolves `__wptDone` at completion.
const GLUE: &str = r#"
globalThis.__wptResults = [];
globalThis.__wptDone = new Promise((resolve) => {
  add_result_callback((test) => __wptResults.push([test.name, test.status, String(test.message ?? '')]));
  add_completion_callback((tests, status) => resolve([status.status, String(status.message ?? '')]));
});
{
  const base = globalThis.__wptBase;
  // On an engine where fetch() cannot load yet, the tests that fetch fail with its reason.
  let realFetch;
  try { realFetch = fetch; } catch (error) { realFetch = () => Promise.reject(error); }
  globalThis.fetch = (input, init) => {
    if (typeof input !== 'string' && !(input instanceof URL)) return realFetch(input, init);
    let url;
    try { url = new URL(String(input), base).href; } catch (error) { return Promise.reject(error); }
    return realFetch(url, init);
  };
  globalThis.location = new URL(base);
  // What newer testharness.js defines about the environment, for files that ask it.
  globalThis.GLOBAL ??= { isWindow: () => false, isWorker: () => true, isShadowRealm: () => false };
}
"#;

/// The engine a file runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    Quickjs,
    Jsc,
}

pub async fn run_file(
    engine: Engine,
    root: &Path,
    file: &Path,
    testharness: &str,
    timeout: Duration,
) -> FileOutcome {
    let source = match std::fs::read_to_string(file) {
        Ok(source) => source,
        Err(e) => return failure("(file)", format!("cannot read: {e}")),
    };
    let meta = read_meta(&source);
    if !meta.runs_in_workers {
        return FileOutcome {
            results: Vec::new(),
        };
    }
    let relative = file
        .strip_prefix(root)
        .unwrap_or(file)
        .to_string_lossy()
        .replace('\\', "/");
    let mut scripts = Vec::new();
    for script in &meta.scripts {
        let path = if let Some(absolute) = script.strip_prefix('/') {
            root.join(absolute)
        } else {
            file.parent().unwrap_or(root).join(script)
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => scripts.push((script.clone(), as_script(text))),
            Err(e) => return failure("(file)", format!("META script {script}: {e}")),
        }
    }
    let host = WebHost {
        console: Rc::new(|_, _| {}),
        outbound: Rc::new(CheckoutFiles {
            root: root.to_owned(),
        }),
        subrequest_limit: u32::MAX,
        ..WebHost::unreachable()
    };
    let base = format!("{ORIGIN}/{relative}");
    let mut all = vec![
        (
            "resources/testharness.js".to_owned(),
            as_script(testharness.to_owned()),
        ),
        ("glue".to_owned(), GLUE.to_owned()),
    ];
    all.extend(scripts);
    all.push((relative, source));
    let limit = if meta.long { timeout * 4 } else { timeout };
    match engine {
        Engine::Quickjs => on_quickjs(host, &base, all, limit).await,
        Engine::Jsc => on_javascriptcore(host, &base, all, limit).await,
    }
}

/// Memory a file's engine may use: some WPT files build large buffers on purpose.
const MEMORY_BYTES: usize = 1 << 30;

/// Runs `scripts` in a new QuickJS isolate, as a classic script each.
async fn on_quickjs(
    host: WebHost,
    base: &str,
    scripts: Vec<(String, String)>,
    limit: Duration,
) -> FileOutcome {
    let isolate = match Isolate::new(IsolateLimits {
        memory_bytes: MEMORY_BYTES,
        ..IsolateLimits::default()
    }) {
        Ok(isolate) => isolate,
        Err(e) => return failure("(file)", e.to_string()),
    };
    if let Err(e) = verge_web::install(&isolate, host, &PLATFORM) {
        return failure("(file)", e.to_string());
    }
    let started = isolate.enter(|ctx| {
        ctx.globals().set("__wptBase", base)?;
        for (name, text) in scripts {
            let mut options = EvalOptions::default();
            options.global = true;
            // WPT files are classic scripts: sloppy unless they say otherwise.
            options.strict = false;
            options.filename = Some(name);
            ctx.eval_with_options::<(), _>(text, options)?;
        }
        let done: Promise = ctx.globals().get("__wptDone")?;
        verge_js::settle(ctx, done, |_, status| {
            let status: Array = status.get()?;
            Ok((status.get::<i32>(0)?, status.get::<String>(1)?))
        })
    });
    let receiver = match started {
        Ok(receiver) => receiver,
        Err(error) => return with_results(&isolate, Some(format!("the file threw: {error}"))),
    };
    let harness_error = match tokio::time::timeout(limit, receiver).await {
        Ok(Ok(Ok((0, _)))) => None,
        Ok(Ok(Ok((status, message)))) => Some(format!("harness status {status}: {message}")),
        Ok(Ok(Err(error))) => Some(error.to_string()),
        Ok(Err(_)) => Some("the isolate went away".into()),
        Err(_) => Some(format!("timed out after {limit:?}")),
    };
    with_results(&isolate, harness_error)
}

/// Runs `scripts` in a new JavaScriptCore VM with the same platform.
async fn on_javascriptcore(
    host: WebHost,
    base: &str,
    scripts: Vec<(String, String)>,
    limit: Duration,
) -> FileOutcome {
    let limits = verge_jsc::VmLimits {
        memory_bytes: MEMORY_BYTES,
        ..verge_jsc::VmLimits::default()
    };
    let web = match Web::new(limits, host, &PLATFORM) {
        Ok(web) => web,
        Err(e) => return failure("(file)", e.to_string()),
    };
    let vm = web.vm();
    let scope = vm.scope();
    // All in one entry, as on QuickJS: the VM runs promise jobs when an entry ends, and
    // testharness.js takes the file as loaded at its first job.
    let run_all = scope.function(move |scope, _| {
        for (name, text) in &scripts {
            scope.evaluate(text, name)?;
        }
        Ok(scope.undefined())
    });
    let started = scope
        .global()
        .set("__wptBase", &scope.string(base))
        .and_then(|()| run_all?.call(&[]).map(drop))
        .and_then(|()| vm.evaluate("__wptDone.then((s) => JSON.stringify(s))", "done.js"))
        .and_then(|done| web.settle(&done));
    let harness_error = match started {
        Err(error) => Some(format!("the file threw: {error}")),
        Ok(done) => match tokio::time::timeout(limit, done).await {
            Ok(Ok(Data::String(status))) => match serde_json::from_str::<(i32, String)>(&status) {
                Ok((0, _)) => None,
                Ok((status, message)) => Some(format!("harness status {status}: {message}")),
                Err(error) => Some(format!("the harness's status {status}: {error}")),
            },
            Ok(Ok(other)) => Some(format!("the harness's status was {other:?}")),
            Ok(Err(error)) => Some(error.to_string()),
            Err(_) => Some(format!("timed out after {limit:?}")),
        },
    };
    let reported = vm
        .evaluate("JSON.stringify(__wptResults)", "results.js")
        .and_then(|results| results.to_string())
        .ok()
        .and_then(|json| serde_json::from_str::<Vec<(String, i32, String)>>(&json).ok())
        .unwrap_or_default();
    outcome(reported, harness_error)
}

fn failure(name: &str, message: String) -> FileOutcome {
    FileOutcome {
        results: vec![(name.to_owned(), Status::Fail(message))],
    }
}

/// The subtests a QuickJS isolate reported, plus the harness's own error.
fn with_results(isolate: &Isolate, harness_error: Option<String>) -> FileOutcome {
    let reported = isolate
        .enter(|ctx| {
            let results: Array = ctx.globals().get("__wptResults")?;
            results
                .iter::<Array>()
                .map(|entry| {
                    let entry = entry?;
                    Ok((entry.get(0)?, entry.get(1)?, entry.get(2)?))
                })
                .collect::<verge_js::rquickjs::Result<Vec<(String, i32, String)>>>()
        })
        .unwrap_or_default();
    outcome(reported, harness_error)
}

/// The subtests reported (name, status, message), plus the harness's own error as a failing
/// entry.
fn outcome(reported: Vec<(String, i32, String)>, harness_error: Option<String>) -> FileOutcome {
    let mut results: Vec<(String, Status)> = reported
        .into_iter()
        .map(|(name, status, message)| {
            let status = if status == 0 {
                Status::Pass
            } else {
                Status::Fail(format!("{} {message}", status_name(status)))
            };
            (name, status)
        })
        .collect();
    if let Some(error) = harness_error {
        results.push(("(harness)".into(), Status::Fail(error)));
    }
    FileOutcome { results }
}

fn status_name(status: i32) -> &'static str {
    match status {
        1 => "FAIL",
        2 => "TIMEOUT",
        3 => "NOTRUN",
        4 => "PRECONDITION_FAILED",
        _ => "UNKNOWN",
    }
}
