//! One VM and its values: every call into the C API that runs JavaScript goes through
//! [`Vm::enter`], which arms the guard's deadline and turns what was thrown, or why the guard
//! stopped the script, into a [`JsError`].

#![allow(unsafe_code)]

use crate::guard;
use crate::sys::{self, Api, JSContextGroupRef, JSGlobalContextRef, JSValueRef};
use crate::text::JsString;
use std::ptr;
use std::time::Duration;
use verge_js::{ErrorKind, JsError};

/// The limits of one VM, as `verge_js::IsolateLimits` gives them for QuickJS.
#[derive(Debug, Clone)]
pub struct VmLimits {
    /// Bytes the heap may hold, memory outside it (array buffers, large strings) included.
    pub memory_bytes: usize,
    /// Longest stretch of JavaScript that one entry into the VM may run for.
    pub cpu_slice: Option<Duration>,
}

impl Default for VmLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 128 * 1024 * 1024,
            cpu_slice: None,
        }
    }
}

/// One JavaScriptCore VM and its global context.
pub struct Vm {
    api: &'static Api,
    group: JSContextGroupRef,
    context: JSGlobalContextRef,
    guard: Box<guard::Guard>,
}

impl Vm {
    pub fn new(limits: VmLimits) -> Result<Self, JsError> {
        let api = sys::api().map_err(JsError::internal)?;
        // SAFETY: creating a group and a context in it has no preconditions; both are released
        // in `drop`, the context first.
        let (group, context) = unsafe {
            let group = (api.JSContextGroupCreate)();
            if group.is_null() {
                return Err(JsError::internal("JavaScriptCore could not create a VM"));
            }
            let context = (api.JSGlobalContextCreateInGroup)(group, ptr::null_mut());
            if context.is_null() {
                (api.JSContextGroupRelease)(group);
                return Err(JsError::internal(
                    "JavaScriptCore could not create a context",
                ));
            }
            (group, context)
        };
        let guard = guard::Guard::new(api, group, limits.memory_bytes, limits.cpu_slice);
        guard.arm();
        Ok(Self {
            api,
            group,
            context,
            guard,
        })
    }

    /// Runs `source` as a classic script named `url`, and gives its completion value.
    pub fn evaluate(&self, source: &str, url: &str) -> Result<Value<'_>, JsError> {
        let source = JsString::new(self.api, source);
        let url = JsString::new(self.api, url);
        self.enter(|exception| {
            // SAFETY: the context is live and the strings outlive the call.
            unsafe {
                (self.api.JSEvaluateScript)(
                    self.context,
                    source.raw(),
                    ptr::null_mut(),
                    url.raw(),
                    1,
                    exception,
                )
            }
        })
    }

    /// The global object's property `name`.
    pub fn global(&self, name: &str) -> Result<Value<'_>, JsError> {
        // SAFETY: the context is live.
        let global = unsafe { (self.api.JSContextGetGlobalObject)(self.context) };
        self.value(global).get(name)
    }

    /// The bytes the heap holds after a full collection: exact, and as dear as a collection.
    pub fn heap_bytes(&self) -> usize {
        self.guard.heap_bytes(self.context)
    }

    /// How many times the guard has measured the heap exactly.
    pub fn heap_measurements(&self) -> u64 {
        self.guard.measurements()
    }

    /// Calls into the engine through `run`, which is given the slot for an exception; turns
    /// what it threw, or why the guard stopped it, into an error.
    fn enter(&self, run: impl FnOnce(*mut JSValueRef) -> JSValueRef) -> Result<Value<'_>, JsError> {
        self.guard.enter();
        let mut exception: JSValueRef = ptr::null();
        let result = run(&mut exception);
        // The value is rooted before the guard's check may collect garbage.
        let result = self.value(result);
        let thrown = (!exception.is_null()).then(|| self.value(exception));
        self.guard.leave(self.context);
        match self.guard.breach() {
            Some(ErrorKind::Interrupted) => Err(JsError::interrupted()),
            Some(_) => Err(JsError::out_of_memory()),
            None => match thrown {
                Some(thrown) => Err(thrown.to_error()),
                None => Ok(result),
            },
        }
    }

    fn value(&self, raw: JSValueRef) -> Value<'_> {
        let raw = if raw.is_null() {
            // SAFETY: the context is live.
            unsafe { (self.api.JSValueMakeUndefined)(self.context) }
        } else {
            raw
        };
        // SAFETY: `raw` is a value of this VM; protection keeps it alive wherever Rust keeps it,
        // until `Value::drop` unprotects it.
        unsafe { (self.api.JSValueProtect)(self.context, raw) };
        Value { vm: self, raw }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        // SAFETY: the context and group are this VM's own, released once; the guard (the
        // watchdog's data) is dropped after the group that could call it.
        unsafe {
            (self.api.JSContextGroupClearExecutionTimeLimit)(self.group);
            (self.api.JSGlobalContextRelease)(self.context);
            (self.api.JSContextGroupRelease)(self.group);
        }
    }
}

