//! A worker's compiled modules are cached per version: an isolate made after the first reads
//! their bytecode and no longer needs their sources.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{body, grants, project, run};
use verge_config::WorkerConfig;
use verge_runtime::{BlankIsolate, ModuleCache, Request, Worker};

async fn answer(worker: &Worker) -> String {
    body(
        worker
            .fetch(Request::new("GET", "http://cached.example/"))
            .await,
    )
}

async fn load(config: &WorkerConfig, modules: &ModuleCache) -> Worker {
    Worker::load(
        config,
        Default::default(),
        grants(),
        Some(modules.clone()),
        BlankIsolate::new().unwrap(),
    )
    .await
    .unwrap()
}

#[test]
fn a_second_isolate_reads_modules_from_bytecode() {
    let project = project(&[
        (
            "wrangler.toml",
            b"name = \"cached\"\nmain = \"src/index.js\"\n",
        ),
        (
            "src/index.js",
            b"import { greet } from './lib/greet.js';\n\
              export default { fetch() { return new Response(greet('cache')); } };\n",
        ),
        (
            "src/lib/greet.js",
            b"export const greet = (who) => `hello ${who}`;\n",
        ),
    ]);
    let root = project.path();
    let config = WorkerConfig::locate(root).unwrap();

    run(async {
        let modules = ModuleCache::default();
        let first = load(&config, &modules).await;
        assert_eq!(answer(&first).await, "hello cache");
        assert_eq!(modules.len(), 2, "the entry and its import are cached");
        drop(first);

        // The import's source is gone: only its cached bytecode can serve it now.
        std::fs::remove_file(root.join("src/lib/greet.js")).unwrap();
        let mut workers = Vec::new();
        for _ in 0..3 {
            workers.push(load(&config, &modules).await);
        }
        for worker in &workers {
            assert_eq!(answer(worker).await, "hello cache");
        }

        // Without the cache, the missing file is an error naming it.
        let uncached = Worker::load(
            &config,
            Default::default(),
            grants(),
            None,
            BlankIsolate::new().unwrap(),
        )
        .await;
        let error = uncached
            .err()
            .expect("the import's source is missing")
            .to_string();
        assert!(error.contains("src/lib/greet.js"), "{error}");
    });
}
