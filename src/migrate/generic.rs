//! The exports people bring from elsewhere: vCard files (2.1, 3.0, 4.0),
//! Google and Outlook CSV, and Thunderbird LDIF. Each row or entry becomes
//! a [`Record`]; columns that have no vCard property go into NOTE and the
//! record's warnings, never nowhere.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use base64::Engine;
use uuid::Uuid;

use super::csv;
use super::mapping::{Record, uid_namespace};
use crate::ical::tree::{Param, escape_text};
use crate::text;
use crate::vcard::{self, Card, VProp, Version};

/// What a format cannot carry, for the report.
pub const GOOGLE_LIMITS: &str = "Google CSV holds labels as free text and photos only as links";
pub const OUTLOOK_LIMITS: &str = "Outlook CSV holds no photos and only three e-mail addresses per contact";
pub const LDIF_LIMITS: &str =
    "Thunderbird LDIF holds no photos; group members are matched by their distinguished name";

/// A stable UID for a row of a file without ids: derived from what the row
/// says, so a re-run finds the same contact again.
fn row_uid(format: &str, key: &str) -> String {
    Uuid::new_v5(&uid_namespace(), format!("{format}:{key}").as_bytes()).to_string()
}

struct CardBuilder {
    version: Version,
    props: Vec<VProp>,
    notes: Vec<String>,
    warnings: Vec<String>,
}

impl CardBuilder {
    fn new(version: Version) -> Self {
        let mut b = CardBuilder { version, props: Vec::new(), notes: Vec::new(), warnings: Vec::new() };
        b.props.push(VProp::new(None, "VERSION", vec![], version.as_str().into()));
        b
    }

    /// A structured value (N, ADR, ORG): its parts escaped and joined by `;`.
    fn structured(&mut self, name: &str, types: &[&str], parts: &[Option<&str>]) {
        let value = parts.iter().map(|p| escape_text(p.unwrap_or(""))).collect::<Vec<_>>().join(";");
        let params = self.type_params(types);
        self.props.push(VProp::new(None, name, params, value));
    }

    fn text(&mut self, name: &str, types: &[&str], value: &str) {
        let params = self.type_params(types);
        self.props.push(VProp::new(None, name, params, escape_text(value)));
    }

    fn type_params(&self, types: &[&str]) -> Vec<Param> {
        if types.is_empty() {
            vec![]
        } else {
            let t: Vec<String> = types
                .iter()
                .map(|t| {
                    if self.version == Version::V40 { t.to_ascii_lowercase() } else { t.to_ascii_uppercase() }
                })
                .collect();
            vec![Param { name: "TYPE".into(), values: vec![t.join(",")] }]
        }
    }

    fn raw(&mut self, name: &str, value: String) {
        self.props.push(VProp::new(None, name, vec![], value));
    }

    fn finish(mut self, uid: String, source: String) -> Record {
        if self.props.iter().all(|p| p.name != "FN") {
            let name = self
                .props
                .iter()
                .find(|p| matches!(p.name.as_str(), "ORG" | "EMAIL" | "TEL"))
                .map(|p| p.text().split(';').next().unwrap_or("").to_owned())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "(no name)".into());
            self.props.insert(1, VProp::new(None, "FN", vec![], escape_text(&name)));
        }
        if self.version == Version::V30 && self.props.iter().all(|p| p.name != "N") {
            self.props.insert(2, VProp::new(None, "N", vec![], ";;;;".into()));
        }
        if !self.notes.is_empty() {
            let text = self.notes.join("\n");
            self.props.push(VProp::new(None, "NOTE", vec![], escape_text(&text)));
        }
        self.props.push(VProp::new(None, "UID", vec![], uid.clone()));
        Record { uid, source, card: Card { props: self.props }, warnings: self.warnings }
    }
}

fn cell(row: &HashMap<String, Vec<u8>>, name: &str) -> Option<String> {
    row.get(name).map(|v| text::decode_guess(v).trim().to_owned()).filter(|s| !s.is_empty())
}

