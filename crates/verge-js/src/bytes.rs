//! Copying bytes out of JavaScript buffers: the one place that reads engine-owned memory.

use rquickjs::TypedArray;

/// Copies the bytes a `Uint8Array` views. Empty when the buffer was detached.
#[allow(unsafe_code)]
pub fn bytes_of(array: &TypedArray<'_, u8>) -> Vec<u8> {
    // SAFETY: the slice is copied before any JavaScript can run again, so nothing can detach or
    // resize the buffer while it is borrowed.
    unsafe { array.as_bytes() }
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}
