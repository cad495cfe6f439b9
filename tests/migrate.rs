//! `skjold migrate-contacts` end to end: the real binary migrates the
//! legacy address book (`fixtures/legacy/`, see its README.md and
//! manifest.json) and the generic exports into users' address books, and
//! the result is read back over CardDAV and compared with the legacy data,
//! which these tests read on their own (rusqlite on the raw bytes, and a
//! decoder of their own) rather than through the migration's code.
//!
//! The tests: nothing of the fixture is lost (3.0 and 4.0), the tagged
//! nasty records, the three LWAB exports agree, re-runs (unchanged, changed
//! in the source, edited by the user, partial and failed runs), the dry run,
//! the owner map, the trash, the generic formats, a migration while a client
//! syncs, and the command's errors.

mod common;
use common::*;

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use base64::Engine;
use rusqlite::types::ValueRef;
use serde_json::Value;

const PW: &str = "pw";
const LEGACY_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/legacy");
/// Legacy owners and the users they are mapped to.
const OWNERS: [(i64, &str); 3] = [(1001, "alice"), (1002, "bob"), (1003, "carol")];

macro_rules! check {
    ($problems:expr, $cond:expr, $($arg:tt)+) => {
        if !$cond {
            $problems.push(format!($($arg)+));
        }
    };
}

fn assert_no_problems(what: &str, problems: &[String]) {
    assert!(problems.is_empty(), "{what}: {} problem(s):\n  {}", problems.len(), problems.join("\n  "));
}

// ====================================================================== sources

fn legacy_file(name: &str) -> String {
    format!("{LEGACY_DIR}/{name}")
}

fn sqlite_source() -> String {
    format!("lwab-sqlite:{}", legacy_file("lwab_v1.sqlite"))
}

fn mysql_source() -> String {
    format!("lwab-mysql:{}", legacy_file("lwab_v1.mysql.sql"))
}

fn csv_source() -> String {
    format!("lwab-csv:{}", legacy_file("lwab_v1_export.csv"))
}

fn book_path(user: &str, slug: &str) -> String {
    format!("/dav/addressbooks/{user}/{slug}/")
}

fn user_of(owner: i64) -> &'static str {
    OWNERS.iter().find(|(o, _)| *o == owner).map(|(_, u)| *u).expect("a mapped owner")
}

// ====================================================================== running the command

/// A server with users, and a scratch folder for owner maps and reports.
struct Env {
    server: Server,
    scratch: tempfile::TempDir,
    files: Cell<usize>,
}

/// One run of `skjold migrate-contacts`.
struct Run {
    success: bool,
    stdout: String,
    stderr: String,
    /// The JSON report, when the command wrote one.
    report: Option<Value>,
    report_path: PathBuf,
}

fn start(users: &[&str]) -> Env {
    let server = Server::start();
    for user in users {
        server.add_user(user, PW);
    }
    Env { server, scratch: tempfile::tempdir().expect("scratch dir"), files: Cell::new(0) }
}

impl Env {
    fn client(&self, user: &str) -> Client {
        self.server.client(user, PW)
    }

    /// A fresh path in the scratch folder.
    fn scratch_path(&self, name: &str) -> PathBuf {
        let n = self.files.get() + 1;
        self.files.set(n);
        self.scratch.path().join(format!("{n}-{name}"))
    }

    fn write(&self, name: &str, content: &str) -> String {
        let path = self.scratch_path(name);
        std::fs::write(&path, content).expect("write scratch file");
        path.to_string_lossy().into_owned()
    }

    /// An owner map file (with a header line).
    fn owner_map(&self, pairs: &[(i64, &str)]) -> String {
        let mut text = String::from("legacy_owner,username\n");
        for (owner, user) in pairs {
            text.push_str(&format!("{owner},{user}\n"));
        }
        self.write("owners.csv", &text)
    }

    /// A copy of the SQLite fixture that a test may change.
    fn sqlite_copy(&self) -> PathBuf {
        let path = self.scratch_path("lwab_v1.sqlite");
        std::fs::copy(legacy_file("lwab_v1.sqlite"), &path).expect("copy the fixture");
        path
    }

    /// `skjold migrate-contacts ARGS --report FILE` on the server's data folder.
    fn migrate(&self, args: &[&str]) -> Run {
        let report_path = self.scratch_path("report.json");
        let report_arg = report_path.to_string_lossy().into_owned();
        let mut all = vec!["migrate-contacts"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--report", &report_arg]);
        let out = self.server.cli(&all, None);
        let report = std::fs::read(&report_path).ok().map(|bytes| {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!("the report of {args:?} is not JSON ({e}): {}", String::from_utf8_lossy(&bytes))
            })
        });
        Run {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            report,
            report_path,
        }
    }

    /// A run that must succeed; its report.
    fn migrate_ok(&self, args: &[&str]) -> Value {
        let run = self.migrate(args);
        assert!(run.success, "migrate-contacts {args:?} failed:\n{}\n{}", run.stdout, run.stderr);
        run.report.unwrap_or_else(|| panic!("migrate-contacts {args:?} wrote no report"))
    }

    /// An LWAB migration with all three owners mapped, plus `extra` options.
    fn lwab(&self, source: &str, extra: &[&str]) -> Value {
        let map = self.owner_map(&OWNERS);
        let mut args = vec!["--source", source, "--owner-map", map.as_str()];
        args.extend_from_slice(extra);
        self.migrate_ok(&args)
    }
}

// ====================================================================== the report

/// The report entry of one legacy owner and address book.
fn entry<'a>(report: &'a Value, owner: &str, book: &str) -> &'a Value {
    report["owners"]
        .as_array()
        .expect("owners in the report")
        .iter()
        .find(|o| o["legacy_owner"] == owner && o["addressbook"] == book)
        .unwrap_or_else(|| panic!("no report entry for owner {owner} and address book {book}: {report:#}"))
}

fn num(o: &Value, field: &str) -> u64 {
    o[field].as_u64().unwrap_or_else(|| panic!("no number {field} in {o:#}"))
}

/// imported, updated, unchanged, kept_user_edits.
fn counts(o: &Value) -> (u64, u64, u64, u64) {
    (num(o, "imported"), num(o, "updated"), num(o, "unchanged"), num(o, "kept_user_edits"))
}

