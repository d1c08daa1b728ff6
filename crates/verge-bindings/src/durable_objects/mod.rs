//! Durable Object bindings (`durable_objects.bindings` → the server's [`ObjectHost`] →
//! `env.COUNTER`, a `DurableObjectNamespace`), and the state of the object an isolate holds
//! ([`object_state`] → its `ctx`, with storage on an [`ObjectStorage`]): the ops behind
//! `durable_objects.js`.
//!
//! Ids are 32 bytes in hex: 16 that name the object (random, or a hash of the namespace and the
//! name) and 16 of an HMAC of those under a key derived from the namespace's worker and class,
//! so that `idFromString` knows an id of its own namespace from any other string of 64 hex
//! digits, as Cloudflare's does. The key is derived from public names: it tells namespaces
//! apart, it authenticates nothing (a worker reaches only the namespaces it is bound to).
//! Storage calls are synchronous: see `verge_storage::ObjectStorage`.

use crate::{Capabilities, Kind};
use ring::{digest, hmac};
use rquickjs::{Array, Ctx, Object, TypedArray, Value};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use verge_config::WorkerConfig;
use verge_js::{rquickjs, OpError, Ops};
use verge_storage::{
    check_object_keys, check_object_value, KeyRange, ObjectStorage, SqlValue, StorageError,
};
use verge_web::{Outbound, OutboundFuture, Request, WebHost};

pub(crate) const KIND: Kind = Kind {
    api: Some(
        verge_web::api!("src/durable_objects/durable_objects.js", quickjs register;
        globals ["WebSocketRequestResponsePair"];
        internals ["makeDurableObjectNamespace", "makeObjectState", "makeObjectId"]),
    ),
    bind,
};

/// What an RPC call answers: the structured serialization of its reply (see `rpc.js`).
pub type CallFuture = Pin<Box<dyn Future<Output = Result<String, OpError>>>>;

/// One Durable Object, wherever it lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectAddress {
    /// The worker that exports its class.
    pub script: String,
    pub class: String,
    /// 64 lower-case hex digits.
    pub id: String,
    /// The name its id was made from, if it was (`ctx.id.name`).
    pub name: Option<String>,
    /// The stub's `locationHint`, if it had one: where a new object would rather be held.
    pub hint: Option<String>,
    /// Its class's identity (see [`verge_config::class_identity`]), which renames keep: what
    /// the object's id, storage and, in a cluster, its lease and log belong to.
    pub identity: String,
}

/// Where requests and calls for Durable Objects go: granted by the server, which runs each
/// object in one place.
pub trait ObjectHost {
    fn fetch(&self, object: ObjectAddress, request: Request) -> OutboundFuture;
    /// Calls `method` of `object` with the serialized `args`, for a request `depth` calls deep.
    fn call(&self, object: ObjectAddress, method: String, args: String, depth: u32) -> CallFuture;
    /// The identity of class `class` of worker `script`, as that worker's `[[migrations]]`
    /// tell.
    fn class_identity(&self, _script: &str, class: &str) -> String {
        class.to_owned()
    }
}

/// A `durable_objects` binding: the namespace of one class.
#[derive(Clone)]
struct NamespaceBinding {
    host: Rc<dyn ObjectHost>,
    script: String,
    class: String,
    identity: String,
    key: hmac::Key,
}

impl NamespaceBinding {
    fn new(host: Rc<dyn ObjectHost>, script: &str, class: &str) -> Self {
        // Keyed by the class's identity, so that a rename keeps its ids.
        let identity = host.class_identity(script, class);
        let secret = digest::digest(
            &digest::SHA256,
            format!("verge durable object namespace\0{script}\0{identity}").as_bytes(),
        );
        Self {
            host,
            script: script.to_owned(),
            class: class.to_owned(),
            identity,
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.as_ref()),
        }
    }

    /// The id whose first half is `body`.
    fn id(&self, body: &[u8]) -> String {
        let tag = hmac::sign(&self.key, body);
        let mut id = String::with_capacity(64);
        for byte in body.iter().chain(&tag.as_ref()[..16]) {
            id.push_str(&format!("{byte:02x}"));
        }
        id
    }

    fn id_from_name(&self, name: &str) -> String {
        let signed = hmac::sign(&self.key, format!("name\0{name}").as_bytes());
        self.id(&signed.as_ref()[..16])
    }

    fn is_own(&self, text: &str) -> bool {
        let Some(bytes) = from_hex(text) else {
            return false;
        };
        bytes.len() == 32 && self.id(&bytes[..16]).eq_ignore_ascii_case(text)
    }

    /// The object a stub's target (`ID[@HINT][:NAME]`) stands for.
    fn address(&self, target: &str) -> ObjectAddress {
        let (id, name) = match target.split_once(':') {
            Some((id, name)) => (id, Some(name.to_owned())),
            None => (target, None),
        };
        let (id, hint) = match id.split_once('@') {
            Some((id, hint)) => (id, Some(hint.to_owned())),
            None => (id, None),
        };
        ObjectAddress {
            script: self.script.clone(),
            class: self.class.clone(),
            id: id.to_ascii_lowercase(),
            name,
            hint,
            identity: self.identity.clone(),
        }
    }
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

