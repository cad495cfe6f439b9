//! XML for DAV request and response bodies.
//!
//! Requests are read with quick-xml's namespace-aware `NsReader` into a small
//! tree of `{namespace, local name}` elements. Serde is not used: it ignores
//! namespaces (DEPENDENCIES.md). The reader refuses DOCTYPE declarations and
//! every entity but the five predefined ones and character references, so
//! XXE and entity expansion are impossible; depth and element count are capped.
//!
//! Responses are written by [`XmlWriter`] with fixed prefixes for the
//! namespaces Skjold speaks, and a default-namespace declaration for others.

use std::fmt::Write as _;

use quick_xml::NsReader;
use quick_xml::XmlVersion;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

pub const DAV: &str = "DAV:";
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
pub const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
pub const CALENDARSERVER: &str = "http://calendarserver.org/ns/";
pub const APPLE_ICAL: &str = "http://apple.com/ns/ical/";
/// Skjold's own namespace, for human-readable messages in error bodies.
pub const SKJOLD: &str = "urn:x-skjold";
/// The namespace of `xml:lang` and friends.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Deepest element nesting accepted in a request body.
pub const MAX_DEPTH: usize = 64;
/// Most elements accepted in one request body.
pub const MAX_ELEMENTS: usize = 50_000;

/// Prefixes used in every response; declared once on the root element.
const PREFIXES: &[(&str, &str)] =
    &[("D", DAV), ("C", CALDAV), ("CR", CARDDAV), ("CS", CALENDARSERVER), ("A", APPLE_ICAL)];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub ns: String,
    pub local: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
}

/// An element of a request body, with resolved namespaces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub ns: String,
    pub local: String,
    pub attributes: Vec<Attribute>,
    pub children: Vec<Node>,
}

impl Element {
    pub fn new(ns: &str, local: &str) -> Self {
        Element { ns: ns.to_owned(), local: local.to_owned(), ..Default::default() }
    }

    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }

    /// Child elements, skipping text.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(ns, local))
    }

    /// The concatenated text directly inside this element.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                out.push_str(t);
            }
        }
        out
    }

    /// The `xml:lang` attribute on this element itself.
    pub fn lang(&self) -> Option<&str> {
        self.attributes.iter().find(|a| a.ns == XML_NS && a.local == "lang").map(|a| a.value.as_str())
    }

    pub fn attribute(&self, local: &str) -> Option<&str> {
        self.attributes.iter().find(|a| a.ns.is_empty() && a.local == local).map(|a| a.value.as_str())
    }

    /// Serializes this element so that it stands alone: every namespace it
    /// uses is declared inside it. Dead properties are stored this way.
    pub fn to_standalone_xml(&self) -> String {
        let mut out = String::new();
        write_standalone(&mut out, self, None);
        out
    }
}

fn write_standalone(out: &mut String, e: &Element, parent_ns: Option<&str>) {
    out.push('<');
    out.push_str(&e.local);
    if parent_ns != Some(e.ns.as_str()) {
        out.push_str(" xmlns=\"");
        escape_into(out, &e.ns, true);
        out.push('"');
    }
    let mut declared = 0usize;
    for a in &e.attributes {
        out.push(' ');
        if a.ns == XML_NS {
            out.push_str("xml:");
        } else if !a.ns.is_empty() {
            let _ = write!(out, "xmlns:a{declared}=\"");
            escape_into(out, &a.ns, true);
            let _ = write!(out, "\" a{declared}:");
            declared += 1;
        }
        out.push_str(&a.local);
        out.push_str("=\"");
        escape_into(out, &a.value, true);
        out.push('"');
    }
    if e.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for child in &e.children {
        match child {
            Node::Element(c) => write_standalone(out, c, Some(&e.ns)),
            Node::Text(t) => escape_into(out, t, false),
        }
    }
    out.push_str("</");
    out.push_str(&e.local);
    out.push('>');
}

