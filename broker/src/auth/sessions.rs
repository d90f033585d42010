//! The dashboard's login sessions: a random token in an `HttpOnly` cookie, of which only a SHA-256 digest is kept
//! here with its user, expiry and the stamp of the user's password hash then (so a new password ends it). With a data directory they are kept in its `sessions` file too, so a restart
//! (an update, a power cut) does not log every browser out; the file holds digests only, so reading it gives no
//! way in.
//!
//! Time is passed in (`now`), wall-clock `SystemTime` because expiries outlive the process in that file.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};

/// Sessions kept at once. A household has a few browsers; the cap bounds memory and the file when someone with a
/// password logs in in a loop. When full, the session closest to its expiry makes room.
pub const MAX_SESSIONS: usize = 1000;

/// The file in the data directory.
pub const FILE_NAME: &str = "sessions";

/// Bytes of randomness in a token: 256 bits, written as 64 hex digits.
const TOKEN_BYTES: usize = 32;

/// A SHA-256 digest of a token.
type Digest = [u8; 32];

/// The login sessions in force.
#[derive(Debug)]
pub struct Sessions {
    /// Digest of the token → its session. A `std` mutex: each section is a map operation, never held across an
    /// `.await`.
    table: Mutex<HashMap<Digest, Session>>,
    /// Where they are kept across restarts; `None` keeps them in memory only.
    file: Option<PathBuf>,
    /// Serialises writes of the file, so an older table never replaces a newer one: the table is read under this
    /// lock, just before writing.
    writing: Mutex<()>,
}

/// One login.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Session {
    user: Arc<str>,
    /// Seconds since the Unix epoch.
    expires: u64,
    /// The user's password stamp at login (`Auth::password_stamp`).
    stamp: Stamp,
}

/// A digest of a user's password hash at login: [`Sessions::user`] returns it, and the caller ends the session when
/// the user's stamp is no longer this one.
pub type Stamp = [u8; 32];

/// A session just made: the cookie's value, and its expiry.
#[derive(Debug)]
pub struct NewSession {
    /// The token (64 hex digits). Never logged; given to the browser only, in the cookie.
    pub token: String,
}

impl Sessions {
    /// Sessions kept in memory only (no data directory).
    pub fn memory() -> Self {
        Sessions {
            table: Mutex::new(HashMap::new()),
            file: None,
            writing: Mutex::new(()),
        }
    }

    /// Sessions kept in `file`, starting with those it holds that have not expired at `now`. A missing file is an
    /// empty one; a line that cannot be read is skipped (that browser logs in again).
    pub fn open(file: PathBuf, now: SystemTime) -> Self {
        let mut table = HashMap::new();
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                let now = seconds(now);
                for line in text.lines().filter(|line| !line.is_empty() && !line.starts_with('#')) {
                    match parse_line(line) {
                        Some((digest, session)) if session.expires > now => {
                            table.insert(digest, session);
                        }
                        Some(_) => {}
                        None => {
                            tracing::warn!(file = %file.display(), "a line of the sessions file is not understood; skipped")
                        }
                    }
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!(file = %file.display(), %error, "cannot read the sessions file; everyone logs in again");
            }
        }
        table.truncate_to(MAX_SESSIONS);
        Sessions {
            table: Mutex::new(table),
            file: Some(file),
            writing: Mutex::new(()),
        }
    }

    /// Starts a session for `user` (whose password stamp is `stamp`) lasting `lifetime` from `now`, and keeps it
    /// (in the file, if any).
    pub fn create(&self, user: &str, stamp: Stamp, lifetime: Duration, now: SystemTime) -> std::io::Result<NewSession> {
        let mut secret = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut secret).map_err(std::io::Error::other)?;
        let token = hex(&secret);
        let session = Session {
            user: user.into(),
            expires: seconds(now).saturating_add(lifetime.as_secs()),
            stamp,
        };
        {
            let mut table = self.lock();
            let now = seconds(now);
            table.retain(|_, session| session.expires > now);
            if table.len() >= MAX_SESSIONS {
                table.truncate_to(MAX_SESSIONS - 1);
            }
            table.insert(digest(&token), session);
        }
        self.save()?;
        Ok(NewSession { token })
    }

    /// The user of the session whose token is `token`, and the user's password stamp at login, if the session
    /// exists and has not expired at `now`.
    pub fn user(&self, token: &str, now: SystemTime) -> Option<(Arc<str>, Stamp)> {
        let digest = digest(token);
        let table = self.lock();
        let session = table.get(&digest)?;
        (session.expires > seconds(now)).then(|| (Arc::clone(&session.user), session.stamp))
    }

    /// Ends the session whose token is `token` (logout). Nothing happens for an unknown token.
    pub fn remove(&self, token: &str) -> std::io::Result<()> {
        if self.lock().remove(&digest(token)).is_some() {
            self.save()?;
        }
        Ok(())
    }

    /// How many sessions are kept (expired ones included until the next login sweeps them).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Digest, Session>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the table to the file in one step (a temporary file, then a rename), readable by its owner only.
    /// A few hundred bytes per session, written on login and logout only.
    fn save(&self) -> std::io::Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let mut text =
            String::from("# Roost dashboard sessions: sha256(token) expiry-unix-seconds password-stamp user\n");
        for (digest, session) in self.lock().iter() {
            let _ = writeln!(
                text,
                "{} {} {} {}",
                hex(digest),
                session.expires,
                hex(&session.stamp),
                session.user
            );
        }
        super::passwd::write_private(file, &text)
    }
}

