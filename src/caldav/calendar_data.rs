//! `CALDAV:calendar-data` in reports (RFC 4791 §9.6): the stored object as
//! is, or parts of it (comp/prop selection), its recurrence set expanded
//! into instances in UTC (§9.6.5), the overrides of a time range only
//! (§9.6.6), or the FREEBUSY values of a range only (§9.6.7).
//!
//! Selected properties are returned as the client stored them.

use std::ops::ControlFlow;

use http::StatusCode;

use super::filter::{TimeRange, instance_overlaps, valid_filter};
use crate::dav::error::{DavError, DavResult};
use crate::dav::xml::{CALDAV, Element};
use crate::ical::recur::{ExpandError, Series};
use crate::ical::time::{Moment, Zone, Zones, format_utc};
use crate::ical::tree::{Component, Property, fold_into, parse_line};
use crate::ical::{self};

/// Which properties of a component to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropSelect {
    All,
    /// (name, novalue)
    Some(Vec<(String, bool)>),
}

/// Which parts of a component to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompSelect {
    pub name: String,
    pub props: PropSelect,
    /// `None`: all sub-components.
    pub comps: Option<Vec<CompSelect>>,
}

/// A parsed `calendar-data` request element.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CalendarDataRequest {
    pub select: Option<CompSelect>,
    pub expand: Option<TimeRange>,
    pub limit_recurrence: Option<TimeRange>,
    pub limit_freebusy: Option<TimeRange>,
}

impl CalendarDataRequest {
    pub fn parse(e: &Element) -> DavResult<CalendarDataRequest> {
        let content_type = e.attribute("content-type").unwrap_or("text/calendar");
        let version = e.attribute("version").unwrap_or("2.0");
        if !content_type.eq_ignore_ascii_case("text/calendar") || version != "2.0" {
            return Err(DavError::condition(
                StatusCode::FORBIDDEN,
                CALDAV,
                "supported-calendar-data",
                format!("calendar data is served as text/calendar 2.0, not {content_type} {version}"),
            ));
        }
        let mut req = CalendarDataRequest::default();
        for child in e.elements() {
            match (child.ns.as_str(), child.local.as_str()) {
                (CALDAV, "comp") => req.select = Some(parse_comp(child)?),
                (CALDAV, "expand") => req.expand = Some(TimeRange::parse(child, true)?),
                (CALDAV, "limit-recurrence-set") => {
                    req.limit_recurrence = Some(TimeRange::parse(child, true)?)
                }
                (CALDAV, "limit-freebusy-set") => req.limit_freebusy = Some(TimeRange::parse(child, true)?),
                _ => {}
            }
        }
        if req.expand.is_some() && req.limit_recurrence.is_some() {
            return Err(valid_filter("expand and limit-recurrence-set exclude each other"));
        }
        Ok(req)
    }

    /// Whether the stored bytes can be returned unchanged.
    pub fn is_whole(&self) -> bool {
        *self == CalendarDataRequest::default()
    }
}

fn parse_comp(e: &Element) -> DavResult<CompSelect> {
    let name = e
        .attribute("name")
        .map(|n| n.trim().to_ascii_uppercase())
        .ok_or_else(|| DavError::bad_request("calendar-data comp needs a name"))?;
    let mut props: Option<Vec<(String, bool)>> = None;
    let mut all_props = false;
    let mut comps: Option<Vec<CompSelect>> = None;
    let mut all_comps = false;
    for child in e.elements() {
        match (child.ns.as_str(), child.local.as_str()) {
            (CALDAV, "allprop") => all_props = true,
            (CALDAV, "prop") => {
                let pname = child
                    .attribute("name")
                    .map(|n| n.trim().to_ascii_uppercase())
                    .ok_or_else(|| DavError::bad_request("calendar-data prop needs a name"))?;
                let novalue = child.attribute("novalue").is_some_and(|v| v.trim() == "yes");
                props.get_or_insert_with(Vec::new).push((pname, novalue));
            }
            (CALDAV, "allcomp") => all_comps = true,
            (CALDAV, "comp") => comps.get_or_insert_with(Vec::new).push(parse_comp(child)?),
            _ => {}
        }
    }
    // An element that names no properties (or no components) returns all of them.
    let props = match (all_props, props) {
        (false, Some(list)) => PropSelect::Some(list),
        _ => PropSelect::All,
    };
    let comps = if all_comps { None } else { comps };
    Ok(CompSelect { name, props, comps })
}

