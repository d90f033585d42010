//! TLS for the `mqtts` and `https` listeners, with rustls and its `ring` provider (no OpenSSL; no C build beyond
//! ring's, so the Raspberry Pi cross-builds stay light).
//!
//! The certificate, key and client CA are re-read without a restart, when the files change (checked every
//! [`POLL`]) or on SIGHUP: the new files are loaded into a new `ServerConfig`, which then replaces the old one
//! behind an `RwLock`. Each handshake takes the current config, so new connections get the new certificate and
//! open connections keep theirs. A reload that fails (a half-written file, a key that does not match) is logged
//! and the old config stays in use.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use rustls::RootCertStore;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

use crate::config::TlsFiles;

/// How often the certificate files are checked for changes.
const POLL: Duration = Duration::from_secs(2);

/// Why the TLS files cannot be used. One line, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no usable PEM item.
    #[error("{path}: {what}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// rustls refused the combination (a key that does not match the certificate, an unsupported key type).
    #[error("TLS configuration: {0}")]
    Rustls(String),
}

/// The TLS side of the secure listeners: the current `ServerConfig` and the files it came from.
#[derive(Debug)]
pub(crate) struct Tls {
    files: TlsFiles,
    /// `std::sync::RwLock`: read for a pointer copy per handshake, written once per reload; never held across an
    /// `.await`.
    current: RwLock<Arc<ServerConfig>>,
}

/// A TLS connection after its handshake, and what the client's certificate says.
#[derive(Debug)]
pub(crate) struct Accepted<S> {
    /// The decrypted byte stream.
    pub(crate) stream: TlsStream<S>,
    /// The client certificate's subject Common Name, when `use_identity_as_username` is on and one was given.
    pub(crate) identity: Option<Arc<str>>,
}

impl Tls {
    /// Loads `files`; an error names the file at fault.
    pub(crate) fn load(files: &TlsFiles) -> Result<Arc<Self>, TlsError> {
        let config = server_config(files)?;
        Ok(Arc::new(Tls {
            files: files.clone(),
            current: RwLock::new(config),
        }))
    }

    /// The TLS handshake on an accepted socket, with the config current at this moment.
    pub(crate) async fn accept<S: AsyncRead + AsyncWrite + Unpin>(&self, socket: S) -> io::Result<Accepted<S>> {
        let config = Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner));
        let stream = tokio_rustls::TlsAcceptor::from(config).accept(socket).await?;
        let identity = if self.files.use_identity_as_username {
            let (_, session) = stream.get_ref();
            session
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|leaf| common_name(leaf))
                .map(Arc::from)
        } else {
            None
        };
        Ok(Accepted { stream, identity })
    }

    /// Re-reads the files; on success new handshakes use them.
    pub(crate) fn reload(&self) -> Result<(), TlsError> {
        let config = server_config(&self.files)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = config;
        Ok(())
    }

    /// Reloads when the files change or SIGHUP arrives, until `shutdown`.
    pub(crate) async fn watch(self: Arc<Self>, shutdown: CancellationToken) {
        let mut hangup = hangup();
        let mut seen = self.stamps();
        let mut poll = tokio::time::interval(POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let why = tokio::select! {
                () = shutdown.cancelled() => return,
                () = next_hangup(&mut hangup) => "SIGHUP",
                _ = poll.tick() => {
                    if self.stamps() == seen {
                        continue;
                    }
                    "the files changed"
                }
            };
            // Whatever triggered it, the files as they are now are the ones loaded.
            seen = self.stamps();
            match self.reload() {
                Ok(()) => tracing::info!("TLS certificate reloaded ({why})"),
                Err(error) => tracing::warn!(%error, "TLS certificate not reloaded ({why}); still using the old one"),
            }
        }
    }

    /// Modification time and length of each file, to notice a change (also a file replaced by a rename).
    fn stamps(&self) -> Vec<Option<(SystemTime, u64)>> {
        let files = [
            Some(&self.files.cert),
            Some(&self.files.key),
            self.files.client_ca.as_ref(),
        ];
        files
            .into_iter()
            .flatten()
            .map(|path| {
                let meta = std::fs::metadata(path).ok()?;
                Some((meta.modified().ok()?, meta.len()))
            })
            .collect()
    }
}

#[cfg(unix)]
fn hangup() -> Option<tokio::signal::unix::Signal> {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::hangup())
        .inspect_err(
            |error| tracing::warn!(%error, "cannot listen for SIGHUP; certificate reload is by file change only"),
        )
        .ok()
}

#[cfg(unix)]
async fn next_hangup(hangup: &mut Option<tokio::signal::unix::Signal>) {
    if let Some(signal) = hangup
        && signal.recv().await.is_some()
    {
        return;
    }
    // No signal stream (or it ended): never again.
    std::future::pending().await
}

#[cfg(not(unix))]
fn hangup() -> Option<()> {
    None
}

#[cfg(not(unix))]
async fn next_hangup(_: &mut Option<()>) {
    std::future::pending().await
}

