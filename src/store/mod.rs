//! The storage contract: everything Skjold keeps, in domain terms.
//!
//! The protocol layers (`dav`, `caldav`, `carddav`) only speak to the
//! [`Store`] trait. It knows nothing of HTTP or XML; the SQLite
//! implementation in [`sqlite`] is the embedded default, and the trait is the
//! seam for a PostgreSQL backend (DESIGN §13), which is why its verbs are
//! whole operations ("put this object if its ETag still matches") rather than
//! SQL-shaped pieces: each verb is one transaction in every backend.
//!
//! Every write that changes a member of a collection bumps that collection's
//! revision and records the member name in the change log, in the same
//! transaction (RFC 6578 sync, CalendarServer getctag).

mod error;
pub mod sqlite;

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use sha2::{Digest, Sha256};

pub use error::{StoreError, StoreResult};

/// The future every store verb returns; boxed so that `dyn Store` works.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 'a>>;

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: i64,
    pub name: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub password_hash: String,
    /// Bytes this user may store; `None` means unlimited.
    pub quota_bytes: Option<i64>,
    pub used_bytes: i64,
    pub created: i64,
    pub disabled: bool,
}

/// What is needed to create an account; its three homes come with it.
#[derive(Debug, Clone)]
pub struct NewPrincipal {
    pub name: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub password_hash: String,
}

/// A per-device password of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPassword {
    pub id: i64,
    pub label: String,
    pub password_hash: String,
    pub created: i64,
    pub last_used: Option<i64>,
}

/// The kinds of collections. Homes are the per-user roots of each space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CollectionKind {
    CalendarHome,
    AddressbookHome,
    FilesHome,
    Calendar,
    Addressbook,
    Folder,
}

impl CollectionKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            CollectionKind::CalendarHome => "calendar-home",
            CollectionKind::AddressbookHome => "addressbook-home",
            CollectionKind::FilesHome => "files-home",
            CollectionKind::Calendar => "calendar",
            CollectionKind::Addressbook => "addressbook",
            CollectionKind::Folder => "folder",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "calendar-home" => CollectionKind::CalendarHome,
            "addressbook-home" => CollectionKind::AddressbookHome,
            "files-home" => CollectionKind::FilesHome,
            "calendar" => CollectionKind::Calendar,
            "addressbook" => CollectionKind::Addressbook,
            "folder" => CollectionKind::Folder,
            _ => return None,
        })
    }

    pub const fn is_home(self) -> bool {
        matches!(
            self,
            CollectionKind::CalendarHome | CollectionKind::AddressbookHome | CollectionKind::FilesHome
        )
    }

    /// The kind of collection that may be created inside one of this kind.
    pub const fn child_kinds(self) -> &'static [CollectionKind] {
        match self {
            CollectionKind::CalendarHome => &[CollectionKind::Calendar],
            CollectionKind::AddressbookHome => &[CollectionKind::Addressbook],
            CollectionKind::FilesHome | CollectionKind::Folder => &[CollectionKind::Folder],
            CollectionKind::Calendar | CollectionKind::Addressbook => &[],
        }
    }

    /// Whether plain objects (not collections) may live in this collection.
    pub const fn holds_objects(self) -> bool {
        matches!(
            self,
            CollectionKind::Calendar
                | CollectionKind::Addressbook
                | CollectionKind::Folder
                | CollectionKind::FilesHome
        )
    }
}

/// A collection row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    pub id: i64,
    pub owner_id: i64,
    pub parent_id: Option<i64>,
    pub kind: CollectionKind,
    pub name: String,
    /// Calendars: the component names they accept (VEVENT, VTODO, …).
    pub components: Option<Vec<String>>,
    pub revision: i64,
    pub created: i64,
    pub modified: i64,
}

/// What is needed to create a collection.
#[derive(Debug, Clone)]
pub struct NewCollection {
    pub parent_id: i64,
    pub name: String,
    pub kind: CollectionKind,
    pub components: Option<Vec<String>>,
    /// Initial dead properties (extended MKCOL, MKCALENDAR).
    pub properties: Vec<DeadProperty>,
}

/// Everything about an object except its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub id: i64,
    pub collection_id: i64,
    pub name: String,
    pub etag: String,
    pub content_type: String,
    pub size: i64,
    pub uid: Option<String>,
    pub component: Option<String>,
    pub created: i64,
    pub modified: i64,
    pub revision: i64,
}

