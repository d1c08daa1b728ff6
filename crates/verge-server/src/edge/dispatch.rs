//! One request's way through a serving thread: the static assets in front of a worker, the
//! worker its route names (or the zone's origin, when no route claims a zone's host), and what
//! the client gets when the worker fails: pass-through to the origin, or Workers' error pages.

use super::bindings::LocalWorkers;
use super::cron::scheduled_on_demand;
use super::http::{
    limit_exceeded, plain, redirect_to_https, refuse_too_large, request_host, to_hyper,
    to_worker_request,
};
use super::state::ThreadState;
use super::websocket;
use super::{Connection, Crons, Mode, Site};
use crate::routes::strip_port;
use crate::tail::Tracer;
use http::StatusCode;
use hyper::body::Incoming;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use verge_config::Zone;
use verge_runtime::{NativeBody, OpError, Outcome, Request, Response};

/// How quick an answer must be to wait for its round's others before going out (see `handle`).
const BATCHED_UNDER: Duration = Duration::from_millis(1);

pub(super) async fn handle(
    state: Rc<ThreadState>,
    connection: Connection,
    mut request: http::Request<Incoming>,
) -> Result<http::Response<NativeBody>, Infallible> {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let host = request_host(&request);
    if let Some(challenges) = &state.options.acme_challenges {
        if let Some(token) = path.strip_prefix("/.well-known/acme-challenge/") {
            let answer = match challenges.answer(token) {
                Some(answer) => plain(StatusCode::OK, answer),
                None => plain(StatusCode::NOT_FOUND, "no such challenge\n"),
            };
            return Ok(to_hyper("(acme)", answer, false));
        }
    }
    if let (None, Some(port)) = (connection.tls, state.options.redirect_https) {
        return Ok(redirect_to_https(&host, port, &path));
    }
    let site = state.site.current();
    let tenant = site.route(&host, &path);
    let from = tenant.map_or("(no route)", |index| &site.workers[index].config.name);
    let upgrade = websocket::Upgrade::of(&mut request);
    let request = to_worker_request(request, &host, connection, &state.options, &state.cf_texts);
    let (response, answered_by) = answer(&state, &site, tenant, &host, &path, request).await;
    tracing::info!(
        target: "verge::request",
        "{method} {path} {} ({answered_by}{:.1} ms)",
        response.status,
        started.elapsed().as_secs_f64() * 1000.0
    );
    if let Mode::Serve(_) = site.mode {
        state.isolates.replenish_spare();
    }
    if response.status == 101 || response.websocket.is_some() {
        let metrics = state.metrics.worker(from);
        return Ok(websocket::switch(from, metrics, upgrade, response));
    }
    // A quick answer waits for the thread's other ready requests to be answered too, and the
    // responses then leave together: the client is woken once for many of them, not once for
    // each (a wake-up costs the sender ~8 µs of kernel time on loopback: a fifth of a small
    // worker's request). A slow answer goes out at once: what it would save is under 1% of it,
    // and it would hold back the quick ones.
    if started.elapsed() < BATCHED_UNDER {
        tokio::task::yield_now().await;
    }
    Ok(to_hyper(from, response, method == http::Method::HEAD))
}

/// The response to `request` for `host` and `path`, and what answered it if not the worker or
/// origin (`"asset, "`, for the log line): the assets in front of worker `tenant` (if it has
/// any, and they come first for the path), else the worker, else the origin of a zone serving
/// `host` — but a body declared over the bound reaches neither.
async fn answer(
    state: &ThreadState,
    site: &Site,
    tenant: Option<usize>,
    host: &str,
    path: &str,
    request: Request,
) -> (Response, &'static str) {
    if state.options.crons == Crons::OnDemand && path.starts_with("/__scheduled") {
        return (scheduled_on_demand(state, site, tenant, path).await, "");
    }
    let too_large = || refuse_too_large(&request, state.options.max_request_body);
    let Some(index) = tenant else {
        if let Some(refused) = too_large() {
            return (refused, "");
        }
        if in_a_zone(&site.zones, host) {
            return (to_origin(state, "(no route)", request).await, "");
        }
        let missing = plain(
            StatusCode::NOT_FOUND,
            "Error 404: no worker is routed for this host and path\n",
        );
        return (missing, "");
    };
    let deployed = &site.workers[index];
    let assets_only = deployed.config.main.is_none();
    if let Some(assets) = deployed
        .assets
        .as_ref()
        .filter(|assets| assets_only || !assets.worker_first(path_only(path)))
    {
        let (method, headers) = (&request.method, &request.headers);
        let host = Some(host);
        let answered = match assets.serve(method, host, path, headers).await {
            Some(response) => Some(response),
            None if assets_only || assets.serves_navigation(headers) => Some(
                assets
                    .not_found(method, host, path_only(path), headers)
                    .await,
            ),
            None => None,
        };
        if let Some(response) = answered {
            return (response, "asset, ");
        }
    }
    if let Some(refused) = too_large() {
        return (refused, "");
    }
    (run(state, site, index, request).await, "")
}

/// The path of a path-and-query.
fn path_only(path_and_query: &str) -> &str {
    path_and_query
        .split_once('?')
        .map_or(path_and_query, |(path, _)| path)
}

/// Whether some zone serves `host` (a port is ignored).
fn in_a_zone(zones: &[Zone], host: &str) -> bool {
    let host = strip_port(host);
    zones.iter().any(|zone| zone.serves(host))
}

/// Runs tenant `index`. With an origin behind it, a failure after `passThroughOnException`
/// forwards the request there as if there were no worker.
pub(super) async fn run(
    state: &ThreadState,
    site: &Site,
    index: usize,
    request: Request,
) -> Response {
    run_entrypoint(state, site, index, request, None).await
}

