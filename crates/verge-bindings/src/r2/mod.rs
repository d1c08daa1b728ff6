//! Object bucket bindings (`r2_buckets` → [`BucketStore`] → `env.BUCKET`, the R2 API): the
//! ops behind `r2.js`. Bodies stream both ways: a `put` reads the script's stream as the store
//! writes it, and a `get` hands the script a stream fed by the store.

use crate::{binding_call, undefined, Capabilities, Kind, Namespace};
use futures_util::StreamExt as _;
use http_body_util::BodyDataStream;
use rquickjs::{Array, Ctx, Object, Value};
use verge_config::WorkerConfig;
use verge_js::{rquickjs, Ops};
use verge_storage::{
    check_r2_key, BucketStore, ByteStream, Conditions, GetOutcome, ListOptions, NewObject,
    ObjectInfo, ObjectRange, StorageError, UploadedPart,
};
use verge_web::{Body, BoxError, ChannelBody, NativeBody, WebHost};

pub(crate) const KIND: Kind = Kind {
    api: Some(
        verge_web::api!("src/r2/r2.js", quickjs register; globals []; internals ["makeR2Bucket"]),
    ),
    bind,
};

fn bind<'js>(
    ctx: &Ctx<'js>,
    config: &WorkerConfig,
    capabilities: &Capabilities,
    env: &Object<'js>,
) -> rquickjs::Result<()> {
    let bindings = config.r2_buckets.iter();
    let named = bindings.map(|r2| (r2.binding.as_str(), r2.bucket()));
    let store = &capabilities.stores.buckets;
    crate::bind_namespaces(ctx, env, "R2", store, "makeR2Bucket", named)
}

/// One bucket as a worker sees it.
type R2Binding = Namespace<dyn BucketStore>;

/// An object's description as `r2.js` reads it:
/// `[key, version, size, etag, uploaded, httpMetadata, customMetadata, checksums]`.
fn info<'js>(ctx: &Ctx<'js>, info: ObjectInfo) -> rquickjs::Result<Value<'js>> {
    let array = Array::new(ctx.clone())?;
    array.set(0, info.key)?;
    array.set(1, info.version)?;
    #[allow(clippy::cast_precision_loss)]
    {
        array.set(2, info.size as f64)?;
        array.set(4, info.uploaded_ms as f64)?;
    }
    array.set(3, info.etag)?;
    array.set(5, info.http_metadata)?;
    array.set(6, info.custom_metadata)?;
    array.set(7, info.checksums)?;
    Ok(array.into_value())
}

fn maybe_info<'js>(ctx: &Ctx<'js>, found: Option<ObjectInfo>) -> rquickjs::Result<Value<'js>> {
    match found {
        Some(found) => info(ctx, found),
        None => Ok(Value::new_null(ctx.clone())),
    }
}

/// `onlyIf` as `r2.js` normalized it: `{ etagMatches, etagDoesNotMatch, uploadedBefore,
/// uploadedAfter, secondsGranularity }`, each optional.
fn conditions(only_if: Option<Object<'_>>) -> rquickjs::Result<Conditions> {
    let Some(only_if) = only_if else {
        return Ok(Conditions::default());
    };
    let time = |name: &str| -> rquickjs::Result<Option<u64>> {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(only_if
            .get::<_, Option<f64>>(name)?
            .map(|ms| ms.max(0.0) as u64))
    };
    Ok(Conditions {
        etag_matches: only_if.get("etagMatches")?,
        etag_does_not_match: only_if.get("etagDoesNotMatch")?,
        uploaded_before_ms: time("uploadedBefore")?,
        uploaded_after_ms: time("uploadedAfter")?,
        seconds_granularity: only_if.get::<_, Option<bool>>("secondsGranularity")? == Some(true),
    })
}

