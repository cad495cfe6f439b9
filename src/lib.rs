//! Skjold: a CalDAV and CardDAV server.
//!
//! # Layout
//! Layers, top to bottom (each calls only those below it):
//! * [`cli`] and [`config`]: the command line and the configuration.
//! * [`server`]: listener, TLS, HTTP/1.1 and HTTP/2, limits, CORS, logging;
//!   [`auth`]: Basic authentication, argon2id, throttling.
//! * [`dav`]: the WebDAV core (RFC 4918, 3744, 5397, 5689, 6578, 4331).
//! * [`collections`], [`caldav`], [`carddav`]: what differs per collection kind
//!   (RFC 4791, RFC 6352); [`ical`] and [`vcard`]: ingest of bodies.
//! * [`store`]: the storage trait and its SQLite implementation.
//!
//! Beside them: [`accounts`] (users and their first collections),
//! [`import`], [`export`] and [`migrate`] (admin commands that write and
//! read through the store like clients do), [`progress`], and the text
//! helpers [`collation`] and [`text`].
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]

pub mod accounts;
pub mod auth;
pub mod caldav;
pub mod carddav;
pub mod cli;
pub mod collation;
pub mod collections;
pub mod config;
pub mod dav;
pub mod export;
pub mod ical;
pub mod import;
pub mod migrate;
pub mod progress;
pub mod server;
pub mod store;
pub mod text;
pub mod vcard;
