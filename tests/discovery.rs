//! Discovery as the clients in the wild perform it (DESIGN §3, §12):
//! iOS/macOS, Thunderbird and DAVx5, request by request.

mod common;
use common::*;

const APPLE: &str = "http://apple.com/ns/ical/";
const ME: &str = "http://me.com/_namespace/";

/// A server with `alice` (password `pw`, e-mail and display name set).
fn setup() -> (Server, Client) {
    let server = Server::start();
    let out = server.cli(
        &[
            "user",
            "add",
            "alice",
            "--email",
            "alice@example.com",
            "--display-name",
            "Alice Liddell",
            "--password-stdin",
        ],
        Some("pw\n"),
    );
    assert!(out.status.success(), "user add: {}", String::from_utf8_lossy(&out.stderr));
    let client = server.client("alice", "pw");
    (server, client)
}

fn qname(ns: &str, local: &str) -> String {
    format!("{{{ns}}}{local}")
}

/// The privileges inside `DAV:current-user-privilege-set` of the response for `href`.
fn privileges(body: &str, href: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(body).expect("multistatus XML");
    let response = doc
        .descendants()
        .filter(|n| n.has_tag_name((DAV, "response")))
        .find(|r| {
            r.children().any(|c| c.has_tag_name((DAV, "href")) && c.text().map(str::trim) == Some(href))
        })
        .unwrap_or_else(|| panic!("no response for {href} in {body}"));
    let set = response
        .descendants()
        .find(|n| n.has_tag_name((DAV, "current-user-privilege-set")))
        .unwrap_or_else(|| panic!("no current-user-privilege-set for {href} in {body}"));
    let mut out: Vec<String> = set
        .children()
        .filter(|n| n.has_tag_name((DAV, "privilege")))
        .flat_map(|p| p.children().filter(|n| n.is_element()))
        .map(|n| qname(n.tag_name().namespace().unwrap_or(""), n.tag_name().name()))
        .collect();
    out.sort();
    out
}

/// Every propstat status found in a multistatus body.
fn propstat_statuses(body: &str) -> Vec<u16> {
    let doc = roxmltree::Document::parse(body).expect("multistatus XML");
    doc.descendants()
        .filter(|n| n.has_tag_name((DAV, "propstat")))
        .filter_map(|ps| ps.children().find(|c| c.has_tag_name((DAV, "status"))))
        .filter_map(|s| s.text()?.split_whitespace().nth(1)?.parse().ok())
        .collect()
}

// ---------------------------------------------------------------- iOS / macOS

#[tokio::test]
async fn well_known_redirects_propfind_to_the_dav_root() {
    let (server, client) = setup();
    for path in ["/.well-known/caldav", "/.well-known/carddav"] {
        // Apple sends the PROPFIND unauthenticated first, then with credentials.
        for c in [&server.anonymous(), &client] {
            let r = c.props(path, "0", &[(DAV, "current-user-principal")]).await;
            assert_eq!(r.status, 301, "PROPFIND {path}: {}", r.body);
            assert_eq!(r.header("location"), Some("/dav/"), "PROPFIND {path}");
        }
        let r = client.get(path).await;
        assert_eq!(r.status, 301, "GET {path}");
        assert_eq!(r.header("location"), Some("/dav/"));
    }
}

