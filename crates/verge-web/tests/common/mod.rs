//! Running a JavaScript test file (with `js/harness.js`) in a fresh isolate with the Web APIs.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use verge_js::rquickjs::context::EvalOptions;
use verge_js::rquickjs::{Function, Object, Promise};
use verge_js::{Isolate, IsolateLimits};
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

/// Runs `source` (named `name` in stack traces) after the harness. `data`, if given, is JSON made
/// available as the global `DATA`. Must run inside a `LocalSet`.
pub async fn run_js(name: &str, source: &str, data: Option<&str>) -> Result<Results, String> {
    let isolate = Isolate::new(IsolateLimits::default()).map_err(|e| e.to_string())?;
    let lines: Rc<RefCell<Vec<String>>> = Rc::default();
    let sink_lines = lines.clone();
    verge_web::install(
        &isolate,
        WebHost {
            console: Rc::new(move |level: LogLevel, text: &str| {
                sink_lines.borrow_mut().push(format!("{level:?}: {text}"))
            }),
            outbound: Rc::new(NoNetwork),
            subrequest_limit: 1000,
        },
        &verge_web::WEB,
    )
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

/// Runs `f` on a current-thread runtime inside a `LocalSet`, as the server does.
pub fn block_on_local<F: std::future::Future>(f: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&runtime, f)
}
