//! CalDAV (RFC 4791): what a calendar collection accepts, and its export.
//!
//! Bodies are validated with the `ical` ingest layer and stored as sent;
//! the index keeps the UID and the component type.

pub mod calendar_data;
pub mod filter;
pub mod report;

use http::{HeaderValue, Response, StatusCode, header};

use crate::dav::error::{DavError, DavResult};
use crate::dav::proppatch::Instruction;
use crate::dav::xml::{CALDAV, Element};
use crate::dav::{Body, Dav};
use crate::ical;
use crate::store::{Collection, ObjectIndex};

/// Components a calendar may be created for.
pub const KNOWN_COMPONENTS: &[&str] = &["VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY"];
/// Earliest and latest times a calendar object may use (RFC 4791 §5.2.6, §5.2.7).
pub const MIN_DATE_TIME: &str = "16010101T000000Z";
pub const MAX_DATE_TIME: &str = "99991231T235959Z";
/// Most attendees one instance may list (RFC 4791 §5.2.9).
pub const MAX_ATTENDEES: usize = 1000;

fn precondition(name: &'static str, message: impl Into<String>) -> DavError {
    DavError::condition(StatusCode::FORBIDDEN, CALDAV, name, message)
}

/// RFC 4791 §5.3.2.1 checks of a calendar object resource.
pub fn ingest(
    collection: &Collection,
    body: &[u8],
    content_type: Option<&str>,
) -> DavResult<(String, ObjectIndex)> {
    if let Some(ct) = content_type {
        let media = ct.split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case("text/calendar") {
            return Err(precondition("supported-calendar-data", "calendar objects must be text/calendar"));
        }
    }
    let summary = ical::inspect(body).map_err(|e| match e {
        ical::CheckError::Data(m) => precondition("valid-calendar-data", m),
        ical::CheckError::Object(m) => precondition("valid-calendar-object-resource", m),
        ical::CheckError::Instances(m) => precondition("max-instances", m),
    })?;
    check_limits(&summary.calendar)?;
    let component = summary.component;
    if let Some(allowed) = &collection.components
        && !allowed.iter().any(|c| c.eq_ignore_ascii_case(&component))
    {
        return Err(precondition(
            "supported-calendar-component",
            format!("this calendar does not accept {component} components"),
        ));
    }
    Ok((
        "text/calendar; charset=utf-8".into(),
        ObjectIndex {
            uid: Some(summary.uid),
            component: Some(component),
            first_start: summary.first_start,
            last_end: summary.last_end,
            recurring: summary.recurring,
            search: Vec::new(),
        },
    ))
}

/// min-date-time, max-date-time and max-attendees-per-instance.
fn check_limits(calendar: &ical::tree::Component) -> DavResult<()> {
    let bound =
        |s: &str| ical::time::parse_date_time(s).map(|t| t.0.and_utc().timestamp()).unwrap_or_default();
    let (min, max) = (bound(MIN_DATE_TIME), bound(MAX_DATE_TIME));
    let zones = ical::time::Zones::from_calendar(calendar);
    for c in calendar.components.iter().filter(|c| c.name != "VTIMEZONE") {
        for p in c
            .properties
            .iter()
            .filter(|p| matches!(p.name.as_str(), "DTSTART" | "DTEND" | "DUE" | "RECURRENCE-ID"))
        {
            let Some(t) = zones.moment(p).map(|m| m.key()) else { continue };
            if t < min {
                return Err(precondition("min-date-time", format!("{} is before {MIN_DATE_TIME}", p.name)));
            }
            if t > max {
                return Err(precondition("max-date-time", format!("{} is after {MAX_DATE_TIME}", p.name)));
            }
        }
        if c.props("ATTENDEE").count() > MAX_ATTENDEES {
            return Err(precondition(
                "max-attendees-per-instance",
                format!("a component may list at most {MAX_ATTENDEES} attendees"),
            ));
        }
    }
    Ok(())
}

/// Rules of calendar properties (RFC 4791 §5.2).
pub fn validate_property(instruction: &Instruction) -> DavResult<()> {
    let p = &instruction.property;
    if instruction.set && p.is(CALDAV, "calendar-timezone") {
        let text = p.text();
        ical::inspect_timezone(text.as_bytes())
            .map_err(|e| precondition("valid-calendar-data", e.to_string()))?;
    }
    // RFC 7809 §3.1.5: an identifier the server knows.
    if instruction.set
        && p.is(CALDAV, "calendar-timezone-id")
        && ical::time::zone_by_name(&p.text()).is_none()
    {
        return Err(precondition("valid-timezone", "unknown time zone identifier"));
    }
    Ok(())
}

/// Reads `CALDAV:supported-calendar-component-set`.
pub fn parse_component_set(element: &Element) -> DavResult<Vec<String>> {
    let mut set = Vec::new();
    for comp in element.elements().filter(|e| e.is(CALDAV, "comp")) {
        let name = comp.attribute("name").unwrap_or_default().to_ascii_uppercase();
        if !KNOWN_COMPONENTS.contains(&name.as_str()) {
            return Err(precondition("supported-calendar-component", format!("unknown component {name:?}")));
        }
        if !set.contains(&name) {
            set.push(name);
        }
    }
    if set.is_empty() {
        return Err(precondition("supported-calendar-component", "the component set is empty"));
    }
    Ok(set)
}

/// The whole calendar as one iCalendar file, streamed object by object.
pub async fn export(dav: &Dav, collection: &Collection) -> DavResult<Response<Body>> {
    let (tx, body) = Body::channel();
    let store = dav.store.clone();
    let collection_id = collection.id;
    tokio::spawn(async move {
        let mut merger = ical::Merger::default();
        if !tx.send(merger.header()).await {
            return;
        }
        let mut after = None;
        loop {
            let page = match store.list_objects_with_bodies(collection_id, after.clone(), 200).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "calendar export stopped");
                    return;
                }
            };
            let Some(last) = page.last() else { break };
            after = Some(last.meta.name.clone());
            let mut chunk = Vec::new();
            for object in &page {
                merger.append_components(&object.body, &mut chunk);
            }
            if !tx.send(chunk).await {
                return;
            }
            if page.len() < 200 {
                break;
            }
        }
        tx.send(ical::Merger::footer()).await;
    });
    let mut r = Response::new(body);
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
    Ok(r)
}
