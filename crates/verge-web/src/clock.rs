//! The monotonic clock behind `performance.now()` and event time stamps.

use crate::WebHost;
use std::time::Instant;
use verge_js::{rquickjs, Ops};

pub(crate) fn register<'js>(ops: &Ops<'js>, _host: &WebHost) -> rquickjs::Result<()> {
    let origin = Instant::now();
    ops.add("now", move || origin.elapsed().as_secs_f64() * 1000.0)
}
