//! Recurrence expansion (RFC 5545 §3.8.5, RFC 4791 §9.9), bounded.
//!
//! RRULE arithmetic comes from the `rrule` crate, run on wall-clock times
//! (as if UTC); each occurrence is then placed in the DTSTART's zone, so
//! a daily 10:00 stays 10:00 across DST and a time in a DST gap moves
//! forward (RFC 5545 §3.3.5). RDATE, EXDATE and RECURRENCE-ID overrides
//! (including RANGE=THISANDFUTURE) are applied here; overrides match on
//! RECURRENCE-ID alone, never on SEQUENCE.
//!
//! Work is bounded: every walk stops after `max` occurrences with an error,
//! open-ended rules are fast-forwarded to the window instead of iterated
//! from DTSTART, and the walk ends at the window's end.

use std::collections::{HashSet, VecDeque};
use std::ops::ControlFlow;

use chrono::{Datelike, Duration, NaiveDateTime, TimeZone};
use rrule::{Frequency, RRule, RRuleSet, Unvalidated};

use super::time::{
    IcalDuration, MAX_ZONE_OFFSET, Moment, Zone, Zones, parse_date_time, parse_duration, utc_to_local,
};
use super::tree::Component;

/// Most occurrences one object may have, and one walk may visit
/// (advertised as CALDAV:max-instances).
pub const MAX_INSTANCES: usize = 100_000;
/// Occurrences before a window that a walk may pass over, per visited one allowed.
const SKIP_FACTOR: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error("the recurrence has more than {MAX_INSTANCES} instances")]
    TooManyInstances,
    #[error("invalid recurrence rule: {0}")]
    InvalidRule(String),
}

/// One instance of a recurring (or single) component.
#[derive(Debug, Clone)]
pub struct Instance<'a> {
    /// The component whose properties describe this instance.
    pub component: &'a Component,
    pub start: Option<Moment>,
    /// DTEND (or DUE), moved with the instance; `None` when the component has neither.
    pub end: Option<Moment>,
    /// Set for instances of a recurring series: the original start.
    pub recurrence_id: Option<Moment>,
}

/// The times a component states for itself.
#[derive(Debug, Clone)]
pub struct Times {
    pub start: Option<Moment>,
    /// DTEND for events, DUE for tasks.
    pub end: Option<Moment>,
    pub duration: Option<IcalDuration>,
}

pub fn component_times(c: &Component, zones: &Zones) -> Times {
    let start = c.prop("DTSTART").and_then(|p| zones.moment(p));
    let end = c.prop("DTEND").or_else(|| c.prop("DUE")).and_then(|p| zones.moment(p));
    let duration = c.prop("DURATION").and_then(|p| parse_duration(&p.value));
    Times { start, end, duration }
}

impl Times {
    /// The end of an instance starting at `start`, keeping this component's length.
    fn end_for(&self, start: &Moment) -> Option<Moment> {
        if let Some(d) = &self.duration {
            return Some(start.plus(d));
        }
        let (s, e) = (self.start.as_ref()?, self.end.as_ref()?);
        if s.date_only && e.date_only {
            let days = (e.local - s.local).num_days();
            return Some(Moment { local: start.local + Duration::days(days), ..e.clone() });
        }
        Some(start.shifted(e.key() - s.key()).with_zone_of(e, start))
    }

    /// Exact length in seconds, for bounding searches.
    fn length(&self) -> i64 {
        if let Some(d) = &self.duration {
            return d.total_seconds().abs();
        }
        match (&self.start, &self.end) {
            (Some(s), Some(e)) => (e.key() - s.key()).abs(),
            (Some(s), None) if s.date_only => 86_400,
            _ => 0,
        }
    }
}

/// Occurrences of a master: start, and the end an RDATE period gives.
type Occurrences<'a> = Box<dyn Iterator<Item = (Moment, Option<Moment>)> + 'a>;

struct Override<'a> {
    component: &'a Component,
    recurrence_id: Moment,
    this_and_future: bool,
    times: Times,
}

/// All components of one object resource that share its UID.
pub struct Series<'a> {
    pub master: Option<&'a Component>,
    overrides: Vec<Override<'a>>,
    zones: &'a Zones,
}

/// How a walk ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    Done,
    /// The visitor asked to stop.
    Stopped,
}

