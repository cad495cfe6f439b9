//! The embedded SQLite store (DESIGN §5, §10).
//!
//! * WAL with `synchronous=FULL`: a write is on disk before it is acknowledged.
//! * One writer thread owns the only write connection and takes jobs from a
//!   queue. It runs every job that is waiting in one transaction, each inside
//!   its own savepoint (group commit: one fsync for many requests, and a
//!   failing job rolls back alone). Replies are sent only after `COMMIT`.
//! * A small pool of read-only connections serves reads on tokio's blocking
//!   threads, each read inside one transaction so that it sees one snapshot.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::*;

/// Numbered migrations, applied in order and recorded in `schema_migrations`.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../../schema/sqlite/0001_init.sql")),
    (2, "time_index", include_str!("../../schema/sqlite/0002_time_index.sql")),
    (3, "card_search", include_str!("../../schema/sqlite/0003_card_search.sql")),
    (4, "reindex", include_str!("../../schema/sqlite/0004_reindex.sql")),
];

/// Jobs the writer takes into one transaction at most.
const MAX_WRITE_BATCH: usize = 64;
/// Writes waiting for the writer before senders have to wait.
const WRITE_QUEUE_DEPTH: usize = 1024;
/// How often the WAL is truncated after writes.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(60);
/// How long a connection waits for a lock held by another process (the CLI).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest number of SQL parameters in one `IN (…)` list.
const IN_LIST_CHUNK: usize = 200;

/// Settings of the store that are policy, not schema.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// Quota of users without their own, in bytes; `None` = unlimited.
    pub default_quota: Option<i64>,
    /// Read connections in the pool.
    pub readers: usize,
}

pub struct SqliteStore {
    readers: Arc<ReaderPool>,
    writer: mpsc::Sender<WriterMessage>,
    options: Arc<StoreOptions>,
}

struct ReaderPool {
    connections: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path, options: StoreOptions) -> StoreResult<Self> {
        let mut write_conn = Connection::open(path)?;
        configure(&write_conn)?;
        write_conn.pragma_update(None, "journal_mode", "WAL")?;
        migrate(&mut write_conn)?;

        let reader_count = options.readers.max(1);
        let mut connections = Vec::with_capacity(reader_count);
        for _ in 0..reader_count {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )?;
            configure(&conn)?;
            connections.push(conn);
        }
        let readers = Arc::new(ReaderPool {
            connections: Mutex::new(connections),
            permits: Arc::new(Semaphore::new(reader_count)),
        });

        let (tx, rx) = mpsc::channel(WRITE_QUEUE_DEPTH);
        let ticker = tx.clone();
        std::thread::Builder::new()
            .name("skjold-sqlite-checkpoint".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(CHECKPOINT_INTERVAL);
                    match ticker.try_send(WriterMessage::Checkpoint) {
                        Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
                        Err(mpsc::error::TrySendError::Closed(_)) => return,
                    }
                }
            })
            .map_err(|e| StoreError::Backend(format!("cannot start the checkpoint thread: {e}")))?;
        std::thread::Builder::new()
            .name("skjold-sqlite-writer".into())
            .spawn(move || writer_loop(write_conn, rx))
            .map_err(|e| StoreError::Backend(format!("cannot start the writer thread: {e}")))?;
        Ok(SqliteStore { readers, writer: tx, options: Arc::new(options) })
    }

    /// Runs `f` on a read connection, inside one read transaction.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let permit = self
            .readers
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Backend("reader pool closed".into()))?;
        let pool = self.readers.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = lock(&pool.connections).pop();
            let Some(conn) = conn else {
                return Err(StoreError::Backend("no free read connection".into()));
            };
            let result = catch_unwind(AssertUnwindSafe(|| {
                conn.execute_batch("BEGIN")?;
                let result = f(&conn);
                conn.execute_batch("COMMIT")?;
                result
            }))
            .unwrap_or_else(|_| Err(StoreError::Backend("a read panicked".into())));
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            lock(&pool.connections).push(conn);
            result
        })
        .await;
        joined.map_err(|e| StoreError::Backend(format!("read task failed: {e}")))?
    }

    /// Queues `f` for the writer and waits until its transaction has committed.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &StoreOptions) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let options = self.options.clone();
        let job = TypedJob { work: Some(move |c: &Connection| f(c, &options)), result: None, reply };
        self.writer
            .send(WriterMessage::Job(Box::new(job)))
            .await
            .map_err(|_| StoreError::Backend("the writer has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Backend("the writer dropped a job".into()))?
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn configure(conn: &Connection) -> StoreResult<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Deleted data is overwritten, not left in free pages: deletion is real.
    conn.pragma_update(None, "secure_delete", "ON")?;
    // Savepoint journals and large sorts spill to (unlinked) temporary
    // files: in memory, an FTS5 segment merge inside a write job held a
    // copy of every page it rewrote, which grows with the index.
    conn.pragma_update(None, "temp_store", "FILE")?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied INTEGER NOT NULL) STRICT",
    )?;
    let current: i64 =
        conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
    let latest = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    if current > latest {
        return Err(StoreError::SchemaTooNew { found: current, supported: latest });
    }
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied) VALUES (?1, ?2, ?3)",
            params![version, name, now()],
        )?;
        tx.commit()?;
        tracing::info!(version, name, "applied database migration");
    }
    Ok(())
}

// ---------------------------------------------------------------- the writer

/// A queued write: `run` executes inside the batch transaction, `finish`
/// replies once the transaction's fate is known.
trait WriteJob: Send {
    /// Returns whether the job succeeded (and its savepoint is kept).
    fn run(&mut self, conn: &Connection) -> bool;
    fn finish(self: Box<Self>, committed: StoreResult<()>);
}

struct TypedJob<T, F> {
    work: Option<F>,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> WriteJob for TypedJob<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> StoreResult<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else { return false };
        let result = catch_unwind(AssertUnwindSafe(|| work(conn)))
            .unwrap_or_else(|_| Err(StoreError::Backend("a write panicked".into())));
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, committed: StoreResult<()>) {
        let this = *self;
        let answer = match (committed, this.result) {
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(StoreError::Backend("write job was not run".into())),
            (Err(e), Some(Err(job_error))) => {
                // The job failed on its own; its own error is the more useful one.
                let _ = e;
                Err(job_error)
            }
            (Err(e), _) => Err(e),
        };
        let _ = this.reply.send(answer);
    }
}

