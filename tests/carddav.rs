//! CardDAV (RFC 6352) over real HTTP: the client corpus stored byte for
//! byte, version negotiation (vCard 3.0 / 4.0 / jCard) and round trips,
//! groups in both dialects, addressbook-query (filters, collations, limits,
//! the search index) and addressbook-multiget, the PUT preconditions of
//! §6.3.2.1, address-book collections, a real-world corpus, and
//! `skjold import` (legacy files, a restore of `skjold export`, and a few
//! thousand cards).
//!
//! The client corpus is `fixtures/vcf/` (see its README.md); the real-world
//! corpus is `fixtures/realworld/vcf/`.

mod common;
use common::*;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use base64::Engine;

const BOOK: &str = "/dav/addressbooks/alice/default/";
const WORK: &str = "/dav/addressbooks/alice/work/";
const VCARD_CT: &str = "text/vcard; charset=utf-8";
const ACCEPT_V3: &str = "text/vcard;version=3.0";
const ACCEPT_V4: &str = "text/vcard;version=4.0";
const JCARD: &str = "application/vcard+json";
const SUPPORTED_COLLATIONS: [&str; 3] = ["i;ascii-casemap", "i;octet", "i;unicode-casemap"];

// ====================================================================== helpers

fn setup() -> (Server, Client) {
    let server = Server::start();
    server.add_user("alice", "pw");
    let client = server.client("alice", "pw");
    (server, client)
}

fn qname(ns: &str, local: &str) -> String {
    format!("{{{ns}}}{local}")
}

/// Every `.vcf` file of a fixture folder, sorted by name.
fn vcf_files(dir: &str) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(fixture(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "vcf"))
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("read fixture"))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .vcf files in {dir}");
    files
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    vcf_files("fixtures/vcf")
}

fn corpus_file(name: &str) -> Vec<u8> {
    std::fs::read(fixture(&format!("fixtures/vcf/{name}"))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn corpus_text(name: &str) -> String {
    String::from_utf8(corpus_file(name)).unwrap_or_else(|_| panic!("{name} is not UTF-8"))
}

async fn put_card(client: &Client, path: &str, body: impl Into<Vec<u8>>) -> Resp {
    client.send("PUT", path, &[("Content-Type", VCARD_CT)], body).await
}

/// PUTs a card that must be created; returns its ETag.
async fn put_new(client: &Client, path: &str, body: impl Into<Vec<u8>>) -> String {
    let r = put_card(client, path, body).await;
    assert_eq!(r.status, 201, "PUT {path}: {}", r.body);
    r.etag()
}

/// GET with an optional Accept header; the body as bytes.
async fn get_as(
    client: &Client,
    path: &str,
    accept: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let headers: Vec<(&str, &str)> = accept.map(|a| vec![("Accept", a)]).unwrap_or_default();
    client.send_bytes("GET", path, &headers, Vec::new()).await
}

/// GET that must succeed; the body as UTF-8 text.
async fn get_text(client: &Client, path: &str, accept: Option<&str>) -> String {
    let (status, _, body) = get_as(client, path, accept).await;
    assert_eq!(status, 200, "GET {path} (Accept {accept:?}): {}", String::from_utf8_lossy(&body));
    String::from_utf8(body).unwrap_or_else(|_| panic!("GET {path} (Accept {accept:?}) is not UTF-8"))
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The sync token of a collection (DAV:sync-token by PROPFIND).
async fn sync_token(client: &Client, path: &str) -> String {
    client.props(path, "0", &[(DAV, "sync-token")]).await.multistatus().entry(path).text(DAV, "sync-token")
}

/// Member hrefs of a collection (Depth 1 PROPFIND), without the collection itself.
async fn members(client: &Client, path: &str) -> Vec<String> {
    let ms = client.props(path, "1", &[(DAV, "getetag")]).await.multistatus();
    ms.hrefs().into_iter().filter(|h| h != path).collect()
}

/// Extended MKCOL (RFC 5689) of an address book.
async fn mkbook(client: &Client, path: &str, displayname: &str, description: &str) -> Resp {
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:C="{CARDDAV}"><D:set><D:prop>
<D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>
<D:displayname>{displayname}</D:displayname>
<C:addressbook-description>{description}</C:addressbook-description>
</D:prop></D:set></D:mkcol>"#
    );
    client.send("MKCOL", path, &[("Content-Type", "application/xml; charset=utf-8")], body).await
}

async fn copy_or_move(server: &Server, client: &Client, method: &str, from: &str, to: &str) -> Resp {
    let destination = format!("{}{}", server.base, to);
    client.send(method, from, &[("Destination", destination.as_str()), ("Overwrite", "F")], Vec::new()).await
}

// ---------------------------------------------------------------- a small vCard reader, independent of the server's

/// One content line: group, upper-cased name, parameters (upper-cased
/// names, unquoted values) and the value as written.
#[derive(Debug, Clone)]
struct Line {
    group: Option<String>,
    name: String,
    params: Vec<(String, Vec<String>)>,
    value: String,
    /// Name and parameters as written.
    head: String,
}

impl Line {
    fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.first()).map(String::as_str)
    }

    fn has_param(&self, name: &str) -> bool {
        self.params.iter().any(|(n, _)| n == name)
    }

    /// TYPE values as written, lower-cased and split at commas.
    fn raw_types(&self) -> BTreeSet<String> {
        self.params
            .iter()
            .filter(|(n, _)| n == "TYPE")
            .flat_map(|(_, v)| v.iter())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect()
    }

    /// TYPE values with a vCard 4 PREF parameter counted as `pref`.
    fn types(&self) -> BTreeSet<String> {
        let mut t = self.raw_types();
        if self.has_param("PREF") {
            t.insert("pref".into());
        }
        t
    }

    /// The value split at unescaped `;` and `,`, each part unescaped.
    fn components(&self) -> Vec<Vec<String>> {
        split_escaped(&self.value, ';')
            .iter()
            .map(|c| split_escaped(c, ',').iter().map(|s| unescape(s)).collect())
            .collect()
    }

    fn text(&self) -> String {
        unescape(&self.value)
    }

    /// Parameters other than the ones version conversion may change.
    fn other_params(&self) -> BTreeMap<String, Vec<String>> {
        const CONVERTED: &[&str] =
            &["TYPE", "PREF", "VALUE", "ENCODING", "CHARSET", "X-APPLE-OMIT-YEAR", "MEDIATYPE"];
        self.params.iter().filter(|(n, _)| !CONVERTED.contains(&n.as_str())).cloned().collect()
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

/// RFC 6350 §3.4 / RFC 2426 §4 text escapes; other backslashes stay.
fn unescape(s: &str) -> String {
    let mut out = String::new();
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

/// Unfolds at the octet level (a fold may split a UTF-8 sequence), then decodes.
fn unfold(bytes: &[u8]) -> String {
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
    String::from_utf8(out).expect("the unfolded card is UTF-8")
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
    let colon = colon.unwrap_or_else(|| panic!("no ':' in {s:?}"));
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
    Line { group, name, params, value: s[colon + 1..].to_owned(), head: s[..colon].to_owned() }
}

/// The content lines of a single card, without BEGIN and END.
fn card_lines(bytes: &[u8]) -> Vec<Line> {
    let text = unfold(bytes);
    let lines: Vec<&str> =
        text.split('\n').map(|l| l.trim_end_matches('\r')).filter(|l| !l.is_empty()).collect();
    assert!(
        lines.first().is_some_and(|l| l.eq_ignore_ascii_case("BEGIN:VCARD")),
        "not a vCard: {}",
        text.chars().take(200).collect::<String>()
    );
    assert!(lines.last().is_some_and(|l| l.eq_ignore_ascii_case("END:VCARD")), "no END:VCARD: {text}");
    lines[1..lines.len() - 1].iter().map(|l| parse_line(l)).collect()
}

fn all<'a>(lines: &'a [Line], name: &str) -> Vec<&'a Line> {
    lines.iter().filter(|l| l.name == name).collect()
}

fn one<'a>(lines: &'a [Line], name: &str) -> &'a Line {
    let found = all(lines, name);
    assert_eq!(found.len(), 1, "expected one {name}, have {found:?}");
    found[0]
}

fn version_of(lines: &[Line]) -> String {
    one(lines, "VERSION").value.trim().to_owned()
}

/// Folds a content line at 75 octets, never inside a UTF-8 sequence.
fn fold(line: &str) -> String {
    let mut out = String::new();
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
    out
}

/// The card with its UID replaced (and every line folded again).
fn with_uid(bytes: &[u8], uid: &str) -> String {
    let text = unfold(bytes);
    let mut out = String::new();
    let mut replaced = false;
    for line in text.split('\n').map(|l| l.trim_end_matches('\r')).filter(|l| !l.is_empty()) {
        if parse_line(line).name == "UID" {
            out.push_str(&fold(&format!("UID:{uid}")));
            replaced = true;
        } else {
            out.push_str(&fold(line));
        }
    }
    assert!(replaced, "no UID in {text}");
    out
}

fn decode_base64(s: &str) -> Vec<u8> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean.as_bytes())
        .unwrap_or_else(|e| panic!("bad base64 ({e})"))
}

/// Inline binary data of PHOTO/LOGO/SOUND/KEY, in either version's form.
fn inline_binary(line: &Line) -> Option<Vec<u8>> {
    // Some producers escape the comma of a data URI; it is still the same URI.
    let value = line.value.replace("\\,", ",");
    if let Some(rest) = value.strip_prefix("data:") {
        let (meta, data) = rest.split_once(',')?;
        // Anything but base64 is compared as an opaque URI.
        return meta.ends_with(";base64").then(|| decode_base64(data));
    }
    let encoding = line.param("ENCODING").map(str::to_ascii_lowercase);
    matches!(encoding.as_deref(), Some("b" | "base64")).then(|| decode_base64(&line.value))
}

/// A date in one comparable form: `--MMDD` for a date without year (RFC 6350
/// or Apple's `X-APPLE-OMIT-YEAR`), else the digits of date and time.
fn normalized_date(line: &Line) -> String {
    let v = line.value.trim();
    if let Some(year) = line.param("X-APPLE-OMIT-YEAR")
        && let Some(rest) = v.strip_prefix(year)
    {
        return format!("--{}", rest.replace('-', ""));
    }
    if let Some(rest) = v.strip_prefix("--") {
        return format!("--{}", rest.replace('-', ""));
    }
    match v.split_once('T') {
        Some((d, t)) => format!("{}T{}", d.replace('-', ""), t.replace(':', "")),
        None => v.replace('-', ""),
    }
}

const BINARY_PROPS: &[&str] = &["PHOTO", "LOGO", "SOUND", "KEY"];
const DATE_PROPS: &[&str] = &["BDAY", "ANNIVERSARY", "X-ANNIVERSARY", "DEATHDATE"];

/// What `back` lost or changed of `original`, allowing only the documented
/// conversions. VERSION and UID are left out (the UID was changed on purpose).
fn value_problems(file: &str, original: &[Line], back: &[Line]) -> Vec<String> {
    let mut problems = Vec::new();
    let relevant = |l: &&Line| l.name != "VERSION" && l.name != "UID";
    let key = |l: &Line| (l.group.as_deref().map(str::to_ascii_lowercase), l.name.clone());
    let mut pool: BTreeMap<(Option<String>, String), VecDeque<&Line>> = BTreeMap::new();
    for l in back.iter().filter(relevant) {
        pool.entry(key(l)).or_default().push_back(l);
    }
    for o in original.iter().filter(relevant) {
        let what =
            format!("{file}: {}{}", o.group.as_deref().map(|g| format!("{g}.")).unwrap_or_default(), o.name);
        let Some(b) = pool.get_mut(&key(o)).and_then(VecDeque::pop_front) else {
            problems.push(format!("{what} was lost"));
            continue;
        };
        // A data: URI without a media type is not one (RFC 2397); what the
        // server makes of it is not checked.
        let broken_uri = o.value.starts_with("data:")
            && !o.value.replace("\\,", ",").split(',').next().is_some_and(|m| m.contains('/'));
        if broken_uri {
            continue;
        }
        if BINARY_PROPS.contains(&o.name.as_str()) {
            match (inline_binary(o), inline_binary(b)) {
                (Some(x), Some(y)) if x != y => problems.push(format!(
                    "{what}: the decoded data differ ({} vs {} bytes)",
                    x.len(),
                    y.len()
                )),
                (None, None) if o.value != b.value => problems.push(format!("{what}: URI changed")),
                (x, y) if x.is_some() != y.is_some() => {
                    problems.push(format!("{what}: inline {} became inline {}", x.is_some(), y.is_some()))
                }
                _ => {}
            }
        } else if DATE_PROPS.contains(&o.name.as_str()) {
            if normalized_date(o) != normalized_date(b) {
                problems.push(format!("{what}: {:?} came back as {:?}", o.value, b.value));
            }
        } else if o.name == "TEL" {
            let strip = |l: &Line| l.value.strip_prefix("tel:").unwrap_or(&l.value).to_owned();
            if strip(o) != strip(b) {
                problems.push(format!("{what}: {:?} came back as {:?}", o.value, b.value));
            }
        } else if o.components() != b.components() {
            problems.push(format!("{what}: {:?} came back as {:?}", o.value, b.value));
        }
        if o.types() != b.types() {
            problems.push(format!("{what}: TYPE changed ({:?} → {:?})", o.params, b.params));
        }
        // A DQUOTE inside a parameter value is not valid (RFC 6350 §3.3); such values are not compared.
        let quote_inside = o.params.iter().any(|(_, v)| v.iter().any(|x| x.contains('"')));
        if !quote_inside && o.other_params() != b.other_params() {
            problems.push(format!("{what}: parameters changed ({:?} → {:?})", o.params, b.params));
        }
    }
    // RFC 2426 §3.1.2 requires N in a 3.0 card; an empty one may be added.
    let added_empty_n = |l: &&&Line| l.name == "N" && l.value.chars().all(|c| c == ';');
    let extra: Vec<String> =
        pool.values().flatten().filter(|l| !added_empty_n(l)).map(|l| l.name.clone()).collect();
    if !extra.is_empty() {
        problems.push(format!("{file}: properties appeared: {extra:?}"));
    }
    problems
}

fn assert_same_values(file: &str, original: &[Line], back: &[Line]) {
    let problems = value_problems(file, original, back);
    assert!(problems.is_empty(), "\n  {}", problems.join("\n  "));
}

