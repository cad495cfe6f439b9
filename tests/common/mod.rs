//! Shared harness for the integration tests: starts the real `skjold`
//! binary on a free port with a temporary data folder, creates users
//! through the real CLI, and speaks HTTP to it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

pub const DAV: &str = "DAV:";
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
pub const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
pub const CS: &str = "http://calendarserver.org/ns/";

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_skjold")
}

/// A running server with its own data folder.
pub struct Server {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub base: String,
    /// The generated password of `admin`, printed at first start.
    pub admin_password: Option<String>,
    child: Option<Child>,
    extra_args: Vec<String>,
    scheme: &'static str,
    /// Where the server's stderr goes (with `RUST_LOG=info`), if captured.
    log_file: Option<PathBuf>,
}

impl Server {
    /// A plain-HTTP server on 127.0.0.1 with the default configuration.
    pub fn start() -> Server {
        Server::start_with("", &[])
    }

    /// A server with `config` as its TOML configuration and extra `serve` flags.
    pub fn start_with(config: &str, serve_args: &[&str]) -> Server {
        Server::start_inner(config, serve_args, false)
    }

    /// Like [`Server::start_with`], but the server runs with `RUST_LOG=info`
    /// and its stderr goes to a file in the temp dir; read it with [`Server::log`].
    pub fn start_logged(config: &str, serve_args: &[&str]) -> Server {
        Server::start_inner(config, serve_args, true)
    }

