//! The URL layout (DESIGN §3) and href encoding.
//!
//! ```text
//! /                                  server root (answers discovery like /dav/)
//! /dav/                              DAV root
//! /dav/principals/<user>/            principal
//! /dav/calendars/<user>/<cal>/<obj>  calendar home, calendars, objects
//! /dav/addressbooks/<user>/<book>/…  address-book home, address books, cards
//! /dav/files/<user>/…                plain WebDAV file space, any depth
//! ```

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

use super::error::{DavError, DavResult};

pub const DAV_ROOT: &str = "/dav/";
pub const PRINCIPALS: &str = "/dav/principals/";

/// Longest accepted resource name, in bytes.
pub const MAX_SEGMENT_BYTES: usize = 255;
/// Deepest accepted path inside a home.
pub const MAX_SEGMENTS: usize = 32;

/// Characters escaped in a path segment: everything but unreserved
/// characters, sub-delims, `:` and `@` (RFC 3986 pchar).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(0x7f);

/// The per-user spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Area {
    Calendars,
    Addressbooks,
    Files,
}

impl Area {
    pub const ALL: [Area; 3] = [Area::Calendars, Area::Addressbooks, Area::Files];

    pub const fn segment(self) -> &'static str {
        match self {
            Area::Calendars => "calendars",
            Area::Addressbooks => "addressbooks",
            Area::Files => "files",
        }
    }

    fn parse(s: &str) -> Option<Area> {
        Area::ALL.into_iter().find(|a| a.segment() == s)
    }

    pub const fn home_kind(self) -> crate::store::CollectionKind {
        match self {
            Area::Calendars => crate::store::CollectionKind::CalendarHome,
            Area::Addressbooks => crate::store::CollectionKind::AddressbookHome,
            Area::Files => crate::store::CollectionKind::FilesHome,
        }
    }
}

/// A request path, parsed but not yet looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DavPath {
    /// `/`: clients given only the server's address start here.
    ServerRoot,
    Root,
    Principals,
    Principal(String),
    /// `/dav/calendars/` and its siblings.
    HomeSet(Area),
    /// A user's home (no segments) or something inside it.
    InHome {
        area: Area,
        user: String,
        segments: Vec<String>,
    },
}

impl DavPath {
    /// Parses an absolute path (without query). Unknown places are `None`.
    pub fn parse(path: &str) -> DavResult<Option<DavPath>> {
        if !path.starts_with('/') {
            return Err(DavError::bad_request("the request target must be an absolute path"));
        }
        let mut segments = Vec::new();
        for raw in path.split('/').filter(|s| !s.is_empty()) {
            segments.push(decode_segment(raw)?);
        }
        if segments.len() > MAX_SEGMENTS + 3 {
            return Err(DavError::bad_request("the path is too deep"));
        }
        let mut it = segments.into_iter();
        let first = it.next();
        let Some(first) = first else { return Ok(Some(DavPath::ServerRoot)) };
        if first != "dav" {
            return Ok(None);
        }
        let Some(second) = it.next() else { return Ok(Some(DavPath::Root)) };
        let third = it.next();
        let rest: Vec<String> = it.collect();
        Ok(match (second.as_str(), third) {
            ("principals", None) => Some(DavPath::Principals),
            ("principals", Some(user)) if rest.is_empty() => Some(DavPath::Principal(user)),
            ("principals", Some(_)) => None,
            (area, None) => Area::parse(area).map(DavPath::HomeSet),
            (area, Some(user)) => {
                Area::parse(area).map(|area| DavPath::InHome { area, user, segments: rest })
            }
        })
    }

    /// The canonical href of this path, collections ending in `/`.
    /// `is_collection` applies to `InHome` paths, whose kind needs a lookup.
    pub fn href(&self, is_collection: bool) -> String {
        match self {
            DavPath::ServerRoot => "/".into(),
            DavPath::Root => DAV_ROOT.into(),
            DavPath::Principals => PRINCIPALS.into(),
            DavPath::Principal(user) => principal_href(user),
            DavPath::HomeSet(area) => format!("{DAV_ROOT}{}/", area.segment()),
            DavPath::InHome { area, user, segments } => {
                let mut href = home_href(*area, user);
                for (i, s) in segments.iter().enumerate() {
                    href.push_str(&encode_segment(s));
                    if i + 1 < segments.len() || is_collection {
                        href.push('/');
                    }
                }
                href
            }
        }
    }

    /// The user whose space this is, if any.
    pub fn owner(&self) -> Option<&str> {
        match self {
            DavPath::Principal(u) | DavPath::InHome { user: u, .. } => Some(u),
            _ => None,
        }
    }
}

pub fn principal_href(user: &str) -> String {
    format!("{PRINCIPALS}{}/", encode_segment(user))
}

pub fn home_href(area: Area, user: &str) -> String {
    format!("{DAV_ROOT}{}/{}/", area.segment(), encode_segment(user))
}

