//! Legacy contacts and groups → vCards, field by field. Every value lands
//! in a vCard property, or in NOTE / an `X-LEGACY-*` property, and whatever
//! was altered or could not be mapped is said in the record's warnings.

use base64::Engine;
use chrono::{Datelike, NaiveDate};
use uuid::Uuid;

use super::lwab::{LegacyContact, LegacyGroup, Raw};
use crate::ical::tree::{Param, escape_text};
use crate::text;
use crate::vcard::{Card, VProp, Version};

/// Namespace of the UIDs derived from legacy ids (a UUIDv5 of this name).
pub fn uid_namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://skjold.invalid/migrate/lwab")
}

/// The stable UID of a legacy contact.
pub fn contact_uid(owner: i64, id: i64) -> String {
    Uuid::new_v5(&uid_namespace(), format!("lwab:{owner}:contact:{id}").as_bytes()).to_string()
}

/// The stable UID of a legacy group's vCard.
pub fn group_uid(owner: i64, id: i64) -> String {
    Uuid::new_v5(&uid_namespace(), format!("lwab:{owner}:group:{id}").as_bytes()).to_string()
}

/// The UID of a group known by name only (the flat CSV export numbers its
/// groups by order of appearance, which changes as the data does).
pub fn named_group_uid(owner: i64, name: &str) -> String {
    Uuid::new_v5(&uid_namespace(), format!("lwab:{owner}:group-name:{name}").as_bytes()).to_string()
}

/// Largest photo kept, in bytes.
pub const MAX_PHOTO_BYTES: usize = 256 * 1024;

/// A vCard ready to store, with what changed on the way.
#[derive(Debug, Clone)]
pub struct Record {
    pub uid: String,
    /// The legacy id, for reports (`contact 12`, `group 3`, or a row label).
    pub source: String,
    pub card: Card,
    pub warnings: Vec<String>,
}

/// Why a legacy contact produced no vCard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Skip {
    /// No name, no address, nothing: there is nothing to migrate.
    Empty,
}

impl Skip {
    pub fn reason(self) -> &'static str {
        match self {
            Skip::Empty => "empty (no data in any field)",
        }
    }
}

/// Builds a card property by property.
struct Builder {
    version: Version,
    props: Vec<VProp>,
    notes: Vec<String>,
    warnings: Vec<String>,
}

impl Builder {
    fn new(version: Version, uid: &str) -> Builder {
        let mut b = Builder { version, props: Vec::new(), notes: Vec::new(), warnings: Vec::new() };
        b.raw("VERSION", vec![], version.as_str().into());
        b.raw("PRODID", vec![], "-//Skjold//migrate-contacts//EN".into());
        b.raw("UID", vec![], uid.into());
        b
    }

    fn raw(&mut self, name: &str, params: Vec<Param>, value: String) {
        self.props.push(VProp::new(None, name, params, value));
    }

    fn text(&mut self, name: &str, params: Vec<Param>, value: &str) {
        self.raw(name, params, escape_text(value));
    }

    fn types(&self, types: &[&str]) -> Vec<Param> {
        if types.is_empty() {
            return Vec::new();
        }
        let values: Vec<String> =
            types
                .iter()
                .map(|t| {
                    if self.version == Version::V40 { t.to_ascii_lowercase() } else { t.to_ascii_uppercase() }
                })
                .collect();
        vec![Param { name: "TYPE".into(), values: vec![values.join(",")] }]
    }

    fn warn(&mut self, message: String) {
        self.warnings.push(message);
    }

    fn finish(mut self) -> (Card, Vec<String>) {
        if !self.notes.is_empty() {
            let text = self.notes.join("\n");
            match self.props.iter_mut().find(|p| p.name == "NOTE") {
                Some(note) => {
                    let joined = format!("{}\n{text}", note.text());
                    *note = VProp::new(None, "NOTE", Vec::new(), escape_text(&joined));
                }
                None => self.text("NOTE", vec![], &text),
            }
        }
        (Card { props: self.props }, self.warnings)
    }
}

/// A value quoted for a report line: long ones are cut (the card has them whole).
pub fn shown(value: &str) -> String {
    const MAX_CHARS: usize = 80;
    match value.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{:?}… ({} characters)", &value[..cut], value.chars().count()),
        None => format!("{value:?}"),
    }
}

