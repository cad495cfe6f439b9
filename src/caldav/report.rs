//! CalDAV reports: calendar-query (RFC 4791 §7.8), calendar-multiget
//! (§7.9) and free-busy-query (§7.10).
//!
//! calendar-query picks candidates from the index (component type and time
//! span), then parses and evaluates each candidate exactly on blocking
//! threads, a page at a time, and streams the matches.

use std::ops::ControlFlow;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use super::calendar_data::{self, CalendarDataRequest};
use super::filter::{self, CompFilter, Evaluator, TimeRange};
use crate::dav::error::{DavError, DavResult};
use crate::dav::headers::{self, Depth};
use crate::dav::hits::{Hit, PageWriter, multiget_hrefs, report_props, report_target};
use crate::dav::multistatus::{self, Out, PropRequest};
use crate::dav::path::{Area, DavPath};
use crate::dav::props::PropContext;
use crate::dav::resource::{self, Lookup, Resource};
use crate::dav::xml::{CALDAV, DAV, Element};
use crate::dav::{Body, Ctx, Dav};
use crate::ical::recur::{MAX_INSTANCES, Series};
use crate::ical::time::{Zone, Zones, format_utc, zone_by_name};
use crate::ical::tree::fold_into;
use crate::ical::{self};
use crate::store::{Collection, CollectionKind, Object, ObjectMeta, QueryHint, ResourceId};

/// The element calendar data is returned in.
const DATA: (&str, &str) = (CALDAV, "calendar-data");
/// Objects evaluated per blocking task while streaming a query.
const PAGE: usize = 100;
/// The props part of a report body, with calendar-data taken out.
struct Wanted {
    props: PropRequest,
    data: Option<CalendarDataRequest>,
}

fn wanted(root: &Element) -> DavResult<Wanted> {
    let (props, data) = report_props(root, DATA, CalendarDataRequest::parse)?;
    Ok(Wanted { props, data })
}

/// The zone floating times of a query are taken in (RFC 4791 §9.8, RFC 7809):
/// the request's, else the calendar's, else UTC.
async fn floating_zone(dav: &Dav, root: &Element, collection: Option<&Collection>) -> DavResult<Zone> {
    if let Some(tz) = root.child(CALDAV, "timezone") {
        return zone_from_vtimezone(tz.text().as_bytes());
    }
    if let Some(id) = root.child(CALDAV, "timezone-id") {
        return zone_by_name(&id.text()).ok_or_else(|| {
            DavError::condition(
                StatusCode::FORBIDDEN,
                CALDAV,
                "valid-timezone",
                "unknown time zone identifier",
            )
        });
    }
    let Some(collection) = collection else { return Ok(Zone::Utc) };
    let dead = dav.store.properties(ResourceId::Collection(collection.id)).await?;
    if let Some(p) = dead.iter().find(|p| p.namespace == CALDAV && p.name == "calendar-timezone-id")
        && let Ok(e) = crate::dav::xml::parse(p.xml.as_bytes())
        && let Some(z) = zone_by_name(&e.text())
    {
        return Ok(z);
    }
    if let Some(p) = dead.iter().find(|p| p.namespace == CALDAV && p.name == "calendar-timezone")
        && let Ok(e) = crate::dav::xml::parse(p.xml.as_bytes())
        && let Ok(z) = zone_from_vtimezone(e.text().as_bytes())
    {
        return Ok(z);
    }
    Ok(Zone::Utc)
}

fn zone_from_vtimezone(text: &[u8]) -> DavResult<Zone> {
    let invalid = |m: String| DavError::condition(StatusCode::FORBIDDEN, CALDAV, "valid-calendar-data", m);
    let calendar = ical::inspect_timezone(text).map_err(|e| invalid(e.0))?;
    let zones = Zones::from_calendar(&calendar);
    let tzid = calendar.components[0].prop("TZID").map(|p| p.value.clone()).unwrap_or_default();
    match zones.resolve(&tzid) {
        Zone::Floating => Err(invalid("the time zone cannot be interpreted".into())),
        z => Ok(z),
    }
}

