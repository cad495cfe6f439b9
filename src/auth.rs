//! HTTP Basic authentication (RFC 7617) with argon2id password hashes.
//!
//! Clients send credentials with every request and argon2 costs ~85 ms of CPU
//! on purpose, so verified credentials are cached (DESIGN §9) under an HMAC
//! of user and password with a per-process key: the cache never holds a
//! password, and an entry only counts while the stored hash it was verified
//! against is still the account's hash (a password change anywhere, even by
//! the CLI in another process, invalidates it at once).
//!
//! Failed logins are throttled per client address and per account with
//! exponential back-off; an unknown user and a wrong password look the same,
//! down to the time they take.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::sync::Semaphore;

use crate::store::{Principal, Store, StoreError};

/// How long a verified credential is trusted without argon2.
const CACHE_TTL: Duration = Duration::from_secs(15 * 60);
/// Most cached credentials; the cache is cleared of stale entries past it.
const CACHE_MAX: usize = 50_000;
/// Failures allowed before back-off starts.
const FREE_FAILURES: u32 = 5;
/// Longest block of a client address.
const MAX_ADDRESS_BLOCK: Duration = Duration::from_secs(15 * 60);
/// Longest block of an account (short: attackers must not lock users out for long).
const MAX_ACCOUNT_BLOCK: Duration = Duration::from_secs(60);
/// Failure records are forgotten after this long without a new failure.
const FAILURE_MEMORY: Duration = Duration::from_secs(60 * 60);
/// Most throttle records kept.
const THROTTLE_MAX: usize = 100_000;
/// Longest user name or password accepted.
const MAX_CREDENTIAL_BYTES: usize = 1024;

/// A hash that no password matches, verified against for unknown users so
/// that they take as long as known ones.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2tqb2xkLWR1bW15LXNhbHQ$2aoB8vwSu8v1JmI4eIAP0hC0ihK6ECuYr8ADbsPFTm8";

/// Hashes a password as an argon2id PHC string (blocking; ~85 ms).
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Checks a password against a PHC string (blocking).
pub fn verify_password(password: &str, phc: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), phc).is_ok()
}

/// App passwords are generated with ~116 bits of entropy, so a plain
/// SHA-256 stores them safely; a slow hash is for passwords people choose.
/// Checking them costs no argon2 run, so a login takes the same time
/// whether or not the account has app passwords.
pub fn hash_app_password(password: &str) -> String {
    let digest = <Sha256 as sha2::Digest>::digest(password.as_bytes());
    let mut out = String::from("sha256:");
    for b in digest.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A random password of 20 characters from an alphabet without look-alikes.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..20).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect()
}

/// The outcome of checking a request's credentials.
#[derive(Debug)]
pub enum AuthOutcome {
    Authenticated(Principal),
    /// Missing or wrong credentials: 401 with a challenge.
    Unauthorized,
    /// Too many failures: 429 with `Retry-After`.
    Throttled {
        retry_after: u64,
    },
}

#[derive(Clone)]
struct CacheEntry {
    principal_id: i64,
    /// The hash the password was verified against (account or app password).
    verified_hash: String,
    expires: Instant,
}

#[derive(Debug, Clone, Copy, Default)]
struct Failures {
    count: u32,
    last: Option<Instant>,
    blocked_until: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ThrottleKey {
    Address(IpAddr),
    Account(String),
}

pub struct Authenticator {
    store: Arc<dyn Store>,
    key: [u8; 32],
    cache: Mutex<HashMap<[u8; 32], CacheEntry>>,
    throttle: Mutex<HashMap<ThrottleKey, Failures>>,
    /// Argon2 runs at most this many at once, so that a flood of logins
    /// cannot take every blocking thread.
    hashing: Semaphore,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Splits a `Basic` Authorization header into user (lower-cased) and password.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, data) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(data.trim()).ok()?;
    if decoded.len() > 2 * MAX_CREDENTIAL_BYTES {
        return None;
    }
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    let user = user.trim().to_lowercase();
    if user.is_empty() || user.len() > MAX_CREDENTIAL_BYTES || password.len() > MAX_CREDENTIAL_BYTES {
        return None;
    }
    Some((user, password.to_owned()))
}

impl Authenticator {
    pub fn new(store: Arc<dyn Store>, hashing_threads: usize) -> Self {
        let mut key = [0u8; 32];
        rand::fill(&mut key);
        Authenticator {
            store,
            key,
            cache: Mutex::new(HashMap::new()),
            throttle: Mutex::new(HashMap::new()),
            hashing: Semaphore::new(hashing_threads.max(1)),
        }
    }

    fn cache_key(&self, user: &str, password: &str) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(user.as_bytes());
        mac.update(&[0]);
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Checks the `Authorization` header of a request from `client`.
    pub async fn authenticate(&self, authorization: Option<&str>, client: IpAddr) -> AuthOutcome {
        let Some((user, password)) = authorization.and_then(parse_basic) else {
            return AuthOutcome::Unauthorized;
        };
        if let Some(retry_after) = self.blocked(&user, client) {
            return AuthOutcome::Throttled { retry_after };
        }
        match self.verify(&user, &password).await {
            Ok(Some(principal)) => {
                self.forget_failures(&user, client);
                AuthOutcome::Authenticated(principal)
            }
            Ok(None) => {
                self.record_failure(&user, client);
                tracing::info!(client = %client, "failed login");
                AuthOutcome::Unauthorized
            }
            Err(e) => {
                tracing::error!(error = %e, "authentication could not read the store");
                AuthOutcome::Unauthorized
            }
        }
    }