fn wall(t: NaiveDateTime) -> chrono::DateTime<rrule::Tz> {
    rrule::Tz::UTC.from_utc_datetime(&t)
}

/// An RRULE value as an `rrule` rule on wall-clock time, with UNTIL
/// converted to the wall clock of DTSTART's zone. `None`: no occurrence
/// after DTSTART (UNTIL before it).
fn build_rule(value: &str, start: &Moment) -> Result<Option<RRule>, ExpandError> {
    let mut until = None;
    let mut parts = Vec::new();
    for part in value.trim().split(';').filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("UNTIL") => until = Some(v.trim().to_owned()),
            _ => parts.push(part),
        }
    }
    let rule: RRule<Unvalidated> =
        parts.join(";").parse().map_err(|e: rrule::RRuleError| ExpandError::InvalidRule(e.to_string()))?;
    let mut rule = rule;
    if let Some(u) = until {
        let (local, date_only, utc) =
            parse_date_time(&u).ok_or_else(|| ExpandError::InvalidRule(format!("bad UNTIL {u:?}")))?;
        let until_wall = if utc {
            utc_to_local(&start.zone, local.and_utc().timestamp())
        } else if date_only && !start.date_only {
            local + Duration::seconds(86_399)
        } else {
            local
        };
        if until_wall < start.local {
            return Ok(None);
        }
        rule = rule.until(wall(until_wall));
    }
    rule.validate(wall(start.local)).map(Some).map_err(|e| ExpandError::InvalidRule(e.to_string()))
}

fn is_open_ended(value: &str) -> bool {
    let upper = value.to_ascii_uppercase();
    !upper.split(';').any(|p| p.starts_with("COUNT=") || p.starts_with("UNTIL="))
}

/// Seconds between grid points of rules whose pattern repeats with a fixed
/// step, so that DTSTART can be moved forward by whole steps.
fn fixed_step(rule: &RRule) -> Option<i64> {
    let unit = match rule.get_freq() {
        Frequency::Secondly => 1,
        Frequency::Minutely => 60,
        Frequency::Hourly => 3600,
        Frequency::Daily => 86_400,
        Frequency::Weekly => 7 * 86_400,
        Frequency::Monthly | Frequency::Yearly => return None,
    };
    Some(unit * rule.get_interval().max(1) as i64)
}

/// Onset dates of a VTIMEZONE observance rule, up to `end_year`.
pub fn simple_rule_dates(start: NaiveDateTime, rule: &str, end_year: i32) -> Vec<NaiveDateTime> {
    let moment = Moment { local: start, zone: Zone::Floating, date_only: false };
    let Ok(Some(rule)) = build_rule(rule, &moment) else { return Vec::new() };
    RRuleSet::new(wall(start))
        .rrule(rule)
        .limit()
        .into_iter()
        .take_while(|d| d.year() < end_year)
        .take(2 * 400)
        .map(|d| d.naive_utc())
        .collect()
}

