//! CardDAV reports: addressbook-query (RFC 6352 §8.6, with limits and the
//! 507 truncation rule of §8.6.2) and addressbook-multiget (§8.7).
//!
//! addressbook-query narrows candidates with the search index when the
//! filter allows it (see [`filter::Filter::plan`]); every candidate is then
//! checked exactly against its card.

use std::collections::BTreeSet;

use http::{Response, StatusCode};

use super::filter::{self, Filter};
use super::{Representation, represent};
use crate::dav::error::{DavError, DavResult};
use crate::dav::hits::{Hit, PageWriter, multiget_hrefs, report_props, report_target};
use crate::dav::multistatus::{self, PropRequest};
use crate::dav::path::Area;
use crate::dav::props::PropContext;
use crate::dav::xml::{CARDDAV, DAV, Element};
use crate::dav::{Body, Ctx, Dav, status_line};
use crate::store::{Collection, CollectionKind, Object};
use crate::vcard::{self, Card, VProp};

/// Cards evaluated per blocking task.
const PAGE: usize = 200;
/// The element address data is returned in.
const DATA: (&str, &str) = (CARDDAV, "address-data");
/// A parsed `address-data` request: the representation and the properties.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressDataRequest {
    /// `None`: the stored version.
    pub representation: Option<Representation>,
    /// `None`: every property; else (name, novalue).
    pub props: Option<Vec<(String, bool)>>,
}

impl AddressDataRequest {
    pub fn parse(e: &Element) -> DavResult<AddressDataRequest> {
        // Without attributes the stored version is returned: a client that
        // stored 4.0 gets 4.0 back byte for byte.
        let representation = match (e.attribute("content-type"), e.attribute("version")) {
            (None, None) => None,
            (ct, v) => {
                let media = ct.unwrap_or("text/vcard");
                let version = v.or(if media.eq_ignore_ascii_case("application/vcard+json") {
                    None
                } else {
                    Some("3.0")
                });
                Some(Representation::parse(media, version).ok_or_else(|| {
                    DavError::condition(
                        StatusCode::FORBIDDEN,
                        CARDDAV,
                        "supported-address-data",
                        format!("address data is served as text/vcard 3.0 or 4.0 or application/vcard+json, not {media} {}", version.unwrap_or("")),
                    )
                })?)
            }
        };
        let mut props: Option<Vec<(String, bool)>> = None;
        for child in e.elements() {
            match (child.ns.as_str(), child.local.as_str()) {
                (CARDDAV, "allprop") => props = None,
                (CARDDAV, "prop") => {
                    let name = child
                        .attribute("name")
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                        .ok_or_else(|| DavError::bad_request("address-data prop needs a name"))?;
                    let novalue = child.attribute("novalue").is_some_and(|v| v.trim() == "yes");
                    props.get_or_insert_with(Vec::new).push((name.to_owned(), novalue));
                }
                _ => {}
            }
        }
        Ok(AddressDataRequest { representation, props })
    }

    /// The text to return for a stored card.
    pub fn render(&self, body: &[u8]) -> DavResult<String> {
        let (bytes, _) = match self.representation {
            Some(r) => represent(body, r)?,
            None => (bytes::Bytes::copy_from_slice(body), ""),
        };
        let Some(selection) = &self.props else {
            return Ok(String::from_utf8_lossy(&bytes).into_owned());
        };
        if self.representation == Some(Representation::Jcard) {
            return Ok(String::from_utf8_lossy(&bytes).into_owned());
        }
        let text =
            vcard::decode(&bytes).map_err(|e| DavError::new(StatusCode::INTERNAL_SERVER_ERROR, e.0))?;
        let card = vcard::parse_cards(&text, false)
            .ok()
            .and_then(|mut c| (!c.is_empty()).then(|| c.remove(0)))
            .ok_or_else(|| {
                DavError::new(StatusCode::INTERNAL_SERVER_ERROR, "a stored card cannot be read")
            })?;
        let mut kept = Vec::new();
        for p in &card.props {
            // VERSION always stays, so that what is returned can be parsed.
            if p.name == "VERSION" {
                kept.push(p.clone());
                continue;
            }
            if let Some((_, novalue)) = selection.iter().find(|(n, _)| p.is(n)) {
                if *novalue {
                    let cut = p.raw.len() - p.value.len();
                    kept.push(VProp { value: String::new(), raw: p.raw[..cut].to_owned(), ..p.clone() });
                } else {
                    kept.push(p.clone());
                }
            }
        }
        Ok(Card { props: kept }.to_vcf())
    }
}

