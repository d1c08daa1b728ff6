//! The JavaScript every worker's isolate gets, in the order its eager files run: the Web
//! platform (`verge-web`), `WebAssembly` (`verge-wasm`), Workers' bindings (`verge-bindings`),
//! then the worker's entry points (`entry`).

use verge_web::{Api, Platform};

/// Made once per process; see [`verge_web::Platform`].
pub static PLATFORM: Platform = Platform::new(apis);

fn apis() -> Vec<&'static Api> {
    verge_web::APIS
        .iter()
        .chain([&verge_wasm::API])
        .chain(verge_bindings::apis())
        .chain(crate::entry::APIS)
        .collect()
}

#[cfg(test)]
mod tests {
    // Test code fails by panicking.
    #![allow(clippy::unwrap_used)]

    #[test]
    fn the_platform_is_as_it_declares() {
        super::PLATFORM.verify().unwrap();
    }
}
