//! The iCalendar ingest layer: byte-level unfolding, limits, structural
//! and semantic checks, recurrence ([`recur`]) and time zones ([`time`]).
//!
//! Folding is undone on bytes before UTF-8 validation, because clients fold
//! at octet boundaries that can split a UTF-8 sequence (DEPENDENCIES.md).
//! The object is then read into a [`tree`] that keeps every content line as
//! written: filters, partial retrieval and expansion work on it and return
//! original lines, which no parsed model re-serializes faithfully. calcard
//! contributes its table of Windows and vendor time-zone names ([`time`]).

use std::collections::HashSet;

pub mod recur;
pub mod time;
pub mod tree;

use recur::Series;
use time::Zones;
use tree::Component;

/// Deepest BEGIN nesting accepted (VCALENDAR > VEVENT > VALARM is 3).
pub const MAX_NESTING: usize = 8;
/// Most components in one object resource.
pub const MAX_COMPONENTS: usize = 10_000;
/// Longest unfolded content line.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IngestError(pub String);

fn err<T>(message: impl Into<String>) -> Result<T, IngestError> {
    Err(IngestError(message.into()))
}

/// Undoes line folding (CRLF or LF followed by a space or tab) on raw bytes.
pub fn unfold(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b == b'\r' && body.get(i + 1) == Some(&b'\n') && matches!(body.get(i + 2), Some(b' ' | b'\t')) {
            i += 3;
            continue;
        }
        if b == b'\n' && matches!(body.get(i + 1), Some(b' ' | b'\t')) {
            i += 2;
            continue;
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Unfolded content lines, without line endings, skipping empty lines.
pub fn content_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).filter(|l| !l.is_empty())
}

/// The name of a content line (before `;` or `:`), upper-cased.
fn line_name(line: &str) -> String {
    line.split([';', ':']).next().unwrap_or("").to_ascii_uppercase()
}

fn line_value(line: &str) -> &str {
    line.split_once(':').map(|(_, v)| v).unwrap_or("")
}

/// Checks BEGIN/END nesting, limits and that the text is one VCALENDAR.
fn check_structure(text: &str) -> Result<(), IngestError> {
    let mut stack: Vec<String> = Vec::new();
    let mut components = 0usize;
    let mut calendars = 0usize;
    for line in content_lines(text) {
        if line.len() > MAX_LINE_BYTES {
            return err(format!("a content line is longer than {MAX_LINE_BYTES} bytes"));
        }
        if !line.contains(':') {
            return err("a content line has no ':'");
        }
        let name = line_name(line);
        match name.as_str() {
            "BEGIN" => {
                let comp = line_value(line).trim().to_ascii_uppercase();
                if stack.is_empty() {
                    if comp != "VCALENDAR" {
                        return err("the object must be a VCALENDAR");
                    }
                    calendars += 1;
                    if calendars > 1 {
                        return err("the body holds more than one VCALENDAR");
                    }
                }
                components += 1;
                if components > MAX_COMPONENTS {
                    return err(format!("more than {MAX_COMPONENTS} components"));
                }
                if stack.len() >= MAX_NESTING {
                    return err(format!("components nested deeper than {MAX_NESTING}"));
                }
                stack.push(comp);
            }
            "END" => {
                let comp = line_value(line).trim().to_ascii_uppercase();
                match stack.pop() {
                    Some(open) if open == comp => {}
                    Some(open) => return err(format!("END:{comp} closes BEGIN:{open}")),
                    None => return err(format!("END:{comp} without BEGIN")),
                }
            }
            _ if stack.is_empty() => return err("content outside the VCALENDAR"),
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return err(format!("BEGIN:{open} is never closed"));
    }
    if calendars == 0 {
        return err("no VCALENDAR found");
    }
    Ok(())
}

/// Decodes a body: unfold, UTF-8, structure. Returns the unfolded text.
pub fn decode(body: &[u8]) -> Result<String, IngestError> {
    let unfolded = unfold(body);
    let text =
        String::from_utf8(unfolded).map_err(|_| IngestError("the calendar is not valid UTF-8".into()))?;
    let text = match text.strip_prefix('\u{FEFF}') {
        Some(rest) => rest.to_owned(),
        None => text,
    };
    check_structure(&text)?;
    Ok(text)
}

/// Why a calendar object was refused, by the CalDAV precondition it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// Not valid iCalendar (CALDAV:valid-calendar-data).
    #[error("{0}")]
    Data(String),
    /// Valid iCalendar, but not one calendar object resource (CALDAV:valid-calendar-object-resource).
    #[error("{0}")]
    Object(String),
    /// More instances than allowed (CALDAV:max-instances).
    #[error("{0}")]
    Instances(String),
}