/// Decodes a legacy value: UTF-8 when it is, else Windows-1252; repairs
/// double-encoded UTF-8; removes control characters; trims. Reports every
/// change in `warnings`. `None` for NULL and for values with nothing left.
pub fn clean(raw: &Raw, field: &str, multiline: bool, warnings: &mut Vec<String>) -> Option<String> {
    let bytes = raw.as_ref()?;
    let mut value = match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => {
            let decoded = text::decode_cp1252(bytes);
            // Bytes that Windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) mean the guess may be wrong.
            if decoded.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)) {
                warnings.push(format!(
                    "{field}: bytes are neither UTF-8 nor meaningful Windows-1252; read as {}",
                    shown(&decoded)
                ));
            } else {
                warnings.push(format!("{field}: not UTF-8, read as Windows-1252: {}", shown(&decoded)));
            }
            decoded
        }
    };
    if let Some(repaired) = text::repair_double_encoding(&value) {
        warnings.push(format!(
            "{field}: repaired double-encoded text {} to {}",
            shown(&value),
            shown(&repaired)
        ));
        value = repaired;
    }
    let (stripped, removed) = text::strip_controls(&value, multiline);
    if removed > 0 {
        warnings.push(format!("{field}: removed {removed} control character(s) from {}", shown(&value)));
    }
    let trimmed = stripped.trim_matches(|c: char| c.is_whitespace()).to_owned();
    if trimmed.is_empty() {
        if !value.is_empty() {
            warnings.push(format!("{field}: only blank characters ({value:?}), left out"));
        }
        return None;
    }
    if trimmed.len() != stripped.len() && !multiline {
        warnings.push(format!("{field}: trimmed surrounding blanks of {stripped:?}"));
    }
    Some(trimmed)
}

// ---------------------------------------------------------------- birthdays

/// A parsed legacy birthday.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Birthday {
    Full(NaiveDate),
    /// Month and day, no year.
    NoYear(u32, u32),
    /// Not a date this migration can read; kept as text.
    Text(String),
    /// A stored "no date" value (MySQL's 0000-00-00).
    Nothing,
}

const MONTHS: &[(&str, u32)] = &[
    ("january", 1),
    ("jan", 1),
    ("januar", 1),
    ("janvier", 1),
    ("enero", 1),
    ("february", 2),
    ("feb", 2),
    ("februar", 2),
    ("février", 2),
    ("febrero", 2),
    ("march", 3),
    ("mar", 3),
    ("märz", 3),
    ("mars", 3),
    ("marzo", 3),
    ("april", 4),
    ("apr", 4),
    ("avril", 4),
    ("abril", 4),
    ("may", 5),
    ("mai", 5),
    ("mayo", 5),
    ("june", 6),
    ("jun", 6),
    ("juni", 6),
    ("juin", 6),
    ("junio", 6),
    ("july", 7),
    ("jul", 7),
    ("juli", 7),
    ("juillet", 7),
    ("julio", 7),
    ("august", 8),
    ("aug", 8),
    ("august", 8),
    ("août", 8),
    ("agosto", 8),
    ("september", 9),
    ("sep", 9),
    ("sept", 9),
    ("septembre", 9),
    ("septiembre", 9),
    ("october", 10),
    ("oct", 10),
    ("oktober", 10),
    ("okt", 10),
    ("octobre", 10),
    ("octubre", 10),
    ("november", 11),
    ("nov", 11),
    ("novembre", 11),
    ("noviembre", 11),
    ("december", 12),
    ("dec", 12),
    ("dezember", 12),
    ("desember", 12),
    ("des", 12),
    ("dez", 12),
    ("décembre", 12),
    ("diciembre", 12),
];

fn month_name(word: &str) -> Option<u32> {
    let w = word.trim_matches(|c: char| c == '.' || c == ',').to_lowercase();
    MONTHS.iter().find(|(n, _)| *n == w).map(|(_, m)| *m)
}

fn no_year(month: u32, day: u32) -> Option<Birthday> {
    // 2000 is a leap year, so 29 February is accepted.
    NaiveDate::from_ymd_opt(2000, month, day).map(|_| Birthday::NoYear(month, day))
}

