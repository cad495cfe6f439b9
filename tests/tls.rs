//! TLS as clients and scanners see it: a certificate generated at test time
//! with the `openssl` binary, HSTS and HTTP/2 by ALPN, only TLS 1.2/1.3 with
//! forward-secret AEAD suites, `skjold check` on the TLS files, and
//! certificate reload on SIGHUP.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Generates a self-signed RSA 2048 end-entity certificate for 127.0.0.1 and
/// localhost as `<stem>.cert.pem` / `<stem>.key.pem` in `dir`.
fn generate_certificate(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{stem}.cert.pem"));
    let key = dir.join(format!("{stem}.key.pem"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .args(["-addext", "keyUsage=critical,digitalSignature,keyEncipherment"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl req");
    assert!(out.status.success(), "openssl req failed: {}", String::from_utf8_lossy(&out.stderr));
    (cert, key)
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn tls_server(cert: &Path, key: &Path) -> Server {
    let server = Server::start_with("", &["--tls-cert", path_str(cert), "--tls-key", path_str(key)]);
    assert!(server.base.starts_with("https://"), "{}", server.base);
    server.add_user("alice", "alice-tls-pw");
    server
}

/// A reqwest client that trusts only `cert`.
fn trusting(cert: &Path, http1_only: bool) -> reqwest::Client {
    install_crypto();
    let pem = std::fs::read(cert).expect("read cert");
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("PEM certificate")])
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30));
    if http1_only {
        builder = builder.http1_only();
    }
    builder.build().expect("client")
}

/// Runs `openssl s_client` against the server with `args`; returns whether it
/// exited successfully and everything it printed.
fn s_client(port: u16, args: &[&str]) -> (bool, String) {
    let out = Command::new("timeout")
        .args(["30", "openssl", "s_client", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-servername", "localhost"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl s_client");
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The value after `label` (e.g. "Cipher    :") in s_client's session summary.
fn session_field(output: &str, label: &str) -> Option<String> {
    output.lines().find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_owned()))
}

/// SHA-256 fingerprint of a PEM certificate.
fn fingerprint(pem: &str) -> String {
    let mut child = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl x509");
    use std::io::Write;
    child.stdin.take().expect("stdin").write_all(pem.as_bytes()).expect("write PEM");
    let out = child.wait_with_output().expect("openssl x509");
    assert!(out.status.success(), "openssl x509: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn file_fingerprint(cert: &Path) -> String {
    fingerprint(&std::fs::read_to_string(cert).expect("read cert"))
}

/// The fingerprint of the certificate a new connection is served.
fn served_fingerprint(port: u16) -> String {
    let (ok, out) = s_client(port, &[]);
    assert!(ok, "s_client failed:\n{out}");
    let start =
        out.find("-----BEGIN CERTIFICATE-----").unwrap_or_else(|| panic!("no certificate in:\n{out}"));
    let end_marker = "-----END CERTIFICATE-----";
    let end = out[start..].find(end_marker).expect("end of certificate") + start + end_marker.len();
    fingerprint(&out[start..end])
}

fn alive(pid: u32) -> bool {
    Command::new("kill").args(["-0", &pid.to_string()]).status().is_ok_and(|s| s.success())
}

fn hangup(pid: u32) {
    let status = Command::new("kill").args(["-HUP", &pid.to_string()]).status().expect("kill -HUP");
    assert!(status.success());
}

const PROPFIND_BODY: &str =
    r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop></D:propfind>"#;

async fn propfind(http: &reqwest::Client, base: &str) -> Result<reqwest::Response, reqwest::Error> {
    http.request(
        reqwest::Method::from_bytes(b"PROPFIND").expect("method"),
        format!("{base}/dav/calendars/alice/"),
    )
    .basic_auth("alice", Some("alice-tls-pw"))
    .header("Depth", "1")
    .header("Content-Type", "application/xml")
    .body(PROPFIND_BODY)
    .send()
    .await
}

#[tokio::test]
async fn https_serves_hsts_and_negotiates_http2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = generate_certificate(dir.path(), "server");
    let server = tls_server(&cert, &key);

    let resp = propfind(&trusting(&cert, false), &server.base).await.expect("PROPFIND over TLS");
    assert_eq!(resp.status().as_u16(), 207);
    assert_eq!(resp.version(), reqwest::Version::HTTP_2, "ALPN did not select h2");
    let hsts =
        resp.headers().get("strict-transport-security").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = resp.text().await.expect("body");
    assert!(body.contains("/dav/calendars/alice/default/"), "{body}");
    let hsts = hsts.expect("no Strict-Transport-Security header over HTTPS");
    let max_age: u64 = hsts
        .split(';')
        .find_map(|p| p.trim().strip_prefix("max-age="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("HSTS without max-age: {hsts}"));
    assert!(max_age >= 86_400, "HSTS max-age too short: {hsts}");

    // HTTP/1.1 by ALPN works as well, and carries HSTS too.
    let resp = propfind(&trusting(&cert, true), &server.base).await.expect("PROPFIND over TLS, HTTP/1.1");
    assert_eq!(resp.status().as_u16(), 207);
    assert_eq!(resp.version(), reqwest::Version::HTTP_11);
    assert!(resp.headers().contains_key("strict-transport-security"));

    // Through the harness client as well, including a write.
    let alice = Client::with_http(&server.base, trusting(&cert, false), Some(("alice", "alice-tls-pw")));
    let r = alice.put("/dav/files/alice/tls.txt", "text/plain", "over TLS", &[]).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(alice.get("/dav/files/alice/tls.txt").await.body, "over TLS");
    let r = server_client_without_trust(&server.base).await;
    assert!(r.is_err(), "a client that does not trust the certificate connected: {r:?}");
}

#[tokio::test]
async fn plain_http_sends_no_hsts() {
    // RFC 6797 §7.2: the header is only meaningful (and only sent) over TLS.
    let server = Server::start();
    server.add_user("alice", "alice-tls-pw");
    let r = server.client("alice", "alice-tls-pw").propfind("/dav/", "0", PROPFIND_BODY).await;
    assert_eq!(r.status, 207);
    assert!(r.header("strict-transport-security").is_none(), "{:?}", r.headers);
}

async fn server_client_without_trust(base: &str) -> Result<u16, String> {
    install_crypto();
    let http = reqwest::Client::builder().tls_certs_only([]).build().map_err(|e| e.to_string())?;
    http.get(format!("{base}/dav/")).send().await.map(|r| r.status().as_u16()).map_err(|e| e.to_string())
}

#[tokio::test]
async fn old_protocols_and_weak_suites_are_refused_by_the_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = generate_certificate(dir.path(), "server");
    let server = tls_server(&cert, &key);

    for (args, what) in [
        (&["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"][..], "TLS 1.1"),
        (&["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"][..], "TLS 1.0"),
        (&["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"][..], "TLS 1.2 with CBC"),
        (&["-tls1_2", "-cipher", "ECDHE-RSA-AES256-SHA384"][..], "TLS 1.2 with CBC/SHA384"),
        (&["-tls1_2", "-cipher", "AES128-GCM-SHA256"][..], "TLS 1.2 without forward secrecy"),
        (&["-tls1_2", "-cipher", "AES256-GCM-SHA384"][..], "TLS 1.2 RSA key exchange"),
    ] {
        let (ok, out) = s_client(server.port, args);
        assert!(!ok, "{what} was accepted:\n{out}");
        // The client really offered it: the refusal came from the server as an alert.
        assert!(!out.contains("no protocols available"), "{what}: the client offered nothing:\n{out}");
        assert!(!out.contains("no cipher match"), "{what}: the client offered nothing:\n{out}");
        assert!(
            out.contains("alert") && out.contains("SSL alert number"),
            "{what}: no alert from the server:\n{out}"
        );
        let cipher = session_field(&out, "Cipher    :").unwrap_or_default();
        assert!(
            cipher == "0000" || cipher == "(NONE)" || cipher.is_empty(),
            "{what}: negotiated {cipher}:\n{out}"
        );
    }

    let (ok, out) = s_client(server.port, &["-tls1_2"]);
    assert!(ok, "TLS 1.2 failed:\n{out}");
    assert_eq!(session_field(&out, "Protocol  :").as_deref(), Some("TLSv1.2"), "{out}");
    let cipher = session_field(&out, "Cipher    :").expect("cipher");
    assert!(cipher.starts_with("ECDHE-"), "TLS 1.2 without ECDHE: {cipher}");
    assert!(cipher.contains("GCM") || cipher.contains("CHACHA20"), "TLS 1.2 without an AEAD: {cipher}");

    let (ok, out) = s_client(server.port, &["-tls1_3"]);
    assert!(ok, "TLS 1.3 failed:\n{out}");
    assert!(out.contains("TLSv1.3"), "{out}");
    assert!(out.contains("New, TLSv1.3, Cipher is TLS_"), "{out}");

    // ALPN as a scanner sees it.
    let (ok, out) = s_client(server.port, &["-alpn", "h2,http/1.1"]);
    assert!(ok, "{out}");
    assert!(out.contains("ALPN protocol: h2"), "{out}");
    let (ok, out) = s_client(server.port, &["-alpn", "http/1.1"]);
    assert!(ok, "{out}");
    assert!(out.contains("ALPN protocol: http/1.1"), "{out}");

    // Refused handshakes did not hurt the server.
    let resp = propfind(&trusting(&cert, false), &server.base).await.expect("PROPFIND after refusals");
    assert_eq!(resp.status().as_u16(), 207);
}

fn write_config(dir: &Path, cert: &Path, key: &Path) -> PathBuf {
    let config = dir.join("check.toml");
    std::fs::write(&config, format!("tls_cert = {:?}\ntls_key = {:?}\n", path_str(cert), path_str(key)))
        .expect("write config");
    config
}

fn check(dir: &Path, config: &Path) -> std::process::Output {
    Command::new(binary())
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(config)
        .arg("check")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run skjold check")
}

#[test]
fn check_reports_the_tls_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = generate_certificate(dir.path(), "good");
    let (_other_cert, other_key) = generate_certificate(dir.path(), "other");

    let out = check(dir.path(), &write_config(dir.path(), &cert, &key));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "check failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let tls_line =
        stdout.lines().find(|l| l.starts_with("TLS")).unwrap_or_else(|| panic!("no TLS line: {stdout}"));
    assert!(tls_line.contains("ok"), "{tls_line}");

    let out = check(dir.path(), &write_config(dir.path(), &cert, &other_key));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(!out.status.success(), "check accepted a key of another certificate: {stdout}");
    assert!(!stdout.lines().any(|l| l.starts_with("TLS") && l.contains("ok")), "{stdout}");
    assert!(
        stderr.contains("key")
            && stderr.contains("certificate")
            && (stderr.contains("fit") || stderr.contains("match")),
        "unclear message for a mismatched key: {stderr}"
    );

    let missing = dir.path().join("missing.pem");
    let out = check(dir.path(), &write_config(dir.path(), &missing, &key));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("missing.pem"), "the message does not name the missing file: {stderr}");
}

