//! Real mail clients against a served world: swaks sends through the mock
//! SMTP server (STARTTLS, implicit TLS, AUTH), curl reads it back over POP3
//! (STLS and implicit TLS, verifying the world's certificates) and IMAP;
//! Python's imaplib and `openssl s_client -starttls imap` read it over IMAP.
//!
//! Behind the `interop` feature; `.ci/run` installs swaks and curl. A
//! missing tool fails the test with what to install, it never skips.
#![cfg(feature = "interop")]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

/// `mailprobe serve` in the background, killed when dropped (and stopping by
/// itself after a minute anyway).
struct Served {
    child: Child,
    ports: Vec<(String, u16)>,
    ca: PathBuf,
}

impl Served {
    fn start(tag: &str) -> Served {
        let root = env!("CARGO_MANIFEST_DIR");
        let ca = std::env::temp_dir().join(format!(
            "mailprobe-interop-{}-{tag}.pem",
            std::process::id()
        ));
        let mut child = Command::new(env!("CARGO_BIN_EXE_mailprobe"))
            .args([
                "serve",
                &format!("{root}/scenarios/interop/served-provider.yaml"),
                "--for",
                "60s",
                "--ca-out",
            ])
            .arg(&ca)
            .stdout(Stdio::piped())
            .spawn()
            .expect("mailprobe serve starts");
        let mut ports = Vec::new();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        for line in stdout.lines() {
            let line = line.unwrap();
            if line.starts_with("serving") {
                break;
            }
            // "smtp smtp.served.example:587 (starttls) -> 127.0.0.1:40123"
            let (left, local) = line.split_once(" -> ").unwrap();
            let served = left.split_whitespace().nth(1).unwrap().to_string();
            let port = local.rsplit(':').next().unwrap().parse().unwrap();
            ports.push((served, port));
        }
        Served { child, ports, ca }
    }

    /// The loopback port serving `host:port` of the world.
    fn port(&self, served: &str) -> u16 {
        self.ports
            .iter()
            .find(|(s, _)| s == served)
            .unwrap_or_else(|| panic!("{served} not served"))
            .1
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.ca);
    }
}

