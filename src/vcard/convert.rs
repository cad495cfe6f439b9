//! vCard 3.0 ⇄ 4.0 conversion and jCard (RFC 7095), for clients that ask
//! for another version than the one stored (RFC 6352 §5.1.1, §10.4).
//!
//! The rule is to change only what differs between the versions, and to
//! keep everything else (X- properties, groups, labels, unknown parameters)
//! as written, so that 3.0 → 4.0 → 3.0 returns every value:
//!
//! * inline binary: `PHOTO;ENCODING=b;TYPE=JPEG:…` ⇄ `PHOTO:data:image/jpeg;base64,…`
//!   (also LOGO, SOUND, KEY);
//! * preference: `TYPE=pref` ⇄ `PREF=1`;
//! * birthdays and anniversaries: `1970-05-17` ⇄ `19700517`, and a year-less
//!   date in Apple's 3.0 form `BDAY;X-APPLE-OMIT-YEAR=1604:1604-04-15` ⇄ `--0415`;
//! * telephone URIs: `TEL;VALUE=uri:tel:+1-555` → `TEL:+1-555` in 3.0;
//! * groups: vCard 4 `KIND:group` + `MEMBER` ⇄ Apple's
//!   `X-ADDRESSBOOKSERVER-KIND:group` + `X-ADDRESSBOOKSERVER-MEMBER`;
//! * `ANNIVERSARY` (4.0) ⇄ `X-ANNIVERSARY` (3.0); `AGENT` (3.0) ⇄
//!   `RELATED;TYPE=agent` (4.0); `CHARSET` parameters are dropped.

use base64::Engine;

use super::{Card, VProp, Version};
use crate::ical::tree::{Param, unescape_text};

/// The year Apple writes for a birthday without one.
const APPLE_NO_YEAR: &str = "1604";

/// Properties whose value may be inline binary data.
const BINARY: &[&str] = &["PHOTO", "LOGO", "SOUND", "KEY"];

fn mime_for(kind: &str, name: &str) -> String {
    let t = kind.trim().to_ascii_lowercase();
    if t.contains('/') {
        return t;
    }
    let major = match name {
        "SOUND" => "audio",
        "KEY" => "application",
        _ => "image",
    };
    match (major, t.as_str()) {
        ("application", "pgp") => "application/pgp-keys".into(),
        ("application", "x509") => "application/x-x509-ca-cert".into(),
        ("image", "jpg") => "image/jpeg".into(),
        (_, "") => format!("{major}/octet-stream"),
        (m, t) => format!("{m}/{t}"),
    }
}

fn type_for(mime: &str) -> String {
    match mime {
        "application/pgp-keys" => "PGP".into(),
        "application/x-x509-ca-cert" => "X509".into(),
        m => m.rsplit('/').next().unwrap_or(m).to_ascii_uppercase(),
    }
}

fn params_without(p: &VProp, names: &[&str]) -> Vec<Param> {
    p.params.iter().filter(|x| !names.contains(&x.name.as_str())).cloned().collect()
}

fn set_version(props: &mut [VProp], version: Version) {
    for p in props.iter_mut().filter(|p| p.name == "VERSION") {
        *p = VProp::new(p.group.as_deref(), "VERSION", Vec::new(), version.as_str().into());
    }
}

/// TYPE values without `pref`, and whether `pref` was among them.
fn split_pref(p: &VProp) -> (Vec<String>, bool) {
    let mut pref = false;
    let mut kept = Vec::new();
    for param in p.params.iter().filter(|x| x.name == "TYPE") {
        for v in param.values.iter().flat_map(|v| v.split(',')) {
            if v.trim().eq_ignore_ascii_case("pref") {
                pref = true;
            } else if !v.trim().is_empty() {
                kept.push(v.trim().to_owned());
            }
        }
    }
    (kept, pref)
}