impl<'a> Series<'a> {
    /// The series of the main components of a VCALENDAR.
    pub fn new(calendar: &'a Component, zones: &'a Zones) -> Series<'a> {
        let mut master = None;
        let mut overrides = Vec::new();
        let main = |c: &&Component| matches!(c.name.as_str(), "VEVENT" | "VTODO" | "VJOURNAL" | "VFREEBUSY");
        for c in calendar.components.iter().filter(main) {
            match c.prop("RECURRENCE-ID").and_then(|p| zones.moment(p).map(|m| (p, m))) {
                Some((p, rid)) => overrides.push(Override {
                    component: c,
                    recurrence_id: rid,
                    this_and_future: p
                        .param("RANGE")
                        .is_some_and(|r| r.eq_ignore_ascii_case("THISANDFUTURE")),
                    times: component_times(c, zones),
                }),
                None if master.is_none() => master = Some(c),
                None => {}
            }
        }
        overrides.sort_by_key(|o| o.recurrence_id.key());
        Series { master, overrides, zones }
    }

    pub fn is_recurring(&self) -> bool {
        self.master.is_some_and(|m| m.prop("RRULE").is_some() || m.prop("RDATE").is_some())
    }

    /// Whether the series has no last instance.
    pub fn is_open_ended(&self) -> bool {
        self.master.is_some_and(|m| m.props("RRULE").any(|r| is_open_ended(&r.value)))
    }

    /// Every component of the series.
    pub fn components(&self) -> impl Iterator<Item = &'a Component> + '_ {
        self.master.into_iter().chain(self.overrides.iter().map(|o| o.component))
    }

    /// Checks that every rule of the series can be expanded.
    pub fn validate_rules(&self) -> Result<(), ExpandError> {
        if let Some(master) = self.master
            && let Some(start) = component_times(master, self.zones).start
        {
            for r in master.props("RRULE") {
                build_rule(&r.value, &start)?;
            }
        }
        Ok(())
    }

    /// Visits instances in order of their original start. With a window
    /// (UTC seconds, `[start, end)`), instances that cannot overlap it are
    /// skipped and the walk ends past it; the visitor still checks overlap.
    pub fn each(
        &self,
        window: Option<(i64, i64)>,
        max: usize,
        mut visit: impl FnMut(Instance<'a>) -> ControlFlow<()>,
    ) -> Result<Walk, ExpandError> {
        let Some(master) = self.master else {
            for o in &self.overrides {
                if visit(self.override_instance(o)).is_break() {
                    return Ok(Walk::Stopped);
                }
            }
            return Ok(Walk::Done);
        };
        let times = component_times(master, self.zones);
        let Some(start) = times.start.clone() else {
            // A task without DTSTART has one instance and nothing to repeat.
            let inst =
                Instance { component: master, start: None, end: times.end.clone(), recurrence_id: None };
            return Ok(if visit(inst).is_break() { Walk::Stopped } else { Walk::Done });
        };
        let recurring = self.is_recurring();
        if !recurring {
            let overridden = self.overrides.iter().any(|o| o.recurrence_id.key() == start.key());
            if !overridden {
                let inst = Instance {
                    component: master,
                    end: times.end_for(&start),
                    start: Some(start),
                    recurrence_id: None,
                };
                if visit(inst).is_break() {
                    return Ok(Walk::Stopped);
                }
            }
            for o in &self.overrides {
                if visit(self.override_instance(o)).is_break() {
                    return Ok(Walk::Stopped);
                }
            }
            return Ok(Walk::Done);
        }

        // Margin around the window: floating values may sit anywhere within
        // ±14 h, instances reach back by their length, THISANDFUTURE moves them.
        let shift_reach = self
            .overrides
            .iter()
            .filter(|o| o.this_and_future)
            .filter_map(|o| {
                Some((o.times.start.as_ref()?.key() - o.recurrence_id.key()).abs() + o.times.length())
            })
            .max()
            .unwrap_or(0);
        let floating_reach = if start.is_floating() { MAX_ZONE_OFFSET } else { 0 };
        let margin = floating_reach + times.length() + shift_reach;
        let bounds = window.map(|(a, b)| (a - margin, b + margin));

        let exdates: Vec<Moment> = master.props("EXDATE").flat_map(|p| self.zones.moments(p)).collect();
        let exdate_keys: HashSet<i64> = exdates.iter().filter(|m| !m.date_only).map(Moment::key).collect();
        let exdate_days: HashSet<chrono::NaiveDate> =
            exdates.iter().filter(|m| m.date_only).map(|m| m.local.date()).collect();
        let overridden: HashSet<i64> = self.overrides.iter().map(|o| o.recurrence_id.key()).collect();
        let overridden_days: HashSet<chrono::NaiveDate> = self
            .overrides
            .iter()
            .filter(|o| o.recurrence_id.date_only)
            .map(|o| o.recurrence_id.local.date())
            .collect();

        let mut occurrences = self.occurrences(master, &start, bounds.map(|b| b.0))?;
        // Occurrences before the window are cheap but not free: they get a
        // larger allowance than the ones that are visited.
        let (mut visited, mut skipped) = (0usize, 0usize);
        let mut last_key = None;
        for (occ, explicit_end) in occurrences.by_ref() {
            let key = occ.key();
            if last_key == Some(key) {
                continue;
            }
            last_key = Some(key);
            if let Some((_, upper)) = bounds
                && key >= upper
            {
                break;
            }
            let day = occ.local.date();
            if exdate_keys.contains(&key) || exdate_days.contains(&day) {
                continue;
            }
            if overridden.contains(&key) || occ.date_only && overridden_days.contains(&day) {
                continue;
            }
            if let Some((lower, _)) = bounds
                && key < lower
            {
                skipped += 1;
                if skipped > SKIP_FACTOR * max {
                    return Err(ExpandError::TooManyInstances);
                }
                continue;
            }
            visited += 1;
            if visited > max {
                return Err(ExpandError::TooManyInstances);
            }
            let inst = match self
                .overrides
                .iter()
                .rev()
                .find(|o| o.this_and_future && o.recurrence_id.key() <= key)
            {
                Some(o) => {
                    // RFC 5545 §3.8.4.4: later instances take the override's
                    // properties, shifted by its change of start.
                    let delta = o.times.start.as_ref().map(|s| s.key() - o.recurrence_id.key()).unwrap_or(0);
                    let moved = occ.shifted(delta);
                    Instance {
                        component: o.component,
                        end: o.times.end_for(&moved),
                        start: Some(moved),
                        recurrence_id: Some(occ),
                    }
                }
                None => {
                    let end = explicit_end.or_else(|| times.end_for(&occ));
                    Instance { component: master, start: Some(occ.clone()), end, recurrence_id: Some(occ) }
                }
            };
            if visit(inst).is_break() {
                return Ok(Walk::Stopped);
            }
        }
        for o in &self.overrides {
            if visit(self.override_instance(o)).is_break() {
                return Ok(Walk::Stopped);
            }
        }
        Ok(Walk::Done)
    }

    fn override_instance(&self, o: &Override<'a>) -> Instance<'a> {
        let start = o.times.start.clone().unwrap_or_else(|| o.recurrence_id.clone());
        Instance {
            component: o.component,
            end: o.times.end_for(&start),
            start: Some(start),
            recurrence_id: Some(o.recurrence_id.clone()),
        }
    }

    /// The master's occurrences in order: RRULEs merged with RDATEs and
    /// DTSTART itself, as (start, end given by an RDATE period).
    fn occurrences(
        &self,
        master: &'a Component,
        start: &Moment,
        from: Option<i64>,
    ) -> Result<Occurrences<'a>, ExpandError> {
        let mut rules = Vec::new();
        let mut dtstart = start.local;
        let mut fast_forwarded = false;
        for r in master.props("RRULE") {
            if let Some(rule) = build_rule(&r.value, start)? {
                rules.push((rule, is_open_ended(&r.value)));
            }
        }
        // Fast-forward a lone open-ended rule with a fixed step to just before the window.
        if let (Some(from), [(rule, true)]) = (from, rules.as_slice())
            && let Some(step) = fixed_step(rule)
        {
            let behind = from - start.local.and_utc().timestamp();
            let steps = behind / step - 1;
            if steps > 0 {
                dtstart = start.local + Duration::seconds(steps * step);
                fast_forwarded = true;
            }
        }
        let mut extra: Vec<(Moment, Option<Moment>)> = Vec::new();
        if !fast_forwarded {
            extra.push((start.clone(), None));
        }
        for p in master.props("RDATE") {
            if p.param("VALUE").is_some_and(|v| v.eq_ignore_ascii_case("PERIOD")) || p.value.contains('/') {
                extra.extend(self.zones.periods(p).into_iter().map(|(s, e)| (s, Some(e))));
            } else {
                extra.extend(self.zones.moments(p).into_iter().map(|m| (m, None)));
            }
        }
        extra.sort_by_key(|(m, _)| m.key());
        let mut extra: VecDeque<_> = extra.into();

        let zone = start.zone.clone();
        let date_only = start.date_only;
        let mut generated: Box<dyn Iterator<Item = Moment>> = if rules.is_empty() {
            Box::new(std::iter::empty())
        } else {
            // Moving DTSTART by whole steps keeps the defaults the rule took
            // from it (weekday, hour, minute, second).
            let mut set = RRuleSet::new(wall(dtstart)).limit();
            for (rule, _) in rules {
                set = set.rrule(rule);
            }
            Box::new(set.into_iter().map(move |d| Moment {
                local: d.naive_utc(),
                zone: zone.clone(),
                date_only,
            }))
        };
        let mut pending: Option<Moment> = generated.next();
        Ok(Box::new(std::iter::from_fn(move || {
            let take_extra = match (&pending, extra.front()) {
                (None, None) => return None,
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some(g), Some((e, _))) => e.key() <= g.key(),
            };
            if take_extra {
                extra.pop_front()
            } else {
                let g = pending.take()?;
                pending = generated.next();
                Some((g, None))
            }
        })))
    }
}

