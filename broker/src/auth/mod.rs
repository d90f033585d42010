//! Who may connect and what they may do: Mosquitto-compatible password and ACL files, checked on CONNECT and
//! on every PUBLISH, SUBSCRIBE, will and delivery.
//!
//! - `passwd`: the password file format and its three hash kinds.
//! - `acl`: the ACL file format and its matching (publish, subscribe, read).
//! - `throttle`: failed logins slowed down per client address.
//! - `first_start`: the `admin` user made on the first start without a password file.
//! - `sessions`: the dashboard's login sessions (a cookie's token digest → user and expiry).
//!
//! The rules in force are one [`Policy`] behind an `RwLock<Arc<_>>`: every check clones the `Arc` (or borrows it
//! for a moment) and reads without further locking, and a reload (SIGHUP) swaps the whole policy at once, so
//! the next check of every connection already uses the new rules. A reload drops no connection whose login the
//! new rules still accept; one they no longer accept (anonymous access withdrawn, user removed, password
//! changed) is disconnected, as Mosquitto does: see [`Auth::still_allowed`].

mod acl;
mod first_start;
pub mod passwd;
pub mod sessions;
mod throttle;

use std::collections::HashMap;
use std::hash::{BuildHasher as _, Hash as _};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Instant;

use roost_codec::ReasonCode;

pub use first_start::{FirstStart, default_password_file, first_start};
pub use passwd::{HashKind, LineError, hash_password};

use crate::config::{Anonymous, AuthConfig};
use acl::Acl;
use passwd::Hash;
use throttle::Throttle;

/// Why the password or ACL file cannot be used. One line, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The file could not be read.
    #[error("cannot read {what} {path}: {source}")]
    Read {
        /// "password file" or "ACL file".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A line of the file is not understood.
    #[error("{what} {path}, {source}")]
    Invalid {
        /// "password file" or "ACL file".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Which line and why.
        source: LineError,
    },
    /// The configuration file could not be read again on reload.
    #[error("{0}")]
    Config(String),
}

/// Who a connection is, once its CONNECT is accepted: a user name, or nobody (anonymous), and how it proved it.
/// Cheap to clone and small (a pointer, a length and the proof), so every connection keeps one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    user: Option<Arc<str>>,
    /// Kept so a reload can tell whether the new rules still accept this login ([`Auth::still_allowed`]).
    proof: Proof,
}

/// How a connection got its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proof {
    /// No user name, accepted by `allow_anonymous`; `loopback`: from this machine (what `"loopback"` allows).
    Anonymous { loopback: bool },
    /// A password checked against the password file; the fingerprint of the hash it matched, so a changed
    /// password (or a removed user) is noticed without keeping the hash, or the password, with the connection.
    Password { fingerprint: u64 },
    /// Vouched for by the transport: a client certificate verified against `client_ca`
    /// (`use_identity_as_username`). Not rechecked on reload: TLS verified it, not the password file.
    Transport,
}

impl Default for Identity {
    fn default() -> Self {
        Identity {
            user: None,
            proof: Proof::Anonymous { loopback: false },
        }
    }
}

impl Identity {
    /// A client whose transport vouches that it is `user` (a client certificate).
    pub fn user(user: &str) -> Self {
        Identity {
            user: Some(user.into()),
            proof: Proof::Transport,
        }
    }

    /// A client without a user name.
    pub fn anonymous() -> Self {
        Identity::default()
    }

    /// A client without a user name, connecting from `peer`.
    fn anonymous_from(peer: IpAddr) -> Self {
        Identity {
            user: None,
            proof: Proof::Anonymous {
                loopback: peer.to_canonical().is_loopback(),
            },
        }
    }

    /// The user name, `None` when anonymous.
    pub fn name(&self) -> Option<&str> {
        self.user.as_deref()
    }
}