/// The crypto provider: ring, explicitly, so no process-wide default has to be installed.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds a `ServerConfig` from the files.
fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let chain = read_certs(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| pem_error(&files.key, &e))?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| file_error(&files.key, format!("unusable private key: {e}")))?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified.keys_match().map_err(|e| {
        file_error(
            &files.key,
            format!("does not match the certificate in {}: {e}", files.cert.display()),
        )
    })?;
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs(ca)? {
                roots
                    .add(cert)
                    .map_err(|e| file_error(ca, format!("not a usable CA certificate: {e}")))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if files.require_client_cert {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| TlsError::Rustls(e.to_string()))?)
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
    // The dashboard is HTTP/1.1 only (WebSocket upgrades); MQTT over TLS has no ALPN in common use, and a client
    // offering "mqtt" (AWS IoT style) is still accepted, as rustls ignores ALPN when the server lists none.
    config.alpn_protocols = Vec::new();
    Ok(Arc::new(config))
}

/// Every certificate in a PEM file; at least one.
pub(crate) fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, &e))?;
    if certs.is_empty() {
        return Err(file_error(path, "no PEM certificate in the file".into()));
    }
    Ok(certs)
}

fn pem_error(path: &Path, error: &rustls_pki_types::pem::Error) -> TlsError {
    let what = match error {
        rustls_pki_types::pem::Error::Io(e) => e.to_string(),
        rustls_pki_types::pem::Error::NoItemsFound => "no PEM item of the expected kind in the file".into(),
        other => format!("not a valid PEM file: {other:?}"),
    };
    file_error(path, what)
}

fn file_error(path: &Path, what: String) -> TlsError {
    TlsError::File {
        path: path.to_owned(),
        what,
    }
}

/// The subject Common Name (OID 2.5.4.3) of a DER certificate, if it has one that is text. A small DER walk
/// rather than an X.509 crate: the certificate was already verified by rustls, only one field is needed.
pub(crate) fn common_name(cert: &[u8]) -> Option<String> {
    const SEQUENCE: u8 = 0x30;
    const SET: u8 = 0x31;
    const OID: u8 = 0x06;
    const CN: &[u8] = &[0x55, 0x04, 0x03];
    let (_, certificate, _) = tlv(cert).filter(|(tag, ..)| *tag == SEQUENCE)?;
    let (_, mut tbs, _) = tlv(certificate).filter(|(tag, ..)| *tag == SEQUENCE)?;
    // [0] version is optional; then serial, signature algorithm, issuer, validity, subject.
    if tbs.first() == Some(&0xA0) {
        tbs = tlv(tbs)?.2;
    }
    for _ in 0..4 {
        tbs = tlv(tbs)?.2;
    }
    let (_, mut subject, _) = tlv(tbs).filter(|(tag, ..)| *tag == SEQUENCE)?;
    while !subject.is_empty() {
        let (tag, mut rdn, rest) = tlv(subject)?;
        subject = rest;
        if tag != SET {
            return None;
        }
        while !rdn.is_empty() {
            let (_, attribute, rest) = tlv(rdn)?;
            rdn = rest;
            let (tag, oid, value) = tlv(attribute)?;
            if tag == OID && oid == CN {
                // UTF8String, PrintableString, IA5String, T61String (Latin-1 in practice, read as UTF-8 here).
                let (_, text, _) = tlv(value)?;
                return std::str::from_utf8(text).ok().map(str::to_owned);
            }
        }
    }
    None
}

/// One DER tag-length-value: (tag, contents, what follows). Single-byte tags only, which X.509 names use.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |len, &byte| (len << 8) | usize::from(byte));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_name_is_read_from_a_certificate() {
        let mut params = rcgen::CertificateParams::new(vec!["sensor.local".into()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Roost tests");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "kitchen-sensor");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(common_name(cert.der()).as_deref(), Some("kitchen-sensor"));

        let mut params = rcgen::CertificateParams::new(vec!["sensor.local".into()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(common_name(cert.der()), None);
    }

    #[test]
    fn garbage_is_no_common_name() {
        for bytes in [
            &b""[..],
            b"\x30",
            b"\x30\x84\xff\xff\xff\xff",
            b"\x30\x03\x30\x01\x00",
            &[0x30; 64],
        ] {
            assert_eq!(common_name(bytes), None);
        }
    }

    #[test]
    fn bad_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = TlsFiles {
            cert: dir.path().join("nope.pem"),
            key: dir.path().join("key.pem"),
            client_ca: None,
            require_client_cert: false,
            use_identity_as_username: false,
        };
        let error = Tls::load(&missing).unwrap_err().to_string();
        assert!(error.starts_with(&format!("{}: ", missing.cert.display())), "{error}");

        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let other_key = rcgen::KeyPair::generate().unwrap();
        std::fs::write(&missing.cert, cert.pem()).unwrap();
        std::fs::write(&missing.key, other_key.serialize_pem()).unwrap();
        let error = Tls::load(&missing).unwrap_err().to_string();
        assert!(error.contains("does not match the certificate"), "{error}");
        std::fs::write(&missing.key, key.serialize_pem()).unwrap();
        assert!(Tls::load(&missing).is_ok());
        std::fs::write(&missing.key, "not pem").unwrap();
        let error = Tls::load(&missing).unwrap_err().to_string();
        assert!(error.contains("no PEM item"), "{error}");
    }
}
