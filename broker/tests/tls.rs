//! MQTT over TLS and the dashboard over HTTPS/WSS, with certificates made here (rcgen): third-party clients
//! (mosquitto_pub/sub with OpenSSL, paho-mqtt), `roost pub`/`sub`, client certificates, and reloading the
//! certificate of a running `roost` on SIGHUP and on a file change.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use roost_broker::Config;
use roost_broker::config::TlsFiles;
use roost_codec::{ProtocolVersion, QoS};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::Command;

/// A test CA, a server certificate for localhost and 127.0.0.1, and a client certificate, as PEM files.
struct Pki {
    dir: tempfile::TempDir,
    ca: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Roost test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        let pki = Pki { dir, ca };
        pki.issue_server("server");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "kitchen-sensor");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        pki.issue("client", params);
        pki
    }

    /// Issues a server certificate into `<name>.pem` / `<name>.key`; returns its DER.
    fn issue_server(&self, name: &str) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        self.issue(name, params)
    }

    fn issue(&self, name: &str, params: rcgen::CertificateParams) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        // Written beside and renamed over, as certbot and friends do, so a reader never sees half a file.
        for (file, text) in [
            (format!("{name}.pem"), cert.pem()),
            (format!("{name}.key"), key.serialize_pem()),
        ] {
            let tmp = self.path(&format!("{file}.tmp"));
            std::fs::write(&tmp, text).unwrap();
            std::fs::rename(tmp, self.path(&file)).unwrap();
        }
        cert.der().to_vec()
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    fn str(&self, file: &str) -> String {
        self.path(file).display().to_string()
    }

    fn files(&self, client_ca: bool, require: bool) -> TlsFiles {
        TlsFiles {
            cert: self.path("server.pem"),
            key: self.path("server.key"),
            client_ca: client_ca.then(|| self.path("ca.pem")),
            require_client_cert: require,
            use_identity_as_username: client_ca,
        }
    }
}

async fn tls_broker(files: TlsFiles) -> TestBroker {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    TestBroker::start_with(Config {
        mqtts_addr: Some(loopback),
        https_addr: Some(loopback),
        tls: Some(files),
        ..Config::default()
    })
    .await
}

/// A rustls client trusting the test CA, with the client certificate if asked.
fn connector(pki: &Pki, client_cert: bool) -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(pki.path("ca.pem")).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = if client_cert {
        let chain = vec![CertificateDer::from_pem_file(pki.path("client.pem")).unwrap()];
        let key = PrivateKeyDer::from_pem_file(pki.path("client.key")).unwrap();
        builder.with_client_auth_cert(chain, key).unwrap()
    } else {
        builder.with_no_client_auth()
    };
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Connects over TLS and sends CONNECT; `Some(first CONNACK bytes)` or `None` when the broker ends the connection.
async fn tls_connect(
    addr: SocketAddr,
    connector: &tokio_rustls::TlsConnector,
) -> (Option<tokio_rustls::client::TlsStream<TcpStream>>, Vec<u8>) {
    let tcp = within(TcpStream::connect(addr)).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let Ok(mut tls) = within(connector.connect(name, tcp)).await else {
        return (None, Vec::new());
    };
    if tls.write_all(CONNECT_V311).await.is_err() {
        return (None, Vec::new());
    }
    let mut connack = [0; 4];
    match within(tls.read_exact(&mut connack)).await {
        Ok(_) => (Some(tls), connack.to_vec()),
        Err(_) => (None, Vec::new()),
    }
}

