//! Serving one worker over HTTP/1.1 and HTTP/2 (cleartext, prior knowledge or upgrade-free).

use crate::BoundListeners;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::body::{Body as _, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::{mpsc, Arc};
use std::time::Instant;
use tokio::net::TcpListener;
use verge_config::WorkerConfig;
use verge_runtime::{
    Body, ConsoleSink, LoadError, LogLevel, NativeBody, Outcome, Worker, WorkerLimits,
    WorkerRequest,
};

/// Where a worker's console output goes, shared by every serving thread.
pub type LogSink = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

#[derive(Clone)]
pub struct EdgeOptions {
    pub limits: WorkerLimits,
    /// Request bodies above this size are refused with 413 (Workers' paid plan: 100 MB).
    pub max_request_body: usize,
    pub console: LogSink,
}

/// A server whose threads are loading or serving one worker.
pub struct RunningServer {
    loaded: mpsc::Receiver<Result<(), LoadError>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl RunningServer {
    /// Waits until every serving thread has loaded the worker, or one has failed to: the first
    /// failure is returned, and the caller should then exit.
    pub fn wait_loaded(&self) -> Result<(), LoadError> {
        for _ in 0..self.threads.len() {
            match self.loaded.recv() {
                Ok(Ok(())) => {}
                Ok(Err(error)) => return Err(error),
                Err(_) => break,
            }
        }
        Ok(())
    }

    /// Blocks until every serving thread has stopped.
    pub fn join(self) {
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// Starts one serving thread per listener, each loading its own isolate of `config`; connections
/// wait in the listen backlog until a thread has loaded the worker.
pub fn serve_worker(
    listeners: BoundListeners,
    config: Arc<WorkerConfig>,
    options: EdgeOptions,
) -> RunningServer {
    let (loaded_sender, loaded) = mpsc::channel();
    let threads = listeners
        .listeners
        .into_iter()
        .enumerate()
        .filter_map(|(index, listener)| {
            let config = config.clone();
            let options = options.clone();
            let loaded = loaded_sender.clone();
            std::thread::Builder::new()
                .name(format!("verge-serve-{index}"))
                .spawn(move || serve_thread(listener, &config, options, loaded))
                .map_err(|e| tracing::error!("cannot start serving thread {index}: {e}"))
                .ok()
        })
        .collect();
    RunningServer { loaded, threads }
}

fn serve_thread(
    listener: std::net::TcpListener,
    config: &WorkerConfig,
    options: EdgeOptions,
    loaded: mpsc::Sender<Result<(), LoadError>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return tracing::error!("cannot start the serving runtime: {e}"),
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let sink = options.console.clone();
        let console: ConsoleSink = Rc::new(move |level, text| sink(level, text));
        let worker = match Worker::load(config, options.limits.clone(), console).await {
            Ok(worker) => Rc::new(worker),
            Err(error) => {
                let _ = loaded.send(Err(error));
                return;
            }
        };
        let listener = match TcpListener::from_std(listener) {
            Ok(listener) => listener,
            Err(e) => return tracing::error!("cannot listen: {e}"),
        };
        let _ = loaded.send(Ok(()));
        let options = Rc::new(options);
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off rather than spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let worker = worker.clone();
            let options = options.clone();
            tokio::task::spawn_local(async move {
                let service = service_fn(move |request| {
                    handle(worker.clone(), options.clone(), peer, request)
                });
                let builder = auto::Builder::new(LocalExec);
                if let Err(e) = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!("connection from {peer} ended: {e}");
                }
            });
        }
    });
}

/// Runs HTTP/2 stream tasks on the thread's `LocalSet`: they call into the worker, which is `!Send`.
#[derive(Clone, Copy)]
struct LocalExec;

impl<F: std::future::Future + 'static> hyper::rt::Executor<F> for LocalExec {
    fn execute(&self, future: F) {
        tokio::task::spawn_local(future);
    }
}

async fn handle(
    worker: Rc<Worker>,
    options: Rc<EdgeOptions>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<NativeBody>, Infallible> {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let response = match to_worker_request(request, peer, options.max_request_body) {
        Ok(worker_request) => run(&worker, worker_request).await,
        Err(response) => response,
    };
    tracing::info!(
        target: "verge::request",
        "{method} {path} {} ({:.1} ms)",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(response)
}

async fn run(worker: &Worker, request: WorkerRequest) -> Response<NativeBody> {
    match worker.fetch(request).await {
        Outcome::Response(response) => {
            let mut builder = Response::builder().status(response.status);
            for (name, value) in &response.headers {
                // hyper frames the body itself; a worker's framing headers would contradict it.
                if matches!(
                    name.as_str(),
                    "content-length" | "transfer-encoding" | "connection" | "keep-alive"
                ) {
                    continue;
                }
                match (
                    HeaderName::from_bytes(name.as_bytes()),
                    latin1_header_value(value),
                ) {
                    (Ok(name), Some(value)) => builder = builder.header(name, value),
                    _ => tracing::warn!(
                        worker = worker.name(),
                        "dropped an invalid response header {name:?}"
                    ),
                }
            }
            let body = match response.body {
                Body::Empty => Empty::new().map_err(|never| match never {}).boxed_unsync(),
                Body::Full(bytes) => Full::new(bytes)
                    .map_err(|never| match never {})
                    .boxed_unsync(),
                Body::Stream(stream) => stream,
            };
            builder.body(body).unwrap_or_else(|_| {
                plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "invalid response from worker\n",
                )
            })
        }
        Outcome::Exception { error, .. } => {
            tracing::error!(worker = worker.name(), "uncaught exception: {error}");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error 1101: Worker threw exception\n",
            )
        }
    }
}

/// A header value from the worker, whose strings hold bytes as Latin-1 code points (ByteString).
fn latin1_header_value(value: &str) -> Option<HeaderValue> {
    let bytes: Option<Vec<u8>> = value
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect();
    HeaderValue::from_bytes(&bytes?).ok()
}

fn to_worker_request(
    request: Request<Incoming>,
    peer: SocketAddr,
    max_body: usize,
) -> Result<WorkerRequest, Response<NativeBody>> {
    let (parts, body) = request.into_parts();
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| parts.uri.authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_else(|| "localhost".into());
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let url = format!("http://{host}{path}");
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.as_bytes().iter().map(|&b| char::from(b)).collect(),
            )
        })
        .collect();
    let declared_length = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > max_body as u64) {
        return Err(plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large\n",
        ));
    }
    // The body streams into the worker as it arrives; one that outgrows the limit without
    // declaring its length fails the worker's read.
    let body = if body.is_end_stream() {
        Body::Empty
    } else {
        Body::Stream(Limited::new(body, max_body).boxed_unsync())
    };
    let version = format!("{:?}", parts.version);
    Ok(WorkerRequest {
        method: parts.method.as_str().to_owned(),
        url,
        headers,
        body,
        cf: serde_json::json!({
            "httpProtocol": version,
            "clientTcpRtt": 0,
            "clientIp": peer.ip().to_string(),
        }),
    })
}

fn plain(status: StatusCode, body: &'static str) -> Response<NativeBody> {
    let mut response = Response::new(
        Full::new(Bytes::from_static(body.as_bytes()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=UTF-8"),
    );
    response
}