/// RFC 6350 shapes a converted 4.0 card must have.
fn v4_shape_problems(file: &str, lines: &[Line]) -> Vec<String> {
    let mut p = Vec::new();
    let versions: Vec<&str> = all(lines, "VERSION").iter().map(|l| l.value.trim()).collect();
    if versions != ["4.0"] {
        p.push(format!("{file}: VERSION {versions:?} instead of 4.0"));
    }
    for l in lines {
        let what = format!("{file}: {} as 4.0", l.name);
        if l.has_param("ENCODING") {
            p.push(format!("{what}: ENCODING is not a vCard 4 parameter (RFC 6350 §5)"));
        }
        if l.has_param("CHARSET") {
            p.push(format!("{what}: CHARSET is not a vCard 4 parameter (RFC 6350 §5)"));
        }
        if l.has_param("X-APPLE-OMIT-YEAR") {
            p.push(format!("{what}: a year-less date is --MMDD in 4.0 (RFC 6350 §4.3.1)"));
        }
        if l.raw_types().contains("pref") {
            p.push(format!("{what}: TYPE=pref is PREF=1 in 4.0 (RFC 6350 §5.3)"));
        }
        if l.name.starts_with("X-ADDRESSBOOKSERVER-") {
            p.push(format!(
                "{what}: Apple's group properties are KIND/MEMBER in 4.0 (RFC 6350 §6.1.4, §6.6.5)"
            ));
        }
        if DATE_PROPS.contains(&l.name.as_str())
            && l.param("VALUE").is_none_or(|v| !v.eq_ignore_ascii_case("text"))
        {
            let date = l.value.split('T').next().unwrap_or("");
            let basic = date.strip_prefix("--").unwrap_or(date);
            if !basic.bytes().all(|b| b.is_ascii_digit()) {
                p.push(format!("{what}: {:?} is not an RFC 6350 §4.3.1 basic-format date", l.value));
            }
        }
    }
    p
}

fn assert_v4_shape(file: &str, lines: &[Line]) {
    let problems = v4_shape_problems(file, lines);
    assert!(problems.is_empty(), "\n  {}", problems.join("\n  "));
}

/// RFC 2426 shapes a converted 3.0 card must have.
fn v3_shape_problems(file: &str, lines: &[Line]) -> Vec<String> {
    let mut p = Vec::new();
    let versions: Vec<&str> = all(lines, "VERSION").iter().map(|l| l.value.trim()).collect();
    if versions != ["3.0"] {
        p.push(format!("{file}: VERSION {versions:?} instead of 3.0"));
    }
    for l in lines {
        let what = format!("{file}: {} as 3.0", l.name);
        if l.has_param("PREF") {
            p.push(format!("{what}: PREF is TYPE=pref in 3.0"));
        }
        if matches!(l.name.as_str(), "KIND" | "MEMBER") {
            p.push(format!("{what}: groups are X-ADDRESSBOOKSERVER-* in 3.0"));
        }
        if BINARY_PROPS.contains(&l.name.as_str()) && l.value.starts_with("data:") {
            p.push(format!("{what}: inline data is ENCODING=b in 3.0 (RFC 2426 §3.1.4)"));
        }
        if l.name == "BDAY" && l.value.starts_with("--") {
            p.push(format!("{what}: {:?} is not an RFC 2426 §3.1.5 date (a year is required)", l.value));
        }
        // RFC 2426 §4: `TYPE=work,voice` is a list; `TYPE="work,voice"` is one value (RFC 2425 §5.8.2).
        if let Some(at) = l.head.to_ascii_uppercase().find("TYPE=\"") {
            let quoted = l.head[at + 6..].split('"').next().unwrap_or("");
            if quoted.contains(',') {
                p.push(format!("{what}: the TYPE list is quoted, so in 3.0 it is one value: {}", l.head));
            }
        }
        if l.name == "TEL" && l.param("VALUE").is_some_and(|v| v.eq_ignore_ascii_case("uri")) {
            p.push(format!("{what}: TEL is a phone-number in 3.0 (RFC 2426 §3.3.1)"));
        }
    }
    // RFC 2426 §1 and §3.1.2: "The vCard object MUST contain the FN, N and VERSION types."
    if all(lines, "FN").len() != 1 {
        p.push(format!("{file}: a 3.0 card needs one FN"));
    }
    if all(lines, "N").is_empty() {
        p.push(format!(
            "{file}: a 3.0 card needs N (RFC 2426 §3.1.2: MUST be present), have {:?}",
            names(lines)
        ));
    }
    p
}

fn names(lines: &[Line]) -> Vec<String> {
    lines.iter().map(|l| l.name.clone()).collect()
}

/// Checks a jCard (RFC 7095) document and returns its properties.
fn parse_jcard(text: &str, what: &str) -> Vec<serde_json::Value> {
    let json: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text:.300}"));
    assert_eq!(json.get(0).and_then(|v| v.as_str()), Some("vcard"), "{what}: {text:.300}");
    assert_eq!(json.as_array().map(Vec::len), Some(2), "{what}: a jCard is [\"vcard\", [...]]");
    let props = json[1].as_array().unwrap_or_else(|| panic!("{what}: no property array")).clone();
    for p in &props {
        let a = p.as_array().unwrap_or_else(|| panic!("{what}: property {p} is not an array"));
        assert!(
            a.len() >= 4,
            "{what}: property {p} needs name, parameters, type and a value (RFC 7095 §3.3)"
        );
        let name = a[0].as_str().unwrap_or_else(|| panic!("{what}: property name of {p}"));
        assert_eq!(name, name.to_ascii_lowercase(), "{what}: names are lower case (RFC 7095 §3.3)");
        assert!(a[1].is_object(), "{what}: parameters of {p} are an object");
        assert!(a[2].is_string(), "{what}: value type of {p} is a string");
    }
    let versions: Vec<&serde_json::Value> = props.iter().filter(|p| p[0] == "version").collect();
    assert_eq!(versions.len(), 1, "{what}: one version property");
    assert_eq!(versions[0][3], "4.0", "{what}: jCard is vCard 4.0 (RFC 7095 §3.3.1.1)");
    props
}

fn jcard_prop<'a>(props: &'a [serde_json::Value], name: &str) -> Vec<&'a serde_json::Value> {
    props.iter().filter(|p| p[0] == name).collect()
}

// ---------------------------------------------------------------- REPORT bodies

fn query_body(prop: &str, filter: &str, extra: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><C:addressbook-query xmlns:D="DAV:" xmlns:C="{CARDDAV}"><D:prop>{prop}</D:prop>{filter}{extra}</C:addressbook-query>"#
    )
}

/// A filter with one prop-filter holding one text-match.
fn text_filter(prop: &str, attrs: &str, text: &str) -> String {
    format!(
        r#"<C:filter><C:prop-filter name="{prop}"><C:text-match {attrs}>{text}</C:text-match></C:prop-filter></C:filter>"#
    )
}

/// Names (relative to `book`) of the cards an addressbook-query returns.
async fn search(client: &Client, book: &str, filter: &str) -> Vec<String> {
    let r = client.report(book, "1", &query_body("<D:getetag/>", filter, "")).await;
    let ms = r.multistatus();
    let mut names = Vec::new();
    for e in &ms.entries {
        assert_eq!(e.status, None, "unexpected status response for {filter}: {}", r.body);
        assert!(e.prop(DAV, "getetag").is_some(), "no getetag for {} in {filter}", e.href);
        names.push(e.href.strip_prefix(book).unwrap_or(&e.href).to_owned());
    }
    names.sort();
    names
}

fn multiget_body(prop: &str, hrefs: &[&str]) -> String {
    let hrefs: String = hrefs.iter().map(|h| format!("<D:href>{h}</D:href>")).collect();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><C:addressbook-multiget xmlns:D="DAV:" xmlns:C="{CARDDAV}"><D:prop>{prop}</D:prop>{hrefs}</C:addressbook-multiget>"#
    )
}

/// `(content-type, version)` of every `address-data-type` in a body.
fn address_data_types(body: &str) -> BTreeSet<(String, String)> {
    let doc = roxmltree::Document::parse(body).expect("XML");
    doc.descendants()
        .filter(|n| n.has_tag_name((CARDDAV, "address-data-type")))
        .map(|n| {
            (
                n.attribute("content-type").unwrap_or("text/vcard").to_owned(),
                n.attribute("version").unwrap_or("3.0").to_owned(),
            )
        })
        .collect()
}

/// Texts of every `{ns}local` element of a body.
fn texts_of(body: &str, ns: &str, local: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(body).expect("XML");
    doc.descendants()
        .filter(|n| n.has_tag_name((ns, local)))
        .map(|n| n.text().unwrap_or("").trim().to_owned())
        .collect()
}

/// `{ns}local` of the report named in every `DAV:report` of a body.
fn reports(body: &str) -> BTreeSet<String> {
    let doc = roxmltree::Document::parse(body).expect("XML");
    doc.descendants()
        .filter(|n| n.has_tag_name((DAV, "report")))
        .filter_map(|n| n.children().find(|c| c.is_element()))
        .map(|c| qname(c.tag_name().namespace().unwrap_or(""), c.tag_name().name()))
        .collect()
}

// ====================================================================== 1. client corpus

#[tokio::test]
async fn client_corpus_is_stored_and_returned_byte_for_byte() {
    let (_server, client) = setup();
    for (name, bytes) in corpus() {
        let path = format!("{BOOK}{name}");
        let put = put_card(&client, &path, bytes.clone()).await;
        assert_eq!(put.status, 201, "PUT {name}: {}", put.body);
        let (status, headers, body) = get_as(&client, &path, None).await;
        assert_eq!(status, 200, "GET {name}");
        assert!(
            body == bytes,
            "{name}: GET returned other bytes than were stored ({} vs {})",
            body.len(),
            bytes.len()
        );
        let etag = header(&headers, "etag").unwrap_or_else(|| panic!("{name}: no ETag"));
        assert!(
            !etag.starts_with("W/") && etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"'),
            "{name}: ETag {etag:?} is not a strong quoted entity tag"
        );
        assert_eq!(put.header("etag"), Some(etag), "{name}: PUT and GET disagree on the ETag");
        let ct = header(&headers, "content-type").unwrap_or("");
        assert!(ct.to_ascii_lowercase().starts_with("text/vcard"), "{name}: Content-Type {ct}");
    }
}

// ====================================================================== 2. version negotiation

#[tokio::test]
async fn accept_selects_the_vcard_version_and_converted_bodies_have_no_etag() {
    let (_server, client) = setup();
    let v3 = corpus_file("google-export-categories.vcf");
    let v4 = corpus_file("thunderbird-v4-greek.vcf");
    let p3 = format!("{BOOK}v3.vcf");
    let p4 = format!("{BOOK}v4.vcf");
    put_new(&client, &p3, v3.clone()).await;
    put_new(&client, &p4, v4.clone()).await;

    // 3.0 stored, 4.0 wanted.
    let (status, headers, body) = get_as(&client, &p3, Some(ACCEPT_V4)).await;
    assert_eq!(status, 200);
    let lines = card_lines(&body);
    assert_v4_shape("google-export-categories.vcf as 4.0", &lines);
    assert_eq!(one(&lines, "FN").text(), "Priya Raman");
    assert!(header(&headers, "etag").is_none(), "a converted body must not carry the stored ETag");
    assert!(
        header(&headers, "vary").is_some_and(|v| v.to_ascii_lowercase().contains("accept")),
        "{headers:?}"
    );
    let ct = header(&headers, "content-type").unwrap_or("").to_ascii_lowercase();
    assert!(ct.starts_with("text/vcard") && ct.contains("4.0"), "Content-Type {ct}");

    // 4.0 stored, 3.0 wanted.
    let (status, headers, body) = get_as(&client, &p4, Some(ACCEPT_V3)).await;
    assert_eq!(status, 200);
    let lines = card_lines(&body);
    assert_eq!(version_of(&lines), "3.0");
    assert_eq!(one(&lines, "FN").text(), one(&card_lines(&v4), "FN").text());
    assert!(header(&headers, "etag").is_none(), "a converted body must not carry the stored ETag");
    assert!(
        header(&headers, "vary").is_some_and(|v| v.to_ascii_lowercase().contains("accept")),
        "{headers:?}"
    );
    let ct = header(&headers, "content-type").unwrap_or("").to_ascii_lowercase();
    assert!(ct.starts_with("text/vcard") && ct.contains("3.0"), "Content-Type {ct}");

    // Asking for the stored version is the stored bytes with their ETag.
    for (path, accept, stored) in [(&p3, ACCEPT_V3, &v3), (&p4, ACCEPT_V4, &v4)] {
        let (status, headers, body) = get_as(&client, path, Some(accept)).await;
        assert_eq!(status, 200);
        assert!(&body == stored, "{path} as {accept}: not the stored bytes");
        assert!(header(&headers, "etag").is_some(), "{path} as {accept}: the stored bytes keep their ETag");
    }
    // q-values: the preferred entry decides.
    let (_, _, body) =
        get_as(&client, &p3, Some("text/vcard;version=3.0;q=0.5, text/vcard;version=4.0")).await;
    assert_eq!(version_of(&card_lines(&body)), "4.0");

    // jCard.
    for (path, stored) in [(&p3, &v3), (&p4, &v4)] {
        let (status, headers, body) = get_as(&client, path, Some(JCARD)).await;
        assert_eq!(status, 200);
        let ct = header(&headers, "content-type").unwrap_or("");
        assert!(ct.starts_with(JCARD), "{path}: Content-Type {ct}");
        assert!(header(&headers, "etag").is_none(), "{path}: a jCard body must not carry the vCard's ETag");
        let props = parse_jcard(std::str::from_utf8(&body).expect("UTF-8"), path);
        let fn_ = jcard_prop(&props, "fn");
        assert_eq!(fn_.len(), 1);
        assert_eq!(fn_[0][3].as_str(), Some(one(&card_lines(stored), "FN").text().as_str()));
    }
}

/// RFC 9110 §12.5.5: a response whose body was selected by content
/// negotiation SHOULD carry `Vary`; a shared cache would otherwise give the
/// stored 3.0 body to a client that asked for 4.0.
#[tokio::test]
async fn unconverted_card_responses_also_vary_on_accept() {
    let (_server, client) = setup();
    let path = format!("{BOOK}v3.vcf");
    put_new(&client, &path, corpus_file("google-export-categories.vcf")).await;
    for accept in [None, Some(ACCEPT_V3)] {
        let (status, headers, _) = get_as(&client, &path, accept).await;
        assert_eq!(status, 200);
        assert!(
            header(&headers, "vary").is_some_and(|v| v.to_ascii_lowercase().contains("accept")),
            "GET (Accept {accept:?}) of a card whose body depends on Accept has no Vary: Accept: {headers:?}"
        );
    }
}

/// The shape of a value: every digit becomes `d`.
fn digit_shape(v: &str) -> String {
    v.chars().map(|c| if c.is_ascii_digit() { 'd' } else { c }).collect()
}