#[tokio::test]
async fn ios_discovery_sequence() {
    let (_server, client) = setup();

    // 1. The redirect target: who am I?
    let root = client
        .props(
            "/dav/",
            "0",
            &[(DAV, "current-user-principal"), (DAV, "principal-URL"), (DAV, "resourcetype")],
        )
        .await
        .multistatus();
    assert_eq!(root.hrefs(), vec!["/dav/"]);
    let me = root.entry("/dav/");
    assert_eq!(
        me.prop(DAV, "current-user-principal").expect("current-user-principal").hrefs,
        vec!["/dav/principals/alice/"]
    );
    // principal-URL is a property of principals; here it is either answered or a 404 propstat.
    assert!(matches!(me.prop_status(DAV, "principal-URL"), Some(200 | 404)), "{me:?}");

    // 2. The principal.
    let principal = client
        .props(
            "/dav/principals/alice/",
            "0",
            &[
                (CALDAV, "calendar-home-set"),
                (CALDAV, "calendar-user-address-set"),
                (DAV, "displayname"),
                (CS, "email-address-set"),
                (DAV, "principal-URL"),
                (DAV, "resourcetype"),
                (CALDAV, "schedule-inbox-URL"),
                (CS, "dropbox-home-URL"),
                (ME, "bulk-requests"),
            ],
        )
        .await
        .multistatus();
    let p = principal.entry("/dav/principals/alice/");
    assert_eq!(p.prop(CALDAV, "calendar-home-set").unwrap().hrefs, vec!["/dav/calendars/alice/"]);
    let addresses = &p.prop(CALDAV, "calendar-user-address-set").unwrap().hrefs;
    assert!(addresses.contains(&"mailto:alice@example.com".to_owned()), "{addresses:?}");
    assert!(addresses.contains(&"/dav/principals/alice/".to_owned()), "{addresses:?}");
    assert_eq!(p.text(DAV, "displayname"), "Alice Liddell");
    let emails = p.prop(CS, "email-address-set").unwrap();
    assert_eq!(emails.children, vec![qname(CS, "email-address")]);
    assert_eq!(emails.text.trim(), "alice@example.com");
    assert_eq!(p.prop(DAV, "principal-URL").unwrap().hrefs, vec!["/dav/principals/alice/"]);
    assert!(p.prop(DAV, "resourcetype").unwrap().children.contains(&qname(DAV, "principal")));
    for (ns, local) in [(CALDAV, "schedule-inbox-URL"), (CS, "dropbox-home-URL"), (ME, "bulk-requests")] {
        assert_eq!(p.prop_status(ns, local), Some(404), "{ns}{local} should be a 404 propstat: {p:?}");
    }

    // 3. The calendar home, Depth 1, with the long property list iOS sends.
    let names: &[(&str, &str)] = &[
        (DAV, "add-member"),
        (DAV, "current-user-privilege-set"),
        (DAV, "displayname"),
        (DAV, "owner"),
        (DAV, "quota-available-bytes"),
        (DAV, "quota-used-bytes"),
        (DAV, "resource-id"),
        (DAV, "resourcetype"),
        (DAV, "supported-report-set"),
        (DAV, "sync-token"),
        (CALDAV, "calendar-description"),
        (CALDAV, "calendar-free-busy-set"),
        (CALDAV, "calendar-timezone"),
        (CALDAV, "default-alarm-vevent-date"),
        (CALDAV, "default-alarm-vevent-datetime"),
        (CALDAV, "schedule-calendar-transp"),
        (CALDAV, "schedule-default-calendar-URL"),
        (CALDAV, "supported-calendar-component-set"),
        (CALDAV, "supported-calendar-component-sets"),
        (CS, "getctag"),
        (CS, "allowed-sharing-modes"),
        (CS, "pushkey"),
        (CS, "push-transports"),
        (CS, "source"),
        (CS, "subscribed-strip-alarms"),
        (APPLE, "calendar-color"),
        (APPLE, "calendar-order"),
        (APPLE, "language-code"),
        (APPLE, "location-code"),
        (APPLE, "refreshrate"),
        (ME, "bulk-requests"),
    ];
    let r = client.props("/dav/calendars/alice/", "1", names).await;
    let home = r.multistatus();
    assert_eq!(home.hrefs(), vec!["/dav/calendars/alice/", "/dav/calendars/alice/default/"]);

    let cal = home.entry("/dav/calendars/alice/default/");
    let rt = &cal.prop(DAV, "resourcetype").unwrap().children;
    assert!(rt.contains(&qname(DAV, "collection")) && rt.contains(&qname(CALDAV, "calendar")), "{rt:?}");
    assert_eq!(cal.text(DAV, "displayname"), "Calendar");
    assert_eq!(cal.prop(DAV, "owner").unwrap().hrefs, vec!["/dav/principals/alice/"]);
    let ctag = cal.text(CS, "getctag");
    assert!(!ctag.is_empty());
    assert_eq!(ctag, cal.text(DAV, "sync-token"), "getctag and sync-token are the same revision");
    let comps = cal.prop(CALDAV, "supported-calendar-component-set").unwrap();
    assert!(comps.xml.contains("VEVENT") && comps.xml.contains("VTODO"), "{}", comps.xml);
    assert!(cal.prop(DAV, "supported-report-set").unwrap().xml.contains("sync-collection"));
    assert!(cal.prop(DAV, "quota-used-bytes").is_some());
    assert!(cal.prop(DAV, "quota-available-bytes").is_some());
    for (ns, local) in [(CS, "pushkey"), (CS, "source"), (APPLE, "language-code"), (ME, "bulk-requests")] {
        assert_eq!(cal.prop_status(ns, local), Some(404), "{ns}{local}: {cal:?}");
    }
    // Every requested property appears exactly once per response, found or not.
    for entry in &home.entries {
        for (ns, local) in names {
            assert!(entry.prop_status(ns, local).is_some(), "{ns}{local} missing from {}", entry.href);
        }
    }

    let h = home.entry("/dav/calendars/alice/");
    assert!(h.prop(DAV, "resourcetype").unwrap().children.contains(&qname(DAV, "collection")));
    assert!(!h.prop(DAV, "resourcetype").unwrap().children.contains(&qname(CALDAV, "calendar")));
}

