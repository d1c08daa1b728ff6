//! One VM, its values and its host functions: every call into the C API that runs JavaScript
//! goes through `Scope::run_as`, which arms the guard's deadline and turns what was thrown, or
//! why the guard stopped the script, into a [`JsError`].

#![allow(unsafe_code)]

use crate::guard;
use crate::sys::{
    self, Api, JSClassRef, JSContextGroupRef, JSContextRef, JSGlobalContextRef, JSObjectRef,
    JSValueRef,
};
use crate::text::JsString;
use std::cell::RefCell;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::OnceLock;
use std::time::Duration;
use verge_js::{Data, DataOp, ErrorKind, JsError, MAX_DEPTH, MAX_VALUES};

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
    group: JSContextGroupRef,
    context: JSGlobalContextRef,
    /// Boxed: the watchdog and the host functions hold its address.
    state: Box<State>,
}

/// What a VM's values and host functions reach it through.
struct State {
    api: &'static Api,
    guard: guard::Guard,
    /// The host functions made in this VM, freed with it: the engine finalizes objects on any
    /// thread, where a closure's state (`Rc`s) must not be dropped. Boxed, as each function
    /// object's data is the address of its host, which a growing `Vec` would move.
    #[allow(clippy::vec_box)]
    hosts: RefCell<Vec<Box<Host>>>,
    /// Values kept for the VM's whole life (see `Scope::keep`), protected until it ends.
    kept: RefCell<Vec<JSValueRef>>,
    /// Which VM of the process this is, for the `Kept`s it hands out: unlike its address, never
    /// that of a VM made later.
    id: u64,
    /// Where a script's lines really come from (see [`Vm::map_positions`]).
    positions: RefCell<Option<Positions>>,
}

/// A value kept for the VM's whole life, to be found again from a later entry (a timer's
/// callback, the runtime's hidden objects).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kept {
    vm: u64,
    index: usize,
}

/// A host function: the Rust closure behind a callable object.
type HostFn = dyn for<'s> Fn(Scope<'s>, &[Value<'s>]) -> Result<Value<'s>, JsError>;

struct Host {
    state: *const State,
    call: Box<HostFn>,
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
        let state = Box::new(State {
            api,
            guard: guard::Guard::new(api, group, limits.memory_bytes, limits.cpu_slice),
            hosts: RefCell::new(Vec::new()),
            kept: RefCell::new(Vec::new()),
            positions: RefCell::new(None),
            id: {
                static VMS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                VMS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            },
        });
        state.guard.arm();
        let vm = Self {
            group,
            context,
            state,
        };
        vm.report_unhandled_rejections()?;
        Ok(vm)
    }

    /// Logs each promise rejected with no handler once the jobs have run, as QuickJS's
    /// isolates do: `Uncaught (in promise)` and the reason.
    fn report_unhandled_rejections(&self) -> Result<(), JsError> {
        let report = self.scope().function(|scope, arguments| {
            if let Some(reason) = arguments.get(1) {
                let reason = reason.to_error();
                tracing::error!(target: "verge::js", "Uncaught (in promise) {reason}");
            }
            Ok(scope.undefined())
        })?;
        let mut exception: JSValueRef = ptr::null();
        // SAFETY: the context is live, and `report` is a function object of it, kept alive by
        // the context once set.
        unsafe {
            (self.state.api.JSGlobalContextSetUnhandledRejectionCallback)(
                self.context,
                report.raw as JSObjectRef,
                &mut exception,
            );
        }
        match exception.is_null() {
            true => Ok(()),
            false => Err(JsError::internal(
                "JavaScriptCore refused the unhandled-rejection callback",
            )),
        }
    }

    /// Names the places of the scripts run here by where they come from, in the stacks of the
    /// errors described from now on: `positions(url, line, column)` gives the file, line and
    /// column that place of script `url` is (a linked module graph's modules, say), or `None`
    /// to keep it.
    pub fn map_positions(
        &self,
        positions: impl Fn(&str, usize, usize) -> Option<(String, usize, usize)> + 'static,
    ) {
        *self.state.positions.borrow_mut() = Some(Box::new(positions));
    }

    /// The VM as its values see it.
    pub fn scope(&self) -> Scope<'_> {
        Scope {
            state: &self.state,
            context: self.context,
        }
    }

    /// Runs `source` as a classic script named `url`, and gives its completion value.
    pub fn evaluate(&self, source: &str, url: &str) -> Result<Value<'_>, JsError> {
        self.scope().evaluate(source, url)
    }

    /// The global object's property `name`.
    pub fn global(&self, name: &str) -> Result<Value<'_>, JsError> {
        self.scope().global().get(name)
    }

    /// The bytes the heap holds after a full collection: exact, and as dear as a collection.
    /// The guard keeps the figure (see [`Vm::heap_measured`]).
    pub fn heap_bytes(&self) -> usize {
        self.state.guard.measure(self.context)
    }

    /// What the guard's last exact measurement found the heap to hold: free to ask, unlike
    /// [`Vm::heap_bytes`].
    pub fn heap_measured(&self) -> usize {
        self.state.guard.heap_measured()
    }

    /// Wall time spent in entries into the VM, the promise jobs they drained included.
    pub fn busy_time(&self) -> Duration {
        self.state.guard.busy()
    }

    /// Takes `limits` from the next entry on: how a VM made ahead of time becomes a worker's.
    pub fn set_limits(&self, limits: &VmLimits) {
        self.state
            .guard
            .set_limits(limits.memory_bytes, limits.cpu_slice);
    }

    /// Takes `bytes` (the process's growth while the VM was set up, say) as the heap's size
    /// until the guard next measures it exactly: a figure for [`Vm::heap_measured`] without
    /// a collection (0.8 ms on a new VM, 8% of a cold start).
    pub fn estimate_heap(&self, bytes: usize) {
        self.state.guard.estimate(bytes);
    }

    /// How many times the guard has measured the heap exactly.
    pub fn heap_measurements(&self) -> u64 {
        self.state.guard.measurements()
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let api = self.state.api;
        // SAFETY: the context and group are this VM's own, released once; the state (the
        // watchdog's data, the host functions') is dropped after them.
        unsafe {
            (api.JSContextGroupClearExecutionTimeLimit)(self.group);
            for raw in self.state.kept.borrow_mut().drain(..) {
                (api.JSValueUnprotect)(self.context, raw);
            }
            (api.JSGlobalContextRelease)(self.context);
            (api.JSContextGroupRelease)(self.group);
        }
    }
}

