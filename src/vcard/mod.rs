//! vCard ingest (RFC 6350 vCard 4.0, RFC 2426 vCard 3.0): byte-level
//! unfolding, structural checks, and a line-faithful model of each card.
//!
//! Like iCalendar objects, cards are stored as sent; the model here keeps
//! every content line as written, so that partial retrieval and version
//! conversion ([`convert`]) change only what they must.

pub mod convert;
pub mod legacy;

use crate::collation::Collation;
use crate::ical::tree::{Param, fold_into, parse_line, unescape_text};
use crate::ical::{IngestError, content_lines, unfold};

/// Longest unfolded content line (a large inline photo is one line).
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;
/// Most properties in one card.
pub const MAX_PROPERTIES: usize = 10_000;

fn err<T>(message: impl Into<String>) -> Result<T, IngestError> {
    Err(IngestError(message.into()))
}

/// The vCard versions Skjold knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    V21,
    V30,
    V40,
}

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        match s.trim() {
            "2.1" => Some(Version::V21),
            "3.0" => Some(Version::V30),
            "4.0" => Some(Version::V40),
            _ => None,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Version::V21 => "2.1",
            Version::V30 => "3.0",
            Version::V40 => "4.0",
        }
    }
}

/// One content line of a card, with its group split off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VProp {
    /// `item1` in `item1.EMAIL`.
    pub group: Option<String>,
    /// Upper-cased name without the group.
    pub name: String,
    pub params: Vec<Param>,
    /// The value as written (escapes not undone).
    pub value: String,
    /// The whole unfolded line as written.
    pub raw: String,
}

impl VProp {
    pub fn parse(line: &str) -> Result<VProp, IngestError> {
        let p = parse_line(line)?;
        let (group, name) = match p.name.rsplit_once('.') {
            Some((g, n)) => (Some(line[..g.len()].to_owned()), n.to_owned()),
            None => (None, p.name),
        };
        Ok(VProp { group, name, params: p.params, value: p.value, raw: p.raw })
    }

    /// A new line from parts; parameters written in order, quoted when needed.
    pub fn new(group: Option<&str>, name: &str, params: Vec<Param>, value: String) -> VProp {
        let mut raw = String::new();
        if let Some(g) = group {
            raw.push_str(g);
            raw.push('.');
        }
        raw.push_str(name);
        for p in &params {
            raw.push(';');
            raw.push_str(&p.name);
            if p.values.is_empty() {
                continue;
            }
            raw.push('=');
            let values: Vec<String> = p
                .values
                .iter()
                .map(|v| {
                    if v.contains([';', ':', ',', ' ', '"']) {
                        format!("\"{}\"", v.replace('"', "'"))
                    } else {
                        v.clone()
                    }
                })
                .collect();
            raw.push_str(&values.join(","));
        }
        raw.push(':');
        raw.push_str(&value);
        VProp { group: group.map(str::to_owned), name: name.to_owned(), params, value, raw }
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|p| p.name == name).and_then(|p| p.values.first()).map(String::as_str)
    }

    /// Every TYPE value, lower-cased, whether written `TYPE=a,b`, `TYPE=a;TYPE=b`
    /// or (vCard 2.1) as bare parameters.
    pub fn types(&self) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.params {
            if p.name == "TYPE" {
                for v in &p.values {
                    out.extend(v.split(',').map(|t| t.trim().to_ascii_lowercase()).filter(|t| !t.is_empty()));
                }
            }
        }
        out
    }

    pub fn text(&self) -> String {
        unescape_text(&self.value)
    }

    /// Whether `name` (possibly `group.NAME`) selects this property
    /// (RFC 6352 §10.4.2: a name without group matches any group).
    pub fn is(&self, name: &str) -> bool {
        match name.rsplit_once('.') {
            Some((g, n)) => {
                self.group.as_deref().is_some_and(|own| own.eq_ignore_ascii_case(g))
                    && self.name.eq_ignore_ascii_case(n)
            }
            None => self.name.eq_ignore_ascii_case(name),
        }
    }
}

/// One vCard: the properties between BEGIN:VCARD and END:VCARD.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Card {
    pub props: Vec<VProp>,
}

impl Card {
    pub fn get(&self, name: &str) -> Option<&VProp> {
        self.props.iter().find(|p| p.is(name))
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a VProp> + 'a {
        self.props.iter().filter(move |p| p.is(name))
    }

    pub fn version(&self) -> Option<Version> {
        self.get("VERSION").and_then(|p| Version::parse(&p.value))
    }

    pub fn uid(&self) -> Option<String> {
        self.get("UID").map(|p| p.text().trim().to_owned()).filter(|u| !u.is_empty())
    }

    /// CRLF lines, folded at 75 octets.
    pub fn to_vcf(&self) -> String {
        let mut out = String::new();
        fold_into(&mut out, "BEGIN:VCARD");
        for p in &self.props {
            fold_into(&mut out, &p.raw);
        }
        fold_into(&mut out, "END:VCARD");
        out
    }
}

