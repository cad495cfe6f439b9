#!/usr/bin/env python3
"""CalDAV interoperability scenario: the real python `caldav` library (3.6.0)
against a running Skjold server.

usage: caldav_scenario.py BASE_URL USER PASSWORD
       (e.g. http://127.0.0.1:8010/ tester pw123; run it with the interop venv's python)

Prints one PASS/FAIL line per step and closes with `caldav: N passed, N failed`;
exit status 1 if any step failed.

Every step asserts exact results. The library is told to leave the work to the
server, so that the SERVER's behaviour is what is tested:
  * DAVClient(features={}): no server profile and no "backward compatibility"
    guessing; every feature is taken as supported the way the RFCs describe it;
  * search(..., post_filter=False, compatibility_workarounds=False): a single
    REPORT, sent as built, with the time range not widened and no client-side
    filtering of the answer;
  * recurrence expansion through <C:expand> (server_expand=True) with the
    library's client-side expansion off (expand=False), so the instances that
    come back are the server's;
  * get_objects_by_sync_token(disable_fallback=True): real RFC 6578 only;
  * load(multiget_fallback=False) where a missing object is expected.
Every request the library sends is recorded (a wrapper around its HTTP session),
so that steps can also check what went over the wire (If-Match, one REPORT, ...).

A fresh calendar with a random name is made for each run and deleted at the
end, also when a step fails.
"""
import re
import sys
import traceback
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote, urljoin, urlsplit

import caldav
import icalendar
import niquests
from caldav.elements import dav
from caldav.lib import error

if len(sys.argv) != 4:
    print(__doc__.strip().splitlines()[2], file=sys.stderr)
    sys.exit(2)

BASE, USER, PASSWORD = sys.argv[1:4]
if not BASE.endswith("/"):
    BASE += "/"

UTC = timezone.utc
passed = failed = 0
state = {}  # what the steps hand on to each other