    async fn verify(&self, user: &str, password: &str) -> Result<Option<Principal>, StoreError> {
        let key = self.cache_key(user, password);
        let principal = self.store.principal_by_name(user).await?;
        let cached = lock(&self.cache).get(&key).cloned();
        if let (Some(entry), Some(p)) = (&cached, &principal)
            && entry.expires > Instant::now()
            && entry.principal_id == p.id
            && !p.disabled
        {
            if entry.verified_hash == p.password_hash {
                return Ok(principal);
            }
            let apps = self.store.app_passwords(p.id).await?;
            if apps.iter().any(|a| a.password_hash == entry.verified_hash) {
                return Ok(principal);
            }
        }
        let Some(p) = principal.filter(|p| !p.disabled) else {
            self.hash_check(password.to_owned(), DUMMY_HASH.to_owned()).await;
            return Ok(None);
        };
        let mut verified = None;
        if self.hash_check(password.to_owned(), p.password_hash.clone()).await {
            verified = Some(p.password_hash.clone());
        } else {
            let candidate = hash_app_password(password);
            let apps = self.store.app_passwords(p.id).await?;
            if let Some(app) = apps.into_iter().find(|a| a.password_hash == candidate) {
                if let Err(e) = self.store.touch_app_password(app.id, crate::store::now()).await {
                    tracing::warn!(error = %e, "could not record the use of an app password");
                }
                verified = Some(app.password_hash);
            }
        }
        let Some(verified_hash) = verified else { return Ok(None) };
        let mut cache = lock(&self.cache);
        if cache.len() >= CACHE_MAX {
            let now = Instant::now();
            cache.retain(|_, e| e.expires > now);
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(
            key,
            CacheEntry { principal_id: p.id, verified_hash, expires: Instant::now() + CACHE_TTL },
        );
        Ok(Some(p))
    }

    async fn hash_check(&self, password: String, phc: String) -> bool {
        let Ok(_permit) = self.hashing.acquire().await else { return false };
        tokio::task::spawn_blocking(move || verify_password(&password, &phc)).await.unwrap_or(false)
    }

    /// Seconds until `user` or `client` may try again, if blocked.
    fn blocked(&self, user: &str, client: IpAddr) -> Option<u64> {
        let now = Instant::now();
        let throttle = lock(&self.throttle);
        [ThrottleKey::Address(client), ThrottleKey::Account(user.to_owned())]
            .iter()
            .filter_map(|k| throttle.get(k)?.blocked_until)
            .filter(|until| *until > now)
            .map(|until| (until - now).as_secs().max(1))
            .max()
    }

    fn record_failure(&self, user: &str, client: IpAddr) {
        let now = Instant::now();
        let mut throttle = lock(&self.throttle);
        if throttle.len() >= THROTTLE_MAX {
            throttle.retain(|_, f| f.last.is_some_and(|t| now.duration_since(t) < FAILURE_MEMORY));
            if throttle.len() >= THROTTLE_MAX {
                throttle.clear();
            }
        }
        for (key, cap) in [
            (ThrottleKey::Address(client), MAX_ADDRESS_BLOCK),
            (ThrottleKey::Account(user.to_owned()), MAX_ACCOUNT_BLOCK),
        ] {
            let f = throttle.entry(key).or_default();
            if f.last.is_some_and(|t| now.duration_since(t) > FAILURE_MEMORY) {
                *f = Failures::default();
            }
            f.count += 1;
            f.last = Some(now);
            if f.count > FREE_FAILURES {
                let exponent = (f.count - FREE_FAILURES - 1).min(20);
                let block = Duration::from_secs(1u64 << exponent).min(cap);
                f.blocked_until = Some(now + block);
            }
        }
    }

    fn forget_failures(&self, user: &str, client: IpAddr) {
        let mut throttle = lock(&self.throttle);
        throttle.remove(&ThrottleKey::Address(client));
        throttle.remove(&ThrottleKey::Account(user.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_parsing() {
        let encode = |s: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(s));
        assert_eq!(parse_basic(&encode("Alice:pa:ss")), Some(("alice".into(), "pa:ss".into())));
        assert_eq!(parse_basic(&encode("bob:")), Some(("bob".into(), "".into())));
        assert_eq!(parse_basic(&encode("nocolon")), None);
        assert_eq!(parse_basic(&encode(":pw")), None);
        assert_eq!(parse_basic("Bearer abc"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
    }

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let phc = hash_password("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("wrong", &phc));
        assert!(!verify_password("anything", DUMMY_HASH));
        // The dummy must be a real hash, or unknown users would answer faster.
        assert!(argon2::PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn app_password_hashes_are_stable_and_distinct() {
        let a = hash_app_password("abc");
        assert_eq!(a, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_ne!(a, hash_app_password("abd"));
    }

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let a = generate_password();
        assert_eq!(a.len(), 20);
        assert_ne!(a, generate_password());
    }
}
