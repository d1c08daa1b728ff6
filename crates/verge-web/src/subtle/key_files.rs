//! Key files as Node's `crypto.createPrivateKey` and `createPublicKey` read them: PKCS#8,
//! PKCS#1 and SEC 1 private keys, SubjectPublicKeyInfo and PKCS#1 public keys, told apart by
//! their PEM label (or the `type` a DER key comes with). The algorithm is found from the key
//! itself; the key is then validated and stored as [`keys`](super::keys) stores every key
//! (PKCS#8 or SPKI), and written back out as PKCS#1 when asked.

use super::keys::{agreement_pair, import, Kind};
use super::OpResult;
use aws_lc_rs::agreement;
use pkcs8::der::asn1::{BitStringRef, ObjectIdentifier};
use pkcs8::der::{Decode, Encode};
use pkcs8::spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};
use pkcs8::PrivateKeyInfo;

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const X25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.110");

fn malformed(what: &str) -> impl Fn(pkcs8::der::Error) -> String + '_ {
    move |e| format!("the data is not a {what}: {e}")
}

/// The key type an algorithm identifier names.
fn kind_of(algorithm: &AlgorithmIdentifierRef<'_>) -> OpResult<Kind> {
    let oid = algorithm.oid;
    if oid == pkcs1::ALGORITHM_OID {
        return Ok(Kind::Rsa);
    }
    if oid == ED25519 {
        return Ok(Kind::Ed25519);
    }
    if oid == X25519 {
        return Ok(Kind::X25519);
    }
    if oid == EC_PUBLIC_KEY {
        let curve = algorithm
            .parameters
            .and_then(|parameters| parameters.decode_as::<ObjectIdentifier>().ok());
        return match curve {
            Some(curve) if curve == P256 => Ok(Kind::P256),
            Some(curve) if curve == P384 => Ok(Kind::P384),
            Some(curve) if curve == P521 => Ok(Kind::P521),
            _ => Err("unsupported EC curve (P-256, P-384 and P-521 are)".into()),
        };
    }
    Err(format!("unsupported key algorithm {oid}"))
}

/// The key in `der`, labelled `label` as PEM labels keys (a label with `PRIVATE` is a private
/// key): its type, and its PKCS#8 (private) or SPKI (public) DER.
pub(super) fn read(label: &str, der: &[u8]) -> OpResult<(Kind, Vec<u8>)> {
    match label {
        "PRIVATE KEY" => {
            let info = PrivateKeyInfo::from_der(der).map_err(malformed("PKCS#8 private key"))?;
            let kind = kind_of(&info.algorithm)?;
            let (_, stored) = import(kind, "pkcs8", der)?;
            Ok((kind, stored))
        }
        "RSA PRIVATE KEY" => {
            let wrapped = PrivateKeyInfo::new(pkcs1::ALGORITHM_ID, der)
                .to_der()
                .map_err(malformed("PKCS#1 private key"))?;
            let (_, stored) = import(Kind::Rsa, "pkcs8", &wrapped)?;
            Ok((Kind::Rsa, stored))
        }
        "EC PRIVATE KEY" => {
            // SEC 1 names its curve inside; aws-lc refuses the key on any other.
            for kind in [Kind::P256, Kind::P384, Kind::P521] {
                if let Ok(private) = agreement::PrivateKey::from_private_key_der(kind.ecdh()?, der)
                {
                    return Ok((kind, agreement_pair(kind, &private)?.0));
                }
            }
            Err("the data is not a SEC 1 EC private key on P-256, P-384 or P-521".into())
        }
        "PUBLIC KEY" => {
            let spki =
                SubjectPublicKeyInfoRef::from_der(der).map_err(malformed("public key (SPKI)"))?;
            let kind = kind_of(&spki.algorithm)?;
            let (_, stored) = import(kind, "spki", der)?;
            Ok((kind, stored))
        }
        "RSA PUBLIC KEY" => {
            let spki = SubjectPublicKeyInfoRef {
                algorithm: pkcs1::ALGORITHM_ID,
                subject_public_key: BitStringRef::from_bytes(der)
                    .map_err(malformed("PKCS#1 public key"))?,
            };
            let wrapped = spki.to_der().map_err(malformed("PKCS#1 public key"))?;
            let (_, stored) = import(Kind::Rsa, "spki", &wrapped)?;
            Ok((Kind::Rsa, stored))
        }
        "ENCRYPTED PRIVATE KEY" => Err("encrypted private keys are not supported".into()),
        other => Err(format!("unsupported key format: {other}")),
    }
}

/// The PKCS#1 form of an RSA key stored as PKCS#8 (`private`) or SPKI.
pub(super) fn pkcs1(private: bool, der: &[u8]) -> OpResult<Vec<u8>> {
    if private {
        let info = PrivateKeyInfo::from_der(der).map_err(malformed("PKCS#8 private key"))?;
        if info.algorithm.oid != pkcs1::ALGORITHM_OID {
            return Err("only RSA keys have a PKCS#1 form".into());
        }
        return Ok(info.private_key.to_vec());
    }
    let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(malformed("public key (SPKI)"))?;
    if spki.algorithm.oid != pkcs1::ALGORITHM_OID {
        return Err("only RSA keys have a PKCS#1 form".into());
    }
    Ok(spki.subject_public_key.raw_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subtle::keys::generate;

    #[test]
    fn every_form_of_a_key_reads_as_the_stored_one() -> OpResult<()> {
        let (pkcs8, spki) = generate(Kind::Rsa, 2048, &[1, 0, 1])?;
        assert_eq!(read("PRIVATE KEY", &pkcs8)?, (Kind::Rsa, pkcs8.clone()));
        assert_eq!(read("PUBLIC KEY", &spki)?, (Kind::Rsa, spki.clone()));
        let private_pkcs1 = pkcs1(true, &pkcs8)?;
        assert_eq!(read("RSA PRIVATE KEY", &private_pkcs1)?.1, pkcs8);
        let public_pkcs1 = pkcs1(false, &spki)?;
        assert_eq!(read("RSA PUBLIC KEY", &public_pkcs1)?.1, spki);
        for kind in [
            Kind::P256,
            Kind::P384,
            Kind::P521,
            Kind::Ed25519,
            Kind::X25519,
        ] {
            let (pkcs8, spki) = generate(kind, 0, &[])?;
            assert_eq!(read("PRIVATE KEY", &pkcs8)?.0, kind);
            assert_eq!(read("PUBLIC KEY", &spki)?.0, kind);
            assert!(pkcs1(true, &pkcs8).is_err());
        }
        assert!(read("PRIVATE KEY", b"not a key").is_err());
        assert!(read("CERTIFICATE REQUEST", &pkcs8).is_err());
        Ok(())
    }
}