/// Google Contacts CSV (`First Name`, `E-mail 1 - Value`, … with ` ::: ` lists).
pub fn google_csv(bytes: &[u8], version: Version) -> Vec<Record> {
    let mut out = Vec::new();
    for (n, row) in csv::records(bytes).into_iter().enumerate() {
        let mut b = CardBuilder::new(version);
        let mut used: Vec<&str> = Vec::new();
        let mut take = |name: &'static str| {
            used.push(name);
            cell(&row, name)
        };
        let given = take("First Name");
        let middle = take("Middle Name");
        let family = take("Last Name");
        let prefix = take("Name Prefix");
        let suffix = take("Name Suffix");
        let nick = take("Nickname");
        let org = take("Organization Name");
        let title = take("Organization Title");
        let dept = take("Organization Department");
        let bday = take("Birthday");
        let notes = take("Notes");
        let photo = take("Photo");
        let labels = take("Labels");
        let full =
            [prefix.as_deref(), given.as_deref(), middle.as_deref(), family.as_deref(), suffix.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
        if !full.is_empty() {
            b.text("FN", &[], &full);
        }
        if given.is_some() || family.is_some() || middle.is_some() {
            b.structured(
                "N",
                &[],
                &[
                    family.as_deref(),
                    given.as_deref(),
                    middle.as_deref(),
                    prefix.as_deref(),
                    suffix.as_deref(),
                ],
            );
        }
        if let Some(v) = &nick {
            b.text("NICKNAME", &[], v);
        }
        if org.is_some() || dept.is_some() {
            b.structured("ORG", &[], &[org.as_deref(), dept.as_deref()]);
        }
        if let Some(v) = &title {
            b.text("TITLE", &[], v);
        }
        if let Some(v) = &bday {
            birthday(&mut b, v);
        }
        for i in 1..=10 {
            for (kind, prop) in [("E-mail", "EMAIL"), ("Phone", "TEL"), ("Website", "URL")] {
                let label_key = format!("{kind} {i} - Label");
                let value_key = format!("{kind} {i} - Value");
                let label = cell(&row, &label_key);
                if let Some(values) = cell(&row, &value_key) {
                    let types = google_types(label.as_deref());
                    for v in values.split(" ::: ").map(str::trim).filter(|v| !v.is_empty()) {
                        b.text(prop, &types, v);
                    }
                    if label.as_deref().is_some_and(|l| {
                        google_types(Some(l)).is_empty()
                            && !l.trim_start_matches("* ").eq_ignore_ascii_case("other")
                    }) {
                        b.notes
                            .push(format!("{prop} {values}: label {}", label.as_deref().unwrap_or_default()));
                        b.warnings.push(format!("{kind} label {label:?} has no vCard type; kept in NOTE"));
                    }
                }
            }
            let adr_key = format!("Address {i} - ");
            let parts: Vec<Option<String>> =
                ["PO Box", "Extended Address", "Street", "City", "Region", "Postal Code", "Country"]
                    .iter()
                    .map(|p| cell(&row, &format!("{adr_key}{p}")))
                    .collect();
            if parts.iter().any(Option::is_some) {
                let label = cell(&row, &format!("{adr_key}Label"));
                let types = google_types(label.as_deref());
                b.structured("ADR", &types, &parts.iter().map(Option::as_deref).collect::<Vec<_>>());
            }
        }
        if let Some(labels) = &labels {
            let categories: Vec<String> = labels
                .split(" ::: ")
                .map(|l| l.trim().trim_start_matches("* ").to_owned())
                .filter(|l| !l.is_empty() && l != "myContacts" && l != "starred")
                .collect();
            if !categories.is_empty() {
                b.raw("CATEGORIES", categories.iter().map(|c| escape_text(c)).collect::<Vec<_>>().join(","));
            }
            if labels.contains("starred") {
                b.notes.push("Starred in Google Contacts".into());
            }
        }
        if let Some(url) = &photo {
            b.warnings
                .push(format!("photo link {url:?} not fetched (no calls to third parties); kept in NOTE"));
            b.notes.push(format!("Photo: {url}"));
        }
        if let Some(v) = &notes {
            b.notes.insert(0, v.clone());
        }
        // Columns not read above go into NOTE, so nothing is lost.
        let mut rest: BTreeMap<&String, String> = BTreeMap::new();
        for (k, v) in &row {
            let known = used.contains(&k.as_str())
                || ["E-mail ", "Phone ", "Website ", "Address "].iter().any(|p| k.starts_with(p));
            if !known {
                rest.insert(k, text::decode_guess(v));
            }
        }
        for (k, v) in rest {
            b.warnings.push(format!("column {k:?} has no vCard property; kept in NOTE"));
            b.notes.push(format!("{k}: {v}"));
        }
        let key = format!("{full}|{}", cell(&row, "E-mail 1 - Value").unwrap_or_default());
        out.push(b.finish(row_uid("google-csv", &key), format!("row {}", n + 2)));
    }
    out
}

