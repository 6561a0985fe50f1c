//! The release-style binary against hostile servers on loopback: servers
//! that strip STARTTLS and take any password, that never end a reply, that
//! trickle, that send terminal escapes or garbage instead of TLS. Whatever
//! they do, the probe sends no password over a connection weaker than the
//! account asks, never sends DATA or DELE, stays within its memory and time
//! bounds and names a cause.
//!
//! Each server is a thread per connection over blocking std sockets,
//! listening on 127.0.0.1 only; it ends when the client goes away, and the
//! listener with the test process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mock_mail_servers::sasl;

const USER: &str = "taro";
const PASSWORD: &str = "Tr0ub4dor-and-3";
const PASSWORD_VARIABLE: &str = "MAILPROBE_HOSTILE_PASSWORD";

/// What a hostile server does with one connection.
type Script = fn(&mut Peer);

/// One client connection, seen from the hostile server; everything the
/// client sends is kept in `received`.
struct Peer {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    received: Arc<Mutex<Vec<u8>>>,
}

impl Peer {
    /// The next line from the client, without CRLF; `None` when it left.
    fn line(&mut self) -> Option<String> {
        let mut line = Vec::new();
        match self.reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => {
                self.received
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(&line);
                Some(String::from_utf8_lossy(&line).trim_end().to_string())
            }
        }
    }

    /// Sends bytes; false when the client has gone.
    fn send(&mut self, bytes: &[u8]) -> bool {
        self.writer.write_all(bytes).is_ok() && self.writer.flush().is_ok()
    }
}

/// A scripted server on an ephemeral loopback port.
struct Hostile {
    address: SocketAddr,
    received: Arc<Mutex<Vec<u8>>>,
}

impl Hostile {
    fn start(script: Script) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let received = kept.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
                    let _ = stream.set_write_timeout(Some(Duration::from_secs(60)));
                    let Ok(writer) = stream.try_clone() else {
                        return;
                    };
                    let mut peer = Peer {
                        reader: BufReader::new(stream),
                        writer,
                        received,
                    };
                    script(&mut peer);
                });
            }
        });
        Hostile { address, received }
    }

    fn port(&self) -> String {
        self.address.port().to_string()
    }

    /// Everything every client sent, as text.
    fn received(&self) -> String {
        let bytes = self.received.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// No password in any form, no DATA, no DELE reached the server.
    fn assert_nothing_leaked(&self) {
        let received = self.received();
        for secret in [
            PASSWORD.to_string(),
            sasl::encode(PASSWORD),
            sasl::encode_plain(USER, PASSWORD),
        ] {
            assert!(
                !received.contains(&secret),
                "the password reached the server:\n{received}"
            );
        }
        assert_no_data_or_dele(&received);
    }
}

fn assert_no_data_or_dele(received: &str) {
    for line in received.lines() {
        let verb = line.split_whitespace().next().unwrap_or("");
        assert!(
            !verb.eq_ignore_ascii_case("DATA") && !verb.eq_ignore_ascii_case("DELE"),
            "the probe sent {line:?}:\n{received}"
        );
    }
}

fn mailprobe(args: &[&str], password: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailprobe"))
        .args(args)
        .env(PASSWORD_VARIABLE, password)
        .output()
        .unwrap()
}

