//! ACL files in Mosquitto's format, and the checks made with them.
//!
//! ```text
//! # comment
//! topic read public/#          <- before any `user` line: anonymous clients only
//! user alice
//! topic readwrite alice/#      <- alice only
//! topic deny alice/secret/#
//! pattern write devices/%c/#   <- every client; %c = client id, %u = user name
//! ```
//!
//! The access word (`read`, `write`, `readwrite`, `deny`) is optional (readwrite). Without an ACL file every
//! client may do anything; with one, everything is denied unless a rule grants it, and a matching `deny` rule
//! wins over any grant (Mosquitto checks deny rules first too).

use std::borrow::Cow;
use std::collections::HashMap;

use super::passwd::LineError;

/// What a rule grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
    ReadWrite,
    Deny,
}

impl Access {
    fn grants(self, wanted: Wanted) -> bool {
        matches!(
            (self, wanted),
            (Access::Read | Access::ReadWrite, Wanted::Read) | (Access::Write | Access::ReadWrite, Wanted::Write)
        )
    }
}

/// What a check asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Read,
    Write,
}

/// One `topic` or `pattern` line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    access: Access,
    /// A topic filter; for a pattern, before `%u`/`%c` are put in.
    filter: String,
}

/// A parsed ACL file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Acl {
    /// `topic` lines before the first `user` line: for clients without a user name.
    anonymous: Vec<Rule>,
    /// `topic` lines after `user NAME`, by name.
    users: HashMap<String, Vec<Rule>>,
    /// `pattern` lines, wherever they are: for every client.
    patterns: Vec<Rule>,
}

/// Whether `filter` is a valid topic filter: `#` alone and last, `+` alone in its level, not empty.
fn valid_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.contains('\0') {
        return false;
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        let last = levels.peek().is_none();
        if (level.contains('#') && (level != "#" || !last)) || (level.contains('+') && level != "+") {
            return false;
        }
    }
    true
}