fn google_types(label: Option<&str>) -> Vec<&'static str> {
    match label.map(|l| l.trim_start_matches("* ").to_ascii_lowercase()).as_deref() {
        Some("home") => vec!["home"],
        Some("work") => vec!["work"],
        Some("mobile") => vec!["cell"],
        Some("home fax") | Some("work fax") => vec!["fax"],
        Some("pager") => vec!["pager"],
        _ => vec![],
    }
}

fn birthday(b: &mut CardBuilder, value: &str) {
    let (parsed, warning) = super::mapping::parse_birthday(value, super::mapping::today());
    if let Some(w) = warning {
        b.warnings.push(w);
    }
    use super::mapping::Birthday;
    match (parsed, b.version) {
        (Birthday::Full(d), Version::V40) => b.raw("BDAY", d.format("%Y%m%d").to_string()),
        (Birthday::Full(d), _) => b.raw("BDAY", d.format("%Y-%m-%d").to_string()),
        (Birthday::NoYear(m, d), Version::V40) => b.raw("BDAY", format!("--{m:02}{d:02}")),
        (Birthday::NoYear(m, d), _) => b.props.push(VProp::new(
            None,
            "BDAY",
            vec![Param { name: "X-APPLE-OMIT-YEAR".into(), values: vec!["1604".into()] }],
            format!("1604-{m:02}-{d:02}"),
        )),
        (Birthday::Text(t), _) => b.notes.push(format!("Birthday: {t}")),
        (Birthday::Nothing, _) => {}
    }
}

/// Outlook CSV (`First Name`, `E-mail Address`, `Business Street`, …).
pub fn outlook_csv(bytes: &[u8], version: Version) -> Vec<Record> {
    let mut out = Vec::new();
    for (n, row) in csv::records(bytes).into_iter().enumerate() {
        let mut b = CardBuilder::new(version);
        let mut used: Vec<String> = Vec::new();
        let mut take = |name: &str| {
            used.push(name.to_owned());
            cell(&row, name)
        };
        let (title, given, middle, family, suffix) =
            (take("Title"), take("First Name"), take("Middle Name"), take("Last Name"), take("Suffix"));
        let full = [&title, &given, &middle, &family, &suffix]
            .iter()
            .filter_map(|p| p.as_deref())
            .collect::<Vec<_>>()
            .join(" ");
        if !full.is_empty() {
            b.text("FN", &[], &full);
        }
        if given.is_some() || family.is_some() {
            b.structured(
                "N",
                &[],
                &[
                    family.as_deref(),
                    given.as_deref(),
                    middle.as_deref(),
                    title.as_deref(),
                    suffix.as_deref(),
                ],
            );
        }
        let (company, dept, job) = (take("Company"), take("Department"), take("Job Title"));
        if company.is_some() || dept.is_some() {
            b.structured("ORG", &[], &[company.as_deref(), dept.as_deref()]);
        }
        if let Some(v) = &job {
            b.text("TITLE", &[], v);
        }
        for (prefix, types) in [("Business", vec!["work"]), ("Home", vec!["home"]), ("Other", vec![])] {
            let street: Vec<String> = ["Street", "Street 2", "Street 3"]
                .iter()
                .filter_map(|s| take(&format!("{prefix} {s}")))
                .collect();
            let city = take(&format!("{prefix} City"));
            let region = take(&format!("{prefix} State"));
            let code = take(&format!("{prefix} Postal Code"));
            let country = take(&format!("{prefix} Country/Region"));
            let po = take(&format!("{prefix} Address PO Box"));
            if !street.is_empty()
                || city.is_some()
                || region.is_some()
                || code.is_some()
                || country.is_some()
                || po.is_some()
            {
                let parts = [
                    po,
                    None,
                    Some(street.join("\n")).filter(|s| !s.is_empty()),
                    city,
                    region,
                    code,
                    country,
                ];
                b.structured("ADR", &types, &parts.iter().map(Option::as_deref).collect::<Vec<_>>());
            }
        }
        for (column, types) in [
            ("Business Phone", vec!["work", "voice"]),
            ("Business Phone 2", vec!["work", "voice"]),
            ("Home Phone", vec!["home", "voice"]),
            ("Home Phone 2", vec!["home", "voice"]),
            ("Mobile Phone", vec!["cell"]),
            ("Business Fax", vec!["work", "fax"]),
            ("Home Fax", vec!["home", "fax"]),
            ("Pager", vec!["pager"]),
            ("Other Phone", vec![]),
            ("Primary Phone", vec!["pref"]),
        ] {
            if let Some(v) = take(column) {
                b.text("TEL", &types, &v);
            }
        }
        for prefix in ["E-mail", "E-mail 2", "E-mail 3"] {
            let address = take(&format!("{prefix} Address"));
            let kind = take(&format!("{prefix} Type"));
            let display = take(&format!("{prefix} Display Name"));
            let Some(address) = address else { continue };
            // "EX" is an Exchange directory name (/o=…/cn=…), not an address.
            let smtp = kind.as_deref().is_none_or(|k| k.eq_ignore_ascii_case("SMTP"));
            if smtp && super::mapping::is_email(&address) {
                b.text("EMAIL", &[], &address);
            } else {
                let kind = kind.as_deref().unwrap_or("no type");
                b.warnings
                    .push(format!("{prefix} {address:?} ({kind}) is not an e-mail address; kept in NOTE"));
                b.notes.push(format!("{prefix} as stored ({kind}): {address}"));
            }
            // Outlook's display name is usually "Name (address)": kept only when it says more.
            if let Some(display) = display {
                let rest = display.replace(&address, "");
                let rest = rest.trim_matches(|c: char| c.is_whitespace() || "()<>\"'".contains(c));
                if !rest.is_empty() && rest != full {
                    b.warnings.push(format!("{prefix} display name {display:?} kept in NOTE"));
                    b.notes.push(format!("{prefix} display name: {display}"));
                }
            }
        }
        if let Some(v) = take("Birthday").filter(|v| v != "0/0/00") {
            birthday(&mut b, &v);
        }
        if let Some(v) = take("Web Page") {
            b.text("URL", &[], &v);
        }
        if let Some(v) = take("Categories") {
            b.raw("CATEGORIES", v.split(';').map(|c| escape_text(c.trim())).collect::<Vec<_>>().join(","));
        }
        if let Some(v) = take("Notes") {
            b.notes.insert(0, v);
        }
        let mut rest: BTreeMap<&String, String> = BTreeMap::new();
        for (k, v) in &row {
            if !used.iter().any(|u| u == k) {
                rest.insert(k, text::decode_guess(v));
            }
        }
        for (k, v) in rest {
            b.warnings.push(format!("column {k:?} has no vCard property; kept in NOTE"));
            b.notes.push(format!("{k}: {v}"));
        }
        let key = format!("{full}|{}", cell(&row, "E-mail Address").unwrap_or_default());
        out.push(b.finish(row_uid("outlook-csv", &key), format!("row {}", n + 2)));
    }
    out
}

