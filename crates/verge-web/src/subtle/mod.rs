//! The primitives behind `crypto.subtle` and `node:crypto`, on `aws-lc-rs`: digests, HMAC,
//! PBKDF2, HKDF and the AES modes here, and scrypt (RustCrypto's, which aws-lc-rs lacks); the
//! asymmetric algorithms (EC, Ed25519/X25519, RSA) in [`keys`], and the key files Node reads in
//! [`key_files`]; and a constant-time comparison for Workers' `timingSafeEqual`. Algorithm
//! normalization, CryptoKey objects and the WebCrypto error rules are in `subtle.js`: these ops
//! see bytes and names, and throw plain errors whose message `subtle.js` puts in the right
//! DOMException.

mod key_files;
mod key_ops;
mod keys;
mod operations;

use crate::WebHost;
use aws_lc_rs::cipher::{
    DecryptionContext, EncryptingKey, EncryptionContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::{digest, hmac};
use verge_js::{data_op, Bytes, DataOp, OpError};

/// The hash functions WebCrypto names, as `subtle.js` normalizes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn named(name: &str) -> Result<Self, String> {
        Ok(match name {
            "SHA-1" => Hash::Sha1,
            "SHA-256" => Hash::Sha256,
            "SHA-384" => Hash::Sha384,
            "SHA-512" => Hash::Sha512,
            _ => return Err(format!("unknown hash {name}")),
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

    fn pbkdf2(self) -> aws_lc_rs::pbkdf2::Algorithm {
        use aws_lc_rs::pbkdf2::*;
        match self {
            Hash::Sha1 => PBKDF2_HMAC_SHA1,
            Hash::Sha256 => PBKDF2_HMAC_SHA256,
            Hash::Sha384 => PBKDF2_HMAC_SHA384,
            Hash::Sha512 => PBKDF2_HMAC_SHA512,
        }
    }

    fn hkdf(self) -> aws_lc_rs::hkdf::Algorithm {
        use aws_lc_rs::hkdf::*;
        match self {
            Hash::Sha1 => HKDF_SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => HKDF_SHA256,
            Hash::Sha384 => HKDF_SHA384,
            Hash::Sha512 => HKDF_SHA512,
        }
    }
}

/// The most bytes one deriveBits call produces: far above any key, and a script cannot make
/// the host allocate without bound.
const MAX_DERIVED_BYTES: usize = 64 * 1024;

/// What an op failed with: the message of the DOMException `subtle.js` throws.
type OpResult<T> = Result<T, String>;

fn aes_cipher(key: &[u8]) -> OpResult<&'static aws_lc_rs::cipher::Algorithm> {
    use aws_lc_rs::cipher::{AES_128, AES_192, AES_256};
    Ok(match key.len() {
        16 => &AES_128,
        24 => &AES_192,
        32 => &AES_256,
        n => return Err(format!("AES keys are 128, 192 or 256 bits, not {}", n * 8)),
    })
}

/// AES-GCM (WebCrypto §32), the tag of `tag_len` bytes appended to the ciphertext. The common
/// case (96-bit IV, 128-bit tag) runs on aws-lc; other IV and tag sizes on the `aes-gcm` crate.
fn aes_gcm(
    encrypt: bool,
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    data: Vec<u8>,
    tag_len: usize,
) -> OpResult<Vec<u8>> {
    if iv.len() == 12 && tag_len == 16 {
        aes_gcm_common(encrypt, key, iv, aad, data)
    } else {
        aes_gcm_general(encrypt, key, iv, aad, data, tag_len)
    }
}

fn aes_gcm_common(
    encrypt: bool,
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    mut data: Vec<u8>,
) -> OpResult<Vec<u8>> {
    use aws_lc_rs::aead::{
        Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_192_GCM, AES_256_GCM,
    };
    let algorithm = match key.len() {
        16 => &AES_128_GCM,
        24 => &AES_192_GCM,
        32 => &AES_256_GCM,
        n => return Err(format!("AES keys are 128, 192 or 256 bits, not {}", n * 8)),
    };
    let key = LessSafeKey::new(UnboundKey::new(algorithm, key).map_err(|_| "invalid AES key")?);
    let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| "invalid AES-GCM IV")?;
    if encrypt {
        key.seal_in_place_append_tag(nonce, Aad::from(aad), &mut data)
            .map_err(|_| "AES-GCM encryption failed")?;
        Ok(data)
    } else {
        let plain = key
            .open_in_place(nonce, Aad::from(aad), &mut data)
            .map_err(|_| "the data could not be authenticated")?;
        Ok(plain.to_vec())
    }
}

