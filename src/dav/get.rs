//! GET and HEAD: objects are returned byte for byte as they were stored,
//! with strong ETags and conditional requests (RFC 9110 §13). Collections
//! answer with an export (calendars, address books) or an HTML listing.

use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use super::error::{DavError, DavResult};
use super::headers;
use super::path;
use super::resource::{self, Lookup, Resource};
use super::xml::escape;
use super::{Body, Ctx, Dav, http_date};
use crate::store::{Collection, CollectionKind};

pub async fn get(dav: &Dav, ctx: &Ctx<'_>, head: bool) -> DavResult<Response<Body>> {
    let resource = match resource::lookup(dav.store.as_ref(), ctx.user, &ctx.path).await? {
        Lookup::Found(r) => r,
        _ => return Err(DavError::not_found()),
    };
    let mut response = match &resource {
        Resource::Object { parent, meta, .. } => {
            if let Some(status) = conditional_status(&ctx.parts.headers, &meta.etag, meta.modified)? {
                let mut r = Response::new(Body::empty());
                *r.status_mut() = status;
                if status == StatusCode::NOT_MODIFIED {
                    set_validators(r.headers_mut(), &meta.etag, meta.modified);
                }
                return Ok(r);
            }
            let object =
                dav.store.get_object(parent.id, &meta.name).await?.ok_or_else(DavError::not_found)?;
            // RFC 6352 §5.1.1: a card in the version the client accepts. The
            // ETag names the stored bytes, so a converted body goes without it.
            if parent.kind == CollectionKind::Addressbook
                && let Some(want) = crate::carddav::negotiate(&ctx.parts.headers)
            {
                let (body, content_type) = crate::carddav::represent(&object.body, want)?;
                if body != object.body {
                    let mut r = Response::new(if head { Body::empty() } else { Body::full(body) });
                    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
                    r.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
                    return Ok(r);
                }
            }
            let mut r = Response::new(Body::full(object.body));
            let h = r.headers_mut();
            set_validators(h, &object.meta.etag, object.meta.modified);
            if parent.kind == CollectionKind::Addressbook {
                // The body depends on Accept even when it is the stored one.
                h.insert(header::VARY, HeaderValue::from_static("Accept"));
            }
            if let Ok(v) = HeaderValue::from_str(&object.meta.content_type) {
                h.insert(header::CONTENT_TYPE, v);
            }
            r
        }
        Resource::Collection { collection, .. } => {
            match crate::collections::export(dav, collection, &ctx.parts.headers).await? {
                Some(r) => r,
                None => listing(dav, &ctx.path.href(true), collection).await?,
            }
        }
        _ => html_page(
            "Skjold",
            "<p>This is a CalDAV and CardDAV server. Give its address to your calendar or contacts app.</p>",
        ),
    };
    if head {
        *response.body_mut() = Body::empty();
    }
    Ok(response)
}

fn set_validators(h: &mut HeaderMap, etag: &str, modified: i64) {
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(modified)) {
        h.insert(header::LAST_MODIFIED, v);
    }
}

/// RFC 9110 §13.2.2 evaluation order for a read: `If-Match`, then
/// `If-Unmodified-Since`, then `If-None-Match`, then `If-Modified-Since`.
fn conditional_status(h: &HeaderMap, etag: &str, modified: i64) -> DavResult<Option<StatusCode>> {
    let condition = headers::condition(h)?;
    let since = |name: header::HeaderName| -> Option<i64> {
        let value = h.get(name)?.to_str().ok()?;
        let t = httpdate::parse_http_date(value).ok()?;
        Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64)
    };
    if let Some(m) = &condition.if_match {
        if !m.matches(Some(etag)) {
            return Ok(Some(StatusCode::PRECONDITION_FAILED));
        }
    } else if let Some(t) = since(header::IF_UNMODIFIED_SINCE)
        && modified > t
    {
        return Ok(Some(StatusCode::PRECONDITION_FAILED));
    }
    if let Some(m) = &condition.if_none_match {
        if m.matches(Some(etag)) {
            return Ok(Some(StatusCode::NOT_MODIFIED));
        }
    } else if let Some(t) = since(header::IF_MODIFIED_SINCE)
        && modified <= t
    {
        return Ok(Some(StatusCode::NOT_MODIFIED));
    }
    Ok(None)
}

/// A plain HTML listing, so that a browser pointed at a folder shows something useful.
async fn listing(dav: &Dav, href: &str, collection: &Collection) -> DavResult<Response<Body>> {
    let mut items = String::new();
    for child in dav.store.child_collections(collection.id).await? {
        let link = format!("{href}{}/", path::encode_segment(&child.name));
        items.push_str(&format!("<li><a href=\"{}\">{}/</a></li>\n", escape(&link), escape(&child.name)));
    }
    let mut after = None;
    loop {
        let page = dav.store.list_objects(collection.id, after.clone(), 1000).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.name.clone());
        for meta in &page {
            let link = format!("{href}{}", path::encode_segment(&meta.name));
            items.push_str(&format!(
                "<li><a href=\"{}\">{}</a> ({} bytes)</li>\n",
                escape(&link),
                escape(&meta.name),
                meta.size
            ));
        }
        if page.len() < 1000 {
            break;
        }
    }
    Ok(html_page(&collection.name, &format!("<ul>\n{items}</ul>")))
}

fn html_page(title: &str, content: &str) -> Response<Body> {
    let page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body><h1>{}</h1>\n{content}\n</body></html>\n",
        escape(title),
        escape(title)
    );
    let mut r = Response::new(Body::full(page));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        m
    }

    #[test]
    fn read_conditions() {
        let tag = "\"abc\"";
        let t = 1_700_000_000;
        let before = http_date(t - 10);
        let after = http_date(t + 10);
        for (headers, expected) in [
            (h(&[]), None),
            (h(&[("If-None-Match", "\"abc\"")]), Some(StatusCode::NOT_MODIFIED)),
            (h(&[("If-None-Match", "\"x\"")]), None),
            (h(&[("If-None-Match", "*")]), Some(StatusCode::NOT_MODIFIED)),
            (h(&[("If-Match", "\"x\"")]), Some(StatusCode::PRECONDITION_FAILED)),
            (h(&[("If-Match", "\"abc\"")]), None),
            (h(&[("If-Modified-Since", &after)]), Some(StatusCode::NOT_MODIFIED)),
            (h(&[("If-Modified-Since", &before)]), None),
            // If-None-Match wins over If-Modified-Since.
            (h(&[("If-None-Match", "\"x\""), ("If-Modified-Since", &after)]), None),
            (h(&[("If-Unmodified-Since", &before)]), Some(StatusCode::PRECONDITION_FAILED)),
        ] {
            assert_eq!(conditional_status(&headers, tag, t).unwrap(), expected, "{headers:?}");
        }
    }
}
