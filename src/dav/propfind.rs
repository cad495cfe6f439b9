//! PROPFIND (RFC 4918 §9.1): Depth 0 and 1; Depth infinity is refused with
//! `DAV:propfind-finite-depth`. Depth 1 on a stored collection is streamed,
//! one page of members at a time.

use http::{HeaderValue, Response, StatusCode};

use super::headers::{self, Depth};
use super::multistatus::{self, Out, PropRequest};
use super::path::{self, Area, DavPath};
use super::props::PropContext;
use super::resource::{self, Lookup, Resource};
use super::xml::{self, DAV};
use super::{Body, Ctx, Dav, DavError, DavResult};
use crate::store::{Collection, DeadProperty, Principal, ResourceId};

/// Members read from the store per page while streaming.
pub const PAGE: usize = 500;

pub async fn propfind(dav: &Dav, ctx: &Ctx<'_>, body: &[u8]) -> DavResult<Response<Body>> {
    let depth = headers::depth(&ctx.parts.headers, Depth::Infinity)?;
    if depth == Depth::Infinity {
        return Err(DavError::condition(
            StatusCode::FORBIDDEN,
            DAV,
            "propfind-finite-depth",
            "PROPFIND with Depth: infinity is not supported; use Depth 0 or 1",
        ));
    }
    let request = parse_propfind(body)?;
    let minimal = headers::prefers_minimal(&ctx.parts.headers);
    let resource = match resource::lookup(dav.store.as_ref(), ctx.user, &ctx.path).await? {
        Lookup::Found(r) => r,
        _ => return Err(DavError::not_found()),
    };
    let href = ctx.path.href(resource.is_collection());

    let mut response = match (&resource, depth) {
        (Resource::Collection { area, collection }, Depth::One) => {
            let dav = dav.clone();
            let user = ctx.user.clone();
            let collection = collection.clone();
            let area = *area;
            multistatus::stream(move |mut out| async move {
                let listing = List { dav: &dav, user: &user, request: &request, minimal };
                if let Err(e) = listing.collection(&mut out, area, &collection, &href).await {
                    tracing::warn!(status = %e.status, error = %e.message, "PROPFIND listing stopped");
                }
                out.finish().await;
            })
        }
        _ => {
            let mut out = Out::buffered();
            let listing = List { dav, user: ctx.user, request: &request, minimal };
            listing.one(&mut out, &href, &resource).await?;
            if depth == Depth::One {
                listing.virtual_children(&mut out, &resource).await?;
            }
            out.finish().await.ok_or_else(DavError::internal)?
        }
    };
    if minimal {
        response.headers_mut().insert("Preference-Applied", HeaderValue::from_static("return=minimal"));
    }
    Ok(response)
}

/// Parses a PROPFIND body; an empty body means `allprop` (RFC 4918 §9.1).
pub fn parse_propfind(body: &[u8]) -> DavResult<PropRequest> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(PropRequest::AllProp { include: Vec::new() });
    }
    let root = xml::parse(body)?;
    if !root.is(DAV, "propfind") {
        return Err(xml::XmlError::UnexpectedRoot("DAV:propfind".into()).into());
    }
    if let Some(prop) = root.child(DAV, "prop") {
        return Ok(PropRequest::Prop(PropRequest::names_in(prop)));
    }
    if root.child(DAV, "propname").is_some() {
        return Ok(PropRequest::PropName);
    }
    if root.child(DAV, "allprop").is_some() {
        let include = root.child(DAV, "include").map(PropRequest::names_in).unwrap_or_default();
        return Ok(PropRequest::AllProp { include });
    }
    Err(DavError::bad_request("a propfind element needs prop, propname or allprop"))
}

/// Writes resources into a multistatus.
struct List<'a> {
    dav: &'a Dav,
    user: &'a Principal,
    request: &'a PropRequest,
    minimal: bool,
}

