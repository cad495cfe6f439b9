//! Reading vCards as other systems export them: vCard 2.1 (bare TYPE
//! parameters, QUOTED-PRINTABLE with soft line breaks, CHARSET, BASE64),
//! files that are not UTF-8, cards without UID or FN. The result is a
//! storable 3.0 or 4.0 card and notes on what was repaired.

use sha2::{Digest, Sha256};

use super::{Card, VProp, Version};
use crate::ical::tree::{Param, escape_text};
use crate::text;

/// Parameter names of vCard 2.1 that are not bare TYPE values.
const NAMED_PARAMS: &[&str] = &["TYPE", "ENCODING", "CHARSET", "LANGUAGE", "VALUE", "CONTEXT"];
/// vCard 2.1 ENCODING values that may stand alone.
const ENCODINGS: &[&str] = &["QUOTED-PRINTABLE", "BASE64", "8BIT", "7BIT", "B"];

/// A card read from a foreign file, ready to store.
#[derive(Debug, Clone)]
pub struct ReadCard {
    pub card: Card,
    /// What had to be changed to make it storable.
    pub notes: Vec<String>,
}

/// Splits raw bytes into logical lines: folded continuations (a leading
/// space or tab) and quoted-printable soft breaks (`=` at the end of a
/// QUOTED-PRINTABLE line) are joined.
fn logical_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut qp_open = false;
    for raw in bytes.split(|&b| b == b'\n') {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if qp_open && let Some(last) = lines.last_mut() {
            last.pop(); // the soft-break '='
            last.extend_from_slice(raw);
            qp_open = last.ends_with(b"=");
            continue;
        }
        if matches!(raw.first(), Some(b' ' | b'\t'))
            && let Some(last) = lines.last_mut()
        {
            last.extend_from_slice(&raw[1..]);
            continue;
        }
        if raw.is_empty() {
            continue;
        }
        let upper = raw.iter().take(200).map(u8::to_ascii_uppercase).collect::<Vec<u8>>();
        let head_end = upper.iter().position(|&b| b == b':').unwrap_or(upper.len());
        let is_qp = upper[..head_end].windows(16).any(|w| w == b"QUOTED-PRINTABLE");
        qp_open = is_qp && raw.ends_with(b"=");
        lines.push(raw.to_vec());
    }
    lines
}

/// Reads every card of a .vcf file (any version, any text encoding).
pub fn read_cards(bytes: &[u8], target: Option<Version>) -> Result<Vec<ReadCard>, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut cards = Vec::new();
    let mut current: Option<Vec<Vec<u8>>> = None;
    // vCard 2.1 embeds the card of an AGENT after its `AGENT:` line.
    let mut agent: Option<Vec<Vec<u8>>> = None;
    for line in logical_lines(bytes) {
        let upper: Vec<u8> = line.iter().take(12).map(u8::to_ascii_uppercase).collect();
        if let Some(nested) = agent.as_mut() {
            nested.push(line);
            if upper.starts_with(b"END:VCARD") {
                let text = agent.take().map(|lines| agent_text(&lines)).unwrap_or_default();
                if let Some(lines) = current.as_mut() {
                    lines.push(format!("AGENT:{}", crate::ical::tree::escape_text(&text)).into_bytes());
                }
            }
            continue;
        }
        if upper.starts_with(b"BEGIN:VCARD") {
            let after_agent = current.as_ref().and_then(|lines| lines.last()).is_some_and(|l| {
                l.eq_ignore_ascii_case(b"AGENT:") || l.eq_ignore_ascii_case(b"AGENT;VALUE=VCARD:")
            });
            if after_agent {
                if let Some(lines) = current.as_mut() {
                    lines.pop();
                }
                agent = Some(vec![line]);
            } else {
                current = Some(Vec::new());
            }
        } else if upper.starts_with(b"END:VCARD") {
            if let Some(lines) = current.take() {
                cards.push(read_card(lines, target)?);
            }
        } else if let Some(lines) = current.as_mut() {
            lines.push(line);
        }
    }
    if current.is_some() || agent.is_some() {
        return Err("the last BEGIN:VCARD is never closed".into());
    }
    Ok(cards)
}

/// The text of an embedded AGENT card, one line per property, decoded.
fn agent_text(lines: &[Vec<u8>]) -> String {
    lines.iter().map(|l| text::decode_guess(l)).collect::<Vec<_>>().join("\n")
}