#[tokio::test]
async fn apple_calendar_color_and_order_are_writable() {
    let (_server, client) = setup();
    let cal = "/dav/calendars/alice/default/";
    let r = client
        .proppatch(
            cal,
            r##"<?xml version="1.0" encoding="UTF-8"?>
<A:propertyupdate xmlns:A="DAV:"><A:set><A:prop>
<B:calendar-color xmlns:B="http://apple.com/ns/ical/" symbolic-color="custom">#FF2968FF</B:calendar-color>
<B:calendar-order xmlns:B="http://apple.com/ns/ical/">3</B:calendar-order>
</A:prop></A:set></A:propertyupdate>"##,
        )
        .await
        .multistatus();
    let e = r.entry(cal);
    assert_eq!(e.prop_status(APPLE, "calendar-color"), Some(200), "{e:?}");
    assert_eq!(e.prop_status(APPLE, "calendar-order"), Some(200), "{e:?}");

    let got = client
        .props("/dav/calendars/alice/", "1", &[(APPLE, "calendar-color"), (APPLE, "calendar-order")])
        .await
        .multistatus();
    let e = got.entry(cal);
    assert_eq!(e.text(APPLE, "calendar-color"), "#FF2968FF");
    assert!(e.prop(APPLE, "calendar-color").unwrap().xml.contains("symbolic-color=\"custom\""));
    assert_eq!(e.text(APPLE, "calendar-order"), "3");
}

// ---------------------------------------------------------------- Thunderbird

#[tokio::test]
async fn thunderbird_discovery_sequence() {
    let (server, client) = setup();

    // Unauthenticated first: a 401 that offers Basic.
    let anon = server.anonymous().props("/", "0", &[(DAV, "current-user-principal")]).await;
    assert_eq!(anon.status, 401);
    assert_eq!(anon.header("www-authenticate"), Some("Basic realm=\"Skjold\", charset=\"UTF-8\""));
    let anon = server.anonymous().props("/dav/calendars/alice/default/", "0", &[(DAV, "resourcetype")]).await;
    assert_eq!(anon.status, 401);
    assert_eq!(anon.header("www-authenticate"), Some("Basic realm=\"Skjold\", charset=\"UTF-8\""));

    let root = client.props("/", "0", &[(DAV, "current-user-principal")]).await.multistatus();
    assert_eq!(root.hrefs(), vec!["/"]);
    assert_eq!(
        root.entry("/").prop(DAV, "current-user-principal").unwrap().hrefs,
        vec!["/dav/principals/alice/"]
    );

    let cal = "/dav/calendars/alice/default/";
    let r = client
        .props(
            cal,
            "0",
            &[
                (DAV, "resourcetype"),
                (DAV, "owner"),
                (DAV, "current-user-principal"),
                (DAV, "current-user-privilege-set"),
                (DAV, "supported-report-set"),
                (CALDAV, "supported-calendar-component-set"),
                (CS, "getctag"),
                (DAV, "displayname"),
            ],
        )
        .await
        .multistatus();
    assert_eq!(r.hrefs(), vec![cal]);
    let e = r.entry(cal);
    assert!(e.prop(DAV, "resourcetype").unwrap().children.contains(&qname(CALDAV, "calendar")));
    assert_eq!(e.text(DAV, "displayname"), "Calendar");
    let ctag = e.text(CS, "getctag");

    // The ctag Thunderbird polls changes with the content.
    let put = client.put(&format!("{cal}tb.ics"), "text/calendar", &event("tb-1", "Poll"), &[]).await;
    assert_eq!(put.status, 201, "{}", put.body);
    let again = client.props(cal, "0", &[(CS, "getctag")]).await.multistatus();
    assert_ne!(again.entry(cal).text(CS, "getctag"), ctag);
}