struct Wanted {
    props: PropRequest,
    data: Option<AddressDataRequest>,
}

fn wanted(root: &Element) -> DavResult<Wanted> {
    let (props, data) = report_props(root, DATA, AddressDataRequest::parse)?;
    Ok(Wanted { props, data })
}

async fn target(dav: &Dav, ctx: &Ctx<'_>) -> DavResult<(Collection, Option<String>)> {
    let (book, card) =
        report_target(dav, ctx, CollectionKind::Addressbook, "address books and their cards").await?;
    Ok((book, card.map(|meta| meta.name)))
}

/// Checks and renders a page of cards on a blocking thread.
fn evaluate(
    objects: Vec<Object>,
    filter: Option<&Filter>,
    data: Option<&AddressDataRequest>,
) -> DavResult<Vec<Hit>> {
    let mut hits = Vec::new();
    for object in objects {
        if let Some(filter) = filter {
            let Ok(text) = vcard::decode(&object.body) else { continue };
            let Some(card) =
                vcard::parse_cards(&text, false).ok().and_then(|mut c| (!c.is_empty()).then(|| c.remove(0)))
            else {
                continue;
            };
            if !filter.matches(&card) {
                continue;
            }
        }
        let data = match data {
            Some(req) => Some(req.render(&object.body)?),
            None => None,
        };
        hits.push(Hit { meta: object.meta, data });
    }
    Ok(hits)
}

async fn run_page(
    dav: &Dav,
    collection_id: i64,
    names: Vec<String>,
    filter: Option<&Filter>,
    data: Option<&AddressDataRequest>,
) -> DavResult<Vec<Hit>> {
    let objects = dav.store.get_objects(collection_id, names).await?;
    let (filter, data) = (filter.cloned(), data.cloned());
    tokio::task::spawn_blocking(move || evaluate(objects, filter.as_ref(), data.as_ref()))
        .await
        .map_err(|_| DavError::internal())?
}

/// The names worth reading for `filter`, in name order.
async fn candidates(dav: &Dav, collection: &Collection, filter: &Filter) -> DavResult<Vec<String>> {
    let Some(plan) = filter.plan() else {
        let mut names = Vec::new();
        let mut after = None;
        loop {
            let page = dav.store.list_objects(collection.id, after.clone(), 1000).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.name.clone());
            let full = page.len() == 1000;
            names.extend(page.into_iter().map(|m| m.name));
            if !full {
                break;
            }
        }
        return Ok(names);
    };
    let mut result: Option<BTreeSet<String>> = None;
    for (prop, needles) in plan.sets {
        let mut set = BTreeSet::new();
        for needle in needles {
            set.extend(dav.store.search_cards(collection.id, vec![prop.clone()], needle).await?);
        }
        result = Some(match result {
            None => set,
            Some(acc) if plan.intersect => acc.intersection(&set).cloned().collect(),
            Some(acc) => acc.union(&set).cloned().collect(),
        });
    }
    Ok(result.unwrap_or_default().into_iter().collect())
}

pub async fn addressbook_query(
    dav: &Dav,
    ctx: &Ctx<'_>,
    root: &Element,
    minimal: bool,
) -> DavResult<Response<Body>> {
    let (collection, object) = target(dav, ctx).await?;
    let wanted = wanted(root)?;
    let filter = match root.child(CARDDAV, "filter") {
        Some(f) => filter::parse(f)?,
        None => return Err(DavError::bad_request("addressbook-query needs a filter")),
    };
    let limit = match root.child(CARDDAV, "limit").and_then(|l| l.child(CARDDAV, "nresults")) {
        Some(n) => Some(
            n.text()
                .trim()
                .parse::<usize>()
                .map_err(|_| DavError::bad_request("nresults must be a number"))?,
        ),
        None => None,
    };
    let href = ctx.path.href(object.is_none());
    let base = match object {
        Some(_) => href[..href.rfind('/').map(|i| i + 1).unwrap_or(0)].to_owned(),
        None => href.clone(),
    };
    let names = match object {
        Some(name) => vec![name],
        None => candidates(dav, &collection, &filter).await?,
    };
    let dav = dav.clone();
    let user = ctx.user.clone();
    let request_href = href;
    Ok(multistatus::stream(move |mut out| async move {
        let ctx = PropContext { dav: &dav, user: &user, minimal };
        let writer = PageWriter {
            dav: &dav,
            area: Area::Addressbooks,
            parent: &collection,
            href_base: &base,
            props: &wanted.props,
            data: DATA,
        };
        let mut returned = 0usize;
        for chunk in names.chunks(PAGE) {
            let mut hits = match run_page(
                &dav,
                collection.id,
                chunk.to_vec(),
                Some(&filter),
                wanted.data.as_ref(),
            )
            .await
            {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(error = %e.message, "addressbook-query stopped");
                    return;
                }
            };
            let truncated = limit.is_some_and(|l| returned + hits.len() > l);
            if let Some(l) = limit {
                hits.truncate(l - returned.min(l));
            }
            returned += hits.len();
            if let Err(e) = writer.write(&mut out, &ctx, hits).await {
                tracing::warn!(error = %e.message, "addressbook-query stopped");
                return;
            }
            if truncated {
                // RFC 6352 §8.6.2: the truncation is a 507 for the Request-URI, not counted in the limit.
                out.w.open(DAV, "response");
                out.w.text_element(DAV, "href", &request_href);
                out.w.text_element(DAV, "status", &status_line(StatusCode::INSUFFICIENT_STORAGE));
                out.w.open(DAV, "error");
                out.w.empty(DAV, "number-of-matches-within-limits");
                out.w.close(DAV, "error");
                out.w.close(DAV, "response");
                break;
            }
            if !out.flush().await {
                return;
            }
        }
        out.finish().await;
    }))
}

