//! WebDAV semantics (RFC 4918) plus the CalDAV/CardDAV rules a PUT must
//! respect (RFC 4791 §5.3.2, RFC 6352 §6.3.2), over real HTTP.

mod common;
use common::*;

const Z: &str = "http://example.com/ns";
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

fn setup() -> (Server, Client) {
    let server = Server::start();
    server.add_user("alice", "pw");
    let client = server.client("alice", "pw");
    (server, client)
}

fn qname(ns: &str, local: &str) -> String {
    format!("{{{ns}}}{local}")
}

/// GET with the body as raw bytes (the harness decodes bodies as text).
async fn get_bytes(server: &Server, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    install_crypto();
    let r = reqwest::Client::new()
        .get(format!("{}{}", server.base, path))
        .basic_auth("alice", Some("pw"))
        .send()
        .await
        .expect("GET");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.bytes().await.expect("body").to_vec())
}

/// A Destination header value for `path` on this server.
fn dest(server: &Server, path: &str) -> String {
    format!("{}{}", server.base, path)
}

/// The text of all `DAV:href` elements inside the precondition element of an error body.
fn condition_hrefs(body: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(body).expect("error XML");
    let root = doc.root_element();
    root.children()
        .filter(|n| n.is_element() && n.tag_name().namespace() != Some("urn:x-skjold"))
        .flat_map(|c| c.descendants().filter(|n| n.has_tag_name((DAV, "href"))))
        .filter_map(|n| n.text().map(|t| t.trim().to_owned()))
        .collect()
}

async fn status_of(client: &Client, path: &str) -> u16 {
    client.get(path).await.status
}

// ====================================================================== PROPFIND

#[tokio::test]
async fn propfind_depth_0_and_1_on_homes_and_collections() {
    let (_server, client) = setup();
    assert_eq!(client.send("MKCOL", "/dav/files/alice/docs/", &[], Vec::new()).await.status, 201);
    assert_eq!(client.put("/dav/files/alice/docs/a.txt", "text/plain", "a", &[]).await.status, 201);
    assert_eq!(client.put("/dav/files/alice/top.txt", "text/plain", "top", &[]).await.status, 201);
    let ev = client.put("/dav/calendars/alice/default/e.ics", "text/calendar", &event("e1", "E"), &[]).await;
    assert_eq!(ev.status, 201, "{}", ev.body);

    let names = [(DAV, "resourcetype"), (DAV, "getetag")];
    let d0 = client.props("/dav/files/alice/", "0", &names).await.multistatus();
    assert_eq!(d0.hrefs(), vec!["/dav/files/alice/"]);

    let d1 = client.props("/dav/files/alice/", "1", &names).await.multistatus();
    assert_eq!(d1.hrefs(), vec!["/dav/files/alice/", "/dav/files/alice/docs/", "/dav/files/alice/top.txt"]);
    let docs = d1.entry("/dav/files/alice/docs/");
    assert_eq!(docs.prop(DAV, "resourcetype").unwrap().children, vec![qname(DAV, "collection")]);
    let top = d1.entry("/dav/files/alice/top.txt");
    assert!(top.prop(DAV, "resourcetype").unwrap().children.is_empty());
    assert!(top.prop(DAV, "getetag").is_some());

    let sub = client.props("/dav/files/alice/docs/", "1", &names).await.multistatus();
    assert_eq!(sub.hrefs(), vec!["/dav/files/alice/docs/", "/dav/files/alice/docs/a.txt"]);

    let cal = client.props("/dav/calendars/alice/default/", "1", &names).await.multistatus();
    assert_eq!(cal.hrefs(), vec!["/dav/calendars/alice/default/", "/dav/calendars/alice/default/e.ics"]);
    assert_eq!(cal.entry("/dav/calendars/alice/default/e.ics").text(DAV, "getetag"), ev.etag());

    let cal0 = client.props("/dav/calendars/alice/default/", "0", &names).await.multistatus();
    assert_eq!(cal0.hrefs(), vec!["/dav/calendars/alice/default/"]);

    let object = client.props("/dav/files/alice/top.txt", "0", &names).await.multistatus();
    assert_eq!(object.hrefs(), vec!["/dav/files/alice/top.txt"]);

    let missing = client.props("/dav/files/alice/nothing.txt", "0", &names).await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn propfind_depth_infinity_is_refused_and_is_the_default() {
    let (_server, client) = setup();
    let body = prop_body(&[(DAV, "resourcetype")]);
    let r = client.propfind("/dav/files/alice/", "infinity", &body).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.error_condition().as_deref(), Some("{DAV:}propfind-finite-depth"));

    // RFC 4918 §9.1: no Depth header means infinity.
    let r = client.send("PROPFIND", "/dav/files/alice/", &[("Content-Type", "application/xml")], body).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.error_condition().as_deref(), Some("{DAV:}propfind-finite-depth"));
}

#[tokio::test]
async fn allprop_has_the_rfc4918_properties_but_not_rfc3744_ones() {
    let (_server, client) = setup();
    assert_eq!(client.put("/dav/files/alice/a.txt", "text/plain", "hello", &[]).await.status, 201);
    let patch = format!(
        r#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="{Z}"><D:set><D:prop><Z:color>blue</Z:color></D:prop></D:set></D:propertyupdate>"#
    );
    assert_eq!(client.proppatch("/dav/files/alice/a.txt", &patch).await.status, 207);
    let allprop = r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>"#;
    for body in [allprop, ""] {
        let ms = client.propfind("/dav/files/alice/a.txt", "0", body).await.multistatus();
        let e = ms.entry("/dav/files/alice/a.txt");
        assert!(e.text(DAV, "getetag").starts_with('"'), "{e:?}");
        assert_eq!(e.text(DAV, "getcontentlength"), "5");
        assert!(e.prop(DAV, "getlastmodified").is_some());
        assert!(e.prop(DAV, "resourcetype").is_some());
        assert!(e.prop(DAV, "getcontenttype").unwrap().text.starts_with("text/plain"));
        assert_eq!(e.text(Z, "color"), "blue", "allprop includes dead properties");
        assert!(e.prop_status(DAV, "current-user-privilege-set").is_none(), "{e:?}");
        assert!(e.prop_status(DAV, "supported-report-set").is_none(), "{e:?}");
        assert!(e.props.values().all(|p| p.status == 200), "allprop reports no 404s: {e:?}");
    }
}