/// The text to put in `calendar-data` for a stored body.
pub fn render(
    body: &[u8],
    req: &CalendarDataRequest,
    floating: &Zone,
    max_instances: usize,
) -> DavResult<String> {
    if req.is_whole()
        && let Ok(text) = std::str::from_utf8(body)
    {
        return Ok(text.to_owned());
    }
    let text = ical::decode(body).map_err(|e| DavError::new(StatusCode::INTERNAL_SERVER_ERROR, e.0))?;
    let mut calendar =
        ical::tree::parse_tree(&text).map_err(|e| DavError::new(StatusCode::INTERNAL_SERVER_ERROR, e.0))?;
    let zones = Zones::from_calendar(&calendar);
    if let Some(range) = &req.expand {
        calendar = expand(&calendar, &zones, range, floating, max_instances).map_err(instances_error)?;
    } else if let Some(range) = &req.limit_recurrence {
        calendar =
            limit_recurrence(&calendar, &zones, range, floating, max_instances).map_err(instances_error)?;
    }
    if let Some(range) = &req.limit_freebusy {
        limit_freebusy(&mut calendar, &zones, range, floating);
    }
    let mut out = String::with_capacity(text.len());
    match &req.select {
        Some(select) if select.name == calendar.name => write_selected(&calendar, select, &mut out),
        Some(_) => {}
        None => calendar.write(&mut out),
    }
    Ok(out)
}

fn instances_error(e: ExpandError) -> DavError {
    DavError::condition(StatusCode::FORBIDDEN, CALDAV, "max-instances", e.to_string())
}

fn write_selected(c: &Component, select: &CompSelect, out: &mut String) {
    fold_into(out, &format!("BEGIN:{}", c.name));
    for p in &c.properties {
        match &select.props {
            PropSelect::All => fold_into(out, &p.raw),
            PropSelect::Some(list) => {
                if let Some((_, novalue)) = list.iter().find(|(n, _)| *n == p.name) {
                    if *novalue {
                        let cut = p.raw.len() - p.value.len();
                        fold_into(out, &p.raw[..cut]);
                    } else {
                        fold_into(out, &p.raw);
                    }
                }
            }
        }
    }
    for sub in &c.components {
        match &select.comps {
            None => sub.write(out),
            Some(list) => {
                if let Some(s) = list.iter().find(|s| s.name == sub.name) {
                    write_selected(sub, s, out);
                }
            }
        }
    }
    fold_into(out, &format!("END:{}", c.name));
}

/// A property line with a new UTC (or date, or floating) value, keeping the
/// other parameters but TZID and VALUE.
fn utc_property(name: &str, original: Option<&Property>, m: &Moment, floating: &Zone) -> Property {
    let mut line = name.to_owned();
    if let Some(p) = original {
        for param in p.params.iter().filter(|x| x.name != "TZID" && x.name != "VALUE" && x.name != "RANGE") {
            line.push(';');
            line.push_str(&param.name);
            line.push('=');
            let values: Vec<String> = param
                .values
                .iter()
                .map(|v| if v.contains([';', ':', ',']) { format!("\"{v}\"") } else { v.clone() })
                .collect();
            line.push_str(&values.join(","));
        }
    }
    if m.date_only {
        line.push_str(";VALUE=DATE:");
        line.push_str(&m.local.format("%Y%m%d").to_string());
    } else if m.is_floating() && matches!(floating, Zone::Floating) {
        line.push(':');
        line.push_str(&m.local.format("%Y%m%dT%H%M%S").to_string());
    } else {
        line.push(':');
        line.push_str(&format_utc(m.to_utc(floating)));
    }
    // The line is built from parsed parts, so it parses.
    parse_line(&line).unwrap_or_else(|_| Property {
        name: name.into(),
        params: Vec::new(),
        value: String::new(),
        raw: line,
    })
}

