//! What the runtime's tests share: the grants of a worker that reaches nothing but the network,
//! the text of a response, a project's files in a temporary directory, and a thread to run a
//! test's isolates on.

use std::rc::Rc;
use verge_runtime::{Body, Capabilities, Grants, HttpClient, Outcome, Refused, Stores};

/// Grants with no console, the real HTTP client, empty stores and no services.
pub fn grants() -> Grants {
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

/// The text of the response `outcome` holds; a panic naming what came instead.
pub fn body(outcome: Outcome) -> String {
    match outcome {
        Outcome::Response(response) => match response.body {
            Body::Full(bytes) => String::from_utf8(bytes.to_vec()).unwrap(),
            other => panic!("expected a full body, got {other:?}"),
        },
        Outcome::Exception { error, .. } => panic!("{error}"),
        Outcome::LimitExceeded { message, .. } => panic!("{message}"),
        Outcome::Completed | Outcome::Reply(_) => panic!("the fetch handler answered nothing"),
    }
}

/// A project in a temporary directory: each of `files` (a path in it, its contents) written,
/// with the directories it needs.
pub fn project(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let project = tempfile::tempdir().unwrap();
    for (name, contents) in files {
        let path = project.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, contents).unwrap();
    }
    project
}

/// Runs `test` on this thread, as a serving thread runs isolates: one `LocalSet`.
pub fn run(test: impl std::future::Future<Output = ()>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&runtime, test);
}
