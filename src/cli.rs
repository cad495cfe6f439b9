//! The command line: `serve`, `user`, `app-password`, `check`, `import`,
//! `export` and `migrate-contacts`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand};

use crate::accounts;
use crate::auth::{self, Authenticator};
use crate::config::{Config, FileConfig, Overrides};
use crate::dav::Dav;
use crate::server::{self, App, Listener, tls};
use crate::store::sqlite::{SqliteStore, StoreOptions};
use crate::store::{Collection, CollectionKind, DeadProperty, NewCollection, Store, StoreError};

/// Skjold: a CalDAV and CardDAV server for calendars, tasks and contacts.
#[derive(Debug, Parser)]
#[command(name = "skjold", version, about, propagate_version = true)]
pub struct Cli {
    /// Folder holding the database (created if missing).
    #[arg(long, global = true, env = "SKJOLD_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Configuration file (TOML); command-line flags take precedence.
    #[arg(long, global = true, env = "SKJOLD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server. On first start it creates the account "admin" and prints its password.
    Serve(ServeArgs),
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage per-device passwords of a user.
    #[command(subcommand, name = "app-password")]
    AppPassword(AppPasswordCommand),
    /// Check the configuration, the database and the TLS files, and report what was found.
    Check(ServeArgs),
    /// Import an iCalendar file into a calendar, or a vCard file into an address book
    /// (safe to run again: unchanged objects stay untouched).
    Import(ImportArgs),
    /// Move contacts from the legacy address book (LWAB) or from exports into users' address books.
    #[command(name = "migrate-contacts")]
    MigrateContacts(MigrateArgs),
    /// Write all of a user's calendars, address books and files into a folder.
    Export {
        #[arg(long)]
        user: String,
        /// Folder to write into (created; must be empty if it exists).
        #[arg(long, value_name = "DIR")]
        output: PathBuf,
    },
}

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "SKJOLD_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// TLS certificate chain (PEM).
    #[arg(long, env = "SKJOLD_TLS_CERT", value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "SKJOLD_TLS_KEY", value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The address clients use to reach the server, when it differs (reverse proxy).
    #[arg(long, env = "SKJOLD_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["calendar", "addressbook"])))]
