//! What an asymmetric key does once imported or generated (see `keys`): sign and verify
//! (ECDSA, Ed25519, RSASSA-PKCS1-v1_5, RSA-PSS), derive bits (ECDH, X25519), encrypt and decrypt
//! (RSA-OAEP), each with aws-lc on the DER that `keys` wrote.

use super::keys::{okp_public, rejected, unwrap_prefixed, Kind, X25519_PKCS8_PREFIX};
use super::{Hash, OpResult};
use aws_lc_rs::agreement;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    KeyPair as RsaKeyPair, OaepAlgorithm, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
    PrivateDecryptingKey, PublicEncryptingKey,
};
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, RsaEncoding, RsaParameters, RsaPssSaltLength,
    UnparsedPublicKey, VerificationAlgorithm,
};

/// The signature schemes, as `subtle.js` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scheme {
    Ecdsa,
    Ed25519,
    Pkcs1,
    Pss,
}

impl Scheme {
    pub(super) fn named(name: &str) -> OpResult<Self> {
        Ok(match name {
            "ECDSA" => Scheme::Ecdsa,
            "Ed25519" => Scheme::Ed25519,
            "RSASSA-PKCS1-v1_5" => Scheme::Pkcs1,
            "RSA-PSS" => Scheme::Pss,
            _ => return Err(format!("unknown signature scheme {name}")),
        })
    }
}

/// RSA-PSS salts aws-lc takes as constants: none, or the hash's length.
fn pss_salt(hash: Hash, salt: u32) -> OpResult<RsaPssSaltLength> {
    let digest_len = hash.digest().output_len() as u32;
    match salt {
        0 => Ok(RsaPssSaltLength::Custom(0)),
        s if s == digest_len => Ok(RsaPssSaltLength::Digest),
        s => Err(format!(
            "RSA-PSS salts of {s} bytes are not supported (0 or the hash length, {digest_len})"
        )),
    }
}

fn unsupported(scheme: Scheme, hash: Hash, kind: Kind) -> String {
    format!("{scheme:?} with {hash:?} on {kind:?} keys is not supported")
}

fn rsa_signing(hash: Hash, scheme: Scheme, salt: u32) -> OpResult<&'static dyn RsaEncoding> {
    use signature::{RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512};
    use signature::{RSA_PSS_SHA256, RSA_PSS_SHA384, RSA_PSS_SHA512};
    static PSS_SHA256_NO_SALT: signature::RsaSignatureEncoding =
        RSA_PSS_SHA256.with_pss_salt_length(RsaPssSaltLength::Custom(0));
    static PSS_SHA384_NO_SALT: signature::RsaSignatureEncoding =
        RSA_PSS_SHA384.with_pss_salt_length(RsaPssSaltLength::Custom(0));
    static PSS_SHA512_NO_SALT: signature::RsaSignatureEncoding =
        RSA_PSS_SHA512.with_pss_salt_length(RsaPssSaltLength::Custom(0));
    let no_salt = scheme == Scheme::Pss && pss_salt(hash, salt)? != RsaPssSaltLength::Digest;
    Ok(match (scheme, hash, no_salt) {
        (Scheme::Pkcs1, Hash::Sha256, _) => &RSA_PKCS1_SHA256,
        (Scheme::Pkcs1, Hash::Sha384, _) => &RSA_PKCS1_SHA384,
        (Scheme::Pkcs1, Hash::Sha512, _) => &RSA_PKCS1_SHA512,
        (Scheme::Pss, Hash::Sha256, false) => &RSA_PSS_SHA256,
        (Scheme::Pss, Hash::Sha384, false) => &RSA_PSS_SHA384,
        (Scheme::Pss, Hash::Sha512, false) => &RSA_PSS_SHA512,
        (Scheme::Pss, Hash::Sha256, true) => &PSS_SHA256_NO_SALT,
        (Scheme::Pss, Hash::Sha384, true) => &PSS_SHA384_NO_SALT,
        (Scheme::Pss, Hash::Sha512, true) => &PSS_SHA512_NO_SALT,
        _ => return Err(unsupported(scheme, hash, Kind::Rsa)),
    })
}