#[tokio::test]
async fn allprop_with_include_adds_the_named_properties() {
    let (_server, client) = setup();
    assert_eq!(client.put("/dav/files/alice/a.txt", "text/plain", "hello", &[]).await.status, 201);
    let body = r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/><D:include><D:current-user-privilege-set/><D:supported-report-set/></D:include></D:propfind>"#;
    let ms = client.propfind("/dav/files/alice/a.txt", "0", body).await.multistatus();
    let e = ms.entry("/dav/files/alice/a.txt");
    assert!(e.prop(DAV, "getetag").is_some());
    assert!(e.prop(DAV, "current-user-privilege-set").is_some(), "{e:?}");
    assert!(e.prop(DAV, "supported-report-set").is_some(), "{e:?}");
}

#[tokio::test]
async fn propname_lists_live_and_dead_names_without_values() {
    let (_server, client) = setup();
    assert_eq!(client.put("/dav/files/alice/a.txt", "text/plain", "hello", &[]).await.status, 201);
    let patch = format!(
        r#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="{Z}"><D:set><D:prop><Z:color>blue</Z:color></D:prop></D:set></D:propertyupdate>"#
    );
    assert_eq!(client.proppatch("/dav/files/alice/a.txt", &patch).await.status, 207);
    let body = r#"<?xml version="1.0"?><propfind xmlns="DAV:"><propname/></propfind>"#;
    let ms = client.propfind("/dav/files/alice/a.txt", "0", body).await.multistatus();
    let e = ms.entry("/dav/files/alice/a.txt");
    for (ns, local) in [(DAV, "getetag"), (DAV, "getcontentlength"), (DAV, "resourcetype"), (Z, "color")] {
        let p = e.prop(ns, local).unwrap_or_else(|| panic!("{ns}{local} not named: {e:?}"));
        assert!(p.text.is_empty() && p.children.is_empty(), "propname carries no values: {p:?}");
    }
}

#[tokio::test]
async fn malformed_xml_is_400() {
    let (_server, client) = setup();
    for body in [
        r#"<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:propfind>"#,
        "this is not xml",
        r#"<D:propfind xmlns:D="DAV:"><Q:prop/></D:propfind>"#,
    ] {
        let r = client.propfind("/dav/files/alice/", "0", body).await;
        assert_eq!(r.status, 400, "PROPFIND {body}: {}", r.body);
        let r = client.proppatch("/dav/files/alice/", body).await;
        assert_eq!(r.status, 400, "PROPPATCH {body}: {}", r.body);
    }
}

#[tokio::test]
async fn doctype_and_entities_are_refused_and_change_nothing() {
    let (_server, client) = setup();
    assert_eq!(client.put("/dav/files/alice/a.txt", "text/plain", "hello", &[]).await.status, 201);
    let xxe = format!(
        r#"<?xml version="1.0"?><!DOCTYPE D:propertyupdate [<!ENTITY xxe SYSTEM "file:///etc/passwd"><!ENTITY big "boom">]>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="{Z}"><D:set><D:prop><Z:leak>&xxe;&big;</Z:leak><Z:plain>x</Z:plain></D:prop></D:set></D:propertyupdate>"#
    );
    let r = client.proppatch("/dav/files/alice/a.txt", &xxe).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(!r.body.contains("root:"), "no file content may leak");

    // An undeclared entity without a DOCTYPE is just as unwelcome.
    let undeclared = format!(
        r#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="{Z}"><D:set><D:prop><Z:plain>&nbsp;</Z:plain></D:prop></D:set></D:propertyupdate>"#
    );
    assert_eq!(client.proppatch("/dav/files/alice/a.txt", &undeclared).await.status, 400);

    let ms = client.props("/dav/files/alice/a.txt", "0", &[(Z, "leak"), (Z, "plain")]).await.multistatus();
    let e = ms.entry("/dav/files/alice/a.txt");
    assert_eq!(e.prop_status(Z, "leak"), Some(404));
    assert_eq!(e.prop_status(Z, "plain"), Some(404));

    let pf = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "v">]><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>"#;
    assert_eq!(client.propfind("/dav/files/alice/", "0", pf).await.status, 400);
}

// ====================================================================== PROPPATCH

/// The in-scope `xml:lang` of a node.
fn lang_of(node: roxmltree::Node<'_, '_>) -> Option<String> {
    node.ancestors().find_map(|n| n.attribute((XML_NS, "lang")).map(str::to_owned))
}

/// The property element `{ns}local` in the response for `href` of a multistatus body.
fn find_prop<'a, 'i>(doc: &'a roxmltree::Document<'i>, ns: &str, local: &str) -> roxmltree::Node<'a, 'i> {
    doc.descendants()
        .filter(|n| n.has_tag_name((DAV, "prop")))
        .flat_map(|p| p.children())
        .find(|n| n.has_tag_name((ns, local)))
        .unwrap_or_else(|| panic!("no {{{ns}}}{local} in the response"))
}

const NOTES: &str = "\n      Jane has been working way <h:em>too</h:em> long on the\n      long-awaited revision of <![CDATA[<RFC2518>]]>.\n    ";

