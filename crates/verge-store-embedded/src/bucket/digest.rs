//! The digests an object's bytes get as they stream in (its MD5 etag, the checksums a script
//! asked for), and the random names of versions, uploads and files.

use md5::Digest as _;
use verge_storage::StorageError;

/// The digests of bytes as they stream in: MD5 always (the etag), and the algorithms a
/// script gave checksums for.
pub(super) struct Hashes {
    md5: md5::Md5,
    pub(super) others: Vec<(String, ring::digest::Context)>,
}

impl Hashes {
    pub(super) fn new(expected: &[(String, String)]) -> Result<Self, StorageError> {
        let mut others = Vec::new();
        for (name, _) in expected {
            let algorithm = match name.as_str() {
                "md5" => continue,
                "sha1" => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
                "sha256" => &ring::digest::SHA256,
                "sha384" => &ring::digest::SHA384,
                "sha512" => &ring::digest::SHA512,
                other => {
                    return Err(StorageError::Invalid(format!(
                        "put: Unknown checksum algorithm {other}."
                    )))
                }
            };
            others.push((name.clone(), ring::digest::Context::new(algorithm)));
        }
        Ok(Self {
            md5: md5::Md5::new(),
            others,
        })
    }

    pub(super) fn update(&mut self, bytes: &[u8]) {
        self.md5.update(bytes);
        for (_, context) in &mut self.others {
            context.update(bytes);
        }
    }

    pub(super) fn md5(&self) -> [u8; 16] {
        self.md5.clone().finalize().into()
    }

    /// The checksums as JSON, or R2's error for the first that disagrees with `expected`.
    pub(super) fn check(self, expected: &[(String, String)]) -> Result<String, StorageError> {
        let mut computed = vec![("md5".to_owned(), hex(&self.md5()))];
        for (name, context) in self.others {
            computed.push((name, hex(context.finish().as_ref())));
        }
        for (name, hex_digest) in expected {
            let actual = computed.iter().find(|(n, _)| n == name).map(|(_, d)| d);
            if actual.map(|d| d.eq_ignore_ascii_case(hex_digest)) != Some(true) {
                return Err(StorageError::Invalid(format!(
                    "put: The {name} checksum you specified did not match what we received. \
                     (10037)"
                )));
            }
        }
        let json: serde_json::Map<String, serde_json::Value> = computed
            .into_iter()
            .map(|(name, digest)| (name, digest.into()))
            .collect();
        Ok(serde_json::Value::Object(json).to_string())
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// 128 random bits as hex: a version, an upload id or a file name.
pub(super) fn random_id() -> String {
    let mut bytes = [0u8; 16];
    // Without the OS's randomness, a clock-derived name still never repeats in this process.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = nanos.to_le_bytes();
    }
    hex(&bytes)
}
