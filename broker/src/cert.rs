//! `roost cert`: a self-signed certificate and key for the machine's LAN names and addresses, for people without a
//! domain name (and so without a certificate from a public CA). Clients trust it by its file (`--cafile cert.pem`)
//! or, in a browser, by accepting it once after checking the fingerprint printed here.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;

/// `roost cert`: write a self-signed certificate for this machine's names and addresses.
#[derive(Debug, Clone, Args)]
pub struct CertArgs {
    /// Directory to write cert.pem and key.pem into.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Another DNS name or IP address the certificate is for (repeatable); added to the ones found.
    #[arg(long = "name", value_name = "NAME")]
    pub names: Vec<String>,
    /// Replace cert.pem and key.pem if they exist.
    #[arg(long)]
    pub force: bool,
}

/// How many years the certificate is valid: long, as renewing a self-signed certificate means touching every
/// client that trusts it.
const YEARS: i32 = 10;

/// Runs `roost cert`; errors are one line and exit code 1.
pub fn run_cert(args: CertArgs) -> ExitCode {
    match write_cert(&args) {
        Ok(report) => {
            let _ = std::io::stdout().write_all(report.as_bytes());
            ExitCode::SUCCESS
        }
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "roost cert: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Writes the files and returns what to print.
fn write_cert(args: &CertArgs) -> Result<String, String> {
    let names = names(&args.names);
    let cert_path = args.out.join("cert.pem");
    let key_path = args.out.join("key.pem");
    for path in [&cert_path, &key_path] {
        if path.exists() && !args.force {
            return Err(format!("{} exists; use --force to replace it", path.display()));
        }
    }
    let mut params = rcgen::CertificateParams::new(names.clone()).map_err(|e| format!("bad name: {e}"))?;
    let host = names.first().cloned().unwrap_or_else(|| "localhost".into());
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, host);
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Roost MQTT broker");
    let year = this_year();
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + YEARS, 1, 1);
    let key = rcgen::KeyPair::generate().map_err(|e| format!("cannot generate a key: {e}"))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("cannot sign the certificate: {e}"))?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    std::fs::write(&cert_path, cert.pem()).map_err(|e| format!("{}: {e}", cert_path.display()))?;
    write_private(&key_path, key.serialize_pem().as_bytes()).map_err(|e| format!("{}: {e}", key_path.display()))?;

    let cert_path = absolute(&cert_path);
    let key_path = absolute(&key_path);
    let mut report = String::new();
    let _ = writeln!(report, "Wrote {} and {}", cert_path.display(), key_path.display());
    let _ = writeln!(report, "Valid for: {}", names.join(", "));
    let _ = writeln!(report, "SHA-256 fingerprint: {}", fingerprint(cert.der()));
    let _ = writeln!(report, "\nIn roost's configuration file:\n");
    let _ = writeln!(
        report,
        "[listeners]\nmqtts = \"0.0.0.0:8883\"\nhttps = \"0.0.0.0:8443\"\n"
    );
    let _ = writeln!(
        report,
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        cert_path.display(),
        key_path.display()
    );
    let _ = writeln!(
        report,
        "Clients trust it with the certificate file, e.g.\n  mosquitto_sub --cafile {} -h {} -p 8883 -t '#' -v",
        cert_path.display(),
        names.first().map_or("localhost", String::as_str)
    );
    Ok(report)
}

/// The names the certificate is for: the host name, `<host>.local` (mDNS), localhost, the machine's non-loopback
/// addresses, loopback, and `extra`; without duplicates, in that order.
fn names(extra: &[String]) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(host) = hostname() {
        names.push(host.clone());
        if !host.contains('.') {
            names.push(format!("{host}.local"));
        }
    }
    names.push("localhost".into());
    names.extend(local_addresses().iter().map(IpAddr::to_string));
    names.push(Ipv4Addr::LOCALHOST.to_string());
    names.push(Ipv6Addr::LOCALHOST.to_string());
    names.extend(extra.iter().cloned());
    let mut seen = std::collections::HashSet::new();
    names.retain(|name| seen.insert(name.to_ascii_lowercase()));
    names
}

/// The machine's host name, from the kernel (Linux) or `$HOSTNAME`.
fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty() && name != "localhost")
}

/// The addresses this machine uses to reach other hosts, IPv4 and IPv6: the source address the OS picks for a
/// route to a documentation address. Connecting a UDP socket sends nothing; without a route there is no address.
fn local_addresses() -> Vec<IpAddr> {
    let probes: [(IpAddr, IpAddr); 2] = [
        (Ipv4Addr::UNSPECIFIED.into(), Ipv4Addr::new(192, 0, 2, 1).into()),
        (
            Ipv6Addr::UNSPECIFIED.into(),
            "2001:db8::1".parse().expect("a valid address"),
        ),
    ];
    probes
        .into_iter()
        .filter_map(|(any, remote)| {
            let socket = UdpSocket::bind((any, 0)).ok()?;
            socket.connect((remote, 9)).ok()?;
            let local = socket.local_addr().ok()?.ip();
            (!local.is_loopback() && !local.is_unspecified()).then_some(local)
        })
        .collect()
}

/// The SHA-256 fingerprint as browsers and `openssl x509 -fingerprint -sha256` show it.
pub(crate) fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let hex: Vec<String> = digest.as_ref().iter().map(|byte| format!("{byte:02X}")).collect();
    hex.join(":")
}

/// The current year (UTC), for the validity period.
fn this_year() -> i32 {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // 365.2425 days a year: exact enough for a validity starting a year back.
    1970 + i32::try_from(secs / 31_556_952).unwrap_or(0)
}

/// Writes a private key readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_the_machine_and_extras_once() {
        let names = names(&["mqtt.home.arpa".into(), "LOCALHOST".into()]);
        assert!(names.contains(&"localhost".into()));
        assert!(names.contains(&"127.0.0.1".into()) && names.contains(&"::1".into()));
        assert!(names.contains(&"mqtt.home.arpa".into()));
        assert_eq!(names.iter().filter(|n| n.eq_ignore_ascii_case("localhost")).count(), 1);
    }

    #[test]
    fn writes_a_certificate_the_broker_loads() {
        let dir = tempfile::tempdir().unwrap();
        let args = CertArgs {
            out: dir.path().to_owned(),
            names: vec!["pi.example".into()],
            force: false,
        };
        let report = write_cert(&args).unwrap();
        assert!(report.contains("SHA-256 fingerprint: "), "{report}");
        assert!(report.contains("[tls]\ncert = "), "{report}");
        let files = crate::config::TlsFiles {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
            client_ca: None,
            require_client_cert: false,
            use_identity_as_username: false,
        };
        crate::transport::tls::Tls::load(&files).unwrap();
        let error = write_cert(&args).unwrap_err();
        assert!(error.ends_with("exists; use --force to replace it"), "{error}");
        assert!(write_cert(&CertArgs { force: true, ..args }).is_ok());
    }

    #[test]
    fn fingerprint_is_colon_separated_hex() {
        let fingerprint = fingerprint(b"abc");
        assert!(fingerprint.starts_with("BA:78:16:BF:"), "{fingerprint}");
        assert_eq!(fingerprint.len(), 32 * 3 - 1);
    }
}
