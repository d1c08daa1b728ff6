//! Randomness for `crypto.getRandomValues` and `crypto.randomUUID`, from the operating system.

use crate::WebHost;
use rquickjs::{Ctx, TypedArray};
use verge_js::{rquickjs, Ops};

/// The most `getRandomValues` may fill at once (WebCrypto §10.1.1).
const MAX_RANDOM_BYTES: usize = 65536;

pub(crate) fn register<'js>(ops: &Ops<'js>, _host: &WebHost) -> rquickjs::Result<()> {
    ops.add("randomBytes", |ctx: Ctx<'js>, len: usize| {
        let mut bytes = vec![0u8; len.min(MAX_RANDOM_BYTES)];
        getrandom::fill(&mut bytes).map_err(|e| {
            rquickjs::Exception::throw_internal(&ctx, &format!("the OS random source failed: {e}"))
        })?;
        TypedArray::<u8>::new(ctx, bytes)
    })
}
