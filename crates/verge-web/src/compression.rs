//! The codecs behind CompressionStream and DecompressionStream (Compression Streams §5) and
//! `node:zlib`: gzip, deflate (zlib) and deflate-raw through `flate2`, brotli through `brotli`,
//! and Node's `unzip` (gzip or zlib, told by the first bytes). Each stream keeps its coder in a
//! per-isolate table by id, fed one chunk at a time; what one chunk may expand to is bounded,
//! so a small hostile input cannot make the host allocate without limit.

use crate::WebHost;
use flate2::write::{
    DeflateDecoder, DeflateEncoder, GzDecoder, GzEncoder, MultiGzDecoder, ZlibDecoder, ZlibEncoder,
};
use flate2::Compression;
use std::io::Write;
use std::rc::Rc;
use verge_js::{data_op, Bytes, DataOp, IdTable, OpError};

/// What one write or finish may produce unless the caller asks for less: Node's
/// `maxOutputLength` is checked against it too.
const MAX_OUTPUT: usize = 256 * 1024 * 1024;

/// A coder's output, refusing to grow past `limit` bytes between two takes. It remembers a
/// refusal, for the brotli encoder, whose finish swallows its sink's errors.
struct Bounded {
    out: Vec<u8>,
    limit: usize,
    overflowed: bool,
}

impl Bounded {
    fn new(limit: usize) -> Self {
        Self {
            out: Vec::new(),
            limit,
            overflowed: false,
        }
    }

    fn too_large(limit: usize) -> std::io::Error {
        std::io::Error::other(format!("the output is larger than {limit} bytes"))
    }
}

impl Write for Bounded {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.out.len() + bytes.len() > self.limit {
            self.overflowed = true;
            return Err(Self::too_large(self.limit));
        }
        self.out.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Coder {
    GzipEncode(GzEncoder<Bounded>),
    DeflateEncode(ZlibEncoder<Bounded>),
    RawEncode(DeflateEncoder<Bounded>),
    BrotliEncode(Box<brotli::CompressorWriter<Bounded>>),
    GzipDecode(GzDecoder<Bounded>),
    /// Node's gunzip, which reads on past the first member as gzip(1) does.
    GzipMembersDecode(MultiGzDecoder<Bounded>),
    DeflateDecode(ZlibDecoder<Bounded>),
    RawDecode(DeflateDecoder<Bounded>),
    BrotliDecode(Box<brotli::DecompressorWriter<Bounded>>),
    /// Node's unzip before its first two bytes have said gzip or zlib.
    Undecided(Bounded, Vec<u8>),
}

/// Brotli's window (as Node's default, BROTLI_DEFAULT_WINDOW) and its work buffer.
const BROTLI_WINDOW: u32 = 22;
const BROTLI_BUFFER: usize = 16 * 1024;

impl Coder {
    /// A coder of `format` at `level` (-1 for the format's default), whose every write or
    /// finish produces at most `limit` bytes (0 for the default bound).
    fn new(format: &str, compress: bool, level: i32, limit: usize) -> Option<Self> {
        let sink = Bounded::new(if limit == 0 {
            MAX_OUTPUT
        } else {
            limit.min(MAX_OUTPUT)
        });
        let deflate_level = u32::try_from(level).map_or(Compression::default(), |level| {
            Compression::new(level.min(9))
        });
        Some(match (format, compress) {
            ("gzip", true) => Coder::GzipEncode(GzEncoder::new(sink, deflate_level)),
            ("deflate", true) => Coder::DeflateEncode(ZlibEncoder::new(sink, deflate_level)),
            ("deflate-raw", true) => Coder::RawEncode(DeflateEncoder::new(sink, deflate_level)),
            ("brotli", true) => {
                let quality = u32::try_from(level).map_or(11, |level| level.min(11));
                Coder::BrotliEncode(Box::new(brotli::CompressorWriter::new(
                    sink,
                    BROTLI_BUFFER,
                    quality,
                    BROTLI_WINDOW,
                )))
            }
            ("gzip", false) => Coder::GzipDecode(GzDecoder::new(sink)),
            ("gzip-members", false) => Coder::GzipMembersDecode(MultiGzDecoder::new(sink)),
            ("deflate", false) => Coder::DeflateDecode(ZlibDecoder::new(sink)),
            ("deflate-raw", false) => Coder::RawDecode(DeflateDecoder::new(sink)),
            ("brotli", false) => Coder::BrotliDecode(Box::new(brotli::DecompressorWriter::new(
                sink,
                BROTLI_BUFFER,
            ))),
            ("unzip", false) => Coder::Undecided(sink, Vec::new()),
            _ => return None,
        })
    }