/// What the writer thread is asked to do.
enum WriterMessage {
    Job(Box<dyn WriteJob>),
    /// Fold the WAL into the database and truncate it, so that pages of
    /// deleted data do not linger in the WAL file.
    Checkpoint,
}

fn writer_loop(conn: Connection, mut queue: mpsc::Receiver<WriterMessage>) {
    let mut dirty = false;
    while let Some(first) = queue.blocking_recv() {
        let mut batch = Vec::new();
        let mut checkpoint = false;
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                WriterMessage::Job(job) => batch.push(job),
                WriterMessage::Checkpoint => checkpoint = true,
            }
            if batch.len() < MAX_WRITE_BATCH {
                next = queue.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            dirty = true;
            let committed = run_batch(&conn, &mut batch);
            if let Err(e) = &committed {
                tracing::error!(error = %e, jobs = batch.len(), "write transaction failed");
            }
            for job in batch {
                job.finish(match &committed {
                    Ok(()) => Ok(()),
                    Err(e) => Err(StoreError::Backend(e.to_string())),
                });
            }
        }
        if checkpoint && dirty {
            match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0)) {
                Ok(0) => dirty = false,
                Ok(_) => {} // a reader still holds an old snapshot; next time
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
            }
        }
    }
}

fn run_batch(conn: &Connection, batch: &mut [Box<dyn WriteJob>]) -> StoreResult<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    for job in batch.iter_mut() {
        let step = (|| -> StoreResult<()> {
            conn.execute_batch("SAVEPOINT job")?;
            if job.run(conn) {
                conn.execute_batch("RELEASE job")?;
            } else {
                conn.execute_batch("ROLLBACK TO job; RELEASE job")?;
            }
            Ok(())
        })();
        if let Err(e) = step {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
    }
    if let Err(e) = conn.execute_batch("COMMIT") {
        let _ = conn.execute_batch("ROLLBACK");
        return Err(e.into());
    }
    Ok(())
}

// ---------------------------------------------------------------- helpers

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

const PRINCIPAL_COLUMNS: &str =
    "id, name, display_name, email, password_hash, quota_bytes, used_bytes, created, disabled";

fn principal_from_row(r: &Row<'_>) -> rusqlite::Result<Principal> {
    Ok(Principal {
        id: r.get(0)?,
        name: r.get(1)?,
        display_name: r.get(2)?,
        email: r.get(3)?,
        password_hash: r.get(4)?,
        quota_bytes: r.get(5)?,
        used_bytes: r.get(6)?,
        created: r.get(7)?,
        disabled: r.get::<_, i64>(8)? != 0,
    })
}

const COLLECTION_COLUMNS: &str =
    "id, owner_id, parent_id, kind, name, components, revision, created, modified";

fn collection_from_row(r: &Row<'_>) -> rusqlite::Result<Collection> {
    let kind: String = r.get(3)?;
    let components: Option<String> = r.get(5)?;
    Ok(Collection {
        id: r.get(0)?,
        owner_id: r.get(1)?,
        parent_id: r.get(2)?,
        kind: CollectionKind::parse(&kind).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                3,
                rusqlite::types::Type::Text,
                format!("unknown collection kind {kind:?}").into(),
            )
        })?,
        name: r.get(4)?,
        components: components.map(|c| c.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect()),
        revision: r.get(6)?,
        created: r.get(7)?,
        modified: r.get(8)?,
    })
}

const META_COLUMNS: &str =
    "id, collection_id, name, etag, content_type, size, uid, component, created, modified, revision";

fn meta_from_row(r: &Row<'_>) -> rusqlite::Result<ObjectMeta> {
    Ok(ObjectMeta {
        id: r.get(0)?,
        collection_id: r.get(1)?,
        name: r.get(2)?,
        etag: r.get(3)?,
        content_type: r.get(4)?,
        size: r.get(5)?,
        uid: r.get(6)?,
        component: r.get(7)?,
        created: r.get(8)?,
        modified: r.get(9)?,
        revision: r.get(10)?,
    })
}

/// Reads metadata plus the body, which is selected as column 11.
fn object_from_row(r: &Row<'_>) -> rusqlite::Result<Object> {
    let body: Vec<u8> = r.get(11)?;
    Ok(Object { meta: meta_from_row(r)?, body: Bytes::from(body) })
}

fn get_collection(c: &Connection, id: i64) -> StoreResult<Option<Collection>> {
    Ok(c.prepare_cached(&format!("SELECT {COLLECTION_COLUMNS} FROM collections WHERE id = ?1"))?
        .query_row([id], collection_from_row)
        .optional()?)
}

fn child_collection(c: &Connection, parent: i64, name: &str) -> StoreResult<Option<Collection>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLLECTION_COLUMNS} FROM collections WHERE parent_id = ?1 AND name = ?2"
    ))?
    .query_row(params![parent, name], collection_from_row)
    .optional()?)
}

fn object_meta(c: &Connection, collection: i64, name: &str) -> StoreResult<Option<ObjectMeta>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {META_COLUMNS} FROM objects WHERE collection_id = ?1 AND name = ?2"
    ))?
    .query_row(params![collection, name], meta_from_row)
    .optional()?)
}

/// Bumps a collection's revision and records `name` as changed (or deleted) in its log.
fn record_change(
    c: &Connection,
    collection: i64,
    name: &str,
    deleted: bool,
    is_collection: bool,
) -> StoreResult<i64> {
    let revision = bump_revision(c, collection)?;
    c.prepare_cached(
        "INSERT INTO changes (collection_id, name, revision, deleted, is_collection) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (collection_id, name) DO UPDATE
         SET revision = excluded.revision, deleted = excluded.deleted, is_collection = excluded.is_collection",
    )?
    .execute(params![collection, name, revision, deleted as i64, is_collection as i64])?;
    Ok(revision)
}

fn bump_revision(c: &Connection, collection: i64) -> StoreResult<i64> {
    c.prepare_cached(
        "UPDATE collections SET revision = revision + 1, modified = ?2 WHERE id = ?1 RETURNING revision",
    )?
    .query_row(params![collection, now()], |r| r.get(0))
    .optional()?
    .ok_or(StoreError::NotFound)
}

fn add_used_bytes(c: &Connection, owner: i64, delta: i64) -> StoreResult<()> {
    if delta != 0 {
        c.prepare_cached("UPDATE principals SET used_bytes = MAX(0, used_bytes + ?2) WHERE id = ?1")?
            .execute(params![owner, delta])?;
    }
    Ok(())
}

