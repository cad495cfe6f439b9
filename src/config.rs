//! Configuration: a TOML file, overridden by command-line flags and their
//! environment variables, resolved into one validated [`Config`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::dav::DavSettings;
use crate::server::ServerSettings;

pub const DEFAULT_DATA_DIR: &str = "skjold-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8008";
pub const DATABASE_FILE: &str = "skjold.db";

/// The configuration file. Every key is optional; unknown keys are errors,
/// so that a typo does not silently leave a default in place.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub cors_allowed_origins: Option<Vec<String>>,
    pub trust_forwarded_for: Option<bool>,
    pub max_connections: Option<usize>,
    pub request_timeout_secs: Option<u64>,
    pub idle_timeout_secs: Option<u64>,
    pub max_header_bytes: Option<usize>,
    pub max_resource_size: Option<usize>,
    pub max_file_size: Option<usize>,
    pub max_xml_body: Option<usize>,
    pub default_quota_bytes: Option<i64>,
    pub log: Option<String>,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Values given on the command line (or through their environment variables).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub public_url: Option<String>,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub server: ServerSettings,
    pub dav: DavSettings,
    pub log: String,
}

impl Config {
    pub fn resolve(file: FileConfig, flags: Overrides) -> Result<Self, String> {
        let data_dir = flags.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let listen_text = flags.listen.or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            format!("listen address {listen_text:?} is not ADDRESS:PORT (for example 0.0.0.0:8443)")
        })?;
        let public_url = flags.public_url.or(file.public_url).map(|u| u.trim_end_matches('/').to_owned());
        if let Some(u) = &public_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(format!("public_url {u:?} must start with http:// or https://"));
        }
        let tls = match (flags.tls_cert.or(file.tls_cert), flags.tls_key.or(file.tls_key)) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => return Err("TLS needs both a certificate (tls_cert) and a key (tls_key)".into()),
        };
        let origins = file.cors_allowed_origins.unwrap_or_default();
        for o in &origins {
            let valid = (o.starts_with("https://") || o.starts_with("http://"))
                && !o
                    .split_once("://")
                    .map(|(_, rest)| rest.contains('/') || rest.is_empty())
                    .unwrap_or(true);
            if !valid {
                return Err(format!(
                    "CORS origin {o:?} must be scheme://host[:port], without a path (for example https://mail.example.com)"
                ));
            }
        }
        let server_defaults = ServerSettings::default();
        let server = ServerSettings {
            max_connections: file.max_connections.unwrap_or(server_defaults.max_connections),
            request_timeout: file
                .request_timeout_secs
                .map(Duration::from_secs)
                .unwrap_or(server_defaults.request_timeout),
            idle_timeout: file
                .idle_timeout_secs
                .map(Duration::from_secs)
                .unwrap_or(server_defaults.idle_timeout),
            max_header_bytes: file.max_header_bytes.unwrap_or(server_defaults.max_header_bytes),
            cors_allowed_origins: origins,
            trust_forwarded_for: file.trust_forwarded_for.unwrap_or(false),
        };
        if server.max_connections == 0 {
            return Err("max_connections must be at least 1".into());
        }
        let dav_defaults = DavSettings::default();
        let dav = DavSettings {
            max_resource_size: file.max_resource_size.unwrap_or(dav_defaults.max_resource_size),
            max_file_size: file.max_file_size.unwrap_or(dav_defaults.max_file_size),
            max_xml_body: file.max_xml_body.unwrap_or(dav_defaults.max_xml_body),
            // 0 (or less) means unlimited.
            default_quota: match file.default_quota_bytes {
                Some(q) if q <= 0 => None,
                Some(q) => Some(q),
                None => dav_defaults.default_quota,
            },
        };
        Ok(Config {
            data_dir,
            listen,
            public_url,
            tls,
            server,
            dav,
            log: file.log.unwrap_or_else(|| "info".into()),
        })
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join(DATABASE_FILE)
    }

    /// The address to give to clients.
    pub fn client_url(&self, bound: SocketAddr) -> String {
        if let Some(u) = &self.public_url {
            return format!("{u}/");
        }
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let host = if bound.ip().is_unspecified() { "localhost".to_owned() } else { bound.ip().to_string() };
        let host = if bound.is_ipv6() && !bound.ip().is_unspecified() { format!("[{host}]") } else { host };
        format!("{scheme}://{host}:{}/", bound.port())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_defaults_fill_the_rest() {
        let file: FileConfig = toml::from_str(
            r#"listen = "0.0.0.0:9000"
               data_dir = "/srv/skjold"
               cors_allowed_origins = ["https://mail.example.com"]
               default_quota_bytes = 1000"#,
        )
        .unwrap();
        let c = Config::resolve(
            file.clone(),
            Overrides { listen: Some("127.0.0.1:1".into()), ..Default::default() },
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:1");
        assert_eq!(c.data_dir, PathBuf::from("/srv/skjold"));
        assert_eq!(c.server.cors_allowed_origins, vec!["https://mail.example.com".to_string()]);
        assert_eq!(c.dav.default_quota, Some(1000));
        let d = Config::resolve(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(d.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(d.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    }

    #[test]
    fn mistakes_are_reported() {
        assert!(toml::from_str::<FileConfig>("lisen = \"x\"").is_err(), "unknown keys are errors");
        for (file, flags) in [
            (FileConfig { listen: Some("nonsense".into()), ..Default::default() }, Overrides::default()),
            (FileConfig { tls_cert: Some("c.pem".into()), ..Default::default() }, Overrides::default()),
            (
                FileConfig { public_url: Some("dav.example.com".into()), ..Default::default() },
                Overrides::default(),
            ),
            (
                FileConfig {
                    cors_allowed_origins: Some(vec!["https://a.example/path".into()]),
                    ..Default::default()
                },
                Overrides::default(),
            ),
        ] {
            assert!(Config::resolve(file, flags).is_err());
        }
    }
}