impl From<IngestError> for CheckError {
    fn from(e: IngestError) -> Self {
        CheckError::Data(e.0)
    }
}

/// What the store needs to know about a calendar object resource.
#[derive(Debug)]
pub struct Summary {
    pub uid: String,
    /// VEVENT, VTODO, VJOURNAL or VFREEBUSY.
    pub component: String,
    pub calendar: Component,
    /// First start and last end over the whole recurrence set (UTC seconds;
    /// `None` = unbounded), floating times widened by ±14 h.
    pub first_start: Option<i64>,
    pub last_end: Option<i64>,
    pub recurring: bool,
}

/// Date-time properties whose values must parse.
const DATE_PROPERTIES: &[&str] =
    &["DTSTART", "DTEND", "DUE", "RECURRENCE-ID", "COMPLETED", "CREATED", "DTSTAMP", "LAST-MODIFIED"];

fn check_values(c: &Component, zones: &Zones) -> Result<(), CheckError> {
    for p in &c.properties {
        if DATE_PROPERTIES.contains(&p.name.as_str()) && zones.moment(p).is_none() {
            return Err(CheckError::Data(format!("{} has an invalid date-time value {:?}", p.name, p.value)));
        }
        if matches!(p.name.as_str(), "EXDATE" | "RDATE")
            && !p.value.contains('/')
            && p.value.split(',').any(|v| time::parse_date_time(v).is_none())
        {
            return Err(CheckError::Data(format!("{} has an invalid value {:?}", p.name, p.value)));
        }
        if matches!(p.name.as_str(), "DURATION") && time::parse_duration(&p.value).is_none() {
            return Err(CheckError::Data(format!("invalid DURATION {:?}", p.value)));
        }
    }
    if c.prop("DTEND").is_some() && c.prop("DURATION").is_some() {
        return Err(CheckError::Data(format!("a {} has both DTEND and DURATION", c.name)));
    }
    if c.prop("DUE").is_some() && c.prop("DURATION").is_some() {
        return Err(CheckError::Data(format!("a {} has both DUE and DURATION", c.name)));
    }
    for sub in &c.components {
        check_values(sub, zones)?;
    }
    Ok(())
}