// ---------------------------------------------------------------- DAVx5

#[tokio::test]
async fn options_advertises_the_dav_classes() {
    let (server, client) = setup();
    for path in ["/", "/dav/", "/dav/calendars/alice/", "/dav/addressbooks/alice/default/"] {
        for c in [&client, &server.anonymous()] {
            let r = c.send("OPTIONS", path, &[], Vec::new()).await;
            assert!(matches!(r.status, 200 | 204), "OPTIONS {path}: {}", r.status);
            let dav = r.header("dav").unwrap_or_else(|| panic!("no DAV header on OPTIONS {path}"));
            let classes: Vec<&str> = dav.split(',').map(str::trim).collect();
            for class in ["1", "3", "calendar-access", "addressbook"] {
                assert!(classes.contains(&class), "DAV header {dav:?} lacks {class}");
            }
        }
    }
    let r = client.send("OPTIONS", "/dav/calendars/alice/default/", &[], Vec::new()).await;
    let allow = r.header("allow").expect("Allow");
    for m in ["PROPFIND", "REPORT", "PUT", "DELETE"] {
        assert!(allow.contains(m), "{allow}");
    }
}

#[tokio::test]
async fn prefer_return_minimal_leaves_out_404_propstats() {
    let (_server, client) = setup();
    let body = prop_body(&[
        (DAV, "resourcetype"),
        (DAV, "displayname"),
        (CS, "getctag"),
        (APPLE, "calendar-color"),
        (CALDAV, "calendar-description"),
        ("urn:x-nothing", "nope"),
    ]);
    let headers = [("Depth", "1"), ("Content-Type", "application/xml"), ("Prefer", "return=minimal")];
    let r = client.send("PROPFIND", "/dav/calendars/alice/", &headers, body.clone()).await;
    assert_eq!(r.header("preference-applied"), Some("return=minimal"));
    let ms = r.multistatus();
    assert_eq!(ms.hrefs(), vec!["/dav/calendars/alice/", "/dav/calendars/alice/default/"]);
    let statuses = propstat_statuses(&r.body);
    assert!(!statuses.is_empty() && statuses.iter().all(|s| *s == 200), "{statuses:?}: {}", r.body);
    let cal = ms.entry("/dav/calendars/alice/default/");
    assert_eq!(cal.text(DAV, "displayname"), "Calendar");
    assert!(cal.prop(CS, "getctag").is_some());

    // Without the preference, the same request reports what was not found.
    let full = client.propfind("/dav/calendars/alice/", "1", &body).await;
    assert!(full.header("preference-applied").is_none());
    assert!(propstat_statuses(&full.body).contains(&404), "{}", full.body);
    assert_eq!(
        full.multistatus().entry("/dav/calendars/alice/default/").prop_status("urn:x-nothing", "nope"),
        Some(404)
    );
}