/// A VM as its values reach it: from the VM, or from the context a host function is called in.
#[derive(Clone, Copy)]
pub struct Scope<'vm> {
    state: &'vm State,
    context: JSContextRef,
}

impl<'vm> Scope<'vm> {
    /// Runs `source` as a classic script named `url`, and gives its completion value.
    pub fn evaluate(self, source: &str, url: &str) -> Result<Value<'vm>, JsError> {
        let api = self.state.api;
        let source = JsString::new(api, source);
        let url = JsString::new(api, url);
        self.enter(|exception| {
            // SAFETY: the context is live and the strings outlive the call.
            unsafe {
                (api.JSEvaluateScript)(
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

    /// The global object.
    pub fn global(self) -> Value<'vm> {
        // SAFETY: the context is live.
        self.value(unsafe { (self.state.api.JSContextGetGlobalObject)(self.context) })
    }

    pub fn undefined(self) -> Value<'vm> {
        self.value(ptr::null())
    }

    pub fn null(self) -> Value<'vm> {
        // SAFETY: the context is live.
        self.value(unsafe { (self.state.api.JSValueMakeNull)(self.context) })
    }

    pub fn boolean(self, value: bool) -> Value<'vm> {
        // SAFETY: the context is live.
        self.value(unsafe { (self.state.api.JSValueMakeBoolean)(self.context, value) })
    }