/// Runs a tool, failing loudly if it is not installed.
fn tool(name: &str, args: &[&str]) -> Output {
    Command::new(name).args(args).output().unwrap_or_else(|error| {
        panic!("{name} cannot run ({error}): install it (`apt-get install -y {name}`, as .ci/run does)")
    })
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn swaks(port: u16, tls: &str, password: &str, subject: &str) -> Output {
    let port = port.to_string();
    let header = format!("Subject: {subject}");
    tool(
        "swaks",
        &[
            "--server",
            "127.0.0.1",
            "--port",
            &port,
            tls,
            "--auth",
            "PLAIN",
            "--auth-user",
            "taro",
            "--auth-password",
            password,
            "--from",
            "taro@served.example",
            "--to",
            "taro@served.example",
            "--header",
            &header,
            "--body",
            "sent by swaks through mailprobe serve",
            "--helo",
            "client.example",
            "--timeout",
            "20",
        ],
    )
}

fn curl_pop3(
    served: &Served,
    scheme: &str,
    world_port: &str,
    path: &str,
    password: &str,
) -> Output {
    curl_mail(
        served,
        "pop.served.example",
        scheme,
        world_port,
        path,
        password,
    )
}

/// curl against `host:world_port` of the served world, verifying its
/// certificates; plaintext schemes must upgrade (`--ssl-reqd`).
fn curl_mail(
    served: &Served,
    host: &str,
    scheme: &str,
    world_port: &str,
    path: &str,
    password: &str,
) -> Output {
    let port = served.port(&format!("{host}:{world_port}"));
    let resolve = format!("{host}:{port}:127.0.0.1");
    let url = format!("{scheme}://{host}:{port}/{path}");
    let user = format!("taro:{password}");
    let ca = served.ca.to_str().unwrap().to_string();
    let mut args = vec![
        "--silent",
        "--show-error",
        "--verbose",
        "--max-time",
        "20",
        "--cacert",
        &ca,
        "--resolve",
        &resolve,
        "--user",
        &user,
    ];
    if !scheme.ends_with('s') {
        args.push("--ssl-reqd");
    }
    args.push(&url);
    tool("curl", &args)
}

#[test]
fn swaks_sends_with_starttls_and_curl_reads_it_back_over_pop3() {
    let served = Served::start("roundtrip");
    let subject = format!("interop {}", std::process::id());
    let sent = swaks(
        served.port("smtp.served.example:587"),
        "--tls",
        "hunter2",
        &subject,
    );
    let transcript = text(&sent);
    assert!(sent.status.success(), "{transcript}");
    assert!(
        transcript.contains("STARTTLS") && transcript.contains("235 2.7.0"),
        "{transcript}"
    );

    let listing = curl_pop3(&served, "pop3", "110", "", "hunter2");
    assert!(listing.status.success(), "{}", text(&listing));
    assert_eq!(
        String::from_utf8_lossy(&listing.stdout).lines().count(),
        2,
        "{}",
        text(&listing)
    );

    let message = curl_pop3(&served, "pop3s", "995", "2", "hunter2");
    let body = String::from_utf8_lossy(&message.stdout);
    assert!(message.status.success(), "{}", text(&message));
    assert!(body.contains(&format!("Subject: {subject}")), "{body}");
    assert!(
        body.contains("sent by swaks through mailprobe serve"),
        "{body}"
    );
}

#[test]
fn swaks_over_implicit_tls_and_refused_logins() {
    let served = Served::start("refusals");
    let sent = swaks(
        served.port("smtp.served.example:465"),
        "--tlsc",
        "hunter2",
        "implicit",
    );
    assert!(sent.status.success(), "{}", text(&sent));

    let refused = swaks(
        served.port("smtp.served.example:587"),
        "--tls",
        "wrong",
        "refused",
    );
    assert!(!refused.status.success());
    assert!(text(&refused).contains("535 5.7.8"), "{}", text(&refused));

    let denied = curl_pop3(&served, "pop3s", "995", "", "wrong");
    assert!(!denied.status.success(), "{}", text(&denied));
}

/// Mail sent over SMTP is read over IMAP by curl (imaps:// and imap:// with
/// STARTTLS required), by Python's imaplib and by `openssl s_client
/// -starttls imap`; a wrong password is `NO [AUTHENTICATIONFAILED]`, and
/// LOGIN before STARTTLS is refused (`LOGINDISABLED`).
#[test]
fn imap_clients_read_mail_sent_over_smtp() {
    let served = Served::start("imap");
    let subject = format!("imap interop {}", std::process::id());
    let sent = swaks(
        served.port("smtp.served.example:587"),
        "--tls",
        "hunter2",
        &subject,
    );
    assert!(sent.status.success(), "{}", text(&sent));
    let host = "imap.served.example";

    // The mailbox held one message; the one sent is UID 2.
    for (scheme, port) in [("imaps", "993"), ("imap", "143")] {
        let fetched = curl_mail(&served, host, scheme, port, "INBOX;UID=2", "hunter2");
        let body = String::from_utf8_lossy(&fetched.stdout);
        assert!(fetched.status.success(), "{scheme}: {}", text(&fetched));
        assert!(
            body.contains(&format!("Subject: {subject}")),
            "{scheme}: {body}"
        );
    }
    let denied = curl_mail(&served, host, "imaps", "993", "INBOX;UID=1", "wrong");
    assert!(!denied.status.success(), "{}", text(&denied));
    assert!(
        text(&denied).contains("NO [AUTHENTICATIONFAILED]"),
        "{}",
        text(&denied)
    );

    let imaplib = r#"
import imaplib, socket, ssl, sys
host, port, cafile, subject = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

class Served(imaplib.IMAP4_SSL):
    # The world's name for TLS, the loopback port for the socket.
    def _create_socket(self, timeout):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)

context = ssl.create_default_context(cafile=cafile)
imap = Served(host, port, ssl_context=context)
try:
    imap.login("taro", "wrong")
    sys.exit("a wrong password logged in")
except imaplib.IMAP4.error as error:
    assert "AUTHENTICATIONFAILED" in str(error), error
imap.login("taro", "hunter2")
status, data = imap.select("INBOX", readonly=True)
assert status == "OK", data
status, data = imap.fetch(data[0].decode(), "(RFC822)")
assert status == "OK", data
assert ("Subject: " + subject).encode() in data[0][1], data
imap.logout()
print("imaplib read", subject)
"#;
    let port = served.port(&format!("{host}:993")).to_string();
    let ca = served.ca.to_str().unwrap().to_string();
    let python = tool("python3", &["-c", imaplib, host, &port, &ca, &subject]);
    assert!(python.status.success(), "{}", text(&python));

    let port = served.port(&format!("{host}:143"));
    let mut openssl = Command::new("openssl")
        .args([
            "s_client",
            "-quiet",
            "-starttls",
            "imap",
            "-verify_return_error",
        ])
        .args(["-connect", &format!("127.0.0.1:{port}")])
        .args([
            "-servername",
            host,
            "-verify_hostname",
            host,
            "-CAfile",
            &ca,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("openssl cannot run ({e}): install it, as .ci/run does"));
    {
        use std::io::Write;
        let mut stdin = openssl.stdin.take().unwrap();
        stdin
            .write_all(b"a1 LOGIN taro hunter2\r\na2 EXAMINE INBOX\r\na3 FETCH 2 BODY.PEEK[HEADER]\r\na4 LOGOUT\r\n")
            .unwrap();
    }
    let output = openssl.wait_with_output().unwrap();
    let session = String::from_utf8_lossy(&output.stdout);
    assert!(session.contains("a1 OK"), "{}", text(&output));
    assert!(session.contains("a2 OK [READ-ONLY]"), "{session}");
    assert!(
        session.contains(&format!("Subject: {subject}")),
        "{session}"
    );
    assert!(session.contains("a4 OK"), "{session}");

    // Plaintext LOGIN on 143 without STARTTLS is refused.
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    plain
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    {
        use std::io::Write;
        plain.write_all(b"a1 LOGIN taro hunter2\r\n").unwrap();
    }
    let mut reader = BufReader::new(plain);
    let mut greeting = String::new();
    reader.read_line(&mut greeting).unwrap();
    assert!(greeting.contains("LOGINDISABLED"), "{greeting}");
    let mut reply = String::new();
    reader.read_line(&mut reply).unwrap();
    assert!(reply.starts_with("a1 NO [PRIVACYREQUIRED]"), "{reply}");
}