class StepFailed(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise StepFailed(msg)


def eq(actual, expected, what):
    if actual != expected:
        raise StepFailed(f"{what}: expected {expected!r}, got {actual!r}")


def step(name, fn):
    """Run one step; print exactly one PASS/FAIL line for it."""
    global passed, failed
    try:
        detail = fn()
        print(f"PASS {name}" + (f" ({detail})" if detail else ""), flush=True)
        passed += 1
        return True
    except StepFailed as e:
        print(f"FAIL {name}: {e}", flush=True)
    except Exception as e:  # noqa: BLE001 - an exception is a failed step
        print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
        traceback.print_exc(limit=3, file=sys.stderr)
    failed += 1
    return False


def need(*keys):
    """A step that depends on an earlier one fails (not crashes) without it."""
    for k in keys:
        if state.get(k) is None:
            raise StepFailed(f"skipped: needs '{k}' from an earlier step that failed")
    return [state[k] for k in keys]


def path_of(url):
    """Server path of a URL / href, percent-decoded, for comparisons."""
    return unquote(urlsplit(str(url)).path)


def utc(y, mo, d, h=0, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def as_utc(value):
    """A DTSTART/DTEND value as an aware UTC datetime; fails for anything not in UTC."""
    check(isinstance(value, datetime), f"{value!r} is not a DATE-TIME")
    check(value.tzinfo is not None and value.utcoffset() == timedelta(0),
          f"{value!r} is not in UTC")
    return value.astimezone(UTC)


# ---------------------------------------------------------------- HTTP plumbing
client = caldav.DAVClient(url=BASE, username=USER, password=PASSWORD,
                          enable_rfc6764=False, features={}, timeout=30)

sent = []  # (method, url, headers) of every request the library sent
_orig_request = client.session.request


def _recording_request(method, url, *args, **kwargs):
    body = kwargs.get("data") or b""
    sent.append((method.upper(), str(url),
                 {k.lower(): v for k, v in (kwargs.get("headers") or {}).items()},
                 body if isinstance(body, bytes) else str(body).encode()))
    return _orig_request(method, url, *args, **kwargs)


client.session.request = _recording_request

raw = niquests.Session()
raw.auth = (USER, PASSWORD)


def http(method, url, body=None, headers=None):
    """A request that bypasses the library, to see the server's status codes."""
    h = dict(headers or {})
    if body is not None and "Content-Type" not in h:
        h["Content-Type"] = "text/calendar; charset=utf-8"
    return raw.request(method, url, data=body.encode() if isinstance(body, str) else body,
                       headers=h, timeout=30)


def sent_since(mark):
    return sent[mark:]


def methods(reqs):
    return [r[0] for r in reqs]


def ics(*components, tz=False):
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Skjold//interop caldav scenario//EN"]
    if tz:
        lines += BERLIN_TZ
    for c in components:
        lines += c
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


BERLIN_TZ = [
    "BEGIN:VTIMEZONE",
    "TZID:Europe/Berlin",
    "X-LIC-LOCATION:Europe/Berlin",
    "BEGIN:DAYLIGHT",
    "TZOFFSETFROM:+0100",
    "TZOFFSETTO:+0200",
    "TZNAME:CEST",
    "DTSTART:19700329T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
    "END:DAYLIGHT",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0100",
    "TZNAME:CET",
    "DTSTART:19701025T030000",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    "END:STANDARD",
    "END:VTIMEZONE",
]


def vevent(uid, start, end, summary, *extra):
    return ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20250301T120000Z",
            f"DTSTART:{start}", f"DTEND:{end}", f"SUMMARY:{summary}", *extra, "END:VEVENT"]


def new_uid(tag):
    return f"{tag}-{uuid.uuid4()}"


def server_search(cal, **kw):
    """calendar-query exactly as built, answered by the server alone.

    Returns (objects, requests sent)."""
    mark = len(sent)
    found = cal.search(post_filter=False, compatibility_workarounds=False, **kw)
    return found, sent_since(mark)


def one_report(reqs, what):
    eq(methods(reqs), ["REPORT"], f"requests sent for {what} (one REPORT, no library fallback)")


def calendar_paths(principal):
    return {path_of(c.url): c for c in principal.get_calendars()}


def get_etag(url):
    r = http("GET", url)
    eq(r.status_code, 200, f"GET {path_of(url)}")
    return r.headers.get("ETag"), r.text


# ------------------------------------------------------------------- the steps
RUN = uuid.uuid4().hex[:10]
CAL_ID = f"interop-{RUN}"
CAL_NAME = f"Interop scenario {RUN}"


def s1_discovery():
    mark = len(sent)
    principal = client.get_principal()
    state["principal"] = principal  # later steps can run even if a check below fails
    eq(path_of(principal.url), f"/dav/principals/{USER}/", "principal URL (current-user-principal)")
    check(sent[mark][0] == "PROPFIND" and path_of(sent[mark][1]) == path_of(BASE),
          f"discovery did not start with PROPFIND on the base URL: {sent[mark][:2]}")
    home = principal.calendar_home_set
    eq(path_of(home.url), f"/dav/calendars/{USER}/", "calendar-home-set")
    cals = calendar_paths(principal)
    default = f"/dav/calendars/{USER}/default/"
    check(default in cals, f"{default} not among the listed calendars {sorted(cals)}")
    eq(cals[default].get_display_name(), "Calendar", "display name of the default calendar")
    return f"principal {path_of(principal.url)}, {len(cals)} calendar(s)"


def s2_make_calendar():
    (principal,) = need("principal")
    cal = principal.make_calendar(name=CAL_NAME, cal_id=CAL_ID,
                                  supported_calendar_component_set=["VEVENT", "VTODO"])
    state["cal"] = cal
    state["members"] = {}  # server path -> UID of what this run stored
    want = f"/dav/calendars/{USER}/{CAL_ID}/"
    eq(path_of(cal.url), want, "URL of the new calendar")
    cals = calendar_paths(principal)
    check(want in cals, f"new calendar not listed: {sorted(cals)}")
    eq(cals[want].get_display_name(), CAL_NAME, "display name of the new calendar (listing)")
    eq(sorted(str(c) for c in cals[want].get_supported_components(with_fallback=False)),
       ["VEVENT", "VTODO"], "supported-calendar-component-set")
    return want


def add(cal, data, name):
    """add_event/add_todo (the library's PUT), and remember the member."""
    mark = len(sent)
    comp = "VTODO" if "BEGIN:VTODO" in data else "VEVENT"
    obj = (cal.add_todo if comp == "VTODO" else cal.add_event)(data, increase_seqno=False)
    puts = [r for r in sent_since(mark) if r[0] == "PUT"]
    eq(len(puts), 1, f"PUTs sent for {name}")
    state["members"][path_of(obj.url)] = obj.id
    return obj


def s3a_recurring_put():
    (cal,) = need("cal")
    uid = new_uid("weekly")
    master = vevent(uid, "", "", "Weekly sync",
                    "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4",
                    "EXDATE;TZID=Europe/Berlin:20250324T100000",
                    "SEQUENCE:0")
    master[3] = "DTSTART;TZID=Europe/Berlin:20250317T100000"
    master[4] = "DTEND;TZID=Europe/Berlin:20250317T110000"
    override = vevent(uid, "", "", "Weekly sync (moved to the afternoon)",
                      "RECURRENCE-ID;TZID=Europe/Berlin:20250331T100000",
                      "SEQUENCE:1")
    override[3] = "DTSTART;TZID=Europe/Berlin:20250331T140000"
    override[4] = "DTEND;TZID=Europe/Berlin:20250331T150000"
    ev = add(cal, ics(master, override, tz=True), "the recurring event")
    # what the server stores must be what was sent: master + override + VTIMEZONE
    etag, body = get_etag(ev.url)
    check(etag, "GET of the stored event has no ETag")
    stored = icalendar.Calendar.from_ical(body)
    eq(sorted(c.name for c in stored.subcomponents), ["VEVENT", "VEVENT", "VTIMEZONE"],
       "components stored")
    state["weekly"] = ev
    state["weekly_uid"] = uid
    return path_of(ev.url)


def s3b_expand():
    cal, uid = need("cal", "weekly_uid")
    found, reqs = server_search(cal, event=True, start=utc(2025, 3, 1), end=utc(2025, 5, 1),
                                expand=False, server_expand=True, split_expanded=True)
    one_report(reqs, "the expanded search")
    check(re.search(rb"<[A-Za-z0-9]*:?expand ", reqs[0][3]), "the REPORT did not ask for <C:expand>")
    got = []
    for o in found:
        inst = o.icalendar_instance
        eq([c.name for c in inst.subcomponents if c.name == "VTIMEZONE"], [],
           "VTIMEZONE in an expanded answer (RFC 4791 9.6.5: no VTIMEZONE)")
        c = o.icalendar_component
        eq(str(c["UID"]), uid, "UID of an instance")
        for p in ("RRULE", "RDATE", "EXDATE", "EXRULE"):
            check(p not in c, f"expanded instance still has {p} (RFC 4791 9.6.5)")
        check("RECURRENCE-ID" in c, f"expanded instance without RECURRENCE-ID: {c.to_ical()!r}")
        start = as_utc(c["DTSTART"].dt)
        end = as_utc(c["DTEND"].dt) if "DTEND" in c else start + c["DURATION"].dt
        got.append((start, end,
                    as_utc(c["RECURRENCE-ID"].dt), str(c["SUMMARY"])))
    got.sort()
    want = [
        (utc(2025, 3, 17, 9), utc(2025, 3, 17, 10), utc(2025, 3, 17, 9), "Weekly sync"),
        (utc(2025, 3, 31, 12), utc(2025, 3, 31, 13), utc(2025, 3, 31, 8),
         "Weekly sync (moved to the afternoon)"),
        (utc(2025, 4, 7, 8), utc(2025, 4, 7, 9), utc(2025, 4, 7, 8), "Weekly sync"),
    ]
    eq(got, want, "expanded instances (DTSTART, DTEND, RECURRENCE-ID in UTC, SUMMARY)")
    return "3 instances: 03-17T09:00Z, 03-31T12:00Z (override), 04-07T08:00Z"


def s3c_excluded_day():
    (cal,) = need("cal")
    found, reqs = server_search(cal, event=True, start=utc(2025, 3, 24), end=utc(2025, 3, 25))
    one_report(reqs, "the search")
    eq([path_of(o.url) for o in found], [], "objects matching 2025-03-24..25 (only the EXDATE'd instance)")


def s3d_later_day():
    cal, ev = need("cal", "weekly")
    found, reqs = server_search(cal, event=True, start=utc(2025, 4, 7), end=utc(2025, 4, 8))
    one_report(reqs, "the search")
    eq([path_of(o.url) for o in found], [path_of(ev.url)], "objects matching 2025-04-07..08")
    comps = sorted(c.name + ("/override" if "RECURRENCE-ID" in c else "")
                   for c in found[0].icalendar_instance.subcomponents)
    eq(comps, ["VEVENT", "VEVENT/override", "VTIMEZONE"],
       "components of the returned (unexpanded) object")


def s4a_allday_put():
    (cal,) = need("cal")
    uid = new_uid("allday")
    ev = add(cal, ics(["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20250301T120000Z",
                       "DTSTART;VALUE=DATE:20250501", "DTEND;VALUE=DATE:20250502",
                       "SUMMARY:Public holiday", "TRANSP:TRANSPARENT", "END:VEVENT"]),
             "the all-day event")
    state["allday"] = ev
    return path_of(ev.url)


def s4b_allday_hit():
    cal, ev = need("cal", "allday")
    found, reqs = server_search(cal, event=True, start=utc(2025, 5, 1, 10), end=utc(2025, 5, 1, 11))
    one_report(reqs, "the search")
    eq([path_of(o.url) for o in found], [path_of(ev.url)], "objects matching 2025-05-01T10:00Z..11:00Z")


def s4c_allday_miss():
    cal, _ = need("cal", "allday")
    found, reqs = server_search(cal, event=True, start=utc(2025, 5, 2), end=utc(2025, 5, 3))
    one_report(reqs, "the search")
    eq([path_of(o.url) for o in found], [], "objects matching 2025-05-02T00:00Z..05-03T00:00Z")


def s5a_todos_put():
    (cal,) = need("cal")
    due_uid, free_uid = new_uid("todo-due"), new_uid("todo-undated")
    due = add(cal, ics(["BEGIN:VTODO", f"UID:{due_uid}", "DTSTAMP:20250601T080000Z",
                        "DUE:20250610T120000Z", "SUMMARY:File the report", "END:VTODO"]),
              "the dated task")
    # no DTSTART, DUE, COMPLETED or CREATED: matches every time range (RFC 4791 9.9)
    free = add(cal, ics(["BEGIN:VTODO", f"UID:{free_uid}", "DTSTAMP:20250601T080000Z",
                         "SUMMARY:Water the plants", "END:VTODO"]),
               "the undated task")
    state["todo_due"], state["todo_free"] = due, free
    return f"{path_of(due.url)}, {path_of(free.url)}"


def todo_paths(objs):
    return sorted(path_of(o.url) for o in objs)


def s5b_todo_search():
    cal, due, free = need("cal", "todo_due", "todo_free")
    want = sorted([path_of(due.url), path_of(free.url)])
    found, reqs = server_search(cal, todo=True, include_completed=True)
    one_report(reqs, "search(todo=True)")
    eq(todo_paths(found), want, "search(todo=True): all tasks")
    check(all(isinstance(o, caldav.Todo) for o in found), "search(todo=True) returned non-Todo objects")
    eq(todo_paths(cal.todos()), want, "todos() (pending tasks, the library's default query)")


def s5c_todo_timerange():
    cal, due, free = need("cal", "todo_due", "todo_free")
    found, reqs = server_search(cal, todo=True, include_completed=True,
                                start=utc(2025, 6, 10), end=utc(2025, 6, 11))
    one_report(reqs, "the search")
    eq(todo_paths(found), sorted([path_of(due.url), path_of(free.url)]),
       "tasks matching 2025-06-10..11 (dated: start < DUE <= end; undated: always, RFC 4791 9.9)")
    found, reqs = server_search(cal, todo=True, include_completed=True,
                                start=utc(2025, 7, 1), end=utc(2025, 7, 2))
    one_report(reqs, "the search")
    eq(todo_paths(found), [path_of(free.url)],
       "tasks matching 2025-07-01..02 (only the undated one, RFC 4791 9.9)")


def s5d_complete():
    cal, due, free = need("cal", "todo_due", "todo_free")
    todo = caldav.Todo(client, url=due.url, parent=cal)
    todo.load()
    etag = todo.etag
    check(etag, "GET of the task gave no ETag")
    mark = len(sent)
    todo.complete(completion_timestamp=utc(2025, 6, 9, 16))
    puts = [r for r in sent_since(mark) if r[0] == "PUT"]
    eq(len(puts), 1, "PUTs sent by complete()")
    eq(puts[0][2].get("if-match"), etag, "If-Match sent by complete()")
    new_etag, body = get_etag(due.url)
    check(new_etag and new_etag != etag, f"ETag did not change on completion ({etag} -> {new_etag})")
    c = icalendar.Calendar.from_ical(body).walk("VTODO")[0]
    eq(str(c.get("STATUS")), "COMPLETED", "STATUS after completion")
    eq(c["COMPLETED"].dt, utc(2025, 6, 9, 16), "COMPLETED after completion")
    # pending tasks, decided by the server: the library's three pending-task
    # queries (is-not-defined COMPLETED / STATUS, negated text-match on
    # STATUS, STATUS=NEEDS-ACTION), with no client-side filtering
    mark = len(sent)
    pending = cal.search(todo=True, include_completed=False, post_filter=False)
    reqs = sent_since(mark)
    eq(methods(reqs), ["REPORT"] * 3, "requests sent for the pending-task search")
    check(any(b"is-not-defined" in r[3] for r in reqs) and any(b'negate-condition="yes"' in r[3] for r in reqs),
          "the pending-task REPORTs did not use is-not-defined / a negated text-match")
    eq(todo_paths(pending), [path_of(free.url)], "pending tasks (server-side filters) after completion")
    found, _ = server_search(cal, todo=True, include_completed=True)
    eq(todo_paths(found), sorted([path_of(due.url), path_of(free.url)]), "all tasks after completion")


def s6a_etag_update():
    (cal,) = need("cal")
    uid = new_uid("etag")
    add(cal, ics(vevent(uid, "20250804T090000Z", "20250804T100000Z", "Original title")),
        "the ETag test event")
    ev = cal.get_event_by_uid(uid)  # a fresh copy, as another client would load it
    url = ev.url
    ev.load()
    old = ev.etag
    check(old and not old.startswith("W/"), f"no strong ETag after GET: {old!r}")
    ev.icalendar_component["SUMMARY"] = "Changed title"
    mark = len(sent)
    ev.save(increase_seqno=False)
    puts = [r for r in sent_since(mark) if r[0] == "PUT"]
    eq(len(puts), 1, "PUTs sent by save()")
    eq(puts[0][2].get("if-match"), old, "If-Match sent by save()")
    new, body = get_etag(url)
    check(new and new != old, f"ETag after the update: {old} -> {new}")
    if ev.etag is not None:  # the PUT's own ETag, if it sent one, must be the new one
        eq(ev.etag, new, "ETag of the PUT response vs GET")
    eq(str(icalendar.Calendar.from_ical(body).walk("VEVENT")[0]["SUMMARY"]), "Changed title",
       "SUMMARY after the update")
    state["etag_ev"], state["etag_old"], state["etag_new"] = ev, old, new
    return f"{old} -> {new}"


def s6b_stale_if_match():
    ev, old, new = need("etag_ev", "etag_old", "etag_new")
    uid = ev.id
    stale = ics(vevent(uid, "20250804T090000Z", "20250804T100000Z", "Lost update"))
    r = http("PUT", str(ev.url), stale, {"If-Match": old})
    eq(r.status_code, 412, "PUT with the old ETag in If-Match")
    etag, body = get_etag(str(ev.url))
    eq(str(icalendar.Calendar.from_ical(body).walk("VEVENT")[0]["SUMMARY"]), "Changed title",
       "SUMMARY after the refused PUT (no silent overwrite)")
    eq(etag, new, "ETag after the refused PUT")
    # the same through the library: a copy holding the old ETag
    stale_obj = caldav.Event(client, url=ev.url, data=stale, parent=ev.parent)
    stale_obj.props[dav.GetEtag.tag] = old
    try:
        stale_obj.save(increase_seqno=False)
        raise StepFailed("library save() with a stale ETag succeeded")
    except error.ETagMismatchError:
        pass
    eq(get_etag(str(ev.url))[0], new, "ETag after the library's refused save()")


def s6c_if_none_match():
    ev, _, new = need("etag_ev", "etag_old", "etag_new")
    r = http("PUT", str(ev.url),
             ics(vevent(ev.id, "20250804T090000Z", "20250804T100000Z", "Overwrite")),
             {"If-None-Match": "*"})
    eq(r.status_code, 412, "PUT with If-None-Match: * on an existing URL")
    eq(get_etag(str(ev.url))[0], new, "ETag after the refused PUT")


def s7a_initial_sync():
    (cal,) = need("cal")
    snap = cal.get_objects_by_sync_token(disable_fallback=True)
    check(snap.sync_token, f"no sync token: {snap.sync_token!r}")
    eq(sorted(path_of(o.url) for o in snap), sorted(state["members"]),
       "members listed by the initial sync-collection")
    eq(snap.deleted_urls, set(), "deleted members in the initial sync")
    state["token0"] = snap.sync_token
    return f"token {snap.sync_token}"


def s7b_delta():
    cal, token0, allday, etag_ev = need("cal", "token0", "allday", "etag_ev")
    uid = new_uid("sync-new")
    added = add(cal, ics(vevent(uid, "20250901T090000Z", "20250901T100000Z", "Added after token")),
                "the new event")
    state["sync_added"] = added
    chg = cal.event_by_url(allday.url)
    chg.load()
    chg.icalendar_component["SUMMARY"] = "Public holiday (changed)"
    chg.save(increase_seqno=False)
    etag_ev.delete()
    del state["members"][path_of(etag_ev.url)]
    r = http("GET", str(etag_ev.url))
    eq(r.status_code, 404, "GET of the deleted event")
    delta = cal.get_objects_by_sync_token(sync_token=token0, disable_fallback=True)
    check(delta.sync_token and delta.sync_token != token0,
          f"sync token after changes: {token0!r} -> {delta.sync_token!r}")
    want_changed = {path_of(added.url), path_of(allday.url)}
    want_deleted = {path_of(etag_ev.url)}
    eq(sorted(path_of(o.url) for o in delta), sorted(want_changed | want_deleted),
       "hrefs reported by the delta sync")
    eq({path_of(u) for u in delta.deleted_urls}, want_deleted, "hrefs reported as deleted (404)")
    for o in delta:
        p = path_of(o.url)
        if p in want_changed:
            eq(o.etag, get_etag(str(o.url))[0], f"ETag reported for {p}")
    state["token1"] = delta.sync_token


def s7c_no_changes():
    cal, token1 = need("cal", "token1")
    delta = cal.get_objects_by_sync_token(sync_token=token1, disable_fallback=True)
    eq(sorted(path_of(o.url) for o in delta), [], "hrefs reported since the newest token")
    eq(delta.deleted_urls, set(), "deleted hrefs since the newest token")
    check(delta.sync_token, "no sync token in the answer")


def freebusy_periods(cal):
    """free-busy-query REPORT over 2025-03-17..18 -> sorted [(FBTYPE, start, end)].

    The FREEBUSY lines are read from the text as the server sent it (both
    start/end and start/duration periods, one or several per line)."""
    fb = cal.freebusy_request(utc(2025, 3, 17), utc(2025, 3, 18))
    text = fb.data if isinstance(fb.data, str) else fb.data.decode()
    lines = re.sub(r"\r?\n[ \t]", "", text).splitlines()
    eq(sum(1 for ln in lines if ln.strip() == "BEGIN:VFREEBUSY"), 1, "VFREEBUSY components in the answer")
    vfb = icalendar.Calendar.from_ical(text).walk("VFREEBUSY")[0]
    eq(as_utc(vfb["DTSTART"].dt), utc(2025, 3, 17), "VFREEBUSY DTSTART")
    eq(as_utc(vfb["DTEND"].dt), utc(2025, 3, 18), "VFREEBUSY DTEND")
    out = []
    for ln in lines:
        m = re.match(r"FREEBUSY([;:])", ln, re.I)
        if not m:
            continue
        head, value = ln.split(":", 1)
        params = dict(p.split("=", 1) for p in head.split(";")[1:])
        fbtype = params.get("FBTYPE", "BUSY").upper()  # BUSY is the default (RFC 5545 3.2.9)
        for per in value.split(","):
            start_s, end_s = per.strip().split("/")
            start = as_utc(icalendar.vDDDTypes.from_ical(start_s))
            if end_s.lstrip("+").startswith("P"):
                end = start + icalendar.vDuration.from_ical(end_s)
            else:
                end = as_utc(icalendar.vDDDTypes.from_ical(end_s))
            out.append((fbtype, start, end))
    return sorted(out, key=lambda t: (t[1], t[0])), text


def s8a_freebusy():
    cal, _ = need("cal", "weekly")
    got, _data = freebusy_periods(cal)
    eq(got, [("BUSY", utc(2025, 3, 17, 9), utc(2025, 3, 17, 10))],
       "FREEBUSY periods (the 2025-03-17 instance, 20250317T090000Z/20250317T100000Z)")


def s8b_transparent():
    (cal,) = need("cal")
    add(cal, ics(vevent(new_uid("transp"), "20250317T120000Z", "20250317T130000Z",
                        "Transparent reminder", "TRANSP:TRANSPARENT")), "the transparent event")
    got, _ = freebusy_periods(cal)
    eq(got, [("BUSY", utc(2025, 3, 17, 9), utc(2025, 3, 17, 10))],
       "FREEBUSY periods with a TRANSPARENT event 12:00Z-13:00Z added")


def s8c_tentative():
    (cal,) = need("cal")
    add(cal, ics(vevent(new_uid("tentative"), "20250317T140000Z", "20250317T150000Z",
                        "Maybe", "STATUS:TENTATIVE")), "the tentative event")
    got, _ = freebusy_periods(cal)
    eq(got, [("BUSY", utc(2025, 3, 17, 9), utc(2025, 3, 17, 10)),
             ("BUSY-TENTATIVE", utc(2025, 3, 17, 14), utc(2025, 3, 17, 15))],
       "FREEBUSY periods with a STATUS:TENTATIVE event 14:00Z-15:00Z added")


CALDAV_NS = "{urn:ietf:params:xml:ns:caldav}"


def standard(tags):
    """DAV:error children in the DAV: / CalDAV namespaces (vendor extras are allowed)."""
    return [t for t in tags if t.startswith(("{DAV:}", CALDAV_NS))]


def refused_put(cal, name, data, precondition):
    """PUT that must get 403 with the CALDAV precondition (RFC 4791 5.3.2.1)."""
    url = urljoin(str(cal.url), f"refused-{uuid.uuid4().hex[:8]}.ics")
    r = http("PUT", url, data)
    eq(r.status_code, 403, f"PUT of {name}")
    eq(standard(error.parse_preconditions(r.content)), [CALDAV_NS + precondition],
       f"DAV:error preconditions of the 403 for {name}")
    eq(http("GET", url).status_code, 404, f"GET after the refused PUT of {name}")


def sA_invalid():
    (cal,) = need("cal")
    before = cal.get_objects_by_sync_token(disable_fallback=True)
    refused_put(cal, "a VEVENT without DTSTART", ics(
        ["BEGIN:VEVENT", f"UID:{new_uid('nostart')}", "DTSTAMP:20250301T120000Z",
         "SUMMARY:No start", "END:VEVENT"]), "valid-calendar-data")
    refused_put(cal, "two VEVENTs with different UIDs", ics(
        vevent(new_uid("a"), "20251001T090000Z", "20251001T100000Z", "A"),
        vevent(new_uid("b"), "20251002T090000Z", "20251002T100000Z", "B")),
        "valid-calendar-object-resource")
    # the library reports the refusal as an error with the status and precondition
    try:
        cal.add_event(ics(["BEGIN:VEVENT", f"UID:{new_uid('nostart2')}", "DTSTAMP:20250301T120000Z",
                           "SUMMARY:No start", "END:VEVENT"]), increase_seqno=False)
        raise StepFailed("library add_event() of a VEVENT without DTSTART succeeded")
    except error.AuthorizationError as e:
        eq(e.status, 403, "status of the library's AuthorizationError")
        eq(standard(e.preconditions), [CALDAV_NS + "valid-calendar-data"],
           "preconditions of the library's error")
    # nothing was stored: a sync from the token taken before reports nothing
    delta = cal.get_objects_by_sync_token(sync_token=before.sync_token, disable_fallback=True)
    eq(sorted(path_of(o.url) for o in delta), [], "hrefs reported by sync after the refused PUTs")
    eq(sorted(path_of(o.url) for o in before), sorted(state["members"]), "members of the calendar")


def s9a_delete_event():
    cal, added = need("cal", "sync_added")
    url = str(added.url)
    added.delete()
    state["members"].pop(path_of(url), None)
    eq(http("GET", url).status_code, 404, "GET after DELETE")
    gone = caldav.Event(client, url=url, parent=cal)
    try:
        gone.load(multiget_fallback=False)
        raise StepFailed("library load() of the deleted event succeeded")
    except error.NotFoundError:
        pass


def s9b_delete_calendar():
    cal, principal = need("cal", "principal")
    url = str(cal.url)
    cal.delete()
    cals = calendar_paths(principal)
    check(path_of(url) not in cals, f"deleted calendar still listed: {sorted(cals)}")
    r = http("PROPFIND", url, "", {"Depth": "0"})
    eq(r.status_code, 404, "PROPFIND on the deleted calendar")
    state["cal_deleted"] = True


STEPS = [
    ("1 discovery from the base URL: principal, calendar-home-set, default calendar 'Calendar'", s1_discovery),
    ("2 MKCALENDAR with display name and VEVENT+VTODO, listed", s2_make_calendar),
    ("3a PUT weekly Europe/Berlin event with EXDATE and override", s3a_recurring_put),
    ("3b server expand 2025-03-01..05-01: exactly 3 UTC instances", s3b_expand),
    ("3c no match on the EXDATE'd day 2025-03-24", s3c_excluded_day),
    ("3d match on 2025-04-07 (unexpanded master + override)", s3d_later_day),
    ("4a PUT all-day event 2025-05-01", s4a_allday_put),
    ("4b all-day event matches 2025-05-01T10:00Z..11:00Z", s4b_allday_hit),
    ("4c all-day event does not match 2025-05-02..05-03", s4c_allday_miss),
    ("5a PUT a dated and an undated VTODO", s5a_todos_put),
    ("5b search(todo=True) and todos() find both", s5b_todo_search),
    ("5c todo time-range search (RFC 4791 9.9)", s5c_todo_timerange),
    ("5d complete a task (If-Match, STATUS:COMPLETED), pending filter", s5d_complete),
    ("6a update with If-Match gives a new ETag", s6a_etag_update),
    ("6b PUT with the old ETag -> 412, no overwrite", s6b_stale_if_match),
    ("6c PUT with If-None-Match: * on an existing URL -> 412", s6c_if_none_match),
    ("7a initial sync-collection lists all members", s7a_initial_sync),
    ("7b delta sync after add + change + delete", s7b_delta),
    ("7c sync from the newest token reports nothing", s7c_no_changes),
    ("8a free-busy: BUSY 20250317T090000Z/20250317T100000Z", s8a_freebusy),
    ("8b free-busy: TRANSPARENT event adds no period", s8b_transparent),
    ("8c free-busy: STATUS:TENTATIVE -> BUSY-TENTATIVE", s8c_tentative),
    ("A invalid objects refused with 403 and not stored", sA_invalid),
    ("9a DELETE event, then GET -> 404", s9a_delete_event),
    ("9b DELETE calendar, no longer listed", s9b_delete_calendar),
]

try:
    for name, fn in STEPS:
        step(name, fn)
finally:
    cal = state.get("cal")
    if cal is not None and not state.get("cal_deleted"):
        try:
            r = http("DELETE", str(cal.url))
            print(f"cleanup: DELETE {path_of(cal.url)} -> {r.status_code}", file=sys.stderr)
        except Exception as e:  # noqa: BLE001
            print(f"cleanup: DELETE {path_of(cal.url)} failed: {e}", file=sys.stderr)

print(f"caldav: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
