//! The sink behind `console.*`: the host decides where a worker's output goes, and where one
//! event's goes while a tail follows it ([`EventConsoles`]).

use crate::WebHost;
use rquickjs::Ctx;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use verge_js::{data_op, rquickjs, DataOp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Log,
    Warn,
    Error,
}

/// Receives each line (or multi-line message) a worker logs.
pub type ConsoleSink = Rc<dyn Fn(LogLevel, &str)>;

/// The consoles of single events, by request tag: what an event logs while it runs (its
/// `ctx.waitUntil` work too) goes to its own console rather than the isolate's, until it ends
/// and [`WebHost::forget_request`] forgets it. How a host gathers one request's lines for a
/// tail, which shows them with the request.
#[derive(Default)]
pub struct EventConsoles(RefCell<HashMap<u64, ConsoleSink>>);

impl EventConsoles {
    /// Sends what event `tag` logs to `console`.
    pub fn insert(&self, tag: u64, console: ConsoleSink) {
        self.0.borrow_mut().insert(tag, console);
    }

    fn of(&self, tag: u64) -> Option<ConsoleSink> {
        self.0.borrow().get(&tag).cloned()
    }

    pub(crate) fn forget(&self, tag: u64) {
        self.0.borrow_mut().remove(&tag);
    }
}

/// Sends what event `tag` of the QuickJS isolate of `ctx` logs to `console`.
pub fn set_event_console(ctx: &Ctx<'_>, tag: u64, console: ConsoleSink) {
    verge_js::with_host_state(ctx, |host: &WebHost| {
        host.event_consoles.insert(tag, console)
    });
}

/// `print(level, text)`, to the console of the event now running, or else the host's.
pub(crate) fn ops(host: &WebHost) -> Vec<(&'static str, DataOp)> {
    let sink = host.console.clone();
    let (events, current) = (host.event_consoles.clone(), host.current_request.clone());
    let print = data_op(move |level: i32, text: String| {
        let level = match level {
            0 => LogLevel::Debug,
            2 => LogLevel::Warn,
            3 => LogLevel::Error,
            _ => LogLevel::Log,
        };
        match events.of(current.get()) {
            Some(event) => event(level, &text),
            None => sink(level, &text),
        }
    });
    vec![("print", print)]
}
