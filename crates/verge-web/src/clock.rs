//! The monotonic clock behind `performance.now()` and event time stamps.

use crate::WebHost;
use rquickjs::{Ctx, Function, Object};
use std::time::Instant;
use verge_js::rquickjs;

pub(crate) fn register<'js>(
    ctx: &Ctx<'js>,
    ops: &Object<'js>,
    _host: &WebHost,
) -> rquickjs::Result<()> {
    let origin = Instant::now();
    ops.set(
        "now",
        Function::new(ctx.clone(), move || origin.elapsed().as_secs_f64() * 1000.0)?,
    )
}
