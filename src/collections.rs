//! What differs between kinds of collections, in one place: which bodies a
//! PUT may store and what is indexed from them, which properties have rules,
//! and what a GET on the collection exports. The DAV core asks here and the
//! answers come from `caldav` and `carddav`.

use http::{HeaderMap, Response, StatusCode};

use crate::caldav;
use crate::carddav;
use crate::dav::error::{DavError, DavResult};
use crate::dav::proppatch::Instruction;
use crate::dav::xml::{CALDAV, CARDDAV, Element};
use crate::dav::{Body, Dav};
use crate::store::{Collection, CollectionKind, ObjectIndex};

/// Validates a body for `collection` and extracts what the index keeps.
/// Returns the content type to store.
pub fn ingest(
    collection: &Collection,
    body: &[u8],
    content_type: Option<&str>,
) -> DavResult<(String, ObjectIndex)> {
    match collection.kind {
        CollectionKind::Calendar => caldav::ingest(collection, body, content_type),
        CollectionKind::Addressbook => carddav::ingest(body, content_type),
        CollectionKind::Folder | CollectionKind::FilesHome => Ok((
            content_type.map(str::to_owned).unwrap_or_else(|| "application/octet-stream".into()),
            ObjectIndex::default(),
        )),
        CollectionKind::CalendarHome | CollectionKind::AddressbookHome => {
            Err(DavError::forbidden("only collections can be created here, not resources"))
        }
    }
}

/// The error for a UID that another object of the collection already has
/// (RFC 4791 §5.3.2.1, RFC 6352 §6.3.2.1), naming the holder.
pub fn uid_conflict(kind: CollectionKind, holder_href: String) -> DavError {
    let ns = if kind == CollectionKind::Addressbook { CARDDAV } else { CALDAV };
    DavError::condition(StatusCode::CONFLICT, ns, "no-uid-conflict", "another resource already has this UID")
        .with_href(holder_href)
}

/// Extra rules for properties written with PROPPATCH or at creation.
pub fn validate_property(kind: Option<CollectionKind>, instruction: &Instruction) -> DavResult<()> {
    match kind {
        Some(CollectionKind::Calendar) => caldav::validate_property(instruction),
        _ => Ok(()),
    }
}

/// `CALDAV:supported-calendar-component-set` given at creation.
pub fn parse_component_set(element: &Element) -> DavResult<Vec<String>> {
    caldav::parse_component_set(element)
}

/// A whole-collection export for GET, if the kind has one.
pub async fn export(
    dav: &Dav,
    collection: &Collection,
    headers: &HeaderMap,
) -> DavResult<Option<Response<Body>>> {
    let _ = (dav, headers);
    match collection.kind {
        CollectionKind::Calendar => Ok(Some(caldav::export(dav, collection).await?)),
        CollectionKind::Addressbook => Ok(Some(carddav::export(dav, collection).await?)),
        _ => Ok(None),
    }
}

/// Computes the query indexes of objects stored before those indexes
/// existed (listed by the schema migration that introduced them), in
/// batches; returns how many objects were indexed.
pub async fn reindex_pending(store: &dyn crate::store::Store) -> crate::store::StoreResult<usize> {
    let mut done = 0;
    let mut collections: std::collections::HashMap<i64, Option<Collection>> =
        std::collections::HashMap::new();
    loop {
        let batch = store.objects_to_reindex(500).await?;
        if batch.is_empty() {
            return Ok(done);
        }
        for object in batch {
            let id = object.meta.collection_id;
            if let std::collections::hash_map::Entry::Vacant(slot) = collections.entry(id) {
                slot.insert(store.collection(id).await?);
            }
            let index = collections
                .get(&id)
                .and_then(Option::as_ref)
                .and_then(|collection| ingest(collection, &object.body, Some(&object.meta.content_type)).ok())
                .map(|(_, index)| index);
            store.reindex_object(object.meta.id, index).await?;
            done += 1;
        }
    }
}
