//! MKCOL (RFC 4918 §9.3), extended MKCOL (RFC 5689) and MKCALENDAR
//! (RFC 4791 §5.3.1). Initial properties are applied atomically with the
//! creation: if one is refused, nothing is created.

use http::{HeaderValue, Response, StatusCode, header};

use super::error::{DavError, DavResult};
use super::proppatch::{self, Instruction};
use super::resource::{self, Lookup, Resource};
use super::xml::{self, CALDAV, CARDDAV, DAV, Element};
use super::{Body, Ctx, Dav, status_response};
use crate::store::{Collection, CollectionKind, NewCollection, PropertyChange};

pub const DEFAULT_COMPONENTS: &[&str] = &["VEVENT", "VTODO", "VJOURNAL"];

pub async fn mkcol(dav: &Dav, ctx: &Ctx<'_>, body: &[u8], mkcalendar: bool) -> DavResult<Response<Body>> {
    let (parent, name) = match resource::lookup(dav.store.as_ref(), ctx.user, &ctx.path).await? {
        Lookup::Missing { parent, name, .. } => (parent, name),
        Lookup::Found(_) if mkcalendar => {
            return Err(DavError::condition(
                StatusCode::FORBIDDEN,
                DAV,
                "resource-must-be-null",
                "something already exists here",
            ));
        }
        Lookup::Found(_) => return Err(DavError::method_not_allowed("something already exists here")),
        Lookup::ParentMissing => return Err(DavError::conflict("the parent collection does not exist")),
        Lookup::NotFound => return Err(DavError::not_found()),
    };

    let root = parse_body(body, mkcalendar)?;
    let instructions = match &root {
        Some(root) => set_instructions(root)?,
        None => Vec::new(),
    };
    let resourcetype = instructions.iter().find(|i| i.property.is(DAV, "resourcetype")).map(|i| &i.property);
    let kind = requested_kind(mkcalendar, resourcetype, parent.kind)?;
    if !parent.kind.child_kinds().contains(&kind) {
        return Err(location_error(kind));
    }

    // Resourcetype and the component set are part of the creation, not properties to store.
    let mut components = (kind == CollectionKind::Calendar)
        .then(|| DEFAULT_COMPONENTS.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let mut stored = Vec::new();
    let mut results = Vec::new();
    let probe = Resource::Collection {
        area: match &ctx.path {
            super::path::DavPath::InHome { area, .. } => *area,
            _ => return Err(DavError::not_found()),
        },
        collection: Collection {
            id: 0,
            owner_id: parent.owner_id,
            parent_id: Some(parent.id),
            kind,
            name: name.clone(),
            components: None,
            revision: 0,
            created: 0,
            modified: 0,
        },
    };
    for instruction in &instructions {
        let p = &instruction.property;
        let result = if p.is(DAV, "resourcetype") {
            Ok(())
        } else if p.is(CALDAV, "supported-calendar-component-set") && kind == CollectionKind::Calendar {
            crate::collections::parse_component_set(p).map(|set| components = Some(set))
        } else {
            let r = proppatch::check_instruction(&probe, instruction);
            if r.is_ok() {
                stored.push(instruction.clone());
            }
            r
        };
        results.push(result);
    }
    if results.iter().any(Result::is_err) {
        for r in results.iter_mut().filter(|r| r.is_ok()) {
            *r = Err(DavError::new(StatusCode::FAILED_DEPENDENCY, "another property in the request failed"));
        }
        let (ns, root_name) =
            if mkcalendar { (CALDAV, "mkcalendar-response") } else { (DAV, "mkcol-response") };
        let mut w = xml::XmlWriter::document(ns, root_name);
        proppatch::write_propstats(&mut w, &instructions, &results);
        w.close(ns, root_name);
        let mut response = Response::new(Body::full(w.into_string()));
        *response.status_mut() = StatusCode::FORBIDDEN;
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml; charset=utf-8"));
        return Ok(response);
    }

    let properties = proppatch::to_changes(&stored)
        .into_iter()
        .filter_map(|c| match c {
            PropertyChange::Set(p) => Some(p),
            PropertyChange::Remove { .. } => None,
        })
        .collect();
    dav.store
        .create_collection(NewCollection { parent_id: parent.id, name, kind, components, properties })
        .await?;
    let mut response = status_response(StatusCode::CREATED);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(location) = HeaderValue::from_str(&ctx.path.href(true)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// The XML body, if any. MKCOL with a body that is not an extended-MKCOL
/// request is `415 Unsupported Media Type` (RFC 4918 §9.3, RFC 5689 §3).
fn parse_body(body: &[u8], mkcalendar: bool) -> DavResult<Option<Element>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let parsed = xml::parse(body);
    match (mkcalendar, parsed) {
        (true, Ok(root)) if root.is(CALDAV, "mkcalendar") => Ok(Some(root)),
        (true, Ok(_)) => {
            Err(DavError::bad_request("the body of MKCALENDAR must be a CALDAV:mkcalendar element"))
        }
        (true, Err(e)) => Err(e.into()),
        (false, Ok(root)) if root.is(DAV, "mkcol") => Ok(Some(root)),
        (false, _) => Err(DavError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "MKCOL accepts no body other than an extended MKCOL (DAV:mkcol) request",
        )),
    }
}

fn set_instructions(root: &Element) -> DavResult<Vec<Instruction>> {
    let mut out = Vec::new();
    for set in root.elements() {
        if !set.is(DAV, "set") {
            return Err(DavError::bad_request(format!("unexpected element {} in the request", set.local)));
        }
        for prop in set.elements().filter(|e| e.is(DAV, "prop")) {
            for property in prop.elements() {
                out.push(Instruction { set: true, property: property.clone() });
            }
        }
    }
    Ok(out)
}

/// The kind of collection a request creates.
fn requested_kind(
    mkcalendar: bool,
    resourcetype: Option<&Element>,
    parent: CollectionKind,
) -> DavResult<CollectionKind> {
    if mkcalendar {
        return Ok(CollectionKind::Calendar);
    }
    let Some(rt) = resourcetype else {
        return match parent {
            CollectionKind::CalendarHome => Err(location_error(CollectionKind::Folder)),
            CollectionKind::AddressbookHome => Err(location_error(CollectionKind::Folder)),
            _ => Ok(CollectionKind::Folder),
        };
    };
    let mut types: Vec<(&str, &str)> = rt.elements().map(|e| (e.ns.as_str(), e.local.as_str())).collect();
    types.sort();
    types.dedup();
    match types.as_slice() {
        [(DAV, "collection")] => Ok(CollectionKind::Folder),
        [(DAV, "collection"), (CALDAV, "calendar")] | [(CALDAV, "calendar"), (DAV, "collection")] => {
            Ok(CollectionKind::Calendar)
        }
        [(DAV, "collection"), (CARDDAV, "addressbook")] | [(CARDDAV, "addressbook"), (DAV, "collection")] => {
            Ok(CollectionKind::Addressbook)
        }
        _ => Err(DavError::condition(
            StatusCode::FORBIDDEN,
            DAV,
            "valid-resourcetype",
            "this kind of collection cannot be created",
        )),
    }
}

fn location_error(kind: CollectionKind) -> DavError {
    match kind {
        CollectionKind::Calendar => DavError::condition(
            StatusCode::FORBIDDEN,
            CALDAV,
            "calendar-collection-location-ok",
            "calendars can only be created in a calendar home",
        ),
        CollectionKind::Addressbook => DavError::condition(
            StatusCode::FORBIDDEN,
            CARDDAV,
            "addressbook-collection-location-ok",
            "address books can only be created in an address-book home",
        ),
        _ => DavError::forbidden(
            "only calendars (MKCALENDAR) and address books (extended MKCOL) can be created here",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(xml: &str) -> Element {
        xml::parse(xml.as_bytes()).unwrap()
    }

    #[test]
    fn resourcetype_decides_the_kind() {
        let home = CollectionKind::FilesHome;
        assert_eq!(requested_kind(true, None, home).unwrap(), CollectionKind::Calendar);
        assert_eq!(requested_kind(false, None, home).unwrap(), CollectionKind::Folder);
        assert!(requested_kind(false, None, CollectionKind::CalendarHome).is_err());
        let cal = rt(
            r#"<D:resourcetype xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:collection/><C:calendar/></D:resourcetype>"#,
        );
        assert_eq!(requested_kind(false, Some(&cal), home).unwrap(), CollectionKind::Calendar);
        let book = rt(
            r#"<resourcetype xmlns="DAV:"><addressbook xmlns="urn:ietf:params:xml:ns:carddav"/><collection/></resourcetype>"#,
        );
        assert_eq!(requested_kind(false, Some(&book), home).unwrap(), CollectionKind::Addressbook);
        let odd = rt(r#"<resourcetype xmlns="DAV:"><collection/><thing xmlns="urn:x"/></resourcetype>"#);
        let e = requested_kind(false, Some(&odd), home).unwrap_err();
        assert_eq!(e.condition.unwrap().name, "valid-resourcetype");
    }

    #[test]
    fn mkcol_bodies() {
        assert!(parse_body(b"", false).unwrap().is_none());
        assert_eq!(parse_body(b"<foo/>", false).unwrap_err().status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(parse_body(b"not xml", false).unwrap_err().status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(parse_body(br#"<mkcol xmlns="DAV:"><set><prop/></set></mkcol>"#, false).unwrap().is_some());
        assert_eq!(parse_body(b"<x/>", true).unwrap_err().status, StatusCode::BAD_REQUEST);
    }
}
