//! Accounts: creating a user with everything a client expects to find.
//!
//! A new user gets a calendar home with one calendar (events and tasks) and
//! an address-book home with one address book: iOS and some Android apps
//! misbehave when a home is empty (DESIGN §3).

use crate::auth;
use crate::dav::xml::{DAV, Element, Node};
use crate::store::{CollectionKind, DeadProperty, NewCollection, NewPrincipal, Principal, Store, StoreError};

pub const DEFAULT_CALENDAR: &str = "default";
pub const DEFAULT_ADDRESSBOOK: &str = "default";
pub const MAX_USER_NAME: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    InvalidName(String),
    #[error("the user {0:?} already exists")]
    Exists(String),
    #[error("no user {0:?}")]
    NoSuchUser(String),
    #[error("the password is empty")]
    EmptyPassword,
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        AccountError::Store(e)
    }
}

/// User names are URL segments and login names: lower-case ASCII letters,
/// digits and `. _ - @ +`, starting with a letter or digit (so e-mail
/// addresses work as names).
pub fn validate_user_name(name: &str) -> Result<(), AccountError> {
    let ok_chars = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-@+".contains(c));
    let ok_start = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if name.is_empty() || name.len() > MAX_USER_NAME || !ok_chars || !ok_start {
        return Err(AccountError::InvalidName(format!(
            "{name:?} is not a valid user name: use 1 to {MAX_USER_NAME} lower-case letters, digits and . _ - @ +, starting with a letter or digit"
        )));
    }
    Ok(())
}

/// Hashes off the async threads.
pub async fn hash(password: &str) -> Result<String, AccountError> {
    if password.is_empty() {
        return Err(AccountError::EmptyPassword);
    }
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|e| AccountError::Hash(e.to_string()))?
        .map_err(AccountError::Hash)
}

fn displayname(text: &str) -> DeadProperty {
    let mut e = Element::new(DAV, "displayname");
    e.children.push(Node::Text(text.to_owned()));
    DeadProperty { namespace: DAV.into(), name: "displayname".into(), xml: e.to_standalone_xml() }
}

/// Creates a user with the default calendar and address book.
pub async fn create_user(
    store: &dyn Store,
    name: &str,
    password: &str,
    display_name: Option<String>,
    email: Option<String>,
) -> Result<Principal, AccountError> {
    validate_user_name(name)?;
    let password_hash = hash(password).await?;
    let principal = store
        .create_principal(NewPrincipal { name: name.to_owned(), display_name, email, password_hash })
        .await
        .map_err(|e| match e {
            StoreError::AlreadyExists => AccountError::Exists(name.to_owned()),
            other => other.into(),
        })?;
    let calendars = store.home(principal.id, CollectionKind::CalendarHome).await?;
    store
        .create_collection(NewCollection {
            parent_id: calendars.id,
            name: DEFAULT_CALENDAR.into(),
            kind: CollectionKind::Calendar,
            components: Some(vec!["VEVENT".into(), "VTODO".into()]),
            properties: vec![displayname("Calendar")],
        })
        .await?;
    let books = store.home(principal.id, CollectionKind::AddressbookHome).await?;
    store
        .create_collection(NewCollection {
            parent_id: books.id,
            name: DEFAULT_ADDRESSBOOK.into(),
            kind: CollectionKind::Addressbook,
            components: None,
            properties: vec![displayname("Contacts")],
        })
        .await?;
    Ok(principal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        for ok in ["alice", "a", "bob.smith", "jane@example.com", "x_y-z+1", "0day"] {
            assert!(validate_user_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Alice", ".hidden", "a b", "a/b", "ä", "-x", &"a".repeat(MAX_USER_NAME + 1)] {
            assert!(validate_user_name(bad).is_err(), "{bad}");
        }
    }
}