/// AES-GCM with the IV sizes (96, 128 or 256 bits) and tag sizes (96 to 128 bits) seen in
/// practice beyond the common case.
fn aes_gcm_general(
    encrypt: bool,
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    data: Vec<u8>,
    tag_len: usize,
) -> OpResult<Vec<u8>> {
    use aes_gcm::aead::consts::{U12, U13, U14, U15, U16, U32};
    use aes_gcm::aes::{Aes128, Aes192, Aes256};
    fn run<C: aes_gcm::AeadInPlace + aes_gcm::KeyInit>(
        encrypt: bool,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
        mut data: Vec<u8>,
    ) -> OpResult<Vec<u8>> {
        let cipher = C::new_from_slice(key).map_err(|_| "invalid AES key")?;
        let nonce = aes_gcm::aead::Nonce::<C>::from_slice(iv);
        if encrypt {
            let tag = cipher
                .encrypt_in_place_detached(nonce, aad, &mut data)
                .map_err(|_| "AES-GCM encryption failed")?;
            data.extend_from_slice(&tag);
            Ok(data)
        } else {
            let tag_len = aes_gcm::aead::Tag::<C>::default().len();
            let split = data
                .len()
                .checked_sub(tag_len)
                .ok_or("the data is shorter than the tag")?;
            let tag = aes_gcm::aead::Tag::<C>::clone_from_slice(&data[split..]);
            data.truncate(split);
            cipher
                .decrypt_in_place_detached(nonce, aad, &mut data, &tag)
                .map_err(|_| "the data could not be authenticated")?;
            Ok(data)
        }
    }
    macro_rules! by_tag {
        ($aes:ty, $iv:ty) => {
            match tag_len {
                12 => run::<aes_gcm::AesGcm<$aes, $iv, U12>>(encrypt, key, iv, aad, data),
                13 => run::<aes_gcm::AesGcm<$aes, $iv, U13>>(encrypt, key, iv, aad, data),
                14 => run::<aes_gcm::AesGcm<$aes, $iv, U14>>(encrypt, key, iv, aad, data),
                15 => run::<aes_gcm::AesGcm<$aes, $iv, U15>>(encrypt, key, iv, aad, data),
                16 => run::<aes_gcm::AesGcm<$aes, $iv, U16>>(encrypt, key, iv, aad, data),
                _ => Err(format!(
                    "{}-bit AES-GCM tags are not supported (96 to 128)",
                    tag_len * 8
                )),
            }
        };
    }
    macro_rules! by_iv {
        ($aes:ty) => {
            match iv.len() {
                12 => by_tag!($aes, U12),
                16 => by_tag!($aes, U16),
                32 => by_tag!($aes, U32),
                n => Err(format!(
                    "{}-bit AES-GCM IVs are not supported (96, 128 or 256)",
                    n * 8
                )),
            }
        };
    }
    match key.len() {
        16 => by_iv!(Aes128),
        24 => by_iv!(Aes192),
        32 => by_iv!(Aes256),
        n => Err(format!("AES keys are 128, 192 or 256 bits, not {}", n * 8)),
    }
}

fn iv128(iv: &[u8]) -> OpResult<[u8; 16]> {
    iv.try_into()
        .map_err(|_| format!("the IV (counter) must be 16 bytes, not {}", iv.len()))
}