/// Fails with `QuotaExceeded` if adding `delta` bytes would cross the owner's quota.
fn check_quota(c: &Connection, options: &StoreOptions, owner: i64, delta: i64) -> StoreResult<()> {
    if delta <= 0 {
        return Ok(());
    }
    let (quota, used): (Option<i64>, i64) = c
        .prepare_cached("SELECT quota_bytes, used_bytes FROM principals WHERE id = ?1")?
        .query_row([owner], |r| Ok((r.get(0)?, r.get(1)?)))?;
    match quota.or(options.default_quota) {
        Some(limit) if used + delta > limit => Err(StoreError::QuotaExceeded),
        _ => Ok(()),
    }
}

/// Total size of the objects in a collection and all collections below it.
fn subtree_size(c: &Connection, collection: i64) -> StoreResult<i64> {
    Ok(c.prepare_cached(
        "WITH RECURSIVE sub(id) AS (
             SELECT ?1 UNION ALL SELECT c.id FROM collections c JOIN sub ON c.parent_id = sub.id)
         SELECT COALESCE(SUM(size), 0) FROM objects WHERE collection_id IN (SELECT id FROM sub)",
    )?
    .query_row([collection], |r| r.get(0))?)
}

/// Whether `candidate` is `ancestor` or lies below it.
fn is_within(c: &Connection, candidate: i64, ancestor: i64) -> StoreResult<bool> {
    Ok(c.prepare_cached(
        "WITH RECURSIVE up(id) AS (
             SELECT ?1 UNION ALL SELECT c.parent_id FROM collections c JOIN up ON c.id = up.id
             WHERE c.parent_id IS NOT NULL)
         SELECT EXISTS (SELECT 1 FROM up WHERE id = ?2)",
    )?
    .query_row(params![candidate, ancestor], |r| r.get(0))?)
}

fn insert_properties(c: &Connection, resource: ResourceId, props: &[DeadProperty]) -> StoreResult<()> {
    let (collection, object) = match resource {
        ResourceId::Collection(id) => (Some(id), None),
        ResourceId::Object(id) => (None, Some(id)),
    };
    let sql = match resource {
        ResourceId::Collection(_) => {
            "INSERT INTO properties (collection_id, object_id, namespace, name, xml) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (collection_id, namespace, name) WHERE collection_id IS NOT NULL
             DO UPDATE SET xml = excluded.xml"
        }
        ResourceId::Object(_) => {
            "INSERT INTO properties (collection_id, object_id, namespace, name, xml) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (object_id, namespace, name) WHERE object_id IS NOT NULL
             DO UPDATE SET xml = excluded.xml"
        }
    };
    let mut stmt = c.prepare_cached(sql)?;
    for p in props {
        stmt.execute(params![collection, object, p.namespace, p.name, p.xml])?;
    }
    Ok(())
}

fn load_properties(c: &Connection, resource: ResourceId) -> StoreResult<Vec<DeadProperty>> {
    let (sql, id) = match resource {
        ResourceId::Collection(id) => {
            ("SELECT namespace, name, xml FROM properties WHERE collection_id = ?1 ORDER BY rowid", id)
        }
        ResourceId::Object(id) => {
            ("SELECT namespace, name, xml FROM properties WHERE object_id = ?1 ORDER BY rowid", id)
        }
    };
    let mut stmt = c.prepare_cached(sql)?;
    let rows =
        stmt.query_map([id], |r| Ok(DeadProperty { namespace: r.get(0)?, name: r.get(1)?, xml: r.get(2)? }))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Removes a member of `parent` (object, or collection with everything below it),
/// records the deletion and returns the bytes freed.
fn remove_member(c: &Connection, parent: &Collection, name: &str, condition: &Condition) -> StoreResult<()> {
    if let Some(child) = child_collection(c, parent.id, name)? {
        if !condition.allows(Some(&child.etag())) {
            return Err(StoreError::PreconditionFailed);
        }
        let freed = subtree_size(c, child.id)?;
        c.prepare_cached("DELETE FROM collections WHERE id = ?1")?.execute([child.id])?;
        add_used_bytes(c, parent.owner_id, -freed)?;
        record_change(c, parent.id, name, true, true)?;
        return Ok(());
    }
    match object_meta(c, parent.id, name)? {
        Some(meta) => {
            if !condition.allows(Some(&meta.etag)) {
                return Err(StoreError::PreconditionFailed);
            }
            c.prepare_cached("DELETE FROM objects WHERE id = ?1")?.execute([meta.id])?;
            add_used_bytes(c, parent.owner_id, -meta.size)?;
            record_change(c, parent.id, name, true, false)?;
            Ok(())
        }
        None if !condition.allows(None) => Err(StoreError::PreconditionFailed),
        None => Err(StoreError::NotFound),
    }
}

fn uid_holder(c: &Connection, collection: i64, uid: &str, except_name: &str) -> StoreResult<Option<String>> {
    Ok(c.prepare_cached("SELECT name FROM objects WHERE collection_id = ?1 AND uid = ?2 AND name <> ?3")?
        .query_row(params![collection, uid, except_name], |r| r.get(0))
        .optional()?)
}

/// Replaces the search rows of an object.
fn write_search_terms(
    c: &Connection,
    object_id: i64,
    terms: &[(String, String)],
    replace: bool,
) -> StoreResult<()> {
    if replace {
        c.prepare_cached("DELETE FROM card_search WHERE object_id = ?1")?.execute([object_id])?;
    }
    let mut stmt =
        c.prepare_cached("INSERT INTO card_search (object_id, prop, value) VALUES (?1, ?2, ?3)")?;
    for (prop, value) in terms {
        stmt.execute(params![object_id, prop, value])?;
    }
    Ok(())
}

/// Copies an object row (with its dead properties) into `target` under `name`.
fn copy_object(c: &Connection, object_id: i64, target: i64, name: &str) -> StoreResult<()> {
    let revision = record_change(c, target, name, false, false)?;
    let new_id: i64 = c
        .prepare_cached(
            "INSERT INTO objects (collection_id, name, etag, content_type, size, uid, component,
                 first_start, last_end, recurring, created, modified, revision, body)
             SELECT ?2, ?3, etag, content_type, size, uid, component, first_start, last_end, recurring,
                 ?4, ?4, ?5, body FROM objects WHERE id = ?1
             RETURNING id",
        )?
        .query_row(params![object_id, target, name, now(), revision], |r| r.get(0))?;
    c.prepare_cached(
        "INSERT INTO properties (object_id, namespace, name, xml)
         SELECT ?2, namespace, name, xml FROM properties WHERE object_id = ?1",
    )?
    .execute(params![object_id, new_id])?;
    c.prepare_cached(
        "INSERT INTO card_search (object_id, prop, value) SELECT ?2, prop, value FROM card_search WHERE object_id = ?1",
    )?
    .execute(params![object_id, new_id])?;
    Ok(())
}

