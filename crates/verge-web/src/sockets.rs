//! The native half of `cloudflare:sockets`' TCP connections, written once for every engine.
//! The network is the host's: the isolate's [`Outbound`](crate::Outbound) opens a
//! connection (where the outbound policy lets it, TLS if asked) and upgrades one to TLS. Here
//! each open connection is kept by id with the request that opened it, split into the half
//! `read` waits on and the half `write` and `shutdown` use, so reading and writing go on at
//! once; `close` (or the end of its request) ends a pending read and drops both halves.

use crate::WebHost;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use verge_js::{async_data_op, data_op, AsyncDataOp, Bytes, Data, DataOp, IdTable, OpError};

/// A byte stream both ways: a TCP connection, or TLS over one.
pub trait SocketIo: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> SocketIo for T {}

/// An open connection and its two ends' addresses (`host:port`).
pub struct Connected {
    pub io: Box<dyn SocketIo>,
    pub remote: String,
    pub local: String,
}

pub type ConnectFuture = Pin<Box<dyn Future<Output = Result<Connected, OpError>>>>;
pub type UpgradeFuture = Pin<Box<dyn Future<Output = Result<Box<dyn SocketIo>, OpError>>>>;

/// The most connections one isolate keeps open (or opening) at once.
const MAX_OPEN: usize = 256;
/// The most bytes one read hands to JavaScript.
const READ_CHUNK: usize = 64 * 1024;

/// An isolate's connections, and how many are still being opened.
#[derive(Default)]
pub(crate) struct TcpSockets {
    table: IdTable<Socket>,
    opening: Cell<usize>,
}

impl TcpSockets {
    /// Closes the connections request `tag` opened: as on Workers, a socket lives no longer
    /// than the request that made it.
    pub(crate) fn forget(&self, tag: u64) {
        self.table.retain(|socket| {
            let kept = socket.request != tag;
            if !kept {
                socket.closed.cancel();
            }
            kept
        });
    }

    fn keep(&self, socket: Socket) -> Data {
        let addresses = [
            Data::String(socket.remote.clone()),
            Data::String(socket.local.clone()),
        ];
        let id = self.table.insert(socket);
        let [remote, local] = addresses;
        Data::List(vec![Data::Number(id.into()), remote, local])
    }
}

/// One count of a connection being opened, let go when it is open or has failed.
struct Opening(Rc<TcpSockets>);

impl Drop for Opening {
    fn drop(&mut self) {
        self.0.opening.set(self.0.opening.get().saturating_sub(1));
    }
}

pub(crate) struct Socket {
    reader: Rc<Mutex<ReadHalf<Box<dyn SocketIo>>>>,
    writer: Rc<Mutex<WriteHalf<Box<dyn SocketIo>>>>,
    /// Cancelled when the socket is closed or upgraded: a read waiting on it ends.
    closed: CancellationToken,
    /// The request that opened it (0: none).
    request: u64,
    remote: String,
    local: String,
}

impl Socket {
    fn new(io: Box<dyn SocketIo>, request: u64, remote: String, local: String) -> Self {
        let (reader, writer) = tokio::io::split(io);
        Self {
            reader: Rc::new(Mutex::new(reader)),
            writer: Rc::new(Mutex::new(writer)),
            closed: CancellationToken::new(),
            request,
            remote,
            local,
        }
    }
}

fn closed_error() -> OpError {
    OpError::Error("Socket is closed".into())
}

fn io_error(what: &str) -> impl Fn(std::io::Error) -> OpError + '_ {
    move |e| OpError::Error(format!("{what}: {e}"))
}

