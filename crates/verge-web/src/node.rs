//! The Node.js modules of Workers' `nodejs_compat` flag ([`MODULES`]), each a lazy file under
//! `js/node/` whose exports object sits on `internals` under its module name. [`NodeModules`] is what the module loader asks for them (imports and
//! CommonJS `require` alike); the ops here are the byte codecs Buffer needs and what
//! `node:crypto` and `AsyncLocalStorage` need of the host.

use crate::{type_error, WebHost};
use base64::Engine;
use rquickjs::{Ctx, Object, Persistent, TypedArray, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use verge_js::{bytes_of, rquickjs, Builtins, Ops};

/// The modules, by their name without `node:`.
pub const MODULES: &[&str] = &[
    "assert",
    "assert/strict",
    "async_hooks",
    "buffer",
    "child_process",
    "cluster",
    "crypto",
    "diagnostics_channel",
    "dns",
    "dns/promises",
    "events",
    "fs",
    "fs/promises",
    "http",
    "http2",
    "https",
    "module",
    "net",
    "os",
    "path",
    "path/posix",
    "perf_hooks",
    "process",
    "punycode",
    "querystring",
    "stream",
    "stream/promises",
    "stream/web",
    "string_decoder",
    "timers",
    "timers/promises",
    "tls",
    "tty",
    "url",
    "util",
    "util/types",
    "v8",
    "worker_threads",
    "zlib",
];

/// The Node.js builtins of one worker: usable when its compatibility flags hold
/// `nodejs_compat` (or `nodejs_compat_v2`), else named in an error that says so.
pub struct NodeModules {
    pub enabled: bool,
}

impl NodeModules {
    /// Whether `flags` (a wrangler config's `compatibility_flags`) turn the modules on.
    pub fn enabled_by(flags: &[String]) -> bool {
        flags
            .iter()
            .any(|flag| flag == "nodejs_compat" || flag == "nodejs_compat_v2")
    }
}

impl Builtins for NodeModules {
    fn resolve(&self, specifier: &str) -> Option<Result<String, String>> {
        let prefixed = specifier.starts_with("node:");
        let bare = specifier.strip_prefix("node:").unwrap_or(specifier);
        if !MODULES.contains(&bare) {
            return prefixed.then(|| {
                Err(format!(
                    "Verge has no module {specifier}; with nodejs_compat it provides node:{}",
                    MODULES.join(", node:")
                ))
            });
        }
        if !self.enabled {
            // A bare name may be an npm package of that name (the `events` polyfill).
            return prefixed.then(|| {
                Err(format!(
                    "{specifier} needs the nodejs_compat compatibility flag: add \
                     compatibility_flags = [\"nodejs_compat\"] to the wrangler config"
                ))
            });
        }
        Some(Ok(format!("node:{bare}")))
    }

    fn exports<'js>(&self, ctx: &Ctx<'js>, name: &str) -> rquickjs::Result<Value<'js>> {
        crate::internals(ctx)?.get(name)
    }
}

/// Sets `Buffer`, `process`, `global`, `setImmediate` and `clearImmediate` on the global
/// scope, as `nodejs_compat` does on Workers, with `vars` (the worker's string vars and secrets) as `process.env`, and gives
/// stack traces' CallSites V8's methods.
pub fn install_globals<'js>(ctx: &Ctx<'js>, vars: &Object<'js>) -> rquickjs::Result<()> {
    let internals = crate::internals(ctx)?;
    let buffer: Object = internals.get("node:buffer")?;
    let process: Object = internals.get("node:process")?;
    let env: Object = process.get("env")?;
    for key in vars.keys::<String>() {
        let key = key?;
        let value: Value = vars.get(key.as_str())?;
        if value.is_string() {
            env.set(key.as_str(), value)?;
        }
    }
    internals
        .get::<_, rquickjs::Function>("completeCallSites")?
        .call::<_, ()>(())?;
    let timers: Object = internals.get("node:timers")?;
    let globals = ctx.globals();
    globals.set("setImmediate", timers.get::<_, Value>("setImmediate")?)?;
    globals.set("clearImmediate", timers.get::<_, Value>("clearImmediate")?)?;
    globals.set("Buffer", buffer.get::<_, Value>("Buffer")?)?;
    globals.set("process", process)?;
    globals.set("global", globals.clone())
}

