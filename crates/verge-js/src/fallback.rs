//! Fallback prototypes: an object to put in a prototype chain that has the properties a
//! JavaScript function says it has, asked at each lookup that reaches it. `verge-web` puts one
//! behind `globalThis` so that a lazy global is found, and its file loaded, on first use, at the
//! cost of one object per isolate rather than an accessor pair per name.
//!
//! A Proxy could not do this: QuickJS raises no ReferenceError for an unknown variable once a
//! Proxy sits in the global object's prototype chain (its `get` trap answers `undefined`). An
//! exotic object with only `get_own_property` keeps that: a name the function does not know is
//! simply not there, and the lookup goes on up the chain.

use crate::host_state;
use rquickjs::{qjs, Ctx, Function, Object, Value};
use std::ffi::{c_int, c_void};

/// The class of fallback prototypes in one runtime (class ids are per runtime).
struct FallbackClass(qjs::JSClassID);

struct Methods(qjs::JSClassExoticMethods);

// SAFETY: function pointers and `None`s, never written: the same in every runtime and thread.
#[allow(unsafe_code)]
unsafe impl Sync for Methods {}

static METHODS: Methods = Methods(qjs::JSClassExoticMethods {
    get_own_property: Some(get_own_property),
    get_own_property_names: None,
    delete_property: None,
    define_own_property: None,
    has_property: None,
    get_property: None,
    set_property: None,
});

/// Makes an object whose prototype is `proto` and whose own properties `answer(name, describe)`
/// decides: it returns whether `name` is one when `describe` is false (an `in` test), and when
/// `describe` is true either a falsy value (no such property) or `{ get, set }`, the property's
/// accessors (configurable, not enumerable). Either may run any JavaScript; neither is called
/// for a name the object in front of this one already has.
pub fn fallback_prototype<'js>(
    ctx: &Ctx<'js>,
    proto: Object<'js>,
    answer: Function<'js>,
) -> rquickjs::Result<Object<'js>> {
    let class = class_id(ctx)?;
    let raw_ctx = ctx.as_raw().as_ptr();
    #[allow(unsafe_code)]
    // SAFETY: `class` is registered in this runtime with `finalize` and `mark`, which own the
    // boxed value set as opaque: a reference to `answer` that the box keeps until finalized.
    unsafe {
        let object = qjs::JS_NewObjectProtoClass(raw_ctx, proto.as_raw(), class);
        if qjs::JS_IsException(object) {
            return Err(rquickjs::Error::Exception);
        }
        let answer = Box::new(qjs::JS_DupValue(raw_ctx, answer.as_raw()));
        qjs::JS_SetOpaque(object, Box::into_raw(answer).cast::<c_void>());
        Value::from_raw(ctx.clone(), object)
            .into_object()
            .ok_or(rquickjs::Error::Exception)
    }
}

/// The fallback class of the runtime of `ctx`, registered on first use.
fn class_id(ctx: &Ctx<'_>) -> rquickjs::Result<qjs::JSClassID> {
    if let Some(id) = host_state::with(ctx, |class: &FallbackClass| class.0) {
        return Ok(id);
    }
    let mut id: qjs::JSClassID = 0;
    let def = qjs::JSClassDef {
        class_name: c"FallbackPrototype".as_ptr(),
        finalizer: Some(finalize),
        gc_mark: Some(mark),
        call: None,
        // QuickJS keeps this pointer and only reads through it.
        exotic: std::ptr::from_ref(&METHODS.0).cast_mut(),
    };
    #[allow(unsafe_code)]
    // SAFETY: the runtime is the one `ctx` belongs to and is locked by it; `def` is copied
    // except for the static methods it points to.
    let registered = unsafe {
        let runtime = qjs::JS_GetRuntime(ctx.as_raw().as_ptr());
        qjs::JS_NewClassID(runtime, &mut id);
        qjs::JS_NewClass(runtime, id, &def)
    };
    if registered < 0 {
        return Err(rquickjs::Error::Allocation);
    }
    host_state::store(ctx, FallbackClass(id))?;
    Ok(id)
}

/// The `answer` function a fallback prototype holds.
///
/// # Safety
/// `object` must be a fallback prototype.
#[allow(unsafe_code)]
unsafe fn answer_of(object: qjs::JSValue) -> *mut qjs::JSValue {
    // SAFETY: the caller's promise: the opaque is the box `fallback_prototype` set.
    unsafe { qjs::JS_GetOpaque(object, qjs::JS_GetClassID(object)).cast::<qjs::JSValue>() }
}

#[allow(unsafe_code)]
unsafe extern "C" fn finalize(runtime: *mut qjs::JSRuntime, object: qjs::JSValue) {
    // SAFETY: QuickJS finalizes only objects of the class, once; the box is ours to free.
    unsafe {
        let answer = answer_of(object);
        if !answer.is_null() {
            let answer = Box::from_raw(answer);
            qjs::JS_FreeValueRT(runtime, *answer);
        }
    }
}

