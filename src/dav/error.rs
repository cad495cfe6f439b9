//! DAV errors: a status code, optionally the precondition or postcondition
//! element the RFCs require (RFC 4918 §16), and a human-readable message.
//! Every error response carries a `DAV:error` body.

use http::StatusCode;

use super::xml::{self, XmlWriter};
use crate::store::StoreError;

/// A precondition/postcondition element of a `DAV:error` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub ns: &'static str,
    pub name: &'static str,
    /// Hrefs inside the element (`no-uid-conflict` names the holder).
    pub hrefs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavError {
    pub status: StatusCode,
    pub condition: Option<Condition>,
    pub message: String,
}

pub type DavResult<T> = Result<T, DavError>;

impl DavError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        DavError { status, condition: None, message: message.into() }
    }

    pub fn condition(
        status: StatusCode,
        ns: &'static str,
        name: &'static str,
        message: impl Into<String>,
    ) -> Self {
        DavError {
            status,
            condition: Some(Condition { ns, name, hrefs: Vec::new() }),
            message: message.into(),
        }
    }

    pub fn with_href(mut self, href: String) -> Self {
        if let Some(c) = &mut self.condition {
            c.hrefs.push(href);
        }
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        DavError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        DavError::new(StatusCode::FORBIDDEN, message)
    }

    pub fn not_found() -> Self {
        DavError::new(StatusCode::NOT_FOUND, "no such resource")
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        DavError::new(StatusCode::CONFLICT, message)
    }

    pub fn precondition_failed() -> Self {
        DavError::new(StatusCode::PRECONDITION_FAILED, "the resource does not match the request's conditions")
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        DavError::new(StatusCode::METHOD_NOT_ALLOWED, message)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        DavError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the request body is larger than {limit} bytes"))
    }

    pub fn internal() -> Self {
        DavError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the server log")
    }

    /// The `DAV:error` body.
    pub fn body(&self) -> String {
        let mut w = XmlWriter::document(xml::DAV, "error");
        if let Some(c) = &self.condition {
            if c.hrefs.is_empty() {
                w.empty(c.ns, c.name);
            } else {
                w.open(c.ns, c.name);
                for href in &c.hrefs {
                    w.text_element(xml::DAV, "href", href);
                }
                w.close(c.ns, c.name);
            }
        }
        w.raw("<S:message xmlns:S=\"");
        w.raw(xml::SKJOLD);
        w.raw("\">");
        w.text(&self.message);
        w.raw("</S:message>");
        w.close(xml::DAV, "error");
        w.into_string()
    }
}

impl From<xml::XmlError> for DavError {
    fn from(e: xml::XmlError) -> Self {
        DavError::bad_request(format!("invalid XML body: {e}"))
    }
}

impl From<StoreError> for DavError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => DavError::not_found(),
            StoreError::AlreadyExists => DavError::method_not_allowed("a resource already exists here"),
            StoreError::Conflict(why) => DavError::conflict(why),
            StoreError::PreconditionFailed => DavError::precondition_failed(),
            // The protocol layer adds the right namespace and href; this is the fallback.
            StoreError::UidConflict { .. } => {
                DavError::conflict("another resource in this collection has the same UID")
            }
            StoreError::QuotaExceeded => DavError::condition(
                StatusCode::INSUFFICIENT_STORAGE,
                xml::DAV,
                "quota-not-exceeded",
                "this would exceed your storage quota",
            ),
            StoreError::InvalidSyncToken => DavError::condition(
                StatusCode::FORBIDDEN,
                xml::DAV,
                "valid-sync-token",
                "the sync token is unknown or expired; sync again from scratch",
            ),
            StoreError::SchemaTooNew { .. } | StoreError::Backend(_) => {
                tracing::error!(error = %e, "storage error");
                DavError::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_names_the_condition_and_hrefs() {
        let e = DavError::condition(StatusCode::CONFLICT, xml::CALDAV, "no-uid-conflict", "taken")
            .with_href("/dav/calendars/a/b/x.ics".into());
        let parsed = xml::parse(e.body().as_bytes()).unwrap();
        assert!(parsed.is(xml::DAV, "error"));
        let cond = parsed.child(xml::CALDAV, "no-uid-conflict").unwrap();
        assert_eq!(cond.child(xml::DAV, "href").unwrap().text(), "/dav/calendars/a/b/x.ics");
        assert_eq!(parsed.child(xml::SKJOLD, "message").unwrap().text(), "taken");
    }
}