fn owners_in(report: &Value) -> Vec<(String, String)> {
    report["owners"]
        .as_array()
        .expect("owners")
        .iter()
        .map(|o| {
            (
                o["legacy_owner"].as_str().unwrap_or("?").to_owned(),
                o["addressbook"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect()
}

/// The warning messages of one item (`contact 12`, `group 3` …), joined.
fn warnings_of(o: &Value, item: &str) -> String {
    o["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter(|w| w["item"] == item)
        .map(|w| w["message"].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every warning as `item: message`.
fn all_warnings(o: &Value) -> Vec<String> {
    o["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|w| format!("{}: {}", w["item"].as_str().unwrap_or(""), w["message"].as_str().unwrap_or("")))
        .collect()
}

/// The skip counts whose reason contains `word`, summed.
fn skipped(o: &Value, word: &str) -> u64 {
    o["skipped"]
        .as_object()
        .expect("skipped")
        .iter()
        .filter(|(reason, _)| reason.contains(word))
        .map(|(_, n)| n.as_u64().unwrap_or(0))
        .sum()
}

// ====================================================================== a small vCard reader of our own

/// One content line: group, upper-cased name, parameters (upper-cased names,
/// unquoted values split at commas) and the value as written.
#[derive(Debug, Clone)]
struct Line {
    group: Option<String>,
    name: String,
    params: Vec<(String, Vec<String>)>,
    value: String,
}

impl Line {
    fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.first()).map(String::as_str)
    }

    /// TYPE values, lower-cased.
    fn types(&self) -> BTreeSet<String> {
        self.params
            .iter()
            .filter(|(n, _)| n == "TYPE")
            .flat_map(|(_, v)| v.iter())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect()
    }

    fn text(&self) -> String {
        unescape(&self.value)
    }

    /// The value split at unescaped `;`, each part unescaped.
    fn components(&self) -> Vec<String> {
        split_escaped(&self.value, ';').iter().map(|c| unescape(c)).collect()
    }

    /// The value split at unescaped `,`, each part unescaped.
    fn list(&self) -> Vec<String> {
        split_escaped(&self.value, ',').iter().map(|c| unescape(c)).collect()
    }
}

fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            out.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    out.push(&s[start..]);
    out
}

fn split_escaped(s: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            cur.push(c);
            if let Some(n) = chars.next() {
                cur.push(n);
            }
        } else if c == sep {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

/// vCard text escapes (`\n`, `\\`, `\,`, `\;`); other backslashes stay.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(e @ ('\\' | ',' | ';')) => out.push(e),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Unfolds at the octet level (a fold may split a UTF-8 sequence).
fn unfold(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\r'
            && bytes.get(i + 1) == Some(&b'\n')
            && matches!(bytes.get(i + 2), Some(b' ' | b'\t'))
        {
            i += 3;
        } else if bytes[i] == b'\n' && matches!(bytes.get(i + 1), Some(b' ' | b'\t')) {
            i += 2;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

fn parse_line(s: &str) -> Line {
    let mut quoted = false;
    let mut colon = None;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ':' if !quoted => {
                colon = Some(i);
                break;
            }
            _ => {}
        }
    }
    let colon = colon.unwrap_or_else(|| panic!("no ':' in the content line {s:?}"));
    let parts = split_unquoted(&s[..colon], ';');
    let (group, name) = match parts[0].rsplit_once('.') {
        Some((g, n)) => (Some(g.to_owned()), n.to_ascii_uppercase()),
        None => (None, parts[0].to_ascii_uppercase()),
    };
    let params = parts[1..]
        .iter()
        .map(|p| match p.split_once('=') {
            Some((n, v)) => (
                n.trim().to_ascii_uppercase(),
                split_unquoted(v, ',').iter().map(|x| x.trim_matches('"').to_owned()).collect(),
            ),
            None => (p.trim().to_ascii_uppercase(), Vec::new()),
        })
        .collect();
    Line { group, name, params, value: s[colon + 1..].to_owned() }
}

/// A stored card as read over HTTP.
#[derive(Debug, Clone)]
struct Card {
    href: String,
    etag: String,
    /// The body as the server sent it.
    raw: String,
    /// The unfolded body.
    unfolded: String,
    /// Content lines without BEGIN and END.
    lines: Vec<Line>,
}

impl Card {
    fn parse(href: &str, etag: &str, bytes: &[u8]) -> Card {
        let raw = String::from_utf8(bytes.to_vec()).unwrap_or_else(|_| panic!("{href} is not UTF-8"));
        let unfolded =
            String::from_utf8(unfold(bytes)).unwrap_or_else(|_| panic!("{href} unfolded is not UTF-8"));
        let all: Vec<&str> =
            unfolded.split('\n').map(|l| l.trim_end_matches('\r')).filter(|l| !l.is_empty()).collect();
        assert!(
            all.first().is_some_and(|l| l.eq_ignore_ascii_case("BEGIN:VCARD")),
            "{href} is not a vCard: {raw}"
        );
        assert!(
            all.last().is_some_and(|l| l.eq_ignore_ascii_case("END:VCARD")),
            "{href} has no END:VCARD: {raw}"
        );
        let lines = all[1..all.len() - 1].iter().map(|l| parse_line(l)).collect();
        Card { href: href.to_owned(), etag: etag.to_owned(), raw, unfolded, lines }
    }

    fn all(&self, name: &str) -> Vec<&Line> {
        self.lines.iter().filter(|l| l.name == name).collect()
    }

    fn get(&self, name: &str) -> Option<&Line> {
        self.lines.iter().find(|l| l.name == name)
    }

    /// The unescaped value of the first `name`.
    fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(Line::text)
    }

    fn uid(&self) -> String {
        self.text("UID").unwrap_or_else(|| panic!("{} has no UID: {}", self.href, self.raw))
    }

    fn int(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(|l| l.value.trim().parse().ok())
    }

    fn legacy_id(&self) -> Option<i64> {
        self.int("X-LEGACY-ID")
    }

    fn legacy_owner(&self) -> Option<i64> {
        self.int("X-LEGACY-OWNER")
    }

    fn legacy_group(&self) -> Option<i64> {
        self.int("X-LEGACY-GROUP-ID")
    }

    fn is_group(&self) -> bool {
        ["KIND", "X-ADDRESSBOOKSERVER-KIND"]
            .iter()
            .any(|k| self.all(k).iter().any(|l| l.value.trim().eq_ignore_ascii_case("group")))
    }

    /// Member UIDs of a group card, in either dialect.
    fn members(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter(|l| l.name == "MEMBER" || l.name == "X-ADDRESSBOOKSERVER-MEMBER")
            .map(|l| l.value.trim().trim_start_matches("urn:uuid:").to_owned())
            .collect()
    }

    fn categories(&self) -> Vec<String> {
        self.all("CATEGORIES").iter().flat_map(|l| l.list()).collect()
    }

    /// The card unfolded and unescaped, lower-cased, without the lines that
    /// carry no legacy text (UID, PHOTO data, the digest): where values are looked for.
    fn haystack(&self) -> String {
        let kept: Vec<&str> = self
            .unfolded
            .split('\n')
            .filter(|l| {
                let name = l.split([':', ';']).next().unwrap_or("").to_ascii_uppercase();
                !matches!(name.as_str(), "UID" | "PHOTO" | "X-SKJOLD-MIGRATION-DIGEST")
            })
            .collect();
        unescape(&kept.join("\n")).to_lowercase()
    }

    fn emails(&self) -> Vec<String> {
        self.all("EMAIL").iter().map(|l| l.text()).collect()
    }
}

// ====================================================================== reading address books over HTTP

/// Every card of an address book: PROPFIND Depth 1, then a GET of each member.
async fn cards(client: &Client, book: &str) -> Vec<Card> {
    let ms = client.props(book, "1", &[(DAV, "getetag")]).await.multistatus();
    let mut out = Vec::new();
    for href in ms.hrefs().into_iter().filter(|h| h != book) {
        let (status, headers, bytes) = client.send_bytes("GET", &href, &[], Vec::new()).await;
        assert_eq!(status, 200, "GET {href}: {}", String::from_utf8_lossy(&bytes));
        let etag = headers.get("etag").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        out.push(Card::parse(&href, &etag, &bytes));
    }
    out
}

/// href → ETag of every member of an address book.
async fn etags(client: &Client, book: &str) -> BTreeMap<String, String> {
    let ms = client.props(book, "1", &[(DAV, "getetag")]).await.multistatus();
    ms.entries.iter().filter(|e| e.href != book).map(|e| (e.href.clone(), e.text(DAV, "getetag"))).collect()
}

async fn sync_token(client: &Client, book: &str) -> String {
    client.props(book, "0", &[(DAV, "sync-token")]).await.multistatus().entry(book).text(DAV, "sync-token")
}

async fn exists(client: &Client, path: &str) -> bool {
    let r = client.props(path, "0", &[(DAV, "resourcetype")]).await;
    match r.status {
        207 => true,
        404 => false,
        other => panic!("PROPFIND {path}: {other} {}", r.body),
    }
}

/// The collections in a user's address-book home.
async fn books_of(client: &Client, user: &str) -> BTreeSet<String> {
    let home = format!("/dav/addressbooks/{user}/");
    let ms = client.props(&home, "1", &[(DAV, "resourcetype")]).await.multistatus();
    ms.hrefs().into_iter().filter(|h| *h != home).collect()
}

/// Hrefs a sync-collection from `token` reports as changed or removed.
async fn changes_since(client: &Client, book: &str, token: &str) -> Vec<String> {
    client.sync(book, token).await.hrefs().into_iter().filter(|h| h != book).collect()
}

/// The cards of each mapped owner's book `slug`, by legacy owner.
async fn books_by_owner(env: &Env, slug: &str) -> BTreeMap<i64, Vec<Card>> {
    let mut out = BTreeMap::new();
    for (owner, user) in OWNERS {
        out.insert(owner, cards(&env.client(user), &book_path(user, slug)).await);
    }
    out
}

/// Contact cards (those with an X-LEGACY-ID) by legacy id; a second card
/// with the same id is a problem.
fn by_legacy_id<'a>(cards: &'a [Card], problems: &mut Vec<String>) -> HashMap<i64, &'a Card> {
    let mut out = HashMap::new();
    for card in cards {
        if let Some(id) = card.legacy_id()
            && let Some(earlier) = out.insert(id, card)
        {
            problems.push(format!("contact {id} has two cards: {} and {}", earlier.href, card.href));
        }
    }
    out
}

// ====================================================================== the legacy database, read independently

type Raw = Option<Vec<u8>>;

#[derive(Debug, Clone, Default)]
struct LegacyContact {
    id: i64,
    owner: i64,
    deleted: i64,
    /// (column, raw value) of the text columns.
    texts: Vec<(&'static str, Raw)>,
    show_as: Raw,
    birthday: Raw,
    photo: Raw,
    photo_type: Raw,
    created: Option<i64>,
    modified: Option<i64>,
    /// (table, type, values)
    children: Vec<(&'static str, Raw, Vec<Raw>)>,
}

impl LegacyContact {
    fn text(&self, column: &str) -> Raw {
        match column {
            "birthday" => self.birthday.clone(),
            "show_as" => self.show_as.clone(),
            _ => self.texts.iter().find(|(c, _)| *c == column).and_then(|(_, v)| v.clone()),
        }
    }

    fn child_values(&self, table: &str) -> Vec<Vec<u8>> {
        self.children
            .iter()
            .filter(|(t, _, _)| *t == table)
            .flat_map(|(_, _, v)| v.iter().flatten().cloned())
            .collect()
    }
}

#[derive(Debug, Clone)]
struct LegacyGroup {
    id: i64,
    owner: i64,
    name: Raw,
    deleted: i64,
}

struct Legacy {
    contacts: Vec<LegacyContact>,
    groups: Vec<LegacyGroup>,
    /// (group, contact) rows, duplicates included.
    members: Vec<(i64, i64)>,
}

fn raw(v: ValueRef<'_>) -> Raw {
    match v {
        ValueRef::Null => None,
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(t.to_vec()),
        ValueRef::Integer(i) => Some(i.to_string().into_bytes()),
        ValueRef::Real(f) => Some(f.to_string().into_bytes()),
    }
}

fn int(v: ValueRef<'_>) -> Option<i64> {
    match v {
        ValueRef::Integer(i) => Some(i),
        ValueRef::Text(t) | ValueRef::Blob(t) => std::str::from_utf8(t).ok()?.trim().parse().ok(),
        _ => None,
    }
}

const TEXT_COLUMNS: [&str; 7] =
    ["nick", "first_name", "last_name", "company", "department", "job_title", "note"];

impl Legacy {
    fn read(path: &Path) -> Legacy {
        let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the legacy database");
        let mut contacts = Vec::new();
        {
            let mut stmt = conn
                .prepare(
                    "SELECT id, owner_uid, deleted, nick, first_name, last_name, company, department, job_title,
                            note, show_as, birthday, photo, photo_type, created, modified FROM ab_contact ORDER BY id",
                )
                .expect("ab_contact");
            let mut rows = stmt.query([]).expect("query");
            while let Some(r) = rows.next().expect("row") {
                let mut c = LegacyContact {
                    id: r.get(0).expect("id"),
                    owner: r.get(1).expect("owner"),
                    deleted: int(r.get_ref(2).expect("deleted")).unwrap_or(0),
                    ..Default::default()
                };
                for (i, column) in TEXT_COLUMNS.iter().enumerate() {
                    c.texts.push((column, raw(r.get_ref(3 + i).expect("text column"))));
                }
                c.show_as = raw(r.get_ref(10).expect("show_as"));
                c.birthday = raw(r.get_ref(11).expect("birthday"));
                c.photo = raw(r.get_ref(12).expect("photo"));
                c.photo_type = raw(r.get_ref(13).expect("photo_type"));
                c.created = int(r.get_ref(14).expect("created"));
                c.modified = int(r.get_ref(15).expect("modified"));
                contacts.push(c);
            }
        }
        let index: HashMap<i64, usize> = contacts.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
        for (table, columns) in [
            ("ab_email", "email"),
            ("ab_phone", "number"),
            ("ab_url", "url"),
            ("ab_address", "po_box, extended, street, city, region, post_code, country"),
        ] {
            let n = columns.split(',').count();
            let mut stmt = conn
                .prepare(&format!("SELECT contact_id, type, {columns} FROM {table} ORDER BY contact_id, pos"))
                .expect(table);
            let mut rows = stmt.query([]).expect("query");
            while let Some(r) = rows.next().expect("row") {
                let id: i64 = r.get(0).expect("contact_id");
                let kind = raw(r.get_ref(1).expect("type"));
                let values = (0..n).map(|i| raw(r.get_ref(2 + i).expect("value"))).collect();
                if let Some(&i) = index.get(&id) {
                    contacts[i].children.push((table, kind, values));
                }
            }
        }
        let mut groups = Vec::new();
        {
            let mut stmt = conn
                .prepare("SELECT id, owner_uid, name, deleted FROM ab_group ORDER BY id")
                .expect("ab_group");
            let mut rows = stmt.query([]).expect("query");
            while let Some(r) = rows.next().expect("row") {
                groups.push(LegacyGroup {
                    id: r.get(0).expect("id"),
                    owner: r.get(1).expect("owner"),
                    name: raw(r.get_ref(2).expect("name")),
                    deleted: int(r.get_ref(3).expect("deleted")).unwrap_or(0),
                });
            }
        }
        let mut members = Vec::new();
        {
            let mut stmt = conn.prepare("SELECT group_id, contact_id FROM ab_group_member").expect("members");
            let mut rows = stmt.query([]).expect("query");
            while let Some(r) = rows.next().expect("row") {
                members.push((r.get(0).expect("group"), r.get(1).expect("contact")));
            }
        }
        Legacy { contacts, groups, members }
    }

    fn fixture() -> Legacy {
        Legacy::read(Path::new(&legacy_file("lwab_v1.sqlite")))
    }

    fn contact(&self, id: i64) -> &LegacyContact {
        self.contacts.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("no legacy contact {id}"))
    }

    fn group(&self, id: i64) -> Option<&LegacyGroup> {
        self.groups.iter().find(|g| g.id == id)
    }

    fn live_contacts(&self, owner: i64) -> impl Iterator<Item = &LegacyContact> {
        self.contacts.iter().filter(move |c| c.owner == owner && c.deleted == 0)
    }

    fn live_groups(&self, owner: i64) -> impl Iterator<Item = &LegacyGroup> {
        self.groups.iter().filter(move |g| g.owner == owner && g.deleted == 0)
    }

    /// The names of the live groups of the contact's own owner it is a member of.
    fn group_names_of(&self, c: &LegacyContact) -> BTreeSet<String> {
        self.members
            .iter()
            .filter(|(_, contact)| *contact == c.id)
            .filter_map(|(g, _)| self.group(*g))
            .filter(|g| g.owner == c.owner && g.deleted == 0)
            .filter_map(|g| g.name.as_deref().map(decode))
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .collect()
    }
}

// ====================================================================== the manifest

fn manifest() -> Value {
    let text = std::fs::read_to_string(legacy_file("manifest.json")).expect("manifest.json");
    serde_json::from_str(&text).expect("manifest JSON")
}

fn has_tag(item: &Value, tag: &str) -> bool {
    item["tags"].as_array().is_some_and(|t| t.iter().any(|x| x == tag))
}

/// (owner, id) of the contacts with this tag.
fn tagged(m: &Value, tag: &str) -> Vec<(i64, i64)> {
    m["contacts"]
        .as_array()
        .expect("contacts")
        .iter()
        .filter(|c| has_tag(c, tag))
        .map(|c| (c["owner_uid"].as_i64().expect("owner"), c["id"].as_i64().expect("id")))
        .collect()
}

fn one_tagged(m: &Value, tag: &str) -> (i64, i64) {
    let found = tagged(m, tag);
    assert_eq!(found.len(), 1, "the manifest tags {found:?} with {tag}");
    found[0]
}

/// (owner, id) of the group with this tag.
fn group_tagged(m: &Value, tag: &str) -> (i64, i64) {
    let found: Vec<(i64, i64)> = m["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter(|g| has_tag(g, tag))
        .map(|g| (g["owner_uid"].as_i64().expect("owner"), g["id"].as_i64().expect("id")))
        .collect();
    assert_eq!(found.len(), 1, "groups tagged {tag}: {found:?}");
    found[0]
}

/// (group, contact) of the membership with this tag.
fn membership_tagged(m: &Value, tag: &str) -> (i64, i64) {
    let found: Vec<(i64, i64)> = m["membership_tags"]
        .as_array()
        .expect("membership_tags")
        .iter()
        .filter(|t| t["tag"] == tag)
        .map(|t| (t["group_id"].as_i64().expect("group"), t["contact_id"].as_i64().expect("contact")))
        .collect();
    assert_eq!(found.len(), 1, "memberships tagged {tag}: {found:?}");
    found[0]
}

// ====================================================================== text, independently of the migration

/// Windows-1252 at 0x80–0x9F (the five undefined bytes map to the C1 control of the same number).
const CP1252_HIGH: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}', '\u{90}',
    '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
];

fn cp1252(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| if (0x80..0xA0).contains(&b) { CP1252_HIGH[usize::from(b - 0x80)] } else { char::from(b) })
        .collect()
}

/// UTF-8 when the bytes are, else Windows-1252.
fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => cp1252(bytes),
    }
}

/// Text that is UTF-8 read once as Windows-1252, read right (`MÃ¼ller` → `Müller`).
fn undo_double_encoding(s: &str) -> Option<String> {
    let mut bytes = Vec::new();
    for c in s.chars() {
        let code = u32::from(c);
        if code < 0x80 || (0xA0..=0xFF).contains(&code) {
            bytes.push(code as u8);
        } else {
            let i = CP1252_HIGH.iter().position(|&x| x == c)?;
            bytes.push(0x80 + i as u8);
        }
    }
    String::from_utf8(bytes).ok()
}

/// Runs of at least three ASCII letters or digits: what must survive of a raw value.
fn runs(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|b| !b.is_ascii_alphanumeric())
        .filter(|r| r.len() >= 3)
        .map(|r| String::from_utf8_lossy(r).to_ascii_lowercase())
        .collect()
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// A unix time as `YYYYMMDDhhmmss` (UTC).
fn stamp(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).expect("a valid time").format("%Y%m%d%H%M%S").to_string()
}

/// UUIDv5 of `lwab:<owner>:<kind>:<id>` in the migration's namespace.
fn expected_uid(kind: &str, owner: i64, id: i64) -> String {
    let namespace = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, b"https://skjold.invalid/migrate/lwab");
    uuid::Uuid::new_v5(&namespace, format!("lwab:{owner}:{kind}:{id}").as_bytes()).to_string()
}

