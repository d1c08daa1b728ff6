//! The asymmetric keys of `crypto.subtle` — ECDSA and ECDH on P-256, P-384 and P-521, Ed25519,
//! X25519, RSASSA-PKCS1-v1_5, RSA-PSS and RSA-OAEP — generated, imported and exported; what
//! they do is `operations`'.
//!
//! Keys live in JavaScript as DER: PKCS#8 for a private key, SubjectPublicKeyInfo for a public
//! one. Every import validates the key with aws-lc and stores it re-encoded by aws-lc, so each
//! later op parses exactly what this module wrote. JWK members cross as raw big-endian parts:
//! `[d, x, y]` for EC, `[d, x]` for OKP, `[n, e, d, p, q, dp, dq, qi]` for RSA (public keys
//! without the private parts).

use super::OpResult;
use aws_lc_rs::agreement;
use aws_lc_rs::encoding::{
    AsBigEndian, AsDer, Curve25519SeedBin, EcPrivateKeyBin, EcPublicKeyUncompressedBin, Pkcs8V1Der,
    PublicKeyX509Der,
};
use aws_lc_rs::rsa::{
    KeyPair as RsaKeyPair, KeyPairComponents, KeySize, PublicKey as RsaPublicKey,
    PublicKeyComponents,
};
use aws_lc_rs::signature::{
    self, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, VerificationAlgorithm,
};

/// The key types, as `subtle.js` names them: a curve, an OKP algorithm, or RSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    P256,
    P384,
    P521,
    Ed25519,
    X25519,
    Rsa,
}

impl Kind {
    pub(super) fn named(name: &str) -> OpResult<Self> {
        Ok(match name {
            "P-256" => Kind::P256,
            "P-384" => Kind::P384,
            "P-521" => Kind::P521,
            "Ed25519" => Kind::Ed25519,
            "X25519" => Kind::X25519,
            "RSA" => Kind::Rsa,
            _ => return Err(format!("unsupported key type {name}")),
        })
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::P256 => "P-256",
            Kind::P384 => "P-384",
            Kind::P521 => "P-521",
            Kind::Ed25519 => "Ed25519",
            Kind::X25519 => "X25519",
            Kind::Rsa => "RSA",
        }
    }

    pub(super) fn ecdh(self) -> OpResult<&'static agreement::Algorithm> {
        Ok(match self {
            Kind::P256 => &agreement::ECDH_P256,
            Kind::P384 => &agreement::ECDH_P384,
            Kind::P521 => &agreement::ECDH_P521,
            Kind::X25519 => &agreement::X25519,
            _ => return Err(format!("{self:?} is not a key-agreement key")),
        })
    }

    /// Bytes per coordinate of an EC point.
    pub(super) fn coordinate_len(self) -> usize {
        match self {
            Kind::P256 => 32,
            Kind::P384 => 48,
            _ => 66,
        }
    }

    /// A verification algorithm on this curve, used to parse and validate public keys.
    fn ec_parser(self) -> &'static dyn VerificationAlgorithm {
        match self {
            Kind::P256 => &signature::ECDSA_P256_SHA256_ASN1,
            Kind::P384 => &signature::ECDSA_P384_SHA384_ASN1,
            _ => &signature::ECDSA_P521_SHA512_ASN1,
        }
    }

    fn is_ec(self) -> bool {
        matches!(self, Kind::P256 | Kind::P384 | Kind::P521)
    }
}

// RFC 8410 encodings of X25519 keys, which aws-lc reads and writes only as raw bytes.
pub(super) const X25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
];
const X25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00,
];
/// Ed25519 and X25519 SPKIs end with the 32-byte key.
const OKP_KEY_LEN: usize = 32;

fn wrap(prefix: &[u8], key: &[u8]) -> Vec<u8> {
    [prefix, key].concat()
}

pub(super) fn unwrap_prefixed<'a>(prefix: &[u8], der: &'a [u8], what: &str) -> OpResult<&'a [u8]> {
    der.strip_prefix(prefix)
        .filter(|key| key.len() == OKP_KEY_LEN)
        .ok_or_else(|| format!("the data is not an {what}"))
}

/// The bytes of one of aws-lc's encodings (`Pkcs8V1Der`, `PublicKeyX509Der`, …).
fn der<T>(value: Result<T, aws_lc_rs::error::Unspecified>) -> OpResult<Vec<u8>>
where
    T: std::ops::Deref,
    T::Target: AsRef<[u8]>,
{
    value
        .map(|v| (*v).as_ref().to_vec())
        .map_err(|_| "the key could not be encoded".to_owned())
}

