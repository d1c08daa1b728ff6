//! The codecs behind TextEncoder and TextDecoder: encoding_rs, which implements the Encoding
//! Standard's label table and decoders exactly.
//!
//! A streaming `TextDecoder` keeps an encoding_rs decoder across calls; those live in a
//! per-isolate table keyed by id, freed by the JS object's finalizer or with the isolate's ops.

use crate::WebHost;
use encoding_rs::{CoderResult, Decoder, DecoderResult, Encoding};
use std::rc::Rc;
use verge_js::{data_op, Bytes, DataOp, IdTable, OpError};

struct StreamDecoder {
    encoding: &'static Encoding,
    fatal: bool,
    ignore_bom: bool,
    decoder: Decoder,
}

impl StreamDecoder {
    fn fresh_decoder(encoding: &'static Encoding, ignore_bom: bool) -> Decoder {
        if ignore_bom {
            encoding.new_decoder_without_bom_handling()
        } else {
            encoding.new_decoder_with_bom_removal()
        }
    }

    /// Decodes `input`; `None` means malformed input in fatal mode. When `last`, the decoder is
    /// flushed and reset for the next stream.
    fn decode(&mut self, input: &[u8], last: bool) -> Option<String> {
        let result = if self.fatal {
            let capacity = self
                .decoder
                .max_utf8_buffer_length_without_replacement(input.len())?;
            let mut out = String::with_capacity(capacity);
            let (result, _read) = self
                .decoder
                .decode_to_string_without_replacement(input, &mut out, last);
            match result {
                DecoderResult::InputEmpty => Some(out),
                DecoderResult::Malformed(_, _) | DecoderResult::OutputFull => None,
            }
        } else {
            let capacity = self.decoder.max_utf8_buffer_length(input.len())?;
            let mut out = String::with_capacity(capacity);
            let (result, _read, _replaced) = self.decoder.decode_to_string(input, &mut out, last);
            (result == CoderResult::InputEmpty).then_some(out)
        };
        if last || result.is_none() {
            self.decoder = Self::fresh_decoder(self.encoding, self.ignore_bom);
        }
        result
    }
}

/// The Encoding Standard's name for `label`, lower-cased as `TextDecoder.encoding` reports it.
pub fn encoding_for_label(label: &str) -> Option<String> {
    // encoding_rs trims ASCII whitespace only, as the Encoding Standard says (not \v or U+00A0).
    Encoding::for_label(label.as_bytes()).map(|e| e.name().to_ascii_lowercase())
}

/// The ops of `encoding.js` (UTF-8 both ways, labels, streaming decoders), written once for
/// every engine; the decoders of one isolate live in a table its ops share.
pub fn encoding_ops(_host: &WebHost) -> Vec<(&'static str, DataOp)> {
    let decoders: Rc<IdTable<StreamDecoder>> = Rc::default();
    let (new, decode, free) = (decoders.clone(), decoders.clone(), decoders);
    vec![
        (
            "encodingForLabel",
            data_op(|label: String| encoding_for_label(&label)),
        ),
        (
            "utf8Encode",
            data_op(|text: String| Bytes(text.into_bytes())),
        ),
        (
            "utf8Decode",
            data_op(|bytes: Bytes| {
                encoding_rs::UTF_8
                    .decode_with_bom_removal(&bytes.0)
                    .0
                    .into_owned()
            }),
        ),
        (
            "decoderNew",
            data_op(move |name: String, fatal: bool, ignore_bom: bool| {
                let encoding = Encoding::for_label(name.as_bytes())
                    .ok_or_else(|| OpError::Type(format!("unknown encoding {name}")))?;
                Ok(new.insert(StreamDecoder {
                    encoding,
                    fatal,
                    ignore_bom,
                    decoder: StreamDecoder::fresh_decoder(encoding, ignore_bom),
                }))
            }),
        ),
        (
            "decode",
            data_op(move |id: u32, bytes: Bytes, stream: bool| {
                match decode.with(id, |d| d.decode(&bytes.0, !stream)) {
                    Some(Some(text)) => Ok(text),
                    Some(None) => Err(OpError::Type("The encoded data was not valid.".into())),
                    None => Err(OpError::Type("TextDecoder: decoder state is gone".into())),
                }
            }),
        ),
        (
            "decoderFree",
            data_op(move |id: u32| {
                free.remove(id);
            }),
        ),
    ]
}
