//! The accept loop: HTTP/1.1 connections with a cap on how many are open, a deadline for each
//! request's header (which also ends idle keep-alive connections), and graceful shutdown.
//!
//! A client that stalls is answered in the API's error shape where an answer makes sense: a
//! header cut off half-way gets `408 request_timeout` before the connection closes (a connection
//! idle between requests is just closed), a connection over the cap gets `503 overloaded` with
//! `Retry-After`. Slow bodies are [`super::edge`]'s business. Every request carries the peer's
//! address as `ConnectInfo<SocketAddr>` (sign-in rate limits, loopback-only metrics).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::error::ApiError;
use super::limits::HttpLimits;

/// Connections over the cap that are answered at once; more are closed without an answer.
const REFUSALS_AT_ONCE: usize = 64;

/// How long open requests get to finish once shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long a refused or timed-out connection gets to take its answer before it is closed.
const LAST_WORDS: Duration = Duration::from_secs(2);

/// Serves `app` on `listener` until `shutdown` resolves, then waits for open requests to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let refusing = Arc::new(Semaphore::new(REFUSALS_AT_ONCE));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: say so and keep serving the
                    // connections already open; a peer that hung up before accept is no news.
                    if !matches!(e.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset) {
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            // Answered while few are waiting for their answer; past that, just closed.
            if let Ok(answering) = refusing.clone().try_acquire_owned() {
                tokio::spawn(async move {
                    refuse(stream).await;
                    drop(answering);
                });
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = Tracked::new(stream);
        let tracked = io.clone();
        let service = TowerToHyperService::new(tower::service_fn({
            let app = app.clone();
            move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(req.map(axum::body::Body::new))
            }
        }));
        let conn = graceful.watch(http.serve_connection(TokioIo::new(io), service));
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = conn.await
                && e.is_timeout()
                && tracked.partial.load(Ordering::Relaxed)
            {
                tracked.answer_timeout().await;
            }
        });
    }
    drop(listener);
    // Requests in progress finish; a stream that would never end (a chat's event stream) is
    // cut after a while rather than holding the shutdown for ever.
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period were closed");
    }
    Ok(())
}

/// The whole response sent on a raw socket, in the API's error shape, closing the connection.
fn raw_response(error: ApiError) -> Vec<u8> {
    let status = error.status;
    let retry = error.retry_after_secs();
    let body = error.body().to_string();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    if let Some(s) = retry {
        head.push_str(&format!("retry-after: {s}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// Answers a connection over the cap and closes it.
async fn refuse(mut stream: TcpStream) {
    let answer = raw_response(
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "The server has too many open connections. Try again shortly.",
        )
        .retry_after(Duration::from_secs(1)),
    );
    last_words(&mut stream, &answer).await;
}

/// Writes `answer`, then drains what the client still sends for a moment, so closing does not
/// reset the connection before the client has read the answer.
async fn last_words(stream: &mut TcpStream, answer: &[u8]) {
    let _ = tokio::time::timeout(LAST_WORDS, async {
        stream.write_all(answer).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        io::Result::Ok(())
    })
    .await;
}

/// The connection's socket, shared between hyper and this module so that a request whose
/// header timed out can still be answered after hyper has given the connection up. It notes
/// whether bytes of a request have arrived since the last answer was written.
#[derive(Clone)]
struct Tracked {
    stream: Arc<Mutex<Option<TcpStream>>>,
    partial: Arc<AtomicBool>,
}

impl Tracked {
    fn new(stream: TcpStream) -> Self {
        Tracked {
            stream: Arc::new(Mutex::new(Some(stream))),
            partial: Arc::new(AtomicBool::new(false)),
        }
    }

    fn with<T>(
        &self,
        f: impl FnOnce(Pin<&mut TcpStream>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let mut slot = self.stream.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_mut() {
            Some(s) => f(Pin::new(s)),
            None => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }

    /// A request's header did not arrive in time: say so, then close.
    async fn answer_timeout(&self) {
        let stream = self.stream.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut stream) = stream {
            let answer = raw_response(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "The request's header did not arrive in time.",
            ));
            last_words(&mut stream, &answer).await;
        }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = self.with(|s| s.poll_read(cx, buf));
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.partial.store(true, Ordering::Relaxed);
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = self.with(|s| s.poll_write(cx, data));
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.partial.store(false, Ordering::Relaxed);
        }
        polled
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|s| s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|s| s.poll_shutdown(cx))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = self.with(|s| s.poll_write_vectored(cx, bufs));
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.partial.store(false, Ordering::Relaxed);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        true
    }
}