/// An object with its body, as the client sent it.
#[derive(Debug, Clone)]
pub struct Object {
    pub meta: ObjectMeta,
    pub body: Bytes,
}

/// Values extracted from a body at write time so that queries can use indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectIndex {
    pub uid: Option<String>,
    pub component: Option<String>,
    /// Earliest start over the whole recurrence set, UTC unix seconds.
    pub first_start: Option<i64>,
    /// Latest end; `None` for open-ended series (or for no time at all).
    pub last_end: Option<i64>,
    pub recurring: bool,
    /// Address objects: (property, folded value) pairs for addressbook-query.
    pub search: Vec<(String, String)>,
}

/// The card search row that marks a card with a value too long for the
/// index: such a card is read whenever its address book is searched.
pub const CARD_SEARCH_OVERFLOW: &str = "*";

/// What the index can narrow a query by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryHint {
    pub component: Option<String>,
    /// `[start, end)` in UTC seconds.
    pub range: Option<(i64, i64)>,
}

/// An object to store.
#[derive(Debug, Clone)]
pub struct NewObject {
    pub name: String,
    pub content_type: String,
    pub body: Bytes,
    pub index: ObjectIndex,
}

/// A member of a collection.
#[derive(Debug, Clone)]
pub enum Member {
    Collection(Collection),
    Object(ObjectMeta),
}

/// Where a path inside a home leads.
#[derive(Debug, Clone)]
pub enum Resolved {
    Collection(Collection),
    Object {
        parent: Collection,
        meta: ObjectMeta,
    },
    /// The parent exists, the last segment names nothing yet (PUT, MKCOL target).
    Missing {
        parent: Collection,
        name: String,
    },
    /// Some segment before the last does not exist (or is not a collection).
    ParentMissing,
}

/// A list of entity tags from `If-Match` / `If-None-Match`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtagMatch {
    Any,
    /// Quoted strong tags, exactly as sent.
    Tags(Vec<String>),
}

impl EtagMatch {
    /// RFC 9110 §13.1.1/§13.1.2: strong comparison against the current tag, if any.
    pub fn matches(&self, current: Option<&str>) -> bool {
        match (self, current) {
            (_, None) => false,
            (EtagMatch::Any, Some(_)) => true,
            (EtagMatch::Tags(tags), Some(etag)) => tags.iter().any(|t| t == etag),
        }
    }
}

/// Preconditions that a write checks inside its transaction, so that two
/// writers cannot both win (412 for the loser, never a silent overwrite).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Condition {
    pub if_match: Option<EtagMatch>,
    pub if_none_match: Option<EtagMatch>,
}

impl Condition {
    pub const NONE: Condition = Condition { if_match: None, if_none_match: None };

    /// Whether a write may proceed against a member whose current ETag is `current`.
    pub fn allows(&self, current: Option<&str>) -> bool {
        if let Some(m) = &self.if_match
            && !m.matches(current)
        {
            return false;
        }
        if let Some(m) = &self.if_none_match
            && m.matches(current)
        {
            return false;
        }
        true
    }
}

/// What a PUT did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    Created {
        etag: String,
    },
    Replaced {
        etag: String,
    },
    /// Same body and type as before: nothing was written, no sync noise.
    Unchanged {
        etag: String,
    },
}

impl PutOutcome {
    pub fn etag(&self) -> &str {
        match self {
            PutOutcome::Created { etag } | PutOutcome::Replaced { etag } | PutOutcome::Unchanged { etag } => {
                etag
            }
        }
    }
}

/// A dead property: a namespaced name and its value as a self-contained XML element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadProperty {
    pub namespace: String,
    pub name: String,
    pub xml: String,
}

/// One instruction of an atomic PROPPATCH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertyChange {
    Set(DeadProperty),
    Remove { namespace: String, name: String },
}

/// The resource a dead property belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceId {
    Collection(i64),
    Object(i64),
}

/// COPY or MOVE of one member to a new parent and name.
#[derive(Debug, Clone)]
pub struct Transfer {
    pub source_parent: i64,
    pub source_name: String,
    pub target_parent: i64,
    pub target_name: String,
    pub overwrite: bool,
    /// COPY with `Depth: 0` copies a collection without its members.
    pub recursive: bool,
    pub is_move: bool,
}

/// What a COPY or MOVE did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferOutcome {
    /// The target did not exist before.
    Created,
    /// The target existed and was replaced.
    Replaced,
}