/// Escapes text for element content or (with `attribute`) a quoted attribute value.
pub fn escape_into(out: &mut String, text: &str, attribute: bool) {
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\t' | '\n' if attribute => {
                let _ = write!(out, "&#{};", ch as u32);
            }
            // XML 1.0 cannot carry CR literally (it is normalized away) nor most controls.
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

pub fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    escape_into(&mut s, text, false);
    s
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    #[error("the body is not UTF-8")]
    NotUtf8,
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("document type declarations are not allowed")]
    Doctype,
    #[error("entity &{0}; is not allowed")]
    Entity(String),
    #[error("undeclared namespace prefix {0:?}")]
    UnknownPrefix(String),
    #[error("elements nested deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("more than {MAX_ELEMENTS} elements")]
    TooManyElements,
    #[error("no root element")]
    Empty,
    #[error("expected <{0}> as the root element")]
    UnexpectedRoot(String),
}

/// Parses a request body into its root element.
pub fn parse(body: &[u8]) -> Result<Element, XmlError> {
    let text = std::str::from_utf8(body).map_err(|_| XmlError::NotUtf8)?;
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;

    loop {
        let (ns, event) = reader.read_resolved_event().map_err(|e| XmlError::Malformed(e.to_string()))?;
        let ns = resolved_namespace(ns)?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XmlError::TooManyElements);
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                if root.is_some() {
                    return Err(XmlError::Malformed("content after the root element".into()));
                }
                let mut element = Element {
                    ns,
                    local: start.local_name().as_ref().to_owned(),
                    attributes: Vec::new(),
                    children: Vec::new(),
                };
                for attr in start.attributes() {
                    let attr = attr.map_err(|e| XmlError::Malformed(e.to_string()))?;
                    let key = attr.key;
                    if key.as_namespace_binding().is_some() {
                        continue;
                    }
                    let (attr_ns, local) = reader.resolver().resolve_attribute(key);
                    let attr_ns = match attr_ns {
                        ResolveResult::Unbound => String::new(),
                        ResolveResult::Bound(n) => n.as_ref().to_owned(),
                        ResolveResult::Unknown(p) if p == "xml" => XML_NS.to_owned(),
                        ResolveResult::Unknown(p) => return Err(XmlError::UnknownPrefix(p)),
                    };
                    let value = attr
                        .normalized_value(XmlVersion::Implicit1_0)
                        .map_err(|e| XmlError::Malformed(e.to_string()))?;
                    element.attributes.push(Attribute {
                        ns: attr_ns,
                        local: local.as_ref().to_owned(),
                        value: value.into_owned(),
                    });
                }
                if matches!(event, Event::Start(_)) {
                    stack.push(element);
                } else {
                    close(&mut stack, &mut root, element);
                }
            }
            Event::End(_) => {
                let element = stack.pop().ok_or_else(|| XmlError::Malformed("unbalanced end tag".into()))?;
                close(&mut stack, &mut root, element);
            }
            Event::Text(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::CData(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::GeneralRef(r) => {
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .map_err(|e| XmlError::Malformed(e.to_string()))?
                        .map(String::from)
                        .ok_or_else(|| XmlError::Entity(r.xml10_content().into_owned()))?
                } else {
                    let name = r.xml10_content();
                    match name.as_ref() {
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "amp" => "&".into(),
                        "apos" => "'".into(),
                        "quot" => "\"".into(),
                        other => return Err(XmlError::Entity(other.to_owned())),
                    }
                };
                push_text(&mut stack, &resolved)?;
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed("unclosed element".into()));
    }
    root.ok_or(XmlError::Empty)
}

fn resolved_namespace(ns: ResolveResult<'_>) -> Result<String, XmlError> {
    match ns {
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Bound(n) => Ok(n.as_ref().to_owned()),
        ResolveResult::Unknown(p) => Err(XmlError::UnknownPrefix(p)),
    }
}