/// Evaluates a page of candidates on a blocking thread.
fn evaluate(
    objects: Vec<Object>,
    filter: Option<&CompFilter>,
    data: Option<&CalendarDataRequest>,
    floating: &Zone,
) -> DavResult<Vec<Hit>> {
    let mut hits = Vec::new();
    for object in objects {
        if let Some(filter) = filter {
            let Ok(text) = ical::decode(&object.body) else { continue };
            let Ok(calendar) = ical::tree::parse_tree(&text) else { continue };
            let zones = Zones::from_calendar(&calendar);
            let evaluator = Evaluator::new(&calendar, &zones, floating.clone(), MAX_INSTANCES);
            match evaluator.matches(filter) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    return Err(DavError::condition(
                        StatusCode::FORBIDDEN,
                        CALDAV,
                        "max-instances",
                        e.to_string(),
                    ));
                }
            }
        }
        let data = match data {
            Some(req) => Some(calendar_data::render(&object.body, req, floating, MAX_INSTANCES)?),
            None => None,
        };
        hits.push(Hit { meta: object.meta, data });
    }
    Ok(hits)
}

/// The calendar a report targets, and the object if it targets one.
async fn target(dav: &Dav, ctx: &Ctx<'_>) -> DavResult<(Collection, Option<ObjectMeta>)> {
    report_target(dav, ctx, CollectionKind::Calendar, "calendars and calendar objects").await
}

fn collection_href(ctx: &Ctx<'_>, object: bool) -> String {
    let href = ctx.path.href(!object);
    if object { href[..href.rfind('/').map(|i| i + 1).unwrap_or(0)].to_owned() } else { href }
}

pub async fn calendar_query(
    dav: &Dav,
    ctx: &Ctx<'_>,
    root: &Element,
    minimal: bool,
) -> DavResult<Response<Body>> {
    let (collection, object) = target(dav, ctx).await?;
    let wanted = wanted(root)?;
    // RFC 4791 §7.8: Depth (0 when absent) scopes the query; at Depth 0 a
    // calendar collection is itself not a calendar object, so nothing matches.
    let depth = crate::dav::headers::depth(&ctx.parts.headers, crate::dav::headers::Depth::Zero)?;
    if object.is_none() && depth == crate::dav::headers::Depth::Zero {
        return Out::buffered().finish().await.ok_or_else(DavError::internal);
    }
    let filter_element =
        root.child(CALDAV, "filter").ok_or_else(|| filter::valid_filter("calendar-query needs a filter"))?;
    let filter = filter::parse(filter_element)?;
    let floating = floating_zone(dav, root, Some(&collection)).await?;
    let (component, range) = filter.index_hint();
    let hint = QueryHint { component: component.map(str::to_owned), range: range.map(|r| (r.start, r.end)) };
    let candidates: Vec<String> = match &object {
        Some(meta) => vec![meta.name.clone()],
        None => dav.store.candidates(collection.id, hint).await?.into_iter().map(|m| m.name).collect(),
    };
    let href_base = collection_href(ctx, object.is_some());
    let dav = dav.clone();
    let user = ctx.user.clone();
    let area = match ctx.path {
        DavPath::InHome { area, .. } => area,
        _ => Area::Calendars,
    };
    // Evaluate the first page before answering, so that an error in the
    // filter or the data becomes a proper status instead of a broken 207.
    let mut pages = candidates.chunks(PAGE).map(<[String]>::to_vec).collect::<Vec<_>>().into_iter();
    let first = match pages.next() {
        Some(names) => {
            Some(run_page(&dav, collection.id, names, &filter, wanted.data.as_ref(), &floating).await?)
        }
        None => None,
    };
    Ok(multistatus::stream(move |mut out| async move {
        let ctx = PropContext { dav: &dav, user: &user, minimal };
        let writer = PageWriter {
            dav: &dav,
            area,
            parent: &collection,
            href_base: &href_base,
            props: &wanted.props,
            data: DATA,
        };
        let mut next = first;
        while let Some(hits) = next.take() {
            if let Err(e) = writer.write(&mut out, &ctx, hits).await {
                tracing::warn!(error = %e.message, "calendar-query stopped");
                return;
            }
            if !out.flush().await {
                return;
            }
            let Some(names) = pages.next() else { break };
            match run_page(&dav, collection.id, names, &filter, wanted.data.as_ref(), &floating).await {
                Ok(hits) => next = Some(hits),
                Err(e) => {
                    tracing::warn!(error = %e.message, "calendar-query stopped");
                    return;
                }
            }
        }
        out.finish().await;
    }))
}

