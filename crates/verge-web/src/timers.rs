//! The clock behind `setTimeout` and `setInterval`: each pending timer is a local tokio task
//! that sleeps, then re-enters the isolate and calls the JS-side `fire(id)`.
//!
//! Lifecycle: one [`TimerTable`] per isolate, in its userdata. Dropping the isolate drops the
//! table, which aborts every pending task, so no timer outlives its isolate.

use crate::WebHost;
use rquickjs::{Ctx, Function, Persistent};
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;
use tokio::task::AbortHandle;
use verge_js::{rquickjs, Ops};

/// Browsers treat a delay above 2^31-1 ms as 0 (HTML §8.6, step 10 of the timer steps).
const MAX_DELAY_MS: f64 = 2_147_483_647.0;

/// How long a timer asked to wait `delay_ms` waits: a delay out of range (negative, NaN, past
/// 2^31-1 ms) is none.
pub fn timer_delay(delay_ms: f64) -> Duration {
    if (0.0..=MAX_DELAY_MS).contains(&delay_ms) {
        Duration::from_secs_f64(delay_ms / 1000.0)
    } else {
        Duration::ZERO
    }
}

struct TimerTable {
    fire: RefCell<Option<Persistent<Function<'static>>>>,
    pending: RefCell<HashMap<u32, AbortHandle>>,
}

impl Drop for TimerTable {
    fn drop(&mut self) {
        for (_, task) in self.pending.borrow_mut().drain() {
            task.abort();
        }
    }
}

pub(crate) fn register<'js>(ops: &Ops<'js>, _host: &WebHost) -> rquickjs::Result<()> {
    let ctx = ops.ctx();
    verge_js::store_host_state(
        ctx,
        TimerTable {
            fire: RefCell::new(None),
            pending: RefCell::default(),
        },
    )?;
    ops.add("timerInit", |ctx: Ctx<'js>, fire: Function<'js>| {
        let fire = Persistent::save(&ctx, fire);
        verge_js::with_host_state(&ctx, |table: &TimerTable| {
            *table.fire.borrow_mut() = Some(fire)
        });
    })?;
    let isolate = verge_js::IsolateHandle::of(ops.ctx())?;
    ops.add(
        "timerStart",
        move |ctx: Ctx<'js>, id: u32, delay_ms: f64| {
            let delay = timer_delay(delay_ms);
            let isolate = isolate.clone();
            let tag = isolate.current_tag();
            let task = tokio::task::spawn_local(async move {
                tokio::time::sleep(delay).await;
                let fired = isolate.enter_as(tag, |ctx| {
                    let fire = verge_js::with_host_state(ctx, |table: &TimerTable| {
                        table.pending.borrow_mut().remove(&id);
                        table.fire.borrow().clone()
                    });
                    match fire.flatten() {
                        Some(fire) => fire.restore(ctx)?.call::<_, ()>((id,)),
                        None => Ok(()),
                    }
                });
                if let Some(Err(error)) = fired {
                    tracing::error!(target: "verge::js", "timer {id} failed: {error}");
                }
            });
            verge_js::with_host_state(&ctx, |table: &TimerTable| {
                table.pending.borrow_mut().insert(id, task.abort_handle())
            });
        },
    )?;
    ops.add("timerCancel", |ctx: Ctx<'js>, id: u32| {
        verge_js::with_host_state(&ctx, |table: &TimerTable| {
            if let Some(task) = table.pending.borrow_mut().remove(&id) {
                task.abort();
            }
        });
    })
}
