//! Remote connections, saved as JSON in the app's config folder, and their API keys, saved in
//! the OS keychain (the Secret Service on Linux) and nowhere else.
//!
//! Architecture Invariant: an API key is written to the keychain only. The connections file
//! holds ids, names, URLs and colours; a key never reaches the webview.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The keychain service under which keys are stored (the app's identifier).
pub const KEYCHAIN_SERVICE: &str = "dev.orrery.desktop";

/// A remote connection as saved on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Base URL, without a trailing slash.
    pub url: String,
    /// A CSS colour.
    pub color: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    connections: Vec<Saved>,
}

/// The saved connections and where they live.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    /// In the order the user added them.
    pub connections: Vec<Saved>,
}

impl Store {
    /// Loads `dir/connections.json` (none yet is an empty list). A file that cannot be read is
    /// an error naming it, so nothing overwrites it by accident.
    pub fn load(dir: &Path) -> Result<Store, String> {
        let path = dir.join("connections.json");
        let connections = match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice::<File>(&bytes)
                    .map_err(|e| {
                        format!(
                            "{} is not a valid connections file ({e}); fix or remove it",
                            path.display()
                        )
                    })?
                    .connections
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        Ok(Store { path, connections })
    }

    /// Writes the file atomically (a temporary file renamed over the old one).
    pub fn save(&self) -> Result<(), String> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let body = serde_json::to_vec_pretty(&File { connections: self.connections.clone() })
            .map_err(|e| e.to_string())?;
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, body).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path)
            .map_err(|e| format!("cannot replace {}: {e}", self.path.display()))
    }

    /// The connection with this id.
    pub fn get(&self, id: &str) -> Option<&Saved> {
        self.connections.iter().find(|c| c.id == id)
    }
}

/// Checks a URL a user typed and returns it without a trailing slash.
pub fn normalize_url(url: &str) -> Result<String, String> {
    let url = url.trim();
    let (scheme, rest) = ["http://", "https://"]
        .iter()
        .find_map(|s| url.strip_prefix(s).map(|rest| (*s, rest)))
        .ok_or_else(|| format!("{url:?} is not an http:// or https:// URL"))?;
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("{url:?} has no host"));
    }
    Ok(format!("{scheme}{rest}"))
}

/// The keychain's keys, read once and then kept in the shell's memory (and nowhere else): the
/// health loop and the UI's polling would otherwise ask the Secret Service over D-Bus for every
/// connection several times a second. A failed read is not remembered, so it is retried.
#[derive(Default)]
pub struct KeyCache(std::sync::Mutex<std::collections::HashMap<String, Option<String>>>);

impl KeyCache {
    fn remember(&self, id: &str, key: Option<String>) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(id.to_string(), key);
        }
    }

    /// The key of a connection, if one is stored.
    pub fn get(&self, id: &str) -> Result<Option<String>, String> {
        if let Some(k) = self.0.lock().ok().and_then(|m| m.get(id).cloned()) {
            return Ok(k);
        }
        let key = keys::get(id)?;
        self.remember(id, key.clone());
        Ok(key)
    }

    /// Stores (replaces) the key of a connection.
    pub fn set(&self, id: &str, key: &str) -> Result<(), String> {
        keys::set(id, key)?;
        self.remember(id, Some(key.to_string()));
        Ok(())
    }

    /// Removes the key of a connection.
    pub fn delete(&self, id: &str) -> Result<(), String> {
        keys::delete(id)?;
        self.remember(id, None);
        Ok(())
    }
}

/// The API keys, one keychain entry per connection id.
pub mod keys {
    use super::KEYCHAIN_SERVICE;

    fn entry(id: &str) -> Result<keyring::Entry, String> {
        keyring::Entry::new(KEYCHAIN_SERVICE, id).map_err(describe)
    }

    fn describe(e: keyring::Error) -> String {
        match e {
            keyring::Error::NoStorageAccess(inner) => format!(
                "the OS keychain is not available ({inner}); unlock it (on Linux: a Secret \
                 Service such as GNOME Keyring) and try again"
            ),
            other => format!("keychain: {other}"),
        }
    }

    /// Stores (replaces) the key of a connection.
    pub fn set(id: &str, key: &str) -> Result<(), String> {
        entry(id)?.set_password(key).map_err(describe)
    }

    /// The key of a connection, if one is stored.
    pub fn get(id: &str) -> Result<Option<String>, String> {
        match entry(id)?.get_password() {
            Ok(k) => Ok(Some(k)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(describe(e)),
        }
    }

    /// Removes the key of a connection (absent is fine).
    pub fn delete(id: &str) -> Result<(), String> {
        match entry(id)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(describe(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_are_checked_and_trimmed() {
        assert_eq!(normalize_url(" http://127.0.0.1:2024/ ").unwrap(), "http://127.0.0.1:2024");
        assert_eq!(normalize_url("https://x.example.com").unwrap(), "https://x.example.com");
        assert!(normalize_url("ftp://x").unwrap_err().contains("not an http"));
        assert!(normalize_url("http://").unwrap_err().contains("no host"));
    }

    #[test]
    fn the_store_round_trips_and_refuses_a_broken_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::load(dir.path()).unwrap();
        assert!(s.connections.is_empty());
        s.connections.push(Saved {
            id: "a".into(),
            name: "prod".into(),
            url: "https://x".into(),
            color: "#f00".into(),
        });
        s.save().unwrap();
        let again = Store::load(dir.path()).unwrap();
        assert_eq!(again.connections, s.connections);
        std::fs::write(dir.path().join("connections.json"), b"{oops").unwrap();
        let err = Store::load(dir.path()).unwrap_err();
        assert!(err.contains("connections.json") && err.contains("not a valid"), "{err}");
    }
}