/// One entry of the sync log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub name: String,
    pub revision: i64,
    pub deleted: bool,
    /// The member is (or was) a collection: its href ends in `/`.
    pub is_collection: bool,
}

/// The changes of a collection after some revision, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSet {
    /// The revision the client is at after applying these changes.
    pub revision: i64,
    pub changes: Vec<Change>,
    /// More changes follow (the limit was reached).
    pub truncated: bool,
}

/// Result of the storage self-check.
#[derive(Debug, Clone)]
pub struct StoreReport {
    pub schema_version: i64,
    pub integrity: Vec<String>,
    pub principals: i64,
    pub collections: i64,
    pub objects: i64,
    pub bytes: i64,
}

/// The current time in unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Collection {
    /// A revision-based ETag: it changes whenever a member changes.
    pub fn etag(&self) -> String {
        format!("\"c{}-{}\"", self.id, self.revision)
    }
}

/// The strong, quoted ETag of a body: the same bytes always give the same tag,
/// so that rewriting identical content (migrations, re-imports) changes nothing.
pub fn content_etag(content_type: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(content_type.as_bytes());
    hasher.update([0u8]);
    hasher.update(body);
    let digest = hasher.finalize();
    let mut tag = String::with_capacity(34);
    tag.push('"');
    for byte in &digest[..16] {
        tag.push_str(&format!("{byte:02x}"));
    }
    tag.push('"');
    tag
}