    pub fn number(self, number: f64) -> Value<'vm> {
        // SAFETY: the context is live.
        self.value(unsafe { (self.state.api.JSValueMakeNumber)(self.context, number) })
    }

    pub fn string(self, text: &str) -> Value<'vm> {
        let text = JsString::new(self.state.api, text);
        // SAFETY: the context and string are live; the engine copies the string.
        self.value(unsafe { (self.state.api.JSValueMakeString)(self.context, text.raw()) })
    }

    /// A `Uint8Array` holding a copy of `bytes`.
    pub fn bytes(self, bytes: &[u8]) -> Result<Value<'vm>, JsError> {
        let api = self.state.api;
        self.enter_as(Entry::Making, |exception| {
            // SAFETY: the context is live; the array is `bytes.len()` long, so the copy stays
            // inside its backing store.
            unsafe {
                let array = (api.JSObjectMakeTypedArray)(
                    self.context,
                    sys::TYPED_ARRAY_UINT8,
                    bytes.len(),
                    exception,
                );
                if array.is_null() {
                    return ptr::null();
                }
                let store = (api.JSObjectGetTypedArrayBytesPtr)(self.context, array, exception);
                if !store.is_null() && !bytes.is_empty() {
                    ptr::copy_nonoverlapping(bytes.as_ptr(), store.cast::<u8>(), bytes.len());
                }
                array
            }
        })
    }

    /// A function that runs `call` with the arguments it is given. It lives as long as the VM:
    /// this is for the fixed set of functions a VM's runtime is given (its ops), not for
    /// functions made per request.
    pub fn function(
        self,
        call: impl for<'s> Fn(Scope<'s>, &[Value<'s>]) -> Result<Value<'s>, JsError> + 'static,
    ) -> Result<Value<'vm>, JsError> {
        let class = host_class(self.state.api)?;
        let host = Box::new(Host {
            state: self.state,
            call: Box::new(call),
        });
        let data = &*host as *const Host as *mut c_void;
        self.state.hosts.borrow_mut().push(host);
        // SAFETY: the class is live for the process; `data` stays valid while the VM is (the
        // box is freed in `Vm::drop`'s wake, after the context is released).
        let object = unsafe { (self.state.api.JSObjectMake)(self.context, class, data) };
        let object = self.value(object);
        // A function like any other: `call`, `bind`, `instanceof Function`.
        if let Ok(prototype) = self
            .global()
            .get("Function")
            .and_then(|f| f.get("prototype"))
        {
            // SAFETY: the object and the prototype are live values of this VM.
            unsafe {
                (self.state.api.JSObjectSetPrototype)(
                    self.context,
                    object.raw as JSObjectRef,
                    prototype.raw,
                );
            }
        }
        Ok(object)
    }

    /// A function that runs the engine-neutral `op` (see [`Data`]): what `Scope::function` is
    /// for ops written once for every engine.
    pub fn data_function(self, op: DataOp) -> Result<Value<'vm>, JsError> {
        self.function(move |scope, arguments| {
            let result = op(Value::all_to_data(arguments)?).map_err(JsError::from)?;
            scope.from_data(result)
        })
    }

    /// Keeps `value` alive until the VM ends, to be found with [`Scope::kept`]: for the fixed
    /// set of values a VM's runtime holds, never per request.
    pub fn keep(self, value: &Value<'vm>) -> Result<Kept, JsError> {
        if !ptr::eq(value.scope.state, self.state) {
            return Err(another_vm());
        }
        // SAFETY: the value is live in this VM; the protection is released in `Vm::drop`.
        unsafe { (self.state.api.JSValueProtect)(self.context, value.raw) };
        let mut kept = self.state.kept.borrow_mut();
        kept.push(value.raw);
        Ok(Kept {
            vm: self.state.id,
            index: kept.len() - 1,
        })
    }

    /// The value kept as `kept`; a TypeError if it was kept by another VM.
    pub fn kept(self, kept: Kept) -> Result<Value<'vm>, JsError> {
        let raw = (kept.vm == self.state.id)
            .then(|| self.state.kept.borrow().get(kept.index).copied())
            .flatten()
            .ok_or_else(another_vm)?;
        Ok(self.value(raw))
    }

    /// The value `data` describes.
    pub fn from_data(self, data: Data) -> Result<Value<'vm>, JsError> {
        match data {
            Data::Undefined => Ok(self.undefined()),
            Data::Null => Ok(self.null()),
            Data::Bool(value) => Ok(self.boolean(value)),
            Data::Number(number) => Ok(self.number(number)),
            Data::String(text) => Ok(self.string(&text)),
            Data::Bytes(bytes) => self.bytes(&bytes),
            Data::List(items) => {
                let items = items
                    .into_iter()
                    .map(|item| self.from_data(item))
                    .collect::<Result<Vec<_>, _>>()?;
                let raw: Vec<JSValueRef> = items.iter().map(|item| item.raw).collect();
                let api = self.state.api;
                self.enter_as(Entry::Making, |exception| {
                    // SAFETY: the context and the items (rooted in `items`) are live.
                    unsafe {
                        (api.JSObjectMakeArray)(self.context, raw.len(), raw.as_ptr(), exception)
                    }
                })
            }
        }
    }

    /// The JavaScript error that `error` describes (see `error_value`).
    pub fn error(self, error: &JsError) -> Value<'vm> {
        self.value(self.error_value(error))
    }

    /// Calls into the engine through `call`, which is given the slot for an exception, as one
    /// entry: turns what it threw, or why the guard stopped it, into an error.
    fn run_as<R>(
        self,
        entry: Entry,
        call: impl FnOnce(*mut JSValueRef) -> R,
    ) -> Result<R, JsError> {
        let guard = &self.state.guard;
        // Once the guard has stopped the script, a host function that goes on calling into it
        // gets the same answer without running anything: the stop then reaches the script
        // that called the host function.
        if guard.nested() {
            if let Some(kind) = guard.breach() {
                return Err(breach(kind));
            }
        }
        guard.enter(entry == Entry::Script);
        let mut exception: JSValueRef = ptr::null();
        let result = call(&mut exception);
        // Rooted before the guard's check may collect garbage.
        let thrown = (!exception.is_null()).then(|| self.value(exception));
        guard.leave(self.context, entry != Entry::Making);
        if let Some(kind) = guard.breach() {
            return Err(breach(kind));
        }
        match thrown {
            None => Ok(result),
            // Describing a thrown value runs its getters, which may throw in turn: what they
            // throw is not described again.
            Some(_) if entry == Entry::Describing => Err(JsError::thrown("Uncaught", "")),
            Some(thrown) => Err(thrown.to_error()),
        }
    }

    /// `run_as` for a call that gives a value, rooted as it returns.
    fn enter_as(
        self,
        entry: Entry,
        call: impl FnOnce(*mut JSValueRef) -> JSValueRef,
    ) -> Result<Value<'vm>, JsError> {
        self.run_as(entry, |exception| self.value(call(exception)))
    }

    fn enter(
        self,
        call: impl FnOnce(*mut JSValueRef) -> JSValueRef,
    ) -> Result<Value<'vm>, JsError> {
        self.enter_as(Entry::Script, call)
    }

    fn value(self, raw: JSValueRef) -> Value<'vm> {
        let api = self.state.api;
        let raw = if raw.is_null() {
            // SAFETY: the context is live.
            unsafe { (api.JSValueMakeUndefined)(self.context) }
        } else {
            raw
        };
        // SAFETY: `raw` is a value of this VM; protection keeps it alive wherever Rust keeps it,
        // until `Value::drop` unprotects it.
        unsafe { (api.JSValueProtect)(self.context, raw) };
        Value { scope: self, raw }
    }

    /// The JavaScript error that `error` describes: an instance of the global class it names
    /// (`TypeError`…), or of `Error` when there is none.
    fn error_value(self, error: &JsError) -> JSValueRef {
        let api = self.state.api;
        let message = self.string(&error.message);
        let class = self
            .global()
            .get(&error.name)
            .ok()
            .filter(|class| class.is_function())
            .or_else(|| self.global().get("Error").ok())
            .filter(|class| class.is_function());
        let Some(class) = class else {
            return message.raw;
        };
        let mut exception: JSValueRef = ptr::null();
        // SAFETY: the context, the constructor and the message are live.
        let made = unsafe {
            (api.JSObjectCallAsConstructor)(
                self.context,
                class.raw as JSObjectRef,
                1,
                &message.raw,
                &mut exception,
            )
        };
        if made.is_null() {
            message.raw
        } else {
            made
        }
    }
}