/// Reads every card of unfolded text. Lines outside cards are skipped;
/// `strict` refuses them (a PUT body).
pub fn parse_cards(text: &str, strict: bool) -> Result<Vec<Card>, IngestError> {
    let mut cards = Vec::new();
    let mut current: Option<Card> = None;
    for line in content_lines(text) {
        if line.len() > MAX_LINE_BYTES {
            return err(format!("a content line is longer than {MAX_LINE_BYTES} bytes"));
        }
        let upper = line.trim_end().to_ascii_uppercase();
        if upper.starts_with("BEGIN:") {
            if upper != "BEGIN:VCARD" || current.is_some() {
                return err("a vCard cannot contain other components");
            }
            current = Some(Card::default());
        } else if upper.starts_with("END:") {
            match current.take() {
                Some(card) if upper == "END:VCARD" => cards.push(card),
                _ => return err("END without a matching BEGIN:VCARD"),
            }
        } else if let Some(card) = current.as_mut() {
            if card.props.len() >= MAX_PROPERTIES {
                return err(format!("more than {MAX_PROPERTIES} properties"));
            }
            card.props.push(VProp::parse(line)?);
        } else if strict {
            return err("content outside BEGIN:VCARD/END:VCARD");
        }
    }
    if current.is_some() {
        return err("BEGIN:VCARD is never closed");
    }
    Ok(cards)
}

/// Unfolds and decodes a body as UTF-8 text.
pub fn decode(body: &[u8]) -> Result<String, IngestError> {
    let text =
        String::from_utf8(unfold(body)).map_err(|_| IngestError("the vCard is not valid UTF-8".into()))?;
    Ok(match text.strip_prefix('\u{FEFF}') {
        Some(rest) => rest.to_owned(),
        None => text,
    })
}

/// Properties addressbook-query searches through the index (short values;
/// NOTE and the like are found by reading the cards).
pub const SEARCHED: &[&str] =
    &["FN", "N", "NICKNAME", "EMAIL", "TEL", "ORG", "CATEGORIES", "UID", "ADR", "TITLE"];

/// Longest value the index holds. A card with a longer one gets the
/// [`OVERFLOW`] row instead and is always read when searched.
pub const SEARCH_VALUE_BYTES: usize = 16 * 1024;
/// The index row that marks a card whose values did not all fit.
pub const OVERFLOW: &str = crate::store::CARD_SEARCH_OVERFLOW;

/// (property, folded value) pairs for the search index: exactly the text a
/// filter tests (the unescaped value), folded with i;unicode-casemap.
pub fn search_terms(card: &Card) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut overflow = false;
    for p in &card.props {
        if !SEARCHED.contains(&p.name.as_str()) {
            continue;
        }
        let value = Collation::UnicodeCasemap.key(&p.text());
        if value.len() > SEARCH_VALUE_BYTES {
            overflow = true;
        } else if !value.is_empty() {
            out.push((p.name.clone(), value));
        }
    }
    if overflow {
        out.push((OVERFLOW.into(), String::new()));
    }
    out
}

/// What the store needs to know about an address object resource.
#[derive(Debug)]
pub struct Summary {
    pub uid: String,
    pub version: Version,
    pub card: Card,
}

/// Checks that the body is exactly one vCard 3.0 or 4.0 (RFC 6352 §5.1)
/// with the properties its version requires.
pub fn inspect(body: &[u8]) -> Result<Summary, IngestError> {
    let text = decode(body)?;
    let mut cards = parse_cards(&text, true)?;
    let card = match cards.len() {
        0 => return err("no vCard found"),
        1 => cards.remove(0),
        _ => return err("the body holds more than one vCard"),
    };
    let version = match card.get("VERSION").map(|p| p.value.trim().to_owned()) {
        None => return err("the vCard has no VERSION"),
        Some(v) => match Version::parse(&v) {
            Some(v @ (Version::V30 | Version::V40)) => v,
            _ => return err(format!("only vCard 3.0 and 4.0 can be stored, not {v:?}")),
        },
    };
    if card.get("FN").is_none() {
        return err("the vCard has no FN");
    }
    let Some(uid) = card.uid() else { return err("the vCard has no UID") };
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
            ("junk\nBEGIN:VCARD\nVERSION:4.0\nFN:A\nUID:u\nEND:VCARD\n", "outside"),
        ] {
            let e = inspect(bad.as_bytes()).unwrap_err();
            assert!(e.0.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn groups_and_types() {
        let p = VProp::parse("item1.EMAIL;TYPE=INTERNET,pref;type=HOME:a@b").unwrap();
        assert_eq!(p.group.as_deref(), Some("item1"));
        assert_eq!(p.name, "EMAIL");
        assert_eq!(p.types(), vec!["internet", "pref", "home"]);
        assert!(p.is("EMAIL") && p.is("item1.EMAIL") && p.is("ITEM1.email") && !p.is("item2.EMAIL"));
        let built = VProp::new(
            Some("item2"),
            "TEL",
            vec![Param { name: "TYPE".into(), values: vec!["work,voice".into()] }],
            "1".into(),
        );
        assert_eq!(built.raw, "item2.TEL;TYPE=\"work,voice\":1");
        assert_eq!(VProp::parse(&built.raw).unwrap(), built);
    }

    #[test]
    fn search_terms_are_folded() {
        let text = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Jörg Müller\r\nN:Müller;Jörg;;;\r\nEMAIL:Joerg@Example.COM\r\nPHOTO:data:image/png;base64,AAAA\r\nUID:u\r\nEND:VCARD\r\n";
        let card = inspect(text.as_bytes()).unwrap().card;
        let terms = search_terms(&card);
        assert!(terms.contains(&("EMAIL".into(), "JOERG@EXAMPLE.COM".into())));
        assert!(
            terms.iter().any(|(p, v)| p == "N" && v.starts_with("MU\u{308}LLER;JO\u{308}RG")),
            "{terms:?}"
        );
        assert!(!terms.iter().any(|(p, _)| p == "PHOTO"));
    }
}
