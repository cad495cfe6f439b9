//! sync-collection (RFC 6578) from the store's change log: a sync after N
//! changes reads N log rows, whatever the size of the collection.
//!
//! Tokens are URIs naming the collection and its revision, opaque to clients:
//! `http://skjold.invalid/sync/<collection id>/<revision>`.

use http::{Response, StatusCode};

use super::error::{DavError, DavResult};
use super::multistatus::{self, Out, PropRequest};
use super::path;
use super::path::Area;
use super::propfind::take_matching;
use super::props::PropContext;
use super::resource::Resource;
use super::xml::{DAV, Element};
use super::{Body, Dav};
use crate::store::{Collection, ObjectMeta, Principal, ResourceId, StoreError};

const TOKEN_PREFIX: &str = "http://skjold.invalid/sync/";
/// Changes read from the log per step while streaming.
const PAGE: usize = 500;

pub fn token(collection_id: i64, revision: i64) -> String {
    format!("{TOKEN_PREFIX}{collection_id}/{revision}")
}

/// The revision a token stands for, if it is a token of this collection.
pub fn parse_token(token: &str, collection_id: i64) -> Option<i64> {
    let rest = token.trim().strip_prefix(TOKEN_PREFIX)?;
    let (id, revision) = rest.split_once('/')?;
    if id.parse::<i64>().ok()? != collection_id {
        return None;
    }
    revision.parse().ok().filter(|r: &i64| *r >= 0)
}

fn invalid_token() -> DavError {
    StoreError::InvalidSyncToken.into()
}

/// A parsed `DAV:sync-collection` request.
#[derive(Debug)]
pub struct SyncRequest {
    /// The revision of the client's token; `None` for an initial sync.
    pub from: Option<i64>,
    pub infinite: bool,
    pub limit: Option<usize>,
    pub props: PropRequest,
}

pub fn parse_request(root: &Element, collection_id: i64) -> DavResult<SyncRequest> {
    let token_text = root.child(DAV, "sync-token").map(|t| t.text()).unwrap_or_default();
    let from = if token_text.trim().is_empty() {
        None
    } else {
        Some(parse_token(&token_text, collection_id).ok_or_else(invalid_token)?)
    };
    let infinite = match root.child(DAV, "sync-level").map(|l| l.text()) {
        Some(level) if level.trim() == "1" => false,
        Some(level) if level.trim().eq_ignore_ascii_case("infinite") => true,
        Some(_) => return Err(DavError::bad_request("sync-level must be 1 or infinite")),
        // RFC 6578 requires it; old clients omit it and mean 1.
        None => false,
    };
    let limit = match root.child(DAV, "limit").and_then(|l| l.child(DAV, "nresults")) {
        Some(n) => Some(
            n.text()
                .trim()
                .parse::<usize>()
                .map_err(|_| DavError::bad_request("nresults must be a number"))?,
        ),
        None => None,
    };
    let props = match root.child(DAV, "prop") {
        Some(p) => PropRequest::Prop(PropRequest::names_in(p)),
        None => PropRequest::Prop(vec![(DAV.into(), "getetag".into())]),
    };
    Ok(SyncRequest { from, infinite, limit, props })
}

/// Answers a sync-collection REPORT on `collection` (streamed).
pub async fn report(
    dav: &Dav,
    user: &Principal,
    area: Area,
    collection: &Collection,
    href: String,
    root: &Element,
    minimal: bool,
) -> DavResult<Response<Body>> {
    let request = parse_request(root, collection.id)?;
    // Validate the token before the 207 is committed to.
    let first = dav
        .store
        .changes_since(
            collection.id,
            request.from.unwrap_or(0),
            request.from.is_some(),
            PAGE.min(request.limit.unwrap_or(PAGE)),
        )
        .await?;
    let dav = dav.clone();
    let user = user.clone();
    let collection = collection.clone();
    Ok(multistatus::stream(move |mut out| async move {
        let writer = Writer { dav: &dav, user: &user, area, collection: &collection, href: &href, minimal };
        let token = match writer.run(&mut out, &request, first).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(status = %e.status, error = %e.message, "sync report stopped");
                return;
            }
        };
        out.w.text_element(DAV, "sync-token", &token);
        out.finish().await;
    }))
}

struct Writer<'a> {
    dav: &'a Dav,
    user: &'a Principal,
    area: Area,
    collection: &'a Collection,
    href: &'a str,
    minimal: bool,
}

