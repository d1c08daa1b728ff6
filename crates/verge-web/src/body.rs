//! Native byte sources behind `ReadableStream`s: an incoming request body, a fetched response
//! body. JavaScript reads them by id through ops; a stream that JavaScript never touched can be
//! handed back to the host whole, so a pass-through proxy copies no bytes through the isolate.
//! The other way, a stream JavaScript made is piped into a native body (`bodyPipe`), which the
//! host sends as it would any other: JavaScript writes each chunk and waits for room.
//!
//! Between the engine and the host a body is data (see [`NativeBodies::to_data`]): null, a
//! string, bytes, or `['native', id]`.
//!
//! Lifecycle: one [`NativeBodies`] per isolate, in its [`WebHost`]. A source leaves the table
//! when it ends, is cancelled, is taken back by the host, when the request it was made for ends
//! unread, or when its stream is garbage-collected (the JS side registers a finalizer), so an
//! unread body never pins a connection.

use crate::WebHost;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::BodyExt;
use rquickjs::{Ctx, FromJs, Function, TypedArray, Value};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;
use tokio::sync::{mpsc, oneshot, Notify};
use verge_js::{async_data_op, data_op, rquickjs, AsyncDataOp, Data, DataOp, IdTable, OpError};

/// Errors a body can fail with while being read.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A body the host can hand to JavaScript or take back: any `http_body::Body` of bytes.
pub type NativeBody = BoxBody<Bytes, BoxError>;

type Slot = Rc<RefCell<Option<NativeBody>>>;

struct Source {
    slot: Slot,
    /// The request it was made for: like Workers' I/O objects, it does not outlive that
    /// request unless something has started reading it.
    tag: u64,
    touched: Cell<bool>,
}

/// An isolate's native bodies by id, in its [`WebHost`]: the host registers them, and
/// `native_body.js`'s ops (written once, for every engine) read them; and the writing ends of
/// the bodies JavaScript pipes to the host, by the same id.
#[derive(Default)]
pub struct NativeBodies {
    sources: IdTable<Source>,
    pipes: RefCell<HashMap<u32, Pipe>>,
    /// The read in flight of each body being read, which cancelling the body ends.
    reads: RefCell<HashMap<u32, Rc<Notify>>>,
}

/// The writing end of a pipe, and the word that its reading end was dropped (taken once, by
/// `bodyPipeGone`).
struct Pipe {
    sender: mpsc::Sender<Piece>,
    gone: Option<oneshot::Receiver<()>>,
}

impl NativeBodies {
    /// Registers `body`, made for request `tag` (0: none), and returns its id, for
    /// `internals.nativeStream(id)`.
    pub fn register(&self, body: NativeBody, tag: u64) -> u32 {
        self.sources.insert(Source {
            slot: Rc::new(RefCell::new(Some(body))),
            tag,
            touched: Cell::new(false),
        })
    }

    /// Takes a native body back (the stream wrapping it was never read).
    pub fn take(&self, id: u32) -> Option<NativeBody> {
        let source = self.sources.remove(id)?;
        let body = source.slot.borrow_mut().take();
        body
    }

    /// Drops the bodies made for request `tag` that nothing has started reading.
    pub fn drop_unread(&self, tag: u64) {
        self.sources
            .retain(|source| source.tag != tag || source.touched.get());
    }

    /// `body` as data for JavaScript: null, bytes, or `['native', id]` for a stream,
    /// registered for request `tag` (which `internals.nativeStream(id)` makes a stream of).
    pub fn to_data(&self, body: Body, tag: u64) -> Data {
        match body {
            Body::Empty => Data::Null,
            Body::Full(bytes) => Data::Bytes(bytes.to_vec()),
            Body::Stream(stream) => native(self.register(stream, tag)),
        }
    }

    /// The body `data` describes, as JavaScript's `internals.hostBody` gives it: null, a
    /// string, bytes, or `['native', id]` (taken back from this table).
    pub fn from_data(&self, data: Data) -> Result<Body, OpError> {
        match data {
            Data::Null | Data::Undefined => Ok(Body::Empty),
            Data::String(text) => Ok(Body::Full(Bytes::from(text))),
            Data::Bytes(bytes) => Ok(Body::Full(Bytes::from(bytes))),
            Data::List(native) => match native.as_slice() {
                [Data::String(kind), Data::Number(id)] if kind == "native" => {
                    Ok(self.take(*id as u32).map_or(Body::Empty, Body::Stream))
                }
                _ => Err(OpError::Type("not a body the host can take".into())),
            },
            _ => Err(OpError::Type("not a body the host can take".into())),
        }
    }

