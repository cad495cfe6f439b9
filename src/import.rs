//! `skjold import`: files from elsewhere into a user's calendar or address
//! book, through the same validation and store verbs as client PUTs.
//!
//! A calendar file is split by UID: every component of one UID (master and
//! overrides) becomes one object, with the time zones it refers to. An
//! object keeps its name across runs (found again by UID), so importing the
//! same file twice changes nothing the second time.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::collections;
use crate::ical::{self, tree::Component};
use crate::progress::Progress;
use crate::store::{Collection, Condition, NewObject, PutOutcome, Store, StoreError};

/// Outcome of an import.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub imported: usize,
    pub replaced: usize,
    pub unchanged: usize,
    /// (what, why)
    pub rejected: Vec<(String, String)>,
    /// (what, what was repaired): imported, but changed on the way.
    pub warnings: Vec<(String, String)>,
}

impl ImportReport {
    pub fn summary(&self) -> String {
        format!(
            "imported {}, replaced {}, unchanged {}, rejected {}, warnings {}",
            self.imported,
            self.replaced,
            self.unchanged,
            self.rejected.len(),
            self.warnings.len()
        )
    }

    fn count(&mut self, outcome: &PutOutcome) {
        match outcome {
            PutOutcome::Created { .. } => self.imported += 1,
            PutOutcome::Replaced { .. } => self.replaced += 1,
            PutOutcome::Unchanged { .. } => self.unchanged += 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    File(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A resource name for a UID: the UID itself when it is plainly safe, else
/// a hash of it (UIDs may hold any character, names end up in URLs).
pub fn name_for_uid(uid: &str, extension: &str) -> String {
    let plain = uid.len() <= 200
        && !uid.is_empty()
        && uid.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
    if plain && !uid.starts_with('.') {
        return format!("{uid}.{extension}");
    }
    let digest = Sha256::digest(uid.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}.{extension}")
}

/// TZIDs referenced anywhere inside a component.
fn referenced_tzids(c: &Component, into: &mut BTreeSet<String>) {
    for p in &c.properties {
        if let Some(tzid) = p.param("TZID") {
            into.insert(tzid.trim().to_owned());
        }
    }
    for sub in &c.components {
        referenced_tzids(sub, into);
    }
}

/// Objects found in a file (UID and object) and what was rejected (what, why).
pub type Split = (Vec<(String, Component)>, Vec<(String, String)>);

/// Splits calendar text into one VCALENDAR per UID; components without a
/// UID are reported.
pub fn split_calendar(text: &str) -> Result<Split, String> {
    let roots = ical::tree::parse_forest(text, ical::MAX_NESTING).map_err(|e| e.0)?;
    let mut objects = Vec::new();
    let mut rejected = Vec::new();
    for root in roots {
        if root.name != "VCALENDAR" {
            rejected.push((root.name.clone(), "not inside a VCALENDAR".into()));
            continue;
        }
        let timezones: BTreeMap<String, &Component> = root
            .children("VTIMEZONE")
            .filter_map(|tz| Some((tz.prop("TZID")?.value.trim().to_owned(), tz)))
            .collect();
        let mut groups: Vec<(String, Vec<&Component>)> = Vec::new();
        for c in root.components.iter().filter(|c| c.name != "VTIMEZONE") {
            let Some(uid) = c.uid().filter(|u| !u.is_empty()) else {
                let what = c.prop("SUMMARY").map(|p| p.text()).unwrap_or_else(|| c.name.clone());
                rejected.push((what, "no UID".into()));
                continue;
            };
            match groups.iter_mut().find(|(u, _)| u == uid) {
                Some((_, list)) => list.push(c),
                None => groups.push((uid.to_owned(), vec![c])),
            }
        }
        // RFC 4791 §4.1: no METHOD in stored objects.
        let properties: Vec<_> = root.properties.iter().filter(|p| p.name != "METHOD").cloned().collect();
        for (uid, members) in groups {
            let mut tzids = BTreeSet::new();
            for m in &members {
                referenced_tzids(m, &mut tzids);
            }
            let mut components: Vec<Component> =
                tzids.iter().filter_map(|id| timezones.get(id)).map(|tz| (*tz).clone()).collect();
            components.extend(members.into_iter().cloned());
            objects.push((
                uid,
                Component { name: "VCALENDAR".into(), properties: properties.clone(), components },
            ));
        }
    }
    Ok((objects, rejected))
}

/// Imports calendar text into `calendar`.
pub async fn import_calendar(
    store: &dyn Store,
    calendar: &Collection,
    text: &str,
) -> Result<ImportReport, ImportError> {
    let (objects, rejected) = split_calendar(text).map_err(ImportError::File)?;
    let mut report = ImportReport { rejected, ..Default::default() };
    let mut progress = Progress::new("importing", objects.len() as u64);
    for (uid, object) in objects {
        let body = object.to_ics();
        progress.inc(1);
        let (content_type, index) =
            match collections::ingest(calendar, body.as_bytes(), Some("text/calendar")) {
                Ok(v) => v,
                Err(e) => {
                    report.rejected.push((uid, e.message));
                    continue;
                }
            };
        let name = match store.object_by_uid(calendar.id, &uid).await? {
            Some(existing) => existing.name,
            None => name_for_uid(&uid, "ics"),
        };
        let new = NewObject { name, content_type, body: body.into_bytes().into(), index };
        match store.put_object(calendar.id, new, Condition::NONE).await {
            Ok(outcome) => report.count(&outcome),
            Err(StoreError::QuotaExceeded) => report.rejected.push((uid, "the user's quota is full".into())),
            Err(StoreError::UidConflict { existing_name }) => {
                report.rejected.push((uid, format!("the UID is already used by {existing_name}")))
            }
            Err(e) => return Err(e.into()),
        }
    }
    progress.finish();
    Ok(report)
}

/// Imports a .vcf file (vCard 2.1, 3.0 or 4.0, in any common encoding)
/// into `book`. vCard 2.1 cards are stored as 3.0; notes on repairs are
/// reported as warnings.
pub async fn import_vcards(
    store: &dyn Store,
    book: &Collection,
    bytes: &[u8],
) -> Result<ImportReport, ImportError> {
    let cards = crate::vcard::legacy::read_cards(bytes, None).map_err(ImportError::File)?;
    let mut report = ImportReport::default();
    let mut progress = Progress::new("importing", cards.len() as u64);
    for read in cards {
        progress.inc(1);
        let uid = read.card.uid().unwrap_or_default();
        let label = read.card.get("FN").map(|p| p.text()).unwrap_or_else(|| uid.clone());
        for note in &read.notes {
            report.warnings.push((label.clone(), note.clone()));
        }
        let body = read.card.to_vcf();
        let (content_type, index) = match collections::ingest(book, body.as_bytes(), Some("text/vcard")) {
            Ok(v) => v,
            Err(e) => {
                report.rejected.push((label, e.message));
                continue;
            }
        };
        let name = match store.object_by_uid(book.id, &uid).await? {
            Some(existing) => existing.name,
            None => name_for_uid(&uid, "vcf"),
        };
        let new = NewObject { name, content_type, body: body.into_bytes().into(), index };
        match store.put_object(book.id, new, Condition::NONE).await {
            Ok(outcome) => report.count(&outcome),
            Err(StoreError::QuotaExceeded) => {
                report.rejected.push((label, "the user's quota is full".into()))
            }
            Err(StoreError::UidConflict { existing_name }) => {
                report.rejected.push((label, format!("the UID is already used by {existing_name}")))
            }
            Err(e) => return Err(e.into()),
        }
    }
    progress.finish();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_for_uids() {
        assert_eq!(name_for_uid("abc-123@example.com", "ics"), "abc-123@example.com.ics");
        let odd = name_for_uid("a/b c", "ics");
        assert!(odd.ends_with(".ics") && odd.len() == 36 && !odd.contains('/'), "{odd}");
        assert_eq!(odd, name_for_uid("a/b c", "ics"), "stable across runs");
        assert_ne!(name_for_uid(".hidden", "ics"), ".hidden.ics");
    }

    #[test]
    fn splits_by_uid_with_the_time_zones_each_needs() {
        let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nMETHOD:PUBLISH\r\n\
BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\n\
BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:a\r\nDTSTART;TZID=Europe/Berlin:20250101T100000\r\nRRULE:FREQ=DAILY;COUNT=2\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:b\r\nDTSTART:20250101T100000Z\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:a\r\nRECURRENCE-ID;TZID=Europe/Berlin:20250102T100000\r\nDTSTART;TZID=Europe/Berlin:20250102T120000\r\nEND:VEVENT\r\n\
BEGIN:VTODO\r\nSUMMARY:no uid\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
        let (objects, rejected) = split_calendar(text).unwrap();
        assert_eq!(rejected, vec![("no uid".to_string(), "no UID".to_string())]);
        assert_eq!(objects.len(), 2);
        let (uid, a) = &objects[0];
        assert_eq!(uid, "a");
        let names: Vec<&str> = a.components.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["VTIMEZONE", "VEVENT", "VEVENT"]);
        assert_eq!(a.components[0].prop("TZID").unwrap().value, "Europe/Berlin");
        assert!(a.prop("METHOD").is_none());
        assert!(ical::inspect(a.to_ics().as_bytes()).is_ok());
        let (_, b) = &objects[1];
        assert_eq!(b.components.len(), 1, "no time zone for a UTC event");
    }
}