/// A namespace's `fetch()`: to the object its stub names.
struct NamespaceOutbound(NamespaceBinding);

impl Outbound for NamespaceOutbound {
    fn fetch(&self, _: Request) -> OutboundFuture {
        Box::pin(async {
            Err(OpError::Type(
                "fetch() goes through a stub: namespace.get(id).fetch(…)".into(),
            ))
        })
    }

    fn fetch_to(&self, target: String, request: Request) -> OutboundFuture {
        let binding = &self.0;
        binding.host.fetch(binding.address(&target), request)
    }
}

fn bind<'js>(
    ctx: &Ctx<'js>,
    config: &WorkerConfig,
    capabilities: &Capabilities,
    env: &Object<'js>,
) -> rquickjs::Result<()> {
    for binding in &config.durable_objects {
        let host = capabilities.objects.clone().ok_or_else(|| {
            rquickjs::Exception::throw_type(
                ctx,
                &format!(
                    "Durable Object binding {} has no host to run its objects",
                    binding.name
                ),
            )
        })?;
        let script = binding.script_name.as_deref().unwrap_or(&config.name);
        let namespace = NamespaceBinding::new(host, script, &binding.class_name);
        let fetcher = verge_web::fetcher(ctx, Rc::new(NamespaceOutbound(namespace.clone())))?;
        let id: usize = verge_web::keep(ctx, namespace)?;
        let make: rquickjs::Function =
            verge_web::internals(ctx)?.get("makeDurableObjectNamespace")?;
        env.set(binding.name.as_str(), make.call::<_, Value>((id, fetcher))?)?;
    }
    Ok(())
}

/// What an object's isolate holds back from its events: while a `blockConcurrencyWhile`
/// callback runs, the host delivers no other event to the object.
#[derive(Default)]
pub struct ObjectGate {
    blocked: Cell<u32>,
    /// Since when it has been closed.
    since: Cell<Option<std::time::Instant>>,
    opened: tokio::sync::Notify,
}

impl ObjectGate {
    /// Waits until no `blockConcurrencyWhile` callback is running: true once the gate is open,
    /// false if it has been closed for `limit` (the object should then be reset).
    pub async fn open_within(&self, limit: std::time::Duration) -> bool {
        while self.blocked.get() > 0 {
            let since = self.since.get().unwrap_or_else(std::time::Instant::now);
            let deadline = tokio::time::Instant::from_std(since + limit);
            tokio::select! {
                () = self.opened.notified() => {}
                () = tokio::time::sleep_until(deadline) => return self.blocked.get() == 0,
            }
        }
        true
    }

    /// Opens the gate whatever holds it: the isolate that held it is gone.
    pub fn reset(&self) {
        self.blocked.set(0);
        self.since.set(None);
        self.opened.notify_waiters();
    }

    fn block(&self, delta: i32) {
        let was = self.blocked.get();
        let blocked = was.saturating_add_signed(delta);
        self.blocked.set(blocked);
        if was == 0 && blocked > 0 {
            self.since.set(Some(std::time::Instant::now()));
        }
        if blocked == 0 {
            self.since.set(None);
            self.opened.notify_waiters();
        }
    }
}

/// What the server gives the Durable Object an isolate holds.
pub struct ObjectState {
    pub address: ObjectAddress,
    pub storage: Rc<RefCell<Box<dyn ObjectStorage>>>,
    pub gate: Rc<ObjectGate>,
    /// Told when the object sets (`Some(ms since the epoch)`) or deletes its alarm.
    pub alarm_changed: Rc<dyn Fn(Option<f64>)>,
    /// The WebSockets the object accepted with `ctx.acceptWebSocket`, which the server holds
    /// (and delivers events from) whether or not the object has an isolate.
    pub sockets: Rc<dyn HibernatableSockets>,
}

/// One WebSocket of a Durable Object's hibernation API, as the server holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldSocket {
    /// Its number among the object's sockets.
    pub number: u32,
    pub tags: Vec<String>,
    /// What `serializeAttachment` last kept, serialized.
    pub attachment: Option<String>,
}

