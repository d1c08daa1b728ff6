//! Turning JavaScript exceptions into Rust errors that keep the JS class, message and stack.

use crate::loader::IsolatePositions;
use rquickjs::{Ctx, Exception, Value};
use std::fmt;

/// The file-name prefix of the runtime's built-in scripts, whose frames stack traces omit.
pub const INTERNAL_FRAME: &str = "(verge:";

/// An error raised by JavaScript (or by the engine on its behalf), formatted the way a developer
/// expects to read it: `TypeError: message` followed by the stack with file and line.
#[derive(Debug, Clone, thiserror::Error)]
pub struct JsError {
    /// What happened; callers decide by this, never by the name or message.
    pub kind: ErrorKind,
    /// The JavaScript class name (`TypeError`, `SyntaxError`…), or `Uncaught` for a thrown value
    /// that is no error object.
    pub name: String,
    pub message: String,
    /// The stack frames as QuickJS prints them, one `    at …` line each; may be empty.
    pub stack: String,
}

/// What became of JavaScript that did not finish normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The script threw (or rejected with) a value, or broke a rule of the language or of the
    /// runtime's APIs: its own error, which the isolate survives.
    Thrown,
    /// The engine stopped the script at its CPU deadline.
    Interrupted,
    /// The isolate's heap reached its memory limit: what the script left behind may be broken.
    OutOfMemory,
    /// The runtime failed, not the script (an isolate could not be made, a promise it waited
    /// for was dropped).
    Internal,
}

/// The engine's message for a script it stopped at the CPU deadline (an `InternalError`).
pub(crate) const INTERRUPTED: &str = "interrupted";
/// The engine's message when an allocation would pass the memory limit (an `InternalError`).
pub(crate) const OUT_OF_MEMORY: &str = "out of memory";

impl JsError {
    /// An error of the runtime's own.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, "InternalError", message)
    }

    /// An error of the script's, as a JavaScript error of class `name` would report it.
    pub fn thrown(name: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Thrown, name, message)
    }

    /// The isolate ran out of memory.
    pub fn out_of_memory() -> Self {
        Self::new(ErrorKind::OutOfMemory, "InternalError", OUT_OF_MEMORY)
    }

    /// The script was stopped at its CPU deadline.
    pub fn interrupted() -> Self {
        Self::new(ErrorKind::Interrupted, "InternalError", INTERRUPTED)
    }

    fn new(kind: ErrorKind, name: &str, message: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.to_owned(),
            message: message.into(),
            stack: String::new(),
        }
    }

    /// Converts an rquickjs error, taking the pending exception out of the context if there is one.
    pub fn from_rquickjs(ctx: &Ctx<'_>, error: rquickjs::Error) -> Self {
        let kind = match error {
            rquickjs::Error::Exception => return Self::from_value(ctx, ctx.catch()),
            rquickjs::Error::Allocation => ErrorKind::OutOfMemory,
            // An import the script's modules make that names no module, or one that fails.
            rquickjs::Error::Resolving { .. } | rquickjs::Error::Loading { .. } => {
                ErrorKind::Thrown
            }
            _ => ErrorKind::Internal,
        };
        Self::new(kind, "Error", error.to_string())
    }

    /// Describes any thrown JavaScript value, its stack mapped back to TypeScript lines.
    pub fn from_value<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> Self {
        let mut error = Self::describe(ctx, value);
        if !error.stack.is_empty() {
            error.stack = map_stack(ctx, &error.stack);
        }
        error
    }

    fn describe<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> Self {
        if let Some(exception) = value.as_exception() {
            return Self::from_exception(exception);
        }
        if let Some(object) = value.as_object() {
            // A DOMException made by our own bootstrap is a plain object with name and message.
            let name: Option<String> = object.get("name").ok();
            let message: Option<String> = object.get("message").ok();
            if let (Some(name), Some(message)) = (name, message) {
                let stack = object.get::<_, String>("stack").unwrap_or_default();
                return Self {
                    kind: ErrorKind::Thrown,
                    name,
                    message,
                    stack,
                };
            }
        }
        let message = ctx
            .json_stringify(value.clone())
            .ok()
            .flatten()
            .and_then(|s| s.to_string().ok())
            .or_else(|| value.as_string().and_then(|s| s.to_string().ok()))
            .unwrap_or_else(|| format!("{:?}", value.type_of()));
        Self::new(ErrorKind::Thrown, "Uncaught", message)
    }

    fn from_exception(exception: &Exception<'_>) -> Self {
        let name = exception
            .get::<_, String>("name")
            .unwrap_or_else(|_| "Error".into());
        let message = exception.message().unwrap_or_default();
        // The engine's own errors are InternalErrors with its fixed messages.
        let kind = match (name.as_str(), message.as_str()) {
            ("InternalError", INTERRUPTED) => ErrorKind::Interrupted,
            ("InternalError", OUT_OF_MEMORY) => ErrorKind::OutOfMemory,
            _ => ErrorKind::Thrown,
        };
        Self {
            kind,
            name,
            message,
            stack: exception.stack().unwrap_or_default(),
        }
    }

    /// Whether the engine stopped the script because it ran past its CPU deadline.
    pub fn is_interrupt(&self) -> bool {
        self.kind == ErrorKind::Interrupted
    }

    /// Whether the isolate ran out of heap: its memory limit was reached.
    pub fn is_out_of_memory(&self) -> bool {
        self.kind == ErrorKind::OutOfMemory
    }

    /// Whether `null` was thrown, as the engine throws when not even an error object fits in
    /// the heap (see `Isolate::explain`).
    pub(crate) fn is_thrown_null(&self) -> bool {
        self.kind == ErrorKind::Thrown && self.name == "Uncaught" && self.message == "null"
    }
}

