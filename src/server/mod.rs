//! Transport: the listener, TLS, HTTP/1.1 and HTTP/2, limits, CORS,
//! authentication, per-request logs and graceful shutdown. It knows nothing
//! about DAV beyond handing authenticated requests to [`Dav`].
//!
//! Shape after mini-redis: a semaphore caps connections, every connection is
//! watched by a graceful-shutdown handle, and a shutdown signal stops the
//! accept loop, then waits for in-flight requests to finish.

mod idle;
pub mod tls;

use idle::IdleTimeout;

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::auth::{AuthOutcome, Authenticator};
use crate::dav::path::DavPath;
use crate::dav::{self, Body, Dav, DavError};

/// How long a client has to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long shutdown waits for in-flight requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Headers a CORS preflight may ask for.
const CORS_ALLOW_HEADERS: &str =
    "Authorization, Content-Type, Depth, If-Match, If-None-Match, Prefer, Destination, Overwrite";
const CORS_ALLOW_METHODS: &str =
    "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, REPORT, MKCOL, MKCALENDAR, COPY, MOVE";
const CORS_EXPOSE_HEADERS: &str = "ETag, DAV, Location, Preference-Applied";

/// Transport settings.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub max_connections: usize,
    /// Time allowed to produce a response's head.
    pub request_timeout: Duration,
    /// Time a kept-alive HTTP/1.1 connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Largest request head (request line and headers).
    pub max_header_bytes: usize,
    pub cors_allowed_origins: Vec<String>,
    /// Take the client address from `X-Forwarded-For` (behind a reverse proxy).
    pub trust_forwarded_for: bool,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            max_connections: 1024,
            request_timeout: Duration::from_secs(300),
            idle_timeout: Duration::from_secs(120),
            max_header_bytes: 64 * 1024,
            cors_allowed_origins: Vec::new(),
            trust_forwarded_for: false,
        }
    }
}

/// What every request needs.
pub struct App {
    pub dav: Dav,
    pub auth: Authenticator,
    pub settings: ServerSettings,
    request_ids: AtomicU64,
}

impl App {
    pub fn new(dav: Dav, auth: Authenticator, settings: ServerSettings) -> Self {
        App { dav, auth, settings, request_ids: AtomicU64::new(1) }
    }

    fn allowed_origin<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
        self.settings.cors_allowed_origins.iter().any(|o| o == origin).then_some(origin)
    }

    fn client_address(&self, headers: &HeaderMap, peer: IpAddr) -> IpAddr {
        if !self.settings.trust_forwarded_for {
            return peer;
        }
        headers
            .get("X-Forwarded-For")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next_back())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(peer)
    }

    /// Handles one request end to end, logging it.
    pub async fn handle(&self, request: Request<Incoming>, peer: IpAddr, https: bool) -> Response<Body> {
        let started = Instant::now();
        let id = self.request_ids.fetch_add(1, Ordering::Relaxed);
        let method = request.method().clone();
        let log_path = log_path(request.uri().path());
        let origin = self.allowed_origin(request.headers()).map(str::to_owned);
        let client = self.client_address(request.headers(), peer);

        let (mut response, user) =
            match tokio::time::timeout(self.settings.request_timeout, self.route(request, client)).await {
                Ok(r) => r,
                Err(_) => (
                    dav::error_response(DavError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the request took too long",
                    )),
                    None,
                ),
            };

        let h = response.headers_mut();
        if let Some(origin) = origin.as_deref().and_then(|o| HeaderValue::from_str(o).ok()) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
            h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(CORS_EXPOSE_HEADERS));
            h.append(header::VARY, HeaderValue::from_static("Origin"));
        } else if !self.settings.cors_allowed_origins.is_empty() {
            h.append(header::VARY, HeaderValue::from_static("Origin"));
        }
        if https {
            h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
        }
        tracing::info!(
            target: "skjold::request",
            id,
            method = %method,
            path = %log_path,
            status = response.status().as_u16(),
            ms = started.elapsed().as_millis() as u64,
            user = user.as_deref().unwrap_or("-"),
        );
        response
    }

    async fn route(&self, request: Request<Incoming>, client: IpAddr) -> (Response<Body>, Option<String>) {
        let headers = request.headers();
        if request.method() == Method::OPTIONS {
            if headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
                && let Some(origin) = self.allowed_origin(headers)
            {
                return (preflight(origin), None);
            }
            let path = DavPath::parse(request.uri().path()).ok().flatten();
            return (dav::options_response(path.as_ref()), None);
        }
        let path = request.uri().path();
        if path == "/.well-known/caldav"
            || path == "/.well-known/carddav"
            || path.starts_with("/.well-known/caldav/")
            || path.starts_with("/.well-known/carddav/")
        {
            let mut r = dav::status_response(StatusCode::MOVED_PERMANENTLY);
            r.headers_mut().insert(header::LOCATION, HeaderValue::from_static(dav::path::DAV_ROOT));
            return (r, None);
        }
        let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        match self.auth.authenticate(authorization, client).await {
            AuthOutcome::Authenticated(user) => {
                let response = self.dav.handle(&user, request).await;
                (response, Some(user.name))
            }
            AuthOutcome::Unauthorized => (unauthorized(), None),
            AuthOutcome::Throttled { retry_after } => (throttled(retry_after), None),
        }
    }
}

