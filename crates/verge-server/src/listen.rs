//! Binding the listening socket before any thread starts, so that "Ready" means ready and a port
//! conflict is reported to the user, not discovered by a thread.
//!
//! Every serving thread accepts on its own handle to one socket. `SO_REUSEPORT` would spread
//! connections more evenly, but it would also let a second server silently share a port that is
//! already in use, which is the worse failure.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{SocketAddr, TcpListener};

/// One handle per serving thread to the same listening socket, and as many to the HTTPS one
/// if the server has one.
pub struct BoundListeners {
    pub(crate) listeners: Vec<TcpListener>,
    local_addr: SocketAddr,
    pub(crate) tls: Option<TlsListeners>,
}

/// The HTTPS socket's handles, and the TLS its connections are accepted with.
pub(crate) struct TlsListeners {
    pub(crate) listeners: Vec<TcpListener>,
    pub(crate) acceptor: tokio_rustls::TlsAcceptor,
    local_addr: SocketAddr,
}

/// Binds `addr` (port 0 picks a free port) and makes `count` handles to it; the address bound.
fn bind_handles(addr: SocketAddr, count: usize) -> io::Result<(Vec<TcpListener>, SocketAddr)> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    let first: TcpListener = socket.into();
    let local_addr = first.local_addr()?;
    let mut listeners = Vec::with_capacity(count.max(1));
    for _ in 1..count.max(1) {
        listeners.push(first.try_clone()?);
    }
    listeners.push(first);
    Ok((listeners, local_addr))
}

impl BoundListeners {
    /// Binds `addr` (port 0 picks a free port) and makes `count` handles to it.
    pub fn bind(addr: SocketAddr, count: usize) -> io::Result<Self> {
        let (listeners, local_addr) = bind_handles(addr, count)?;
        Ok(Self {
            listeners,
            local_addr,
            tls: None,
        })
    }

    /// Binds `addr` for HTTPS as well, its connections accepted with `config`.
    pub fn with_tls(
        mut self,
        addr: SocketAddr,
        config: std::sync::Arc<rustls::ServerConfig>,
    ) -> io::Result<Self> {
        let (listeners, local_addr) = bind_handles(addr, self.listeners.len())?;
        self.tls = Some(TlsListeners {
            listeners,
            acceptor: tokio_rustls::TlsAcceptor::from(config),
            local_addr,
        });
        Ok(self)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The HTTPS address bound, if any.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls.as_ref().map(|tls| tls.local_addr)
    }
}
