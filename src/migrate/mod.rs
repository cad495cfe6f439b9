//! `skjold migrate-contacts`: legacy address books and exports into users'
//! address books (DESIGN §11).
//!
//! Sources are read owner by owner ([`lwab`] for the legacy database in
//! its three export forms, [`generic`] for vCard, Google/Outlook CSV and
//! LDIF files). Each contact becomes a vCard with a UID derived from its
//! legacy owner and id ([`mapping`]), so a second run finds the same cards:
//! unchanged ones keep their ETag, changed ones are updated, nothing is
//! duplicated. All cards of one owner are written in one transaction, with
//! the change log and sync tokens of ordinary PUTs. A dry run does all of
//! it but the write and reports the same numbers.

mod csv;
pub mod generic;
pub mod lwab;
pub mod mapping;
mod mysql;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

use crate::dav::xml::{DAV, Element, Node};
use crate::import::name_for_uid;
use crate::progress::Progress;
use crate::store::{
    Collection, CollectionKind, Condition, DeadProperty, EtagMatch, NewCollection, NewObject, ObjectMeta,
    Store, StoreError, content_etag,
};
use crate::vcard::{VProp, Version};
use mapping::Record;

/// Where contacts come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    LwabSqlite(PathBuf),
    LwabMysql(PathBuf),
    LwabCsv(PathBuf),
    Vcard(PathBuf),
    GoogleCsv(PathBuf),
    OutlookCsv(PathBuf),
    Ldif(PathBuf),
}

impl FromStr for Source {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, path) = s.split_once(':').ok_or_else(|| format!("{s:?} is not KIND:PATH"))?;
        let path = PathBuf::from(path);
        Ok(match kind {
            "lwab-sqlite" => Source::LwabSqlite(path),
            "lwab-mysql" => Source::LwabMysql(path),
            "lwab-csv" => Source::LwabCsv(path),
            "vcard" => Source::Vcard(path),
            "google-csv" => Source::GoogleCsv(path),
            "outlook-csv" => Source::OutlookCsv(path),
            "ldif" => Source::Ldif(path),
            other => {
                return Err(format!(
                    "unknown source kind {other:?}: use lwab-sqlite, lwab-mysql, lwab-csv, vcard, google-csv, outlook-csv or ldif"
                ));
            }
        })
    }
}

impl Source {
    fn is_legacy(&self) -> bool {
        matches!(self, Source::LwabSqlite(_) | Source::LwabMysql(_) | Source::LwabCsv(_))
    }

    fn kind(&self) -> &'static str {
        match self {
            Source::LwabSqlite(_) => "lwab-sqlite",
            Source::LwabMysql(_) => "lwab-mysql",
            Source::LwabCsv(_) => "lwab-csv",
            Source::Vcard(_) => "vcard",
            Source::GoogleCsv(_) => "google-csv",
            Source::OutlookCsv(_) => "outlook-csv",
            Source::Ldif(_) => "ldif",
        }
    }

    /// Sources that make the same cards of the same data share a family:
    /// switching between them changes nothing.
    fn family(&self) -> &'static str {
        match self {
            Source::LwabSqlite(_) | Source::LwabMysql(_) => "lwab",
            other => other.kind(),
        }
    }

    fn path(&self) -> &Path {
        match self {
            Source::LwabSqlite(p)
            | Source::LwabMysql(p)
            | Source::LwabCsv(p)
            | Source::Vcard(p)
            | Source::GoogleCsv(p)
            | Source::OutlookCsv(p)
            | Source::Ldif(p) => p,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub source: Source,
    /// legacy owner → Skjold user (legacy sources).
    pub owner_map: HashMap<String, String>,
    /// The receiving user (generic sources).
    pub user: Option<String>,
    pub only_owners: Vec<String>,
    pub addressbook: String,
    pub version: Version,
    pub include_trashed: bool,
    pub dry_run: bool,
    /// Remove what earlier runs of this migration wrote (cards users changed stay).
    pub undo: bool,
}

/// Reads an owner map: CSV lines `legacy_owner,username` (a header line is allowed).
pub fn read_owner_map(path: &Path) -> Result<HashMap<String, String>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut map = HashMap::new();
    for (n, row) in csv::rows(&bytes).into_iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|c| crate::text::decode_guess(c).trim().to_owned()).collect();
        match cells.as_slice() {
            [owner, _] if n == 0 && owner.parse::<i64>().is_err() => continue,
            [owner, user] if !owner.is_empty() && !user.is_empty() => {
                if let Some(previous) = map.insert(owner.clone(), user.to_lowercase()) {
                    return Err(format!(
                        "line {}: owner {owner} is mapped twice ({previous} and {user})",
                        n + 1
                    ));
                }
            }
            _ => return Err(format!("line {}: expected legacy_owner,username", n + 1)),
        }
    }
    Ok(map)
}

