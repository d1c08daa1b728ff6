//! Object bucket bindings (`r2_buckets` → [`BucketStore`] → `env.BUCKET`, the R2 API): the
//! ops behind `r2.js`, over data for every engine. Bodies stream both ways: a `put` reads the
//! script's stream as the store writes it, and a `get` hands the script a stream fed by the
//! store.

use crate::{store_call, Capabilities, Kind, Namespace};
use futures_util::StreamExt as _;
use http_body_util::BodyDataStream;
use rquickjs::{Ctx, Object};
use verge_config::WorkerConfig;
use verge_js::{async_data_op, rquickjs, AsyncDataOp, Data, FromData, IntoData, OpError};
use verge_storage::{
    check_r2_key, BucketStore, ByteStream, Conditions, GetOutcome, ListOptions, NewObject,
    ObjectInfo, ObjectRange, StorageError, UploadedPart,
};
use verge_web::{Body, BoxError, ChannelBody, NativeBody, WebHost};

pub(crate) const KIND: Kind = Kind {
    api: Some(
        verge_web::api!("src/r2/r2.js", async_data ops; globals []; internals ["makeR2Bucket"]),
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
#[allow(clippy::cast_precision_loss)]
fn info(info: ObjectInfo) -> Data {
    Data::List(vec![
        Data::String(info.key),
        Data::String(info.version),
        Data::Number(info.size as f64),
        Data::String(info.etag),
        Data::Number(info.uploaded_ms as f64),
        Data::String(info.http_metadata),
        Data::String(info.custom_metadata),
        Data::String(info.checksums),
    ])
}

fn maybe_info(found: Option<ObjectInfo>) -> Data {
    found.map_or(Data::Null, info)
}

/// The fields of a list `r2.js` made, each taken in turn (`undefined` past the end).
struct Fields(std::vec::IntoIter<Data>);

impl Fields {
    fn next<T: FromData>(&mut self) -> Result<T, OpError> {
        T::from_data(self.0.next().unwrap_or(Data::Undefined))
    }
}

/// A time or byte count as `r2.js` gave it: milliseconds or bytes, never below 0.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn whole(n: f64) -> u64 {
    n.max(0.0) as u64
}

/// `onlyIf` as `r2.js` normalized it: `[etagMatches, etagDoesNotMatch, uploadedBefore,
/// uploadedAfter, secondsGranularity]`, each optional.
fn conditions(only_if: Option<Vec<Data>>) -> Result<Conditions, OpError> {
    let Some(only_if) = only_if else {
        return Ok(Conditions::default());
    };
    let mut fields = Fields(only_if.into_iter());
    Ok(Conditions {
        etag_matches: fields.next()?,
        etag_does_not_match: fields.next()?,
        uploaded_before_ms: fields.next::<Option<f64>>()?.map(whole),
        uploaded_after_ms: fields.next::<Option<f64>>()?.map(whole),
        seconds_granularity: fields.next::<Option<bool>>()? == Some(true),
    })
}

/// What `put` and `createMultipartUpload` give a new object: `[http, custom, checksums]`,
/// the checksums as `[name, hex]` pairs.
fn new_object(object: Vec<Data>) -> Result<NewObject, OpError> {
    let mut fields = Fields(object.into_iter());
    let (http_metadata, custom_metadata) = (fields.next()?, fields.next()?);
    let checksums: Vec<Vec<String>> = fields.next()?;
    Ok(NewObject {
        http_metadata,
        custom_metadata,
        expected: checksums
            .into_iter()
            .filter_map(|pair| match <[String; 2]>::try_from(pair) {
                Ok([name, hex]) => Some((name, hex)),
                Err(_) => None,
            })
            .collect(),
    })
}

/// `range` as `r2.js` normalized it: `[offset, length, suffix]`, each optional.
fn range(range: Vec<Option<f64>>) -> Option<ObjectRange> {
    let at = |index: usize| range.get(index).copied().flatten();
    match (at(0), at(1), at(2)) {
        (_, _, Some(suffix)) => Some(ObjectRange::Suffix(whole(suffix))),
        (None, None, None) => None,
        (offset, length, None) => Some(ObjectRange::From {
            offset: offset.map_or(0, whole),
            length: length.map(whole),
        }),
    }
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

/// The ops: each finds its bucket by id in the host's table.
fn ops(host: &WebHost) -> Vec<(&'static str, AsyncDataOp)> {
    let mut ops = object_ops(host);
    ops.extend(multipart_ops(host));
    ops
}

fn object_ops(host: &WebHost) -> Vec<(&'static str, AsyncDataOp)> {
    let (head, get, put) = (host.clone(), host.clone(), host.clone());
    let (delete, list) = (host.clone(), host.clone());
    vec![
        (
            "r2Head",
            async_data_op(move |id: usize, key: String| {
                let checked = check_r2_key(&key);
                let call = store_call(&head.bindings, id, checked, move |r2: R2Binding| {
                    r2.store.head(&r2.name, &key)
                });
                async move { Ok(maybe_info(call.await?)) }
            }),
        ),
        (
            // null; [info, null] when the conditions failed; [info, span, body].
            "r2Get",
            async_data_op(
                move |id: usize,
                      key: String,
                      span: Vec<Option<f64>>,
                      only_if: Option<Vec<Data>>| {
                    let checked = check_r2_key(&key);
                    let (range, tag) = (range(span), get.current_request.get());
                    let bodies = get.bodies.clone();
                    let call = conditions(only_if).map(|only_if| {
                        store_call(&get.bindings, id, checked, move |r2: R2Binding| {
                            r2.store.get(&r2.name, &key, range, only_if)
                        })
                    });
                    async move {
                        Ok(match call?.await? {
                            GetOutcome::Missing => Data::Null,
                            GetOutcome::Unmet(object) => Data::List(vec![info(object), Data::Null]),
                            GetOutcome::Found {
                                info: object,
                                span,
                                body,
                            } => {
                                let body = Body::Stream(native_body(body));
                                Data::List(vec![
                                    info(object),
                                    vec![span.0, span.1].into_data(),
                                    bodies.to_data(body, tag),
                                ])
                            }
                        })
                    }
                },
            ),
        ),
        (
            "r2Put",
            async_data_op(
                move |id: usize,
                      key: String,
                      body: Data,
                      object: Vec<Data>,
                      only_if: Option<Vec<Data>>| {
                    let checked = check_r2_key(&key);
                    let call = put.bodies.from_data(body).and_then(|body| {
                        let (object, only_if) = (new_object(object)?, conditions(only_if)?);
                        let body = byte_stream(body);
                        Ok(store_call(
                            &put.bindings,
                            id,
                            checked,
                            move |r2: R2Binding| {
                                r2.store.put(&r2.name, &key, body, object, only_if)
                            },
                        ))
                    });
                    async move { Ok(maybe_info(call?.await?)) }
                },
            ),
        ),
        (
            "r2Delete",
            async_data_op(move |id: usize, keys: Vec<String>| {
                let checked = keys.iter().try_for_each(|key| check_r2_key(key));
                store_call(&delete.bindings, id, checked, move |r2: R2Binding| {
                    r2.store.delete(&r2.name, keys)
                })
            }),
        ),
        (
            // [prefix, delimiter, cursor, startAfter, limit] → [infos, delimitedPrefixes, cursor].
            "r2List",
            async_data_op(move |id: usize, options: Vec<Data>| {
                let mut fields = Fields(options.into_iter());
                let options = (|| {
                    Ok::<_, OpError>(ListOptions {
                        prefix: fields.next::<Option<String>>()?.unwrap_or_default(),
                        delimiter: fields.next()?,
                        cursor: fields.next()?,
                        start_after: fields.next()?,
                        limit: fields.next()?,
                    })
                })();
                let call = options.map(|options| {
                    store_call(&list.bindings, id, Ok(()), move |r2: R2Binding| {
                        r2.store.list(&r2.name, options)
                    })
                });
                async move {
                    let page = call?.await?;
                    let objects = page.objects.into_iter().map(info).collect();
                    Ok(Data::List(vec![
                        Data::List(objects),
                        page.delimited_prefixes.into_data(),
                        page.cursor.into_data(),
                    ]))
                }
            }),
        ),
    ]
}

fn multipart_ops(host: &WebHost) -> Vec<(&'static str, AsyncDataOp)> {
    let (create, upload) = (host.clone(), host.clone());
    let (complete, abort) = (host.clone(), host.clone());
    vec![
        (
            "r2CreateMultipart",
            async_data_op(move |id: usize, key: String, object: Vec<Data>| {
                let checked = check_r2_key(&key);
                let call = new_object(object).map(|object| {
                    store_call(&create.bindings, id, checked, move |r2: R2Binding| {
                        r2.store.create_multipart(&r2.name, &key, object)
                    })
                });
                async move { call?.await }
            }),
        ),
        (
            "r2UploadPart",
            async_data_op(
                move |id: usize, key: String, upload_id: String, part_number: u32, body: Data| {
                    let call = upload.bodies.from_data(body).map(|body| {
                        let body = byte_stream(body);
                        store_call(&upload.bindings, id, Ok(()), move |r2: R2Binding| {
                            r2.store
                                .upload_part(&r2.name, &key, &upload_id, part_number, body)
                        })
                    });
                    async move { call?.await }
                },
            ),
        ),
        (
            // parts: [partNumber, etag] pairs.
            "r2CompleteMultipart",
            async_data_op(
                move |id: usize, key: String, upload_id: String, parts: Vec<Vec<Data>>| {
                    let parts = parts
                        .into_iter()
                        .map(|part| {
                            let mut fields = Fields(part.into_iter());
                            Ok(UploadedPart {
                                part_number: fields.next()?,
                                etag: fields.next()?,
                            })
                        })
                        .collect::<Result<Vec<_>, OpError>>();
                    let call = parts.map(|parts| {
                        store_call(&complete.bindings, id, Ok(()), move |r2: R2Binding| {
                            r2.store
                                .complete_multipart(&r2.name, &key, &upload_id, parts)
                        })
                    });
                    async move { Ok(info(call?.await?)) }
                },
            ),
        ),
        (
            "r2AbortMultipart",
            async_data_op(move |id: usize, key: String, upload_id: String| {
                store_call(&abort.bindings, id, Ok(()), move |r2: R2Binding| {
                    r2.store.abort_multipart(&r2.name, &key, &upload_id)
                })
            }),
        ),
    ]
}