/// First start and last end of a series in UTC (for the index), taking
/// floating times at their widest; `None` end for open-ended series, `None`
/// start when an instance has no start at all.
pub fn span(series: &Series<'_>, max: usize) -> Result<(Option<i64>, Option<i64>), ExpandError> {
    let mut first: Option<i64> = None;
    let mut last: Option<i64> = None;
    let mut unbounded = false;
    let mut note = |inst: &Instance<'_>| {
        let Some(s) = inst.start.as_ref() else {
            unbounded = true;
            return;
        };
        let widen = if s.is_floating() { MAX_ZONE_OFFSET } else { 0 };
        let start = s.key() - widen;
        let end = match inst.end.as_ref() {
            Some(e) => e.key() + if e.is_floating() { MAX_ZONE_OFFSET } else { 0 },
            None => s.key() + widen + if s.date_only { 86_400 } else { 0 },
        };
        first = Some(first.map_or(start, |f| f.min(start)));
        last = Some(last.map_or(end, |l| l.max(end.max(start))));
    };
    if series.is_open_ended() {
        // The beginning is the first occurrence or an override moved before it.
        series.each(None, max, |i| {
            note(&i);
            if i.recurrence_id.is_some() && i.component.prop("RECURRENCE-ID").is_none() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        for o in &series.overrides {
            note(&series.override_instance(o));
        }
        return Ok((if unbounded { None } else { first }, None));
    }
    series.each(None, max, |i| {
        note(&i);
        ControlFlow::Continue(())
    })?;
    Ok(if unbounded { (None, None) } else { (first, last) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ical::time::format_utc;
    use crate::ical::tree::parse_tree;

    fn expand(text: &str, window: Option<(&str, &str)>) -> Vec<String> {
        let cal = parse_tree(&text.replace('\n', "\r\n")).unwrap();
        let zones = Zones::from_calendar(&cal);
        let series = Series::new(&cal, &zones);
        let w = window.map(|(a, b)| (utc(a), utc(b)));
        let mut out = Vec::new();
        series
            .each(w, MAX_INSTANCES, |i| {
                let s = i.start.unwrap().to_utc(&Zone::Utc);
                if w.is_none_or(|(a, b)| s < b && s >= a) {
                    out.push(format_utc(s));
                }
                ControlFlow::Continue(())
            })
            .unwrap();
        out.sort();
        out
    }

    fn utc(s: &str) -> i64 {
        parse_date_time(s).unwrap().0.and_utc().timestamp()
    }

    const BERLIN: &str = "BEGIN:VTIMEZONE\nTZID:Europe/Berlin\nEND:VTIMEZONE\n";

    #[test]
    fn weekly_series_keeps_local_time_across_dst() {
        let text = format!(
            "BEGIN:VCALENDAR\n{BERLIN}BEGIN:VEVENT\nUID:w\nDTSTART;TZID=Europe/Berlin:20250324T100000\nDURATION:PT1H\nRRULE:FREQ=WEEKLY;COUNT=3\nEND:VEVENT\nEND:VCALENDAR\n"
        );
        assert_eq!(expand(&text, None), vec!["20250324T090000Z", "20250331T080000Z", "20250407T080000Z"]);
    }

    #[test]
    fn dst_gap_instance_moves_forward() {
        let text = format!(
            "BEGIN:VCALENDAR\n{BERLIN}BEGIN:VEVENT\nUID:g\nDTSTART;TZID=Europe/Berlin:20250329T023000\nRRULE:FREQ=DAILY;COUNT=3\nEND:VEVENT\nEND:VCALENDAR\n"
        );
        // 02:30 on 30 March does not exist in Berlin: 03:30 CEST = 01:30Z (calcard gets 02:30Z).
        assert_eq!(expand(&text, None), vec!["20250329T013000Z", "20250330T013000Z", "20250331T003000Z"]);
    }

    #[test]
    fn overrides_match_on_recurrence_id_whatever_their_sequence() {
        let text = format!(
            "BEGIN:VCALENDAR\n{BERLIN}BEGIN:VEVENT\nUID:o\nSEQUENCE:1\nDTSTART;TZID=Europe/Berlin:20250113T100000\nDTEND;TZID=Europe/Berlin:20250113T110000\nRRULE:FREQ=DAILY;COUNT=3\nEXDATE;TZID=Europe/Berlin:20250115T100000\nEND:VEVENT\nBEGIN:VEVENT\nUID:o\nSEQUENCE:2\nRECURRENCE-ID;TZID=Europe/Berlin:20250114T100000\nDTSTART;TZID=Europe/Berlin:20250114T113000\nDTEND;TZID=Europe/Berlin:20250114T123000\nEND:VEVENT\nEND:VCALENDAR\n"
        );
        assert_eq!(expand(&text, None), vec!["20250113T090000Z", "20250114T103000Z"]);
    }

    #[test]
    fn rdate_all_day_and_until_date() {
        let text = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTART;VALUE=DATE:20250101\nRRULE:FREQ=MONTHLY;UNTIL=20250301\nRDATE;VALUE=DATE:20250415\nEND:VEVENT\nEND:VCALENDAR\n";
        assert_eq!(
            expand(text, None),
            vec!["20250101T000000Z", "20250201T000000Z", "20250301T000000Z", "20250415T000000Z"]
        );
    }

    #[test]
    fn this_and_future_moves_later_instances() {
        let text = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:t\nDTSTART:20250101T100000Z\nDURATION:PT1H\nRRULE:FREQ=DAILY;COUNT=4\nEND:VEVENT\nBEGIN:VEVENT\nUID:t\nRECURRENCE-ID;RANGE=THISANDFUTURE:20250103T100000Z\nDTSTART:20250103T120000Z\nDURATION:PT1H\nEND:VEVENT\nEND:VCALENDAR\n";
        assert_eq!(
            expand(text, None),
            vec!["20250101T100000Z", "20250102T100000Z", "20250103T120000Z", "20250104T120000Z"]
        );
    }

    #[test]
    fn endless_secondly_rule_answers_a_far_window_at_once() {
        let text = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:s\nDTSTART:20000101T000000Z\nRRULE:FREQ=SECONDLY\nEND:VEVENT\nEND:VCALENDAR\n";
        let got = expand(text, Some(("21000101T000000Z", "21000101T000003Z")));
        assert_eq!(got, vec!["21000101T000000Z", "21000101T000001Z", "21000101T000002Z"]);
        let cal = parse_tree(&text.replace('\n', "\r\n")).unwrap();
        let zones = Zones::from_calendar(&cal);
        let series = Series::new(&cal, &zones);
        assert_eq!(
            series.each(None, 1000, |_| ControlFlow::Continue(())),
            Err(ExpandError::TooManyInstances)
        );
        assert_eq!(span(&series, MAX_INSTANCES).unwrap(), (Some(utc("20000101T000000Z")), None));
    }

    #[test]
    fn bounded_span_covers_the_whole_set() {
        let text = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:b\nDTSTART:20250101T100000Z\nDTEND:20250101T110000Z\nRRULE:FREQ=YEARLY;COUNT=3\nEND:VEVENT\nEND:VCALENDAR\n";
        let cal = parse_tree(&text.replace('\n', "\r\n")).unwrap();
        let zones = Zones::from_calendar(&cal);
        let series = Series::new(&cal, &zones);
        assert_eq!(
            span(&series, MAX_INSTANCES).unwrap(),
            (Some(utc("20250101T100000Z")), Some(utc("20270101T110000Z")))
        );
        let too_many = text.replace("FREQ=YEARLY;COUNT=3", "FREQ=SECONDLY;UNTIL=20300101T000000Z");
        let cal = parse_tree(&too_many.replace('\n', "\r\n")).unwrap();
        let series = Series::new(&cal, &zones);
        assert_eq!(span(&series, MAX_INSTANCES), Err(ExpandError::TooManyInstances));
    }

    #[test]
    fn invalid_rules_are_reported() {
        let text = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nDTSTART:20250101T100000Z\nRRULE:FREQ=DAILY;BYMONTHDAY=99\nEND:VEVENT\nEND:VCALENDAR\n";
        let cal = parse_tree(&text.replace('\n', "\r\n")).unwrap();
        let zones = Zones::from_calendar(&cal);
        assert!(matches!(Series::new(&cal, &zones).validate_rules(), Err(ExpandError::InvalidRule(_))));
    }
}
