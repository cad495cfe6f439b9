//! CardDAV (RFC 6352): what an address book accepts, how cards are served
//! in the version a client asks for, and the export.

pub mod filter;
pub mod report;

use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use crate::dav::error::{DavError, DavResult};
use crate::dav::xml::CARDDAV;
use crate::dav::{Body, Dav};
use crate::store::{Collection, ObjectIndex};
use crate::vcard::{self, Version, convert};

fn precondition(name: &'static str, message: impl Into<String>) -> DavError {
    DavError::condition(StatusCode::FORBIDDEN, CARDDAV, name, message)
}

/// RFC 6352 §6.3.2.1 checks of an address object resource.
pub fn ingest(body: &[u8], content_type: Option<&str>) -> DavResult<(String, ObjectIndex)> {
    if let Some(ct) = content_type {
        let media = ct.split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case("text/vcard") && !media.eq_ignore_ascii_case("text/x-vcard") {
            return Err(precondition("supported-address-data", "address objects must be text/vcard"));
        }
    }
    let summary = vcard::inspect(body).map_err(|e| precondition("valid-address-data", e.to_string()))?;
    Ok((
        "text/vcard; charset=utf-8".into(),
        ObjectIndex {
            search: vcard::search_terms(&summary.card),
            uid: Some(summary.uid),
            component: Some("VCARD".into()),
            ..Default::default()
        },
    ))
}

/// A representation of a card other than the stored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    Vcard(Version),
    Jcard,
}

impl Representation {
    pub fn content_type(self) -> &'static str {
        match self {
            Representation::Vcard(Version::V40) => "text/vcard; charset=utf-8; version=4.0",
            Representation::Vcard(_) => "text/vcard; charset=utf-8; version=3.0",
            Representation::Jcard => "application/vcard+json",
        }
    }

    /// From `content-type` and `version` (address-data attributes or an Accept entry).
    pub fn parse(media: &str, version: Option<&str>) -> Option<Representation> {
        match media.trim().to_ascii_lowercase().as_str() {
            "application/vcard+json" => Some(Representation::Jcard),
            "text/vcard" | "text/x-vcard" => match version.map(str::trim) {
                Some("4.0") => Some(Representation::Vcard(Version::V40)),
                Some("3.0") => Some(Representation::Vcard(Version::V30)),
                _ => None,
            },
            _ => None,
        }
    }
}

/// A jCard body as vCard 4.0 text to store.
pub fn jcard_to_vcard(body: &[u8]) -> DavResult<bytes::Bytes> {
    let text = std::str::from_utf8(body)
        .map_err(|_| precondition("valid-address-data", "the jCard is not UTF-8"))?;
    let card = convert::from_jcard(text).map_err(|e| precondition("valid-address-data", e))?;
    Ok(bytes::Bytes::from(card.to_vcf()))
}

/// The card in `want`: the stored bytes when that is what they are.
pub fn represent(body: &[u8], want: Representation) -> DavResult<(bytes::Bytes, &'static str)> {
    let text = vcard::decode(body).map_err(|e| DavError::new(StatusCode::INTERNAL_SERVER_ERROR, e.0))?;
    let card = vcard::parse_cards(&text, false)
        .ok()
        .and_then(|mut c| (!c.is_empty()).then(|| c.remove(0)))
        .ok_or_else(|| {
        DavError::new(StatusCode::INTERNAL_SERVER_ERROR, "a stored card cannot be read")
    })?;
    let out = match want {
        Representation::Vcard(v) if card.version() == Some(v) => {
            return Ok((bytes::Bytes::copy_from_slice(body), want.content_type()));
        }
        Representation::Vcard(v) => convert::convert(&card, v).to_vcf(),
        Representation::Jcard => convert::to_jcard(&card),
    };
    Ok((bytes::Bytes::from(out), want.content_type()))
}

/// The representation an `Accept` header asks for, if it names one other
/// than "whatever is stored" (RFC 6352 §5.1.1). Entries are taken in order
/// of their q-values.
pub fn negotiate(headers: &HeaderMap) -> Option<Representation> {
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
    let mut entries: Vec<(f32, Option<Representation>)> = Vec::new();
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim();
        let mut version = None;
        let mut q = 1.0f32;
        for p in parts {
            match p.split_once('=').map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().trim_matches('"')))
            {
                Some((k, v)) if k == "version" => version = Some(v.to_owned()),
                Some((k, v)) if k == "q" => q = v.parse().unwrap_or(0.0),
                _ => {}
            }
        }
        if q > 0.0 {
            entries.push((q, Representation::parse(media, version.as_deref())));
        }
    }
    entries.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    // The first acceptable entry decides; a plain text/vcard or */* means the stored form.
    entries.into_iter().next().and_then(|(_, r)| r)
}

/// The whole address book as one .vcf, streamed.
pub async fn export(dav: &Dav, collection: &Collection) -> DavResult<Response<Body>> {
    let (tx, body) = Body::channel();
    let store = dav.store.clone();
    let collection_id = collection.id;
    tokio::spawn(async move {
        let mut after = None;
        loop {
            let page = match store.list_objects_with_bodies(collection_id, after.clone(), 200).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "address book export stopped");
                    return;
                }
            };
            let Some(last) = page.last() else { break };
            after = Some(last.meta.name.clone());
            let mut chunk = Vec::new();
            for object in &page {
                chunk.extend_from_slice(&object.body);
                if !object.body.ends_with(b"\n") {
                    chunk.extend_from_slice(b"\r\n");
                }
            }
            if !tx.send(chunk).await || page.len() < 200 {
                break;
            }
        }
    });
    let mut r = Response::new(body);
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/vcard; charset=utf-8"));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_static(v));
        h
    }

    #[test]
    fn accept_negotiation() {
        assert_eq!(negotiate(&HeaderMap::new()), None);
        assert_eq!(negotiate(&accept("text/vcard")), None);
        assert_eq!(negotiate(&accept("*/*")), None);
        assert_eq!(negotiate(&accept("text/vcard; version=4.0")), Some(Representation::Vcard(Version::V40)));
        assert_eq!(
            negotiate(&accept("text/vcard;version=3.0, text/vcard;version=4.0;q=0.5")),
            Some(Representation::Vcard(Version::V30))
        );
        assert_eq!(negotiate(&accept("application/vcard+json")), Some(Representation::Jcard));
        assert_eq!(
            negotiate(&accept("text/vcard;version=4.0;q=0.2, application/vcard+json")),
            Some(Representation::Jcard)
        );
    }
}
