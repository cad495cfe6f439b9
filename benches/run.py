#!/usr/bin/env python3
"""Skjold benchmarks (run with scripts/bench; not part of the test suite).

Measures, with a release build on this machine:
  migrate   legacy contacts (LWAB SQLite) into address books: wall time and
            peak memory for two input sizes with the same owner size, so that
            the memory figure shows whether it grows with the input; then a
            second, idempotent run.
  search    addressbook-query "contains" over one large address book
            (search-as-you-type), through HTTP.
  calendar  a one-month calendar-query over a large calendar, and a
            sync-collection after a few changes.

Only the Python standard library is used. Results are printed and written
to target/bench/results.json.
"""

import argparse
import base64
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, stdin=None, measure=False):
    """Runs a command; with measure, returns (seconds, peak RSS in MiB)."""
    if measure:
        cmd = ["/usr/bin/time", "-v"] + cmd
    started = time.monotonic()
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if p.returncode != 0:
        sys.exit(f"command failed: {' '.join(cmd)}\n{p.stdout}\n{p.stderr}")
    if not measure:
        return p.stdout
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return elapsed, int(rss.group(1)) / 1024 if rss else None, p.stdout


FIRST = ["Ola", "Kari", "Jürgen", "Zoë", "Anna", "Lars", "Émile", "Søren", "Maria", "Chen", "Olu", "Åsa"]
LAST = ["Nordmann", "Müller", "Łukasiewicz", "Smith", "García", "Østby", "Dubois", "Kowalski", "Nakamura", "Okafor"]


