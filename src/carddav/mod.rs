//! CardDAV (RFC 6352): what an address book accepts, and its export.

use http::{HeaderValue, Response, StatusCode, header};

use crate::dav::error::{DavError, DavResult};
use crate::dav::xml::CARDDAV;
use crate::dav::{Body, Dav};
use crate::store::{Collection, ObjectIndex};
use crate::vcard;

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
        ObjectIndex { uid: Some(summary.uid), component: Some("VCARD".into()), ..Default::default() },
    ))
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
