//! Password files in Mosquitto's format: one `user:hash` per line, read unchanged from what `mosquitto_passwd`
//! writes, and written so Mosquitto reads them too.
//!
//! Three hash kinds:
//! - `$6$<salt>$<hash>`: salted SHA-512, `hash = sha512(password ‖ salt)`, salt and hash in standard base64
//!   (what `mosquitto_passwd -H sha512` and Mosquitto 1.x write; not crypt(3)'s sha512-crypt).
//! - `$7$<iterations>$<salt>$<hash>`: PBKDF2-HMAC-SHA512 with the raw salt bytes (Mosquitto 2.0's default).
//! - `$argon2id$v=19$m=...,t=...,p=...$<salt>$<hash>`: a PHC string, what `roost passwd` writes by default.
//!   Mosquitto 2.0 does not read it: `roost passwd -H sha512-pbkdf2` writes a file both brokers read.

use std::fmt;
use std::path::Path;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest as _, Sha512};
use subtle::ConstantTimeEq as _;

/// Mosquitto's salt length for `$6$` and `$7$` (it refuses other lengths).
const SALT_LEN: usize = 12;
/// Iterations `roost passwd -H sha512-pbkdf2` writes: mosquitto_passwd's own figure, so the files are alike.
/// Roost's default, argon2id, is the strong choice; this kind is for files Mosquitto must read too.
pub(crate) const PBKDF2_ITERATIONS: u32 = 101;
/// A file can ask for any iteration count; far beyond this a single CONNECT would hold a core for seconds.
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

/// Which hash `roost passwd` writes (`-H`, named as mosquitto_passwd names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashKind {
    /// `$argon2id$...`: memory-hard; Roost's default.
    #[default]
    Argon2id,
    /// `$7$...`: PBKDF2-SHA512, Mosquitto 2.0's default.
    Sha512Pbkdf2,
    /// `$6$...`: one salted SHA-512, Mosquitto 1.x's.
    Sha512,
}

impl HashKind {
    /// Parses `-H`'s value: `argon2id`, `sha512-pbkdf2` or `sha512`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "argon2id" => Some(HashKind::Argon2id),
            "sha512-pbkdf2" => Some(HashKind::Sha512Pbkdf2),
            "sha512" => Some(HashKind::Sha512),
            _ => None,
        }
    }
}

/// A stored password hash, decoded once when the file is read so verifying does no parsing.
#[derive(Clone, PartialEq, Eq, std::hash::Hash)]
pub(crate) enum Hash {
    /// `$6$`.
    Sha512 { salt: Vec<u8>, hash: Vec<u8> },
    /// `$7$`.
    Pbkdf2 {
        iterations: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    /// `$argon2id$` (or another argon2 variant): the PHC string, which carries its own parameters.
    Argon2(String),
}

/// Hashes are secrets too (an offline guess needs only the hash): `Debug` shows the kind alone.
impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Hash::Sha512 { .. } => "Sha512(<redacted>)",
            Hash::Pbkdf2 { .. } => "Pbkdf2(<redacted>)",
            Hash::Argon2(_) => "Argon2(<redacted>)",
        })
    }
}

impl Hash {
    /// A stable digest of this hash (SHA-256 over its fields, each length-prefixed), to notice across restarts
    /// that a user's password changed: the dashboard's stored sessions keep it instead of anything about the
    /// password. Without the salt, which it does not reveal, it is no help in guessing the password.
    pub(crate) fn stamp(&self) -> [u8; 32] {
        let mut digest = sha2::Sha256::new();
        let mut field = |bytes: &[u8]| {
            digest.update((bytes.len() as u64).to_be_bytes());
            digest.update(bytes);
        };
        match self {
            Hash::Sha512 { salt, hash } => {
                field(b"6");
                field(salt);
                field(hash);
            }
            Hash::Pbkdf2 { iterations, salt, hash } => {
                field(b"7");
                field(&iterations.to_be_bytes());
                field(salt);
                field(hash);
            }
            Hash::Argon2(phc) => {
                field(b"argon2");
                field(phc.as_bytes());
            }
        }
        digest.finalize().into()
    }