#[tokio::test]
async fn dead_properties_are_stored_verbatim() {
    let (_server, client) = setup();
    let target = "/dav/files/alice/a.txt";
    assert_eq!(client.put(target, "text/plain", "hello", &[]).await.status, 201);
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>
  <x:author xmlns:x='{Z}'>
    <x:name>Jane Doe</x:name>
    <!-- Jane's contact info -->
    <x:uri type='email' added='2005-11-26'>mailto:jane.doe@example.com</x:uri>
    <x:notes xmlns:h='http://www.w3.org/1999/xhtml'>{NOTES}</x:notes>
    <x:empty/>
    <y:other xmlns:y="urn:y" y:attr="v&amp;w">&lt;&amp;&gt; ünïcødé 🦀</y:other>
  </x:author>
  <x:title xmlns:x='{Z}' xml:lang="de">Grüße</x:title>
  <x:blank xmlns:x='{Z}'></x:blank>
</D:prop></D:set></D:propertyupdate>"#
    );
    let r = client.proppatch(target, &body).await.multistatus();
    let e = r.entry(target);
    for local in ["author", "title", "blank"] {
        assert_eq!(e.prop_status(Z, local), Some(200), "{e:?}");
    }

    let r = client.props(target, "0", &[(Z, "author"), (Z, "title"), (Z, "blank")]).await;
    assert_eq!(r.status, 207);
    let doc = roxmltree::Document::parse(&r.body).expect("XML");

    let author = find_prop(&doc, Z, "author");
    let children: Vec<_> = author.children().filter(|n| n.is_element()).collect();
    let names: Vec<(Option<&str>, &str)> =
        children.iter().map(|n| (n.tag_name().namespace(), n.tag_name().name())).collect();
    assert_eq!(
        names,
        vec![
            (Some(Z), "name"),
            (Some(Z), "uri"),
            (Some(Z), "notes"),
            (Some(Z), "empty"),
            (Some("urn:y"), "other")
        ]
    );
    assert_eq!(children[0].text(), Some("Jane Doe"));
    assert_eq!(children[1].attribute("type"), Some("email"));
    assert_eq!(children[1].attribute("added"), Some("2005-11-26"));
    assert_eq!(children[1].text(), Some("mailto:jane.doe@example.com"));
    let notes = children[2];
    let notes_text: String = notes.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).collect();
    assert_eq!(
        notes_text,
        "\n      Jane has been working way too long on the\n      long-awaited revision of <RFC2518>.\n    ",
        "whitespace and character data are significant"
    );
    let em = notes.children().find(|n| n.is_element()).expect("h:em");
    assert_eq!(
        (em.tag_name().namespace(), em.tag_name().name()),
        (Some("http://www.w3.org/1999/xhtml"), "em")
    );
    assert_eq!(em.text(), Some("too"));
    assert!(children[3].children().next().is_none());
    assert_eq!(children[4].attribute(("urn:y", "attr")), Some("v&w"));
    assert_eq!(children[4].text(), Some("<&> ünïcødé 🦀"));
    // Whitespace between the children of the value is kept too.
    let first_text = author.first_child().and_then(|n| n.text()).unwrap_or("");
    assert_eq!(first_text, "\n    ");

    let title = find_prop(&doc, Z, "title");
    assert_eq!(title.text(), Some("Grüße"));
    assert_eq!(lang_of(title).as_deref(), Some("de"));

    let blank = find_prop(&doc, Z, "blank");
    assert!(blank.first_child().is_none(), "an empty property stays empty");
}

#[tokio::test]
async fn dead_property_keeps_xml_lang_in_scope_from_the_prop_element() {
    // RFC 4918 §4.3 / §4.3.1: xml:lang in scope when the property was set is
    // part of its value (here it sits on DAV:prop, as in the RFC's example).
    let (_server, client) = setup();
    let target = "/dav/files/alice/a.txt";
    assert_eq!(client.put(target, "text/plain", "hello", &[]).await.status, 201);
    let body = format!(
        r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop xml:lang="en"><x:author xmlns:x="{Z}"><x:name>Jane Doe</x:name></x:author></D:prop></D:set></D:propertyupdate>"#
    );
    assert_eq!(
        client.proppatch(target, &body).await.multistatus().entry(target).prop_status(Z, "author"),
        Some(200)
    );
    let r = client.props(target, "0", &[(Z, "author")]).await;
    assert_eq!(r.status, 207);
    let doc = roxmltree::Document::parse(&r.body).expect("XML");
    let author = find_prop(&doc, Z, "author");
    assert_eq!(lang_of(author).as_deref(), Some("en"), "xml:lang lost: {}", r.body);
}

#[tokio::test]
async fn proppatch_is_atomic() {
    let (_server, client) = setup();
    let target = "/dav/files/alice/a.txt";
    assert_eq!(client.put(target, "text/plain", "hello", &[]).await.status, 201);
    let seed = format!(
        r#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="{Z}"><D:set><D:prop><Z:keep>old</Z:keep></D:prop></D:set></D:propertyupdate>"#
    );
    assert_eq!(
        client.proppatch(target, &seed).await.multistatus().entry(target).prop_status(Z, "keep"),
        Some(200)
    );
    let etag_before = client.get(target).await.etag();

    let body = format!(
        r#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="{Z}">
<D:set><D:prop><Z:a>1</Z:a></D:prop></D:set>
<D:set><D:prop><D:getetag>"forged"</D:getetag></D:prop></D:set>
<D:remove><D:prop><Z:keep/></D:prop></D:remove>
<D:set><D:prop><Z:b>2</Z:b></D:prop></D:set>
</D:propertyupdate>"#
    );
    let r = client.proppatch(target, &body).await;
    let ms = r.multistatus();
    let e = ms.entry(target);
    assert_eq!(e.prop_status(DAV, "getetag"), Some(403), "{}", r.body);
    assert_eq!(e.prop_status(Z, "a"), Some(424), "{}", r.body);
    assert_eq!(e.prop_status(Z, "b"), Some(424), "{}", r.body);
    assert_eq!(e.prop_status(Z, "keep"), Some(424), "{}", r.body);
    assert!(r.body.contains("cannot-modify-protected-property"), "{}", r.body);

    let after = client.props(target, "0", &[(Z, "a"), (Z, "b"), (Z, "keep"), (DAV, "getetag")]).await;
    let e = after.multistatus();
    let e = e.entry(target);
    assert_eq!(e.prop_status(Z, "a"), Some(404), "nothing may be stored");
    assert_eq!(e.prop_status(Z, "b"), Some(404), "nothing may be stored");
    assert_eq!(e.text(Z, "keep"), "old", "nothing may be removed");
    assert_eq!(e.text(DAV, "getetag"), etag_before);
}

