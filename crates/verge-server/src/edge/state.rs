//! What one serving thread's connections share ([`ThreadState`]): the site handle, the
//! thread's isolates and HTTP client, and loading a worker's isolate here — with what it is
//! granted — when a request first needs it.

use super::bindings::{AssetsOutbound, LocalWorkers, ServiceOutbound};
use super::forwarded::RoutedObjects;
use super::isolates::{Isolates, LiveWorker};
use super::objects::{LocalObjects, ObjectRouter, ObjectThread};
use super::{Deployed, EdgeOptions, Mode, Site, SiteHandle};
use crate::geo::CfCache;
use crate::metrics::Metrics;
use crate::tail::{level_name, Tracer};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::Instant;
use verge_runtime::{
    Capabilities, ConsoleSink, Grants, HttpClient, LoadError, ObjectState, Outbound, Worker,
};

/// What one serving thread shares between its connections.
pub(super) struct ThreadState {
    /// Itself, for what must reach it later (service bindings, the cron clock).
    pub(super) this: Weak<ThreadState>,
    pub(super) site: SiteHandle,
    pub(super) metrics: Arc<Metrics>,
    pub(super) isolates: Rc<Isolates>,
    pub(super) client: HttpClient,
    pub(super) options: EdgeOptions,
    /// `request.cf` of this thread's recent clients.
    pub(super) cf_texts: CfCache,
    /// The Durable Objects that live on this thread.
    pub(super) objects: LocalObjects,
    /// Where every Durable Object lives.
    pub(super) object_router: Arc<ObjectRouter>,
}

impl ThreadState {
    /// The isolate of `site`'s worker `index` on this thread, loading it on first use (a cold
    /// start) or when the worker's version changed.
    pub(super) async fn worker(
        &self,
        site: &Site,
        index: usize,
    ) -> Result<Rc<LiveWorker>, LoadError> {
        let deployed = &site.workers[index];
        let name = &deployed.config.name;
        let mut cell = self.isolates.cell(name, deployed.version);
        // An engine stopped at a limit outside any request is replaced before it serves.
        if cell.get().is_some_and(|live| live.worker.is_spent()) {
            self.isolates.discard(name);
            cell = self.isolates.cell(name, deployed.version);
        }
        cell.get_or_try_init(|| async {
            let started = Instant::now();
            // The spare QuickJS isolate is for QuickJS workers alone.
            let isolate = match deployed.config.engine {
                verge_config::Engine::QuickJs => self.isolates.blank()?,
                verge_config::Engine::Jsc => self.isolates.blank_vm(name)?,
            };
            let worker = Worker::load(
                &deployed.config,
                self.options.limits.clone(),
                self.grants(site, deployed),
                Some(deployed.modules.clone()),
                isolate,
            )
            .await?;
            tracing::debug!(
                worker = %name,
                "isolate created in {:.2} ms",
                started.elapsed().as_secs_f64() * 1000.0
            );
            let vm = deployed.config.engine == verge_config::Engine::Jsc;
            Ok(Rc::new(LiveWorker::new(
                worker,
                self.metrics.worker(name),
                vm,
            )))
        })
        .await
        .cloned()
    }

    /// Where `verge serve` prints worker `name`'s console lines: the server's output, each led
    /// by the name.
    fn echo(&self, name: &str) -> ConsoleSink {
        let (sink, name) = (self.options.console.clone(), name.to_owned());
        Rc::new(move |level, text| sink(level, &format!("[{name}] {text}")))
    }

    /// The console of one event of `site`'s worker `name`, traced by `tracer` (see
    /// [`Tracer`]): none in `verge dev`, which has no tails.
    pub(super) fn event_console(
        &self,
        site: &Site,
        name: &str,
        tracer: Option<&Tracer>,
    ) -> Option<ConsoleSink> {
        match site.mode {
            Mode::Dev => None,
            Mode::Serve(_) => tracer.map(|tracer| tracer.console(self.echo(name))),
        }
    }

    /// What `deployed`, a worker of `site`, reaches from its isolate on this thread.
    pub(super) fn grants(&self, site: &Site, deployed: &Deployed) -> Grants {
        let console: ConsoleSink = match site.mode {
            Mode::Dev => {
                let sink = self.options.console.clone();
                Rc::new(move |level, text| sink(level, text))
            }
            Mode::Serve(_) => {
                let name = deployed.config.name.clone();
                let metrics = self.metrics.clone();
                let echo = self.echo(&name);
                Rc::new(move |level, text| {
                    metrics.tail.publish(&name, level_name(level), text);
                    echo(level, text)
                })
            }
        };
        let workers: Weak<dyn LocalWorkers> = self.this.clone();
        Grants {
            console,
            outbound: Rc::new(self.client.clone()),
            bindings: Capabilities {
                stores: self.options.stores.clone(),
                services: Rc::new(move |binding| {
                    Rc::new(ServiceOutbound {
                        workers: workers.clone(),
                        service: binding.service.clone(),
                        entrypoint: binding.entrypoint.clone(),
                    })
                }),
                assets: deployed
                    .assets
                    .clone()
                    .map(|assets| -> Rc<dyn Outbound> { Rc::new(AssetsOutbound { assets }) }),
                objects: Some(Rc::new(RoutedObjects {
                    router: self.object_router.clone(),
                    site: self.site.clone(),
                })),
            },
        }
    }
}

impl ObjectThread for ThreadState {
    fn site(&self) -> Arc<Site> {
        self.site.current()
    }

    fn objects(&self) -> &LocalObjects {
        &self.objects
    }

    fn router(&self) -> &ObjectRouter {
        &self.object_router
    }

    fn object_store(&self) -> Option<Arc<dyn verge_storage::ObjectStore>> {
        self.options.stores.objects.clone()
    }

    fn weak(&self) -> Weak<dyn ObjectThread> {
        self.this.clone()
    }

    fn load_object<'a>(
        &'a self,
        site: &'a Site,
        deployed: &'a Deployed,
        object: ObjectState,
    ) -> Pin<Box<dyn Future<Output = Result<Rc<LiveWorker>, LoadError>> + 'a>> {
        Box::pin(async move {
            let worker = Worker::load_object(
                &deployed.config,
                self.options.limits.clone(),
                self.grants(site, deployed),
                Some(deployed.modules.clone()),
                self.isolates.blank()?,
                object,
            )
            .await?;
            let metrics = self.metrics.worker(&deployed.config.name);
            Ok(Rc::new(LiveWorker::new(worker, metrics, false)))
        })
    }
}
