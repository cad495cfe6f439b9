//! Reading the legacy address book (LWAB v1) from any of its exports.
//!
//! The SQLite file is read in place (read-only). The MySQL dump and the flat
//! CSV export are first loaded into a staging SQLite database with the same
//! schema, so that every source is then read the same way, one owner at a
//! time: memory follows the largest owner, not the size of the export.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params, types::ValueRef};

use super::csv;
use super::mysql;

/// A column value as the legacy database held it: the raw bytes of text
/// (whatever their encoding) or nothing.
pub type Raw = Option<Vec<u8>>;

#[derive(Debug, Clone, Default)]
pub struct LegacyEmail {
    pub kind: Raw,
    pub value: Raw,
}

#[derive(Debug, Clone, Default)]
pub struct LegacyAddress {
    pub kind: Raw,
    pub po_box: Raw,
    pub extended: Raw,
    pub street: Raw,
    pub city: Raw,
    pub region: Raw,
    pub post_code: Raw,
    pub country: Raw,
}

#[derive(Debug, Clone, Default)]
pub struct LegacyContact {
    pub id: i64,
    pub owner: i64,
    pub nick: Raw,
    pub first_name: Raw,
    pub last_name: Raw,
    pub company: Raw,
    pub department: Raw,
    pub job_title: Raw,
    pub birthday: Raw,
    pub note: Raw,
    pub show_as: Raw,
    pub photo: Raw,
    pub photo_type: Raw,
    pub created: Option<i64>,
    pub modified: Option<i64>,
    /// 0 live, 1 in the trash, 2 purge pending.
    pub deleted: i64,
    pub emails: Vec<LegacyEmail>,
    /// (type, number)
    pub phones: Vec<(Raw, Raw)>,
    pub addresses: Vec<LegacyAddress>,
    /// (type, url)
    pub urls: Vec<(Raw, Raw)>,
}

#[derive(Debug, Clone, Default)]
pub struct LegacyGroup {
    pub id: i64,
    pub owner: i64,
    pub name: Raw,
    pub deleted: i64,
}

/// A membership row as seen from one owner, with what it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub group_id: i64,
    pub contact_id: i64,
    /// Owner of the group (`None`: no such group).
    pub group_owner: Option<i64>,
    /// Owner of the contact (`None`: no such contact).
    pub contact_owner: Option<i64>,
}

/// Everything of one legacy owner.
#[derive(Debug, Default)]
pub struct OwnerData {
    pub owner: i64,
    pub contacts: Vec<LegacyContact>,
    pub groups: Vec<LegacyGroup>,
    pub memberships: Vec<Membership>,
}

/// An open LWAB database (the original or a staging copy).
pub struct Lwab {
    conn: Connection,
    /// Keeps a staging database alive as long as it is read.
    _staging: Option<tempfile::NamedTempFile>,
}

const SCHEMA: &str = "
CREATE TABLE ab_meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE ab_contact (id INTEGER PRIMARY KEY, owner_uid INTEGER NOT NULL, nick, first_name, last_name,
  company, department, job_title, birthday, note, show_as, photo, photo_type,
  created INTEGER, modified INTEGER, deleted INTEGER NOT NULL DEFAULT 0);
CREATE TABLE ab_email (contact_id INTEGER NOT NULL, pos INTEGER NOT NULL, type, email, PRIMARY KEY (contact_id, pos));
CREATE TABLE ab_phone (contact_id INTEGER NOT NULL, pos INTEGER NOT NULL, type, number, PRIMARY KEY (contact_id, pos));
CREATE TABLE ab_address (contact_id INTEGER NOT NULL, pos INTEGER NOT NULL, type, po_box, extended, street, city,
  region, post_code, country, PRIMARY KEY (contact_id, pos));
CREATE TABLE ab_url (contact_id INTEGER NOT NULL, pos INTEGER NOT NULL, type, url, PRIMARY KEY (contact_id, pos));
CREATE TABLE ab_group (id INTEGER PRIMARY KEY, owner_uid INTEGER NOT NULL, name, deleted INTEGER NOT NULL DEFAULT 0,
  created INTEGER, modified INTEGER);
CREATE TABLE ab_group_member (group_id INTEGER NOT NULL, contact_id INTEGER NOT NULL);
";

const STAGING_INDEXES: &str = "
CREATE INDEX IF NOT EXISTS ab_contact_owner ON ab_contact (owner_uid, deleted);
CREATE INDEX IF NOT EXISTS ab_member_contact ON ab_group_member (contact_id);
";