fn has_control_characters(s: &str) -> bool {
    s.chars().any(|c| (c.is_control() && !matches!(c, '\r' | '\n' | '\t')) || c == '\u{FFFD}')
}

fn month_of(word: &str) -> Option<u32> {
    let w = word.to_lowercase();
    let prefix: String = w.chars().take(3).collect();
    let months = [
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("mär", 3),
        ("apr", 4),
        ("may", 5),
        ("mai", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("okt", 10),
        ("nov", 11),
        ("dec", 12),
        ("des", 12),
        ("dez", 12),
    ];
    (w.chars().count() >= 3).then_some(())?;
    months.iter().find(|(p, _)| *p == prefix).map(|(_, m)| *m)
}

/// The date of a card's BDAY when it is a date: (year unless the card says
/// there is none, month, day).
fn bday_date(card: &Card) -> Option<(Option<i32>, u32, u32)> {
    let line = card
        .all("BDAY")
        .into_iter()
        .find(|l| !l.param("VALUE").is_some_and(|v| v.eq_ignore_ascii_case("text")))?;
    let v = line.value.trim();
    if let Some(md) = v.strip_prefix("--") {
        let d = digits(md);
        return (d.len() == 4).then(|| (None, d[..2].parse().unwrap_or(0), d[2..].parse().unwrap_or(0)));
    }
    let d = digits(v.split('T').next().unwrap_or(""));
    if d.len() != 8 {
        return None;
    }
    let year: i32 = d[..4].parse().ok()?;
    let year = if year == 1604 && line.param("X-APPLE-OMIT-YEAR").is_some() { None } else { Some(year) };
    Some((year, d[4..6].parse().ok()?, d[6..8].parse().ok()?))
}

/// Whether a raw birthday spelling says this date: its day and month are
/// there, and its year (or no year at all, when the date has none).
fn birthday_says(raw: &str, (year, month, day): (Option<i32>, u32, u32)) -> bool {
    let numbers: Vec<&str> = raw.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).collect();
    let has = |n: u32| numbers.iter().any(|x| x.parse::<u32>().ok() == Some(n));
    let named = raw.split(|c: char| !c.is_alphabetic()).any(|w| month_of(w) == Some(month));
    let years: Vec<i32> = numbers.iter().filter(|x| x.len() == 4).filter_map(|x| x.parse().ok()).collect();
    has(day)
        && (has(month) || named)
        && match year {
            Some(y) => years.contains(&y),
            None => years.iter().all(|y| *y == 1604),
        }
}

/// The bytes of a card's PHOTO (3.0 `ENCODING=b`, 4.0 `data:` URI) and its image type.
fn photo(card: &Card) -> Option<(Vec<u8>, String)> {
    let line = card.get("PHOTO")?;
    let value = line.value.trim();
    let (kind, data) = match value.strip_prefix("data:") {
        Some(rest) => {
            let (media, data) = rest.split_once(',')?;
            (media.trim_start_matches("image/").split(';').next().unwrap_or("").to_owned(), data)
        }
        None => (line.param("TYPE").unwrap_or("").to_owned(), value),
    };
    let bytes = base64::engine::general_purpose::STANDARD.decode(data.trim()).ok()?;
    Some((bytes, kind.to_ascii_lowercase()))
}

fn is_email(s: &str) -> bool {
    let mut parts = s.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None) if !l.is_empty() && d.contains('.'))
        && !s.contains(char::is_whitespace)
}

// ====================================================================== per-card checks

/// What every migrated card must be: its version, UID, FN (and N in 3.0),
/// no control characters, and the digest line last.
fn shape_problems(version: &str, card: &Card, family: &str) -> Vec<String> {
    let mut p = Vec::new();
    let what = &card.href;
    check!(
        p,
        card.text("VERSION").as_deref() == Some(version),
        "{what}: VERSION is not {version}: {}",
        card.raw
    );
    check!(p, card.all("UID").len() == 1, "{what}: not exactly one UID");
    check!(p, card.text("FN").is_some_and(|f| !f.trim().is_empty()), "{what}: no FN");
    if version == "3.0" {
        check!(p, card.get("N").is_some(), "{what}: vCard 3.0 needs N");
    }
    check!(p, !has_control_characters(&card.raw), "{what}: control characters in {:?}", card.raw);
    let last = card.lines.last().expect("lines");
    check!(
        p,
        last.name == "X-SKJOLD-MIGRATION-DIGEST" && last.value.starts_with(&format!("{family}/")),
        "{what}: the last line is not X-SKJOLD-MIGRATION-DIGEST:{family}/…: {:?}",
        last
    );
    p
}

/// Everything of one live legacy contact must be in its card or in the
/// report's warnings about it.
fn contact_problems(
    version: &str,
    c: &LegacyContact,
    card: &Card,
    warnings: &str,
    categories: &BTreeSet<String>,
) -> Vec<String> {
    let mut p = Vec::new();
    let who = format!("{version} contact {} (owner {})", c.id, c.owner);
    let hay = card.haystack();
    let warned = warnings.to_lowercase();
    let require = |p: &mut Vec<String>, what: &str, bytes: &[u8]| {
        for run in runs(bytes) {
            if !hay.contains(&run) && !warned.contains(&run) {
                p.push(format!(
                    "{who}: {what} {:?}: {run:?} is neither in the card nor in the report (card: {}; warnings: {warnings:?})",
                    decode(bytes),
                    card.unfolded.chars().take(600).collect::<String>()
                ));
            }
        }
    };
    check!(
        p,
        card.uid() == expected_uid("contact", c.owner, c.id),
        "{who}: UID {} is not the UUIDv5 of the legacy id",
        card.uid()
    );
    check!(p, card.legacy_owner() == Some(c.owner), "{who}: X-LEGACY-OWNER is {:?}", card.legacy_owner());

    for (column, value) in &c.texts {
        if let Some(v) = value {
            require(&mut p, column, v);
        }
    }
    if let Some(v) = &c.show_as {
        let shown = decode(v).trim().to_ascii_uppercase();
        let kind = card.text("KIND").map(|k| k.trim().to_ascii_lowercase());
        let apple = card.text("X-ABSHOWAS").map(|k| k.trim().to_ascii_uppercase());
        match shown.as_str() {
            "COMPANY" if version == "4.0" => {
                check!(p, kind.as_deref() == Some("org"), "{who}: show_as COMPANY but KIND {kind:?}")
            }
            "COMPANY" => check!(
                p,
                apple.as_deref() == Some("COMPANY"),
                "{who}: show_as COMPANY but X-ABShowAs {apple:?}"
            ),
            "PERSON" => check!(
                p,
                kind.as_deref().is_none_or(|k| k == "individual") && apple.is_none(),
                "{who}: show_as PERSON but KIND {kind:?} / X-ABShowAs {apple:?}"
            ),
            _ => require(&mut p, "show_as", v),
        }
    }
    if let Some(v) = &c.birthday {
        let text = decode(v);
        match bday_date(card) {
            // A date in the card must be what the legacy spelling says, with no invented year.
            Some(date) => {
                check!(p, birthday_says(&text, date), "{who}: birthday {text:?} became the date {date:?}")
            }
            None => require(&mut p, "birthday", v),
        }
    }
    match (c.photo.as_ref().filter(|b| !b.is_empty()), photo(card)) {
        (Some(bytes), Some((kept, kind))) => {
            check!(p, &kept == bytes, "{who}: the PHOTO bytes differ from the legacy photo");
            if let Some(t) = &c.photo_type {
                let declared = decode(t).to_ascii_lowercase();
                check!(
                    p,
                    declared.ends_with(&kind) && !kind.is_empty(),
                    "{who}: photo type {declared:?} but the card says {kind:?}"
                );
            }
        }
        (Some(_), None) => {
            check!(
                p,
                warned.contains("photo"),
                "{who}: the photo is neither in the card nor reported: {warnings:?}"
            );
            if let Some(t) = &c.photo_type {
                require(&mut p, "photo_type", t);
            }
        }
        (None, Some(_)) => p.push(format!("{who}: a PHOTO the legacy contact does not have")),
        (None, None) => {}
    }
    if let Some(t) = c.created.filter(|t| *t > 0) {
        let kept = card.text("X-LEGACY-CREATED").map(|v| digits(&v));
        check!(
            p,
            kept.as_deref() == Some(stamp(t).as_str()),
            "{who}: created {t} but X-LEGACY-CREATED {kept:?}"
        );
    }
    if let Some(t) = c.modified.filter(|t| *t > 0) {
        let rev = card.text("REV").map(|v| digits(&v));
        let legacy = card.text("X-LEGACY-MODIFIED");
        check!(
            p,
            rev.as_deref() == Some(stamp(t).as_str()) || legacy.as_deref() == Some(t.to_string().as_str()),
            "{who}: modified {t} but REV {rev:?}, X-LEGACY-MODIFIED {legacy:?}"
        );
    }
    for (table, kind, values) in &c.children {
        if let Some(k) = kind {
            // "other" (or nothing) is what a value without a TYPE means in vCard.
            let k_text = decode(k).trim().to_ascii_lowercase();
            if !k_text.is_empty() && k_text != "other" {
                require(&mut p, &format!("{table} type"), k);
            }
        }
        for v in values.iter().flatten() {
            require(&mut p, table, v);
        }
    }
    let have: BTreeSet<String> = card.categories().into_iter().collect();
    check!(p, &have == categories, "{who}: CATEGORIES {have:?}, but the live groups are {categories:?}");
    for name in categories {
        require(&mut p, "group name", name.as_bytes());
    }
    p
}