/// Whether `v` is an RFC 7095 §3.5.3–3.5.6 date, time, date-time or timestamp (extended format).
fn is_jcard_date_time(v: &str, kind: &str) -> bool {
    const DATES: &[&str] = &["dddd-dd-dd", "dddd-dd", "dddd", "--dd-dd", "--dd", "---dd"];
    const ZONES: &[&str] = &["", "Z", "+dd:dd", "-dd:dd", "+dd", "-dd"];
    const CLOCKS: &[&str] = &["dd:dd:dd", "dd:dd", "dd", "-dd:dd", "-dd", "--dd"];
    let shape = digit_shape(v);
    let time_ok = |t: &str| CLOCKS.iter().any(|c| ZONES.iter().any(|z| format!("{c}{z}") == t));
    let date_time_ok = |s: &str| {
        s.split_once('T').is_some_and(|(d, t)| ["dddd-dd-dd", "--dd-dd", "---dd"].contains(&d) && time_ok(t))
    };
    match kind {
        "date" => DATES.contains(&shape.as_str()),
        "timestamp" => shape
            .split_once('T')
            .is_some_and(|(d, t)| d == "dddd-dd-dd" && ZONES.iter().any(|z| format!("dd:dd:dd{z}") == t)),
        "date-time" => date_time_ok(&shape),
        "date-and-or-time" => {
            DATES.contains(&shape.as_str())
                || date_time_ok(&shape)
                || shape.strip_prefix('T').is_some_and(time_ok)
        }
        _ => true,
    }
}

/// What is wrong with the jCard of `original` (RFC 7095).
fn jcard_problems(name: &str, original: &[Line], props: &[serde_json::Value]) -> Vec<String> {
    let mut p = Vec::new();
    // (A stray CR of a file with CR CR LF line ends is not held against the jCard.)
    let first = |n: &str| {
        jcard_prop(props, n).first().and_then(|v| v[3].as_str()).map(|v| v.trim_end_matches('\r').to_owned())
    };
    if first("fn") != Some(one(original, "FN").text()) {
        p.push(format!("{name}: jCard fn {:?}", first("fn")));
    }
    if first("uid") != Some(one(original, "UID").text()) {
        p.push(format!("{name}: jCard uid {:?}", first("uid")));
    }
    for n in jcard_prop(props, "n").iter().chain(jcard_prop(props, "adr").iter()) {
        if !n[3].is_array() {
            p.push(format!("{name}: {} is structured in jCard (RFC 7095 §3.3.1.3): {n}", n[0]));
        }
    }
    // Dates and timestamps in the extended format, where the vCard holds a valid one.
    for prop in ["REV", "BDAY", "ANNIVERSARY", "DEATHDATE"] {
        let source: Vec<&Line> = all(original, prop);
        for (i, j) in jcard_prop(props, &prop.to_ascii_lowercase()).iter().enumerate() {
            let valid_source = source.get(i).is_some_and(|l| {
                let v = l.value.trim();
                !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || "-:TZ+.".contains(c))
            });
            let (kind, value) = (j[2].as_str().unwrap_or(""), j[3].as_str().unwrap_or(""));
            if valid_source && !is_jcard_date_time(value, kind) {
                p.push(format!(
                    "{name}: jCard {prop} {value:?} (type {kind}) is not an RFC 7095 §3.5 value; the vCard has {:?}",
                    source[i].value
                ));
            }
        }
    }
    p
}

#[tokio::test]
async fn every_corpus_card_converts_to_valid_jcard_and_to_the_other_version() {
    let (_server, client) = setup();
    let mut problems = Vec::new();
    for (name, bytes) in corpus() {
        let path = format!("{BOOK}{name}");
        put_new(&client, &path, bytes.clone()).await;
        let original = card_lines(&bytes);
        let body = get_text(&client, &path, Some(JCARD)).await;
        problems.extend(jcard_problems(&name, &original, &parse_jcard(&body, &name)));
        if version_of(&original) == "4.0" {
            let v3 = get_as(&client, &path, Some(ACCEPT_V3)).await;
            assert_eq!(v3.0, 200, "{name} as 3.0");
            problems.extend(v3_shape_problems(&format!("{name} as 3.0"), &card_lines(&v3.2)));
        } else {
            let v4 = get_as(&client, &path, Some(ACCEPT_V4)).await;
            assert_eq!(v4.0, 200, "{name} as 4.0");
            problems.extend(v4_shape_problems(&format!("{name} as 4.0"), &card_lines(&v4.2)));
        }
    }
    assert!(problems.is_empty(), "{} problems:\n  {}", problems.len(), problems.join("\n  "));
}

#[tokio::test]
async fn every_3_0_card_keeps_every_value_through_4_0() {
    let (_server, client) = setup();
    let mut checked = 0;
    for (name, bytes) in corpus() {
        let original = card_lines(&bytes);
        if version_of(&original) != "3.0" {
            continue;
        }
        let path = format!("{BOOK}{name}");
        put_new(&client, &path, bytes.clone()).await;
        let v4 = get_as(&client, &path, Some(ACCEPT_V4)).await;
        assert_eq!(v4.0, 200, "{name} as 4.0");
        let v4_lines = card_lines(&v4.2);
        assert_v4_shape(&name, &v4_lines);

        // Store the 4.0 form as a card of its own, then read it as 3.0.
        let uid = format!("roundtrip-{checked}");
        let copy = format!("{BOOK}rt-{name}");
        let r = put_card(&client, &copy, with_uid(&v4.2, &uid)).await;
        assert_eq!(r.status, 201, "{name}: its 4.0 form is refused: {}", r.body);
        let back = get_as(&client, &copy, Some(ACCEPT_V3)).await;
        assert_eq!(back.0, 200);
        let back_lines = card_lines(&back.2);
        assert_eq!(version_of(&back_lines), "3.0", "{name}");
        assert_eq!(one(&back_lines, "UID").text(), uid);
        assert_same_values(&name, &original, &back_lines);
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} 3.0 files in the corpus");
}

/// The reverse direction: 4.0 → 3.0 → 4.0 keeps every value too.
#[tokio::test]
async fn every_4_0_card_keeps_every_value_through_3_0() {
    let (_server, client) = setup();
    let mut checked = 0;
    for (name, bytes) in corpus() {
        let original = card_lines(&bytes);
        if version_of(&original) != "4.0" {
            continue;
        }
        let path = format!("{BOOK}{name}");
        put_new(&client, &path, bytes.clone()).await;
        let v3 = get_as(&client, &path, Some(ACCEPT_V3)).await;
        assert_eq!(v3.0, 200, "{name} as 3.0");
        let uid = format!("roundtrip-{checked}");
        let copy = format!("{BOOK}rt-{name}");
        let r = put_card(&client, &copy, with_uid(&v3.2, &uid)).await;
        assert_eq!(r.status, 201, "{name}: its 3.0 form is refused: {}", r.body);
        let back = get_as(&client, &copy, Some(ACCEPT_V4)).await;
        assert_eq!(back.0, 200);
        let back_lines = card_lines(&back.2);
        assert_eq!(version_of(&back_lines), "4.0", "{name}");
        assert_same_values(&name, &original, &back_lines);
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} 4.0 files in the corpus");
}

#[tokio::test]
async fn photos_survive_conversion_byte_for_byte() {
    let (_server, client) = setup();
    // A 3.0 photo (ENCODING=b) read as 4.0 and as jCard.
    let apple = corpus_file("apple-ios-contact-photo.vcf");
    let apple_photo = inline_binary(one(&card_lines(&apple), "PHOTO")).expect("inline photo");
    assert_eq!(apple_photo.len(), 830, "the fixture's JPEG");
    assert_eq!(&apple_photo[..2], &[0xFF, 0xD8]);
    let p = format!("{BOOK}apple.vcf");
    put_new(&client, &p, apple).await;
    let v4 = get_as(&client, &p, Some(ACCEPT_V4)).await;
    let photo = one(&card_lines(&v4.2), "PHOTO").clone();
    assert!(photo.value.starts_with("data:image/jpeg;base64,"), "{:.80}", photo.value);
    assert_eq!(inline_binary(&photo).expect("data"), apple_photo);
    let json = get_text(&client, &p, Some(JCARD)).await;
    let props = parse_jcard(&json, "apple");
    let uri = jcard_prop(&props, "photo")[0][3].as_str().expect("photo value").to_owned();
    let data = uri.strip_prefix("data:image/jpeg;base64,").expect("a data URI in jCard");
    assert_eq!(decode_base64(data), apple_photo);

    // A 4.0 photo (data URI, 225,041 bytes) read as 3.0.
    let big = corpus_file("davx5-v4-big-photo.vcf");
    let big_photo = inline_binary(one(&card_lines(&big), "PHOTO")).expect("inline photo");
    assert_eq!(big_photo.len(), 225_041, "the fixture's JPEG");
    let p = format!("{BOOK}big.vcf");
    put_new(&client, &p, big).await;
    let v3 = get_as(&client, &p, Some(ACCEPT_V3)).await;
    let photo = one(&card_lines(&v3.2), "PHOTO").clone();
    assert!(photo.param("ENCODING").is_some_and(|e| e.eq_ignore_ascii_case("b")), "{:?}", photo.params);
    assert!(photo.raw_types().contains("jpeg"), "{:?}", photo.params);
    assert!(inline_binary(&photo).expect("data") == big_photo, "the 3.0 photo decodes to other bytes");
    // Folded at 75 octets like any other line.
    let text = String::from_utf8(v3.2).expect("UTF-8");
    assert!(text.split("\r\n").all(|l| l.len() <= 75), "an unfolded line in the converted photo card");
}

/// RFC 6350 §3.4 makes a comma in any value escaped, so producers write
/// `data:image/jpeg;base64\,…`; it is the same photo.
#[tokio::test]
async fn a_photo_data_uri_with_an_escaped_comma_converts_to_the_same_bytes() {
    let (_server, client) = setup();
    let jpeg =
        inline_binary(one(&card_lines(&corpus_file("apple-ios-contact-photo.vcf")), "PHOTO")).expect("photo");
    let b64 = base64::engine::general_purpose::STANDARD.encode(&jpeg);
    let card = format!(
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:escaped-comma\r\nFN:Escaped Comma\r\n{}END:VCARD\r\n",
        fold(&format!("PHOTO:data:image/jpeg;base64\\,{b64}"))
    );
    let path = format!("{BOOK}escaped.vcf");
    put_new(&client, &path, card).await;
    let v3 = get_as(&client, &path, Some(ACCEPT_V3)).await;
    assert_eq!(v3.0, 200);
    let photo = one(&card_lines(&v3.2), "PHOTO").clone();
    assert!(photo.param("ENCODING").is_some_and(|e| e.eq_ignore_ascii_case("b")), "{}", photo.head);
    let data = inline_binary(&photo).expect("inline data");
    assert!(
        data == jpeg,
        "the 3.0 photo decodes to {} bytes starting {:02x?}, not the JPEG",
        data.len(),
        &data[..8.min(data.len())]
    );
    assert_eq!(photo.raw_types(), BTreeSet::from(["jpeg".to_owned()]), "{}", photo.head);
}