fn raw(v: ValueRef<'_>) -> Raw {
    match v {
        ValueRef::Null => None,
        ValueRef::Text(t) => Some(t.to_vec()),
        ValueRef::Blob(b) => Some(b.to_vec()),
        ValueRef::Integer(i) => Some(i.to_string().into_bytes()),
        ValueRef::Real(f) => Some(f.to_string().into_bytes()),
    }
}

fn int(v: ValueRef<'_>) -> Option<i64> {
    match v {
        ValueRef::Integer(i) => Some(i),
        ValueRef::Text(t) | ValueRef::Blob(t) => std::str::from_utf8(t).ok()?.trim().parse().ok(),
        ValueRef::Real(f) => Some(f as i64),
        ValueRef::Null => None,
    }
}

impl Lwab {
    /// Opens the SQLite file itself, read-only.
    pub fn open_sqlite(path: &Path) -> Result<Lwab, String> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let lwab = Lwab { conn, _staging: None };
        lwab.prepare()?;
        Ok(lwab)
    }

    /// Creates an empty staging database to load an export into.
    fn staging() -> Result<Lwab, String> {
        let file =
            tempfile::NamedTempFile::new().map_err(|e| format!("cannot create a staging database: {e}"))?;
        let conn =
            Connection::open(file.path()).map_err(|e| format!("cannot open the staging database: {e}"))?;
        conn.execute_batch("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;").map_err(|e| e.to_string())?;
        conn.execute_batch(SCHEMA).map_err(|e| e.to_string())?;
        Ok(Lwab { conn, _staging: Some(file) })
    }

    /// Loads a MySQL dump (`mysqldump` output of the LWAB schema).
    pub fn load_mysql(path: &Path) -> Result<Lwab, String> {
        let file = std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let lwab = Lwab::staging()?;
        lwab.conn.execute_batch("BEGIN").map_err(|e| e.to_string())?;
        mysql::for_each_insert_in(std::io::BufReader::with_capacity(1 << 20, file), |table, row| {
            lwab.stage_row(table, row)
        })?;
        lwab.conn.execute_batch("COMMIT").map_err(|e| e.to_string())?;
        let rows: i64 = lwab
            .conn
            .query_row("SELECT (SELECT count(*) FROM ab_contact) + (SELECT count(*) FROM ab_meta)", [], |r| {
                r.get(0)
            })
            .map_err(|e| e.to_string())?;
        if rows == 0 {
            return Err(format!(
                "{} holds no LWAB data (no INSERT INTO ab_contact or ab_meta)",
                path.display()
            ));
        }
        lwab.conn.execute_batch(STAGING_INDEXES).map_err(|e| e.to_string())?;
        lwab.prepare()?;
        Ok(lwab)
    }

    /// Loads the flat CSV export (one row per contact).
    pub fn load_csv(path: &Path) -> Result<Lwab, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let lwab = Lwab::staging()?;
        lwab.conn.execute_batch("BEGIN").map_err(|e| e.to_string())?;
        csv::load_export(&bytes, &lwab.conn)?;
        lwab.conn.execute_batch("COMMIT").map_err(|e| e.to_string())?;
        lwab.conn.execute_batch(STAGING_INDEXES).map_err(|e| e.to_string())?;
        lwab.prepare()?;
        Ok(lwab)
    }

    fn stage_row(&self, table: &str, row: Vec<mysql::Value>) -> Result<(), String> {
        let columns = match table {
            "ab_meta" => 2,
            "ab_contact" => 16,
            "ab_email" | "ab_phone" | "ab_url" => 4,
            "ab_address" => 10,
            "ab_group" => 6,
            "ab_group_member" => 2,
            _ => return Ok(()),
        };
        if row.len() != columns {
            return Err(format!("a row of {table} has {} values, not {columns}", row.len()));
        }
        let placeholders = vec!["?"; columns].join(",");
        let values: Vec<rusqlite::types::Value> = row.into_iter().map(mysql::Value::into_sql).collect();
        self.conn
            .prepare_cached(&format!("INSERT INTO {table} VALUES ({placeholders})"))
            .and_then(|mut s| s.execute(rusqlite::params_from_iter(values)))
            .map(|_| ())
            .map_err(|e| format!("{table}: {e}"))
    }

    /// Builds the lookup of memberships by owner (a temporary table, so
    /// that each owner's memberships are an index lookup).
    fn prepare(&self) -> Result<(), String> {
        let version: Option<String> = self
            .conn
            .query_row("SELECT CAST(value AS TEXT) FROM ab_meta WHERE key = 'schema_version'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| format!("the database does not have the LWAB v1 schema: {e}"))?;
        if let Some(v) = version.filter(|v| v.trim() != "1") {
            return Err(format!("LWAB schema version {v} is not supported (only version 1)"));
        }
        self.conn
            .execute_batch(
                "PRAGMA temp_store = FILE;
                 CREATE TEMP TABLE IF NOT EXISTS members AS
                   SELECT m.group_id, m.contact_id, g.owner_uid AS group_owner, c.owner_uid AS contact_owner
                   FROM ab_group_member m
                   LEFT JOIN ab_group g ON g.id = m.group_id
                   LEFT JOIN ab_contact c ON c.id = m.contact_id;
                 CREATE INDEX IF NOT EXISTS temp.members_group_owner ON members (group_owner);
                 CREATE INDEX IF NOT EXISTS temp.members_contact_owner ON members (contact_owner);",
            )
            .map_err(|e| format!("the database does not have the LWAB v1 schema: {e}"))
    }

    /// The legacy owners, in order, with how many contacts each has.
    pub fn owners(&self) -> Result<Vec<(i64, usize)>, String> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT owner_uid, SUM(n) FROM (
                   SELECT owner_uid, COUNT(*) AS n FROM ab_contact GROUP BY owner_uid
                   UNION ALL SELECT owner_uid, 0 FROM ab_group GROUP BY owner_uid)
                 GROUP BY owner_uid ORDER BY owner_uid",
            )
            .map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as usize)))
            .map_err(|e| e.to_string())?;
        rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
    }

    /// Everything of one owner.
    pub fn owner(&self, owner: i64) -> Result<OwnerData, String> {
        self.load_owner(owner).map_err(|e| format!("reading owner {owner}: {e}"))
    }

    fn load_owner(&self, owner: i64) -> rusqlite::Result<OwnerData> {
        let c = &self.conn;
        let mut contacts: Vec<LegacyContact> = Vec::new();
        let mut index: HashMap<i64, usize> = HashMap::new();
        {
            let mut stmt = c.prepare_cached(
                "SELECT id, owner_uid, nick, first_name, last_name, company, department, job_title, birthday, note,
                        show_as, photo, photo_type, created, modified, deleted
                 FROM ab_contact WHERE owner_uid = ?1 ORDER BY id",
            )?;
            let mut rows = stmt.query([owner])?;
            while let Some(r) = rows.next()? {
                let contact = LegacyContact {
                    id: r.get(0)?,
                    owner: r.get(1)?,
                    nick: raw(r.get_ref(2)?),
                    first_name: raw(r.get_ref(3)?),
                    last_name: raw(r.get_ref(4)?),
                    company: raw(r.get_ref(5)?),
                    department: raw(r.get_ref(6)?),
                    job_title: raw(r.get_ref(7)?),
                    birthday: raw(r.get_ref(8)?),
                    note: raw(r.get_ref(9)?),
                    show_as: raw(r.get_ref(10)?),
                    photo: raw(r.get_ref(11)?),
                    photo_type: raw(r.get_ref(12)?),
                    created: int(r.get_ref(13)?),
                    modified: int(r.get_ref(14)?),
                    deleted: int(r.get_ref(15)?).unwrap_or(0),
                    ..Default::default()
                };
                index.insert(contact.id, contacts.len());
                contacts.push(contact);
            }
        }
        let of_owner = "contact_id IN (SELECT id FROM ab_contact WHERE owner_uid = ?1)";
        {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT contact_id, type, email FROM ab_email WHERE {of_owner} ORDER BY contact_id, pos"
            ))?;
            let mut rows = stmt.query([owner])?;
            while let Some(r) = rows.next()? {
                if let Some(&i) = index.get(&r.get::<_, i64>(0)?) {
                    contacts[i]
                        .emails
                        .push(LegacyEmail { kind: raw(r.get_ref(1)?), value: raw(r.get_ref(2)?) });
                }
            }
        }
        {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT contact_id, type, number FROM ab_phone WHERE {of_owner} ORDER BY contact_id, pos"
            ))?;
            let mut rows = stmt.query([owner])?;
            while let Some(r) = rows.next()? {
                if let Some(&i) = index.get(&r.get::<_, i64>(0)?) {
                    contacts[i].phones.push((raw(r.get_ref(1)?), raw(r.get_ref(2)?)));
                }
            }
        }
        {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT contact_id, type, po_box, extended, street, city, region, post_code, country
                 FROM ab_address WHERE {of_owner} ORDER BY contact_id, pos"
            ))?;
            let mut rows = stmt.query([owner])?;
            while let Some(r) = rows.next()? {
                if let Some(&i) = index.get(&r.get::<_, i64>(0)?) {
                    contacts[i].addresses.push(LegacyAddress {
                        kind: raw(r.get_ref(1)?),
                        po_box: raw(r.get_ref(2)?),
                        extended: raw(r.get_ref(3)?),
                        street: raw(r.get_ref(4)?),
                        city: raw(r.get_ref(5)?),
                        region: raw(r.get_ref(6)?),
                        post_code: raw(r.get_ref(7)?),
                        country: raw(r.get_ref(8)?),
                    });
                }
            }
        }
        {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT contact_id, type, url FROM ab_url WHERE {of_owner} ORDER BY contact_id, pos"
            ))?;
            let mut rows = stmt.query([owner])?;
            while let Some(r) = rows.next()? {
                if let Some(&i) = index.get(&r.get::<_, i64>(0)?) {
                    contacts[i].urls.push((raw(r.get_ref(1)?), raw(r.get_ref(2)?)));
                }
            }
        }
        let mut groups = Vec::new();
        {
            let mut stmt = c.prepare_cached(
                "SELECT id, owner_uid, name, deleted FROM ab_group WHERE owner_uid = ?1 ORDER BY id",
            )?;
            let mut rows = stmt.query([owner])?;
            while let Some(r) = rows.next()? {
                groups.push(LegacyGroup {
                    id: r.get(0)?,
                    owner: r.get(1)?,
                    name: raw(r.get_ref(2)?),
                    deleted: int(r.get_ref(3)?).unwrap_or(0),
                });
            }
        }
        let mut memberships = Vec::new();
        {
            let mut stmt = c.prepare_cached(
                "SELECT group_id, contact_id, group_owner, contact_owner FROM temp.members
                 WHERE group_owner = ?1
                 UNION ALL
                 SELECT group_id, contact_id, group_owner, contact_owner FROM temp.members
                 WHERE contact_owner = ?1 AND (group_owner IS NULL OR group_owner <> ?1)
                 ORDER BY 1, 2",
            )?;
            let rows = stmt.query_map(params![owner], |r| {
                Ok(Membership {
                    group_id: r.get(0)?,
                    contact_id: r.get(1)?,
                    group_owner: r.get(2)?,
                    contact_owner: r.get(3)?,
                })
            })?;
            for m in rows {
                memberships.push(m?);
            }
        }
        Ok(OwnerData { owner, contacts, groups, memberships })
    }

    /// `ab_meta` key/value pairs (schema version, declared charset …).
    pub fn meta(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Ok(mut stmt) = self.conn.prepare("SELECT key, value FROM ab_meta")
            && let Ok(rows) = stmt.query_map([], |r| Ok((raw(r.get_ref(0)?), raw(r.get_ref(1)?))))
        {
            for (k, v) in rows.flatten() {
                out.insert(
                    crate::text::decode_guess(&k.unwrap_or_default()),
                    crate::text::decode_guess(&v.unwrap_or_default()),
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/legacy")
    }

    #[test]
    fn the_three_exports_hold_the_same_owners() {
        let sqlite = Lwab::open_sqlite(&fixture().join("lwab_v1.sqlite")).unwrap();
        let mysql = Lwab::load_mysql(&fixture().join("lwab_v1.mysql.sql")).unwrap();
        let owners = sqlite.owners().unwrap();
        assert_eq!(owners, vec![(1001, 123), (1002, 38), (1003, 38)]);
        assert_eq!(mysql.owners().unwrap(), owners);
        let a = sqlite.owner(1001).unwrap();
        let b = mysql.owner(1001).unwrap();
        assert_eq!(a.contacts.len(), b.contacts.len());
        for (x, y) in a.contacts.iter().zip(&b.contacts) {
            assert_eq!(
                (x.id, &x.first_name, &x.last_name, &x.note, &x.photo),
                (y.id, &y.first_name, &y.last_name, &y.note, &y.photo)
            );
            assert_eq!(x.emails.len(), y.emails.len(), "contact {}", x.id);
        }
        assert_eq!(a.groups.len(), b.groups.len());
        assert_eq!(a.memberships, b.memberships);
        let c2 = a.contacts.iter().find(|c| c.id == 2).unwrap();
        assert_eq!(c2.first_name.as_deref(), Some(&b"J\xfcrgen"[..]));
        assert_eq!(sqlite.meta().get("schema_version").map(String::as_str), Some("1"));
    }
}