/// Reads the birthday spellings found in legacy data. Two-digit years and
/// impossible dates stay text: nothing is guessed.
pub fn parse_birthday(value: &str, today: NaiveDate) -> (Birthday, Option<String>) {
    let v = value.trim();
    let text =
        |why: &str| (Birthday::Text(v.to_owned()), Some(format!("birthday {v:?} {why}; kept as text")));
    if v.is_empty() {
        return (Birthday::Nothing, None);
    }
    if v == "0000-00-00" || v == "0000-00-00 00:00:00" {
        return (
            Birthday::Nothing,
            Some(format!("birthday {v:?} is MySQL's empty date; no birthday stored")),
        );
    }
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty();
    // ISO forms, with an optional time that is dropped.
    let (date_part, time_part) = match v.split_once(['T', ' ']) {
        Some((d, t)) if d.len() == 10 => (d, Some(t)),
        _ => (v, None),
    };
    let parts: Vec<&str> = date_part.split('-').collect();
    if let [y, m, d] = parts.as_slice()
        && digits(y)
        && digits(m)
        && digits(d)
        && y.len() == 4
    {
        let (y, m, d): (i32, u32, u32) =
            (y.parse().unwrap_or(0), m.parse().unwrap_or(0), d.parse().unwrap_or(0));
        if y == 1604 {
            return match no_year(m, d) {
                Some(b) => (
                    b,
                    Some(format!("birthday {v:?} uses Apple's 1604 for \"no year\"; stored without a year")),
                ),
                None => text("is not a date"),
            };
        }
        return match NaiveDate::from_ymd_opt(y, m, d) {
            Some(_) if y < 1800 => text("has an implausible year"),
            Some(date) if date > today => text("is in the future"),
            Some(date) => {
                let note = time_part.map(|t| format!("birthday {v:?}: the time {t:?} was left out"));
                (Birthday::Full(date), note)
            }
            None => text("is not a date"),
        };
    }
    if let Some(rest) = v.strip_prefix("--") {
        let md: String = rest.chars().filter(|c| c.is_ascii_digit()).collect();
        if md.len() == 4
            && let Some(b) = no_year(md[..2].parse().unwrap_or(0), md[2..].parse().unwrap_or(0))
        {
            return (b, None);
        }
        return text("is not a date");
    }
    // 17.05. / 17.05.1970 / 17.05.84
    let dotted: Vec<&str> = v.split('.').map(str::trim).collect();
    if dotted.len() == 3 && digits(dotted[0]) && digits(dotted[1]) {
        let (d, m): (u32, u32) = (dotted[0].parse().unwrap_or(0), dotted[1].parse().unwrap_or(0));
        return match dotted[2] {
            "" => match no_year(m, d) {
                Some(b) => (b, None),
                None => text("is not a date"),
            },
            y if digits(y) && y.len() == 4 => match NaiveDate::from_ymd_opt(y.parse().unwrap_or(0), m, d) {
                Some(date) if date <= today => (Birthday::Full(date), None),
                _ => text("is not a date"),
            },
            y if digits(y) && y.len() == 2 => text("has a two-digit year (the century is unknown)"),
            _ => text("is not a date"),
        };
    }
    // US: 05/17 or 05/17/1970
    let slashed: Vec<&str> = v.split('/').collect();
    if (2..=3).contains(&slashed.len()) && slashed.iter().all(|p| digits(p)) {
        let (m, d): (u32, u32) = (slashed[0].parse().unwrap_or(0), slashed[1].parse().unwrap_or(0));
        return match slashed.get(2) {
            None => match no_year(m, d) {
                Some(b) => (b, None),
                None => text("is not a date"),
            },
            Some(y) if y.len() == 4 => match NaiveDate::from_ymd_opt(y.parse().unwrap_or(0), m, d) {
                Some(date) if date <= today => (Birthday::Full(date), None),
                _ => text("is not a date"),
            },
            Some(_) => text("has a two-digit year (the century is unknown)"),
        };
    }
    // Words: "May 17", "17 May", "17. mai 1970"
    let words: Vec<&str> = v.split_whitespace().collect();
    let number = |w: &str| w.trim_end_matches(['.', ',']).parse::<u32>().ok();
    let (month, day, year) = match words.as_slice() {
        [a, b] => match (month_name(a), number(b), month_name(b), number(a)) {
            (Some(m), Some(d), _, _) | (_, _, Some(m), Some(d)) => (m, d, None),
            _ => return text("is not a date"),
        },
        [a, b, c] => match (number(a), month_name(b), month_name(a), number(b), number(c)) {
            (Some(d), Some(m), _, _, Some(y)) | (_, _, Some(m), Some(d), Some(y)) => (m, d, Some(y)),
            _ => return text("is not a date"),
        },
        _ => return text("is not a date"),
    };
    match year {
        None => match no_year(month, day) {
            Some(b) => (b, None),
            None => text("is not a date"),
        },
        Some(y) if y >= 1000 => match NaiveDate::from_ymd_opt(y as i32, month, day) {
            Some(date) if date <= today => (Birthday::Full(date), None),
            _ => text("is not a date"),
        },
        Some(_) => text("has a two-digit year (the century is unknown)"),
    }
}

