//! Unhandled promise rejections: remembered when a promise rejects with no handler, forgotten
//! if a handler is attached before the microtask queue runs dry, reported otherwise.

use crate::{host_state, JsError};
use rquickjs::{Ctx, Persistent, Value};
use std::cell::RefCell;

#[derive(Default)]
struct Pending(RefCell<Vec<(Persistent<Value<'static>>, Persistent<Value<'static>>)>>);

/// The runtime's rejection tracker: called with `handled == false` when a promise rejects with
/// no handler, and with `true` when one is attached later.
pub(crate) fn track<'js>(ctx: Ctx<'js>, promise: Value<'js>, reason: Value<'js>, handled: bool) {
    if host_state::with(&ctx, |_: &Pending| ()).is_none() {
        let _ = host_state::store(&ctx, Pending::default());
    }
    host_state::with(&ctx, |pending: &Pending| {
        let mut pending = pending.0.borrow_mut();
        if handled {
            pending.retain(|(p, _)| {
                p.clone()
                    .restore(&ctx)
                    .map(|p| p != promise)
                    .unwrap_or(false)
            });
        } else {
            pending.push((
                Persistent::save(&ctx, promise),
                Persistent::save(&ctx, reason),
            ));
        }
    });
}

/// The rejections still unhandled, described, and forgotten.
pub(crate) fn take_unhandled(ctx: &Ctx<'_>) -> Vec<JsError> {
    let taken = host_state::with(ctx, |pending: &Pending| {
        std::mem::take(&mut *pending.0.borrow_mut())
    });
    taken
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(_, reason)| reason.restore(ctx).ok())
        .map(|reason| JsError::from_value(ctx, reason))
        .collect()
}