    /// Decodes the hash part of a password file line; the error says what is wrong, never the hash itself.
    pub(crate) fn parse(text: &str) -> Result<Self, &'static str> {
        if text.starts_with("$argon2") {
            let parsed = PasswordHash::new(text).map_err(|_| "not a valid argon2 PHC string")?;
            if parsed.salt.is_none() || parsed.hash.is_none() {
                return Err("argon2 PHC string without salt or hash");
            }
            return Ok(Hash::Argon2(text.to_owned()));
        }
        let mut parts = text.split('$');
        if parts.next() != Some("") {
            return Err("not a hash (plain-text passwords are not accepted; hash them with `roost passwd`)");
        }
        let kind = parts.next();
        let iterations = match kind {
            Some("6") => None,
            Some("7") => {
                let n: u32 = parts
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("invalid PBKDF2 iteration count")?;
                if !(1..=MAX_PBKDF2_ITERATIONS).contains(&n) {
                    return Err("PBKDF2 iteration count out of range");
                }
                Some(n)
            }
            _ => return Err("unknown hash type (expected $6$, $7$ or $argon2id$)"),
        };
        let salt = parts
            .next()
            .and_then(|s| BASE64.decode(s).ok())
            .ok_or("invalid salt encoding")?;
        let hash = parts
            .next()
            .and_then(|s| BASE64.decode(s).ok())
            .ok_or("invalid hash encoding")?;
        if parts.next().is_some() || salt.is_empty() || hash.len() != 64 {
            return Err("malformed hash");
        }
        Ok(match iterations {
            None => Hash::Sha512 { salt, hash },
            Some(iterations) => Hash::Pbkdf2 { iterations, salt, hash },
        })
    }

    /// Whether `password` is the one this hash was made from, compared in constant time.
    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        match self {
            Hash::Sha512 { salt, hash } => {
                let digest = Sha512::new().chain_update(password).chain_update(salt).finalize();
                digest.as_slice().ct_eq(hash).into()
            }
            Hash::Pbkdf2 { iterations, salt, hash } => {
                let mut out = [0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, *iterations, &mut out);
                out.as_slice().ct_eq(hash).into()
            }
            // The argon2 crate compares the outputs in constant time itself.
            Hash::Argon2(phc) => PasswordHash::new(phc)
                .is_ok_and(|parsed| argon2::Argon2::default().verify_password(password, &parsed).is_ok()),
        }
    }
}

/// Hashes `password` with a fresh random salt, as the text that follows `user:` in a password file.
pub fn hash_password(kind: HashKind, password: &[u8]) -> Result<String, getrandom::Error> {
    match kind {
        HashKind::Argon2id => {
            let mut salt = [0u8; 16];
            getrandom::fill(&mut salt)?;
            let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt length");
            // Argon2::default() is argon2id v19 with the crate's recommended cost (19 MiB, 2 passes, 1 lane):
            // a few tens of milliseconds per CONNECT on a Raspberry Pi 4.
            let phc = argon2::Argon2::default()
                .hash_password(password, &salt)
                .expect("the default parameters accept any password and this salt");
            Ok(phc.to_string())
        }
        HashKind::Sha512 => {
            let mut salt = [0u8; SALT_LEN];
            getrandom::fill(&mut salt)?;
            let digest = Sha512::new().chain_update(password).chain_update(salt).finalize();
            Ok(format!("$6${}${}", BASE64.encode(salt), BASE64.encode(digest)))
        }
        HashKind::Sha512Pbkdf2 => {
            let mut salt = [0u8; SALT_LEN];
            getrandom::fill(&mut salt)?;
            let mut out = [0u8; 64];
            pbkdf2::pbkdf2_hmac::<Sha512>(password, &salt, PBKDF2_ITERATIONS, &mut out);
            Ok(format!(
                "$7${PBKDF2_ITERATIONS}${}${}",
                BASE64.encode(salt),
                BASE64.encode(out)
            ))
        }
    }
}

/// One line of a password file that names a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The user name, as the client sends it in CONNECT.
    pub(crate) user: String,
    /// Its decoded hash.
    pub(crate) hash: Hash,
}

/// Why a password file cannot be used: the line and what is wrong with it (never the hash).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Splits a password file line into user and hash text, Mosquitto's way: comments (`#`) and lines without `:`
/// are skipped, blanks around each part are trimmed. `None` for a line that names no user.
pub(crate) fn split_line(line: &str) -> Option<(&str, &str)> {
    if line.starts_with('#') {
        return None;
    }
    let (user, hash) = line.split_once(':')?;
    let user = user.trim();
    // Mosquitto stops the hash at a second ':' (strtok); no hash kind contains one.
    let hash = hash.split(':').next().unwrap_or_default().trim();
    (!user.is_empty()).then_some((user, hash))
}

