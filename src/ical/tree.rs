//! A faithful tree of an iCalendar object: components and their content
//! lines, each kept as the client wrote it (unfolded).
//!
//! Filters and partial retrieval work on this tree. Output re-uses the
//! original lines, so a property that is returned is returned exactly as it
//! was stored (re-serializing through a parsed model changes values: quoted
//! parameters, URIs, X- properties; see DEPENDENCIES.md).

use super::IngestError;

/// One parameter: its upper-cased name and its values, unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub values: Vec<String>,
}

/// One content line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// Upper-cased name.
    pub name: String,
    pub params: Vec<Param>,
    /// The value as written (escapes not undone).
    pub value: String,
    /// The whole unfolded line as written.
    pub raw: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Component {
    /// Upper-cased name (VCALENDAR, VEVENT, …).
    pub name: String,
    pub properties: Vec<Property>,
    pub components: Vec<Component>,
}

impl Property {
    /// The first value of a parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|p| p.name == name).and_then(|p| p.values.first()).map(String::as_str)
    }

    pub fn has_param(&self, name: &str) -> bool {
        self.params.iter().any(|p| p.name == name)
    }

    /// The value as text: backslash escapes undone (RFC 5545 §3.3.11).
    pub fn text(&self) -> String {
        unescape_text(&self.value)
    }
}

impl Component {
    pub fn new(name: &str) -> Self {
        Component { name: name.to_owned(), ..Default::default() }
    }

    pub fn prop(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }

    pub fn props<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Property> + 'a {
        self.properties.iter().filter(move |p| p.name == name)
    }

    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Component> + 'a {
        self.components.iter().filter(move |c| c.name == name)
    }

    pub fn uid(&self) -> Option<&str> {
        self.prop("UID").map(|p| p.value.trim())
    }

    /// Writes the component with CRLF line ends, folding lines at 75 octets.
    pub fn write(&self, out: &mut String) {
        fold_into(out, &format!("BEGIN:{}", self.name));
        for p in &self.properties {
            fold_into(out, &p.raw);
        }
        for c in &self.components {
            c.write(out);
        }
        fold_into(out, &format!("END:{}", self.name));
    }

    pub fn to_ics(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }
}

/// Appends `line` folded at 75 octets (RFC 5545 §3.1), never inside a UTF-8
/// sequence, with CRLF.
pub fn fold_into(out: &mut String, line: &str) {
    let mut width = 0usize;
    for ch in line.chars() {
        let len = ch.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(ch);
        width += len;
    }
    out.push_str("\r\n");
}

/// Undoes text escapes: `\n`, `\N`, `\\`, `\;`, `\,`.
pub fn unescape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') | Some('N') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Escapes text for a value.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Parses one unfolded content line (RFC 5545 §3.1).
pub fn parse_line(line: &str) -> Result<Property, IngestError> {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len()
        && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'-' || bytes[i] == b'_' || bytes[i] == b'.')
    {
        i += 1;
    }
    if i == 0 {
        return Err(IngestError(format!("a content line has no name: {:?}", truncate(line))));
    }
    let name = line[..i].to_ascii_uppercase();
    let mut params = Vec::new();
    while i < bytes.len() && bytes[i] == b';' {
        i += 1;
        let start = i;
        while i < bytes.len() && !matches!(bytes[i], b'=' | b';' | b':') {
            i += 1;
        }
        let pname = line[start..i].trim().to_ascii_uppercase();
        let mut values = Vec::new();
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            loop {
                if i < bytes.len() && bytes[i] == b'"' {
                    let close = line[i + 1..].find('"').ok_or_else(|| {
                        IngestError(format!("unterminated quoted parameter in {:?}", truncate(line)))
                    })?;
                    values.push(line[i + 1..i + 1 + close].to_owned());
                    i += close + 2;
                } else {
                    let start = i;
                    while i < bytes.len() && !matches!(bytes[i], b',' | b';' | b':') {
                        i += 1;
                    }
                    values.push(line[start..i].to_owned());
                }
                if i < bytes.len() && bytes[i] == b',' {
                    i += 1;
                    continue;
                }
                break;
            }
        }
        params.push(Param { name: pname, values });
    }
    if i >= bytes.len() || bytes[i] != b':' {
        return Err(IngestError(format!("a content line has no ':' after its name: {:?}", truncate(line))));
    }
    Ok(Property { name, params, value: line[i + 1..].to_owned(), raw: line.to_owned() })
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(60) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Builds the tree of unfolded, structurally checked text (see `decode`).
pub fn parse_tree(text: &str) -> Result<Component, IngestError> {
    parse_forest(text, super::MAX_NESTING)?
        .into_iter()
        .next()
        .ok_or_else(|| IngestError("no component found".into()))
}