/// Thunderbird's LDIF: person entries become cards, `groupOfNames` entries
/// become group cards whose members are the cards of their `member` DNs.
pub fn ldif(bytes: &[u8], version: Version) -> Vec<Record> {
    let entries = ldif_entries(bytes);
    let person_uid = |dn: &str| row_uid("ldif", dn);
    let mut out = Vec::new();
    for (n, entry) in entries.iter().enumerate() {
        let dn = entry.iter().find(|(k, _)| k == "dn").map(|(_, v)| v.clone()).unwrap_or_default();
        let classes: Vec<String> = entry
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("objectclass"))
            .map(|(_, v)| v.to_ascii_lowercase())
            .collect();
        let mut b = CardBuilder::new(version);
        let get =
            |name: &str| entry.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
        let mut used: Vec<String> = ["dn", "objectclass", "modifytimestamp"].map(String::from).to_vec();
        if classes.iter().any(|c| c == "groupofnames") {
            let name = get("cn").unwrap_or_else(|| "Unnamed group".into());
            used.push("cn".into());
            b.text("FN", &[], &name);
            let kind_prop = if version == Version::V40 { "KIND" } else { "X-ADDRESSBOOKSERVER-KIND" };
            b.raw(kind_prop, "group".into());
            let member_prop = if version == Version::V40 { "MEMBER" } else { "X-ADDRESSBOOKSERVER-MEMBER" };
            let known: Vec<String> = entries
                .iter()
                .filter_map(|e| e.iter().find(|(k, _)| k == "dn").map(|(_, v)| v.clone()))
                .collect();
            for (k, member) in entry.iter().filter(|(k, _)| k.eq_ignore_ascii_case("member")) {
                let _ = k;
                if known.contains(member) {
                    b.raw(member_prop, format!("urn:uuid:{}", person_uid(member)));
                } else {
                    b.warnings.push(format!("group member {member:?} is not in the file; left out"));
                    b.notes.push(format!("Member not found: {member}"));
                }
            }
            used.push("member".into());
            out.push(b.finish(row_uid("ldif-group", &dn), format!("entry {}", n + 1)));
            continue;
        }
        let (given, family, cn) = (get("givenName"), get("sn"), get("cn"));
        used.extend(["givenName", "sn", "cn"].map(String::from));
        if let Some(full) = cn.clone().or_else(|| {
            let s = [given.as_deref(), family.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
            (!s.is_empty()).then_some(s)
        }) {
            b.text("FN", &[], &full);
        }
        if given.is_some() || family.is_some() {
            b.raw(
                "N",
                format!(
                    "{};{};;;",
                    escape_text(family.as_deref().unwrap_or("")),
                    escape_text(given.as_deref().unwrap_or(""))
                ),
            );
        }
        for (attr, prop, types) in [
            ("mail", "EMAIL", vec![]),
            ("mozillaSecondEmail", "EMAIL", vec![]),
            ("telephoneNumber", "TEL", vec!["work"]),
            ("homePhone", "TEL", vec!["home"]),
            ("mobile", "TEL", vec!["cell"]),
            ("facsimileTelephoneNumber", "TEL", vec!["fax"]),
            ("pager", "TEL", vec!["pager"]),
            ("mozillaNickname", "NICKNAME", vec![]),
            ("title", "TITLE", vec![]),
            ("mozillaWorkUrl", "URL", vec!["work"]),
            ("mozillaHomeUrl", "URL", vec!["home"]),
        ] {
            used.push(attr.into());
            for (_, v) in entry.iter().filter(|(k, _)| k.eq_ignore_ascii_case(attr)) {
                b.text(prop, &types, v);
            }
        }
        let (company, dept) = (get("o").or_else(|| get("company")), get("ou").or_else(|| get("department")));
        used.extend(["o", "company", "ou", "department"].map(String::from));
        if company.is_some() || dept.is_some() {
            b.structured("ORG", &[], &[company.as_deref(), dept.as_deref()]);
        }
        for (prefix, types) in [("mozillaHome", vec!["home"]), ("", vec!["work"])] {
            let part = |s: &str| get(&format!("{prefix}{s}"));
            let street =
                [part("Street"), part("Street2")].into_iter().flatten().collect::<Vec<_>>().join("\n");
            let (city, region, code, country) = if prefix.is_empty() {
                (get("l"), get("st"), get("postalCode"), get("c"))
            } else {
                (part("LocalityName"), part("State"), part("PostalCode"), part("CountryName"))
            };
            for a in ["Street", "Street2", "LocalityName", "State", "PostalCode", "CountryName"] {
                used.push(format!("{prefix}{a}"));
            }
            if prefix.is_empty() {
                used.extend(["street", "l", "st", "postalCode", "c"].map(String::from));
            }
            let street = if prefix.is_empty() { get("street").unwrap_or(street) } else { street };
            if !street.is_empty() || city.is_some() || region.is_some() || code.is_some() || country.is_some()
            {
                let parts = [None, None, Some(street).filter(|s| !s.is_empty()), city, region, code, country];
                b.structured("ADR", &types, &parts.iter().map(Option::as_deref).collect::<Vec<_>>());
            }
        }
        let (day, month, year) = (get("birthday"), get("birthmonth"), get("birthyear"));
        used.extend(["birthday", "birthmonth", "birthyear"].map(String::from));
        if let (Some(d), Some(m)) = (&day, &month) {
            let text = match &year {
                Some(y) => format!("{y}-{:0>2}-{:0>2}", m, d),
                None => format!("--{:0>2}-{:0>2}", m, d),
            };
            birthday(&mut b, &text);
        }
        if let Some(note) = get("description") {
            b.notes.insert(0, note);
        }
        used.push("description".into());
        for (k, v) in entry {
            if !used.iter().any(|u| u.eq_ignore_ascii_case(k)) {
                b.warnings.push(format!("attribute {k:?} has no vCard property; kept in NOTE"));
                b.notes.push(format!("{k}: {v}"));
            }
        }
        out.push(b.finish(person_uid(&dn), format!("entry {}", n + 1)));
    }
    out
}