#[tokio::test]
async fn multiget_address_data_converts_only_when_asked() {
    let (_server, client) = setup();
    let v3 = corpus_text("google-export-categories.vcf");
    let v4 = corpus_text("thunderbird-v4-greek.vcf");
    let e3 = put_new(&client, &format!("{BOOK}a.vcf"), v3.clone()).await;
    let e4 = put_new(&client, &format!("{BOOK}b.vcf"), v4.clone()).await;
    let hrefs = [format!("{BOOK}a.vcf"), format!("{BOOK}b.vcf")];
    let href_refs: Vec<&str> = hrefs.iter().map(String::as_str).collect();

    let run = |attrs: &'static str| {
        let client = client.clone();
        let body = multiget_body(&format!("<D:getetag/><C:address-data {attrs}/>"), &href_refs);
        async move { client.report(BOOK, "1", &body).await.multistatus() }
    };
    // Without attributes: the stored bytes, whatever their version.
    let ms = run("").await;
    assert_eq!(ms.entry(&hrefs[0]).text(CARDDAV, "address-data"), v3);
    assert_eq!(ms.entry(&hrefs[1]).text(CARDDAV, "address-data"), v4);
    assert_eq!(ms.entry(&hrefs[0]).text(DAV, "getetag"), e3);
    assert_eq!(ms.entry(&hrefs[1]).text(DAV, "getetag"), e4);

    let ms = run(r#"content-type="text/vcard" version="4.0""#).await;
    let a = ms.entry(&hrefs[0]).text(CARDDAV, "address-data");
    assert_v4_shape("a.vcf in address-data 4.0", &card_lines(a.as_bytes()));
    assert_eq!(ms.entry(&hrefs[1]).text(CARDDAV, "address-data"), v4, "already 4.0: the stored bytes");

    let ms = run(r#"content-type="text/vcard" version="3.0""#).await;
    assert_eq!(ms.entry(&hrefs[0]).text(CARDDAV, "address-data"), v3, "already 3.0: the stored bytes");
    let b = ms.entry(&hrefs[1]).text(CARDDAV, "address-data");
    assert_eq!(version_of(&card_lines(b.as_bytes())), "3.0");
    assert_eq!(one(&card_lines(b.as_bytes()), "FN").text(), one(&card_lines(v4.as_bytes()), "FN").text());

    let ms = run(r#"content-type="application/vcard+json""#).await;
    for h in &hrefs {
        parse_jcard(&ms.entry(h).text(CARDDAV, "address-data"), h);
    }
}

// ====================================================================== 3. groups

#[tokio::test]
async fn groups_change_dialect_with_the_version() {
    let (_server, client) = setup();
    // vCard 4 group read as 3.0: Apple's X-ADDRESSBOOKSERVER-* properties.
    let v4 = corpus_file("davx5-v4-kind-group.vcf");
    let members: Vec<String> = all(&card_lines(&v4), "MEMBER").iter().map(|l| l.value.clone()).collect();
    assert_eq!(members.len(), 3);
    let p = format!("{BOOK}group4.vcf");
    put_new(&client, &p, v4).await;
    let lines = card_lines(&get_as(&client, &p, Some(ACCEPT_V3)).await.2);
    assert_eq!(version_of(&lines), "3.0");
    assert_eq!(one(&lines, "X-ADDRESSBOOKSERVER-KIND").value.to_ascii_lowercase(), "group");
    let got: Vec<String> =
        all(&lines, "X-ADDRESSBOOKSERVER-MEMBER").iter().map(|l| l.value.clone()).collect();
    assert_eq!(got, members);
    assert!(all(&lines, "KIND").is_empty() && all(&lines, "MEMBER").is_empty(), "{:?}", names(&lines));

    // Apple's 3.0 group read as 4.0: KIND:group and MEMBER.
    let apple = corpus_file("apple-group-addressbookserver.vcf");
    let members: Vec<String> =
        all(&card_lines(&apple), "X-ADDRESSBOOKSERVER-MEMBER").iter().map(|l| l.value.clone()).collect();
    assert_eq!(members.len(), 3);
    let p = format!("{BOOK}group3.vcf");
    put_new(&client, &p, apple).await;
    let lines = card_lines(&get_as(&client, &p, Some(ACCEPT_V4)).await.2);
    assert_eq!(version_of(&lines), "4.0");
    assert_eq!(one(&lines, "KIND").value.to_ascii_lowercase(), "group");
    let got: Vec<String> = all(&lines, "MEMBER").iter().map(|l| l.value.clone()).collect();
    assert_eq!(got, members);
    assert!(
        !lines.iter().any(|l| l.name.starts_with("X-ADDRESSBOOKSERVER-")),
        "Apple's group properties stay in 4.0: {:?}",
        names(&lines)
    );
    let json = get_text(&client, &p, Some(JCARD)).await;
    let props = parse_jcard(&json, "apple group");
    assert_eq!(jcard_prop(&props, "kind")[0][3], "group");
    let json_members: Vec<&str> = jcard_prop(&props, "member").iter().filter_map(|m| m[3].as_str()).collect();
    assert_eq!(json_members, members.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(jcard_prop(&props, "member").iter().all(|m| m[2] == "uri"), "MEMBER is a URI (RFC 6350 §6.6.5)");

    // CATEGORIES grouping is left alone in both directions.
    let google = corpus_file("google-export-categories.vcf");
    let p = format!("{BOOK}cat3.vcf");
    put_new(&client, &p, google.clone()).await;
    let lines = card_lines(&get_as(&client, &p, Some(ACCEPT_V4)).await.2);
    assert_eq!(one(&lines, "CATEGORIES").components(), one(&card_lines(&google), "CATEGORIES").components());
    assert!(all(&lines, "KIND").is_empty() && all(&lines, "MEMBER").is_empty());
    let cat4 = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:cat4\r\nFN:Kim Cat\r\nN:Cat;Kim;;;\r\nCATEGORIES:Laufgruppe,Nachbarn\\, Haus 3\r\nEND:VCARD\r\n";
    let p = format!("{BOOK}cat4.vcf");
    put_new(&client, &p, cat4).await;
    let lines = card_lines(&get_as(&client, &p, Some(ACCEPT_V3)).await.2);
    assert_eq!(
        one(&lines, "CATEGORIES").components(),
        vec![vec!["Laufgruppe".to_owned(), "Nachbarn, Haus 3".to_owned()]]
    );
    assert!(!lines.iter().any(|l| l.name.starts_with("X-ADDRESSBOOKSERVER-")), "{:?}", names(&lines));
}

// ====================================================================== 4. addressbook-query

/// Seven cards for the query tests, by resource name.
fn query_cards() -> Vec<(&'static str, String)> {
    let c = |lines: &[&str]| -> String {
        let mut s = String::from("BEGIN:VCARD\r\n");
        for l in lines {
            s.push_str(&fold(l));
        }
        s.push_str("END:VCARD\r\n");
        s
    };
    vec![
        (
            "jane.vcf",
            c(&[
                "VERSION:3.0",
                "UID:q-jane",
                "FN:Jane Doe",
                "N:Doe;Jane;;;",
                "NICKNAME:JD",
                "item1.EMAIL;TYPE=INTERNET,WORK:jane@work.example",
                "item1.X-ABLabel:Work",
                "EMAIL;TYPE=INTERNET;TYPE=HOME:jane@home.example",
                "TEL;TYPE=CELL:+1 555 0100",
                "ORG:Acme Corp;Sales",
                "CATEGORIES:Friends,Work",
            ]),
        ),
        (
            "hans.vcf",
            c(&[
                "VERSION:4.0",
                "UID:q-hans",
                "FN:Hans MÜLLER",
                "N:MÜLLER;Hans;;;",
                "EMAIL;TYPE=work:hans@firma.example",
                "TEL;TYPE=home:+49 30 1234",
            ]),
        ),
        (
            "eva.vcf",
            c(&[
                "VERSION:4.0",
                "UID:q-eva",
                "FN:Eva Mu\u{308}ller",
                "EMAIL:eva@example.org",
                "item2.EMAIL;TYPE=home:eva@home.example",
            ]),
        ),
        (
            "joerg.vcf",
            c(&["VERSION:3.0", "UID:q-joerg", "FN:Jörg Müller", "N:Müller;Jörg;;;", "NICKNAME:Jogi"]),
        ),
        ("wang.vcf", c(&["VERSION:4.0", "UID:q-wang", "FN:王小明", "NICKNAME:小明", "ORG:示例科技有限公司"])),
        ("asa.vcf", c(&["VERSION:4.0", "UID:q-asa", "FN:Åsa Ek", "TEL;TYPE=cell:+46 70 123 45 67"])),
        (
            "bob.vcf",
            c(&[
                "VERSION:3.0",
                "UID:q-bob",
                "FN:Bob Stone",
                "N:Stone;Bob;;;",
                "NICKNAME:Bobby",
                "TEL;TYPE=WORK:+1 555 0199",
            ]),
        ),
    ]
}

async fn query_setup() -> (Server, Client) {
    let (server, client) = setup();
    for (name, body) in query_cards() {
        put_new(&client, &format!("{BOOK}{name}"), body).await;
    }
    (server, client)
}

async fn check_queries(client: &Client, cases: &[(String, &[&str])]) {
    let mut failures = Vec::new();
    for (filter, expected) in cases {
        let got = search(client, BOOK, filter).await;
        if got != *expected {
            failures.push(format!("{filter}\n    expected {expected:?}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} queries answered wrongly:\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
}

#[tokio::test]
async fn text_match_types() {
    let (_server, client) = query_setup().await;
    let cases: Vec<(String, &[&str])> = vec![
        (text_filter("FN", "", "jane"), &["jane.vcf"]),
        (text_filter("FN", r#"match-type="contains""#, "ANE DO"), &["jane.vcf"]),
        (text_filter("FN", r#"match-type="equals""#, "jane doe"), &["jane.vcf"]),
        (text_filter("FN", r#"match-type="equals""#, "jane"), &[]),
        (text_filter("FN", r#"match-type="starts-with""#, "jane"), &["jane.vcf"]),
        (text_filter("FN", r#"match-type="starts-with""#, "doe"), &[]),
        (text_filter("FN", r#"match-type="ends-with""#, "doe"), &["jane.vcf"]),
        (text_filter("FN", r#"match-type="ends-with""#, "jane"), &[]),
        (text_filter("FN", r#"match-type="ends-with""#, "müller"), &["eva.vcf", "hans.vcf", "joerg.vcf"]),
        (text_filter("FN", r#"match-type="starts-with""#, "jö"), &["joerg.vcf"]),
        (text_filter("TEL", r#"match-type="starts-with""#, "+1 555"), &["bob.vcf", "jane.vcf"]),
        (text_filter("NICKNAME", r#"match-type="equals""#, "jogi"), &["joerg.vcf"]),
        (text_filter("CATEGORIES", "", "friends"), &["jane.vcf"]),
        (text_filter("ORG", "", "acme"), &["jane.vcf"]),
        (text_filter("UID", r#"match-type="equals""#, "q-bob"), &["bob.vcf"]),
    ];
    check_queries(&client, &cases).await;
}

#[tokio::test]
async fn collations() {
    let (_server, client) = query_setup().await;
    let cases: Vec<(String, &[&str])> = vec![
        // i;unicode-casemap is the default (RFC 6352 §8.3): case and
        // normalization differences fold away (RFC 5051).
        (text_filter("FN", "", "müller"), &["eva.vcf", "hans.vcf", "joerg.vcf"]),
        (
            text_filter("FN", r#"collation="i;unicode-casemap""#, "MÜLLER"),
            &["eva.vcf", "hans.vcf", "joerg.vcf"],
        ),
        (
            text_filter("FN", r#"collation="i;unicode-casemap""#, "mu\u{308}ller"),
            &["eva.vcf", "hans.vcf", "joerg.vcf"],
        ),
        (
            text_filter("FN", r#"collation="i;unicode-casemap" match-type="equals""#, "eva müller"),
            &["eva.vcf"],
        ),
        (text_filter("FN", r#"collation="i;unicode-casemap""#, "åsa"), &["asa.vcf"]),
        // i;ascii-casemap folds ASCII letters only: "ü" is not "Ü".
        (text_filter("FN", r#"collation="i;ascii-casemap""#, "müller"), &["joerg.vcf"]),
        (text_filter("FN", r#"collation="i;ascii-casemap""#, "hans müller"), &[]),
        (text_filter("FN", r#"collation="i;ascii-casemap""#, "hans MÜLLER"), &["hans.vcf"]),
        (text_filter("FN", r#"collation="i;ascii-casemap" match-type="equals""#, "JANE DOE"), &["jane.vcf"]),
        (text_filter("FN", r#"collation="i;ascii-casemap""#, "åsa"), &[]),
        // i;octet: exact octets.
        (text_filter("FN", r#"collation="i;octet""#, "Müller"), &["joerg.vcf"]),
        (text_filter("FN", r#"collation="i;octet""#, "müller"), &[]),
        (text_filter("FN", r#"collation="i;octet""#, "Jane"), &["jane.vcf"]),
        (text_filter("FN", r#"collation="i;octet""#, "jane"), &[]),
        (text_filter("FN", r#"collation="i;octet" match-type="equals""#, "Hans MÜLLER"), &["hans.vcf"]),
    ];
    check_queries(&client, &cases).await;
}

#[tokio::test]
async fn negate_condition_and_is_not_defined() {
    let (_server, client) = query_setup().await;
    let not_defined = |p: &str| {
        format!(r#"<C:filter><C:prop-filter name="{p}"><C:is-not-defined/></C:prop-filter></C:filter>"#)
    };
    let defined = |p: &str| format!(r#"<C:filter><C:prop-filter name="{p}"/></C:filter>"#);
    let cases: Vec<(String, &[&str])> = vec![
        // A negated text-match matches properties whose value does not match;
        // cards without the property do not match (RFC 6352 §10.5.1).
        (text_filter("NICKNAME", r#"negate-condition="yes""#, "JD"), &["bob.vcf", "joerg.vcf", "wang.vcf"]),
        (text_filter("NICKNAME", r#"negate-condition="no""#, "JD"), &["jane.vcf"]),
        (
            text_filter("FN", r#"negate-condition="yes" match-type="ends-with""#, "müller"),
            &["asa.vcf", "bob.vcf", "jane.vcf", "wang.vcf"],
        ),
        (not_defined("EMAIL"), &["asa.vcf", "bob.vcf", "joerg.vcf", "wang.vcf"]),
        (not_defined("NICKNAME"), &["asa.vcf", "eva.vcf", "hans.vcf"]),
        (not_defined("FN"), &[]),
        (defined("TEL"), &["asa.vcf", "bob.vcf", "hans.vcf", "jane.vcf"]),
        (defined("X-NOBODY-HAS-THIS"), &[]),
    ];
    check_queries(&client, &cases).await;
}

#[tokio::test]
async fn param_filters() {
    let (_server, client) = query_setup().await;
    let pf = |prop: &str, param: &str, inner: &str| {
        format!(
            r#"<C:filter><C:prop-filter name="{prop}"><C:param-filter name="{param}">{inner}</C:param-filter></C:prop-filter></C:filter>"#
        )
    };
    let eq = |t: &str| format!(r#"<C:text-match match-type="equals">{t}</C:text-match>"#);
    let cases: Vec<(String, &[&str])> = vec![
        (pf("EMAIL", "TYPE", &eq("home")), &["eva.vcf", "jane.vcf"]),
        (pf("EMAIL", "TYPE", &eq("HOME")), &["eva.vcf", "jane.vcf"]),
        (pf("EMAIL", "TYPE", &eq("work")), &["hans.vcf", "jane.vcf"]),
        (pf("EMAIL", "type", &eq("internet")), &["jane.vcf"]),
        (pf("TEL", "TYPE", &eq("cell")), &["asa.vcf", "jane.vcf"]),
        // A param-filter without a test: the parameter is present.
        (pf("TEL", "TYPE", ""), &["asa.vcf", "bob.vcf", "hans.vcf", "jane.vcf"]),
        // is-not-defined: some EMAIL of the card lacks TYPE.
        (pf("EMAIL", "TYPE", "<C:is-not-defined/>"), &["eva.vcf"]),
        (pf("TEL", "TYPE", "<C:is-not-defined/>"), &[]),
        (pf("EMAIL", "X-NOPE", "<C:is-not-defined/>"), &["eva.vcf", "hans.vcf", "jane.vcf"]),
        (
            pf(
                "EMAIL",
                "TYPE",
                r#"<C:text-match negate-condition="yes" match-type="equals">home</C:text-match>"#,
            ),
            &["hans.vcf", "jane.vcf"],
        ),
    ];
    check_queries(&client, &cases).await;
}

#[tokio::test]
async fn anyof_and_allof() {
    let (_server, client) = query_setup().await;
    let tm = |t: &str| format!("<C:text-match>{t}</C:text-match>");
    let home_type = r#"<C:param-filter name="TYPE"><C:text-match match-type="equals">home</C:text-match></C:param-filter>"#;
    let cases: Vec<(String, &[&str])> = vec![
        // Filter level: anyof is the default.
        (
            format!(
                r#"<C:filter><C:prop-filter name="EMAIL">{}</C:prop-filter><C:prop-filter name="NICKNAME">{}</C:prop-filter></C:filter>"#,
                tm("firma"),
                tm("jogi")
            ),
            &["hans.vcf", "joerg.vcf"],
        ),
        (
            format!(
                r#"<C:filter test="anyof"><C:prop-filter name="EMAIL">{}</C:prop-filter><C:prop-filter name="NICKNAME">{}</C:prop-filter></C:filter>"#,
                tm("firma"),
                tm("jogi")
            ),
            &["hans.vcf", "joerg.vcf"],
        ),
        (
            format!(
                r#"<C:filter test="allof"><C:prop-filter name="FN">{}</C:prop-filter><C:prop-filter name="TEL"/></C:filter>"#,
                tm("müller")
            ),
            &["hans.vcf"],
        ),
        (
            format!(
                r#"<C:filter test="allof"><C:prop-filter name="FN">{}</C:prop-filter><C:prop-filter name="NICKNAME"><C:is-not-defined/></C:prop-filter></C:filter>"#,
                tm("müller")
            ),
            &["eva.vcf", "hans.vcf"],
        ),
        (
            format!(
                r#"<C:filter test="anyof"><C:prop-filter name="FN">{}</C:prop-filter><C:prop-filter name="TEL"><C:is-not-defined/></C:prop-filter></C:filter>"#,
                tm("jane")
            ),
            &["eva.vcf", "jane.vcf", "joerg.vcf", "wang.vcf"],
        ),
        // Prop-filter level: the tests apply to one and the same property.
        (
            format!(
                r#"<C:filter><C:prop-filter name="EMAIL" test="allof">{}{home_type}</C:prop-filter></C:filter>"#,
                tm("home")
            ),
            &["eva.vcf", "jane.vcf"],
        ),
        (
            format!(
                r#"<C:filter><C:prop-filter name="EMAIL" test="allof">{}{home_type}</C:prop-filter></C:filter>"#,
                tm("work")
            ),
            &[],
        ),
        (
            format!(
                r#"<C:filter><C:prop-filter name="EMAIL" test="anyof">{}{home_type}</C:prop-filter></C:filter>"#,
                tm("work")
            ),
            &["eva.vcf", "jane.vcf"],
        ),
        (
            format!(
                r#"<C:filter><C:prop-filter name="EMAIL">{}{home_type}</C:prop-filter></C:filter>"#,
                tm("firma")
            ),
            &["eva.vcf", "hans.vcf", "jane.vcf"],
        ),
        (
            format!(
                r#"<C:filter><C:prop-filter name="FN" test="allof">{}{}</C:prop-filter></C:filter>"#,
                tm("jane"),
                tm("doe")
            ),
            &["jane.vcf"],
        ),
        (
            format!(
                r#"<C:filter><C:prop-filter name="FN" test="allof">{}{}</C:prop-filter></C:filter>"#,
                tm("jane"),
                tm("müller")
            ),
            &[],
        ),
        (
            format!(
                r#"<C:filter><C:prop-filter name="FN" test="anyof">{}{}</C:prop-filter></C:filter>"#,
                tm("jane"),
                tm("stone")
            ),
            &["bob.vcf", "jane.vcf"],
        ),
        // An empty filter matches every card.
        (
            "<C:filter/>".to_owned(),
            &["asa.vcf", "bob.vcf", "eva.vcf", "hans.vcf", "jane.vcf", "joerg.vcf", "wang.vcf"],
        ),
    ];
    check_queries(&client, &cases).await;
}

#[tokio::test]
async fn group_prefixed_property_names() {
    let (_server, client) = query_setup().await;
    let cases: Vec<(String, &[&str])> = vec![
        // A group-prefixed name matches only properties of that group
        // (RFC 6352 §10.5.1); without a group, any group.
        (text_filter("item1.EMAIL", "", "example"), &["jane.vcf"]),
        (text_filter("ITEM1.email", "", "example"), &["jane.vcf"]),
        (text_filter("item2.EMAIL", "", "example"), &["eva.vcf"]),
        (text_filter("item1.EMAIL", "", "home"), &[]),
        (text_filter("item3.EMAIL", "", "example"), &[]),
        (text_filter("EMAIL", "", "home.example"), &["eva.vcf", "jane.vcf"]),
        (text_filter("EMAIL", "", "work.example"), &["jane.vcf"]),
        (text_filter("item1.X-ABLabel", r#"match-type="equals""#, "work"), &["jane.vcf"]),
        (
            r#"<C:filter><C:prop-filter name="item2.EMAIL"><C:is-not-defined/></C:prop-filter></C:filter>"#
                .to_owned(),
            &["asa.vcf", "bob.vcf", "hans.vcf", "jane.vcf", "joerg.vcf", "wang.vcf"],
        ),
    ];
    check_queries(&client, &cases).await;
}

#[tokio::test]
async fn short_and_long_needles_including_non_ascii() {
    let (_server, client) = query_setup().await;
    let cases: Vec<(String, &[&str])> = vec![
        // One or two characters: below the trigram index.
        (text_filter("FN", "", "ek"), &["asa.vcf"]),
        (text_filter("FN", "", "e"), &["asa.vcf", "bob.vcf", "eva.vcf", "hans.vcf", "jane.vcf", "joerg.vcf"]),
        (text_filter("FN", "", "王"), &["wang.vcf"]),
        (text_filter("NICKNAME", "", "小明"), &["wang.vcf"]),
        (text_filter("FN", "", "å"), &["asa.vcf"]),
        (text_filter("FN", "", "Ö"), &["joerg.vcf"]),
        (text_filter("FN", "", "ü"), &["eva.vcf", "hans.vcf", "joerg.vcf"]),
        (text_filter("TEL", "", "99"), &["bob.vcf"]),
        // Three and more: through the index.
        (text_filter("FN", "", "王小明"), &["wang.vcf"]),
        (text_filter("ORG", "", "示例科"), &["wang.vcf"]),
        (text_filter("FN", "", "jörg"), &["joerg.vcf"]),
        (text_filter("FN", "", "åsa ek"), &["asa.vcf"]),
        (text_filter("FN", "", "ller"), &["eva.vcf", "hans.vcf", "joerg.vcf"]),
        (text_filter("EMAIL", "", "@firma.example"), &["hans.vcf"]),
        (text_filter("TEL", "", "0199"), &["bob.vcf"]),
        (text_filter("FN", "", "nobody at all"), &[]),
    ];
    check_queries(&client, &cases).await;
}

/// Hits from the search index must be the same as from reading every
/// card: the same prop-filter, once alone (the index picks candidates) and
/// once next to a prop-filter the index cannot answer (every card is read).
#[tokio::test]
async fn the_index_answers_like_reading_every_card() {
    let (_server, client) = setup();
    put_new(&client, &format!("{BOOK}google.vcf"), corpus_file("google-export-categories.vcf")).await;
    put_new(&client, &format!("{BOOK}apple.vcf"), corpus_file("apple-ios-contact-photo.vcf")).await;
    put_new(&client, &format!("{BOOK}macos.vcf"), corpus_file("apple-macos-company-showas.vcf")).await;
    let filler = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(40);
    let long = format!(
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:long-note\r\nFN:Long Note\r\n{}END:VCARD\r\n",
        fold(&format!("NOTE:{filler}Zebrafisch am Ende"))
    );
    put_new(&client, &format!("{BOOK}long.vcf"), long).await;

    let cases: Vec<(&str, &str, &[&str])> = vec![
        ("NOTE", "zebrafisch", &["long.vcf"]),
        ("NOTE", "lorem ipsum", &["long.vcf"]),
        ("N", "Raman;Priya", &["google.vcf"]),
        ("ORG", "GmbH;Forschung", &["apple.vcf"]),
        ("ADR", "Kastanienallee 12;Berlin", &["apple.vcf"]),
        ("NOTE", "Konferenz, Tisch", &["apple.vcf"]),
        ("NOTE", "chai; cricket", &["google.vcf"]),
        ("FN", "Bäckerei", &["macos.vcf"]),
    ];
    let mut failures = Vec::new();
    for (prop, needle, expected) in cases {
        let pf =
            format!(r#"<C:prop-filter name="{prop}"><C:text-match>{needle}</C:text-match></C:prop-filter>"#);
        let indexed = search(&client, BOOK, &format!("<C:filter>{pf}</C:filter>")).await;
        let scanned = search(
            &client,
            BOOK,
            &format!(r#"<C:filter test="anyof"><C:prop-filter name="X-NOT-INDEXED"/>{pf}</C:filter>"#),
        )
        .await;
        if scanned != expected || indexed != expected {
            failures.push(format!(
                "{prop} contains {needle:?}: expected {expected:?}; with the index {indexed:?}, reading every card {scanned:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n  {}", failures.join("\n  "));
}

#[tokio::test]
async fn limit_truncates_with_a_507_for_the_request_uri() {
    let (_server, client) = query_setup().await;
    let filter = text_filter("FN", "", "müller"); // three matches
    for (n, expect_truncated) in [(1usize, true), (2, true), (3, false), (10, false)] {
        let extra = format!("<C:limit><C:nresults>{n}</C:nresults></C:limit>");
        let r = client.report(BOOK, "1", &query_body("<D:getetag/>", &filter, &extra)).await;
        let ms = r.multistatus();
        let found: Vec<&Entry> = ms.entries.iter().filter(|e| e.status.is_none()).collect();
        let statuses: Vec<&Entry> = ms.entries.iter().filter(|e| e.status.is_some()).collect();
        assert_eq!(found.len(), n.min(3), "nresults {n}: {}", r.body);
        for e in &found {
            assert!(
                ["eva.vcf", "hans.vcf", "joerg.vcf"].iter().any(|x| e.href == format!("{BOOK}{x}")),
                "{}",
                e.href
            );
        }
        if expect_truncated {
            assert_eq!(statuses.len(), 1, "nresults {n} with 3 matches: one 507 response: {}", r.body);
            assert_eq!(statuses[0].href, BOOK, "the 507 names the Request-URI");
            assert_eq!(statuses[0].status, Some(507));
            let doc = roxmltree::Document::parse(&r.body).expect("XML");
            let response = doc
                .descendants()
                .filter(|n| n.has_tag_name((DAV, "response")))
                .find(|n| {
                    n.descendants()
                        .any(|s| s.has_tag_name((DAV, "status")) && s.text().unwrap_or("").contains("507"))
                })
                .expect("the 507 response");
            assert!(
                response.descendants().any(|n| n.has_tag_name((DAV, "number-of-matches-within-limits"))),
                "the 507 response names DAV:number-of-matches-within-limits: {}",
                r.body
            );
        } else {
            assert!(statuses.is_empty(), "nresults {n} with 3 matches: nothing was truncated: {}", r.body);
        }
    }
}

#[tokio::test]
async fn partial_address_data() {
    let (_server, client) = query_setup().await;
    let prop = r#"<D:getetag/><C:address-data><C:prop name="FN"/><C:prop name="EMAIL" novalue="yes"/></C:address-data>"#;
    let body = query_body(prop, &text_filter("FN", r#"match-type="equals""#, "jane doe"), "");
    let ms = client.report(BOOK, "1", &body).await.multistatus();
    assert_eq!(ms.hrefs(), vec![format!("{BOOK}jane.vcf")]);
    let data = ms.entry(&format!("{BOOK}jane.vcf")).text(CARDDAV, "address-data");
    let lines = card_lines(data.as_bytes());
    assert_eq!(one(&lines, "FN").text(), "Jane Doe");
    let emails = all(&lines, "EMAIL");
    assert_eq!(emails.len(), 2, "{data}");
    assert!(emails.iter().all(|e| e.value.is_empty()), "novalue: the EMAIL lines without values: {data}");
    for gone in ["TEL", "NICKNAME", "ORG", "CATEGORIES", "N", "X-ABLABEL"] {
        assert!(all(&lines, gone).is_empty(), "{gone} was not asked for: {data}");
    }
    assert!(!data.contains("jane@"), "{data}");

    // With a version: the selection applies to the converted card.
    let prop =
        r#"<C:address-data content-type="text/vcard" version="4.0"><C:prop name="EMAIL"/></C:address-data>"#;
    let body = query_body(prop, &text_filter("FN", r#"match-type="equals""#, "jane doe"), "");
    let ms = client.report(BOOK, "1", &body).await.multistatus();
    let data = ms.entry(&format!("{BOOK}jane.vcf")).text(CARDDAV, "address-data");
    let lines = card_lines(data.as_bytes());
    assert_eq!(version_of(&lines), "4.0");
    assert_eq!(all(&lines, "EMAIL").len(), 2);
    assert!(all(&lines, "FN").is_empty());
}

#[tokio::test]
async fn unsupported_collation_and_address_data_version_are_refused() {
    let (_server, client) = query_setup().await;
    let r = client
        .report(
            BOOK,
            "1",
            &query_body("<D:getetag/>", &text_filter("FN", r#"collation="i;klingon""#, "x"), ""),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.error_condition(), Some(qname(CARDDAV, "supported-collation")), "{}", r.body);

    let prop = r#"<C:address-data content-type="text/vcard" version="2.1"/>"#;
    let r = client.report(BOOK, "1", &query_body(prop, &text_filter("FN", "", "jane"), "")).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.error_condition(), Some(qname(CARDDAV, "supported-address-data")), "{}", r.body);

    let r = client
        .report(
            BOOK,
            "1",
            &multiget_body(
                r#"<C:address-data content-type="text/x-unknown"/>"#,
                &[&format!("{BOOK}jane.vcf")],
            ),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.error_condition(), Some(qname(CARDDAV, "supported-address-data")), "{}", r.body);
}

#[tokio::test]
async fn search_follows_updates_deletes_copies_and_moves() {
    let (server, client) = query_setup().await;
    let jane = format!("{BOOK}jane.vcf");
    let updated = query_cards()
        .into_iter()
        .find(|(n, _)| *n == "jane.vcf")
        .expect("jane")
        .1
        .replace("FN:Jane Doe", "FN:Janet Quirrell");
    let r = put_card(&client, &jane, updated).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(search(&client, BOOK, &text_filter("FN", "", "jane doe")).await, Vec::<String>::new());
    assert_eq!(search(&client, BOOK, &text_filter("FN", "", "quirrell")).await, vec!["jane.vcf"]);
    assert_eq!(search(&client, BOOK, &text_filter("FN", "", "qu")).await, vec!["jane.vcf"]);
    // Other properties of the card are still found.
    assert_eq!(search(&client, BOOK, &text_filter("EMAIL", "", "jane@home")).await, vec!["jane.vcf"]);

    assert_eq!(client.delete(&jane, &[]).await.status, 204);
    assert_eq!(search(&client, BOOK, &text_filter("FN", "", "quirrell")).await, Vec::<String>::new());
    assert_eq!(search(&client, BOOK, &text_filter("EMAIL", "", "jane@home")).await, Vec::<String>::new());

    assert_eq!(mkbook(&client, WORK, "Work", "").await.status, 201);
    let r =
        copy_or_move(&server, &client, "COPY", &format!("{BOOK}bob.vcf"), &format!("{WORK}bob.vcf")).await;
    assert_eq!(r.status, 201, "COPY: {}", r.body);
    let r =
        copy_or_move(&server, &client, "MOVE", &format!("{BOOK}asa.vcf"), &format!("{WORK}asa-moved.vcf"))
            .await;
    assert_eq!(r.status, 201, "MOVE: {}", r.body);

    assert_eq!(search(&client, WORK, &text_filter("FN", "", "bob stone")).await, vec!["bob.vcf"]);
    assert_eq!(search(&client, WORK, &text_filter("FN", "", "bo")).await, vec!["bob.vcf"]);
    assert_eq!(
        search(&client, BOOK, &text_filter("FN", "", "bob stone")).await,
        vec!["bob.vcf"],
        "the copy's source stays"
    );
    assert_eq!(search(&client, WORK, &text_filter("FN", "", "åsa")).await, vec!["asa-moved.vcf"]);
    assert_eq!(search(&client, WORK, &text_filter("TEL", "", "+46 70")).await, vec!["asa-moved.vcf"]);
    assert_eq!(
        search(&client, BOOK, &text_filter("FN", "", "åsa")).await,
        Vec::<String>::new(),
        "moved away"
    );
    assert_eq!(
        search(&client, WORK, "<C:filter/>").await,
        vec!["asa-moved.vcf", "bob.vcf"],
        "nothing of the default book is found in the other"
    );
    // The moved card, changed in its new book, is found by its new name only.
    let moved = format!("{WORK}asa-moved.vcf");
    let body = get_text(&client, &moved, None).await.replace("FN:Åsa Ek", "FN:Åsa Lindqvist");
    assert_eq!(put_card(&client, &moved, body).await.status, 204);
    assert_eq!(search(&client, WORK, &text_filter("FN", "", "lindqvist")).await, vec!["asa-moved.vcf"]);
    assert_eq!(
        search(&client, WORK, &text_filter("FN", r#"match-type="ends-with""#, " ek")).await,
        Vec::<String>::new()
    );
}

// ====================================================================== 5. addressbook-multiget

#[tokio::test]
async fn multiget_found_missing_other_book_and_other_user() {
    let (server, client) = query_setup().await;
    server.add_user("mallory", "pw");
    let mallory = server.client("mallory", "pw");
    let theirs = "/dav/addressbooks/mallory/default/secret.vcf";
    put_new(&mallory, theirs, vcard("m-secret", "Mallory Secret")).await;
    assert_eq!(mkbook(&client, WORK, "Work", "").await.status, 201);
    let other_book = format!("{WORK}w.vcf");
    put_new(&client, &other_book, vcard("w-1", "Worker One")).await;

    let found = format!("{BOOK}jane.vcf");
    let found2 = format!("{BOOK}wang.vcf");
    let missing = format!("{BOOK}nobody.vcf");
    let sneaky = format!("{BOOK}../../mallory/default/secret.vcf");
    let hrefs =
        [found.as_str(), missing.as_str(), other_book.as_str(), theirs, found2.as_str(), sneaky.as_str()];
    let r = client.report(BOOK, "1", &multiget_body("<D:getetag/><C:address-data/>", &hrefs)).await;
    let ms = r.multistatus();
    assert_eq!(ms.entries.len(), 6, "one response per href: {}", r.body);
    let expected = query_cards();
    for (href, name) in [(&found, "jane.vcf"), (&found2, "wang.vcf")] {
        let e = ms.entry(href);
        assert_eq!(e.status, None);
        let stored = &expected.iter().find(|(n, _)| *n == name).expect("card").1;
        assert_eq!(&e.text(CARDDAV, "address-data"), stored);
        assert!(e.prop(DAV, "getetag").is_some());
    }
    for href in [missing.as_str(), other_book.as_str(), theirs, sneaky.as_str()] {
        assert_eq!(ms.entry(href).status, Some(404), "{href}: {}", r.body);
    }
    assert!(!r.body.contains("Mallory Secret"), "another user's card leaked");
    assert!(!r.body.contains("Worker One"), "another book's card leaked");

    // Percent-encoded hrefs name the same resource.
    let spaced = format!("{BOOK}with%20space.vcf");
    put_new(&client, &spaced, vcard("spaced", "Spaced Out")).await;
    let r = client.report(BOOK, "1", &multiget_body("<C:address-data/>", &[spaced.as_str()])).await;
    let ms = r.multistatus();
    assert_eq!(ms.entries.len(), 1);
    assert!(ms.entries[0].text(CARDDAV, "address-data").contains("FN:Spaced Out"), "{}", r.body);
}

// ====================================================================== 6. PUT preconditions

#[tokio::test]
async fn put_preconditions_store_nothing() {
    let (server, client) = setup();
    let card = |body: &str| format!("BEGIN:VCARD\r\n{body}END:VCARD\r\n");
    let valid = qname(CARDDAV, "valid-address-data");
    let supported = qname(CARDDAV, "supported-address-data");
    let cases: Vec<(&str, &str, String, Vec<&String>)> = vec![
        ("no UID", VCARD_CT, card("VERSION:4.0\r\nFN:No Uid\r\n"), vec![&valid]),
        ("empty UID", VCARD_CT, card("VERSION:4.0\r\nUID:\r\nFN:Empty Uid\r\n"), vec![&valid]),
        ("no FN", VCARD_CT, card("VERSION:4.0\r\nUID:no-fn\r\nN:Nofn;Nora;;;\r\n"), vec![&valid]),
        ("no VERSION", VCARD_CT, card("UID:no-version\r\nFN:No Version\r\n"), vec![&valid]),
        (
            "two cards",
            VCARD_CT,
            format!("{}{}", vcard("two-1", "First"), vcard("two-2", "Second")),
            vec![&valid],
        ),
        ("garbage", VCARD_CT, "this is not a vCard at all\r\n".to_owned(), vec![&valid]),
        ("empty body", VCARD_CT, String::new(), vec![&valid]),
        (
            "unterminated",
            VCARD_CT,
            "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:open\r\nFN:Open\r\n".to_owned(),
            vec![&valid],
        ),
        ("an iCalendar object", VCARD_CT, event("ev-1", "Not a card"), vec![&valid, &supported]),
        (
            "vCard 2.1",
            VCARD_CT,
            card("VERSION:2.1\r\nUID:v21\r\nN:Alt;Anna\r\nFN:Anna Alt\r\nTEL;HOME;VOICE:+49 30 1\r\n"),
            vec![&valid, &supported],
        ),
        ("text/plain", "text/plain", vcard("plain", "Plain Text"), vec![&supported]),
        ("application/json", "application/json", vcard("json", "Json"), vec![&supported]),
    ];
    let before = sync_token(&client, BOOK).await;
    for (i, (what, content_type, body, conditions)) in cases.iter().enumerate() {
        let path = format!("{BOOK}bad-{i}.vcf");
        let r = client.send("PUT", &path, &[("Content-Type", content_type)], body.clone()).await;
        assert_eq!(r.status, 403, "{what}: {}", r.body);
        let condition = r.error_condition().unwrap_or_default();
        assert!(
            conditions.contains(&&condition),
            "{what}: precondition {condition:?}, expected one of {conditions:?}"
        );
        assert_eq!(client.get(&path).await.status, 404, "{what} was stored");
    }
    assert_eq!(members(&client, BOOK).await, Vec::<String>::new());
    assert_eq!(sync_token(&client, BOOK).await, before, "a refused PUT changed the sync token");

    // no-uid-conflict: 409 naming the holder; the holder itself may be replaced.
    let a = format!("{BOOK}a.vcf");
    let b = format!("{BOOK}b.vcf");
    put_new(&client, &a, vcard("shared-uid", "First Holder")).await;
    let r = put_card(&client, &b, vcard("shared-uid", "Second Holder")).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.error_condition(), Some(qname(CARDDAV, "no-uid-conflict")));
    let doc = roxmltree::Document::parse(&r.body).expect("XML");
    let holder: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name((CARDDAV, "no-uid-conflict")))
        .flat_map(|n| n.descendants().filter(|h| h.has_tag_name((DAV, "href"))))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    assert_eq!(holder, vec![a.as_str()], "{}", r.body);
    assert_eq!(client.get(&b).await.status, 404);
    assert_eq!(put_card(&client, &a, vcard("shared-uid", "First Holder, renamed")).await.status, 204);
    // COPY within the book would duplicate the UID too (RFC 6352 §6.3.2.1).
    let r = copy_or_move(&server, &client, "COPY", &a, &b).await;
    assert!(matches!(r.status, 403 | 409), "COPY onto a duplicate UID: {} {}", r.status, r.body);
    assert_eq!(r.error_condition(), Some(qname(CARDDAV, "no-uid-conflict")), "{}", r.body);
    assert_eq!(client.get(&b).await.status, 404);
    // The same UID in another book is fine.
    assert_eq!(mkbook(&client, WORK, "Work", "").await.status, 201);
    put_new(&client, &format!("{WORK}a.vcf"), vcard("shared-uid", "Elsewhere")).await;
    // MOVE into a book that has the UID already.
    let other = format!("{BOOK}other.vcf");
    put_new(&client, &other, vcard("other-uid", "Other")).await;
    put_new(&client, &format!("{WORK}holder.vcf"), vcard("other-uid", "Holder of other")).await;
    let r = copy_or_move(&server, &client, "MOVE", &other, &format!("{WORK}moved.vcf")).await;
    assert!(matches!(r.status, 403 | 409), "MOVE onto a duplicate UID: {} {}", r.status, r.body);
    assert_eq!(r.error_condition(), Some(qname(CARDDAV, "no-uid-conflict")), "{}", r.body);
    assert_eq!(client.get(&other).await.status, 200, "the source of a refused MOVE stays");
    assert_eq!(client.get(&format!("{WORK}moved.vcf")).await.status, 404);
    // COPY of something that is not a card from the file space.
    assert_eq!(client.put("/dav/files/alice/note.vcf", "text/plain", "not a card", &[]).await.status, 201);
    let r =
        copy_or_move(&server, &client, "COPY", "/dav/files/alice/note.vcf", &format!("{BOOK}note.vcf")).await;
    assert!(
        matches!(r.status, 403 | 409 | 415),
        "COPY of a text file into an address book: {} {}",
        r.status,
        r.body
    );
    assert_eq!(client.get(&format!("{BOOK}note.vcf")).await.status, 404);
}

#[tokio::test]
async fn max_resource_size_is_enforced_and_advertised() {
    let server = Server::start_with("max_resource_size = 3000", &[]);
    server.add_user("alice", "pw");
    let client = server.client("alice", "pw");
    let ms = client.props(BOOK, "0", &[(CARDDAV, "max-resource-size")]).await.multistatus();
    assert_eq!(ms.entry(BOOK).text(CARDDAV, "max-resource-size"), "3000");

    let sized = |uid: &str, size: usize| {
        let head = format!("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:Sized\r\n");
        let tail = "END:VCARD\r\n";
        let note_len = size - head.len() - tail.len() - "NOTE:\r\n".len();
        let s = format!("{head}NOTE:{}\r\n{tail}", "x".repeat(note_len));
        assert_eq!(s.len(), size);
        s
    };
    let path = format!("{BOOK}sized.vcf");
    put_new(&client, &path, sized("at-limit", 3000)).await;
    let big = format!("{BOOK}big.vcf");
    let r = put_card(&client, &big, sized("over-limit", 3001)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.error_condition(), Some(qname(CARDDAV, "max-resource-size")), "{}", r.body);
    assert_eq!(client.get(&big).await.status, 404);
    // Replacing with an oversized body keeps the old card.
    let r = put_card(&client, &path, sized("at-limit", 5000)).await;
    assert_eq!(r.status, 403);
    assert_eq!(client.get(&path).await.body, sized("at-limit", 3000));
}

// ====================================================================== 7. address-book collections

#[tokio::test]
async fn address_book_collection_properties() {
    let (_server, client) = setup();
    let r = mkbook(&client, WORK, "Arbeit", "Kollegen &amp; Kunden").await;
    assert_eq!(r.status, 201, "{}", r.body);
    let names = [
        (DAV, "resourcetype"),
        (DAV, "displayname"),
        (CARDDAV, "addressbook-description"),
        (CARDDAV, "supported-address-data"),
        (DAV, "supported-report-set"),
        (CARDDAV, "supported-collation-set"),
        (CARDDAV, "max-resource-size"),
        (CS, "getctag"),
        (DAV, "sync-token"),
    ];
    let r = client.props(WORK, "0", &names).await;
    let ms = r.multistatus();
    let e = ms.entry(WORK);
    let rt = &e.prop(DAV, "resourcetype").expect("resourcetype").children;
    assert!(rt.contains(&qname(DAV, "collection")) && rt.contains(&qname(CARDDAV, "addressbook")), "{rt:?}");
    assert_eq!(e.text(DAV, "displayname"), "Arbeit");
    assert_eq!(e.text(CARDDAV, "addressbook-description"), "Kollegen & Kunden");
    let max: u64 = e.text(CARDDAV, "max-resource-size").parse().expect("a number");
    assert!(max > 0);
    let ctag = e.text(CS, "getctag");
    assert!(!ctag.is_empty());
    let mut collations = texts_of(&r.body, CARDDAV, "supported-collation");
    assert!(e.prop(CARDDAV, "supported-collation-set").is_some());
    collations.sort();
    assert_eq!(collations, SUPPORTED_COLLATIONS.to_vec());
    let reports = reports(&r.body);
    for report in [
        qname(CARDDAV, "addressbook-query"),
        qname(CARDDAV, "addressbook-multiget"),
        qname(DAV, "sync-collection"),
    ] {
        assert!(reports.contains(&report), "{report} missing from {reports:?}");
    }
    assert!(e.prop(CARDDAV, "supported-address-data").is_some());
    let types = address_data_types(&r.body);
    for expected in [("text/vcard", "3.0"), ("text/vcard", "4.0")] {
        assert!(
            types.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} missing from {types:?}"
        );
    }
    // The server serves jCard (GET with Accept, address-data content-type),
    // so it belongs in the list (RFC 6352 §10.4: address-data types are the
    // ones of supported-address-data).
    assert!(
        types.iter().any(|(ct, _)| ct == JCARD),
        "application/vcard+json missing from supported-address-data: {types:?}"
    );

    // The ctag changes with the content.
    put_new(&client, &format!("{WORK}c.vcf"), vcard("ctag-1", "Ctag Changer")).await;
    let ms = client.props(WORK, "0", &[(CS, "getctag")]).await.multistatus();
    assert_ne!(ms.entry(WORK).text(CS, "getctag"), ctag);

    // The home lists the new book beside default.
    let ms = client.props("/dav/addressbooks/alice/", "1", &[(DAV, "resourcetype")]).await.multistatus();
    assert!(
        ms.hrefs().contains(&WORK.to_owned()) && ms.hrefs().contains(&BOOK.to_owned()),
        "{:?}",
        ms.hrefs()
    );
}

/// RFC 6352 §5.1.1: "servers have to accept all media types that they
/// advertise via the CARDDAV:supported-address-data WebDAV property".
#[tokio::test]
async fn every_advertised_address_data_type_can_be_stored() {
    let (_server, client) = setup();
    let r = client.props(BOOK, "0", &[(CARDDAV, "supported-address-data")]).await;
    let types = address_data_types(&r.body);
    assert!(!types.is_empty(), "{}", r.body);
    for (i, (content_type, version)) in types.iter().enumerate() {
        let path = format!("{BOOK}advertised-{i}.vcf");
        let uid = format!("advertised-{i}");
        let (body, ct) = if content_type == JCARD {
            (
                format!(
                    r#"["vcard",[["version",{{}},"text","4.0"],["uid",{{}},"text","{uid}"],["fn",{{}},"text","Json Card"]]]"#
                ),
                JCARD.to_owned(),
            )
        } else if version == "3.0" {
            (
                format!(
                    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:Three\r\nN:Three;;;;\r\nEND:VCARD\r\n"
                ),
                format!("{content_type}; version=3.0"),
            )
        } else {
            (
                format!("BEGIN:VCARD\r\nVERSION:{version}\r\nUID:{uid}\r\nFN:Four\r\nEND:VCARD\r\n"),
                content_type.clone(),
            )
        };
        let r = client.send("PUT", &path, &[("Content-Type", ct.as_str())], body).await;
        assert!(
            matches!(r.status, 201 | 204),
            "PUT of advertised {content_type} {version}: {} {}",
            r.status,
            r.body
        );
    }
}

#[tokio::test]
async fn get_on_an_address_book_exports_every_card() {
    let (_server, client) = setup();
    let mut stored = Vec::new();
    for name in [
        "google-export-categories.vcf",
        "thunderbird-v4-greek.vcf",
        "oddity-fold-splits-utf8.vcf",
        "nextcloud-emoji-name.vcf",
    ] {
        let bytes = corpus_file(name);
        put_new(&client, &format!("{BOOK}{name}"), bytes.clone()).await;
        stored.push(bytes);
    }
    // A card without a final line break still ends up on its own lines.
    let bare = b"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:no-final-newline\r\nFN:No Newline\r\nEND:VCARD".to_vec();
    put_new(&client, &format!("{BOOK}bare.vcf"), bare.clone()).await;
    stored.push(bare);
    let (status, headers, body) = get_as(&client, BOOK, None).await;
    assert_eq!(status, 200);
    let ct = header(&headers, "content-type").unwrap_or("");
    assert!(ct.to_ascii_lowercase().starts_with("text/vcard"), "Content-Type {ct}");
    let text = unfold(&body);
    assert_eq!(text.matches("BEGIN:VCARD").count(), stored.len(), "{text}");
    assert_eq!(text.matches("END:VCARD").count(), stored.len());
    for card in &stored {
        assert!(
            body.windows(card.len()).any(|w| w == card.as_slice()),
            "a card is not in the export byte for byte"
        );
    }
    assert!(!text.contains("END:VCARDBEGIN:VCARD"), "two cards run together");
    // Every card of the export is a card with a UID.
    let uids: BTreeSet<String> = text
        .split("END:VCARD")
        .filter(|c| c.contains("BEGIN:VCARD"))
        .map(|c| {
            let c = format!("{}END:VCARD\r\n", &c[c.find("BEGIN:VCARD").expect("begin")..]);
            one(&card_lines(c.as_bytes()), "UID").text()
        })
        .collect();
    assert_eq!(uids.len(), stored.len());

    // An empty book exports as an empty body.
    assert_eq!(mkbook(&client, WORK, "Empty", "").await.status, 201);
    let (status, _, body) = get_as(&client, WORK, None).await;
    assert_eq!(status, 200);
    assert!(body.is_empty() || !String::from_utf8_lossy(&body).contains("BEGIN:VCARD"));
}

#[tokio::test]
async fn deleting_an_address_book_removes_its_cards_and_their_search_entries() {
    let (_server, client) = setup();
    assert_eq!(mkbook(&client, WORK, "Work", "").await.status, 201);
    put_new(&client, &format!("{WORK}k.vcf"), vcard("del-1", "Kassandra Deleted")).await;
    put_new(&client, &format!("{WORK}l.vcf"), vcard("del-2", "Ludmila Deleted")).await;
    put_new(&client, &format!("{BOOK}keep.vcf"), vcard("keep-1", "Kept Deleted")).await;
    assert_eq!(search(&client, WORK, &text_filter("FN", "", "deleted")).await, vec!["k.vcf", "l.vcf"]);

    let r = client.delete(WORK, &[]).await;
    assert!(matches!(r.status, 200 | 204), "{} {}", r.status, r.body);
    assert_eq!(client.get(&format!("{WORK}k.vcf")).await.status, 404);
    assert_eq!(client.props(WORK, "0", &[(DAV, "resourcetype")]).await.status, 404);
    let ms = client.props("/dav/addressbooks/alice/", "1", &[(DAV, "resourcetype")]).await.multistatus();
    assert!(!ms.hrefs().contains(&WORK.to_owned()), "{:?}", ms.hrefs());
    assert_eq!(
        client
            .report(WORK, "1", &query_body("<D:getetag/>", &text_filter("FN", "", "deleted"), ""))
            .await
            .status,
        404
    );

    // A new book of the same name starts empty; the old cards are not found, nor do their UIDs conflict.
    assert_eq!(mkbook(&client, WORK, "Work again", "").await.status, 201);
    assert_eq!(search(&client, WORK, &text_filter("FN", "", "deleted")).await, Vec::<String>::new());
    assert_eq!(search(&client, WORK, "<C:filter/>").await, Vec::<String>::new());
    put_new(&client, &format!("{WORK}k2.vcf"), vcard("del-1", "Kassandra Again")).await;
    assert_eq!(search(&client, BOOK, &text_filter("FN", "", "deleted")).await, vec!["keep.vcf"]);
}

// ====================================================================== 8. real-world corpus

/// The card with a UID line added after BEGIN:VCARD, if it is a single card without one.
fn with_added_uid(bytes: &[u8], uid: &str) -> Option<Vec<u8>> {
    let upper = bytes.to_ascii_uppercase();
    let begins = upper.windows(11).filter(|w| w == b"BEGIN:VCARD").count();
    let has_uid = upper.split(|&b| b == b'\n').any(|l| l.starts_with(b"UID:") || l.starts_with(b"UID;"));
    if begins != 1 || has_uid {
        return None;
    }
    let at = upper.windows(11).position(|w| w == b"BEGIN:VCARD")?;
    let eol = at + bytes[at..].iter().position(|&b| b == b'\n')? + 1;
    let mut out = bytes[..eol].to_vec();
    out.extend_from_slice(format!("UID:{uid}\r\n").as_bytes());
    out.extend_from_slice(&bytes[eol..]);
    Some(out)
}

/// The text of the server's explanation in an error body.
fn error_message(body: &str) -> String {
    roxmltree::Document::parse(body)
        .ok()
        .and_then(|d| {
            d.descendants()
                .find(|n| n.tag_name().name() == "message")
                .and_then(|n| n.text().map(str::to_owned))
        })
        .unwrap_or_default()
}

/// One of [`v3_shape_problems`] and [`v4_shape_problems`].
type ShapeCheck = fn(&str, &[Line]) -> Vec<String>;

/// Checks an accepted card: byte-for-byte GET, every other representation,
/// and a round trip through the other version. Problems are collected.
async fn check_accepted(
    client: &Client,
    name: &str,
    path: &str,
    bytes: &[u8],
    n: usize,
    failures: &mut Vec<String>,
) {
    let (status, _, body) = get_as(client, path, None).await;
    if status != 200 || body != bytes {
        failures.push(format!("{name}: accepted, but GET gave {status} and other bytes"));
    }
    for accept in [ACCEPT_V3, ACCEPT_V4, JCARD] {
        let (status, _, body) = get_as(client, path, Some(accept)).await;
        let text = String::from_utf8_lossy(&body);
        if status != 200 {
            failures.push(format!("{name}: GET as {accept}: {status} {text:.200}"));
        } else if accept == JCARD {
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(json) => {
                    let props = json[1].as_array().cloned().unwrap_or_default();
                    failures.extend(jcard_problems(name, &card_lines(bytes), &props));
                }
                Err(_) => failures.push(format!("{name}: jCard is not JSON: {text:.200}")),
            }
        } else if !text.contains(&format!("VERSION:{}", &accept[accept.len() - 3..])) {
            failures.push(format!("{name}: GET as {accept} has another version"));
        }
    }
    let original = card_lines(bytes);
    let (there, back_accept, shape): (&str, &str, ShapeCheck) = match version_of(&original).as_str() {
        "3.0" => (ACCEPT_V4, ACCEPT_V3, v4_shape_problems),
        _ => (ACCEPT_V3, ACCEPT_V4, v3_shape_problems),
    };
    let converted = get_as(client, path, Some(there)).await.2;
    failures.extend(shape(&format!("{name} converted"), &card_lines(&converted)));
    let copy = format!("{BOOK}rt-{n}.vcf");
    let r = put_card(client, &copy, with_uid(&converted, &format!("rt-{n}"))).await;
    if r.status != 201 {
        failures.push(format!("{name}: the server refuses its own conversion: {} {}", r.status, r.body));
        return;
    }
    let back = get_as(client, &copy, Some(back_accept)).await.2;
    failures.extend(value_problems(name, &original, &card_lines(&back)));
    assert_eq!(client.delete(&copy, &[]).await.status, 204);
}

#[tokio::test]
async fn realworld_corpus_is_stored_or_refused_with_a_precondition() {
    let (_server, client) = setup();
    let mut accepted = Vec::new();
    let mut accepted_with_uid = Vec::new();
    let mut refused: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut failures = Vec::new();
    for (n, (name, bytes)) in vcf_files("fixtures/realworld/vcf").into_iter().enumerate() {
        // As the producer wrote it; then, if it lacks only a UID, with one added.
        let mut attempts = vec![(name.clone(), bytes.clone())];
        if let Some(fixed) = with_added_uid(&bytes, &format!("rw-added-{n}")) {
            attempts.push((format!("{name}+UID"), fixed));
        }
        for (label, body) in attempts {
            let path = format!("{BOOK}rw-{n}.vcf");
            let r = put_card(&client, &path, body.clone()).await;
            match r.status {
                201 | 204 => {
                    check_accepted(&client, &label, &path, &body, n, &mut failures).await;
                    if label == name {
                        accepted.push(label)
                    } else {
                        accepted_with_uid.push(label)
                    }
                    // Keep UIDs from colliding with later files.
                    assert_eq!(client.delete(&path, &[]).await.status, 204);
                    break;
                }
                403 => {
                    let condition = r.error_condition().unwrap_or_default();
                    if !condition.starts_with(&format!("{{{CARDDAV}}}")) {
                        failures.push(format!("{label}: 403 without a CardDAV precondition: {}", r.body));
                    }
                    if client.get(&path).await.status != 404 {
                        failures.push(format!("{label}: refused, but stored"));
                    }
                    let short = condition.rsplit('}').next().unwrap_or("").to_owned();
                    refused.entry(short).or_default().push(format!("{label} ({})", error_message(&r.body)));
                }
                s => failures.push(format!("{label}: {s} {}", r.body)),
            }
        }
    }
    eprintln!(
        "real-world vCards: {} accepted as written, {} more with a UID added; refusals: {}",
        accepted.len(),
        accepted_with_uid.len(),
        refused.values().map(Vec::len).sum::<usize>()
    );
    eprintln!("  accepted: {}", accepted.join(" "));
    eprintln!("  accepted with a UID added: {}", accepted_with_uid.join(" "));
    for (condition, files) in &refused {
        eprintln!("  refused with {condition}:");
        for f in files {
            eprintln!("    {f}");
        }
    }
    assert!(failures.is_empty(), "{} problems:\n  {}", failures.len(), failures.join("\n  "));
    assert!(!accepted.is_empty() && !accepted_with_uid.is_empty());
}

// ====================================================================== 9. skjold import

/// `(imported, replaced, unchanged, rejected)` from the import command's report line.
fn import_counts(stdout: &str) -> (usize, usize, usize, usize) {
    let line =
        stdout.lines().find(|l| l.contains("imported ")).unwrap_or_else(|| panic!("no report in {stdout}"));
    let number = |word: &str| -> usize {
        let at = line.find(&format!("{word} ")).unwrap_or_else(|| panic!("no {word} in {line}"));
        line[at + word.len() + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or_else(|_| panic!("{word} in {line}"))
    };
    (number("imported"), number("replaced"), number("unchanged"), number("rejected"))
}

fn run_import(server: &Server, book: &str, file: &std::path::Path) -> String {
    let out =
        server.cli(&["import", "--user", "alice", "--addressbook", book, file.to_str().expect("path")], None);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "import failed: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// The cards of a book by FN, as stored.
async fn cards_by_fn(client: &Client, book: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for href in members(client, book).await {
        let (status, _, body) = get_as(client, &href, None).await;
        assert_eq!(status, 200, "{href}");
        let fn_ = one(&card_lines(&body), "FN").text();
        out.insert(fn_, body);
    }
    out
}

/// A stored card is one valid vCard 3.0 or 4.0: UTF-8, CRLF, folded lines, FN, UID.
fn assert_storable(what: &str, body: &[u8]) {
    let text = std::str::from_utf8(body).unwrap_or_else(|_| panic!("{what}: not UTF-8"));
    assert!(text.ends_with("\r\n") && !text.replace("\r\n", "").contains('\n'), "{what}: lines end in CRLF");
    for l in text.split("\r\n") {
        assert!(l.len() <= 75, "{what}: a line of {} octets: {l}", l.len());
    }
    let lines = card_lines(body);
    assert!(matches!(version_of(&lines).as_str(), "3.0" | "4.0"), "{what}");
    assert!(!one(&lines, "FN").text().trim().is_empty(), "{what}: empty FN");
    assert!(!one(&lines, "UID").text().trim().is_empty(), "{what}: empty UID");
    for l in &lines {
        for (name, values) in &l.params {
            assert!(!values.is_empty(), "{what}: {} has the bare parameter {name} (vCard 2.1 only)", l.name);
            assert!(
                !matches!(name.as_str(), "CHARSET" | "QUOTED-PRINTABLE"),
                "{what}: {} keeps {name}",
                l.name
            );
            if name == "ENCODING" {
                assert!(values.iter().all(|v| v.eq_ignore_ascii_case("b")), "{what}: ENCODING={values:?}");
            }
        }
    }
}

#[tokio::test]
async fn import_of_legacy_and_current_vcards_is_idempotent_and_searchable() {
    let (server, client) = setup();
    let mut file: Vec<u8> = Vec::new();
    // vCard 2.1: quoted-printable with soft line breaks, ISO-8859-1 bytes, bare TYPE parameters.
    file.extend_from_slice(b"BEGIN:VCARD\r\nVERSION:2.1\r\n");
    file.extend_from_slice(b"N;CHARSET=ISO-8859-1:M\xfcller;J\xfcrgen\r\n");
    file.extend_from_slice(b"FN;ENCODING=QUOTED-PRINTABLE;CHARSET=ISO-8859-1:J=FCrgen M=FC=\r\nller\r\n");
    file.extend_from_slice(
        b"TEL;HOME;VOICE:+49 30 111\r\nTEL;WORK;FAX:+49 30 222\r\nEMAIL;INTERNET;PREF:juergen@example.de\r\n",
    );
    file.extend_from_slice(b"NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:Erste Zeile=0D=0A=\r\nZweite Zeile mit Gr=C3=BC=C3=9Fen\r\n");
    file.extend_from_slice(
        b"ADR;HOME;ENCODING=QUOTED-PRINTABLE;CHARSET=ISO-8859-1:;;Stra=DFe 1;K=F6ln;;50667;Deutschland\r\n",
    );
    file.extend_from_slice(b"UID:imp-21-a\r\nEND:VCARD\r\n");
    // vCard 2.1 without UID.
    file.extend_from_slice(b"BEGIN:VCARD\r\nVERSION:2.1\r\nN:Nouid;Nora\r\nFN:Nora Nouid\r\nTEL;CELL:+1 555 0001\r\nEND:VCARD\r\n");
    // vCard 2.1 without FN.
    file.extend_from_slice(
        b"BEGIN:VCARD\r\nVERSION:2.1\r\nN:Fnlos;Franz;;;\r\nEMAIL;INTERNET:franz@example.at\r\nUID:imp-21-nofn\r\nEND:VCARD\r\n",
    );
    // vCard 3.0 and 4.0, stored as they are.
    file.extend_from_slice(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:imp-30\r\nFN:Zoë Adams\r\nN:Adams;Zoë;;;\r\nEMAIL;TYPE=INTERNET,HOME:zoe@example.com\r\nEND:VCARD\r\n"
            .as_bytes(),
    );
    file.extend_from_slice(
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:imp-40\r\nFN:Åke Berg\r\nEMAIL;TYPE=work:ake@example.se\r\nBDAY:--0612\r\nEND:VCARD\r\n".as_bytes(),
    );
    let path = server.dir.path().join("legacy.vcf");
    std::fs::write(&path, &file).expect("write the file");

    let out = run_import(&server, "imported", &path);
    assert_eq!(import_counts(&out), (5, 0, 0, 0), "{out}");
    let book = "/dav/addressbooks/alice/imported/";
    let cards = cards_by_fn(&client, book).await;
    assert_eq!(cards.len(), 5, "{:?}", cards.keys().collect::<Vec<_>>());
    for (fn_, body) in &cards {
        assert_storable(fn_, body);
    }

    let juergen = card_lines(
        cards.get("Jürgen Müller").unwrap_or_else(|| panic!("no Jürgen Müller in {:?}", cards.keys())),
    );
    assert_eq!(version_of(&juergen), "3.0", "vCard 2.1 is stored as 3.0");
    assert_eq!(one(&juergen, "UID").text(), "imp-21-a");
    assert_eq!(one(&juergen, "N").components()[..2], [vec!["Müller".to_owned()], vec!["Jürgen".to_owned()]]);
    assert_eq!(one(&juergen, "NOTE").text(), "Erste Zeile\nZweite Zeile mit Grüßen");
    let adr = one(&juergen, "ADR");
    assert_eq!(adr.components()[2..4], [vec!["Straße 1".to_owned()], vec!["Köln".to_owned()]]);
    assert!(adr.types().contains("home"), "{:?}", adr.params);
    let tels: Vec<BTreeSet<String>> = all(&juergen, "TEL").iter().map(|t| t.types()).collect();
    assert_eq!(
        tels,
        vec![
            ["home", "voice"].iter().map(|s| s.to_string()).collect(),
            ["fax", "work"].iter().map(|s| s.to_string()).collect()
        ]
    );
    let email = one(&juergen, "EMAIL");
    assert!(email.types().contains("internet") && email.types().contains("pref"), "{:?}", email.params);

    let nora = card_lines(cards.get("Nora Nouid").expect("Nora Nouid"));
    assert_eq!(version_of(&nora), "3.0");
    let nora_uid = one(&nora, "UID").text();
    assert!(all(&nora, "TEL")[0].types().contains("cell"));

    let franz = cards
        .iter()
        .find(|(k, _)| k.contains("Franz"))
        .unwrap_or_else(|| panic!("no card named after N (Franz): {:?}", cards.keys()));
    assert_eq!(one(&card_lines(franz.1), "UID").text(), "imp-21-nofn");

    let zoe = card_lines(cards.get("Zoë Adams").expect("Zoë Adams"));
    assert_eq!(version_of(&zoe), "3.0");
    let ake = card_lines(cards.get("Åke Berg").expect("Åke Berg"));
    assert_eq!(version_of(&ake), "4.0");
    assert_eq!(normalized_date(one(&ake, "BDAY")), "--0612");

    // Each stored card is also accepted by a client PUT (with a new UID).
    for (i, (fn_, body)) in cards.iter().enumerate() {
        let r =
            put_card(&client, &format!("{BOOK}reput-{i}.vcf"), with_uid(body, &format!("reput-{i}"))).await;
        assert_eq!(r.status, 201, "{fn_}: the imported card is not storable by PUT: {}", r.body);
    }

    // Searchable like any other card.
    assert_eq!(search(&client, book, &text_filter("FN", "", "jürgen müller")).await.len(), 1);
    assert_eq!(search(&client, book, &text_filter("FN", "", "müller")).await.len(), 1);
    assert_eq!(search(&client, book, &text_filter("ADR", "", "köln")).await.len(), 1);
    assert_eq!(search(&client, book, &text_filter("NOTE", "", "grüßen")).await.len(), 1);
    assert_eq!(search(&client, book, &text_filter("EMAIL", "", "franz@")).await.len(), 1);
    assert_eq!(search(&client, book, &text_filter("FN", "", "zoë")).await.len(), 1);
    assert_eq!(search(&client, book, &text_filter("FN", "", "åk")).await.len(), 1);
    assert_eq!(search(&client, book, &text_filter("TEL", "", "+1 555 0001")).await.len(), 1);

    // A second run changes nothing.
    let token = sync_token(&client, book).await;
    let etags: BTreeMap<String, String> = client
        .props(book, "1", &[(DAV, "getetag")])
        .await
        .multistatus()
        .entries
        .iter()
        .filter(|e| e.href != book)
        .map(|e| (e.href.clone(), e.text(DAV, "getetag")))
        .collect();
    let out = run_import(&server, "imported", &path);
    assert_eq!(import_counts(&out), (0, 0, 5, 0), "{out}");
    assert_eq!(sync_token(&client, book).await, token, "a repeated import changed the book");
    let again = cards_by_fn(&client, book).await;
    assert_eq!(again, cards);
    let nora_again = card_lines(again.get("Nora Nouid").expect("Nora"));
    assert_eq!(one(&nora_again, "UID").text(), nora_uid, "the UID given to a card without one is stable");
    let etags_again: BTreeMap<String, String> = client
        .props(book, "1", &[(DAV, "getetag")])
        .await
        .multistatus()
        .entries
        .iter()
        .filter(|e| e.href != book)
        .map(|e| (e.href.clone(), e.text(DAV, "getetag")))
        .collect();
    assert_eq!(etags_again, etags);
}

/// `skjold export` writes every card byte for byte; importing the export
/// again (a restore) keeps every value and the version of every card.
#[tokio::test]
async fn export_then_import_keeps_every_card_and_every_value() {
    let (server, client) = setup();
    let files = corpus();
    for (name, bytes) in &files {
        put_new(&client, &format!("{BOOK}{name}"), bytes.clone()).await;
    }
    let dir = server.dir.path().join("export");
    let out = server.cli(&["export", "--user", "alice", "--output", dir.to_str().expect("path")], None);
    assert!(out.status.success(), "export: {}", String::from_utf8_lossy(&out.stderr));
    let file = dir.join("addressbooks").join("default.vcf");
    let exported = std::fs::read(&file).expect("the exported address book");
    for (name, bytes) in &files {
        assert!(
            exported.windows(bytes.len()).any(|w| w == bytes.as_slice()),
            "{name} is not in the export byte for byte"
        );
    }

    let stdout = run_import(&server, "restored", &file);
    assert_eq!(import_counts(&stdout), (files.len(), 0, 0, 0), "{stdout}");
    let mut restored: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for href in members(&client, "/dav/addressbooks/alice/restored/").await {
        let (status, _, body) = get_as(&client, &href, None).await;
        assert_eq!(status, 200);
        restored.insert(one(&card_lines(&body), "UID").text(), body);
    }
    let mut problems = Vec::new();
    for (name, bytes) in &files {
        let original = card_lines(bytes);
        let uid = one(&original, "UID").text();
        let Some(back) = restored.get(&uid) else {
            problems.push(format!("{name}: not restored"));
            continue;
        };
        let back = card_lines(back);
        if version_of(&back) != version_of(&original) {
            problems.push(format!(
                "{name}: restored as {} from {}",
                version_of(&back),
                version_of(&original)
            ));
        }
        problems.extend(value_problems(name, &original, &back));
    }
    assert!(problems.is_empty(), "{} problems:\n  {}", problems.len(), problems.join("\n  "));
}

// ====================================================================== 10. many cards

const FIRST: &[&str] = &[
    "Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hugo", "Ida", "Jonas", "Karin", "Lukas",
    "Mia", "Noah", "Olga", "Paul",
];
const LAST: &[&str] = &[
    "Berg",
    "Müller",
    "Schmidt",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
];
const DOMAINS: &[&str] = &["example.org", "beispiel.de", "example.com", "firma.example"];

/// UID, FN and EMAIL of generated card `i`.
fn generated(i: usize) -> (String, String, String) {
    let first = FIRST[i % FIRST.len()];
    let last = LAST[(i * 7 / 3) % LAST.len()];
    let domain = DOMAINS[(i / 5) % DOMAINS.len()];
    (format!("bulk-{i:05}"), format!("{first} {last}"), format!("{}.{i}@{domain}", first.to_lowercase()))
}

/// UIDs of the cards an addressbook-query returns (from partial address-data).
async fn search_uids(client: &Client, book: &str, filter: &str) -> BTreeSet<String> {
    let prop = r#"<C:address-data><C:prop name="UID"/></C:address-data>"#;
    let r = client.report(book, "1", &query_body(prop, filter, "")).await;
    let ms = r.multistatus();
    ms.entries
        .iter()
        .map(|e| {
            assert_eq!(e.status, None, "{}", e.href);
            one(&card_lines(e.text(CARDDAV, "address-data").as_bytes()), "UID").text()
        })
        .collect()
}

#[tokio::test]
async fn search_over_thousands_of_imported_cards() {
    const N: usize = 3000;
    let (server, client) = setup();
    let mut file = String::new();
    for i in 0..N {
        let (uid, fn_, email) = generated(i);
        let (first, last) = fn_.split_once(' ').expect("two names");
        let version = if i % 2 == 0 { "3.0" } else { "4.0" };
        file.push_str(&format!(
            "BEGIN:VCARD\r\nVERSION:{version}\r\nUID:{uid}\r\nFN:{fn_}\r\nN:{last};{first};;;\r\nEMAIL;TYPE=work:{email}\r\nTEL:+49 30 {i:07}\r\nEND:VCARD\r\n"
        ));
    }
    let path = server.dir.path().join("bulk.vcf");
    std::fs::write(&path, file).expect("write");
    let started = std::time::Instant::now();
    let out = run_import(&server, "default", &path);
    eprintln!("imported {N} cards in {:?}", started.elapsed());
    assert_eq!(import_counts(&out), (N, 0, 0, 0), "{out}");

    let expect = |f: &dyn Fn(&(String, String, String)) -> bool| -> BTreeSet<String> {
        (0..N).map(generated).filter(|c| f(c)).map(|c| c.0).collect()
    };
    let cases: Vec<(String, BTreeSet<String>)> = vec![
        (text_filter("FN", "", "müller"), expect(&|c| c.1.contains("Müller"))),
        (text_filter("FN", "", "SCHRÖDER"), expect(&|c| c.1.contains("Schröder"))),
        (text_filter("FN", "", "ö"), expect(&|c| c.1.contains('ö'))),
        (text_filter("FN", "", "anna b"), expect(&|c| c.1.to_lowercase().contains("anna b"))),
        (text_filter("FN", "", "oc"), expect(&|c| c.1.to_lowercase().contains("oc"))),
        (text_filter("FN", r#"match-type="starts-with""#, "ida"), expect(&|c| c.1.starts_with("Ida"))),
        (text_filter("FN", r#"match-type="equals""#, "Paul Koch"), expect(&|c| c.1 == "Paul Koch")),
        (text_filter("EMAIL", "", "@beispiel.de"), expect(&|c| c.2.ends_with("@beispiel.de"))),
        (text_filter("EMAIL", "", ".12"), expect(&|c| c.2.contains(".12"))),
        (text_filter("EMAIL", "", "mia.2988@"), expect(&|c| c.2.starts_with("mia.2988@"))),
        (text_filter("TEL", "", "0001234"), expect(&|c| c.0 == "bulk-01234")),
        // Not answerable by the index: every card is read.
        (text_filter("EMAIL", r#"negate-condition="yes""#, "example"), expect(&|c| !c.2.contains("example"))),
        (
            r#"<C:filter test="allof"><C:prop-filter name="FN"><C:text-match>berg</C:text-match></C:prop-filter><C:prop-filter name="EMAIL"><C:text-match>example.org</C:text-match></C:prop-filter></C:filter>"#.to_owned(),
            expect(&|c| c.1.contains("Berg") && c.2.ends_with("example.org")),
        ),
    ];
    for (filter, expected) in &cases {
        assert!(!expected.is_empty() || filter.contains("nobody"), "a useless case: {filter}");
        let started = std::time::Instant::now();
        let got = search_uids(&client, BOOK, filter).await;
        eprintln!("{} hits in {:?} for {filter}", got.len(), started.elapsed());
        let missing: Vec<&String> = expected.difference(&got).take(5).collect();
        let extra: Vec<&String> = got.difference(expected).take(5).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{filter}: expected {} hits, got {}; missing e.g. {missing:?}, extra e.g. {extra:?}",
            expected.len(),
            got.len()
        );
    }

    // Limits across pages of results.
    let filter = text_filter("FN", "", "müller");
    let total = expect(&|c| c.1.contains("Müller")).len();
    for n in [total, total - 1, 150, 1] {
        let extra = format!("<C:limit><C:nresults>{n}</C:nresults></C:limit>");
        let r = client.report(BOOK, "1", &query_body("<D:getetag/>", &filter, &extra)).await;
        let ms = r.multistatus();
        let found = ms.entries.iter().filter(|e| e.status.is_none()).count();
        let truncated: Vec<&Entry> = ms.entries.iter().filter(|e| e.status.is_some()).collect();
        assert_eq!(found, n, "nresults {n} of {total}");
        if n == total {
            assert!(truncated.is_empty(), "nresults {n} = all {total} matches: no 507");
        } else {
            assert_eq!(truncated.len(), 1, "nresults {n} of {total}: one 507");
            assert_eq!((truncated[0].href.as_str(), truncated[0].status), (BOOK, Some(507)));
        }
    }
}

/// Cards stored by a version without the search index (simulated by
/// emptying their index rows and listing them as pending, as the schema
/// migration does) are found again after the next start.
#[tokio::test]
async fn cards_stored_before_the_search_index_are_indexed_at_start() {
    let (mut server, client) = query_setup().await;
    let needle = text_filter("FN", "", "jane doe");
    assert_eq!(search(&client, BOOK, &needle).await, vec!["jane.vcf"]);
    let etag_before = client.get(&format!("{BOOK}jane.vcf")).await.etag();
    server.terminate();
    let db = rusqlite::Connection::open(server.data_dir().join("skjold.db")).expect("open the database");
    let emptied = db
        .execute_batch(
            "INSERT INTO reindex_pending (object_id) SELECT id FROM objects WHERE name LIKE '%.vcf';
             DELETE FROM card_search;",
        )
        .map(|_| db.query_row("SELECT count(*) FROM reindex_pending", [], |r| r.get::<_, i64>(0)));
    assert!(emptied.expect("simulate an old database").expect("count") > 0);
    drop(db);
    server.restart();
    let client = server.client("alice", "pw");
    assert_eq!(search(&client, BOOK, &needle).await, vec!["jane.vcf"], "found again through the index");
    assert_eq!(search(&client, BOOK, &text_filter("EMAIL", "", "jane@home")).await, vec!["jane.vcf"]);
    assert_eq!(
        client.get(&format!("{BOOK}jane.vcf")).await.etag(),
        etag_before,
        "content and ETag untouched"
    );
    let db = rusqlite::Connection::open(server.data_dir().join("skjold.db")).expect("open the database");
    let pending: i64 = db.query_row("SELECT count(*) FROM reindex_pending", [], |r| r.get(0)).expect("count");
    assert_eq!(pending, 0);
}