// ---------------------------------------------------------------- report

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Warning {
    /// `contact 12`, `group 3`, `membership 3→999`, `row 4` …
    pub item: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct OwnerReport {
    pub legacy_owner: String,
    pub user: String,
    pub addressbook: String,
    pub imported: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Cards a user changed since an earlier run, left as the user made them
    /// (where the source changed too, a warning says so).
    pub kept_user_edits: usize,
    /// Cards an `--undo` run removed.
    pub removed: usize,
    pub groups: usize,
    /// reason → count
    pub skipped: BTreeMap<String, usize>,
    pub warnings: Vec<Warning>,
    /// Set when the owner's cards could not be written (nothing was).
    pub error: Option<String>,
}

impl OwnerReport {
    fn skip(&mut self, reason: &str, n: usize) {
        if n > 0 {
            *self.skipped.entry(reason.to_owned()).or_default() += n;
        }
    }

    fn warn(&mut self, item: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Warning { item: item.into(), message: message.into() });
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub source: String,
    pub dry_run: bool,
    pub vcard_version: String,
    pub owners: Vec<OwnerReport>,
    /// Legacy owners with no entry in the owner map: (owner, contacts).
    pub unknown_owners: Vec<(String, usize)>,
    /// What the source format cannot carry.
    pub format_notes: Vec<String>,
}

impl Report {
    pub fn totals(&self) -> (usize, usize, usize, usize, usize) {
        let mut t = (0, 0, 0, 0, 0);
        for o in &self.owners {
            t.0 += o.imported;
            t.1 += o.updated;
            t.2 += o.unchanged;
            t.3 += o.skipped.values().sum::<usize>();
            t.4 += o.warnings.len();
        }
        t
    }

    /// The per-owner summary for the terminal.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let not_migrated = if self.dry_run { "would not be migrated" } else { "were not migrated" };
        out.push_str(&format!(
            "{}{}\n",
            self.source,
            if self.dry_run { " (dry run: nothing was written)" } else { "" }
        ));
        for o in &self.owners {
            let skipped = o.skipped.iter().map(|(r, n)| format!("{n} {r}")).collect::<Vec<_>>().join(", ");
            out.push_str(&format!(
                "  owner {} → {} ({}): imported {}, updated {}, unchanged {}, kept user edits {}, {}groups {}, skipped {}{}, warnings {}{}\n",
                o.legacy_owner,
                o.user,
                o.addressbook,
                o.imported,
                o.updated,
                o.unchanged,
                o.kept_user_edits,
                if o.removed > 0 { format!("removed {}, ", o.removed) } else { String::new() },
                o.groups,
                o.skipped.values().sum::<usize>(),
                if skipped.is_empty() { String::new() } else { format!(" ({skipped})") },
                o.warnings.len(),
                o.error.as_ref().map(|e| format!(" — FAILED: {e}")).unwrap_or_default()
            ));
        }
        for (owner, n) in &self.unknown_owners {
            out.push_str(&format!("  owner {owner}: not in the owner map; {n} contact(s) {not_migrated}\n"));
        }
        for note in &self.format_notes {
            out.push_str(&format!("  note: {note}\n"));
        }
        let (i, u, c, s, w) = self.totals();
        out.push_str(&format!(
            "total: imported {i}, updated {u}, unchanged {c}, skipped {s}, warnings {w}\n"
        ));
        out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

// ---------------------------------------------------------------- driver

/// Runs a migration; the report says what happened per owner.
pub async fn run(store: &dyn Store, options: &Options) -> Result<Report, MigrateError> {
    let mut report = Report {
        source: format!("{}:{}", options.source.kind(), options.source.path().display()),
        dry_run: options.dry_run,
        vcard_version: options.version.as_str().into(),
        ..Default::default()
    };
    if options.source.is_legacy() {
        if options.user.is_some() {
            return Err(MigrateError::Input("legacy sources take --owner-map, not --user".into()));
        }
        migrate_legacy(store, options, &mut report).await?;
    } else {
        let user = options.user.clone().ok_or_else(|| {
            MigrateError::Input("this source needs --user NAME: the user who receives the contacts".into())
        })?;
        let path = options.source.path();
        let bytes = || {
            std::fs::read(path)
                .map_err(|e| MigrateError::Input(format!("cannot read {}: {e}", path.display())))
        };
        let (records, note) = match &options.source {
            Source::Vcard(p) => (generic::vcards(p, options.version).map_err(MigrateError::Input)?, None),
            Source::GoogleCsv(_) => {
                (generic::google_csv(&bytes()?, options.version), Some(generic::GOOGLE_LIMITS))
            }
            Source::OutlookCsv(_) => {
                (generic::outlook_csv(&bytes()?, options.version), Some(generic::OUTLOOK_LIMITS))
            }
            Source::Ldif(_) => (generic::ldif(&bytes()?, options.version), Some(generic::LDIF_LIMITS)),
            _ => unreachable!("legacy sources are handled above"),
        };
        report.format_notes.extend(note.map(str::to_owned));
        let mut progress = Progress::new("migrating", records.len() as u64);
        let mut owner = OwnerReport {
            legacy_owner: "-".into(),
            user: user.clone(),
            addressbook: options.addressbook.clone(),
            ..Default::default()
        };
        for r in &records {
            for w in &r.warnings {
                owner.warn(r.source.clone(), w.clone());
            }
        }
        let count = records.len() as u64;
        write_owner(store, options, &user, &options.addressbook, records, &mut owner).await?;
        progress.inc(count);
        progress.finish();
        report.owners.push(owner);
    }
    Ok(report)
}

async fn migrate_legacy(
    store: &dyn Store,
    options: &Options,
    report: &mut Report,
) -> Result<(), MigrateError> {
    let lwab = match &options.source {
        Source::LwabSqlite(p) => lwab::Lwab::open_sqlite(p),
        Source::LwabMysql(p) => lwab::Lwab::load_mysql(p),
        Source::LwabCsv(p) => {
            report.format_notes.push(csv::EXPORT_LIMITS.into());
            lwab::Lwab::load_csv(p)
        }
        _ => unreachable!("only legacy sources"),
    }
    .map_err(MigrateError::Input)?;
    let owners = lwab.owners().map_err(MigrateError::Input)?;
    let selected: Vec<(i64, usize)> = owners
        .into_iter()
        .filter(|(o, _)| options.only_owners.is_empty() || options.only_owners.contains(&o.to_string()))
        .collect();
    for wanted in &options.only_owners {
        if !selected.iter().any(|(o, _)| o.to_string() == *wanted) {
            return Err(MigrateError::Input(format!("--only-owner {wanted}: no such owner in the source")));
        }
    }
    let total: usize = selected.iter().map(|(_, n)| n).sum();
    let mut progress = Progress::new("migrating", total as u64);
    let today = mapping::today();
    for (owner, count) in selected {
        let Some(user) = options.owner_map.get(&owner.to_string()) else {
            report.unknown_owners.push((owner.to_string(), count));
            progress.inc(count as u64);
            continue;
        };
        let data = lwab.owner(owner).map_err(MigrateError::Input)?;
        let mut owner_report = OwnerReport {
            legacy_owner: owner.to_string(),
            user: user.clone(),
            addressbook: options.addressbook.clone(),
            ..Default::default()
        };
        let (live, trashed) = records_of_owner(&data, options, today, &mut owner_report);
        write_owner(store, options, user, &options.addressbook, live, &mut owner_report).await?;
        if options.include_trashed && !trashed.is_empty() {
            let book = format!("{}-trash", options.addressbook);
            let mut trash_report = OwnerReport {
                legacy_owner: owner.to_string(),
                user: user.clone(),
                addressbook: book.clone(),
                ..Default::default()
            };
            write_owner(store, options, user, &book, trashed, &mut trash_report).await?;
            report.owners.push(owner_report);
            report.owners.push(trash_report);
        } else {
            report.owners.push(owner_report);
        }
        progress.inc(count as u64);
    }
    progress.finish();
    Ok(())
}

/// Maps one owner's contacts and groups: live cards and (with
/// `--include-trashed`) trashed ones; everything else is counted or warned.
fn records_of_owner(
    data: &lwab::OwnerData,
    options: &Options,
    today: chrono::NaiveDate,
    report: &mut OwnerReport,
) -> (Vec<Record>, Vec<Record>) {
    let owner = data.owner;
    let live_contacts: HashSet<i64> = data.contacts.iter().filter(|c| c.deleted == 0).map(|c| c.id).collect();
    let live_groups: HashMap<i64, &lwab::LegacyGroup> =
        data.groups.iter().filter(|g| g.deleted == 0).map(|g| (g.id, g)).collect();
    report.skip("groups in the trash", data.groups.len() - live_groups.len());

    // Group names, decoded once.
    let mut group_names: HashMap<i64, Option<String>> = HashMap::new();
    for g in data.groups.iter().filter(|g| g.deleted == 0) {
        let mut w = Vec::new();
        let name = mapping::clean(&g.name, "group name", false, &mut w);
        for m in w {
            report.warn(format!("group {}", g.id), m);
        }
        group_names.insert(g.id, name);
    }
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    for name in group_names.values().flatten() {
        *by_name.entry(name.to_lowercase()).or_default() += 1;
    }
    for (lower, n) in &by_name {
        if *n > 1 {
            report.warn(
                "groups",
                format!("{n} groups are named {lower:?} apart from letter case; each keeps its name"),
            );
        }
    }

    // Memberships: which live groups each live contact is in.
    let mut categories: HashMap<i64, BTreeSet<(i64, String)>> = HashMap::new();
    let mut members: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut seen: HashSet<(i64, i64)> = HashSet::new();
    for m in &data.memberships {
        let item = format!("membership group {} contact {}", m.group_id, m.contact_id);
        if !seen.insert((m.group_id, m.contact_id)) {
            report.warn(item, "listed twice; counted once");
            continue;
        }
        match (m.group_owner, m.contact_owner) {
            (_, None) => {
                report.warn(item, "the contact does not exist; skipped");
                report.skip("memberships of missing contacts", 1);
                continue;
            }
            (None, _) => {
                report.warn(item, "the group does not exist; skipped");
                report.skip("memberships of missing groups", 1);
                continue;
            }
            (Some(g), Some(c)) if g != c => {
                report.warn(
                    item,
                    format!("group of owner {g}, contact of owner {c}: owners are never mixed; skipped"),
                );
                report.skip("memberships across owners", 1);
                continue;
            }
            _ => {}
        }
        if !live_groups.contains_key(&m.group_id) {
            report.skip("memberships of groups in the trash", 1);
            continue;
        }
        if !live_contacts.contains(&m.contact_id) {
            report.skip("memberships of contacts in the trash", 1);
            continue;
        }
        members.entry(m.group_id).or_default().push(m.contact_id);
        if let Some(Some(name)) = group_names.get(&m.group_id) {
            categories.entry(m.contact_id).or_default().insert((m.group_id, name.clone()));
        }
    }

    let mut live = Vec::new();
    let mut trashed = Vec::new();
    for c in &data.contacts {
        let trash = c.deleted != 0;
        // Pending purge: deleted from the trash too; never brought back.
        if c.deleted == 2 {
            report.skip("contacts pending purge", 1);
            continue;
        }
        if trash && !options.include_trashed {
            report.skip("contacts in the trash", 1);
            continue;
        }
        let cats: Vec<String> = if trash {
            Vec::new()
        } else {
            let mut names: Vec<String> = Vec::new();
            for (_, n) in categories.get(&c.id).into_iter().flatten() {
                if !names.contains(n) {
                    names.push(n.clone());
                }
            }
            names
        };
        match mapping::contact(c, &cats, options.version, today) {
            Ok(record) => {
                for w in &record.warnings {
                    report.warn(record.source.clone(), w.clone());
                }
                if trash { trashed.push(record) } else { live.push(record) }
            }
            Err(skip) => report.skip(skip.reason(), 1),
        }
    }
    for g in data.groups.iter().filter(|g| g.deleted == 0) {
        let mut uids: Vec<String> =
            members.get(&g.id).into_iter().flatten().map(|id| mapping::contact_uid(owner, *id)).collect();
        uids.dedup();
        let name = group_names.get(&g.id).and_then(|n| n.as_deref());
        let uid = match (&options.source, name) {
            (Source::LwabCsv(_), Some(name)) => mapping::named_group_uid(owner, name),
            _ => mapping::group_uid(owner, g.id),
        };
        let record = mapping::group(g, uid, name, &uids, options.version);
        for w in &record.warnings {
            report.warn(record.source.clone(), w.clone());
        }
        report.groups += 1;
        live.push(record);
    }
    (live, trashed)
}

/// The address book `slug` of `user`, created unless this is a dry run.
async fn target_book(
    store: &dyn Store,
    user_id: i64,
    slug: &str,
    dry_run: bool,
) -> Result<Option<Collection>, MigrateError> {
    crate::dav::path::validate_name(slug)
        .map_err(|e| MigrateError::Input(format!("address book {slug:?}: {}", e.message)))?;
    let home = store.home(user_id, CollectionKind::AddressbookHome).await?;
    if let Some(book) = store.child_collections(home.id).await?.into_iter().find(|c| c.name == slug) {
        if book.kind != CollectionKind::Addressbook {
            return Err(MigrateError::Input(format!("{slug:?} is not an address book")));
        }
        return Ok(Some(book));
    }
    if dry_run {
        return Ok(None);
    }
    let mut displayname = Element::new(DAV, "displayname");
    displayname.children.push(Node::Text(slug.to_owned()));
    let book = store
        .create_collection(NewCollection {
            parent_id: home.id,
            name: slug.to_owned(),
            kind: CollectionKind::Addressbook,
            components: None,
            properties: vec![DeadProperty {
                namespace: DAV.into(),
                name: "displayname".into(),
                xml: displayname.to_standalone_xml(),
            }],
        })
        .await?;
    Ok(Some(book))
}

/// Validates and writes one owner's records in one transaction.
async fn write_owner(
    store: &dyn Store,
    options: &Options,
    user: &str,
    slug: &str,
    records: Vec<Record>,
    report: &mut OwnerReport,
) -> Result<(), MigrateError> {
    let Some(principal) = store.principal_by_name(user).await? else {
        report.error = Some(format!("there is no user {user:?}; create it first"));
        report.skip("user missing", records.len());
        return Ok(());
    };
    let book = target_book(store, principal.id, slug, options.dry_run || options.undo).await?;
    // What is there already, by UID, so that unchanged cards are left alone.
    let mut existing: HashMap<String, ObjectMeta> = HashMap::new();
    if let Some(book) = &book {
        let mut after = None;
        loop {
            let page = store.list_objects(book.id, after.clone(), 1000).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.name.clone());
            let full = page.len() == 1000;
            existing.extend(page.into_iter().filter_map(|m| Some((m.uid.clone()?, m))));
            if !full {
                break;
            }
        }
    }
    if options.undo {
        if let Some(book) = &book {
            undo_owner(store, options, book, records, &existing, report).await?;
        }
        return Ok(());
    }
    let probe = book.clone().unwrap_or(Collection {
        id: 0,
        owner_id: principal.id,
        parent_id: None,
        kind: CollectionKind::Addressbook,
        name: slug.to_owned(),
        components: None,
        revision: 0,
        created: 0,
        modified: 0,
    });
    let mut writes = Vec::new();
    let total = records.len();
    let mut from_full_database = 0;
    for mut record in records {
        // The digest of what this run makes of the source, kept in the card:
        // a later run tells "the source changed" from "the user changed it".
        let digest =
            format!("{}/{}", options.source.family(), migration_digest(record.card.to_vcf().as_bytes()));
        record.card.props.push(VProp::new(None, DIGEST_PROPERTY, Vec::new(), digest.clone()));
        let body = record.card.to_vcf();
        let (content_type, index) =
            match crate::collections::ingest(&probe, body.as_bytes(), Some("text/vcard")) {
                Ok(v) => v,
                Err(e) => {
                    report.warn(
                        record.source.clone(),
                        format!("not a storable vCard ({}); skipped", e.message),
                    );
                    report.skip("not storable", 1);
                    continue;
                }
            };
        let etag = content_etag(&content_type, body.as_bytes());
        let (name, condition) = match existing.get(&record.uid) {
            Some(meta) if meta.etag == etag => {
                report.unchanged += 1;
                continue;
            }
            Some(meta) => {
                let Some(book) = &book else { continue };
                let current = store.get_object(book.id, &meta.name).await?;
                let condition = Condition {
                    if_match: Some(EtagMatch::Tags(vec![meta.etag.clone()])),
                    if_none_match: None,
                };
                match current.as_ref().map(|o| earlier_run(&o.body)) {
                    Some(EarlierRun::Untouched { digest: earlier })
                        if matches!(options.source, Source::LwabCsv(_)) && earlier.starts_with("lwab/") =>
                    {
                        from_full_database += 1;
                        continue;
                    }
                    Some(EarlierRun::Untouched { .. }) => report.updated += 1,
                    Some(EarlierRun::EditedByUser { digest: earlier }) => {
                        report.kept_user_edits += 1;
                        match earlier {
                            Some(earlier) if earlier != digest => report.warn(
                                record.source.clone(),
                                "changed in the source and by the user since the last run; the user's version was kept",
                            ),
                            Some(_) => {}
                            None => report.warn(
                                record.source.clone(),
                                "a card with this UID exists and was not written by a migration; it was kept",
                            ),
                        }
                        continue;
                    }
                    // Deleted since it was listed: the conditional write fails and says so.
                    None => report.updated += 1,
                }
                (meta.name.clone(), condition)
            }
            None => {
                report.imported += 1;
                (
                    name_for_uid(&record.uid, "vcf"),
                    Condition { if_match: None, if_none_match: Some(EtagMatch::Any) },
                )
            }
        };
        writes.push((NewObject { name, content_type, body: body.into_bytes().into(), index }, condition));
    }
    if from_full_database > 0 {
        // Updating from the poorer export would drop addresses, photos…
        report.warn(
            "address book",
            format!(
                "{from_full_database} card(s) here were migrated from the full database, which carries more than the CSV export; nothing was written for this owner"
            ),
        );
        report.imported = 0;
        report.updated = 0;
        report.kept_user_edits = 0;
        report.unchanged = 0;
        report.skip("owner already migrated from the full database", total);
        return Ok(());
    }
    if options.dry_run || writes.is_empty() {
        return Ok(());
    }
    let Some(book) = book else { return Ok(()) };
    if let Err(e) = store.put_objects(book.id, writes).await {
        report.error = Some(match e {
            StoreError::PreconditionFailed | StoreError::UidConflict { .. } => {
                "a card changed while this owner was migrated; nothing was written for this owner: run the migration again".into()
            }
            _ => e.to_string(),
        });
        report.imported = 0;
        report.updated = 0;
        if matches!(e, StoreError::Backend(_)) {
            return Err(e.into());
        }
    }
    Ok(())
}

/// Removes the cards of `records` that are still exactly as a migration
/// wrote them; each removal is conditional on the ETag just read.
async fn undo_owner(
    store: &dyn Store,
    options: &Options,
    book: &Collection,
    records: Vec<Record>,
    existing: &HashMap<String, ObjectMeta>,
    report: &mut OwnerReport,
) -> Result<(), MigrateError> {
    for record in records {
        let Some(meta) = existing.get(&record.uid) else { continue };
        let Some(current) = store.get_object(book.id, &meta.name).await? else { continue };
        match earlier_run(&current.body) {
            EarlierRun::Untouched { .. } => {
                if !options.dry_run {
                    let condition = Condition {
                        if_match: Some(EtagMatch::Tags(vec![current.meta.etag.clone()])),
                        if_none_match: None,
                    };
                    match store.delete_member(book.id, &meta.name, condition).await {
                        Ok(()) => {}
                        Err(StoreError::PreconditionFailed | StoreError::NotFound) => {
                            report.warn(
                                record.source.clone(),
                                "changed while the undo ran; kept (run it again)",
                            );
                            report.kept_user_edits += 1;
                            continue;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                report.removed += 1;
            }
            EarlierRun::EditedByUser { digest: Some(_) } => {
                report.kept_user_edits += 1;
                report.warn(record.source.clone(), "changed by the user since it was migrated; kept");
            }
            EarlierRun::EditedByUser { digest: None } => {
                report.kept_user_edits += 1;
                report
                    .warn(record.source.clone(), "a card with this UID was not written by a migration; kept");
            }
        }
    }
    Ok(())
}

/// The property that carries [`migration_digest`] in migrated cards.
pub const DIGEST_PROPERTY: &str = "X-SKJOLD-MIGRATION-DIGEST";

/// A short digest of a card as a migration wrote it (without the digest
/// line); the property's value is `<source kind>/<digest>`.
fn migration_digest(card: &[u8]) -> String {
    content_etag("text/vcard", card).trim_matches('"').to_owned()
}

/// What a stored card says about an earlier run.
#[derive(Debug, PartialEq, Eq)]
enum EarlierRun {
    /// Exactly as the run that wrote it left it.
    Untouched { digest: String },
    /// Changed since (or not written by a migration at all).
    EditedByUser { digest: Option<String> },
}

fn earlier_run(stored: &[u8]) -> EarlierRun {
    let text = String::from_utf8_lossy(stored);
    let marker = format!("\r\n{DIGEST_PROPERTY}:");
    let Some(at) = text.find(&marker) else { return EarlierRun::EditedByUser { digest: None } };
    let value_start = at + marker.len();
    let Some(len) = text[value_start..].find("\r\n") else {
        return EarlierRun::EditedByUser { digest: None };
    };
    let digest = text[value_start..value_start + len].to_owned();
    let without = format!("{}{}", &text[..at], &text[value_start + len..]);
    let hex = digest.rsplit('/').next().unwrap_or_default();
    if migration_digest(without.as_bytes()) == hex {
        EarlierRun::Untouched { digest }
    } else {
        EarlierRun::EditedByUser { digest: Some(digest) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse() {
        assert_eq!("lwab-sqlite:/a/b.sqlite".parse::<Source>(), Ok(Source::LwabSqlite("/a/b.sqlite".into())));
        assert_eq!("vcard:dir".parse::<Source>(), Ok(Source::Vcard("dir".into())));
        assert!("nonsense:x".parse::<Source>().is_err());
        assert!("nocolon".parse::<Source>().is_err());
    }

    #[test]
    fn a_stored_card_tells_an_untouched_run_from_a_user_edit() {
        let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nEND:VCARD\r\n";
        let digest = format!("lwab/{}", migration_digest(card.as_bytes()));
        let stored = card.replace("END:VCARD", &format!("{DIGEST_PROPERTY}:{digest}\r\nEND:VCARD"));
        assert_eq!(earlier_run(stored.as_bytes()), EarlierRun::Untouched { digest: digest.clone() });
        let edited = stored.replace("FN:Ann", "FN:Anne");
        assert_eq!(earlier_run(edited.as_bytes()), EarlierRun::EditedByUser { digest: Some(digest) });
        assert_eq!(earlier_run(card.as_bytes()), EarlierRun::EditedByUser { digest: None });
    }
}