/// Where a line of a script comes from: see [`Vm::map_positions`].
type Positions = Box<dyn Fn(&str, usize, usize) -> Option<(String, usize, usize)>>;

/// JavaScriptCore's stack (a frame a line, `name@url:line:column`) as V8 and QuickJS write
/// theirs (`    at name (url:line:column)`), each position mapped through `positions`: the
/// form Workers' users read in their logs.
fn v8_stack(stack: &str, positions: Option<&Positions>) -> String {
    let frame = |line: &str| {
        let (name, location) = line.split_once('@').unwrap_or(("", line));
        let mut parts = location.rsplitn(3, ':');
        let location = match (parts.next(), parts.next(), parts.next()) {
            (Some(column), Some(row), Some(url)) => {
                let mapped = match (row.parse(), column.parse(), positions) {
                    (Ok(row), Ok(column), Some(positions)) => positions(url, row, column),
                    _ => None,
                };
                match mapped {
                    Some((file, row, column)) => format!("{file}:{row}:{column}"),
                    None => location.to_owned(),
                }
            }
            _ => location.to_owned(),
        };
        match name {
            // A script's top level, which V8 leaves unnamed.
            "" | "global code" | "eval code" | "module code" => format!("    at {location}"),
            name => format!("    at {name} ({location})"),
        }
    };
    stack
        .lines()
        .filter(|line| !line.is_empty())
        .map(frame)
        .collect::<Vec<_>>()
        .join("\n")
}