/// Encodings Buffer converts natively (utf-8 and utf-16le are done in JavaScript).
#[derive(Clone, Copy)]
enum Encoding {
    Hex,
    Base64,
    Base64Url,
    Latin1,
    Ascii,
}

impl Encoding {
    fn named(ctx: &Ctx<'_>, name: &str) -> rquickjs::Result<Self> {
        Ok(match name {
            "hex" => Encoding::Hex,
            "base64" => Encoding::Base64,
            "base64url" => Encoding::Base64Url,
            "latin1" => Encoding::Latin1,
            "ascii" => Encoding::Ascii,
            _ => return Err(type_error(ctx, &format!("Unknown encoding: {name}"))),
        })
    }
}

/// Bytes to text in `encoding`.
fn encode(bytes: &[u8], encoding: Encoding) -> String {
    match encoding {
        Encoding::Hex => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        Encoding::Base64Url => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        Encoding::Latin1 => bytes.iter().map(|&b| char::from(b)).collect(),
        Encoding::Ascii => bytes.iter().map(|&b| char::from(b & 0x7f)).collect(),
    }
}

/// Text in `encoding` to bytes, as leniently as Node: hex stops at the first pair that is not
/// hex; base64 takes either alphabet, skips what is not base64 and stops at padding; latin1 and
/// ascii keep each code unit's low byte.
fn decode(text: &str, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Hex => {
            let digits = text.as_bytes();
            digits
                .chunks_exact(2)
                .map_while(|pair| {
                    let pair = std::str::from_utf8(pair).ok()?;
                    u8::from_str_radix(pair, 16).ok()
                })
                .collect()
        }
        Encoding::Base64 | Encoding::Base64Url => {
            let mut clean: Vec<u8> = text
                .bytes()
                .take_while(|&b| b != b'=')
                .filter_map(|b| match b {
                    b'-' => Some(b'+'),
                    b'_' => Some(b'/'),
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' => Some(b),
                    _ => None,
                })
                .collect();
            // A lone last character carries no whole byte.
            if clean.len() % 4 == 1 {
                clean.pop();
            }
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(&clean)
                .unwrap_or_default()
        }
        Encoding::Latin1 | Encoding::Ascii => text
            .encode_utf16()
            .map(|unit| unit.to_le_bytes()[0])
            .collect(),
    }
}