/// Runs a command to completion (bounded), returning (success, stdout, stderr).
async fn run(program: &str, args: &[String]) -> (bool, String, String) {
    let output = within(
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|e| panic!("{program} could not run: {e}"));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

#[tokio::test]
async fn mosquitto_clients_publish_and_subscribe_over_mqtts() {
    let pki = Pki::new();
    let broker = tls_broker(pki.files(false, false)).await;
    let port = broker.mqtts.unwrap().port().to_string();
    let ca = pki.str("ca.pem");
    let common = ["-h", "localhost", "-p", &port, "--cafile", &ca, "-V", "mqttv5"];
    let mut publish = args(&common);
    publish.extend(args(&["-t", "tls/m", "-m", "over tls", "-r", "-q", "1"]));
    let (ok, _, err) = run("mosquitto_pub", &publish).await;
    assert!(ok, "mosquitto_pub over TLS failed: {err}");
    let mut subscribe = args(&common);
    subscribe.extend(args(&["-t", "tls/#", "-C", "1", "-v", "-W", "5"]));
    let (ok, out, err) = run("mosquitto_sub", &subscribe).await;
    assert!(ok, "mosquitto_sub over TLS failed: {err}");
    assert_eq!(out, "tls/m over tls\n");
    // Without the CA the server is not trusted: OpenSSL refuses the handshake.
    let (ok, _, _) = run(
        "mosquitto_pub",
        &args(&[
            "-h",
            "localhost",
            "-p",
            &port,
            "--capath",
            "/nonexistent",
            "-t",
            "x",
            "-m",
            "y",
        ]),
    )
    .await;
    assert!(!ok, "mosquitto_pub trusted a server it has no CA for");
    broker.stop().await;
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_required_client_certificate_is_checked() {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // The test runtime is single-threaded, so the broker's tasks log through this thread's default.
    let _guard = tracing::subscriber::set_default(subscriber);
    let pki = Pki::new();
    let broker = tls_broker(pki.files(true, true)).await;
    let addr = broker.mqtts.unwrap();
    let (stream, connack) = tls_connect(addr, &connector(&pki, true)).await;
    assert_eq!(
        connack, CONNACK_V311,
        "with a client certificate the CONNECT is accepted"
    );
    drop(stream);
    // use_identity_as_username: the certificate's Common Name reaches the handshake (and its log line, written
    // before the CONNACK this test has read).
    let text = String::from_utf8_lossy(&log.0.lock().unwrap()).into_owned();
    let connected = text
        .lines()
        .find(|line| line.contains(" connected"))
        .unwrap_or_default();
    assert!(connected.contains("certificate=kitchen-sensor"), "{text}");
    // Without one the TLS handshake is refused (in TLS 1.3 the client learns it on its first read).
    let (stream, connack) = tls_connect(addr, &connector(&pki, false)).await;
    assert!(
        stream.is_none() && connack.is_empty(),
        "no client certificate, yet {connack:?}"
    );

    let port = addr.port().to_string();
    let ca = pki.str("ca.pem");
    let (cert, key) = (pki.str("client.pem"), pki.str("client.key"));
    let base = [
        "-h",
        "localhost",
        "-p",
        &port,
        "--cafile",
        &ca,
        "-t",
        "c/1",
        "-m",
        "x",
        "-q",
        "1",
    ];
    let mut with_cert = args(&base);
    with_cert.extend(args(&["--cert", &cert, "--key", &key]));
    let (ok, _, err) = run("mosquitto_pub", &with_cert).await;
    assert!(ok, "mosquitto_pub with a client certificate failed: {err}");
    let output = within(Command::new("mosquitto_pub").args(base).output()).await.unwrap();
    assert!(
        !output.status.success(),
        "mosquitto_pub without a client certificate got through"
    );
    let mosquitto_code = output.status.code();
    // roost pub: the same, and the refusal is one line with exit code 1.
    let roost = env!("CARGO_BIN_EXE_roost");
    let mut with_cert = args(&["pub"]);
    with_cert.extend(args(&base));
    with_cert.extend(args(&["--cert", &cert, "--key", &key]));
    let (ok, _, err) = run(roost, &with_cert).await;
    assert!(ok, "roost pub with a client certificate failed: {err}");
    let mut without = args(&["pub"]);
    without.extend(args(&base));
    let output = within(Command::new(roost).args(&without).output()).await.unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), mosquitto_code, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("Error: A TLS error occurred: "), "{err}");
    broker.stop().await;
}