fn another_vm() -> JsError {
    JsError::thrown(
        "TypeError",
        "a value of another VM cannot be used in this one",
    )
}

/// What an entry into the engine is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// Running script, under a CPU slice of its own when outermost.
    Script,
    /// Describing what the last entry threw (its getters run): under that entry's deadline,
    /// and what it throws in turn is not described.
    Describing,
    /// Making a value (an array, a typed array): no script runs, so no CPU slice starts and
    /// the memory is checked by the next entry that runs script.
    Making,
}

/// The error of an entry the guard stopped.
fn breach(kind: ErrorKind) -> JsError {
    match kind {
        ErrorKind::Interrupted => JsError::interrupted(),
        _ => JsError::out_of_memory(),
    }
}

/// The one class of host functions, made once per process (classes are not bound to a VM).
fn host_class(api: &'static Api) -> Result<JSClassRef, JsError> {
    struct Class(JSClassRef);
    // SAFETY: a JSClassRef is an immutable description, usable from any thread.
    unsafe impl Send for Class {}
    unsafe impl Sync for Class {}
    static CLASS: OnceLock<Class> = OnceLock::new();
    let class = CLASS.get_or_init(|| {
        let definition = sys::JSClassDefinition {
            version: 0,
            attributes: sys::CLASS_NO_AUTOMATIC_PROTOTYPE,
            class_name: c"VergeHostFunction".as_ptr(),
            parent_class: ptr::null_mut(),
            static_values: ptr::null(),
            static_functions: ptr::null(),
            initialize: ptr::null(),
            finalize: ptr::null(),
            has_property: ptr::null(),
            get_property: ptr::null(),
            set_property: ptr::null(),
            delete_property: ptr::null(),
            get_property_names: ptr::null(),
            call_as_function: Some(call_host),
            call_as_constructor: ptr::null(),
            has_instance: ptr::null(),
            convert_to_type: ptr::null(),
        };
        // SAFETY: the definition is complete, and copied by the engine.
        Class(unsafe { (api.JSClassCreate)(&definition) })
    });
    if class.0.is_null() {
        Err(JsError::internal(
            "JavaScriptCore could not create the host function class",
        ))
    } else {
        Ok(class.0)
    }
}

