//! CSV (RFC 4180) over bytes: quoted fields with doubled quotes, embedded
//! line breaks, CRLF. Used for the legacy flat export and for the Google
//! and Outlook exports people bring.

use std::collections::HashMap;

use rusqlite::{Connection, params};

/// Splits CSV bytes into rows of fields (raw bytes, quotes removed).
pub fn rows(bytes: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut rows = Vec::new();
    let mut row: Vec<Vec<u8>> = Vec::new();
    let mut field: Vec<u8> = Vec::new();
    let mut quoted = false;
    let mut i = 0;
    let mut any = false;
    while i < bytes.len() {
        let b = bytes[i];
        if quoted {
            if b == b'"' {
                if bytes.get(i + 1) == Some(&b'"') {
                    field.push(b'"');
                    i += 2;
                    continue;
                }
                quoted = false;
            } else {
                field.push(b);
            }
            i += 1;
            continue;
        }
        match b {
            b'"' if field.is_empty() => quoted = true,
            b',' => row.push(std::mem::take(&mut field)),
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => {}
            b'\n' => {
                row.push(std::mem::take(&mut field));
                if row.len() > 1 || !row[0].is_empty() {
                    rows.push(std::mem::take(&mut row));
                } else {
                    row.clear();
                }
                any = false;
                i += 1;
                continue;
            }
            other => field.push(other),
        }
        any = true;
        i += 1;
    }
    if any || !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// Rows as maps from header name to value (empty cells left out).
pub fn records(bytes: &[u8]) -> Vec<HashMap<String, Vec<u8>>> {
    let mut all = rows(bytes).into_iter();
    let Some(header) = all.next() else { return Vec::new() };
    let names: Vec<String> = header.iter().map(|h| crate::text::decode_guess(h).trim().to_owned()).collect();
    all.map(|row| {
        names
            .iter()
            .zip(row)
            .filter(|(_, v)| !v.iter().all(u8::is_ascii_whitespace))
            .map(|(n, v)| (n.clone(), v))
            .collect()
    })
    .collect()
}

/// Splits `type:value; type:value` cells.
fn typed_items(cell: &[u8]) -> Vec<(Option<Vec<u8>>, Vec<u8>)> {
    let mut out = Vec::new();
    for item in split_bytes(cell, b"; ") {
        if item.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match item.iter().position(|&b| b == b':') {
            Some(i) if item[..i].iter().all(|b| b.is_ascii_alphabetic()) => {
                out.push((Some(item[..i].to_vec()), item[i + 1..].to_vec()))
            }
            _ => out.push((None, item.to_vec())),
        }
    }
    out
}

fn split_bytes<'a>(hay: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + sep.len() <= hay.len() {
        if &hay[i..i + sep.len()] == sep {
            out.push(&hay[start..i]);
            i += sep.len();
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(&hay[start..]);
    out
}

/// Loads the flat export into the staging tables (groups get ids by name per owner).
pub fn load_export(bytes: &[u8], conn: &Connection) -> Result<(), String> {
    let mut all = rows(bytes).into_iter();
    let header = all.next().ok_or("the CSV export is empty")?;
    let names: Vec<String> = header.iter().map(|h| String::from_utf8_lossy(h).trim().to_owned()).collect();
    let col = |n: &str| names.iter().position(|h| h == n);
    for required in ["id", "owner_uid"] {
        if col(required).is_none() {
            return Err(format!("the CSV export has no {required:?} column"));
        }
    }
    let mut group_ids: HashMap<(i64, Vec<u8>), i64> = HashMap::new();
    let sql = |e: rusqlite::Error| e.to_string();
    for (n, row) in all.enumerate() {
        let cell = |name: &str| -> Option<Vec<u8>> {
            col(name).and_then(|i| row.get(i)).filter(|v| !v.is_empty()).cloned()
        };
        let number = |name: &str| -> Option<i64> {
            cell(name).and_then(|v| String::from_utf8_lossy(&v).trim().parse().ok())
        };
        let id = number("id").ok_or_else(|| format!("CSV row {}: no id", n + 2))?;
        let owner = number("owner_uid").ok_or_else(|| format!("CSV row {}: no owner_uid", n + 2))?;
        conn.execute(
            "INSERT INTO ab_contact (id, owner_uid, nick, first_name, last_name, company, department, birthday, note,
                 modified, deleted) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                id,
                owner,
                cell("nick"),
                cell("first_name"),
                cell("last_name"),
                cell("company"),
                cell("department"),
                cell("birthday"),
                cell("note"),
                number("modified"),
                number("deleted").unwrap_or(0)
            ],
        )
        .map_err(sql)?;
        for (table, column) in [("ab_email", "emails"), ("ab_phone", "phones")] {
            if let Some(v) = cell(column) {
                for (pos, (kind, value)) in typed_items(&v).into_iter().enumerate() {
                    conn.execute(
                        &format!("INSERT INTO {table} VALUES (?1, ?2, ?3, ?4)"),
                        params![id, pos as i64, kind, value],
                    )
                    .map_err(sql)?;
                }
            }
        }
        if let Some(v) = cell("groups") {
            for name in v.split(|&b| b == b'|').filter(|g| !g.is_empty()) {
                let next = group_ids.len() as i64 + 1;
                let gid = *group_ids.entry((owner, name.to_vec())).or_insert(next);
                if gid == next {
                    conn.execute(
                        "INSERT INTO ab_group (id, owner_uid, name) VALUES (?1, ?2, ?3)",
                        params![gid, owner, name],
                    )
                    .map_err(sql)?;
                }
                conn.execute("INSERT INTO ab_group_member VALUES (?1, ?2)", params![gid, id]).map_err(sql)?;
            }
        }
    }
    Ok(())
}

/// What the flat export cannot carry, for the report.
pub const EXPORT_LIMITS: &str = "the flat CSV export carries no addresses, URLs, photos, job titles, show-as flags or \
creation times, and names groups only (a group's trash state and its empty groups are not in it)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_line_breaks() {
        let csv = b"a,b,c\r\n1,\"x, \"\"y\"\"\",\"line1\nline2\"\r\n2,,\r\n";
        let r = rows(csv);
        assert_eq!(r.len(), 3);
        assert_eq!(r[1], vec![b"1".to_vec(), b"x, \"y\"".to_vec(), b"line1\nline2".to_vec()]);
        assert_eq!(r[2], vec![b"2".to_vec(), b"".to_vec(), b"".to_vec()]);
        let recs = records(csv);
        assert_eq!(recs[0].get("b").map(|v| v.as_slice()), Some(&b"x, \"y\""[..]));
        assert!(!recs[1].contains_key("b"));
    }

    #[test]
    fn typed_cells() {
        assert_eq!(
            typed_items(b"home:a@x; work:B@X; c@y"),
            vec![
                (Some(b"home".to_vec()), b"a@x".to_vec()),
                (Some(b"work".to_vec()), b"B@X".to_vec()),
                (None, b"c@y".to_vec())
            ]
        );
    }
}