/// Parses a whole password file. A line that names a user but holds no valid hash is an error: it would lock
/// that user out, so the operator should hear of it at once.
pub(crate) fn parse(text: &str) -> Result<Vec<Entry>, LineError> {
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let Some((user, hash)) = split_line(line) else {
            continue;
        };
        let hash = Hash::parse(hash).map_err(|message| LineError {
            line: index + 1,
            message: format!("user {user:?}: {message}"),
        })?;
        entries.push(Entry {
            user: user.to_owned(),
            hash,
        });
    }
    Ok(entries)
}

/// Writes `text` to `path` in one step (a temporary file beside it, then a rename), readable by its owner only:
/// a crash never leaves half a password file, and other local users never read the hashes.
pub(crate) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temp).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&temp, path)) {
        Ok(()) => Ok(()),
        Err(error) => {
            let _ = std::fs::remove_file(&temp);
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written by Debian 12's `mosquitto_passwd -b -H sha512` (2.0.11) for password "secret".
    const MOSQUITTO_SHA512: &str =
        "$6$+A7UBf+n8BiQdmlC$YM0tarcn0Rng7/4h+jY+4C8NxHkMalkurrLLz5DoxBTd0bLmZO8f1GVsy3o2GqqQf/oT4dTzgiQ05/eCLB01Vg==";
    /// Written by `mosquitto_passwd -b` (default `-H sha512-pbkdf2`) for password "secret".
    const MOSQUITTO_PBKDF2: &str = "$7$101$i093jZNu4wEwBNUM$g8qBtu3uDFhix16Ja2v8dl2Sbc/ePpvGQp9EJQmbODZdb8J4bKiqAvYGmttnPph0npkPaAi7ZTMjTBplVkLpiw==";

    #[test]
    fn mosquitto_hashes_verify() {
        for text in [MOSQUITTO_SHA512, MOSQUITTO_PBKDF2] {
            let hash = Hash::parse(text).unwrap();
            assert!(hash.verify(b"secret"), "{text}");
            assert!(!hash.verify(b"Secret"), "{text}");
            assert!(!hash.verify(b""), "{text}");
        }
    }

    #[test]
    fn every_kind_roost_writes_verifies_and_parses_back() {
        for kind in [HashKind::Argon2id, HashKind::Sha512Pbkdf2, HashKind::Sha512] {
            let text = hash_password(kind, "pä55:word".as_bytes()).unwrap();
            let hash = Hash::parse(&text).unwrap();
            assert!(hash.verify("pä55:word".as_bytes()), "{kind:?}");
            assert!(!hash.verify(b"password"), "{kind:?}");
            // A fresh salt each time.
            assert_ne!(text, hash_password(kind, "pä55:word".as_bytes()).unwrap());
        }
        assert!(
            hash_password(HashKind::Argon2id, b"x")
                .unwrap()
                .starts_with("$argon2id$v=19$")
        );
        assert!(
            hash_password(HashKind::Sha512Pbkdf2, b"x")
                .unwrap()
                .starts_with("$7$101$")
        );
        assert!(hash_password(HashKind::Sha512, b"x").unwrap().starts_with("$6$"));
    }

    #[test]
    fn bad_hashes_are_refused_with_a_reason() {
        for bad in [
            "secret",
            "$5$abc$def",
            "$6$",
            "$6$!!$abc",
            "$6$c2FsdA==$c2hvcnQ=",
            "$7$0$i093jZNu4wEwBNUM$g8qBtu3uDFhix16Ja2v8dl2Sbc/ePpvGQp9EJQmbODZdb8J4bKiqAvYGmttnPph0npkPaAi7ZTMjTBplVkLpiw==",
            "$7$abc$i093jZNu4wEwBNUM$xx",
            "$argon2id$nonsense",
        ] {
            assert!(Hash::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn files_are_read_like_mosquitto_reads_them() {
        let text = format!("# a comment\n\nalice:{MOSQUITTO_PBKDF2}\n  bob : {MOSQUITTO_SHA512}  \r\nno colon here\n");
        let entries = parse(&text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!((entries[0].user.as_str(), entries[1].user.as_str()), ("alice", "bob"));
        assert!(entries[1].hash.verify(b"secret"));
        let error = parse("alice:secret\n").unwrap_err();
        assert_eq!(error.line, 1);
        assert!(!error.message.contains("secret\""), "{error}");
    }

    #[test]
    fn debug_never_shows_a_hash() {
        let hash = Hash::parse(MOSQUITTO_SHA512).unwrap();
        assert_eq!(format!("{hash:?}"), "Sha512(<redacted>)");
    }

    #[test]
    fn written_files_are_private_and_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        write_private(&path, "a:b\n").unwrap();
        write_private(&path, "c:d\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "c:d\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }
}