/// Runs `entrypoint` (a `WorkerEntrypoint` class of tenant `index`; `None`: its default
/// export) for `request`, as [`run`] does.
pub(super) async fn run_entrypoint(
    state: &ThreadState,
    site: &Site,
    index: usize,
    request: Request,
    entrypoint: Option<String>,
) -> Response {
    let name = site.workers[index].config.name.as_str();
    let metrics = state.metrics.worker(name);
    metrics.requests.fetch_add(1, Ordering::Relaxed);
    let response = run_worker(state, site, index, request, entrypoint).await;
    if response.status >= 500 {
        metrics.errors.fetch_add(1, Ordering::Relaxed);
    }
    response
}

async fn run_worker(
    state: &ThreadState,
    site: &Site,
    index: usize,
    request: Request,
    entrypoint: Option<String>,
) -> Response {
    let name = site.workers[index].config.name.as_str();
    let live = match state.worker(site, index).await {
        Ok(live) => live,
        Err(verge_runtime::LoadError::AtCapacity(why)) => {
            tracing::warn!(worker = name, "not loaded: {why}");
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "Error 503: the server is at capacity; try again\n",
            );
        }
        Err(error) => {
            tracing::error!(worker = name, "cannot load the worker: {error}");
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error 1101: Worker threw exception\n",
            );
        }
    };
    let has_origin = state.options.origin.is_some() || !site.zones.is_empty();
    // What pass-through needs to resend the request; a streamed body cannot be replayed.
    let replay = has_origin.then(|| request.replay()).flatten();
    let tracer = Tracer::of_request(&state.metrics, name, &request);
    let console = state.event_console(site, name, tracer.as_ref());
    let outcome = live
        .worker
        .fetch_entrypoint(request, entrypoint, console)
        .await;
    live.count_busy();
    if let Some(tracer) = &tracer {
        tracer.ended(&outcome);
    }
    let response = match outcome {
        Outcome::Response(response) => response,
        Outcome::LimitExceeded { message, .. } => {
            tracing::error!(worker = name, "request stopped: {message}");
            // Jobs the stopped script queued may still be waiting to run: the isolate goes,
            // and the next request gets a fresh one.
            state.isolates.discard(name);
            limit_exceeded(&message)
        }
        Outcome::Completed | Outcome::Reply(_) => {
            tracing::error!(worker = name, "the fetch handler answered nothing");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error 1101: Worker threw exception\n",
            )
        }
        Outcome::Exception { error, .. } if error.is_out_of_memory() => {
            tracing::error!(
                worker = name,
                "request stopped: the isolate ran out of memory; it is discarded"
            );
            state.isolates.discard(name);
            limit_exceeded("the worker ran out of memory")
        }
        Outcome::Exception {
            error,
            pass_through,
        } => {
            tracing::error!(worker = name, "uncaught exception: {error}");
            // A traced request's exception goes out with its trace.
            if tracer.is_none() {
                state
                    .metrics
                    .tail
                    .publish(name, "exception", &error.to_string());
            }
            match replay {
                Some(request) if pass_through => to_origin(state, name, request).await,
                _ => plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Error 1101: Worker threw exception\n",
                ),
            }
        }
    };
    if let Some(tracer) = tracer {
        tracer.answered(response.status);
    }
    response
}

/// Sends `request` to the origin behind the worker `name` (a pass-through, or a zone's request
/// that no route claims).
async fn to_origin(state: &ThreadState, name: &str, request: Request) -> Response {
    tracing::info!(
        worker = name,
        "passing {} {} through to the origin",
        request.method,
        request.url
    );
    match state.client.send(request).await {
        Ok(response) => response,
        Err(error) => {
            tracing::error!(worker = name, "the origin failed: {error:?}");
            plain(
                StatusCode::BAD_GATEWAY,
                "Error 502: the origin could not be reached\n",
            )
        }
    }
}

impl LocalWorkers for ThreadState {
    fn site(&self) -> Arc<Site> {
        self.site.current()
    }

    fn run<'a>(
        &'a self,
        site: &'a Site,
        index: usize,
        request: Request,
        entrypoint: Option<String>,
    ) -> Pin<Box<dyn Future<Output = Response> + 'a>> {
        Box::pin(run_entrypoint(self, site, index, request, entrypoint))
    }

    fn call<'a>(
        &'a self,
        site: &'a Site,
        index: usize,
        entrypoint: Option<String>,
        method: String,
        args: String,
        depth: u32,
    ) -> Pin<Box<dyn Future<Output = Result<String, OpError>> + 'a>> {
        Box::pin(async move {
            let name = site.workers[index].config.name.as_str();
            let live = self.worker(site, index).await.map_err(|error| {
                tracing::error!(worker = name, "cannot load the worker: {error}");
                OpError::Error(format!("the worker {name} could not be loaded"))
            })?;
            let outcome = live.worker.call(entrypoint, method, args, depth).await;
            live.count_busy();
            if outcome.ends_isolate() {
                self.isolates.discard(name);
            }
            match outcome {
                Outcome::Reply(reply) => Ok(reply),
                Outcome::LimitExceeded { message, .. } => Err(OpError::Error(format!(
                    "Worker exceeded resource limits: {message}"
                ))),
                Outcome::Exception { error, .. } => Err(OpError::Error(error.to_string())),
                Outcome::Response(_) | Outcome::Completed => {
                    Err(OpError::Error("the RPC method answered nothing".into()))
                }
            }
        })
    }
}