/// RFC 4791 §4.1: one component type (besides VTIMEZONE), one UID, at most
/// one instance per RECURRENCE-ID; valid values and recurrence rules.
pub fn inspect(body: &[u8]) -> Result<Summary, CheckError> {
    let text = decode(body)?;
    let calendar = tree::parse_tree(&text)?;
    if calendar.name != "VCALENDAR" {
        return Err(CheckError::Data("the object must be a VCALENDAR".into()));
    }
    let mut component: Option<&str> = None;
    let mut uid: Option<&str> = None;
    let mut recurrence_ids = HashSet::new();
    // RFC 4791 §4.1: no METHOD in a calendar object resource.
    if calendar.prop("METHOD").is_some() {
        return Err(CheckError::Object("a stored calendar object cannot have a METHOD property".into()));
    }
    for c in &calendar.components {
        match c.name.as_str() {
            "VTIMEZONE" => continue,
            // RFC 4791 §5.3.3: non-standard components are kept as they are.
            name if name.starts_with("X-") => continue,
            "VEVENT" | "VTODO" | "VJOURNAL" | "VFREEBUSY" => {}
            other => {
                return Err(CheckError::Object(format!(
                    "{other} is not allowed at the top of a calendar object"
                )));
            }
        }
        match component {
            None => component = Some(&c.name),
            Some(t) if t == c.name => {}
            Some(t) => {
                return Err(CheckError::Object(format!(
                    "a resource holds one component type, not {t} and {}",
                    c.name
                )));
            }
        }
        let Some(this_uid) = c.uid().filter(|u| !u.is_empty()) else {
            return Err(CheckError::Object(format!("a {} has no UID", c.name)));
        };
        match uid {
            None => uid = Some(this_uid),
            Some(u) if u == this_uid => {}
            Some(_) => {
                return Err(CheckError::Object("all components of a resource must have the same UID".into()));
            }
        }
        let rid = c.prop("RECURRENCE-ID").map(|p| p.value.trim().to_owned()).unwrap_or_default();
        if !recurrence_ids.insert(rid) {
            return Err(CheckError::Object(
                "two components describe the same instance (duplicate RECURRENCE-ID or two masters)".into(),
            ));
        }
    }
    let component = component
        .ok_or_else(|| CheckError::Object("the calendar holds no event, task, journal or free-busy".into()))?
        .to_owned();
    let uid = uid.unwrap_or_default().to_owned();
    let zones = Zones::from_calendar(&calendar);
    for c in &calendar.components {
        check_values(c, &zones)?;
        if c.name == "VEVENT" && c.prop("DTSTART").is_none() {
            return Err(CheckError::Data("a VEVENT needs a DTSTART".into()));
        }
    }
    let series = Series::new(&calendar, &zones);
    series.validate_rules().map_err(|e| CheckError::Data(e.to_string()))?;
    let (first_start, last_end) = if component == "VTODO" {
        // Tasks match time ranges by several properties (RFC 4791 §9.9); always a candidate.
        (None, None)
    } else {
        recur::span(&series, recur::MAX_INSTANCES).map_err(|e| match e {
            recur::ExpandError::TooManyInstances => CheckError::Instances(e.to_string()),
            other => CheckError::Data(other.to_string()),
        })?
    };
    let recurring = series.is_recurring();
    drop(series);
    Ok(Summary { uid, component, calendar, first_start, last_end, recurring })
}

/// `CALDAV:calendar-timezone`: a VCALENDAR with exactly one VTIMEZONE.
pub fn inspect_timezone(body: &[u8]) -> Result<Component, IngestError> {
    let text = decode(body)?;
    let calendar = tree::parse_tree(&text)?;
    let names: Vec<&str> = calendar.components.iter().map(|c| c.name.as_str()).collect();
    if names != ["VTIMEZONE"] || calendar.components[0].prop("TZID").is_none() {
        return err("the time zone must be a VCALENDAR holding exactly one VTIMEZONE with a TZID");
    }
    Ok(calendar)
}

/// Merges calendar object resources into one VCALENDAR for export, keeping
/// each component's original lines and each time zone once.
#[derive(Default)]
pub struct Merger {
    seen_timezones: HashSet<String>,
}

impl Merger {
    pub fn header(&self) -> Vec<u8> {
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Skjold//Skjold//EN\r\n".to_vec()
    }

    pub fn footer() -> Vec<u8> {
        b"END:VCALENDAR\r\n".to_vec()
    }