    /// Drops body `id`, and ends the read of it in flight, if any.
    pub fn cancel(&self, id: u32) {
        drop(self.take(id));
        if let Some(read) = self.reads.borrow_mut().remove(&id) {
            read.notify_one();
        }
    }

    /// Runs `read` of body `id` until it ends or the body is cancelled. Called as the read
    /// starts, so that a cancel before its first poll still ends it.
    fn cancellable<T>(
        self: &Rc<Self>,
        id: u32,
        read: impl Future<Output = Result<T, OpError>>,
    ) -> impl Future<Output = Result<T, OpError>> {
        let cancelled = Rc::new(Notify::new());
        self.reads.borrow_mut().insert(id, cancelled.clone());
        // Leaves the table with the future, whether it ran or not.
        let entry = ReadEntry {
            bodies: self.clone(),
            id,
            cancelled,
        };
        async move {
            tokio::select! {
                result = read => result,
                () = entry.cancelled.notified() => Err(OpError::Type("the body was cancelled".into())),
            }
        }
    }

    fn slot(&self, id: u32) -> Option<Slot> {
        self.sources.with(id, |source| {
            source.touched.set(true);
            source.slot.clone()
        })
    }

    /// A body JavaScript writes into (see `bodyPipe`): its id, here and among the pipes.
    fn pipe(&self, tag: u64) -> u32 {
        let (sender, receiver) = mpsc::channel(1);
        let (dropped, gone) = oneshot::channel();
        let body = PipedBody {
            receiver,
            _dropped: dropped,
            ended: false,
        };
        let id = self.register(body.boxed(), tag);
        let gone = Some(gone);
        self.pipes.borrow_mut().insert(id, Pipe { sender, gone });
        id
    }

    fn pipe_end(&self, id: u32) -> Option<mpsc::Sender<Piece>> {
        self.pipes.borrow().get(&id).map(|pipe| pipe.sender.clone())
    }

    /// Fails every pipe still being written: the isolate writing them was stopped at a limit
    /// and will write no more. Each body ends in an error once what was written is read.
    pub fn fail_pipes(&self) {
        self.pipes.borrow_mut().clear();
    }
}

/// A read in flight in [`NativeBodies`]'s table, which it leaves when dropped.
struct ReadEntry {
    bodies: Rc<NativeBodies>,
    id: u32,
    cancelled: Rc<Notify>,
}

impl Drop for ReadEntry {
    fn drop(&mut self) {
        let mut reads = self.bodies.reads.borrow_mut();
        if reads
            .get(&self.id)
            .is_some_and(|read| Rc::ptr_eq(read, &self.cancelled))
        {
            reads.remove(&self.id);
        }
    }
}

/// A native body as data: `['native', id]`.
fn native(id: u32) -> Data {
    Data::List(vec![Data::String("native".into()), Data::Number(id.into())])
}

/// Registers `body` in the isolate of `ctx`, for its current request, and returns its id.
pub fn register_body(ctx: &Ctx<'_>, body: NativeBody) -> u32 {
    let tag = verge_js::current_tag(ctx);
    verge_js::with_host_state(ctx, |host: &WebHost| host.bodies.register(body, tag)).unwrap_or(0)
}

fn read_error(error: BoxError) -> OpError {
    OpError::Type(format!("the body could not be read: {error}"))
}

/// Reads the next data frame; `None` at the end. Trailers are skipped.
async fn next_chunk(slot: &Slot) -> Result<Option<Bytes>, OpError> {
    // The body leaves its slot while being polled so that no RefCell borrow spans an await.
    let Some(mut body) = slot.borrow_mut().take() else {
        return Ok(None);
    };
    let result = loop {
        match body.frame().await {
            None => break Ok(None),
            Some(Err(error)) => break Err(read_error(error)),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if !data.is_empty() {
                        break Ok(Some(data));
                    }
                }
            }
        }
    };
    if matches!(result, Ok(Some(_))) {
        *slot.borrow_mut() = Some(body);
    }
    result
}