/// The bytes of a PKCS#8 document aws-lc wrote.
fn document(
    value: Result<aws_lc_rs::pkcs8::Document, aws_lc_rs::error::Unspecified>,
) -> OpResult<Vec<u8>> {
    value
        .map(|v| v.as_ref().to_vec())
        .map_err(|_| "the key could not be encoded".to_owned())
}

pub(super) fn rejected(what: &str) -> impl Fn(aws_lc_rs::error::KeyRejected) -> String + '_ {
    move |e| format!("the data is not a valid {what}: {e}")
}

/// A fresh key pair as (PKCS#8, SPKI).
pub(super) fn generate(
    kind: Kind,
    modulus_bits: u32,
    exponent: &[u8],
) -> OpResult<(Vec<u8>, Vec<u8>)> {
    match kind {
        Kind::Ed25519 => {
            let pair = Ed25519KeyPair::generate().map_err(|_| "key generation failed")?;
            Ok((
                document(pair.to_pkcs8v1())?,
                der(AsDer::<PublicKeyX509Der>::as_der(pair.public_key()))?,
            ))
        }
        Kind::Rsa => {
            if exponent
                .iter()
                .skip_while(|&&b| b == 0)
                .copied()
                .collect::<Vec<_>>()
                != [1, 0, 1]
            {
                return Err("only the public exponent 65537 is supported".into());
            }
            let size = match modulus_bits {
                2048 => KeySize::Rsa2048,
                3072 => KeySize::Rsa3072,
                4096 => KeySize::Rsa4096,
                8192 => KeySize::Rsa8192,
                _ => {
                    return Err(format!(
                    "RSA keys of {modulus_bits} bits are not supported (2048, 3072, 4096 or 8192)"
                ))
                }
            };
            let pair = RsaKeyPair::generate(size).map_err(|_| "key generation failed")?;
            Ok((
                der(AsDer::<Pkcs8V1Der>::as_der(&pair))?,
                der(AsDer::<PublicKeyX509Der>::as_der(pair.public_key()))?,
            ))
        }
        _ => {
            let private = agreement::PrivateKey::generate(kind.ecdh()?)
                .map_err(|_| "key generation failed")?;
            agreement_pair(kind, &private)
        }
    }
}

/// (PKCS#8, SPKI) of an EC or X25519 private key.
pub(super) fn agreement_pair(
    kind: Kind,
    private: &agreement::PrivateKey,
) -> OpResult<(Vec<u8>, Vec<u8>)> {
    let public = private
        .compute_public_key()
        .map_err(|_| "the public key could not be computed")?;
    if kind == Kind::X25519 {
        let seed = der(AsBigEndian::<Curve25519SeedBin>::as_be_bytes(private))?;
        return Ok((
            wrap(&X25519_PKCS8_PREFIX, &seed),
            wrap(&X25519_SPKI_PREFIX, public.as_ref()),
        ));
    }
    Ok((
        der(AsDer::<Pkcs8V1Der>::as_der(private))?,
        der(AsDer::<PublicKeyX509Der>::as_der(&public))?,
    ))
}