/// Copies a collection (and, if `recursive`, everything below it) into `target_parent`.
fn copy_collection(
    c: &Connection,
    source: &Collection,
    target_parent: i64,
    name: &str,
    recursive: bool,
) -> StoreResult<()> {
    let at = now();
    let new_id: i64 = c
        .prepare_cached(
            "INSERT INTO collections (owner_id, parent_id, kind, name, components, created, modified)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) RETURNING id",
        )?
        .query_row(
            params![
                source.owner_id,
                target_parent,
                source.kind.as_str(),
                name,
                source.components.as_ref().map(|v| v.join(",")),
                at
            ],
            |r| r.get(0),
        )?;
    c.prepare_cached(
        "INSERT INTO properties (collection_id, namespace, name, xml)
         SELECT ?2, namespace, name, xml FROM properties WHERE collection_id = ?1",
    )?
    .execute(params![source.id, new_id])?;
    record_change(c, target_parent, name, false, true)?;
    if !recursive {
        return Ok(());
    }
    let objects: Vec<(i64, String)> = c
        .prepare_cached("SELECT id, name FROM objects WHERE collection_id = ?1 ORDER BY name")?
        .query_map([source.id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, object_name) in objects {
        copy_object(c, id, new_id, &object_name)?;
    }
    for child in children(c, source.id)? {
        copy_collection(c, &child, new_id, &child.name, true)?;
    }
    Ok(())
}

fn children(c: &Connection, parent: i64) -> StoreResult<Vec<Collection>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {COLLECTION_COLUMNS} FROM collections WHERE parent_id = ?1 ORDER BY name"
    ))?;
    let rows = stmt.query_map([parent], collection_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn transfer_in(c: &Connection, options: &StoreOptions, t: &Transfer) -> StoreResult<TransferOutcome> {
    let source_parent = get_collection(c, t.source_parent)?.ok_or(StoreError::NotFound)?;
    let target_parent = get_collection(c, t.target_parent)?.ok_or(StoreError::Conflict("no parent"))?;
    let source_collection = child_collection(c, source_parent.id, &t.source_name)?;
    let source_object = match source_collection {
        Some(_) => None,
        None => Some(object_meta(c, source_parent.id, &t.source_name)?.ok_or(StoreError::NotFound)?),
    };

    // Refuse what cannot go there before anything is touched.
    match (&source_collection, &source_object) {
        (Some(coll), _) => {
            if !target_parent.kind.child_kinds().contains(&coll.kind) {
                return Err(StoreError::Conflict("the destination cannot hold this collection"));
            }
            if is_within(c, target_parent.id, coll.id)? {
                return Err(StoreError::Conflict("a collection cannot be copied or moved into itself"));
            }
        }
        (None, Some(_)) => {
            if !target_parent.kind.holds_objects() || target_parent.kind != source_parent.kind {
                let same_files_space = matches!(
                    (source_parent.kind, target_parent.kind),
                    (
                        CollectionKind::Folder | CollectionKind::FilesHome,
                        CollectionKind::Folder | CollectionKind::FilesHome
                    )
                );
                if !same_files_space {
                    return Err(StoreError::Conflict("the destination cannot hold this resource"));
                }
            }
        }
        (None, None) => return Err(StoreError::NotFound),
    }

    let target_exists = child_collection(c, target_parent.id, &t.target_name)?.is_some()
        || object_meta(c, target_parent.id, &t.target_name)?.is_some();
    if target_exists {
        if !t.overwrite {
            return Err(StoreError::PreconditionFailed);
        }
        remove_member(c, &target_parent, &t.target_name, &Condition::NONE)?;
    }

    if let Some(meta) = source_object {
        if let Some(uid) = &meta.uid {
            let except =
                if t.is_move && source_parent.id == target_parent.id { t.source_name.as_str() } else { "" };
            if let Some(holder) = uid_holder(c, target_parent.id, uid, except)?
                && holder != t.target_name
            {
                return Err(StoreError::UidConflict { existing_name: holder });
            }
        }
        if t.is_move {
            let revision = record_change(c, target_parent.id, &t.target_name, false, false)?;
            c.prepare_cached(
                "UPDATE objects SET collection_id = ?2, name = ?3, revision = ?4, modified = ?5 WHERE id = ?1",
            )?
            .execute(params![meta.id, target_parent.id, t.target_name, revision, now()])?;
            record_change(c, source_parent.id, &t.source_name, true, false)?;
        } else {
            check_quota(c, options, target_parent.owner_id, meta.size)?;
            copy_object(c, meta.id, target_parent.id, &t.target_name)?;
            add_used_bytes(c, target_parent.owner_id, meta.size)?;
        }
    } else if let Some(coll) = source_collection {
        if t.is_move {
            c.prepare_cached(
                "UPDATE collections SET parent_id = ?2, name = ?3, modified = ?4 WHERE id = ?1",
            )?
            .execute(params![coll.id, target_parent.id, t.target_name, now()])?;
            record_change(c, source_parent.id, &t.source_name, true, true)?;
            record_change(c, target_parent.id, &t.target_name, false, true)?;
        } else {
            let size = if t.recursive { subtree_size(c, coll.id)? } else { 0 };
            check_quota(c, options, target_parent.owner_id, size)?;
            copy_collection(c, &coll, target_parent.id, &t.target_name, t.recursive)?;
            add_used_bytes(c, target_parent.owner_id, size)?;
        }
    }
    Ok(if target_exists { TransferOutcome::Replaced } else { TransferOutcome::Created })
}

fn put_in(
    c: &Connection,
    options: &StoreOptions,
    collection_id: i64,
    obj: NewObject,
    condition: Condition,
) -> StoreResult<PutOutcome> {
    let collection = get_collection(c, collection_id)?.ok_or(StoreError::Conflict("no parent"))?;
    if !collection.kind.holds_objects() {
        return Err(StoreError::Conflict("this collection cannot hold resources"));
    }
    if child_collection(c, collection_id, &obj.name)?.is_some() {
        return Err(StoreError::AlreadyExists);
    }
    let existing = object_meta(c, collection_id, &obj.name)?;
    if !condition.allows(existing.as_ref().map(|m| m.etag.as_str())) {
        return Err(StoreError::PreconditionFailed);
    }
    if let Some(uid) = &obj.index.uid
        && let Some(holder) = uid_holder(c, collection_id, uid, &obj.name)?
    {
        return Err(StoreError::UidConflict { existing_name: holder });
    }
    let etag = content_etag(&obj.content_type, &obj.body);
    if let Some(old) = &existing
        && old.etag == etag
    {
        return Ok(PutOutcome::Unchanged { etag });
    }
    let size = obj.body.len() as i64;
    let old_size = existing.as_ref().map(|m| m.size).unwrap_or(0);
    check_quota(c, options, collection.owner_id, size - old_size)?;
    let revision = record_change(c, collection_id, &obj.name, false, false)?;
    let at = now();
    let index = &obj.index;
    match &existing {
        Some(old) => {
            c.prepare_cached(
                "UPDATE objects SET etag = ?2, content_type = ?3, size = ?4, uid = ?5, component = ?6,
                     first_start = ?7, last_end = ?8, recurring = ?9, modified = ?10, revision = ?11, body = ?12
                 WHERE id = ?1",
            )?
            .execute(params![
                old.id,
                etag,
                obj.content_type,
                size,
                index.uid,
                index.component,
                index.first_start,
                index.last_end,
                index.recurring as i64,
                at,
                revision,
                &obj.body[..]
            ])?;
        }
        None => {
            c.prepare_cached(
                "INSERT INTO objects (collection_id, name, etag, content_type, size, uid, component,
                     first_start, last_end, recurring, created, modified, revision, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?13)",
            )?
            .execute(params![
                collection_id,
                obj.name,
                etag,
                obj.content_type,
                size,
                index.uid,
                index.component,
                index.first_start,
                index.last_end,
                index.recurring as i64,
                at,
                revision,
                &obj.body[..]
            ])?;
        }
    }
    let object_id = match &existing {
        Some(old) => old.id,
        None => c.last_insert_rowid(),
    };
    write_search_terms(c, object_id, &obj.index.search, existing.is_some())?;
    add_used_bytes(c, collection.owner_id, size - old_size)?;
    Ok(match existing {
        Some(_) => PutOutcome::Replaced { etag },
        None => PutOutcome::Created { etag },
    })
}