fn birthday_props(b: &mut Builder, birthday: &Birthday) {
    match (birthday, b.version) {
        (Birthday::Full(d), Version::V40) => b.raw("BDAY", vec![], d.format("%Y%m%d").to_string()),
        (Birthday::Full(d), _) => b.raw("BDAY", vec![], d.format("%Y-%m-%d").to_string()),
        (Birthday::NoYear(m, d), Version::V40) => b.raw("BDAY", vec![], format!("--{m:02}{d:02}")),
        (Birthday::NoYear(m, d), _) => b.raw(
            "BDAY",
            vec![Param { name: "X-APPLE-OMIT-YEAR".into(), values: vec!["1604".into()] }],
            format!("1604-{m:02}-{d:02}"),
        ),
        (Birthday::Text(t), Version::V40) => {
            b.text("BDAY", vec![Param { name: "VALUE".into(), values: vec!["text".into()] }], t)
        }
        // vCard 3.0 has no text birthdays.
        (Birthday::Text(t), _) => b.text("X-LEGACY-BIRTHDAY", vec![], t),
        (Birthday::Nothing, _) => {}
    }
}

// ---------------------------------------------------------------- e-mail, phone, url, photo

/// An address as written in a mail header (`"Name" <a@b>`), reduced to the address.
fn email_address(value: &str) -> (String, Option<String>) {
    if let (Some(open), Some(close)) = (value.rfind('<'), value.rfind('>'))
        && open < close
    {
        let name = value[..open].trim().trim_matches('"').trim();
        let addr = value[open + 1..close].trim().to_owned();
        return (addr, (!name.is_empty()).then(|| name.to_owned()));
    }
    (value.to_owned(), None)
}

/// The TYPE of an address or URL; an unknown legacy type is kept in NOTE.
fn home_or_work(kind: Option<&str>, what: &str, value: &str, b: &mut Builder) -> Vec<&'static str> {
    match kind.map(str::to_ascii_lowercase).as_deref() {
        Some("home") => vec!["home"],
        Some("work") => vec!["work"],
        None | Some("") | Some("other") => vec![],
        Some(_) => {
            let kind = kind.unwrap_or_default();
            b.warn(format!("{what} {value:?}: unknown type {kind:?}; kept in NOTE"));
            b.notes.push(format!("Type of the {what} {value}: {kind}"));
            vec![]
        }
    }
}

/// A URL that is not stored as `URL`, with its legacy type, for NOTE.
fn url_as_stored(kind: Option<&str>, url: &str) -> String {
    match kind.filter(|k| !k.is_empty()) {
        Some(k) => format!("Web address as stored ({k}): {url}"),
        None => format!("Web address as stored: {url}"),
    }
}

pub(super) fn is_email(addr: &str) -> bool {
    let mut parts = addr.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else { return false };
    !local.is_empty()
        && !domain.is_empty()
        && domain.contains('.')
        && !addr.contains(char::is_whitespace)
        && !domain.starts_with('.')
        && !domain.contains("..")
}

fn email_types(kind: Option<&str>) -> Vec<&'static str> {
    match kind.map(str::to_ascii_lowercase).as_deref() {
        Some("home") => vec!["home"],
        Some("work") => vec!["work"],
        _ => vec![],
    }
}

fn phone_types(kind: Option<&str>) -> Vec<&'static str> {
    match kind.map(str::to_ascii_lowercase).as_deref() {
        Some("cell") | Some("mobile") => vec!["cell"],
        Some("home") => vec!["home"],
        Some("work") => vec!["work"],
        Some("fax") => vec!["fax"],
        Some("pager") => vec!["pager"],
        Some("voice") => vec!["voice"],
        _ => vec![],
    }
}

/// The image format of photo bytes, if they are a complete image.
pub fn image_kind(bytes: &[u8]) -> Option<&'static str> {
    const PNG_END: &[u8] = &[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82];
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n")
        && bytes.get(12..16) == Some(b"IHDR")
        && bytes.ends_with(PNG_END)
    {
        return Some("png");
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) && bytes.ends_with(&[0xFF, 0xD9]) && bytes.len() > 100 {
        return Some("jpeg");
    }
    if (bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a")) && bytes.ends_with(b";") {
        return Some("gif");
    }
    None
}

