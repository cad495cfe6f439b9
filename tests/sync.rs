//! sync-collection (RFC 6578) on calendars, the file space and the calendar
//! home, and its relation to getctag (DESIGN §6).

mod common;
use common::*;

const CAL: &str = "/dav/calendars/alice/default/";

fn setup() -> (Server, Client) {
    let server = Server::start();
    server.add_user("alice", "pw");
    let client = server.client("alice", "pw");
    (server, client)
}

async fn put_event(client: &Client, name: &str, uid: &str, summary: &str) -> String {
    let r = client.put(&format!("{CAL}{name}"), "text/calendar", &event(uid, summary), &[]).await;
    assert!(matches!(r.status, 201 | 204), "PUT {name}: {} {}", r.status, r.body);
    client.get(&format!("{CAL}{name}")).await.etag()
}

fn sync_body(token: &str, limit: Option<usize>) -> String {
    let limit = limit.map(|n| format!("<D:limit><D:nresults>{n}</D:nresults></D:limit>")).unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>{limit}<D:prop><D:getetag/></D:prop></D:sync-collection>"#
    )
}

/// Hrefs of the members reported as changed (with propstats).
fn changed(ms: &Multistatus) -> Vec<String> {
    let mut v: Vec<String> =
        ms.entries.iter().filter(|e| e.status.is_none()).map(|e| e.href.clone()).collect();
    v.sort();
    v
}

/// Hrefs reported with a status of their own, with that status.
fn with_status(ms: &Multistatus) -> Vec<(String, u16)> {
    let mut v: Vec<(String, u16)> =
        ms.entries.iter().filter_map(|e| e.status.map(|s| (e.href.clone(), s))).collect();
    v.sort();
    v
}

fn token_of(ms: &Multistatus) -> String {
    let t = ms.sync_token.clone().expect("a DAV:sync-token in the multistatus");
    assert!(!t.trim().is_empty());
    t
}

#[tokio::test]
async fn calendar_sync_reports_exactly_the_changes() {
    let (_server, client) = setup();
    let ea = put_event(&client, "a.ics", "a", "A").await;
    let eb = put_event(&client, "b.ics", "b", "B").await;
    put_event(&client, "c.ics", "c", "C").await;

    let initial = client.sync(CAL, "").await;
    assert_eq!(changed(&initial), vec![format!("{CAL}a.ics"), format!("{CAL}b.ics"), format!("{CAL}c.ics")]);
    assert!(with_status(&initial).is_empty(), "{initial:?}");
    assert_eq!(initial.entry(&format!("{CAL}a.ics")).text(DAV, "getetag"), ea);
    assert_eq!(initial.entry(&format!("{CAL}b.ics")).text(DAV, "getetag"), eb);
    let t1 = token_of(&initial);

    let eb2 = put_event(&client, "b.ics", "b", "B changed").await;
    assert_ne!(eb2, eb);
    assert_eq!(client.delete(&format!("{CAL}c.ics"), &[]).await.status, 204);
    let ed = put_event(&client, "d.ics", "d", "D").await;

    let next = client.sync(CAL, &t1).await;
    assert_eq!(changed(&next), vec![format!("{CAL}b.ics"), format!("{CAL}d.ics")], "a.ics is unchanged");
    assert_eq!(with_status(&next), vec![(format!("{CAL}c.ics"), 404)]);
    assert_eq!(next.entry(&format!("{CAL}b.ics")).text(DAV, "getetag"), eb2);
    assert_eq!(next.entry(&format!("{CAL}d.ics")).text(DAV, "getetag"), ed);
    assert!(next.entry(&format!("{CAL}c.ics")).props.is_empty(), "a removed member has no propstat");
    let t2 = token_of(&next);
    assert_ne!(t2, t1);

    // Nothing happened since: nothing reported, same token.
    let idle = client.sync(CAL, &t2).await;
    assert!(idle.entries.is_empty(), "{idle:?}");
    assert_eq!(token_of(&idle), t2);

    // The old token still works and still sees the same changes.
    let replay = client.sync(CAL, &t1).await;
    assert_eq!(changed(&replay), vec![format!("{CAL}b.ics"), format!("{CAL}d.ics")]);
    assert_eq!(with_status(&replay), vec![(format!("{CAL}c.ics"), 404)]);
}

