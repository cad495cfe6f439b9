//! `skjold export`: everything a user stores, as plain files.
//!
//! ```text
//! <out>/calendars/<calendar>.ics      one iCalendar file per calendar
//! <out>/addressbooks/<book>.vcf       one vCard file per address book
//! <out>/files/…                       the file space, as it is
//! ```

use std::path::{Path, PathBuf};

use crate::ical::Merger;
use crate::progress::Progress;
use crate::store::{Collection, CollectionKind, Principal, Store, StoreError};

/// Objects read from the store at a time.
const PAGE: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("writing {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| ExportError::Io { path: parent.into(), source })?;
    }
    std::fs::write(path, bytes).map_err(|source| ExportError::Io { path: path.into(), source })
}

/// A file name for a collection or file: its URL name, which is already a
/// valid single path segment (no '/', not '.' or '..').
fn file_name(name: &str, extension: &str) -> String {
    if extension.is_empty() { name.to_owned() } else { format!("{name}.{extension}") }
}

async fn calendar_file(store: &dyn Store, calendar: &Collection) -> Result<(Vec<u8>, usize), ExportError> {
    let mut merger = Merger::default();
    let mut out = merger.header();
    let mut after = None;
    let mut count = 0;
    loop {
        let page = store.list_objects_with_bodies(calendar.id, after.clone(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.meta.name.clone());
        for object in &page {
            merger.append_components(&object.body, &mut out);
        }
        count += page.len();
        if page.len() < PAGE {
            break;
        }
    }
    out.extend(Merger::footer());
    Ok((out, count))
}

async fn addressbook_file(store: &dyn Store, book: &Collection) -> Result<(Vec<u8>, usize), ExportError> {
    let mut out = Vec::new();
    let mut after = None;
    let mut count = 0;
    loop {
        let page = store.list_objects_with_bodies(book.id, after.clone(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.meta.name.clone());
        for object in &page {
            out.extend_from_slice(&object.body);
            if !object.body.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
        count += page.len();
        if page.len() < PAGE {
            break;
        }
    }
    Ok((out, count))
}

/// Writes the files of one folder of the file space, recursively.
async fn files(
    store: &dyn Store,
    folder: &Collection,
    dir: &Path,
    progress: &mut Progress,
) -> Result<usize, ExportError> {
    std::fs::create_dir_all(dir).map_err(|source| ExportError::Io { path: dir.into(), source })?;
    let mut count = 0;
    let mut after = None;
    loop {
        let page = store.list_objects_with_bodies(folder.id, after.clone(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.meta.name.clone());
        for object in &page {
            write(&dir.join(file_name(&object.meta.name, "")), &object.body)?;
            progress.inc(1);
        }
        count += page.len();
        if page.len() < PAGE {
            break;
        }
    }
    for child in store.child_collections(folder.id).await? {
        count += Box::pin(files(store, &child, &dir.join(&child.name), progress)).await?;
    }
    Ok(count)
}

/// Exports everything of `user` into `out`; returns a one-line summary.
pub async fn export_user(store: &dyn Store, user: &Principal, out: &Path) -> Result<String, ExportError> {
    let mut progress = Progress::new("exporting", 0);
    let calendar_home = store.home(user.id, CollectionKind::CalendarHome).await?;
    let mut events = 0;
    let calendars = store.child_collections(calendar_home.id).await?;
    for calendar in &calendars {
        let (bytes, count) = calendar_file(store, calendar).await?;
        write(&out.join("calendars").join(file_name(&calendar.name, "ics")), &bytes)?;
        events += count;
        progress.add_total(count as u64);
        progress.inc(count as u64);
    }
    let book_home = store.home(user.id, CollectionKind::AddressbookHome).await?;
    let mut cards = 0;
    let books = store.child_collections(book_home.id).await?;
    for book in &books {
        let (bytes, count) = addressbook_file(store, book).await?;
        write(&out.join("addressbooks").join(file_name(&book.name, "vcf")), &bytes)?;
        cards += count;
        progress.add_total(count as u64);
        progress.inc(count as u64);
    }
    let files_home = store.home(user.id, CollectionKind::FilesHome).await?;
    let file_count = files(store, &files_home, &out.join("files"), &mut progress).await?;
    progress.finish();
    Ok(format!(
        "{} calendars with {events} objects, {} address books with {cards} cards, {file_count} files",
        calendars.len(),
        books.len()
    ))
}
