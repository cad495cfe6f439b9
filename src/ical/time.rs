//! Date-time values, durations and time zones (RFC 5545 §3.3).
//!
//! A value is a [`Moment`]: a wall-clock time with its zone. Floating times
//! and dates get their zone only when a query supplies one (RFC 4791 §9.9:
//! the calendar's time zone, else UTC), so the conversion to UTC takes the
//! floating zone as an argument.
//!
//! TZIDs resolve, in order: an IANA name, a Windows or vendor-prefixed name
//! (calcard's table), the VTIMEZONE's X-LIC-LOCATION, and finally the
//! VTIMEZONE's own STANDARD/DAYLIGHT rules, evaluated here.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{
    Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone,
};

use super::tree::{Component, Property};

/// Offsets of real zones stay within ±14 h; floating values may be anywhere in that range.
pub const MAX_ZONE_OFFSET: i64 = 14 * 3600;

/// Where a wall-clock time is.
#[derive(Debug, Clone)]
pub enum Zone {
    Floating,
    Utc,
    Named(chrono_tz::Tz),
    Fixed(FixedOffset),
    Rules(Arc<ZoneRules>),
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Zone::Floating, Zone::Floating) | (Zone::Utc, Zone::Utc) => true,
            (Zone::Named(a), Zone::Named(b)) => a == b,
            (Zone::Fixed(a), Zone::Fixed(b)) => a == b,
            (Zone::Rules(a), Zone::Rules(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// A wall-clock time in a zone; dates are midnight with `date_only`.
#[derive(Debug, Clone, PartialEq)]
pub struct Moment {
    pub local: NaiveDateTime,
    pub zone: Zone,
    pub date_only: bool,
}

impl Moment {
    /// Unix seconds, taking floating values (and dates) to be in `floating`.
    pub fn to_utc(&self, floating: &Zone) -> i64 {
        let zone = match self.zone {
            Zone::Floating => floating,
            ref z => z,
        };
        local_to_utc(zone, self.local)
    }

    /// A key that identifies the instant for matching RECURRENCE-ID and
    /// EXDATE against occurrences (floating taken as UTC on both sides).
    pub fn key(&self) -> i64 {
        self.to_utc(&Zone::Utc)
    }

    pub fn is_floating(&self) -> bool {
        matches!(self.zone, Zone::Floating)
    }

    /// The same wall-clock shifted by an exact number of seconds.
    pub fn shifted(&self, seconds: i64) -> Moment {
        Moment { local: self.local + Duration::seconds(seconds), ..self.clone() }
    }

    /// Adds a duration the RFC 5545 way: days and weeks nominally (wall clock),
    /// the rest exactly.
    pub fn plus(&self, d: &IcalDuration) -> Moment {
        let sign = if d.negative { -1 } else { 1 };
        let local = self.local + Duration::days(sign * (d.weeks * 7 + d.days));
        if d.seconds == 0 {
            return Moment { local, ..self.clone() };
        }
        if self.date_only {
            // A date plus hours is a (floating) time of day: an alarm
            // PT9H after an all-day date fires at 09:00.
            return Moment {
                local: local + Duration::seconds(sign * d.seconds),
                zone: Zone::Floating,
                date_only: false,
            };
        }
        match self.zone {
            Zone::Floating | Zone::Utc => {
                Moment { local: local + Duration::seconds(sign * d.seconds), ..self.clone() }
            }
            _ => {
                let utc = local_to_utc(&self.zone, local) + sign * d.seconds;
                Moment { local: utc_to_local(&self.zone, utc), ..self.clone() }
            }
        }
    }

    /// `self` expressed in `template`'s zone when `start`'s zone differs
    /// (DTEND in another zone than DTSTART keeps its instant).
    pub fn with_zone_of(self, template: &Moment, start: &Moment) -> Moment {
        if template.zone == start.zone {
            return self;
        }
        let utc = self.to_utc(&Zone::Utc);
        Moment {
            local: utc_to_local(&template.zone, utc),
            zone: template.zone.clone(),
            date_only: template.date_only,
        }
    }

    /// `YYYYMMDDTHHMMSSZ` (or `YYYYMMDD` for dates) in UTC.
    pub fn format_utc(&self, floating: &Zone) -> String {
        if self.date_only {
            return self.local.format("%Y%m%d").to_string();
        }
        format_utc(self.to_utc(floating))
    }
}

pub fn format_utc(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).unwrap_or_default().format("%Y%m%dT%H%M%SZ").to_string()
}

/// Local wall-clock → UTC per RFC 5545 §3.3.5: a time in a gap moves forward
/// by the gap's length, an ambiguous time means its first occurrence.
pub fn local_to_utc(zone: &Zone, local: NaiveDateTime) -> i64 {
    match zone {
        Zone::Floating | Zone::Utc => local.and_utc().timestamp(),
        Zone::Fixed(off) => local.and_utc().timestamp() - off.local_minus_utc() as i64,
        Zone::Named(tz) => match tz.from_local_datetime(&local) {
            LocalResult::Single(d) => d.timestamp(),
            LocalResult::Ambiguous(first, _) => first.timestamp(),
            LocalResult::None => {
                let before = tz.offset_from_utc_datetime(&(local - Duration::hours(26))).fix();
                local.and_utc().timestamp() - before.local_minus_utc() as i64
            }
        },
        Zone::Rules(rules) => rules.local_to_utc(local),
    }
}

pub fn utc_to_local(zone: &Zone, unix: i64) -> NaiveDateTime {
    let utc = chrono::DateTime::from_timestamp(unix, 0).unwrap_or_default();
    match zone {
        Zone::Floating | Zone::Utc => utc.naive_utc(),
        Zone::Fixed(off) => utc.with_timezone(off).naive_local(),
        Zone::Named(tz) => utc.with_timezone(tz).naive_local(),
        Zone::Rules(rules) => utc.naive_utc() + Duration::seconds(rules.offset_at(unix) as i64),
    }
}

/// Parses `YYYYMMDD`, `YYYYMMDDTHHMMSS` or `YYYYMMDDTHHMMSSZ`.
pub fn parse_date_time(value: &str) -> Option<(NaiveDateTime, bool, bool)> {
    let v = value.trim();
    let (date_part, rest) = v.split_at_checked(8)?;
    if !date_part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        date_part[..4].parse().ok()?,
        date_part[4..6].parse().ok()?,
        date_part[6..8].parse().ok()?,
    )?;
    if rest.is_empty() {
        return Some((date.and_time(NaiveTime::MIN), true, false));
    }
    let time = rest.strip_prefix(['T', 't'])?;
    let (time, utc) = match time.strip_suffix(['Z', 'z']) {
        Some(t) => (t, true),
        None => (time, false),
    };
    if time.len() != 6 || !time.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let second: u32 = time[4..6].parse().ok()?;
    // A leap second (60) is kept as the last second of the minute.
    let t = NaiveTime::from_hms_opt(time[..2].parse().ok()?, time[2..4].parse().ok()?, second.min(59))?;
    Some((date.and_time(t), false, utc))
}