/// AES-CBC with PKCS#7 padding (WebCrypto §30).
fn aes_cbc(encrypt: bool, key: &[u8], iv: &[u8], mut data: Vec<u8>) -> OpResult<Vec<u8>> {
    let iv = iv128(iv)?;
    let key = UnboundCipherKey::new(aes_cipher(key)?, key).map_err(|_| "invalid AES key")?;
    if encrypt {
        let key = PaddedBlockEncryptingKey::cbc_pkcs7(key).map_err(|_| "invalid AES key")?;
        key.less_safe_encrypt(&mut data, EncryptionContext::Iv128(iv.into()))
            .map_err(|_| "AES-CBC encryption failed")?;
        Ok(data)
    } else {
        let key = PaddedBlockDecryptingKey::cbc_pkcs7(key).map_err(|_| "invalid AES key")?;
        let plain = key
            .decrypt(&mut data, DecryptionContext::Iv128(iv.into()))
            .map_err(|_| "the data is not AES-CBC ciphertext with valid padding for this key")?;
        Ok(plain.to_vec())
    }
}

/// AES-CTR (WebCrypto §31): the rightmost `length` bits of the counter block count blocks and
/// wrap around; the other bits stay fixed. A counter that would repeat is an error.
fn aes_ctr(key: &[u8], counter: &[u8], length: u32, mut data: Vec<u8>) -> OpResult<Vec<u8>> {
    let counter = u128::from_be_bytes(iv128(counter)?);
    if !(1..=128).contains(&length) {
        return Err(format!(
            "the counter length must be 1 to 128 bits, not {length}"
        ));
    }
    let mask = if length == 128 {
        u128::MAX
    } else {
        (1u128 << length) - 1
    };
    let blocks = data.len().div_ceil(16) as u128;
    if length < 128 && blocks > mask + 1 {
        return Err("the data is too long for the counter length: the counter would repeat".into());
    }
    let cipher = aes_cipher(key)?;
    let run = |counter: u128, chunk: &mut [u8]| -> OpResult<()> {
        let key = UnboundCipherKey::new(cipher, key).map_err(|_| "invalid AES key")?;
        let key = EncryptingKey::ctr(key).map_err(|_| "invalid AES key")?;
        key.less_safe_encrypt(
            chunk,
            EncryptionContext::Iv128(counter.to_be_bytes().into()),
        )
        .map_err(|_| "AES-CTR failed")?;
        Ok(())
    };
    // Blocks until the counter bits wrap; aws-lc increments all 128 bits, so split there.
    let until_wrap = (mask - (counter & mask)).saturating_add(1);
    let first = usize::try_from(until_wrap.saturating_mul(16))
        .unwrap_or(usize::MAX)
        .min(data.len());
    let (head, tail) = data.split_at_mut(first);
    run(counter, head)?;
    if !tail.is_empty() {
        run(counter & !mask, tail)?;
    }
    Ok(data)
}

/// AES-KW (RFC 3394, WebCrypto §34).
fn aes_kw(wrap: bool, key: &[u8], data: &[u8]) -> OpResult<Vec<u8>> {
    use aws_lc_rs::key_wrap::{AesKek, KeyWrap, AES_128, AES_256};
    let cipher = match key.len() {
        16 => &AES_128,
        32 => &AES_256,
        24 => return Err("192-bit AES-KW keys are not supported".into()),
        n => return Err(format!("AES keys are 128, 192 or 256 bits, not {}", n * 8)),
    };
    let kek = AesKek::new(cipher, key).map_err(|_| "invalid AES key")?;
    if !data.len().is_multiple_of(8) || data.len() < 16 {
        return Err("AES-KW data must be a multiple of 8 bytes, at least 16".into());
    }
    let mut out = vec![0u8; data.len() + 8];
    let written = if wrap {
        kek.wrap(data, &mut out)
            .map_err(|_| "AES-KW wrapping failed")?
            .len()
    } else {
        kek.unwrap(data, &mut out)
            .map_err(|_| "the data is not wrapped with this key")?
            .len()
    };
    out.truncate(written);
    Ok(out)
}

/// HKDF-Extract then Expand to `len` bytes.
fn hkdf(hash: Hash, key: &[u8], salt: &[u8], info: &[u8], len: usize) -> OpResult<Vec<u8>> {
    struct Len(usize);
    impl aws_lc_rs::hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }
    let too_long = || "HKDF cannot derive that many bits".to_owned();
    let prk = aws_lc_rs::hkdf::Salt::new(hash.hkdf(), salt).extract(key);
    let info = [info];
    let okm = prk.expand(&info, Len(len)).map_err(|_| too_long())?;
    let mut out = vec![0u8; len];
    okm.fill(&mut out).map_err(|_| too_long())?;
    Ok(out)
}

