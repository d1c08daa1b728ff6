//! What the runtime's tests share: the grants of a worker that reaches nothing but the network,
//! the text of a response, and a thread to run a test's isolates on.

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

/// Runs `test` on this thread, as a serving thread runs isolates: one `LocalSet`.
pub fn run(test: impl std::future::Future<Output = ()>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&runtime, test);
}