/// An RFC 5545 duration (§3.3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IcalDuration {
    pub negative: bool,
    pub weeks: i64,
    pub days: i64,
    /// Hours, minutes and seconds, in seconds.
    pub seconds: i64,
}

impl IcalDuration {
    /// Exact length in seconds (days counted as 86,400 s).
    pub fn total_seconds(&self) -> i64 {
        let s = (self.weeks * 7 + self.days) * 86_400 + self.seconds;
        if self.negative { -s } else { s }
    }

    pub fn from_seconds(seconds: i64) -> Self {
        IcalDuration { negative: seconds < 0, weeks: 0, days: 0, seconds: seconds.abs() }
    }
}

pub fn parse_duration(value: &str) -> Option<IcalDuration> {
    let v = value.trim();
    let (negative, v) = match v.as_bytes().first()? {
        b'-' => (true, &v[1..]),
        b'+' => (false, &v[1..]),
        _ => (false, v),
    };
    let v = v.strip_prefix(['P', 'p'])?;
    let mut d = IcalDuration { negative, ..Default::default() };
    let mut number = String::new();
    let mut in_time = false;
    let mut any = false;
    for c in v.chars() {
        match c.to_ascii_uppercase() {
            '0'..='9' => number.push(c),
            'T' => in_time = true,
            unit => {
                let n: i64 = number.parse().ok()?;
                if n > 1_000_000_000 {
                    return None;
                }
                number.clear();
                any = true;
                match (unit, in_time) {
                    ('W', false) => d.weeks = n,
                    ('D', false) => d.days = n,
                    ('H', true) => d.seconds += n * 3600,
                    ('M', true) => d.seconds += n * 60,
                    ('S', true) => d.seconds += n,
                    _ => return None,
                }
            }
        }
    }
    (any && number.is_empty()).then_some(d)
}