pub fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// Percent-decodes one segment and checks that it can name a resource.
pub fn decode_segment(raw: &str) -> DavResult<String> {
    let decoded = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| DavError::bad_request("the path is not valid UTF-8 after percent-decoding"))?;
    validate_name(&decoded)?;
    Ok(decoded.into_owned())
}

/// Rules for a resource name chosen by a client.
pub fn validate_name(name: &str) -> DavResult<()> {
    if name.is_empty() || name == "." || name == ".." {
        return Err(DavError::bad_request("empty, '.' and '..' are not resource names"));
    }
    if name.len() > MAX_SEGMENT_BYTES {
        return Err(DavError::bad_request(format!(
            "resource names are limited to {MAX_SEGMENT_BYTES} bytes"
        )));
    }
    if name.chars().any(|c| c == '/' || c.is_control()) {
        return Err(DavError::bad_request("resource names cannot contain '/' or control characters"));
    }
    Ok(())
}

/// Extracts the path of a `Destination` header (absolute URI or absolute path).
/// Returns `None` if it names another host than `host`.
pub fn destination_path<'a>(destination: &'a str, host: Option<&str>) -> DavResult<Option<&'a str>> {
    let rest = if let Some(rest) =
        destination.strip_prefix("http://").or_else(|| destination.strip_prefix("https://"))
    {
        rest
    } else if destination.starts_with('/') {
        return Ok(Some(strip_query(destination)));
    } else {
        return Err(DavError::bad_request("the Destination header is not an absolute URI"));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if let Some(host) = host
        && !authority.eq_ignore_ascii_case(host)
    {
        return Ok(None);
    }
    Ok(Some(strip_query(path)))
}

fn strip_query(path: &str) -> &str {
    path.split(['?', '#']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_layout() {
        let home = |area, user: &str, segs: &[&str]| {
            Some(DavPath::InHome {
                area,
                user: user.into(),
                segments: segs.iter().map(|s| s.to_string()).collect(),
            })
        };
        for (path, expected) in [
            ("/", Some(DavPath::ServerRoot)),
            ("/dav", Some(DavPath::Root)),
            ("/dav/", Some(DavPath::Root)),
            ("/dav/principals/", Some(DavPath::Principals)),
            ("/dav/principals/alice/", Some(DavPath::Principal("alice".into()))),
            ("/dav/principals/alice/x", None),
            ("/dav/calendars/", Some(DavPath::HomeSet(Area::Calendars))),
            ("/dav/calendars/alice/", home(Area::Calendars, "alice", &[])),
            (
                "/dav/calendars/alice/work/ev%20one.ics",
                home(Area::Calendars, "alice", &["work", "ev one.ics"]),
            ),
            ("/dav/files/bob/a/b/c.txt", home(Area::Files, "bob", &["a", "b", "c.txt"])),
            ("/dav/addressbooks/bob/default/", home(Area::Addressbooks, "bob", &["default"])),
            ("/dav/nothing/bob/", None),
            ("/elsewhere", None),
        ] {
            assert_eq!(DavPath::parse(path).unwrap(), expected, "{path}");
        }
    }

    #[test]
    fn refuses_names_that_cannot_be_resources() {
        for path in [
            "/dav/files/a/..",
            "/dav/files/a/%2e%2e",
            "/dav/files/a/x%2Fy",
            "/dav/files/a/%00",
            "/dav/files/a/%ff",
            "x",
        ] {
            assert!(DavPath::parse(path).is_err(), "{path}");
        }
        let long = format!("/dav/files/a/{}", "x".repeat(MAX_SEGMENT_BYTES + 1));
        assert!(DavPath::parse(&long).is_err());
    }

    #[test]
    fn hrefs_round_trip_through_parse() {
        let path = DavPath::InHome {
            area: Area::Files,
            user: "alice@example.com".into(),
            segments: vec!["my folder".into(), "100% ü#?.txt".into()],
        };
        let href = path.href(false);
        assert_eq!(href, "/dav/files/alice@example.com/my%20folder/100%25%20%C3%BC%23%3F.txt");
        assert_eq!(DavPath::parse(&href).unwrap(), Some(path.clone()));
        assert!(path.href(true).ends_with(".txt/"));
    }

    #[test]
    fn destination_header_forms() {
        assert_eq!(destination_path("http://h:1/dav/x?q", Some("h:1")).unwrap(), Some("/dav/x"));
        assert_eq!(destination_path("https://H:1/dav/x", Some("h:1")).unwrap(), Some("/dav/x"));
        assert_eq!(destination_path("http://other/dav/x", Some("h:1")).unwrap(), None);
        assert_eq!(destination_path("/dav/x", Some("h")).unwrap(), Some("/dav/x"));
        assert!(destination_path("dav/x", None).is_err());
    }
}