/// The whole fixture against one migration into the books `books` (by owner).
fn nothing_lost_problems(
    version: &str,
    legacy: &Legacy,
    m: &Value,
    report: &Value,
    slug: &str,
    books: &BTreeMap<i64, Vec<Card>>,
) -> Vec<String> {
    let mut p = Vec::new();
    for (&owner, cards) in books {
        let o = entry(report, &owner.to_string(), slug);
        check!(p, o["error"].is_null(), "{version} owner {owner}: error {}", o["error"]);
        // Never mixed: every card of this book is of this owner.
        for card in cards {
            check!(
                p,
                card.legacy_owner() == Some(owner),
                "{version}: {} in {owner}'s book has X-LEGACY-OWNER {:?}",
                card.href,
                card.legacy_owner()
            );
            p.extend(shape_problems(version, card, "lwab"));
        }
        let uids: HashSet<String> = cards.iter().map(Card::uid).collect();
        check!(p, uids.len() == cards.len(), "{version} owner {owner}: duplicate UIDs");
        let contacts = by_legacy_id(cards, &mut p);
        let by_uid: HashMap<String, &Card> = cards.iter().map(|c| (c.uid(), c)).collect();

        // One card per live contact, but for the completely empty row.
        let empty: Vec<i64> = tagged(m, "completely-empty-row")
            .into_iter()
            .filter(|(o, _)| *o == owner)
            .map(|(_, id)| id)
            .collect();
        let live = m["counts"]["live_contacts_per_owner"][owner.to_string()].as_u64().expect("live count");
        check!(
            p,
            legacy.live_contacts(owner).count() as u64 == live,
            "the fixture and the manifest disagree for {owner}"
        );
        check!(
            p,
            contacts.len() as u64 == live - empty.len() as u64,
            "{version} owner {owner}: {} contact cards, expected {} ({live} live, {} empty)",
            contacts.len(),
            live - empty.len() as u64,
            empty.len()
        );
        for c in legacy.live_contacts(owner) {
            if empty.contains(&c.id) {
                check!(p, !contacts.contains_key(&c.id), "{version}: the empty contact {} has a card", c.id);
                continue;
            }
            let Some(card) = contacts.get(&c.id) else {
                p.push(format!("{version}: live contact {} of owner {owner} has no card", c.id));
                continue;
            };
            let warnings = warnings_of(o, &format!("contact {}", c.id));
            p.extend(contact_problems(version, c, card, &warnings, &legacy.group_names_of(c)));
        }
        check!(
            p,
            skipped(o, "empty") == empty.len() as u64,
            "{version} owner {owner}: the empty rows are not reported as skipped: {}",
            o["skipped"]
        );
        for id in contacts.keys() {
            check!(
                p,
                legacy.contact(*id).deleted == 0,
                "{version}: contact {id} is not live but has a card in the book"
            );
        }

        // One group card per live group, with exactly its live members.
        let live_groups: Vec<&LegacyGroup> = legacy.live_groups(owner).collect();
        let manifest_groups = m["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .filter(|g| g["owner_uid"] == owner && g["deleted"] == 0)
            .count();
        check!(
            p,
            live_groups.len() == manifest_groups,
            "the fixture and the manifest disagree on {owner}'s groups"
        );
        let group_cards: Vec<&Card> = cards.iter().filter(|c| c.is_group()).collect();
        check!(
            p,
            group_cards.len() == live_groups.len(),
            "{version} owner {owner}: {} group cards for {} live groups",
            group_cards.len(),
            live_groups.len()
        );
        check!(
            p,
            num(o, "groups") == live_groups.len() as u64,
            "{version} owner {owner}: the report counts {} groups",
            num(o, "groups")
        );
        check!(
            p,
            num(o, "imported") == cards.len() as u64,
            "{version} owner {owner}: imported {} but the book has {} cards",
            num(o, "imported"),
            cards.len()
        );
        for card in &group_cards {
            let (kind, member) = if version == "4.0" {
                ("KIND", "MEMBER")
            } else {
                ("X-ADDRESSBOOKSERVER-KIND", "X-ADDRESSBOOKSERVER-MEMBER")
            };
            check!(
                p,
                card.text(kind).is_some_and(|k| k.eq_ignore_ascii_case("group")),
                "{version}: group card {} has no {kind}:group",
                card.href
            );
            let other = if version == "4.0" { "X-ADDRESSBOOKSERVER-MEMBER" } else { "MEMBER" };
            check!(p, card.get(other).is_none(), "{version}: group card {} uses {other}", card.href);
            check!(
                p,
                card.members().len() == card.all(member).len(),
                "{version}: group card {} mixes dialects",
                card.href
            );
        }
        for g in &live_groups {
            let Some(card) = group_cards.iter().find(|c| c.legacy_group() == Some(g.id)) else {
                p.push(format!("{version}: live group {} of owner {owner} has no group card", g.id));
                continue;
            };
            check!(
                p,
                card.uid() == expected_uid("group", owner, g.id),
                "{version}: group {} has UID {}",
                g.id,
                card.uid()
            );
            if let Some(name) =
                g.name.as_deref().map(decode).map(|n| n.trim().to_owned()).filter(|n| !n.is_empty())
            {
                check!(
                    p,
                    card.text("FN").as_deref() == Some(name.as_str()),
                    "{version}: group {} FN {:?}, expected {name:?}",
                    g.id,
                    card.text("FN")
                );
            }
            let expected: BTreeSet<i64> = legacy
                .members
                .iter()
                .filter(|(group, _)| *group == g.id)
                .map(|(_, c)| *c)
                .filter(|c| legacy.contacts.iter().any(|x| x.id == *c && x.owner == owner && x.deleted == 0))
                .filter(|c| !empty.contains(c))
                .collect();
            let mut actual = BTreeSet::new();
            for uid in card.members() {
                match by_uid.get(&uid).and_then(|c| c.legacy_id()) {
                    Some(id) => {
                        actual.insert(id);
                    }
                    None => p.push(format!(
                        "{version}: group {} has the member {uid}, which is no contact card of its book",
                        g.id
                    )),
                }
            }
            check!(
                p,
                actual == expected,
                "{version}: group {} has the members {actual:?}, expected {expected:?}",
                g.id
            );
        }
    }

    // Dangling and cross-owner memberships: reported, and in no card.
    for tag in ["dangling-contact-id", "cross-owner-membership"] {
        let (group, contact) = membership_tagged(m, tag);
        let group_owner = legacy.group(group).map(|g| g.owner);
        let contact_owner = legacy.contacts.iter().find(|c| c.id == contact).map(|c| c.owner);
        let reported = [group_owner, contact_owner].into_iter().flatten().any(|owner| {
            all_warnings(entry(report, &owner.to_string(), slug)).iter().any(|w| {
                let w = w.split(": ").next().unwrap_or("");
                w.contains(&format!("group {group}")) && w.contains(&format!("contact {contact}"))
            })
        });
        check!(
            p,
            reported,
            "{version}: the {tag} membership (group {group}, contact {contact}) is not reported"
        );
        if let (Some(go), Some(co)) = (group_owner, contact_owner) {
            let contact_uid = expected_uid("contact", co, contact);
            for card in &books[&go] {
                check!(
                    p,
                    !card.members().contains(&contact_uid),
                    "{version}: {tag}: {}'s group card lists contact {contact} of owner {co}",
                    card.href
                );
            }
        }
    }
    check!(
        p,
        report["unknown_owners"].as_array().is_some_and(Vec::is_empty),
        "{version}: unknown owners {}",
        report["unknown_owners"]
    );
    p
}

// ====================================================================== 1. nothing is lost

#[tokio::test]
async fn nothing_is_lost_over_the_whole_fixture() {
    let env = start(&["alice", "bob", "carol"]);
    let legacy = Legacy::fixture();
    let m = manifest();
    let mut problems = Vec::new();
    for (version, slug) in [("3.0", "v30"), ("4.0", "v40")] {
        let report = env.lwab(&sqlite_source(), &["--vcard-version", version, "--addressbook", slug]);
        assert_eq!(report["vcard_version"], version);
        assert_eq!(report["dry_run"], false);
        let books = books_by_owner(&env, slug).await;
        problems.extend(nothing_lost_problems(version, &legacy, &m, &report, slug, &books));
    }
    assert_no_problems("nothing lost", &problems);
}

// ====================================================================== 2. the nasty records

/// The cards of one migration, by (owner, legacy id), and its report.
struct Migrated {
    version: &'static str,
    report: Value,
    books: BTreeMap<i64, Vec<Card>>,
}

impl Migrated {
    fn card(&self, (owner, id): (i64, i64)) -> &Card {
        self.books[&owner]
            .iter()
            .find(|c| c.legacy_id() == Some(id))
            .unwrap_or_else(|| panic!("{}: contact {id} of owner {owner} has no card", self.version))
    }

    fn any_card(&self, id: i64) -> Option<&Card> {
        self.books.values().flatten().find(|c| c.legacy_id() == Some(id))
    }

    fn warnings(&self, (owner, id): (i64, i64), slug: &str) -> String {
        warnings_of(entry(&self.report, &owner.to_string(), slug), &format!("contact {id}"))
    }

    fn group_card(&self, (owner, id): (i64, i64)) -> Option<&Card> {
        self.books[&owner].iter().find(|c| c.legacy_group() == Some(id))
    }
}

fn raw_text(c: &LegacyContact, column: &str) -> String {
    decode(&c.text(column).unwrap_or_else(|| panic!("contact {} has no {column}", c.id)))
}

fn nasty_problems(mig: &Migrated, slug: &str, legacy: &Legacy, m: &Value) -> Vec<String> {
    let v = mig.version;
    let mut p = Vec::new();
    let name_of = |card: &Card| card.get("N").map(Line::components).unwrap_or_default();

    // Windows-1252 bytes, including 0x80–0x9F.
    let id = one_tagged(m, "cp1252-only-bytes-0x80-0x9f");
    let (c, card) = (legacy.contact(id.1), mig.card(id));
    let note = raw_text(c, "note");
    check!(
        p,
        note.contains('€') && note.contains('„') && note.contains('“'),
        "the fixture's cp1252 note is {note:?}"
    );
    check!(
        p,
        card.text("NOTE").as_deref() == Some(note.as_str()),
        "{v}: cp1252 NOTE {:?}, expected {note:?}",
        card.text("NOTE")
    );
    let n = name_of(card);
    check!(
        p,
        n.len() >= 2 && n[0] == raw_text(c, "last_name") && n[1] == raw_text(c, "first_name"),
        "{v}: cp1252 name {n:?}"
    );
    let id = one_tagged(m, "cp1252-smart-quotes");
    let (c, card) = (legacy.contact(id.1), mig.card(id));
    let note = raw_text(c, "note");
    for ch in ['“', '”', '…', '—', 'Œ', '€'] {
        check!(
            p,
            card.text("NOTE").is_some_and(|n| n.contains(ch)),
            "{v}: smart-quotes NOTE lost {ch:?}: {:?}",
            card.text("NOTE")
        );
    }
    check!(
        p,
        card.text("NOTE").as_deref() == Some(note.as_str()),
        "{v}: smart-quotes NOTE {:?}",
        card.text("NOTE")
    );
    check!(
        p,
        name_of(card).first().is_some_and(|l| l.contains('’')),
        "{v}: D’Arcy lost its apostrophe: {:?}",
        name_of(card)
    );
    for card in mig.books.values().flatten() {
        check!(
            p,
            !card.unfolded.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)),
            "{v}: {} holds C1 characters (bytes read as Latin-1, not Windows-1252)",
            card.href
        );
    }
    for (owner, id) in tagged(m, "latin1-blob") {
        let c = legacy.contact(id);
        let n = name_of(mig.card((owner, id)));
        check!(p, n.first() == Some(&raw_text(c, "last_name")), "{v}: Latin-1 name of {id}: {n:?}");
    }

    // Double-encoded UTF-8, repaired.
    let id = one_tagged(m, "double-encoded-utf8");
    let (c, card) = (legacy.contact(id.1), mig.card(id));
    let (first, last) = (raw_text(c, "first_name"), raw_text(c, "last_name"));
    check!(p, first.contains("Ã"), "the fixture's double-encoded name is {first:?}");
    let n = name_of(card);
    check!(
        p,
        n.len() >= 2
            && Some(&n[1]) == undo_double_encoding(&first).as_ref()
            && Some(&n[0]) == undo_double_encoding(&last).as_ref(),
        "{v}: double-encoded name became {n:?}"
    );
    check!(
        p,
        card.text("FN").is_some_and(|f| f.contains("Müller") && !f.contains('Ã')),
        "{v}: FN {:?}",
        card.text("FN")
    );

    // A 4-byte emoji.
    let id = one_tagged(m, "emoji-4-byte");
    let (c, card) = (legacy.contact(id.1), mig.card(id));
    let nick = raw_text(c, "nick");
    check!(p, nick.contains('😀'), "the fixture's emoji nick is {nick:?}");
    check!(
        p,
        card.text("NICKNAME").as_deref() == Some(nick.as_str()),
        "{v}: emoji NICKNAME {:?}",
        card.text("NICKNAME")
    );

    // Control characters: gone from the note, and said so.
    let id = one_tagged(m, "control-chars-in-note");
    let (c, card) = (legacy.contact(id.1), mig.card(id));
    let expected: String =
        raw_text(c, "note").chars().filter(|ch| !ch.is_control() || *ch == '\n' || *ch == '\t').collect();
    check!(
        p,
        card.text("NOTE").as_deref() == Some(expected.as_str()),
        "{v}: control-character NOTE {:?}, expected {expected:?}",
        card.text("NOTE")
    );
    check!(p, mig.warnings(id, slug).contains("control"), "{v}: removing control characters is not reported");
    let id = one_tagged(m, "invalid-utf8-and-not-cp1252-meaningful");
    let card = mig.card(id);
    check!(
        p,
        card.text("NOTE").is_some_and(|n| n.contains("valid start") && n.contains("tail")),
        "{v}: broken-bytes NOTE {:?}",
        card.text("NOTE")
    );
    check!(p, !mig.warnings(id, slug).is_empty(), "{v}: the broken bytes are not reported");

    // vCard specials in structured and text values, parsed back.
    let id = one_tagged(m, "vcard-special-chars-in-structured-fields");
    let (c, card) = (legacy.contact(id.1), mig.card(id));
    let n = name_of(card);
    check!(
        p,
        n.len() == 5 && n[0] == raw_text(c, "last_name") && n[1] == raw_text(c, "first_name"),
        "{v}: N with ; , \\ parses back as {n:?}"
    );
    let org = card.get("ORG").map(Line::components).unwrap_or_default();
    check!(
        p,
        org.first() == Some(&raw_text(c, "company")) && org.get(1) == Some(&raw_text(c, "department")),
        "{v}: ORG with ; , \\ parses back as {org:?}"
    );
    let fn_text = card.text("FN").unwrap_or_default();
    check!(
        p,
        fn_text.contains(&raw_text(c, "first_name")) && fn_text.contains(&raw_text(c, "last_name")),
        "{v}: FN parses back as {fn_text:?}"
    );
    check!(
        p,
        card.text("NICKNAME") == Some(raw_text(c, "nick")),
        "{v}: the longest nick is cut: {:?}",
        card.text("NICKNAME")
    );

    // The 100 kB note with CRLF, tabs and ; , \ — intact.
    let id = one_tagged(m, "very-long-note-100k");
    let (c, card) = (legacy.contact(id.1), mig.card(id));
    let raw_note = c.text("note").unwrap_or_default();
    check!(p, raw_note.len() > 99_000, "the fixture's long note has {} bytes", raw_note.len());
    // CRLF becomes a vCard newline; the blanks around the whole note (its last CRLF) may go.
    let expected = raw_text(c, "note").replace("\r\n", "\n").trim().to_owned();
    let note = card.text("NOTE").unwrap_or_default();
    check!(
        p,
        note == expected,
        "{v}: the long NOTE differs ({} vs {} characters; first difference at {:?})",
        note.chars().count(),
        expected.chars().count(),
        note.chars().zip(expected.chars()).position(|(a, b)| a != b)
    );
    check!(p, !note.contains('\r'), "{v}: a CR in NOTE");

    // Birthdays.
    let no_year: [(&str, &str, u32, u32); 6] = [
        ("bday-no-year-iso", "--05-17", 5, 17),
        ("bday-no-year-dotted", "17.05.", 5, 17),
        ("bday-no-year-us", "05/17", 5, 17),
        ("bday-no-year-words", "May 17", 5, 17),
        ("bday-feb29-no-year", "29.02.", 2, 29),
        ("bday-apple-omit-year-sentinel", "1604-05-17", 5, 17),
    ];
    for (tag, spelling, month, day) in no_year {
        let id = one_tagged(m, tag);
        let (c, card) = (legacy.contact(id.1), mig.card(id));
        check!(
            p,
            raw_text(c, "birthday") == spelling,
            "{tag}: the fixture spells {:?}",
            raw_text(c, "birthday")
        );
        let lines = card.all("BDAY");
        let ok = lines.len() == 1
            && if v == "4.0" {
                lines[0].value == format!("--{month:02}{day:02}") && lines[0].params.is_empty()
            } else {
                lines[0].value == format!("1604-{month:02}-{day:02}")
                    && lines[0].param("X-APPLE-OMIT-YEAR") == Some("1604")
            };
        check!(p, ok, "{v}: year-less birthday {spelling:?} ({tag}) became {lines:?}");
        check!(p, card.get("X-LEGACY-BIRTHDAY").is_none(), "{v}: {tag} also as X-LEGACY-BIRTHDAY");
    }
    for tag in [
        "bday-invalid-day",
        "bday-invalid-month",
        "bday-free-text",
        "bday-invalid-leap",
        "bday-two-digit-year",
    ] {
        let id = one_tagged(m, tag);
        let (c, card) = (legacy.contact(id.1), mig.card(id));
        let spelling = raw_text(c, "birthday");
        let (text, dates): (Option<String>, Vec<&Line>) = if v == "4.0" {
            let text = card
                .all("BDAY")
                .into_iter()
                .find(|l| l.param("VALUE").is_some_and(|x| x.eq_ignore_ascii_case("text")));
            (
                text.map(Line::text),
                card.all("BDAY").into_iter().filter(|l| l.param("VALUE").is_none()).collect(),
            )
        } else {
            (card.text("X-LEGACY-BIRTHDAY"), card.all("BDAY"))
        };
        check!(
            p,
            text.as_deref() == Some(spelling.as_str()),
            "{v}: unparseable birthday {spelling:?} ({tag}) kept as {text:?}"
        );
        check!(
            p,
            dates.is_empty(),
            "{v}: unparseable birthday {spelling:?} ({tag}) became the date {dates:?}"
        );
        let w = mig.warnings(id, slug);
        check!(p, w.contains("birthday") && w.contains(&spelling), "{v}: {tag} not reported: {w:?}");
    }
    for tag in ["bday-year-0001", "bday-future", "bday-localised-text"] {
        // Either a date that says exactly this, or the text, reported.
        let id = one_tagged(m, tag);
        let (c, card) = (legacy.contact(id.1), mig.card(id));
        let spelling = raw_text(c, "birthday");
        match bday_date(card) {
            Some(date) => {
                check!(p, birthday_says(&spelling, date), "{v}: {tag} {spelling:?} became {date:?}")
            }
            None => check!(
                p,
                card.haystack().contains(&spelling.to_lowercase())
                    && mig.warnings(id, slug).contains("birthday"),
                "{v}: {tag} {spelling:?} is lost or not reported"
            ),
        }
    }
    let id = one_tagged(m, "bday-mysql-zero");
    let card = mig.card(id);
    check!(
        p,
        card.get("BDAY").is_none() && card.get("X-LEGACY-BIRTHDAY").is_none(),
        "{v}: 0000-00-00 became a birthday"
    );
    check!(p, mig.warnings(id, slug).contains("0000-00-00"), "{v}: 0000-00-00 is not reported");
    for tag in ["bday-datetime", "baseline"] {
        let id = one_tagged(m, tag);
        let (c, card) = (legacy.contact(id.1), mig.card(id));
        let spelling = raw_text(c, "birthday");
        let expected = digits(&spelling[..10]);
        let ok = card.all("BDAY").len() == 1
            && bday_date(card).is_some_and(|(y, mo, d)| {
                y.is_some() && format!("{:04}{mo:02}{d:02}", y.unwrap_or(0)) == expected
            });
        check!(p, ok, "{v}: birthday {spelling:?} ({tag}) became {:?}", card.all("BDAY"));
    }

    // E-mail addresses.
    let id = one_tagged(m, "twenty-emails");
    let (c, card) = (legacy.contact(id.1), mig.card(id));
    let expected: BTreeSet<String> =
        c.child_values("ab_email").iter().map(|e| decode(e).trim().to_lowercase()).collect();
    let have: BTreeSet<String> = card.emails().iter().map(|e| e.to_lowercase()).collect();
    check!(
        p,
        expected.len() == 20 && have == expected && card.emails().len() == 20,
        "{v}: twenty e-mails became {have:?}"
    );
    let id = one_tagged(m, "invalid-emails");
    let (c, card) = (legacy.contact(id.1), mig.card(id));
    let note = card.text("NOTE").unwrap_or_default();
    for e in card.emails() {
        check!(p, is_email(&e), "{v}: EMAIL {e:?} is not an e-mail address");
    }
    for raw in c.child_values("ab_email") {
        let value = decode(&raw).trim().to_owned();
        if value.is_empty() {
            continue;
        }
        let as_email = |s: &str| card.emails().iter().any(|e| e.eq_ignore_ascii_case(s));
        let kept = note.contains(&value)
            || as_email(&value)
            || as_email(value.trim_end_matches('.'))
            || value.rsplit_once('<').is_some_and(|(name, addr)| {
                as_email(addr.trim_end_matches('>')) && note.contains(name.trim().trim_matches('"'))
            });
        check!(
            p,
            kept,
            "{v}: the e-mail {value:?} is neither an EMAIL nor in NOTE ({:?} / {note:?})",
            card.emails()
        );
    }
    check!(
        p,
        card.emails().iter().any(|e| e == "jörg@exämple.de"),
        "{v}: the IDN e-mail is lost: {:?}",
        card.emails()
    );
    let card = mig.card(one_tagged(m, "email-needs-trim"));
    check!(p, card.emails() == ["spaced@example.com"], "{v}: e-mail not trimmed: {:?}", card.emails());
    let card = mig.card(one_tagged(m, "duplicate-email-within-contact"));
    check!(p, card.emails().len() == 1, "{v}: case variants of one e-mail kept twice: {:?}", card.emails());
    let id = one_tagged(m, "same-email-other-owner-not-duplicate");
    check!(p, mig.card(id).emails() == ["shared@example.com"], "{v}: the other owner's card lost its e-mail");
    let dup = one_tagged(m, "probable-duplicate-contact");
    check!(
        p,
        mig.card(dup).uid() != mig.card(one_tagged(m, "duplicate-email-within-contact")).uid(),
        "{v}: probable duplicates merged"
    );

    // Other odd rows.
    let card = mig.card(one_tagged(m, "note-only"));
    check!(p, card.text("NOTE").is_some_and(|n| !n.is_empty()), "{v}: the note-only card has no NOTE");
    let id = one_tagged(m, "show-as-company");
    let (c, card) = (legacy.contact(id.1), mig.card(id));
    check!(p, card.text("FN") == Some(raw_text(c, "company")), "{v}: company card FN {:?}", card.text("FN"));
    let id = one_tagged(m, "nick-only");
    let (c, card) = (legacy.contact(id.1), mig.card(id));
    check!(p, card.text("FN") == Some(raw_text(c, "nick")), "{v}: nick-only FN {:?}", card.text("FN"));
    let id = one_tagged(m, "phone-formats");
    let (c, card) = (legacy.contact(id.1), mig.card(id));
    let phones: Vec<String> = card.all("TEL").iter().map(|l| l.text()).collect();
    for number in c.child_values("ab_phone") {
        let number = decode(&number).trim().to_owned();
        if number.chars().any(|ch| ch.is_ascii_alphanumeric()) {
            check!(p, phones.contains(&number), "{v}: phone {number:?} lost: {phones:?}");
        }
    }
    check!(p, phones.iter().collect::<HashSet<_>>().len() == phones.len(), "{v}: a phone twice: {phones:?}");
    let id = one_tagged(m, "multiline-street");
    let (c, card) = (legacy.contact(id.1), mig.card(id));
    let adrs: Vec<Vec<String>> = card.all("ADR").iter().map(|l| l.components()).collect();
    let streets: Vec<String> = c
        .children
        .iter()
        .filter(|(t, _, _)| *t == "ab_address")
        .filter_map(|(_, _, v)| v[2].as_deref().map(decode))
        .filter(|s| !s.is_empty())
        .collect();
    for street in &streets {
        check!(
            p,
            adrs.iter().any(|a| a.len() == 7 && &a[2] == street),
            "{v}: street {street:?} became {adrs:?}"
        );
    }
    check!(
        p,
        adrs.iter().any(|a| a.get(6).is_some_and(|c| c == "Østerreich")),
        "{v}: the cp1252 country became {adrs:?}"
    );
    let card = mig.card(one_tagged(m, "null-created"));
    check!(
        p,
        card.get("REV").is_none()
            && card.get("X-LEGACY-CREATED").is_none()
            && card.get("X-LEGACY-MODIFIED").is_none(),
        "{v}: times invented for a contact without any: {}",
        card.unfolded
    );
    let id = one_tagged(m, "modified-in-future");
    let (c, card) = (legacy.contact(id.1), mig.card(id));
    let now = stamp(chrono::Utc::now().timestamp());
    check!(
        p,
        card.text("REV").is_none_or(|r| digits(&r) <= now),
        "{v}: REV in the future: {:?}",
        card.text("REV")
    );
    check!(
        p,
        card.text("X-LEGACY-MODIFIED") == c.modified.map(|t| t.to_string()),
        "{v}: the future time is not kept"
    );

    // URLs: nothing a client would run.
    let id = one_tagged(m, "url-dangerous-scheme");
    let card = mig.card(id);
    let urls: Vec<String> = card.all("URL").iter().map(|l| l.text()).collect();
    check!(
        p,
        urls.iter().all(|u| u.starts_with("http://") || u.starts_with("https://")),
        "{v}: URLs {urls:?}"
    );
    check!(p, urls.iter().all(|u| !u.contains(' ')), "{v}: a URL with a space: {urls:?}");
    check!(
        p,
        urls.iter().any(|u| u.contains("www.example.com")),
        "{v}: the scheme-less URL is lost: {urls:?}"
    );
    check!(p, mig.warnings(id, slug).contains("javascript:"), "{v}: the javascript: URL is not reported");
    check!(
        p,
        card.text("NOTE").is_some_and(|n| n.contains("javascript:alert(1)")),
        "{v}: the javascript: URL is not kept as text"
    );

    // Photos.
    let id = one_tagged(m, "photo-valid-png");
    let (c, card) = (legacy.contact(id.1), mig.card(id));
    check!(
        p,
        photo(card).is_some_and(|(b, k)| Some(&b) == c.photo.as_ref() && k == "png"),
        "{v}: the valid PNG is not kept byte for byte"
    );
    for tag in ["photo-corrupt", "photo-over-256k"] {
        let id = one_tagged(m, tag);
        check!(p, mig.card(id).get("PHOTO").is_none(), "{v}: {tag} stored as PHOTO");
        check!(p, mig.warnings(id, slug).contains("photo"), "{v}: {tag} not reported");
    }

    // The trash: not imported, counted.
    for (owner, id) in tagged(m, "trashed").into_iter().chain(tagged(m, "deleted-flag-2")) {
        check!(p, mig.any_card(id).is_none(), "{v}: trashed contact {id} of {owner} was imported");
    }
    for (owner, _) in OWNERS {
        let not_live = legacy.contacts.iter().filter(|c| c.owner == owner && c.deleted != 0).count() as u64;
        let o = entry(&mig.report, &owner.to_string(), slug);
        let reported: u64 = o["skipped"]
            .as_object()
            .expect("skipped")
            .iter()
            .filter(|(r, _)| r.starts_with("contacts"))
            .map(|(_, n)| n.as_u64().unwrap_or(0))
            .sum();
        check!(
            p,
            reported == not_live,
            "{v}: owner {owner} has {not_live} contacts in the trash, the report skips {}",
            o["skipped"]
        );
    }

    // Groups.
    let trashed = group_tagged(m, "group-trashed");
    check!(p, mig.group_card(trashed).is_none(), "{v}: the trashed group has a card");
    let (_, member) = membership_tagged(m, "trashed-group-live-member");
    let trashed_name =
        legacy.group(trashed.1).and_then(|g| g.name.as_deref().map(decode)).unwrap_or_default();
    let card = mig.card((trashed.0, member));
    check!(
        p,
        !card.categories().contains(&trashed_name),
        "{v}: CATEGORIES name the trashed group: {:?}",
        card.categories()
    );
    let (_, trashed_member) = membership_tagged(m, "live-group-trashed-member");
    for card in mig.books.values().flatten() {
        check!(
            p,
            !card.members().contains(&expected_uid("contact", trashed.0, trashed_member)),
            "{v}: a group lists the trashed contact"
        );
    }
    let specials = group_tagged(m, "group-name-vcard-specials");
    let name = legacy.group(specials.1).and_then(|g| g.name.as_deref().map(decode)).unwrap_or_default();
    check!(
        p,
        name.contains(',') && name.contains(';') && name.contains('\\'),
        "the fixture's group name is {name:?}"
    );
    check!(
        p,
        mig.group_card(specials).and_then(|c| c.text("FN")).as_deref() == Some(name.as_str()),
        "{v}: group FN with specials"
    );
    let (_, member) = membership_tagged(m, "group-with-specials");
    let cats = mig.card((specials.0, member)).categories();
    check!(
        p,
        cats == [name.clone()],
        "{v}: CATEGORIES with , ; \\ parse back as {cats:?}, expected [{name:?}]"
    );
    for (tag, expected) in [("group-name-latin1", "Fotballag Ålesund"), ("group-name-utf8", "Kunder €")] {
        let g = group_tagged(m, tag);
        let fn_text = mig.group_card(g).and_then(|c| c.text("FN"));
        check!(p, fn_text.as_deref() == Some(expected), "{v}: {tag} group FN {fn_text:?}");
    }
    let case = group_tagged(m, "group-name-case-duplicate");
    let (_, member) = membership_tagged(m, "case-duplicate-group");
    let cats = mig.card((case.0, member)).categories();
    check!(
        p,
        cats.contains(&"Work".to_owned()) && cats.contains(&"work".to_owned()),
        "{v}: Work and work merged: {cats:?}"
    );
    let empty = group_tagged(m, "group-empty");
    check!(p, mig.group_card(empty).is_some_and(|c| c.members().is_empty()), "{v}: the empty group");
    let unnamed = group_tagged(m, "group-name-empty");
    let (_, member) = membership_tagged(m, "empty-group-name");
    let card = mig.group_card(unnamed);
    check!(
        p,
        card.is_some_and(|c| c.members() == [expected_uid("contact", unnamed.0, member)]
            && c.text("FN").is_some_and(|f| !f.trim().is_empty())),
        "{v}: the group without a name: {card:?}"
    );
    let (group, contact) = membership_tagged(m, "duplicate-membership-row");
    let owner = legacy.group(group).map(|g| g.owner).unwrap_or(0);
    let card = mig.group_card((owner, group));
    let uid = expected_uid("contact", owner, contact);
    check!(
        p,
        card.is_some_and(|c| c.members().iter().filter(|m| **m == uid).count() == 1),
        "{v}: a membership listed twice"
    );
    check!(
        p,
        mig.card((owner, contact)).categories().iter().collect::<HashSet<_>>().len()
            == mig.card((owner, contact)).categories().len(),
        "{v}: a category twice"
    );
    p
}