impl Acl {
    /// Parses an ACL file, Mosquitto's way: a line starting with `#` is a comment, tokens are separated by
    /// spaces, a topic may itself contain spaces (it is the rest of the line). Anything else is an error naming
    /// the line, so a typo never silently grants or removes access.
    pub(crate) fn parse(text: &str) -> Result<Self, LineError> {
        let mut acl = Acl::default();
        let mut user: Option<String> = None;
        for (index, line) in text.lines().enumerate() {
            let error = |message: String| LineError {
                line: index + 1,
                message,
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (keyword, rest) = line.split_once(' ').unwrap_or((line, ""));
            let rest = rest.trim_start();
            match keyword {
                "user" => {
                    if rest.is_empty() {
                        return Err(error("`user` needs a user name".into()));
                    }
                    user = Some(rest.to_owned());
                }
                "topic" | "pattern" => {
                    if rest.is_empty() {
                        return Err(error(format!("`{keyword}` needs a topic")));
                    }
                    // `topic read` alone is the topic "read" with readwrite access, as in Mosquitto.
                    let (access, filter) = match rest.split_once(' ') {
                        None => (Access::ReadWrite, rest),
                        Some((word, filter)) => {
                            let access = match word {
                                "read" => Access::Read,
                                "write" => Access::Write,
                                "readwrite" => Access::ReadWrite,
                                "deny" => Access::Deny,
                                other => {
                                    return Err(error(format!(
                                        "access must be read, write, readwrite or deny, not {other:?}"
                                    )));
                                }
                            };
                            (access, filter.trim())
                        }
                    };
                    if !valid_filter(filter) {
                        return Err(error(format!("{filter:?} is not a valid topic filter")));
                    }
                    let rule = Rule {
                        access,
                        filter: filter.to_owned(),
                    };
                    match (keyword, &user) {
                        ("pattern", _) => acl.patterns.push(rule),
                        (_, None) => acl.anonymous.push(rule),
                        (_, Some(user)) => acl.users.entry(user.clone()).or_default().push(rule),
                    }
                }
                other => {
                    return Err(error(format!(
                        "unknown keyword {other:?} (expected user, topic or pattern)"
                    )));
                }
            }
        }
        Ok(acl)
    }

    /// Whether the client may publish to `topic`.
    pub(crate) fn can_write(&self, user: Option<&str>, client_id: &str, topic: &str) -> bool {
        self.check(user, client_id, Wanted::Write, |filter| {
            roost_codec::matches(filter, topic)
        })
    }

    /// Whether the client may receive a message on `topic`.
    pub(crate) fn can_read(&self, user: Option<&str>, client_id: &str, topic: &str) -> bool {
        self.check(user, client_id, Wanted::Read, |filter| {
            roost_codec::matches(filter, topic)
        })
    }

    /// Whether the client may subscribe to `filter` (without any `$share/group/` prefix): a rule granting read
    /// must cover it, that is match every topic the filter can match, and no deny rule may cover it. A deny
    /// rule covering only part of the filter leaves the subscription in place; those messages are stopped on
    /// delivery by [`Acl::can_read`].
    pub(crate) fn can_subscribe(&self, user: Option<&str>, client_id: &str, filter: &str) -> bool {
        self.check(user, client_id, Wanted::Read, |rule| covers(rule, filter))
    }

    /// Deny rules first (any match refuses), then grants (any match allows); nothing matching refuses.
    fn check(&self, user: Option<&str>, client_id: &str, wanted: Wanted, applies: impl Fn(&str) -> bool) -> bool {
        let own: &[Rule] = match user {
            None => &self.anonymous,
            Some(user) => self.users.get(user).map_or(&[], Vec::as_slice),
        };
        // A user name or client id with a wildcard would widen every pattern it is put into: Mosquitto refuses
        // such clients everything once patterns are in use, and so do we.
        let dangerous = |s: &str| s.contains(['+', '#']);
        if !self.patterns.is_empty() && (user.is_some_and(dangerous) || dangerous(client_id)) {
            return false;
        }
        let candidates = || {
            let own = own
                .iter()
                .map(|rule| (rule.access, Cow::Borrowed(rule.filter.as_str())));
            let patterns = self.patterns.iter().filter_map(move |rule| {
                // A %u pattern says nothing about a client without a user name.
                if user.is_none() && rule.filter.contains("%u") {
                    return None;
                }
                let filter = if rule.filter.contains('%') {
                    Cow::Owned(
                        rule.filter
                            .replace("%c", client_id)
                            .replace("%u", user.unwrap_or_default()),
                    )
                } else {
                    Cow::Borrowed(rule.filter.as_str())
                };
                Some((rule.access, filter))
            });
            own.chain(patterns)
        };
        if candidates().any(|(access, filter)| access == Access::Deny && applies(&filter)) {
            return false;
        }
        candidates().any(|(access, filter)| access.grants(wanted) && applies(&filter))
    }
}

/// Whether the ACL filter `rule` matches every topic the subscription filter `filter` can match.
fn covers(rule: &str, filter: &str) -> bool {
    // [MQTT-4.7.2-1] a leading wildcard does not reach `$` topics: a rule starting with one covers no filter
    // that starts with `$`.
    if filter.starts_with('$') && rule.starts_with(['+', '#']) {
        return false;
    }
    let mut rule_levels = rule.split('/');
    let mut filter_levels = filter.split('/');
    loop {
        match (rule_levels.next(), filter_levels.next()) {
            // `a/#` matches `a` and everything below it.
            (Some("#"), _) => return true,
            // The filter reaches deeper (or everywhere, with `#`) than the rule.
            (Some(_), Some("#")) | (None, Some(_)) => return false,
            (Some("+"), Some(_)) => {}
            (Some(r), Some(f)) if r == f && f != "+" => {}
            (Some(_), Some(_)) => return false,
            (None, None) => return true,
            // The rule is longer: only a trailing `#` still matches the filter's topics.
            (Some(r), None) => return r == "#",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# Anonymous clients: read public things.
topic read public/#
topic $SYS/broker/uptime

user alice
topic readwrite alice/#
topic deny alice/secret/#
topic write   shared/in box
topic read shared/+/status

user bob
topic shared/#

# Everyone (with a user name for %u):
pattern write devices/%c/state
pattern readwrite users/%u/#
pattern deny users/%u/locked
";

    fn acl() -> Acl {
        Acl::parse(FILE).unwrap()
    }

    #[test]
    fn topic_rules_per_kind() {
        let acl = acl();
        let alice = Some("alice");
        assert!(acl.can_write(alice, "c", "alice/x"));
        assert!(acl.can_read(alice, "c", "alice/x/y"));
        assert!(acl.can_write(alice, "c", "shared/in box"), "a topic may contain spaces");
        assert!(!acl.can_read(alice, "c", "shared/in box"), "write only");
        assert!(acl.can_read(alice, "c", "shared/kitchen/status"));
        assert!(!acl.can_write(alice, "c", "shared/kitchen/status"), "read only");
        assert!(!acl.can_read(alice, "c", "bob/x"), "nothing grants it");
        // No access word: readwrite.
        assert!(acl.can_write(Some("bob"), "c", "shared/a/b") && acl.can_read(Some("bob"), "c", "shared/a"));
        // An unknown user has only the patterns.
        assert!(!acl.can_read(Some("carol"), "c", "public/x"));
        assert!(acl.can_write(Some("carol"), "c", "users/carol/x"));
    }

    #[test]
    fn deny_wins_over_any_grant() {
        let acl = acl();
        assert!(!acl.can_read(Some("alice"), "c", "alice/secret/plans"));
        assert!(!acl.can_write(Some("alice"), "c", "alice/secret"));
        assert!(acl.can_read(Some("alice"), "c", "alice/secrets"), "another topic");
        // A deny pattern beats the readwrite pattern above it.
        assert!(!acl.can_write(Some("bob"), "c", "users/bob/locked"));
        assert!(acl.can_write(Some("bob"), "c", "users/bob/open"));
    }

    #[test]
    fn the_anonymous_section_is_for_clients_without_a_user_name() {
        let acl = acl();
        assert!(acl.can_read(None, "c", "public/news"));
        assert!(!acl.can_write(None, "c", "public/news"));
        assert!(acl.can_read(None, "c", "$SYS/broker/uptime"));
        assert!(
            !acl.can_read(Some("alice"), "c", "public/news"),
            "alice has her own section"
        );
        assert!(!acl.can_read(None, "c", "alice/x"));
    }

    #[test]
    fn patterns_put_in_the_client_id_and_user_name() {
        let acl = acl();
        assert!(acl.can_write(None, "plug-1", "devices/plug-1/state"));
        assert!(!acl.can_write(None, "plug-1", "devices/plug-2/state"));
        assert!(!acl.can_read(None, "plug-1", "devices/plug-1/state"), "write only");
        assert!(acl.can_write(Some("dave"), "x", "users/dave/a/b"));
        assert!(!acl.can_write(Some("dave"), "x", "users/erin/a"));
        // No user name: %u patterns do not apply (not even as an empty level).
        assert!(!acl.can_write(None, "x", "users//a"));
    }

    #[test]
    fn wildcards_in_a_name_refuse_everything_when_patterns_are_used() {
        let acl = acl();
        assert!(!acl.can_write(Some("alice"), "dev/+", "alice/x"));
        assert!(!acl.can_write(None, "#", "devices/#/state"));
        assert!(!acl.can_read(Some("a+b"), "c", "users/a+b/x"));
        let no_patterns = Acl::parse("user alice\ntopic alice/#\n").unwrap();
        assert!(no_patterns.can_write(Some("alice"), "dev/+", "alice/x"));
    }

    #[test]
    fn a_subscription_is_allowed_when_a_read_rule_covers_it() {
        let acl = acl();
        let alice = Some("alice");
        for ok in [
            "alice/#",
            "alice/+",
            "alice/a/b",
            "alice",
            "shared/+/status",
            "shared/x/status",
        ] {
            assert!(acl.can_subscribe(alice, "c", ok), "{ok}");
        }
        for refused in [
            "#",
            "+/x",
            "shared/#",
            "shared/+/+",
            "shared/x/#",
            "bob/x",
            "alice/secret/#",
            "alice/secret/x",
        ] {
            assert!(!acl.can_subscribe(alice, "c", refused), "{refused}");
        }
        // Partly denied: allowed, and deliveries from alice/secret/... are stopped by can_read.
        assert!(acl.can_subscribe(alice, "c", "alice/+/plans"));
        assert!(!acl.can_read(alice, "c", "alice/secret/plans"));
        // Write-only rules grant no subscription.
        assert!(!acl.can_subscribe(alice, "c", "shared/in box"));
        // Patterns too.
        assert!(acl.can_subscribe(Some("dave"), "c", "users/dave/#"));
        assert!(!acl.can_subscribe(Some("dave"), "c", "users/+/x"));
        assert!(!acl.can_subscribe(Some("dave"), "c", "users/dave/locked"));
    }

    #[test]
    fn wildcards_do_not_reach_dollar_topics() {
        let acl = Acl::parse("topic read #\ntopic read +/broker/#\n").unwrap();
        assert!(acl.can_read(None, "c", "a/b"));
        assert!(!acl.can_read(None, "c", "$SYS/broker/uptime"));
        assert!(acl.can_subscribe(None, "c", "#"));
        assert!(!acl.can_subscribe(None, "c", "$SYS/#"));
        assert!(!acl.can_subscribe(None, "c", "$SYS/broker/x"));
    }

    #[test]
    fn covering_is_level_by_level() {
        for (rule, filter) in [
            ("#", "a/+/#"),
            ("a/#", "a"),
            ("a/+", "a/b"),
            ("+/+", "+/b"),
            ("a/b", "a/b"),
        ] {
            assert!(covers(rule, filter), "{rule} covers {filter}");
        }
        for (rule, filter) in [
            ("a/+", "a/#"),
            ("a/b", "a/+"),
            ("a", "a/b"),
            ("a/b", "a"),
            ("a/+/c", "a/b"),
            ("+", "#"),
        ] {
            assert!(!covers(rule, filter), "{rule} does not cover {filter}");
        }
    }

    #[test]
    fn bad_lines_are_errors_naming_the_line() {
        for (text, line, words) in [
            ("topic read a\nuser\n", 2, "needs a user name"),
            ("topic\n", 1, "needs a topic"),
            ("# ok\ntopic raed a/b\n", 2, "not \"raed\""),
            ("topic read a/#/b\n", 1, "not a valid topic filter"),
            ("topik a\n", 1, "unknown keyword \"topik\""),
        ] {
            let error = Acl::parse(text).unwrap_err();
            assert_eq!(error.line, line, "{text:?}");
            assert!(error.message.contains(words), "{error}");
        }
        // `topic read` alone names the topic "read", as in Mosquitto.
        let acl = Acl::parse("topic read\n").unwrap();
        assert!(acl.can_write(None, "c", "read"));
        // An empty file grants nothing.
        assert!(!Acl::parse("").unwrap().can_read(None, "c", "a"));
    }
}