/// Storage for principals, collections, objects, dead properties and the sync log.
///
/// Names are single, already-validated URL segments (percent-decoded).
pub trait Store: Send + Sync + 'static {
    // --- principals
    fn create_principal(&self, new: NewPrincipal) -> StoreFuture<'_, Principal>;
    fn principal_by_name(&self, name: &str) -> StoreFuture<'_, Option<Principal>>;
    fn principal_by_id(&self, id: i64) -> StoreFuture<'_, Option<Principal>>;
    fn list_principals(&self) -> StoreFuture<'_, Vec<Principal>>;
    fn set_password(&self, name: &str, password_hash: String) -> StoreFuture<'_, ()>;
    fn set_disabled(&self, name: &str, disabled: bool) -> StoreFuture<'_, ()>;
    /// Deletes the account and every piece of its data.
    fn delete_principal(&self, name: &str) -> StoreFuture<'_, ()>;

    // --- app passwords
    fn add_app_password(
        &self,
        principal_id: i64,
        label: String,
        password_hash: String,
    ) -> StoreFuture<'_, AppPassword>;
    fn app_passwords(&self, principal_id: i64) -> StoreFuture<'_, Vec<AppPassword>>;
    fn delete_app_password(&self, principal_id: i64, label: &str) -> StoreFuture<'_, ()>;
    fn touch_app_password(&self, id: i64, at: i64) -> StoreFuture<'_, ()>;

    // --- collections
    fn home(&self, owner_id: i64, kind: CollectionKind) -> StoreFuture<'_, Collection>;
    /// Walks `segments` down from `home_id`.
    fn resolve(&self, home_id: i64, segments: Vec<String>) -> StoreFuture<'_, Resolved>;
    fn collection(&self, id: i64) -> StoreFuture<'_, Option<Collection>>;
    fn child_collections(&self, parent_id: i64) -> StoreFuture<'_, Vec<Collection>>;
    fn create_collection(&self, new: NewCollection) -> StoreFuture<'_, Collection>;
    /// Deletes a member (collection with all its content, or object) of `parent_id`.
    fn delete_member(&self, parent_id: i64, name: &str, condition: Condition) -> StoreFuture<'_, ()>;

    // --- objects
    /// Object metadata in name order, after `after` (exclusive), at most `limit`.
    fn list_objects(
        &self,
        collection_id: i64,
        after: Option<String>,
        limit: usize,
    ) -> StoreFuture<'_, Vec<ObjectMeta>>;
    /// Whole objects in name order, for reports and exports.
    fn list_objects_with_bodies(
        &self,
        collection_id: i64,
        after: Option<String>,
        limit: usize,
    ) -> StoreFuture<'_, Vec<Object>>;
    fn get_object(&self, collection_id: i64, name: &str) -> StoreFuture<'_, Option<Object>>;
    /// Names of the objects of an address book whose indexed `props`
    /// contain `needle` (already folded with i;unicode-casemap).
    fn search_cards(
        &self,
        collection_id: i64,
        props: Vec<String>,
        needle: String,
    ) -> StoreFuture<'_, Vec<String>>;
    /// The object of a collection that has this UID.
    fn object_by_uid(&self, collection_id: i64, uid: &str) -> StoreFuture<'_, Option<ObjectMeta>>;
    /// Metadata of the objects of these names that exist.
    fn object_metas(&self, collection_id: i64, names: Vec<String>) -> StoreFuture<'_, Vec<ObjectMeta>>;
    /// The objects of these names that exist (multiget).
    fn get_objects(&self, collection_id: i64, names: Vec<String>) -> StoreFuture<'_, Vec<Object>>;
    /// Metadata of the objects that may match a query, in name order: of
    /// this component type and whose indexed span overlaps the range. A
    /// superset; the caller evaluates the exact filter.
    fn candidates(&self, collection_id: i64, hint: QueryHint) -> StoreFuture<'_, Vec<ObjectMeta>>;
    fn put_object(
        &self,
        collection_id: i64,
        object: NewObject,
        condition: Condition,
    ) -> StoreFuture<'_, PutOutcome>;
    /// Objects whose query indexes are to be computed again (stored before
    /// those indexes existed).
    fn objects_to_reindex(&self, limit: usize) -> StoreFuture<'_, Vec<Object>>;
    /// Sets an object's query indexes (`None`: the body cannot be read any
    /// more; it is made a candidate of every search). Content, ETag and sync
    /// state stay as they are.
    fn reindex_object(&self, object_id: i64, index: Option<ObjectIndex>) -> StoreFuture<'_, ()>;
    /// Stores many objects in one transaction, each under its own
    /// precondition: all or none.
    fn put_objects(
        &self,
        collection_id: i64,
        objects: Vec<(NewObject, Condition)>,
    ) -> StoreFuture<'_, Vec<PutOutcome>>;
    fn transfer(&self, transfer: Transfer) -> StoreFuture<'_, TransferOutcome>;

    // --- dead properties
    fn properties(&self, resource: ResourceId) -> StoreFuture<'_, Vec<DeadProperty>>;
    /// Dead properties of many objects at once, keyed by object id (PROPFIND Depth 1).
    fn object_properties(&self, object_ids: Vec<i64>) -> StoreFuture<'_, Vec<(i64, DeadProperty)>>;
    /// Applies all changes or none.
    fn patch_properties(&self, resource: ResourceId, changes: Vec<PropertyChange>) -> StoreFuture<'_, ()>;

    // --- sync
    /// Changes with a revision above `from`; `InvalidSyncToken` if `from` is
    /// unknown. An initial sync leaves deletions out (`include_deleted`).
    fn changes_since(
        &self,
        collection_id: i64,
        from: i64,
        include_deleted: bool,
        limit: usize,
    ) -> StoreFuture<'_, ChangeSet>;

    // --- maintenance
    fn check(&self) -> StoreFuture<'_, StoreReport>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_follow_rfc9110() {
        let tag = Some("\"a\"");
        let any = Some(EtagMatch::Any);
        let a = Some(EtagMatch::Tags(vec!["\"a\"".into()]));
        let b = Some(EtagMatch::Tags(vec!["\"b\"".into()]));
        for (cond, current, allowed) in [
            (Condition { if_match: any.clone(), if_none_match: None }, tag, true),
            (Condition { if_match: any.clone(), if_none_match: None }, None, false),
            (Condition { if_match: a.clone(), if_none_match: None }, tag, true),
            (Condition { if_match: b.clone(), if_none_match: None }, tag, false),
            (Condition { if_match: None, if_none_match: any.clone() }, tag, false),
            (Condition { if_match: None, if_none_match: any.clone() }, None, true),
            (Condition { if_match: None, if_none_match: b.clone() }, tag, true),
            (Condition { if_match: None, if_none_match: a.clone() }, tag, false),
            (Condition::NONE, None, true),
        ] {
            assert_eq!(cond.allows(current), allowed, "{cond:?} against {current:?}");
        }
    }

    #[test]
    fn content_etag_is_stable_quoted_and_content_sensitive() {
        let one = content_etag("text/calendar", b"BEGIN:VCALENDAR");
        assert_eq!(one, content_etag("text/calendar", b"BEGIN:VCALENDAR"));
        assert_ne!(one, content_etag("text/calendar", b"BEGIN:VCALENDAR "));
        assert_ne!(one, content_etag("text/plain", b"BEGIN:VCALENDAR"));
        assert!(one.starts_with('"') && one.ends_with('"') && one.len() == 34);
    }
}