#[tokio::test]
async fn nasty_records_are_decoded_escaped_and_reported_precisely() {
    let env = start(&["alice", "bob", "carol"]);
    let legacy = Legacy::fixture();
    let m = manifest();
    let mut problems = Vec::new();
    for (version, slug) in [("3.0", "v30"), ("4.0", "v40")] {
        let report = env.lwab(&sqlite_source(), &["--vcard-version", version, "--addressbook", slug]);
        let books = books_by_owner(&env, slug).await;
        let mig = Migrated { version, report, books };
        problems.extend(nasty_problems(&mig, slug, &legacy, &m));
    }
    assert_no_problems("nasty records", &problems);
}

// ====================================================================== 3. the three exports

#[tokio::test]
async fn the_three_lwab_exports_agree() {
    let env = start(&["alice", "bob", "carol"]);
    let first = env.lwab(&sqlite_source(), &[]);
    assert!(first["format_notes"].as_array().is_some_and(Vec::is_empty), "{}", first["format_notes"]);
    let mut before = BTreeMap::new();
    for (owner, user) in OWNERS {
        let client = env.client(user);
        let book = book_path(user, "default");
        before.insert(owner, (etags(&client, &book).await, sync_token(&client, &book).await));
    }

    // The MySQL dump makes byte-identical cards: nothing to do.
    let mysql = env.lwab(&mysql_source(), &[]);
    for (owner, user) in OWNERS {
        let o = entry(&mysql, &owner.to_string(), "default");
        let (etags_before, token_before) = &before[&owner];
        assert_eq!(
            counts(o),
            (0, 0, etags_before.len() as u64, 0),
            "owner {owner} from the MySQL dump: {o:#}"
        );
        let client = env.client(user);
        let book = book_path(user, "default");
        assert_eq!(&etags(&client, &book).await, etags_before, "owner {owner}: cards changed");
        assert_eq!(&sync_token(&client, &book).await, token_before, "owner {owner}: the book changed");
    }
    let a: Vec<Value> =
        first["owners"].as_array().expect("owners").iter().map(|o| o["warnings"].clone()).collect();
    let b: Vec<Value> =
        mysql["owners"].as_array().expect("owners").iter().map(|o| o["warnings"].clone()).collect();
    assert_eq!(a, b, "the SQLite file and the MySQL dump give different warnings");

    // The poorer CSV export never overwrites what the database gave.
    let csv = env.lwab(&csv_source(), &[]);
    assert!(
        csv["format_notes"].as_array().is_some_and(|n| !n.is_empty()),
        "no format notes for the CSV export"
    );
    for (owner, user) in OWNERS {
        let client = env.client(user);
        assert_eq!(
            etags(&client, &book_path(user, "default")).await,
            before[&owner].0,
            "owner {owner}: the CSV export overwrote cards"
        );
        let o = entry(&csv, &owner.to_string(), "default");
        assert_eq!((num(o, "imported"), num(o, "updated")), (0, 0), "owner {owner}: {o:#}");
    }

    // The CSV export on a fresh server: the manifest's counts, the same names, e-mails, phones and birthdays.
    let m = manifest();
    let fresh = start(&["alice", "bob", "carol"]);
    let report = fresh.lwab(&csv_source(), &[]);
    assert!(
        report["format_notes"].as_array().is_some_and(|n| !n.is_empty()),
        "no format notes for the CSV export"
    );
    let mut problems = Vec::new();
    for (owner, user) in OWNERS {
        let full = cards(&env.client(user), &book_path(user, "default")).await;
        let flat = cards(&fresh.client(user), &book_path(user, "default")).await;
        let full_by_id = by_legacy_id(&full, &mut problems);
        let flat_by_id = by_legacy_id(&flat, &mut problems);
        let empty = tagged(&m, "completely-empty-row").iter().filter(|(o, _)| *o == owner).count() as u64;
        let live = m["counts"]["live_contacts_per_owner"][owner.to_string()].as_u64().expect("count");
        check!(
            problems,
            flat_by_id.len() as u64 == live - empty,
            "CSV owner {owner}: {} contact cards, expected {}",
            flat_by_id.len(),
            live - empty
        );
        let o = entry(&report, &owner.to_string(), "default");
        check!(
            problems,
            num(o, "imported") == flat.len() as u64,
            "CSV owner {owner}: imported {} for {} cards",
            num(o, "imported"),
            flat.len()
        );
        for card in &flat {
            check!(problems, card.legacy_owner() == Some(owner), "CSV: {} in {owner}'s book", card.href);
            problems.extend(shape_problems("3.0", card, "lwab-csv"));
        }
        for (id, card) in &flat_by_id {
            let Some(other) = full_by_id.get(id) else {
                problems.push(format!("CSV owner {owner}: contact {id} is not in the database migration"));
                continue;
            };
            check!(
                problems,
                card.uid() == other.uid(),
                "CSV contact {id}: UID {} vs {}",
                card.uid(),
                other.uid()
            );
            for name in ["N", "NICKNAME", "EMAIL", "TEL", "BDAY", "X-LEGACY-BIRTHDAY"] {
                let mut a: Vec<String> = card.all(name).iter().map(|l| l.value.clone()).collect();
                let mut b: Vec<String> = other.all(name).iter().map(|l| l.value.clone()).collect();
                a.sort();
                b.sort();
                check!(
                    problems,
                    a == b,
                    "contact {id}: {name} from the CSV export {a:?}, from the database {b:?}"
                );
            }
        }
    }
    assert_no_problems("CSV export", &problems);
}