async fn run_page(
    dav: &Dav,
    collection_id: i64,
    names: Vec<String>,
    filter: &CompFilter,
    data: Option<&CalendarDataRequest>,
    floating: &Zone,
) -> DavResult<Vec<Hit>> {
    let objects = dav.store.get_objects(collection_id, names).await?;
    let (filter, data, floating) = (filter.clone(), data.cloned(), floating.clone());
    tokio::task::spawn_blocking(move || evaluate(objects, Some(&filter), data.as_ref(), &floating))
        .await
        .map_err(|_| DavError::internal())?
}

pub async fn calendar_multiget(
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
            "multiget works on a calendar",
        ));
    }
    let wanted = wanted(root)?;
    let base = collection_href(ctx, false);
    let floating = floating_zone(dav, root, Some(&collection)).await?;
    // Each href must name a member of this collection; anything else is 404.
    let requested = multiget_hrefs(root, "calendar-multiget", &base)?;
    let writer = PageWriter {
        dav,
        area: Area::Calendars,
        parent: &collection,
        href_base: &base,
        props: &wanted.props,
        data: DATA,
    };
    let ctx_props = PropContext { dav, user: ctx.user, minimal };
    writer
        .multiget(&ctx_props, &requested, PAGE, |names| async {
            let objects = dav.store.get_objects(collection.id, names).await?;
            let (data, floating) = (wanted.data.clone(), floating.clone());
            tokio::task::spawn_blocking(move || evaluate(objects, None, data.as_ref(), &floating))
                .await
                .map_err(|_| DavError::internal())?
        })
        .await
}