pub struct ImportArgs {
    /// The user whose data receives the import.
    #[arg(long)]
    pub user: String,
    /// The calendar to import an .ics file into (its URL name, e.g. "default"); created if missing.
    #[arg(long, value_name = "SLUG")]
    pub calendar: Option<String>,
    /// The address book to import a .vcf file into (vCard 2.1, 3.0 or 4.0); created if missing.
    #[arg(long, value_name = "SLUG")]
    pub addressbook: Option<String>,
    /// The file.
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Where the contacts come from: lwab-sqlite:FILE, lwab-mysql:FILE, lwab-csv:FILE,
    /// vcard:FILE-OR-FOLDER, google-csv:FILE, outlook-csv:FILE or ldif:FILE.
    #[arg(long, value_name = "KIND:PATH")]
    pub source: String,
    /// CSV of `legacy_owner,username` lines: whose contacts go to which user (lwab-* sources).
    #[arg(long, value_name = "FILE.csv")]
    pub owner_map: Option<PathBuf>,
    /// The user who receives the contacts (vcard, google-csv, outlook-csv, ldif sources).
    #[arg(long)]
    pub user: Option<String>,
    /// Migrate only this legacy owner (repeatable).
    #[arg(long = "only-owner", value_name = "ID")]
    pub only_owner: Vec<String>,
    /// The address book to write into (created if missing).
    #[arg(long, value_name = "SLUG", default_value = "default")]
    pub addressbook: String,
    /// The vCard version to write.
    #[arg(long, value_name = "3.0|4.0", default_value = "3.0")]
    pub vcard_version: String,
    /// Also migrate contacts from the legacy trash, into a separate address book "<SLUG>-trash".
    #[arg(long)]
    pub include_trashed: bool,
    /// Do everything but write: report what would happen.
    #[arg(long)]
    pub dry_run: bool,
    /// Remove the cards earlier runs of this migration wrote (same source and
    /// options), except those users changed since. With --dry-run: only report.
    #[arg(long)]
    pub undo: bool,
    /// Write the report as JSON to this file too.
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user with a calendar and an address book.
    Add {
        name: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long, value_name = "TEXT")]
        display_name: Option<String>,
        /// Read the password as one line from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a user's password.
    Passwd {
        name: String,
        /// Read the password as one line from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Stop a user from logging in (data is kept).
    Disable { name: String },
    /// Allow a disabled user to log in again.
    Enable { name: String },
    /// Delete a user and all of the user's data, irrevocably.
    Delete {
        name: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AppPasswordCommand {
    /// Create a password for one device; it is printed once.
    Add { user: String, label: String },
    /// List a user's app passwords.
    List { user: String },
    /// Revoke an app password.
    Revoke { user: String, label: String },
}

/// Runs the command line; the process exits with an error on `Err`.
pub fn run(cli: Cli) -> Result<()> {
    let file = match &cli.config {
        Some(path) => FileConfig::load(path).map_err(|e| anyhow!(e))?,
        None => FileConfig::default(),
    };
    let serve_args = match &cli.command {
        Command::Serve(a) | Command::Check(a) => Some(a),
        _ => None,
    };
    let overrides = Overrides {
        data_dir: cli.data_dir.clone(),
        listen: serve_args.and_then(|a| a.listen.clone()),
        public_url: serve_args.and_then(|a| a.public_url.clone()),
        tls_cert: serve_args.and_then(|a| a.tls_cert.clone()),
        tls_key: serve_args.and_then(|a| a.tls_key.clone()),
    };
    let config = Config::resolve(file, overrides).map_err(|e| anyhow!("configuration: {e}"))?;
    init_logging(&config.log);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(_) => serve(config).await,
            Command::User(cmd) => user(&config, cmd).await,
            Command::AppPassword(cmd) => app_password(&config, cmd).await,
            Command::Check(_) => check(&config).await,
            Command::Import(args) => import(&config, args).await,
            Command::Export { user, output } => export(&config, &user, &output).await,
            Command::MigrateContacts(args) => migrate_contacts(&config, args).await,
        }
    })
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

fn open_store(config: &Config) -> Result<Arc<SqliteStore>> {
    create_private_dir(&config.data_dir)?;
    let path = config.database_path();
    let store =
        SqliteStore::open(&path, StoreOptions { default_quota: config.dav.default_quota, readers: 4 })
            .with_context(|| format!("opening the database {}", path.display()))?;
    Ok(Arc::new(store))
}

/// Creates a folder of private data (the data folder, an export) readable
/// by its owner only.
fn create_private_dir(dir: &std::path::Path) -> Result<()> {
    if dir.exists() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if std::fs::metadata(dir).map(|m| m.permissions().mode() & 0o077 != 0).unwrap_or(false) {
                tracing::warn!(
                    "the folder {} can be read by other users of this machine; consider chmod 700",
                    dir.display()
                );
            }
        }
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating the folder {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", dir.display()))?;
    }
    Ok(())
}

