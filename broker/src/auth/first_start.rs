//! The first start: without a password file and without open anonymous access nobody could connect, so Roost
//! makes one in its data directory holding an administrator with a random password, shown once.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::passwd::{self, HashKind};
use crate::config::{Anonymous, AuthConfig};

/// The file name of the password file Roost keeps in its data directory.
const PASSWORD_FILE_NAME: &str = "passwd";

/// What the first start made: the caller shows it once on the terminal.
pub struct FirstStart {
    /// The password file made.
    pub path: PathBuf,
    /// The user in it.
    pub user: String,
    /// That user's password, in clear: kept nowhere else (the file holds its hash only).
    pub password: String,
}

/// Never printed by accident (logs, panics): only the caller's deliberate message shows the password.
impl fmt::Debug for FirstStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FirstStart")
            .field("path", &self.path)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Settles which password file `roost serve` uses when the configuration names none: `passwd` in `data_dir`.
/// If it does not exist and anonymous access is not fully open, creates it with the first of `[auth] admins`
/// (`admin` by default) and a random password, storing only its argon2id hash, and returns what was made so
/// the caller can show the password once. A configured `password_file` is used as it is (a missing one is an
/// error when it is read, as in Mosquitto).
pub fn first_start(auth: &mut AuthConfig, data_dir: &Path) -> std::io::Result<Option<FirstStart>> {
    if default_password_file(auth, data_dir) {
        return Ok(None);
    }
    let path = data_dir.join(PASSWORD_FILE_NAME);
    if auth.allow_anonymous == Anonymous::Allow {
        return Ok(None);
    }
    std::fs::create_dir_all(data_dir)?;
    let user = auth.admins.first().cloned().unwrap_or_else(|| "admin".to_owned());
    // 15 random bytes: 120 bits, 20 characters of URL-safe base64 (letters, digits, `-`, `_`): easy to copy.
    let mut secret = [0u8; 15];
    getrandom::fill(&mut secret).map_err(std::io::Error::other)?;
    let password = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let hash = passwd::hash_password(HashKind::Argon2id, password.as_bytes()).map_err(std::io::Error::other)?;
    passwd::write_private(&path, &format!("{user}:{hash}\n"))?;
    auth.password_file = Some(path.clone());
    Ok(Some(FirstStart { path, user, password }))
}

/// Where the configuration names no password file, uses `passwd` in `data_dir` if it exists. Whether `auth` has
/// a password file now. For a reload, which must not create one.
pub fn default_password_file(auth: &mut AuthConfig, data_dir: &Path) -> bool {
    if auth.password_file.is_none() {
        let path = data_dir.join(PASSWORD_FILE_NAME);
        if path.exists() {
            auth.password_file = Some(path);
        }
    }
    auth.password_file.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Auth;

    #[tokio::test]
    async fn the_first_start_makes_an_admin_whose_password_works() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut config = AuthConfig::default();
        let made = first_start(&mut config, &data)
            .unwrap()
            .expect("made on the first start");
        assert_eq!(made.user, "admin");
        assert_eq!(made.password.len(), 20);
        assert_eq!(config.password_file.as_deref(), Some(data.join("passwd").as_path()));
        let text = std::fs::read_to_string(&made.path).unwrap();
        assert!(text.starts_with("admin:$argon2id$"), "{text}");
        assert!(!text.contains(&made.password), "only the hash is stored");
        assert!(!format!("{made:?}").contains(&made.password));
        let auth = Auth::load(&config).unwrap();
        let peer = std::net::Ipv4Addr::LOCALHOST.into();
        let admin = auth
            .authenticate(Some("admin"), Some(made.password.as_bytes()), peer)
            .await
            .unwrap();
        assert!(auth.is_admin(admin.name().unwrap()));

        // The second start finds the file and makes nothing.
        let mut again = AuthConfig::default();
        assert!(first_start(&mut again, &data).unwrap().is_none());
        assert_eq!(again.password_file, config.password_file);
        assert_eq!(std::fs::read_to_string(&made.path).unwrap(), text);
    }

    #[test]
    fn nothing_is_made_when_anonymous_access_is_open_or_a_file_is_configured() {
        let dir = tempfile::tempdir().unwrap();
        let mut open = AuthConfig {
            allow_anonymous: Anonymous::Allow,
            ..AuthConfig::default()
        };
        assert!(first_start(&mut open, dir.path()).unwrap().is_none());
        assert!(open.password_file.is_none());
        let configured = dir.path().join("mine");
        let mut own = AuthConfig {
            password_file: Some(configured.clone()),
            ..AuthConfig::default()
        };
        assert!(first_start(&mut own, dir.path()).unwrap().is_none());
        assert_eq!(own.password_file, Some(configured));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        // Loopback-only anonymous access still needs an administrator for everyone else.
        let mut loopback = AuthConfig {
            allow_anonymous: Anonymous::Loopback,
            ..AuthConfig::default()
        };
        assert!(first_start(&mut loopback, dir.path()).unwrap().is_some());
    }
}