fn pbkdf2(
    hash: Hash,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    len: usize,
) -> OpResult<Vec<u8>> {
    if len > MAX_DERIVED_BYTES {
        return Err(format!("PBKDF2 derives at most {MAX_DERIVED_BYTES} bytes"));
    }
    // Workers' own bound: one derivation must not hold a thread for seconds.
    if iterations > MAX_PBKDF2_ITERATIONS {
        return Err(format!(
            "PBKDF2 iteration counts above {MAX_PBKDF2_ITERATIONS} are not supported (requested {iterations})"
        ));
    }
    let iterations = std::num::NonZeroU32::new(iterations).ok_or("iterations must be positive")?;
    let mut out = vec![0u8; len];
    aws_lc_rs::pbkdf2::derive(hash.pbkdf2(), iterations, salt, password, &mut out);
    Ok(out)
}

/// The most PBKDF2 iterations one derivation may ask for, as on Workers.
const MAX_PBKDF2_ITERATIONS: u32 = 100_000;

/// The most memory traffic (128·N·r·p bytes) one scrypt derivation may cost: a few seconds of
/// one thread, which no CPU limit can interrupt inside the op.
const MAX_SCRYPT_WORK: u64 = 1 << 30;

/// scrypt (RFC 7914) with N = 2^`log_n`; `node:crypto` has checked its memory bound (`maxmem`).
fn scrypt(
    password: &[u8],
    salt: &[u8],
    log_n: u32,
    r: u32,
    p: u32,
    bytes: usize,
) -> OpResult<Vec<u8>> {
    if bytes > MAX_DERIVED_BYTES {
        return Err(format!("scrypt derives at most {MAX_DERIVED_BYTES} bytes"));
    }
    let work = 128u64
        .saturating_mul(1u64.checked_shl(log_n).unwrap_or(u64::MAX))
        .saturating_mul(r.into())
        .saturating_mul(p.into());
    if work > MAX_SCRYPT_WORK {
        return Err(format!(
            "Invalid scrypt params: 128·N·r·p is over {MAX_SCRYPT_WORK} bytes of work"
        ));
    }
    let log_n = u8::try_from(log_n).map_err(|_| "scrypt's N is too large".to_owned())?;
    // The length a Params names is for password hashes; the output's own length rules here.
    let params = scrypt::Params::new(log_n, r, p, scrypt::Params::RECOMMENDED_LEN)
        .map_err(|e| format!("Invalid scrypt params: {e}"))?;
    let mut out = vec![0u8; bytes];
    if bytes == 0 {
        return Ok(out);
    }
    scrypt::scrypt(password, salt, &params, &mut out)
        .map_err(|e| format!("Invalid scrypt params: {e}"))?;
    Ok(out)
}

/// Compares without an early exit, so the time taken does not tell where two secrets differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// A primitive's failure, as the plain `Error` whose message `subtle.js` rewraps.
fn failed(message: String) -> OpError {
    OpError::Error(message)
}

fn hash_of(name: &str) -> Result<Hash, OpError> {
    Hash::named(name).map_err(OpError::Type)
}

