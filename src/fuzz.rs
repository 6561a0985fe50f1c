//! Entry points for fuzzing: each takes arbitrary bytes and must neither
//! panic nor hang, whatever they hold.
//!
//! The cargo-fuzz targets in `fuzz/` call these (on nightly), and
//! `tests/fuzz_corpus.rs` replays the checked-in corpus through the same
//! functions on stable, so a regression fails `cargo test` without a fuzzer.
//! The probe targets also assert the probe's promises: no DATA, no DELE, no
//! password on the wire or in the record.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use mock_mail_servers::imap::session::ImapSession;
use mock_mail_servers::imap::ImapConfig;
use mock_mail_servers::line::LineBuffer;
use mock_mail_servers::mailstore::{Account as MailAccount, MailStore, SharedStore};
use mock_mail_servers::pop3::session::Pop3Session;
use mock_mail_servers::pop3::{Pop3Config, Status};
use mock_mail_servers::smtp::session::SmtpSession;
use mock_mail_servers::smtp::{Reply, ReplyParser, SmtpConfig};

use crate::net::{BoxFuture, NetStream, Network};
use crate::probe::tls::{TlsClient, VirtualClock};
use crate::probe::{
    Account, Credentials, Endpoint, EventKind, Prober, Protocol, Security, Timeouts,
};

/// The password the probe targets use; it must never appear on the wire.
const PASSWORD: &str = "fuzz-Secret-9";

fn store() -> SharedStore {
    let mut store = MailStore::with_limit(64 * 1024);
    store.add_account(MailAccount {
        user: "taro".into(),
        password: "hunter2".into(),
        address: "taro@example".into(),
    });
    SharedStore::new(store)
}

/// Splits input into lines the way the servers' framer does.
fn lines(data: &[u8]) -> Vec<Vec<u8>> {
    let mut framer = LineBuffer::new(mock_mail_servers::smtp::session::MAX_AUTH_LINE);
    framer.ingest(data);
    framer.ingest(b"\n");
    std::iter::from_fn(|| framer.next_line())
        .map(|line| match line {
            mock_mail_servers::line::Line::Complete(line) => line,
            mock_mail_servers::line::Line::TooLong => Vec::new(),
        })
        .collect()
}

/// The SMTP command parser and server session, line by line.
pub fn smtp_server(data: &[u8]) {
    let starttls = data.first().is_some_and(|b| b & 1 == 1);
    let mut config = SmtpConfig::new("mx.example");
    config.max_message_size = 64 * 1024;
    let mut session = SmtpSession::new(Arc::new(config), store(), starttls, false);
    let _ = session.greeting();
    for line in lines(data) {
        let _ = mock_mail_servers::smtp::command::Command::parse(&line);
        let _ = session.handle_line(&line);
        if line.len() > session.max_line() {
            let _ = session.line_too_long();
        }
    }
}

/// The POP3 command parser and server session, line by line.
pub fn pop3_server(data: &[u8]) {
    let mut session = Pop3Session::new(Arc::new(Pop3Config::new("mx.example")), store(), true);
    let _ = session.greeting();
    for line in lines(data) {
        let _ = mock_mail_servers::pop3::command::Command::parse(&line);
        let _ = session.handle_line(&line);
    }
}

/// The IMAP command parser and server session, line by line, logged in
/// and with INBOX selected when the input's first byte is odd.
pub fn imap_server(data: &[u8]) {
    let mut session = ImapSession::new(
        Arc::new(ImapConfig::new("mx.example")),
        store(),
        true,
        false,
    );
    let _ = session.greeting();
    if data.first().is_some_and(|b| b & 1 == 1) {
        let _ = session.handle_line(format!("a0 LOGIN taro {PASSWORD}").as_bytes());
        let _ = session.handle_line(b"a0 SELECT INBOX");
    }
    for line in lines(data) {
        let _ = mock_mail_servers::imap::command::Tagged::parse(&line);
        let _ = session.handle_line(&line);
    }
}

/// The probe's reply parsers: SMTP replies and POP3 status lines.
pub fn replies(data: &[u8]) {
    let mut parser = ReplyParser::new();
    for line in lines(data) {
        if parser.push(&line).is_err() {
            parser = ReplyParser::new();
        }
        let _ = Status::parse(&line);
        let _ = Reply::from_line(&String::from_utf8_lossy(&line));
    }
}

