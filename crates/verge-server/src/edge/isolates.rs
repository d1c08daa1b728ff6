//! The isolates of one serving thread: per worker, a cell that the worker's first request on
//! this thread fills (a cold start); the spare blank isolate that the next cold start takes; and
//! eviction — of workers no longer deployed, of isolates idle past the bound, and of the least
//! recently used while the thread's isolates hold more heap than its budget. Dropping a cell
//! never cuts a request short: the requests in flight hold their isolate until they finish.

use super::Site;
use crate::metrics::WorkerMetrics;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use verge_runtime::{BlankIsolate, LoadError, Worker};

/// Live JavaScriptCore VMs in the process. Each maps memory regions of its own, more as it
/// serves (3.1 after a worker's first request, 14.6 after its second, measured at 500 workers:
/// README, § Measured), and a mapping refused past Linux's `vm.max_map_count` ends the whole
/// process: so the VMs are capped ([`vm_cap`]).
static LIVE_VMS: AtomicUsize = AtomicUsize::new(0);

/// The mappings counted per VM against `vm.max_map_count`: the 14.6 measured, with room for a
/// VM that grows further and for the rest of the process.
const MAPPINGS_PER_VM: usize = 24;

/// How many JavaScriptCore VMs the process may hold: `vm.max_map_count` over
/// [`MAPPINGS_PER_VM`] (2,730 at Linux's default), or `VERGE_MAX_JSC_VMS`.
fn vm_cap() -> usize {
    static CAP: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CAP.get_or_init(|| {
        let configured = std::env::var("VERGE_MAX_JSC_VMS")
            .ok()
            .and_then(|cap| cap.parse().ok());
        configured.unwrap_or_else(|| {
            let mappings = std::fs::read_to_string("/proc/sys/vm/max_map_count")
                .ok()
                .and_then(|text| text.trim().parse::<usize>().ok())
                .unwrap_or(65_530);
            (mappings / MAPPINGS_PER_VM).max(1)
        })
    })
}

/// A loaded isolate of a worker, counted among the live ones while it exists.
pub(super) struct LiveWorker {
    pub(super) worker: Worker,
    pub(super) metrics: Arc<WorkerMetrics>,
    /// The isolate's busy time already added to the metrics.
    busy_counted: Cell<Duration>,
    /// Whether it is a JavaScriptCore VM, counted in [`LIVE_VMS`].
    vm: bool,
}

impl LiveWorker {
    pub(super) fn new(worker: Worker, metrics: Arc<WorkerMetrics>, vm: bool) -> Self {
        metrics.cold_starts.fetch_add(1, Ordering::Relaxed);
        metrics.live_isolates.fetch_add(1, Ordering::Relaxed);
        if vm {
            LIVE_VMS.fetch_add(1, Ordering::Relaxed);
        }
        Self {
            worker,
            metrics,
            busy_counted: Cell::default(),
            vm,
        }
    }