    fn start_inner(config: &str, serve_args: &[&str], logged: bool) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let log_file = logged.then(|| dir.path().join("server.log"));
        std::fs::write(dir.path().join("skjold.toml"), config).expect("write config");
        let scheme = if serve_args.contains(&"--tls-cert") { "https" } else { "http" };
        let mut server = Server {
            dir,
            port: 0,
            base: String::new(),
            admin_password: None,
            child: None,
            extra_args: serve_args.iter().map(|s| s.to_string()).collect(),
            scheme,
            log_file,
        };
        server.launch("127.0.0.1:0");
        server
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self) -> Command {
        let mut c = Command::new(binary());
        c.arg("--data-dir").arg(self.data_dir()).arg("--config").arg(self.dir.path().join("skjold.toml"));
        c.env("RUST_LOG", "warn");
        c
    }

    fn launch(&mut self, listen: &str) {
        let mut command = self.command();
        command.arg("serve").arg("--listen").arg(listen).args(&self.extra_args).stdout(Stdio::piped());
        match &self.log_file {
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .expect("open the log file");
                command.env("RUST_LOG", "info").stderr(Stdio::from(file));
            }
            None => {
                command.stderr(Stdio::inherit());
            }
        }
        let mut child = command.spawn().expect("start skjold");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut port = None;
        for line in lines.by_ref() {
            let line = line.expect("read stdout");
            if let Some(rest) = line.strip_prefix("Created the account \"admin\" with the password: ") {
                self.admin_password = Some(rest.trim().to_owned());
            }
            if let Some(url) = line.strip_prefix("Skjold is listening on ") {
                let port_text = url.trim().trim_end_matches('/').rsplit(':').next().expect("port");
                port = Some(port_text.parse::<u16>().expect("numeric port"));
                break;
            }
        }
        // Keep draining stdout so that the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        self.port = port.expect("the server did not print its address");
        self.base = format!("{}://127.0.0.1:{}", self.scheme, self.port);
        self.child = Some(child);
    }

    /// Creates a user through the CLI (works while the server runs).
    pub fn add_user(&self, name: &str, password: &str) {
        let mut child = self
            .command()
            .args(["user", "add", name, "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("run user add");
        writeln!(child.stdin.take().expect("stdin"), "{password}").expect("write password");
        assert!(child.wait().expect("wait").success(), "user add {name} failed");
    }

    /// Runs a CLI command against this server's data folder.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> std::process::Output {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run cli");
        if let Some(input) = stdin {
            child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
        } else {
            drop(child.stdin.take());
        }
        child.wait_with_output().expect("cli output")
    }

    pub fn client(&self, user: &str, password: &str) -> Client {
        Client::new(&self.base, Some((user, password)))
    }

    pub fn anonymous(&self) -> Client {
        Client::new(&self.base, None)
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for the process to exit; returns its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        child.wait().expect("wait")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Starts the server again on the same port and data folder.
    pub fn restart(&mut self) {
        self.kill9();
        let listen = format!("127.0.0.1:{}", self.port);
        for _ in 0..50 {
            let free = std::net::TcpListener::bind(&listen).is_ok();
            if free {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.launch(&listen);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn etag(&self) -> String {
        self.header("etag").expect("an ETag header").to_owned()
    }

    /// The parsed multistatus body.
    pub fn multistatus(&self) -> Multistatus {
        assert_eq!(self.status, 207, "expected 207, got {}: {}", self.status, self.body);
        Multistatus::parse(&self.body)
    }

    /// The precondition element named in a `DAV:error` body, as `{ns}local`.
    pub fn error_condition(&self) -> Option<String> {
        let doc = roxmltree::Document::parse(&self.body).ok()?;
        let root = doc.root_element();
        assert_eq!(
            (root.tag_name().namespace(), root.tag_name().name()),
            (Some(DAV), "error"),
            "{}",
            self.body
        );
        root.children()
            .filter(|n| n.is_element())
            .find(|n| n.tag_name().namespace() != Some("urn:x-skjold"))
            .map(|n| format!("{{{}}}{}", n.tag_name().namespace().unwrap_or(""), n.tag_name().name()))
    }
}

/// A property value as found in a propstat.
#[derive(Debug, Clone)]
pub struct PropValue {
    pub status: u16,
    /// Text content of the property element (all descendants).
    pub text: String,
    /// `{ns}local` of each child element.
    pub children: Vec<String>,
    /// Texts of `DAV:href` descendants.
    pub hrefs: Vec<String>,
    /// The property element as XML.
    pub xml: String,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub href: String,
    pub status: Option<u16>,
    pub props: HashMap<String, PropValue>,
}

impl Entry {
    /// The property `{ns}local` with status 200.
    pub fn prop(&self, ns: &str, local: &str) -> Option<&PropValue> {
        self.props.get(&format!("{{{ns}}}{local}")).filter(|p| p.status == 200)
    }

    pub fn prop_status(&self, ns: &str, local: &str) -> Option<u16> {
        self.props.get(&format!("{{{ns}}}{local}")).map(|p| p.status)
    }

    pub fn text(&self, ns: &str, local: &str) -> String {
        self.prop(ns, local).unwrap_or_else(|| panic!("no {{{ns}}}{local} in {:?}", self)).text.clone()
    }
}

#[derive(Debug, Clone)]
pub struct Multistatus {
    pub entries: Vec<Entry>,
    pub sync_token: Option<String>,
}

fn status_code(text: &str) -> u16 {
    text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

fn name_of(n: roxmltree::Node<'_, '_>) -> String {
    format!("{{{}}}{}", n.tag_name().namespace().unwrap_or(""), n.tag_name().name())
}

impl Multistatus {
    pub fn parse(body: &str) -> Multistatus {
        let doc = roxmltree::Document::parse(body).unwrap_or_else(|e| panic!("invalid XML ({e}): {body}"));
        let root = doc.root_element();
        assert_eq!(name_of(root), "{DAV:}multistatus", "{body}");
        let mut entries = Vec::new();
        let mut sync_token = None;
        for child in root.children().filter(|n| n.is_element()) {
            match name_of(child).as_str() {
                "{DAV:}sync-token" => sync_token = child.text().map(str::to_owned),
                "{DAV:}response" => {
                    let mut entry = Entry { href: String::new(), status: None, props: HashMap::new() };
                    for part in child.children().filter(|n| n.is_element()) {
                        match name_of(part).as_str() {
                            "{DAV:}href" => entry.href = part.text().unwrap_or("").to_owned(),
                            "{DAV:}status" => entry.status = Some(status_code(part.text().unwrap_or(""))),
                            "{DAV:}propstat" => {
                                let status = part
                                    .children()
                                    .find(|n| name_of(*n) == "{DAV:}status")
                                    .map(|n| status_code(n.text().unwrap_or("")))
                                    .unwrap_or(0);
                                let Some(prop) = part.children().find(|n| name_of(*n) == "{DAV:}prop") else {
                                    continue;
                                };
                                for p in prop.children().filter(|n| n.is_element()) {
                                    let text: String = p
                                        .descendants()
                                        .filter(|n| n.is_text())
                                        .filter_map(|n| n.text())
                                        .collect();
                                    let children =
                                        p.children().filter(|n| n.is_element()).map(name_of).collect();
                                    let hrefs = p
                                        .descendants()
                                        .filter(|n| name_of(*n) == "{DAV:}href")
                                        .filter_map(|n| n.text().map(str::to_owned))
                                        .collect();
                                    let xml = body[p.range()].to_owned();
                                    entry
                                        .props
                                        .insert(name_of(p), PropValue { status, text, children, hrefs, xml });
                                }
                            }
                            _ => {}
                        }
                    }
                    entries.push(entry);
                }
                _ => {}
            }
        }
        Multistatus { entries, sync_token }
    }

    pub fn entry(&self, href: &str) -> &Entry {
        self.entries.iter().find(|e| e.href == href).unwrap_or_else(|| {
            panic!(
                "no response for {href}; have {:?}",
                self.entries.iter().map(|e| &e.href).collect::<Vec<_>>()
            )
        })
    }

    pub fn hrefs(&self) -> Vec<String> {
        let mut v: Vec<String> = self.entries.iter().map(|e| e.href.clone()).collect();
        v.sort();
        v
    }
}

/// An HTTP client for one user (or none).
#[derive(Clone)]
pub struct Client {
    pub base: String,
    http: reqwest::Client,
    credentials: Option<(String, String)>,
}

pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Client {
    pub fn new(base: &str, credentials: Option<(&str, &str)>) -> Client {
        install_crypto();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        Client {
            base: base.to_owned(),
            http,
            credentials: credentials.map(|(u, p)| (u.to_owned(), p.to_owned())),
        }
    }

    /// A client with a custom reqwest client (TLS tests).
    pub fn with_http(base: &str, http: reqwest::Client, credentials: Option<(&str, &str)>) -> Client {
        Client {
            base: base.to_owned(),
            http,
            credentials: credentials.map(|(u, p)| (u.to_owned(), p.to_owned())),
        }
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> Resp {
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{}", self.base, path) };
        let mut req = self.http.request(Method::from_bytes(method.as_bytes()).expect("method"), url);
        if let Some((u, p)) = &self.credentials {
            req = req.basic_auth(u, Some(p));
        }
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        let body = body.into();
        if !body.is_empty() {
            req = req.body(body);
        }
        let resp = req.headers(map).send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body");
        Resp { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send("GET", path, &[], Vec::new()).await
    }

    pub async fn propfind(&self, path: &str, depth: &str, body: &str) -> Resp {
        self.send(
            "PROPFIND",
            path,
            &[("Depth", depth), ("Content-Type", "application/xml; charset=utf-8")],
            body,
        )
        .await
    }

    /// PROPFIND for a list of `(namespace, name)` properties.
    pub async fn props(&self, path: &str, depth: &str, names: &[(&str, &str)]) -> Resp {
        self.propfind(path, depth, &prop_body(names)).await
    }

    pub async fn proppatch(&self, path: &str, body: &str) -> Resp {
        self.send("PROPPATCH", path, &[("Content-Type", "application/xml")], body).await
    }

    pub async fn put(&self, path: &str, content_type: &str, body: &str, extra: &[(&str, &str)]) -> Resp {
        let mut headers = vec![("Content-Type", content_type)];
        headers.extend_from_slice(extra);
        self.send("PUT", path, &headers, body).await
    }

    pub async fn delete(&self, path: &str, extra: &[(&str, &str)]) -> Resp {
        self.send("DELETE", path, extra, Vec::new()).await
    }

    pub async fn report(&self, path: &str, depth: &str, body: &str) -> Resp {
        self.send("REPORT", path, &[("Depth", depth), ("Content-Type", "application/xml")], body).await
    }

    /// A sync-collection REPORT from `token` (empty for an initial sync).
    pub async fn sync(&self, path: &str, token: &str) -> Multistatus {
        let body = format!(
            r#"<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"#
        );
        self.report(path, "0", &body).await.multistatus()
    }
}

/// `<propfind><prop>…</prop></propfind>` for these names.
pub fn prop_body(names: &[(&str, &str)]) -> String {
    let mut s = String::from(r#"<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>"#);
    for (ns, name) in names {
        s.push_str(&format!(r#"<{name} xmlns="{ns}"/>"#));
    }
    s.push_str("</D:prop></D:propfind>");
    s
}

/// A minimal valid event.
pub fn event(uid: &str, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Skjold tests//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250110T100000Z\r\nDTEND:20250110T110000Z\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// A minimal valid vCard 4.0.
pub fn vcard(uid: &str, name: &str) -> String {
    format!("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:{name}\r\nEND:VCARD\r\n")
}

pub fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

impl Server {
    /// What the server wrote to stderr so far (servers started with [`Server::start_logged`]).
    pub fn log(&self) -> String {
        let path = self.log_file.as_ref().expect("the server was started with start_logged");
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// Sends `request` as raw bytes over a new plain-TCP connection and returns
    /// everything the server sent back until it closed the connection (or 20 s
    /// passed). Write errors are ignored: the server may close early.
    pub fn raw(&self, request: &[u8]) -> Vec<u8> {
        use std::io::Read;
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(20))).expect("read timeout");
        let _ = stream.write_all(request);
        let mut out = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        out
    }

    /// The value of an `Authorization: Basic` header for these credentials.
    pub fn basic_auth(user: &str, password: &str) -> String {
        format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
    }
}

/// The status code of a raw HTTP/1.x response, if it has a status line.
pub fn raw_status(response: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(response);
    let line = text.lines().next()?;
    if !line.starts_with("HTTP/1.") {
        return None;
    }
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl Client {
    /// Like [`Client::send`], but a transport error (server gone, connection
    /// reset) is returned instead of panicking.
    pub async fn try_send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> Result<Resp, String> {
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{}", self.base, path) };
        let mut req = self.http.request(Method::from_bytes(method.as_bytes()).expect("method"), url);
        if let Some((u, p)) = &self.credentials {
            req = req.basic_auth(u, Some(p));
        }
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        let body = body.into();
        if !body.is_empty() {
            req = req.body(body);
        }
        let resp = req.headers(map).send().await.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.map_err(|e| format!("{method} {path}: body: {e}"))?;
        Ok(Resp { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() })
    }
}

impl Client {
    /// Like [`Client::send`], with the response body as raw bytes (bodies
    /// that are not UTF-8, or byte-exact comparisons).
    pub async fn send_bytes(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> (u16, HeaderMap, Vec<u8>) {
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{}", self.base, path) };
        let mut req = self.http.request(Method::from_bytes(method.as_bytes()).expect("method"), url);
        if let Some((u, p)) = &self.credentials {
            req = req.basic_auth(u, Some(p));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = body.into();
        if !body.is_empty() {
            req = req.body(body);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body").to_vec();
        (status, headers, bytes)
    }
}