/// Entries of an LDIF file: (attribute, value) pairs, base64 (`::`) decoded,
/// continuation lines joined.
fn ldif_entries(bytes: &[u8]) -> Vec<Vec<(String, String)>> {
    let text = text::decode_guess(bytes);
    let mut entries = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(' ')
            && let Some(last) = lines.last_mut()
        {
            last.push_str(rest);
            continue;
        }
        lines.push(line.to_owned());
    }
    for line in lines {
        if line.trim().is_empty() {
            if !current.is_empty() {
                entries.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once("::") {
            let decoded = base64::engine::general_purpose::STANDARD.decode(v.trim()).unwrap_or_default();
            current.push((k.trim().to_owned(), text::decode_guess(&decoded)));
        } else if let Some((k, v)) = line.split_once(':') {
            current.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    if !current.is_empty() {
        entries.push(current);
    }
    entries
}

/// vCard files (a file or every .vcf in a folder), any version.
pub fn vcards(path: &Path, version: Version) -> Result<Vec<Record>, String> {
    let mut files = Vec::new();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).map_err(|e| format!("cannot read {}: {e}", path.display()))? {
            let p = entry.map_err(|e| e.to_string())?.path();
            if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("vcf") || e.eq_ignore_ascii_case("vcard"))
            {
                files.push(p);
            }
        }
        files.sort();
    } else {
        files.push(path.to_path_buf());
    }
    let mut out = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let cards = vcard::legacy::read_cards(&bytes, Some(version))
            .map_err(|e| format!("{}: {e}", file.display()))?;
        for (n, read) in cards.into_iter().enumerate() {
            let uid = read.card.uid().unwrap_or_default();
            out.push(Record {
                uid,
                source: format!(
                    "{} card {}",
                    file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
                    n + 1
                ),
                card: read.card,
                warnings: read.notes,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/legacy").join(name)).unwrap()
    }

    fn valid(r: &Record) {
        assert!(vcard::inspect(r.card.to_vcf().as_bytes()).is_ok(), "{}", r.card.to_vcf());
    }

    #[test]
    fn google_rows_keep_every_value() {
        let records = google_csv(&fixture("google.csv"), Version::V30);
        assert_eq!(records.len(), 2);
        let zoe = records[0].card.to_vcf();
        assert!(
            zoe.contains("EMAIL;TYPE=HOME:zoe@example.com") && zoe.contains(":zoe.alt@example.org"),
            "{zoe}"
        );
        assert!(zoe.contains("TEL;TYPE=CELL:+1 555 0120") && zoe.contains("+1 555 0121"));
        assert!(zoe.contains("X-APPLE-OMIT-YEAR=1604:1604-05-17"));
        assert!(zoe.contains("CATEGORIES:Friends"));
        assert!(zoe.contains("lh3.example.invalid/photo.jpg"), "the photo link is kept as text");
        let acme = records[1].card.to_vcf();
        assert!(
            acme.contains("FN:Acme Widgets")
                && acme.contains("TITLE:CEO")
                && acme.contains("BDAY:1960-01-31"),
            "{acme}"
        );
        assert!(acme.contains("Springfield"));
        records.iter().for_each(valid);
        assert_eq!(google_csv(&fixture("google.csv"), Version::V30)[0].uid, records[0].uid, "stable UIDs");
    }

    #[test]
    fn outlook_and_ldif() {
        let records = outlook_csv(&fixture("outlook.csv"), Version::V40);
        assert!(!records.is_empty());
        assert!(records[0].card.to_vcf().contains("FN:Kari Nordmann"));
        records.iter().for_each(valid);
        let entries = ldif(&fixture("thunderbird.ldif"), Version::V40);
        assert_eq!(entries.len(), 3);
        let kari = entries[0].card.to_vcf();
        assert!(kari.contains("NOTE:note line 1\\nnote line 2"), "{kari}");
        assert!(kari.contains("BDAY:--0517"));
        let aerlig = entries[1].card.to_vcf();
        assert!(aerlig.contains("FN:Ærlig Østby") && aerlig.contains("Ålesund"), "{aerlig}");
        let family = entries[2].card.to_vcf();
        assert!(family.contains("KIND:group"));
        assert_eq!(family.matches("MEMBER:urn:uuid:").count(), 2, "{family}");
        assert!(family.contains(&format!("MEMBER:urn:uuid:{}", entries[0].uid)));
        entries.iter().for_each(valid);
    }
}
