//! `CALDAV:filter` (RFC 4791 §9.7): parsing and evaluation against an
//! object's component tree, with time ranges tested on every recurrence
//! instance (§9.9) and text matched with collations (§9.7.5).

use std::ops::ControlFlow;

use http::StatusCode;

use crate::collation::{Collation, MatchType, TextMatch};
use crate::dav::error::{DavError, DavResult};
use crate::dav::xml::{CALDAV, Element};
use crate::ical::recur::{ExpandError, Instance, Series};
use crate::ical::time::{Moment, Zone, Zones, parse_date_time, parse_duration};
use crate::ical::tree::Component;

/// `[start, end)` in UTC seconds; missing ends are infinite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start: i64,
    pub end: i64,
}

impl TimeRange {
    pub const ALL: TimeRange = TimeRange { start: i64::MIN, end: i64::MAX };

    /// Reads `start`/`end` attributes (date with UTC time). `required` demands both.
    pub fn parse(e: &Element, required: bool) -> DavResult<TimeRange> {
        let read = |name: &str| -> DavResult<Option<i64>> {
            match e.attribute(name) {
                None => Ok(None),
                Some(v) => match parse_date_time(v) {
                    Some((t, false, true)) => Ok(Some(t.and_utc().timestamp())),
                    _ => Err(valid_filter(format!("{} {name}={v:?} is not a date with UTC time", e.local))),
                },
            }
        };
        let (start, end) = (read("start")?, read("end")?);
        if start.is_none() && end.is_none() || required && (start.is_none() || end.is_none()) {
            return Err(valid_filter(format!("{} needs start and end attributes", e.local)));
        }
        let range = TimeRange { start: start.unwrap_or(i64::MIN), end: end.unwrap_or(i64::MAX) };
        if range.end <= range.start {
            return Err(valid_filter(format!("{} ends before it starts", e.local)));
        }
        Ok(range)
    }

    /// `start <= t < end` (a point in time).
    pub fn contains(&self, t: i64) -> bool {
        self.start <= t && self.end > t
    }
}