#[tokio::test]
async fn proppatch_remove_of_a_missing_property_succeeds_and_set_then_remove_applies_in_order() {
    let (_server, client) = setup();
    let target = "/dav/files/alice/";
    let body = format!(
        r#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="{Z}"><D:remove><D:prop><Z:never-set/></D:prop></D:remove></D:propertyupdate>"#
    );
    let ms = client.proppatch(target, &body).await.multistatus();
    assert_eq!(ms.entry(target).prop_status(Z, "never-set"), Some(200));

    // Document order: set then remove leaves nothing; remove then set leaves the value.
    let body = format!(
        r#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="{Z}">
<D:set><D:prop><Z:gone>1</Z:gone></D:prop></D:set><D:remove><D:prop><Z:gone/></D:prop></D:remove>
<D:remove><D:prop><Z:kept/></D:prop></D:remove><D:set><D:prop><Z:kept>2</Z:kept></D:prop></D:set>
</D:propertyupdate>"#
    );
    assert_eq!(client.proppatch(target, &body).await.status, 207);
    let ms = client.props(target, "0", &[(Z, "gone"), (Z, "kept")]).await.multistatus();
    assert_eq!(ms.entry(target).prop_status(Z, "gone"), Some(404));
    assert_eq!(ms.entry(target).text(Z, "kept"), "2");
}

#[tokio::test]
async fn proppatch_on_a_missing_resource_is_404() {
    let (_server, client) = setup();
    let body = format!(
        r#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="{Z}"><D:set><D:prop><Z:a>1</Z:a></D:prop></D:set></D:propertyupdate>"#
    );
    assert_eq!(client.proppatch("/dav/files/alice/missing.txt", &body).await.status, 404);
}

// ====================================================================== MKCOL / MKCALENDAR

#[tokio::test]
async fn plain_mkcol_in_the_file_space() {
    let (_server, client) = setup();
    let r = client.send("MKCOL", "/dav/files/alice/new/", &[], Vec::new()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let ms = client.props("/dav/files/alice/new/", "0", &[(DAV, "resourcetype")]).await.multistatus();
    assert_eq!(
        ms.entry("/dav/files/alice/new/").prop(DAV, "resourcetype").unwrap().children,
        vec![qname(DAV, "collection")]
    );

    let again = client.send("MKCOL", "/dav/files/alice/new/", &[], Vec::new()).await;
    assert_eq!(again.status, 405, "{}", again.body);
    assert!(again.header("allow").is_some(), "405 carries Allow");

    // Over an existing file, too.
    assert_eq!(client.put("/dav/files/alice/f.txt", "text/plain", "x", &[]).await.status, 201);
    assert_eq!(client.send("MKCOL", "/dav/files/alice/f.txt", &[], Vec::new()).await.status, 405);

    let orphan = client.send("MKCOL", "/dav/files/alice/no/such/parent/", &[], Vec::new()).await;
    assert_eq!(orphan.status, 409, "{}", orphan.body);

    let nested = client.send("MKCOL", "/dav/files/alice/new/inner/", &[], Vec::new()).await;
    assert_eq!(nested.status, 201);
}

#[tokio::test]
async fn mkcol_with_a_body_that_is_not_extended_mkcol_is_415() {
    let (_server, client) = setup();
    let r = client
        .send("MKCOL", "/dav/files/alice/x/", &[("Content-Type", "text/plain")], "make me a folder")
        .await;
    assert_eq!(r.status, 415, "{}", r.body);
    assert_eq!(status_of(&client, "/dav/files/alice/x/").await, 404, "nothing created");
}

#[tokio::test]
async fn extended_mkcol_creates_an_address_book_and_a_calendar() {
    let (_server, client) = setup();
    let book = r#"<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>
<D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>
<D:displayname>Work contacts</D:displayname>
<CR:addressbook-description>People at work</CR:addressbook-description>
</D:prop></D:set></D:mkcol>"#;
    let r = client
        .send("MKCOL", "/dav/addressbooks/alice/work/", &[("Content-Type", "application/xml")], book)
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let ms = client
        .props(
            "/dav/addressbooks/alice/work/",
            "0",
            &[(DAV, "resourcetype"), (DAV, "displayname"), (CARDDAV, "addressbook-description")],
        )
        .await
        .multistatus();
    let e = ms.entry("/dav/addressbooks/alice/work/");
    assert!(e.prop(DAV, "resourcetype").unwrap().children.contains(&qname(CARDDAV, "addressbook")));
    assert_eq!(e.text(DAV, "displayname"), "Work contacts");
    assert_eq!(e.text(CARDDAV, "addressbook-description"), "People at work");
    let put = client.put("/dav/addressbooks/alice/work/c.vcf", "text/vcard", &vcard("c1", "Carl"), &[]).await;
    assert_eq!(put.status, 201, "{}", put.body);

    let cal = r#"<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
<D:resourcetype><D:collection/><C:calendar/></D:resourcetype>
<D:displayname>Holidays</D:displayname>
</D:prop></D:set></D:mkcol>"#;
    let r = client
        .send("MKCOL", "/dav/calendars/alice/holidays/", &[("Content-Type", "application/xml")], cal)
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let ms = client
        .props("/dav/calendars/alice/holidays/", "0", &[(DAV, "resourcetype"), (DAV, "displayname")])
        .await
        .multistatus();
    let e = ms.entry("/dav/calendars/alice/holidays/");
    assert!(e.prop(DAV, "resourcetype").unwrap().children.contains(&qname(CALDAV, "calendar")));
    assert_eq!(e.text(DAV, "displayname"), "Holidays");

    // A plain collection has no place in a calendar home.
    let plain = client.send("MKCOL", "/dav/calendars/alice/plain/", &[], Vec::new()).await;
    assert_eq!(plain.status, 403, "{}", plain.body);
}

#[tokio::test]
async fn mkcalendar_with_components_and_displayname() {
    let (_server, client) = setup();
    let body = r#"<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
<D:displayname>Tasks</D:displayname>
<C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set>
</D:prop></D:set></C:mkcalendar>"#;
    let r = client
        .send("MKCALENDAR", "/dav/calendars/alice/tasks/", &[("Content-Type", "application/xml")], body)
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let ms = client
        .props(
            "/dav/calendars/alice/tasks/",
            "0",
            &[(DAV, "resourcetype"), (DAV, "displayname"), (CALDAV, "supported-calendar-component-set")],
        )
        .await
        .multistatus();
    let e = ms.entry("/dav/calendars/alice/tasks/");
    assert!(e.prop(DAV, "resourcetype").unwrap().children.contains(&qname(CALDAV, "calendar")));
    assert_eq!(e.text(DAV, "displayname"), "Tasks");
    let comps = e.prop(CALDAV, "supported-calendar-component-set").unwrap();
    assert_eq!(comps.children, vec![qname(CALDAV, "comp")]);
    assert!(comps.xml.contains("VTODO") && !comps.xml.contains("VEVENT"), "{}", comps.xml);

    // The component set is enforced.
    let put = client.put("/dav/calendars/alice/tasks/e.ics", "text/calendar", &event("e1", "E"), &[]).await;
    assert_eq!(put.status, 403, "{}", put.body);
    assert_eq!(
        put.error_condition().as_deref(),
        Some("{urn:ietf:params:xml:ns:caldav}supported-calendar-component")
    );

    // Plain MKCALENDAR without a body gets a calendar too.
    let r = client.send("MKCALENDAR", "/dav/calendars/alice/plain/", &[], Vec::new()).await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn mkcalendar_where_something_exists_is_resource_must_be_null() {
    let (_server, client) = setup();
    let r = client.send("MKCALENDAR", "/dav/calendars/alice/default/", &[], Vec::new()).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.error_condition().as_deref(), Some("{DAV:}resource-must-be-null"));
}

#[tokio::test]
async fn mkcalendar_in_the_file_space_is_refused() {
    let (_server, client) = setup();
    let r = client.send("MKCALENDAR", "/dav/files/alice/cal/", &[], Vec::new()).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        r.error_condition().as_deref(),
        Some("{urn:ietf:params:xml:ns:caldav}calendar-collection-location-ok")
    );
    assert_eq!(status_of(&client, "/dav/files/alice/cal/").await, 404);
}

