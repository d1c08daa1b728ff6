//! How a request's dispatch meets the serving thread's scheduler: a handler that answers at once
//! is done in one poll and leaves its task unwoken. A task woken for nothing is polled again
//! behind every other connection of the thread, and those spurious polls reorder the thread's
//! round of connections, so that some requests wait two rounds (at 50 connections, p99 was
//! twice p50 before this held).

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};
use support::{body, grants, project, run};
use verge_config::{Engine, WorkerConfig};
use verge_runtime::{BlankIsolate, Outcome, Request, Worker, WorkerLimits};

/// A waker that counts its wakes.
#[derive(Default)]
struct Wakes(AtomicUsize);

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn an_answer_given_at_once_takes_one_poll_and_no_wake() {
    // Odd rounds answer with a fulfilled promise, as an `async fetch` that never awaits does.
    let script = "export default {\n  fetch(request) {\n    const response = new Response('answered');\n\
                  return request.url.endsWith('1') ? Promise.resolve(response) : response;\n  },\n};\n";
    for engine in [Engine::QuickJs, Engine::Jsc] {
        let project = worker_project(script);
        run(async {
            let worker = load(project.path(), engine, WorkerLimits::default()).await;
            let wakes = Arc::new(Wakes::default());
            let waker = Waker::from(wakes.clone());
            let mut cx = Context::from_waker(&waker);
            for round in 0..3 {
                let request = Request::new("GET", format!("http://at-once.example/{round}"));
                let mut fetched = std::pin::pin!(worker.fetch(request));
                let Poll::Ready(outcome) = fetched.as_mut().poll(&mut cx) else {
                    panic!("{engine:?}, round {round}: the dispatch of a handler that answered at once is pending");
                };
                assert_eq!(body(outcome), "answered");
                assert_eq!(
                    wakes.0.load(Ordering::SeqCst),
                    0,
                    "{engine:?}, round {round}: the finished dispatch woke its task"
                );
            }
        });
    }
}

#[test]
fn a_request_ended_at_its_wall_time_is_woken_once() {
    let script = "export default {\n  fetch() { return new Promise((resolve) => setTimeout(resolve, 60000)); },\n};\n";
    for engine in [Engine::QuickJs, Engine::Jsc] {
        let project = worker_project(script);
        run(async {
            let limits = WorkerLimits {
                wall_time: Some(Duration::from_millis(50)),
                ..WorkerLimits::default()
            };
            let worker = load(project.path(), engine, limits).await;
            let wakes = Arc::new(Wakes::default());
            let waker = Waker::from(wakes.clone());
            let mut cx = Context::from_waker(&waker);
            let request = Request::new("GET", "http://at-once.example/");
            let mut fetched = std::pin::pin!(worker.fetch(request));
            assert!(
                fetched.as_mut().poll(&mut cx).is_pending(),
                "{engine:?}: answered before its timer"
            );
            // The wall-time timer wakes the task once; nothing else may.
            let bound = Instant::now() + Duration::from_secs(10);
            while wakes.0.load(Ordering::SeqCst) == 0 {
                assert!(
                    Instant::now() < bound,
                    "{engine:?}: the wall-time limit never woke the task"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let Poll::Ready(outcome) = fetched.as_mut().poll(&mut cx) else {
                panic!("{engine:?}: still pending after the wall-time limit");
            };
            assert!(
                matches!(outcome, Outcome::LimitExceeded { .. }),
                "{engine:?}: {outcome:?}"
            );
            assert_eq!(
                wakes.0.load(Ordering::SeqCst),
                1,
                "{engine:?}: the ended dispatch woke its task again"
            );
        });
    }
}

/// A project of one worker, `index.js` holding `script`.
fn worker_project(script: &str) -> tempfile::TempDir {
    project(&[
        (
            "wrangler.toml",
            b"name = \"at-once\"\nmain = \"index.js\"\n",
        ),
        ("index.js", script.as_bytes()),
    ])
}

async fn load(root: &std::path::Path, engine: Engine, limits: WorkerLimits) -> Worker {
    let mut config = WorkerConfig::locate(root).unwrap();
    config.engine = engine;
    Worker::load(
        &config,
        limits,
        grants(),
        None,
        BlankIsolate::new_for(engine).unwrap(),
    )
    .await
    .unwrap()
}