/// Evicting the sessions closest to expiry, down to a count.
trait TruncateTo {
    fn truncate_to(&mut self, len: usize);
}

impl TruncateTo for HashMap<Digest, Session> {
    fn truncate_to(&mut self, len: usize) {
        if self.len() <= len {
            return;
        }
        let mut expiries: Vec<u64> = self.values().map(|session| session.expires).collect();
        expiries.sort_unstable();
        // Keep those expiring after the cut-off; ties at it may leave a few more, which the next call trims.
        let cut = expiries[self.len() - len - 1];
        self.retain(|_, session| session.expires > cut);
    }
}

/// `digest expires stamp user` → the entry, or `None` when the line is not one.
fn parse_line(line: &str) -> Option<(Digest, Session)> {
    let mut parts = line.splitn(4, ' ');
    let digest = unhex(parts.next()?)?;
    let expires = parts.next()?.parse().ok()?;
    let stamp = unhex(parts.next()?)?;
    let user = parts.next().filter(|user| !user.is_empty())?;
    Some((
        digest,
        Session {
            user: user.into(),
            expires,
            stamp,
        },
    ))
}

fn digest(token: &str) -> Digest {
    Sha256::digest(token.as_bytes()).into()
}

fn seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs())
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

fn unhex(text: &str) -> Option<Digest> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);
    const STAMP: Stamp = [7; 32];

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn a_session_lasts_until_it_expires_or_is_removed() {
        let sessions = Sessions::memory();
        let alice = sessions.create("alice", STAMP, HOUR, at(1_000)).unwrap();
        assert_eq!(alice.token.len(), 64);
        assert_eq!(sessions.user(&alice.token, at(1_000)), Some(("alice".into(), STAMP)));
        assert_eq!(
            sessions
                .user(&alice.token, at(1_000 + 3599))
                .map(|(user, _)| user)
                .as_deref(),
            Some("alice")
        );
        assert_eq!(sessions.user(&alice.token, at(1_000 + 3600)), None, "expired");
        assert_eq!(sessions.user("0".repeat(64).as_str(), at(1_000)), None);
        let bob = sessions.create("bob", STAMP, HOUR, at(1_000)).unwrap();
        assert_ne!(alice.token, bob.token);
        sessions.remove(&alice.token).unwrap();
        assert_eq!(sessions.user(&alice.token, at(1_001)), None);
        assert_eq!(
            sessions.user(&bob.token, at(1_001)).map(|(user, _)| user).as_deref(),
            Some("bob")
        );
    }

    #[test]
    fn the_file_keeps_digests_only_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let sessions = Sessions::open(path.clone(), at(0));
        let long = sessions.create("alice", STAMP, HOUR * 24, at(0)).unwrap();
        let short = sessions.create("bob", STAMP, HOUR, at(0)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&long.token) && !text.contains(&short.token), "{text}");
        assert!(text.contains(" alice\n") && text.contains(" bob\n"), "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "readable by its owner only");
        }
        drop(sessions);
        // Restarted two hours later: bob's session has expired, alice's is there.
        let reopened = Sessions::open(path.clone(), at(2 * 3600));
        assert_eq!(reopened.len(), 1);
        assert_eq!(reopened.user(&long.token, at(2 * 3600)), Some(("alice".into(), STAMP)));
        assert_eq!(reopened.user(&short.token, at(2 * 3600)), None);
        // A damaged line costs that session only.
        std::fs::write(&path, format!("{text}garbage\n")).unwrap();
        assert_eq!(Sessions::open(path, at(0)).len(), 2);
    }

    #[test]
    fn the_table_is_bounded() {
        let sessions = Sessions::memory();
        let first = sessions.create("alice", STAMP, HOUR, at(0)).unwrap();
        for i in 1..=MAX_SESSIONS as u64 {
            sessions.create("alice", STAMP, HOUR, at(i)).unwrap();
        }
        assert_eq!(sessions.len(), MAX_SESSIONS);
        assert_eq!(
            sessions.user(&first.token, at(10)),
            None,
            "the one closest to expiry made room"
        );
    }
}
