//! The live-property engine (DESIGN §4): one table per resource kind of the
//! properties Skjold computes, used alike by `allprop`, `propname`, `prop`,
//! PROPPATCH (which refuses to write them) and the REPORTs.
//!
//! Everything else a client sets is a dead property, stored verbatim.

use super::path::{self, Area};
use super::resource::Resource;
use super::sync;
use super::xml::{APPLE_ICAL, CALDAV, CALENDARSERVER, CARDDAV, DAV, XmlWriter};
use super::{Dav, http_date, rfc3339};
use crate::store::{CollectionKind, Principal};

/// A property name.
pub type Name<'a> = (&'a str, &'a str);

/// Properties that RFC 4918 §14.2 `allprop` includes when the resource has them.
const ALLPROP: &[Name<'static>] = &[
    (DAV, "creationdate"),
    (DAV, "displayname"),
    (DAV, "getcontentlength"),
    (DAV, "getcontenttype"),
    (DAV, "getetag"),
    (DAV, "getlastmodified"),
    (DAV, "resourcetype"),
];

const COMMON: &[Name<'static>] = &[
    (DAV, "resourcetype"),
    (DAV, "current-user-principal"),
    (DAV, "current-user-privilege-set"),
    (DAV, "principal-collection-set"),
    (DAV, "supported-report-set"),
];

const PRINCIPAL: &[Name<'static>] = &[
    (DAV, "displayname"),
    (DAV, "principal-URL"),
    (DAV, "owner"),
    (DAV, "alternate-URI-set"),
    (DAV, "group-membership"),
    (DAV, "group-member-set"),
    (CALDAV, "calendar-home-set"),
    (CALDAV, "calendar-user-address-set"),
    (CALDAV, "calendar-user-type"),
    (CARDDAV, "addressbook-home-set"),
    (CALENDARSERVER, "email-address-set"),
];

const COLLECTION: &[Name<'static>] = &[
    (DAV, "owner"),
    (DAV, "creationdate"),
    (DAV, "getlastmodified"),
    (DAV, "getetag"),
    (DAV, "sync-token"),
    (CALENDARSERVER, "getctag"),
    (DAV, "quota-used-bytes"),
    (DAV, "quota-available-bytes"),
];

const CALENDAR: &[Name<'static>] = &[
    (CALDAV, "supported-calendar-component-set"),
    (CALDAV, "supported-calendar-data"),
    (CALDAV, "max-resource-size"),
    (CALDAV, "min-date-time"),
    (CALDAV, "max-date-time"),
    (CALDAV, "max-instances"),
    (CALDAV, "max-attendees-per-instance"),
    (CALDAV, "supported-collation-set"),
];

const ADDRESSBOOK: &[Name<'static>] = &[
    (CARDDAV, "supported-address-data"),
    (CARDDAV, "max-resource-size"),
    (CARDDAV, "supported-collation-set"),
];

const OBJECT: &[Name<'static>] = &[
    (DAV, "owner"),
    (DAV, "creationdate"),
    (DAV, "getlastmodified"),
    (DAV, "getetag"),
    (DAV, "getcontenttype"),
    (DAV, "getcontentlength"),
];

/// Collations of text-match (RFC 4791 §7.5.1, RFC 6352 §8.3).
const COLLATIONS: &[&str] = &["i;ascii-casemap", "i;octet", "i;unicode-casemap"];

/// Writable properties that are stored as dead properties but that some
/// clients expect to find on every calendar (Apple).
pub const APPLE_WRITABLE: &[Name<'static>] =
    &[(APPLE_ICAL, "calendar-color"), (APPLE_ICAL, "calendar-order")];

/// Every live property the resource has, in a stable order.
pub fn live_names(resource: &Resource) -> Vec<Name<'static>> {
    let mut names: Vec<Name<'static>> = COMMON.to_vec();
    match resource {
        Resource::Principal => names.extend_from_slice(PRINCIPAL),
        Resource::Collection { collection, .. } => {
            names.extend_from_slice(COLLECTION);
            match collection.kind {
                CollectionKind::Calendar => names.extend_from_slice(CALENDAR),
                CollectionKind::Addressbook => names.extend_from_slice(ADDRESSBOOK),
                _ => {}
            }
        }
        Resource::Object { .. } => names.extend_from_slice(OBJECT),
        Resource::ServerRoot | Resource::Root | Resource::Principals | Resource::HomeSet(_) => {}
    }
    names
}

pub fn is_live(resource: &Resource, name: Name<'_>) -> bool {
    live_names(resource).contains(&name)
}

/// The live properties `allprop` returns for this resource.
pub fn allprop_names(resource: &Resource) -> Vec<Name<'static>> {
    live_names(resource).into_iter().filter(|n| ALLPROP.contains(n)).collect()
}