/// The WebSockets a Durable Object accepted for hibernation: held by the server, outliving
/// the object's isolate.
pub trait HibernatableSockets {
    /// Holds `socket` (the object's end) with `tags`: its number, or why it cannot (the
    /// object holds as many as it may). A socket accepted with `accept()` (`listening`) has
    /// listeners in the object's isolate: it keeps the isolate, and closes with it.
    fn adopt(
        &self,
        socket: verge_web::HostSocket,
        tags: Vec<String>,
        listening: bool,
    ) -> Result<u32, String>;
    /// Sends `frame` to the client of socket `number`.
    fn send(&self, number: u32, frame: verge_web::Frame);
    /// The sockets held, those with `tag` if one is given.
    fn list(&self, tag: Option<&str>) -> Vec<HeldSocket>;
    fn attach(&self, number: u32, attachment: String);
    /// The message answered with a message without waking the object, if one is set.
    fn set_auto_response(&self, pair: Option<(String, String)>);
    fn auto_response(&self) -> Option<(String, String)>;
}

/// The object's binding, as its ops find it.
#[derive(Clone)]
struct StateBinding {
    storage: Rc<RefCell<Box<dyn ObjectStorage>>>,
    gate: Rc<ObjectGate>,
    alarm_changed: Rc<dyn Fn(Option<f64>)>,
    sockets: Rc<dyn HibernatableSockets>,
}

/// The `DurableObjectState` (`ctx`) of the object of `state`.
pub fn object_state<'js>(ctx: &Ctx<'js>, state: ObjectState) -> rquickjs::Result<Value<'js>> {
    let ObjectState {
        address,
        storage,
        gate,
        alarm_changed,
        sockets,
    } = state;
    let binding = StateBinding {
        storage,
        gate,
        alarm_changed,
        sockets,
    };
    let id: usize = verge_web::keep(ctx, binding)?;
    let make: rquickjs::Function = verge_web::internals(ctx)?.get("makeObjectState")?;
    make.call((id, address.id, address.name))
}

/// Runs `work` on the storage of object binding `id`; a storage error is thrown as the class
/// its kind calls for.
fn with_storage<'js, T>(
    ctx: &Ctx<'js>,
    id: usize,
    work: impl FnOnce(&mut dyn ObjectStorage) -> Result<T, StorageError>,
) -> rquickjs::Result<T> {
    let binding: StateBinding = verge_web::bound(ctx, id)?;
    let mut storage = binding.storage.try_borrow_mut().map_err(|_| {
        rquickjs::Exception::throw_message(ctx, "Durable Object storage is busy: try again")
    })?;
    work(storage.as_mut()).map_err(|error| throw(ctx, error))
}

fn throw(ctx: &Ctx<'_>, error: StorageError) -> rquickjs::Error {
    match error {
        StorageError::Invalid(message) => rquickjs::Exception::throw_type(ctx, &message),
        other => rquickjs::Exception::throw_message(ctx, &other.to_string()),
    }
}

fn bytes_to_text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_default()
}

