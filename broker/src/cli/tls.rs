//! TLS for `roost pub` and `roost sub`: mosquitto's `--cafile`, `--capath`, `--cert`/`--key` and `--insecure`
//! as a rustls client configuration (ring provider, as the broker).

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject as _;

use super::error::CliError;
use super::options::TlsOptions;
use crate::transport::tls::{provider, read_certs};

/// Where Debian (and most Linux distributions) keep the system's trusted CA certificates, used when neither
/// `--cafile` nor `--capath` is given (`mqtts://` and `wss://` URLs).
const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The client configuration the TLS flags describe. A file that cannot be used is a one-line error naming it.
pub(crate) fn client_config(options: &TlsOptions) -> Result<Arc<ClientConfig>, CliError> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    if let Some(cafile) = &options.cafile {
        add_certs(&mut roots, cafile)?;
    }
    if let Some(capath) = &options.capath {
        let entries = std::fs::read_dir(capath).map_err(|e| tls_setup(capath, &e.to_string()))?;
        for entry in entries.flatten() {
            // Like OpenSSL's hashed directories, anything that is not a PEM certificate is skipped.
            if let Ok(certs) = read_certs(&entry.path()) {
                for cert in certs {
                    let _ = roots.add(cert);
                }
            }
        }
    }
    if options.cafile.is_none() && options.capath.is_none() {
        add_certs(&mut roots, Path::new(SYSTEM_CA_FILE))?;
    }
    if roots.is_empty() {
        return Err(CliError::Tls(
            "Problem setting TLS options: no CA certificate found.".into(),
        ));
    }
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| CliError::Tls(format!("Problem setting TLS options: {e}")))?;
    let roots = Arc::new(roots);
    let builder = if options.insecure {
        let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| CliError::Tls(format!("Problem setting TLS options: {e}")))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyName(verifier)))
    } else {
        builder.with_root_certificates(roots)
    };
    let config = match &options.client_cert {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = read_certs(cert).map_err(|e| CliError::Tls(format!("Problem setting TLS options: {e}")))?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| tls_setup(key, &pem_what(&e)))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| CliError::Tls(format!("Problem setting TLS options: {e}")))?
        }
    };
    Ok(Arc::new(config))
}

/// The name the server's certificate must carry: the host as given (a name or an IP address).
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, CliError> {
    ServerName::try_from(host.to_owned()).map_err(|_| CliError::Usage(format!("Invalid host name '{host}' for TLS.")))
}

fn add_certs(roots: &mut RootCertStore, path: &Path) -> Result<(), CliError> {
    let certs = read_certs(path).map_err(|e| CliError::Tls(format!("Problem setting TLS options: {e}")))?;
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| tls_setup(path, &format!("not a usable CA certificate: {e}")))?;
    }
    Ok(())
}

fn tls_setup(path: &Path, what: &str) -> CliError {
    CliError::Tls(format!("Problem setting TLS options: {}: {what}", path.display()))
}

fn pem_what(error: &rustls_pki_types::pem::Error) -> String {
    match error {
        rustls_pki_types::pem::Error::Io(e) => e.to_string(),
        rustls_pki_types::pem::Error::NoItemsFound => "no PEM private key in the file".into(),
        other => format!("not a valid PEM file: {other:?}"),
    }
}

/// `--insecure`: the certificate chain is verified as usual, but a certificate for another name is accepted
/// (mosquitto's `--insecure` also skips only the host name check).
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