/// What `put` and `createMultipartUpload` give a new object: `{ http, custom, checksums }`.
fn new_object(object: &Object<'_>) -> rquickjs::Result<NewObject> {
    let checksums: Option<Vec<Vec<String>>> = object.get("checksums")?;
    Ok(NewObject {
        http_metadata: object.get("http")?,
        custom_metadata: object.get("custom")?,
        expected: checksums
            .unwrap_or_default()
            .into_iter()
            .filter_map(|pair| match <[String; 2]>::try_from(pair) {
                Ok([name, hex]) => Some((name, hex)),
                Err(_) => None,
            })
            .collect(),
    })
}

/// The bytes of a body the script handed over, as the store reads them.
fn byte_stream(body: Body) -> ByteStream {
    match body {
        Body::Empty => Box::pin(futures_util::stream::empty()),
        Body::Full(bytes) => Box::pin(futures_util::stream::once(async { Ok(bytes) })),
        Body::Stream(native) => Box::pin(BodyDataStream::new(native).map(|chunk| {
            chunk.map_err(|e| StorageError::Invalid(format!("the body could not be read: {e}")))
        })),
    }
}

/// A store's stream as a body a script can read. The channel holds two chunks: the store
/// reads ahead no further than that of what the script has taken.
fn native_body(mut stream: ByteStream) -> NativeBody {
    let (sender, body) = ChannelBody::channel(2);
    tokio::task::spawn_local(async move {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| -> BoxError { Box::new(e) });
            if sender.send(chunk).await.is_err() {
                return;
            }
        }
    });
    body
}

/// A body value from JavaScript (`internals.hostBody`) as a stream for the store.
fn body_of<'js>(ctx: &Ctx<'js>, body: Value<'js>) -> rquickjs::Result<ByteStream> {
    Ok(byte_stream(verge_web::host_body_from_js(ctx, body)?))
}

pub(crate) fn register<'js>(ops: &Ops<'js>, _host: &WebHost) -> rquickjs::Result<()> {
    ops.add("r2Head", move |ctx: Ctx<'js>, id: usize, key: String| {
        let checked = check_r2_key(&key);
        let head = move |r2: R2Binding| r2.store.head(&r2.name, &key);
        binding_call(&ctx, id, checked, head, maybe_info)
    })?;
    ops.add(
        "r2Get",
        move |ctx: Ctx<'js>,
              id: usize,
              key: String,
              range: Array<'js>,
              only_if: Option<Object<'js>>| {
            let checked = check_r2_key(&key);
            let (offset, length, suffix): (Option<f64>, Option<f64>, Option<f64>) =
                (range.get(0)?, range.get(1)?, range.get(2)?);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let whole = |n: f64| n.max(0.0) as u64;
            let range = match (offset, length, suffix) {
                (_, _, Some(suffix)) => Some(ObjectRange::Suffix(whole(suffix))),
                (None, None, None) => None,
                (offset, length, None) => Some(ObjectRange::From {
                    offset: offset.map_or(0, whole),
                    length: length.map(whole),
                }),
            };
            let only_if = conditions(only_if)?;
            let get = move |r2: R2Binding| r2.store.get(&r2.name, &key, range, only_if);
            binding_call(&ctx, id, checked, get, |ctx, outcome| {
                // null; [info, null] when the conditions failed; [info, span, stream].
                let found = Array::new(ctx.clone())?;
                match outcome {
                    GetOutcome::Missing => return Ok(Value::new_null(ctx.clone())),
                    GetOutcome::Unmet(object) => {
                        found.set(0, info(ctx, object)?)?;
                        found.set(1, Value::new_null(ctx.clone()))?;
                    }
                    GetOutcome::Found {
                        info: object,
                        span,
                        body,
                    } => {
                        found.set(0, info(ctx, object)?)?;
                        #[allow(clippy::cast_precision_loss)]
                        found.set(1, vec![span.0 as f64, span.1 as f64])?;
                        found.set(2, verge_web::native_stream(ctx, native_body(body))?)?;
                    }
                }
                Ok(found.into_value())
            })
        },
    )?;
    ops.add(
        "r2Put",
        move |ctx: Ctx<'js>,
              id: usize,
              key: String,
              body: Value<'js>,
              object: Object<'js>,
              only_if: Option<Object<'js>>| {
            let checked = check_r2_key(&key);
            let body = body_of(&ctx, body)?;
            let (object, only_if) = (new_object(&object)?, conditions(only_if)?);
            let put = move |r2: R2Binding| r2.store.put(&r2.name, &key, body, object, only_if);
            binding_call(&ctx, id, checked, put, maybe_info)
        },
    )?;
    ops.add(
        "r2Delete",
        move |ctx: Ctx<'js>, id: usize, keys: Vec<String>| {
            let checked = keys.iter().try_for_each(|key| check_r2_key(key));
            let delete = move |r2: R2Binding| r2.store.delete(&r2.name, keys);
            binding_call(&ctx, id, checked, delete, undefined)
        },
    )?;
    ops.add(
        "r2List",
        move |ctx: Ctx<'js>, id: usize, options: Object<'js>| {
            let options = ListOptions {
                prefix: options
                    .get::<_, Option<String>>("prefix")?
                    .unwrap_or_default(),
                delimiter: options.get("delimiter")?,
                cursor: options.get("cursor")?,
                start_after: options.get("startAfter")?,
                limit: options.get("limit")?,
            };
            let list = move |r2: R2Binding| r2.store.list(&r2.name, options);
            binding_call(&ctx, id, Ok(()), list, |ctx, page| {
                let objects = Array::new(ctx.clone())?;
                for (index, object) in page.objects.into_iter().enumerate() {
                    objects.set(index, info(ctx, object)?)?;
                }
                let result = Array::new(ctx.clone())?;
                result.set(0, objects)?;
                result.set(1, page.delimited_prefixes)?;
                result.set(2, page.cursor)?;
                Ok(result.into_value())
            })
        },
    )?;
    register_multipart(ops)
}