pub(crate) fn register<'js>(ops: &Ops<'js>, _host: &WebHost) -> rquickjs::Result<()> {
    let ctx = ops.ctx();
    ops.add(
        "bufferToString",
        |ctx: Ctx<'js>, bytes: TypedArray<'js, u8>, encoding: String| {
            Ok::<_, rquickjs::Error>(encode(&bytes_of(&bytes), Encoding::named(&ctx, &encoding)?))
        },
    )?;
    ops.add(
        "bufferFromString",
        |ctx: Ctx<'js>, text: String, encoding: String| {
            TypedArray::<u8>::new(
                ctx.clone(),
                decode(&text, Encoding::named(&ctx, &encoding)?),
            )
        },
    )?;
    ops.add("nodeModuleNames", || MODULES.to_vec())?;
    ops.add("createRequire", |ctx: Ctx<'js>, filename: String| {
        verge_js::create_require(&ctx, &filename)
    })?;
    // node:fs' /bundle: the project's files, read-only. Kind 1 is a file, 2 a directory.
    ops.add("bundleStat", |ctx: Ctx<'js>, path: String| {
        verge_js::bundle_entry(&ctx, &path).map(|entry| match entry {
            #[allow(clippy::cast_precision_loss)]
            verge_js::BundleEntry::File { size, modified_ms } => {
                vec![1.0, size as f64, modified_ms]
            }
            verge_js::BundleEntry::Directory { modified_ms } => vec![2.0, 0.0, modified_ms],
        })
    })?;
    ops.add("bundleRead", |ctx: Ctx<'js>, path: String| {
        verge_js::bundle_read(&ctx, &path)
            .map(|bytes| TypedArray::<u8>::new(ctx.clone(), bytes))
            .transpose()
    })?;
    // A directory's names, each directory's with a `/` after it.
    ops.add("bundleList", |ctx: Ctx<'js>, path: String| {
        verge_js::bundle_list(&ctx, &path).map(|names| {
            names
                .into_iter()
                .map(|(name, is_dir)| if is_dir { format!("{name}/") } else { name })
                .collect::<Vec<_>>()
        })
    })?;
    ops.add(
        "setForgetTmp",
        |ctx: Ctx<'js>, forget: rquickjs::Function<'js>| {
            verge_js::store_host_state(&ctx, ForgetTmp(Persistent::save(&ctx, forget)))
        },
    )?;
    ops.add("md5", |ctx: Ctx<'js>, data: TypedArray<'js, u8>| {
        use md5::Digest;
        let digest = md5::Md5::digest(bytes_of(&data));
        TypedArray::<u8>::new(ctx, digest.to_vec())
    })?;
    // Request tags count up from 1; an f64 holds them exactly far beyond any server's lifetime.
    ops.add("requestTag", |ctx: Ctx<'js>| {
        #[allow(clippy::cast_precision_loss)]
        let tag = verge_js::current_tag(&ctx) as f64;
        tag
    })?;
    verge_js::ensure_host_state::<AsyncContexts>(ctx)?;
    ops.add("asyncContext", |ctx: Ctx<'js>, tag: f64| {
        let saved = verge_js::with_host_state(&ctx, |contexts: &AsyncContexts| {
            contexts.0.borrow().get(&tag_of(tag)).cloned()
        });
        match saved.flatten() {
            Some(context) => context.restore(&ctx),
            None => Ok(Value::new_undefined(ctx.clone())),
        }
    })?;
    ops.add(
        "setAsyncContext",
        |ctx: Ctx<'js>, tag: f64, context: Value<'js>| {
            let saved = (!context.is_undefined()).then(|| Persistent::save(&ctx, context));
            verge_js::with_host_state(&ctx, |contexts: &AsyncContexts| {
                let mut contexts = contexts.0.borrow_mut();
                match saved {
                    Some(context) => contexts.insert(tag_of(tag), context),
                    None => contexts.remove(&tag_of(tag)),
                }
            });
        },
    )
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn tag_of(tag: f64) -> u64 {
    tag as u64
}

/// The AsyncLocalStorage context of each request that has one, by tag (see
/// `js/node/async_hooks.js`).
#[derive(Default)]
struct AsyncContexts(RefCell<HashMap<u64, Persistent<Value<'static>>>>);

/// Drops what the Node modules kept for the finished request `tag`: its AsyncLocalStorage
/// context, and its `/tmp` if `node:fs` was loaded.
pub(crate) fn forget_request(ctx: &Ctx<'_>, tag: u64) {
    verge_js::with_host_state(ctx, |contexts: &AsyncContexts| {
        contexts.0.borrow_mut().remove(&tag)
    });
    let forget_tmp = verge_js::with_host_state(ctx, |hook: &ForgetTmp| hook.0.clone());
    if let Some(Ok(forget)) = forget_tmp.map(|hook| hook.restore(ctx)) {
        #[allow(clippy::cast_precision_loss)]
        let _ = forget.call::<_, ()>((tag as f64,));
    }
}

/// What `node:fs` gave to drop a finished request's `/tmp` (kept once it has loaded, so that
/// a worker that never touches it pays nothing when a request ends).
struct ForgetTmp(Persistent<rquickjs::Function<'static>>);
