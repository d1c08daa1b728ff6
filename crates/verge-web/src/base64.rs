//! The codec behind `atob` and `btoa`: forgiving-base64 (Infra §4.7) on Latin-1 strings.

use crate::WebHost;
use base64::alphabet::STANDARD;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use verge_js::{data_op, DataOp};

const FORGIVING: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// Forgiving-base64 decode: `None` is the spec's "failure".
pub fn forgiving_decode(input: &str) -> Option<Vec<u8>> {
    let mut data: Vec<u8> = input
        .bytes()
        .filter(|b| !matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' '))
        .collect();
    if !input.is_ascii() {
        return None;
    }
    if data.len().is_multiple_of(4) {
        for _ in 0..2 {
            if data.last() == Some(&b'=') {
                data.pop();
            }
        }
    }
    if data.len() % 4 == 1
        || data
            .iter()
            .any(|b| !(b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/'))
    {
        return None;
    }
    FORGIVING.decode(&data).ok()
}

/// The codec of `base64.js`, written once for every engine.
pub fn base64_ops(_host: &WebHost) -> Vec<(&'static str, DataOp)> {
    vec![
        (
            "atob",
            data_op(|input: String| {
                forgiving_decode(&input)
                    .map(|bytes| bytes.into_iter().map(char::from).collect::<String>())
            }),
        ),
        // The caller has checked that every code unit is at most 0xFF.
        (
            "btoa",
            data_op(|input: String| {
                let bytes: Vec<u8> = input
                    .chars()
                    .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                    .collect();
                base64::engine::general_purpose::STANDARD.encode(bytes)
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::forgiving_decode;

    #[test]
    fn decodes_with_the_forgiving_rules() {
        assert_eq!(forgiving_decode(" YW Jj ").as_deref(), Some(&b"abc"[..]));
        assert_eq!(forgiving_decode("YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(forgiving_decode("YQ").as_deref(), Some(&b"a"[..]));
        assert_eq!(forgiving_decode("YR").as_deref(), Some(&b"a"[..]));
        assert_eq!(forgiving_decode("Y"), None);
        assert_eq!(forgiving_decode("YQ="), None);
        assert_eq!(forgiving_decode("Y===").as_deref(), None);
        assert_eq!(forgiving_decode("ab\u{e9}c"), None);
    }
}