// ====================================================================== 4. idempotency

#[tokio::test]
async fn a_second_identical_run_changes_nothing() {
    let env = start(&["alice", "bob", "carol"]);
    for (version, slug) in [("3.0", "default"), ("4.0", "v40")] {
        let first = env.lwab(&sqlite_source(), &["--vcard-version", version, "--addressbook", slug]);
        let mut before = BTreeMap::new();
        for (owner, user) in OWNERS {
            let client = env.client(user);
            let book = book_path(user, slug);
            before.insert(owner, (etags(&client, &book).await, sync_token(&client, &book).await));
            let o = entry(&first, &owner.to_string(), slug);
            assert_eq!(num(o, "imported"), before[&owner].0.len() as u64, "{version} owner {owner}: {o:#}");
        }
        let second = env.lwab(&sqlite_source(), &["--vcard-version", version, "--addressbook", slug]);
        for (owner, user) in OWNERS {
            let o = entry(&second, &owner.to_string(), slug);
            let (etags_before, token_before) = &before[&owner];
            assert_eq!(
                counts(o),
                (0, 0, etags_before.len() as u64, 0),
                "{version} owner {owner} second run: {o:#}"
            );
            assert!(o["error"].is_null(), "{o:#}");
            let client = env.client(user);
            let book = book_path(user, slug);
            assert_eq!(&etags(&client, &book).await, etags_before, "{version} owner {owner}: ETags changed");
            assert_eq!(
                &sync_token(&client, &book).await,
                token_before,
                "{version} owner {owner}: the sync token moved"
            );
            let changes = changes_since(&client, &book, token_before).await;
            assert!(changes.is_empty(), "{version} owner {owner}: a sync reports changes {changes:?}");
        }
    }
}

// ====================================================================== 5. a change in the source

#[tokio::test]
async fn a_legacy_change_updates_exactly_that_card() {
    let env = start(&["alice", "bob", "carol"]);
    let m = manifest();
    let (owner, id) = one_tagged(&m, "baseline");
    let user = user_of(owner);
    let book = book_path(user, "default");
    let copy = env.sqlite_copy();
    let source = format!("lwab-sqlite:{}", copy.display());
    env.lwab(&source, &[]);
    let client = env.client(user);
    let before = etags(&client, &book).await;
    let token = sync_token(&client, &book).await;
    let href =
        cards(&client, &book).await.into_iter().find(|c| c.legacy_id() == Some(id)).expect("the card").href;

    let conn = rusqlite::Connection::open(&copy).expect("open the copy");
    let changed = conn
        .execute("UPDATE ab_contact SET last_name = 'Nordmann-Berg' WHERE id = ?1", [id])
        .expect("update");
    assert_eq!(changed, 1);
    drop(conn);

    let report = env.lwab(&source, &[]);
    for (o, _) in OWNERS {
        let entry = entry(&report, &o.to_string(), "default");
        let total = (num(entry, "imported") + num(entry, "updated") + num(entry, "unchanged")) as usize;
        if o == owner {
            assert_eq!(counts(entry), (0, 1, before.len() as u64 - 1, 0), "{entry:#}");
        } else {
            assert_eq!((num(entry, "imported"), num(entry, "updated")), (0, 0), "owner {o}: {entry:#}");
            assert!(total > 0);
        }
    }
    let after = etags(&client, &book).await;
    let differ: Vec<&String> = after.keys().filter(|h| before.get(*h) != after.get(*h)).collect();
    assert_eq!(differ, [&href], "exactly the changed contact's card is rewritten");
    assert_eq!(after.len(), before.len());
    let card = cards(&client, &book).await.into_iter().find(|c| c.href == href).expect("the card");
    let n = card.get("N").map(Line::components).unwrap_or_default();
    assert_eq!(n.first().map(String::as_str), Some("Nordmann-Berg"), "{}", card.raw);
    assert!(card.text("FN").is_some_and(|f| f.contains("Nordmann-Berg")), "{}", card.raw);
    assert_eq!(changes_since(&client, &book, &token).await, [href]);
}

// ====================================================================== 6. user edits

#[tokio::test]
async fn user_edits_survive_a_re_run() {
    let env = start(&["alice", "bob", "carol"]);
    let m = manifest();
    let (owner, id) = one_tagged(&m, "baseline");
    let (other_owner, other_id) = one_tagged(&m, "norwegian");
    assert_eq!(owner, other_owner);
    let user = user_of(owner);
    let book = book_path(user, "default");
    let copy = env.sqlite_copy();
    let source = format!("lwab-sqlite:{}", copy.display());
    env.lwab(&source, &[]);
    let client = env.client(user);
    let card = cards(&client, &book).await.into_iter().find(|c| c.legacy_id() == Some(id)).expect("the card");
    assert!(card.raw.contains("NOTE:Plain baseline contact."), "{}", card.raw);

    // The user changes the card through CardDAV.
    let edited = card.raw.replace("NOTE:Plain baseline contact.", "NOTE:Changed on my phone");
    let r = client.put(&card.href, "text/vcard; charset=utf-8", &edited, &[("If-Match", &card.etag)]).await;
    assert!(matches!(r.status, 200 | 201 | 204), "PUT: {} {}", r.status, r.body);
    let (_, headers, body) = client.send_bytes("GET", &card.href, &[], Vec::new()).await;
    let user_version = String::from_utf8(body).expect("UTF-8");
    let user_etag = headers.get("etag").and_then(|v| v.to_str().ok()).expect("ETag").to_owned();
    assert!(user_version.contains("Changed on my phone"));

    // The same source again: the user's version stays.
    let report = env.lwab(&source, &[]);
    let o = entry(&report, &owner.to_string(), "default");
    assert_eq!((num(o, "imported"), num(o, "updated"), num(o, "kept_user_edits")), (0, 0, 1), "{o:#}");
    let (_, headers, body) = client.send_bytes("GET", &card.href, &[], Vec::new()).await;
    assert_eq!(String::from_utf8(body).expect("UTF-8"), user_version, "the user's edit was overwritten");
    assert_eq!(headers.get("etag").and_then(|v| v.to_str().ok()), Some(user_etag.as_str()));

    // The source changes the same contact, and another one.
    let conn = rusqlite::Connection::open(&copy).expect("open the copy");
    conn.execute("UPDATE ab_contact SET last_name = 'Nordmann-Berg' WHERE id = ?1", [id]).expect("update");
    conn.execute("UPDATE ab_contact SET nick = 'Ærlig-nick' WHERE id = ?1", [other_id]).expect("update");
    drop(conn);
    let report = env.lwab(&source, &[]);
    let o = entry(&report, &owner.to_string(), "default");
    assert_eq!((num(o, "imported"), num(o, "updated"), num(o, "kept_user_edits")), (0, 1, 1), "{o:#}");
    let w = warnings_of(o, &format!("contact {id}")).to_lowercase();
    assert!(w.contains("user") && w.contains("source"), "no warning that both changed: {w:?}");
    let (_, _, body) = client.send_bytes("GET", &card.href, &[], Vec::new()).await;
    assert_eq!(String::from_utf8(body).expect("UTF-8"), user_version, "the user's edit was overwritten");
    let other =
        cards(&client, &book).await.into_iter().find(|c| c.legacy_id() == Some(other_id)).expect("card");
    assert_eq!(other.text("NICKNAME").as_deref(), Some("Ærlig-nick"), "the untouched card is updated");
}

