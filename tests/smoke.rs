//! The README's promise: a fresh server creates `admin`, prints its
//! password, and that account finds its calendar and address book.

mod common;
use common::*;

#[tokio::test]
async fn first_start_creates_a_usable_admin_account() {
    let server = Server::start();
    let password = server.admin_password.clone().expect("admin password printed at first start");
    let admin = server.client("admin", &password);
    let root = admin.props("/", "0", &[(DAV, "current-user-principal")]).await.multistatus();
    assert_eq!(
        root.entry("/").prop(DAV, "current-user-principal").unwrap().hrefs,
        vec!["/dav/principals/admin/"]
    );

    let home = admin.props("/dav/calendars/admin/", "1", &[(DAV, "resourcetype")]).await.multistatus();
    let calendar = home.entry("/dav/calendars/admin/default/");
    assert!(calendar.prop(DAV, "resourcetype").unwrap().children.contains(&format!("{{{CALDAV}}}calendar")));

    let books = admin.props("/dav/addressbooks/admin/", "1", &[(DAV, "resourcetype")]).await.multistatus();
    let book = books.entry("/dav/addressbooks/admin/default/");
    assert!(book.prop(DAV, "resourcetype").unwrap().children.contains(&format!("{{{CARDDAV}}}addressbook")));

    let wrong = server.client("admin", "not the password").get("/dav/").await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.header("www-authenticate"), Some("Basic realm=\"Skjold\", charset=\"UTF-8\""));
}