#[tokio::test]
async fn a_member_removed_and_recreated_is_reported_as_changed_only() {
    let (_server, client) = setup();
    put_event(&client, "a.ics", "a", "A").await;
    let t = token_of(&client.sync(CAL, "").await);
    assert_eq!(client.delete(&format!("{CAL}a.ics"), &[]).await.status, 204);
    let etag = put_event(&client, "a.ics", "a", "A again").await;
    let ms = client.sync(CAL, &t).await;
    // RFC 6578 §3.5.1: changed, not removed; and only once.
    assert_eq!(ms.entries.len(), 1, "{ms:?}");
    assert_eq!(changed(&ms), vec![format!("{CAL}a.ics")]);
    assert_eq!(ms.entry(&format!("{CAL}a.ics")).text(DAV, "getetag"), etag);
}

#[tokio::test]
async fn a_member_added_and_removed_between_syncs_is_reported_as_removed() {
    // RFC 6578 §3.5.2: "If a member was added (and its mapped resource possibly
    // modified), then removed between two synchronization report requests, it
    // MUST be reported as removed." The calendar starts empty, as a new one does.
    let (_server, client) = setup();
    let r = client.send("MKCALENDAR", "/dav/calendars/alice/fresh/", &[], Vec::new()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let cal = "/dav/calendars/alice/fresh/";
    let initial = client.sync(cal, "").await;
    assert!(initial.entries.is_empty(), "{initial:?}");
    let t0 = token_of(&initial);

    let path = format!("{cal}ephemeral.ics");
    assert_eq!(client.put(&path, "text/calendar", &event("eph", "E"), &[]).await.status, 201);
    assert_eq!(client.delete(&path, &[]).await.status, 204);

    let ms = client.sync(cal, &t0).await;
    assert_eq!(with_status(&ms), vec![(path.clone(), 404)], "token {t0}: {ms:?}");
    assert!(changed(&ms).is_empty());
    assert_ne!(token_of(&ms), t0);
}

#[tokio::test]
async fn identical_put_is_not_a_change() {
    let (_server, client) = setup();
    let etag = put_event(&client, "a.ics", "a", "A").await;
    let t = token_of(&client.sync(CAL, "").await);
    let ctag = client.props(CAL, "0", &[(CS, "getctag")]).await.multistatus().entry(CAL).text(CS, "getctag");

    let again = put_event(&client, "a.ics", "a", "A").await;
    assert_eq!(again, etag);
    let ms = client.sync(CAL, &t).await;
    assert!(ms.entries.is_empty(), "{ms:?}");
    assert_eq!(token_of(&ms), t);
    let ctag2 = client.props(CAL, "0", &[(CS, "getctag")]).await.multistatus().entry(CAL).text(CS, "getctag");
    assert_eq!(ctag2, ctag);
}

#[tokio::test]
async fn depth_1_as_thunderbird_sends_it_is_tolerated() {
    let (_server, client) = setup();
    put_event(&client, "a.ics", "a", "A").await;
    let r = client.report(CAL, "1", &sync_body("", None)).await;
    let ms = r.multistatus();
    assert_eq!(changed(&ms), vec![format!("{CAL}a.ics")]);
    let t = token_of(&ms);
    put_event(&client, "b.ics", "b", "B").await;
    let ms = client.report(CAL, "1", &sync_body(&t, None)).await.multistatus();
    assert_eq!(changed(&ms), vec![format!("{CAL}b.ics")]);

    // Without any Depth header (RFC 3253 §3.6: defaults to 0).
    let ms = client
        .send("REPORT", CAL, &[("Content-Type", "application/xml")], sync_body(&t, None))
        .await
        .multistatus();
    assert_eq!(changed(&ms), vec![format!("{CAL}b.ics")]);
}

#[tokio::test]
async fn invalid_tokens_are_valid_sync_token_errors() {
    let (_server, client) = setup();
    put_event(&client, "a.ics", "a", "A").await;
    let cal_token = token_of(&client.sync(CAL, "").await);
    let book = "/dav/addressbooks/alice/default/";
    let book_token = token_of(&client.sync(book, "").await);
    let files_token = token_of(&client.sync("/dav/files/alice/", "").await);
    assert_ne!(book_token, cal_token);

    // A revision from the future of this very collection.
    let (base, _) = cal_token.rsplit_once('/').unwrap();
    let future = format!("{base}/999999");
    for token in [
        "garbage",
        "http://skjold.invalid/sync/",
        "http://skjold.invalid/sync/abc/1",
        "http://example.com/ns/sync/1234",
        book_token.as_str(),
        files_token.as_str(),
        future.as_str(),
    ] {
        let r = client.report(CAL, "0", &sync_body(token, None)).await;
        assert_eq!(r.status, 403, "token {token:?}: {}", r.body);
        assert_eq!(r.error_condition().as_deref(), Some("{DAV:}valid-sync-token"), "token {token:?}");
    }
    // The calendar's token is no good for the address book either.
    let r = client.report(book, "0", &sync_body(&cal_token, None)).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.error_condition().as_deref(), Some("{DAV:}valid-sync-token"));
}