/// `mailprobe probe` (or `suggest`) against a hostile server with the account
/// `taro` and `security`, plus `extra` options.
fn probe(
    command: &str,
    protocol: &str,
    server: &Hostile,
    security: &str,
    extra: &[&str],
) -> Output {
    let port = server.port();
    let mut args = vec![
        command,
        protocol,
        "127.0.0.1",
        "--port",
        &port,
        "--security",
        security,
        "--user",
        USER,
        "--password-env",
        PASSWORD_VARIABLE,
    ];
    args.extend_from_slice(extra);
    mailprobe(&args, PASSWORD)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The end of a long output, for assertion messages.
fn brief(text: &str) -> &str {
    let start = text.len().saturating_sub(3000);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    &text[start..]
}

/// An SMTP server that never offers STARTTLS and takes any login and any
/// envelope: what a STARTTLS-stripping box in the middle looks like.
fn smtp_accepting_everything(peer: &mut Peer) {
    if !peer.send(b"220 mx.hostile.example ESMTP\r\n") {
        return;
    }
    while let Some(line) = peer.line() {
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-mx.hostile.example\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n",
            "AUTH" if line.len() > 10 => b"235 2.7.0 ok\r\n",
            "AUTH" => b"334 VXNlcm5hbWU6\r\n",
            "QUIT" => {
                peer.send(b"221 bye\r\n");
                return;
            }
            "DATA" => b"354 go ahead\r\n",
            _ if line.len() > 8 && !line.contains(' ') => b"334 UGFzc3dvcmQ6\r\n",
            _ => b"250 ok\r\n",
        };
        if !peer.send(reply) {
            return;
        }
    }
}

/// A POP3 server in plaintext that takes any login.
fn pop3_accepting_everything(peer: &mut Peer) {
    if !peer.send(b"+OK hostile POP3\r\n") {
        return;
    }
    while let Some(line) = peer.line() {
        let reply: &[u8] = match line.to_ascii_uppercase().as_str() {
            "CAPA" => b"+OK\r\nUSER\r\nSTLS\r\n.\r\n",
            "STLS" => b"+OK begin TLS\r\n",
            "QUIT" => {
                peer.send(b"+OK bye\r\n");
                return;
            }
            _ => b"+OK\r\n",
        };
        if !peer.send(reply) {
            return;
        }
    }
}

#[test]
fn no_password_in_clear_when_starttls_is_stripped() {
    let server = Hostile::start(smtp_accepting_everything);
    let output = probe("probe", "--smtp", &server, "starttls", &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("diagnosis: starttls-"), "{text}");
    assert!(text.contains("note: credentials withheld"), "{text}");
    server.assert_nothing_leaked();
    assert!(
        server.received().contains("EHLO"),
        "the follow-ups still learn reachability"
    );
}

#[test]
fn no_pop3_password_in_clear_after_tls_fails() {
    let server = Hostile::start(pop3_accepting_everything);
    let output = probe("probe", "--pop3", &server, "tls", &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("note: credentials withheld"), "{text}");
    server.assert_nothing_leaked();
    assert!(!server.received().contains("USER"), "{}", server.received());
}

#[test]
fn suggest_never_sends_the_password_in_clear_nor_suggests_plaintext() {
    let server = Hostile::start(smtp_accepting_everything);
    let output = probe("suggest", "--smtp", &server, "starttls", &[]);
    let text = stdout(&output);
    assert!(!text.contains("suggested: port"), "{text}");
    assert!(text.contains("credentials withheld"), "{text}");
    server.assert_nothing_leaked();
}