/// Why a CONNECT is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A user name the password file does not know, or the wrong password: CONNACK 0x86 (3.x: 4).
    #[error("bad user name or password")]
    BadCredentials,
    /// No user name where one is required: CONNACK 0x87 (3.x: 5).
    #[error("not authorised")]
    NotAuthorized,
}

impl Refusal {
    /// The CONNACK reason code; the codec writes MQTT 3.x's return code for it (4 or 5), as Mosquitto sends.
    pub fn reason_code(self) -> ReasonCode {
        match self {
            Refusal::BadCredentials => ReasonCode::BadUserNameOrPassword,
            Refusal::NotAuthorized => ReasonCode::NotAuthorized,
        }
    }
}

/// Whether `client_id` is the local side of one of Roost's own bridges: the ACL does not apply to it, as it does
/// not to Mosquitto's bridges (the operator chose what a bridge carries in its `topics`). Only a bridge can have such
/// a client id: the handshake refuses it from any other connection.
fn is_bridge(client_id: &str) -> bool {
    client_id.starts_with(crate::bridge::LOCAL_CLIENT_PREFIX)
}

/// The rules in force: users, ACL, anonymous access and administrators. Read by every check; replaced whole by
/// a reload.
#[derive(Debug)]
pub struct Policy {
    anonymous: Anonymous,
    /// `None` without a password file: then no user name can be checked.
    users: Option<HashMap<String, Hash>>,
    /// `None` without an ACL file: then every connected client may do anything.
    acl: Option<Acl>,
    admins: Vec<String>,
}

impl Policy {
    /// Whether the client (user name, client id) may publish to `topic` (also its will).
    pub fn can_publish(&self, user: Option<&str>, client_id: &str, topic: &str) -> bool {
        is_bridge(client_id)
            || self
                .acl
                .as_ref()
                .is_none_or(|acl| acl.can_write(user, client_id, topic))
    }

    /// Whether the client may subscribe to `filter`, given without any `$share/group/` prefix: an ACL rule
    /// granting read must cover every topic the filter can match, and no deny rule may cover it.
    pub fn can_subscribe(&self, user: Option<&str>, client_id: &str, filter: &str) -> bool {
        is_bridge(client_id)
            || self
                .acl
                .as_ref()
                .is_none_or(|acl| acl.can_subscribe(user, client_id, filter))
    }

    /// Whether a message on `topic` may be delivered to the client (a retained one on subscribe too). Checked
    /// per delivery, so a client whose read rights shrink on reload stops receiving at once.
    pub fn can_read(&self, user: Option<&str>, client_id: &str, topic: &str) -> bool {
        is_bridge(client_id) || self.acl.as_ref().is_none_or(|acl| acl.can_read(user, client_id, topic))
    }

    /// Whether `user` is one of `[auth] admins`.
    pub fn is_admin(&self, user: &str) -> bool {
        self.admins.iter().any(|admin| admin == user)
    }

    /// A stable digest of `user`'s password hash (see `passwd::Hash::stamp`), `None` when the password file does
    /// not hold the user: a dashboard session remembers it, and ends when the user's password changes or the user
    /// is removed.
    pub fn password_stamp(&self, user: &str) -> Option<[u8; 32]> {
        self.users.as_ref()?.get(user).map(Hash::stamp)
    }

    /// Whether any user exists (a password file with at least one line).
    pub fn has_users(&self) -> bool {
        self.users.as_ref().is_some_and(|users| !users.is_empty())
    }

    /// Whether clients without a user name are accepted from `peer`.
    pub fn allows_anonymous(&self, peer: IpAddr) -> bool {
        self.anonymous.allows(peer)
    }
}

/// Where a reload reads `[auth]` from: the configuration file again, with the command line's overrides.
pub type AuthSource = Box<dyn Fn() -> Result<AuthConfig, String> + Send + Sync>;