/// Calls a host function's closure; what it returns goes back to JavaScript, an error is
/// thrown there, and a panic, which must not unwind into the engine, is thrown as a message.
unsafe extern "C" fn call_host(
    context: JSContextRef,
    function: JSObjectRef,
    _this: JSObjectRef,
    count: usize,
    arguments: *const JSValueRef,
    exception: *mut JSValueRef,
) -> JSValueRef {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: every object of the host class is made by `Scope::function` with a `Host` as
        // its data, alive while its VM is; the engine gives `count` arguments.
        let (host, arguments) = unsafe {
            let host = &*((sys::api().ok()?.JSObjectGetPrivate)(function) as *const Host);
            let arguments = if count == 0 || arguments.is_null() {
                &[][..]
            } else {
                std::slice::from_raw_parts(arguments, count)
            };
            (host, arguments)
        };
        // SAFETY: the state outlives every call of its host functions.
        let scope = Scope {
            state: unsafe { &*host.state },
            context,
        };
        let arguments: Vec<Value<'_>> = arguments.iter().map(|&raw| scope.value(raw)).collect();
        let result = match (host.call)(scope, &arguments) {
            Ok(value) if ptr::eq(value.scope.state, scope.state) => Ok(value.raw),
            Ok(_) => Err(another_vm()),
            Err(error) => Err(error),
        };
        // A stop the closure let pass (by dropping the error of its call into JavaScript) is
        // thrown here all the same; the guard's next tick then stops the calling script.
        let result = match scope.state.guard.breach() {
            Some(kind) => Err(breach(kind)),
            None => result,
        };
        Some(match result {
            Ok(raw) => raw,
            Err(error) => {
                // SAFETY: the engine gives a valid exception slot.
                unsafe { *exception = scope.error_value(&error) };
                ptr::null()
            }
        })
    }));
    match outcome {
        Ok(Some(raw)) => raw,
        // A panic (or no API, which cannot be once a VM exists) must not unwind into the
        // engine: its message is thrown in JavaScript instead.
        _ => {
            if let Ok(api) = sys::api() {
                // SAFETY: the context and the exception slot are the engine's, valid here.
                unsafe {
                    let text = JsString::new(api, "a host function failed");
                    let message = (api.JSValueMakeString)(context, text.raw());
                    *exception = message;
                }
            }
            ptr::null()
        }
    }
}

/// A JavaScript value of one VM, kept alive (protected from collection) while held.
pub struct Value<'vm> {
    scope: Scope<'vm>,
    raw: JSValueRef,
}

impl<'vm> Value<'vm> {
    /// Whether `other` belongs to this value's VM: one VM's values must never reach another,
    /// which would keep them past their own VM's end.
    fn same_vm(&self, other: &Value<'_>) -> bool {
        ptr::eq(self.scope.state, other.scope.state)
    }