impl Writer<'_> {
    /// Writes all changes, page by page; returns the token to hand out.
    async fn run(
        &self,
        out: &mut Out,
        request: &SyncRequest,
        first: crate::store::ChangeSet,
    ) -> DavResult<String> {
        let ctx = PropContext { dav: self.dav, user: self.user, minimal: self.minimal };
        let mut set = first;
        let mut written = 0usize;
        loop {
            let (deleted, changed): (Vec<_>, Vec<_>) = set.changes.iter().partition(|c| c.deleted);
            for gone in &deleted {
                let slash = if gone.is_collection { "/" } else { "" };
                let href = format!("{}{}{slash}", self.href, path::encode_segment(&gone.name));
                multistatus::write_status_response(&mut out.w, &href, StatusCode::NOT_FOUND);
            }
            let names: Vec<String> = changed.iter().map(|c| c.name.clone()).collect();
            let (collections, objects) = self.members(&names).await?;
            for child in collections {
                let href = format!("{}{}/", self.href, path::encode_segment(&child.name));
                if request.infinite && request.from.is_none() {
                    // RFC 6578 §3.3: child collections are synced on their own.
                    out.w.open(DAV, "response");
                    out.w.text_element(DAV, "href", &href);
                    out.w.text_element(DAV, "status", &super::status_line(StatusCode::FORBIDDEN));
                    out.w.open(DAV, "error");
                    out.w.empty(DAV, "sync-traversal-supported");
                    out.w.close(DAV, "error");
                    out.w.close(DAV, "response");
                    continue;
                }
                let dead = self.dav.store.properties(ResourceId::Collection(child.id)).await?;
                let resource = Resource::Collection { area: self.area, collection: child };
                multistatus::write_response(&mut out.w, &ctx, &href, &resource, &dead, &request.props, &[]);
            }
            self.write_objects(out, &ctx, request, objects).await?;
            written += set.changes.len();
            if !out.flush().await {
                return Err(DavError::new(StatusCode::BAD_REQUEST, "client went away"));
            }
            let client_limit_reached = request.limit.is_some_and(|l| written >= l);
            if !set.truncated {
                return Ok(token(self.collection.id, set.revision));
            }
            if client_limit_reached {
                // RFC 6578 §3.6: the truncated rest is signalled with a 507 for the collection.
                out.w.open(DAV, "response");
                out.w.text_element(DAV, "href", self.href);
                out.w.text_element(DAV, "status", &super::status_line(StatusCode::INSUFFICIENT_STORAGE));
                out.w.open(DAV, "error");
                out.w.empty(DAV, "number-of-matches-within-limits");
                out.w.close(DAV, "error");
                out.w.close(DAV, "response");
                return Ok(token(self.collection.id, set.revision));
            }
            let step = request.limit.map(|l| (l - written).min(PAGE)).unwrap_or(PAGE);
            set = self
                .dav
                .store
                .changes_since(self.collection.id, set.revision, request.from.is_some(), step)
                .await?;
        }
    }

    /// The current members of these names: child collections and objects.
    async fn members(&self, names: &[String]) -> DavResult<(Vec<Collection>, Vec<ObjectMeta>)> {
        if names.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let mut collections = Vec::new();
        if !self.collection.kind.child_kinds().is_empty() {
            for child in self.dav.store.child_collections(self.collection.id).await? {
                if names.contains(&child.name) {
                    collections.push(child);
                }
            }
        }
        let objects = self.dav.store.object_metas(self.collection.id, names.to_vec()).await?;
        Ok((collections, objects))
    }

    async fn write_objects(
        &self,
        out: &mut Out,
        ctx: &PropContext<'_>,
        request: &SyncRequest,
        metas: Vec<ObjectMeta>,
    ) -> DavResult<()> {
        let ids = metas.iter().map(|m| m.id).collect();
        let mut dead = self.dav.store.object_properties(ids).await?;
        for meta in metas {
            let own = take_matching(&mut dead, meta.id);
            let href = format!("{}{}", self.href, path::encode_segment(&meta.name));
            let resource = Resource::Object { area: self.area, parent: self.collection.clone(), meta };
            multistatus::write_response(&mut out.w, ctx, &href, &resource, &own, &request.props, &[]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_their_collection() {
        let t = token(7, 42);
        assert_eq!(parse_token(&t, 7), Some(42));
        assert_eq!(parse_token(&t, 8), None);
        assert_eq!(parse_token("http://skjold.invalid/sync/7/-1", 7), None);
        assert_eq!(parse_token("garbage", 7), None);
    }
}