fn rsa_verifying(hash: Hash, scheme: Scheme, salt: u32) -> OpResult<&'static RsaParameters> {
    use signature::{
        RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY as PKCS1_SHA1, RSA_PKCS1_2048_8192_SHA256,
        RSA_PKCS1_2048_8192_SHA384, RSA_PKCS1_2048_8192_SHA512, RSA_PSS_2048_8192_SHA256,
        RSA_PSS_2048_8192_SHA384, RSA_PSS_2048_8192_SHA512,
    };
    static PSS_SHA256_NO_SALT: RsaParameters =
        RSA_PSS_2048_8192_SHA256.with_pss_salt_length(RsaPssSaltLength::Custom(0));
    static PSS_SHA384_NO_SALT: RsaParameters =
        RSA_PSS_2048_8192_SHA384.with_pss_salt_length(RsaPssSaltLength::Custom(0));
    static PSS_SHA512_NO_SALT: RsaParameters =
        RSA_PSS_2048_8192_SHA512.with_pss_salt_length(RsaPssSaltLength::Custom(0));
    let no_salt = scheme == Scheme::Pss && pss_salt(hash, salt)? != RsaPssSaltLength::Digest;
    Ok(match (scheme, hash, no_salt) {
        (Scheme::Pkcs1, Hash::Sha1, _) => &PKCS1_SHA1,
        (Scheme::Pkcs1, Hash::Sha256, _) => &RSA_PKCS1_2048_8192_SHA256,
        (Scheme::Pkcs1, Hash::Sha384, _) => &RSA_PKCS1_2048_8192_SHA384,
        (Scheme::Pkcs1, Hash::Sha512, _) => &RSA_PKCS1_2048_8192_SHA512,
        (Scheme::Pss, Hash::Sha256, false) => &RSA_PSS_2048_8192_SHA256,
        (Scheme::Pss, Hash::Sha384, false) => &RSA_PSS_2048_8192_SHA384,
        (Scheme::Pss, Hash::Sha512, false) => &RSA_PSS_2048_8192_SHA512,
        (Scheme::Pss, Hash::Sha256, true) => &PSS_SHA256_NO_SALT,
        (Scheme::Pss, Hash::Sha384, true) => &PSS_SHA384_NO_SALT,
        (Scheme::Pss, Hash::Sha512, true) => &PSS_SHA512_NO_SALT,
        _ => return Err(unsupported(scheme, hash, Kind::Rsa)),
    })
}

fn ecdsa_signing(kind: Kind, hash: Hash) -> OpResult<&'static signature::EcdsaSigningAlgorithm> {
    use signature::*;
    Ok(match (kind, hash) {
        (Kind::P256, Hash::Sha256) => &ECDSA_P256_SHA256_FIXED_SIGNING,
        (Kind::P384, Hash::Sha384) => &ECDSA_P384_SHA384_FIXED_SIGNING,
        (Kind::P521, Hash::Sha256) => &ECDSA_P521_SHA256_FIXED_SIGNING,
        (Kind::P521, Hash::Sha384) => &ECDSA_P521_SHA384_FIXED_SIGNING,
        (Kind::P521, Hash::Sha512) => &ECDSA_P521_SHA512_FIXED_SIGNING,
        _ => return Err(unsupported(Scheme::Ecdsa, hash, kind)),
    })
}

fn ecdsa_verifying(kind: Kind, hash: Hash) -> OpResult<&'static dyn VerificationAlgorithm> {
    use signature::*;
    Ok(match (kind, hash) {
        (Kind::P256, Hash::Sha1) => &ECDSA_P256_SHA1_ASN1,
        (Kind::P256, Hash::Sha256) => &ECDSA_P256_SHA256_ASN1,
        (Kind::P256, Hash::Sha384) => &ECDSA_P256_SHA384_ASN1,
        (Kind::P256, Hash::Sha512) => &ECDSA_P256_SHA512_ASN1,
        (Kind::P384, Hash::Sha256) => &ECDSA_P384_SHA256_ASN1,
        (Kind::P384, Hash::Sha384) => &ECDSA_P384_SHA384_ASN1,
        (Kind::P384, Hash::Sha512) => &ECDSA_P384_SHA512_ASN1,
        (Kind::P521, Hash::Sha1) => &ECDSA_P521_SHA1_ASN1,
        (Kind::P521, Hash::Sha256) => &ECDSA_P521_SHA256_ASN1,
        (Kind::P521, Hash::Sha384) => &ECDSA_P521_SHA384_ASN1,
        (Kind::P521, Hash::Sha512) => &ECDSA_P521_SHA512_ASN1,
        _ => return Err(unsupported(Scheme::Ecdsa, hash, kind)),
    })
}

/// Re-encodes a WebCrypto ECDSA signature (r and s, fixed width) as the DER aws-lc verifies;
/// `None` when it is not two coordinates long.
fn ecdsa_fixed_to_der(kind: Kind, fixed: &[u8]) -> Option<Vec<u8>> {
    let n = kind.coordinate_len();
    if fixed.len() != 2 * n {
        return None;
    }
    let integer = |value: &[u8]| {
        let trimmed: &[u8] = match value.iter().position(|&b| b != 0) {
            Some(start) => &value[start..],
            None => &[0],
        };
        let pad = usize::from(trimmed[0] & 0x80 != 0);
        let mut out = vec![0x02, (trimmed.len() + pad) as u8];
        out.extend(std::iter::repeat_n(0, pad));
        out.extend_from_slice(trimmed);
        out
    };
    let body = [integer(&fixed[..n]), integer(&fixed[n..])].concat();
    let mut out = vec![0x30];
    if body.len() >= 0x80 {
        out.push(0x81);
    }
    out.push(body.len() as u8);
    out.extend(body);
    Some(out)
}

