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
use support::{body, grants, run};
use verge_config::{Engine, WorkerConfig};
use verge_runtime::{BlankIsolate, Request, Worker, WorkerLimits};

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
    for engine in [Engine::QuickJs, Engine::Jsc] {
        answers_at_once_on(engine);
    }
}

fn answers_at_once_on(engine: Engine) {
    let project = tempfile::tempdir().unwrap();
    let root = project.path();
    std::fs::write(
        root.join("wrangler.toml"),
        "name = \"at-once\"\nmain = \"index.js\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("index.js"),
        // Odd rounds answer with a fulfilled promise, as an `async fetch` that never awaits does.
        "export default {\n  fetch(request) {\n    const response = new Response('answered');\n\
         return request.url.endsWith('1') ? Promise.resolve(response) : response;\n  },\n};\n",
    )
    .unwrap();
    run(async {
        let mut config = WorkerConfig::locate(root).unwrap();
        config.engine = engine;
        let worker = Worker::load(
            &config,
            WorkerLimits::default(),
            grants(),
            None,
            BlankIsolate::new_for(engine).unwrap(),
        )
        .await
        .unwrap();
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