#[test]
fn serve_refuses_a_key_that_does_not_fit_the_certificate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, _) = generate_certificate(dir.path(), "a");
    let (_, other_key) = generate_certificate(dir.path(), "b");
    let mut child = Command::new(binary())
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&other_key)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start skjold");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let status = status.expect("the server started with a key that does not fit its certificate");
    assert!(!status.success());
    let out = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(stderr.contains("key"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"), "it listened anyway");
}

#[tokio::test]
async fn sighup_reloads_the_certificate_without_dropping_connections() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (first_cert, first_key) = generate_certificate(dir.path(), "first");
    let cert = dir.path().join("live.cert.pem");
    let key = dir.path().join("live.key.pem");
    std::fs::copy(&first_cert, &cert).expect("copy");
    std::fs::copy(&first_key, &key).expect("copy");
    let server = tls_server(&cert, &key);
    let pid = server.pid();
    let first = file_fingerprint(&first_cert);
    assert_eq!(served_fingerprint(server.port), first);

    // A client that trusts only the first certificate keeps a connection open.
    let old_client = trusting(&first_cert, false);
    let resp = propfind(&old_client, &server.base).await.expect("before the reload");
    assert_eq!(resp.status().as_u16(), 207);
    let _ = resp.bytes().await;

    // Renew: new key and certificate in place, then SIGHUP.
    let (second_cert, second_key) = generate_certificate(dir.path(), "second");
    let second = file_fingerprint(&second_cert);
    assert_ne!(first, second);
    replace(&second_cert, &cert);
    replace(&second_key, &key);
    hangup(pid);
    wait_for_fingerprint(server.port, &second);
    assert!(alive(pid), "the server died on SIGHUP");

    let resp = propfind(&trusting(&second_cert, false), &server.base).await.expect("new certificate");
    assert_eq!(resp.status().as_u16(), 207);
    // The connection made before the reload was not dropped (a new one would
    // fail: that client does not trust the new certificate).
    let resp =
        propfind(&old_client, &server.base).await.expect("the old connection was dropped by the reload");
    assert_eq!(resp.status().as_u16(), 207);

    // A broken renewal (key of another certificate) keeps the working one.
    let (_, third_key) = generate_certificate(dir.path(), "third");
    replace(&third_key, &key);
    hangup(pid);
    std::thread::sleep(Duration::from_secs(1));
    assert!(alive(pid), "the server died on a bad reload");
    assert_eq!(served_fingerprint(server.port), second, "a bad reload replaced the certificate");
    let resp = propfind(&trusting(&second_cert, false), &server.base).await.expect("after a bad reload");
    assert_eq!(resp.status().as_u16(), 207);

    // And a later good renewal is still picked up.
    let (fourth_cert, fourth_key) = generate_certificate(dir.path(), "fourth");
    replace(&fourth_cert, &cert);
    replace(&fourth_key, &key);
    hangup(pid);
    wait_for_fingerprint(server.port, &file_fingerprint(&fourth_cert));
    assert!(alive(pid));
}

/// Replaces `to` atomically with a copy of `from`.
fn replace(from: &Path, to: &Path) {
    let tmp = to.with_extension("tmp");
    std::fs::copy(from, &tmp).expect("copy");
    std::fs::rename(&tmp, to).expect("rename");
}

fn wait_for_fingerprint(port: u16, wanted: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let served = served_fingerprint(port);
        if served == wanted {
            return;
        }
        assert!(Instant::now() < deadline, "still serving {served}, not {wanted}, after SIGHUP");
        std::thread::sleep(Duration::from_millis(200));
    }
}