fn close(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(element)),
        None => *root = Some(element),
    }
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(parent) => {
            if let Some(Node::Text(prev)) = parent.children.last_mut() {
                prev.push_str(text);
            } else {
                parent.children.push(Node::Text(text.to_owned()));
            }
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(XmlError::Malformed("text outside the root element".into())),
    }
}

/// Writes response XML into a string buffer.
#[derive(Debug, Default)]
pub struct XmlWriter {
    pub buf: String,
}

fn prefix_of(ns: &str) -> Option<&'static str> {
    PREFIXES.iter().find(|(_, n)| *n == ns).map(|(p, _)| *p)
}

impl XmlWriter {
    pub fn new() -> Self {
        XmlWriter { buf: String::with_capacity(4096) }
    }

    /// Starts a document whose root element declares all of Skjold's prefixes.
    pub fn document(root_ns: &str, root: &str) -> Self {
        let mut w = XmlWriter::new();
        w.buf.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        w.name_start(root_ns, root);
        for (prefix, ns) in PREFIXES {
            let _ = write!(w.buf, " xmlns:{prefix}=\"{ns}\"");
        }
        w.buf.push('>');
        w
    }

    fn name_start(&mut self, ns: &str, local: &str) {
        self.buf.push('<');
        match prefix_of(ns) {
            Some(p) => {
                self.buf.push_str(p);
                self.buf.push(':');
                self.buf.push_str(local);
            }
            None => {
                self.buf.push_str(local);
                self.buf.push_str(" xmlns=\"");
                escape_into(&mut self.buf, ns, true);
                self.buf.push('"');
            }
        }
    }

    pub fn open(&mut self, ns: &str, local: &str) {
        self.name_start(ns, local);
        self.buf.push('>');
    }

    /// Opens an element with attributes (already-escaped values are escaped again here).
    pub fn open_with(&mut self, ns: &str, local: &str, attributes: &[(&str, &str)]) {
        self.name_start(ns, local);
        for (k, v) in attributes {
            self.buf.push(' ');
            self.buf.push_str(k);
            self.buf.push_str("=\"");
            escape_into(&mut self.buf, v, true);
            self.buf.push('"');
        }
        self.buf.push('>');
    }

    pub fn close(&mut self, ns: &str, local: &str) {
        self.buf.push_str("</");
        if let Some(p) = prefix_of(ns) {
            self.buf.push_str(p);
            self.buf.push(':');
        }
        self.buf.push_str(local);
        self.buf.push('>');
    }

    pub fn empty(&mut self, ns: &str, local: &str) {
        self.name_start(ns, local);
        self.buf.push_str("/>");
    }

    pub fn empty_with(&mut self, ns: &str, local: &str, attributes: &[(&str, &str)]) {
        self.open_with(ns, local, attributes);
        self.buf.pop();
        self.buf.push_str("/>");
    }

    pub fn text(&mut self, text: &str) {
        escape_into(&mut self.buf, text, false);
    }

    /// `<ns:local>text</ns:local>`
    pub fn text_element(&mut self, ns: &str, local: &str, text: &str) {
        self.open(ns, local);
        self.text(text);
        self.close(ns, local);
    }