/// The time zones an object refers to, resolved once.
#[derive(Debug, Clone, Default)]
pub struct Zones {
    by_tzid: HashMap<String, Zone>,
}

/// Resolves a TZID by name alone (IANA, Windows, vendor prefixes).
pub fn zone_by_name(tzid: &str) -> Option<Zone> {
    let name = tzid.trim().trim_matches('"');
    if let Ok(tz) = chrono_tz::Tz::from_str(name) {
        return Some(Zone::Named(tz));
    }
    match calcard::common::timezone::Tz::from_str(name).ok()? {
        calcard::common::timezone::Tz::Tz(tz) => Some(Zone::Named(tz)),
        calcard::common::timezone::Tz::Fixed(off) => Some(Zone::Fixed(off)),
        calcard::common::timezone::Tz::Floating => None,
    }
}

impl Zones {
    /// Collects the VTIMEZONEs of a VCALENDAR.
    pub fn from_calendar(calendar: &Component) -> Zones {
        let mut by_tzid = HashMap::new();
        for vtz in calendar.children("VTIMEZONE") {
            let Some(tzid) = vtz.prop("TZID").map(|p| p.value.trim().to_owned()) else { continue };
            let zone = zone_by_name(&tzid)
                .or_else(|| vtz.prop("X-LIC-LOCATION").and_then(|p| zone_by_name(&p.value)))
                .or_else(|| ZoneRules::from_vtimezone(vtz).map(|r| Zone::Rules(Arc::new(r))));
            if let Some(zone) = zone {
                by_tzid.insert(tzid, zone);
            }
        }
        Zones { by_tzid }
    }

    /// The zone of a TZID parameter. An unknown TZID without a VTIMEZONE
    /// falls back to the IANA and Windows names, then to floating.
    pub fn resolve(&self, tzid: &str) -> Zone {
        let key = tzid.trim().trim_matches('"');
        self.by_tzid.get(key).cloned().or_else(|| zone_by_name(key)).unwrap_or(Zone::Floating)
    }

    /// The first value of a date-time property.
    pub fn moment(&self, p: &Property) -> Option<Moment> {
        self.moment_of(p, p.value.split(',').next()?)
    }

    /// Every value of a multi-valued property (EXDATE, RDATE); periods give their start.
    pub fn moments(&self, p: &Property) -> Vec<Moment> {
        p.value.split(',').filter_map(|v| self.moment_of(p, v.split('/').next().unwrap_or(v))).collect()
    }

    /// Periods of an RDATE;VALUE=PERIOD or FREEBUSY property: (start, end).
    pub fn periods(&self, p: &Property) -> Vec<(Moment, Moment)> {
        let mut out = Vec::new();
        for v in p.value.split(',') {
            let Some((a, b)) = v.split_once('/') else { continue };
            let Some(start) = self.moment_of(p, a) else { continue };
            let end = match self.moment_of(p, b) {
                Some(e) => e,
                None => match parse_duration(b) {
                    Some(d) => start.plus(&d),
                    None => continue,
                },
            };
            out.push((start, end));
        }
        out
    }

