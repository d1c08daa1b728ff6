//! Runs each `tests/js/<api>.js` in a fresh isolate with the Web APIs installed: one file per API,
//! each a list of `test(name, fn)` cases (see `tests/js/harness.js`).

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use verge_js::rquickjs::{Function, Object, Promise};
use verge_js::{Isolate, IsolateLimits};
use verge_web::{LogLevel, WebHost};

const HARNESS: &str = include_str!("js/harness.js");

async fn run_file(path: &Path) -> Result<usize, String> {
    let source = std::fs::read_to_string(path).unwrap();
    let isolate = Isolate::new(IsolateLimits::default()).unwrap();
    let lines: Rc<RefCell<Vec<String>>> = Rc::default();
    let sink_lines = lines.clone();
    verge_web::install(
        &isolate,
        WebHost {
            console: Rc::new(move |level: LogLevel, text: &str| sink_lines.borrow_mut().push(format!("{level:?}: {text}"))),
            isolate: isolate.handle(),
        },
    )
    .unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let settled = isolate
        .enter(|ctx| {
            // Tests read what console printed through this global.
            let taken = lines.clone();
            ctx.globals().set(
                "takeConsole",
                Function::new(ctx.clone(), move || std::mem::take(&mut *taken.borrow_mut()))?,
            )?;
            ctx.eval::<(), _>(HARNESS)?;
            let mut options = verge_js::rquickjs::context::EvalOptions::default();
            options.global = true;
            options.filename = Some(name.clone());
            ctx.eval_with_options::<(), _>(source, options)?;
            let run: Function = ctx.globals().get("__run")?;
            let promise: Promise = run.call(())?;
            verge_js::settle(ctx, promise, |_, value| {
                let result: Object = value.get()?;
                Ok((result.get::<_, usize>("count")?, result.get::<_, Vec<String>>("failures")?))
            })
        })
        .map_err(|e| format!("{name}: {e}"))?;
    let (count, failures) = tokio::time::timeout(std::time::Duration::from_secs(20), settled)
        .await
        .map_err(|_| format!("{name}: timed out"))?
        .map_err(|_| format!("{name}: isolate dropped"))?
        .map_err(|e| format!("{name}: {e}"))?;
    if failures.is_empty() {
        Ok(count)
    } else {
        Err(format!("{name}: {} of {count} failed:\n{}", failures.len(), failures.join("\n")))
    }
}

#[test]
fn web_api_unit_tests() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "js") && !p.ends_with("harness.js"))
        .collect();
    files.sort();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let local = tokio::task::LocalSet::new();
    let mut errors = Vec::new();
    let mut total = 0;
    local.block_on(&runtime, async {
        for file in &files {
            match run_file(file).await {
                Ok(count) => total += count,
                Err(error) => errors.push(error),
            }
        }
    });
    assert!(errors.is_empty(), "{}", errors.join("\n\n"));
    assert!(total > 0);
    eprintln!("{total} Web API unit tests passed in {} files", files.len());
}