/// Rebuilds parameters with TYPE values `types` (other params kept in order).
fn with_types(p: &VProp, types: Vec<String>, extra: Option<Param>, drop: &[&str]) -> Vec<Param> {
    let mut out = Vec::new();
    let mut placed = false;
    for param in &p.params {
        if param.name == "TYPE" {
            if !placed && !types.is_empty() {
                out.push(Param { name: "TYPE".into(), values: types.clone() });
            }
            placed = true;
        } else if !drop.contains(&param.name.as_str()) {
            out.push(param.clone());
        }
    }
    if !placed && !types.is_empty() {
        out.push(Param { name: "TYPE".into(), values: types });
    }
    out.extend(extra);
    out
}

/// A 3.0 date (`1970-05-17`, `19700517`, Apple year-less) as 4.0 (`19700517`, `--0517`).
fn date_to_v4(p: &VProp) -> Option<(String, bool)> {
    let v = p.value.trim();
    let omit_year = p.param("X-APPLE-OMIT-YEAR").is_some();
    let digits: String = v.split('T').next()?.chars().filter(|c| c.is_ascii_digit()).collect();
    if let Some(rest) = v.strip_prefix("--") {
        let md: String = rest.chars().filter(|c| c.is_ascii_digit()).collect();
        return (md.len() == 4).then(|| (format!("--{md}"), true));
    }
    if digits.len() != 8 {
        return None;
    }
    let time = v.split_once('T').map(|(_, t)| format!("T{}", t.replace(':', ""))).unwrap_or_default();
    if omit_year && digits.starts_with(p.param("X-APPLE-OMIT-YEAR").unwrap_or(APPLE_NO_YEAR)) {
        return Some((format!("--{}{time}", &digits[4..]), true));
    }
    Some((format!("{digits}{time}"), false))
}

/// A 4.0 date as 3.0, with the Apple parameter when the year is missing.
fn date_to_v3(p: &VProp) -> Option<(String, Option<Param>)> {
    let v = p.value.trim();
    if let Some(rest) = v.strip_prefix("--") {
        let md: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if md.len() != 4 {
            return None;
        }
        let param = Param { name: "X-APPLE-OMIT-YEAR".into(), values: vec![APPLE_NO_YEAR.into()] };
        return Some((format!("{APPLE_NO_YEAR}-{}-{}", &md[..2], &md[2..]), Some(param)));
    }
    let (date, time) = match v.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (v, None),
    };
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut out = format!("{}-{}-{}", &date[..4], &date[4..6], &date[6..8]);
    if let Some(t) = time {
        out.push('T');
        out.push_str(t);
    }
    Some((out, None))
}

/// Converts a card to `target` (3.0 or 4.0). A card already in that version
/// is returned unchanged.
pub fn convert(card: &Card, target: Version) -> Card {
    let source = card.version().unwrap_or(Version::V30);
    if source == target {
        return card.clone();
    }
    let mut props: Vec<VProp> =
        card.props.iter().map(|p| plain_type_list(&convert_prop(p, target))).collect();
    set_version(&mut props, target);
    // RFC 2426 §3.1.2: N is required in 3.0; 4.0 made it optional, so an
    // empty one carries nothing there and is left out.
    if target == Version::V40 {
        props.retain(|p| p.name != "N" || p.value.chars().any(|c| c != ';'));
    }
    if target == Version::V30 && !props.iter().any(|p| p.name == "N") {
        let at = props.iter().position(|p| p.name == "FN").map(|i| i + 1).unwrap_or(props.len().min(1));
        props.insert(at, VProp::new(None, "N", Vec::new(), ";;;;".into()));
    }
    Card { props }
}

