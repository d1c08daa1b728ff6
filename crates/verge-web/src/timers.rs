//! The clock behind `setTimeout` and `setInterval`: each pending timer is a local tokio task
//! that sleeps, then re-enters the isolate and calls the JS-side `fire(id)`.
//!
//! Lifecycle: one `TimerTable` per isolate, in its userdata. Dropping the isolate drops the
//! table, whose [`TimerTasks`] abort every pending task, so no timer outlives its isolate.

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

/// The tasks of one isolate's pending timers, by id: a cancelled one is aborted, and all of
/// them when the table is dropped (with its isolate), so no timer outlives it. Each engine's
/// timer ops keep one.
#[derive(Default)]
pub struct TimerTasks(RefCell<HashMap<u32, AbortHandle>>);

impl TimerTasks {
    pub fn insert(&self, id: u32, task: AbortHandle) {
        self.0.borrow_mut().insert(id, task);
    }

    /// Forgets timer `id`, which is firing.
    pub fn fired(&self, id: u32) {
        self.0.borrow_mut().remove(&id);
    }

    /// Aborts timer `id`, if it is pending.
    pub fn cancel(&self, id: u32) {
        if let Some(task) = self.0.borrow_mut().remove(&id) {
            task.abort();
        }
    }
}

impl Drop for TimerTasks {
    fn drop(&mut self) {
        for (_, task) in self.0.get_mut().drain() {
            task.abort();
        }
    }
}

struct TimerTable {
    fire: RefCell<Option<Persistent<Function<'static>>>>,
    pending: TimerTasks,
}

pub(crate) fn register<'js>(ops: &Ops<'js>, _host: &WebHost) -> rquickjs::Result<()> {
    let ctx = ops.ctx();
    verge_js::store_host_state(
        ctx,
        TimerTable {
            fire: RefCell::new(None),
            pending: TimerTasks::default(),
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
                        table.pending.fired(id);
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
                table.pending.insert(id, task.abort_handle())
            });
        },
    )?;
    ops.add("timerCancel", |ctx: Ctx<'js>, id: u32| {
        verge_js::with_host_state(&ctx, |table: &TimerTable| table.pending.cancel(id));
    })
}