/// What the property writers need to know about the request.
pub struct PropContext<'a> {
    pub dav: &'a Dav,
    pub user: &'a Principal,
    /// `Prefer: return=minimal`: leave out properties that were not found.
    pub minimal: bool,
}

impl PropContext<'_> {
    fn quota_bytes(&self) -> Option<i64> {
        self.user.quota_bytes.or(self.dav.settings.default_quota)
    }
}

fn href_element(w: &mut XmlWriter, ns: &str, local: &str, hrefs: &[String]) {
    w.open(ns, local);
    for h in hrefs {
        w.text_element(DAV, "href", h);
    }
    w.close(ns, local);
}

fn privileges(w: &mut XmlWriter, resource: &Resource) {
    let owned = matches!(resource, Resource::Collection { .. } | Resource::Object { .. });
    let mut list: Vec<Name<'static>> = vec![(DAV, "read"), (DAV, "read-current-user-privilege-set")];
    if owned {
        list.extend_from_slice(&[
            (DAV, "write"),
            (DAV, "write-properties"),
            (DAV, "write-content"),
            (DAV, "bind"),
            (DAV, "unbind"),
            (DAV, "read-acl"),
        ]);
    }
    if matches!(resource, Resource::Collection { collection, .. } if collection.kind == CollectionKind::Calendar)
    {
        list.push((CALDAV, "read-free-busy"));
    }
    w.open(DAV, "current-user-privilege-set");
    for (ns, name) in list {
        w.open(DAV, "privilege");
        w.empty(ns, name);
        w.close(DAV, "privilege");
    }
    w.close(DAV, "current-user-privilege-set");
}

fn supported_reports(w: &mut XmlWriter, resource: &Resource) {
    let mut reports: Vec<Name<'static>> = Vec::new();
    if let Resource::Collection { collection, .. } = resource {
        reports.push((DAV, "sync-collection"));
        reports.extend(super::report::kind_reports(collection.kind));
    }
    w.open(DAV, "supported-report-set");
    for (ns, name) in reports {
        w.open(DAV, "supported-report");
        w.open(DAV, "report");
        w.empty(ns, name);
        w.close(DAV, "report");
        w.close(DAV, "supported-report");
    }
    w.close(DAV, "supported-report-set");
}

/// Writes the live property `name` of `resource` if it has it; `false` if not.
pub fn write_live(w: &mut XmlWriter, ctx: &PropContext<'_>, resource: &Resource, name: Name<'_>) -> bool {
    if !is_live(resource, name) {
        return false;
    }
    let user = ctx.user;
    let principal = path::principal_href(&user.name);
    let (ns, local) = name;
    match (ns, local) {
        (DAV, "resourcetype") => {
            w.open(DAV, "resourcetype");
            if resource.is_collection() {
                w.empty(DAV, "collection");
            }
            match resource {
                Resource::Principal => w.empty(DAV, "principal"),
                Resource::Collection { collection, .. } => match collection.kind {
                    CollectionKind::Calendar => w.empty(CALDAV, "calendar"),
                    CollectionKind::Addressbook => w.empty(CARDDAV, "addressbook"),
                    _ => {}
                },
                _ => {}
            }
            w.close(DAV, "resourcetype");
        }
        (DAV, "current-user-principal") => href_element(w, ns, local, &[principal]),
        (DAV, "principal-URL") => href_element(w, ns, local, &[principal]),
        (DAV, "owner") => href_element(w, ns, local, &[principal]),
        (DAV, "principal-collection-set") => href_element(w, ns, local, &[path::PRINCIPALS.to_owned()]),
        (DAV, "current-user-privilege-set") => privileges(w, resource),
        (DAV, "supported-report-set") => supported_reports(w, resource),
        (DAV, "displayname") => {
            w.text_element(DAV, "displayname", user.display_name.as_deref().unwrap_or(&user.name))
        }
        (DAV, "alternate-URI-set") | (DAV, "group-membership") | (DAV, "group-member-set") => {
            w.empty(ns, local)
        }
        (CALDAV, "calendar-home-set") => {
            href_element(w, ns, local, &[path::home_href(Area::Calendars, &user.name)])
        }
        (CARDDAV, "addressbook-home-set") => {
            href_element(w, ns, local, &[path::home_href(Area::Addressbooks, &user.name)])
        }
        (CALDAV, "calendar-user-address-set") => {
            let mut hrefs = Vec::new();
            if let Some(email) = &user.email {
                hrefs.push(format!("mailto:{email}"));
            }
            hrefs.push(principal);
            href_element(w, ns, local, &hrefs);
        }
        (CALENDARSERVER, "email-address-set") => {
            w.open(ns, local);
            if let Some(email) = &user.email {
                w.text_element(CALENDARSERVER, "email-address", email);
            }
            w.close(ns, local);
        }
        (CALDAV, "calendar-user-type") => w.text_element(ns, local, "INDIVIDUAL"),
        _ => return write_resource_live(w, ctx, resource, name),
    }
    true
}

