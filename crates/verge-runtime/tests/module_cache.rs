//! A worker's compiled modules are cached per version: an isolate made after the first reads
//! their bytecode and no longer needs their sources.

// Test code fails by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::rc::Rc;
use verge_config::WorkerConfig;
use verge_runtime::{
    BlankIsolate, Body, Capabilities, Grants, HttpClient, ModuleCache, Outcome, Refused, Request,
    Stores, Worker,
};

async fn answer(worker: &Worker) -> String {
    let request = Request::new("GET", "http://cached.example/");
    match worker.fetch(request).await {
        Outcome::Response(response) => match response.body {
            Body::Full(bytes) => String::from_utf8(bytes.to_vec()).unwrap(),
            other => panic!("expected a full body, got {other:?}"),
        },
        Outcome::Exception { error, .. } => panic!("{error}"),
        Outcome::LimitExceeded { message } => panic!("{message}"),
        Outcome::Completed | Outcome::Reply(_) => panic!("the fetch handler answered nothing"),
    }
}

fn grants() -> Grants {
    Grants {
        console: Rc::new(|_, _| {}),
        outbound: Rc::new(HttpClient::new()),
        bindings: Capabilities {
            stores: Stores::default(),
            services: Rc::new(|_| Rc::new(Refused("no services"))),
            assets: None,
            objects: None,
        },
    }
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
    let project = tempfile::tempdir().unwrap();
    let root = project.path();
    std::fs::create_dir(root.join("src")).unwrap();
    std::fs::write(
        root.join("wrangler.toml"),
        "name = \"cached\"\nmain = \"src/index.js\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("src/index.js"),
        "import { greet } from './lib/greet.js';\n\
         export default { fetch() { return new Response(greet('cache')); } };\n",
    )
    .unwrap();
    std::fs::create_dir(root.join("src/lib")).unwrap();
    std::fs::write(
        root.join("src/lib/greet.js"),
        "export const greet = (who) => `hello ${who}`;\n",
    )
    .unwrap();
    let config = WorkerConfig::locate(root).unwrap();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&runtime, async {
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