#[tokio::test]
async fn limit_truncates_with_507_and_a_token_to_continue_from() {
    let (_server, client) = setup();
    for i in 0..5 {
        put_event(&client, &format!("e{i}.ics"), &format!("uid-{i}"), "E").await;
    }
    let all: Vec<String> = (0..5).map(|i| format!("{CAL}e{i}.ics")).collect();

    // Exactly as many changes as the limit: no truncation.
    let exact = client.report(CAL, "0", &sync_body("", Some(5))).await.multistatus();
    assert_eq!(changed(&exact), all);
    assert!(with_status(&exact).is_empty(), "{exact:?}");

    let first = client.report(CAL, "0", &sync_body("", Some(2))).await;
    let first = first.multistatus();
    let page1 = changed(&first);
    assert_eq!(page1.len(), 2, "{first:?}");
    assert_eq!(with_status(&first), vec![(CAL.to_owned(), 507)], "507 for the request-URI");
    let t1 = token_of(&first);

    let second = client.report(CAL, "0", &sync_body(&t1, Some(2))).await.multistatus();
    let page2 = changed(&second);
    assert_eq!(page2.len(), 2, "{second:?}");
    assert_eq!(with_status(&second), vec![(CAL.to_owned(), 507)]);
    let t2 = token_of(&second);

    let third = client.report(CAL, "0", &sync_body(&t2, None)).await.multistatus();
    let page3 = changed(&third);
    assert!(with_status(&third).is_empty(), "{third:?}");

    let mut union: Vec<String> = page1.iter().chain(&page2).chain(&page3).cloned().collect();
    union.sort();
    assert_eq!(union, all, "every member exactly once across the pages");
    let t3 = token_of(&third);
    assert!(client.sync(CAL, &t3).await.entries.is_empty());

    // Truncated incremental sync, too.
    for i in 0..3 {
        put_event(&client, &format!("e{i}.ics"), &format!("uid-{i}"), "changed").await;
    }
    let part = client.report(CAL, "0", &sync_body(&t3, Some(1))).await.multistatus();
    assert_eq!(changed(&part).len(), 1);
    assert_eq!(with_status(&part), vec![(CAL.to_owned(), 507)]);
    let rest = client.sync(CAL, &token_of(&part)).await;
    let mut both: Vec<String> = changed(&part).into_iter().chain(changed(&rest)).collect();
    both.sort();
    assert_eq!(both, all[..3].to_vec());
}