#[test]
fn an_account_configured_plaintext_still_logs_in_in_plaintext() {
    let server = Hostile::start(smtp_accepting_everything);
    let output = probe("probe", "--smtp", &server, "none", &[]);
    let text = stdout(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("AUTH PLAIN <credentials redacted>"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
    assert_no_data_or_dele(&server.received());
}

#[test]
fn values_with_line_breaks_are_refused_before_connecting() {
    let server = Hostile::start(smtp_accepting_everything);
    let port = server.port();
    let cases: [(&str, &str, &str); 5] = [
        ("--user", "taro\r\nDATA", "--user"),
        ("--from", "taro@x.example>\r\nDATA\r\nSubject: x", "--from"),
        ("--rcpt", "a@x.example\nDATA", "--rcpt"),
        ("--from", "taro@x.example> SIZE=1", "--from"),
        ("--rcpt", "a@x.example\tDATA", "--rcpt"),
    ];
    for (flag, value, named) in cases {
        let output = mailprobe(
            &[
                "probe",
                "--smtp",
                "127.0.0.1",
                "--port",
                &port,
                "--security",
                "none",
                flag,
                value,
            ],
            PASSWORD,
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag} {value:?}: {stderr}");
        assert!(stderr.contains(named), "{stderr}");
        assert!(stderr.contains("cannot contain"), "{stderr}");
    }
    let output = mailprobe(
        &[
            "probe",
            "--pop3",
            "127.0.0.1",
            "--port",
            &port,
            "--user",
            "taro",
            "--password-env",
            PASSWORD_VARIABLE,
        ],
        "pw\r\nDELE 1",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--password-env: the password contains"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("DELE"),
        "the password was printed: {stderr}"
    );
    let output = mailprobe(&["probe", "--smtp", "127.0.0.1\r\nDATA"], PASSWORD);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(server.received(), "", "nothing may be sent");
}

/// Answers EHLO with `250-` lines forever.
fn endless_ehlo(peer: &mut Peer) {
    if !peer.send(b"220 mx.hostile.example ESMTP\r\n") || peer.line().is_none() {
        return;
    }
    let line = format!("250-{}\r\n", "X".repeat(1000));
    while peer.send(line.as_bytes()) {}
}

/// A `220-` greeting that never ends.
fn endless_greeting(peer: &mut Peer) {
    while peer.send(b"220-still greeting you, please wait\r\n") {}
}

/// A POP3 CAPA list without its closing dot.
fn endless_capa(peer: &mut Peer) {
    if !peer.send(b"+OK hostile POP3\r\n") || peer.line().is_none() {
        return;
    }
    peer.send(b"+OK capabilities follow\r\n");
    while peer.send(b"X-CAPABILITY-WITHOUT-END\r\n") {}
}

/// A greeting line that never ends.
fn endless_line(peer: &mut Peer) {
    peer.send(b"220 ");
    while peer.send(&[b'A'; 4096]) {}
}

/// The largest resident set of any child this process has reaped, in KiB.
fn children_max_rss_kib() -> i64 {
    // SAFETY: getrusage writes one rusage struct into memory we own.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage.ru_maxrss
    }
}

#[test]
fn endless_replies_end_the_attempt_with_bounded_memory() {
    let cases: [(Script, &str, &str); 4] = [
        (endless_ehlo, "--smtp", "bytes in one reply"),
        (endless_greeting, "--smtp", "lines in one reply"),
        (endless_capa, "--pop3", "lines in one reply"),
        (endless_line, "--smtp", "bytes in one line"),
    ];
    for (script, protocol, cap) in cases {
        let server = Hostile::start(script);
        let output = probe("probe", protocol, &server, "none", &["--deadline", "60s"]);
        let text = stdout(&output);
        let shown = brief(&text);
        assert_eq!(output.status.code(), Some(1), "{shown}");
        assert!(text.contains("diagnosis: server-misbehaving"), "{shown}");
        assert!(text.contains(cap), "{cap}: {shown}");
        server.assert_nothing_leaked();
    }
    let rss = children_max_rss_kib();
    assert!(rss < 64 * 1024, "a probe grew to {rss} KiB");
}

/// Answers every command with a whole reply, each just inside the reply
/// timeout, so that no single wait ever times out.
fn trickle(peer: &mut Peer) {
    let pause = Duration::from_millis(900);
    std::thread::sleep(pause);
    if !peer.send(b"220 mx.hostile.example ESMTP\r\n") {
        return;
    }
    while let Some(line) = peer.line() {
        std::thread::sleep(pause);
        let reply: &[u8] = if line.starts_with("EHLO") {
            b"250-mx.hostile.example\r\n250 AUTH PLAIN\r\n"
        } else if line.starts_with("AUTH") {
            b"235 slowly\r\n"
        } else {
            b"250 slowly\r\n"
        };
        if !peer.send(reply) {
            return;
        }
    }
}

#[test]
fn an_overall_deadline_ends_a_trickling_server() {
    let server = Hostile::start(trickle);
    let started = Instant::now();
    let output = probe(
        "probe",
        "--smtp",
        &server,
        "none",
        &["--reply-timeout", "1s", "--deadline", "4s"],
    );
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("overall deadline of 4s passed"), "{text}");
    assert!(text.contains("diagnosis: server-misbehaving"), "{text}");
    // The deadline holds for the whole probe, follow-ups included.
    assert!(started.elapsed() < Duration::from_secs(30), "{text}");
}

