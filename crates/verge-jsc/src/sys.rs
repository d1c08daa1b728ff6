//! The part of JavaScriptCore's C API that Verge calls, loaded from the system's shared library
//! when first needed rather than linked: a machine without JavaScriptCore still builds and runs
//! Verge, and only a worker that asks for this engine is told what to install.
//!
//! The declarations follow WebKitGTK's `JavaScriptCore/*.h` (public) and `JSContextRefPrivate.h`
//! and `JSBasePrivate.h` (exported, not installed) for the execution time limit and the heap's
//! statistics.

#![allow(unsafe_code, non_snake_case, non_camel_case_types)]

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::sync::OnceLock;

pub type JSContextGroupRef = *const c_void;
pub type JSContextRef = *const c_void;
pub type JSGlobalContextRef = *mut c_void;
pub type JSStringRef = *mut c_void;
pub type JSClassRef = *mut c_void;
pub type JSValueRef = *const c_void;
pub type JSObjectRef = *mut c_void;

/// Asked when a context group's time limit passes: true stops the script.
pub type JSShouldTerminateCallback = unsafe extern "C" fn(JSContextRef, *mut c_void) -> bool;

/// Called when an object of a class with it is called as a function.
pub type JSObjectCallAsFunctionCallback = unsafe extern "C" fn(
    JSContextRef,
    JSObjectRef,
    JSObjectRef,
    usize,
    *const JSValueRef,
    *mut JSValueRef,
) -> JSValueRef;

/// `JSClassDefinition`, version 0; the callbacks Verge does not use are left null.
#[repr(C)]
pub struct JSClassDefinition {
    pub version: c_int,
    pub attributes: c_uint,
    pub class_name: *const c_char,
    pub parent_class: JSClassRef,
    pub static_values: *const c_void,
    pub static_functions: *const c_void,
    pub initialize: *const c_void,
    pub finalize: *const c_void,
    pub has_property: *const c_void,
    pub get_property: *const c_void,
    pub set_property: *const c_void,
    pub delete_property: *const c_void,
    pub get_property_names: *const c_void,
    pub call_as_function: Option<JSObjectCallAsFunctionCallback>,
    pub call_as_constructor: *const c_void,
    pub has_instance: *const c_void,
    pub convert_to_type: *const c_void,
}

/// `kJSClassAttributeNoAutomaticPrototype`.
pub const CLASS_NO_AUTOMATIC_PROTOTYPE: c_uint = 1 << 1;
/// `kJSPropertyAttributeNone`.
pub const PROPERTY_NONE: c_uint = 0;
/// `kJSTypedArrayTypeUint8Array`, `…ArrayBuffer` and `…None`.
pub const TYPED_ARRAY_UINT8: c_uint = 3;
pub const TYPED_ARRAY_BUFFER: c_uint = 9;
pub const TYPED_ARRAY_NONE: c_uint = 10;

/// The shared libraries that carry the C API, newest first: WebKitGTK's for GTK 4 and GTK 3.
const LIBRARIES: [&str; 2] = [
    "libjavascriptcoregtk-6.0.so.1",
    "libjavascriptcoregtk-4.1.so.0",
];

macro_rules! api {
    ($( fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?; )*) => {
        /// The C API's functions, resolved once per process.
        pub struct Api {
            $( pub $name: unsafe extern "C" fn($($ty),*) $(-> $ret)?, )*
            /// Kept so that the functions above stay mapped; never unloaded.
            _library: libloading::Library,
        }

        impl Api {
            /// # Safety
            /// `library` must be a build of JavaScriptCore whose functions have the signatures
            /// above, as every WebKitGTK release since 2.38 has.
            unsafe fn resolve(library: libloading::Library) -> Result<Self, libloading::Error> {
                Ok(Self {
                    $( $name: *library.get(concat!(stringify!($name), "\0").as_bytes())?, )*
                    _library: library,
                })
            }
        }
    };
}