    fn moment_of(&self, p: &Property, value: &str) -> Option<Moment> {
        let (local, date_only, utc) = parse_date_time(value)?;
        let zone = if utc {
            Zone::Utc
        } else if date_only {
            Zone::Floating
        } else {
            match p.param("TZID") {
                Some(tzid) => self.resolve(tzid),
                None => Zone::Floating,
            }
        };
        Some(Moment { local, zone, date_only })
    }
}

/// A VTIMEZONE's observances, for zones no name resolves.
#[derive(Debug)]
pub struct ZoneRules {
    /// (UTC instant of the onset, offset in effect from then), sorted.
    transitions: Vec<(i64, i32)>,
    /// Offset before the first transition.
    initial: i32,
}

/// Years of transitions computed for a custom VTIMEZONE.
const RULE_YEARS: std::ops::Range<i32> = 1900..2200;

fn parse_offset(value: &str) -> Option<i32> {
    let v = value.trim();
    let (sign, rest) = match v.as_bytes().first()? {
        b'+' => (1, &v[1..]),
        b'-' => (-1, &v[1..]),
        _ => return None,
    };
    if rest.len() != 4 && rest.len() != 6 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = rest[..2].parse().ok()?;
    let m: i32 = rest[2..4].parse().ok()?;
    let s: i32 = if rest.len() == 6 { rest[4..6].parse().ok()? } else { 0 };
    Some(sign * (h * 3600 + m * 60 + s))
}

impl ZoneRules {
    pub fn from_vtimezone(vtz: &Component) -> Option<ZoneRules> {
        let mut transitions = Vec::new();
        // The offset before the earliest observance starts is its TZOFFSETFROM.
        let mut earliest: Option<(NaiveDateTime, i32)> = None;
        for obs in vtz.components.iter().filter(|c| c.name == "STANDARD" || c.name == "DAYLIGHT") {
            let from = parse_offset(&obs.prop("TZOFFSETFROM")?.value)?;
            let to = parse_offset(&obs.prop("TZOFFSETTO")?.value)?;
            let (start, _, _) = parse_date_time(&obs.prop("DTSTART")?.value)?;
            if earliest.is_none_or(|(t, _)| start < t) {
                earliest = Some((start, from));
            }
            let mut onsets = vec![start];
            for rdate in obs.props("RDATE") {
                onsets.extend(rdate.value.split(',').filter_map(|v| parse_date_time(v).map(|t| t.0)));
            }
            for rule in obs.props("RRULE") {
                onsets.extend(super::recur::simple_rule_dates(start, &rule.value, RULE_YEARS.end));
            }
            for onset in onsets {
                if RULE_YEARS.contains(&onset.year()) {
                    transitions.push((onset.and_utc().timestamp() - from as i64, to));
                }
            }
        }
        let initial = earliest.map(|e| e.1)?;
        transitions.sort_unstable();
        transitions.dedup();
        Some(ZoneRules { transitions, initial })
    }

    pub fn offset_at(&self, unix: i64) -> i32 {
        match self.transitions.partition_point(|t| t.0 <= unix) {
            0 => self.initial,
            i => self.transitions[i - 1].1,
        }
    }