    /// Feeds `input` and returns the output produced so far.
    fn write(&mut self, input: &[u8]) -> std::io::Result<Vec<u8>> {
        macro_rules! feed {
            ($coder:expr) => {{
                $coder.write_all(input)?;
                Ok(std::mem::take(&mut $coder.get_mut().out))
            }};
        }
        match self {
            Coder::GzipEncode(c) => feed!(c),
            Coder::DeflateEncode(c) => feed!(c),
            Coder::RawEncode(c) => feed!(c),
            Coder::BrotliEncode(c) => feed!(c),
            Coder::GzipDecode(c) => feed!(c),
            Coder::GzipMembersDecode(c) => feed!(c),
            Coder::DeflateDecode(c) => feed!(c),
            Coder::RawDecode(c) => feed!(c),
            Coder::BrotliDecode(c) => feed!(c),
            Coder::Undecided(sink, seen) => {
                seen.extend_from_slice(input);
                if seen.len() < 2 {
                    return Ok(Vec::new());
                }
                let seen = std::mem::take(seen);
                let sink = Bounded::new(sink.limit);
                *self = if seen.starts_with(&[0x1f, 0x8b]) {
                    Coder::GzipMembersDecode(MultiGzDecoder::new(sink))
                } else {
                    Coder::DeflateDecode(ZlibDecoder::new(sink))
                };
                self.write(&seen)
            }
        }
    }

    /// Writes out what the coder holds, so the output so far can be decoded (a sync flush).
    fn flush(&mut self) -> std::io::Result<Vec<u8>> {
        macro_rules! flush {
            ($coder:expr) => {{
                $coder.flush()?;
                Ok(std::mem::take(&mut $coder.get_mut().out))
            }};
        }
        match self {
            Coder::GzipEncode(c) => flush!(c),
            Coder::DeflateEncode(c) => flush!(c),
            Coder::RawEncode(c) => flush!(c),
            Coder::BrotliEncode(c) => flush!(c),
            Coder::GzipDecode(c) => flush!(c),
            Coder::GzipMembersDecode(c) => flush!(c),
            Coder::DeflateDecode(c) => flush!(c),
            Coder::RawDecode(c) => flush!(c),
            Coder::BrotliDecode(c) => flush!(c),
            Coder::Undecided(..) => Ok(Vec::new()),
        }
    }

    /// Ends the stream: the remaining output, or an error if compressed input was truncated.
    fn finish(self) -> std::io::Result<Vec<u8>> {
        let truncated = || std::io::Error::other("unexpected end of file");
        Ok(match self {
            Coder::GzipEncode(c) => c.finish()?.out,
            Coder::DeflateEncode(c) => c.finish()?.out,
            Coder::RawEncode(c) => c.finish()?.out,
            Coder::BrotliEncode(c) => {
                let sink = c.into_inner();
                if sink.overflowed {
                    return Err(Bounded::too_large(sink.limit));
                }
                sink.out
            }
            Coder::GzipDecode(c) => c.finish()?.out,
            Coder::GzipMembersDecode(c) => c.finish()?.out,
            Coder::DeflateDecode(c) => c.finish()?.out,
            Coder::RawDecode(c) => c.finish()?.out,
            Coder::BrotliDecode(c) => c.into_inner().map_err(|_| truncated())?.out,
            Coder::Undecided(..) => return Err(truncated()),
        })
    }
}

/// The ops, sharing one table of coders by id.
pub(crate) fn ops(_host: &WebHost) -> Vec<(&'static str, DataOp)> {
    let coders: Rc<IdTable<Coder>> = Rc::default();
    let (new, write, flush, finish, free) = (
        coders.clone(),
        coders.clone(),
        coders.clone(),
        coders.clone(),
        coders,
    );
    vec![
        (
            "coderNew",
            data_op(
                move |format: String, compress: bool, level: i32, limit: usize| {
                    let coder = Coder::new(&format, compress, level, limit).ok_or_else(|| {
                        OpError::Type(format!(
                        "Unsupported compression format: '{format}' (gzip, deflate or deflate-raw)"
                    ))
                    })?;
                    Ok(new.insert(coder))
                },
            ),
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
            "coderFlush",
            data_op(move |id: u32| match flush.with(id, Coder::flush) {
                Some(Ok(bytes)) => Ok(Bytes(bytes)),
                Some(Err(e)) => Err(OpError::Type(format!(
                    "The compressed data is invalid: {e}"
                ))),
                None => Err(closed()),
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