/// Greets with terminal escapes, a bare CR and a NUL.
fn escapes(peer: &mut Peer) {
    peer.send(b"554 \x1b]0;owned\x07\x1b[2J\rhidden\x00 \xc2\x9b31m go away\r\n");
    let _ = peer.line();
}

#[test]
fn server_text_cannot_drive_the_terminal() {
    let server = Hostile::start(escapes);
    let output = probe("probe", "--smtp", &server, "none", &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    for control in ['\x1b', '\x07', '\r', '\0', '\u{9b}'] {
        assert!(!text.contains(control), "{control:?} printed raw:\n{text}");
    }
    assert!(text.contains("\\x1b]0;owned\\x07"), "{text}");
}

/// Answers a TLS ClientHello with bytes that are not TLS, after reading it.
fn tls_garbage(peer: &mut Peer) {
    let mut hello = [0u8; 512];
    let _ = peer.reader.read(&mut hello);
    peer.send(&[0x16, 0x03, 0x03, 0xff, 0xff, 0x99, 0x99, 0x99]);
    peer.send(&[0x42; 2048]);
}

#[test]
fn tls_garbage_is_a_tls_failure_not_a_hang() {
    let server = Hostile::start(tls_garbage);
    let output = probe(
        "probe",
        "--pop3",
        &server,
        "tls",
        &["--reply-timeout", "2s", "--deadline", "30s"],
    );
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("FAILED at tls handshake"), "{text}");
    server.assert_nothing_leaked();
}

/// Answers with binary garbage in lines.
fn garbage(peer: &mut Peer) {
    peer.send(b"\xff\xfe\x00\x01 garbage \x80\x81\r\n");
    let _ = peer.line();
}

#[test]
fn garbage_replies_are_a_misbehaving_server() {
    let server = Hostile::start(garbage);
    let output = probe(
        "probe",
        "--smtp",
        &server,
        "none",
        &["--reply-timeout", "2s"],
    );
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("diagnosis: server-misbehaving"), "{text}");
    assert!(text.contains("not a reply of the protocol"), "{text}");
    server.assert_nothing_leaked();
}

/// Greets, then never answers again.
fn silent_after_greeting(peer: &mut Peer) {
    peer.send(b"220 mx.hostile.example ESMTP\r\n");
    while peer.line().is_some() {}
}

#[test]
fn ctrl_c_still_writes_what_was_seen() {
    use std::io::BufRead;
    let server = Hostile::start(silent_after_greeting);
    let report = std::env::temp_dir().join(format!(
        "mailprobe-hostile-{}-interrupted.json",
        std::process::id()
    ));
    let port = server.port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailprobe"))
        .args([
            "probe",
            "--smtp",
            "127.0.0.1",
            "--port",
            &port,
            "--security",
            "none",
            "--report",
        ])
        .arg(&report)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The steps print on stderr as they happen: wait for EHLO to go out.
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 && !line.contains("C: EHLO") {
        line.clear();
    }
    assert!(line.contains("C: EHLO"), "no progress line: {line:?}");
    // SAFETY: kill sends a signal to the child we started.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("interrupted before it ended"), "{stdout}");
    let json = std::fs::read_to_string(&report).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let outcome = &value["observed"]["configured"]["outcome"]["failed"];
    assert_eq!(outcome["step"], "ehlo", "{json}");
    assert_eq!(outcome["failure"], "interrupted", "{json}");
    let _ = std::fs::remove_file(report);
}