/// Runs `query` (with one `{}` for the placeholder list, after the optional
/// leading `first` parameter) over `keys` in chunks.
fn query_in_chunks<T, K: rusqlite::ToSql>(
    c: &Connection,
    first: Option<i64>,
    keys: &[K],
    query: &str,
    map: impl Fn(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(IN_LIST_CHUNK) {
        let placeholders = vec!["?"; chunk.len()].join(",");
        let sql = query.replace("{}", &placeholders);
        let mut stmt = c.prepare(&sql)?;
        let mut args: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(chunk.len() + 1);
        if let Some(first) = &first {
            args.push(first);
        }
        for k in chunk {
            args.push(k);
        }
        let rows = stmt.query_map(args.as_slice(), &map)?;
        for row in rows {
            out.push(row?);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- the trait

impl Store for SqliteStore {
    fn create_principal(&self, new: NewPrincipal) -> StoreFuture<'_, Principal> {
        Box::pin(self.write(move |c, _| {
            let at = now();
            let id: i64 = c
                .prepare_cached(
                    "INSERT INTO principals (name, display_name, email, password_hash, created)
                     VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
                )?
                .query_row(params![new.name, new.display_name, new.email, new.password_hash, at], |r| {
                    r.get(0)
                })
                .map_err(|e| if is_unique_violation(&e) { StoreError::AlreadyExists } else { e.into() })?;
            for kind in
                [CollectionKind::CalendarHome, CollectionKind::AddressbookHome, CollectionKind::FilesHome]
            {
                c.prepare_cached(
                    "INSERT INTO collections (owner_id, parent_id, kind, name, created, modified)
                     VALUES (?1, NULL, ?2, ?2, ?3, ?3)",
                )?
                .execute(params![id, kind.as_str(), at])?;
            }
            Ok(c.prepare_cached(&format!("SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE id = ?1"))?
                .query_row([id], principal_from_row)?)
        }))
    }

    fn principal_by_name(&self, name: &str) -> StoreFuture<'_, Option<Principal>> {
        let name = name.to_owned();
        Box::pin(self.read(move |c| {
            Ok(c.prepare_cached(&format!("SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE name = ?1"))?
                .query_row([name], principal_from_row)
                .optional()?)
        }))
    }

    fn principal_by_id(&self, id: i64) -> StoreFuture<'_, Option<Principal>> {
        Box::pin(self.read(move |c| {
            Ok(c.prepare_cached(&format!("SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE id = ?1"))?
                .query_row([id], principal_from_row)
                .optional()?)
        }))
    }

    fn list_principals(&self) -> StoreFuture<'_, Vec<Principal>> {
        Box::pin(self.read(move |c| {
            let mut stmt =
                c.prepare_cached(&format!("SELECT {PRINCIPAL_COLUMNS} FROM principals ORDER BY name"))?;
            let rows = stmt.query_map([], principal_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        }))
    }

    fn set_password(&self, name: &str, password_hash: String) -> StoreFuture<'_, ()> {
        let name = name.to_owned();
        Box::pin(self.write(move |c, _| {
            let n = c
                .prepare_cached("UPDATE principals SET password_hash = ?2 WHERE name = ?1")?
                .execute(params![name, password_hash])?;
            if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        }))
    }

    fn set_disabled(&self, name: &str, disabled: bool) -> StoreFuture<'_, ()> {
        let name = name.to_owned();
        Box::pin(self.write(move |c, _| {
            let n = c
                .prepare_cached("UPDATE principals SET disabled = ?2 WHERE name = ?1")?
                .execute(params![name, disabled as i64])?;
            if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        }))
    }

    fn delete_principal(&self, name: &str) -> StoreFuture<'_, ()> {
        let name = name.to_owned();
        Box::pin(self.write(move |c, _| {
            let n = c.prepare_cached("DELETE FROM principals WHERE name = ?1")?.execute([name])?;
            if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        }))
    }

    fn add_app_password(
        &self,
        principal_id: i64,
        label: String,
        password_hash: String,
    ) -> StoreFuture<'_, AppPassword> {
        Box::pin(self.write(move |c, _| {
            let created = now();
            let id: i64 = c
                .prepare_cached(
                    "INSERT INTO app_passwords (principal_id, label, password_hash, created)
                     VALUES (?1, ?2, ?3, ?4) RETURNING id",
                )?
                .query_row(params![principal_id, label, password_hash, created], |r| r.get(0))
                .map_err(|e| if is_unique_violation(&e) { StoreError::AlreadyExists } else { e.into() })?;
            Ok(AppPassword { id, label, password_hash, created, last_used: None })
        }))
    }

    fn app_passwords(&self, principal_id: i64) -> StoreFuture<'_, Vec<AppPassword>> {
        Box::pin(self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, label, password_hash, created, last_used FROM app_passwords
                 WHERE principal_id = ?1 ORDER BY label",
            )?;
            let rows = stmt.query_map([principal_id], |r| {
                Ok(AppPassword {
                    id: r.get(0)?,
                    label: r.get(1)?,
                    password_hash: r.get(2)?,
                    created: r.get(3)?,
                    last_used: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        }))
    }

    fn delete_app_password(&self, principal_id: i64, label: &str) -> StoreFuture<'_, ()> {
        let label = label.to_owned();
        Box::pin(self.write(move |c, _| {
            let n = c
                .prepare_cached("DELETE FROM app_passwords WHERE principal_id = ?1 AND label = ?2")?
                .execute(params![principal_id, label])?;
            if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        }))
    }

    fn touch_app_password(&self, id: i64, at: i64) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |c, _| {
            c.prepare_cached("UPDATE app_passwords SET last_used = ?2 WHERE id = ?1")?
                .execute(params![id, at])?;
            Ok(())
        }))
    }

    fn home(&self, owner_id: i64, kind: CollectionKind) -> StoreFuture<'_, Collection> {
        Box::pin(self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {COLLECTION_COLUMNS} FROM collections WHERE owner_id = ?1 AND kind = ?2 AND parent_id IS NULL"
            ))?
            .query_row(params![owner_id, kind.as_str()], collection_from_row)
            .optional()?
            .ok_or(StoreError::NotFound)
        }))
    }

    fn resolve(&self, home_id: i64, segments: Vec<String>) -> StoreFuture<'_, Resolved> {
        Box::pin(self.read(move |c| {
            let mut current = get_collection(c, home_id)?.ok_or(StoreError::NotFound)?;
            let count = segments.len();
            for (i, segment) in segments.into_iter().enumerate() {
                if let Some(child) = child_collection(c, current.id, &segment)? {
                    current = child;
                    continue;
                }
                if i + 1 < count {
                    return Ok(Resolved::ParentMissing);
                }
                return Ok(match object_meta(c, current.id, &segment)? {
                    Some(meta) => Resolved::Object { parent: current, meta },
                    None => Resolved::Missing { parent: current, name: segment },
                });
            }
            Ok(Resolved::Collection(current))
        }))
    }

    fn collection(&self, id: i64) -> StoreFuture<'_, Option<Collection>> {
        Box::pin(self.read(move |c| get_collection(c, id)))
    }

    fn child_collections(&self, parent_id: i64) -> StoreFuture<'_, Vec<Collection>> {
        Box::pin(self.read(move |c| children(c, parent_id)))
    }

    fn create_collection(&self, new: NewCollection) -> StoreFuture<'_, Collection> {
        Box::pin(self.write(move |c, _| {
            let parent = get_collection(c, new.parent_id)?.ok_or(StoreError::Conflict("no parent"))?;
            if !parent.kind.child_kinds().contains(&new.kind) {
                return Err(StoreError::Conflict("this collection cannot be created here"));
            }
            if child_collection(c, parent.id, &new.name)?.is_some()
                || object_meta(c, parent.id, &new.name)?.is_some()
            {
                return Err(StoreError::AlreadyExists);
            }
            let at = now();
            let id: i64 = c
                .prepare_cached(
                    "INSERT INTO collections (owner_id, parent_id, kind, name, components, created, modified)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) RETURNING id",
                )?
                .query_row(
                    params![
                        parent.owner_id,
                        parent.id,
                        new.kind.as_str(),
                        new.name,
                        new.components.as_ref().map(|v| v.join(",")),
                        at
                    ],
                    |r| r.get(0),
                )?;
            insert_properties(c, ResourceId::Collection(id), &new.properties)?;
            record_change(c, parent.id, &new.name, false, true)?;
            get_collection(c, id)?.ok_or(StoreError::NotFound)
        }))
    }

    fn delete_member(&self, parent_id: i64, name: &str, condition: Condition) -> StoreFuture<'_, ()> {
        let name = name.to_owned();
        Box::pin(self.write(move |c, _| {
            let parent = get_collection(c, parent_id)?.ok_or(StoreError::NotFound)?;
            remove_member(c, &parent, &name, &condition)
        }))
    }

    fn list_objects(
        &self,
        collection_id: i64,
        after: Option<String>,
        limit: usize,
    ) -> StoreFuture<'_, Vec<ObjectMeta>> {
        Box::pin(self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {META_COLUMNS} FROM objects WHERE collection_id = ?1 AND name > ?2 ORDER BY name LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![collection_id, after.unwrap_or_default(), limit as i64], meta_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        }))
    }

    fn list_objects_with_bodies(
        &self,
        collection_id: i64,
        after: Option<String>,
        limit: usize,
    ) -> StoreFuture<'_, Vec<Object>> {
        Box::pin(self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {META_COLUMNS}, body FROM objects WHERE collection_id = ?1 AND name > ?2 ORDER BY name LIMIT ?3"
            ))?;
            let rows =
                stmt.query_map(params![collection_id, after.unwrap_or_default(), limit as i64], object_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        }))
    }

    fn get_object(&self, collection_id: i64, name: &str) -> StoreFuture<'_, Option<Object>> {
        let name = name.to_owned();
        Box::pin(self.read(move |c| {
            Ok(c.prepare_cached(&format!(
                "SELECT {META_COLUMNS}, body FROM objects WHERE collection_id = ?1 AND name = ?2"
            ))?
            .query_row(params![collection_id, name], object_from_row)
            .optional()?)
        }))
    }

    fn search_cards(
        &self,
        collection_id: i64,
        props: Vec<String>,
        needle: String,
    ) -> StoreFuture<'_, Vec<String>> {
        Box::pin(self.read(move |c| {
            // ?1 the address book, ?2 the needle, ?3… the properties.
            let placeholders =
                (0..props.len().max(1)).map(|i| format!("?{}", i + 3)).collect::<Vec<_>>().join(",");
            let trigram = needle.chars().count() >= 3;
            // The trigram index needs three characters: its hits are
            // materialized first (as an IN subquery SQLite would run the
            // virtual table scan once per candidate row, minutes on 50,000
            // cards). Shorter needles scan the (short) index rows of this
            // address book. Cards with a value too long for the index are
            // always candidates.
            let (with, from, matching) = if trigram {
                (
                    "WITH hits AS MATERIALIZED (SELECT rowid AS id FROM card_search_fts WHERE card_search_fts MATCH ?2)",
                    "hits h JOIN card_search s ON s.rowid = h.id",
                    "",
                )
            } else {
                ("", "card_search s", "AND instr(s.value, ?2) > 0")
            };
            let sql = format!(
                "{with}
                 SELECT o.name FROM {from} JOIN objects o ON o.id = s.object_id
                 WHERE o.collection_id = ?1 AND s.prop IN ({placeholders}) {matching}
                 UNION
                 SELECT o.name FROM card_search s JOIN objects o ON o.id = s.object_id
                 WHERE o.collection_id = ?1 AND s.prop = '{}'
                 ORDER BY 1",
                super::CARD_SEARCH_OVERFLOW
            );
            let pattern = if trigram { format!("\"{}\"", needle.replace('"', "\"\"")) } else { needle };
            let mut args: Vec<&dyn rusqlite::ToSql> = vec![&collection_id, &pattern];
            let empty = String::new();
            if props.is_empty() {
                args.push(&empty);
            }
            for p in &props {
                args.push(p);
            }
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(args.as_slice(), |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        }))
    }

    fn object_by_uid(&self, collection_id: i64, uid: &str) -> StoreFuture<'_, Option<ObjectMeta>> {
        let uid = uid.to_owned();
        Box::pin(self.read(move |c| {
            Ok(c.prepare_cached(&format!(
                "SELECT {META_COLUMNS} FROM objects WHERE collection_id = ?1 AND uid = ?2"
            ))?
            .query_row(params![collection_id, uid], meta_from_row)
            .optional()?)
        }))
    }

    fn object_metas(&self, collection_id: i64, names: Vec<String>) -> StoreFuture<'_, Vec<ObjectMeta>> {
        Box::pin(self.read(move |c| {
            query_in_chunks(
                c,
                Some(collection_id),
                &names,
                &format!("SELECT {META_COLUMNS} FROM objects WHERE collection_id = ? AND name IN ({{}})"),
                meta_from_row,
            )
        }))
    }

    fn get_objects(&self, collection_id: i64, names: Vec<String>) -> StoreFuture<'_, Vec<Object>> {
        Box::pin(self.read(move |c| {
            query_in_chunks(
                c,
                Some(collection_id),
                &names,
                &format!(
                    "SELECT {META_COLUMNS}, body FROM objects WHERE collection_id = ? AND name IN ({{}})"
                ),
                object_from_row,
            )
        }))
    }

    fn candidates(&self, collection_id: i64, hint: QueryHint) -> StoreFuture<'_, Vec<ObjectMeta>> {
        Box::pin(self.read(move |c| {
            let mut rows = match hint.range {
                // Two index range scans on (collection_id, last_end): spans that end
                // after the range starts, and open-ended ones; then the start bound.
                Some((start, end)) => {
                    let mut stmt = c.prepare_cached(&format!(
                        "SELECT {META_COLUMNS} FROM objects
                         WHERE collection_id = ?1 AND last_end >= ?3
                           AND (first_start IS NULL OR first_start < ?4) AND (?2 IS NULL OR component = ?2)
                         UNION ALL
                         SELECT {META_COLUMNS} FROM objects
                         WHERE collection_id = ?1 AND last_end IS NULL
                           AND (first_start IS NULL OR first_start < ?4) AND (?2 IS NULL OR component = ?2)"
                    ))?;
                    stmt.query_map(params![collection_id, hint.component, start, end], meta_from_row)?
                        .collect::<Result<Vec<_>, _>>()?
                }
                None => {
                    let mut stmt = c.prepare_cached(&format!(
                        "SELECT {META_COLUMNS} FROM objects WHERE collection_id = ?1 AND (?2 IS NULL OR component = ?2)"
                    ))?;
                    stmt.query_map(params![collection_id, hint.component], meta_from_row)?
                        .collect::<Result<Vec<_>, _>>()?
                }
            };
            rows.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(rows)
        }))
    }

    fn put_object(
        &self,
        collection_id: i64,
        object: NewObject,
        condition: Condition,
    ) -> StoreFuture<'_, PutOutcome> {
        Box::pin(self.write(move |c, options| put_in(c, options, collection_id, object, condition)))
    }

    fn objects_to_reindex(&self, limit: usize) -> StoreFuture<'_, Vec<Object>> {
        Box::pin(self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {META_COLUMNS}, body FROM objects
                 WHERE id IN (SELECT object_id FROM reindex_pending ORDER BY object_id LIMIT ?1)"
            ))?;
            let rows = stmt.query_map([limit as i64], object_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        }))
    }

    fn reindex_object(&self, object_id: i64, index: Option<ObjectIndex>) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |c, _| {
            match &index {
                Some(index) => {
                    c.prepare_cached(
                        "UPDATE objects SET component = coalesce(?2, component), first_start = ?3, last_end = ?4,
                             recurring = ?5 WHERE id = ?1",
                    )?
                    .execute(params![
                        object_id,
                        index.component,
                        index.first_start,
                        index.last_end,
                        index.recurring as i64
                    ])?;
                    write_search_terms(c, object_id, &index.search, true)?;
                }
                // Unreadable now: always a candidate for searches.
                None => write_search_terms(c, object_id, &[(super::CARD_SEARCH_OVERFLOW.into(), String::new())], true)?,
            }
            c.prepare_cached("DELETE FROM reindex_pending WHERE object_id = ?1")?.execute([object_id])?;
            Ok(())
        }))
    }

    fn put_objects(
        &self,
        collection_id: i64,
        objects: Vec<(NewObject, Condition)>,
    ) -> StoreFuture<'_, Vec<PutOutcome>> {
        Box::pin(self.write(move |c, options| {
            objects
                .into_iter()
                .map(|(o, condition)| put_in(c, options, collection_id, o, condition))
                .collect()
        }))
    }

    fn transfer(&self, transfer: Transfer) -> StoreFuture<'_, TransferOutcome> {
        Box::pin(self.write(move |c, options| transfer_in(c, options, &transfer)))
    }

    fn properties(&self, resource: ResourceId) -> StoreFuture<'_, Vec<DeadProperty>> {
        Box::pin(self.read(move |c| load_properties(c, resource)))
    }

    fn object_properties(&self, object_ids: Vec<i64>) -> StoreFuture<'_, Vec<(i64, DeadProperty)>> {
        Box::pin(self.read(move |c| {
            query_in_chunks(
                c,
                None,
                &object_ids,
                "SELECT object_id, namespace, name, xml FROM properties WHERE object_id IN ({}) ORDER BY rowid",
                |r| Ok((r.get(0)?, DeadProperty { namespace: r.get(1)?, name: r.get(2)?, xml: r.get(3)? })),
            )
        }))
    }

    fn patch_properties(&self, resource: ResourceId, changes: Vec<PropertyChange>) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |c, _| {
            // RFC 4918 §9.2: instructions apply in document order.
            for change in &changes {
                match change {
                    PropertyChange::Set(p) => insert_properties(c, resource, std::slice::from_ref(p))?,
                    PropertyChange::Remove { namespace, name } => {
                        let sql = match resource {
                            ResourceId::Collection(_) => {
                                "DELETE FROM properties WHERE collection_id = ?1 AND namespace = ?2 AND name = ?3"
                            }
                            ResourceId::Object(_) => {
                                "DELETE FROM properties WHERE object_id = ?1 AND namespace = ?2 AND name = ?3"
                            }
                        };
                        let id = match resource {
                            ResourceId::Collection(id) | ResourceId::Object(id) => id,
                        };
                        c.prepare_cached(sql)?.execute(params![id, namespace, name])?;
                    }
                }
            }
            // The change is visible to sync clients of the parent (and to getctag).
            match resource {
                ResourceId::Collection(id) => {
                    let coll = get_collection(c, id)?.ok_or(StoreError::NotFound)?;
                    bump_revision(c, id)?;
                    if let Some(parent) = coll.parent_id {
                        record_change(c, parent, &coll.name, false, true)?;
                    }
                }
                ResourceId::Object(id) => {
                    let (collection, name): (i64, String) = c
                        .prepare_cached("SELECT collection_id, name FROM objects WHERE id = ?1")?
                        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()?
                        .ok_or(StoreError::NotFound)?;
                    let revision = record_change(c, collection, &name, false, false)?;
                    c.prepare_cached("UPDATE objects SET revision = ?2 WHERE id = ?1")?.execute(params![id, revision])?;
                }
            }
            Ok(())
        }))
    }

    fn changes_since(
        &self,
        collection_id: i64,
        from: i64,
        include_deleted: bool,
        limit: usize,
    ) -> StoreFuture<'_, ChangeSet> {
        Box::pin(self.read(move |c| {
            let collection = get_collection(c, collection_id)?.ok_or(StoreError::InvalidSyncToken)?;
            if from < 0 || from > collection.revision {
                return Err(StoreError::InvalidSyncToken);
            }
            let mut stmt = c.prepare_cached(
                "SELECT name, revision, deleted, is_collection FROM changes
                 WHERE collection_id = ?1 AND revision > ?2 AND (?3 OR deleted = 0)
                 ORDER BY revision LIMIT ?4",
            )?;
            let rows =
                stmt.query_map(params![collection_id, from, include_deleted, limit as i64 + 1], |r| {
                    Ok(Change {
                        name: r.get(0)?,
                        revision: r.get(1)?,
                        deleted: r.get::<_, i64>(2)? != 0,
                        is_collection: r.get::<_, i64>(3)? != 0,
                    })
                })?;
            let mut changes: Vec<Change> = rows.collect::<Result<_, _>>()?;
            let truncated = changes.len() > limit;
            changes.truncate(limit);
            let revision = if truncated {
                changes.last().map(|ch| ch.revision).unwrap_or(from)
            } else {
                collection.revision
            };
            Ok(ChangeSet { revision, changes, truncated })
        }))
    }

    fn check(&self) -> StoreFuture<'_, StoreReport> {
        Box::pin(self.read(move |c| {
            let schema_version: i64 =
                c.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
            let mut stmt = c.prepare("PRAGMA integrity_check")?;
            let integrity: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
            let count = |sql: &str| -> StoreResult<i64> { Ok(c.query_row(sql, [], |r| r.get(0))?) };
            Ok(StoreReport {
                schema_version,
                integrity,
                principals: count("SELECT COUNT(*) FROM principals")?,
                collections: count("SELECT COUNT(*) FROM collections")?,
                objects: count("SELECT COUNT(*) FROM objects")?,
                bytes: count("SELECT COALESCE(SUM(size), 0) FROM objects")?,
            })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EtagMatch, NewObject};

    fn card(uid: &str) -> NewObject {
        NewObject {
            name: format!("{uid}.vcf"),
            content_type: "text/vcard".into(),
            body: Bytes::from(format!(
                "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{uid}\r\nEND:VCARD\r\n"
            )),
            index: ObjectIndex { uid: Some(uid.into()), ..Default::default() },
        }
    }

    /// The migration writes an owner's cards with put_objects: one failed
    /// precondition must leave every card of the batch unwritten.
    #[tokio::test]
    async fn put_objects_is_all_or_none_under_preconditions() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            SqliteStore::open(&dir.path().join("t.db"), StoreOptions { default_quota: None, readers: 1 })
                .unwrap();
        let owner = crate::accounts::create_user(&store, "ann", "a-long-password", None, None).await.unwrap();
        let home = store.home(owner.id, CollectionKind::AddressbookHome).await.unwrap();
        let book = store.child_collections(home.id).await.unwrap().remove(0);
        let created = Condition { if_match: None, if_none_match: Some(EtagMatch::Any) };
        store.put_objects(book.id, vec![(card("old"), created.clone())]).await.unwrap();
        let before = store.collection(book.id).await.unwrap().unwrap().revision;

        let stale =
            Condition { if_match: Some(EtagMatch::Tags(vec!["\"stale\"".into()])), if_none_match: None };
        let result = store.put_objects(book.id, vec![(card("new"), created), (card("old"), stale)]).await;
        assert!(matches!(result, Err(StoreError::PreconditionFailed)), "{result:?}");
        assert!(
            store.get_object(book.id, "new.vcf").await.unwrap().is_none(),
            "the first card was rolled back"
        );
        assert_eq!(
            store.collection(book.id).await.unwrap().unwrap().revision,
            before,
            "no sync-token change"
        );
    }
}