#[tokio::test]
async fn undo_removes_what_the_migration_wrote_and_nothing_else() {
    let env = start(&["alice", "bob", "carol"]);
    let m = manifest();
    let (owner, id) = one_tagged(&m, "baseline");
    let user = user_of(owner);
    let book = book_path(user, "default");
    let client = env.client(user);
    let own = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:made-by-the-user\r\nFN:Mine\r\nN:;Mine;;;\r\nEND:VCARD\r\n";
    let r = client.put(&format!("{book}mine.vcf"), "text/vcard; charset=utf-8", own, &[]).await;
    assert_eq!(r.status, 201, "{}", r.body);
    env.lwab(&sqlite_source(), &[]);
    let migrated = cards(&client, &book).await;
    let card = migrated.iter().find(|c| c.legacy_id() == Some(id)).expect("the card");
    let edited = card.raw.replace("NOTE:Plain baseline contact.", "NOTE:Changed on my phone");
    let r = client.put(&card.href, "text/vcard; charset=utf-8", &edited, &[("If-Match", &card.etag)]).await;
    assert!(matches!(r.status, 200 | 201 | 204), "PUT: {} {}", r.status, r.body);

    // A dry run of the undo removes nothing and says what it would remove.
    let before = etags(&client, &book).await;
    let dry = env.lwab(&sqlite_source(), &["--undo", "--dry-run"]);
    assert_eq!(etags(&client, &book).await, before);
    let o = entry(&dry, &owner.to_string(), "default");
    assert_eq!(num(o, "removed") as usize, migrated.len() - 2, "all migrated cards but the edited one");

    let report = env.lwab(&sqlite_source(), &["--undo"]);
    let o = entry(&report, &owner.to_string(), "default");
    assert_eq!((num(o, "removed") as usize, num(o, "kept_user_edits")), (migrated.len() - 2, 1), "{o:#}");
    let left: BTreeSet<String> = cards(&client, &book).await.into_iter().map(|c| c.href).collect();
    let expected: BTreeSet<String> = [card.href.clone(), format!("{book}mine.vcf")].into_iter().collect();
    assert_eq!(left, expected, "only the user's own card and the edited one stay");
    for (other_owner, other_user) in OWNERS.iter().filter(|(o, _)| *o != owner) {
        let o = entry(&report, &other_owner.to_string(), "default");
        assert_eq!(num(o, "kept_user_edits"), 0);
        assert_eq!(cards(&env.client(other_user), &book_path(other_user, "default")).await.len(), 0);
    }
    // Migrating again brings the cards back, and leaves the edited one alone.
    let again = env.lwab(&sqlite_source(), &[]);
    let o = entry(&again, &owner.to_string(), "default");
    assert_eq!((num(o, "imported") as usize, num(o, "kept_user_edits")), (migrated.len() - 2, 1), "{o:#}");
}

// ====================================================================== 7. dry run

#[tokio::test]
async fn a_dry_run_writes_nothing_and_reports_what_a_real_run_does() {
    let env = start(&["alice", "bob", "carol"]);
    let mut tokens = BTreeMap::new();
    for (owner, user) in OWNERS {
        tokens.insert(owner, sync_token(&env.client(user), &book_path(user, "default")).await);
    }
    let dry_new = env.lwab(&sqlite_source(), &["--dry-run", "--addressbook", "migrated"]);
    let dry_default = env.lwab(&sqlite_source(), &["--dry-run"]);
    for report in [&dry_new, &dry_default] {
        assert_eq!(report["dry_run"], true);
    }
    for (owner, user) in OWNERS {
        let client = env.client(user);
        assert!(!exists(&client, &book_path(user, "migrated")).await, "a dry run created {user}'s book");
        assert!(
            etags(&client, &book_path(user, "default")).await.is_empty(),
            "a dry run wrote into {user}'s book"
        );
        assert_eq!(sync_token(&client, &book_path(user, "default")).await, tokens[&owner]);
        assert!(!exists(&client, &book_path(user, "default-trash")).await);
    }

    // The real run reports what the dry runs said.
    let real = env.lwab(&sqlite_source(), &["--addressbook", "migrated"]);
    assert_eq!(real["dry_run"], false);
    let same = |o: &Value| {
        let mut o = o.clone();
        o.as_object_mut().expect("object").remove("addressbook");
        o
    };
    for (owner, user) in OWNERS {
        let d = entry(&dry_new, &owner.to_string(), "migrated");
        let r = entry(&real, &owner.to_string(), "migrated");
        assert_eq!(d, r, "owner {owner}: the dry run and the real run differ");
        assert_eq!(same(entry(&dry_default, &owner.to_string(), "default")), same(r), "owner {owner}");
        let written = etags(&env.client(user), &book_path(user, "migrated")).await;
        assert_eq!(written.len() as u64, num(r, "imported"));
        assert!(num(r, "imported") > 0);
    }

    // A dry run over the migrated book: all unchanged, nothing touched.
    let mut before = BTreeMap::new();
    for (owner, user) in OWNERS {
        let client = env.client(user);
        let book = book_path(user, "migrated");
        before.insert(owner, (etags(&client, &book).await, sync_token(&client, &book).await));
    }
    let again = env.lwab(&sqlite_source(), &["--dry-run", "--addressbook", "migrated"]);
    for (owner, user) in OWNERS {
        let o = entry(&again, &owner.to_string(), "migrated");
        assert_eq!(counts(o), (0, 0, before[&owner].0.len() as u64, 0), "{o:#}");
        let client = env.client(user);
        let book = book_path(user, "migrated");
        assert_eq!((etags(&client, &book).await, sync_token(&client, &book).await), before[&owner]);
    }
}

// ====================================================================== 8. interrupted runs

/// Each book has one card per UID and per legacy id.
fn assert_no_duplicates(what: &str, cards: &[Card]) {
    let uids: HashSet<String> = cards.iter().map(Card::uid).collect();
    assert_eq!(uids.len(), cards.len(), "{what}: duplicate UIDs");
    let mut problems = Vec::new();
    by_legacy_id(cards, &mut problems);
    assert_no_problems(what, &problems);
}

#[tokio::test]
async fn a_partial_or_failed_run_is_completed_by_the_next_one() {
    // A run of one owner only, then the whole source.
    let env = start(&["alice", "bob", "carol"]);
    let partial = env.lwab(&sqlite_source(), &["--only-owner", "1001"]);
    assert_eq!(owners_in(&partial), [("1001".to_owned(), "default".to_owned())]);
    let alice_before = etags(&env.client("alice"), &book_path("alice", "default")).await;
    assert!(!alice_before.is_empty());
    for user in ["bob", "carol"] {
        assert!(etags(&env.client(user), &book_path(user, "default")).await.is_empty());
    }
    let full = env.lwab(&sqlite_source(), &[]);
    assert_eq!(counts(entry(&full, "1001", "default")), (0, 0, alice_before.len() as u64, 0));
    assert_eq!(etags(&env.client("alice"), &book_path("alice", "default")).await, alice_before);
    for (owner, user) in OWNERS {
        let cards = cards(&env.client(user), &book_path(user, "default")).await;
        assert_no_duplicates(user, &cards);
        if owner != 1001 {
            assert_eq!(counts(entry(&full, &owner.to_string(), "default")), (cards.len() as u64, 0, 0, 0));
        }
    }

    // A run that fails for one owner (no such user yet), then again once the user exists.
    let env = start(&["alice", "carol"]);
    let map = env.owner_map(&[(1001, "alice"), (1002, "dave"), (1003, "carol")]);
    let run = env.migrate(&["--source", &sqlite_source(), "--owner-map", &map]);
    assert!(!run.success, "a missing user must fail the run: {}", run.stdout);
    let report = run.report.expect("a report of the failed run");
    assert!(entry(&report, "1002", "default")["error"].is_string());
    let mut before = BTreeMap::new();
    for user in ["alice", "carol"] {
        before.insert(user, etags(&env.client(user), &book_path(user, "default")).await);
    }
    env.server.add_user("dave", PW);
    let report = env.migrate_ok(&["--source", &sqlite_source(), "--owner-map", &map]);
    for (owner, user) in [(1001, "alice"), (1003, "carol")] {
        assert_eq!(
            counts(entry(&report, &owner.to_string(), "default")),
            (0, 0, before[user].len() as u64, 0)
        );
        assert_eq!(etags(&env.client(user), &book_path(user, "default")).await, before[user]);
    }
    let dave = cards(&env.client("dave"), &book_path("dave", "default")).await;
    assert_no_duplicates("dave", &dave);
    assert_eq!(counts(entry(&report, "1002", "default")), (dave.len() as u64, 0, 0, 0));
    assert!(dave.iter().all(|c| c.legacy_owner() == Some(1002)));
}

// ====================================================================== 9. the owner map

#[tokio::test]
async fn the_owner_map_decides_who_gets_what() {
    let env = start(&["alice", "bob", "carol"]);
    let legacy = Legacy::fixture();

    // An owner not in the map: listed with its count, nothing written.
    let map = env.owner_map(&[(1001, "alice"), (1002, "bob")]);
    let report = env.migrate_ok(&["--source", &sqlite_source(), "--owner-map", &map]);
    let total_1003 = legacy.contacts.iter().filter(|c| c.owner == 1003).count();
    assert_eq!(report["unknown_owners"], serde_json::json!([["1003", total_1003]]));
    assert!(!owners_in(&report).iter().any(|(o, _)| o == "1003"), "{report:#}");
    assert!(etags(&env.client("carol"), &book_path("carol", "default")).await.is_empty());
    for (owner, user) in [(1001, "alice"), (1002, "bob")] {
        let cards = cards(&env.client(user), &book_path(user, "default")).await;
        assert!(!cards.is_empty());
        assert!(
            cards.iter().all(|c| c.legacy_owner() == Some(owner)),
            "{user}'s book holds another owner's cards"
        );
    }

    // An owner mapped to a user that does not exist: an error, a non-zero exit, nothing written.
    let map = env.owner_map(&[(1003, "nobody")]);
    let run = env.migrate(&["--source", &sqlite_source(), "--owner-map", &map, "--addressbook", "failed"]);
    assert!(!run.success, "mapping to a missing user must fail: {}", run.stdout);
    assert!(!run.stderr.trim().is_empty());
    let report = run.report.expect("the report of the failed run");
    let o = entry(&report, "1003", "failed");
    assert!(o["error"].as_str().is_some_and(|e| e.contains("nobody")), "{o:#}");
    assert_eq!((num(o, "imported"), num(o, "updated")), (0, 0));
    for (_, user) in OWNERS {
        assert!(!exists(&env.client(user), &book_path(user, "failed")).await, "{user} got a book");
    }
    assert!(etags(&env.client("carol"), &book_path("carol", "default")).await.is_empty());

    // --only-owner selects.
    let report = env.lwab(&sqlite_source(), &["--only-owner", "1002", "--addressbook", "only"]);
    assert_eq!(owners_in(&report), [("1002".to_owned(), "only".to_owned())]);
    assert!(report["unknown_owners"].as_array().is_some_and(Vec::is_empty));
    let bob = cards(&env.client("bob"), &book_path("bob", "only")).await;
    assert_eq!(bob.len() as u64, num(entry(&report, "1002", "only"), "imported"));
    assert!(bob.iter().all(|c| c.legacy_owner() == Some(1002)));
    for user in ["alice", "carol"] {
        assert!(!exists(&env.client(user), &book_path(user, "only")).await);
    }

    // A map that gives one owner to two users is refused.
    let map = env.write("twice.csv", "1001,alice\n1001,bob\n");
    let run = env.migrate(&["--source", &sqlite_source(), "--owner-map", &map, "--addressbook", "twice"]);
    assert!(!run.success);
    assert!(run.stderr.contains("1001"), "{}", run.stderr);
    for user in ["alice", "bob"] {
        assert!(!exists(&env.client(user), &book_path(user, "twice")).await);
    }
}

// ====================================================================== 10. the trash

#[tokio::test]
async fn include_trashed_fills_a_separate_trash_book() {
    let env = start(&["alice", "bob", "carol"]);
    let legacy = Legacy::fixture();
    env.lwab(&sqlite_source(), &[]);
    for (_, user) in OWNERS {
        assert!(
            !exists(&env.client(user), &book_path(user, "default-trash")).await,
            "a trash book without --include-trashed"
        );
    }
    let report = env.lwab(&sqlite_source(), &["--include-trashed"]);
    for (owner, user) in OWNERS {
        let client = env.client(user);
        let trash = cards(&client, &book_path(user, "default-trash")).await;
        let main = cards(&client, &book_path(user, "default")).await;
        let trash_ids: BTreeSet<i64> = trash.iter().filter_map(Card::legacy_id).collect();
        let in_trash: BTreeSet<i64> =
            legacy.contacts.iter().filter(|c| c.owner == owner && c.deleted == 1).map(|c| c.id).collect();
        assert!(!in_trash.is_empty());
        assert_eq!(
            trash_ids, in_trash,
            "owner {owner}: the trash book holds the trash, not what awaits purging"
        );
        for card in &trash {
            let id = card.legacy_id().expect("a contact card");
            assert_eq!(card.legacy_owner(), Some(owner));
            assert_eq!(legacy.contact(id).deleted, 1, "contact {id} is not in the legacy trash");
            assert!(!card.is_group());
        }
        for card in &main {
            assert!(
                card.legacy_id().is_none_or(|id| legacy.contact(id).deleted == 0),
                "trashed card in {user}'s main book"
            );
        }
        let o = entry(&report, &owner.to_string(), "default-trash");
        assert_eq!(num(o, "imported"), trash.len() as u64);
        assert_eq!(num(entry(&report, &owner.to_string(), "default"), "imported"), 0);
    }
    // Nowhere else: no other user's books.
    for (_, user) in OWNERS {
        let books = books_of(&env.client(user), user).await;
        let expected: BTreeSet<String> =
            ["default", "default-trash"].iter().map(|b| book_path(user, b)).collect();
        assert_eq!(books, expected);
    }
}

