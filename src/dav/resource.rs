//! Resources: what a request path names once it has been looked up, and the
//! authorization rule that decides whether the user may see it at all.

use super::error::DavResult;
use super::path::{Area, DavPath};
use crate::store::{Collection, CollectionKind, ObjectMeta, Principal, Resolved, Store};

/// Something that exists and that the user may see.
#[derive(Debug, Clone)]
pub enum Resource {
    ServerRoot,
    Root,
    Principals,
    HomeSet(Area),
    /// The user's own principal.
    Principal,
    Collection {
        area: Area,
        collection: Collection,
    },
    Object {
        area: Area,
        parent: Collection,
        meta: ObjectMeta,
    },
}

impl Resource {
    pub fn is_collection(&self) -> bool {
        !matches!(self, Resource::Object { .. })
    }

    /// Whether the resource lives in a user's space (and can be written).
    pub fn collection(&self) -> Option<&Collection> {
        match self {
            Resource::Collection { collection, .. } => Some(collection),
            _ => None,
        }
    }

    pub fn kind(&self) -> Option<CollectionKind> {
        self.collection().map(|c| c.kind)
    }
}

/// The outcome of looking a path up.
#[derive(Debug, Clone)]
pub enum Lookup {
    Found(Resource),
    /// Nothing there yet, but the parent exists in the user's own space.
    Missing {
        area: Area,
        parent: Collection,
        name: String,
    },
    /// A parent of the target is missing, inside the user's own space.
    ParentMissing,
    /// Does not exist, or belongs to someone else: the same answer for both.
    NotFound,
}

/// Looks `path` up as seen by `user`. Another user's space is `NotFound`,
/// whether or not that user or resource exists.
pub async fn lookup(store: &dyn Store, user: &Principal, path: &DavPath) -> DavResult<Lookup> {
    if let Some(owner) = path.owner()
        && owner != user.name
    {
        return Ok(Lookup::NotFound);
    }
    Ok(match path {
        DavPath::ServerRoot => Lookup::Found(Resource::ServerRoot),
        DavPath::Root => Lookup::Found(Resource::Root),
        DavPath::Principals => Lookup::Found(Resource::Principals),
        DavPath::HomeSet(area) => Lookup::Found(Resource::HomeSet(*area)),
        DavPath::Principal(_) => Lookup::Found(Resource::Principal),
        DavPath::InHome { area, segments, .. } => {
            let home = store.home(user.id, area.home_kind()).await?;
            if segments.is_empty() {
                return Ok(Lookup::Found(Resource::Collection { area: *area, collection: home }));
            }
            match store.resolve(home.id, segments.clone()).await? {
                Resolved::Collection(collection) => {
                    Lookup::Found(Resource::Collection { area: *area, collection })
                }
                Resolved::Object { parent, meta } => {
                    Lookup::Found(Resource::Object { area: *area, parent, meta })
                }
                Resolved::Missing { parent, name } => Lookup::Missing { area: *area, parent, name },
                Resolved::ParentMissing => Lookup::ParentMissing,
            }
        }
    })
}
