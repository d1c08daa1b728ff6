//! The limits of one VM, enforced from JavaScriptCore's watchdog: the engine has an execution
//! time limit but no heap limit, so the watchdog is armed with a short tick of CPU time, and
//! each tick checks the CPU deadline and the memory limit before re-arming it.
//!
//! Measuring a VM's heap exactly means a full collection and a walk of the heap (100-370 ms at
//! 200 MB), far too dear for every tick. What is cheap is the process's resident memory, which
//! a runaway heap cannot hide from. So a check measures exactly when the process has grown,
//! since this VM was last measured, by more than the room the VM had left (growth that other
//! VMs caused only costs a measurement, which rebases the VM), and every
//! `CHECKS_PER_MEASUREMENT` checks whatever the process did; a VM past its limit is stopped,
//! its entry failing as out of memory. The same check runs as each entry that ran script
//! ends, for a heap that grows a little at every request rather than within one.

#![allow(unsafe_code)]

use crate::sys::{self, Api, JSContextRef};
use std::cell::Cell;
use std::ffi::c_void;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};
use verge_js::ErrorKind;

/// CPU time between two checks of a running script (or its CPU slice, when shorter: see
/// `Guard::tick`): how late past its deadline a loop stops, about how much a runaway heap can
/// grow before it is seen (~3 MiB at an allocation bomb's pace), and how long each job of a
/// microtask storm must be for the storm to be stopped. Not less: under load the engine's
/// timer fires once a tick of wall time, and each firing jettisons the optimized code on the
/// stack. At 5 ms the json worker recompiled ~20 functions a second and took 6% more CPU a
/// request than at 20 ms (docs/DESIGN.md § JavaScriptCore).
const TICK: Duration = Duration::from_millis(20);

/// The shortest tick: a zero time limit aborts the process inside the engine's collector.
const MIN_TICK: Duration = Duration::from_millis(1);

/// Checks (ticks, ends of entries that ran script) after which the heap is measured whatever
/// the process's resident size says: about once a second for a VM serving a thousand requests
/// a second.
const CHECKS_PER_MEASUREMENT: u32 = 1024;

pub(crate) struct Guard {
    api: &'static Api,
    group: sys::JSContextGroupRef,
    memory_limit: Cell<usize>,
    cpu_slice: Cell<Option<Duration>>,
    deadline: Cell<Option<Instant>>,
    /// How deep in nested entries the VM is: only the outermost sets the deadline.
    depth: Cell<u32>,
    /// What the last exact measurement found the heap to hold, and the process's resident
    /// memory at that moment.
    heap_measured: Cell<usize>,
    resident_then: Cell<usize>,
    /// Why the watchdog stopped the script, when it did.
    breach: Cell<Option<ErrorKind>>,
    /// Exact measurements made, for tests and metrics.
    measurements: Cell<u64>,
    /// Checks since the last measurement.
    checks: Cell<u32>,
    /// Set while a tick runs.
    ticking: Cell<bool>,
    /// When the outermost entry under way began, and the time spent in outermost entries.
    entered: Cell<Option<Instant>>,
    busy: Cell<Duration>,
}

impl Guard {
    pub(crate) fn new(
        api: &'static Api,
        group: sys::JSContextGroupRef,
        memory_limit: usize,
        cpu_slice: Option<Duration>,
    ) -> Self {
        Self {
            api,
            group,
            memory_limit: Cell::new(memory_limit),
            cpu_slice: Cell::new(cpu_slice),
            deadline: Cell::new(None),
            depth: Cell::new(0),
            heap_measured: Cell::new(0),
            resident_then: Cell::new(resident_bytes().unwrap_or(0)),
            breach: Cell::new(None),
            measurements: Cell::new(0),
            checks: Cell::new(0),
            ticking: Cell::new(false),
            entered: Cell::new(None),
            busy: Cell::new(Duration::ZERO),
        }
    }

    /// Arms the watchdog; `self` must stay where it is (boxed in the VM) until the group is
    /// released.
    pub(crate) fn arm(&self) {
        // SAFETY: `group` is live while the VM is, and `self` outlives it (see `Vm::drop`).
        unsafe {
            (self.api.JSContextGroupSetExecutionTimeLimit)(
                self.group,
                self.tick().as_secs_f64(),
                on_tick,
                self as *const Self as *mut c_void,
            );
        }
    }

    /// Marks the start of an entry into JavaScript; the outermost one starts the CPU slice,
    /// unless it only describes what the last entry threw (`fresh` false), which stays under
    /// that entry's deadline.
    pub(crate) fn enter(&self, fresh: bool) {
        if self.depth.get() == 0 {
            let now = Instant::now();
            self.entered.set(Some(now));
            if fresh {
                self.breach.set(None);
                self.deadline
                    .set(self.cpu_slice.get().map(|slice| now + slice));
            }
        }
        self.depth.set(self.depth.get() + 1);
    }

    /// Wall time spent in outermost entries (promise jobs they drained included).
    pub(crate) fn busy(&self) -> Duration {
        self.busy.get()
    }

    /// Whether an entry is under way: a host function's call into JavaScript is nested.
    pub(crate) fn nested(&self) -> bool {
        self.depth.get() > 0
    }

    /// Marks the end of an entry; after the outermost, when it ran script (`ran_script`),
    /// checks the memory the VM may have kept. An entry that only made a value (an array, a
    /// typed array) is left to the next that runs script: each check reads
    /// `/proc/self/statm`, a system call (12% of a busy server's time when every entry of
    /// every request did).
    pub(crate) fn leave(&self, context: JSContextRef, ran_script: bool) {
        self.depth.set(self.depth.get().saturating_sub(1));
        if self.depth.get() > 0 {
            return;
        }
        if let Some(entered) = self.entered.take() {
            self.busy.set(self.busy.get() + entered.elapsed());
        }
        if ran_script && self.breach.get().is_none() && self.over_limit(context) {
            self.breach.set(Some(ErrorKind::OutOfMemory));
        }
    }