// ====================================================================== GET / HEAD / PUT

#[tokio::test]
async fn put_get_head_round_trip_bytes_exactly() {
    let (server, client) = setup();
    let mut odd: Vec<u8> = (0u8..=255).collect();
    odd.extend_from_slice(b"\r\n\r\n\0\xff\xfe line\rno newline at end");
    let path = "/dav/files/alice/odd.bin";
    let put = client.send("PUT", path, &[("Content-Type", "application/x-odd")], odd.clone()).await;
    assert_eq!(put.status, 201, "{}", put.body);
    let etag = put.etag();
    assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2, "strong, quoted: {etag}");

    let (status, headers, body) = get_bytes(&server, path).await;
    assert_eq!(status, 200);
    assert_eq!(body, odd, "GET returns the bytes as PUT");
    assert_eq!(headers.get("etag").unwrap().to_str().unwrap(), etag);
    assert_eq!(headers.get("content-type").unwrap().to_str().unwrap(), "application/x-odd");
    let last_modified = headers.get("last-modified").expect("Last-Modified").to_str().unwrap();
    assert!(last_modified.ends_with(" GMT") && last_modified.len() == 29, "{last_modified}");

    let head = client.send("HEAD", path, &[], Vec::new()).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.etag(), etag);
    assert_eq!(head.header("last-modified"), Some(last_modified));
}

#[tokio::test]
async fn etags_follow_the_content() {
    let (_server, client) = setup();
    let path = "/dav/files/alice/a.txt";
    let first = client.put(path, "text/plain", "one", &[]).await;
    assert_eq!(first.status, 201);
    let e1 = first.etag();
    assert!(!e1.starts_with("W/"), "strong ETag: {e1}");

    let same = client.put(path, "text/plain", "one", &[]).await;
    assert!(matches!(same.status, 200 | 204), "{}", same.status);
    assert_eq!(client.get(path).await.etag(), e1, "identical content keeps its ETag");

    let changed = client.put(path, "text/plain", "two", &[]).await;
    assert_eq!(changed.status, 204);
    let e2 = client.get(path).await.etag();
    assert_ne!(e2, e1, "new content, new ETag");
    if let Some(h) = changed.header("etag") {
        assert_eq!(h, e2);
    }
    // Same length, different bytes: still a new ETag.
    assert_eq!(client.put(path, "text/plain", "tvo", &[]).await.status, 204);
    let e3 = client.get(path).await.etag();
    assert!(e3 != e2 && e3 != e1);
    assert_eq!(client.get(path).await.body, "tvo");
}