fn preflight(origin: &str) -> Response<Body> {
    let mut r = dav::status_response(StatusCode::NO_CONTENT);
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(CORS_ALLOW_METHODS));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(CORS_ALLOW_HEADERS));
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    r
}

fn unauthorized() -> Response<Body> {
    let mut r = dav::error_response(DavError::new(StatusCode::UNAUTHORIZED, "authentication required"));
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"Skjold\", charset=\"UTF-8\""),
    );
    r
}

fn throttled(retry_after: u64) -> Response<Body> {
    let mut r = dav::error_response(DavError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too many failed logins; wait before trying again",
    ));
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// The path as logged: the place in the layout, never resource names, which
/// can carry personal data (a file called after a diagnosis, a contact's name).
pub fn log_path(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let keep = match segments.as_slice() {
        ["dav", "calendars" | "addressbooks", ..] => 4,
        ["dav", ..] => 3,
        _ => 2,
    };
    let mut out = String::new();
    for s in segments.iter().take(keep) {
        out.push('/');
        out.extend(s.chars().take(64));
    }
    if segments.len() > keep {
        out.push_str("/…");
    }
    if out.is_empty() || path.ends_with('/') && segments.len() <= keep {
        out.push('/');
    }
    out
}

/// A bound listener and what it serves.
pub struct Listener {
    pub listener: TcpListener,
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Listener {
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(app: Arc<App>, listener: Listener, shutdown: impl std::future::Future<Output = ()>) {
    let connections = Arc::new(Semaphore::new(app.settings.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(app.settings.idle_timeout)
        .max_buf_size(app.settings.max_header_bytes.max(8192))
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(app.settings.max_header_bytes as u32)
        .keep_alive_interval(Some(Duration::from_secs(60)))
        .keep_alive_timeout(Duration::from_secs(20));
    let acceptor = listener.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        let idle = app.settings.idle_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            let https = acceptor.is_some();
            let service = service_fn(move |req: Request<Incoming>| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(app.handle(req, peer.ip(), https).await) }
            });
            let stream = IdleTimeout::new(stream, idle);
            let result = match acceptor {
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            watcher
                                .watch(builder.serve_connection(TokioIo::new(tls), service).into_owned())
                                .await
                        }
                        Ok(Err(e)) => {
                            tracing::info!(client = %peer.ip(), error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    }
                }
                None => {
                    watcher.watch(builder.serve_connection(TokioIo::new(stream), service).into_owned()).await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: waiting for requests in progress");
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("all connections closed"),
        _ = tokio::time::sleep(SHUTDOWN_GRACE) => tracing::warn!("requests still running after {SHUTDOWN_GRACE:?}; stopping anyway"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_paths_hide_resource_names() {
        for (path, logged) in [
            ("/", "/"),
            ("/dav/", "/dav/"),
            ("/dav/principals/alice/", "/dav/principals/alice/"),
            ("/dav/calendars/alice/work/secret-meeting.ics", "/dav/calendars/alice/work/…"),
            ("/dav/files/alice/Medical/diagnosis.pdf", "/dav/files/alice/…"),
            ("/dav/addressbooks/alice/default/", "/dav/addressbooks/alice/default/"),
            ("/.well-known/caldav", "/.well-known/caldav"),
        ] {
            assert_eq!(log_path(path), logged, "{path}");
        }
    }
}