    /// Why the watchdog stopped the last entry, if it did.
    pub(crate) fn breach(&self) -> Option<ErrorKind> {
        self.breach.get()
    }

    pub(crate) fn measurements(&self) -> u64 {
        self.measurements.get()
    }

    /// Takes new limits: the tick at once, the rest from the next entry on.
    pub(crate) fn set_limits(&self, memory_limit: usize, cpu_slice: Option<Duration>) {
        self.memory_limit.set(memory_limit);
        self.cpu_slice.set(cpu_slice);
        self.arm();
    }

    /// The watchdog's period: `TICK`, or the CPU slice when that is shorter, so that a loop
    /// overruns a short slice by at most itself.
    fn tick(&self) -> Duration {
        self.cpu_slice
            .get()
            .map_or(TICK, |slice| slice.min(TICK))
            .max(MIN_TICK)
    }

    /// What the last exact measurement found the heap to hold.
    pub(crate) fn heap_measured(&self) -> usize {
        self.heap_measured.get()
    }

    /// Takes `bytes` as the heap's size until the next exact measurement, with the process's
    /// resident memory now as the baseline: an estimate that costs no collection.
    pub(crate) fn estimate(&self, bytes: usize) {
        self.heap_measured.set(bytes);
        self.resident_then.set(resident_bytes().unwrap_or(0));
    }

    /// Whether the VM's heap is past its limit: measured exactly when the process has grown by
    /// more than the VM had room for since its last measurement, and at least every
    /// `CHECKS_PER_MEASUREMENT` checks whatever the process did (growth that reuses memory
    /// another VM freed leaves the resident size flat).
    fn over_limit(&self, context: JSContextRef) -> bool {
        let checks = self.checks.get() + 1;
        self.checks.set(checks);
        let due = checks >= CHECKS_PER_MEASUREMENT
            || match resident_bytes() {
                // Without the process's resident size, every check measures.
                None => true,
                Some(resident) => {
                    // A fall (another VM dropped) lowers the baseline, so that growth from
                    // there is seen.
                    let base = self.resident_then.get().min(resident);
                    self.resident_then.set(base);
                    self.heap_measured.get().saturating_add(resident - base)
                        > self.memory_limit.get()
                }
            };
        if !due {
            return false;
        }
        self.checks.set(0);
        self.measure(context) > self.memory_limit.get()
    }

    /// Measures the heap exactly (see `heap_bytes`) and keeps the figure, with the process's
    /// resident memory now as the baseline for the cheap checks that follow.
    pub(crate) fn measure(&self, context: JSContextRef) -> usize {
        let heap = self.heap_bytes(context);
        self.estimate(heap);
        heap
    }

    /// The bytes the VM's heap holds after a full collection: JavaScriptCore's `heapSize`,
    /// which counts what its objects hold outside the heap (array buffers' bytes) too.
    fn heap_bytes(&self, context: JSContextRef) -> usize {
        self.measurements.set(self.measurements.get() + 1);
        let api = self.api;
        // SAFETY: `context` is the VM's live context, and this runs on its thread, inside the
        // VM or between entries.
        unsafe {
            (api.JSSynchronousGarbageCollectForDebugging)(context);
            let statistics = (api.JSGetMemoryUsageStatistics)(context);
            let name = crate::text::JsString::new(api, "heapSize");
            let value =
                (api.JSObjectGetProperty)(context, statistics, name.raw(), std::ptr::null_mut());
            let bytes = (api.JSValueToNumber)(context, value, std::ptr::null_mut());
            if bytes.is_finite() && bytes > 0.0 {
                bytes as usize
            } else {
                0
            }
        }
    }
}

/// The watchdog's tick: stops the script past its deadline or its memory limit. It re-arms the
/// watchdog (the engine calls it once per arming) even when stopping: the engine goes on with
/// the microtask queue after a stopped job, so a script that queues itself forever must be
/// stopped again and again.
unsafe extern "C" fn on_tick(context: JSContextRef, data: *mut c_void) -> bool {
    // SAFETY: `data` is the VM's boxed guard (see `Guard::arm`), alive while the VM runs.
    let guard = unsafe { &*(data as *const Guard) };
    // A measurement runs JavaScriptCore's collector, during which the tick may come again.
    if guard.ticking.replace(true) {
        return false;
    }
    if guard.breach.get().is_none() {
        if guard.deadline.get().is_some_and(|at| Instant::now() >= at) {
            guard.breach.set(Some(ErrorKind::Interrupted));
        } else if guard.over_limit(context) {
            guard.breach.set(Some(ErrorKind::OutOfMemory));
        }
    }
    guard.arm();
    guard.ticking.set(false);
    guard.breach.get().is_some()
}

thread_local! {
    static STATM: Option<File> = File::open("/proc/self/statm").ok();
}

/// The process's resident memory, read from `/proc/self/statm`; `None` where it cannot be read.
pub fn resident_bytes() -> Option<usize> {
    let mut text = [0u8; 128];
    let read = STATM.with(|file| {
        file.as_ref()
            .and_then(|file| file.read_at(&mut text, 0).ok())
    })?;
    let pages = text[..read]
        .split(|&byte| byte == b' ')
        .nth(1)
        .and_then(|field| std::str::from_utf8(field).ok())
        .and_then(|field| field.parse::<usize>().ok())?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages.saturating_mul(usize::try_from(page).ok()?))
}
