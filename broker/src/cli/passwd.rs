//! `roost passwd`: manages password files as `mosquitto_passwd` does, with the same flags.
//!
//! ```text
//! roost passwd [-H argon2id|sha512-pbkdf2|sha512] [-c | -D] FILE USER           # prompts twice, no echo
//! roost passwd [-H ...] [-c] -b FILE USER PASSWORD                               # batch
//! ```
//!
//! Other lines of the file are kept as they are; the file is replaced in one step and readable by its owner only.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::auth::passwd::{split_line, write_private};
use crate::auth::{HashKind, hash_password};

/// `roost passwd`'s arguments.
#[derive(Debug, clap::Args)]
#[command(about = "Create or change users of a password file, like mosquitto_passwd")]
pub struct PasswdArgs {
    /// Create a new password file, replacing any file of that name.
    #[arg(short = 'c', conflicts_with = "delete")]
    create: bool,
    /// Batch mode: the password is the last argument instead of being asked for.
    #[arg(short = 'b', requires = "password")]
    batch: bool,
    /// Delete the user instead of setting a password.
    #[arg(short = 'D', conflicts_with = "batch")]
    delete: bool,
    /// The hash to write: argon2id (Roost's default), sha512-pbkdf2 (Mosquitto 2.0's, which both read) or
    /// sha512 (Mosquitto 1.x's).
    #[arg(short = 'H', value_name = "HASH", default_value = "argon2id", value_parser = parse_hash)]
    hash: HashKind,
    /// The password file.
    file: PathBuf,
    /// The user name (as clients send it; no `:`).
    user: String,
    /// The password, with -b only.
    password: Option<String>,
}

fn parse_hash(name: &str) -> Result<HashKind, String> {
    HashKind::from_name(name).ok_or_else(|| format!("unknown hash {name:?}: argon2id, sha512-pbkdf2 or sha512"))
}

/// What to do to one user.
#[derive(Debug)]
enum Change<'a> {
    Set(&'a str),
    Delete,
}

/// Runs `roost passwd`; errors are one line on stderr and exit code 1, as mosquitto_passwd does.
pub fn run_passwd(args: PasswdArgs) -> ExitCode {
    match passwd(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            note!("Error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn passwd(args: &PasswdArgs) -> Result<(), String> {
    if args.user.is_empty() || args.user.contains(':') {
        return Err("the user name must not be empty or contain ':'".into());
    }
    if args.password.is_some() && !args.batch {
        return Err("a password argument needs -b (batch mode)".into());
    }
    let existing = if args.create {
        None
    } else {
        let text = std::fs::read_to_string(&args.file).map_err(|e| {
            format!(
                "cannot read password file {}: {e} (-c creates one)",
                args.file.display()
            )
        })?;
        Some(text)
    };
    let typed;
    let change = if args.delete {
        Change::Delete
    } else {
        let password = match &args.password {
            Some(password) => password.as_str(),
            None => {
                typed = prompt()?;
                typed.as_str()
            }
        };
        if password.is_empty() {
            return Err("empty password".into());
        }
        Change::Set(password)
    };
    let text = change_user(existing.as_deref(), &args.user, &change, args.hash)?;
    write_private(&args.file, &text).map_err(|e| format!("cannot write {}: {e}", args.file.display()))
}

/// Asks for the password twice without echo, as mosquitto_passwd does.
fn prompt() -> Result<String, String> {
    let first = rpassword::prompt_password("Password: ").map_err(|e| format!("cannot read the password: {e}"))?;
    let again =
        rpassword::prompt_password("Reenter password: ").map_err(|e| format!("cannot read the password: {e}"))?;
    if first != again {
        return Err("passwords do not match".into());
    }
    Ok(first)
}

/// The password file `text` (none: a new file) with `user` changed; other lines stay as they are.
fn change_user(text: Option<&str>, user: &str, change: &Change<'_>, kind: HashKind) -> Result<String, String> {
    let new_line = match change {
        Change::Set(password) => {
            let hash = hash_password(kind, password.as_bytes()).map_err(|e| format!("no random salt: {e}"))?;
            Some(format!("{user}:{hash}"))
        }
        Change::Delete => None,
    };
    let mut out = String::new();
    let mut found = false;
    for line in text.unwrap_or_default().lines() {
        if split_line(line).is_some_and(|(name, _)| name == user) {
            // The first line of the user becomes the new one; any duplicate goes.
            if !found && let Some(new_line) = &new_line {
                out.push_str(new_line);
                out.push('\n');
            }
            found = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    match (&new_line, found) {
        (Some(new_line), false) => {
            out.push_str(new_line);
            out.push('\n');
        }
        (None, false) => return Err(format!("user {user} not in the password file")),
        _ => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::passwd::{Hash, parse};

    fn verify(text: &str, user: &str, password: &str) -> bool {
        parse(text)
            .unwrap()
            .iter()
            .find(|entry| entry.user == user)
            .is_some_and(|entry| entry.hash.verify(password.as_bytes()))
    }

    #[test]
    fn users_are_added_changed_and_deleted_keeping_other_lines() {
        let text = change_user(None, "alice", &Change::Set("one"), HashKind::Sha512Pbkdf2).unwrap();
        assert!(text.starts_with("alice:$7$101$"), "{text}");
        let text = format!("# users\n{text}");
        let text = change_user(Some(&text), "bob", &Change::Set("two"), HashKind::Argon2id).unwrap();
        let text = change_user(Some(&text), "alice", &Change::Set("three"), HashKind::Sha512).unwrap();
        assert!(
            text.starts_with("# users\nalice:$6$"),
            "order and comments kept: {text}"
        );
        assert!(verify(&text, "alice", "three") && !verify(&text, "alice", "one"));
        assert!(verify(&text, "bob", "two"));
        let text = change_user(Some(&text), "alice", &Change::Delete, HashKind::Argon2id).unwrap();
        assert_eq!(parse(&text).unwrap().len(), 1);
        assert!(text.starts_with("# users\nbob:$argon2id$"), "{text}");
        let error = change_user(Some(&text), "carol", &Change::Delete, HashKind::Argon2id).unwrap_err();
        assert_eq!(error, "user carol not in the password file");
        assert!(matches!(parse(&text).unwrap()[0].hash, Hash::Argon2(_)));
    }

    #[test]
    fn the_arguments_are_mosquitto_passwds() {
        use clap::Parser as _;
        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: PasswdArgs,
        }
        let cli = Cli::try_parse_from(["passwd", "-c", "-b", "-H", "sha512", "f", "u", "p"]).unwrap();
        assert!(cli.args.create && cli.args.batch && !cli.args.delete);
        assert_eq!(cli.args.hash, HashKind::Sha512);
        assert_eq!(cli.args.password.as_deref(), Some("p"));
        let cli = Cli::try_parse_from(["passwd", "-D", "f", "u"]).unwrap();
        assert!(cli.args.delete);
        assert_eq!(cli.args.hash, HashKind::Argon2id);
        for bad in [
            &["passwd", "-c", "-D", "f", "u"][..],
            &["passwd", "-b", "f", "u"],
            &["passwd", "-H", "md5", "f", "u"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }
}
