//! The primitives behind `crypto.subtle`: digests and HMAC from `ring`, and a constant-time
//! comparison for Workers' `timingSafeEqual`. Key handling, algorithm normalization and the
//! WebCrypto error rules are in `subtle.js`; these ops see only bytes and hash names.

use crate::{type_error, WebHost};
use ring::{digest, hmac};
use rquickjs::{Ctx, Function, Object, TypedArray};
use verge_js::{bytes_of, rquickjs};

fn digest_algorithm(name: &str) -> Option<&'static digest::Algorithm> {
    Some(match name {
        "SHA-1" => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        "SHA-256" => &digest::SHA256,
        "SHA-384" => &digest::SHA384,
        "SHA-512" => &digest::SHA512,
        _ => return None,
    })
}

fn hmac_algorithm(name: &str) -> Option<hmac::Algorithm> {
    Some(match name {
        "SHA-1" => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        "SHA-256" => hmac::HMAC_SHA256,
        "SHA-384" => hmac::HMAC_SHA384,
        "SHA-512" => hmac::HMAC_SHA512,
        _ => return None,
    })
}

/// Compares without an early exit, so the time taken does not tell where two secrets differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

pub(crate) fn register<'js>(
    ctx: &Ctx<'js>,
    ops: &Object<'js>,
    _host: &WebHost,
) -> rquickjs::Result<()> {
    ops.set(
        "digest",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, hash: String, data: TypedArray<'js, u8>| {
                let algorithm = digest_algorithm(&hash)
                    .ok_or_else(|| type_error(&ctx, &format!("unknown hash {hash}")))?;
                let output = digest::digest(algorithm, &bytes_of(&data));
                TypedArray::<u8>::new(ctx.clone(), output.as_ref().to_vec())
            },
        )?,
    )?;
    ops.set(
        "hmacSign",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, hash: String, key: TypedArray<'js, u8>, data: TypedArray<'js, u8>| {
                let algorithm = hmac_algorithm(&hash)
                    .ok_or_else(|| type_error(&ctx, &format!("unknown hash {hash}")))?;
                let key = hmac::Key::new(algorithm, &bytes_of(&key));
                let tag = hmac::sign(&key, &bytes_of(&data));
                TypedArray::<u8>::new(ctx.clone(), tag.as_ref().to_vec())
            },
        )?,
    )?;
    ops.set(
        "hmacVerify",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>,
             hash: String,
             key: TypedArray<'js, u8>,
             signature: TypedArray<'js, u8>,
             data: TypedArray<'js, u8>| {
                let algorithm = hmac_algorithm(&hash)
                    .ok_or_else(|| type_error(&ctx, &format!("unknown hash {hash}")))?;
                let key = hmac::Key::new(algorithm, &bytes_of(&key));
                Ok::<_, rquickjs::Error>(
                    hmac::verify(&key, &bytes_of(&data), &bytes_of(&signature)).is_ok(),
                )
            },
        )?,
    )?;
    ops.set(
        "timingSafeEqual",
        Function::new(
            ctx.clone(),
            |a: TypedArray<'js, u8>, b: TypedArray<'js, u8>| {
                constant_time_eq(&bytes_of(&a), &bytes_of(&b))
            },
        )?,
    )
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn constant_time_eq_compares_whole_slices() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