/// A SUBSCRIBE (MQTT 3.1.1, packet id `id`, QoS 1) for `filter`, and the SUBACK return code it gets.
async fn suback_code<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    stream: &mut S,
    id: u8,
    filter: &str,
) -> u8 {
    let length = u8::try_from(filter.len()).unwrap();
    let mut subscribe = vec![0x82, 5 + length, 0, id, 0, length];
    subscribe.extend_from_slice(filter.as_bytes());
    subscribe.push(1);
    stream.write_all(&subscribe).await.unwrap();
    let mut suback = [0; 5];
    within(stream.read_exact(&mut suback)).await.unwrap();
    assert_eq!(suback[..4], [0x90, 3, 0, id], "SUBACK for {filter}: {suback:?}");
    suback[4]
}

#[tokio::test]
async fn the_certificate_names_the_user_with_use_identity_as_username() {
    // Closed to anonymous clients, no password file: the certificate's Common Name (kitchen-sensor) is the only
    // way in, and the ACL gives that user exactly one subtree.
    let pki = Pki::new();
    std::fs::write(
        pki.path("acl"),
        "user kitchen-sensor\ntopic readwrite sensors/kitchen/#\n",
    )
    .unwrap();
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let broker = TestBroker::start_secured(Config {
        mqtts_addr: Some(loopback),
        tls: Some(pki.files(true, false)),
        auth: roost_broker::config::AuthConfig {
            allow_anonymous: roost_broker::config::Anonymous::Deny,
            acl_file: Some(pki.path("acl")),
            ..roost_broker::config::AuthConfig::default()
        },
        ..Config::default()
    })
    .await;
    let addr = broker.mqtts.unwrap();
    // The CONNECT carries no user name: the certificate is the credential.
    let (stream, connack) = tls_connect(addr, &connector(&pki, true)).await;
    assert_eq!(connack, CONNACK_V311, "the certificate's user is let in");
    let mut stream = stream.unwrap();
    // Its rights are kitchen-sensor's: the subtree is granted, anything else refused (3.1.1 section 3.9.3: return code 0x80, Failure).
    assert_eq!(suback_code(&mut stream, 1, "sensors/kitchen/#").await, 1);
    assert_eq!(suback_code(&mut stream, 2, "sensors/#").await, 0x80);
    drop(stream);
    // Without a certificate (allowed, require_client_cert is off) the client is checked like any other: here an
    // anonymous one, refused with "not authorised" (3.1.1 return code 5).
    let (_, connack) = tls_connect(addr, &connector(&pki, false)).await;
    assert_eq!(connack, [0x20, 0x02, 0x00, 0x05], "no certificate, anonymous refused");
    broker.stop().await;
}

#[tokio::test]
async fn roost_pub_and_sub_over_mqtts_and_wss() {
    let pki = Pki::new();
    let broker = tls_broker(pki.files(false, false)).await;
    let roost = env!("CARGO_BIN_EXE_roost");
    let ca = pki.str("ca.pem");
    let mqtts = format!("mqtts://localhost:{}/r/t", broker.mqtts.unwrap().port());
    let (ok, _, err) = run(
        roost,
        &args(&["pub", "-L", &mqtts, "--cafile", &ca, "-m", "hi", "-r", "-q", "1"]),
    )
    .await;
    assert!(ok, "roost pub -L mqtts:// failed: {err}");
    let wss = format!("wss://localhost:{}/mqtt", broker.https.unwrap().port());
    let (ok, out, err) = run(
        roost,
        &args(&[
            "sub", "-L", &wss, "--cafile", &ca, "-t", "r/#", "-C", "1", "-v", "-W", "5",
        ]),
    )
    .await;
    assert!(ok, "roost sub -L wss:// failed: {err}");
    assert_eq!(out, "r/t hi\n");
    // -p with --cafile means TLS, as with mosquitto_sub.
    let port = broker.mqtts.unwrap().port().to_string();
    let (ok, out, err) = run(
        roost,
        &args(&[
            "sub",
            "-h",
            "localhost",
            "-p",
            &port,
            "--cafile",
            &ca,
            "-t",
            "r/t",
            "-C",
            "1",
            "-W",
            "5",
        ]),
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(out, "hi\n");
    // A CA file that does not exist: one line, exit 1, before any connection.
    let output = within(
        Command::new(roost)
            .args(["pub", "-L", &mqtts, "--cafile", "/nonexistent.pem", "-m", "x"])
            .output(),
    )
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("Error: Problem setting TLS options: /nonexistent.pem"),
        "{err}"
    );
    broker.stop().await;
}

