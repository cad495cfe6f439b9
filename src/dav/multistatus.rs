//! Writing `DAV:multistatus` bodies (RFC 4918 §13), whole or streamed.

use http::{Response, StatusCode};

use super::body::{Body, BodySender, CHUNK_BYTES};
use super::props::{self, Name, PropContext};
use super::resource::Resource;
use super::xml::{DAV, Element, XmlWriter};
use super::{multistatus, status_line};
use crate::store::DeadProperty;

/// Which properties a PROPFIND (or REPORT) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropRequest {
    AllProp { include: Vec<(String, String)> },
    PropName,
    Prop(Vec<(String, String)>),
}

impl PropRequest {
    /// The names inside a `DAV:prop` element.
    pub fn names_in(prop: &Element) -> Vec<(String, String)> {
        prop.elements().map(|e| (e.ns.clone(), e.local.clone())).collect()
    }

    pub fn asks_for(&self, ns: &str, local: &str) -> bool {
        match self {
            PropRequest::Prop(names) => names.iter().any(|(n, l)| n == ns && l == local),
            PropRequest::AllProp { include } => include.iter().any(|(n, l)| n == ns && l == local),
            PropRequest::PropName => false,
        }
    }
}

/// A multistatus body being written, into memory or onto the wire.
pub struct Out {
    pub w: XmlWriter,
    tx: Option<BodySender>,
}

impl Out {
    /// A body kept in memory, for small answers.
    pub fn buffered() -> Self {
        Out { w: XmlWriter::document(DAV, "multistatus"), tx: None }
    }

    /// A streamed body: the caller produces into the `Out` from another task.
    pub fn streamed() -> (Self, Response<Body>) {
        let (tx, body) = Body::channel();
        (Out { w: XmlWriter::document(DAV, "multistatus"), tx: Some(tx) }, multistatus(body))
    }

    /// Hands the buffered part to the client once it is large enough.
    /// Returns `false` when the client has gone away.
    pub async fn flush(&mut self) -> bool {
        match &self.tx {
            Some(tx) if self.w.len() >= CHUNK_BYTES => tx.send(self.w.take()).await,
            _ => true,
        }
    }

    /// Closes the document. Buffered: the complete response; streamed: `None`.
    pub async fn finish(mut self) -> Option<Response<Body>> {
        self.w.close(DAV, "multistatus");
        match self.tx.take() {
            Some(tx) => {
                tx.send(self.w.take()).await;
                None
            }
            None => Some(multistatus(Body::full(self.w.into_string()))),
        }
    }
}

/// Runs `produce` to fill a streamed multistatus on its own task, returning
/// the response at once; its first bytes go out while the rest is produced.
pub fn stream<F, Fut>(produce: F) -> Response<Body>
where
    F: FnOnce(Out) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (out, response) = Out::streamed();
    tokio::spawn(produce(out));
    response
}

/// A `DAV:response` with only a status (deleted members in a sync report).
pub fn write_status_response(w: &mut XmlWriter, href: &str, status: StatusCode) {
    w.open(DAV, "response");
    w.text_element(DAV, "href", href);
    w.text_element(DAV, "status", &status_line(status));
    w.close(DAV, "response");
}

/// One `DAV:response` with propstats for a resource.
///
/// `extra` carries pre-rendered properties (calendar-data, address-data)
/// that the caller computed; `ctx.minimal` leaves out the 404 propstat (RFC 8144).
pub fn write_response(
    w: &mut XmlWriter,
    ctx: &PropContext<'_>,
    href: &str,
    resource: &Resource,
    dead: &[DeadProperty],
    request: &PropRequest,
    extra: &[(Name<'_>, String)],
) {
    let mut found = XmlWriter::new();
    let mut missing: Vec<(&str, &str)> = Vec::new();
    match request {
        PropRequest::PropName => {
            for (ns, local) in props::live_names(resource) {
                found.empty(ns, local);
            }
            for d in dead {
                found.empty(&d.namespace, &d.name);
            }
        }
        PropRequest::AllProp { include } => {
            for d in dead {
                found.raw(&d.xml);
            }
            let live = props::allprop_names(resource);
            for name in &live {
                props::write_live(&mut found, ctx, resource, *name);
            }
            for (ns, local) in include {
                let name = (ns.as_str(), local.as_str());
                let already =
                    live.contains(&name) || dead.iter().any(|d| d.namespace == *ns && d.name == *local);
                if !already && !props::write_live(&mut found, ctx, resource, name) {
                    missing.push(name);
                }
            }
        }
        PropRequest::Prop(names) => {
            for (ns, local) in names {
                let name = (ns.as_str(), local.as_str());
                if let Some((_, xml)) = extra.iter().find(|(n, _)| *n == name) {
                    found.raw(xml);
                } else if let Some(d) = dead.iter().find(|d| d.namespace == *ns && d.name == *local) {
                    found.raw(&d.xml);
                } else if !props::write_live(&mut found, ctx, resource, name) {
                    missing.push(name);
                }
            }
        }
    }

    w.open(DAV, "response");
    w.text_element(DAV, "href", href);
    let report_missing = !missing.is_empty() && !ctx.minimal;
    // A response needs at least one propstat: keep an empty 200 one if nothing else is left.
    if !found.is_empty() || !report_missing {
        w.open(DAV, "propstat");
        w.open(DAV, "prop");
        w.raw(&found.buf);
        w.close(DAV, "prop");
        w.text_element(DAV, "status", &status_line(StatusCode::OK));
        w.close(DAV, "propstat");
    }
    if report_missing {
        w.open(DAV, "propstat");
        w.open(DAV, "prop");
        for (ns, local) in missing {
            w.empty(ns, local);
        }
        w.close(DAV, "prop");
        w.text_element(DAV, "status", &status_line(StatusCode::NOT_FOUND));
        w.close(DAV, "propstat");
    }
    w.close(DAV, "response");
}