def make_lwab(path, owners, per_owner, seed=7):
    """A synthetic LWAB v1 database: `owners` owners with `per_owner` contacts each."""
    rnd = random.Random(seed)
    if os.path.exists(path):
        os.remove(path)
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE ab_meta (key TEXT PRIMARY KEY, value TEXT);
        CREATE TABLE ab_contact (id INTEGER PRIMARY KEY, owner_uid INTEGER NOT NULL, nick TEXT, first_name TEXT,
          last_name TEXT, company TEXT, department TEXT, job_title TEXT, birthday TEXT, note TEXT, show_as TEXT,
          photo BLOB, photo_type TEXT, created INTEGER, modified INTEGER, deleted INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE ab_email (contact_id INTEGER NOT NULL, pos INTEGER NOT NULL, type TEXT, email TEXT, PRIMARY KEY (contact_id, pos));
        CREATE TABLE ab_phone (contact_id INTEGER NOT NULL, pos INTEGER NOT NULL, type TEXT, number TEXT, PRIMARY KEY (contact_id, pos));
        CREATE TABLE ab_address (contact_id INTEGER NOT NULL, pos INTEGER NOT NULL, type TEXT, po_box TEXT, extended TEXT,
          street TEXT, city TEXT, region TEXT, post_code TEXT, country TEXT, PRIMARY KEY (contact_id, pos));
        CREATE TABLE ab_url (contact_id INTEGER NOT NULL, pos INTEGER NOT NULL, type TEXT, url TEXT, PRIMARY KEY (contact_id, pos));
        CREATE TABLE ab_group (id INTEGER PRIMARY KEY, owner_uid INTEGER NOT NULL, name TEXT, deleted INTEGER NOT NULL DEFAULT 0,
          created INTEGER, modified INTEGER);
        CREATE TABLE ab_group_member (group_id INTEGER NOT NULL, contact_id INTEGER NOT NULL);
        CREATE INDEX ab_contact_owner ON ab_contact (owner_uid, deleted);
        CREATE INDEX ab_member_contact ON ab_group_member (contact_id);
        INSERT INTO ab_meta VALUES ('schema_version', '1');
        """
    )
    cid = 0
    gid = 0
    for o in range(owners):
        owner = 10000 + o
        groups = []
        for g in range(5):
            gid += 1
            groups.append(gid)
            db.execute("INSERT INTO ab_group VALUES (?,?,?,0,1104537660,1104537720)", (gid, owner, f"Group {g}"))
        for _ in range(per_owner):
            cid += 1
            first, last = rnd.choice(FIRST), rnd.choice(LAST)
            raw_first = first.encode("cp1252", "replace") if rnd.random() < 0.2 else first.encode()
            note = f"Met at conference {rnd.randint(1, 99)}; call back." if cid % 5 == 0 else None
            bday = f"19{rnd.randint(40, 99)}-{rnd.randint(1, 12):02}-{rnd.randint(1, 28):02}" if cid % 3 == 0 else None
            db.execute(
                "INSERT INTO ab_contact VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (cid, owner, None, raw_first, last, "Example AS" if cid % 4 == 0 else None, None, None, bday, note,
                 None, None, None, 1104541200, 1104544800, 1 if cid % 97 == 0 else 0),
            )
            db.execute("INSERT INTO ab_email VALUES (?,0,'home',?)", (cid, f"{first.lower()}.{last.lower()}{cid}@example.com"))
            if cid % 2 == 0:
                db.execute("INSERT INTO ab_email VALUES (?,1,'work',?)", (cid, f"c{cid}@work.example.org"))
            db.execute("INSERT INTO ab_phone VALUES (?,0,'cell',?)", (cid, f"+47 {rnd.randint(10000000, 99999999)}"))
            if cid % 3 == 0:
                db.execute("INSERT INTO ab_address VALUES (?,0,'home','', '', ?, 'Oslo', '', '0155', 'Norway')", (cid, f"Storgata {cid % 200}"))
            db.execute("INSERT INTO ab_group_member VALUES (?,?)", (rnd.choice(groups), cid))
    db.commit()
    db.close()


def sql_literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, bytes):
        return "0x" + v.hex() if v else "''"
    s = v.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    return "'" + s + "'"


def make_mysql_dump(db_path, dump_path, rows_per_insert=200):
    """The same data as a mysqldump-style file (extended inserts)."""
    db = sqlite3.connect(db_path)
    with open(dump_path, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write("-- MySQL dump (synthetic)\nSET NAMES latin1;\n")
        for table in ["ab_meta", "ab_contact", "ab_email", "ab_phone", "ab_address", "ab_url", "ab_group",
                      "ab_group_member"]:
            batch = []
            for row in db.execute(f"SELECT * FROM {table}"):
                values = []
                for v in row:
                    if isinstance(v, bytes):
                        try:
                            v = v.decode("utf-8")
                        except UnicodeDecodeError:
                            pass
                    values.append(sql_literal(v))
                batch.append("(" + ",".join(values) + ")")
                if len(batch) == rows_per_insert:
                    f.write(f"INSERT INTO `{table}` VALUES " + ",".join(batch) + ";\n")
                    batch = []
            if batch:
                f.write(f"INSERT INTO `{table}` VALUES " + ",".join(batch) + ";\n")
    db.close()


def skjold(binary, data, *args, stdin=None, measure=False):
    return run([binary, "--data-dir", data, *args], stdin=stdin, measure=measure)


def add_users(binary, data, names):
    for name in names:
        skjold(binary, data, "user", "add", name, "--password-stdin", stdin="bench-password\n")


def bench_migrate(binary, work, per_owner, sizes):
    results = []
    for owners in sizes:
        db = os.path.join(work, f"lwab-{owners}.sqlite")
        make_lwab(db, owners, per_owner)
        data = os.path.join(work, f"data-migrate-{owners}")
        shutil.rmtree(data, ignore_errors=True)
        users = [f"user{o:04}" for o in range(owners)]
        add_users(binary, data, users)
        owner_map = os.path.join(work, f"owners-{owners}.csv")
        with open(owner_map, "w") as f:
            f.write("legacy_owner,username\n")
            for o in range(owners):
                f.write(f"{10000 + o},user{o:04}\n")
        contacts = owners * per_owner
        seconds, rss, out = skjold(binary, data, "migrate-contacts", "--source", f"lwab-sqlite:{db}",
                                   "--owner-map", owner_map, measure=True)
        again, rss2, out2 = skjold(binary, data, "migrate-contacts", "--source", f"lwab-sqlite:{db}",
                                   "--owner-map", owner_map, measure=True)
        unchanged = re.search(r"total: imported (\d+), updated (\d+), unchanged (\d+)", out2)
        results.append({
            "contacts": contacts,
            "owners": owners,
            "seconds": round(seconds, 1),
            "contacts_per_second": round(contacts / seconds),
            "peak_rss_mib": round(rss, 1) if rss else None,
            "second_run_seconds": round(again, 1),
            "second_run": unchanged.group(0) if unchanged else out2.strip().splitlines()[-1],
        })
        print(f"migrate {contacts} contacts ({owners} owners): {seconds:.1f} s, peak {rss:.0f} MiB; "
              f"second run {again:.1f} s ({results[-1]['second_run']})", flush=True)
    # The largest input again, as a MySQL dump: read statement by statement.
    owners = sizes[-1]
    db = os.path.join(work, f"lwab-{owners}.sqlite")
    dump = os.path.join(work, f"lwab-{owners}.mysql.sql")
    make_mysql_dump(db, dump)
    data = os.path.join(work, f"data-migrate-{owners}")
    owner_map = os.path.join(work, f"owners-{owners}.csv")
    seconds, rss, out = skjold(binary, data, "migrate-contacts", "--source", f"lwab-mysql:{dump}",
                               "--owner-map", owner_map, measure=True)
    total = re.search(r"total: imported (\d+), updated (\d+), unchanged (\d+)", out)
    results.append({
        "contacts": owners * per_owner,
        "owners": owners,
        "source": "lwab-mysql",
        "dump_mib": round(os.path.getsize(dump) / 2**20, 1),
        "seconds": round(seconds, 1),
        "peak_rss_mib": round(rss, 1) if rss else None,
        "result": total.group(0) if total else out.strip().splitlines()[-1],
    })
    print(f"migrate the same {owners * per_owner} contacts from a {results[-1]['dump_mib']} MiB MySQL dump into the "
          f"migrated books: {seconds:.1f} s, peak {rss:.0f} MiB ({results[-1]['result']})", flush=True)
    return results


class Server:
    def __init__(self, binary, data):
        self.proc = subprocess.Popen([binary, "--data-dir", data, "serve", "--listen", "127.0.0.1:0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env={**os.environ, "RUST_LOG": "warn"})
        for line in self.proc.stdout:
            m = re.match(r"Skjold is listening on (\S+)", line)
            if m:
                self.base = m.group(1).rstrip("/")
                break

    def request(self, method, path, body=None, headers=None, user="bench", password="bench-password"):
        req = urllib.request.Request(self.base + path, data=body.encode() if body else None, method=method)
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        started = time.monotonic()
        with urllib.request.urlopen(req) as r:
            data = r.read()
        return time.monotonic() - started, data

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def bench_search(binary, work, contacts):
    data = os.path.join(work, "data-search")
    shutil.rmtree(data, ignore_errors=True)
    add_users(binary, data, ["bench"])
    vcf = os.path.join(work, "search.vcf")
    rnd = random.Random(11)
    with open(vcf, "w") as f:
        for i in range(contacts):
            first, last = rnd.choice(FIRST), rnd.choice(LAST)
            f.write(f"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:c{i}\r\nFN:{first} {last} {i}\r\nN:{last};{first};;;\r\n"
                    f"EMAIL;TYPE=home:{first.lower()}.{i}@example.com\r\nTEL:+47 {rnd.randint(10000000, 99999999)}\r\nEND:VCARD\r\n")
    seconds, rss, _ = skjold(binary, data, "import", "--user", "bench", "--addressbook", "default", vcf, measure=True)
    print(f"import {contacts} vCards: {seconds:.1f} s, peak {rss:.0f} MiB", flush=True)
    server = Server(binary, data)
    try:
        results = {"contacts": contacts, "import_seconds": round(seconds, 1)}
        for label, needle in [("3+ letters (trigram index)", "müll"), ("1 letter (index rows)", "z"),
                              ("e-mail domain", "example.com")]:
            prop = "EMAIL" if "@" in needle or "." in needle else "FN"
            body = ('<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
                    '<D:prop><D:getetag/></D:prop><C:filter><C:prop-filter name="' + prop + '">'
                    '<C:text-match match-type="contains">' + needle + '</C:text-match></C:prop-filter></C:filter>'
                    '<C:limit><C:nresults>20</C:nresults></C:limit></C:addressbook-query>')
            times = []
            for _ in range(30):
                t, out = server.request("REPORT", "/dav/addressbooks/bench/default/", body,
                                        {"Depth": "1", "Content-Type": "application/xml"})
                times.append(t * 1000)
            hits = out.count(b"<D:response>")
            results[label] = {"median_ms": round(statistics.median(times), 1), "p95_ms": round(percentile(times, 95), 1),
                              "responses": hits}
            print(f"search {label} {needle!r}: median {statistics.median(times):.1f} ms, "
                  f"p95 {percentile(times, 95):.1f} ms ({hits} responses, limit 20)", flush=True)
        return results
    finally:
        server.stop()


def bench_calendar(binary, work, events):
    data = os.path.join(work, "data-calendar")
    shutil.rmtree(data, ignore_errors=True)
    add_users(binary, data, ["bench"])
    ics = os.path.join(work, "calendar.ics")
    rnd = random.Random(5)
    with open(ics, "w") as f:
        f.write("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n")
        for i in range(events):
            day = rnd.randint(0, 3650)
            start = time.gmtime(1577836800 + day * 86400 + rnd.randint(8, 17) * 3600)
            s = time.strftime("%Y%m%dT%H%M%SZ", start)
            e = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.mktime(start) - time.timezone + 3600))
            rule = "RRULE:FREQ=WEEKLY;COUNT=10\r\n" if i % 50 == 0 else ""
            f.write(f"BEGIN:VEVENT\r\nUID:e{i}\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:{s}\r\nDTEND:{e}\r\n{rule}"
                    f"SUMMARY:Event {i}\r\nEND:VEVENT\r\n")
        f.write("END:VCALENDAR\r\n")
    seconds, rss, _ = skjold(binary, data, "import", "--user", "bench", "--calendar", "default", ics, measure=True)
    print(f"import {events} events: {seconds:.1f} s, peak {rss:.0f} MiB", flush=True)
    server = Server(binary, data)
    try:
        body = ('<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/>'
                '</D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
                '<C:time-range start="20280601T000000Z" end="20280701T000000Z"/></C:comp-filter></C:comp-filter>'
                '</C:filter></C:calendar-query>')
        times = []
        for _ in range(20):
            t, out = server.request("REPORT", "/dav/calendars/bench/default/", body,
                                    {"Depth": "1", "Content-Type": "application/xml"})
            times.append(t * 1000)
        month_hits = out.count(b"<D:response>")
        print(f"calendar-query one month of {events}: median {statistics.median(times):.1f} ms, "
              f"p95 {percentile(times, 95):.1f} ms ({month_hits} events)", flush=True)
        sync = ('<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level>'
                '<D:prop><D:getetag/></D:prop></D:sync-collection>')
        _, out = server.request("REPORT", "/dav/calendars/bench/default/", sync, {"Depth": "0"})
        token = re.search(rb"<D:sync-token>([^<]+)</D:sync-token>", out).group(1).decode()
        for i in range(10):
            server.request("PUT", f"/dav/calendars/bench/default/new{i}.ics",
                           f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:new{i}\r\n"
                           f"DTSTAMP:20250101T000000Z\r\nDTSTART:20300101T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
                           {"Content-Type": "text/calendar"})
        delta = sync.replace("<D:sync-token/>", f"<D:sync-token>{token}</D:sync-token>")
        sync_times = []
        for _ in range(20):
            t, out = server.request("REPORT", "/dav/calendars/bench/default/", delta, {"Depth": "0"})
            sync_times.append(t * 1000)
        changes = out.count(b"<D:response>")
        print(f"sync-collection after 10 changes in {events}: median {statistics.median(sync_times):.1f} ms "
              f"({changes} changes reported)", flush=True)
        return {"events": events, "import_seconds": round(seconds, 1),
                "month_query_median_ms": round(statistics.median(times), 1), "month_query_events": month_hits,
                "sync_after_10_changes_median_ms": round(statistics.median(sync_times), 1), "sync_changes": changes}
    finally:
        server.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "skjold"))
    p.add_argument("--work", default=os.path.join(ROOT, "target", "bench"))
    p.add_argument("--contacts-per-owner", type=int, default=1000)
    p.add_argument("--owners", type=int, nargs="+", default=[20, 100], help="owner counts (input sizes) to migrate")
    p.add_argument("--search-contacts", type=int, default=50000)
    p.add_argument("--events", type=int, default=100000)
    p.add_argument("--only", choices=["migrate", "search", "calendar"])
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    results = {}
    if args.only in (None, "migrate"):
        results["migrate"] = bench_migrate(args.binary, args.work, args.contacts_per_owner, args.owners)
    if args.only in (None, "search"):
        results["search"] = bench_search(args.binary, args.work, args.search_contacts)
    if args.only in (None, "calendar"):
        results["calendar"] = bench_calendar(args.binary, args.work, args.events)
    out = os.path.join(args.work, "results.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
    print(f"results: {out}")


if __name__ == "__main__":
    main()