#[tokio::test]
async fn davx5_finds_homes_and_sync_support() {
    let (_server, client) = setup();
    let p = client
        .props(
            "/dav/principals/alice/",
            "0",
            &[(CARDDAV, "addressbook-home-set"), (CALDAV, "calendar-home-set"), (DAV, "displayname")],
        )
        .await
        .multistatus();
    let e = p.entry("/dav/principals/alice/");
    assert_eq!(e.prop(CARDDAV, "addressbook-home-set").unwrap().hrefs, vec!["/dav/addressbooks/alice/"]);
    assert_eq!(e.prop(CALDAV, "calendar-home-set").unwrap().hrefs, vec!["/dav/calendars/alice/"]);

    for (home, member, kind) in [
        ("/dav/addressbooks/alice/", "/dav/addressbooks/alice/default/", qname(CARDDAV, "addressbook")),
        ("/dav/calendars/alice/", "/dav/calendars/alice/default/", qname(CALDAV, "calendar")),
    ] {
        let ms = client
            .props(
                home,
                "1",
                &[(DAV, "resourcetype"), (DAV, "supported-report-set"), (DAV, "sync-token"), (CS, "getctag")],
            )
            .await
            .multistatus();
        assert_eq!(ms.hrefs(), vec![home.to_owned(), member.to_owned()]);
        let m = ms.entry(member);
        assert!(m.prop(DAV, "resourcetype").unwrap().children.contains(&kind));
        let reports = m.prop(DAV, "supported-report-set").unwrap();
        assert!(reports.children.iter().all(|c| c == &qname(DAV, "supported-report")), "{reports:?}");
        assert!(reports.xml.contains("sync-collection"), "{}", reports.xml);
        assert!(m.text(DAV, "sync-token").starts_with("http://skjold.invalid/sync/"));
    }
}

// ---------------------------------------------------------------- shared

#[tokio::test]
async fn owned_collections_grant_write_bind_unbind() {
    let (_server, client) = setup();
    let mk = client.send("MKCOL", "/dav/files/alice/folder/", &[], Vec::new()).await;
    assert_eq!(mk.status, 201);
    for path in [
        "/dav/calendars/alice/",
        "/dav/calendars/alice/default/",
        "/dav/addressbooks/alice/",
        "/dav/addressbooks/alice/default/",
        "/dav/files/alice/",
        "/dav/files/alice/folder/",
    ] {
        let r = client.props(path, "0", &[(DAV, "current-user-privilege-set")]).await;
        assert_eq!(r.status, 207, "{path}: {}", r.body);
        let privs = privileges(&r.body, path);
        for p in ["write", "bind", "unbind", "read"] {
            assert!(privs.contains(&qname(DAV, p)), "{path} lacks {p}: {privs:?}");
        }
    }
}

#[tokio::test]
async fn quota_used_bytes_grows_after_a_put() {
    let (_server, client) = setup();
    let used = |ms: &Multistatus, href: &str| -> (i64, i64) {
        let e = ms.entry(href);
        (
            e.text(DAV, "quota-used-bytes").trim().parse().expect("number"),
            e.text(DAV, "quota-available-bytes").trim().parse().expect("number"),
        )
    };
    let home = "/dav/files/alice/";
    let names = [(DAV, "quota-used-bytes"), (DAV, "quota-available-bytes")];
    let (before, _) = used(&client.props(home, "0", &names).await.multistatus(), home);
    let put =
        client.put("/dav/files/alice/blob.bin", "application/octet-stream", &"x".repeat(5000), &[]).await;
    assert_eq!(put.status, 201);
    let (after, available) = used(&client.props(home, "0", &names).await.multistatus(), home);
    assert!(after >= before + 5000, "quota-used-bytes {before} -> {after}");
    assert!(available >= 0);

    let cal = "/dav/calendars/alice/default/";
    let (cal_before, _) = used(&client.props(cal, "0", &names).await.multistatus(), cal);
    let body = event("quota-1", &"long summary ".repeat(50));
    let put = client.put(&format!("{cal}q.ics"), "text/calendar", &body, &[]).await;
    assert_eq!(put.status, 201, "{}", put.body);
    let (cal_after, _) = used(&client.props(cal, "0", &names).await.multistatus(), cal);
    assert!(cal_after >= cal_before + body.len() as i64, "{cal_before} -> {cal_after}");
}