    /// Inserts already well-formed, self-contained XML (a stored dead property).
    pub fn raw(&mut self, xml: &str) {
        self.buf.push_str(xml);
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn take(&mut self) -> String {
        std::mem::take(&mut self.buf)
    }

    pub fn into_string(self) -> String {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_namespaces_however_they_are_spelled() {
        for body in [
            r#"<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>"#,
            r#"<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>"#,
            r#"<x:propfind xmlns:x="DAV:"><y:prop xmlns:y="DAV:"><x:getetag/></y:prop></x:propfind>"#,
            "\u{FEFF}<?xml version=\"1.0\"?>\n<propfind xmlns=\"DAV:\">\n <prop> <getetag/> </prop>\n</propfind>",
        ] {
            let root = parse(body.as_bytes()).unwrap();
            assert!(root.is(DAV, "propfind"), "{body}");
            let prop = root.child(DAV, "prop").unwrap();
            let names: Vec<_> = prop.elements().map(|e| (e.ns.as_str(), e.local.as_str())).collect();
            assert_eq!(names, vec![(DAV, "getetag")], "{body}");
        }
    }

    #[test]
    fn a_foreign_namespace_is_not_dav() {
        let root =
            parse(br#"<x:propfind xmlns:x="urn:evil"><x:prop><x:getetag/></x:prop></x:propfind>"#).unwrap();
        assert!(!root.is(DAV, "propfind"));
        assert_eq!(root.ns, "urn:evil");
    }

    #[test]
    fn hostile_and_broken_bodies_are_refused() {
        let deep = format!("{}{}", "<a xmlns=\"DAV:\">".repeat(MAX_DEPTH + 1), "</a>".repeat(MAX_DEPTH + 1));
        let many = format!("<a xmlns=\"DAV:\">{}</a>", "<b/>".repeat(MAX_ELEMENTS + 1));
        let cases: Vec<(Vec<u8>, XmlError)> = vec![
            (
                br#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x>&xxe;</x>"#.to_vec(),
                XmlError::Doctype,
            ),
            (b"<x xmlns=\"DAV:\">&lol;</x>".to_vec(), XmlError::Entity("lol".into())),
            (b"<Q:getetag/>".to_vec(), XmlError::UnknownPrefix("Q".into())),
            (deep.into_bytes(), XmlError::TooDeep),
            (many.into_bytes(), XmlError::TooManyElements),
            (b"".to_vec(), XmlError::Empty),
            (b"\xff\xfe<".to_vec(), XmlError::NotUtf8),
        ];
        for (body, expected) in cases {
            assert_eq!(parse(&body).unwrap_err(), expected);
        }
        for broken in ["<a xmlns=\"DAV:\"><b></a>", "<a/><b/>", "<a>", "text"] {
            assert!(matches!(parse(broken.as_bytes()), Err(XmlError::Malformed(_))), "{broken}");
        }
    }

    #[test]
    fn predefined_entities_and_character_references_resolve() {
        let root = parse("<a>&lt;&amp;&gt;&quot;&apos;&#65;&#x1F600;</a>".as_bytes()).unwrap();
        assert_eq!(root.text(), "<&>\"'A\u{1F600}");
    }

    #[test]
    fn standalone_serialization_keeps_namespaces_and_round_trips() {
        let body = r#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://example.com/ns/"><D:set><D:prop>
            <Z:author xml:lang="en" Z:kind="main">Jane &amp; <Y:b xmlns:Y="urn:y">bold</Y:b><c xmlns="">none</c></Z:author>
            </D:prop></D:set></D:propertyupdate>"#;
        let root = parse(body.as_bytes()).unwrap();
        let author = root
            .child(DAV, "set")
            .unwrap()
            .child(DAV, "prop")
            .unwrap()
            .child("http://example.com/ns/", "author")
            .unwrap();
        let xml = author.to_standalone_xml();
        let again = parse(xml.as_bytes()).unwrap();
        assert_eq!(&again, author);
        assert!(xml.starts_with("<author xmlns=\"http://example.com/ns/\" xml:lang=\"en\""), "{xml}");
    }

    #[test]
    fn writer_uses_fixed_prefixes_and_declares_others() {
        let mut w = XmlWriter::document(DAV, "multistatus");
        w.text_element(DAV, "href", "/a&b");
        w.empty("urn:other", "x");
        w.close(DAV, "multistatus");
        let s = w.into_string();
        assert!(s.contains("<D:href>/a&amp;b</D:href><x xmlns=\"urn:other\"/></D:multistatus>"), "{s}");
        let parsed = parse(s.as_bytes()).unwrap();
        assert!(parsed.is(DAV, "multistatus"));
        assert!(parsed.child("urn:other", "x").is_some());
    }
}