/// The ops, over data: every argument is a name, a number or bytes.
pub(crate) fn ops(_host: &WebHost) -> Vec<(&'static str, DataOp)> {
    let mut ops = vec![
        (
            "digest",
            data_op(|hash: String, data: Bytes| {
                let output = digest::digest(hash_of(&hash)?.digest(), &data.0);
                Ok(Bytes(output.as_ref().to_vec()))
            }),
        ),
        (
            "hmacSign",
            data_op(|hash: String, key: Bytes, data: Bytes| {
                let key = hmac::Key::new(hash_of(&hash)?.hmac(), &key.0);
                Ok(Bytes(hmac::sign(&key, &data.0).as_ref().to_vec()))
            }),
        ),
        (
            "hmacVerify",
            data_op(|hash: String, key: Bytes, signature: Bytes, data: Bytes| {
                let key = hmac::Key::new(hash_of(&hash)?.hmac(), &key.0);
                Ok(hmac::verify(&key, &data.0, &signature.0).is_ok())
            }),
        ),
        (
            "aesGcm",
            data_op(
                |encrypt: bool, key: Bytes, iv: Bytes, aad: Bytes, data: Bytes, tag_bits: usize| {
                    aes_gcm(encrypt, &key.0, &iv.0, &aad.0, data.0, tag_bits / 8)
                        .map(Bytes)
                        .map_err(failed)
                },
            ),
        ),
        (
            "aesCbc",
            data_op(|encrypt: bool, key: Bytes, iv: Bytes, data: Bytes| {
                aes_cbc(encrypt, &key.0, &iv.0, data.0)
                    .map(Bytes)
                    .map_err(failed)
            }),
        ),
        (
            "aesCtr",
            data_op(|key: Bytes, counter: Bytes, length: u32, data: Bytes| {
                aes_ctr(&key.0, &counter.0, length, data.0)
                    .map(Bytes)
                    .map_err(failed)
            }),
        ),
        (
            "aesKw",
            data_op(|wrap: bool, key: Bytes, data: Bytes| {
                aes_kw(wrap, &key.0, &data.0).map(Bytes).map_err(failed)
            }),
        ),
        (
            "pbkdf2",
            data_op(
                |hash: String, password: Bytes, salt: Bytes, iterations: u32, bytes: usize| {
                    pbkdf2(hash_of(&hash)?, &password.0, &salt.0, iterations, bytes)
                        .map(Bytes)
                        .map_err(failed)
                },
            ),
        ),
        (
            "hkdf",
            data_op(
                |hash: String, key: Bytes, salt: Bytes, info: Bytes, bytes: usize| {
                    hkdf(hash_of(&hash)?, &key.0, &salt.0, &info.0, bytes)
                        .map(Bytes)
                        .map_err(failed)
                },
            ),
        ),
        (
            "scrypt",
            data_op(
                |password: Bytes, salt: Bytes, log_n: u32, r: u32, p: u32, bytes: usize| {
                    scrypt(&password.0, &salt.0, log_n, r, p, bytes)
                        .map(Bytes)
                        .map_err(failed)
                },
            ),
        ),
        (
            "timingSafeEqual",
            data_op(|a: Bytes, b: Bytes| constant_time_eq(&a.0, &b.0)),
        ),
    ];
    ops.extend(key_ops::ops());
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_slices() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn aes_gcm_paths_agree_and_tags_truncate() -> OpResult<()> {
        let (key, iv, aad, data) = ([3u8; 24], [9u8; 12], b"aad", b"some plaintext".to_vec());
        let common = aes_gcm(true, &key, &iv, aad, data.clone(), 16)?;
        assert_eq!(
            aes_gcm_general(true, &key, &iv, aad, data.clone(), 16)?,
            common
        );
        let short = aes_gcm(true, &key, &iv, aad, data.clone(), 12)?;
        assert_eq!(short, common[..common.len() - 4]);
        assert_eq!(aes_gcm(false, &key, &iv, aad, short, 12)?, data);
        let long_iv = aes_gcm(true, &key, &[9u8; 16], aad, data.clone(), 16)?;
        assert_eq!(aes_gcm(false, &key, &[9u8; 16], aad, long_iv, 16)?, data);
        assert!(aes_gcm(false, &key, &iv, b"other", common, 16).is_err());
        Ok(())
    }

    #[test]
    fn aes_ctr_wraps_only_the_counter_bits() -> OpResult<()> {
        let key = [7u8; 16];
        let data = vec![0u8; 48];
        // A 2-bit counter starting at 3 runs 3, then wraps to 0 and 1, keeping the other bits.
        let mut counter = [0xffu8; 16];
        counter[15] = 0xff;
        let wrapped = aes_ctr(&key, &counter, 2, data.clone())?;
        let mut expected = aes_ctr(&key, &counter, 128, vec![0u8; 16])?;
        let mut low = counter;
        low[15] = 0xfc;
        expected.extend(aes_ctr(&key, &low, 128, vec![0u8; 32])?);
        assert_eq!(wrapped, expected);
        // Five blocks cannot use a 2-bit counter without repeating it.
        assert!(aes_ctr(&key, &counter, 2, vec![0u8; 80]).is_err());
        Ok(())
    }
}
