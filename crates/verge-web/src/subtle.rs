//! The primitives behind `crypto.subtle`: digests, HMAC, AES-GCM, PBKDF2 and HKDF from `ring`, and a constant-time
//! comparison for Workers' `timingSafeEqual`. Key handling, algorithm normalization and the
//! WebCrypto error rules are in `subtle.js`; these ops see only bytes and hash names.

use crate::{type_error, WebHost};
use ring::{digest, hmac};
use rquickjs::{Ctx, Function, Object, TypedArray};
use verge_js::{bytes_of, rquickjs};

/// The hash functions WebCrypto names, as `subtle.js` normalizes them.
#[derive(Debug, Clone, Copy)]
enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn named(ctx: &Ctx<'_>, name: &str) -> rquickjs::Result<Self> {
        Ok(match name {
            "SHA-1" => Hash::Sha1,
            "SHA-256" => Hash::Sha256,
            "SHA-384" => Hash::Sha384,
            "SHA-512" => Hash::Sha512,
            _ => return Err(type_error(ctx, &format!("unknown hash {name}"))),
        })
    }

    fn digest(self) -> &'static digest::Algorithm {
        match self {
            Hash::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => &digest::SHA256,
            Hash::Sha384 => &digest::SHA384,
            Hash::Sha512 => &digest::SHA512,
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            Hash::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => hmac::HMAC_SHA256,
            Hash::Sha384 => hmac::HMAC_SHA384,
            Hash::Sha512 => hmac::HMAC_SHA512,
        }
    }

    fn pbkdf2(self) -> ring::pbkdf2::Algorithm {
        match self {
            Hash::Sha1 => ring::pbkdf2::PBKDF2_HMAC_SHA1,
            Hash::Sha256 => ring::pbkdf2::PBKDF2_HMAC_SHA256,
            Hash::Sha384 => ring::pbkdf2::PBKDF2_HMAC_SHA384,
            Hash::Sha512 => ring::pbkdf2::PBKDF2_HMAC_SHA512,
        }
    }

    fn hkdf(self) -> ring::hkdf::Algorithm {
        match self {
            Hash::Sha1 => ring::hkdf::HKDF_SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => ring::hkdf::HKDF_SHA256,
            Hash::Sha384 => ring::hkdf::HKDF_SHA384,
            Hash::Sha512 => ring::hkdf::HKDF_SHA512,
        }
    }
}

/// The most bytes one deriveBits call produces: far above any key, and a script cannot make
/// the host allocate without bound.
const MAX_DERIVED_BYTES: usize = 64 * 1024;

/// AES-GCM with a 128-bit tag, the tag appended to the ciphertext (WebCrypto §32). `Err` is the
/// message of an OperationError.
fn aes_gcm(
    encrypt: bool,
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    mut data: Vec<u8>,
) -> Result<Vec<u8>, &'static str> {
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};
    let algorithm = match key.len() {
        16 => &AES_128_GCM,
        32 => &AES_256_GCM,
        _ => return Err("AES-GCM: only 128- and 256-bit keys are supported"),
    };
    let key =
        LessSafeKey::new(UnboundKey::new(algorithm, key).map_err(|_| "AES-GCM: invalid key")?);
    let nonce = Nonce::try_assume_unique_for_key(iv)
        .map_err(|_| "AES-GCM: only 96-bit IVs are supported")?;
    if encrypt {
        key.seal_in_place_append_tag(nonce, Aad::from(aad), &mut data)
            .map_err(|_| "AES-GCM: encryption failed")?;
        Ok(data)
    } else {
        let plain = key
            .open_in_place(nonce, Aad::from(aad), &mut data)
            .map_err(|_| "AES-GCM: the data could not be authenticated")?;
        Ok(plain.to_vec())
    }
}

/// HKDF-Extract then Expand to `len` bytes; `None` if `len` exceeds 255 hash lengths.
fn hkdf(
    algorithm: ring::hkdf::Algorithm,
    key: &[u8],
    salt: &[u8],
    info: &[u8],
    len: usize,
) -> Option<Vec<u8>> {
    struct Len(usize);
    impl ring::hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }
    let prk = ring::hkdf::Salt::new(algorithm, salt).extract(key);
    let info = [info];
    let okm = prk.expand(&info, Len(len)).ok()?;
    let mut out = vec![0u8; len];
    okm.fill(&mut out).ok()?;
    Some(out)
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
                let algorithm = Hash::named(&ctx, &hash)?.digest();
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
                let algorithm = Hash::named(&ctx, &hash)?.hmac();
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
                let algorithm = Hash::named(&ctx, &hash)?.hmac();
                let key = hmac::Key::new(algorithm, &bytes_of(&key));
                Ok::<_, rquickjs::Error>(
                    hmac::verify(&key, &bytes_of(&data), &bytes_of(&signature)).is_ok(),
                )
            },
        )?,
    )?;
    ops.set(
        "aesGcm",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>,
             encrypt: bool,
             key: TypedArray<'js, u8>,
             iv: TypedArray<'js, u8>,
             aad: TypedArray<'js, u8>,
             data: TypedArray<'js, u8>| {
                match aes_gcm(
                    encrypt,
                    &bytes_of(&key),
                    &bytes_of(&iv),
                    &bytes_of(&aad),
                    bytes_of(&data),
                ) {
                    Ok(out) => TypedArray::<u8>::new(ctx.clone(), out),
                    Err(message) => Err(rquickjs::Exception::throw_message(&ctx, message)),
                }
            },
        )?,
    )?;
    ops.set(
        "pbkdf2",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>,
             hash: String,
             password: TypedArray<'js, u8>,
             salt: TypedArray<'js, u8>,
             iterations: u32,
             bytes: usize| {
                let algorithm = Hash::named(&ctx, &hash)?.pbkdf2();
                if bytes > MAX_DERIVED_BYTES {
                    return Err(type_error(
                        &ctx,
                        &format!("PBKDF2 derives at most {MAX_DERIVED_BYTES} bytes"),
                    ));
                }
                let iterations = std::num::NonZeroU32::new(iterations)
                    .ok_or_else(|| type_error(&ctx, "iterations must be positive"))?;
                let mut out = vec![0u8; bytes];
                ring::pbkdf2::derive(
                    algorithm,
                    iterations,
                    &bytes_of(&salt),
                    &bytes_of(&password),
                    &mut out,
                );
                TypedArray::<u8>::new(ctx.clone(), out)
            },
        )?,
    )?;
    ops.set(
        "hkdf",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>,
             hash: String,
             key: TypedArray<'js, u8>,
             salt: TypedArray<'js, u8>,
             info: TypedArray<'js, u8>,
             bytes: usize| {
                let algorithm = Hash::named(&ctx, &hash)?.hkdf();
                match hkdf(
                    algorithm,
                    &bytes_of(&key),
                    &bytes_of(&salt),
                    &bytes_of(&info),
                    bytes,
                ) {
                    Some(out) => TypedArray::<u8>::new(ctx.clone(), out),
                    None => Err(rquickjs::Exception::throw_message(
                        &ctx,
                        "HKDF cannot derive that many bits",
                    )),
                }
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