#[tokio::test]
async fn conditional_requests() {
    let (_server, client) = setup();
    let path = "/dav/files/alice/c.txt";
    let etag = client.put(path, "text/plain", "v1", &[]).await.etag();

    let r = client.put(path, "text/plain", "v2", &[("If-None-Match", "*")]).await;
    assert_eq!(r.status, 412, "If-None-Match: * on an existing resource");

    let r = client.put(path, "text/plain", "v2", &[("If-Match", "\"stale\"")]).await;
    assert_eq!(r.status, 412);
    assert_eq!(client.get(path).await.body, "v1", "content unchanged after a failed If-Match");

    let r = client.put(path, "text/plain", "v2", &[("If-Match", &etag)]).await;
    assert_eq!(r.status, 204);
    assert_eq!(client.get(path).await.body, "v2");
    let current = client.get(path).await.etag();

    // The old ETag is stale now.
    let r = client.put(path, "text/plain", "v3", &[("If-Match", &etag)]).await;
    assert_eq!(r.status, 412);

    let r = client.send("GET", path, &[("If-None-Match", &current)], Vec::new()).await;
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.etag(), current);
    let r = client.send("GET", path, &[("If-None-Match", &etag)], Vec::new()).await;
    assert_eq!(r.status, 200);
    let r = client.send("GET", path, &[("If-None-Match", &format!("\"x\", {current}"))], Vec::new()).await;
    assert_eq!(r.status, 304, "a list of tags matches if one does");

    let r = client.put("/dav/files/alice/missing.txt", "text/plain", "x", &[("If-Match", "*")]).await;
    assert_eq!(r.status, 412, "If-Match on a missing resource");
    let r = client.put("/dav/files/alice/missing.txt", "text/plain", "x", &[("If-Match", &current)]).await;
    assert_eq!(r.status, 412);
    assert_eq!(status_of(&client, "/dav/files/alice/missing.txt").await, 404);

    let r = client.put("/dav/files/alice/new.txt", "text/plain", "x", &[("If-None-Match", "*")]).await;
    assert_eq!(r.status, 201, "If-None-Match: * creates");

    let r = client.delete(path, &[("If-Match", &etag)]).await;
    assert_eq!(r.status, 412, "DELETE with a stale If-Match");
    assert_eq!(client.get(path).await.body, "v2");
    let r = client.delete(path, &[("If-Match", &current)]).await;
    assert_eq!(r.status, 204);
    assert_eq!(status_of(&client, path).await, 404);
}

#[tokio::test]
async fn if_none_match_uses_the_weak_comparison() {
    // RFC 9110 §13.1.2 (RFC 7232 §3.2): "A recipient MUST use the weak comparison
    // function when comparing entity tags for If-None-Match", so W/"x" matches "x".
    // Reverse proxies that compress (nginx) turn strong ETags into weak ones,
    // and browsers send them back this way.
    let (_server, client) = setup();
    let path = "/dav/files/alice/w.txt";
    let etag = client.put(path, "text/plain", "v1", &[]).await.etag();
    let weak = format!("W/{etag}");
    let r = client.send("GET", path, &[("If-None-Match", &weak)], Vec::new()).await;
    assert_eq!(r.status, 304, "If-None-Match: {weak} against ETag {etag}");
}

#[tokio::test]
async fn put_on_a_collection_is_405() {
    let (_server, client) = setup();
    assert_eq!(client.send("MKCOL", "/dav/files/alice/dir/", &[], Vec::new()).await.status, 201);
    for path in ["/dav/calendars/alice/default/", "/dav/files/alice/dir/", "/dav/files/alice/"] {
        let r = client.put(path, "text/plain", "x", &[]).await;
        assert_eq!(r.status, 405, "PUT {path}: {}", r.body);
        assert!(r.header("allow").is_some(), "405 without Allow for {path}");
    }
    let ms = client.props("/dav/calendars/alice/default/", "0", &[(DAV, "resourcetype")]).await.multistatus();
    assert!(ms.entry("/dav/calendars/alice/default/").prop(DAV, "resourcetype").is_some());
}

#[tokio::test]
async fn oversized_put_is_413_and_stores_nothing() {
    let server = Server::start_with("max_file_size = 1000", &[]);
    server.add_user("alice", "pw");
    let client = server.client("alice", "pw");
    let ok =
        client.put("/dav/files/alice/small.bin", "application/octet-stream", &"s".repeat(1000), &[]).await;
    assert_eq!(ok.status, 201, "exactly the limit is fine");
    let r = client.put("/dav/files/alice/big.bin", "application/octet-stream", &"b".repeat(1001), &[]).await;
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(status_of(&client, "/dav/files/alice/big.bin").await, 404);
    // Replacing with an oversized body keeps the old content.
    let r =
        client.put("/dav/files/alice/small.bin", "application/octet-stream", &"b".repeat(5000), &[]).await;
    assert_eq!(r.status, 413);
    assert_eq!(client.get("/dav/files/alice/small.bin").await.body, "s".repeat(1000));
}

// ====================================================================== COPY / MOVE