/// §9.6.5: one component per instance overlapping `range`, with times in
/// UTC, no recurrence properties and no VTIMEZONE.
pub fn expand(
    calendar: &Component,
    zones: &Zones,
    range: &TimeRange,
    floating: &Zone,
    max_instances: usize,
) -> Result<Component, ExpandError> {
    let mut out = Component {
        name: calendar.name.clone(),
        properties: calendar.properties.clone(),
        components: Vec::new(),
    };
    let series = Series::new(calendar, zones);
    let recurring = series.is_recurring();
    let mut instances = Vec::new();
    series.each(Some((range.start, range.end)), max_instances, |inst| {
        if instance_overlaps(&inst, range, zones, floating) {
            instances.push(inst);
        }
        ControlFlow::Continue(())
    })?;
    instances.sort_by_key(|i| i.start.as_ref().map(|s| s.to_utc(floating)));
    for inst in instances {
        let src = inst.component;
        let mut c =
            Component { name: src.name.clone(), properties: Vec::new(), components: src.components.clone() };
        for p in &src.properties {
            match p.name.as_str() {
                "RRULE" | "RDATE" | "EXDATE" | "EXRULE" | "RECURRENCE-ID" => {}
                "DTSTART" => {
                    if let Some(s) = &inst.start {
                        c.properties.push(utc_property("DTSTART", Some(p), s, floating));
                    }
                }
                "DTEND" | "DUE" => {
                    if let Some(e) = &inst.end {
                        c.properties.push(utc_property(&p.name, Some(p), e, floating));
                    }
                }
                // A nominal duration ("P1D") lasts a different time across a DST
                // change; the instance's end is written out in UTC instead.
                "DURATION" => match &inst.end {
                    Some(e)
                        if crate::ical::time::parse_duration(&p.value)
                            .is_some_and(|d| d.days != 0 || d.weeks != 0) =>
                    {
                        let name = if src.name == "VTODO" { "DUE" } else { "DTEND" };
                        c.properties.push(utc_property(name, None, e, floating));
                    }
                    _ => c.properties.push(p.clone()),
                },
                _ if p.has_param("TZID") => match zones.moment(p) {
                    Some(m) if !p.value.contains(',') => {
                        c.properties.push(utc_property(&p.name, Some(p), &m, floating))
                    }
                    _ => c.properties.push(p.clone()),
                },
                _ => c.properties.push(p.clone()),
            }
        }
        if (recurring || src.prop("RECURRENCE-ID").is_some())
            && let Some(rid) = &inst.recurrence_id
        {
            let original = src.prop("RECURRENCE-ID");
            c.properties.push(utc_property("RECURRENCE-ID", original, rid, floating));
        }
        out.components.push(c);
    }
    Ok(out)
}

/// §9.6.6: the master, plus the overrides whose current or original time
/// overlaps `range` (and THISANDFUTURE overrides that reach into it).
pub fn limit_recurrence(
    calendar: &Component,
    zones: &Zones,
    range: &TimeRange,
    floating: &Zone,
    max_instances: usize,
) -> Result<Component, ExpandError> {
    let series = Series::new(calendar, zones);
    let mut keep: Vec<*const Component> = Vec::new();
    series.each(None, max_instances, |inst| {
        let is_override = inst.component.prop("RECURRENCE-ID").is_some();
        if is_override && !keep.contains(&(inst.component as *const _)) {
            let original_overlaps = inst.recurrence_id.as_ref().is_some_and(|rid| {
                let start = rid.to_utc(floating);
                range.start <= start && range.end > start
            });
            let this_and_future = inst
                .component
                .prop("RECURRENCE-ID")
                .and_then(|p| p.param("RANGE"))
                .is_some_and(|r| r.eq_ignore_ascii_case("THISANDFUTURE"))
                && inst.recurrence_id.as_ref().is_some_and(|rid| rid.to_utc(floating) < range.end);
            if original_overlaps || this_and_future || instance_overlaps(&inst, range, zones, floating) {
                keep.push(inst.component as *const _);
            }
        }
        ControlFlow::Continue(())
    })?;
    let components = calendar
        .components
        .iter()
        .filter(|c| c.prop("RECURRENCE-ID").is_none() || keep.contains(&(*c as *const _)))
        .cloned()
        .collect();
    Ok(Component { name: calendar.name.clone(), properties: calendar.properties.clone(), components })
}

