//! One request's way through a serving thread: the static assets in front of a worker, the
//! worker its route names (or the zone's origin, when no route claims a zone's host), and what
//! the client gets when the worker fails: pass-through to the origin, or Workers' error pages.

use super::bindings::LocalWorkers;
use super::cron::scheduled_on_demand;
use super::http::{limit_exceeded, plain, request_host, to_hyper, to_worker_request};
use super::state::ThreadState;
use super::{Crons, Mode, Site};
use crate::routes::strip_port;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use verge_config::Zone;
use verge_runtime::{Body, NativeBody, OutboundRequest, Outcome, RedirectMode, WorkerRequest};

pub(super) async fn handle(
    state: Rc<ThreadState>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<NativeBody>, Infallible> {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let host = request_host(&request);
    let site = state.site.current();
    let tenant = site.route(&host, &path);
    if state.options.crons == Crons::OnDemand && path.starts_with("/__scheduled") {
        return Ok(scheduled_on_demand(&state, &site, tenant, &path).await);
    }
    let assets = tenant.and_then(|index| {
        let deployed = &site.workers[index];
        let assets_only = deployed.config.main.is_none();
        deployed.assets.clone().map(|assets| (assets, assets_only))
    });
    if let Some((assets, assets_only)) =
        assets.filter(|(assets, only)| *only || !assets.worker_first(path_only(&path)))
    {
        let answered = match assets.serve(&method, &path, request.headers()).await {
            Some(response) => Some(response),
            None if assets_only || assets.serves_navigation(request.headers()) => Some(
                assets
                    .not_found(&method, path_only(&path), request.headers())
                    .await,
            ),
            None => None,
        };
        if let Some(response) = answered {
            tracing::info!(
                target: "verge::request",
                "{method} {path} {} (asset, {:.1} ms)",
                response.status().as_u16(),
                started.elapsed().as_secs_f64() * 1000.0
            );
            return Ok(response);
        }
    }
    let response = match to_worker_request(request, peer, &state.options, &state.cf_texts) {
        Err((status, message)) => plain(status, message),
        Ok(worker_request) => match tenant {
            Some(index) => run(&state, &site, index, worker_request).await,
            None if in_a_zone(&site.zones, &host) => {
                let WorkerRequest {
                    method,
                    url,
                    headers,
                    body,
                    ..
                } = worker_request;
                let request = OutboundRequest {
                    method,
                    url,
                    headers,
                    body,
                    redirect: RedirectMode::Manual,
                    depth: 0,
                };
                to_origin(&state, "(no route)", request).await
            }
            None => plain(
                StatusCode::NOT_FOUND,
                "Error 404: no worker is routed for this host and path\n",
            ),
        },
    };
    tracing::info!(
        target: "verge::request",
        "{method} {path} {} ({:.1} ms)",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    if let Mode::Serve(_) = site.mode {
        state.isolates.replenish_spare();
    }
    Ok(response)
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
    request: WorkerRequest,
) -> Response<NativeBody> {
    let name = site.workers[index].config.name.as_str();
    let metrics = state.metrics.worker(name);
    metrics.requests.fetch_add(1, Ordering::Relaxed);
    let response = run_worker(state, site, index, request).await;
    if response.status().is_server_error() {
        metrics.errors.fetch_add(1, Ordering::Relaxed);
    }
    response
}

async fn run_worker(
    state: &ThreadState,
    site: &Site,
    index: usize,
    request: WorkerRequest,
) -> Response<NativeBody> {
    let name = site.workers[index].config.name.as_str();
    let live = match state.worker(site, index).await {
        Ok(live) => live,
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
    let replay = has_origin.then_some(()).and_then(|_| {
        let body = match &request.body {
            Body::Empty => Body::Empty,
            Body::Full(bytes) => Body::Full(bytes.clone()),
            Body::Stream(_) => return None,
        };
        Some(OutboundRequest {
            method: request.method.clone(),
            url: request.url.clone(),
            headers: request.headers.clone(),
            body,
            redirect: RedirectMode::Manual,
            depth: request.depth,
        })
    });
    let outcome = live.worker.fetch(request).await;
    live.count_busy();
    match outcome {
        Outcome::Response(response) => {
            to_hyper(name, response.status, &response.headers, response.body)
        }
        Outcome::LimitExceeded { message } => {
            tracing::error!(worker = name, "request stopped: {message}");
            // Jobs the stopped script queued may still be waiting to run: the isolate goes,
            // and the next request gets a fresh one.
            state.isolates.discard(name);
            limit_exceeded(&message)
        }
        Outcome::Completed => {
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
            state
                .metrics
                .tail
                .publish(name, "exception", &error.to_string());
            match replay {
                Some(request) if pass_through => to_origin(state, name, request).await,
                _ => plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Error 1101: Worker threw exception\n",
                ),
            }
        }
    }
}

/// Sends `request` to the origin behind the worker `name` (a pass-through, or a zone's request
/// that no route claims).
async fn to_origin(
    state: &ThreadState,
    name: &str,
    request: OutboundRequest,
) -> Response<NativeBody> {
    tracing::info!(
        worker = name,
        "passing {} {} through to the origin",
        request.method,
        request.url
    );
    match state.client.send(request).await {
        Ok(response) => to_hyper(name, response.status, &response.headers, response.body),
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
        request: WorkerRequest,
    ) -> Pin<Box<dyn Future<Output = Response<NativeBody>> + 'a>> {
        Box::pin(run(self, site, index, request))
    }
}
