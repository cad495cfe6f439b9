//! Security properties seen from outside: users cannot see or touch each
//! other's data (and cannot even learn what exists), authentication and its
//! throttling, account management through the CLI while the server runs,
//! CORS, hostile input, and logs that keep secrets out.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::time::Duration;

const ALICE_PW: &str = "alice-Pw-31415";
const BOB_PW: &str = "bob-Pw-27182";
const XT: &str = "urn:x-skjold-test";

/// A server with alice (who has data everywhere) and bob (who has a little).
async fn two_users() -> (Server, Client, Client) {
    let server = Server::start();
    server.add_user("alice", ALICE_PW);
    server.add_user("bob", BOB_PW);
    let alice = server.client("alice", ALICE_PW);
    let bob = server.client("bob", BOB_PW);
    for (path, ct, body) in [
        (
            "/dav/calendars/alice/default/ev1.ics",
            "text/calendar",
            event("alice-ev1", "Alice private meeting"),
        ),
        ("/dav/addressbooks/alice/default/c1.vcf", "text/vcard", vcard("alice-c1", "Alice Friend")),
        ("/dav/files/alice/notes.txt", "text/plain", "alice's notes".to_owned()),
    ] {
        let r = alice.put(path, ct, &body, &[]).await;
        assert_eq!(r.status, 201, "PUT {path}: {}", r.body);
    }
    let r = alice.send("MKCOL", "/dav/files/alice/dir/", &[], Vec::new()).await;
    assert_eq!(r.status, 201, "MKCOL: {}", r.body);
    let r = alice.put("/dav/files/alice/dir/inner.txt", "text/plain", "inner", &[]).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = alice.proppatch("/dav/calendars/alice/default/", &set_prop_body("color", "red")).await;
    assert_eq!(r.status, 207, "{}", r.body);
    let r = bob.put("/dav/files/bob/mine.txt", "text/plain", "bob's own", &[]).await;
    assert_eq!(r.status, 201, "{}", r.body);
    (server, alice, bob)
}

fn set_prop_body(name: &str, value: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:T="{XT}"><D:set><D:prop><T:{name}>{value}</T:{name}></D:prop></D:set></D:propertyupdate>"#
    )
}

const ALLPROP: &str = r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>"#;

fn sync_body(token: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"#
    )
}

/// Everything a client could learn from a response, except the date.
fn observable(r: &Resp) -> (u16, BTreeMap<String, Vec<String>>, String) {
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in &r.headers {
        if k.as_str() != "date" {
            headers.entry(k.as_str().to_owned()).or_default().push(v.to_str().unwrap_or("?").to_owned());
        }
    }
    (r.status, headers, r.body.clone())
}

/// A summary of a user's collections (members, ETags, sync tokens, a dead
/// property) and of the bodies of all objects in them.
async fn snapshot(client: &Client, user: &str) -> String {
    let mut out = String::new();
    for collection in [
        format!("/dav/calendars/{user}/default/"),
        format!("/dav/addressbooks/{user}/default/"),
        format!("/dav/files/{user}/"),
        format!("/dav/files/{user}/dir/"),
    ] {
        let r = client
            .props(
                &collection,
                "1",
                &[(DAV, "getetag"), (DAV, "sync-token"), (DAV, "displayname"), (XT, "color")],
            )
            .await;
        if r.status == 404 {
            out.push_str(&format!("{collection}: 404\n"));
            continue;
        }
        let ms = r.multistatus();
        for e in &ms.entries {
            let prop = |ns: &str, local: &str| e.prop(ns, local).map(|p| p.text.clone()).unwrap_or_default();
            out.push_str(&format!(
                "{} etag={} token={} name={} color={}\n",
                e.href,
                prop(DAV, "getetag"),
                prop(DAV, "sync-token"),
                prop(DAV, "displayname"),
                prop(XT, "color")
            ));
            if !e.href.ends_with('/') {
                let body = client.get(&e.href).await;
                out.push_str(&format!("  {} {}\n", body.status, body.body));
            }
        }
    }
    out
}

