//! The WebDAV core: RFC 4918 (methods, properties, multistatus), RFC 3744
//! (the privilege properties clients read), RFC 5397 (current-user-principal),
//! RFC 5689 (extended MKCOL), RFC 6578 (sync-collection), RFC 4331 (quota).
//!
//! Not implemented: locking (class 2), ACL changes, BIND, search.
//!
//! [`Dav::handle`] takes an authenticated request and returns the response.
//! It knows nothing about sockets, TLS or SQL: it talks to the [`Store`]
//! trait and hands calendar and contact bodies to `caldav` / `carddav`.

pub mod body;
mod copymove;
mod delete;
pub mod error;
mod get;
pub mod headers;
pub mod hits;
pub mod mkcol;
pub mod multistatus;
pub mod path;
pub mod propfind;
pub mod proppatch;
pub mod props;
mod put;
mod report;
pub mod resource;
pub mod sync;
pub mod xml;

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};

pub use body::Body;
pub use error::{DavError, DavResult};
use path::{Area, DavPath};

use crate::store::{Principal, Store};

/// Storage per user unless configured otherwise: ample for calendars and
/// contacts, and a bound on what one account can take of the disk.
pub const DEFAULT_QUOTA_BYTES: i64 = 5 * 1024 * 1024 * 1024;

/// Limits and policies of the DAV layer.
#[derive(Debug, Clone)]
pub struct DavSettings {
    /// Largest calendar object or vCard (CalDAV/CardDAV `max-resource-size`).
    pub max_resource_size: usize,
    /// Largest file in the plain file space.
    pub max_file_size: usize,
    /// Largest XML request body (PROPFIND, PROPPATCH, REPORT, MKCOL).
    pub max_xml_body: usize,
    /// Quota of users without their own; `None` = unlimited.
    pub default_quota: Option<i64>,
}

impl Default for DavSettings {
    fn default() -> Self {
        DavSettings {
            max_resource_size: 10 * 1024 * 1024,
            max_file_size: 100 * 1024 * 1024,
            max_xml_body: 2 * 1024 * 1024,
            default_quota: Some(DEFAULT_QUOTA_BYTES),
        }
    }
}

/// The DAV request handler, shared by all connections; cheap to clone into
/// the tasks that stream long responses.
#[derive(Clone)]
pub struct Dav {
    pub store: Arc<dyn Store>,
    pub settings: Arc<DavSettings>,
}

/// Methods Skjold implements, for `Allow` and OPTIONS.
pub const DAV_CLASSES: &str = "1, 3, access-control, calendar-access, addressbook, extended-mkcol";

/// The methods a resource at `path` may allow. Computed from the path's shape
/// alone, so that OPTIONS reveals nothing about what exists.
pub fn allowed_methods(path: Option<&DavPath>) -> &'static str {
    match path {
        Some(DavPath::InHome { area: Area::Calendars, segments, .. }) if segments.len() == 1 => {
            "OPTIONS, GET, HEAD, PROPFIND, PROPPATCH, REPORT, MKCALENDAR, MKCOL, DELETE, COPY, MOVE, PUT"
        }
        Some(DavPath::InHome { .. }) => {
            "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, REPORT, MKCOL, COPY, MOVE"
        }
        Some(_) => "OPTIONS, GET, HEAD, PROPFIND, REPORT",
        None => "OPTIONS",
    }
}

/// The request as every handler sees it.
pub struct Ctx<'a> {
    pub user: &'a Principal,
    pub path: DavPath,
    pub parts: http::request::Parts,
}

impl Dav {
    pub fn new(store: Arc<dyn Store>, settings: DavSettings) -> Self {
        Dav { store, settings: Arc::new(settings) }
    }

    /// Handles one authenticated request.
    pub async fn handle<B>(&self, user: &Principal, request: Request<B>) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = request.into_parts();
        let path = DavPath::parse(parts.uri.path());
        let allow = allowed_methods(path.as_ref().ok().and_then(Option::as_ref));
        let result = match path {
            Ok(Some(path)) => {
                let ctx = Ctx { user, path, parts };
                self.dispatch(&ctx, body).await
            }
            Ok(None) => Err(DavError::not_found()),
            Err(e) => Err(e),
        };
        let mut response = result.unwrap_or_else(error_response);
        // RFC 9110 §15.5.6: a 405 lists what the resource does allow.
        if response.status() == StatusCode::METHOD_NOT_ALLOWED {
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        response
    }

