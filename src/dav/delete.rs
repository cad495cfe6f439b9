//! DELETE (RFC 4918 §9.6): objects, and collections with everything in them.
//! Deletion is real: rows are removed and SQLite overwrites freed pages.

use http::{Response, StatusCode};

use super::error::{DavError, DavResult};
use super::headers::{self, Depth};
use super::resource::{self, Lookup, Resource};
use super::{Body, Ctx, Dav, status_response};

pub async fn delete(dav: &Dav, ctx: &Ctx<'_>) -> DavResult<Response<Body>> {
    let condition = headers::condition(&ctx.parts.headers)?;
    let resource = match resource::lookup(dav.store.as_ref(), ctx.user, &ctx.path).await? {
        Lookup::Found(r) => r,
        Lookup::Missing { .. } if condition.if_match.is_some() => return Err(DavError::precondition_failed()),
        _ => return Err(DavError::not_found()),
    };
    match &resource {
        Resource::Object { parent, meta, .. } => {
            dav.store.delete_member(parent.id, &meta.name, condition).await?;
        }
        Resource::Collection { collection, .. } => {
            // RFC 4918 §9.6.1: a collection is deleted as if Depth were infinity.
            if headers::depth(&ctx.parts.headers, Depth::Infinity)? != Depth::Infinity {
                return Err(DavError::bad_request("DELETE of a collection needs Depth: infinity"));
            }
            let Some(parent_id) = collection.parent_id else {
                return Err(DavError::forbidden("a home cannot be deleted"));
            };
            dav.store.delete_member(parent_id, &collection.name, condition).await?;
        }
        _ => return Err(DavError::forbidden("this resource cannot be deleted")),
    }
    Ok(status_response(StatusCode::NO_CONTENT))
}
