//! `verge-jsc` runs JavaScript on JavaScriptCore, WebKit's engine, whose tiers of JIT make
//! CPU-bound JavaScript several times faster than QuickJS's interpreter. It is reached through
//! the engine's C API, loaded from the system's shared library at run time ([`available`]).
//!
//! One [`Vm`] is one context group (JavaScriptCore's VM, with its own heap) holding one global
//! context, under the same limits as a QuickJS isolate: a CPU slice per entry and a memory limit,
//! both enforced from the engine's watchdog (`guard`). Like `verge-js`'s isolates, a VM lives on
//! the thread that made it, and its errors are [`JsError`]s of the same kinds, so that callers
//! treat both engines alike: a VM whose entry failed as [`ErrorKind::OutOfMemory`] is to be
//! discarded.

mod guard;
mod platform;
mod sys;
mod text;
mod vm;

pub use guard::resident_bytes;
pub use platform::{Web, NOT_YET};
pub use verge_js::{ErrorKind, JsError};
pub use vm::{Kept, Scope, Value, Vm, VmLimits};

/// Whether JavaScriptCore can be used on this machine; the error says what to install.
pub fn available() -> Result<(), String> {
    sys::api().map(|_| ()).map_err(str::to_owned)
}
