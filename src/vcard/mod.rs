//! The vCard ingest layer: byte-level unfolding, structural checks, then calcard.

use calcard::Entry;
use calcard::vcard::{VCard, VCardProperty, VCardVersion};

use crate::ical::{IngestError, content_lines, unfold};

/// Longest unfolded content line (a large inline photo is one line).
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;
/// Most properties in one card.
pub const MAX_PROPERTIES: usize = 10_000;

fn err<T>(message: impl Into<String>) -> Result<T, IngestError> {
    Err(IngestError(message.into()))
}

/// What the store needs to know about an address object resource.
#[derive(Debug)]
pub struct Summary {
    pub uid: String,
    pub version: VCardVersion,
    pub card: VCard,
}

/// Checks that the body is exactly one vCard 3.0 or 4.0 (RFC 6352 §5.1)
/// with the properties its version requires.
pub fn inspect(body: &[u8]) -> Result<Summary, IngestError> {
    let unfolded = unfold(body);
    let text = String::from_utf8(unfolded).map_err(|_| IngestError("the vCard is not valid UTF-8".into()))?;
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(&text);
    let mut depth = 0usize;
    let mut cards = 0usize;
    let mut properties = 0usize;
    for line in content_lines(text) {
        if line.len() > MAX_LINE_BYTES {
            return err(format!("a content line is longer than {MAX_LINE_BYTES} bytes"));
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("BEGIN:") {
            if upper.trim_end() != "BEGIN:VCARD" || depth > 0 {
                return err("a vCard cannot contain other components");
            }
            depth = 1;
            cards += 1;
            if cards > 1 {
                return err("the body holds more than one vCard");
            }
        } else if upper.starts_with("END:") {
            if upper.trim_end() != "END:VCARD" || depth == 0 {
                return err("END without a matching BEGIN:VCARD");
            }
            depth = 0;
        } else if depth == 0 {
            return err("content outside BEGIN:VCARD/END:VCARD");
        } else {
            properties += 1;
            if properties > MAX_PROPERTIES {
                return err(format!("more than {MAX_PROPERTIES} properties"));
            }
            if !line.contains(':') {
                return err("a content line has no ':'");
            }
        }
    }
    if depth != 0 {
        return err("BEGIN:VCARD is never closed");
    }
    if cards == 0 {
        return err("no vCard found");
    }
    let mut parser = calcard::Parser::new(text);
    let card = match parser.entry() {
        Entry::VCard(card) => card,
        other => return err(format!("unparseable vCard: {other:?}")),
    };
    let version = match card.version() {
        Some(v @ (VCardVersion::V3_0 | VCardVersion::V4_0)) => v,
        Some(_) => return err("only vCard 3.0 and 4.0 can be stored"),
        None => return err("the vCard has no VERSION"),
    };
    if card.property(&VCardProperty::Fn).is_none() {
        return err("the vCard has no FN");
    }
    let uid = match card.uid() {
        Some(uid) if !uid.trim().is_empty() => uid.to_owned(),
        _ => return err("the vCard has no UID"),
    };
    Ok(Summary { uid, version, card })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_3_and_4_and_refuses_the_rest() {
        for ok in [
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nN:A;;;;\r\nUID:u1\r\nEND:VCARD\r\n",
            "BEGIN:VCARD\nVERSION:4.0\nFN:B\nUID:urn:uuid:1\nitem1.EMAIL;TYPE=INTERNET:b@x\nitem1.X-ABLabel:Other\nEND:VCARD\n",
        ] {
            assert!(inspect(ok.as_bytes()).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("BEGIN:VCARD\nVERSION:2.1\nFN:A\nUID:u\nEND:VCARD\n", "3.0 and 4.0"),
            ("BEGIN:VCARD\nFN:A\nUID:u\nEND:VCARD\n", "no VERSION"),
            ("BEGIN:VCARD\nVERSION:4.0\nUID:u\nEND:VCARD\n", "no FN"),
            ("BEGIN:VCARD\nVERSION:4.0\nFN:A\nEND:VCARD\n", "no UID"),
            ("BEGIN:VCARD\nVERSION:4.0\nFN:A\nUID:u\n", "never closed"),
            ("BEGIN:VCARD\nVERSION:4.0\nFN:A\nUID:u\nEND:VCARD\nBEGIN:VCARD\nEND:VCARD\n", "more than one"),
            ("BEGIN:VCALENDAR\nEND:VCALENDAR\n", "cannot contain"),
        ] {
            let e = inspect(bad.as_bytes()).unwrap_err();
            assert!(e.0.contains(why), "{bad}: {e}");
        }
    }
}