/// The broker's authentication and authorisation state.
pub struct Auth {
    /// The `[auth]` settings in force, for reloads without a [`AuthSource`].
    config: RwLock<AuthConfig>,
    /// Set by `roost serve`: a reload then re-reads the configuration file's `[auth]` too.
    source: OnceLock<AuthSource>,
    /// Counts reloads that changed the rules; the broker watches it to have every connection recheck its login.
    changes: tokio::sync::watch::Sender<u64>,
    /// The rules in force. A `std` lock held only to clone or swap the `Arc`.
    policy: RwLock<Arc<Policy>>,
    /// Failed logins per address.
    throttle: Throttle,
    /// Password hashes verified at once: argon2id takes 19 MiB and tens of milliseconds each, so a burst of
    /// CONNECTs waits here instead of taking every core and a lot of memory.
    hashing: tokio::sync::Semaphore,
}

impl Auth {
    /// Reads the files `config` names.
    pub fn load(config: &AuthConfig) -> Result<Self, AuthError> {
        let policy = load_policy(config)?;
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Ok(Auth {
            config: RwLock::new(config.clone()),
            source: OnceLock::new(),
            changes: tokio::sync::watch::Sender::new(0),
            policy: RwLock::new(Arc::new(policy)),
            throttle: Throttle::default(),
            hashing: tokio::sync::Semaphore::new(cores),
        })
    }

    /// From now on, [`Auth::reload`] re-reads `[auth]` through `source` (the configuration file, with the command
    /// line's overrides) before the files it names. Set once; a second call is ignored.
    pub fn set_source(&self, source: AuthSource) {
        let _ = self.source.set(source);
    }

    /// Reads `[auth]` again (with a [`AuthSource`]: `allow_anonymous`, `password_file`, `acl_file`, `admins`),
    /// then the password and ACL files, and puts them in force for every connection at once. Connections whose
    /// login the new rules refuse are told to close (see [`Auth::changes`]). On an error the rules in force stay
    /// as they were.
    pub fn reload(&self) -> Result<(), AuthError> {
        let config = match self.source.get() {
            Some(source) => source().map_err(AuthError::Config)?,
            None => self.config.read().unwrap_or_else(PoisonError::into_inner).clone(),
        };
        let policy = Arc::new(load_policy(&config)?);
        *self.policy.write().unwrap_or_else(PoisonError::into_inner) = policy;
        *self.config.write().unwrap_or_else(PoisonError::into_inner) = config;
        self.changes.send_modify(|count| *count += 1);
        Ok(())
    }

    /// Changes with every successful reload: the broker has each connection call [`Auth::still_allowed`].
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Whether the rules in force still accept the login `identity` made: anonymous access still open to it,
    /// or its user still in the password file with the same password hash (a changed password ends the
    /// connections that used the old one, as Mosquitto's reload does). Certificate identities stay.
    pub fn still_allowed(&self, identity: &Identity) -> bool {
        let policy = self.policy();
        match identity.proof {
            Proof::Anonymous { loopback } => {
                let from = if loopback {
                    IpAddr::V4(Ipv4Addr::LOCALHOST)
                } else {
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                };
                policy.anonymous.allows(from)
            }
            Proof::Password { fingerprint } => identity
                .user
                .as_deref()
                .and_then(|user| policy.users.as_ref()?.get(user))
                .is_some_and(|hash| fingerprint_of(hash) == fingerprint),
            Proof::Transport => true,
        }
    }

    /// The rules in force now; a caller checking many deliveries takes this once and checks each with it.
    pub fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.policy.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Whether the client may publish to `topic` under the rules in force.
    pub fn can_publish(&self, identity: &Identity, client_id: &str, topic: &str) -> bool {
        self.policy().can_publish(identity.name(), client_id, topic)
    }

    /// Whether the client may subscribe to `filter` (without `$share/group/`) under the rules in force.
    pub fn can_subscribe(&self, identity: &Identity, client_id: &str, filter: &str) -> bool {
        self.policy().can_subscribe(identity.name(), client_id, filter)
    }