pub(super) fn sign(
    scheme: Scheme,
    kind: Kind,
    hash: Hash,
    pkcs8: &[u8],
    data: &[u8],
    salt: u32,
) -> OpResult<Vec<u8>> {
    let failed = |_| "signing failed".to_owned();
    match scheme {
        Scheme::Ecdsa => {
            let pair = EcdsaKeyPair::from_pkcs8(ecdsa_signing(kind, hash)?, pkcs8)
                .map_err(rejected("ECDSA key"))?;
            Ok(pair
                .sign(&SystemRandom::new(), data)
                .map_err(failed)?
                .as_ref()
                .to_vec())
        }
        Scheme::Ed25519 => {
            let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
                .map_err(rejected("Ed25519 key"))?;
            Ok(pair.sign(data).as_ref().to_vec())
        }
        Scheme::Pkcs1 | Scheme::Pss => {
            let encoding = rsa_signing(hash, scheme, salt)?;
            let pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(rejected("RSA key"))?;
            let mut out = vec![0u8; pair.public_modulus_len()];
            pair.sign(encoding, &SystemRandom::new(), data, &mut out)
                .map_err(failed)?;
            Ok(out)
        }
    }
}

pub(super) fn verify(
    scheme: Scheme,
    kind: Kind,
    hash: Hash,
    spki: &[u8],
    sig: &[u8],
    data: &[u8],
    salt: u32,
) -> OpResult<bool> {
    let ok = |algorithm: &'static dyn VerificationAlgorithm, key: &[u8], sig: &[u8]| {
        UnparsedPublicKey::new(algorithm, key)
            .verify(data, sig)
            .is_ok()
    };
    Ok(match scheme {
        Scheme::Ecdsa => {
            let algorithm = ecdsa_verifying(kind, hash)?;
            ecdsa_fixed_to_der(kind, sig).is_some_and(|der| ok(algorithm, spki, &der))
        }
        Scheme::Ed25519 => ok(&signature::ED25519, okp_public(spki)?, sig),
        Scheme::Pkcs1 | Scheme::Pss => ok(rsa_verifying(hash, scheme, salt)?, spki, sig),
    })
}

/// ECDH or X25519: the shared secret of `pkcs8` and the peer's `spki`.
pub(super) fn derive(kind: Kind, pkcs8: &[u8], peer: &[u8]) -> OpResult<Vec<u8>> {
    let algorithm = kind.ecdh()?;
    let private = if kind == Kind::X25519 {
        let seed = unwrap_prefixed(&X25519_PKCS8_PREFIX, pkcs8, "X25519 PKCS#8 key")?;
        agreement::PrivateKey::from_private_key(algorithm, seed)
    } else {
        agreement::PrivateKey::from_private_key_der(algorithm, pkcs8)
    }
    .map_err(rejected("key-agreement key"))?;
    let peer = if kind == Kind::X25519 {
        okp_public(peer)?
    } else {
        peer
    };
    agreement::agree(
        &private,
        agreement::UnparsedPublicKey::new(algorithm, peer),
        "the keys do not agree (a public key of low order or on another curve)".to_owned(),
        |secret| Ok(secret.to_vec()),
    )
}

fn oaep(hash: Hash) -> &'static OaepAlgorithm {
    use aws_lc_rs::rsa::*;
    match hash {
        Hash::Sha1 => &OAEP_SHA1_MGF1SHA1,
        Hash::Sha256 => &OAEP_SHA256_MGF1SHA256,
        Hash::Sha384 => &OAEP_SHA384_MGF1SHA384,
        Hash::Sha512 => &OAEP_SHA512_MGF1SHA512,
    }
}

pub(super) fn rsa_oaep(
    encrypt: bool,
    hash: Hash,
    der: &[u8],
    label: &[u8],
    data: &[u8],
) -> OpResult<Vec<u8>> {
    let label = (!label.is_empty()).then_some(label);
    if encrypt {
        let key = PublicEncryptingKey::from_der(der).map_err(rejected("RSA public key"))?;
        let key = OaepPublicEncryptingKey::new(key).map_err(|_| "not an RSA-OAEP key")?;
        if data.len() > key.max_plaintext_size(oaep(hash)) {
            return Err("the data is too long for RSA-OAEP with this key and hash".into());
        }
        let mut out = vec![0u8; key.ciphertext_size()];
        let len = key
            .encrypt(oaep(hash), data, &mut out, label)
            .map_err(|_| "RSA-OAEP encryption failed")?
            .len();
        out.truncate(len);
        Ok(out)
    } else {
        let key = PrivateDecryptingKey::from_pkcs8(der).map_err(rejected("RSA private key"))?;
        let key = OaepPrivateDecryptingKey::new(key).map_err(|_| "not an RSA-OAEP key")?;
        let mut out = vec![0u8; key.min_output_size()];
        let len = key
            .decrypt(oaep(hash), data, &mut out, label)
            .map_err(|_| "the data could not be decrypted with this key")?
            .len();
        out.truncate(len);
        Ok(out)
    }
}
