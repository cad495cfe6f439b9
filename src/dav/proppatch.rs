//! PROPPATCH (RFC 4918 §9.2): all instructions succeed or none does; the
//! failing ones carry their own status and the rest `424 Failed Dependency`.
//! Live properties are protected; everything else is stored verbatim as a
//! dead property (Apple's colours and orders, X- properties, litmus' tests).

use http::{Response, StatusCode};

use super::error::{DavError, DavResult};
use super::multistatus::Out;
use super::props;
use super::resource::{self, Lookup, Resource};
use super::xml::{self, DAV, Element};
use super::{Body, Ctx, Dav, status_line};
use crate::store::{DeadProperty, PropertyChange, ResourceId};

/// Most dead properties one resource may carry.
pub const MAX_DEAD_PROPERTIES: usize = 256;
/// Largest serialized value of one dead property.
pub const MAX_PROPERTY_BYTES: usize = 64 * 1024;

/// One `set` or `remove` instruction, in document order.
#[derive(Debug, Clone)]
pub struct Instruction {
    pub set: bool,
    pub property: Element,
}

/// Parses a `DAV:propertyupdate` body.
pub fn parse_propertyupdate(body: &[u8]) -> DavResult<Vec<Instruction>> {
    let root = xml::parse(body)?;
    if !root.is(DAV, "propertyupdate") {
        return Err(xml::XmlError::UnexpectedRoot("DAV:propertyupdate".into()).into());
    }
    let mut out = Vec::new();
    for action in root.elements() {
        let set = match (action.ns.as_str(), action.local.as_str()) {
            (DAV, "set") => true,
            (DAV, "remove") => false,
            _ => continue,
        };
        for prop in action.elements().filter(|e| e.is(DAV, "prop")) {
            // RFC 4918 §4.3: the xml:lang in scope belongs to the value and is kept with it.
            let inherited = prop.lang().or(action.lang()).or(root.lang());
            for property in prop.elements() {
                let mut property = property.clone();
                if let (Some(lang), None) = (inherited, property.lang()) {
                    property.attributes.push(xml::Attribute {
                        ns: xml::XML_NS.to_owned(),
                        local: "lang".to_owned(),
                        value: lang.to_owned(),
                    });
                }
                out.push(Instruction { set, property });
            }
        }
    }
    if out.is_empty() {
        return Err(DavError::bad_request("the propertyupdate changes no property"));
    }
    Ok(out)
}

/// Checks one instruction against what the resource allows.
pub fn check_instruction(resource: &Resource, instruction: &Instruction) -> DavResult<()> {
    let p = &instruction.property;
    if resource.collection().is_none() && !matches!(resource, Resource::Object { .. }) {
        return Err(protected("properties of this resource cannot be changed"));
    }
    if props::is_live(resource, (&p.ns, &p.local)) {
        return Err(protected("this property is computed by the server"));
    }
    if instruction.set {
        let size = p.to_standalone_xml().len();
        if size > MAX_PROPERTY_BYTES {
            return Err(DavError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                format!("property values are limited to {MAX_PROPERTY_BYTES} bytes"),
            ));
        }
    }
    crate::collections::validate_property(resource.kind(), instruction)
}

fn protected(message: &str) -> DavError {
    DavError::condition(StatusCode::FORBIDDEN, DAV, "cannot-modify-protected-property", message)
}

/// Turns checked instructions into store changes.
pub fn to_changes(instructions: &[Instruction]) -> Vec<PropertyChange> {
    instructions
        .iter()
        .map(|i| {
            if i.set {
                PropertyChange::Set(DeadProperty {
                    namespace: i.property.ns.clone(),
                    name: i.property.local.clone(),
                    xml: i.property.to_standalone_xml(),
                })
            } else {
                PropertyChange::Remove { namespace: i.property.ns.clone(), name: i.property.local.clone() }
            }
        })
        .collect()
}