    /// Whether a message on `topic` may be delivered to the client under the rules in force.
    pub fn can_read(&self, identity: &Identity, client_id: &str, topic: &str) -> bool {
        self.policy().can_read(identity.name(), client_id, topic)
    }

    /// Whether `user` administers Roost (`[auth] admins`).
    pub fn is_admin(&self, user: &str) -> bool {
        self.policy().is_admin(user)
    }

    /// The identity of a dashboard connection whose login session is `user`'s: as if it had given the password
    /// (so a reload that changes that password, or removes the user, ends the connection like any other of the
    /// user's). `None` when the password file no longer holds the user.
    pub fn session_identity(&self, user: &str) -> Option<Identity> {
        let policy = self.policy();
        let hash = policy.users.as_ref()?.get(user)?;
        Some(Identity {
            user: Some(user.into()),
            proof: Proof::Password {
                fingerprint: fingerprint_of(hash),
            },
        })
    }

    /// Checks a user name and password for the dashboard's login page: the same check as CONNECT's, with the
    /// same per-address delay after a failure and the same bound on hashes verified at once. `None` for a wrong
    /// pair, and always without a password file (then nobody has a password to log in with).
    pub async fn check_password(&self, user: &str, password: &[u8], peer: IpAddr) -> Option<Identity> {
        match self.authenticate(Some(user), Some(password), peer).await {
            Ok(identity) if identity.name().is_some() => Some(identity),
            _ => None,
        }
    }

    /// Checks a CONNECT's credentials. Without a user name the client is anonymous, accepted only where
    /// `allow_anonymous` says so. With one, the password file must hold it with this password; a failure waits a
    /// little longer each time for the same address before it is reported. Passwords are never logged.
    pub async fn authenticate(
        &self,
        username: Option<&str>,
        password: Option<&[u8]>,
        peer: IpAddr,
    ) -> Result<Identity, Refusal> {
        let policy = self.policy();
        let anonymous = || {
            if policy.anonymous.allows(peer) {
                Ok(Identity::anonymous_from(peer))
            } else {
                Err(Refusal::NotAuthorized)
            }
        };
        let Some(user) = username else {
            return anonymous();
        };
        // No password file: no user name can be checked, so none gives any rights; where anonymous clients are
        // welcome the client is one of them (Mosquitto accepts it too), elsewhere it is refused.
        let Some(users) = &policy.users else {
            return anonymous();
        };
        // An unknown user costs the same hash as a known one (any stored hash will do), so the time taken does
        // not tell which user names exist.
        let (hash, known) = match users.get(user) {
            Some(hash) => (Some(hash.clone()), true),
            None => (users.values().next().cloned(), false),
        };
        let fingerprint = hash.as_ref().map_or(0, fingerprint_of);
        let password = password.map(<[u8]>::to_vec);
        let verified = match (hash, password) {
            (Some(hash), Some(password)) => {
                let _permit = self.hashing.acquire().await;
                tokio::task::spawn_blocking(move || hash.verify(&password))
                    .await
                    .unwrap_or(false)
            }
            _ => false,
        };
        if known && verified {
            return Ok(Identity {
                user: Some(user.into()),
                proof: Proof::Password { fingerprint },
            });
        }
        tokio::time::sleep(self.throttle.failed(peer, Instant::now())).await;
        Err(Refusal::BadCredentials)
    }
}

/// A stand-in for a password hash, to notice that it changed: the process's own hasher, as the value never
/// leaves it.
fn fingerprint_of(hash: &Hash) -> u64 {
    static KEYS: OnceLock<std::hash::RandomState> = OnceLock::new();
    let mut hasher = KEYS.get_or_init(std::hash::RandomState::new).build_hasher();
    hash.hash(&mut hasher);
    std::hash::Hasher::finish(&hasher)
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("policy", &self.policy())
            .field("reloads", &*self.changes.borrow())
            .finish_non_exhaustive()
    }
}

