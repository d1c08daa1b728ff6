//! The monotonic clock behind `performance.now()` and event time stamps.

use crate::WebHost;
use std::time::Instant;
use verge_js::{data_op, DataOp};

/// `now()`: milliseconds since the isolate's ops were made.
pub(crate) fn ops(_host: &WebHost) -> Vec<(&'static str, DataOp)> {
    let origin = Instant::now();
    vec![(
        "now",
        data_op(move || origin.elapsed().as_secs_f64() * 1000.0),
    )]
}