/// Outcome per instruction: `Ok` or the error that made it fail.
pub fn check_all(resource: &Resource, instructions: &[Instruction], existing: usize) -> Vec<DavResult<()>> {
    let mut results: Vec<DavResult<()>> =
        instructions.iter().map(|i| check_instruction(resource, i)).collect();
    let added = instructions.iter().filter(|i| i.set).count();
    if existing + added > MAX_DEAD_PROPERTIES {
        for (i, r) in instructions.iter().zip(results.iter_mut()) {
            if i.set && r.is_ok() {
                *r = Err(DavError::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    format!("a resource can carry at most {MAX_DEAD_PROPERTIES} properties"),
                ));
            }
        }
    }
    if results.iter().any(Result::is_err) {
        for r in results.iter_mut().filter(|r| r.is_ok()) {
            *r = Err(DavError::new(StatusCode::FAILED_DEPENDENCY, "another property in the request failed"));
        }
    }
    results
}

pub async fn proppatch(dav: &Dav, ctx: &Ctx<'_>, body: &[u8]) -> DavResult<Response<Body>> {
    let resource = match resource::lookup(dav.store.as_ref(), ctx.user, &ctx.path).await? {
        Lookup::Found(r) => r,
        _ => return Err(DavError::not_found()),
    };
    let instructions = parse_propertyupdate(body)?;
    let id = match &resource {
        Resource::Collection { collection, .. } => Some(ResourceId::Collection(collection.id)),
        Resource::Object { meta, .. } => Some(ResourceId::Object(meta.id)),
        _ => None,
    };
    let existing = match id {
        Some(id) => dav.store.properties(id).await?.len(),
        None => 0,
    };
    let results = check_all(&resource, &instructions, existing);
    if results.iter().all(Result::is_ok)
        && let Some(id) = id
    {
        dav.store.patch_properties(id, to_changes(&instructions)).await?;
    }
    let href = ctx.path.href(resource.is_collection());
    let mut out = Out::buffered();
    out.w.open(DAV, "response");
    out.w.text_element(DAV, "href", &href);
    write_propstats(&mut out.w, &instructions, &results);
    out.w.close(DAV, "response");
    out.finish().await.ok_or_else(DavError::internal)
}

/// One propstat per distinct outcome, each listing its property names.
pub fn write_propstats(w: &mut xml::XmlWriter, instructions: &[Instruction], results: &[DavResult<()>]) {
    let mut groups: Vec<(StatusCode, Option<&super::error::Condition>, Vec<&Element>)> = Vec::new();
    for (i, r) in instructions.iter().zip(results) {
        let (status, condition) = match r {
            Ok(()) => (StatusCode::OK, None),
            Err(e) => (e.status, e.condition.as_ref()),
        };
        match groups.iter_mut().find(|g| g.0 == status && g.1 == condition) {
            Some(g) => {
                if !g.2.iter().any(|p| p.ns == i.property.ns && p.local == i.property.local) {
                    g.2.push(&i.property)
                }
            }
            None => groups.push((status, condition, vec![&i.property])),
        }
    }
    for (status, condition, properties) in groups {
        w.open(DAV, "propstat");
        w.open(DAV, "prop");
        for p in properties {
            w.empty(&p.ns, &p.local);
        }
        w.close(DAV, "prop");
        w.text_element(DAV, "status", &status_line(status));
        if let Some(c) = condition {
            w.open(DAV, "error");
            w.empty(c.ns, c.name);
            w.close(DAV, "error");
        }
        w.close(DAV, "propstat");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_keep_document_order() {
        let body = br#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z">
            <D:remove><D:prop><Z:a/></D:prop></D:remove>
            <D:set><D:prop><Z:a>1</Z:a><Z:b>2</Z:b></D:prop></D:set>
        </D:propertyupdate>"#;
        let list = parse_propertyupdate(body).unwrap();
        let summary: Vec<(bool, &str)> = list.iter().map(|i| (i.set, i.property.local.as_str())).collect();
        assert_eq!(summary, vec![(false, "a"), (true, "a"), (true, "b")]);
        assert!(parse_propertyupdate(br#"<D:propertyupdate xmlns:D="DAV:"/>"#).is_err());
        assert!(parse_propertyupdate(br#"<D:propfind xmlns:D="DAV:"/>"#).is_err());
    }
}