/// Builds every top-level component of unfolded text (an export may hold
/// several VCALENDARs). Lines outside any component are skipped; a
/// mismatched or missing END is an error naming its line.
pub fn parse_forest(text: &str, max_depth: usize) -> Result<Vec<Component>, IngestError> {
    let mut stack: Vec<Component> = Vec::new();
    let mut roots = Vec::new();
    for (number, line) in super::content_lines(text).enumerate() {
        let at = |m: String| IngestError(format!("line {}: {m}", number + 1));
        let prop = parse_line(line).map_err(|e| at(e.0))?;
        match prop.name.as_str() {
            "BEGIN" => {
                if stack.len() >= max_depth {
                    return Err(at(format!("components nested deeper than {max_depth}")));
                }
                stack.push(Component::new(&prop.value.trim().to_ascii_uppercase()));
            }
            "END" => {
                let done = stack.pop().ok_or_else(|| at("END without BEGIN".into()))?;
                let name = prop.value.trim().to_ascii_uppercase();
                if name != done.name {
                    return Err(at(format!("END:{name} closes BEGIN:{}", done.name)));
                }
                match stack.last_mut() {
                    Some(parent) => parent.components.push(done),
                    None => roots.push(done),
                }
            }
            _ => {
                if let Some(c) = stack.last_mut() {
                    c.properties.push(prop);
                }
            }
        }
    }
    if let Some(open) = stack.last() {
        return Err(IngestError(format!("BEGIN:{} is never closed", open.name)));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_with_quoted_parameters_and_colons() {
        let p = parse_line(r#"ATTENDEE;CN="Doe, John";ROLE=REQ-PARTICIPANT;X-P=:mailto:john@example.com"#)
            .unwrap();
        assert_eq!(p.name, "ATTENDEE");
        assert_eq!(p.param("CN"), Some("Doe, John"));
        assert_eq!(p.param("X-P"), Some(""));
        assert_eq!(p.value, "mailto:john@example.com");
        let q = parse_line(
            r#"X-APPLE-STRUCTURED-LOCATION;VALUE=URI;X-TITLE="Office: 3rd floor":geo:52.52,13.41"#,
        )
        .unwrap();
        assert_eq!(q.param("X-TITLE"), Some("Office: 3rd floor"));
        assert_eq!(q.value, "geo:52.52,13.41");
        let r = parse_line("CATEGORIES;LANGUAGE=en:a,b\\,c").unwrap();
        assert_eq!(r.text(), "a,b,c");
        let s = parse_line("RESOURCES;X-LIST=a,\"b,c\",d:x").unwrap();
        assert_eq!(s.params[0].values, vec!["a", "b,c", "d"]);
        for bad in [":novalue", "NAME", "NAME;P=\"open:x", "NAME;P=v"] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_escapes_round_trip() {
        let text = "Agenda:\n1. Budget, Q3; done \\ ok";
        assert_eq!(unescape_text(&escape_text(text)), text);
        assert_eq!(escape_text(text), "Agenda:\\n1. Budget\\, Q3\\; done \\\\ ok");
    }

    #[test]
    fn folding_never_splits_characters_and_unfolds_back() {
        let line = format!("SUMMARY:{}", "ü€😀x".repeat(30));
        let mut out = String::new();
        fold_into(&mut out, &line);
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{} octets", l.len());
        }
        assert_eq!(String::from_utf8(super::super::unfold(out.as_bytes())).unwrap(), format!("{line}\r\n"));
    }

    #[test]
    fn tree_keeps_order_and_nesting() {
        let text = "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:1\nBEGIN:VALARM\nACTION:DISPLAY\nEND:VALARM\nEND:VEVENT\nEND:VCALENDAR\n";
        let root = parse_tree(text).unwrap();
        assert_eq!(root.name, "VCALENDAR");
        let ev = root.children("VEVENT").next().unwrap();
        assert_eq!(ev.uid(), Some("1"));
        assert_eq!(ev.children("VALARM").count(), 1);
        assert_eq!(root.to_ics().replace("\r\n", "\n"), text);
    }
}