fn convert_prop(p: &VProp, target: Version) -> VProp {
    let group = p.group.as_deref();
    let to_v4 = target == Version::V40;
    match p.name.as_str() {
        name if BINARY.contains(&name) => binary(p, to_v4),
        "BDAY" | "ANNIVERSARY" | "X-ANNIVERSARY" | "DEATHDATE" => {
            let name = match (p.name.as_str(), to_v4) {
                ("X-ANNIVERSARY", true) => "ANNIVERSARY",
                ("ANNIVERSARY", false) => "X-ANNIVERSARY",
                (n, _) => n,
            };
            if to_v4 {
                match date_to_v4(p) {
                    Some((value, _)) => VProp::new(
                        group,
                        name,
                        params_without(p, &["X-APPLE-OMIT-YEAR", "VALUE", "CHARSET"]),
                        value,
                    ),
                    None => VProp::new(group, name, params_without(p, &["CHARSET"]), p.value.clone()),
                }
            } else {
                match date_to_v3(p) {
                    Some((value, extra)) => {
                        let mut params = params_without(p, &["VALUE"]);
                        params.extend(extra);
                        VProp::new(group, name, params, value)
                    }
                    None => VProp::new(group, name, p.params.clone(), p.value.clone()),
                }
            }
        }
        "KIND" if !to_v4 => {
            VProp::new(group, "X-ADDRESSBOOKSERVER-KIND", Vec::new(), p.value.to_ascii_lowercase())
        }
        "X-ADDRESSBOOKSERVER-KIND" if to_v4 => {
            VProp::new(group, "KIND", Vec::new(), p.value.to_ascii_lowercase())
        }
        "MEMBER" if !to_v4 => VProp::new(
            group,
            "X-ADDRESSBOOKSERVER-MEMBER",
            params_without(p, &["PREF", "PID", "MEDIATYPE"]),
            p.value.clone(),
        ),
        "X-ADDRESSBOOKSERVER-MEMBER" if to_v4 => VProp::new(group, "MEMBER", Vec::new(), p.value.clone()),
        // AGENT is gone from 4.0; RELATED;TYPE=agent takes its place (RFC 6350 §6.6.6, Appendix A.2).
        "AGENT" if to_v4 => {
            let uri = p.param("VALUE").is_some_and(|v| v.eq_ignore_ascii_case("uri"));
            let mut params = vec![Param { name: "TYPE".into(), values: vec!["agent".into()] }];
            if !uri {
                params.push(Param { name: "VALUE".into(), values: vec!["text".into()] });
            }
            VProp::new(group, "RELATED", params, p.value.clone())
        }
        "RELATED" if !to_v4 && p.types().iter().any(|t| t.eq_ignore_ascii_case("agent")) => {
            let text = p.param("VALUE").is_some_and(|v| v.eq_ignore_ascii_case("text"));
            let params = if text {
                Vec::new()
            } else {
                vec![Param { name: "VALUE".into(), values: vec!["uri".into()] }]
            };
            VProp::new(group, "AGENT", params, p.value.clone())
        }
        "TEL" if !to_v4 && p.param("VALUE").is_some_and(|v| v.eq_ignore_ascii_case("uri")) => {
            let value = p.value.strip_prefix("tel:").unwrap_or(&p.value).to_owned();
            preference(&VProp::new(group, "TEL", params_without(p, &["VALUE"]), value), false)
        }
        _ => preference(p, to_v4),
    }
}

/// `TYPE="a,b"` (one quoted value, common in 4.0) as the list `TYPE=a,b`,
/// which both versions read as several types (RFC 2426 §4).
fn plain_type_list(p: &VProp) -> VProp {
    let quoted_list = p.params.iter().any(|x| x.name == "TYPE" && x.values.iter().any(|v| v.contains(',')));
    if !quoted_list {
        return p.clone();
    }
    let types: Vec<String> = p
        .params
        .iter()
        .filter(|x| x.name == "TYPE")
        .flat_map(|x| x.values.iter().flat_map(|v| v.split(',')).map(|t| t.trim().to_owned()))
        .filter(|t| !t.is_empty())
        .collect();
    VProp::new(p.group.as_deref(), &p.name, with_types(p, types, None, &[]), p.value.clone())
}

/// `TYPE=pref` ⇄ `PREF=1`, and CHARSET dropped.
fn preference(p: &VProp, to_v4: bool) -> VProp {
    let group = p.group.as_deref();
    if to_v4 {
        let (types, pref) = split_pref(p);
        let has_charset = p.params.iter().any(|x| x.name == "CHARSET");
        if !pref && !has_charset {
            return p.clone();
        }
        let extra = pref.then(|| Param { name: "PREF".into(), values: vec!["1".into()] });
        VProp::new(group, &p.name, with_types(p, types, extra, &["CHARSET"]), p.value.clone())
    } else {
        if p.param("PREF").is_none() {
            return p.clone();
        }
        let (mut types, _) = split_pref(p);
        types.push("pref".into());
        VProp::new(group, &p.name, with_types(p, types, None, &["PREF"]), p.value.clone())
    }
}