#[tokio::test]
async fn paho_publishes_over_tls_and_wss_with_a_client_certificate() {
    let pki = Pki::new();
    // Client certificates asked for, not required: paho presents one on both transports, and with
    // use_identity_as_username its Common Name is the user.
    let broker = tls_broker(pki.files(true, false)).await;
    let mut subscriber = RawClient::clean(&broker, ProtocolVersion::V311, "watcher").await;
    subscriber.subscribe("paho/#", QoS::AtLeastOnce).await;
    let home = std::env::var_os("HOME").unwrap();
    let python = std::env::var_os("ROOST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&home).join(".cache/roost/venv"))
        .join("bin/python");
    let script = r#"
import sys
import paho.mqtt.client as mqtt
ca, port, transport, cert, key = sys.argv[1:6]
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-" + transport, transport=transport)
if transport == "websockets":
    c.ws_set_options(path="/mqtt")
c.tls_set(ca_certs=ca, certfile=cert, keyfile=key)
c.connect("localhost", int(port))
c.loop_start()
c.publish("paho/" + transport, b"secure", qos=1).wait_for_publish(5)
c.disconnect()
c.loop_stop()
"#;
    for (transport, port) in [("tcp", broker.mqtts.unwrap()), ("websockets", broker.https.unwrap())] {
        let port = port.port().to_string();
        let (ok, _, err) = run(
            &python.display().to_string(),
            &args(&[
                "-c",
                script,
                &pki.str("ca.pem"),
                &port,
                transport,
                &pki.str("client.pem"),
                &pki.str("client.key"),
            ]),
        )
        .await;
        assert!(ok, "paho over TLS ({transport}) failed: {err}");
        let message = subscriber.recv_publish().await;
        assert_eq!(
            (message.topic.as_str(), &message.payload[..]),
            (format!("paho/{transport}").as_str(), &b"secure"[..])
        );
    }
    broker.stop().await;
}

#[tokio::test]
async fn https_serves_the_dashboard_with_its_headers_and_checks_the_https_origin() {
    let pki = Pki::new();
    let broker = tls_broker(pki.files(false, false)).await;
    let https = broker.https.unwrap();
    let request = |extra: &str| {
        format!(
            "GET {extra} HTTP/1.1\r\nHost: localhost:{}\r\n{}\r\n",
            https.port(),
            if extra == "/mqtt" {
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                 Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\nOrigin: http://localhost\r\n"
            } else {
                "Connection: close\r\n"
            }
        )
    };
    for (path, status) in [("/", "HTTP/1.1 200"), ("/mqtt", "HTTP/1.1 403")] {
        let tcp = within(TcpStream::connect(https)).await.unwrap();
        let mut tls = within(connector(&pki, false).connect(ServerName::try_from("localhost").unwrap(), tcp))
            .await
            .expect("TLS handshake");
        tls.write_all(request(path).as_bytes()).await.unwrap();
        let mut head = Vec::new();
        let mut reader = BufReader::new(tls);
        while !head.ends_with(b"\r\n\r\n") {
            let n = within(reader.read_until(b'\n', &mut head)).await.unwrap();
            assert_ne!(n, 0, "closed early: {}", String::from_utf8_lossy(&head));
        }
        let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
        assert!(head.starts_with(&status.to_ascii_lowercase()), "{path}: {head}");
        assert!(head.contains("content-security-policy: "), "{path}: {head}");
    }
    broker.stop().await;
}

/// A `roost` process, killed on drop, whose stderr lines arrive on a channel.
struct Roost {
    child: tokio::process::Child,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Roost {
    async fn start(config: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_roost"))
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start roost");
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Roost { child, lines }
    }

    /// Waits (bounded) for a log line containing `needle`.
    async fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + STEP;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.lines.recv()).await {
                Ok(Some(line)) if line.contains(needle) => return line,
                Ok(Some(_)) => {}
                Ok(None) => panic!("roost exited before logging {needle:?}"),
                Err(_) => panic!("roost did not log {needle:?} within {STEP:?}"),
            }
        }
    }
}

