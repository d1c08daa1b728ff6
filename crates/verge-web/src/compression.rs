//! The codecs behind CompressionStream and DecompressionStream (Compression Streams §5): gzip,
//! deflate (zlib) and deflate-raw through `flate2`. Each stream keeps its coder in a per-isolate
//! table by id, fed one chunk at a time so memory stays bounded by the chunk size.

use crate::WebHost;
use flate2::write::{
    DeflateDecoder, DeflateEncoder, GzDecoder, GzEncoder, ZlibDecoder, ZlibEncoder,
};
use flate2::Compression;
use std::io::Write;
use std::rc::Rc;
use verge_js::{data_op, Bytes, DataOp, IdTable, OpError};

enum Coder {
    GzipEncode(GzEncoder<Vec<u8>>),
    DeflateEncode(ZlibEncoder<Vec<u8>>),
    RawEncode(DeflateEncoder<Vec<u8>>),
    GzipDecode(GzDecoder<Vec<u8>>),
    DeflateDecode(ZlibDecoder<Vec<u8>>),
    RawDecode(DeflateDecoder<Vec<u8>>),
}

impl Coder {
    fn new(format: &str, compress: bool) -> Option<Self> {
        let level = Compression::default();
        Some(match (format, compress) {
            ("gzip", true) => Coder::GzipEncode(GzEncoder::new(Vec::new(), level)),
            ("deflate", true) => Coder::DeflateEncode(ZlibEncoder::new(Vec::new(), level)),
            ("deflate-raw", true) => Coder::RawEncode(DeflateEncoder::new(Vec::new(), level)),
            ("gzip", false) => Coder::GzipDecode(GzDecoder::new(Vec::new())),
            ("deflate", false) => Coder::DeflateDecode(ZlibDecoder::new(Vec::new())),
            ("deflate-raw", false) => Coder::RawDecode(DeflateDecoder::new(Vec::new())),
            _ => return None,
        })
    }

    /// Feeds `input` and returns the output produced so far.
    fn write(&mut self, input: &[u8]) -> std::io::Result<Vec<u8>> {
        macro_rules! feed {
            ($coder:expr) => {{
                $coder.write_all(input)?;
                Ok(std::mem::take($coder.get_mut()))
            }};
        }
        match self {
            Coder::GzipEncode(c) => feed!(c),
            Coder::DeflateEncode(c) => feed!(c),
            Coder::RawEncode(c) => feed!(c),
            Coder::GzipDecode(c) => feed!(c),
            Coder::DeflateDecode(c) => feed!(c),
            Coder::RawDecode(c) => feed!(c),
        }
    }

    /// Ends the stream: the remaining output, or an error if compressed input was truncated.
    fn finish(self) -> std::io::Result<Vec<u8>> {
        match self {
            Coder::GzipEncode(c) => c.finish(),
            Coder::DeflateEncode(c) => c.finish(),
            Coder::RawEncode(c) => c.finish(),
            Coder::GzipDecode(c) => c.finish(),
            Coder::DeflateDecode(c) => c.finish(),
            Coder::RawDecode(c) => c.finish(),
        }
    }
}

/// The ops, sharing one table of coders by id.
pub(crate) fn ops(_host: &WebHost) -> Vec<(&'static str, DataOp)> {
    let coders: Rc<IdTable<Coder>> = Rc::default();
    let (new, write, finish, free) = (coders.clone(), coders.clone(), coders.clone(), coders);
    vec![
        (
            "coderNew",
            data_op(move |format: String, compress: bool| {
                let coder = Coder::new(&format, compress).ok_or_else(|| {
                    OpError::Type(format!(
                        "Unsupported compression format: '{format}' (gzip, deflate or deflate-raw)"
                    ))
                })?;
                Ok(new.insert(coder))
            }),
        ),
        (
            "coderWrite",
            data_op(move |id: u32, chunk: Bytes| {
                let output = write.with(id, |coder| coder.write(&chunk.0));
                match output {
                    Some(Ok(bytes)) => Ok(Bytes(bytes)),
                    Some(Err(e)) => {
                        write.remove(id);
                        Err(OpError::Type(format!(
                            "The compressed data is invalid: {e}"
                        )))
                    }
                    None => Err(closed()),
                }
            }),
        ),
        (
            "coderFinish",
            data_op(move |id: u32| match finish.remove(id).map(Coder::finish) {
                Some(Ok(bytes)) => Ok(Bytes(bytes)),
                Some(Err(e)) => Err(OpError::Type(format!(
                    "The compressed data is invalid or truncated: {e}"
                ))),
                None => Err(closed()),
            }),
        ),
        (
            "coderFree",
            data_op(move |id: u32| {
                free.remove(id);
            }),
        ),
    ]
}

fn closed() -> OpError {
    OpError::Type("The compression stream is closed.".into())
}
