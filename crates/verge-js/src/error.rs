//! Turning JavaScript exceptions into Rust errors that keep the JS class, message and stack.

use rquickjs::{Ctx, Exception, Value};
use std::fmt;

/// The file-name prefix of the runtime's built-in scripts, whose frames stack traces omit.
pub const INTERNAL_FRAME: &str = "(verge:";

/// An error raised by JavaScript (or by the engine on its behalf), formatted the way a developer
/// expects to read it: `TypeError: message` followed by the stack with file and line.
#[derive(Debug, Clone, thiserror::Error)]
pub struct JsError {
    /// The JavaScript class name (`TypeError`, `SyntaxError`…) or `Error` for thrown non-errors.
    pub name: String,
    pub message: String,
    /// The stack frames as QuickJS prints them, one `    at …` line each; may be empty.
    pub stack: String,
}

impl JsError {
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            name: "InternalError".into(),
            message: message.into(),
            stack: String::new(),
        }
    }

    /// Converts an rquickjs error, taking the pending exception out of the context if there is one.
    pub fn from_rquickjs(ctx: &Ctx<'_>, error: rquickjs::Error) -> Self {
        match error {
            rquickjs::Error::Exception => Self::from_value(ctx, ctx.catch()),
            other => Self {
                name: "Error".into(),
                message: other.to_string(),
                stack: String::new(),
            },
        }
    }

    /// Describes any thrown JavaScript value.
    pub fn from_value<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> Self {
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
        Self {
            name: "Uncaught".into(),
            message,
            stack: String::new(),
        }
    }

    fn from_exception(exception: &Exception<'_>) -> Self {
        let name = exception
            .get::<_, String>("name")
            .unwrap_or_else(|_| "Error".into());
        Self {
            name,
            message: exception.message().unwrap_or_default(),
            stack: exception.stack().unwrap_or_default(),
        }
    }

    /// Whether the engine stopped the script because it ran past its CPU deadline.
    pub fn is_interrupt(&self) -> bool {
        self.name == "InternalError" && self.message == "interrupted"
    }

    /// Whether the isolate ran out of heap: its memory limit was reached.
    pub fn is_out_of_memory(&self) -> bool {
        self.name == "InternalError" && self.message == "out of memory"
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