/// §7.10: busy time of the calendar (or of every calendar of a home).
pub async fn free_busy_query(dav: &Dav, ctx: &Ctx<'_>, root: &Element) -> DavResult<Response<Body>> {
    let range_element = root
        .child(CALDAV, "time-range")
        .ok_or_else(|| DavError::bad_request("free-busy-query needs a time-range"))?;
    let range = TimeRange::parse(range_element, true)?;
    let calendars = match resource::lookup(dav.store.as_ref(), ctx.user, &ctx.path).await? {
        Lookup::Found(Resource::Collection { collection, .. })
            if collection.kind == CollectionKind::Calendar =>
        {
            vec![collection]
        }
        Lookup::Found(Resource::Collection { collection, .. })
            if collection.kind == CollectionKind::CalendarHome =>
        {
            if headers::depth(&ctx.parts.headers, Depth::Zero)? == Depth::Zero {
                Vec::new()
            } else {
                dav.store.child_collections(collection.id).await?
            }
        }
        Lookup::Found(Resource::Object { .. }) => {
            return Err(DavError::forbidden(
                "free-busy-query runs on a collection, not on a calendar object",
            ));
        }
        Lookup::Found(_) => return Err(DavError::forbidden("free-busy-query runs on calendar collections")),
        _ => return Err(DavError::not_found()),
    };
    let mut periods: Vec<(i64, i64, &'static str)> = Vec::new();
    for calendar in calendars {
        let floating = floating_zone(dav, root, Some(&calendar)).await?;
        let hint = QueryHint { component: None, range: Some((range.start, range.end)) };
        let names: Vec<String> =
            dav.store.candidates(calendar.id, hint).await?.into_iter().map(|m| m.name).collect();
        for chunk in names.chunks(PAGE) {
            let objects = dav.store.get_objects(calendar.id, chunk.to_vec()).await?;
            let floating = floating.clone();
            let found = tokio::task::spawn_blocking(move || busy_periods(&objects, &range, &floating))
                .await
                .map_err(|_| DavError::internal())??;
            periods.extend(found);
        }
    }
    let body = freebusy_calendar(&range, periods);
    let mut r = Response::new(Body::full(Bytes::from(body)));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
    Ok(r)
}

/// Busy periods of these objects within `range`, with their FBTYPE.
fn busy_periods(
    objects: &[Object],
    range: &TimeRange,
    floating: &Zone,
) -> DavResult<Vec<(i64, i64, &'static str)>> {
    let mut out = Vec::new();
    for object in objects {
        let Ok(text) = ical::decode(&object.body) else { continue };
        let Ok(calendar) = ical::tree::parse_tree(&text) else { continue };
        let zones = Zones::from_calendar(&calendar);
        for fb in calendar.children("VFREEBUSY") {
            for p in fb.props("FREEBUSY") {
                let kind = match p.param("FBTYPE").map(str::to_ascii_uppercase).as_deref() {
                    Some("FREE") => continue,
                    Some("BUSY-TENTATIVE") => "BUSY-TENTATIVE",
                    Some("BUSY-UNAVAILABLE") => "BUSY-UNAVAILABLE",
                    _ => "BUSY",
                };
                for (s, e) in zones.periods(p) {
                    out.push((s.to_utc(floating), e.to_utc(floating), kind));
                }
            }
        }
        if !calendar.components.iter().any(|c| c.name == "VEVENT") {
            continue;
        }
        let series = Series::new(&calendar, &zones);
        series
            .each(Some((range.start, range.end)), MAX_INSTANCES, |inst| {
                let c = inst.component;
                let transparent =
                    c.prop("TRANSP").is_some_and(|p| p.value.trim().eq_ignore_ascii_case("TRANSPARENT"));
                let status = c.prop("STATUS").map(|p| p.value.trim().to_ascii_uppercase());
                let kind = match status.as_deref() {
                    Some("CANCELLED") => None,
                    Some("TENTATIVE") => Some("BUSY-TENTATIVE"),
                    _ => Some("BUSY"),
                };
                let (Some(kind), false) = (kind, transparent) else { return ControlFlow::Continue(()) };
                if !filter::instance_overlaps(&inst, range, &zones, floating) {
                    return ControlFlow::Continue(());
                }
                let Some(start) = inst.start.as_ref().map(|s| s.to_utc(floating)) else {
                    return ControlFlow::Continue(());
                };
                let end = match inst.end.as_ref() {
                    Some(e) => e.to_utc(floating),
                    None if inst.start.as_ref().is_some_and(|s| s.date_only) => start + 86_400,
                    None => start,
                };
                if end > start {
                    out.push((start, end, kind));
                }
                ControlFlow::Continue(())
            })
            .map_err(|e| {
                DavError::condition(StatusCode::FORBIDDEN, CALDAV, "max-instances", e.to_string())
            })?;
    }
    Ok(out)
}

/// The VFREEBUSY answer: periods clipped to the range and coalesced per type.
fn freebusy_calendar(range: &TimeRange, mut periods: Vec<(i64, i64, &'static str)>) -> String {
    let mut out = String::new();
    for line in ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Skjold//Skjold//EN", "BEGIN:VFREEBUSY"] {
        fold_into(&mut out, line);
    }
    fold_into(&mut out, &format!("DTSTAMP:{}", format_utc(crate::store::now())));
    fold_into(&mut out, &format!("DTSTART:{}", format_utc(range.start)));
    fold_into(&mut out, &format!("DTEND:{}", format_utc(range.end)));
    for p in periods.iter_mut() {
        p.0 = p.0.max(range.start);
        p.1 = p.1.min(range.end);
    }
    periods.retain(|p| p.1 > p.0);
    for kind in ["BUSY", "BUSY-TENTATIVE", "BUSY-UNAVAILABLE"] {
        let mut list: Vec<(i64, i64)> = periods.iter().filter(|p| p.2 == kind).map(|p| (p.0, p.1)).collect();
        list.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::new();
        for (s, e) in list {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        if merged.is_empty() {
            continue;
        }
        let values: Vec<String> =
            merged.iter().map(|(s, e)| format!("{}/{}", format_utc(*s), format_utc(*e))).collect();
        fold_into(&mut out, &format!("FREEBUSY;FBTYPE={kind}:{}", values.join(",")));
    }
    for line in ["END:VFREEBUSY", "END:VCALENDAR"] {
        fold_into(&mut out, line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freebusy_periods_are_clipped_and_coalesced() {
        let range = TimeRange { start: 1000, end: 10_000 };
        let folded = freebusy_calendar(
            &range,
            vec![
                (500, 2000, "BUSY"),
                (1500, 3000, "BUSY"),
                (5000, 6000, "BUSY-TENTATIVE"),
                (9000, 20_000, "BUSY"),
            ],
        );
        let out = String::from_utf8(ical::unfold(folded.as_bytes())).unwrap();
        assert!(
            out.contains(
                "FREEBUSY;FBTYPE=BUSY:19700101T001640Z/19700101T005000Z,19700101T023000Z/19700101T024640Z\r\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("FREEBUSY;FBTYPE=BUSY-TENTATIVE:19700101T012320Z/19700101T014000Z\r\n"),
            "{out}"
        );
    }
}