#[tokio::test]
async fn copy_and_move_overwrite_rules() {
    let (server, client) = setup();
    let a = "/dav/files/alice/a.txt";
    let b = "/dav/files/alice/b.txt";
    assert_eq!(client.put(a, "text/plain", "A", &[]).await.status, 201);
    assert_eq!(client.put(b, "text/plain", "B", &[]).await.status, 201);

    let r =
        client.send("COPY", a, &[("Destination", &dest(&server, b)), ("Overwrite", "F")], Vec::new()).await;
    assert_eq!(r.status, 412, "{}", r.body);
    assert_eq!(client.get(b).await.body, "B");

    let r =
        client.send("MOVE", a, &[("Destination", &dest(&server, b)), ("Overwrite", "F")], Vec::new()).await;
    assert_eq!(r.status, 412, "{}", r.body);
    assert_eq!(client.get(a).await.body, "A");
    assert_eq!(client.get(b).await.body, "B");

    let r =
        client.send("COPY", a, &[("Destination", &dest(&server, b)), ("Overwrite", "T")], Vec::new()).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(client.get(b).await.body, "A");
    assert_eq!(client.get(a).await.body, "A");

    let c = "/dav/files/alice/c.txt";
    let r = client.send("COPY", a, &[("Destination", &dest(&server, c))], Vec::new()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(client.get(c).await.body, "A");

    let d = "/dav/files/alice/d.txt";
    let r = client.send("MOVE", c, &[("Destination", &dest(&server, d))], Vec::new()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(status_of(&client, c).await, 404);
    assert_eq!(client.get(d).await.body, "A");

    assert_eq!(client.put(c, "text/plain", "C", &[]).await.status, 201);
    let r = client.send("MOVE", c, &[("Destination", &dest(&server, d))], Vec::new()).await;
    assert_eq!(r.status, 204, "MOVE onto an existing resource with Overwrite absent (= T)");
    assert_eq!(status_of(&client, c).await, 404);
    assert_eq!(client.get(d).await.body, "C");

    // A relative-path Destination works as well.
    let r = client.send("COPY", d, &[("Destination", "/dav/files/alice/e.txt")], Vec::new()).await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn copy_and_move_destinations_outside_the_own_space_or_without_parent() {
    let (server, client) = setup();
    server.add_user("bob", "pw2");
    let a = "/dav/files/alice/a.txt";
    assert_eq!(client.put(a, "text/plain", "A", &[]).await.status, 201);
    for target in
        ["/dav/files/bob/stolen.txt", "/dav/calendars/alice/default/a.ics", "/dav/principals/alice/x"]
    {
        for method in ["COPY", "MOVE"] {
            let r = client.send(method, a, &[("Destination", &dest(&server, target))], Vec::new()).await;
            assert_eq!(r.status, 403, "{method} to {target}: {}", r.body);
        }
    }
    let bob = server.client("bob", "pw2");
    assert_eq!(status_of(&bob, "/dav/files/bob/stolen.txt").await, 404);

    let r = client
        .send("COPY", a, &[("Destination", &dest(&server, "/dav/files/alice/no/parent/a.txt"))], Vec::new())
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    let r = client
        .send("MOVE", a, &[("Destination", &dest(&server, "/dav/files/alice/no/parent/a.txt"))], Vec::new())
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(client.get(a).await.body, "A", "the source is untouched");
}

#[tokio::test]
async fn dead_properties_travel_with_move() {
    let (server, client) = setup();
    let a = "/dav/files/alice/a.txt";
    assert_eq!(client.put(a, "text/plain", "A", &[]).await.status, 201);
    let patch = format!(
        r#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="{Z}"><D:set><D:prop><Z:tag>important</Z:tag></D:prop></D:set></D:propertyupdate>"#
    );
    assert_eq!(client.proppatch(a, &patch).await.status, 207);
    assert_eq!(client.send("MKCOL", "/dav/files/alice/dir/", &[], Vec::new()).await.status, 201);
    assert_eq!(client.proppatch("/dav/files/alice/dir/", &patch).await.status, 207);

    let moved = "/dav/files/alice/moved.txt";
    let r = client.send("MOVE", a, &[("Destination", &dest(&server, moved))], Vec::new()).await;
    assert_eq!(r.status, 201);
    let ms = client.props(moved, "0", &[(Z, "tag")]).await.multistatus();
    assert_eq!(ms.entry(moved).text(Z, "tag"), "important");

    let r = client
        .send(
            "MOVE",
            "/dav/files/alice/dir/",
            &[("Destination", &dest(&server, "/dav/files/alice/dir2/"))],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let ms = client.props("/dav/files/alice/dir2/", "0", &[(Z, "tag")]).await.multistatus();
    assert_eq!(ms.entry("/dav/files/alice/dir2/").text(Z, "tag"), "important");
    assert_eq!(client.props("/dav/files/alice/dir/", "0", &[(Z, "tag")]).await.status, 404);
}

#[tokio::test]
async fn copy_depth_0_of_a_folder_copies_no_members() {
    let (server, client) = setup();
    assert_eq!(client.send("MKCOL", "/dav/files/alice/src/", &[], Vec::new()).await.status, 201);
    assert_eq!(client.put("/dav/files/alice/src/m.txt", "text/plain", "m", &[]).await.status, 201);
    assert_eq!(client.send("MKCOL", "/dav/files/alice/src/sub/", &[], Vec::new()).await.status, 201);

    let r = client
        .send(
            "COPY",
            "/dav/files/alice/src/",
            &[("Destination", &dest(&server, "/dav/files/alice/shallow/")), ("Depth", "0")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let ms = client.props("/dav/files/alice/shallow/", "1", &[(DAV, "resourcetype")]).await.multistatus();
    assert_eq!(ms.hrefs(), vec!["/dav/files/alice/shallow/"]);

    let r = client
        .send(
            "COPY",
            "/dav/files/alice/src/",
            &[("Destination", &dest(&server, "/dav/files/alice/deep/"))],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let ms = client.props("/dav/files/alice/deep/", "1", &[(DAV, "resourcetype")]).await.multistatus();
    assert_eq!(
        ms.hrefs(),
        vec!["/dav/files/alice/deep/", "/dav/files/alice/deep/m.txt", "/dav/files/alice/deep/sub/"]
    );
    assert_eq!(client.get("/dav/files/alice/deep/m.txt").await.body, "m");
    // The source keeps its members.
    assert_eq!(client.get("/dav/files/alice/src/m.txt").await.body, "m");
}

// ====================================================================== CalDAV / CardDAV PUT

#[tokio::test]
async fn invalid_icalendar_is_refused_and_not_stored() {
    let (_server, client) = setup();
    let path = "/dav/calendars/alice/default/bad.ics";
    for body in [
        "this is not a calendar".to_owned(),
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20250101T000000Z\r\nEND:VCALENDAR\r\n"
            .to_owned(),
        event("u", "s").replace("END:VCALENDAR\r\n", ""),
    ] {
        let r = client.put(path, "text/calendar", &body, &[]).await;
        assert_eq!(r.status, 403, "{body:?}: {}", r.body);
        assert_eq!(r.error_condition().as_deref(), Some("{urn:ietf:params:xml:ns:caldav}valid-calendar-data"), "{body:?}");
        assert_eq!(status_of(&client, path).await, 404, "nothing stored");
    }
    let ms = client.props("/dav/calendars/alice/default/", "1", &[(DAV, "getetag")]).await.multistatus();
    assert_eq!(ms.hrefs(), vec!["/dav/calendars/alice/default/"]);
}

#[tokio::test]
async fn a_second_object_with_the_same_uid_is_a_uid_conflict_naming_the_first() {
    let (_server, client) = setup();
    let first = "/dav/calendars/alice/default/first%20one.ics";
    assert_eq!(client.put(first, "text/calendar", &event("same-uid", "One"), &[]).await.status, 201);
    let r = client
        .put("/dav/calendars/alice/default/second.ics", "text/calendar", &event("same-uid", "Two"), &[])
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.error_condition().as_deref(), Some("{urn:ietf:params:xml:ns:caldav}no-uid-conflict"));
    assert_eq!(condition_hrefs(&r.body), vec![first.to_owned()]);
    assert_eq!(status_of(&client, "/dav/calendars/alice/default/second.ics").await, 404);
    // Rewriting the holder itself with its own UID is fine.
    assert_eq!(client.put(first, "text/calendar", &event("same-uid", "One again"), &[]).await.status, 204);

    // Same rule in address books, in the CardDAV namespace.
    let book = "/dav/addressbooks/alice/default/";
    assert_eq!(
        client.put(&format!("{book}a.vcf"), "text/vcard", &vcard("card-uid", "A"), &[]).await.status,
        201
    );
    let r = client.put(&format!("{book}b.vcf"), "text/vcard", &vcard("card-uid", "B"), &[]).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.error_condition().as_deref(), Some("{urn:ietf:params:xml:ns:carddav}no-uid-conflict"));
    assert_eq!(condition_hrefs(&r.body), vec![format!("{book}a.vcf")]);
}

#[tokio::test]
async fn vcard_without_uid_is_invalid_address_data() {
    let (_server, client) = setup();
    let path = "/dav/addressbooks/alice/default/nouid.vcf";
    let r =
        client.put(path, "text/vcard", "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:No Uid\r\nEND:VCARD\r\n", &[]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.error_condition().as_deref(), Some("{urn:ietf:params:xml:ns:carddav}valid-address-data"));
    assert_eq!(status_of(&client, path).await, 404);
}

#[tokio::test]
async fn calendar_export_contains_every_event() {
    let (_server, client) = setup();
    let cal = "/dav/calendars/alice/default/";
    assert_eq!(
        client.put(&format!("{cal}a.ics"), "text/calendar", &event("uid-a", "Alpha"), &[]).await.status,
        201
    );
    assert_eq!(
        client.put(&format!("{cal}b.ics"), "text/calendar", &event("uid-b", "Beta"), &[]).await.status,
        201
    );
    let r = client.get(cal).await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/calendar"));
    let text = r.body.replace("\r\n", "\n");
    assert!(text.starts_with("BEGIN:VCALENDAR\n"), "{text}");
    assert!(text.trim_end().ends_with("END:VCALENDAR"), "{text}");
    assert_eq!(text.matches("BEGIN:VCALENDAR").count(), 1, "one calendar: {text}");
    assert_eq!(text.matches("BEGIN:VEVENT").count(), 2, "{text}");
    for needle in ["UID:uid-a", "UID:uid-b", "SUMMARY:Alpha", "SUMMARY:Beta"] {
        assert!(text.contains(needle), "{needle} missing: {text}");
    }
}

#[tokio::test]
async fn percent_encoded_and_non_ascii_names_round_trip() {
    let (server, client) = setup();
    let names = [
        ("my%20file.txt", "my file.txt"),
        ("%C3%BCber%20%E2%82%AC.txt", "über €.txt"),
        ("100%25%20done%23%3F.txt", "100% done#?.txt"),
        ("a&b+c=d.txt", "a&b+c=d.txt"),
        ("%E6%97%A5%E6%9C%AC.txt", "日本.txt"),
    ];
    for (encoded, _) in &names {
        let path = format!("/dav/files/alice/{encoded}");
        let r = client.put(&path, "text/plain", encoded, &[]).await;
        assert_eq!(r.status, 201, "PUT {path}: {}", r.body);
    }
    assert_eq!(client.send("MKCOL", "/dav/files/alice/F%C3%B6lder%20x/", &[], Vec::new()).await.status, 201);

    let ms = client.props("/dav/files/alice/", "1", &[(DAV, "getetag")]).await.multistatus();
    let mut expected: Vec<String> = names.iter().map(|(e, _)| format!("/dav/files/alice/{e}")).collect();
    expected.push("/dav/files/alice/".into());
    expected.push("/dav/files/alice/F%C3%B6lder%20x/".into());
    expected.sort();
    assert_eq!(ms.hrefs(), expected);
    // Every href from the listing fetches the resource it names.
    for (encoded, _) in &names {
        let r = client.get(&format!("/dav/files/alice/{encoded}")).await;
        assert_eq!(r.status, 200);
        assert_eq!(&r.body, encoded);
    }
    // The raw UTF-8 form (as some clients send it, encoded by the HTTP library) names the same thing.
    let (status, _, body) = get_bytes(&server, "/dav/files/alice/über €.txt").await;
    assert_eq!(status, 200);
    assert_eq!(body, b"%C3%BCber%20%E2%82%AC.txt");

    // Calendar objects too.
    let obj = "/dav/calendars/alice/default/%C3%A9v%C3%A9nement%201.ics";
    let put = client.put(obj, "text/calendar", &event("evt-1", "Été"), &[]).await;
    assert_eq!(put.status, 201, "{}", put.body);
    if let Some(location) = put.header("location") {
        assert!(location.ends_with("/dav/calendars/alice/default/%C3%A9v%C3%A9nement%201.ics"), "{location}");
    }
    let ms = client.props("/dav/calendars/alice/default/", "1", &[(DAV, "getetag")]).await.multistatus();
    assert_eq!(ms.hrefs(), vec!["/dav/calendars/alice/default/".to_owned(), obj.to_owned()]);
}