    /// Appends the top-level components of `body` (original bytes) to `out`.
    pub fn append_components(&mut self, body: &[u8], out: &mut Vec<u8>) {
        let mut depth = 0usize;
        let mut current: Vec<u8> = Vec::new();
        let mut is_timezone = false;
        let mut tzid: Option<String> = None;
        for raw in body.split_inclusive(|&b| b == b'\n') {
            let folded = matches!(raw.first(), Some(b' ' | b'\t'));
            let upper: Vec<u8> = raw.iter().take(16).map(u8::to_ascii_uppercase).collect();
            if !folded && upper.starts_with(b"BEGIN:") {
                depth += 1;
                if depth == 2 {
                    current.clear();
                    is_timezone = upper.starts_with(b"BEGIN:VTIMEZONE");
                    tzid = None;
                }
            }
            if depth >= 2 {
                current.extend_from_slice(raw);
                if !raw.ends_with(b"\n") {
                    current.extend_from_slice(b"\r\n");
                }
                if depth == 2 && is_timezone && !folded && upper.starts_with(b"TZID") {
                    tzid = Some(String::from_utf8_lossy(raw).trim().to_owned());
                }
            }
            if !folded && upper.starts_with(b"END:") {
                if depth == 2 {
                    let keep = match (&tzid, is_timezone) {
                        (Some(id), true) => self.seen_timezones.insert(id.clone()),
                        _ => true,
                    };
                    if keep {
                        out.extend_from_slice(&current);
                    }
                    current.clear();
                }
                depth = depth.saturating_sub(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &[u8] = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:a1\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250102T100000Z\r\nSUMMARY:Caf\xC3\r\n \xA9\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn unfolds_inside_utf8_sequences() {
        // The fold splits the two bytes of "\u{e9}"; unfolding on bytes mends it.
        assert!(String::from_utf8(EVENT.to_vec()).is_err());
        let summary = inspect(EVENT).unwrap();
        assert_eq!(summary.uid, "a1");
        assert_eq!(summary.component, "VEVENT");
        assert!(String::from_utf8(unfold(EVENT)).unwrap().contains("SUMMARY:Caf\u{e9}"));
    }

    #[test]
    fn structural_errors_are_refused() {
        let ok = "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:x\nEND:VTODO\nEND:VCALENDAR\n";
        assert!(inspect(ok.as_bytes()).is_ok());
        for (body, why) in [
            ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nEND:VCALENDAR\n", "END:VCALENDAR closes BEGIN:VEVENT"),
            ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nEND:VEVENT\n", "never closed"),
            ("BEGIN:VEVENT\nUID:x\nEND:VEVENT\n", "must be a VCALENDAR"),
            ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nEND:VEVENT\nEND:VCALENDAR\n", "has no UID"),
            (
                "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nEND:VEVENT\nBEGIN:VTODO\nUID:x\nEND:VTODO\nEND:VCALENDAR\n",
                "one component type",
            ),
            (
                "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nEND:VEVENT\nBEGIN:VEVENT\nUID:y\nEND:VEVENT\nEND:VCALENDAR\n",
                "same UID",
            ),
            (
                "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nEND:VEVENT\nBEGIN:VEVENT\nUID:x\nEND:VEVENT\nEND:VCALENDAR\n",
                "same instance",
            ),
            ("BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:x\nEND:VTIMEZONE\nEND:VCALENDAR\n", "no event"),
            ("BEGIN:VCALENDAR\nEND:VCALENDAR\nBEGIN:VCALENDAR\nEND:VCALENDAR\n", "more than one VCALENDAR"),
            ("BEGIN:VCALENDAR\r\nno colon here\r\nEND:VCALENDAR\r\n", "no ':'"),
        ] {
            let e = inspect(body.as_bytes()).unwrap_err();
            assert!(e.to_string().contains(why), "{body:?}: {e}");
        }
        let deep = format!(
            "BEGIN:VCALENDAR\n{}{}END:VCALENDAR\n",
            "BEGIN:X\n".repeat(MAX_NESTING),
            "END:X\n".repeat(MAX_NESTING)
        );
        assert!(inspect(deep.as_bytes()).unwrap_err().to_string().contains("deeper"));
        assert!(
            inspect(b"BEGIN:VCALENDAR\n\xff\nEND:VCALENDAR\n").unwrap_err().to_string().contains("UTF-8")
        );
    }

    #[test]
    fn merger_keeps_each_timezone_once_and_original_lines() {
        let tz = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";
        let one = format!(
            "BEGIN:VCALENDAR\r\nPRODID:a\r\n{tz}BEGIN:VEVENT\r\nUID:1\r\nSUMMARY:long\r\n  folded\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        let two = format!(
            "BEGIN:VCALENDAR\r\nPRODID:b\r\n{tz}BEGIN:VEVENT\r\nUID:2\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        let mut m = Merger::default();
        let mut out = m.header();
        m.append_components(one.as_bytes(), &mut out);
        m.append_components(two.as_bytes(), &mut out);
        out.extend(Merger::footer());
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("BEGIN:VTIMEZONE").count(), 1);
        assert!(text.contains("SUMMARY:long\r\n  folded\r\n"));
        assert!(text.contains("UID:1") && text.contains("UID:2"));
        assert!(!text.contains("PRODID:a"));
        let merged = inspect(text.replace("UID:2", "UID:1").as_bytes());
        assert!(merged.is_err(), "two masters with one UID are two instances of the same thing");
        assert!(check_structure(&String::from_utf8(unfold(text.as_bytes())).unwrap()).is_ok());
    }
}