/// A JavaScript value of one VM, kept alive (protected from collection) while held.
pub struct Value<'vm> {
    vm: &'vm Vm,
    raw: JSValueRef,
}

impl<'vm> Value<'vm> {
    /// The value as `String(value)` gives it.
    pub fn to_string(&self) -> Result<String, JsError> {
        let vm = self.vm;
        let mut exception: JSValueRef = ptr::null();
        // SAFETY: the value and context are live; the copy is adopted and released once.
        let text = unsafe {
            let raw = (vm.api.JSValueToStringCopy)(vm.context, self.raw, &mut exception);
            JsString::adopt(vm.api, raw)
        };
        match text {
            Some(text) if exception.is_null() => Ok(text.to_rust()),
            _ => Err(vm.value(exception).to_error()),
        }
    }

    /// The value as `Number(value)` gives it.
    pub fn to_number(&self) -> Result<f64, JsError> {
        let vm = self.vm;
        let mut exception: JSValueRef = ptr::null();
        // SAFETY: the value and context are live.
        let number = unsafe { (vm.api.JSValueToNumber)(vm.context, self.raw, &mut exception) };
        if exception.is_null() {
            Ok(number)
        } else {
            Err(vm.value(exception).to_error())
        }
    }

    /// The property `name` of this object (undefined for a primitive without it).
    pub fn get(&self, name: &str) -> Result<Value<'vm>, JsError> {
        let vm = self.vm;
        let name = JsString::new(vm.api, name);
        let object = self.raw;
        vm.enter(|exception| {
            // SAFETY: the value, context and name are live; a primitive is boxed first.
            unsafe {
                let object = (vm.api.JSValueToObject)(vm.context, object, exception);
                if object.is_null() {
                    return ptr::null();
                }
                (vm.api.JSObjectGetProperty)(vm.context, object, name.raw(), exception)
            }
        })
    }

    /// Calls this function with `arguments` and `this` undefined.
    pub fn call(&self, arguments: &[Value<'vm>]) -> Result<Value<'vm>, JsError> {
        let vm = self.vm;
        // SAFETY: the value and context are live; only an object is asked whether it is callable.
        let callable = unsafe {
            (vm.api.JSValueIsObject)(vm.context, self.raw)
                && (vm.api.JSObjectIsFunction)(vm.context, self.raw as sys::JSObjectRef)
        };
        if !callable {
            return Err(JsError::thrown("TypeError", "value is not a function"));
        }
        let arguments: Vec<JSValueRef> = arguments.iter().map(|argument| argument.raw).collect();
        vm.enter(|exception| {
            // SAFETY: the function, arguments and context are live.
            unsafe {
                (vm.api.JSObjectCallAsFunction)(
                    vm.context,
                    self.raw as sys::JSObjectRef,
                    ptr::null_mut(),
                    arguments.len(),
                    arguments.as_ptr(),
                    exception,
                )
            }
        })
    }

    /// A string value of this VM.
    pub fn string(vm: &'vm Vm, text: &str) -> Value<'vm> {
        let text = JsString::new(vm.api, text);
        // SAFETY: the context and string are live; the engine copies the string.
        vm.value(unsafe { (vm.api.JSValueMakeString)(vm.context, text.raw()) })
    }

    /// A number value of this VM.
    pub fn number(vm: &'vm Vm, number: f64) -> Value<'vm> {
        // SAFETY: the context is live.
        vm.value(unsafe { (vm.api.JSValueMakeNumber)(vm.context, number) })
    }

    /// The error that throwing this value makes: class name, message and stack of an error
    /// object, or the value itself as the message.
    fn to_error(&self) -> JsError {
        let field = |name: &str| {
            self.get(name)
                .ok()
                .filter(|value| {
                    // SAFETY: the value and context are live.
                    !unsafe { (self.vm.api.JSValueIsUndefined)(self.vm.context, value.raw) }
                })
                .and_then(|value| value.to_string().ok())
        };
        // SAFETY: the value and context are live.
        let is_object = unsafe { (self.vm.api.JSValueIsObject)(self.vm.context, self.raw) };
        if is_object {
            if let (Some(name), Some(message)) = (field("name"), field("message")) {
                let mut error = JsError::thrown(&name, message);
                error.stack = field("stack").unwrap_or_default();
                return error;
            }
        }
        JsError::thrown("Uncaught", self.to_string().unwrap_or_default())
    }
}

impl std::fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.to_string() {
            Ok(text) => write!(f, "Value({text:?})"),
            Err(_) => f.write_str("Value(<not convertible to a string>)"),
        }
    }
}

impl Clone for Value<'_> {
    fn clone(&self) -> Self {
        self.vm.value(self.raw)
    }
}

impl Drop for Value<'_> {
    fn drop(&mut self) {
        // SAFETY: `value` protected this value once; this undoes it once.
        unsafe { (self.vm.api.JSValueUnprotect)(self.vm.context, self.raw) }
    }
}
