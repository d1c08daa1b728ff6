//! The ops behind `subtle.js`'s asymmetric keys: generating, importing and exporting them
//! (`keys`) and using them (`operations`), with their results as JavaScript values.

use super::keys::{from_parts, generate, import, parts, Kind};
use super::operations::{derive, rsa_oaep, sign, verify, Scheme};
use super::{to_js, Bytes, Hash, OpResult};
use rquickjs::{Array, Ctx, TypedArray};
use verge_js::{bytes_of, rquickjs, Ops};

fn throw(ctx: &Ctx<'_>, message: String) -> rquickjs::Error {
    rquickjs::Exception::throw_message(ctx, &message)
}

fn pair_to_js<'js>(ctx: &Ctx<'js>, a: Vec<u8>, b: Vec<u8>) -> rquickjs::Result<Array<'js>> {
    let array = Array::new(ctx.clone())?;
    array.set(0, TypedArray::<u8>::new(ctx.clone(), a)?)?;
    array.set(1, TypedArray::<u8>::new(ctx.clone(), b)?)?;
    Ok(array)
}

/// `[private, der]` for JavaScript.
fn imported_to_js<'js>(
    ctx: &Ctx<'js>,
    result: OpResult<(bool, Vec<u8>)>,
) -> rquickjs::Result<Array<'js>> {
    let (private, der) = result.map_err(|m| throw(ctx, m))?;
    let array = Array::new(ctx.clone())?;
    array.set(0, private)?;
    array.set(1, TypedArray::<u8>::new(ctx.clone(), der)?)?;
    Ok(array)
}

pub(super) fn register<'js>(ops: &Ops<'js>) -> rquickjs::Result<()> {
    let kind_of = |ctx: &Ctx<'js>, name: &str| Kind::named(name).map_err(|m| throw(ctx, m));
    let hash_of = |ctx: &Ctx<'js>, name: &str| Hash::named(name).map_err(|m| throw(ctx, m));
    ops.add(
        "keyGenerate",
        move |ctx: Ctx<'js>, kind: String, modulus_bits: u32, exponent: Bytes<'js>| {
            let kind = kind_of(&ctx, &kind)?;
            let (private, public) =
                generate(kind, modulus_bits, &bytes_of(&exponent)).map_err(|m| throw(&ctx, m))?;
            pair_to_js(&ctx, private, public)
        },
    )?;
    ops.add(
        "keyImport",
        move |ctx: Ctx<'js>, kind: String, format: String, data: Bytes<'js>| {
            let kind = kind_of(&ctx, &kind)?;
            imported_to_js(&ctx, import(kind, &format, &bytes_of(&data)))
        },
    )?;
    ops.add(
        "keyFromParts",
        move |ctx: Ctx<'js>, kind: String, parts: Vec<Bytes<'js>>| {
            let kind = kind_of(&ctx, &kind)?;
            let parts: Vec<Vec<u8>> = parts.iter().map(bytes_of).collect();
            imported_to_js(&ctx, from_parts(kind, &parts))
        },
    )?;
    ops.add(
        "keyParts",
        move |ctx: Ctx<'js>, kind: String, private: bool, der: Bytes<'js>| {
            let kind = kind_of(&ctx, &kind)?;
            let parts = parts(kind, private, &bytes_of(&der)).map_err(|m| throw(&ctx, m))?;
            parts
                .into_iter()
                .map(|part| TypedArray::<u8>::new(ctx.clone(), part))
                .collect::<rquickjs::Result<Vec<_>>>()
        },
    )?;
    // `algorithm` is [scheme, key type, hash]: ECDSA, Ed25519, RSASSA-PKCS1-v1_5 or RSA-PSS.
    let algorithm_of =
        move |ctx: &Ctx<'js>, names: &[String]| -> rquickjs::Result<(Scheme, Kind, Hash)> {
            let [scheme, kind, hash] = names else {
                return Err(throw(ctx, "expected [scheme, key type, hash]".into()));
            };
            let scheme = Scheme::named(scheme).map_err(|m| throw(ctx, m))?;
            Ok((scheme, kind_of(ctx, kind)?, hash_of(ctx, hash)?))
        };
    ops.add(
        "keySign",
        move |ctx: Ctx<'js>,
              algorithm: Vec<String>,
              key: Bytes<'js>,
              data: Bytes<'js>,
              salt: u32| {
            let (scheme, kind, hash) = algorithm_of(&ctx, &algorithm)?;
            to_js(
                &ctx,
                sign(scheme, kind, hash, &bytes_of(&key), &bytes_of(&data), salt),
            )
        },
    )?;
    ops.add(
        "keyVerify",
        move |ctx: Ctx<'js>,
              algorithm: Vec<String>,
              key: Bytes<'js>,
              signature: Bytes<'js>,
              data: Bytes<'js>,
              salt: u32| {
            let (scheme, kind, hash) = algorithm_of(&ctx, &algorithm)?;
            verify(
                scheme,
                kind,
                hash,
                &bytes_of(&key),
                &bytes_of(&signature),
                &bytes_of(&data),
                salt,
            )
            .map_err(|m| throw(&ctx, m))
        },
    )?;
    ops.add(
        "keyDerive",
        move |ctx: Ctx<'js>, kind: String, key: Bytes<'js>, peer: Bytes<'js>| {
            let kind = kind_of(&ctx, &kind)?;
            to_js(&ctx, derive(kind, &bytes_of(&key), &bytes_of(&peer)))
        },
    )?;
    ops.add(
        "rsaOaep",
        move |ctx: Ctx<'js>,
              encrypt: bool,
              hash: String,
              key: Bytes<'js>,
              label: Bytes<'js>,
              data: Bytes<'js>| {
            let hash = hash_of(&ctx, &hash)?;
            to_js(
                &ctx,
                rsa_oaep(
                    encrypt,
                    hash,
                    &bytes_of(&key),
                    &bytes_of(&label),
                    &bytes_of(&data),
                ),
            )
        },
    )
}