/// §9.6.7: only the FREEBUSY periods that overlap `range`.
pub fn limit_freebusy(calendar: &mut Component, zones: &Zones, range: &TimeRange, floating: &Zone) {
    for c in calendar.components.iter_mut().filter(|c| c.name == "VFREEBUSY") {
        let mut kept = Vec::new();
        for p in c.properties.drain(..) {
            if p.name != "FREEBUSY" {
                kept.push(p);
                continue;
            }
            let values: Vec<&str> = p
                .value
                .split(',')
                .filter(|v| {
                    let single = Property { value: (*v).to_owned(), ..p.clone() };
                    zones
                        .periods(&single)
                        .iter()
                        .any(|(s, e)| range.start < e.to_utc(floating) && range.end > s.to_utc(floating))
                })
                .collect();
            if values.is_empty() {
                continue;
            }
            let prefix = &p.raw[..p.raw.len() - p.value.len()];
            let line = format!("{prefix}{}", values.join(","));
            kept.push(Property { value: values.join(","), raw: line, ..p.clone() });
        }
        c.properties = kept;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dav::xml;
    use crate::ical::recur::MAX_INSTANCES;

    const SERIES: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:s\r\nDTSTAMP:20250101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20250106T100000\r\nDTEND;TZID=Europe/Berlin:20250106T110000\r\nRRULE:FREQ=DAILY;COUNT=5\r\nEXDATE;TZID=Europe/Berlin:20250108T100000\r\nSUMMARY:Stand-up\r\nATTENDEE;CN=\"Doe, Jane\":mailto:jane@example.com\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:s\r\nRECURRENCE-ID;TZID=Europe/Berlin:20250109T100000\r\nDTSTART;TZID=Europe/Berlin:20250109T140000\r\nDTEND;TZID=Europe/Berlin:20250109T150000\r\nSUMMARY:Stand-up (moved)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    fn request(inner: &str) -> CalendarDataRequest {
        let e = xml::parse(
            format!(r#"<C:calendar-data xmlns:C="{CALDAV}">{inner}</C:calendar-data>"#).as_bytes(),
        )
        .unwrap();
        CalendarDataRequest::parse(&e).unwrap()
    }

    #[test]
    fn whole_objects_are_returned_byte_for_byte() {
        let out = render(SERIES.as_bytes(), &request(""), &Zone::Utc, MAX_INSTANCES).unwrap();
        assert_eq!(out, SERIES);
    }

    #[test]
    fn expansion_gives_utc_instances_with_overrides_and_without_rules() {
        let out = render(
            SERIES.as_bytes(),
            &request(r#"<C:expand start="20250101T000000Z" end="20250201T000000Z"/>"#),
            &Zone::Utc,
            MAX_INSTANCES,
        )
        .unwrap();
        assert!(
            !out.contains("RRULE")
                && !out.contains("EXDATE")
                && !out.contains("VTIMEZONE")
                && !out.contains("TZID"),
            "{out}"
        );
        let starts: Vec<&str> = out.lines().filter(|l| l.starts_with("DTSTART")).collect();
        assert_eq!(
            starts,
            vec![
                "DTSTART:20250106T090000Z",
                "DTSTART:20250107T090000Z",
                "DTSTART:20250109T130000Z",
                "DTSTART:20250110T090000Z"
            ]
        );
        let rids: Vec<&str> = out.lines().filter(|l| l.starts_with("RECURRENCE-ID")).collect();
        assert_eq!(rids.len(), 4);
        assert!(rids.contains(&"RECURRENCE-ID:20250109T090000Z"));
        assert!(
            out.contains("ATTENDEE;CN=\"Doe, Jane\":mailto:jane@example.com"),
            "parameters survive: {out}"
        );
        assert!(out.contains("SUMMARY:Stand-up (moved)"));
    }

    #[test]
    fn partial_retrieval_keeps_selected_lines_verbatim() {
        let out = render(
            SERIES.as_bytes(),
            &request(
                r#"<C:comp name="VCALENDAR"><C:prop name="VERSION"/><C:comp name="VEVENT"><C:prop name="SUMMARY"/><C:prop name="ATTENDEE" novalue="yes"/></C:comp></C:comp>"#,
            ),
            &Zone::Utc,
            MAX_INSTANCES,
        )
        .unwrap();
        assert_eq!(
            out,
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:Stand-up\r\nATTENDEE;CN=\"Doe, Jane\":\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:Stand-up (moved)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
    }

    #[test]
    fn limit_recurrence_set_keeps_master_and_relevant_overrides() {
        let outside = render(
            SERIES.as_bytes(),
            &request(r#"<C:limit-recurrence-set start="20250106T000000Z" end="20250107T000000Z"/>"#),
            &Zone::Utc,
            MAX_INSTANCES,
        )
        .unwrap();
        assert_eq!(outside.matches("BEGIN:VEVENT").count(), 1);
        let inside = render(
            SERIES.as_bytes(),
            &request(r#"<C:limit-recurrence-set start="20250109T120000Z" end="20250109T140000Z"/>"#),
            &Zone::Utc,
            MAX_INSTANCES,
        )
        .unwrap();
        assert_eq!(inside.matches("BEGIN:VEVENT").count(), 2);
    }

    #[test]
    fn limit_freebusy_keeps_overlapping_periods() {
        let fb = "BEGIN:VCALENDAR\r\nBEGIN:VFREEBUSY\r\nUID:f\r\nFREEBUSY;FBTYPE=BUSY:20250101T100000Z/20250101T110000Z,20250102T100000Z/PT1H\r\nFREEBUSY:20250201T100000Z/20250201T110000Z\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
        let out = render(
            fb.as_bytes(),
            &request(r#"<C:limit-freebusy-set start="20250102T000000Z" end="20250103T000000Z"/>"#),
            &Zone::Utc,
            MAX_INSTANCES,
        )
        .unwrap();
        assert!(out.contains("FREEBUSY;FBTYPE=BUSY:20250102T100000Z/PT1H\r\n"), "{out}");
        assert!(!out.contains("20250101T100000Z") && !out.contains("20250201"), "{out}");
    }

    #[test]
    fn unsupported_media_types_are_refused() {
        let e = xml::parse(
            format!(r#"<C:calendar-data xmlns:C="{CALDAV}" content-type="application/calendar+json"/>"#)
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            CalendarDataRequest::parse(&e).unwrap_err().condition.unwrap().name,
            "supported-calendar-data"
        );
    }
}
