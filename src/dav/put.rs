//! PUT: stores a body as sent, after the collection kind has validated it.
//! `If-Match` / `If-None-Match` are checked inside the write transaction, so
//! of two clients writing over the same ETag exactly one wins (412 for the other).

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use super::error::{DavError, DavResult};
use super::headers;
use super::resource::{self, Lookup, Resource};
use super::{Body, Ctx, Dav, status_response};
use crate::collections;
use crate::store::{NewObject, PutOutcome, StoreError};

pub async fn put(dav: &Dav, ctx: &Ctx<'_>, body: Bytes) -> DavResult<Response<Body>> {
    if ctx.parts.headers.contains_key(header::CONTENT_RANGE) {
        return Err(DavError::bad_request("partial PUT with Content-Range is not supported"));
    }
    let condition = headers::condition(&ctx.parts.headers)?;
    let (parent, name) = match resource::lookup(dav.store.as_ref(), ctx.user, &ctx.path).await? {
        Lookup::Found(Resource::Object { parent, meta, .. }) => (parent, meta.name),
        Lookup::Missing { parent, name, .. } => (parent, name),
        Lookup::Found(Resource::Collection { .. }) => {
            return Err(DavError::method_not_allowed("PUT cannot replace a collection"));
        }
        Lookup::Found(_) => return Err(DavError::method_not_allowed("PUT is not allowed here")),
        Lookup::ParentMissing => return Err(DavError::conflict("the parent collection does not exist")),
        Lookup::NotFound => return Err(DavError::not_found()),
    };
    let mut content_type = ctx.parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    // A jCard is stored as the vCard 4.0 it stands for (RFC 6352 §5.1.1
    // lets clients store any advertised type); the stored body then differs
    // from the one sent, so the response carries no ETag (RFC 6352 §6.3.2.3).
    let mut body = body;
    let mut converted = false;
    if parent.kind == crate::store::CollectionKind::Addressbook
        && content_type.is_some_and(|c| {
            c.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/vcard+json")
        })
    {
        body = crate::carddav::jcard_to_vcard(&body)?;
        content_type = Some("text/vcard");
        converted = true;
    }
    let (content_type, index) = collections::ingest(&parent, &body, content_type)?;
    let object = NewObject { name: name.clone(), content_type, body, index };
    let outcome = match dav.store.put_object(parent.id, object, condition).await {
        Ok(outcome) => outcome,
        Err(StoreError::UidConflict { existing_name }) => {
            let href = ctx.path.href(false);
            let parent_href = &href[..href.rfind('/').map(|i| i + 1).unwrap_or(0)];
            return Err(collections::uid_conflict(
                parent.kind,
                format!("{parent_href}{}", super::path::encode_segment(&existing_name)),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let mut response = status_response(if matches!(outcome, PutOutcome::Created { .. }) {
        StatusCode::CREATED
    } else {
        StatusCode::NO_CONTENT
    });
    if !converted && let Ok(v) = HeaderValue::from_str(outcome.etag()) {
        response.headers_mut().insert(header::ETAG, v);
    }
    if matches!(outcome, PutOutcome::Created { .. })
        && let Ok(v) = HeaderValue::from_str(&ctx.path.href(false))
    {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}