/// Validates and re-encodes a key given as `raw` (public EC point or OKP key), `spki` or
/// `pkcs8`: (is it private, its DER).
pub(super) fn import(kind: Kind, format: &str, data: &[u8]) -> OpResult<(bool, Vec<u8>)> {
    match (format, kind) {
        ("pkcs8", Kind::Rsa) => match RsaKeyPair::from_pkcs8(data) {
            Ok(pair) => Ok((true, der(AsDer::<Pkcs8V1Der>::as_der(&pair))?)),
            Err(e) => legacy_rsa::pkcs8(data)
                .map(|der| (true, der))
                .map_err(|_| rejected("RSA PKCS#8 key")(e)),
        },
        ("pkcs8", Kind::Ed25519) => {
            let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(data)
                .map_err(rejected("Ed25519 PKCS#8 key"))?;
            Ok((true, document(pair.to_pkcs8v1())?))
        }
        ("pkcs8", Kind::X25519) => {
            let seed = unwrap_prefixed(&X25519_PKCS8_PREFIX, data, "X25519 PKCS#8 key")?;
            agreement::PrivateKey::from_private_key(&agreement::X25519, seed)
                .map_err(rejected("X25519 key"))?;
            Ok((true, data.to_vec()))
        }
        ("pkcs8", _) => {
            let private = agreement::PrivateKey::from_private_key_der(kind.ecdh()?, data)
                .map_err(rejected("EC PKCS#8 key on this curve"))?;
            Ok((true, agreement_pair(kind, &private)?.0))
        }
        ("spki", Kind::Rsa) => match RsaPublicKey::from_der(data) {
            Ok(public) => Ok((false, der(AsDer::<PublicKeyX509Der>::as_der(&public))?)),
            Err(e) => legacy_rsa::spki(data)
                .map(|der| (false, der))
                .map_err(|_| rejected("RSA public key")(e)),
        },
        ("spki", Kind::X25519) => {
            unwrap_prefixed(&X25519_SPKI_PREFIX, data, "X25519 SubjectPublicKeyInfo")?;
            Ok((false, data.to_vec()))
        }
        ("raw", Kind::X25519) => {
            if data.len() != OKP_KEY_LEN {
                return Err("an X25519 public key is 32 bytes".into());
            }
            Ok((false, wrap(&X25519_SPKI_PREFIX, data)))
        }
        ("spki" | "raw", Kind::Ed25519) => {
            if format == "raw" && data.len() != OKP_KEY_LEN {
                return Err("an Ed25519 public key is 32 bytes".into());
            }
            let parsed = ParsedPublicKey::new(&signature::ED25519, data)
                .map_err(|_| "the data is not an Ed25519 public key")?;
            Ok((false, der(AsDer::<PublicKeyX509Der>::as_der(&parsed))?))
        }
        ("spki" | "raw", _) => {
            let first = data.first().copied().unwrap_or(0);
            if format == "raw" && !matches!(first, 2..=4) {
                return Err("a raw EC public key is a SEC 1 point".into());
            }
            if format == "spki" && first != 0x30 {
                return Err("the data is not a SubjectPublicKeyInfo".into());
            }
            let parsed = ParsedPublicKey::new(kind.ec_parser(), data)
                .map_err(|_| "the data is not a public key on this curve")?;
            Ok((false, der(AsDer::<PublicKeyX509Der>::as_der(&parsed))?))
        }
        _ => Err(format!("format {format} is not supported for this key")),
    }
}

/// The uncompressed point at the end of an EC SPKI this module wrote.
fn ec_point(kind: Kind, spki: &[u8]) -> OpResult<&[u8]> {
    let len = 1 + 2 * kind.coordinate_len();
    spki.get(spki.len().saturating_sub(len)..)
        .filter(|point| point.len() == len && point[0] == 4)
        .ok_or_else(|| "the public key is not an uncompressed point".to_owned())
}

pub(super) fn okp_public(spki: &[u8]) -> OpResult<&[u8]> {
    spki.get(spki.len().saturating_sub(OKP_KEY_LEN)..)
        .ok_or_else(|| "the public key is too short".to_owned())
}

/// The JWK parts of a key (see the module docs).
pub(super) fn parts(kind: Kind, private: bool, key: &[u8]) -> OpResult<Vec<Vec<u8>>> {
    match (kind, private) {
        (Kind::Rsa, false) => match RsaPublicKey::from_der(key) {
            Ok(public) => Ok(vec![
                public.modulus().big_endian_without_leading_zero().to_vec(),
                public.exponent().big_endian_without_leading_zero().to_vec(),
            ]),
            Err(_) => legacy_rsa::public_parts(key),
        },
        (Kind::Rsa, true) => {
            let info = pkcs8::PrivateKeyInfo::try_from(key)
                .map_err(|e| format!("the key is not PKCS#8: {e}"))?;
            let key = pkcs1::RsaPrivateKey::try_from(info.private_key)
                .map_err(|e| format!("the key is not an RSA private key: {e}"))?;
            Ok([
                key.modulus,
                key.public_exponent,
                key.private_exponent,
                key.prime1,
                key.prime2,
                key.exponent1,
                key.exponent2,
                key.coefficient,
            ]
            .iter()
            .map(|part| part.as_bytes().to_vec())
            .collect())
        }
        (Kind::Ed25519, false) | (Kind::X25519, false) => Ok(vec![okp_public(key)?.to_vec()]),
        (Kind::Ed25519, true) => {
            let pair =
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(key).map_err(rejected("Ed25519 key"))?;
            let seed = pair.seed().map_err(|_| "the key has no seed")?;
            Ok(vec![
                der(AsBigEndian::<Curve25519SeedBin>::as_be_bytes(&seed))?,
                pair.public_key().as_ref().to_vec(),
            ])
        }
        (Kind::X25519, true) => {
            let seed = unwrap_prefixed(&X25519_PKCS8_PREFIX, key, "X25519 PKCS#8 key")?;
            let private = agreement::PrivateKey::from_private_key(&agreement::X25519, seed)
                .map_err(rejected("X25519 key"))?;
            let public = private.compute_public_key().map_err(|_| "bad X25519 key")?;
            Ok(vec![seed.to_vec(), public.as_ref().to_vec()])
        }
        (_, false) => {
            let point = ec_point(kind, key)?;
            let (x, y) = point[1..].split_at(kind.coordinate_len());
            Ok(vec![x.to_vec(), y.to_vec()])
        }
        (_, true) => {
            let private = agreement::PrivateKey::from_private_key_der(kind.ecdh()?, key)
                .map_err(rejected("EC key"))?;
            let d = der(AsBigEndian::<EcPrivateKeyBin>::as_be_bytes(&private))?;
            let public = private.compute_public_key().map_err(|_| "bad EC key")?;
            let point = der(AsBigEndian::<EcPublicKeyUncompressedBin>::as_be_bytes(
                &public,
            ))?;
            let (x, y) = point[1..].split_at(kind.coordinate_len());
            Ok(vec![d, x.to_vec(), y.to_vec()])
        }
    }
}