// ====================================================================== 11. generic sources

/// Migrates a generic file for alice, twice; the cards after the first run.
async fn generic(kind: &str, file: &str) -> (Value, Vec<Card>) {
    let env = start(&["alice"]);
    let source = format!("{kind}:{}", legacy_file(file));
    let report = env.migrate_ok(&["--source", &source, "--user", "alice"]);
    let book = book_path("alice", "default");
    let client = env.client("alice");
    let cards = cards(&client, &book).await;
    let o = entry(&report, "-", "default");
    assert_eq!(num(o, "imported"), cards.len() as u64, "{o:#}");
    for card in &cards {
        let problems = shape_problems("3.0", card, kind);
        assert_no_problems(&card.href, &problems);
    }
    let before = etags(&client, &book).await;
    let again = env.migrate_ok(&["--source", &source, "--user", "alice"]);
    assert_eq!(counts(entry(&again, "-", "default")), (0, 0, cards.len() as u64, 0), "{file}: second run");
    assert_eq!(etags(&client, &book).await, before);
    (report, cards)
}

fn find<'a>(cards: &'a [Card], fn_contains: &str) -> &'a Card {
    cards.iter().find(|c| c.text("FN").is_some_and(|f| f.contains(fn_contains))).unwrap_or_else(|| {
        panic!(
            "no card named {fn_contains:?} in {:?}",
            cards.iter().map(|c| c.text("FN")).collect::<Vec<_>>()
        )
    })
}

#[tokio::test]
async fn generic_vcard21_quoted_printable_and_charsets() {
    let (_, cards) = generic("vcard", "vcard21.vcf").await;
    let names: Vec<Option<String>> = cards.iter().map(|c| c.text("FN")).collect();
    let jurgen = find(&cards, "Jürgen Müller");
    assert_eq!(jurgen.get("N").map(Line::components).unwrap_or_default()[..2], ["Müller", "Jürgen"]);
    assert_eq!(jurgen.emails(), ["juergen@example.com"]);
    let tels: Vec<String> = jurgen.all("TEL").iter().map(|l| l.text()).collect();
    assert_eq!(tels, ["+1 555 0140", "+1 555 0141"]);
    assert!(jurgen.all("TEL")[0].types().contains("cell"));
    assert!(photo(jurgen).is_some_and(|(b, _)| b.starts_with(b"\x89PNG")));
    // The second card: ISO-8859-1 quoted-printable N, a UTF-8 FN over soft line
    // breaks, a CRLF in a quoted-printable NOTE, and an embedded AGENT vCard.
    let aerlig = cards
        .iter()
        .find(|c| c.get("N").is_some_and(|n| n.components().first().is_some_and(|f| f == "Østby")))
        .unwrap_or_else(|| panic!("the second vCard (N:Østby;Ærlig) is lost; the cards are {names:?}"));
    assert_eq!(aerlig.get("N").map(Line::components).unwrap_or_default()[..2], ["Østby", "Ærlig"]);
    let fn_text = aerlig.text("FN").unwrap_or_default();
    // Six times "Александр", over four soft line breaks.
    assert_eq!(fn_text, ["Александр"; 6].join(" "), "quoted-printable FN");
    assert_eq!(aerlig.text("NOTE").map(|n| n.replace("\r\n", "\n")).as_deref(), Some("line 1\nline 2"));
    let adr = aerlig.get("ADR").map(Line::components).unwrap_or_default();
    assert_eq!(adr.get(3).map(String::as_str), Some("Ålesund"), "{adr:?}");
    assert_eq!(cards.len(), 2, "one card per top-level vCard: {names:?}");
}

#[tokio::test]
async fn generic_apple_vcard30_keeps_labels_and_groups() {
    let (_, cards) = generic("vcard", "apple_vcard30.vcf").await;
    assert_eq!(cards.len(), 3);
    let kari = find(&cards, "Kari Nordmann");
    assert_eq!(kari.uid(), "0F0F0F0F-0000-4000-8000-000000000001");
    let email = kari.get("EMAIL").expect("EMAIL");
    assert_eq!(email.text(), "kari@example.com");
    let label = kari
        .all("X-ABLABEL")
        .into_iter()
        .find(|l| l.group.is_some() && l.group == email.group)
        .expect("the e-mail's X-ABLabel in the same item group");
    assert_eq!(label.text(), "Parents, old");
    let tel = kari.get("TEL").expect("TEL");
    assert!(kari.all("X-ABLABEL").iter().any(|l| l.group == tel.group && l.value == "_$!<Other>!$_"));
    let bday = kari.get("BDAY").expect("BDAY");
    assert_eq!((bday.value.as_str(), bday.param("X-APPLE-OMIT-YEAR")), ("1604-05-17", Some("1604")));
    let acme = find(&cards, "Acme Widgets");
    assert_eq!(acme.text("X-ABSHOWAS").as_deref(), Some("COMPANY"));
    let family = find(&cards, "Family");
    assert!(family.is_group());
    assert!(family.members().contains(&kari.uid()));
}

#[tokio::test]
async fn generic_google_csv() {
    let (report, cards) = generic("google-csv", "google.csv").await;
    assert!(report["format_notes"].as_array().is_some_and(|n| !n.is_empty()));
    assert_eq!(cards.len(), 2);
    let zoe = find(&cards, "Zoë");
    let mut emails = zoe.emails();
    emails.sort();
    assert_eq!(emails, ["zoe.alt@example.org", "zoe@example.com"]);
    let tels: BTreeSet<String> = zoe.all("TEL").iter().map(|l| l.text()).collect();
    assert_eq!(tels, BTreeSet::from(["+1 555 0120", "+1 555 0121"].map(String::from)));
    assert_eq!(zoe.categories(), ["Friends"]);
    assert_eq!(bday_date(zoe), Some((None, 5, 17)), "a year-less birthday stays year-less");
    assert!(zoe.text("NOTE").is_some_and(|n| n.contains("Year-less birthday, two values in one cell")));
    let acme = find(&cards, "Acme Widgets");
    assert_eq!(acme.emails(), ["ceo@example.com"]);
    assert_eq!(acme.text("TITLE").as_deref(), Some("CEO"));
    assert_eq!(bday_date(acme), Some((Some(1960), 1, 31)));
    assert!(
        acme.get("ADR").is_some_and(|a| a.text().contains("Springfield") && a.text().contains("1 Main St"))
    );
}

#[tokio::test]
async fn generic_outlook_csv() {
    let (report, cards) = generic("outlook-csv", "outlook.csv").await;
    assert!(report["format_notes"].as_array().is_some_and(|n| !n.is_empty()));
    assert_eq!(cards.len(), 2);
    let kari = find(&cards, "Kari Nordmann");
    assert_eq!(kari.emails(), ["kari@example.com"]);
    assert_eq!(bday_date(kari), Some((Some(1970), 5, 17)));
    assert_eq!(kari.categories(), ["Family", "Friends"]);
    let note = kari.text("NOTE").unwrap_or_default();
    assert!(note.contains("Multi-line\nnote with € and “quotes”"), "{note:?}");
    assert!(kari.all("TEL").iter().any(|t| t.text() == "+1 555 0110"));
    let jurgen = find(&cards, "Jürgen Müßig");
    assert!(jurgen.get("ADR").is_some_and(|a| a.components().get(3).is_some_and(|c| c == "Köln")));
    assert!(jurgen.emails().contains(&"juergen@example.org".to_owned()));
    for card in &cards {
        for e in card.emails() {
            assert!(
                is_email(&e),
                "EMAIL {e:?} is not an e-mail address (Outlook's E-mail Type EX is an Exchange name): {}",
                card.raw
            );
        }
    }
}

#[tokio::test]
async fn generic_thunderbird_ldif() {
    let (report, cards) = generic("ldif", "thunderbird.ldif").await;
    assert!(report["format_notes"].as_array().is_some_and(|n| !n.is_empty()));
    assert_eq!(cards.len(), 3);
    let kari = find(&cards, "Kari Nordmann");
    assert_eq!(kari.emails(), ["kari@example.com", "kari.alt@example.org"]);
    assert_eq!(kari.text("NOTE").as_deref(), Some("note line 1\nnote line 2"));
    assert_eq!(bday_date(kari), Some((None, 5, 17)));
    assert_eq!(kari.text("NICKNAME").as_deref(), Some("Kari"));
    let aerlig = find(&cards, "Ærlig Østby");
    assert_eq!(aerlig.emails(), ["aerlig@example.com"]);
    assert!(aerlig.get("ADR").is_some_and(|a| a.components().get(3).is_some_and(|c| c == "Ålesund")));
    let family = find(&cards, "Family");
    assert!(family.is_group());
    let members: BTreeSet<String> = family.members().into_iter().collect();
    assert_eq!(members, BTreeSet::from([kari.uid(), aerlig.uid()]));
}

// ====================================================================== 12. while a client syncs

#[tokio::test]
async fn a_syncing_client_sees_exactly_the_migrated_cards() {
    let env = start(&["alice"]);
    let client = env.client("alice");
    let book = book_path("alice", "default");
    let initial = client.sync(&book, "").await;
    assert!(initial.hrefs().iter().all(|h| *h == book), "the new book is not empty");
    let token = initial.sync_token.expect("a sync token");

    let map = env.owner_map(&[(1001, "alice")]);
    let report = env.migrate_ok(&["--source", &sqlite_source(), "--owner-map", &map]);
    let imported = num(entry(&report, "1001", "default"), "imported");
    assert!(report["unknown_owners"].as_array().is_some_and(|u| u.len() == 2));

    let delta = client.sync(&book, &token).await;
    let changed: Vec<String> = delta.hrefs().into_iter().filter(|h| *h != book).collect();
    assert_eq!(changed.len() as u64, imported, "the sync lists each new card once");
    assert!(delta.entries.iter().all(|e| e.status.is_none()), "no removals");
    let listed: Vec<String> = cards(&client, &book).await.into_iter().map(|c| c.href).collect();
    assert_eq!(changed, listed);
    for href in changed.iter().take(20) {
        let (status, _, body) = client.send_bytes("GET", href, &[], Vec::new()).await;
        assert_eq!(status, 200);
        assert!(Card::parse(href, "", &body).legacy_owner() == Some(1001));
    }
    let next = delta.sync_token.expect("a new token");
    assert!(changes_since(&client, &book, &next).await.is_empty());
}

// ====================================================================== 13. command errors

#[tokio::test]
async fn command_errors_are_clear_and_change_nothing() {
    let env = start(&["alice"]);
    let client = env.client("alice");
    let map = env.owner_map(&[(1001, "alice")]);
    let twice = env.write("twice.csv", "1001,alice\n1001,alice2\n");
    let missing = env.scratch.path().join("missing.sqlite");
    let missing_source = format!("lwab-sqlite:{}", missing.display());
    let vcard = format!("vcard:{}", legacy_file("vcard21.vcf"));
    let not_a_dump = format!("lwab-mysql:{}", legacy_file("lwab_v1.sqlite"));
    let no_lwab_data = format!("lwab-mysql:{}", legacy_file("google.csv"));
    let books_before = books_of(&client, "alice").await;
    let token_before = sync_token(&client, &book_path("alice", "default")).await;

    let sqlite = sqlite_source();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--source", "nonsense:/tmp/x", "--owner-map", &map], "nonsense"),
        (vec!["--source", "lwab-sqlite", "--owner-map", &map], "KIND:PATH"),
        (vec!["--source", &missing_source, "--owner-map", &map], "missing.sqlite"),
        (vec!["--source", &sqlite, "--owner-map", &map, "--vcard-version", "5.0"], "5.0"),
        (vec!["--source", &sqlite, "--user", "alice"], "--owner-map"),
        (vec!["--source", &sqlite, "--owner-map", &map, "--user", "alice"], "--user"),
        (vec!["--source", &vcard], "--user"),
        (vec!["--source", &sqlite, "--owner-map", &twice], "twice"),
        (vec!["--source", &sqlite, "--owner-map", &map, "--only-owner", "4242"], "4242"),
        (vec!["--source", &sqlite, "--owner-map", "/nonexistent/owners.csv"], "owners.csv"),
        (vec!["--source", &sqlite, "--owner-map", &map, "--addressbook", "../evil"], "../evil"),
        (vec!["--source", &not_a_dump, "--owner-map", &map], "error"),
        (vec!["--source", &no_lwab_data, "--owner-map", &map], "holds no LWAB data"),
    ];
    for (args, expected) in cases {
        let run = env.migrate(&args);
        assert!(!run.success, "{args:?} succeeded: {}", run.stdout);
        assert!(run.stderr.contains(expected), "{args:?}: stderr does not say {expected:?}: {}", run.stderr);
        assert!(!run.report_path.exists() || run.report.is_none(), "{args:?} wrote a report");
        assert_eq!(books_of(&client, "alice").await, books_before, "{args:?} created an address book");
        assert_eq!(
            sync_token(&client, &book_path("alice", "default")).await,
            token_before,
            "{args:?} wrote cards"
        );
    }
    assert!(!missing.exists(), "the missing source file was created");
}