/// The legacy contact as a vCard (or why it has none).
pub fn contact(
    c: &LegacyContact,
    categories: &[String],
    version: Version,
    today: NaiveDate,
) -> Result<Record, Skip> {
    let uid = contact_uid(c.owner, c.id);
    let mut w = Vec::new();
    let first = clean(&c.first_name, "first name", false, &mut w);
    let last = clean(&c.last_name, "last name", false, &mut w);
    let nick = clean(&c.nick, "nick", false, &mut w);
    let company = clean(&c.company, "company", false, &mut w);
    let department = clean(&c.department, "department", false, &mut w);
    let title = clean(&c.job_title, "job title", false, &mut w);
    let birthday_text = clean(&c.birthday, "birthday", false, &mut w);
    let note = clean(&c.note, "note", true, &mut w);
    let show_as = clean(&c.show_as, "show as", false, &mut w);
    let has_photo = c.photo.as_ref().is_some_and(|p| !p.is_empty());

    let emails: Vec<(Option<String>, String)> = c
        .emails
        .iter()
        .filter_map(|e| {
            Some((clean(&e.kind, "e-mail type", false, &mut w), clean(&e.value, "e-mail", false, &mut w)?))
        })
        .collect();
    let phones: Vec<(Option<String>, String)> = c
        .phones
        .iter()
        .filter_map(|(k, v)| Some((clean(k, "phone type", false, &mut w), clean(v, "phone", false, &mut w)?)))
        .collect();
    let urls: Vec<(Option<String>, String)> = c
        .urls
        .iter()
        .filter_map(|(k, v)| Some((clean(k, "URL type", false, &mut w), clean(v, "URL", false, &mut w)?)))
        .collect();
    let addresses: Vec<(Option<String>, [Option<String>; 7])> = c
        .addresses
        .iter()
        .map(|a| {
            let parts = [
                clean(&a.po_box, "address PO box", false, &mut w),
                clean(&a.extended, "address extended", false, &mut w),
                clean(&a.street, "street", true, &mut w),
                clean(&a.city, "city", false, &mut w),
                clean(&a.region, "region", false, &mut w),
                clean(&a.post_code, "post code", false, &mut w),
                clean(&a.country, "country", false, &mut w),
            ];
            (clean(&a.kind, "address type", false, &mut w), parts)
        })
        .filter(|(_, p)| p.iter().any(Option::is_some))
        .collect();

    let nothing = first.is_none()
        && last.is_none()
        && nick.is_none()
        && company.is_none()
        && department.is_none()
        && title.is_none()
        && birthday_text.is_none()
        && note.is_none()
        && !has_photo
        && emails.is_empty()
        && phones.is_empty()
        && urls.is_empty()
        && addresses.is_empty();
    if nothing {
        return Err(Skip::Empty);
    }

    let mut b = Builder::new(version, &uid);
    b.warnings = w;
    let is_company = show_as.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("COMPANY"));
    let person = [first.as_deref(), last.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    let fn_value = if is_company && company.is_some() {
        company.clone()
    } else {
        (!person.is_empty()).then_some(person).or_else(|| nick.clone()).or_else(|| company.clone())
    }
    .or_else(|| emails.first().map(|e| email_address(&e.1).0))
    .or_else(|| phones.first().map(|p| p.1.clone()));
    let fn_value = fn_value.unwrap_or_else(|| {
        b.warn("no name, company or address to show; the card is called \"(no name)\"".into());
        "(no name)".into()
    });
    b.text("FN", vec![], &fn_value);
    if first.is_some() || last.is_some() {
        let n = format!(
            "{};{};;;",
            escape_text(last.as_deref().unwrap_or("")),
            escape_text(first.as_deref().unwrap_or(""))
        );
        b.raw("N", vec![], n);
    } else if version == Version::V30 {
        // vCard 3.0 requires N.
        b.raw("N", vec![], ";;;;".into());
    }
    if let Some(n) = &nick {
        b.text("NICKNAME", vec![], n);
    }
    if company.is_some() || department.is_some() {
        let org = format!(
            "{};{}",
            escape_text(company.as_deref().unwrap_or("")),
            escape_text(department.as_deref().unwrap_or(""))
        );
        b.raw("ORG", vec![], org.trim_end_matches(';').to_owned());
    }
    if let Some(t) = &title {
        b.text("TITLE", vec![], t);
    }
    match show_as.as_deref() {
        Some(s) if s.eq_ignore_ascii_case("COMPANY") => {
            if version == Version::V40 {
                b.raw("KIND", vec![], "org".into());
            } else {
                b.raw("X-ABShowAs", vec![], "COMPANY".into());
            }
        }
        Some(s) if s.eq_ignore_ascii_case("PERSON") => {}
        Some(other) => {
            b.warn(format!("show as {other:?} is not PERSON or COMPANY; kept as X-LEGACY-SHOW-AS"));
            b.text("X-LEGACY-SHOW-AS", vec![], other);
        }
        None => {}
    }
    if let Some(text) = &birthday_text {
        let (birthday, warning) = parse_birthday(text, today);
        if let Some(warning) = warning {
            b.warn(warning);
        }
        birthday_props(&mut b, &birthday);
    }

    // Addresses and numbers listed twice become one property with the types of both.
    let mut kept_emails: Vec<(String, Vec<&'static str>)> = Vec::new();
    for (kind, raw_value) in &emails {
        let as_stored = |v: &str| match kind.as_deref().filter(|k| !k.is_empty()) {
            Some(k) => format!("E-mail as stored ({k}): {v}"),
            None => format!("E-mail as stored: {v}"),
        };
        let (mut addr, display) = email_address(raw_value);
        if let Some(name) = display {
            b.warn(format!(
                "e-mail {raw_value:?}: kept the address {addr:?}; the name {name:?} went into NOTE"
            ));
            b.notes.push(format!("Name given with {addr}: {name}"));
        }
        if addr.ends_with('.') && is_email(addr.trim_end_matches('.')) {
            b.warn(format!("e-mail {addr:?}: removed the trailing dot"));
            addr = addr.trim_end_matches('.').to_owned();
        }
        if !is_email(&addr) {
            b.warn(format!("e-mail {raw_value:?} is not an e-mail address; kept in NOTE"));
            b.notes.push(as_stored(raw_value));
            continue;
        }
        let types = email_types(kind.as_deref());
        if kind.as_deref().is_some_and(|k| {
            !k.is_empty() && !matches!(k.to_ascii_lowercase().as_str(), "home" | "work" | "other")
        }) {
            b.warn(format!("e-mail {addr:?}: unknown type {kind:?}; kept in NOTE"));
            b.notes.push(format!("E-mail type of {addr}: {}", kind.as_deref().unwrap_or_default()));
        }
        match kept_emails.iter_mut().find(|(a, _)| a.eq_ignore_ascii_case(&addr)) {
            Some((first, first_types)) => {
                b.warn(format!(
                    "e-mail {addr:?} ({}) is listed twice (ignoring case); kept once as {first:?} with both types",
                    kind.as_deref().unwrap_or("no type")
                ));
                for t in types {
                    if !first_types.contains(&t) {
                        first_types.push(t);
                    }
                }
            }
            None => kept_emails.push((addr, types)),
        }
    }
    for (addr, mut types) in kept_emails {
        if version == Version::V30 {
            types.insert(0, "internet");
        }
        let params = b.types(&types);
        b.text("EMAIL", params, &addr);
    }

    let mut kept_phones: Vec<(String, String, Vec<&'static str>)> = Vec::new();
    for (kind, number) in &phones {
        let key: String =
            number.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_uppercase();
        if key.is_empty() {
            b.warn(format!("phone {number:?} has no digits; kept in NOTE"));
            b.notes.push(format!("Phone as stored: {number}"));
            continue;
        }
        let types = phone_types(kind.as_deref());
        if types.is_empty()
            && kind.as_deref().is_some_and(|k| !k.is_empty() && !k.eq_ignore_ascii_case("other"))
        {
            b.warn(format!("phone {number:?}: unknown type {kind:?}; kept in NOTE"));
            b.notes.push(format!("Phone type of {number}: {}", kind.as_deref().unwrap_or_default()));
        }
        match kept_phones.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, first, first_types)) => {
                b.warn(format!(
                    "phone {number:?} ({}) is listed twice; kept once as {first:?} with both types",
                    kind.as_deref().unwrap_or("no type")
                ));
                for t in types {
                    if !first_types.contains(&t) {
                        first_types.push(t);
                    }
                }
            }
            None => kept_phones.push((key, number.clone(), types)),
        }
    }
    for (_, number, mut types) in kept_phones {
        if version == Version::V30 && types.is_empty() {
            types.push("voice");
        }
        let params = b.types(&types);
        b.text("TEL", params, &number);
    }

    for (kind, parts) in &addresses {
        let value =
            parts.iter().map(|p| escape_text(p.as_deref().unwrap_or(""))).collect::<Vec<_>>().join(";");
        let label = parts.iter().flatten().map(String::as_str).collect::<Vec<_>>().join(", ");
        let types = home_or_work(kind.as_deref(), "address", &label, &mut b);
        let params = b.types(&types);
        b.raw("ADR", params, value);
    }

    for (kind, url) in &urls {
        let lower = url.to_ascii_lowercase();
        let scheme = lower
            .split_once(':')
            .map(|(s, _)| s.to_owned())
            .filter(|s| s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)));
        // `www.example.com:8080/x` has no scheme: a dot is not in the schemes clients open.
        let value = match scheme.as_deref().filter(|s| !s.contains('.')) {
            Some("http") | Some("https") | Some("ftp") | Some("mailto") | Some("tel") => url.clone(),
            Some(other) => {
                b.warn(format!(
                    "URL {url:?} uses the scheme {other:?}, which clients must not open; kept in NOTE"
                ));
                b.notes.push(url_as_stored(kind.as_deref(), url));
                continue;
            }
            None if url.contains('.') && !url.contains(char::is_whitespace) => {
                let fixed = format!("http://{url}");
                b.warn(format!("URL {url:?} has no scheme; stored as {fixed:?}"));
                fixed
            }
            _ => {
                b.warn(format!("URL {url:?} is not a web address; kept in NOTE"));
                b.notes.push(url_as_stored(kind.as_deref(), url));
                continue;
            }
        };
        let value = if value.contains(' ') {
            let fixed = value.replace(' ', "%20");
            b.warn(format!("URL {value:?} has spaces; stored as {fixed:?}"));
            fixed
        } else {
            value
        };
        let types = home_or_work(kind.as_deref(), "URL", &value, &mut b);
        let params = b.types(&types);
        b.raw("URL", params, value);
    }

    if !categories.is_empty() {
        let value = categories.iter().map(|c| escape_text(c)).collect::<Vec<_>>().join(",");
        b.raw("CATEGORIES", vec![], value);
    }
    if let Some(n) = &note {
        b.text("NOTE", vec![], n);
    }

    if let Some(photo) = c.photo.as_ref().filter(|p| !p.is_empty()) {
        let declared = c.photo_type.as_ref().map(|t| text::decode_guess(t)).unwrap_or_default();
        match image_kind(photo) {
            Some(_) if photo.len() > MAX_PHOTO_BYTES => b.warn(format!(
                "photo ({} bytes, {declared}) is larger than {MAX_PHOTO_BYTES} bytes; left out",
                photo.len()
            )),
            Some(kind) => {
                let data = base64::engine::general_purpose::STANDARD.encode(photo);
                if version == Version::V40 {
                    b.raw("PHOTO", vec![], format!("data:image/{kind};base64,{data}"));
                } else {
                    let params = vec![
                        Param { name: "ENCODING".into(), values: vec!["b".into()] },
                        Param { name: "TYPE".into(), values: vec![kind.to_ascii_uppercase()] },
                    ];
                    b.raw("PHOTO", params, data);
                }
            }
            None => {
                b.warn(format!("photo ({} bytes, {declared}) is not a readable image; left out", photo.len()))
            }
        }
    }

    match c.modified {
        Some(t) if t > 0 && t <= today_unix(today) + 86_400 => b.raw("REV", vec![], rev(t, version)),
        Some(t) if t > 0 => {
            b.warn(format!("modification time {t} is in the future; kept as X-LEGACY-MODIFIED, not REV"));
            b.raw("X-LEGACY-MODIFIED", vec![], t.to_string());
        }
        _ => {}
    }
    if let Some(t) = c.created.filter(|t| *t > 0) {
        b.raw("X-LEGACY-CREATED", vec![], rev(t, version));
    }
    b.raw("X-LEGACY-ID", vec![], c.id.to_string());
    b.raw("X-LEGACY-OWNER", vec![], c.owner.to_string());
    let (card, warnings) = b.finish();
    Ok(Record { uid, source: format!("contact {}", c.id), card, warnings })
}