fn read_card(lines: Vec<Vec<u8>>, target: Option<Version>) -> Result<ReadCard, String> {
    let mut notes = Vec::new();
    let mut props = Vec::new();
    let mut version = Version::V30;
    for raw in lines {
        let split = raw.iter().position(|&b| b == b':');
        let Some(split) = split else {
            notes.push(format!("skipped a line without ':' ({} bytes)", raw.len()));
            continue;
        };
        // The head (name and parameters) is ASCII in every real file; the value may be anything.
        let head = text::decode_guess(&raw[..split]);
        let value_bytes = &raw[split + 1..];
        let probe = VProp::parse(&format!("{head}:")).map_err(|e| e.0)?;
        if probe.name == "VERSION" {
            version = Version::parse(&text::decode_guess(value_bytes)).unwrap_or(Version::V30);
            continue;
        }
        let charset = probe.param("CHARSET").map(str::to_owned);
        let mut params = Vec::new();
        let mut types: Vec<String> = Vec::new();
        let mut qp = false;
        let mut base64 = false;
        for p in probe.params {
            let name = p.name.clone();
            if p.values.is_empty() {
                // vCard 2.1: `TEL;HOME;VOICE:` and `;QUOTED-PRINTABLE:`.
                if ENCODINGS.contains(&name.as_str()) {
                    qp |= name == "QUOTED-PRINTABLE";
                    base64 |= name == "BASE64" || name == "B";
                } else if !NAMED_PARAMS.contains(&name.as_str()) {
                    types.push(name.to_ascii_lowercase());
                }
                continue;
            }
            match name.as_str() {
                "ENCODING" => {
                    let v = p.values.join(",").to_ascii_uppercase();
                    qp |= v == "QUOTED-PRINTABLE";
                    base64 |= v == "BASE64" || v == "B";
                }
                "CHARSET" => {}
                "TYPE" => {
                    types.extend(p.values.iter().flat_map(|v| v.split(',')).map(|t| t.trim().to_owned()))
                }
                _ => params.push(p),
            }
        }
        let value = if qp {
            let decoded = text::decode_quoted_printable(&text::decode_latin1(value_bytes));
            decode_value(&decoded, charset.as_deref(), &probe.name, &mut notes)
        } else {
            decode_value(value_bytes, charset.as_deref(), &probe.name, &mut notes)
        };
        if !types.is_empty() {
            params.insert(0, Param { name: "TYPE".into(), values: vec![types.join(",")] });
        }
        let value = if qp && version == Version::V21 { escape_2_1(&probe.name, &value) } else { value };
        if base64 {
            params.insert(0, Param { name: "ENCODING".into(), values: vec!["b".into()] });
        }
        props.push(VProp::new(probe.group.as_deref(), &probe.name, params, value));
    }
    let stored_version = match (version, target) {
        (Version::V21, _) | (_, Some(Version::V30)) => Version::V30,
        (v, None) => v,
        (_, Some(t)) => t,
    };
    if version == Version::V21 {
        notes.push("converted from vCard 2.1 to 3.0".into());
    }
    props.insert(0, VProp::new(None, "VERSION", Vec::new(), Version::V30.as_str().into()));
    let mut card = Card { props };
    if card.get("FN").is_none() {
        let name = fallback_name(&card);
        notes.push(format!("added FN {name:?}, which the card lacked"));
        card.props.insert(1, VProp::new(None, "FN", Vec::new(), escape_text(&name)));
    }
    if card.uid().is_none() {
        // Stable across runs: the same card gets the same UID, so a re-import updates it.
        let digest = Sha256::digest(card.to_vcf().as_bytes());
        let uid: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        notes.push("added a UID, which the card lacked".into());
        card.props.push(VProp::new(None, "UID", Vec::new(), format!("urn:skjold:{uid}")));
    }
    if stored_version == Version::V40 {
        card = super::convert::convert(&card, Version::V40);
    }
    Ok(ReadCard { card, notes })
}

/// Text of a value in its declared (or guessed) charset.
fn decode_value(bytes: &[u8], charset: Option<&str>, property: &str, notes: &mut Vec<String>) -> String {
    match charset {
        Some(cs) => text::decode_charset(bytes, cs).unwrap_or_else(|| {
            notes.push(format!("{property}: unknown charset {cs:?}, read as Windows-1252"));
            text::decode_cp1252(bytes)
        }),
        None => {
            if std::str::from_utf8(bytes).is_err() {
                notes.push(format!("{property}: not UTF-8, read as Windows-1252"));
            }
            text::decode_guess(bytes)
        }
    }
}