/// Inline binary data: 3.0 `ENCODING=b;TYPE=JPEG` ⇄ 4.0 `data:` URIs.
fn binary(p: &VProp, to_v4: bool) -> VProp {
    let group = p.group.as_deref();
    if to_v4 {
        let encoded = p
            .param("ENCODING")
            .is_some_and(|e| e.eq_ignore_ascii_case("b") || e.eq_ignore_ascii_case("base64"));
        if encoded {
            let (types, _) = split_pref(p);
            let mime = mime_for(types.first().map(String::as_str).unwrap_or(""), &p.name);
            let data: String = p.value.chars().filter(|c| !c.is_whitespace()).collect();
            let params = with_types(p, Vec::new(), None, &["ENCODING", "VALUE", "CHARSET"]);
            return VProp::new(group, &p.name, params, format!("data:{mime};base64,{data}"));
        }
        // A URI: 3.0 says VALUE=uri, 4.0 takes URIs by default.
        return VProp::new(group, &p.name, params_without(p, &["VALUE"]), p.value.clone());
    }
    // RFC 6350 §3.4 has the comma of a data URI escaped as "\,".
    let uri = p.value.replace("\\,", ",");
    if let Some(rest) = uri.strip_prefix("data:")
        && let Some((meta, data)) = rest.split_once(',')
    {
        let (mime, is_base64) = match meta.strip_suffix(";base64") {
            Some(m) => (m, true),
            None => (meta, false),
        };
        let bytes_b64 = if is_base64 {
            data.to_owned()
        } else {
            let decoded = percent_encoding::percent_decode_str(data).collect::<Vec<u8>>();
            base64::engine::general_purpose::STANDARD.encode(decoded)
        };
        let mut params = params_without(p, &["VALUE", "MEDIATYPE", "PREF"]);
        params.insert(0, Param { name: "ENCODING".into(), values: vec!["b".into()] });
        params.insert(1, Param { name: "TYPE".into(), values: vec![type_for(mime)] });
        return VProp::new(group, &p.name, params, bytes_b64);
    }
    let mut params = params_without(p, &["MEDIATYPE", "PREF"]);
    if !params.iter().any(|x| x.name == "VALUE") {
        params.push(Param { name: "VALUE".into(), values: vec!["uri".into()] });
    }
    VProp::new(group, &p.name, params, p.value.clone())
}

// ---------------------------------------------------------------- jCard

/// Value types of properties that are not text (RFC 6350 / RFC 7095).
fn value_type(p: &VProp) -> &'static str {
    if let Some(v) = p.param("VALUE") {
        return match v.to_ascii_lowercase().as_str() {
            "uri" => "uri",
            "date" => "date",
            "date-time" => "date-time",
            "date-and-or-time" => "date-and-or-time",
            "timestamp" => "timestamp",
            "boolean" => "boolean",
            "integer" => "integer",
            "float" => "float",
            "utc-offset" => "utc-offset",
            "language-tag" => "language-tag",
            _ => "text",
        };
    }
    match p.name.as_str() {
        "BDAY" | "ANNIVERSARY" | "DEATHDATE" => "date-and-or-time",
        "REV" => "timestamp",
        "PHOTO" | "LOGO" | "SOUND" | "URL" | "KEY" | "MEMBER" | "FBURL" | "CALADRURI" | "CALURI"
        | "SOURCE" | "IMPP" | "GEO" => "uri",
        "TZ" if p.value.starts_with(['+', '-']) => "utc-offset",
        "LANG" => "language-tag",
        _ => "text",
    }
}

