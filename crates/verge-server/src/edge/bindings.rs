//! The bindings that call back into this server rather than a store: a service binding
//! (`env.OTHER.fetch()`, another worker of this server, run on this thread) and `[assets]`'
//! binding (`env.ASSETS.fetch()`). Neither leaves the process.

use super::Site;
use crate::assets::Assets;
use http::StatusCode;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use verge_runtime::{
    deeper, is_hop_by_hop, CallFuture, OpError, Outbound, OutboundFuture, RedirectMode, Request,
    Response, Service,
};

/// This server's workers as a service binding reaches them: on the calling thread, by their
/// index in the site being served.
pub(super) trait LocalWorkers {
    /// The site being served now.
    fn site(&self) -> Arc<Site>;

    /// Runs `site`'s worker `index` (its `entrypoint`, or its default export) for `request` as
    /// for a client's request, its failures answered with Workers' error responses.
    fn run<'a>(
        &'a self,
        site: &'a Site,
        index: usize,
        request: Request,
        entrypoint: Option<String>,
    ) -> Pin<Box<dyn Future<Output = Response> + 'a>>;

    /// Calls `method` of `site`'s worker `index`'s `entrypoint` (`None`: its default export)
    /// with the serialized `args`: the serialized reply.
    fn call<'a>(
        &'a self,
        site: &'a Site,
        index: usize,
        entrypoint: Option<String>,
        method: String,
        args: String,
        depth: u32,
    ) -> Pin<Box<dyn Future<Output = Result<String, OpError>> + 'a>>;
}

/// A service binding: `fetch()` that runs another worker of this server, on this thread, with
/// no network in between.
pub(super) struct ServiceOutbound {
    pub(super) workers: Weak<dyn LocalWorkers>,
    pub(super) service: String,
    pub(super) entrypoint: Option<String>,
}

/// Where a service binding's request or call goes: this thread's workers, the site now
/// served, and the index of the binding's worker in it.
type Target = (Rc<dyn LocalWorkers>, Arc<Site>, usize);

impl ServiceOutbound {
    fn target(&self) -> Result<Target, OpError> {
        let workers = self
            .workers
            .upgrade()
            .ok_or_else(|| OpError::Error("the server is stopping".into()))?;
        let site = workers.site();
        let index = site.position(&self.service).ok_or_else(|| {
            OpError::Type(format!(
                "service binding: no worker named \"{}\" runs on this server",
                self.service
            ))
        })?;
        Ok((workers, site, index))
    }
}

impl Service for ServiceOutbound {
    fn call(&self, method: String, args: String, depth: u32) -> CallFuture {
        let target = self.target();
        let entrypoint = self.entrypoint.clone();
        Box::pin(async move {
            let (workers, site, index) = target?;
            workers
                .call(&site, index, entrypoint, method, args, depth)
                .await
        })
    }
}

impl Outbound for ServiceOutbound {
    fn fetch(&self, request: Request) -> OutboundFuture {
        let target = self.target();
        let entrypoint = self.entrypoint.clone();
        Box::pin(async move {
            let (workers, site, index) = target?;
            let depth = deeper(request.depth).map_err(OpError::Error)?;
            let url = request.url.clone();
            // As a client's request would reach it: a redirect goes back to the caller.
            let request = Request {
                cf: Some(Rc::from("{}")),
                redirect: RedirectMode::Manual,
                depth,
                ..request
            };
            let response = workers.run(&site, index, request, entrypoint).await;
            Ok(local_response(response, url))
        })
    }
}

/// The `[assets]` binding (`env.ASSETS.fetch()`): the worker's own static files, with
/// `not_found_handling` for paths that match none.
pub(super) struct AssetsOutbound {
    pub(super) assets: Arc<Assets>,
}

impl Outbound for AssetsOutbound {
    fn fetch(&self, request: Request) -> OutboundFuture {
        let assets = self.assets.clone();
        Box::pin(async move {
            let url = url::Url::parse(&request.url)
                .map_err(|e| OpError::Type(format!("Invalid URL {}: {e}", request.url)))?;
            let (method, headers) = (&request.method, &request.headers);
            let path = match url.query() {
                Some(query) => format!("{}?{query}", url.path()),
                None => url.path().to_owned(),
            };
            let host = url.host_str();
            let response = match assets.serve(method, host, &path, headers).await {
                Some(response) => response,
                None => assets.not_found(method, host, url.path(), headers).await,
            };
            Ok(local_response(response, request.url))
        })
    }
}

/// What a binding's `fetch()` answers when this server made the response itself (another
/// worker, the assets) for `url`: no network, no redirects followed, and, as the network would
/// have it, the status's usual reason where none was given and no framing of a connection's.
fn local_response(mut response: Response, url: String) -> Response {
    response.headers.retain(|name, _| !is_hop_by_hop(name));
    if response.status_text.is_empty() {
        response.status_text = StatusCode::from_u16(response.status)
            .ok()
            .and_then(|status| status.canonical_reason())
            .unwrap_or_default()
            .to_owned();
    }
    response.url = url;
    response
}