/// The certificate the server presents to a new connection.
async fn presented(addr: SocketAddr, pki: &Pki) -> Vec<u8> {
    let tcp = within(TcpStream::connect(addr)).await.unwrap();
    let tls = within(connector(pki, false).connect(ServerName::try_from("localhost").unwrap(), tcp))
        .await
        .expect("TLS handshake");
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

#[tokio::test]
async fn a_running_roost_reloads_its_certificate_on_sighup_and_on_change() {
    let pki = Pki::new();
    let first = std::fs::read(pki.path("server.pem")).unwrap();
    let first = CertificateDer::from_pem_slice(&first).unwrap().to_vec();
    let config = pki.path("roost.toml");
    std::fs::write(
        &config,
        format!(
            "[listeners]\nmqtt = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\nmqtts = \"127.0.0.1:0\"\n\
             [auth]\nallow_anonymous = true\n[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            pki.str("server.pem"),
            pki.str("server.key")
        ),
    )
    .unwrap();
    let mut roost = Roost::start(&config).await;
    let line = roost.wait_for("MQTT over TLS listening on ").await;
    let addr: SocketAddr = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(presented(addr, &pki).await, first);
    // An open connection, to check it survives the reload.
    let (open, connack) = tls_connect(addr, &connector(&pki, false)).await;
    assert_eq!(connack, CONNACK_V311);
    let mut open = open.unwrap();

    let second = pki.issue_server("server");
    let pid = roost.child.id().unwrap().to_string();
    let (ok, _, err) = run("kill", &args(&["-HUP", &pid])).await;
    assert!(ok, "{err}");
    roost.wait_for("TLS certificate reloaded").await;
    assert_eq!(presented(addr, &pki).await, second, "a new connection after SIGHUP");
    open.write_all(PINGREQ).await.unwrap();
    let mut pong = [0; 2];
    within(open.read_exact(&mut pong))
        .await
        .expect("the open connection still works");
    assert_eq!(pong, PINGRESP);

    // Without a signal: the watcher notices the files changed.
    let third = pki.issue_server("server");
    roost.wait_for("TLS certificate reloaded (the files changed)").await;
    assert_eq!(
        presented(addr, &pki).await,
        third,
        "a new connection after the files changed"
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), roost.child.kill()).await;
}