/// Structured values split into components (N, ADR, GENDER) or lists.
fn json_value(p: &VProp) -> Vec<serde_json::Value> {
    use serde_json::Value;
    let split = |s: &str, sep: char| -> Vec<String> {
        let mut parts = Vec::new();
        let mut cur = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            } else if c == sep {
                parts.push(std::mem::take(&mut cur));
            } else {
                cur.push(c);
            }
        }
        parts.push(cur);
        parts
    };
    match p.name.as_str() {
        "N" | "ADR" | "ORG" | "GENDER" => {
            let comps: Vec<Value> = split(&p.value, ';')
                .into_iter()
                .map(|c| {
                    let items = split(&c, ',');
                    if items.len() > 1 {
                        Value::Array(items.iter().map(|i| Value::String(unescape_text(i))).collect())
                    } else {
                        Value::String(unescape_text(&c))
                    }
                })
                .collect();
            vec![Value::Array(comps)]
        }
        "CATEGORIES" | "NICKNAME" => {
            split(&p.value, ',').into_iter().map(|v| Value::String(unescape_text(&v))).collect()
        }
        _ => match value_type(p) {
            "text" => vec![Value::String(p.text())],
            "date-and-or-time" | "date" | "date-time" | "timestamp" => {
                vec![Value::String(jcard_date(p.value.trim()))]
            }
            _ => vec![Value::String(p.value.clone())],
        },
    }
}

/// `19850412` → `1985-04-12`, `--0412` → `--04-12`, `20090808T1430-0500` → `2009-08-08T14:30-05:00`;
/// values already in the extended form are left as they are.
fn jcard_date(v: &str) -> String {
    if v.contains(':') || (v.len() >= 10 && v.as_bytes().get(4) == Some(&b'-')) {
        return v.to_owned();
    }
    let (date, time) = match v.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (v, None),
    };
    let mut out = if let Some(md) = date.strip_prefix("--") {
        if md.len() == 4 { format!("--{}-{}", &md[..2], &md[2..]) } else { date.to_owned() }
    } else if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}-{}", &date[..4], &date[4..6], &date[6..8])
    } else {
        date.to_owned()
    };
    if let Some(t) = time {
        out.push('T');
        let (clock, zone) = match t.find(['Z', '+', '-']) {
            Some(i) => (&t[..i], &t[i..]),
            None => (t, ""),
        };
        let pairs: Vec<&str> =
            clock.as_bytes().chunks(2).map(|c| std::str::from_utf8(c).unwrap_or("")).collect();
        out.push_str(&pairs.join(":"));
        if zone.len() == 5 {
            out.push_str(&format!("{}:{}", &zone[..3], &zone[3..]));
        } else {
            out.push_str(zone);
        }
    }
    out
}

/// The card as jCard (RFC 7095), from its 4.0 form.
pub fn to_jcard(card: &Card) -> String {
    use serde_json::{Map, Value};
    let v4 = convert(card, Version::V40);
    let mut props = Vec::new();
    for p in &v4.props {
        let mut params = Map::new();
        if let Some(g) = &p.group {
            params.insert("group".into(), Value::String(g.to_ascii_lowercase()));
        }
        for param in p.params.iter().filter(|x| x.name != "VALUE") {
            let name = param.name.to_ascii_lowercase();
            let values: Vec<Value> =
                param.values.iter().flat_map(|v| v.split(',')).map(|v| Value::String(v.to_owned())).collect();
            let value = if values.len() == 1 {
                values.into_iter().next().unwrap_or(Value::Null)
            } else {
                Value::Array(values)
            };
            params.insert(name, value);
        }
        let mut entry = vec![
            Value::String(p.name.to_ascii_lowercase()),
            Value::Object(params),
            Value::String(value_type(p).into()),
        ];
        entry.extend(json_value(p));
        props.push(Value::Array(entry));
    }
    Value::Array(vec![Value::String("vcard".into()), Value::Array(props)]).to_string()
}

/// A jCard's value as vCard text: dates in the basic format, structured
/// values joined with `;`, lists with `,`, text escaped.
fn vcard_value(kind: &str, value: &serde_json::Value) -> Result<String, String> {
    use serde_json::Value;
    let scalar = |v: &Value| -> Result<String, String> {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => {
                if *b {
                    "TRUE".into()
                } else {
                    "FALSE".into()
                }
            }
            Value::Null => String::new(),
            other => return Err(format!("unexpected value {other}")),
        };
        Ok(match kind {
            "text" => crate::ical::tree::escape_text(&s),
            "date" | "date-time" | "date-and-or-time" | "timestamp" => {
                let (prefix, rest) =
                    if let Some(r) = s.strip_prefix("--") { ("--", r) } else { ("", s.as_str()) };
                format!("{prefix}{}", rest.replace(['-', ':'], ""))
            }
            _ => s,
        })
    };
    match value {
        Value::Array(components) => components
            .iter()
            .map(|c| match c {
                Value::Array(items) => {
                    items.iter().map(&scalar).collect::<Result<Vec<_>, _>>().map(|v| v.join(","))
                }
                other => scalar(other),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.join(";")),
        other => scalar(other),
    }
}