#[allow(unsafe_code)]
unsafe extern "C" fn mark(
    runtime: *mut qjs::JSRuntime,
    object: qjs::JSValue,
    mark_func: qjs::JS_MarkFunc,
) {
    // SAFETY: the object is of the class; the function it holds is live until `finalize`. The
    // cycle collector must see it: it usually closes over the object's own chain.
    unsafe {
        let answer = answer_of(object);
        if !answer.is_null() {
            qjs::JS_MarkValue(runtime, *answer, mark_func);
        }
    }
}

/// QuickJS's `get_own_property`: 1 with `desc` filled (when not null) if `answer` knows `prop`,
/// 0 if not, -1 with an exception pending if it threw.
#[allow(unsafe_code)]
unsafe extern "C" fn get_own_property(
    ctx: *mut qjs::JSContext,
    desc: *mut qjs::JSPropertyDescriptor,
    object: qjs::JSValue,
    prop: qjs::JSAtom,
) -> c_int {
    // SAFETY: QuickJS calls this for objects of the class with a live context; every value
    // made here is freed once, and those put in `desc` pass to the caller, who frees them.
    unsafe {
        let answer = answer_of(object);
        if answer.is_null() {
            return 0;
        }
        let describe = !desc.is_null();
        let mut args = [
            qjs::JS_AtomToValue(ctx, prop),
            if describe {
                qjs::JS_TRUE
            } else {
                qjs::JS_FALSE
            },
        ];
        let result = qjs::JS_Call(ctx, *answer, qjs::JS_UNDEFINED, 2, args.as_mut_ptr());
        qjs::JS_FreeValue(ctx, args[0]);
        if qjs::JS_IsException(result) {
            return -1;
        }
        if !describe || !qjs::JS_IsObject(result) {
            let found = qjs::JS_ToBool(ctx, result);
            qjs::JS_FreeValue(ctx, result);
            return if describe { 0 } else { found };
        }
        let getter = qjs::JS_GetPropertyStr(ctx, result, c"get".as_ptr());
        let setter = qjs::JS_GetPropertyStr(ctx, result, c"set".as_ptr());
        qjs::JS_FreeValue(ctx, result);
        if qjs::JS_IsException(getter) || qjs::JS_IsException(setter) {
            qjs::JS_FreeValue(ctx, getter);
            qjs::JS_FreeValue(ctx, setter);
            return -1;
        }
        (*desc).flags = (qjs::JS_PROP_GETSET | qjs::JS_PROP_CONFIGURABLE) as c_int;
        (*desc).value = qjs::JS_UNDEFINED;
        (*desc).getter = getter;
        (*desc).setter = setter;
        1
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use crate::{Isolate, IsolateLimits};
    use rquickjs::{Function, Object};

    /// An isolate whose global object falls back to a prototype that knows `lazy` (read as 42
    /// and counted) and nothing else.
    fn isolate_with_fallback() -> Isolate {
        let isolate = Isolate::new(IsolateLimits::default()).unwrap();
        isolate
            .enter(|ctx| {
                let answer: Function = ctx.eval(
                    "globalThis.reads = 0;
                     (name, describe) => name === 'lazy' && (!describe || {
                       get() { reads++; return 42; },
                       set(value) { Object.defineProperty(this, name, { value, writable: true }); },
                     })",
                )?;
                let global = ctx.globals();
                let proto: Object = global.get_prototype().unwrap();
                let fallback = super::fallback_prototype(ctx, proto, answer)?;
                global.set_prototype(Some(&fallback))
            })
            .unwrap();
        isolate
    }

    fn eval<T: for<'js> rquickjs::FromJs<'js>>(isolate: &Isolate, source: &str) -> T {
        isolate.enter(|ctx| ctx.eval(source)).unwrap()
    }

    #[test]
    fn a_known_name_is_found_and_an_unknown_one_stays_a_reference_error() {
        let isolate = isolate_with_fallback();
        assert_eq!(eval::<i32>(&isolate, "lazy + globalThis.lazy"), 84);
        assert!(eval::<bool>(
            &isolate,
            "'lazy' in globalThis && reads === 2"
        ));
        assert!(eval::<bool>(
            &isolate,
            "try { missing; false } catch (e) { e instanceof ReferenceError }"
        ));
        assert!(eval::<bool>(
            &isolate,
            "typeof missing === 'undefined' && !('missing' in globalThis) \
             && globalThis.missing === undefined && globalThis.hasOwnProperty('reads')"
        ));
    }

    #[test]
    fn assigning_a_known_name_goes_through_its_setter() {
        let isolate = isolate_with_fallback();
        assert_eq!(eval::<i32>(&isolate, "globalThis.lazy = 7; lazy"), 7);
        assert!(eval::<bool>(&isolate, "reads === 0"));
    }

    #[test]
    fn the_isolate_frees_the_prototype_and_its_function() {
        // A cycle (the function closes over the global, whose chain holds the function) that
        // the collector must see through `mark`, or dropping the isolate would leak or abort.
        for _ in 0..20 {
            let isolate = isolate_with_fallback();
            let _: i32 = eval(&isolate, "globalThis.keep = () => lazy; keep()");
        }
    }
}
