//! Strings across the C API: JavaScriptCore's `JSStringRef` holds UTF-16, owned here until
//! dropped.

#![allow(unsafe_code)]

use crate::sys::{Api, JSStringRef};

/// One `JSStringRef`, released when dropped.
pub(crate) struct JsString {
    api: &'static Api,
    raw: JSStringRef,
}

impl JsString {
    pub(crate) fn new(api: &'static Api, text: &str) -> Self {
        let units: Vec<u16> = if text.is_ascii() {
            text.bytes().map(u16::from).collect()
        } else {
            text.encode_utf16().collect()
        };
        // SAFETY: the engine copies `units`, which are valid for their length.
        let raw = unsafe { (api.JSStringCreateWithCharacters)(units.as_ptr(), units.len()) };
        Self { api, raw }
    }

    /// Takes ownership of a string the engine returned (a `…Copy` function's result).
    ///
    /// # Safety
    /// `raw` must be a live `JSStringRef` that nothing else releases, or null.
    pub(crate) unsafe fn adopt(api: &'static Api, raw: JSStringRef) -> Option<Self> {
        // Built only when not null: dropping one releases it.
        (!raw.is_null()).then(|| Self { api, raw })
    }

    pub(crate) fn raw(&self) -> JSStringRef {
        self.raw
    }

    /// The text, with lone surrogates replaced as Rust strings require.
    pub(crate) fn to_rust(&self) -> String {
        // SAFETY: the characters pointer is valid for the string's length while it lives.
        let units = unsafe {
            let length = (self.api.JSStringGetLength)(self.raw);
            let units = (self.api.JSStringGetCharactersPtr)(self.raw);
            if units.is_null() || length == 0 {
                return String::new();
            }
            std::slice::from_raw_parts(units, length)
        };
        // Most text crossing here (headers, bodies, JSON) is ASCII: copied byte for byte, far
        // faster than decoding it character by character.
        // (Collected as bytes, not chars: a `String` built char by char is the slow path.)
        if units.iter().all(|&unit| unit < 0x80) {
            let bytes: Vec<u8> = units.iter().map(|&unit| unit as u8).collect();
            if let Ok(text) = String::from_utf8(bytes) {
                return text;
            }
        }
        String::from_utf16_lossy(units)
    }
}

impl Drop for JsString {
    fn drop(&mut self) {
        // SAFETY: this owns one reference to the string.
        unsafe { (self.api.JSStringRelease)(self.raw) }
    }
}