impl List<'_> {
    fn ctx(&self) -> PropContext<'_> {
        PropContext { dav: self.dav, user: self.user, minimal: self.minimal }
    }

    fn write(&self, out: &mut Out, href: &str, resource: &Resource, dead: &[DeadProperty]) {
        multistatus::write_response(&mut out.w, &self.ctx(), href, resource, dead, self.request, &[]);
    }

    /// One resource, with its dead properties.
    async fn one(&self, out: &mut Out, href: &str, resource: &Resource) -> DavResult<()> {
        let dead = match resource {
            Resource::Collection { collection, .. } => {
                self.dav.store.properties(ResourceId::Collection(collection.id)).await?
            }
            Resource::Object { meta, .. } => self.dav.store.properties(ResourceId::Object(meta.id)).await?,
            _ => Vec::new(),
        };
        self.write(out, href, resource, &dead);
        Ok(())
    }

    /// Members of the resources that exist only as places in the URL layout.
    async fn virtual_children(&self, out: &mut Out, resource: &Resource) -> DavResult<()> {
        match resource {
            Resource::ServerRoot => self.write(out, path::DAV_ROOT, &Resource::Root, &[]),
            Resource::Root => {
                self.write(out, path::PRINCIPALS, &Resource::Principals, &[]);
                for area in Area::ALL {
                    self.write(out, &DavPath::HomeSet(area).href(true), &Resource::HomeSet(area), &[]);
                }
            }
            Resource::Principals => {
                self.write(out, &path::principal_href(&self.user.name), &Resource::Principal, &[]);
            }
            Resource::HomeSet(area) => {
                let home = self.dav.store.home(self.user.id, area.home_kind()).await?;
                let href = path::home_href(*area, &self.user.name);
                self.one(out, &href, &Resource::Collection { area: *area, collection: home }).await?;
            }
            Resource::Principal | Resource::Collection { .. } | Resource::Object { .. } => {}
        }
        Ok(())
    }

    /// A stored collection and its members, page by page.
    async fn collection(
        &self,
        out: &mut Out,
        area: Area,
        collection: &Collection,
        href: &str,
    ) -> DavResult<()> {
        let me = Resource::Collection { area, collection: collection.clone() };
        self.one(out, href, &me).await?;
        for child in self.dav.store.child_collections(collection.id).await? {
            let child_href = format!("{href}{}/", path::encode_segment(&child.name));
            self.one(out, &child_href, &Resource::Collection { area, collection: child }).await?;
            if !out.flush().await {
                return Ok(());
            }
        }
        let mut after: Option<String> = None;
        loop {
            let page = self.dav.store.list_objects(collection.id, after.clone(), PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.name.clone());
            let ids = page.iter().map(|m| m.id).collect();
            let mut dead = self.dav.store.object_properties(ids).await?;
            let full_page = page.len() == PAGE;
            for meta in page {
                let own: Vec<DeadProperty> = take_matching(&mut dead, meta.id);
                let object_href = format!("{href}{}", path::encode_segment(&meta.name));
                let resource = Resource::Object { area, parent: collection.clone(), meta };
                self.write(out, &object_href, &resource, &own);
                if !out.flush().await {
                    return Ok(());
                }
            }
            if !full_page {
                break;
            }
        }
        Ok(())
    }
}

/// Removes and returns the properties of `id` from a batch.
pub fn take_matching(batch: &mut Vec<(i64, DeadProperty)>, id: i64) -> Vec<DeadProperty> {
    let mut own = Vec::new();
    batch.retain(|(owner, p)| {
        if *owner == id {
            own.push(p.clone());
            false
        } else {
            true
        }
    });
    own
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propfind_bodies() {
        assert_eq!(parse_propfind(b"").unwrap(), PropRequest::AllProp { include: vec![] });
        assert_eq!(
            parse_propfind(br#"<propfind xmlns="DAV:"><propname/></propfind>"#).unwrap(),
            PropRequest::PropName
        );
        assert_eq!(
            parse_propfind(
                br#"<D:propfind xmlns:D="DAV:"><D:allprop/><D:include><x xmlns="urn:x"/></D:include></D:propfind>"#
            )
            .unwrap(),
            PropRequest::AllProp { include: vec![("urn:x".into(), "x".into())] }
        );
        assert_eq!(
            parse_propfind(
                br#"<propfind xmlns="DAV:"><prop><getetag/><C:x xmlns:C="urn:c"/></prop></propfind>"#
            )
            .unwrap(),
            PropRequest::Prop(vec![("DAV:".into(), "getetag".into()), ("urn:c".into(), "x".into())])
        );
        assert!(parse_propfind(br#"<propfind xmlns="DAV:"/>"#).is_err());
        assert!(parse_propfind(br#"<propfind xmlns="urn:evil"><prop/></propfind>"#).is_err());
    }
}