pub async fn addressbook_multiget(
    dav: &Dav,
    ctx: &Ctx<'_>,
    root: &Element,
    minimal: bool,
) -> DavResult<Response<Body>> {
    let (collection, object) = target(dav, ctx).await?;
    if object.is_some() {
        return Err(DavError::condition(
            StatusCode::FORBIDDEN,
            DAV,
            "supported-report",
            "multiget works on an address book",
        ));
    }
    let wanted = wanted(root)?;
    let base = ctx.path.href(true);
    // Each href must name a member of this collection; anything else is 404.
    let requested = multiget_hrefs(root, "addressbook-multiget", &base)?;
    let writer = PageWriter {
        dav,
        area: Area::Addressbooks,
        parent: &collection,
        href_base: &base,
        props: &wanted.props,
        data: DATA,
    };
    let ctx_props = PropContext { dav, user: ctx.user, minimal };
    writer
        .multiget(&ctx_props, &requested, PAGE, |names| {
            run_page(dav, collection.id, names, None, wanted.data.as_ref())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dav::xml;
    use crate::vcard::Version;

    const CARD: &str = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Jane Doe\r\nNICKNAME:JD\r\nEMAIL;TYPE=work:jane@example.com\r\nitem1.TEL:+1 555\r\nUID:j\r\nEND:VCARD\r\n";

    fn request(attrs: &str, inner: &str) -> AddressDataRequest {
        AddressDataRequest::parse(
            &xml::parse(
                format!(r#"<C:address-data xmlns:C="{CARDDAV}" {attrs}>{inner}</C:address-data>"#).as_bytes(),
            )
            .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn address_data_versions_and_selection() {
        assert_eq!(request("", "").render(CARD.as_bytes()).unwrap(), CARD, "stored bytes by default");
        assert_eq!(request(r#"version="4.0""#, "").render(CARD.as_bytes()).unwrap(), CARD);
        let v3 = request(r#"content-type="text/vcard" version="3.0""#, "").render(CARD.as_bytes()).unwrap();
        assert!(v3.contains("VERSION:3.0") && v3.contains("FN:Jane Doe"), "{v3}");
        assert_eq!(
            request(r#"content-type="text/vcard""#, "").representation,
            Some(Representation::Vcard(Version::V30))
        );
        let partial = request("", r#"<C:prop name="NICKNAME"/><C:prop name="TEL" novalue="yes"/>"#)
            .render(CARD.as_bytes())
            .unwrap();
        assert_eq!(partial, "BEGIN:VCARD\r\nVERSION:4.0\r\nNICKNAME:JD\r\nitem1.TEL:\r\nEND:VCARD\r\n");
        let json = request(r#"content-type="application/vcard+json""#, "").render(CARD.as_bytes()).unwrap();
        assert!(json.starts_with("[\"vcard\""), "{json}");
        let bad = AddressDataRequest::parse(
            &xml::parse(format!(r#"<C:address-data xmlns:C="{CARDDAV}" version="2.1"/>"#).as_bytes())
                .unwrap(),
        );
        assert_eq!(bad.unwrap_err().condition.unwrap().name, "supported-address-data");
    }
}
