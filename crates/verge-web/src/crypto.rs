//! Randomness for `crypto.getRandomValues` and `crypto.randomUUID`, from the operating system.

use crate::WebHost;
use verge_js::{data_op, Bytes, DataOp, OpError};

/// The most `getRandomValues` may fill at once (WebCrypto §10.1.1).
const MAX_RANDOM_BYTES: usize = 65536;

/// `randomBytes(length)`: a `Uint8Array` of at most [`MAX_RANDOM_BYTES`] random bytes.
pub(crate) fn ops(_host: &WebHost) -> Vec<(&'static str, DataOp)> {
    let random_bytes = data_op(|length: u32| {
        let mut bytes = vec![0u8; (length as usize).min(MAX_RANDOM_BYTES)];
        getrandom::fill(&mut bytes)
            .map_err(|e| OpError::Error(format!("the OS random source failed: {e}")))?;
        Ok(Bytes(bytes))
    });
    vec![("randomBytes", random_bytes)]
}
