//! KV namespace bindings (`env.MY_KV`): the ops behind `js/kv.js`, over any [`KvStore`]. Each
//! binding of an isolate has an id, its index in the isolate's table of bindings.

use crate::WebHost;
use bytes::Bytes;
use rquickjs::{Ctx, Function, Object, TypedArray, Value};
use std::cell::RefCell;
use std::sync::Arc;
use verge_js::{rquickjs, OpError};
use verge_storage::{check_kv_entry, check_kv_key, KvEntry, KvStore, StorageError};

/// One KV namespace as a worker sees it.
#[derive(Clone)]
pub struct KvBinding {
    pub store: Arc<dyn KvStore>,
    pub namespace: String,
}

#[derive(Default)]
struct KvBindings(RefCell<Vec<KvBinding>>);

/// The `KVNamespace` object for `binding`, to put on `env`.
pub fn kv_namespace<'js>(ctx: &Ctx<'js>, binding: KvBinding) -> rquickjs::Result<Value<'js>> {
    verge_js::ensure_host_state::<KvBindings>(ctx)?;
    let id = verge_js::with_host_state(ctx, |bindings: &KvBindings| {
        let mut bindings = bindings.0.borrow_mut();
        bindings.push(binding);
        bindings.len() - 1
    })
    .unwrap_or_default();
    crate::internals(ctx)?
        .get::<_, Function>("makeKvNamespace")?
        .call((id,))
}

fn binding(ctx: &Ctx<'_>, id: usize) -> rquickjs::Result<KvBinding> {
    verge_js::with_host_state(ctx, |bindings: &KvBindings| {
        bindings.0.borrow().get(id).cloned()
    })
    .flatten()
    .ok_or_else(|| crate::type_error(ctx, "not a KV namespace of this worker"))
}

fn op_error(error: StorageError) -> OpError {
    match error {
        StorageError::Invalid(message) => OpError::Type(message),
        StorageError::Backend(message) => OpError::Error(message),
    }
}

pub(crate) fn register<'js>(
    ctx: &Ctx<'js>,
    ops: &Object<'js>,
    host: &WebHost,
) -> rquickjs::Result<()> {
    let isolate = host.isolate.clone();
    ops.set(
        "kvGet",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, id: usize, key: String| {
            let KvBinding { store, namespace } = binding(&ctx, id)?;
            let checked = check_kv_key(&key);
            verge_js::spawn_promise(
                &ctx,
                &isolate,
                async move {
                    checked.map_err(op_error)?;
                    store.get(&namespace, &key).await.map_err(op_error)
                },
                |ctx, entry| match entry {
                    None => Ok(Value::new_null(ctx.clone())),
                    Some(entry) => {
                        let pair = rquickjs::Array::new(ctx.clone())?;
                        pair.set(
                            0,
                            TypedArray::<u8>::new_copy(ctx.clone(), &entry.value[..])?,
                        )?;
                        pair.set(1, entry.metadata)?;
                        pair.set(2, entry.expiration)?;
                        Ok(pair.into_value())
                    }
                },
            )
        })?,
    )?;
    let isolate = host.isolate.clone();
    ops.set(
        "kvPut",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  id: usize,
                  key: String,
                  value: TypedArray<'js, u8>,
                  expiration: Option<u64>,
                  metadata: Option<String>| {
                let KvBinding { store, namespace } = binding(&ctx, id)?;
                let entry = KvEntry {
                    value: Bytes::from(verge_js::bytes_of(&value)),
                    expiration,
                    metadata,
                };
                let checked = check_kv_key(&key).and_then(|()| check_kv_entry(&entry));
                verge_js::spawn_promise(
                    &ctx,
                    &isolate,
                    async move {
                        checked.map_err(op_error)?;
                        store.put(&namespace, &key, entry).await.map_err(op_error)
                    },
                    |ctx, ()| Ok(Value::new_undefined(ctx.clone())),
                )
            },
        )?,
    )?;
    let isolate = host.isolate.clone();
    ops.set(
        "kvDelete",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, id: usize, key: String| {
            let KvBinding { store, namespace } = binding(&ctx, id)?;
            let checked = check_kv_key(&key);
            verge_js::spawn_promise(
                &ctx,
                &isolate,
                async move {
                    checked.map_err(op_error)?;
                    store.delete(&namespace, &key).await.map_err(op_error)
                },
                |ctx, ()| Ok(Value::new_undefined(ctx.clone())),
            )
        })?,
    )?;
    let isolate = host.isolate.clone();
    ops.set(
        "kvList",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  id: usize,
                  prefix: String,
                  cursor: Option<String>,
                  limit: usize| {
                let KvBinding { store, namespace } = binding(&ctx, id)?;
                verge_js::spawn_promise(
                    &ctx,
                    &isolate,
                    async move {
                        store
                            .list(&namespace, &prefix, cursor.as_deref(), limit)
                            .await
                            .map_err(op_error)
                    },
                    |ctx, page| {
                        let keys = rquickjs::Array::new(ctx.clone())?;
                        for (index, key) in page.keys.into_iter().enumerate() {
                            let entry = rquickjs::Array::new(ctx.clone())?;
                            entry.set(0, key.name)?;
                            entry.set(1, key.metadata)?;
                            entry.set(2, key.expiration)?;
                            keys.set(index, entry)?;
                        }
                        let result = rquickjs::Array::new(ctx.clone())?;
                        result.set(0, keys)?;
                        result.set(1, page.cursor)?;
                        Ok(result.into_value())
                    },
                )
            },
        )?,
    )
}