    /// The VM this value belongs to.
    pub fn scope(&self) -> Scope<'vm> {
        self.scope
    }

    /// The value as `String(value)` gives it (which may run the script's `toString`).
    pub fn to_string(&self) -> Result<String, JsError> {
        self.to_string_as(Entry::Script)
    }

    fn to_string_as(&self, entry: Entry) -> Result<String, JsError> {
        let (api, context, raw) = (self.scope.state.api, self.scope.context, self.raw);
        let text = self.scope.run_as(entry, |exception| {
            // SAFETY: the value and context are live; the copy is adopted and released once.
            unsafe { JsString::adopt(api, (api.JSValueToStringCopy)(context, raw, exception)) }
        })?;
        Ok(text.map(|text| text.to_rust()).unwrap_or_default())
    }

    /// The value as `Number(value)` gives it (which may run the script's `valueOf`).
    pub fn to_number(&self) -> Result<f64, JsError> {
        let (api, context, raw) = (self.scope.state.api, self.scope.context, self.raw);
        // SAFETY: the value and context are live.
        self.scope.run_as(Entry::Script, |exception| unsafe {
            (api.JSValueToNumber)(context, raw, exception)
        })
    }

    /// The data `values` describe, as an engine-neutral op takes its arguments.
    pub fn all_to_data(values: &[Value<'vm>]) -> Result<Vec<Data>, JsError> {
        values.iter().map(Value::to_data).collect()
    }

    /// The value as [`Data`]: primitives, a `Uint8Array`'s bytes and arrays of those; a
    /// TypeError for anything else, and for arrays nested deeper than `verge_js::MAX_DEPTH` or
    /// holding more than `verge_js::MAX_VALUES` values in all (a cyclic one included).
    pub fn to_data(&self) -> Result<Data, JsError> {
        let mut budget = MAX_VALUES;
        self.data_within(0, &mut budget)
    }

    fn data_within(&self, depth: usize, budget: &mut usize) -> Result<Data, JsError> {
        if depth > MAX_DEPTH || *budget == 0 {
            return Err(verge_js::data_too_large().into());
        }
        *budget -= 1;
        let (api, context, raw) = (self.scope.state.api, self.scope.context, self.raw);
        // SAFETY: the value and context are live.
        let is = |test: unsafe extern "C" fn(JSContextRef, JSValueRef) -> bool| unsafe {
            test(context, raw)
        };
        if self.is_undefined() {
            return Ok(Data::Undefined);
        }
        if is(api.JSValueIsNull) {
            return Ok(Data::Null);
        }
        if is(api.JSValueIsBoolean) {
            return Ok(Data::Bool(self.to_bool()));
        }
        if is(api.JSValueIsNumber) {
            return self.to_number().map(Data::Number);
        }
        if is(api.JSValueIsString) {
            return self.to_string().map(Data::String);
        }
        if is(api.JSValueIsArray) {
            let length = self.get("length")?.to_number()?;
            let length = if length.is_finite() && length >= 0.0 {
                length as u32
            } else {
                0
            };
            return (0..length)
                .map(|index| {
                    let item = self.scope.enter(|exception| {
                        // SAFETY: the array and context are live.
                        unsafe {
                            (api.JSObjectGetPropertyAtIndex)(
                                context,
                                raw as JSObjectRef,
                                index,
                                exception,
                            )
                        }
                    })?;
                    item.data_within(depth + 1, budget)
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Data::List);
        }
        if let Some(bytes) = self.to_bytes() {
            return Ok(Data::Bytes(bytes));
        }
        Err(JsError::thrown(
            "TypeError",
            "an op takes strings, numbers, bytes and arrays of them",
        ))
    }

    /// The value as `Boolean(value)` gives it.
    pub fn to_bool(&self) -> bool {
        // SAFETY: the value and context are live.
        unsafe { (self.scope.state.api.JSValueToBoolean)(self.scope.context, self.raw) }
    }

    /// A copy of the bytes a typed array's view or an ArrayBuffer holds; `None` for any other
    /// value (a DataView included, which the C API does not tell apart from a plain object).
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        let (api, context) = (self.scope.state.api, self.scope.context);
        let mut exception: JSValueRef = ptr::null();
        // SAFETY: the value and context are live; the pointer and length describe the object's
        // backing store, read before anything can run that might detach or resize it.
        unsafe {
            let kind = (api.JSValueGetTypedArrayType)(context, self.raw, &mut exception);
            let object = self.raw as JSObjectRef;
            let (store, length) = match kind {
                sys::TYPED_ARRAY_NONE => return None,
                sys::TYPED_ARRAY_BUFFER => (
                    (api.JSObjectGetArrayBufferBytesPtr)(context, object, &mut exception),
                    (api.JSObjectGetArrayBufferByteLength)(context, object, &mut exception),
                ),
                // The pointer is to the start of the whole buffer, not of the view.
                _ => (
                    (api.JSObjectGetTypedArrayBytesPtr)(context, object, &mut exception)
                        .cast::<u8>()
                        .wrapping_add((api.JSObjectGetTypedArrayByteOffset)(
                            context,
                            object,
                            &mut exception,
                        ))
                        .cast::<c_void>(),
                    (api.JSObjectGetTypedArrayByteLength)(context, object, &mut exception),
                ),
            };
            if !exception.is_null() {
                return None;
            }
            if store.is_null() || length == 0 {
                return Some(Vec::new());
            }
            Some(std::slice::from_raw_parts(store.cast::<u8>(), length).to_vec())
        }
    }

    pub fn is_undefined(&self) -> bool {
        // SAFETY: the value and context are live.
        unsafe { (self.scope.state.api.JSValueIsUndefined)(self.scope.context, self.raw) }
    }

    pub fn is_object(&self) -> bool {
        // SAFETY: the value and context are live.
        unsafe { (self.scope.state.api.JSValueIsObject)(self.scope.context, self.raw) }
    }

    pub fn is_function(&self) -> bool {
        // SAFETY: the value and context are live; only an object is asked whether it is
        // callable.
        self.is_object()
            && unsafe {
                (self.scope.state.api.JSObjectIsFunction)(
                    self.scope.context,
                    self.raw as JSObjectRef,
                )
            }
    }

    /// The property `name` of this value (a primitive is boxed first).
    pub fn get(&self, name: &str) -> Result<Value<'vm>, JsError> {
        self.get_as(Entry::Script, name)
    }

    fn get_as(&self, entry: Entry, name: &str) -> Result<Value<'vm>, JsError> {
        let (api, context) = (self.scope.state.api, self.scope.context);
        let name = JsString::new(api, name);
        let value = self.raw;
        self.scope.enter_as(entry, |exception| {
            // SAFETY: the value, context and name are live.
            unsafe {
                let object = (api.JSValueToObject)(context, value, exception);
                if object.is_null() {
                    return ptr::null();
                }
                (api.JSObjectGetProperty)(context, object, name.raw(), exception)
            }
        })
    }

    /// Sets the property `name` of this object to `value`.
    pub fn set(&self, name: &str, value: &Value<'vm>) -> Result<(), JsError> {
        let (api, context) = (self.scope.state.api, self.scope.context);
        if !self.is_object() {
            return Err(JsError::thrown(
                "TypeError",
                "cannot set a property of a primitive",
            ));
        }
        if !self.same_vm(value) {
            return Err(another_vm());
        }
        let name = JsString::new(api, name);
        let object = self.raw as JSObjectRef;
        self.scope
            .enter(|exception| {
                // SAFETY: the object, value, context and name are live.
                unsafe {
                    (api.JSObjectSetProperty)(
                        context,
                        object,
                        name.raw(),
                        value.raw,
                        sys::PROPERTY_NONE,
                        exception,
                    );
                }
                ptr::null()
            })
            .map(drop)
    }

    /// Calls this function with `arguments` and `this` undefined.
    pub fn call(&self, arguments: &[Value<'vm>]) -> Result<Value<'vm>, JsError> {
        self.call_as(Entry::Script, arguments)
    }

    fn call_as(&self, entry: Entry, arguments: &[Value<'vm>]) -> Result<Value<'vm>, JsError> {
        if !self.is_function() {
            return Err(JsError::thrown("TypeError", "value is not a function"));
        }
        if arguments.iter().any(|argument| !self.same_vm(argument)) {
            return Err(another_vm());
        }
        let (api, context) = (self.scope.state.api, self.scope.context);
        let arguments: Vec<JSValueRef> = arguments.iter().map(|argument| argument.raw).collect();
        let function = self.raw as JSObjectRef;
        self.scope.enter_as(entry, |exception| {
            // SAFETY: the function, arguments and context are live.
            unsafe {
                (api.JSObjectCallAsFunction)(
                    context,
                    function,
                    ptr::null_mut(),
                    arguments.len(),
                    arguments.as_ptr(),
                    exception,
                )
            }
        })
    }

    /// The error that throwing this value makes: class name, message and stack of an error
    /// object, or the value itself as the message. Describing it runs the script's getters: a
    /// limit they reach is the error then.
    pub fn to_error(&self) -> JsError {
        self.describe().unwrap_or_else(|limit| limit)
    }

    fn describe(&self) -> Result<JsError, JsError> {
        // What a getter throws leaves that field out; a limit it reaches ends the description.
        fn unless_limit<T>(result: Result<T, JsError>) -> Result<Option<T>, JsError> {
            match result {
                Ok(value) => Ok(Some(value)),
                Err(error) if error.kind == ErrorKind::Thrown => Ok(None),
                Err(limit) => Err(limit),
            }
        }
        let field = |name: &str| -> Result<Option<String>, JsError> {
            let value = unless_limit(self.get_as(Entry::Describing, name))?;
            let Some(value) = value.filter(|value| !value.is_undefined()) else {
                return Ok(None);
            };
            unless_limit(value.to_string_as(Entry::Describing))
        };
        if self.is_object() {
            if let (Some(name), Some(message)) = (field("name")?, field("message")?) {
                let mut error = JsError::thrown(&name, message);
                let stack = field("stack")?.unwrap_or_default();
                error.stack = v8_stack(&stack, self.scope.state.positions.borrow().as_ref());
                return Ok(error);
            }
        }
        // `String(value)`, which, unlike ToString, describes a symbol too.
        let described = self
            .scope
            .global()
            .get_as(Entry::Describing, "String")
            .and_then(|string| string.call_as(Entry::Describing, std::slice::from_ref(self)))
            .and_then(|text| text.to_string_as(Entry::Describing));
        let text = unless_limit(described)?.unwrap_or_default();
        Ok(JsError::thrown("Uncaught", text))
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
        self.scope.value(self.raw)
    }
}

impl Drop for Value<'_> {
    fn drop(&mut self) {
        // SAFETY: `Scope::value` protected this value once; this undoes it once.
        unsafe { (self.scope.state.api.JSValueUnprotect)(self.scope.context, self.raw) }
    }
}
