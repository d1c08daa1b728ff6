//! The ops behind `subtle.js`'s asymmetric keys: generating, importing and exporting them
//! (`keys`) and using them (`operations`), over data.

use super::key_files;
use super::keys::{from_parts, generate, import, parts, Kind};
use super::operations::{derive, rsa_oaep, sign, verify, Scheme};
use super::{failed, Hash};
use verge_js::{data_op, Bytes, DataOp, OpError};

fn kind_of(name: &str) -> Result<Kind, OpError> {
    Kind::named(name).map_err(failed)
}

fn hash_of(name: &str) -> Result<Hash, OpError> {
    Hash::named(name).map_err(failed)
}

/// `algorithm` is [scheme, key type, hash]: ECDSA, Ed25519, RSASSA-PKCS1-v1_5 or RSA-PSS.
fn algorithm_of(names: &[String]) -> Result<(Scheme, Kind, Hash), OpError> {
    let [scheme, kind, hash] = names else {
        return Err(failed("expected [scheme, key type, hash]".into()));
    };
    let scheme = Scheme::named(scheme).map_err(failed)?;
    Ok((scheme, kind_of(kind)?, hash_of(hash)?))
}

pub(super) fn ops() -> Vec<(&'static str, DataOp)> {
    vec![
        (
            "keyGenerate",
            // `[private, public]`.
            data_op(|kind: String, modulus_bits: u32, exponent: Bytes| {
                let (private, public) =
                    generate(kind_of(&kind)?, modulus_bits, &exponent.0).map_err(failed)?;
                Ok((Bytes(private), Bytes(public)))
            }),
        ),
        (
            "keyImport",
            // `[private, der]`.
            data_op(|kind: String, format: String, data: Bytes| {
                let (private, der) = import(kind_of(&kind)?, &format, &data.0).map_err(failed)?;
                Ok((private, Bytes(der)))
            }),
        ),
        (
            "keyRead",
            // `[type, der]`, the type as `Kind::named` spells it (the label says whether the
            // key is private).
            data_op(|label: String, data: Bytes| {
                let (kind, der) = key_files::read(&label, &data.0).map_err(failed)?;
                Ok((kind.name().to_owned(), Bytes(der)))
            }),
        ),
        (
            "keyPkcs1",
            data_op(|private: bool, der: Bytes| {
                key_files::pkcs1(private, &der.0).map(Bytes).map_err(failed)
            }),
        ),
        (
            "keyFromParts",
            data_op(|kind: String, parts: Vec<Bytes>| {
                let parts: Vec<Vec<u8>> = parts.into_iter().map(|part| part.0).collect();
                let (private, der) = from_parts(kind_of(&kind)?, &parts).map_err(failed)?;
                Ok((private, Bytes(der)))
            }),
        ),
        (
            "keyParts",
            data_op(|kind: String, private: bool, der: Bytes| {
                let parts = parts(kind_of(&kind)?, private, &der.0).map_err(failed)?;
                Ok(parts.into_iter().map(Bytes).collect::<Vec<_>>())
            }),
        ),
        (
            "keySign",
            data_op(
                |algorithm: Vec<String>, key: Bytes, data: Bytes, salt: u32| {
                    let (scheme, kind, hash) = algorithm_of(&algorithm)?;
                    sign(scheme, kind, hash, &key.0, &data.0, salt)
                        .map(Bytes)
                        .map_err(failed)
                },
            ),
        ),
        (
            "keyVerify",
            data_op(
                |algorithm: Vec<String>, key: Bytes, signature: Bytes, data: Bytes, salt: u32| {
                    let (scheme, kind, hash) = algorithm_of(&algorithm)?;
                    verify(scheme, kind, hash, &key.0, &signature.0, &data.0, salt).map_err(failed)
                },
            ),
        ),
        (
            "keyDerive",
            data_op(|kind: String, key: Bytes, peer: Bytes| {
                derive(kind_of(&kind)?, &key.0, &peer.0)
                    .map(Bytes)
                    .map_err(failed)
            }),
        ),
        (
            "rsaOaep",
            data_op(
                |encrypt: bool, hash: String, key: Bytes, label: Bytes, data: Bytes| {
                    rsa_oaep(encrypt, hash_of(&hash)?, &key.0, &label.0, &data.0)
                        .map(Bytes)
                        .map_err(failed)
                },
            ),
        ),
    ]
}
