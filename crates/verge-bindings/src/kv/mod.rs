//! KV namespace bindings (`kv_namespaces` → [`KvStore`] → `env.MY_KV`): the ops behind
//! `kv.js`. Each binding of an isolate has an id, its index in the isolate's table of bindings.

use crate::{binding_call, undefined, Capabilities, Kind, Namespace};
use bytes::Bytes;
use rquickjs::{Ctx, Object, TypedArray, Value};
use verge_config::WorkerConfig;
use verge_js::{rquickjs, Ops};
use verge_storage::{check_kv_entry, check_kv_key, KvEntry, KvStore};
use verge_web::WebHost;

pub(crate) const KIND: Kind = Kind {
    api: Some(
        verge_web::api!("src/kv/kv.js", quickjs register; globals []; internals ["makeKvNamespace"]),
    ),
    bind,
};

fn bind<'js>(
    ctx: &Ctx<'js>,
    config: &WorkerConfig,
    capabilities: &Capabilities,
    env: &Object<'js>,
) -> rquickjs::Result<()> {
    let bindings = config.kv_namespaces.iter();
    let named = bindings.map(|kv| (kv.binding.as_str(), kv.namespace()));
    let store = &capabilities.stores.kv;
    crate::bind_namespaces(ctx, env, "KV", store, "makeKvNamespace", named)
}

/// One KV namespace as a worker sees it.
type KvBinding = Namespace<dyn KvStore>;

pub(crate) fn register<'js>(ops: &Ops<'js>, _host: &WebHost) -> rquickjs::Result<()> {
    ops.add("kvGet", move |ctx: Ctx<'js>, id: usize, key: String| {
        let checked = check_kv_key(&key);
        binding_call(
            &ctx,
            id,
            checked,
            move |kv: KvBinding| kv.store.get(&kv.name, &key),
            |ctx, entry| match entry {
                None => Ok(Value::new_null(ctx.clone())),
                Some(entry) => {
                    let found = rquickjs::Array::new(ctx.clone())?;
                    found.set(
                        0,
                        TypedArray::<u8>::new_copy(ctx.clone(), &entry.value[..])?,
                    )?;
                    found.set(1, entry.metadata)?;
                    found.set(2, entry.expiration)?;
                    Ok(found.into_value())
                }
            },
        )
    })?;
    ops.add(
        "kvPut",
        move |ctx: Ctx<'js>,
              id: usize,
              key: String,
              value: TypedArray<'js, u8>,
              expiration: Option<u64>,
              metadata: Option<String>| {
            let entry = KvEntry {
                value: Bytes::from(verge_js::bytes_of(&value)),
                expiration,
                metadata,
            };
            let checked = check_kv_key(&key).and_then(|()| check_kv_entry(&entry));
            binding_call(
                &ctx,
                id,
                checked,
                move |kv: KvBinding| kv.store.put(&kv.name, &key, entry),
                undefined,
            )
        },
    )?;
    ops.add("kvDelete", move |ctx: Ctx<'js>, id: usize, key: String| {
        let checked = check_kv_key(&key);
        binding_call(
            &ctx,
            id,
            checked,
            move |kv: KvBinding| kv.store.delete(&kv.name, &key),
            undefined,
        )
    })?;
    ops.add(
        "kvList",
        move |ctx: Ctx<'js>, id: usize, prefix: String, cursor: Option<String>, limit: usize| {
            let list =
                move |kv: KvBinding| kv.store.list(&kv.name, &prefix, cursor.as_deref(), limit);
            binding_call(&ctx, id, Ok(()), list, |ctx, page| {
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
            })
        },
    )
}