async fn serve(config: Config) -> Result<()> {
    // Everything that can fail on configuration is checked before the
    // first account is created and its password shown.
    let certificates = match &config.tls {
        Some((cert, key)) => Some(Arc::new(tls::CertificateStore::open(cert, key)?)),
        None => None,
    };
    let tls_config = certificates.clone().map(tls::server_config).transpose()?;
    let store = open_store(&config)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let bound = listener.local_addr()?;

    let dyn_store: Arc<dyn Store> = store.clone();
    let reindexed = crate::collections::reindex_pending(dyn_store.as_ref()).await?;
    if reindexed > 0 {
        tracing::info!(
            objects = reindexed,
            "computed the query indexes of objects stored by an older version"
        );
    }
    if dyn_store.list_principals().await?.is_empty() {
        let password = auth::generate_password();
        accounts::create_user(dyn_store.as_ref(), "admin", &password, Some("Administrator".into()), None)
            .await?;
        println!("Created the account \"admin\" with the password: {password}");
        println!("This password is shown only once. Change it with: skjold user passwd admin");
    }
    if tls_config.is_none() && !bound.ip().is_loopback() {
        tracing::warn!(
            "serving plain HTTP on {bound}: passwords cross the network unencrypted. Use --tls-cert/--tls-key, or a reverse proxy with TLS."
        );
    }
    let dav = Dav::new(dyn_store.clone(), config.dav.clone());
    let auth =
        Authenticator::new(dyn_store, std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
    let app = Arc::new(App::new(dav, auth, config.server.clone()));

    tokio::spawn(reload_on_hangup(certificates));
    println!("Skjold is listening on {}", config.client_url(bound));
    println!("Give this address, a user name and its password to your calendar and contacts apps.");
    let _ = std::io::stdout().flush();
    server::serve(app, Listener { listener, tls: tls_config }, shutdown_signal()).await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// SIGHUP reloads the TLS certificate; without TLS it is logged and
/// otherwise ignored (it must not stop the server).
async fn reload_on_hangup(certificates: Option<Arc<tls::CertificateStore>>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangup) = signal(SignalKind::hangup()) else { return };
        while hangup.recv().await.is_some() {
            match &certificates {
                Some(c) => match c.reload() {
                    Ok(()) => tracing::info!("reloaded the TLS certificate"),
                    Err(e) => {
                        tracing::error!(error = %e, "could not reload the TLS certificate; keeping the old one")
                    }
                },
                None => tracing::info!("SIGHUP: no TLS certificate to reload"),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = certificates;
}

/// Reads a new password: one line from stdin, a double prompt on a terminal,
/// or (with neither) a generated one that is printed.
fn read_password(from_stdin: bool) -> Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("reading the password from standard input")?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        if password.is_empty() {
            bail!("the password read from standard input is empty");
        }
        return Ok((password, false));
    }
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New password: ")?;
        let second = rpassword::prompt_password("Repeat it: ")?;
        if first != second {
            bail!("the two passwords differ; nothing was changed");
        }
        if first.is_empty() {
            bail!("the password is empty; nothing was changed");
        }
        return Ok((first, false));
    }
    Ok((auth::generate_password(), true))
}

async fn user(config: &Config, cmd: UserCommand) -> Result<()> {
    let store = open_store(config)?;
    let store: &dyn Store = store.as_ref();
    match cmd {
        UserCommand::Add { name, email, display_name, password_stdin } => {
            accounts::validate_user_name(&name)?;
            let (password, generated) = read_password(password_stdin)?;
            accounts::create_user(store, &name, &password, display_name, email).await?;
            println!("Created the user {name:?} with a calendar and an address book.");
            if generated {
                println!("Password: {password}");
            }
        }
        UserCommand::Passwd { name, password_stdin } => {
            require_user(store, &name).await?;
            let (password, generated) = read_password(password_stdin)?;
            store.set_password(&name, accounts::hash(&password).await?).await?;
            println!("Changed the password of {name:?}.");
            if generated {
                println!("Password: {password}");
            }
        }
        UserCommand::List => {
            let users = store.list_principals().await?;
            if users.is_empty() {
                println!("No users yet. Create one with: skjold user add NAME");
            }
            for u in users {
                println!(
                    "{}\t{}\t{}\t{} bytes{}",
                    u.name,
                    u.display_name.as_deref().unwrap_or("-"),
                    u.email.as_deref().unwrap_or("-"),
                    u.used_bytes,
                    if u.disabled { "\tdisabled" } else { "" }
                );
            }
        }
        UserCommand::Disable { name } => {
            store.set_disabled(&name, true).await.map_err(|e| no_such(e, &name))?;
            println!("Disabled {name:?}: the user can no longer log in. Data is kept.");
        }
        UserCommand::Enable { name } => {
            store.set_disabled(&name, false).await.map_err(|e| no_such(e, &name))?;
            println!("Enabled {name:?}.");
        }
        UserCommand::Delete { name, yes } => {
            require_user(store, &name).await?;
            if !yes {
                if !std::io::stdin().is_terminal() {
                    bail!("deleting {name:?} removes all of the user's data; add --yes to confirm");
                }
                print!(
                    "Delete {name:?} and all calendars, contacts and files of this user? Type the name to confirm: "
                );
                std::io::stdout().flush()?;
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                if line.trim() != name {
                    bail!("not confirmed; nothing was deleted");
                }
            }
            store.delete_principal(&name).await.map_err(|e| no_such(e, &name))?;
            println!("Deleted {name:?} and all of the user's data.");
        }
    }
    Ok(())
}

