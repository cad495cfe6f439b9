//! Writing the objects a report found: their properties and their data
//! (calendar-data, address-data), a page at a time.

use http::{Response, StatusCode};

use super::error::DavError;
use super::multistatus::{self, Out, PropRequest};
use super::path::{self, Area};
use super::propfind::take_matching;
use super::props::PropContext;
use super::resource::{self, Lookup, Resource};
use super::xml::{DAV, Element, XmlWriter};
use super::{Body, Ctx, Dav, DavResult};
use crate::store::{Collection, CollectionKind, ObjectMeta};

/// One object a report returns, with its rendered data if asked for.
pub struct Hit {
    pub meta: ObjectMeta,
    pub data: Option<String>,
}

/// Writes the responses of pages of hits from one collection.
pub struct PageWriter<'a> {
    pub dav: &'a Dav,
    pub area: Area,
    pub parent: &'a Collection,
    /// The collection's href, ending in '/'.
    pub href_base: &'a str,
    pub props: &'a PropRequest,
    /// The element the data goes in (`calendar-data`, `address-data`).
    pub data: (&'static str, &'static str),
}

impl PageWriter<'_> {
    /// A multiget answer (RFC 4791 §7.9, RFC 6352 §8.7): the hits `page`
    /// finds among the named members, `page_size` at a time, then 404 for
    /// every href that names nothing.
    pub async fn multiget<F, Fut>(
        &self,
        ctx: &PropContext<'_>,
        requested: &[(String, Option<String>)],
        page_size: usize,
        mut page: F,
    ) -> DavResult<Response<Body>>
    where
        F: FnMut(Vec<String>) -> Fut,
        Fut: std::future::Future<Output = DavResult<Vec<Hit>>>,
    {
        let names: Vec<String> = requested.iter().filter_map(|(_, n)| n.clone()).collect();
        let mut out = Out::buffered();
        let mut found = std::collections::HashSet::new();
        for chunk in names.chunks(page_size) {
            let hits = page(chunk.to_vec()).await?;
            found.extend(hits.iter().map(|h| h.meta.name.clone()));
            self.write(&mut out, ctx, hits).await?;
        }
        for (href, name) in requested {
            if !name.as_ref().is_some_and(|n| found.contains(n)) {
                multistatus::write_status_response(&mut out.w, href, StatusCode::NOT_FOUND);
            }
        }
        out.finish().await.ok_or_else(DavError::internal)
    }

    pub async fn write(&self, out: &mut Out, ctx: &PropContext<'_>, hits: Vec<Hit>) -> DavResult<()> {
        let ids = hits.iter().map(|h| h.meta.id).collect();
        let mut dead = self.dav.store.object_properties(ids).await?;
        for hit in hits {
            let own = take_matching(&mut dead, hit.meta.id);
            let href = format!("{}{}", self.href_base, path::encode_segment(&hit.meta.name));
            let extra: Vec<((&str, &str), String)> = match hit.data.as_deref() {
                Some(d) => {
                    let mut w = XmlWriter::new();
                    w.text_element(self.data.0, self.data.1, d);
                    vec![(self.data, w.into_string())]
                }
                None => Vec::new(),
            };
            let resource = Resource::Object { area: self.area, parent: self.parent.clone(), meta: hit.meta };
            multistatus::write_response(&mut out.w, ctx, &href, &resource, &own, self.props, &extra);
        }
        Ok(())
    }
}

/// The properties a REPORT asks for, with its data element (calendar-data,
/// address-data; `data` names it) taken out and parsed by `parse`.
pub fn report_props<T>(
    root: &Element,
    data: (&str, &str),
    parse: impl Fn(&Element) -> DavResult<T>,
) -> DavResult<(PropRequest, Option<T>)> {
    let mut request = None;
    let props = if let Some(prop) = root.child(DAV, "prop") {
        let mut names = Vec::new();
        for e in prop.elements() {
            if e.is(data.0, data.1) {
                request = Some(parse(e)?);
            }
            names.push((e.ns.clone(), e.local.clone()));
        }
        PropRequest::Prop(names)
    } else if root.child(DAV, "propname").is_some() {
        PropRequest::PropName
    } else {
        PropRequest::AllProp { include: Vec::new() }
    };
    Ok((props, request))
}

/// The collection of `kind` a query REPORT addresses, and the member when
/// it addresses one; any other resource does not support the report.
pub async fn report_target(
    dav: &Dav,
    ctx: &Ctx<'_>,
    kind: CollectionKind,
    works_on: &str,
) -> DavResult<(Collection, Option<ObjectMeta>)> {
    match resource::lookup(dav.store.as_ref(), ctx.user, &ctx.path).await? {
        Lookup::Found(Resource::Collection { collection, .. }) if collection.kind == kind => {
            Ok((collection, None))
        }
        Lookup::Found(Resource::Object { parent, meta, .. }) if parent.kind == kind => {
            Ok((parent, Some(meta)))
        }
        Lookup::Found(_) => Err(DavError::condition(
            StatusCode::FORBIDDEN,
            DAV,
            "supported-report",
            format!("this report works on {works_on}"),
        )),
        _ => Err(DavError::not_found()),
    }
}

/// Most hrefs one multiget may name.
pub const MAX_MULTIGET_HREFS: usize = 10_000;

/// The hrefs of a multiget REPORT (`report` names it in errors), each with
/// the member of `base` it names (`None`: not a member, answered 404).
pub fn multiget_hrefs(root: &Element, report: &str, base: &str) -> DavResult<Vec<(String, Option<String>)>> {
    let hrefs: Vec<String> =
        root.elements().filter(|e| e.is(DAV, "href")).map(|e| e.text().trim().to_owned()).collect();
    if hrefs.is_empty() {
        return Err(DavError::bad_request(format!("{report} needs at least one href")));
    }
    if hrefs.len() > MAX_MULTIGET_HREFS {
        return Err(DavError::condition(
            StatusCode::FORBIDDEN,
            DAV,
            "number-of-matches-within-limits",
            format!("a multiget may name at most {MAX_MULTIGET_HREFS} resources"),
        ));
    }
    Ok(hrefs
        .into_iter()
        .map(|href| {
            let name = member_name(&href, base);
            (href, name)
        })
        .collect())
}

/// The member name an href points at, if it is a direct member of `base`.
pub fn member_name(href: &str, base: &str) -> Option<String> {
    let path = path::destination_path(href, None).ok().flatten()?;
    let rest = path.strip_prefix(base)?;
    if rest.is_empty() || rest.contains('/') {
        return None;
    }
    path::decode_segment(rest).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiget_hrefs_must_be_direct_members() {
        let base = "/dav/calendars/alice/work/";
        assert_eq!(member_name("/dav/calendars/alice/work/a%20b.ics", base), Some("a b.ics".into()));
        assert_eq!(member_name("http://host:1/dav/calendars/alice/work/x.ics", base), Some("x.ics".into()));
        assert_eq!(member_name("/dav/calendars/alice/other/x.ics", base), None);
        assert_eq!(member_name("/dav/calendars/alice/work/", base), None);
        assert_eq!(member_name("/dav/calendars/alice/work/sub/x.ics", base), None);
        assert_eq!(member_name("/dav/calendars/alice/work/..", base), None);
    }
}