    /// Adds the isolate's running time since the last call to the worker's metrics.
    pub(super) fn count_busy(&self) {
        let busy = self.worker.busy_time();
        let delta = busy.saturating_sub(self.busy_counted.replace(busy));
        let nanos = u64::try_from(delta.as_nanos()).unwrap_or(u64::MAX);
        self.metrics.busy_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

impl Drop for LiveWorker {
    fn drop(&mut self) {
        self.metrics.live_isolates.fetch_sub(1, Ordering::Relaxed);
        if self.vm {
            LIVE_VMS.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Where a worker's isolate on this thread is, once loaded.
pub(super) type WorkerCell = Rc<tokio::sync::OnceCell<Rc<LiveWorker>>>;

/// One worker on one serving thread: its isolate of one version, loaded when a request first
/// needs it. Replaced by a fresh cell to discard the isolate.
struct Tenant {
    version: u64,
    cell: WorkerCell,
    last_used: Cell<Instant>,
}

/// One serving thread's isolates, by worker name.
#[derive(Default)]
pub(super) struct Isolates {
    tenants: RefCell<HashMap<String, Tenant>>,
    /// The isolate the next cold start takes (serving many workers), made once the request
    /// that took the last one is answered.
    spare: RefCell<Option<BlankIsolate>>,
    /// The same for JavaScriptCore, kept once a worker on it has loaded on this thread (a
    /// thread that serves none makes none).
    spare_vm: RefCell<Option<BlankIsolate>>,
    vm_wanted: Cell<bool>,
    /// A task to make the spares is queued.
    making_spare: Cell<bool>,
    /// The site the last eviction round saw; a different one may have dropped workers.
    evicted_for: RefCell<Option<Arc<Site>>>,
}

impl Isolates {
    /// The cell of worker `name` at `version`, marked as used now; a cell of another version
    /// is replaced by an empty one.
    pub(super) fn cell(&self, name: &str, version: u64) -> WorkerCell {
        let mut tenants = self.tenants.borrow_mut();
        let fresh = || Tenant {
            version,
            cell: Rc::default(),
            last_used: Cell::new(Instant::now()),
        };
        let tenant = tenants.entry(name.to_owned()).or_insert_with(fresh);
        if tenant.version != version {
            *tenant = fresh();
        }
        tenant.last_used.set(Instant::now());
        tenant.cell.clone()
    }

    /// An isolate for a cold start: the spare if there is one.
    pub(super) fn blank(&self) -> Result<BlankIsolate, LoadError> {
        let spare = self.spare.borrow_mut().take();
        spare.map_or_else(BlankIsolate::new, Ok)
    }

    /// A JavaScriptCore VM for worker `name`'s cold start: the spare if there is one, else
    /// one made by the worker as it loads. At the process's cap of VMs ([`vm_cap`]), this
    /// thread's least recently used VMs are dropped first (requests in flight keep theirs); if
    /// the VMs are other threads', none is made.
    pub(super) fn blank_vm(&self, name: &str) -> Result<BlankIsolate, LoadError> {
        let cap = vm_cap();
        while LIVE_VMS.load(Ordering::Relaxed) >= cap {
            let mut tenants = self.tenants.borrow_mut();
            let oldest = tenants
                .iter()
                .filter(|(other, tenant)| {
                    *other != name
                        && tenant
                            .cell
                            .get()
                            .is_some_and(|live| live.vm && live.worker.open_sockets() == 0)
                })
                .min_by_key(|(_, tenant)| tenant.last_used.get())
                .map(|(other, _)| other.clone());
            let Some(oldest) = oldest else {
                return Err(LoadError::AtCapacity(format!(
                    "this server holds its most JavaScriptCore VMs ({cap}): try again when one \
                     is idle"
                )));
            };
            tracing::debug!(worker = %oldest, "VM dropped: the process holds its most");
            tenants.remove(&oldest);
        }
        self.vm_wanted.set(true);
        let spare = self.spare_vm.borrow_mut().take();
        Ok(spare.unwrap_or_else(BlankIsolate::on_demand))
    }

    /// Queues making a spare isolate if there is none. Called as a response is handed to the
    /// connection, which writes it before this thread's next task runs: the work stays off
    /// every request's path.
    pub(super) fn replenish_spare(self: &Rc<Self>) {
        let vm_missing = self.vm_wanted.get() && self.spare_vm.borrow().is_none();
        if (self.spare.borrow().is_some() && !vm_missing) || self.making_spare.replace(true) {
            return;
        }
        let isolates: Weak<Self> = Rc::downgrade(self);
        tokio::task::spawn_local(async move {
            let Some(isolates) = isolates.upgrade() else {
                return;
            };
            isolates.making_spare.set(false);
            if isolates.spare.borrow().is_none() {
                match BlankIsolate::new() {
                    Ok(spare) => *isolates.spare.borrow_mut() = Some(spare),
                    Err(e) => tracing::warn!("cannot make a spare isolate: {e}"),
                }
            }
            if isolates.vm_wanted.get() && isolates.spare_vm.borrow().is_none() {
                match BlankIsolate::new_for(verge_config::Engine::Jsc) {
                    Ok(spare) => *isolates.spare_vm.borrow_mut() = Some(spare),
                    Err(e) => tracing::warn!("cannot make a spare JavaScriptCore VM: {e}"),
                }
            }
        });
    }

    /// Drops worker `name`'s isolate on this thread; the next request creates a fresh one.
    pub(super) fn discard(&self, name: &str) {
        self.tenants.borrow_mut().remove(name);
    }

    /// Drops the isolates of workers no longer deployed on `site`, those idle past `idle`,
    /// then the least recently used ones while this thread's isolates hold more heap than
    /// `budget`. Requests in flight keep theirs.
    pub(super) fn evict(&self, site: &Arc<Site>, idle: Option<Duration>, budget: Option<usize>) {
        self.forget_removed(site);
        let mut tenants = self.tenants.borrow_mut();
        // An isolate with WebSockets open is in use, however long since its last request.
        let holds_sockets = |tenant: &Tenant| {
            tenant
                .cell
                .get()
                .is_some_and(|live| live.worker.open_sockets() > 0)
        };
        if let Some(idle) = idle {
            tenants.retain(|name, tenant| {
                let keep = tenant.last_used.get().elapsed() < idle || holds_sockets(tenant);
                if !keep && tenant.cell.initialized() {
                    tracing::debug!(worker = %name, "isolate dropped after {idle:?} idle");
                }
                keep
            });
        }
        let Some(budget) = budget else {
            return;
        };
        let heap = |tenant: &Tenant| tenant.cell.get().map_or(0, |live| live.worker.heap_bytes());
        let mut total: usize = tenants.values().map(heap).sum();
        while total > budget {
            let Some((oldest, bytes)) = tenants
                .iter()
                .filter(|(_, tenant)| tenant.cell.initialized())
                .min_by_key(|(_, tenant)| tenant.last_used.get())
                .map(|(name, tenant)| (name.clone(), heap(tenant)))
            else {
                break;
            };
            tracing::debug!(worker = %oldest, "isolate dropped: the isolates' heap is over budget");
            tenants.remove(&oldest);
            total = total.saturating_sub(bytes);
        }
    }

    /// Drops the isolates of workers that `site` no longer deploys, once per change of site.
    fn forget_removed(&self, site: &Arc<Site>) {
        let seen = self.evicted_for.replace(Some(site.clone()));
        if seen.is_some_and(|seen| Arc::ptr_eq(&seen, site)) {
            return;
        }
        let deployed: HashSet<&str> = site
            .workers
            .iter()
            .map(|w| w.config.name.as_str())
            .collect();
        self.tenants
            .borrow_mut()
            .retain(|name, _| deployed.contains(name.as_str()));
    }
}