fn read(path: &Path, what: &'static str) -> Result<String, AuthError> {
    std::fs::read_to_string(path).map_err(|source| AuthError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

fn load_policy(config: &AuthConfig) -> Result<Policy, AuthError> {
    let users = match &config.password_file {
        None => None,
        Some(path) => {
            const WHAT: &str = "password file";
            let entries = passwd::parse(&read(path, WHAT)?).map_err(|source| AuthError::Invalid {
                what: WHAT,
                path: path.clone(),
                source,
            })?;
            let mut users = HashMap::with_capacity(entries.len());
            for entry in entries {
                // The first line for a user counts, as `mosquitto_passwd` never writes two.
                users.entry(entry.user).or_insert(entry.hash);
            }
            Some(users)
        }
    };
    let acl = match &config.acl_file {
        None => None,
        Some(path) => {
            const WHAT: &str = "ACL file";
            Some(Acl::parse(&read(path, WHAT)?).map_err(|source| AuthError::Invalid {
                what: WHAT,
                path: path.clone(),
                source,
            })?)
        }
    };
    Ok(Policy {
        anonymous: config.allow_anonymous,
        users,
        acl,
        admins: config.admins.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const REMOTE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));

    fn auth_with(dir: &Path, passwd: &str, acl: Option<&str>, anonymous: Anonymous) -> Auth {
        let password_file = dir.join("passwd");
        std::fs::write(&password_file, passwd).unwrap();
        let acl_file = acl.map(|text| {
            let path = dir.join("acl");
            std::fs::write(&path, text).unwrap();
            path
        });
        Auth::load(&AuthConfig {
            allow_anonymous: anonymous,
            password_file: Some(password_file),
            acl_file,
            admins: vec!["admin".into()],
        })
        .unwrap()
    }

    fn line(user: &str, password: &str) -> String {
        format!(
            "{user}:{}\n",
            hash_password(HashKind::Sha512Pbkdf2, password.as_bytes()).unwrap()
        )
    }

    #[tokio::test(start_paused = true)]
    async fn users_log_in_with_their_password_only() {
        let dir = tempfile::tempdir().unwrap();
        let auth = auth_with(dir.path(), &line("alice", "wonder"), None, Anonymous::Deny);
        let alice = auth.authenticate(Some("alice"), Some(b"wonder"), REMOTE).await.unwrap();
        assert_eq!(alice.name(), Some("alice"));
        for (user, password) in [
            (Some("alice"), Some(&b"wrong"[..])),
            (Some("alice"), None),
            (Some("mallory"), Some(b"wonder")),
        ] {
            let refused = auth.authenticate(user, password, REMOTE).await;
            assert_eq!(refused, Err(Refusal::BadCredentials), "{user:?}");
        }
        assert_eq!(auth.authenticate(None, None, LOCAL).await, Err(Refusal::NotAuthorized));
        assert_eq!(Refusal::BadCredentials.reason_code(), ReasonCode::BadUserNameOrPassword);
        assert_eq!(Refusal::NotAuthorized.reason_code(), ReasonCode::NotAuthorized);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_logins_wait_longer_each_time() {
        let dir = tempfile::tempdir().unwrap();
        let auth = auth_with(dir.path(), &line("alice", "wonder"), None, Anonymous::Deny);
        let mut waits = Vec::new();
        for _ in 0..3 {
            let start = tokio::time::Instant::now();
            let _ = auth.authenticate(Some("alice"), Some(b"guess"), REMOTE).await;
            waits.push(start.elapsed());
        }
        assert!(waits[0] >= std::time::Duration::from_millis(100), "{waits:?}");
        assert!(waits[1] > waits[0] && waits[2] > waits[1], "{waits:?}");
        // A good password is not slowed down.
        let start = tokio::time::Instant::now();
        auth.authenticate(Some("alice"), Some(b"wonder"), REMOTE).await.unwrap();
        assert!(start.elapsed() < std::time::Duration::from_millis(100));
    }

    #[tokio::test]
    async fn anonymous_access_follows_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = line("alice", "wonder");
        let loopback = auth_with(dir.path(), &passwd, None, Anonymous::Loopback);
        let local = loopback.authenticate(None, None, LOCAL).await.unwrap();
        assert_eq!(local.name(), None);
        let v6_local = "::1".parse().unwrap();
        assert!(loopback.authenticate(None, None, v6_local).await.is_ok());
        assert_eq!(
            loopback.authenticate(None, None, REMOTE).await,
            Err(Refusal::NotAuthorized)
        );
        let open = auth_with(dir.path(), &passwd, None, Anonymous::Allow);
        assert!(open.authenticate(None, None, REMOTE).await.is_ok());
        // A user name is still checked where anonymous clients are welcome, as in Mosquitto.
        assert_eq!(
            open.authenticate(Some("alice"), Some(b"x"), LOCAL).await,
            Err(Refusal::BadCredentials)
        );
    }

    /// `roost serve` gives a reload the configuration file to read again: `allow_anonymous`, `admins` and the
    /// files it names change with it, and the logins made under the old rules are judged by the new.
    #[tokio::test(start_paused = true)]
    async fn a_reload_rereads_auth_and_judges_existing_logins() {
        let dir = tempfile::tempdir().unwrap();
        let alice_line = line("alice", "wonder");
        let passwd = format!("{alice_line}{}", line("carol", "old"));
        let auth = auth_with(dir.path(), &passwd, None, Anonymous::Loopback);
        let alice = auth.authenticate(Some("alice"), Some(b"wonder"), REMOTE).await.unwrap();
        let carol = auth.authenticate(Some("carol"), Some(b"old"), REMOTE).await.unwrap();
        let local = auth.authenticate(None, None, LOCAL).await.unwrap();
        let certified = Identity::user("kitchen-sensor");
        let mut changes = auth.changes();
        // What the configuration file says after the edit: anonymous refused, alice the administrator, carol's
        // password changed.
        std::fs::write(
            dir.path().join("passwd"),
            format!("{alice_line}{}", line("carol", "new")),
        )
        .unwrap();
        let file = AuthConfig {
            allow_anonymous: Anonymous::Deny,
            password_file: Some(dir.path().join("passwd")),
            acl_file: None,
            admins: vec!["alice".into()],
        };
        assert!(auth.is_admin("admin") && !auth.is_admin("alice"));
        auth.set_source(Box::new(move || Ok(file.clone())));
        auth.reload().unwrap();
        assert!(changes.has_changed().unwrap(), "the broker is told to recheck logins");
        changes.mark_unchanged();
        assert!(auth.is_admin("alice") && !auth.is_admin("admin"));
        assert!(auth.still_allowed(&alice), "same password hash: stays");
        assert!(!auth.still_allowed(&carol), "password changed: out");
        assert!(!auth.still_allowed(&local), "anonymous withdrawn: out");
        assert!(
            auth.still_allowed(&certified),
            "a certificate is not the password file's to judge"
        );
        assert_eq!(auth.authenticate(None, None, LOCAL).await, Err(Refusal::NotAuthorized));
        auth.authenticate(Some("carol"), Some(b"new"), REMOTE).await.unwrap();

        // A source that fails (a broken configuration file) changes nothing and tells nobody.
        let broken = Auth::load(&AuthConfig::default()).unwrap();
        broken.set_source(Box::new(|| Err("roost.toml, line 3: bad".into())));
        let changes = broken.changes();
        assert!(matches!(broken.reload(), Err(AuthError::Config(why)) if why.contains("line 3")));
        assert!(!changes.has_changed().unwrap());
        assert!(broken.is_admin("admin"));
    }

    #[tokio::test]
    async fn without_a_password_file_user_names_give_no_rights() {
        let open = Auth::load(&AuthConfig {
            allow_anonymous: Anonymous::Allow,
            ..AuthConfig::default()
        })
        .unwrap();
        let identity = open.authenticate(Some("root"), Some(b"x"), REMOTE).await.unwrap();
        assert_eq!(identity, Identity::anonymous());
        let closed = Auth::load(&AuthConfig::default()).unwrap();
        assert_eq!(
            closed.authenticate(Some("root"), Some(b"x"), LOCAL).await,
            Err(Refusal::NotAuthorized)
        );
    }

    #[test]
    fn no_acl_file_allows_everything() {
        let auth = Auth::load(&AuthConfig::default()).unwrap();
        let someone = Identity::user("someone");
        assert!(auth.can_publish(&someone, "c", "a/b"));
        assert!(auth.can_subscribe(&someone, "c", "#"));
        assert!(auth.can_read(&Identity::anonymous(), "c", "a/b"));
    }

    #[test]
    fn retained_and_live_deliveries_are_read_checks() {
        let dir = tempfile::tempdir().unwrap();
        let acl = "user alice\ntopic read home/#\ntopic deny home/alarm/code\npattern read clients/%c/inbox\n";
        let auth = auth_with(dir.path(), &line("alice", "w"), Some(acl), Anonymous::Deny);
        let alice = Identity::user("alice");
        // What a subscription to `home/#` (allowed) may then receive, retained or live.
        assert!(auth.can_subscribe(&alice, "phone", "home/#"));
        assert!(auth.can_read(&alice, "phone", "home/kitchen/temp"));
        assert!(!auth.can_read(&alice, "phone", "home/alarm/code"));
        assert!(auth.can_read(&alice, "phone", "clients/phone/inbox"));
        assert!(!auth.can_read(&alice, "phone", "clients/tablet/inbox"));
        assert!(!auth.can_publish(&alice, "phone", "home/kitchen/temp"), "read only");
    }

    #[test]
    fn a_reload_changes_the_rules_for_everyone_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let auth = auth_with(
            dir.path(),
            &line("alice", "w"),
            Some("user alice\ntopic a/#\n"),
            Anonymous::Deny,
        );
        let alice = Identity::user("alice");
        let before = auth.policy();
        assert!(auth.can_read(&alice, "c", "a/1"));
        std::fs::write(dir.path().join("acl"), "user alice\ntopic b/#\n").unwrap();
        auth.reload().unwrap();
        assert!(!auth.can_read(&alice, "c", "a/1"));
        assert!(auth.can_read(&alice, "c", "b/1"));
        assert!(
            before.can_read(Some("alice"), "c", "a/1"),
            "a snapshot taken before is unchanged"
        );
        // A broken file leaves the rules in force as they were.
        std::fs::write(dir.path().join("acl"), "user alice\ntopic raed b/#\n").unwrap();
        let error = auth.reload().unwrap_err().to_string();
        assert!(error.contains("ACL file") && error.contains("line 2"), "{error}");
        assert!(auth.can_read(&alice, "c", "b/1"));
    }

    #[test]
    fn admins_are_the_configured_users() {
        let auth = Auth::load(&AuthConfig::default()).unwrap();
        assert!(auth.is_admin("admin"));
        assert!(!auth.is_admin("alice"));
    }

    #[test]
    fn load_errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        std::fs::write(&path, "alice:plaintext\n").unwrap();
        let config = AuthConfig {
            password_file: Some(path.clone()),
            ..AuthConfig::default()
        };
        let error = Auth::load(&config).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("password file {}, line 1:", path.display())),
            "{error}"
        );
        assert!(!error.contains("plaintext"), "never shows a password or hash: {error}");
        let missing = AuthConfig {
            acl_file: Some(dir.path().join("nope")),
            ..AuthConfig::default()
        };
        let error = Auth::load(&missing).unwrap_err().to_string();
        assert!(error.starts_with("cannot read ACL file "), "{error}");
    }
}
