//! The codecs behind CompressionStream and DecompressionStream (Compression Streams §5): gzip,
//! deflate (zlib) and deflate-raw through `flate2`. Each stream keeps its coder in a per-isolate
//! table by id, fed one chunk at a time so memory stays bounded by the chunk size.

use crate::{type_error, WebHost};
use flate2::write::{
    DeflateDecoder, DeflateEncoder, GzDecoder, GzEncoder, ZlibDecoder, ZlibEncoder,
};
use flate2::Compression;
use rquickjs::{Ctx, TypedArray};
use std::io::Write;
use verge_js::{bytes_of, rquickjs, IdTable, Ops};

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

type CoderTable = IdTable<Coder>;

pub(crate) fn register<'js>(ops: &Ops<'js>, _host: &WebHost) -> rquickjs::Result<()> {
    let ctx = ops.ctx();
    verge_js::ensure_host_state::<CoderTable>(ctx)?;
    ops.add(
        "coderNew",
        |ctx: Ctx<'js>, format: String, compress: bool| {
            let coder = Coder::new(&format, compress).ok_or_else(|| {
                type_error(
                    &ctx,
                    &format!(
                        "Unsupported compression format: '{format}' (gzip, deflate or deflate-raw)"
                    ),
                )
            })?;
            Ok::<_, rquickjs::Error>(
                verge_js::with_host_state(&ctx, |table: &CoderTable| table.insert(coder))
                    .unwrap_or_default(),
            )
        },
    )?;
    ops.add(
        "coderWrite",
        |ctx: Ctx<'js>, id: u32, chunk: TypedArray<'js, u8>| {
            let input = bytes_of(&chunk);
            let output = verge_js::with_host_state(&ctx, |table: &CoderTable| {
                let result = table.with(id, |coder| coder.write(&input));
                if matches!(result, Some(Err(_))) {
                    table.remove(id);
                }
                result
            })
            .flatten();
            match output {
                Some(Ok(bytes)) => TypedArray::<u8>::new(ctx.clone(), bytes),
                Some(Err(e)) => Err(type_error(
                    &ctx,
                    &format!("The compressed data is invalid: {e}"),
                )),
                None => Err(type_error(&ctx, "The compression stream is closed.")),
            }
        },
    )?;
    ops.add("coderFinish", |ctx: Ctx<'js>, id: u32| {
        let coder =
            verge_js::with_host_state(&ctx, |table: &CoderTable| table.remove(id)).flatten();
        match coder.map(Coder::finish) {
            Some(Ok(bytes)) => TypedArray::<u8>::new(ctx.clone(), bytes),
            Some(Err(e)) => Err(type_error(
                &ctx,
                &format!("The compressed data is invalid or truncated: {e}"),
            )),
            None => Err(type_error(&ctx, "The compression stream is closed.")),
        }
    })?;
    ops.add("coderFree", |ctx: Ctx<'js>, id: u32| {
        verge_js::with_host_state(&ctx, |table: &CoderTable| table.remove(id));
    })
}