/// A key from its JWK parts: (is it private, its DER). A private key's public parts must match.
pub(super) fn from_parts(kind: Kind, parts: &[Vec<u8>]) -> OpResult<(bool, Vec<u8>)> {
    let mismatch = || "the JWK's public and private parts do not match".to_owned();
    match (kind, parts) {
        (Kind::Rsa, [n, e]) => {
            let components = PublicKeyComponents {
                n: &n[..],
                e: &e[..],
            };
            let spki = der(AsDer::<PublicKeyX509Der>::as_der(&components))?;
            import(kind, "spki", &spki)
        }
        (Kind::Rsa, [n, e, d, p, q, dp, dq, qi]) => {
            let components = KeyPairComponents {
                public_key: PublicKeyComponents {
                    n: &n[..],
                    e: &e[..],
                },
                d: &d[..],
                p: &p[..],
                q: &q[..],
                dP: &dp[..],
                dQ: &dq[..],
                qInv: &qi[..],
            };
            match RsaKeyPair::from_components(&components) {
                Ok(pair) => Ok((true, der(AsDer::<Pkcs8V1Der>::as_der(&pair))?)),
                Err(e) => legacy_rsa::pkcs8_from_parts(parts)
                    .map(|der| (true, der))
                    .map_err(|_| rejected("RSA key")(e)),
            }
        }
        (Kind::Ed25519 | Kind::X25519, [x]) => import(kind, "raw", x),
        (Kind::Ed25519, [d, x]) => {
            let pair = Ed25519KeyPair::from_seed_and_public_key(d, x).map_err(|_| mismatch())?;
            Ok((true, document(pair.to_pkcs8v1())?))
        }
        (Kind::X25519, [d, x]) => {
            let private = agreement::PrivateKey::from_private_key(&agreement::X25519, d)
                .map_err(rejected("X25519 key"))?;
            let (pkcs8, spki) = agreement_pair(kind, &private)?;
            if okp_public(&spki)? != &x[..] {
                return Err(mismatch());
            }
            Ok((true, pkcs8))
        }
        (_, [x, y]) if kind.is_ec() => import(kind, "raw", &[&[4u8][..], x, y].concat()),
        (_, [d, x, y]) if kind.is_ec() => {
            let private = agreement::PrivateKey::from_private_key(kind.ecdh()?, d)
                .map_err(rejected("EC private key"))?;
            let (pkcs8, spki) = agreement_pair(kind, &private)?;
            if ec_point(kind, &spki)? != [&[4u8][..], x, y].concat() {
                return Err(mismatch());
            }
            Ok((true, pkcs8))
        }
        _ => Err("the JWK is missing members".into()),
    }
}

/// RSA keys of 1024 to 2047 bits, which aws-lc will not load: imported and exported after a
/// structural check (PKCS#1 inside PKCS#8 or SPKI), so that legacy keys can be carried and
/// their JWKs read; signing, verifying and OAEP with them fail. Larger keys never come here,
/// so aws-lc validates every key it will use.
mod legacy_rsa {
    use super::OpResult;
    use pkcs1::der::{Decode, Encode};
    use pkcs1::{RsaPrivateKey, RsaPublicKey, UintRef};

    fn bits(modulus: &UintRef<'_>) -> usize {
        let bytes = modulus.as_bytes();
        bytes
            .first()
            .map_or(0, |first| bytes.len() * 8 - first.leading_zeros() as usize)
    }