/// A decoded quoted-printable value of 2.1 may hold raw newlines.
fn escape_2_1(property: &str, value: &str) -> String {
    let structured = matches!(property, "N" | "ADR" | "ORG");
    if structured {
        value.replace("\r\n", "\\n").replace('\n', "\\n")
    } else {
        value.replace('\\', "\\\\").replace("\r\n", "\\n").replace('\n', "\\n")
    }
}

/// A display name for a card without FN: N, else ORG, else an e-mail address.
fn fallback_name(card: &Card) -> String {
    if let Some(n) = card.get("N") {
        let parts: Vec<String> = n.text().split(';').map(|s| s.trim().to_owned()).collect();
        let (family, given) =
            (parts.first().cloned().unwrap_or_default(), parts.get(1).cloned().unwrap_or_default());
        let name = format!("{given} {family}").trim().to_owned();
        if !name.is_empty() {
            return name;
        }
    }
    for prop in ["ORG", "EMAIL", "TEL"] {
        if let Some(p) = card.get(prop) {
            let t = p.text().split(';').next().unwrap_or("").trim().to_owned();
            if !t.is_empty() {
                return t;
            }
        }
    }
    "Unnamed".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_embedded_agent_card_stays_inside_its_card() {
        let file = b"BEGIN:VCARD\r\nVERSION:2.1\r\nN:Boss;Big\r\nAGENT:\r\nBEGIN:VCARD\r\nVERSION:2.1\r\n\
N:Assistant;Fake\r\nTEL;WORK:+1 555 0142\r\nEND:VCARD\r\nTEL:+1 555 0100\r\nEND:VCARD\r\n";
        let cards = read_cards(file, Some(Version::V30)).unwrap();
        assert_eq!(cards.len(), 1, "the agent is not a card of its own");
        let card = &cards[0].card;
        assert_eq!(card.get("N").map(|p| p.value.as_str()), Some("Boss;Big"));
        assert_eq!(
            card.get("TEL").map(|p| p.value.as_str()),
            Some("+1 555 0100"),
            "lines after the agent stay"
        );
        let agent = card.get("AGENT").expect("AGENT").text();
        assert!(agent.contains("N:Assistant;Fake") && agent.contains("TEL;WORK:+1 555 0142"), "{agent}");
        let v4 = crate::vcard::convert::convert(card, Version::V40).to_vcf();
        assert!(v4.contains("RELATED;TYPE=agent;VALUE=text:BEGIN:VCARD\\n"), "{v4}");
        assert!(read_cards(b"BEGIN:VCARD\r\nAGENT:\r\nBEGIN:VCARD\r\nN:x\r\n", None).is_err());
    }

    #[test]
    fn vcard_21_with_quoted_printable_charset_and_bare_types() {
        let file = b"BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=ISO-8859-1:M\xfcller;J\xf6rg\r\nTEL;HOME;VOICE:+49 30 1234\r\nNOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:Erste Zeile=0D=0A=\r\nZweite Zeile mit =C3=A9\r\nEMAIL;INTERNET;PREF:j@example.com\r\nEND:VCARD\r\n";
        let cards = read_cards(file, None).unwrap();
        assert_eq!(cards.len(), 1);
        let c = &cards[0].card;
        assert_eq!(c.version(), Some(Version::V30));
        assert_eq!(c.get("N").unwrap().text(), "Müller;Jörg");
        assert_eq!(c.get("TEL").unwrap().types(), vec!["home", "voice"]);
        assert_eq!(c.get("NOTE").unwrap().text(), "Erste Zeile\nZweite Zeile mit é");
        assert_eq!(c.get("EMAIL").unwrap().types(), vec!["internet", "pref"]);
        assert_eq!(c.get("FN").unwrap().text(), "Jörg Müller");
        assert!(c.uid().unwrap().starts_with("urn:skjold:"));
        let again = read_cards(file, None).unwrap();
        assert_eq!(again[0].card.uid(), c.uid(), "the added UID is stable");
        assert!(crate::vcard::inspect(c.to_vcf().as_bytes()).is_ok(), "{}", c.to_vcf());
    }

    #[test]
    fn several_versions_in_one_file() {
        let file = "BEGIN:VCARD\nVERSION:4.0\nFN:A\nUID:a\nEND:VCARD\nBEGIN:VCARD\nVERSION:3.0\nFN:B\nUID:b\nEND:VCARD\n";
        let cards = read_cards(file.as_bytes(), None).unwrap();
        assert_eq!(cards.len(), 2);
        assert_eq!(cards[1].card.get("FN").unwrap().value, "B");
    }
}