fn no_such(e: StoreError, name: &str) -> anyhow::Error {
    match e {
        StoreError::NotFound => anyhow!("no user {name:?}"),
        other => other.into(),
    }
}

async fn require_user(store: &dyn Store, name: &str) -> Result<crate::store::Principal> {
    store.principal_by_name(name).await?.ok_or_else(|| anyhow!("no user {name:?}"))
}

async fn app_password(config: &Config, cmd: AppPasswordCommand) -> Result<()> {
    let store = open_store(config)?;
    let store: &dyn Store = store.as_ref();
    match cmd {
        AppPasswordCommand::Add { user, label } => {
            let principal = require_user(store, &user).await?;
            let password = auth::generate_password();
            store
                .add_app_password(principal.id, label.clone(), auth::hash_app_password(&password))
                .await
                .map_err(|e| match e {
                    StoreError::AlreadyExists => {
                        anyhow!("{user:?} already has an app password called {label:?}")
                    }
                    other => other.into(),
                })?;
            println!("App password {label:?} for {user:?}: {password}");
            println!("Use it instead of the account password on that one device. It is shown only once.");
        }
        AppPasswordCommand::List { user } => {
            let principal = require_user(store, &user).await?;
            for app in store.app_passwords(principal.id).await? {
                let used = app.last_used.map(crate::dav::rfc3339).unwrap_or_else(|| "never".into());
                println!("{}\tcreated {}\tlast used {}", app.label, crate::dav::rfc3339(app.created), used);
            }
        }
        AppPasswordCommand::Revoke { user, label } => {
            let principal = require_user(store, &user).await?;
            store.delete_app_password(principal.id, &label).await.map_err(|e| match e {
                StoreError::NotFound => anyhow!("{user:?} has no app password called {label:?}"),
                other => other.into(),
            })?;
            println!("Revoked {label:?} of {user:?}.");
        }
    }
    Ok(())
}

/// The user's calendar or address book of this URL name, created if it does not exist.
async fn collection_for_import(
    store: &dyn Store,
    principal: &crate::store::Principal,
    kind: CollectionKind,
    slug: &str,
) -> Result<Collection> {
    crate::dav::path::validate_name(slug).map_err(|e| anyhow!("collection name {slug:?}: {}", e.message))?;
    let home_kind = if kind == CollectionKind::Calendar {
        CollectionKind::CalendarHome
    } else {
        CollectionKind::AddressbookHome
    };
    let home = store.home(principal.id, home_kind).await?;
    if let Some(existing) = store.child_collections(home.id).await?.into_iter().find(|c| c.name == slug) {
        return Ok(existing);
    }
    let mut displayname = crate::dav::xml::Element::new(crate::dav::xml::DAV, "displayname");
    displayname.children.push(crate::dav::xml::Node::Text(slug.to_owned()));
    let components = (kind == CollectionKind::Calendar)
        .then(|| crate::dav::mkcol::DEFAULT_COMPONENTS.iter().map(|s| s.to_string()).collect());
    let created = store
        .create_collection(NewCollection {
            parent_id: home.id,
            name: slug.to_owned(),
            kind,
            components,
            properties: vec![DeadProperty {
                namespace: crate::dav::xml::DAV.into(),
                name: "displayname".into(),
                xml: displayname.to_standalone_xml(),
            }],
        })
        .await?;
    println!(
        "Created the {} {slug:?} for {:?}.",
        if kind == CollectionKind::Calendar { "calendar" } else { "address book" },
        principal.name
    );
    Ok(created)
}