/// One request bob tries on a path.
struct Attempt {
    method: &'static str,
    headers: Vec<(&'static str, String)>,
    body: String,
}

fn attempts(server: &Server, path: &str) -> Vec<Attempt> {
    let put_body = if path.starts_with("/dav/calendars/") {
        event("bob-intruder", "intrusion")
    } else if path.starts_with("/dav/addressbooks/") {
        vcard("bob-intruder", "Intruder")
    } else {
        "overwritten by bob".to_owned()
    };
    let put_type = if path.starts_with("/dav/calendars/") {
        "text/calendar"
    } else if path.starts_with("/dav/addressbooks/") {
        "text/vcard"
    } else {
        "text/plain"
    };
    let area = path.split('/').nth(2).unwrap_or("files");
    let destination = format!("{}/dav/{area}/bob/stolen", server.base);
    let a = |method, headers: Vec<(&'static str, String)>, body: String| Attempt { method, headers, body };
    vec![
        a("GET", vec![], String::new()),
        a("HEAD", vec![], String::new()),
        a(
            "PROPFIND",
            vec![("Depth", "0".into()), ("Content-Type", "application/xml".into())],
            ALLPROP.into(),
        ),
        a(
            "PROPFIND",
            vec![("Depth", "1".into()), ("Content-Type", "application/xml".into())],
            ALLPROP.into(),
        ),
        a("PROPFIND", vec![("Depth", "0".into())], String::new()),
        a("PUT", vec![("Content-Type", put_type.into())], put_body.clone()),
        a("PUT", vec![("Content-Type", put_type.into()), ("If-None-Match", "*".into())], put_body),
        a("DELETE", vec![], String::new()),
        a("PROPPATCH", vec![("Content-Type", "application/xml".into())], set_prop_body("color", "stolen")),
        a("MKCOL", vec![], String::new()),
        a("MKCALENDAR", vec![], String::new()),
        a("COPY", vec![("Destination", destination.clone())], String::new()),
        a("COPY", vec![("Destination", destination.clone()), ("Depth", "0".into())], String::new()),
        a("MOVE", vec![("Destination", destination)], String::new()),
        a("REPORT", vec![("Depth", "0".into()), ("Content-Type", "application/xml".into())], sync_body("")),
        a("OPTIONS", vec![], String::new()),
    ]
}

#[tokio::test]
async fn users_cannot_see_or_touch_each_others_data_nor_learn_what_exists() {
    let (server, alice, bob) = two_users().await;
    let alice_before = snapshot(&alice, "alice").await;
    let bob_before = snapshot(&bob, "bob").await;
    assert!(alice_before.contains("ev1.ics") && alice_before.contains("inner.txt"), "{alice_before}");

    // (alice's existing path, the same place of a user that does not exist,
    //  a resource of alice's that does not exist)
    let places: &[(&str, &str, Option<&str>)] = &[
        ("/dav/principals/alice/", "/dav/principals/carol/", None),
        ("/dav/calendars/alice/", "/dav/calendars/carol/", None),
        (
            "/dav/calendars/alice/default/",
            "/dav/calendars/carol/default/",
            Some("/dav/calendars/alice/nocal/"),
        ),
        (
            "/dav/calendars/alice/default/ev1.ics",
            "/dav/calendars/carol/default/ev1.ics",
            Some("/dav/calendars/alice/default/none.ics"),
        ),
        ("/dav/addressbooks/alice/", "/dav/addressbooks/carol/", None),
        (
            "/dav/addressbooks/alice/default/",
            "/dav/addressbooks/carol/default/",
            Some("/dav/addressbooks/alice/nobook/"),
        ),
        (
            "/dav/addressbooks/alice/default/c1.vcf",
            "/dav/addressbooks/carol/default/c1.vcf",
            Some("/dav/addressbooks/alice/default/none.vcf"),
        ),
        ("/dav/files/alice/", "/dav/files/carol/", None),
        ("/dav/files/alice/notes.txt", "/dav/files/carol/notes.txt", Some("/dav/files/alice/none.txt")),
        ("/dav/files/alice/dir/", "/dav/files/carol/dir/", Some("/dav/files/alice/nodir/")),
        (
            "/dav/files/alice/dir/inner.txt",
            "/dav/files/carol/dir/inner.txt",
            Some("/dav/files/alice/nodir/x.txt"),
        ),
    ];
    let mut failures = Vec::new();
    for (existing, no_user, no_resource) in places {
        for (i, attempt) in attempts(&server, existing).iter().enumerate() {
            let headers: Vec<(&str, &str)> = attempt.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let on_alice = bob.send(attempt.method, existing, &headers, attempt.body.clone()).await;
            let what = format!("bob {} #{i} {existing}", attempt.method);
            if attempt.method == "OPTIONS" {
                // OPTIONS is answered from the path's shape alone: it must not differ either.
                let other = bob.send("OPTIONS", no_user, &[], Vec::new()).await;
                if observable(&on_alice) != observable(&other) {
                    failures
                        .push(format!("{what}: OPTIONS differs from {no_user}: {on_alice:?} vs {other:?}"));
                }
                continue;
            }
            if on_alice.status != 404 {
                failures.push(format!("{what}: expected 404, got {} {}", on_alice.status, on_alice.body));
            }
            let mut others = vec![*no_user];
            others.extend(no_resource.iter().copied());
            for other_path in others {
                let other = bob.send(attempt.method, other_path, &headers, attempt.body.clone()).await;
                if observable(&on_alice) != observable(&other) {
                    failures.push(format!(
                        "{what}: answer differs from {} on {other_path}:\n  alice's: {:?}\n  other:   {:?}",
                        attempt.method,
                        observable(&on_alice),
                        observable(&other)
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} leaks:\n{}", failures.len(), failures.join("\n"));

    assert_eq!(snapshot(&alice, "alice").await, alice_before, "alice's data changed");
    assert_eq!(snapshot(&bob, "bob").await, bob_before, "bob's space changed");
    for area in ["calendars", "addressbooks", "files"] {
        let r = bob.get(&format!("/dav/{area}/bob/stolen")).await;
        assert_eq!(r.status, 404, "something was created in bob's {area}: {}", r.body);
    }
}

#[tokio::test]
async fn listings_show_only_the_callers_own_spaces() {
    let (server, _alice, bob) = two_users().await;
    let admin = server.client("admin", server.admin_password.as_deref().expect("admin password"));
    for (client, user) in [(&bob, "bob"), (&admin, "admin")] {
        for (place, own) in [
            ("/dav/principals/", format!("/dav/principals/{user}/")),
            ("/dav/calendars/", format!("/dav/calendars/{user}/")),
            ("/dav/addressbooks/", format!("/dav/addressbooks/{user}/")),
            ("/dav/files/", format!("/dav/files/{user}/")),
        ] {
            let r = client.propfind(place, "1", ALLPROP).await;
            assert_eq!(r.multistatus().hrefs(), vec![place.to_owned(), own], "{user} PROPFIND {place}");
            for other in ["alice", "bob", "admin"].iter().filter(|o| **o != user) {
                assert!(!r.body.contains(other), "{user}'s listing of {place} mentions {other}: {}", r.body);
            }
        }
        let root = client.propfind("/dav/", "1", ALLPROP).await;
        assert!(!root.body.contains("alice") || user == "alice", "{}", root.body);
    }
}

#[tokio::test]
async fn copy_and_move_into_another_users_space_are_refused() {
    let (server, alice, bob) = two_users().await;
    let alice_before = snapshot(&alice, "alice").await;
    let bob_before = snapshot(&bob, "bob").await;
    let base = &server.base;
    for method in ["COPY", "MOVE"] {
        for (source, target, no_user_target) in [
            ("/dav/files/alice/notes.txt", "/dav/files/bob/notes.txt", "/dav/files/carol/notes.txt"),
            // Over an existing resource of bob's.
            ("/dav/files/alice/notes.txt", "/dav/files/bob/mine.txt", "/dav/files/carol/mine.txt"),
            ("/dav/files/alice/dir/", "/dav/files/bob/dir/", "/dav/files/carol/dir/"),
            (
                "/dav/calendars/alice/default/ev1.ics",
                "/dav/calendars/bob/default/ev1.ics",
                "/dav/calendars/carol/default/ev1.ics",
            ),
            (
                "/dav/addressbooks/alice/default/c1.vcf",
                "/dav/addressbooks/bob/default/c1.vcf",
                "/dav/addressbooks/carol/default/c1.vcf",
            ),
            ("/dav/calendars/alice/default/", "/dav/calendars/bob/taken/", "/dav/calendars/carol/taken/"),
        ] {
            for destination in [format!("{base}{target}"), target.to_owned()] {
                let r = alice
                    .send(
                        method,
                        source,
                        &[("Destination", destination.as_str()), ("Overwrite", "T")],
                        Vec::new(),
                    )
                    .await;
                assert_eq!(r.status, 403, "{method} {source} -> {destination}: {}", r.body);
                let carol_destination = destination.replace(target, no_user_target);
                let other = alice
                    .send(
                        method,
                        source,
                        &[("Destination", carol_destination.as_str()), ("Overwrite", "T")],
                        Vec::new(),
                    )
                    .await;
                assert_eq!(
                    observable(&r),
                    observable(&other),
                    "{method} into bob's space answers differently from into a user that does not exist"
                );
            }
        }
    }
    // Dot segments in the Destination cannot climb into another space.
    for destination in [
        "/dav/files/alice/../bob/escape.txt".to_owned(),
        format!("{base}/dav/files/alice/dir/../../bob/escape.txt"),
        "/dav/files/alice/%2e%2e/bob/escape.txt".to_owned(),
    ] {
        let r = alice
            .send("COPY", "/dav/files/alice/notes.txt", &[("Destination", destination.as_str())], Vec::new())
            .await;
        assert!((400..500).contains(&r.status), "COPY to {destination}: {} {}", r.status, r.body);
    }
    // Bob trying to pull alice's file into his space fails the same way as a missing one.
    let r = bob
        .send(
            "COPY",
            "/dav/files/alice/notes.txt",
            &[("Destination", "/dav/files/bob/pulled.txt")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(snapshot(&alice, "alice").await, alice_before, "alice's data changed");
    assert_eq!(snapshot(&bob, "bob").await, bob_before, "something appeared in or changed bob's space");
    assert_eq!(bob.get("/dav/files/bob/mine.txt").await.body, "bob's own");
}

#[tokio::test]
async fn a_sync_token_of_another_users_collection_is_invalid() {
    let (_server, alice, bob) = two_users().await;
    let alice_token =
        alice.sync("/dav/calendars/alice/default/", "").await.sync_token.expect("alice's token");
    let bob_token = bob.sync("/dav/calendars/bob/default/", "").await.sync_token.expect("bob's token");
    assert_ne!(alice_token, bob_token);
    for (collection, token) in [
        ("/dav/calendars/bob/default/", &alice_token),
        ("/dav/addressbooks/bob/default/", &alice_token),
        ("/dav/files/bob/", &alice_token),
        ("/dav/addressbooks/bob/default/", &bob_token),
    ] {
        let r = bob.report(collection, "0", &sync_body(token)).await;
        assert_eq!(r.status, 403, "sync of {collection} with {token}: {}", r.body);
        assert_eq!(r.error_condition().as_deref(), Some("{DAV:}valid-sync-token"), "{}", r.body);
        assert!(!r.body.contains("ev1"), "{}", r.body);
    }
    // His own token still works.
    let r = bob.sync("/dav/calendars/bob/default/", &bob_token).await;
    assert!(r.entries.is_empty(), "{:?}", r.entries);
}

// ------------------------------------------------------------ authentication

#[tokio::test]
async fn unknown_users_and_wrong_passwords_get_the_same_answer() {
    let server = Server::start();
    server.add_user("alice", ALICE_PW);
    let wrong_password = server.client("alice", "not-her-password").propfind("/dav/", "0", ALLPROP).await;
    let unknown_user = server.client("nobody", "not-her-password").propfind("/dav/", "0", ALLPROP).await;
    assert_eq!(wrong_password.status, 401, "{}", wrong_password.body);
    assert!(wrong_password.header("www-authenticate").is_some_and(|v| v.starts_with("Basic ")));
    assert_eq!(observable(&wrong_password), observable(&unknown_user));
    let anonymous = server.anonymous().propfind("/dav/", "0", ALLPROP).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.header("www-authenticate"), wrong_password.header("www-authenticate"));
    let ok = server.client("alice", ALICE_PW).propfind("/dav/", "0", ALLPROP).await;
    assert_eq!(ok.status, 207, "{}", ok.body);
}

#[tokio::test]
async fn repeated_failures_from_one_client_are_throttled() {
    let server = Server::start();
    server.add_user("alice", ALICE_PW);
    server.add_user("bob", BOB_PW);
    let wrong = server.client("alice", "guess");
    for i in 1..=6 {
        let r = wrong.propfind("/dav/", "0", ALLPROP).await;
        assert_eq!(r.status, 401, "failure {i}: {}", r.body);
    }
    let right = server.client("alice", ALICE_PW);
    let r = right.propfind("/dav/", "0", ALLPROP).await;
    assert_eq!(r.status, 429, "after 6 failures the right password must wait too: {}", r.body);
    let retry_after: u64 = r
        .header("retry-after")
        .unwrap_or_else(|| panic!("429 without Retry-After: {:?}", r.headers))
        .trim()
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=15 * 60).contains(&retry_after), "Retry-After {retry_after}");
    assert!(r.header("content-type").is_some_and(|c| c.contains("xml")), "{:?}", r.headers);
    // The client address is blocked, whatever account it tries.
    let other = server.client("bob", BOB_PW).propfind("/dav/", "0", ALLPROP).await;
    assert_eq!(other.status, 429, "{}", other.body);
    // X-Forwarded-For is not trusted unless configured: it cannot dodge the block.
    let spoofed = server
        .client("bob", BOB_PW)
        .send("PROPFIND", "/dav/", &[("Depth", "0"), ("X-Forwarded-For", "203.0.113.7")], ALLPROP)
        .await;
    assert_eq!(spoofed.status, 429, "X-Forwarded-For escaped the block: {}", spoofed.body);

    // After waiting as told, the right password gets in.
    tokio::time::sleep(Duration::from_secs(retry_after + 1)).await;
    let r = right.propfind("/dav/", "0", ALLPROP).await;
    assert_eq!(r.status, 207, "{}", r.body);
}

#[tokio::test]
async fn requests_without_credentials_do_not_count_as_failures() {
    // Clients commonly ask without credentials first and answer the challenge.
    let server = Server::start();
    server.add_user("alice", ALICE_PW);
    for _ in 0..12 {
        assert_eq!(server.anonymous().propfind("/dav/", "0", ALLPROP).await.status, 401);
    }
    let r = server.client("alice", ALICE_PW).propfind("/dav/", "0", ALLPROP).await;
    assert_eq!(r.status, 207, "anonymous probes locked the client out: {}", r.body);
}

#[tokio::test]
async fn a_disabled_user_is_locked_out_until_enabled() {
    let server = Server::start();
    server.add_user("alice", ALICE_PW);
    let alice = server.client("alice", ALICE_PW);
    assert_eq!(alice.propfind("/dav/", "0", ALLPROP).await.status, 207);
    let out = server.cli(&["app-password", "add", "alice", "laptop"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let app_password = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.contains("laptop"))
        .and_then(|l| l.rsplit(' ').next())
        .expect("app password")
        .trim()
        .to_owned();
    let laptop = server.client("alice", &app_password);
    assert_eq!(laptop.propfind("/dav/", "0", ALLPROP).await.status, 207);

    let out = server.cli(&["user", "disable", "alice"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = alice.propfind("/dav/", "0", ALLPROP).await;
    assert_eq!(r.status, 401, "a disabled user (with a cached login) got in: {}", r.body);
    assert_eq!(alice.get("/dav/files/alice/").await.status, 401);
    let r = laptop.propfind("/dav/", "0", ALLPROP).await;
    assert_eq!(r.status, 401, "a disabled user got in with an app password: {}", r.body);

    let out = server.cli(&["user", "enable", "alice"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(alice.propfind("/dav/", "0", ALLPROP).await.status, 207);
    assert_eq!(laptop.propfind("/dav/", "0", ALLPROP).await.status, 207);
}

#[tokio::test]
async fn a_changed_password_takes_effect_at_once() {
    let server = Server::start();
    server.add_user("alice", ALICE_PW);
    let old = server.client("alice", ALICE_PW);
    // Logged in (and cached) before the change.
    assert_eq!(old.propfind("/dav/", "0", ALLPROP).await.status, 207);
    assert_eq!(old.propfind("/dav/", "0", ALLPROP).await.status, 207);

    let out = server.cli(&["user", "passwd", "alice", "--password-stdin"], Some("brand-new-Pw-1\n"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = old.propfind("/dav/", "0", ALLPROP).await;
    assert_eq!(r.status, 401, "the old password still works after passwd: {}", r.body);
    let new = server.client("alice", "brand-new-Pw-1");
    assert_eq!(new.propfind("/dav/", "0", ALLPROP).await.status, 207);
    assert_eq!(old.propfind("/dav/", "0", ALLPROP).await.status, 401);
}

#[tokio::test]
async fn deleting_a_user_removes_the_users_data() {
    let server = Server::start();
    server.add_user("alice", ALICE_PW);
    let alice = server.client("alice", ALICE_PW);
    assert_eq!(
        alice
            .put("/dav/calendars/alice/default/ev.ics", "text/calendar", &event("e1", "x"), &[])
            .await
            .status,
        201
    );
    assert_eq!(
        alice.put("/dav/addressbooks/alice/default/c.vcf", "text/vcard", &vcard("c1", "C"), &[]).await.status,
        201
    );
    assert_eq!(alice.put("/dav/files/alice/f.txt", "text/plain", "file", &[]).await.status, 201);
    assert_eq!(alice.send("MKCALENDAR", "/dav/calendars/alice/work/", &[], Vec::new()).await.status, 201);
    let r = alice.proppatch("/dav/calendars/alice/default/", &set_prop_body("color", "red")).await;
    assert_eq!(r.status, 207);
    let old_token = alice.sync("/dav/calendars/alice/default/", "").await.sync_token.expect("token");

    // Without --yes (and no terminal to confirm on) nothing is deleted.
    let out = server.cli(&["user", "delete", "alice"], Some("alice\n"));
    assert!(!out.status.success(), "deleted without --yes");
    assert_eq!(alice.get("/dav/files/alice/f.txt").await.body, "file");

    let out = server.cli(&["user", "delete", "alice", "--yes"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(alice.propfind("/dav/", "0", ALLPROP).await.status, 401, "a deleted user can still log in");
    let listed = server.cli(&["user", "list"], None);
    assert!(!String::from_utf8_lossy(&listed.stdout).contains("alice"));

    server.add_user("alice", "second-life-Pw");
    assert_eq!(
        alice.propfind("/dav/", "0", ALLPROP).await.status,
        401,
        "the old password of a deleted user works"
    );
    let alice = server.client("alice", "second-life-Pw");
    for (home, only) in [
        ("/dav/calendars/alice/", vec!["/dav/calendars/alice/", "/dav/calendars/alice/default/"]),
        ("/dav/addressbooks/alice/", vec!["/dav/addressbooks/alice/", "/dav/addressbooks/alice/default/"]),
        ("/dav/files/alice/", vec!["/dav/files/alice/"]),
        ("/dav/calendars/alice/default/", vec!["/dav/calendars/alice/default/"]),
        ("/dav/addressbooks/alice/default/", vec!["/dav/addressbooks/alice/default/"]),
    ] {
        let r = alice.props(home, "1", &[(DAV, "getetag")]).await.multistatus();
        assert_eq!(r.hrefs(), only, "{home} after delete and re-create");
    }
    let color = alice.props("/dav/calendars/alice/default/", "0", &[(XT, "color")]).await.multistatus();
    assert!(color.entries[0].prop(XT, "color").is_none(), "a dead property survived: {:?}", color.entries[0]);
    for gone in [
        "/dav/calendars/alice/default/ev.ics",
        "/dav/files/alice/f.txt",
        "/dav/addressbooks/alice/default/c.vcf",
    ] {
        assert_eq!(alice.get(gone).await.status, 404, "{gone}");
    }
    let r = alice.report("/dav/calendars/alice/default/", "0", &sync_body(&old_token)).await;
    assert_eq!(r.status, 403, "a token of the deleted calendar was accepted: {}", r.body);
    assert_eq!(r.error_condition().as_deref(), Some("{DAV:}valid-sync-token"));
}

#[tokio::test]
async fn app_passwords_work_until_revoked() {
    let server = Server::start();
    server.add_user("alice", ALICE_PW);
    let out = server.cli(&["app-password", "add", "alice", "phone"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line =
        stdout.lines().find(|l| l.contains("phone")).unwrap_or_else(|| panic!("no password in {stdout}"));
    let password = line.rsplit(' ').next().expect("password").trim().to_owned();
    assert!(password.len() >= 16, "{line}");

    let phone = server.client("alice", &password);
    assert_eq!(phone.propfind("/dav/calendars/alice/", "1", ALLPROP).await.status, 207);
    assert_eq!(phone.put("/dav/files/alice/from-phone.txt", "text/plain", "hi", &[]).await.status, 201);
    // Another user cannot use it.
    server.add_user("bob", BOB_PW);
    assert_eq!(server.client("bob", &password).propfind("/dav/", "0", ALLPROP).await.status, 401);

    let listed = server.cli(&["app-password", "list", "alice"], None);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("phone"));
    assert!(!String::from_utf8_lossy(&listed.stdout).contains(&password), "list shows the password");

    let out = server.cli(&["app-password", "revoke", "alice", "phone"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = phone.propfind("/dav/", "0", ALLPROP).await;
    assert_eq!(r.status, 401, "a revoked app password still works: {}", r.body);
    let main = server.client("alice", ALICE_PW);
    assert_eq!(main.get("/dav/files/alice/from-phone.txt").await.body, "hi");
}

// ---------------------------------------------------------------------- CORS

const ORIGIN: &str = "https://mail.example.com";

fn cors_server() -> Server {
    let server = Server::start_with(r#"cors_allowed_origins = ["https://mail.example.com"]"#, &[]);
    server.add_user("alice", ALICE_PW);
    server
}

fn list_contains(value: Option<&str>, wanted: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|item| item.trim().eq_ignore_ascii_case(wanted)))
}

fn access_control_headers(r: &Resp) -> Vec<String> {
    r.headers.keys().map(|k| k.as_str().to_owned()).filter(|k| k.starts_with("access-control-")).collect()
}

#[tokio::test]
async fn cors_preflight_from_an_allowed_origin_needs_no_login() {
    let server = cors_server();
    let r = server
        .anonymous()
        .send(
            "OPTIONS",
            "/dav/calendars/alice/default/",
            &[
                ("Origin", ORIGIN),
                ("Access-Control-Request-Method", "PROPFIND"),
                ("Access-Control-Request-Headers", "authorization, depth, content-type"),
            ],
            Vec::new(),
        )
        .await;
    assert!((200..300).contains(&r.status), "preflight: {} {}", r.status, r.body);
    assert!(r.header("www-authenticate").is_none());
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    let methods = r.header("access-control-allow-methods");
    for m in ["PROPFIND", "REPORT", "PUT", "DELETE", "PROPPATCH", "MKCOL", "COPY", "MOVE"] {
        assert!(list_contains(methods, m), "Allow-Methods {methods:?} lacks {m}");
    }
    let allowed = r.header("access-control-allow-headers");
    for h in [
        "Authorization",
        "Depth",
        "If-Match",
        "If-None-Match",
        "Destination",
        "Overwrite",
        "Prefer",
        "Content-Type",
    ] {
        assert!(list_contains(allowed, h), "Allow-Headers {allowed:?} lacks {h}");
    }
}

#[tokio::test]
async fn cors_actual_requests_from_an_allowed_origin_carry_the_headers() {
    let server = cors_server();
    let alice = server.client("alice", ALICE_PW);
    let check = |r: &Resp, what: &str| {
        assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN), "{what}: {:?}", r.headers);
        assert_eq!(r.header("access-control-allow-credentials"), Some("true"), "{what}");
        let vary: Vec<&str> = r.headers.get_all("vary").iter().filter_map(|v| v.to_str().ok()).collect();
        assert!(vary.iter().any(|v| list_contains(Some(v), "Origin")), "{what}: Vary {vary:?}");
        let expose = r.header("access-control-expose-headers");
        for h in ["ETag", "DAV", "Location"] {
            assert!(list_contains(expose, h), "{what}: Expose-Headers {expose:?} lacks {h}");
        }
    };
    let r =
        alice.send("PROPFIND", "/dav/calendars/alice/", &[("Origin", ORIGIN), ("Depth", "1")], ALLPROP).await;
    assert_eq!(r.status, 207);
    check(&r, "PROPFIND");
    let r = alice
        .send(
            "PUT",
            "/dav/calendars/alice/default/cors.ics",
            &[("Origin", ORIGIN), ("Content-Type", "text/calendar")],
            event("cors-1", "from the web"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    check(&r, "PUT");
    // A failed login must be readable by the web app too (it shows a login form).
    let r = server.client("alice", "wrong").send("PROPFIND", "/dav/", &[("Origin", ORIGIN)], ALLPROP).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN), "{:?}", r.headers);
}

#[tokio::test]
async fn cors_other_origins_get_no_access_control_headers() {
    let server = cors_server();
    let alice = server.client("alice", ALICE_PW);
    for origin in
        ["https://evil.example.com", "http://mail.example.com", "https://mail.example.com.evil.net", "null"]
    {
        let pre = server
            .anonymous()
            .send(
                "OPTIONS",
                "/dav/calendars/alice/default/",
                &[
                    ("Origin", origin),
                    ("Access-Control-Request-Method", "PROPFIND"),
                    ("Access-Control-Request-Headers", "authorization, depth"),
                ],
                Vec::new(),
            )
            .await;
        assert_eq!(
            access_control_headers(&pre),
            Vec::<String>::new(),
            "preflight from {origin}: {:?}",
            pre.headers
        );
        let r = alice
            .send("PROPFIND", "/dav/calendars/alice/", &[("Origin", origin), ("Depth", "0")], ALLPROP)
            .await;
        assert_eq!(r.status, 207);
        assert_eq!(
            access_control_headers(&r),
            Vec::<String>::new(),
            "PROPFIND from {origin}: {:?}",
            r.headers
        );
        let r = alice
            .send("PUT", "/dav/files/alice/x.txt", &[("Origin", origin), ("Content-Type", "text/plain")], "x")
            .await;
        assert!(r.status == 201 || r.status == 204, "{}", r.body);
        assert_eq!(access_control_headers(&r), Vec::<String>::new(), "PUT from {origin}: {:?}", r.headers);
    }
}

#[tokio::test]
async fn options_without_a_cors_request_method_is_dav_options() {
    let server = cors_server();
    for headers in [vec![], vec![("Origin", ORIGIN)]] {
        let r =
            server.anonymous().send("OPTIONS", "/dav/calendars/alice/default/", &headers, Vec::new()).await;
        assert!((200..300).contains(&r.status), "{headers:?}: {}", r.status);
        let dav = r.header("dav").unwrap_or_else(|| panic!("{headers:?}: no DAV header: {:?}", r.headers));
        assert!(list_contains(Some(dav), "1") && list_contains(Some(dav), "calendar-access"), "{dav}");
        let allow = r.header("allow");
        for m in ["PROPFIND", "REPORT", "PUT"] {
            assert!(list_contains(allow, m), "{headers:?}: Allow {allow:?}");
        }
        assert!(r.header("access-control-allow-methods").is_none(), "{headers:?}: answered as a preflight");
    }
}

// ---------------------------------------------------------------- bad input

fn assert_dav_error(r: &Resp, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.body);
    let ct = r.header("content-type").unwrap_or("");
    assert!(ct.contains("xml"), "{what}: Content-Type {ct:?}");
    let doc = roxmltree::Document::parse(&r.body)
        .unwrap_or_else(|e| panic!("{what}: body is not XML ({e}): {}", r.body));
    let root = doc.root_element();
    assert_eq!(
        (root.tag_name().namespace(), root.tag_name().name()),
        (Some(DAV), "error"),
        "{what}: {}",
        r.body
    );
}

/// The raw response split into status, header block and body.
fn split_raw(raw: &[u8]) -> (Option<u16>, String, String) {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (raw_status(raw), head.to_ascii_lowercase(), body.to_owned())
}

async fn bad_input_server(config: &str) -> (Server, Client) {
    let server = Server::start_with(config, &[]);
    server.add_user("alice", ALICE_PW);
    let alice = server.client("alice", ALICE_PW);
    assert_eq!(alice.put("/dav/files/alice/keep.txt", "text/plain", "keep me", &[]).await.status, 201);
    assert_eq!(
        alice.put("/dav/calendars/alice/default/e.ics", "text/calendar", &event("e", "E"), &[]).await.status,
        201
    );
    assert_eq!(alice.send("MKCOL", "/dav/files/alice/dir/", &[], Vec::new()).await.status, 201);
    (server, alice)
}

#[tokio::test]
async fn oversized_xml_bodies_are_refused() {
    let (server, alice) = bad_input_server("max_xml_body = 4096").await;
    let before = snapshot(&alice, "alice").await;
    let padding = format!("<!-- {} -->", "x".repeat(5000));
    let propfind =
        format!(r#"<?xml version="1.0"?>{padding}<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>"#);
    let r = alice.propfind("/dav/files/alice/", "0", &propfind).await;
    assert_dav_error(&r, 413, "PROPFIND over max_xml_body");

    let big_value = "v".repeat(5000);
    let r = alice.proppatch("/dav/files/alice/keep.txt", &set_prop_body("color", &big_value)).await;
    assert_dav_error(&r, 413, "PROPPATCH over max_xml_body");
    let r = alice.report("/dav/calendars/alice/default/", "0", &format!("{padding}{}", sync_body(""))).await;
    assert_dav_error(&r, 413, "REPORT over max_xml_body");

    // Without Content-Length (chunked), the limit holds while streaming.
    let body = set_prop_body("color", &big_value);
    let chunked = format!(
        "PROPPATCH /dav/files/alice/keep.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {}\r\nContent-Type: application/xml\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        Server::basic_auth("alice", ALICE_PW),
        body.len()
    );
    let (status, head, _) = split_raw(&server.raw(chunked.as_bytes()));
    assert_eq!(status, Some(413), "chunked PROPPATCH over max_xml_body: {head}");

    assert_eq!(snapshot(&alice, "alice").await, before, "a refused request changed something");
}

#[tokio::test]
async fn hostile_xml_is_refused_and_changes_nothing() {
    let (_server, alice) = bad_input_server("").await;
    let before = snapshot(&alice, "alice").await;
    let deep = format!(
        r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:T="{XT}"><D:set><D:prop><T:color>{}x{}</T:color></D:prop></D:set></D:propertyupdate>"#,
        "<T:n>".repeat(100),
        "</T:n>".repeat(100)
    );
    let r = alice.proppatch("/dav/files/alice/keep.txt", &deep).await;
    assert_dav_error(&r, 400, "PROPPATCH with 100 nested levels");
    let deep_propfind = format!(
        r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>{}{}</D:prop></D:propfind>"#,
        "<D:x>".repeat(100),
        "</D:x>".repeat(100)
    );
    let r = alice.propfind("/dav/files/alice/", "0", &deep_propfind).await;
    assert_dav_error(&r, 400, "PROPFIND with 100 nested levels");

    let laughs = format!(
        r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<D:propertyupdate xmlns:D="DAV:" xmlns:T="{XT}"><D:set><D:prop><T:color>&lol9;</T:color></D:prop></D:set></D:propertyupdate>"#
    );
    let r = alice.proppatch("/dav/files/alice/keep.txt", &laughs).await;
    assert_dav_error(&r, 400, "billion laughs");
    let xxe = format!(
        r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><D:propertyupdate xmlns:D="DAV:" xmlns:T="{XT}"><D:set><D:prop><T:color>&xxe;</T:color></D:prop></D:set></D:propertyupdate>"#
    );
    let r = alice.proppatch("/dav/files/alice/keep.txt", &xxe).await;
    assert_dav_error(&r, 400, "external entity");
    assert!(!r.body.contains("root:"), "{}", r.body);
    let doctype_only =
        r#"<?xml version="1.0"?><!DOCTYPE propfind><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>"#;
    let r = alice.propfind("/dav/files/alice/", "0", doctype_only).await;
    assert_dav_error(&r, 400, "a DOCTYPE in PROPFIND");

    let mut not_utf8 = set_prop_body("color", "X").into_bytes();
    let x = not_utf8.iter().position(|b| *b == b'X').expect("X");
    not_utf8[x] = 0xff;
    let r = alice
        .send("PROPPATCH", "/dav/files/alice/keep.txt", &[("Content-Type", "application/xml")], not_utf8)
        .await;
    assert_dav_error(&r, 400, "a body that is not UTF-8");
    let many = format!(
        r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>{}</D:prop></D:propfind>"#,
        "<D:x/>".repeat(60_000)
    );
    let r = alice.propfind("/dav/files/alice/", "0", &many).await;
    assert_dav_error(&r, 400, "60000 elements");

    assert_eq!(snapshot(&alice, "alice").await, before, "a refused request changed something");
    let color = alice.props("/dav/files/alice/keep.txt", "0", &[(XT, "color")]).await.multistatus();
    assert!(color.entries[0].prop(XT, "color").is_none(), "{:?}", color.entries[0]);
}

#[tokio::test]
async fn bad_paths_are_refused() {
    let (server, alice) = bad_input_server("").await;
    let before = snapshot(&alice, "alice").await;
    let r = alice.put("/dav/files/alice/%ff", "text/plain", "x", &[]).await;
    assert_dav_error(&r, 400, "PUT to %ff");
    let r = alice.put("/dav/files/alice/dir/bad%C3%28name.txt", "text/plain", "x", &[]).await;
    assert_dav_error(&r, 400, "PUT to invalid UTF-8");
    let r = alice.propfind("/dav/files/alice/%ff/", "0", ALLPROP).await;
    assert_dav_error(&r, 400, "PROPFIND of %ff");

    // reqwest normalizes dot segments, so these go over a raw connection.
    let auth = Server::basic_auth("alice", ALICE_PW);
    for path in [
        "/dav/files/alice/dir/../escaped.txt",
        "/dav/files/alice/dir/%2e%2e/escaped.txt",
        "/dav/files/alice/dir/%2E%2E/escaped.txt",
        "/dav/files/alice/../bob/escaped.txt",
        "/dav/files/alice/./escaped.txt",
        "/dav/files/alice/dir%2fescaped.txt",
    ] {
        let request = format!(
            "PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\nContent-Type: text/plain\r\nContent-Length: 7\r\nConnection: close\r\n\r\nescaped"
        );
        let (status, head, body) = split_raw(&server.raw(request.as_bytes()));
        assert_eq!(status, Some(400), "PUT {path}: {head}\n{body}");
        assert!(head.contains("content-type: application/xml"), "PUT {path}: {head}");
        assert!(body.contains("error"), "PUT {path}: {body}");
    }
    let request = format!(
        "PROPFIND /dav/files/alice/dir/.. HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\nDepth: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let (status, head, _) = split_raw(&server.raw(request.as_bytes()));
    assert_eq!(status, Some(400), "PROPFIND with ..: {head}");

    assert_eq!(snapshot(&alice, "alice").await, before, "a refused request changed something");
    for path in
        ["/dav/files/alice/escaped.txt", "/dav/files/alice/dir/escaped.txt", "/dav/files/bob/escaped.txt"]
    {
        assert_eq!(alice.get(path).await.status, 404, "{path} was created");
    }
}

#[tokio::test]
async fn a_huge_header_is_refused_and_the_server_keeps_serving() {
    let (server, alice) = bad_input_server("").await;
    let request = format!(
        "PROPFIND /dav/files/alice/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {}\r\nDepth: 0\r\nX-Huge: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        Server::basic_auth("alice", ALICE_PW),
        "a".repeat(70 * 1024)
    );
    let raw = server.raw(request.as_bytes());
    let status = raw_status(&raw);
    assert!(
        status == Some(431) || raw.is_empty(),
        "a 70 KiB header got {status:?}: {}",
        String::from_utf8_lossy(&raw[..raw.len().min(300)])
    );
    // Many headers adding up to more than 64 KiB.
    let mut request = String::from("PROPFIND /dav/files/alice/ HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for i in 0..1200 {
        request.push_str(&format!("X-Many-{i}: {}\r\n", "b".repeat(60)));
    }
    request.push_str("Connection: close\r\n\r\n");
    let raw = server.raw(request.as_bytes());
    let status = raw_status(&raw);
    assert!(status == Some(431) || raw.is_empty(), "80 KiB of headers got {status:?}");

    // The same over HTTP/2 (cleartext, prior knowledge).
    install_crypto();
    let h2 = reqwest::Client::builder().http2_prior_knowledge().build().expect("h2 client");
    let h2_alice = Client::with_http(&server.base, h2, Some(("alice", ALICE_PW)));
    let huge = "c".repeat(70 * 1024);
    match h2_alice
        .try_send("PROPFIND", "/dav/files/alice/", &[("Depth", "0"), ("X-Huge", &huge)], ALLPROP)
        .await
    {
        Ok(r) => assert_eq!(r.status, 431, "a 70 KiB header over HTTP/2: {}", r.body),
        Err(_refused) => {}
    }
    let r = h2_alice.try_send("PROPFIND", "/dav/files/alice/", &[("Depth", "0")], ALLPROP).await;
    assert_eq!(r.map(|r| r.status), Ok(207), "HTTP/2 after a refused huge header");

    let r = alice.propfind("/dav/files/alice/", "1", ALLPROP).await;
    assert_eq!(r.status, 207, "the server stopped serving: {}", r.body);
    assert_eq!(alice.get("/dav/files/alice/keep.txt").await.body, "keep me");
}

#[tokio::test]
async fn a_garbage_depth_header_is_refused() {
    let (_server, alice) = bad_input_server("").await;
    for depth in ["2", "one", "-1", "infinityx", "0, 1", ""] {
        let r = alice.propfind("/dav/files/alice/", depth, ALLPROP).await;
        assert_dav_error(&r, 400, &format!("PROPFIND Depth {depth:?}"));
    }
    let before = snapshot(&alice, "alice").await;
    let r = alice
        .send(
            "COPY",
            "/dav/files/alice/dir/",
            &[("Depth", "sideways"), ("Destination", "/dav/files/alice/dir2/")],
            Vec::new(),
        )
        .await;
    assert_dav_error(&r, 400, "COPY with a garbage Depth");
    let r = alice.send("DELETE", "/dav/files/alice/dir/", &[("Depth", "deep")], Vec::new()).await;
    assert_dav_error(&r, 400, "DELETE with a garbage Depth");
    assert_eq!(snapshot(&alice, "alice").await, before);
    assert_eq!(alice.get("/dav/files/alice/dir2/").await.status, 404);
}

#[tokio::test]
async fn too_many_dead_properties_are_refused_and_none_stored() {
    let (_server, alice) = bad_input_server("").await;
    let before = snapshot(&alice, "alice").await;
    let mut body =
        format!(r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:T="{XT}"><D:set><D:prop>"#);
    for i in 0..300 {
        body.push_str(&format!("<T:p{i}>value {i}</T:p{i}>"));
    }
    body.push_str("</D:prop></D:set></D:propertyupdate>");
    for target in ["/dav/files/alice/keep.txt", "/dav/calendars/alice/default/"] {
        let r = alice.proppatch(target, &body).await;
        match r.status {
            507 => assert_dav_error(&r, 507, "PROPPATCH of 300 properties"),
            207 => {
                let ms = r.multistatus();
                let statuses: Vec<u16> = ms.entries[0].props.values().map(|p| p.status).collect();
                assert_eq!(statuses.len(), 300, "{}", r.body);
                assert!(statuses.contains(&507), "no 507 among {statuses:?}");
                assert!(statuses.iter().all(|s| *s == 507 || *s == 424), "{statuses:?}");
            }
            other => panic!("PROPPATCH of 300 properties on {target}: {other} {}", r.body),
        }
        let names: Vec<String> = (0..300).map(|i| format!("p{i}")).collect();
        let wanted: Vec<(&str, &str)> = names.iter().map(|n| (XT, n.as_str())).collect();
        let stored = alice.props(target, "0", &wanted).await.multistatus();
        let found: Vec<&String> =
            stored.entries[0].props.iter().filter(|(_, p)| p.status == 200).map(|(k, _)| k).collect();
        assert!(found.is_empty(), "{target}: {} of 300 properties were stored", found.len());
    }
    assert_eq!(snapshot(&alice, "alice").await, before);
}

#[tokio::test]
async fn an_unknown_method_is_405_with_allow() {
    let (_server, alice) = bad_input_server("").await;
    for path in ["/dav/files/alice/keep.txt", "/dav/calendars/alice/default/", "/dav/"] {
        let r = alice.send("BREW", path, &[], "coffee").await;
        assert_dav_error(&r, 405, &format!("BREW {path}"));
        let allow = r.header("allow").unwrap_or_else(|| panic!("405 without Allow on {path}"));
        assert!(
            list_contains(Some(allow), "OPTIONS") && list_contains(Some(allow), "PROPFIND"),
            "{path}: Allow {allow}"
        );
        assert!(!list_contains(Some(allow), "BREW"));
    }
    assert_eq!(alice.get("/dav/files/alice/keep.txt").await.body, "keep me");
}

// ----------------------------------------------------------------------- logs

#[tokio::test]
async fn logs_name_requests_but_keep_secrets_out() {
    let mut server = Server::start_logged("", &[]);
    let password = "Pw-Log-4c1d9e77";
    server.add_user("alice", password);
    let alice = server.client("alice", password);
    let marker = "MARKER-5d2f8a1c-body-text";
    let wrong_password = "Wrong-9b7e2a31-guess";

    let mut expected: Vec<(&str, u16, &str)> = Vec::new();
    let r = alice.props("/dav/calendars/alice/default/", "1", &[(DAV, "getetag")]).await;
    expected.push(("PROPFIND", r.status, "alice"));
    let r = alice
        .put("/dav/files/alice/secret-diagnosis.txt", "text/plain", &format!("diagnosis: {marker}"), &[])
        .await;
    assert_eq!(r.status, 201);
    expected.push(("PUT", 201, "alice"));
    let r = alice.get("/dav/files/alice/secret-diagnosis.txt").await;
    assert!(r.body.contains(marker));
    expected.push(("GET", 200, "alice"));
    let r = alice
        .send(
            "COPY",
            "/dav/files/alice/secret-diagnosis.txt",
            &[("Destination", "/dav/files/alice/secret-copy.txt")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 201);
    expected.push(("COPY", 201, "alice"));
    let r = alice
        .put("/dav/calendars/alice/default/secret-meeting.ics", "text/calendar", &event("uid-1", marker), &[])
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    expected.push(("PUT", 201, "alice"));
    let r = server.client("alice", wrong_password).get("/dav/files/alice/secret-diagnosis.txt").await;
    assert_eq!(r.status, 401);
    expected.push(("GET", 401, "-"));
    let r = alice.delete("/dav/files/alice/secret-copy.txt", &[]).await;
    assert_eq!(r.status, 204);
    expected.push(("DELETE", 204, "alice"));
    // Unknown user: the failed login is logged without the name.
    let r = server.client("mallory-probe", wrong_password).get("/dav/").await;
    assert_eq!(r.status, 401);
    expected.push(("GET", 401, "-"));
    // Query strings are not logged.
    let r = alice.get("/dav/files/alice/secret-diagnosis.txt?share=QUERYSECRET-8e1f").await;
    assert_eq!(r.status, 200);
    expected.push(("GET", 200, "alice"));

    // The log line is written before the response is sent; stop the server
    // anyway so that nothing is left in flight.
    let status = server.terminate();
    assert!(status.success());
    let log = server.log();
    let request_lines: Vec<&str> = log.lines().filter(|l| l.contains("skjold::request")).collect();
    assert_eq!(request_lines.len(), expected.len(), "one log line per request:\n{log}");
    for (line, (method, status, user)) in request_lines.iter().zip(&expected) {
        assert!(line.contains(&format!("method={method}")), "{line}");
        assert!(line.contains(&format!("status={status}")), "{line}");
        assert!(
            line.contains(&format!("user={user}")) || line.contains(&format!("user=\"{user}\"")),
            "{line}"
        );
    }
    let credentials = base64(format!("alice:{password}").as_bytes());
    let wrong_credentials = base64(format!("alice:{wrong_password}").as_bytes());
    for secret in [
        password,
        wrong_password,
        credentials.as_str(),
        wrong_credentials.as_str(),
        "Basic ",
        "uthorization",
        marker,
        "diagnosis",
        "secret-",
        "uid-1",
        "mallory",
        "QUERYSECRET",
        server.admin_password.as_deref().unwrap_or("admin password not printed"),
    ] {
        assert!(!log.contains(secret), "the log contains {secret:?}:\n{log}");
    }
}