pub(crate) fn register<'js>(ops: &Ops<'js>, _host: &WebHost) -> rquickjs::Result<()> {
    ops.add(
        "objectIdFromName",
        |ctx: Ctx<'js>, id: usize, name: String| {
            let namespace: NamespaceBinding = verge_web::bound(&ctx, id)?;
            Ok::<_, rquickjs::Error>(namespace.id_from_name(&name))
        },
    )?;
    ops.add("objectNewUniqueId", |ctx: Ctx<'js>, id: usize| {
        let namespace: NamespaceBinding = verge_web::bound(&ctx, id)?;
        let mut body = [0u8; 16];
        getrandom::fill(&mut body).map_err(|e| {
            rquickjs::Exception::throw_message(&ctx, &format!("no randomness for an id: {e}"))
        })?;
        Ok::<_, rquickjs::Error>(namespace.id(&body))
    })?;
    ops.add("objectCheckHint", |ctx: Ctx<'js>, hint: String| {
        if verge_config::location_hint(&hint).is_some() {
            return Ok(());
        }
        let known: Vec<&str> = verge_config::LOCATION_HINTS
            .iter()
            .map(|(name, _)| *name)
            .collect();
        Err(rquickjs::Exception::throw_type(
            &ctx,
            &format!(
                "\"{hint}\" is not a locationHint; the hints are {}.",
                known.join(", ")
            ),
        ))
    })?;
    ops.add("objectIdValid", |ctx: Ctx<'js>, id: usize, text: String| {
        let namespace: NamespaceBinding = verge_web::bound(&ctx, id)?;
        Ok::<_, rquickjs::Error>(namespace.is_own(&text))
    })?;
    ops.add(
        "objectCall",
        |ctx: Ctx<'js>, id: usize, target: String, method: String, args: String| {
            let namespace: NamespaceBinding = verge_web::bound(&ctx, id)?;
            let depth = verge_web::next_depth(&ctx)?;
            let reply = namespace
                .host
                .call(namespace.address(&target), method, args, depth);
            verge_js::spawn_promise(&ctx, reply, |ctx, reply| {
                rquickjs::String::from_str(ctx.clone(), &reply).map(|s| s.into_value())
            })
        },
    )?;
    ops.add(
        "objectGet",
        |ctx: Ctx<'js>, id: usize, keys: Vec<String>| {
            with_storage(&ctx, id, |storage| {
                check_object_keys(keys.iter().map(String::as_str))?;
                let values = storage.get(&keys)?;
                Ok(values
                    .into_iter()
                    .map(|value| value.map(bytes_to_text))
                    .collect::<Vec<_>>())
            })
        },
    )?;
    ops.add(
        "objectPut",
        |ctx: Ctx<'js>, id: usize, flat: Vec<String>| {
            with_storage(&ctx, id, |storage| {
                let entries: Vec<(String, Vec<u8>)> = flat
                    .chunks(2)
                    .filter_map(|pair| match pair {
                        [key, value] => Some((key.clone(), value.clone().into_bytes())),
                        _ => None,
                    })
                    .collect();
                check_object_keys(entries.iter().map(|(key, _)| key.as_str()))?;
                for (key, value) in &entries {
                    check_object_value(key, value)?;
                }
                storage.put(&entries)
            })
        },
    )?;
    ops.add(
        "objectDelete",
        |ctx: Ctx<'js>, id: usize, keys: Vec<String>| {
            with_storage(&ctx, id, |storage| {
                check_object_keys(keys.iter().map(String::as_str))?;
                storage.delete(&keys)
            })
        },
    )?;
    ops.add(
        "objectList",
        |ctx: Ctx<'js>,
         id: usize,
         bounds: Vec<Option<String>>,
         reverse: bool,
         limit: Option<usize>| {
            let mut bounds = bounds.into_iter();
            let range = KeyRange {
                start: bounds.next().flatten(),
                start_after: bounds.next().flatten(),
                end: bounds.next().flatten(),
                prefix: bounds.next().flatten(),
                reverse,
                limit,
            };
            with_storage(&ctx, id, |storage| {
                let entries = storage.list(&range)?;
                Ok(entries
                    .into_iter()
                    .flat_map(|(key, value)| [key, bytes_to_text(value)])
                    .collect::<Vec<_>>())
            })
        },
    )?;
    ops.add("objectDeleteAll", |ctx: Ctx<'js>, id: usize| {
        with_storage(&ctx, id, |storage| storage.delete_all())?;
        let binding: StateBinding = verge_web::bound(&ctx, id)?;
        (binding.alarm_changed)(None);
        Ok::<_, rquickjs::Error>(())
    })?;
    ops.add(
        "objectTransaction",
        |ctx: Ctx<'js>, id: usize, phase: String| {
            with_storage(&ctx, id, |storage| match phase.as_str() {
                "begin" => storage.begin_transaction(),
                "commit" => storage.end_transaction(true),
                _ => storage.end_transaction(false),
            })
        },
    )?;
    ops.add("objectCommit", |ctx: Ctx<'js>, id: usize| {
        with_storage(&ctx, id, |storage| storage.commit())
    })?;
    ops.add("objectSize", |ctx: Ctx<'js>, id: usize| {
        with_storage(&ctx, id, |storage| storage.size()).map(|size| size as f64)
    })?;
    ops.add("objectAlarm", |ctx: Ctx<'js>, id: usize| {
        with_storage(&ctx, id, |storage| storage.alarm())
    })?;
    ops.add(
        "objectSetAlarm",
        |ctx: Ctx<'js>, id: usize, at: Option<f64>| {
            with_storage(&ctx, id, |storage| storage.set_alarm(at))?;
            let binding: StateBinding = verge_web::bound(&ctx, id)?;
            (binding.alarm_changed)(at);
            Ok::<_, rquickjs::Error>(())
        },
    )?;
    ops.add("objectBlock", |ctx: Ctx<'js>, id: usize, delta: i32| {
        let binding: StateBinding = verge_web::bound(&ctx, id)?;
        binding.gate.block(delta);
        Ok::<_, rquickjs::Error>(())
    })?;
    ops.add(
        "objectAdoptSocket",
        |ctx: Ctx<'js>, id: usize, tags: Vec<String>, listening: bool| {
            let binding: StateBinding = verge_web::bound(&ctx, id)?;
            let (ours, theirs) = verge_web::HostSocket::pair();
            let number = binding
                .sockets
                .adopt(ours, tags, listening)
                .map_err(|why| rquickjs::Exception::throw_range(&ctx, &why))?;
            let parked = verge_web::park_socket(&ctx, theirs)?;
            Ok::<_, rquickjs::Error>(vec![number, parked])
        },
    )?;
    ops.add(
        "objectSocketSend",
        |ctx: Ctx<'js>, id: usize, number: u32, kind: String, data: Value<'js>| {
            let binding: StateBinding = verge_web::bound(&ctx, id)?;
            binding
                .sockets
                .send(number, verge_web::frame_of(&kind, data)?);
            Ok::<_, rquickjs::Error>(())
        },
    )?;
    ops.add(
        "objectSockets",
        |ctx: Ctx<'js>, id: usize, tag: Option<String>| {
            let binding: StateBinding = verge_web::bound(&ctx, id)?;
            let list = Array::new(ctx.clone())?;
            for (index, held) in binding.sockets.list(tag.as_deref()).into_iter().enumerate() {
                let entry = Array::new(ctx.clone())?;
                entry.set(0, held.number)?;
                entry.set(1, held.tags)?;
                entry.set(2, held.attachment)?;
                list.set(index, entry)?;
            }
            Ok::<_, rquickjs::Error>(list)
        },
    )?;
    ops.add(
        "objectSocketAttach",
        |ctx: Ctx<'js>, id: usize, number: u32, attachment: String| {
            let binding: StateBinding = verge_web::bound(&ctx, id)?;
            binding.sockets.attach(number, attachment);
            Ok::<_, rquickjs::Error>(())
        },
    )?;
    ops.add(
        "objectAutoResponse",
        |ctx: Ctx<'js>, id: usize, pair: Option<Vec<String>>| {
            let binding: StateBinding = verge_web::bound(&ctx, id)?;
            match pair {
                Some(pair) => {
                    let mut pair = pair.into_iter();
                    let request = pair.next().unwrap_or_default();
                    let response = pair.next().unwrap_or_default();
                    binding.sockets.set_auto_response(Some((request, response)));
                }
                None => binding.sockets.set_auto_response(None),
            }
            Ok::<_, rquickjs::Error>(())
        },
    )?;
    ops.add("objectGetAutoResponse", |ctx: Ctx<'js>, id: usize| {
        let binding: StateBinding = verge_web::bound(&ctx, id)?;
        Ok::<_, rquickjs::Error>(binding.sockets.auto_response().map(|(a, b)| vec![a, b]))
    })?;
    ops.add(
        "objectSql",
        |ctx: Ctx<'js>, id: usize, query: String, params: Vec<verge_js::Data>| {
            let params = params
                .into_iter()
                .map(crate::d1::sql_value)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| throw(&ctx, error))?;
            let outcome = with_storage(&ctx, id, |storage| storage.exec(&query, &params))?;
            let rows = Array::new(ctx.clone())?;
            for (index, row) in outcome.rows.into_iter().enumerate() {
                let values = Array::new(ctx.clone())?;
                for (column, value) in row.into_iter().enumerate() {
                    values.set(column, sql_to_js(&ctx, value)?)?;
                }
                rows.set(index, values)?;
            }
            let read = rows.len() as f64;
            let result = Array::new(ctx.clone())?;
            result.set(0, outcome.columns)?;
            result.set(1, rows)?;
            result.set(2, read)?;
            result.set(3, outcome.changes as f64)?;
            Ok::<_, rquickjs::Error>(result)
        },
    )
}

/// A column's value as the SQL API gives it: numbers, strings, null, and BLOBs as ArrayBuffers.
fn sql_to_js<'js>(ctx: &Ctx<'js>, value: SqlValue) -> rquickjs::Result<Value<'js>> {
    Ok(match value {
        SqlValue::Null => Value::new_null(ctx.clone()),
        SqlValue::Integer(n) => Value::new_number(ctx.clone(), n as f64),
        SqlValue::Real(x) => Value::new_number(ctx.clone(), x),
        SqlValue::Text(text) => rquickjs::String::from_str(ctx.clone(), &text)?.into_value(),
        SqlValue::Blob(bytes) => TypedArray::<u8>::new_copy(ctx.clone(), &bytes[..])?
            .arraybuffer()?
            .into_value(),
    })
}