fn register_multipart<'js>(ops: &Ops<'js>) -> rquickjs::Result<()> {
    ops.add(
        "r2CreateMultipart",
        move |ctx: Ctx<'js>, id: usize, key: String, object: Object<'js>| {
            let checked = check_r2_key(&key);
            let object = new_object(&object)?;
            let create = move |r2: R2Binding| r2.store.create_multipart(&r2.name, &key, object);
            binding_call(&ctx, id, checked, create, |ctx, upload_id| {
                Ok(rquickjs::String::from_str(ctx.clone(), &upload_id)?.into_value())
            })
        },
    )?;
    ops.add(
        "r2UploadPart",
        move |ctx: Ctx<'js>,
              id: usize,
              key: String,
              upload_id: String,
              part_number: u32,
              body: Value<'js>| {
            let body = body_of(&ctx, body)?;
            let upload = move |r2: R2Binding| {
                r2.store
                    .upload_part(&r2.name, &key, &upload_id, part_number, body)
            };
            binding_call(&ctx, id, Ok(()), upload, |ctx, etag| {
                Ok(rquickjs::String::from_str(ctx.clone(), &etag)?.into_value())
            })
        },
    )?;
    ops.add(
        "r2CompleteMultipart",
        move |ctx: Ctx<'js>, id: usize, key: String, upload_id: String, parts: Vec<Array<'js>>| {
            let parts = parts
                .iter()
                .map(|part| {
                    Ok(UploadedPart {
                        part_number: part.get(0)?,
                        etag: part.get(1)?,
                    })
                })
                .collect::<rquickjs::Result<_>>()?;
            let complete = move |r2: R2Binding| {
                r2.store
                    .complete_multipart(&r2.name, &key, &upload_id, parts)
            };
            binding_call(&ctx, id, Ok(()), complete, info)
        },
    )?;
    ops.add(
        "r2AbortMultipart",
        move |ctx: Ctx<'js>, id: usize, key: String, upload_id: String| {
            let abort = move |r2: R2Binding| r2.store.abort_multipart(&r2.name, &key, &upload_id);
            binding_call(&ctx, id, Ok(()), abort, undefined)
        },
    )
}