/// `stack` with each frame in a TypeScript module pointing at the `.ts` line and column.
fn map_stack(ctx: &Ctx<'_>, stack: &str) -> String {
    let Some(positions) = crate::with_host_state(ctx, |p: &IsolatePositions| p.0.clone()) else {
        return stack.to_owned();
    };
    let positions = positions
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if positions.is_empty() {
        return stack.to_owned();
    }
    let mut mapped = String::with_capacity(stack.len());
    for line in stack.split_inclusive('\n') {
        mapped.push_str(&map_frame(line, |file, line, column| {
            positions.get(file)?.original(line, column)
        }));
    }
    mapped
}

/// One frame (`    at f (src/a.ts:3:9)` or `    at src/a.ts:3:9`) with its place mapped by
/// `original`; unchanged when that knows no better.
fn map_frame(frame: &str, original: impl Fn(&str, u32, u32) -> Option<(u32, u32)>) -> String {
    let body = frame.trim_end();
    let (start, end) = match (body.rfind('('), body.ends_with(')')) {
        (Some(open), true) => (open + 1, body.len() - 1),
        _ => match body.find("at ") {
            Some(at) => (at + 3, body.len()),
            None => return frame.to_owned(),
        },
    };
    let place = &body[start..end];
    let mut parts = place.rsplitn(3, ':');
    let (Some(column), Some(line), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
        return frame.to_owned();
    };
    let (Ok(line), Ok(column)) = (line.parse(), column.parse()) else {
        return frame.to_owned();
    };
    match original(file, line, column) {
        Some((line, column)) => {
            format!("{}{file}:{line}:{column}{}", &frame[..start], &frame[end..])
        }
        None => frame.to_owned(),
    }
}

impl fmt::Display for JsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)?;
        // Frames inside the runtime's own JavaScript are not the developer's to read.
        for frame in self
            .stack
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.contains(INTERNAL_FRAME))
        {
            write!(f, "\n{frame}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::map_frame;

    #[test]
    fn frames_map_by_file_line_and_column() {
        let original =
            |file: &str, line, column| (file == "src/a.ts").then_some((line + 10, column + 1));
        assert_eq!(
            map_frame("    at handle (src/a.ts:3:9)\n", original),
            "    at handle (src/a.ts:13:10)\n"
        );
        assert_eq!(
            map_frame("    at src/a.ts:1:2", original),
            "    at src/a.ts:11:3"
        );
        assert_eq!(
            map_frame("    at other (src/b.js:3:9)", original),
            "    at other (src/b.js:3:9)"
        );
        assert_eq!(
            map_frame("    at <anonymous>", original),
            "    at <anonymous>"
        );
    }
}
