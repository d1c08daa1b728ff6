//! Rust state that lives inside an isolate, dropped with it and before its heap.
//!
//! QuickJS aborts if a JavaScript value is still referenced from Rust when its runtime is freed,
//! so every `Persistent` that Rust keeps for an isolate must live here: userdata is cleared
//! before the runtime is freed.

use rquickjs::{Ctx, JsLifetime};

/// A `'static` value stored in an isolate's userdata; see [`store`] and [`with`].
pub struct HostState<T>(pub T);

// SAFETY: `T: 'static` holds no `'js` lifetime, so the type is the same at every lifetime, which
// is what `JsLifetime` asks of a type without JavaScript references.
#[allow(unsafe_code)]
unsafe impl<'js, T: 'static> JsLifetime<'js> for HostState<T> {
    type Changed<'to> = HostState<T>;
}

/// Stores `value` in the isolate of `ctx`, replacing any earlier value of the same type.
pub fn store<T: 'static>(ctx: &Ctx<'_>, value: T) -> rquickjs::Result<()> {
    ctx.store_userdata(HostState(value))
        .map(|_| ())
        .map_err(|_| {
            rquickjs::Error::new_into_js_message("host state", "userdata", "userdata is borrowed")
        })
}

/// Stores `T::default()` in the isolate of `ctx` unless a `T` is there already: for tables that
/// an op or the host may need first, whichever comes first.
pub fn ensure<T: Default + 'static>(ctx: &Ctx<'_>) -> rquickjs::Result<()> {
    if with(ctx, |_: &T| ()).is_none() {
        store(ctx, T::default())?;
    }
    Ok(())
}

/// Runs `f` on the value of type `T` stored in the isolate of `ctx`; `None` if there is none.
pub fn with<T: 'static, R>(ctx: &Ctx<'_>, f: impl FnOnce(&T) -> R) -> Option<R> {
    ctx.userdata::<HostState<T>>().map(|state| f(&state.0))
}