/// `socketConnect(host, port, secure)` (once `socketCheck` let it): `[id, remote address,
/// local address]`; `socketRead(id)` (bytes, or undefined at the end), `socketWrite(id,
/// bytes)`, `socketShutdown(id)` (no more writes) and `socketStartTls(id, host)` (a new id for
/// the TLS connection, the same addresses).
pub(crate) fn ops(host: &WebHost) -> Vec<(&'static str, AsyncDataOp)> {
    let sockets = host.subrequests.tcp_sockets();
    let (reads, writes, shutdowns, upgrades) = (
        sockets.clone(),
        sockets.clone(),
        sockets.clone(),
        sockets.clone(),
    );
    let (opener, upgrader) = (host.clone(), host.outbound.clone());
    let connect = async_data_op(move |hostname: String, port: u32, secure: bool| {
        // `socketCheck` gave the port, as a u16, and counted this connection as opening.
        let port = u16::try_from(port).unwrap_or_default();
        let opening = Opening(sockets.clone());
        let request = opener.current_request.get();
        let connecting = opener.outbound.connect(hostname, port, secure);
        async move {
            let connected = connecting.await?;
            let socket = Socket::new(connected.io, request, connected.remote, connected.local);
            let kept = opening.0.keep(socket);
            drop(opening);
            Ok(kept)
        }
    });
    let read = async_data_op(move |id: u32| {
        let socket = reads
            .table
            .with(id, |s| (s.reader.clone(), s.closed.clone()));
        async move {
            let (reader, closed) = socket.ok_or_else(closed_error)?;
            let mut buffer = vec![0u8; READ_CHUNK];
            let read = tokio::select! {
                read = async { reader.lock().await.read(&mut buffer).await } => {
                    read.map_err(io_error("read failed"))?
                }
                () = closed.cancelled() => 0,
            };
            buffer.truncate(read);
            Ok((read > 0).then_some(Bytes(buffer)))
        }
    });
    let write = async_data_op(move |id: u32, bytes: Bytes| {
        let writer = writes.table.with(id, |s| s.writer.clone());
        async move {
            let writer = writer.ok_or_else(closed_error)?;
            let mut writer = writer.lock().await;
            writer
                .write_all(&bytes.0)
                .await
                .map_err(io_error("write failed"))?;
            writer.flush().await.map_err(io_error("write failed"))
        }
    });
    let shutdown = async_data_op(move |id: u32| {
        let writer = shutdowns.table.with(id, |s| s.writer.clone());
        async move {
            let writer = writer.ok_or_else(closed_error)?;
            let mut writer = writer.lock().await;
            writer.shutdown().await.map_err(io_error("close failed"))
        }
    });
    let start_tls = async_data_op(move |id: u32, hostname: String| {
        let socket = upgrades.table.remove(id);
        let (sockets, outbound) = (upgrades.clone(), upgrader.clone());
        async move {
            let socket = socket.ok_or_else(closed_error)?;
            // A read waiting on the plain connection ends (the old socket's readable is done
            // with); once no read or write holds them, both halves are the connection again.
            socket.closed.cancel();
            drop(socket.reader.lock().await);
            drop(socket.writer.lock().await);
            let (Ok(reader), Ok(writer)) =
                (Rc::try_unwrap(socket.reader), Rc::try_unwrap(socket.writer))
            else {
                return Err(OpError::Error(
                    "startTls(): the socket is still being read or written".into(),
                ));
            };
            let io = reader.into_inner().unsplit(writer.into_inner());
            let upgraded = outbound.start_tls(io, hostname).await?;
            Ok(sockets.keep(Socket::new(
                upgraded,
                socket.request,
                socket.remote,
                socket.local,
            )))
        }
    });
    vec![
        ("socketConnect", connect),
        ("socketRead", read),
        ("socketWrite", write),
        ("socketShutdown", shutdown),
        ("socketStartTls", start_tls),
    ]
}

/// `socketCheck(host, port)`: whether the current request may open this connection (which
/// counts as one of its subrequests, and as opening until `socketConnect` is done), before
/// `socketConnect` opens it: the port it gives back. `socketClose(id)`: ends a pending read and
/// lets the connection go.
pub(crate) fn sync_ops(host: &WebHost) -> Vec<(&'static str, DataOp)> {
    let (checker, sockets) = (host.clone(), host.subrequests.tcp_sockets());
    vec![
        (
            "socketCheck",
            data_op(move |hostname: String, port: f64| {
                check(&checker, &hostname, port).map(u32::from)
            }),
        ),
        (
            "socketClose",
            data_op(move |id: u32| {
                if let Some(socket) = sockets.table.remove(id) {
                    socket.closed.cancel();
                }
            }),
        ),
    ]
}

/// Checks a connection of the current request, and counts it.
fn check(host: &WebHost, hostname: &str, port: f64) -> Result<u16, OpError> {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let port = (port.fract() == 0.0 && (1.0..=65535.0).contains(&port))
        .then_some(port as u16)
        .ok_or_else(|| OpError::Range(format!("connect(): {port} is not a TCP port")))?;
    if hostname.is_empty() {
        return Err(OpError::Type(
            "connect(): the address has no hostname".into(),
        ));
    }
    // Mail goes out through a mail service, as on Workers.
    if port == 25 {
        return Err(OpError::Type(
            "connect(): TCP port 25 is not allowed; send mail through a mail service".into(),
        ));
    }
    let sockets = host.subrequests.tcp_sockets();
    if sockets.table.len() + sockets.opening.get() >= MAX_OPEN {
        return Err(OpError::Range(format!(
            "connect(): this worker already has {MAX_OPEN} sockets open; close some first"
        )));
    }
    host.subrequests
        .count(host.current_request.get(), host.subrequest_limit)?;
    sockets.opening.set(sockets.opening.get() + 1);
    Ok(port)
}

/// Where a socket is refused: hosts without sockets (a check, an isolate no worker owns yet).
pub(crate) fn refused<T: 'static>() -> Pin<Box<dyn Future<Output = Result<T, OpError>>>> {
    Box::pin(async { Err(OpError::Type("this worker cannot open sockets here".into())) })
}