/// Properties of stored collections and objects.
fn write_resource_live(
    w: &mut XmlWriter,
    ctx: &PropContext<'_>,
    resource: &Resource,
    name: Name<'_>,
) -> bool {
    let (ns, local) = name;
    match resource {
        Resource::Collection { collection, .. } => match (ns, local) {
            (DAV, "creationdate") => w.text_element(ns, local, &rfc3339(collection.created)),
            (DAV, "getlastmodified") => w.text_element(ns, local, &http_date(collection.modified)),
            (DAV, "getetag") => w.text_element(ns, local, &collection.etag()),
            (DAV, "sync-token") | (CALENDARSERVER, "getctag") => {
                w.text_element(ns, local, &sync::token(collection.id, collection.revision))
            }
            (DAV, "quota-used-bytes") => w.text_element(ns, local, &ctx.user.used_bytes.to_string()),
            // Without a quota there is no meaningful number to give (RFC 4331 §3).
            (DAV, "quota-available-bytes") => match ctx.quota_bytes() {
                Some(q) => w.text_element(ns, local, &(q - ctx.user.used_bytes).max(0).to_string()),
                None => return false,
            },
            (CALDAV, "supported-calendar-component-set") => {
                w.open(ns, local);
                for comp in collection.components.iter().flatten() {
                    w.empty_with(CALDAV, "comp", &[("name", comp)]);
                }
                w.close(ns, local);
            }
            (CALDAV, "supported-calendar-data") => {
                w.open(ns, local);
                w.empty_with(
                    CALDAV,
                    "calendar-data",
                    &[("content-type", "text/calendar"), ("version", "2.0")],
                );
                w.close(ns, local);
            }
            (CARDDAV, "supported-address-data") => {
                w.open(ns, local);
                for (content_type, version) in
                    [("text/vcard", "3.0"), ("text/vcard", "4.0"), ("application/vcard+json", "4.0")]
                {
                    w.empty_with(
                        CARDDAV,
                        "address-data-type",
                        &[("content-type", content_type), ("version", version)],
                    );
                }
                w.close(ns, local);
            }
            (CALDAV, "min-date-time") => w.text_element(ns, local, crate::caldav::MIN_DATE_TIME),
            (CALDAV, "max-date-time") => w.text_element(ns, local, crate::caldav::MAX_DATE_TIME),
            (CALDAV, "max-instances") => {
                w.text_element(ns, local, &crate::ical::recur::MAX_INSTANCES.to_string())
            }
            (CALDAV, "max-attendees-per-instance") => {
                w.text_element(ns, local, &crate::caldav::MAX_ATTENDEES.to_string())
            }
            (CALDAV, "max-resource-size") | (CARDDAV, "max-resource-size") => {
                w.text_element(ns, local, &ctx.dav.settings.max_resource_size.to_string())
            }
            (CALDAV, "supported-collation-set") | (CARDDAV, "supported-collation-set") => {
                w.open(ns, local);
                for c in COLLATIONS {
                    w.text_element(ns, "supported-collation", c);
                }
                w.close(ns, local);
            }
            _ => return false,
        },
        Resource::Object { meta, .. } => match (ns, local) {
            (DAV, "creationdate") => w.text_element(ns, local, &rfc3339(meta.created)),
            (DAV, "getlastmodified") => w.text_element(ns, local, &http_date(meta.modified)),
            (DAV, "getetag") => w.text_element(ns, local, &meta.etag),
            (DAV, "getcontenttype") => w.text_element(ns, local, &meta.content_type),
            (DAV, "getcontentlength") => w.text_element(ns, local, &meta.size.to_string()),
            _ => return false,
        },
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allprop_is_a_subset_of_the_live_properties() {
        let object = Resource::Object {
            area: Area::Files,
            parent: crate::store::Collection {
                id: 1,
                owner_id: 1,
                parent_id: None,
                kind: CollectionKind::FilesHome,
                name: "files-home".into(),
                components: None,
                revision: 0,
                created: 0,
                modified: 0,
            },
            meta: crate::store::ObjectMeta {
                id: 1,
                collection_id: 1,
                name: "a".into(),
                etag: "\"x\"".into(),
                content_type: "text/plain".into(),
                size: 1,
                uid: None,
                component: None,
                created: 0,
                modified: 0,
                revision: 1,
            },
        };
        let all = allprop_names(&object);
        assert!(all.contains(&(DAV, "getetag")) && all.contains(&(DAV, "getcontentlength")));
        assert!(
            !all.contains(&(DAV, "current-user-privilege-set")),
            "RFC 3744 properties stay out of allprop"
        );
        assert!(!is_live(&object, (CALDAV, "calendar-home-set")));
        assert!(is_live(&Resource::Principal, (CALDAV, "calendar-home-set")));
    }
}
