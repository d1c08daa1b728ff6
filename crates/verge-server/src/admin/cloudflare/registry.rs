//! The lists of what the API makes — KV namespaces, D1 databases, R2 buckets — kept in the KV
//! store itself, each in a namespace of its own: a key per id, its description (a title, a
//! name, when it was made) as the key's metadata. A cluster's PoPs and hub have the lists as
//! they have every key. Their prefix `verge:` keeps them apart from the ids the API makes
//! (hexadecimal), and verge-config refuses a binding that names one.

use super::{failure, store_failure, Refusal};
use bytes::Bytes;
use http::StatusCode;
use serde_json::{Map, Value};
use std::sync::Arc;
use verge_storage::{kv_limits, KvEntry, KvStore};

/// One list, by the KV namespace that holds it.
pub(super) struct Registry(pub(super) &'static str);

pub(super) const KV_NAMESPACES: Registry = Registry("verge:kv-namespaces");
pub(super) const D1_DATABASES: Registry = Registry("verge:d1-databases");
pub(super) const R2_BUCKETS: Registry = Registry("verge:r2-buckets");

/// The KV store that holds the lists; a server without one cannot make anything through the
/// API.
pub(super) fn kv_store(store: Option<&Arc<dyn KvStore>>) -> Result<&Arc<dyn KvStore>, Refusal> {
    store.ok_or_else(|| {
        failure(
            StatusCode::NOT_FOUND,
            10013,
            "this server has no KV store, where Verge lists what the API makes",
        )
    })
}

impl Registry {
    /// Every entry, in id order: its id and its description.
    pub(super) async fn all(
        &self,
        store: &Arc<dyn KvStore>,
    ) -> Result<Vec<(String, Map<String, Value>)>, Refusal> {
        let mut entries = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = store
                .list(self.0, "", cursor.as_deref(), kv_limits::LIST_LIMIT)
                .await
                .map_err(|e| store_failure(10001, e))?;
            for key in page.keys {
                let description = key
                    .metadata
                    .as_deref()
                    .and_then(|metadata| serde_json::from_str::<Map<String, Value>>(metadata).ok())
                    .unwrap_or_default();
                entries.push((key.name, description));
            }
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(entries),
            }
        }
    }

    /// The entry whose description has `field` equal to `value`, if any.
    pub(super) async fn find(
        &self,
        store: &Arc<dyn KvStore>,
        field: &str,
        value: &str,
    ) -> Result<Option<(String, Map<String, Value>)>, Refusal> {
        Ok(self
            .all(store)
            .await?
            .into_iter()
            .find(|(_, description)| description.get(field).and_then(Value::as_str) == Some(value)))
    }

    /// Entry `id`'s description, if it is listed.
    pub(super) async fn get(
        &self,
        store: &Arc<dyn KvStore>,
        id: &str,
    ) -> Result<Option<Map<String, Value>>, Refusal> {
        let entry = store
            .get(self.0, id)
            .await
            .map_err(|e| store_failure(10001, e))?;
        Ok(entry.map(|entry| {
            entry
                .metadata
                .as_deref()
                .and_then(|metadata| serde_json::from_str(metadata).ok())
                .unwrap_or_default()
        }))
    }

    /// Lists `id` with `description`, or describes it anew.
    pub(super) async fn put(
        &self,
        store: &Arc<dyn KvStore>,
        id: &str,
        description: Map<String, Value>,
    ) -> Result<(), Refusal> {
        let entry = KvEntry {
            value: Bytes::new(),
            expiration: None,
            metadata: Some(Value::Object(description).to_string()),
        };
        store
            .put(self.0, id, entry)
            .await
            .map_err(|e| store_failure(10001, e))
    }

    pub(super) async fn remove(&self, store: &Arc<dyn KvStore>, id: &str) -> Result<(), Refusal> {
        store
            .delete(self.0, id)
            .await
            .map_err(|e| store_failure(10001, e))
    }
}

/// 32 random hexadecimal digits, as Cloudflare's ids are.
pub(super) fn fresh_id() -> Result<String, Refusal> {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| {
            failure(
                StatusCode::INTERNAL_SERVER_ERROR,
                10001,
                "no randomness for an id",
            )
        })?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// A UUID (version 4) as D1's ids are, from [`fresh_id`]'s digits.
pub(super) fn fresh_uuid() -> Result<String, Refusal> {
    let hex = fresh_id()?;
    Ok(format!(
        "{}-{}-4{}-8{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    ))
}

/// Now, as Cloudflare writes times.
pub(super) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
