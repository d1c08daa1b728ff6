//! Running a JavaScript test file (with `js/harness.js`) in a fresh isolate with the Web APIs,
//! on QuickJS or on JavaScriptCore.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use verge_js::rquickjs::context::EvalOptions;
use verge_js::rquickjs::{Function, Object, Promise};
use verge_js::{Data, Isolate, IsolateLimits};
use verge_jsc::{VmLimits, Web};
use verge_web::{LogLevel, WebHost};

const HARNESS: &str = include_str!("../js/harness.js");

/// Unit tests run without a network: `fetch()` is covered by the scenario tests, against real
/// servers.
struct NoNetwork;

impl verge_web::Outbound for NoNetwork {
    fn fetch(&self, request: verge_web::Request) -> verge_web::OutboundFuture {
        Box::pin(async move {
            Err(verge_js::OpError::Type(format!(
                "no network in unit tests: {}",
                request.url
            )))
        })
    }
}

/// The outcome of each `test(name, fn)` in order: `None` for a pass, the message for a failure.
pub type Results = Vec<(String, Option<String>)>;

/// The engines a test file runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    QuickJs,
    JavaScriptCore,
}

pub const ENGINES: [Engine; 2] = [Engine::QuickJs, Engine::JavaScriptCore];

/// Runs `source` (named `name` in stack traces) after the harness, on `engine`. `data`, if given,
/// is JSON made available as the global `DATA`. Must run inside a `LocalSet`.
pub async fn run_js(
    engine: Engine,
    name: &str,
    source: &str,
    data: Option<&str>,
) -> Result<Results, String> {
    match engine {
        Engine::QuickJs => run_on_quickjs(name, source, data).await,
        Engine::JavaScriptCore => run_on_javascriptcore(name, source, data).await,
    }
}

/// A host whose console output `takeConsole()` returns.
fn host(lines: Rc<RefCell<Vec<String>>>) -> WebHost {
    WebHost {
        console: Rc::new(move |level: LogLevel, text: &str| {
            lines.borrow_mut().push(format!("{level:?}: {text}"))
        }),
        outbound: Rc::new(NoNetwork),
        subrequest_limit: 1000,
        ..WebHost::unreachable()
    }
}

async fn run_on_quickjs(name: &str, source: &str, data: Option<&str>) -> Result<Results, String> {
    let isolate = Isolate::new(IsolateLimits::default()).map_err(|e| e.to_string())?;
    let lines: Rc<RefCell<Vec<String>>> = Rc::default();
    verge_web::install(&isolate, host(lines.clone()), &verge_web::WEB)
        .map_err(|e| e.to_string())?;
    let settled = isolate
        .enter(|ctx| {
            // Tests read what console printed through this global.
            let taken = lines.clone();
            ctx.globals().set(
                "takeConsole",
                Function::new(ctx.clone(), move || {
                    std::mem::take(&mut *taken.borrow_mut())
                })?,
            )?;
            if let Some(data) = data {
                ctx.globals().set("DATA", ctx.json_parse(data)?)?;
            }
            ctx.eval::<(), _>(HARNESS)?;
            let mut options = EvalOptions::default();
            options.global = true;
            options.filename = Some(name.to_owned());
            ctx.eval_with_options::<(), _>(source, options)?;
            let run: Function = ctx.globals().get("__run")?;
            let promise: Promise = run.call(())?;
            verge_js::settle(ctx, promise, |_, value| {
                let result: Object = value.get()?;
                let names: Vec<String> = result.get("names")?;
                let errors: Vec<Option<String>> = result.get("errors")?;
                Ok(names.into_iter().zip(errors).collect::<Results>())
            })
        })
        .map_err(|e| format!("{name}: {e}"))?;
    tokio::time::timeout(Duration::from_secs(60), settled)
        .await
        .map_err(|_| format!("{name}: timed out"))?
        .map_err(|_| format!("{name}: isolate dropped"))?
        .map_err(|e| format!("{name}: {e}"))
}

async fn run_on_javascriptcore(
    name: &str,
    source: &str,
    data: Option<&str>,
) -> Result<Results, String> {
    verge_jsc::available()?;
    let lines: Rc<RefCell<Vec<String>>> = Rc::default();
    let web = Web::new(VmLimits::default(), host(lines.clone()), &verge_web::WEB)
        .map_err(|e| e.to_string())?;
    let settled = {
        let vm = web.vm();
        let scope = vm.scope();
        let take_console = scope
            .function(move |scope, _| {
                let taken = std::mem::take(&mut *lines.borrow_mut());
                scope.from_data(Data::List(taken.into_iter().map(Data::String).collect()))
            })
            .map_err(|e| e.to_string())?;
        let run = scope
            .global()
            .set("takeConsole", &take_console)
            .and_then(|()| match data {
                Some(data) => {
                    let parse = vm.evaluate("JSON.parse", "data.js")?;
                    scope
                        .global()
                        .set("DATA", &parse.call(&[scope.string(data)])?)
                }
                None => Ok(()),
            })
            .and_then(|()| vm.evaluate(HARNESS, "harness.js"))
            .and_then(|_| vm.evaluate(source, name))
            .and_then(|_| vm.evaluate("__run().then((r) => JSON.stringify(r))", "run.js"))
            .map_err(|e| format!("{name}: {e}"))?;
        web.settle(&run).map_err(|e| e.to_string())?
    };
    let outcome = tokio::time::timeout(Duration::from_secs(60), settled)
        .await
        .map_err(|_| format!("{name}: timed out"))?
        .map_err(|e| format!("{name}: {e}"))?;
    let Data::String(json) = outcome else {
        return Err(format!("{name}: the harness answered {outcome:?}"));
    };
    let outcome: serde_json::Value = serde_json::from_str(&json).map_err(|e| e.to_string())?;
    let (Some(names), Some(errors)) = (outcome["names"].as_array(), outcome["errors"].as_array())
    else {
        return Err(format!("{name}: the harness answered {json}"));
    };
    Ok(names
        .iter()
        .zip(errors)
        .map(|(test, error)| {
            (
                test.as_str().unwrap_or_default().to_owned(),
                error.as_str().map(str::to_owned),
            )
        })
        .collect())
}

/// Runs `f` on a current-thread runtime inside a `LocalSet`, as the server does.
pub fn block_on_local<F: std::future::Future>(f: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&runtime, f)
}