#[tokio::test]
async fn truncation_response_names_number_of_matches_within_limits() {
    let (_server, client) = setup();
    for i in 0..3 {
        put_event(&client, &format!("e{i}.ics"), &format!("uid-{i}"), "E").await;
    }
    let r = client.report(CAL, "0", &sync_body("", Some(1))).await;
    assert_eq!(r.status, 207);
    let doc = roxmltree::Document::parse(&r.body).expect("XML");
    let truncated = doc
        .descendants()
        .filter(|n| n.has_tag_name((DAV, "response")))
        .find(|n| n.descendants().any(|h| h.has_tag_name((DAV, "href")) && h.text() == Some(CAL)))
        .expect("a response for the collection");
    assert!(
        truncated.descendants().any(|n| n.has_tag_name((DAV, "number-of-matches-within-limits"))),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn getctag_follows_content_and_equals_the_sync_token() {
    let (_server, client) = setup();
    let names = [(CS, "getctag"), (DAV, "sync-token")];
    let read = |ms: Multistatus| {
        let e = ms.entry(CAL);
        (e.text(CS, "getctag"), e.text(DAV, "sync-token"))
    };
    let (c0, s0) = read(client.props(CAL, "0", &names).await.multistatus());
    assert_eq!(c0, s0);
    assert_eq!(token_of(&client.sync(CAL, "").await), s0, "REPORT and PROPFIND agree");

    put_event(&client, "a.ics", "a", "A").await;
    let (c1, s1) = read(client.props(CAL, "0", &names).await.multistatus());
    assert_ne!(c1, c0);
    assert_eq!(c1, s1);

    put_event(&client, "a.ics", "a", "A2").await;
    let (c2, s2) = read(client.props(CAL, "0", &names).await.multistatus());
    assert!(c2 != c1 && c2 != c0);
    assert_eq!(c2, s2);

    assert_eq!(client.delete(&format!("{CAL}a.ics"), &[]).await.status, 204);
    let (c3, s3) = read(client.props(CAL, "0", &names).await.multistatus());
    assert!(c3 != c2 && c3 != c1 && c3 != c0);
    assert_eq!(c3, s3);
    assert_eq!(token_of(&client.sync(CAL, "").await), s3);

    // The ctag seen in a Depth 1 listing of the home is the same one.
    let home = client.props("/dav/calendars/alice/", "1", &[(CS, "getctag")]).await.multistatus();
    assert_eq!(home.entry(CAL).text(CS, "getctag"), c3);
}

#[tokio::test]
async fn file_space_sync() {
    let (_server, client) = setup();
    let home = "/dav/files/alice/";
    assert_eq!(client.put("/dav/files/alice/a.txt", "text/plain", "a", &[]).await.status, 201);
    assert_eq!(client.put("/dav/files/alice/b.txt", "text/plain", "b", &[]).await.status, 201);
    assert_eq!(client.send("MKCOL", "/dav/files/alice/dir/", &[], Vec::new()).await.status, 201);

    let initial = client.sync(home, "").await;
    assert_eq!(
        changed(&initial),
        vec![
            "/dav/files/alice/a.txt".to_owned(),
            "/dav/files/alice/b.txt".to_owned(),
            "/dav/files/alice/dir/".to_owned()
        ]
    );
    assert!(with_status(&initial).is_empty());
    let t1 = token_of(&initial);

    assert_eq!(client.put("/dav/files/alice/a.txt", "text/plain", "a2", &[]).await.status, 204);
    assert_eq!(client.delete("/dav/files/alice/b.txt", &[]).await.status, 204);
    assert_eq!(client.put("/dav/files/alice/c.txt", "text/plain", "c", &[]).await.status, 201);
    assert_eq!(client.send("MKCOL", "/dav/files/alice/dir2/", &[], Vec::new()).await.status, 201);

    let next = client.sync(home, &t1).await;
    assert_eq!(
        changed(&next),
        vec![
            "/dav/files/alice/a.txt".to_owned(),
            "/dav/files/alice/c.txt".to_owned(),
            "/dav/files/alice/dir2/".to_owned()
        ]
    );
    assert_eq!(with_status(&next), vec![("/dav/files/alice/b.txt".to_owned(), 404)]);
    let etag = client.get("/dav/files/alice/a.txt").await.etag();
    assert_eq!(next.entry("/dav/files/alice/a.txt").text(DAV, "getetag"), etag);

    let t2 = token_of(&next);
    let idle = client.sync(home, &t2).await;
    assert!(idle.entries.is_empty(), "{idle:?}");
    assert_eq!(token_of(&idle), t2);

    // A folder syncs on its own.
    assert_eq!(client.put("/dav/files/alice/dir/inner.txt", "text/plain", "i", &[]).await.status, 201);
    let inner = client.sync("/dav/files/alice/dir/", "").await;
    assert_eq!(changed(&inner), vec!["/dav/files/alice/dir/inner.txt".to_owned()]);
}

#[tokio::test]
async fn moves_are_a_removal_and_an_addition() {
    let (server, client) = setup();
    let home = "/dav/files/alice/";
    assert_eq!(client.put("/dav/files/alice/old.txt", "text/plain", "x", &[]).await.status, 201);
    let t = token_of(&client.sync(home, "").await);
    let r = client
        .send(
            "MOVE",
            "/dav/files/alice/old.txt",
            &[("Destination", &format!("{}/dav/files/alice/new.txt", server.base))],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 201);
    let ms = client.sync(home, &t).await;
    assert_eq!(changed(&ms), vec!["/dav/files/alice/new.txt".to_owned()]);
    assert_eq!(with_status(&ms), vec![("/dav/files/alice/old.txt".to_owned(), 404)]);
}

#[tokio::test]
async fn calendar_home_sync_reports_a_new_calendar() {
    let (_server, client) = setup();
    let home = "/dav/calendars/alice/";
    let initial = client.sync(home, "").await;
    assert_eq!(changed(&initial), vec![CAL.to_owned()]);
    let t = token_of(&initial);

    let r = client.send("MKCALENDAR", "/dav/calendars/alice/work/", &[], Vec::new()).await;
    assert_eq!(r.status, 201);
    let ms = client.sync(home, &t).await;
    assert_eq!(changed(&ms), vec!["/dav/calendars/alice/work/".to_owned()]);
    assert!(with_status(&ms).is_empty(), "{ms:?}");
    // Events inside a calendar are not changes of the home's members list.
    let t2 = token_of(&ms);
    put_event(&client, "x.ics", "x", "X").await;
    let idle = client.sync(home, &t2).await;
    assert!(with_status(&idle).is_empty(), "{idle:?}");
    let t3 = token_of(&idle);

    // Renaming a calendar (on another device) is a change of that member.
    let rename = r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>Work!</D:displayname></D:prop></D:set></D:propertyupdate>"#;
    assert_eq!(client.proppatch("/dav/calendars/alice/work/", rename).await.status, 207);
    let ms = client.sync(home, &t3).await;
    assert_eq!(changed(&ms), vec!["/dav/calendars/alice/work/".to_owned()]);
    assert!(with_status(&ms).is_empty(), "{ms:?}");
}

#[tokio::test]
async fn calendar_home_sync_reports_a_deleted_calendar_by_its_collection_href() {
    // macOS keeps its calendar list in sync this way; it knows the calendar as
    // ".../work/" (the href the server itself handed out), so the removal has
    // to name that same member URL (RFC 6578 §3.5.2, RFC 4918 §5.2).
    let (_server, client) = setup();
    let home = "/dav/calendars/alice/";
    let r = client.send("MKCALENDAR", "/dav/calendars/alice/work/", &[], Vec::new()).await;
    assert_eq!(r.status, 201);
    let initial = client.sync(home, "").await;
    assert_eq!(changed(&initial), vec![CAL.to_owned(), "/dav/calendars/alice/work/".to_owned()]);
    let t = token_of(&initial);

    let r = client.delete("/dav/calendars/alice/work/", &[]).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let ms = client.sync(home, &t).await;
    assert!(changed(&ms).is_empty(), "{ms:?}");
    assert_eq!(with_status(&ms), vec![("/dav/calendars/alice/work/".to_owned(), 404)]);
}
