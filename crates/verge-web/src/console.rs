//! The sink behind `console.*`: the host decides where a worker's output goes.

use crate::WebHost;
use std::rc::Rc;
use verge_js::{data_op, DataOp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Log,
    Warn,
    Error,
}

/// Receives each line (or multi-line message) a worker logs.
pub type ConsoleSink = Rc<dyn Fn(LogLevel, &str)>;

/// `print(level, text)`, to the host's sink.
pub(crate) fn ops(host: &WebHost) -> Vec<(&'static str, DataOp)> {
    let sink = host.console.clone();
    let print = data_op(move |level: i32, text: String| {
        let level = match level {
            0 => LogLevel::Debug,
            2 => LogLevel::Warn,
            3 => LogLevel::Error,
            _ => LogLevel::Log,
        };
        sink(level, &text);
    });
    vec![("print", print)]
}