pub fn valid_filter(message: impl Into<String>) -> DavError {
    DavError::condition(StatusCode::FORBIDDEN, CALDAV, "valid-filter", message)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompFilter {
    pub name: String,
    pub is_not_defined: bool,
    pub time_range: Option<TimeRange>,
    pub props: Vec<PropFilter>,
    pub comps: Vec<CompFilter>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropFilter {
    pub name: String,
    pub is_not_defined: bool,
    pub time_range: Option<TimeRange>,
    pub text: Option<TextMatch>,
    pub params: Vec<ParamFilter>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamFilter {
    pub name: String,
    pub is_not_defined: bool,
    pub text: Option<TextMatch>,
}

/// Components whose children may be filtered on, and what they may hold.
fn allowed_child(parent: &str, child: &str) -> bool {
    match parent {
        "VCALENDAR" => matches!(child, "VEVENT" | "VTODO" | "VJOURNAL" | "VFREEBUSY" | "VTIMEZONE"),
        "VEVENT" | "VTODO" => child == "VALARM",
        "VTIMEZONE" => matches!(child, "STANDARD" | "DAYLIGHT"),
        _ => false,
    }
}

/// Properties on which a time-range is defined (§9.9).
const TIME_PROPERTIES: &[&str] =
    &["COMPLETED", "CREATED", "DTEND", "DTSTAMP", "DTSTART", "DUE", "LAST-MODIFIED"];

fn name_of(e: &Element) -> DavResult<String> {
    e.attribute("name")
        .map(|n| n.trim().to_ascii_uppercase())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| valid_filter(format!("{} needs a name", e.local)))
}

/// Parses a `text-match`; `card` allows CardDAV's match-type.
pub fn parse_text_match(e: &Element, ns: &'static str, card: bool) -> DavResult<TextMatch> {
    let collation_name =
        e.attribute("collation").unwrap_or(if card { "i;unicode-casemap" } else { "i;ascii-casemap" });
    let collation = Collation::parse(collation_name).ok_or_else(|| {
        DavError::condition(
            StatusCode::FORBIDDEN,
            ns,
            "supported-collation",
            format!("unsupported collation {collation_name:?}"),
        )
    })?;
    let negate = match e.attribute("negate-condition").map(str::trim) {
        None | Some("no") => false,
        Some("yes") => true,
        Some(other) => {
            return Err(DavError::bad_request(format!("negate-condition must be yes or no, not {other:?}")));
        }
    };
    let match_type = match (card, e.attribute("match-type")) {
        (false, _) | (true, None) => MatchType::Contains,
        (true, Some(t)) => {
            MatchType::parse(t).ok_or_else(|| DavError::bad_request(format!("unknown match-type {t:?}")))?
        }
    };
    Ok(TextMatch { text: e.text(), collation, match_type, negate })
}

/// Parses the `CALDAV:filter` element.
pub fn parse(filter: &Element) -> DavResult<CompFilter> {
    let mut comps = filter.elements().filter(|e| e.is(CALDAV, "comp-filter"));
    let root = comps.next().ok_or_else(|| valid_filter("a filter needs one comp-filter"))?;
    if comps.next().is_some() {
        return Err(valid_filter("a filter has exactly one comp-filter"));
    }
    let parsed = parse_comp(root)?;
    if parsed.name != "VCALENDAR" {
        return Err(valid_filter("the outer comp-filter must name VCALENDAR"));
    }
    Ok(parsed)
}

fn parse_comp(e: &Element) -> DavResult<CompFilter> {
    let name = name_of(e)?;
    let mut f =
        CompFilter { name, is_not_defined: false, time_range: None, props: Vec::new(), comps: Vec::new() };
    for child in e.elements() {
        match (child.ns.as_str(), child.local.as_str()) {
            (CALDAV, "is-not-defined") => f.is_not_defined = true,
            (CALDAV, "time-range") => f.time_range = Some(TimeRange::parse(child, false)?),
            (CALDAV, "prop-filter") => f.props.push(parse_prop(child)?),
            (CALDAV, "comp-filter") => {
                let sub = parse_comp(child)?;
                if !allowed_child(&f.name, &sub.name) {
                    return Err(valid_filter(format!("{} cannot hold {}", f.name, sub.name)));
                }
                f.comps.push(sub);
            }
            _ => return Err(valid_filter(format!("unexpected {} in comp-filter", child.local))),
        }
    }
    if f.is_not_defined && (f.time_range.is_some() || !f.props.is_empty() || !f.comps.is_empty()) {
        return Err(valid_filter("is-not-defined stands alone"));
    }
    if f.time_range.is_some()
        && !matches!(f.name.as_str(), "VEVENT" | "VTODO" | "VJOURNAL" | "VFREEBUSY" | "VALARM")
    {
        return Err(valid_filter(format!("time-range is not defined for {}", f.name)));
    }
    Ok(f)
}

fn parse_prop(e: &Element) -> DavResult<PropFilter> {
    let name = name_of(e)?;
    let mut f = PropFilter { name, is_not_defined: false, time_range: None, text: None, params: Vec::new() };
    for child in e.elements() {
        match (child.ns.as_str(), child.local.as_str()) {
            (CALDAV, "is-not-defined") => f.is_not_defined = true,
            (CALDAV, "time-range") => {
                if !TIME_PROPERTIES.contains(&f.name.as_str()) {
                    return Err(valid_filter(format!("time-range is not defined for {}", f.name)));
                }
                f.time_range = Some(TimeRange::parse(child, false)?);
            }
            (CALDAV, "text-match") => f.text = Some(parse_text_match(child, CALDAV, false)?),
            (CALDAV, "param-filter") => f.params.push(parse_param(child)?),
            _ => return Err(valid_filter(format!("unexpected {} in prop-filter", child.local))),
        }
    }
    if f.time_range.is_some() && f.text.is_some() {
        return Err(valid_filter("a prop-filter has time-range or text-match, not both"));
    }
    Ok(f)
}

fn parse_param(e: &Element) -> DavResult<ParamFilter> {
    let name = name_of(e)?;
    let mut f = ParamFilter { name, is_not_defined: false, text: None };
    for child in e.elements() {
        match (child.ns.as_str(), child.local.as_str()) {
            (CALDAV, "is-not-defined") => f.is_not_defined = true,
            (CALDAV, "text-match") => f.text = Some(parse_text_match(child, CALDAV, false)?),
            _ => return Err(valid_filter(format!("unexpected {} in param-filter", child.local))),
        }
    }
    Ok(f)
}

impl CompFilter {
    /// The time range on the main component (VCALENDAR > VEVENT …), for
    /// choosing candidates from the index.
    pub fn index_hint(&self) -> (Option<&str>, Option<TimeRange>) {
        match self.comps.as_slice() {
            [only] if !only.is_not_defined && only.name != "VTIMEZONE" => (Some(&only.name), only.time_range),
            _ => (None, None),
        }
    }
}

/// Evaluates a filter against one calendar object.
pub struct Evaluator<'a> {
    pub calendar: &'a Component,
    pub zones: &'a Zones,
    pub series: Series<'a>,
    /// Zone of floating times and dates (the calendar's time zone, else UTC).
    pub floating: Zone,
    pub max_instances: usize,
}

impl<'a> Evaluator<'a> {
    pub fn new(calendar: &'a Component, zones: &'a Zones, floating: Zone, max_instances: usize) -> Self {
        Evaluator { calendar, zones, series: Series::new(calendar, zones), floating, max_instances }
    }

    /// Whether the object matches the filter (whose root names VCALENDAR).
    pub fn matches(&self, filter: &CompFilter) -> Result<bool, ExpandError> {
        self.component_matches(filter, self.calendar, None)
    }

    fn comp_filter_matches(&self, f: &CompFilter, scope: &'a Component) -> Result<bool, ExpandError> {
        let mut candidates = scope.components.iter().filter(|c| c.name == f.name).peekable();
        if f.is_not_defined {
            return Ok(candidates.peek().is_none());
        }
        for c in candidates {
            if self.component_matches(f, c, Some(scope))? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn component_matches(
        &self,
        f: &CompFilter,
        c: &'a Component,
        parent: Option<&'a Component>,
    ) -> Result<bool, ExpandError> {
        if let Some(range) = &f.time_range
            && !self.overlaps(c, parent, range)?
        {
            return Ok(false);
        }
        for p in &f.props {
            if !self.prop_filter_matches(p, c) {
                return Ok(false);
            }
        }
        for sub in &f.comps {
            if !self.comp_filter_matches(sub, c)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn prop_filter_matches(&self, f: &PropFilter, c: &Component) -> bool {
        let mut props = c.props(&f.name).peekable();
        if f.is_not_defined {
            return props.peek().is_none();
        }
        props.any(|p| {
            let value_ok = match (&f.time_range, &f.text) {
                (Some(range), _) => {
                    self.zones.moment(p).is_some_and(|m| range.contains(m.to_utc(&self.floating)))
                }
                (None, Some(text)) => text.matches(&p.text()),
                (None, None) => true,
            };
            value_ok
                && f.params.iter().all(|pf| {
                    let param = p.params.iter().find(|x| x.name == pf.name);
                    match (param, pf.is_not_defined, &pf.text) {
                        (None, true, _) => true,
                        (Some(_), true, _) | (None, false, _) => false,
                        (Some(_), false, None) => true,
                        (Some(param), false, Some(text)) => param.values.iter().any(|v| text.matches(v)),
                    }
                })
        })
    }

    /// §9.9: whether any instance of `c` overlaps `range`.
    fn overlaps(
        &self,
        c: &'a Component,
        parent: Option<&'a Component>,
        range: &TimeRange,
    ) -> Result<bool, ExpandError> {
        match c.name.as_str() {
            "VEVENT" | "VTODO" | "VJOURNAL" => {
                self.any_instance(c, Some((range.start, range.end)), |i| self.instance_overlaps(i, range))
            }
            "VFREEBUSY" => Ok(self.freebusy_overlaps(c, range)),
            "VALARM" => match parent {
                Some(owner) => self.any_instance(owner, None, |i| {
                    alarm_times(c, i, self.zones, &self.floating, range).is_some()
                }),
                None => Ok(false),
            },
            _ => Ok(false),
        }
    }

    /// Runs `test` on the instances that belong to component `c`.
    fn any_instance(
        &self,
        c: &'a Component,
        window: Option<(i64, i64)>,
        mut test: impl FnMut(&Instance<'a>) -> bool,
    ) -> Result<bool, ExpandError> {
        let window = window.map(|(a, b)| (a.max(i64::MIN / 2), b.min(i64::MAX / 2)));
        let mut found = false;
        self.series.each(window, self.max_instances, |inst| {
            if std::ptr::eq(inst.component, c) && test(&inst) {
                found = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        })?;
        Ok(found)
    }

    pub fn instance_overlaps(&self, i: &Instance<'_>, range: &TimeRange) -> bool {
        instance_overlaps(i, range, self.zones, &self.floating)
    }

    fn freebusy_overlaps(&self, c: &Component, range: &TimeRange) -> bool {
        let start = c.prop("DTSTART").and_then(|p| self.zones.moment(p));
        let end = c.prop("DTEND").and_then(|p| self.zones.moment(p));
        if let (Some(s), Some(e)) = (start, end) {
            return range.start <= e.to_utc(&self.floating) && range.end > s.to_utc(&self.floating);
        }
        c.props("FREEBUSY")
            .flat_map(|p| self.zones.periods(p))
            .any(|(s, e)| range.start < e.to_utc(&self.floating) && range.end > s.to_utc(&self.floating))
    }
}

/// The §9.9 overlap test of one instance of a VEVENT, VTODO or VJOURNAL.
pub fn instance_overlaps(i: &Instance<'_>, range: &TimeRange, zones: &Zones, floating: &Zone) -> bool {
    let c = i.component;
    let utc = |m: &Moment| m.to_utc(floating);
    let start = i.start.as_ref().map(utc);
    let end = i.end.as_ref().map(utc);
    match c.name.as_str() {
        "VEVENT" => {
            let Some(s) = start else { return false };
            match end {
                Some(e) if e > s => range.start < e && range.end > s,
                Some(_) => range.start <= s && range.end > s,
                None if i.start.as_ref().is_some_and(|m| m.date_only) => {
                    range.start < s + 86_400 && range.end > s
                }
                None => range.start <= s && range.end > s,
            }
        }
        "VJOURNAL" => match (start, i.start.as_ref().map(|m| m.date_only)) {
            (Some(s), Some(false)) => range.start <= s && range.end > s,
            (Some(s), Some(true)) => range.start < s + 86_400 && range.end > s,
            _ => false,
        },
        "VTODO" => {
            let has_duration = c.prop("DURATION").is_some();
            let completed = c.prop("COMPLETED").and_then(|p| zones.moment(p)).map(|m| utc(&m));
            let created = c.prop("CREATED").and_then(|p| zones.moment(p)).map(|m| utc(&m));
            match (start, has_duration, end) {
                (Some(s), true, Some(e)) => range.start <= e && (range.end > s || range.end >= e),
                (Some(s), false, Some(due)) => {
                    (range.start < due || range.start <= s) && (range.end > s || range.end >= due)
                }
                (Some(s), _, None) => range.start <= s && range.end > s,
                (None, _, Some(due)) => range.start < due && range.end >= due,
                (None, _, None) => match (completed, created) {
                    (Some(done), Some(made)) => {
                        (range.start <= made || range.start <= done)
                            && (range.end >= made || range.end >= done)
                    }
                    (Some(done), None) => range.start <= done && range.end >= done,
                    (None, Some(made)) => range.end > made,
                    (None, None) => true,
                },
            }
        }
        _ => false,
    }
}

/// The trigger times of an alarm for one instance of its owner that fall in
/// `range`, or `None` if none does (RFC 5545 §3.8.6.3, REPEAT/DURATION included).
pub fn alarm_times(
    alarm: &Component,
    owner: &Instance<'_>,
    zones: &Zones,
    floating: &Zone,
    range: &TimeRange,
) -> Option<i64> {
    let trigger = alarm.prop("TRIGGER")?;
    let first = if trigger.param("VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE-TIME")) {
        zones.moment(trigger)?.to_utc(floating)
    } else {
        let offset = parse_duration(&trigger.value)?;
        let related_end = trigger.param("RELATED").is_some_and(|r| r.eq_ignore_ascii_case("END"));
        // A task without DTSTART anchors its alarms on DUE (as sabre/vobject does;
        // RFC 5545 leaves RELATED=START without DTSTART undefined).
        let anchor = if related_end {
            owner.end.as_ref().or(owner.start.as_ref())
        } else {
            owner.start.as_ref().or(owner.end.as_ref())
        };
        anchor?.plus(&offset).to_utc(floating)
    };
    let repeat: i64 =
        alarm.prop("REPEAT").and_then(|p| p.value.trim().parse().ok()).unwrap_or(0).clamp(0, 1000);
    let every =
        alarm.prop("DURATION").and_then(|p| parse_duration(&p.value)).map(|d| d.total_seconds()).unwrap_or(0);
    (0..=repeat).map(|k| first + k * every).find(|t| range.contains(*t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dav::xml;
    use crate::ical::recur::MAX_INSTANCES;
    use crate::ical::tree::parse_tree;

    fn filter(xml_body: &str) -> CompFilter {
        let root =
            xml::parse(format!(r#"<C:filter xmlns:C="{CALDAV}">{xml_body}</C:filter>"#).as_bytes()).unwrap();
        parse(&root).unwrap()
    }

    fn matches(ics: &str, f: &CompFilter) -> bool {
        let cal = parse_tree(&ics.replace('\n', "\r\n")).unwrap();
        let zones = Zones::from_calendar(&cal);
        Evaluator::new(&cal, &zones, Zone::Utc, MAX_INSTANCES).matches(f).unwrap()
    }

    const WEEKLY: &str = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:1\nDTSTART:20250106T100000Z\nDTEND:20250106T110000Z\nRRULE:FREQ=WEEKLY;COUNT=4\nSUMMARY:Team meeting\nATTENDEE;PARTSTAT=ACCEPTED;CN=\"Doe, Jane\":mailto:jane@example.com\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT15M\nEND:VALARM\nEND:VEVENT\nEND:VCALENDAR\n";

    fn range(a: &str, b: &str) -> String {
        format!(r#"<C:time-range start="{a}" end="{b}"/>"#)
    }

    #[test]
    fn time_range_tests_every_instance() {
        let in_third = filter(&format!(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">{}</C:comp-filter></C:comp-filter>"#,
            range("20250120T103000Z", "20250120T104500Z")
        ));
        assert!(matches(WEEKLY, &in_third));
        let between = filter(&format!(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">{}</C:comp-filter></C:comp-filter>"#,
            range("20250107T000000Z", "20250113T000000Z")
        ));
        assert!(!matches(WEEKLY, &between));
        // End is exclusive, start inclusive against the event's end.
        let touching = filter(&format!(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">{}</C:comp-filter></C:comp-filter>"#,
            range("20250106T110000Z", "20250106T120000Z")
        ));
        assert!(!matches(WEEKLY, &touching));
    }

    #[test]
    fn alarms_text_and_params() {
        let alarm = filter(&format!(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:comp-filter name="VALARM">{}</C:comp-filter></C:comp-filter></C:comp-filter>"#,
            range("20250113T094000Z", "20250113T095000Z")
        ));
        assert!(matches(WEEKLY, &alarm));
        let text = filter(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY"><C:text-match>MEETING</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter>"#,
        );
        assert!(matches(WEEKLY, &text));
        let octet = filter(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY"><C:text-match collation="i;octet">MEETING</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter>"#,
        );
        assert!(!matches(WEEKLY, &octet));
        let partstat = filter(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="ATTENDEE"><C:text-match>jane@</C:text-match><C:param-filter name="PARTSTAT"><C:text-match>ACCEPTED</C:text-match></C:param-filter></C:prop-filter></C:comp-filter></C:comp-filter>"#,
        );
        assert!(matches(WEEKLY, &partstat));
        let no_location = filter(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="LOCATION"><C:is-not-defined/></C:prop-filter></C:comp-filter></C:comp-filter>"#,
        );
        assert!(matches(WEEKLY, &no_location));
        let no_todo = filter(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"><C:is-not-defined/></C:comp-filter></C:comp-filter>"#,
        );
        assert!(matches(WEEKLY, &no_todo));
        let not_cancelled = filter(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY"><C:text-match negate-condition="yes">team</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter>"#,
        );
        assert!(!matches(WEEKLY, &not_cancelled));
    }

    #[test]
    fn vtodo_table() {
        let todo =
            |props: &str| format!("BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:t\n{props}END:VTODO\nEND:VCALENDAR\n");
        let f = filter(&format!(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO">{}</C:comp-filter></C:comp-filter>"#,
            range("20250110T000000Z", "20250111T000000Z")
        ));
        for (props, expected) in [
            ("", true),
            ("DUE:20250110T120000Z\n", true),
            ("DUE:20250112T120000Z\n", false),
            ("DTSTART:20250109T000000Z\nDUE:20250112T000000Z\n", true),
            ("DTSTART:20250110T080000Z\n", true),
            ("CREATED:20250111T000000Z\n", false),
            ("CREATED:20250101T000000Z\n", true),
            ("COMPLETED:20250105T000000Z\n", false),
            ("DTSTART:20250101T000000Z\nDURATION:P2D\n", false),
        ] {
            assert_eq!(matches(&todo(props), &f), expected, "{props:?}");
        }
    }

    #[test]
    fn invalid_filters_name_their_precondition() {
        for body in [
            r#"<C:comp-filter name="VEVENT"/>"#,
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"><C:comp-filter name="VEVENT"/></C:comp-filter></C:comp-filter>"#,
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY"><C:time-range start="20250101T000000Z"/></C:prop-filter></C:comp-filter></C:comp-filter>"#,
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20250101"/></C:comp-filter></C:comp-filter>"#,
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20250102T000000Z" end="20250101T000000Z"/></C:comp-filter></C:comp-filter>"#,
        ] {
            let root =
                xml::parse(format!(r#"<C:filter xmlns:C="{CALDAV}">{body}</C:filter>"#).as_bytes()).unwrap();
            let e = parse(&root).unwrap_err();
            assert_eq!(e.condition.map(|c| c.name), Some("valid-filter"), "{body}");
        }
        let root = xml::parse(format!(r#"<C:filter xmlns:C="{CALDAV}"><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY"><C:text-match collation="i;klingon">x</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter></C:filter>"#).as_bytes()).unwrap();
        assert_eq!(parse(&root).unwrap_err().condition.map(|c| c.name), Some("supported-collation"));
    }
}
