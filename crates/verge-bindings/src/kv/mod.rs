//! KV namespace bindings (`kv_namespaces` → [`KvStore`] → `env.MY_KV`): the ops behind
//! `kv.js`. Each binding of an isolate has an id, its index in the isolate's table of bindings.

use crate::{store_call, Capabilities, Kind, Namespace};
use bytes::Bytes;
use rquickjs::{Ctx, Object};
use verge_config::WorkerConfig;
use verge_js::{async_data_op, rquickjs, AsyncDataOp, Data, IntoData};
use verge_storage::{check_kv_entry, check_kv_key, KvEntry, KvStore};
use verge_web::WebHost;

pub(crate) const KIND: Kind = Kind {
    api: Some(
        verge_web::api!("src/kv/kv.js", async_data ops; globals []; internals ["makeKvNamespace"]),
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

/// The ops, over data for every engine: each finds its namespace by id in the host's table.
fn ops(host: &WebHost) -> Vec<(&'static str, AsyncDataOp)> {
    let table = &host.bindings;
    let (get, put, delete, list) = (table.clone(), table.clone(), table.clone(), table.clone());
    vec![
        (
            "kvGet",
            async_data_op(move |id: usize, key: String| {
                let checked = check_kv_key(&key);
                let call = store_call(&get, id, checked, move |kv: KvBinding| {
                    kv.store.get(&kv.name, &key)
                });
                async move {
                    Ok(call.await?.map_or(Data::Null, |entry| {
                        Data::List(vec![
                            Data::Bytes(entry.value.to_vec()),
                            entry.metadata.into_data(),
                            entry.expiration.into_data(),
                        ])
                    }))
                }
            }),
        ),
        (
            "kvPut",
            async_data_op(
                move |id: usize,
                      key: String,
                      value: verge_js::Bytes,
                      expiration: Option<u64>,
                      metadata: Option<String>| {
                    let entry = KvEntry {
                        value: Bytes::from(value.0),
                        expiration,
                        metadata,
                    };
                    let checked = check_kv_key(&key).and_then(|()| check_kv_entry(&entry));
                    store_call(&put, id, checked, move |kv: KvBinding| {
                        kv.store.put(&kv.name, &key, entry)
                    })
                },
            ),
        ),
        (
            "kvDelete",
            async_data_op(move |id: usize, key: String| {
                let checked = check_kv_key(&key);
                store_call(&delete, id, checked, move |kv: KvBinding| {
                    kv.store.delete(&kv.name, &key)
                })
            }),
        ),
        (
            "kvList",
            async_data_op(
                move |id: usize, prefix: String, cursor: Option<String>, limit: usize| {
                    let call = store_call(&list, id, Ok(()), move |kv: KvBinding| {
                        kv.store.list(&kv.name, &prefix, cursor.as_deref(), limit)
                    });
                    async move {
                        let page = call.await?;
                        let keys = page.keys.into_iter().map(|key| {
                            Data::List(vec![
                                Data::String(key.name),
                                key.metadata.into_data(),
                                key.expiration.into_data(),
                            ])
                        });
                        Ok(Data::List(vec![
                            Data::List(keys.collect()),
                            page.cursor.into_data(),
                        ]))
                    }
                },
            ),
        ),
    ]
}