api! {
    fn JSContextGroupCreate() -> JSContextGroupRef;
    fn JSContextGroupRelease(group: JSContextGroupRef);
    fn JSContextGroupSetExecutionTimeLimit(
        group: JSContextGroupRef,
        seconds: f64,
        callback: JSShouldTerminateCallback,
        data: *mut c_void,
    );
    fn JSContextGroupClearExecutionTimeLimit(group: JSContextGroupRef);
    fn JSGlobalContextCreateInGroup(group: JSContextGroupRef, class: JSClassRef) -> JSGlobalContextRef;
    fn JSGlobalContextRelease(context: JSGlobalContextRef);
    fn JSGlobalContextSetUnhandledRejectionCallback(
        context: JSGlobalContextRef,
        function: JSObjectRef,
        exception: *mut JSValueRef,
    );
    fn JSContextGetGlobalObject(context: JSContextRef) -> JSObjectRef;
    fn JSGetMemoryUsageStatistics(context: JSContextRef) -> JSObjectRef;
    fn JSSynchronousGarbageCollectForDebugging(context: JSContextRef);
    fn JSEvaluateScript(
        context: JSContextRef,
        script: JSStringRef,
        this: JSObjectRef,
        url: JSStringRef,
        line: c_int,
        exception: *mut JSValueRef,
    ) -> JSValueRef;
    fn JSStringCreateWithCharacters(units: *const u16, length: usize) -> JSStringRef;
    fn JSStringRelease(string: JSStringRef);
    fn JSClassCreate(definition: *const JSClassDefinition) -> JSClassRef;
    fn JSObjectMake(context: JSContextRef, class: JSClassRef, data: *mut c_void) -> JSObjectRef;
    fn JSObjectGetPrivate(object: JSObjectRef) -> *mut c_void;
    fn JSObjectCallAsConstructor(
        context: JSContextRef,
        constructor: JSObjectRef,
        count: usize,
        arguments: *const JSValueRef,
        exception: *mut JSValueRef,
    ) -> JSObjectRef;
    fn JSObjectSetProperty(
        context: JSContextRef,
        object: JSObjectRef,
        name: JSStringRef,
        value: JSValueRef,
        attributes: c_uint,
        exception: *mut JSValueRef,
    );
    fn JSValueMakeNull(context: JSContextRef) -> JSValueRef;
    fn JSValueIsNull(context: JSContextRef, value: JSValueRef) -> bool;
    fn JSValueIsBoolean(context: JSContextRef, value: JSValueRef) -> bool;
    fn JSValueIsNumber(context: JSContextRef, value: JSValueRef) -> bool;
    fn JSValueIsString(context: JSContextRef, value: JSValueRef) -> bool;
    fn JSValueIsArray(context: JSContextRef, value: JSValueRef) -> bool;
    fn JSObjectMakeArray(context: JSContextRef, count: usize, values: *const JSValueRef, exception: *mut JSValueRef) -> JSObjectRef;
    fn JSObjectGetPropertyAtIndex(context: JSContextRef, object: JSObjectRef, index: c_uint, exception: *mut JSValueRef) -> JSValueRef;
    fn JSValueMakeBoolean(context: JSContextRef, boolean: bool) -> JSValueRef;
    fn JSValueToBoolean(context: JSContextRef, value: JSValueRef) -> bool;
    fn JSValueGetTypedArrayType(context: JSContextRef, value: JSValueRef, exception: *mut JSValueRef) -> c_uint;
    fn JSObjectMakeTypedArray(context: JSContextRef, kind: c_uint, length: usize, exception: *mut JSValueRef) -> JSObjectRef;
    fn JSObjectGetTypedArrayBytesPtr(context: JSContextRef, object: JSObjectRef, exception: *mut JSValueRef) -> *mut c_void;
    fn JSObjectGetTypedArrayByteOffset(context: JSContextRef, object: JSObjectRef, exception: *mut JSValueRef) -> usize;
    fn JSObjectSetPrototype(context: JSContextRef, object: JSObjectRef, prototype: JSValueRef);
    fn JSObjectGetTypedArrayByteLength(context: JSContextRef, object: JSObjectRef, exception: *mut JSValueRef) -> usize;
    fn JSObjectGetArrayBufferBytesPtr(context: JSContextRef, object: JSObjectRef, exception: *mut JSValueRef) -> *mut c_void;
    fn JSObjectGetArrayBufferByteLength(context: JSContextRef, object: JSObjectRef, exception: *mut JSValueRef) -> usize;
    fn JSStringGetLength(string: JSStringRef) -> usize;
    fn JSStringGetCharactersPtr(string: JSStringRef) -> *const u16;
    fn JSValueMakeUndefined(context: JSContextRef) -> JSValueRef;
    fn JSValueMakeNumber(context: JSContextRef, number: f64) -> JSValueRef;
    fn JSValueMakeString(context: JSContextRef, string: JSStringRef) -> JSValueRef;
    fn JSValueIsObject(context: JSContextRef, value: JSValueRef) -> bool;
    fn JSValueIsUndefined(context: JSContextRef, value: JSValueRef) -> bool;
    fn JSValueToNumber(context: JSContextRef, value: JSValueRef, exception: *mut JSValueRef) -> f64;
    fn JSValueToStringCopy(context: JSContextRef, value: JSValueRef, exception: *mut JSValueRef) -> JSStringRef;
    fn JSValueToObject(context: JSContextRef, value: JSValueRef, exception: *mut JSValueRef) -> JSObjectRef;
    fn JSValueProtect(context: JSContextRef, value: JSValueRef);
    fn JSValueUnprotect(context: JSContextRef, value: JSValueRef);
    fn JSObjectGetProperty(
        context: JSContextRef,
        object: JSObjectRef,
        name: JSStringRef,
        exception: *mut JSValueRef,
    ) -> JSValueRef;
    fn JSObjectIsFunction(context: JSContextRef, object: JSObjectRef) -> bool;
    fn JSObjectCallAsFunction(
        context: JSContextRef,
        function: JSObjectRef,
        this: JSObjectRef,
        count: usize,
        arguments: *const JSValueRef,
        exception: *mut JSValueRef,
    ) -> JSValueRef;
}

static API: OnceLock<Result<Api, String>> = OnceLock::new();

/// The C API, loaded on first use; the error says what to install.
pub fn api() -> Result<&'static Api, &'static str> {
    API.get_or_init(load).as_ref().map_err(String::as_str)
}

fn load() -> Result<Api, String> {
    let mut tried = Vec::new();
    for name in LIBRARIES {
        // SAFETY: loading WebKitGTK's JavaScriptCore runs its static constructors, which only
        // initialise the library's own state.
        match unsafe { libloading::Library::new(name) } {
            // SAFETY: these libraries export the C API with the declared signatures.
            Ok(library) => {
                return unsafe { Api::resolve(library) }.map_err(|error| {
                    format!("{name} lacks part of JavaScriptCore's C API: {error}")
                })
            }
            Err(error) => tried.push(format!("{name}: {error}")),
        }
    }
    Err(format!(
        "JavaScriptCore is not installed (install Debian's libjavascriptcoregtk-4.1-0 or \
         libjavascriptcoregtk-6.0-1); tried {}",
        tried.join("; ")
    ))
}