/// A network with one host whose every connection is answered by `script`,
/// written at once, then read and dropped until the probe leaves.
struct ScriptedPeer {
    script: Arc<Vec<u8>>,
    received: Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Network for ScriptedPeer {
    fn resolve<'a>(&'a self, _: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async { Ok(vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))]) })
    }

    fn connect(&self, _: SocketAddr) -> BoxFuture<'_, io::Result<NetStream>> {
        let (client, mut server) = tokio::io::duplex(64 * 1024);
        let script = self.script.clone();
        let received = self.received.clone();
        tokio::spawn(async move {
            let (mut reader, mut writer) = tokio::io::split(&mut server);
            let write = async {
                let _ = writer.write_all(&script).await;
                std::future::pending::<()>().await
            };
            let read = async {
                let mut chunk = [0u8; 4096];
                while let Ok(n @ 1..) = reader.read(&mut chunk).await {
                    received
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .extend_from_slice(&chunk[..n]);
                }
            };
            tokio::select! {
                biased;
                () = read => {}
                () = write => {}
            }
        });
        Box::pin(async move { Ok(Box::new(client) as NetStream) })
    }
}

/// The probe (dialogs, TLS, follow-ups, diagnosis) against a server that
/// answers every connection with `data`. The first byte picks the protocol
/// and the security; the rest is what the server sends.
pub fn probe(data: &[u8]) {
    let (selector, script) = data.split_first().unwrap_or((&0, &[]));
    let protocol = [Protocol::Smtp, Protocol::Pop3, Protocol::Imap][usize::from(selector % 3)];
    let security = match (selector / 3) % 3 {
        0 => Security::None,
        1 => Security::StartTls,
        _ => Security::Tls,
    };
    let network = ScriptedPeer {
        script: Arc::new(script.to_vec()),
        received: Arc::default(),
    };
    let received = network.received.clone();
    let account = Account {
        endpoint: Endpoint {
            protocol,
            host: "mx.example".into(),
            port: protocol.default_port(security),
            security,
        },
        credentials: Some(Credentials {
            user: "taro".into(),
            password: PASSWORD.into(),
        }),
        from: "taro@example".into(),
        rcpt: "someone@outside.example".into(),
        message_size: None,
    };
    let Ok(runtime) = crate::harness::scenario_runtime() else {
        return;
    };
    let report = runtime.block_on(async {
        let tls = TlsClient::new(
            RootCertStore::empty(),
            Arc::new(VirtualClock::starting_at(0)),
        );
        let timeouts = Timeouts {
            connect: Duration::from_secs(5),
            reply: Duration::from_secs(10),
            deadline: Duration::from_secs(120),
        };
        let prober = Prober::new(Arc::new(network), tls, timeouts);
        prober
            .probe(&account, &["control.example".to_string()])
            .await
    });
    let diagnosis = crate::diagnose::diagnose(&report);
    let mut transcript = String::new();
    let client = crate::diagnose::ClientKind::OutlookExpress6;
    let options = crate::report::ProbeOptions::new(&account, &[], client, Timeouts::default());
    let run = crate::harness::ProbeRun::judge("fuzz", report, client, options);
    let json = crate::report::Report::new(&run, run.options.clone(), String::new()).to_json();
    assert!(!json.contains(PASSWORD), "the password reached the report");
    crate::harness::transcript::write_probe(&mut transcript, &run);
    assert!(
        !transcript.contains(PASSWORD),
        "the password reached the record"
    );
    assert!(!diagnosis.evidence.concat().contains(PASSWORD));
    for attempt in run.report.attempts() {
        for event in &attempt.events {
            if let EventKind::Sent(line) = &event.what {
                let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
                assert!(!matches!(verb.as_str(), "DATA" | "DELE"), "sent {line}");
                // IMAP's command follows the tag: never one that changes mail.
                let command = line.split(' ').nth(1).unwrap_or("").to_ascii_uppercase();
                assert!(
                    !matches!(
                        command.as_str(),
                        "STORE" | "EXPUNGE" | "COPY" | "MOVE" | "APPEND"
                    ),
                    "sent {line}"
                );
            }
        }
    }
    let wire = received.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let wire = String::from_utf8_lossy(&wire);
    if security != Security::None {
        assert!(!wire.contains(PASSWORD), "the password went out in clear");
        let plain = mock_mail_servers::sasl::encode_plain("taro", PASSWORD);
        assert!(!wire.contains(&plain), "AUTH PLAIN went out in clear");
    }
}

/// The scenario loader and, for files it accepts, a whole replay.
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(scenario) = crate::scenario::parse(text, Path::new("fuzz.yaml")) {
        let _ = crate::harness::run(&scenario);
    }
}

/// A fuzz target: any bytes in, no panic, no hang.
pub type Target = fn(&[u8]);

/// Every target by name, as `fuzz/` and the corpus replay know them.
pub const TARGETS: &[(&str, Target)] = &[
    ("smtp_server", smtp_server),
    ("pop3_server", pop3_server),
    ("imap_server", imap_server),
    ("replies", replies),
    ("probe", probe),
    ("scenario", scenario),
];