async fn import(config: &Config, args: ImportArgs) -> Result<()> {
    let store = open_store(config)?;
    let store: &dyn Store = store.as_ref();
    let principal = require_user(store, &args.user).await?;
    let bytes = std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let report = if let Some(slug) = &args.calendar {
        let text = String::from_utf8(crate::ical::unfold(&bytes))
            .map_err(|_| anyhow!("{} is not UTF-8 text", args.file.display()))?;
        let calendar = collection_for_import(store, &principal, CollectionKind::Calendar, slug).await?;
        crate::import::import_calendar(store, &calendar, &text).await?
    } else {
        let slug = args.addressbook.as_deref().unwrap_or(crate::accounts::DEFAULT_ADDRESSBOOK);
        let book = collection_for_import(store, &principal, CollectionKind::Addressbook, slug).await?;
        crate::import::import_vcards(store, &book, &bytes).await?
    };
    println!("{}: {}", args.file.display(), report.summary());
    for (what, why) in &report.rejected {
        println!("  rejected {what}: {why}");
    }
    for (what, note) in &report.warnings {
        println!("  warning {what}: {note}");
    }
    Ok(())
}

async fn migrate_contacts(config: &Config, args: MigrateArgs) -> Result<()> {
    use crate::migrate::{self, Options, Source};
    let source: Source = args.source.parse().map_err(|e: String| anyhow!(e))?;
    let version = match args.vcard_version.as_str() {
        "3.0" => crate::vcard::Version::V30,
        "4.0" => crate::vcard::Version::V40,
        other => bail!("--vcard-version must be 3.0 or 4.0, not {other:?}"),
    };
    let owner_map = match &args.owner_map {
        Some(path) => migrate::read_owner_map(path).map_err(|e| anyhow!("owner map: {e}"))?,
        None => Default::default(),
    };
    let store = open_store(config)?;
    let options = Options {
        source,
        owner_map,
        user: args.user.map(|u| u.to_lowercase()),
        only_owners: args.only_owner,
        addressbook: args.addressbook,
        version,
        include_trashed: args.include_trashed,
        dry_run: args.dry_run,
        undo: args.undo,
    };
    let report = migrate::run(store.as_ref(), &options).await?;
    print!("{}", report.summary());
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("writing the report {}", path.display()))?;
        println!("report written to {}", path.display());
    }
    if report.owners.iter().any(|o| o.error.is_some()) {
        bail!("some owners could not be migrated; see the report");
    }
    Ok(())
}

async fn export(config: &Config, user: &str, output: &std::path::Path) -> Result<()> {
    let store = open_store(config)?;
    let store: &dyn Store = store.as_ref();
    let principal = require_user(store, user).await?;
    if output.exists() && std::fs::read_dir(output)?.next().is_some() {
        bail!("{} is not empty; export into a new folder", output.display());
    }
    create_private_dir(output)?;
    let summary = crate::export::export_user(store, &principal, output).await?;
    println!("Exported {user:?} into {}: {summary}", output.display());
    Ok(())
}

async fn check(config: &Config) -> Result<()> {
    println!("configuration: ok (listen {}, data folder {})", config.listen, config.data_dir.display());
    if let Some((cert, key)) = &config.tls {
        let certified = tls::load_certified_key(cert, key)?;
        println!("TLS: ok ({} certificate(s) in the chain, key matches)", certified.cert.len());
    } else {
        println!("TLS: not configured (plain HTTP; use a reverse proxy with TLS or --tls-cert/--tls-key)");
    }
    let store = open_store(config)?;
    let report = store.check().await?;
    println!(
        "database: schema version {}, {} users, {} collections, {} objects, {} bytes",
        report.schema_version, report.principals, report.collections, report.objects, report.bytes
    );
    if report.integrity != ["ok"] {
        for line in &report.integrity {
            println!("integrity: {line}");
        }
        bail!("the database failed SQLite's integrity check; restore it from a backup");
    }
    println!("integrity: ok");
    Ok(())
}