/// `bodyRead(id)` (the next chunk, `undefined` at the end) and `bodyReadAll(id)`, over the
/// host's [`NativeBodies`]; for a pipe, `bodyWrite(id, bytes)` (whether whoever reads the pipe
/// is still there, once the chunk has room), `bodyClose(id, error)`, and `bodyPipeGone(id)`,
/// settled when the pipe's reader is dropped (its client went away, or it was read to the end).
pub(crate) fn read_ops(host: &WebHost) -> Vec<(&'static str, AsyncDataOp)> {
    let (read, read_all) = (host.bodies.clone(), host.bodies.clone());
    let (write, close, gone) = (
        host.bodies.clone(),
        host.bodies.clone(),
        host.bodies.clone(),
    );
    vec![
        (
            "bodyPipeGone",
            async_data_op(move |id: u32| {
                let gone = gone
                    .pipes
                    .borrow_mut()
                    .get_mut(&id)
                    .and_then(|pipe| pipe.gone.take());
                async move {
                    if let Some(gone) = gone {
                        let _ = gone.await;
                    }
                }
            }),
        ),
        (
            "bodyWrite",
            async_data_op(move |id: u32, chunk: verge_js::Bytes| {
                let (bodies, pipe) = (write.clone(), write.pipe_end(id));
                async move {
                    let sent = match pipe {
                        Some(pipe) => pipe.send(Piece::Chunk(Bytes::from(chunk.0))).await.is_ok(),
                        None => false,
                    };
                    if !sent {
                        bodies.pipes.borrow_mut().remove(&id);
                    }
                    sent
                }
            }),
        ),
        (
            "bodyClose",
            async_data_op(move |id: u32, error: Option<String>| {
                let pipe = close.pipes.borrow_mut().remove(&id);
                async move {
                    let Some(Pipe { sender: pipe, .. }) = pipe else {
                        return;
                    };
                    let piece = match error {
                        None => Piece::End,
                        Some(error) => {
                            tracing::warn!("a body stream failed: {error}");
                            Piece::Failed(error)
                        }
                    };
                    let _ = pipe.send(piece).await;
                }
            }),
        ),
        (
            "bodyRead",
            async_data_op(move |id: u32| {
                let slot = read.slot(id);
                read.cancellable(id, async move {
                    let chunk = match slot {
                        Some(slot) => next_chunk(&slot).await?,
                        None => None,
                    };
                    Ok(chunk.map(|bytes| verge_js::Bytes(bytes.to_vec())))
                })
            }),
        ),
        (
            "bodyReadAll",
            async_data_op(move |id: u32| {
                let body = read_all.take(id);
                read_all.cancellable(id, async move {
                    let bytes = match body {
                        Some(body) => body.collect().await.map_err(read_error)?.to_bytes(),
                        None => Bytes::new(),
                    };
                    Ok(verge_js::Bytes(bytes.to_vec()))
                })
            }),
        ),
    ]
}

/// `bodyCancel(id)`: drops the body, ending a read of it in flight. `bodyPipe()`: a body for the current request that
/// JavaScript writes through `bodyWrite` and ends with `bodyClose`: its id.
pub(crate) fn cancel_ops(host: &WebHost) -> Vec<(&'static str, DataOp)> {
    let (bodies, pipes, request) = (
        host.bodies.clone(),
        host.bodies.clone(),
        host.current_request.clone(),
    );
    vec![
        ("bodyCancel", data_op(move |id: u32| bodies.cancel(id))),
        ("bodyPipe", data_op(move || pipes.pipe(request.get()))),
    ]
}

/// What JavaScript writes into a pipe.
enum Piece {
    Chunk(Bytes),
    End,
    Failed(String),
}

/// The reading end of a pipe: it ends when JavaScript says so, and fails if JavaScript stops
/// writing without saying (its isolate went or was stopped), so that a cut-off body never
/// looks complete. Dropping it tells `bodyPipeGone`.
struct PipedBody {
    receiver: mpsc::Receiver<Piece>,
    _dropped: oneshot::Sender<()>,
    ended: bool,
}

impl http_body::Body for PipedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        if self.ended {
            return std::task::Poll::Ready(None);
        }
        let polled = self.receiver.poll_recv(cx);
        polled.map(|piece| {
            if !matches!(piece, Some(Piece::Chunk(_))) {
                self.ended = true;
                self.receiver.close();
            }
            match piece {
                Some(Piece::Chunk(bytes)) => Some(Ok(http_body::Frame::data(bytes))),
                Some(Piece::End) => None,
                Some(Piece::Failed(error)) => Some(Err(error.into())),
                None => Some(Err(
                    "the worker stopped writing this body before its end".into()
                )),
            }
        })
    }
}

/// A body fed through a channel: the receiving half of a producer that applies backpressure by
/// waiting for room in the channel.
pub struct ChannelBody {
    receiver: tokio::sync::mpsc::Receiver<Result<Bytes, BoxError>>,
}

impl ChannelBody {
    /// A body and the sender that feeds it; `capacity` chunks may wait in between.
    pub fn channel(
        capacity: usize,
    ) -> (
        tokio::sync::mpsc::Sender<Result<Bytes, BoxError>>,
        NativeBody,
    ) {
        let (sender, receiver) = tokio::sync::mpsc::channel(capacity.max(1));
        (sender, ChannelBody { receiver }.boxed())
    }
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        self.receiver
            .poll_recv(cx)
            .map(|chunk| chunk.map(|result| result.map(http_body::Frame::data)))
    }
}