    async fn dispatch<B>(&self, ctx: &Ctx<'_>, body: B) -> DavResult<Response<Body>>
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let method = ctx.parts.method.clone();
        match method.as_str() {
            "GET" => get::get(self, ctx, false).await,
            "HEAD" => get::get(self, ctx, true).await,
            "PUT" => {
                let limit = match ctx.path {
                    DavPath::InHome { area: Area::Files, .. } => self.settings.max_file_size,
                    _ => self.settings.max_resource_size,
                };
                let body =
                    read_body(&ctx.parts, body, limit).await.map_err(|e| too_large_object(e, &ctx.path))?;
                put::put(self, ctx, body).await
            }
            "DELETE" => delete::delete(self, ctx).await,
            "PROPFIND" => {
                let body = read_body(&ctx.parts, body, self.settings.max_xml_body).await?;
                propfind::propfind(self, ctx, &body).await
            }
            "PROPPATCH" => {
                let body = read_body(&ctx.parts, body, self.settings.max_xml_body).await?;
                proppatch::proppatch(self, ctx, &body).await
            }
            "MKCOL" | "MKCALENDAR" => {
                let body = read_body(&ctx.parts, body, self.settings.max_xml_body).await?;
                mkcol::mkcol(self, ctx, &body, method.as_str() == "MKCALENDAR").await
            }
            "COPY" | "MOVE" => copymove::copy_move(self, ctx, method.as_str() == "MOVE").await,
            "REPORT" => {
                let body = read_body(&ctx.parts, body, self.settings.max_xml_body).await?;
                report::report(self, ctx, &body).await
            }
            "OPTIONS" => Ok(options_response(Some(&ctx.path))),
            _ => {
                Err(DavError::new(StatusCode::METHOD_NOT_ALLOWED, format!("{method} is not supported here")))
            }
        }
    }
}

/// RFC 4791 §5.3.2.1 and RFC 6352 §6.3.2.1: an object over the size limit
/// breaks the `max-resource-size` precondition.
fn too_large_object(e: DavError, path: &DavPath) -> DavError {
    let ns = match path {
        DavPath::InHome { area: Area::Calendars, .. } => xml::CALDAV,
        DavPath::InHome { area: Area::Addressbooks, .. } => xml::CARDDAV,
        _ => return e,
    };
    if e.status != StatusCode::PAYLOAD_TOO_LARGE {
        return e;
    }
    DavError::condition(StatusCode::FORBIDDEN, ns, "max-resource-size", e.message)
}

/// The answer to a (non-CORS) OPTIONS request.
pub fn options_response(path: Option<&DavPath>) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    let h = r.headers_mut();
    h.insert("DAV", HeaderValue::from_static(DAV_CLASSES));
    h.insert(header::ALLOW, HeaderValue::from_static(allowed_methods(path)));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
}

/// Turns an error into its response, with a `DAV:error` body.
pub fn error_response(e: DavError) -> Response<Body> {
    let mut r = Response::new(Body::full(e.body()));
    *r.status_mut() = e.status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml; charset=utf-8"));
    r
}

/// Reads a request body, refusing anything above `limit` bytes (413) without
/// buffering it, by `Content-Length` up front and while streaming.
pub async fn read_body<B>(parts: &http::request::Parts, body: B, limit: usize) -> DavResult<Bytes>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if let Some(len) = parts.headers.get(header::CONTENT_LENGTH) {
        let len: u64 = len
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| DavError::bad_request("invalid Content-Length"))?;
        if len > limit as u64 {
            return Err(DavError::payload_too_large(limit));
        }
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            Err(DavError::payload_too_large(limit))
        }
        Err(e) => Err(DavError::bad_request(format!("could not read the request body: {e}"))),
    }
}

/// A 207 Multi-Status response around `body`.
pub fn multistatus(body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::MULTI_STATUS;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml; charset=utf-8"));
    r
}

/// An empty response with a status.
pub fn status_response(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` for a unix time.
pub fn http_date(unix: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0) as u64);
    httpdate::fmt_http_date(t)
}

/// RFC 3339 UTC (`creationdate`).
pub fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).unwrap_or_default().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The status line text used inside multistatus bodies.
pub fn status_line(status: StatusCode) -> String {
    format!("HTTP/1.1 {} {}", status.as_u16(), status.canonical_reason().unwrap_or(""))
}
