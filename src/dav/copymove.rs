//! COPY and MOVE (RFC 4918 §9.8, §9.9) within the user's own space.

use http::{HeaderValue, Response, StatusCode, header};

use super::error::{DavError, DavResult};
use super::headers::{self, Depth};
use super::path::{self, DavPath};
use super::resource::{self, Lookup, Resource};
use super::{Body, Ctx, Dav, status_response};
use crate::collections;
use crate::store::{CollectionKind, StoreError, Transfer, TransferOutcome};

pub async fn copy_move(dav: &Dav, ctx: &Ctx<'_>, is_move: bool) -> DavResult<Response<Body>> {
    let source = match resource::lookup(dav.store.as_ref(), ctx.user, &ctx.path).await? {
        Lookup::Found(r) => r,
        _ => return Err(DavError::not_found()),
    };
    let (source_parent, source_name) = match &source {
        Resource::Object { parent, meta, .. } => (parent.id, meta.name.clone()),
        Resource::Collection { collection, .. } => match collection.parent_id {
            Some(p) => (p, collection.name.clone()),
            None => return Err(DavError::forbidden("a home cannot be copied or moved")),
        },
        _ => return Err(DavError::forbidden("this resource cannot be copied or moved")),
    };

    let destination = ctx
        .parts
        .headers
        .get("Destination")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| DavError::bad_request("COPY and MOVE need a Destination header"))?;
    // The authority is not compared with Host: behind a reverse proxy they
    // differ, and Skjold serves one namespace whatever the name it is reached by.
    let Some(target_path) = path::destination_path(destination, None)? else {
        return Err(DavError::new(StatusCode::BAD_GATEWAY, "the destination is on another server"));
    };
    let target =
        DavPath::parse(target_path)?.ok_or_else(|| DavError::forbidden("the destination is not writable"))?;
    let same_space = match (&ctx.path, &target) {
        (DavPath::InHome { area: a, user: u, .. }, DavPath::InHome { area: b, user: v, segments }) => {
            a == b && u == v && !segments.is_empty()
        }
        _ => false,
    };
    if !same_space {
        return Err(DavError::forbidden(
            "resources can only be copied or moved within the same space of your own",
        ));
    }
    if target == ctx.path {
        return Err(DavError::forbidden("the source and the destination are the same"));
    }

    let overwrite = headers::overwrite(&ctx.parts.headers)?;
    let depth = headers::depth(&ctx.parts.headers, Depth::Infinity)?;
    let recursive = match (is_move, source.is_collection(), depth) {
        (_, false, _) => true,
        (true, true, Depth::Infinity) => true,
        (true, true, _) => return Err(DavError::bad_request("MOVE of a collection needs Depth: infinity")),
        (false, true, Depth::Infinity) => true,
        (false, true, Depth::Zero) => false,
        (false, true, Depth::One) => return Err(DavError::bad_request("COPY takes Depth 0 or infinity")),
    };

    let (target_parent, target_name) = match resource::lookup(dav.store.as_ref(), ctx.user, &target).await? {
        Lookup::Found(Resource::Object { parent, meta, .. }) => (parent, meta.name),
        Lookup::Found(Resource::Collection { collection, .. }) => {
            let Some(parent_id) = collection.parent_id else {
                return Err(DavError::forbidden("a home cannot be overwritten"));
            };
            let parent = dav.store.collection(parent_id).await?.ok_or_else(DavError::not_found)?;
            (parent, collection.name)
        }
        Lookup::Missing { parent, name, .. } => (parent, name),
        Lookup::ParentMissing => return Err(DavError::conflict("the destination's parent does not exist")),
        Lookup::Found(_) | Lookup::NotFound => {
            return Err(DavError::forbidden("the destination is not writable"));
        }
    };

    // An object entering another calendar or address book must suit it
    // (RFC 4791 §5.3.2.1, RFC 6352 §6.3.2.1 apply to COPY and MOVE too).
    if let Resource::Object { parent, meta, .. } = &source {
        let kind = target_parent.kind;
        if parent.id != target_parent.id
            && matches!(kind, CollectionKind::Calendar | CollectionKind::Addressbook)
        {
            let object =
                dav.store.get_object(parent.id, &meta.name).await?.ok_or_else(DavError::not_found)?;
            collections::ingest(&target_parent, &object.body, Some(&object.meta.content_type))?;
        }
    }
    let transfer = Transfer {
        source_parent,
        source_name,
        target_parent: target_parent.id,
        target_name: target_name.clone(),
        overwrite,
        recursive,
        is_move,
    };
    let outcome = match dav.store.transfer(transfer).await {
        Ok(o) => o,
        Err(StoreError::UidConflict { existing_name }) => {
            let href = target.href(false);
            let parent_href = &href[..href.rfind('/').map(|i| i + 1).unwrap_or(0)];
            return Err(collections::uid_conflict(
                target_parent.kind,
                format!("{parent_href}{}", path::encode_segment(&existing_name)),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let mut response = status_response(match outcome {
        TransferOutcome::Created => StatusCode::CREATED,
        TransferOutcome::Replaced => StatusCode::NO_CONTENT,
    });
    if outcome == TransferOutcome::Created
        && let Ok(v) = HeaderValue::from_str(&target.href(source.is_collection()))
    {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}
