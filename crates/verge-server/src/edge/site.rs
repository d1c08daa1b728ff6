//! What a server serves: the deployed workers, how requests find them ([`Mode`]), and the
//! switch a deploy makes. A [`Site`] never changes; a deploy builds a new one and swaps it into
//! the [`SiteHandle`], and each request reads the current one, so requests in flight finish on
//! the site they started with.

use crate::assets::Assets;
use crate::routes::RouteTable;
use std::collections::HashMap;
use std::sync::Arc;
use verge_config::{WorkerConfig, Zone};
use verge_runtime::{ModuleCache, NetworkPolicy};

/// A worker as deployed: its config and its version. A thread whose isolate is of an older
/// version makes a new one, while requests in flight finish on the old.
#[derive(Clone)]
pub struct Deployed {
    pub config: Arc<WorkerConfig>,
    pub version: u64,
    /// This version's compiled modules, shared by its isolates on every thread.
    pub modules: ModuleCache,
    /// Its `[assets]`, served in front of it.
    pub assets: Option<Arc<Assets>>,
}

impl std::borrow::Borrow<WorkerConfig> for Deployed {
    fn borrow(&self) -> &WorkerConfig {
        &self.config
    }
}

impl Deployed {
    pub fn new(config: Arc<WorkerConfig>, version: u64) -> Self {
        let assets = config
            .assets
            .as_ref()
            .map(|assets| Arc::new(Assets::new(&config.name, assets)));
        Self {
            config,
            version,
            modules: ModuleCache::default(),
            assets,
        }
    }
}

/// How a server finds the worker for a request, and what else differs between `verge dev` and
/// `verge serve`.
pub enum Mode {
    /// `verge dev`: one project answers every request, and its console is the terminal's.
    Dev,
    /// `verge serve`: many tenants, each request going to the worker whose routes claim it;
    /// console lines carry the worker's name and reach `verge tail`, and each serving thread
    /// keeps a spare isolate for the next cold start.
    Serve(RouteTable),
}

/// What a server serves.
pub struct Site {
    pub workers: Vec<Deployed>,
    /// How requests find their worker.
    pub mode: Mode,
    /// Hosts served by an origin: requests no route claims go there, and so does `fetch()`.
    pub zones: Vec<Zone>,
    /// Where workers' `fetch()` may connect.
    pub policy: NetworkPolicy,
    /// Each worker's index in `workers`, by name: service bindings and the admin API find a
    /// worker without a scan of thousands.
    by_name: HashMap<String, usize>,
}

impl Site {
    pub fn new(
        workers: Vec<Deployed>,
        mode: Mode,
        zones: Vec<Zone>,
        policy: NetworkPolicy,
    ) -> Self {
        let by_name = workers
            .iter()
            .enumerate()
            .map(|(index, worker)| (worker.config.name.clone(), index))
            .collect();
        Self {
            workers,
            mode,
            zones,
            policy,
            by_name,
        }
    }

    /// The index in `workers` of the worker a request for `host` and `path` goes to, if any.
    pub fn route(&self, host: &str, path: &str) -> Option<usize> {
        match &self.mode {
            Mode::Dev => Some(0),
            Mode::Serve(routes) => routes.find(host, path),
        }
    }

    /// The index in `workers` of the worker called `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// One worker answering everything, reaching any address.
    pub fn single(config: Arc<WorkerConfig>) -> Self {
        Self::single_version(Deployed::new(config, 1))
    }

    /// One worker, as deployed, answering everything: `verge dev` after a reload.
    pub fn single_version(deployed: Deployed) -> Self {
        Self::new(vec![deployed], Mode::Dev, Vec::new(), NetworkPolicy::open())
    }
}

/// The site being served, replaced whole by a deploy; each request reads the current one.
#[derive(Clone)]
pub struct SiteHandle(Arc<std::sync::RwLock<Arc<Site>>>);

impl SiteHandle {
    pub fn new(site: Site) -> Self {
        Self(Arc::new(std::sync::RwLock::new(Arc::new(site))))
    }

    pub fn current(&self) -> Arc<Site> {
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn replace(&self, site: Site) {
        *self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(site);
    }
}
