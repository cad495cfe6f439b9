//! REPORT dispatch (RFC 3253 §3.6). An unsupported report on a resource is
//! `403` with `DAV:supported-report`.

use http::{Response, StatusCode};

use super::error::{DavError, DavResult};
use super::headers::{self, Depth};
use super::props::Name;
use super::resource::{self, Lookup, Resource};
use super::sync;
use super::xml::{self, DAV};
use super::{Body, Ctx, Dav};
use crate::store::CollectionKind;

/// Reports a kind of collection supports besides `sync-collection`.
pub fn kind_reports(kind: CollectionKind) -> Vec<Name<'static>> {
    match kind {
        CollectionKind::Calendar => {
            vec![
                (xml::CALDAV, "calendar-query"),
                (xml::CALDAV, "calendar-multiget"),
                (xml::CALDAV, "free-busy-query"),
            ]
        }
        CollectionKind::CalendarHome => vec![(xml::CALDAV, "free-busy-query")],
        CollectionKind::Addressbook => {
            vec![(xml::CARDDAV, "addressbook-query"), (xml::CARDDAV, "addressbook-multiget")]
        }
        _ => Vec::new(),
    }
}

fn unsupported() -> DavError {
    DavError::condition(StatusCode::FORBIDDEN, DAV, "supported-report", "this report is not supported here")
}

pub async fn report(dav: &Dav, ctx: &Ctx<'_>, body: &[u8]) -> DavResult<Response<Body>> {
    let resource = match resource::lookup(dav.store.as_ref(), ctx.user, &ctx.path).await? {
        Lookup::Found(r) => r,
        _ => return Err(DavError::not_found()),
    };
    let root = xml::parse(body)?;
    let minimal = headers::prefers_minimal(&ctx.parts.headers);
    match (root.ns.as_str(), root.local.as_str()) {
        (DAV, "sync-collection") => {
            // RFC 6578 §3.2 wants Depth 0; Thunderbird sends 1, which means the same here.
            if headers::depth(&ctx.parts.headers, Depth::Zero)? == Depth::Infinity {
                return Err(DavError::bad_request("sync-collection is defined for Depth: 0"));
            }
            let Resource::Collection { area, collection } = &resource else { return Err(unsupported()) };
            sync::report(dav, ctx.user, *area, collection, ctx.path.href(true), &root, minimal).await
        }
        (xml::CALDAV, "calendar-query") => {
            crate::caldav::report::calendar_query(dav, ctx, &root, minimal).await
        }
        (xml::CALDAV, "calendar-multiget") => {
            crate::caldav::report::calendar_multiget(dav, ctx, &root, minimal).await
        }
        (xml::CALDAV, "free-busy-query") => crate::caldav::report::free_busy_query(dav, ctx, &root).await,
        (xml::CARDDAV, "addressbook-query") => {
            crate::carddav::report::addressbook_query(dav, ctx, &root, minimal).await
        }
        (xml::CARDDAV, "addressbook-multiget") => {
            crate::carddav::report::addressbook_multiget(dav, ctx, &root, minimal).await
        }
        _ => Err(unsupported()),
    }
}