    fn check_bits(modulus: &UintRef<'_>) -> OpResult<()> {
        match bits(modulus) {
            1024..=2047 => Ok(()),
            n => Err(format!("an RSA key of {n} bits")),
        }
    }

    fn encoding(e: pkcs1::der::Error) -> String {
        format!("the key is not DER-encoded RSA: {e}")
    }

    pub(super) fn pkcs8(der: &[u8]) -> OpResult<Vec<u8>> {
        let info = pkcs8::PrivateKeyInfo::from_der(der).map_err(encoding)?;
        if info.algorithm.oid != pkcs1::ALGORITHM_OID {
            return Err("the key is not an RSA key".into());
        }
        let key = RsaPrivateKey::from_der(info.private_key).map_err(encoding)?;
        if key.other_prime_infos.is_some() {
            return Err("multi-prime RSA keys are not supported".into());
        }
        check_bits(&key.modulus)?;
        info.to_der().map_err(encoding)
    }

    pub(super) fn spki(der: &[u8]) -> OpResult<Vec<u8>> {
        public_parts(der)?;
        Ok(der.to_vec())
    }

    pub(super) fn public_parts(der: &[u8]) -> OpResult<Vec<Vec<u8>>> {
        let spki = pkcs8::spki::SubjectPublicKeyInfoRef::from_der(der).map_err(encoding)?;
        if spki.algorithm.oid != pkcs1::ALGORITHM_OID {
            return Err("the key is not an RSA key".into());
        }
        let key = RsaPublicKey::from_der(spki.subject_public_key.raw_bytes()).map_err(encoding)?;
        check_bits(&key.modulus)?;
        Ok(vec![
            key.modulus.as_bytes().to_vec(),
            key.public_exponent.as_bytes().to_vec(),
        ])
    }

    pub(super) fn pkcs8_from_parts(parts: &[Vec<u8>]) -> OpResult<Vec<u8>> {
        let uint =
            |i: usize| UintRef::new(parts.get(i).map_or(&[][..], |p| &p[..])).map_err(encoding);
        let key = RsaPrivateKey {
            modulus: uint(0)?,
            public_exponent: uint(1)?,
            private_exponent: uint(2)?,
            prime1: uint(3)?,
            prime2: uint(4)?,
            exponent1: uint(5)?,
            exponent2: uint(6)?,
            coefficient: uint(7)?,
            other_prime_infos: None,
        };
        check_bits(&key.modulus)?;
        let inner = key.to_der().map_err(encoding)?;
        pkcs8::PrivateKeyInfo::new(pkcs1::ALGORITHM_ID, &inner)
            .to_der()
            .map_err(encoding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subtle::operations::{derive, sign, verify, Scheme};
    use crate::subtle::Hash;

    #[test]
    fn keys_round_trip_through_their_parts_and_sign() -> OpResult<()> {
        for kind in [
            Kind::P256,
            Kind::P384,
            Kind::P521,
            Kind::Ed25519,
            Kind::X25519,
        ] {
            let (pkcs8, spki) = generate(kind, 0, &[])?;
            let private_parts = parts(kind, true, &pkcs8)?;
            assert_eq!(
                from_parts(kind, &private_parts)?,
                (true, pkcs8.clone()),
                "{kind:?}"
            );
            let public_parts = parts(kind, false, &spki)?;
            assert_eq!(
                from_parts(kind, &public_parts)?,
                (false, spki.clone()),
                "{kind:?}"
            );
            assert_eq!(import(kind, "pkcs8", &pkcs8)?, (true, pkcs8.clone()));
            assert_eq!(import(kind, "spki", &spki)?, (false, spki.clone()));
        }
        let (pkcs8, spki) = generate(Kind::P384, 0, &[])?;
        let sig = sign(Scheme::Ecdsa, Kind::P384, Hash::Sha384, &pkcs8, b"data", 0)?;
        assert!(verify(
            Scheme::Ecdsa,
            Kind::P384,
            Hash::Sha384,
            &spki,
            &sig,
            b"data",
            0
        )?);
        assert!(!verify(
            Scheme::Ecdsa,
            Kind::P384,
            Hash::Sha384,
            &spki,
            &sig,
            b"datb",
            0
        )?);
        let (a, a_public) = generate(Kind::X25519, 0, &[])?;
        let (b, b_public) = generate(Kind::X25519, 0, &[])?;
        assert_eq!(
            derive(Kind::X25519, &a, &b_public)?,
            derive(Kind::X25519, &b, &a_public)?
        );
        Ok(())
    }
}