    fn local_to_utc(&self, local: NaiveDateTime) -> i64 {
        let wall = local.and_utc().timestamp();
        // Candidates: each offset near this time; keep the first that maps back.
        let mut offsets: Vec<i32> = vec![self.offset_at(wall - 86_400), self.offset_at(wall + 86_400)];
        offsets.dedup();
        for off in &offsets {
            let utc = wall - *off as i64;
            if self.offset_at(utc) == *off {
                return utc;
            }
        }
        // In a gap: the offset before it.
        wall - offsets[0] as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ical::tree::parse_line;

    fn utc(s: &str) -> i64 {
        let (t, _, _) = parse_date_time(s).unwrap();
        t.and_utc().timestamp()
    }

    #[test]
    fn date_time_forms() {
        assert_eq!(parse_date_time("20250102").map(|t| (t.1, t.2)), Some((true, false)));
        assert_eq!(parse_date_time("20250102T030405").map(|t| (t.1, t.2)), Some((false, false)));
        assert_eq!(parse_date_time("20250102T030405Z").map(|t| (t.1, t.2)), Some((false, true)));
        for bad in ["2025010", "20251302", "20250102T25", "20250102X030405", "abcdefgh", ""] {
            assert!(parse_date_time(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("PT1H30M").unwrap().total_seconds(), 5400);
        assert_eq!(parse_duration("-P1D").unwrap().total_seconds(), -86400);
        assert_eq!(parse_duration("P2W").unwrap().total_seconds(), 14 * 86400);
        assert_eq!(parse_duration("P1DT12H").unwrap().total_seconds(), 86400 + 43200);
        for bad in ["PT", "P", "1H", "PT1X", "P1H", "PT99999999999S"] {
            assert!(parse_duration(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn dst_gap_and_overlap_follow_rfc5545() {
        let berlin = Zone::Named(chrono_tz::Europe::Berlin);
        let (gap, _, _) = parse_date_time("20250330T023000").unwrap();
        // 02:30 does not exist; it means 03:30 CEST = 01:30Z.
        assert_eq!(local_to_utc(&berlin, gap), utc("20250330T013000Z"));
        let (twice, _, _) = parse_date_time("20251026T023000").unwrap();
        // 02:30 happens twice; the first is CEST = 00:30Z.
        assert_eq!(local_to_utc(&berlin, twice), utc("20251026T003000Z"));
    }

    #[test]
    fn windows_names_and_custom_rules_resolve() {
        assert_eq!(zone_by_name("W. Europe Standard Time"), Some(Zone::Named(chrono_tz::Europe::Berlin)));
        assert_eq!(zone_by_name("Europe/Berlin "), Some(Zone::Named(chrono_tz::Europe::Berlin)));
        let text = "BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:My Custom Zone\nBEGIN:STANDARD\nDTSTART:19701025T030000\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nEND:STANDARD\nBEGIN:DAYLIGHT\nDTSTART:19700329T020000\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\nEND:DAYLIGHT\nEND:VTIMEZONE\nEND:VCALENDAR\n";
        let cal = crate::ical::tree::parse_tree(text).unwrap();
        let zones = Zones::from_calendar(&cal);
        let summer = parse_line("DTSTART;TZID=My Custom Zone:20250715T120000").unwrap();
        let winter = parse_line("DTSTART;TZID=My Custom Zone:20250115T120000").unwrap();
        assert_eq!(zones.moment(&summer).unwrap().to_utc(&Zone::Utc), utc("20250715T100000Z"));
        assert_eq!(zones.moment(&winter).unwrap().to_utc(&Zone::Utc), utc("20250115T110000Z"));
        let unknown = parse_line("DTSTART;TZID=Nowhere/Special:20250115T120000").unwrap();
        assert!(zones.moment(&unknown).unwrap().is_floating());
    }

    #[test]
    fn nominal_days_keep_the_wall_clock_across_dst() {
        let berlin = Zone::Named(chrono_tz::Europe::Berlin);
        let (t, _, _) = parse_date_time("20250329T100000").unwrap();
        let m = Moment { local: t, zone: berlin.clone(), date_only: false };
        let day = m.plus(&parse_duration("P1D").unwrap());
        assert_eq!(day.to_utc(&Zone::Utc), utc("20250330T080000Z"));
        let hours = m.plus(&parse_duration("PT24H").unwrap());
        assert_eq!(hours.to_utc(&Zone::Utc), utc("20250330T090000Z"));
    }
}