fn today_unix(today: NaiveDate) -> i64 {
    today.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp()).unwrap_or(i64::MAX)
}

fn rev(unix: i64, version: Version) -> String {
    let t = chrono::DateTime::from_timestamp(unix, 0).unwrap_or_default();
    if version == Version::V40 {
        t.format("%Y%m%dT%H%M%SZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

/// A legacy group as a group vCard in the dialect of `version`.
pub fn group(
    g: &LegacyGroup,
    uid: String,
    name: Option<&str>,
    member_uids: &[String],
    version: Version,
) -> Record {
    let mut b = Builder::new(version, &uid);
    let label = match name {
        Some(n) => n.to_owned(),
        None => {
            b.warn(format!("group {} has no name; it is called \"Unnamed group {}\"", g.id, g.id));
            format!("Unnamed group {}", g.id)
        }
    };
    b.text("FN", vec![], &label);
    if version == Version::V40 {
        b.raw("KIND", vec![], "group".into());
    } else {
        b.raw("N", vec![], format!("{};;;;", escape_text(&label)));
        b.raw("X-ADDRESSBOOKSERVER-KIND", vec![], "group".into());
    }
    let member_property = if version == Version::V40 { "MEMBER" } else { "X-ADDRESSBOOKSERVER-MEMBER" };
    for m in member_uids {
        b.raw(member_property, vec![], format!("urn:uuid:{m}"));
    }
    b.raw("X-LEGACY-GROUP-ID", vec![], g.id.to_string());
    b.raw("X-LEGACY-OWNER", vec![], g.owner.to_string());
    let (card, warnings) = b.finish();
    Record { uid, source: format!("group {}", g.id), card, warnings }
}

/// Today's date, for telling future birthdays apart.
pub fn today() -> NaiveDate {
    let now = chrono::Utc::now().date_naive();
    NaiveDate::from_ymd_opt(now.year(), now.month(), now.day()).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    #[test]
    fn birthday_spellings() {
        let full = |y, m, d| Birthday::Full(NaiveDate::from_ymd_opt(y, m, d).unwrap());
        for (input, expected) in [
            ("1970-05-17", full(1970, 5, 17)),
            ("--05-17", Birthday::NoYear(5, 17)),
            ("17.05.", Birthday::NoYear(5, 17)),
            ("05/17", Birthday::NoYear(5, 17)),
            ("May 17", Birthday::NoYear(5, 17)),
            ("17 May", Birthday::NoYear(5, 17)),
            ("29.02.", Birthday::NoYear(2, 29)),
            ("0000-00-00", Birthday::Nothing),
            ("2001-02-30", Birthday::Text("2001-02-30".into())),
            ("31/31/1999", Birthday::Text("31/31/1999".into())),
            ("yesterday", Birthday::Text("yesterday".into())),
            ("1999-02-29", Birthday::Text("1999-02-29".into())),
            ("17.05.84", Birthday::Text("17.05.84".into())),
            ("0001-01-01", Birthday::Text("0001-01-01".into())),
            ("2095-01-01", Birthday::Text("2095-01-01".into())),
            ("1970-05-17T00:00:00Z", full(1970, 5, 17)),
            ("17. mai 1970", full(1970, 5, 17)),
            ("1604-05-17", Birthday::NoYear(5, 17)),
            ("17.05.1970", full(1970, 5, 17)),
            ("05/17/1970", full(1970, 5, 17)),
        ] {
            assert_eq!(parse_birthday(input, day()).0, expected, "{input}");
        }
    }

    #[test]
    fn text_cleaning() {
        let mut w = Vec::new();
        assert_eq!(clean(&Some(b"J\xfcrgen".to_vec()), "f", false, &mut w).as_deref(), Some("Jürgen"));
        assert_eq!(
            clean(&Some("MÃ¼ller".as_bytes().to_vec()), "f", false, &mut w).as_deref(),
            Some("Müller")
        );
        assert_eq!(clean(&Some(b"   ".to_vec()), "f", false, &mut w), None);
        assert_eq!(clean(&Some(b"\xa0".to_vec()), "f", false, &mut w), None);
        assert_eq!(clean(&Some(b"a\x07b\x00c".to_vec()), "f", false, &mut w).as_deref(), Some("abc"));
        assert_eq!(w.len(), 6, "{w:?}");
        assert_eq!(clean(&None, "f", false, &mut w), None);
    }

    #[test]
    fn images_are_checked() {
        let png = base64::engine::general_purpose::STANDARD
            .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mMwTpv5HwAENAIyhHMY8AAAAABJRU5ErkJggg==")
            .unwrap();
        assert_eq!(image_kind(&png), Some("png"));
        assert_eq!(image_kind(&png[..png.len() - 1]), None);
        assert_eq!(image_kind(b"\xff\xd8\xff\xe0truncated"), None);
    }

    #[test]
    fn only_urls_that_are_safe_to_open_become_url() {
        let contact = LegacyContact {
            id: 7,
            owner: 1,
            first_name: Some(b"Ann".to_vec()),
            urls: [
                "https://example.com/a b",
                "www.example.com:8080/x",
                "javascript:alert(1)",
                "javascript:window.location='x'",
                "data:text/html,<b>",
                "no web address",
            ]
            .iter()
            .map(|u| (Some(b"home".to_vec()), Some(u.as_bytes().to_vec())))
            .collect(),
            ..Default::default()
        };
        let record = contact_record(&contact);
        let vcf = record.card.to_vcf();
        let urls: Vec<&str> = vcf.lines().filter_map(|l| l.strip_prefix("URL;TYPE=HOME:")).collect();
        assert_eq!(urls, ["https://example.com/a%20b", "http://www.example.com:8080/x"]);
        let unfolded = vcf.replace("\r\n ", "");
        for kept in [
            "javascript:alert(1)",
            "javascript:window.location='x'",
            "data:text/html\\,<b>",
            "no web address",
        ] {
            assert!(
                unfolded.contains(&format!("Web address as stored (home): {kept}")),
                "{kept} in {unfolded}"
            );
        }
        assert_eq!(record.warnings.len(), 6, "{:?}", record.warnings);
    }

    fn contact_record(c: &LegacyContact) -> Record {
        contact(c, &[], Version::V30, day()).unwrap()
    }

    #[test]
    fn uids_are_stable_and_distinct() {
        assert_eq!(contact_uid(1001, 1), contact_uid(1001, 1));
        assert_ne!(contact_uid(1001, 1), contact_uid(1002, 1));
        assert_ne!(contact_uid(1001, 1), group_uid(1001, 1));
    }
}