#[tokio::test]
async fn insecure_skips_only_the_host_name_check() {
    let pki = Pki::new();
    let mut params = rcgen::CertificateParams::new(vec!["other.example".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "other.example");
    pki.issue("other", params);
    let files = TlsFiles {
        cert: pki.path("other.pem"),
        key: pki.path("other.key"),
        ..pki.files(false, false)
    };
    let broker = tls_broker(files).await;
    let roost = env!("CARGO_BIN_EXE_roost");
    let port = broker.mqtts.unwrap().port().to_string();
    let ca = pki.str("ca.pem");
    let base = [
        "pub",
        "-h",
        "localhost",
        "-p",
        &port,
        "--cafile",
        &ca,
        "-t",
        "i/t",
        "-m",
        "x",
        "-q",
        "1",
    ];
    // A certificate for another name: the handshake fails, one line, exit 1.
    let output = within(Command::new(roost).args(base).output()).await.unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.starts_with("Error: TLS handshake failed: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let mut insecure = args(&base);
    insecure.push("--insecure".into());
    let (ok, _, err) = run(roost, &insecure).await;
    assert!(ok, "--insecure did not accept a certificate for another name: {err}");
    // The chain is still checked: a CA that did not sign it is refused even with --insecure.
    let stranger = Pki::new();
    let mut untrusted = args(&[
        "pub",
        "-h",
        "localhost",
        "-p",
        &port,
        "--cafile",
        &stranger.str("ca.pem"),
    ]);
    untrusted.extend(args(&["-t", "i/t", "-m", "x", "--insecure"]));
    let (ok, _, _) = run(roost, &untrusted).await;
    assert!(!ok, "--insecure accepted a certificate from an unknown CA");
    broker.stop().await;
}

#[tokio::test]
async fn the_dashboard_login_cookie_is_secure_over_https_and_reload_reloads_the_certificate() {
    let pki = Pki::new();
    let passwd = pki.path("passwd");
    let hash = roost_broker::auth::hash_password(roost_broker::auth::HashKind::Sha512, b"root").unwrap();
    std::fs::write(&passwd, format!("admin:{hash}\n")).unwrap();
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut config = Config {
        https_addr: Some(loopback),
        tls: Some(pki.files(false, false)),
        ..Config::default()
    };
    config.auth.password_file = Some(passwd);
    config.auth.allow_anonymous = roost_broker::config::Anonymous::Deny;
    let broker = TestBroker::start_secured(config).await;
    let https = broker.https.unwrap();
    // One request over HTTPS from the dashboard's own (https) origin; the response head, lower case, and body.
    let post = async |path: &str, cookie: &str, body: &str| {
        let tcp = within(TcpStream::connect(https)).await.unwrap();
        let mut tls = within(connector(&pki, false).connect(ServerName::try_from("localhost").unwrap(), tcp))
            .await
            .expect("TLS handshake");
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost:{port}\r\nOrigin: https://localhost:{port}\r\n\
             Connection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{cookie}\r\n{body}",
            body.len(),
            port = https.port(),
        );
        tls.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        // A TLS peer may close without close_notify after the response; what arrived is enough.
        let _ = within(tls.read_to_end(&mut response)).await;
        let response = String::from_utf8_lossy(&response).into_owned();
        let (head, body) = response.split_once("\r\n\r\n").expect("a whole response");
        (head.to_ascii_lowercase(), body.to_owned())
    };
    let (head, _) = post(
        "/api/login",
        "",
        r#"{"user":"admin","password":"root","remember":true}"#,
    )
    .await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let set = head
        .lines()
        .find_map(|line| line.strip_prefix("set-cookie: "))
        .unwrap_or_else(|| panic!("no cookie: {head}"));
    for attribute in ["; httponly", "; samesite=strict", "; secure", "; max-age="] {
        assert!(set.contains(attribute), "{attribute} missing: {set}");
    }
    let cookie = format!("Cookie: {}\r\n", set.split(';').next().unwrap());

    // The administrator's reload also reloads the certificate: a new one on disk is presented afterwards.
    let new = pki.issue_server("server");
    let (head, body) = post("/api/reload", &cookie, "").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        body.contains(r#""ok":true"#) && body.contains("TLS certificate"),
        "{body}"
    );
    assert_eq!(presented(https, &pki).await, new);
    broker.stop().await;
}
