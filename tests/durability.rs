//! Durability and concurrency: what the server acknowledged survives
//! `kill -9`, concurrent conditional writers cannot both win, and SIGTERM
//! lets requests in progress finish.

mod common;
use common::*;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PW: &str = "durable-Pw-1";

/// A write the server answered with 2xx.
#[derive(Debug, Clone)]
struct Ack {
    path: String,
    body: String,
    etag: String,
}

/// What a task writing one resource over and over sent and got.
#[derive(Debug, Default)]
struct Overwrites {
    /// Bodies in the order they were sent.
    attempts: Vec<String>,
    /// Index into `attempts` and ETag of the last acknowledged one.
    last_ack: Option<(usize, String)>,
}

fn content_type(path: &str) -> &'static str {
    if path.ends_with(".ics") { "text/calendar" } else { "text/plain" }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill9_during_concurrent_writes_loses_nothing_acknowledged() {
    let mut server = Server::start();
    server.add_user("alice", PW);
    let alice = server.client("alice", PW);
    for dir in ["/dav/files/alice/a/", "/dav/files/alice/b/"] {
        assert_eq!(alice.send("MKCOL", dir, &[], Vec::new()).await.status, 201);
    }
    for (path, body) in [("/dav/files/alice/hot-0.txt", "start"), ("/dav/files/alice/hot-1.txt", "start")] {
        assert_eq!(alice.put(path, "text/plain", body, &[]).await.status, 201);
    }

    let acks: Arc<Mutex<Vec<Ack>>> = Arc::default();
    let unexpected: Arc<Mutex<Vec<String>>> = Arc::default();
    let overwrites: Vec<Arc<Mutex<Overwrites>>> = (0..2).map(|_| Arc::default()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for task in 0..8usize {
        let client = server.client("alice", PW);
        let acks = acks.clone();
        let unexpected = unexpected.clone();
        let stop = stop.clone();
        let overwrite = (task >= 6).then(|| overwrites[task - 6].clone());
        tasks.push(tokio::spawn(async move {
            for n in 0.. {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let (path, body) = match task {
                    0..=2 => {
                        let dir = if task == 0 {
                            ""
                        } else if task == 1 {
                            "a/"
                        } else {
                            "b/"
                        };
                        let path = format!("/dav/files/alice/{dir}t{task}-{n}.txt");
                        (path, format!("task {task} file {n}\n{}", "x".repeat(n % 7 * 300)))
                    }
                    3..=5 => {
                        let uid = format!("uid-{task}-{n}");
                        (
                            format!("/dav/calendars/alice/default/{uid}.ics"),
                            event(&uid, &format!("event {task}/{n}")),
                        )
                    }
                    _ => {
                        (format!("/dav/files/alice/hot-{}.txt", task - 6), format!("task {task} version {n}"))
                    }
                };
                if let Some(o) = &overwrite {
                    o.lock().unwrap().attempts.push(body.clone());
                }
                match client
                    .try_send("PUT", &path, &[("Content-Type", content_type(&path))], body.clone())
                    .await
                {
                    Ok(r) if r.status == 201 || r.status == 204 => {
                        let etag = r.header("etag").unwrap_or_default().to_owned();
                        if etag.is_empty() {
                            unexpected.lock().unwrap().push(format!("PUT {path}: {} without ETag", r.status));
                        }
                        if let Some(o) = &overwrite {
                            let mut o = o.lock().unwrap();
                            o.last_ack = Some((o.attempts.len() - 1, etag.clone()));
                        }
                        acks.lock().unwrap().push(Ack { path, body, etag });
                    }
                    Ok(r) => {
                        unexpected.lock().unwrap().push(format!("PUT {path}: {} {}", r.status, r.body));
                    }
                    // The server was killed.
                    Err(_) => break,
                }
            }
        }));
    }

    // Let the writers get going, then pull the plug.
    let deadline = Instant::now() + Duration::from_secs(20);
    while acks.lock().unwrap().len() < 100 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill9();
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("writer task");
    }
    let unexpected = unexpected.lock().unwrap().clone();
    assert!(unexpected.is_empty(), "writes failed before the kill: {unexpected:#?}");
    let acks = acks.lock().unwrap().clone();
    assert!(acks.len() >= 50, "too few writes acknowledged to test anything: {}", acks.len());

    server.restart();
    let alice = server.client("alice", PW);

    // Every acknowledged write is there, byte for byte, with its ETag.
    let mut lost = Vec::new();
    let hot: Vec<String> = (0..2).map(|i| format!("/dav/files/alice/hot-{i}.txt")).collect();
    for ack in acks.iter().filter(|a| !hot.contains(&a.path)) {
        let r = alice.get(&ack.path).await;
        if r.status != 200 || r.body != ack.body || r.header("etag") != Some(ack.etag.as_str()) {
            lost.push(format!(
                "{}: got {} etag {:?}, acknowledged etag {}",
                ack.path,
                r.status,
                r.header("etag"),
                ack.etag
            ));
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes lost or changed:\n{}",
        lost.len(),
        acks.len(),
        lost.join("\n")
    );

    // A resource written over and over holds the last acknowledged version,
    // or the one that was in flight when the server died; never an older one.
    for (i, o) in overwrites.iter().enumerate() {
        let r = alice.get(&hot[i]).await;
        let o = o.lock().unwrap();
        assert_eq!(r.status, 200);
        match &o.last_ack {
            Some((index, etag)) => {
                let acked = &o.attempts[*index];
                let in_flight = o.attempts.get(index + 1);
                if &r.body == acked {
                    assert_eq!(r.header("etag"), Some(etag.as_str()), "{}", hot[i]);
                } else {
                    assert_eq!(Some(&r.body), in_flight, "{} went back to an older version", hot[i]);
                }
            }
            None => panic!("no overwrite of {} was acknowledged", hot[i]),
        }
    }

    // The change log agrees with the data: a sync from scratch lists every
    // acknowledged resource with its ETag, and everything it lists is there.
    for collection in
        ["/dav/files/alice/", "/dav/files/alice/a/", "/dav/files/alice/b/", "/dav/calendars/alice/default/"]
    {
        let sync = alice.sync(collection, "").await;
        let synced: BTreeMap<String, String> = sync
            .entries
            .iter()
            .filter(|e| e.status.is_none())
            .map(|e| (e.href.clone(), e.prop(DAV, "getetag").map(|p| p.text.clone()).unwrap_or_default()))
            .collect();
        for ack in acks
            .iter()
            .filter(|a| a.path.rsplit_once('/').map(|(d, _)| format!("{d}/")) == Some(collection.to_owned()))
        {
            if hot.contains(&ack.path) {
                assert!(synced.contains_key(&ack.path), "{} missing from the sync of {collection}", ack.path);
                continue;
            }
            assert_eq!(synced.get(&ack.path), Some(&ack.etag), "{} in the sync of {collection}", ack.path);
        }
        let listing = alice.props(collection, "1", &[(DAV, "getetag")]).await.multistatus();
        let listed: BTreeMap<String, String> = listing
            .entries
            .iter()
            .filter(|e| e.href != collection && !e.href.ends_with('/'))
            .map(|e| (e.href.clone(), e.prop(DAV, "getetag").map(|p| p.text.clone()).unwrap_or_default()))
            .collect();
        let synced_objects: BTreeMap<String, String> =
            synced.into_iter().filter(|(h, _)| !h.ends_with('/')).collect();
        assert_eq!(listed, synced_objects, "PROPFIND and sync of {collection} disagree");
        for (href, etag) in &listed {
            let r = alice.get(href).await;
            assert_eq!((r.status, r.header("etag")), (200, Some(etag.as_str())), "{href}");
        }
        // And the token handed out is a valid starting point.
        let token = sync.sync_token.expect("sync token");
        let again = alice.sync(collection, &token).await;
        assert!(again.entries.is_empty(), "changes after a fresh token in {collection}: {:?}", again.hrefs());
    }

    // Writes go on after the restart.
    let r = alice.put("/dav/files/alice/after.txt", "text/plain", "after", &[]).await;
    assert_eq!(r.status, 201);
    let check = server.cli(&["check"], None);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    assert!(String::from_utf8_lossy(&check.stdout).contains("integrity: ok"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_conditional_writers_exactly_one_wins() {
    let server = Server::start();
    server.add_user("alice", PW);
    let alice = server.client("alice", PW);
    let file = "/dav/files/alice/contended.txt";
    let ev = "/dav/calendars/alice/default/contended.ics";
    assert_eq!(alice.put(file, "text/plain", "v0", &[]).await.status, 201);
    assert_eq!(alice.put(ev, "text/calendar", &event("contended", "v0"), &[]).await.status, 201);
    const WRITERS: usize = 8;

    for round in 0..6 {
        for path in [file, ev] {
            let current = alice.get(path).await;
            assert_eq!(current.status, 200);
            let etag = current.etag();
            let mut handles = Vec::new();
            for w in 0..WRITERS {
                let client = server.client("alice", PW);
                let body = if path.ends_with(".ics") {
                    event("contended", &format!("round {round} writer {w}"))
                } else {
                    format!("round {round} writer {w}")
                };
                let etag = etag.clone();
                let path = path.to_owned();
                handles.push(tokio::spawn(async move {
                    let r = client
                        .send(
                            "PUT",
                            &path,
                            &[("Content-Type", content_type(&path)), ("If-Match", &etag)],
                            body.clone(),
                        )
                        .await;
                    (r.status, r.header("etag").map(str::to_owned), body)
                }));
            }
            let mut results = Vec::new();
            for h in handles {
                results.push(h.await.expect("writer"));
            }
            let winners: Vec<_> = results.iter().filter(|(s, _, _)| (200..300).contains(s)).collect();
            let statuses: Vec<u16> = results.iter().map(|r| r.0).collect();
            assert_eq!(winners.len(), 1, "round {round} {path}: statuses {statuses:?}");
            assert_eq!(
                statuses.iter().filter(|s| **s == 412).count(),
                WRITERS - 1,
                "round {round} {path}: statuses {statuses:?}"
            );
            let (_, winner_etag, winner_body) = winners[0];
            let now = alice.get(path).await;
            assert_eq!(&now.body, winner_body, "round {round} {path}: the stored body is not the winner's");
            assert_eq!(Some(now.etag()), winner_etag.clone(), "round {round} {path}");
            assert_ne!(now.etag(), etag);
        }
    }

    // Creation races: If-None-Match: * lets exactly one create.
    for round in 0..4 {
        let path = format!("/dav/files/alice/new-{round}.txt");
        let mut handles = Vec::new();
        for w in 0..WRITERS {
            let client = server.client("alice", PW);
            let path = path.clone();
            handles.push(tokio::spawn(async move {
                let body = format!("creator {w}");
                let r = client
                    .send(
                        "PUT",
                        &path,
                        &[("Content-Type", "text/plain"), ("If-None-Match", "*")],
                        body.clone(),
                    )
                    .await;
                (r.status, body)
            }));
        }
        let mut results = Vec::new();
        for h in handles {
            results.push(h.await.expect("creator"));
        }
        let statuses: Vec<u16> = results.iter().map(|r| r.0).collect();
        let created: Vec<_> = results.iter().filter(|r| r.0 == 201).collect();
        assert_eq!(created.len(), 1, "{path}: statuses {statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 412).count(), WRITERS - 1, "{path}: {statuses:?}");
        assert_eq!(alice.get(&path).await.body, created[0].1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_lets_requests_in_progress_finish() {
    let mut server = Server::start();
    server.add_user("alice", PW);
    let alice = server.client("alice", PW);
    assert_eq!(alice.put("/dav/files/alice/before.txt", "text/plain", "before", &[]).await.status, 201);

    // A large upload, half sent.
    let size = 8 * 1024 * 1024;
    let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", server.port)).await.expect("connect");
    let head = format!(
        "PUT /dav/files/alice/big.bin HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: {}\r\nContent-Type: application/octet-stream\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n",
        server.port,
        Server::basic_auth("alice", PW)
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(&body[..size / 2]).await.expect("write first half");
    stream.flush().await.expect("flush");

    // Small writes keep coming from other clients.
    let acks: Arc<Mutex<Vec<Ack>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for task in 0..4 {
        let client = server.client("alice", PW);
        let acks = acks.clone();
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            for n in 0.. {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let path = format!("/dav/files/alice/small-{task}-{n}.txt");
                let body = format!("small {task} {n}");
                match client.try_send("PUT", &path, &[("Content-Type", "text/plain")], body.clone()).await {
                    Ok(r) if r.status == 201 => acks.lock().unwrap().push(Ack {
                        path,
                        body,
                        etag: r.header("etag").unwrap_or("").to_owned(),
                    }),
                    Ok(_) | Err(_) => break,
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while acks.lock().unwrap().len() < 20 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give the server time to be inside the upload.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let pid = server.pid();
    let sent = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().expect("kill");
    assert!(sent.success());

    // New connections are no longer accepted...
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let refused = tokio::net::TcpStream::connect(("127.0.0.1", server.port)).await.is_err();
        if refused {
            break;
        }
        assert!(Instant::now() < deadline, "still accepting connections 10 s after SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.await.expect("writer");
    }

    // ...but the upload in progress completes.
    stream.write_all(&body[size / 2..]).await.expect("the server cut the upload short after SIGTERM");
    stream.flush().await.expect("flush");
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut response)).await;
    assert!(read.is_ok(), "no answer to the upload within 60 s");
    let status = raw_status(&response);
    assert_eq!(status, Some(201), "{}", String::from_utf8_lossy(&response));

    let exit = server.terminate();
    assert!(exit.success(), "exit status after SIGTERM: {exit:?}");

    server.restart();
    let alice = server.client("alice", PW);
    let r = alice.send("GET", "/dav/files/alice/big.bin", &[], Vec::new()).await;
    assert_eq!(r.status, 200);
    let got = alice_bytes(&server, "/dav/files/alice/big.bin").await;
    assert!(got == body, "the upload finished during shutdown is not stored intact ({} bytes)", got.len());
    assert_eq!(alice.get("/dav/files/alice/before.txt").await.body, "before");
    let acks = acks.lock().unwrap().clone();
    let mut seen = BTreeSet::new();
    for ack in &acks {
        let r = alice.get(&ack.path).await;
        assert_eq!(
            (r.status, r.body.as_str(), r.header("etag")),
            (200, ack.body.as_str(), Some(ack.etag.as_str())),
            "{}",
            ack.path
        );
        seen.insert(ack.path.clone());
    }
    assert!(!seen.is_empty());
}

/// The raw bytes of a GET (the harness client decodes bodies as text).
async fn alice_bytes(server: &Server, path: &str) -> Vec<u8> {
    install_crypto();
    let r = reqwest::Client::new()
        .get(format!("{}{path}", server.base))
        .basic_auth("alice", Some(PW))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status().as_u16(), 200);
    r.bytes().await.expect("body").to_vec()
}
