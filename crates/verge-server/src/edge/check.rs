//! Loading workers once before they serve, to refuse a version that does not load: `verge
//! serve` checks every worker before it listens, the admin API each upload before the switch.

use super::{Deployed, EdgeOptions};
use std::rc::Rc;
use verge_runtime::{BlankIsolate, Capabilities, Grants, LoadError, Refused, Worker};

/// Loads each of `workers` once, to refuse workers that do not compile before they serve: the
/// first failing worker's name (in the order given) and the error. The workers are shared out
/// among one thread per core, as each check makes an isolate (~1 ms: ten thousand workers
/// would take ten seconds on one thread). The calling thread must not be inside a tokio
/// runtime; see [`check_workers_here`] for one that is.
pub fn check_workers(
    workers: &[Deployed],
    options: &EdgeOptions,
) -> Result<(), (String, LoadError)> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let per_thread = workers.len().div_ceil(cores).max(1);
    let mut parts = workers.chunks(per_thread);
    let Some(first) = parts.next() else {
        return Ok(());
    };
    std::thread::scope(|scope| {
        let others: Vec<_> = parts
            .map(|part| scope.spawn(move || check_on_this_thread(part, options)))
            .collect();
        // The parts are in order, so the first error among them is the first failing worker.
        check_on_this_thread(first, options)?;
        others.into_iter().try_for_each(|other| {
            other
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    })
}

fn check_on_this_thread(
    workers: &[Deployed],
    options: &EdgeOptions,
) -> Result<(), (String, LoadError)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            (
                "(runtime)".to_owned(),
                LoadError::Read {
                    path: String::new(),
                    source: e,
                },
            )
        })?;
    tokio::task::LocalSet::new().block_on(&runtime, check_workers_here(workers, options))
}

/// [`check_workers`] inside a `LocalSet` that is already running.
pub async fn check_workers_here(
    workers: &[Deployed],
    options: &EdgeOptions,
) -> Result<(), (String, LoadError)> {
    for Deployed {
        config, modules, ..
    } in workers
    {
        // A check runs the worker's top level, no request: like Workers, it may not reach the
        // network then (nor, on `verge serve`, anything its outbound policy would refuse).
        const NO_IO: &str = "fetch() is not available while a worker is loaded: I/O belongs in a request handler, as on Workers";
        let grants = Grants {
            console: Rc::new(|_, _| {}),
            outbound: Rc::new(Refused(NO_IO)),
            bindings: Capabilities {
                stores: options.stores.clone(),
                services: Rc::new(|_| Rc::new(Refused(NO_IO))),
                objects: Some(Rc::new(Refused(NO_IO))),
                assets: Some(Rc::new(Refused(NO_IO))),
            },
        };
        let isolate = BlankIsolate::on_demand();
        Worker::load(
            config,
            options.limits.clone(),
            grants,
            Some(modules.clone()),
            isolate,
        )
        .await
        .map_err(|error| (config.name.clone(), error))?;
    }
    Ok(())
}