/// `body`, which holds exactly `length` bytes, saying so: whoever sends it (hyper) can then
/// state the length up front instead of chunking. A body that ends short or runs over fails.
pub fn with_length(body: NativeBody, length: u64) -> NativeBody {
    ExactLength {
        inner: body,
        remaining: length,
    }
    .boxed()
}

struct ExactLength {
    inner: NativeBody,
    remaining: u64,
}

impl http_body::Body for ExactLength {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        let std::task::Poll::Ready(frame) = polled else {
            return std::task::Poll::Pending;
        };
        let checked = match frame {
            Some(Ok(frame)) => {
                let size = frame.data_ref().map_or(0, |data| data.len() as u64);
                match self.remaining.checked_sub(size) {
                    Some(remaining) => {
                        self.remaining = remaining;
                        Some(Ok(frame))
                    }
                    None => Some(Err("the body is longer than its stated length".into())),
                }
            }
            None if self.remaining > 0 => {
                Some(Err("the body ended before its stated length".into()))
            }
            other => other,
        };
        std::task::Poll::Ready(checked)
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0 && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining)
    }
}

/// A request or response body as it crosses between the host and a worker.
pub enum Body {
    Empty,
    /// Bytes known in full.
    Full(Bytes),
    /// Bytes that arrive over time: an incoming upload, a fetched response, a stream a worker
    /// writes.
    Stream(NativeBody),
}

impl Body {
    /// The body as `http`'s types carry it.
    pub fn into_native(self) -> NativeBody {
        match self {
            Body::Empty => http_body_util::Empty::new()
                .map_err(|never| match never {})
                .boxed(),
            Body::Full(bytes) => http_body_util::Full::new(bytes)
                .map_err(|never| match never {})
                .boxed(),
            Body::Stream(stream) => stream,
        }
    }

    /// The same body again, to send once more; `None` for a stream, which is read only once.
    pub fn replay(&self) -> Option<Body> {
        match self {
            Body::Empty => Some(Body::Empty),
            Body::Full(bytes) => Some(Body::Full(bytes.clone())),
            Body::Stream(_) => None,
        }
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Empty => f.write_str("Body::Empty"),
            Body::Full(bytes) => write!(f, "Body::Full({} bytes)", bytes.len()),
            Body::Stream(_) => f.write_str("Body::Stream"),
        }
    }
}

/// A JavaScript value for `body`: null, or a ReadableStream over a native body.
pub fn native_stream<'js>(ctx: &Ctx<'js>, body: NativeBody) -> rquickjs::Result<Value<'js>> {
    let id = register_body(ctx, body);
    crate::internals(ctx)?
        .get::<_, Function>("nativeStream")?
        .call((id,))
}

/// A body as a JavaScript value for a Request or Response: null, bytes, or a stream.
pub fn host_body_to_js<'js>(ctx: &Ctx<'js>, body: Body) -> rquickjs::Result<Value<'js>> {
    match body {
        Body::Empty => Ok(Value::new_null(ctx.clone())),
        Body::Full(bytes) => Ok(TypedArray::<u8>::new_copy(ctx.clone(), &bytes[..])?.into_value()),
        Body::Stream(stream) => native_stream(ctx, stream),
    }
}

/// Converts the body `internals.hostBody` handed over (see `body.js`): data as
/// [`NativeBodies::from_data`] takes it.
pub fn host_body_from_js<'js>(ctx: &Ctx<'js>, body: Value<'js>) -> rquickjs::Result<Body> {
    let body = Data::from_js(ctx, body)?;
    verge_js::with_host_state(ctx, |host: &WebHost| host.bodies.from_data(body))
        .ok_or_else(|| crate::type_error(ctx, "the isolate's bodies are unavailable"))?
        .map_err(|error| ctx.throw(error.into_value(ctx)))
}

#[cfg(test)]
mod tests {
    // Test code fails by panicking.
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn of(bytes: &'static [u8]) -> NativeBody {
        Body::Full(Bytes::from_static(bytes)).into_native()
    }

    #[tokio::test]
    async fn a_body_of_stated_length_says_it_and_holds_to_it() {
        let exact = with_length(of(b"abc"), 3);
        assert_eq!(http_body::Body::size_hint(&exact).exact(), Some(3));
        assert_eq!(exact.collect().await.unwrap().to_bytes(), "abc");
        let short = with_length(of(b"abc"), 5).collect().await;
        assert!(short.unwrap_err().to_string().contains("ended before"));
        let long = with_length(of(b"abc"), 2).collect().await;
        assert!(long.unwrap_err().to_string().contains("longer"));
    }
}