/// Reads a jCard (RFC 7095) into a vCard 4.0 card.
pub fn from_jcard(json: &str) -> Result<Card, String> {
    use serde_json::Value;
    let root: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let props = match root.as_array().map(Vec::as_slice) {
        Some([Value::String(tag), Value::Array(props)]) if tag == "vcard" => props,
        _ => return Err("a jCard is [\"vcard\", [properties…]]".into()),
    };
    let mut out: Vec<VProp> = Vec::new();
    for prop in props {
        let parts = prop.as_array().ok_or("a jCard property must be an array")?;
        let (Some(Value::String(name)), Some(Value::Object(params)), Some(Value::String(kind))) =
            (parts.first(), parts.get(1), parts.get(2))
        else {
            return Err("a jCard property is [name, {parameters}, type, value…]".into());
        };
        if parts.len() < 4 {
            return Err(format!("the jCard property {name:?} has no value"));
        }
        let name = name.to_ascii_uppercase();
        let mut group = None;
        let mut vparams = Vec::new();
        for (k, v) in params {
            if k == "group" {
                group = v.as_str().map(str::to_owned);
                continue;
            }
            let values = match v {
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_owned).unwrap_or_else(|| i.to_string()))
                    .collect(),
                Value::String(s) => vec![s.clone()],
                other => vec![other.to_string()],
            };
            vparams.push(Param { name: k.to_ascii_uppercase(), values });
        }
        let probe = VProp::new(None, &name, vparams.clone(), String::new());
        if kind != "unknown" && kind != value_type(&probe) {
            vparams.push(Param { name: "VALUE".into(), values: vec![kind.clone()] });
        }
        let values = parts[3..].iter().map(|v| vcard_value(kind, v)).collect::<Result<Vec<_>, _>>()?;
        out.push(VProp::new(group.as_deref(), &name, vparams, values.join(",")));
    }
    if !out.iter().any(|p| p.name == "VERSION") {
        out.insert(0, VProp::new(None, "VERSION", Vec::new(), "4.0".into()));
    }
    Ok(Card { props: out })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vcard::{decode, parse_cards};

    fn card(text: &str) -> Card {
        parse_cards(&decode(text.replace('\n', "\r\n").as_bytes()).unwrap(), true).unwrap().remove(0)
    }

    const APPLE: &str = "BEGIN:VCARD\nVERSION:3.0\nPRODID:-//Apple Inc.//iPhone OS 17.0//EN\nN:Appleseed;John;;;\nFN:John Appleseed\nitem1.EMAIL;type=INTERNET;type=pref:john@example.com\nitem1.X-ABLabel:_$!<Other>!$_\nTEL;type=CELL;type=VOICE;type=pref:+1 555 1234\nBDAY;X-APPLE-OMIT-YEAR=1604:1604-04-15\nPHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/2w==\nX-SOCIALPROFILE;type=twitter:https://twitter.com/john\nUID:apple-1\nEND:VCARD\n";

    #[test]
    fn apple_card_to_4_and_back_keeps_every_value() {
        let original = card(APPLE);
        let v4 = convert(&original, Version::V40);
        let text = v4.to_vcf();
        assert!(text.contains("VERSION:4.0"));
        assert!(text.contains("BDAY:--0415"), "{text}");
        assert!(text.contains("PHOTO:data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD/2w=="), "{text}");
        assert!(text.contains("item1.EMAIL;TYPE=INTERNET;PREF=1:john@example.com"), "{text}");
        assert!(text.contains("item1.X-ABLabel:_$!<Other>!$_"));
        assert!(text.contains("X-SOCIALPROFILE;type=twitter:https://twitter.com/john"));
        let back = convert(&v4, Version::V30);
        for (a, b) in original.props.iter().zip(back.props.iter()) {
            assert_eq!(a.name, b.name);
            assert_eq!(a.group, b.group);
            if a.name != "PHOTO" && a.name != "BDAY" {
                assert_eq!(a.text(), b.text(), "{} changed", a.name);
            }
            let mut ta = a.types();
            ta.sort();
            let mut tb = b.types();
            tb.sort();
            if a.name != "PHOTO" {
                assert_eq!(ta, tb, "{} types changed", a.name);
            }
        }
        assert_eq!(back.get("BDAY").unwrap().value, "1604-04-15");
        assert_eq!(back.get("BDAY").unwrap().param("X-APPLE-OMIT-YEAR"), Some("1604"));
        assert_eq!(back.get("PHOTO").unwrap().value, original.get("PHOTO").unwrap().value);
    }

    #[test]
    fn groups_change_dialect_with_the_version() {
        let v4 = card(
            "BEGIN:VCARD\nVERSION:4.0\nKIND:group\nFN:Team\nMEMBER:urn:uuid:a\nMEMBER:urn:uuid:b\nUID:g\nEND:VCARD\n",
        );
        let v3 = convert(&v4, Version::V30);
        assert_eq!(v3.get("X-ADDRESSBOOKSERVER-KIND").unwrap().value, "group");
        let members: Vec<&str> = v3.all("X-ADDRESSBOOKSERVER-MEMBER").map(|p| p.value.as_str()).collect();
        assert_eq!(members, vec!["urn:uuid:a", "urn:uuid:b"]);
        assert!(v3.get("KIND").is_none() && v3.get("MEMBER").is_none());
        let again = convert(&v3, Version::V40);
        assert_eq!(again, v4);
    }

    #[test]
    fn tel_uri_and_birthdays() {
        let v4 = card(
            "BEGIN:VCARD\nVERSION:4.0\nFN:x\nUID:u\nTEL;VALUE=uri;TYPE=\"work,voice\";PREF=1:tel:+1-555-555-5555;ext=5555\nBDAY:19850412\nEND:VCARD\n",
        );
        let v3 = convert(&v4, Version::V30);
        let tel = v3.get("TEL").unwrap();
        assert_eq!(tel.value, "+1-555-555-5555;ext=5555");
        assert_eq!(tel.types(), vec!["work", "voice", "pref"]);
        assert_eq!(v3.get("BDAY").unwrap().value, "1985-04-12");
    }

    #[test]
    fn jcard_shape() {
        let json: serde_json::Value = serde_json::from_str(&to_jcard(&card(APPLE))).unwrap();
        assert_eq!(json[0], "vcard");
        let props = json[1].as_array().unwrap();
        let n = props.iter().find(|p| p[0] == "n").unwrap();
        assert_eq!(n[3], serde_json::json!(["Appleseed", "John", "", "", ""]));
        let email = props.iter().find(|p| p[0] == "email").unwrap();
        assert_eq!(email[1]["group"], "item1");
        assert_eq!(email[1]["pref"], "1");
        let bday = props.iter().find(|p| p[0] == "bday").unwrap();
        assert_eq!(bday[3], "--04-15");
        assert_eq!(json[1][0][0], "version");
        assert_eq!(json[1][0][3], "4.0");
        // Back from jCard: the same card in 4.0.
        let back = from_jcard(&to_jcard(&card(APPLE))).unwrap();
        // Parameter order and name case may differ; the content may not.
        type Canon = Vec<(Option<String>, String, String, Vec<(String, Vec<String>)>)>;
        let canon = |c: &Card| -> Canon {
            c.props
                .iter()
                .map(|p| {
                    let mut params: Vec<(String, Vec<String>)> =
                        p.params.iter().map(|x| (x.name.clone(), x.values.clone())).collect();
                    params.sort();
                    (p.group.clone(), p.name.to_ascii_uppercase(), p.text(), params)
                })
                .collect()
        };
        assert_eq!(canon(&back), canon(&convert(&card(APPLE), Version::V40)));
        assert!(from_jcard("[\"vcalendar\", []]").is_err());
        assert!(from_jcard("not json").is_err());
    }
}
