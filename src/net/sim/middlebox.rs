//! Boxes that terminate the client's connection and open their own upstream:
//! antivirus mail scanners (plain, TLS re-signing, answering, holding),
//! Cisco ESMTP inspection, a STARTTLS stripper.
//!
//! Each accepts the client at once, connects upstream through the layers
//! beyond it, and relays through a [`Filter`] that sees every chunk.

use std::sync::Arc;
use std::time::Duration;

use mock_mail_servers::tls::KeyExchange;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::firewall::{Family, Middlebox};
use super::prefixed::Prefixed;
use super::{SimNetwork, PIPE_CAPACITY};
use crate::net::NetStream;
use crate::probe::smtp::STREAMING_EXTENSIONS;

/// The most of one message a holding scanner keeps, above the mock servers'
/// 10 MB default message size; past it, it gives up scanning and passes the
/// message on as it comes, so a client cannot make it keep any amount.
const MAX_HELD: usize = 16 * 1024 * 1024;

/// How long inspection boxes wait for their upstream.
const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// The first bytes of a TLS handshake record: content type 22, version 3.x.
pub fn starts_tls_handshake(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0x16 && bytes[1] == 0x03
}

/// What a filter does with bytes from the client.
enum Pass {
    Forward(Vec<u8>),
    /// Forward these bytes after a while (a message held for scanning).
    After(Duration, Vec<u8>),
    /// Close both connections.
    Close,
    /// Terminate TLS here (these bytes start the client's handshake).
    InterceptTls,
}

/// Sees and may rewrite everything that crosses the box.
trait Filter: Send {
    fn client_sent(&mut self, bytes: &[u8]) -> Pass;
    fn server_sent(&mut self, bytes: &[u8]) -> Vec<u8>;
    /// Whether the box hangs up now, after passing what the server sent.
    fn hangs_up(&self) -> bool {
        false
    }
}

/// A throttle: passes the server's greeting line, then closes both sides
/// before the client's first command is answered.
#[derive(Default)]
struct CloseAfterGreeting {
    pending: Vec<u8>,
    greeted: bool,
}

impl Filter for CloseAfterGreeting {
    fn client_sent(&mut self, bytes: &[u8]) -> Pass {
        Pass::Forward(bytes.to_vec())
    }

    fn server_sent(&mut self, bytes: &[u8]) -> Vec<u8> {
        if self.greeted {
            return Vec::new();
        }
        if self.pending.is_empty() && bytes.first() == Some(&0x16) {
            // A TLS server's first flight: no greeting to see, hang up now
            // (passing part of it would depend on its random bytes).
            self.greeted = true;
            return Vec::new();
        }
        self.pending.extend_from_slice(bytes);
        match self.pending.iter().position(|&b| b == b'\n') {
            Some(end) => {
                self.greeted = true;
                self.pending.drain(..=end).collect()
            }
            None => Vec::new(),
        }
    }

    fn hangs_up(&self) -> bool {
        self.greeted
    }
}

/// The plain mail scanner: cannot read TLS, so it hangs up on it.
struct CloseOnTls;

impl Filter for CloseOnTls {
    fn client_sent(&mut self, bytes: &[u8]) -> Pass {
        if starts_tls_handshake(bytes) {
            Pass::Close
        } else {
            Pass::Forward(bytes.to_vec())
        }
    }
    fn server_sent(&mut self, bytes: &[u8]) -> Vec<u8> {
        bytes.to_vec()
    }
}

/// The re-signing scanner: takes over TLS when the client starts it.
struct InterceptTls;

impl Filter for InterceptTls {
    fn client_sent(&mut self, bytes: &[u8]) -> Pass {
        if starts_tls_handshake(bytes) {
            Pass::InterceptTls
        } else {
            Pass::Forward(bytes.to_vec())
        }
    }
    fn server_sent(&mut self, bytes: &[u8]) -> Vec<u8> {
        bytes.to_vec()
    }
}

/// Passes everything (after a TLS interception).
struct PassThrough;

impl Filter for PassThrough {
    fn client_sent(&mut self, bytes: &[u8]) -> Pass {
        Pass::Forward(bytes.to_vec())
    }
    fn server_sent(&mut self, bytes: &[u8]) -> Vec<u8> {
        bytes.to_vec()
    }
}

/// Which line rewriting a [`LineRewriter`] does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rewrite {
    EsmtpInspection,
    StartTlsStripper,
    /// A store-and-forward scanner reading this many bytes a second.
    HoldingScanner {
        scan_rate: u64,
    },
}

/// A line-based rewriting proxy. Binary data (a TLS handshake) passes as is.
struct LineRewriter {
    rewrite: Rewrite,
    client_pending: Vec<u8>,
    server_pending: Vec<u8>,
    greeted: bool,
    data_requested: bool,
    in_data: bool,
    raw: bool,
    /// The lines of a multi-line reply held until its last line, when
    /// lines are left out of it, and their bytes (at most
    /// [`MAX_PENDING_LINE`]: past it, all but the last go on).
    reply_lines: Vec<String>,
    reply_bytes: usize,
    /// A message held for scanning, and when its final dot releases it.
    held: Vec<u8>,
    release_after: Option<Duration>,
    /// Passing the rest of a message too large to hold, unscanned.
    passing: bool,
}

impl LineRewriter {
    fn new(rewrite: Rewrite) -> Self {
        LineRewriter {
            rewrite,
            client_pending: Vec::new(),
            server_pending: Vec::new(),
            greeted: false,
            data_requested: false,
            in_data: false,
            raw: false,
            reply_lines: Vec::new(),
            reply_bytes: 0,
            held: Vec::new(),
            release_after: None,
            passing: false,
        }
    }

    /// A holding scanner keeps the message's lines until the final dot,
    /// then lets them go after the time it takes to scan them.
    fn hold(&mut self, line: &[u8], done: bool) -> Vec<u8> {
        let Rewrite::HoldingScanner { scan_rate } = self.rewrite else {
            return line.to_vec();
        };
        if self.passing || self.held.len().saturating_add(line.len()) > MAX_HELD {
            // Too large to hold: what was held, then the rest as it comes.
            self.passing = !done;
            let mut out = std::mem::take(&mut self.held);
            out.extend_from_slice(line);
            return out;
        }
        self.held.extend_from_slice(line);
        if !done {
            return Vec::new();
        }
        let seconds = self.held.len() as f64 / scan_rate.max(1) as f64;
        self.release_after = Some(Duration::from_secs_f64(seconds));
        std::mem::take(&mut self.held)
    }

    fn client_line(&mut self, line: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(line);
        let content = text.trim_end_matches(['\r', '\n']);
        if self.in_data {
            let done = content == ".";
            if done {
                self.in_data = false;
            }
            return self.hold(line, done);
        }
        let verb = content.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let blocked = match self.rewrite {
            // RFC 821's minimum is all a PIX lets through.
            Rewrite::EsmtpInspection => !matches!(
                verb.as_str(),
                "HELO" | "MAIL" | "RCPT" | "DATA" | "RSET" | "NOOP" | "QUIT" | "VRFY"
            ),
            // IMAP's comes after a tag: `a2 STARTTLS`.
            Rewrite::HoldingScanner { .. } => false,
            Rewrite::StartTlsStripper => {
                matches!(verb.as_str(), "STARTTLS" | "STLS")
                    || content
                        .split(' ')
                        .nth(1)
                        .is_some_and(|word| word.eq_ignore_ascii_case("STARTTLS"))
            }
        };
        if verb == "DATA" {
            self.data_requested = true;
        }
        if blocked {
            let mut masked = vec![b'X'; content.len()];
            masked.extend_from_slice(&line[content.len()..]);
            return masked;
        }
        line.to_vec()
    }

    fn server_line(&mut self, line: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(line).into_owned();
        let content = text.trim_end_matches(['\r', '\n']);
        let ending = &text[content.len()..];
        if self.data_requested && content.starts_with("354") {
            self.data_requested = false;
            self.in_data = true;
        }
        let rewritten = match self.rewrite {
            Rewrite::EsmtpInspection if !self.greeted => {
                if content.len() > 3 && (content.as_bytes()[3] == b' ') {
                    self.greeted = true;
                }
                mask_greeting(content)
            }
            Rewrite::StartTlsStripper => strip_starttls(content),
            Rewrite::HoldingScanner { .. } => return self.without_streaming(content, ending),
            _ => content.to_string(),
        };
        format!("{rewritten}{ending}").into_bytes()
    }

    /// A `250` reply without the streaming extensions: its lines wait for
    /// the last, so the reply still ends on a `250 ` line when that one
    /// goes.
    fn without_streaming(&mut self, content: &str, ending: &str) -> Vec<u8> {
        let continued = content.len() > 3 && content.as_bytes()[3] == b'-';
        if !content.starts_with("250") || (!continued && self.reply_lines.is_empty()) {
            return format!("{content}{ending}").into_bytes();
        }
        let keyword = content.get(4..).unwrap_or("");
        if !STREAMING_EXTENSIONS
            .iter()
            .any(|hidden| keyword.eq_ignore_ascii_case(hidden))
        {
            self.reply_bytes = self.reply_bytes.saturating_add(keyword.len());
            self.reply_lines.push(keyword.to_string());
        }
        if continued {
            // A server that never ends its reply cannot make the box keep
            // it all: past the limit the lines held go on, but the last
            // waits, so the reply still ends on a line this box wrote.
            if self.reply_bytes <= MAX_PENDING_LINE {
                return Vec::new();
            }
            let kept = self.reply_lines.pop();
            let out = reply_250(&self.reply_lines, ending, false);
            self.reply_lines.clear();
            self.reply_lines.extend(kept);
            self.reply_bytes = self.reply_lines.first().map_or(0, String::len);
            return out;
        }
        let lines = std::mem::take(&mut self.reply_lines);
        self.reply_bytes = 0;
        reply_250(&lines, ending, true)
    }
}

/// `lines` as `250` reply lines, continued (`250-`) but for the last when
/// `ends` says the reply ends with it.
fn reply_250(lines: &[String], ending: &str, ends: bool) -> Vec<u8> {
    let last = lines.len().saturating_sub(1);
    let mut out = String::new();
    for (index, line) in lines.iter().enumerate() {
        let separator = if ends && index == last { ' ' } else { '-' };
        out.push_str(&format!("250{separator}{line}{ending}"));
    }
    out.into_bytes()
}

/// `220 mx.example ESMTP` → `220 **2****0*******`: only the code, the
/// separator, and the characters '2' and '0' survive.
fn mask_greeting(line: &str) -> String {
    line.char_indices()
        .map(|(i, c)| {
            if i < 4 || c == '2' || c == '0' {
                c
            } else {
                '*'
            }
        })
        .collect()
}

/// Hides STARTTLS (`250-XXXXXXXA`) and STLS (`XXXX`) in capability lists,
/// and the STARTTLS word in IMAP's untagged capability lines (`XXXXXXXX`).
fn strip_starttls(line: &str) -> String {
    if line.starts_with("* ") {
        return line
            .split(' ')
            .map(|word| {
                if word.eq_ignore_ascii_case("STARTTLS") {
                    "XXXXXXXX"
                } else {
                    word
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    if let (Some(code), Some(word)) = (line.get(..4), line.get(4..)) {
        if word.eq_ignore_ascii_case("STARTTLS") {
            return format!("{code}XXXXXXXA");
        }
    }
    if line.eq_ignore_ascii_case("STLS") {
        return "XXXX".to_string();
    }
    line.to_string()
}

/// The longest line a line-rewriting box waits for the end of; longer, it
/// takes what it has as a line, so a peer that never ends one cannot make
/// it keep any amount (SMTP's own limit is 1,000 bytes).
const MAX_PENDING_LINE: usize = 64 * 1024;

/// Passes each complete line of `pending` through `each`, and the rest too
/// once it is longer than [`MAX_PENDING_LINE`].
fn take_lines(pending: &mut Vec<u8>, mut each: impl FnMut(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    // The lines are taken by offset and dropped at once: draining each line
    // would move the rest of a large chunk once a line.
    let mut start = 0;
    while let Some(length) = pending[start..].iter().position(|&b| b == b'\n') {
        let end = start + length + 1;
        out.extend(each(&pending[start..end]));
        start = end;
    }
    pending.drain(..start);
    if pending.len() > MAX_PENDING_LINE {
        out.extend(each(&std::mem::take(pending)));
    }
    out
}

impl Filter for LineRewriter {
    fn client_sent(&mut self, bytes: &[u8]) -> Pass {
        if self.raw || (self.client_pending.is_empty() && starts_tls_handshake(bytes)) {
            self.raw = true;
            return Pass::Forward(bytes.to_vec());
        }
        let mut pending = std::mem::take(&mut self.client_pending);
        pending.extend_from_slice(bytes);
        let out = take_lines(&mut pending, |line| self.client_line(line));
        self.client_pending = pending;
        match self.release_after.take() {
            Some(after) => Pass::After(after, out),
            None => Pass::Forward(out),
        }
    }

    fn server_sent(&mut self, bytes: &[u8]) -> Vec<u8> {
        if self.raw {
            return bytes.to_vec();
        }
        let mut pending = std::mem::take(&mut self.server_pending);
        pending.extend_from_slice(bytes);
        let out = take_lines(&mut pending, |line| self.server_line(line));
        self.server_pending = pending;
        out
    }
}

enum RelayEnd {
    Done,
    HungUp,
    ClosedOnTls,
    Intercept {
        hello: Vec<u8>,
        client: NetStream,
        upstream: NetStream,
    },
}

async fn relay(
    mut client: NetStream,
    mut upstream: NetStream,
    filter: &mut dyn Filter,
) -> RelayEnd {
    let mut from_client = vec![0u8; 16 * 1024];
    let mut from_server = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            biased;
            read = client.read(&mut from_client) => {
                let n = match read {
                    Ok(0) | Err(_) => return RelayEnd::Done,
                    Ok(n) => n,
                };
                match filter.client_sent(&from_client[..n]) {
                    Pass::Forward(bytes) => {
                        if upstream.write_all(&bytes).await.is_err() {
                            return RelayEnd::Done;
                        }
                    }
                    Pass::After(delay, bytes) => {
                        tokio::time::sleep(delay).await;
                        if upstream.write_all(&bytes).await.is_err() {
                            return RelayEnd::Done;
                        }
                    }
                    Pass::Close => return RelayEnd::ClosedOnTls,
                    Pass::InterceptTls => {
                        return RelayEnd::Intercept { hello: from_client[..n].to_vec(), client, upstream }
                    }
                }
            }
            read = upstream.read(&mut from_server) => {
                let n = match read {
                    Ok(0) | Err(_) => {
                        let _ = client.shutdown().await;
                        return RelayEnd::Done;
                    }
                    Ok(n) => n,
                };
                let bytes = filter.server_sent(&from_server[..n]);
                if client.write_all(&bytes).await.is_err() {
                    return RelayEnd::Done;
                }
                if filter.hangs_up() {
                    let _ = client.shutdown().await;
                    return RelayEnd::HungUp;
                }
            }
        }
    }
}

/// Accepts a client connection for `host:port` and serves it from a task.
pub(super) fn spawn(
    network: SimNetwork,
    next_layer: usize,
    host: usize,
    port: u16,
    family: Family,
    middlebox: Middlebox,
) -> NetStream {
    let (client, local) = tokio::io::duplex(PIPE_CAPACITY);
    if let Middlebox::AnsweringScanner { product } = &middlebox {
        network.record(format_args!(
            "{}: answers {}:{port} itself",
            middlebox.name(),
            network.host_name(host)
        ));
        tokio::spawn(answer_for_the_server(product.clone(), local));
        return Box::new(client);
    }
    if let Middlebox::HoldingScanner { product, scan_rate } = &middlebox {
        network.record(format_args!(
            "{} ({product}): relays {}:{port}, holding each message to scan it at {scan_rate} bytes/s",
            middlebox.name(),
            network.host_name(host)
        ));
    }
    tokio::spawn(async move {
        let box_name = middlebox.name();
        let name = network.host_name(host).to_string();
        let upstream_timeout = match &middlebox {
            Middlebox::MailScanner { upstream_timeout }
            | Middlebox::ResigningScanner {
                upstream_timeout, ..
            } => *upstream_timeout,
            _ => DEFAULT_UPSTREAM_TIMEOUT,
        };
        let connect = network.connect_from(next_layer, host, port, family);
        let upstream = match tokio::time::timeout(upstream_timeout, connect).await {
            Ok(Ok(upstream)) => upstream,
            Ok(Err(error)) => {
                network.record(format_args!(
                    "{box_name}: upstream {name}:{port} failed ({error}); closing client"
                ));
                return;
            }
            Err(_) => {
                network.record(format_args!(
                    "{box_name}: upstream {name}:{port} not answered in {}s; closing client",
                    upstream_timeout.as_secs()
                ));
                return;
            }
        };
        let mut filter: Box<dyn Filter> = match &middlebox {
            Middlebox::MailScanner { .. } => Box::new(CloseOnTls),
            Middlebox::ResigningScanner { .. } => Box::new(InterceptTls),
            Middlebox::EsmtpInspection => Box::new(LineRewriter::new(Rewrite::EsmtpInspection)),
            Middlebox::StartTlsStripper => Box::new(LineRewriter::new(Rewrite::StartTlsStripper)),
            Middlebox::CloseAfterGreeting => Box::<CloseAfterGreeting>::default(),
            Middlebox::HoldingScanner { scan_rate, .. } => {
                Box::new(LineRewriter::new(Rewrite::HoldingScanner {
                    scan_rate: *scan_rate,
                }))
            }
            // Answers without an upstream (above).
            Middlebox::AnsweringScanner { .. } => return,
        };
        match relay(Box::new(local), upstream, filter.as_mut()).await {
            RelayEnd::Done => {}
            RelayEnd::HungUp => {
                network.record(format_args!(
                    "{box_name}: passed {name}:{port}'s greeting, then closed the connection"
                ));
            }
            RelayEnd::ClosedOnTls => {
                network.record(format_args!(
                    "{box_name}: client started TLS to {name}:{port}; closing"
                ));
            }
            RelayEnd::Intercept {
                hello,
                client,
                upstream,
            } => {
                let Middlebox::ResigningScanner { issuer, .. } = &middlebox else {
                    return;
                };
                network.record(format_args!(
                    "{box_name}: intercepting TLS to {name}:{port} as \"{issuer}\""
                ));
                intercept_tls(&network, issuer, &name, hello, client, upstream).await;
            }
        }
    });
    Box::new(client)
}

/// An antivirus SMTP proxy's own session: it greets as `localhost`, takes
/// every login and every recipient, and keeps what it is sent in a queue of
/// its own; the real server sees none of it while the client is connected.
async fn answer_for_the_server(product: String, client: tokio::io::DuplexStream) {
    use mock_mail_servers::smtp::{Reply, SmtpConfig, SmtpServer};
    let mut config = SmtpConfig::new("localhost");
    config.greeting = Some(Reply::new(
        220,
        format!("localhost {product} SMTP proxy ready"),
    ));
    config.catch_all = true;
    config.any_login = true;
    config.domains = Vec::new();
    let server = SmtpServer::new(config, Default::default(), Default::default());
    let _ = server
        .serve(client, mock_mail_servers::TlsMode::Plain)
        .await;
}

/// Completes the client's handshake with a certificate for `host` signed by
/// the scanner's own root, opens TLS upstream, and relays between the two.
async fn intercept_tls(
    network: &SimNetwork,
    issuer: &str,
    host: &str,
    hello: Vec<u8>,
    client: NetStream,
    upstream: NetStream,
) {
    let Some(forged) = network.forge_certificate(issuer, host) else {
        return;
    };
    let Ok(client) = TlsAcceptor::from(forged)
        .accept(Prefixed::new(hello, client))
        .await
    else {
        network.record(format_args!(
            "resigning-scanner: client refused the certificate for {host}"
        ));
        return;
    };
    let Ok(name) = ServerName::try_from(host.to_string()) else {
        return;
    };
    let connector = TlsConnector::from(accept_any_server_config(network.key_exchange()));
    let Ok(upstream) = connector.connect(name, upstream).await else {
        network.record(format_args!("resigning-scanner: TLS to {host} failed"));
        return;
    };
    relay(Box::new(client), Box::new(upstream), &mut PassThrough).await;
}

/// The scanner's own client side trusts any server, as such products did.
fn accept_any_server_config(key_exchange: KeyExchange) -> Arc<rustls::ClientConfig> {
    let provider = key_exchange.provider();
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(mock_mail_servers::tls::AcceptAnyCertificate(
            provider,
        )))
        .with_no_client_auth();
    Arc::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_a_client_hello_but_not_a_command() {
        assert!(starts_tls_handshake(&[0x16, 0x03, 0x01, 0x02, 0x00]));
        assert!(!starts_tls_handshake(b"EHLO client\r\n"));
        assert!(!starts_tls_handshake(&[0x16]));
    }

    #[test]
    fn pix_masks_the_greeting_and_blocks_esmtp_verbs() {
        let mut pix = LineRewriter::new(Rewrite::EsmtpInspection);
        let greeting = pix.server_sent(b"220 mx.example ESMTP 2007\r\n");
        assert_eq!(greeting, b"220 *****************200*\r\n");
        let ehlo = forwarded(pix.client_sent(b"EHLO c\r\nHELO c\r\n"));
        assert_eq!(ehlo, b"XXXXXX\r\nHELO c\r\n");
        assert_eq!(pix.server_sent(b"250 mx Hello\r\n"), b"250 mx Hello\r\n");
        assert_eq!(forwarded(pix.client_sent(b"DATA\r\n")), b"DATA\r\n");
        pix.server_sent(b"354 go\r\n");
        let text = forwarded(pix.client_sent(b"EHLO is just text here\r\n.\r\nEHLO x\r\n"));
        assert_eq!(text, b"EHLO is just text here\r\n.\r\nXXXXXX\r\n");
    }

    #[test]
    fn stripper_hides_and_blocks_imap_starttls() {
        let mut stripper = LineRewriter::new(Rewrite::StartTlsStripper);
        assert_eq!(
            stripper.server_sent(b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n"),
            b"* CAPABILITY IMAP4rev1 XXXXXXXX LOGINDISABLED\r\n"
        );
        assert_eq!(stripper.client_line(b"a2 STARTTLS\r\n"), b"XXXXXXXXXXX\r\n");
        assert_eq!(
            stripper.client_line(b"a3 LOGIN a b\r\n"),
            b"a3 LOGIN a b\r\n"
        );
    }

    #[test]
    fn stripper_hides_and_blocks_starttls() {
        let mut stripper = LineRewriter::new(Rewrite::StartTlsStripper);
        let reply = stripper.server_sent(b"250-mx\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n");
        assert_eq!(reply, b"250-mx\r\n250-XXXXXXXA\r\n250 AUTH PLAIN\r\n");
        assert_eq!(stripper.server_sent(b"STLS\r\n"), b"XXXX\r\n");
        let command = forwarded(stripper.client_sent(b"STARTTLS\r\n"));
        assert_eq!(command, b"XXXXXXXX\r\n");
    }

    #[test]
    fn a_throttle_passes_the_greeting_and_hangs_up() {
        let mut throttle = CloseAfterGreeting::default();
        assert_eq!(throttle.server_sent(b"220 mx.exa"), b"");
        assert!(!throttle.hangs_up());
        assert_eq!(
            throttle.server_sent(b"mple ESMTP\r\n250 more"),
            b"220 mx.example ESMTP\r\n"
        );
        assert!(throttle.hangs_up());
        assert_eq!(throttle.server_sent(b"250 ok\r\n"), b"");
        let mut throttle = CloseAfterGreeting::default();
        assert_eq!(throttle.server_sent(&[0x16, 0x03, 0x03, 0x0a, 0x00]), b"");
        assert!(throttle.hangs_up());
    }

    /// The bytes a filter forwards at once.
    fn forwarded(pass: Pass) -> Vec<u8> {
        match pass {
            Pass::Forward(bytes) => bytes,
            _ => panic!("not forwarded at once"),
        }
    }

    #[test]
    fn a_holding_scanner_hides_streaming_and_holds_the_message() {
        let mut scanner = LineRewriter::new(Rewrite::HoldingScanner { scan_rate: 10 });
        assert_eq!(
            scanner.server_sent(b"220 mx ESMTP\r\n"),
            b"220 mx ESMTP\r\n"
        );
        assert_eq!(
            scanner.server_sent(b"250-mx Hello\r\n250-PIPELINING\r\n"),
            b""
        );
        assert_eq!(
            scanner.server_sent(b"250-SIZE 10\r\n250 CHUNKING\r\n"),
            b"250-mx Hello\r\n250 SIZE 10\r\n"
        );
        assert_eq!(
            scanner.server_sent(b"250 2.1.0 Ok\r\n"),
            b"250 2.1.0 Ok\r\n"
        );
        assert_eq!(forwarded(scanner.client_sent(b"DATA\r\n")), b"DATA\r\n");
        scanner.server_sent(b"354 go\r\n");
        assert!(forwarded(scanner.client_sent(b"Subject: x\r\n\r\n")).is_empty());
        let Pass::After(delay, message) = scanner.client_sent(b"body\r\n.\r\nQUIT\r\n") else {
            panic!()
        };
        assert_eq!(message, b"Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n");
        assert_eq!(
            delay,
            Duration::from_secs_f64(2.3),
            "23 bytes at 10 a second"
        );
    }

    #[test]
    fn a_message_too_large_to_hold_passes_unscanned() {
        let mut scanner = LineRewriter::new(Rewrite::HoldingScanner { scan_rate: 10 });
        assert_eq!(forwarded(scanner.client_sent(b"DATA\r\n")), b"DATA\r\n");
        scanner.server_sent(b"354 go\r\n");
        let line = vec![b'x'; 1024 * 1024 - 2]
            .into_iter()
            .chain(*b"\r\n")
            .collect::<Vec<u8>>();
        for _ in 0..16 {
            assert!(forwarded(scanner.client_sent(&line)).is_empty());
        }
        assert_eq!(
            forwarded(scanner.client_sent(&line)).len(),
            MAX_HELD + line.len(),
            "what was held goes on with the line past the limit"
        );
        assert_eq!(forwarded(scanner.client_sent(b"more\r\n")), b"more\r\n");
        assert_eq!(forwarded(scanner.client_sent(b".\r\n")), b".\r\n");
        // The next message is held again.
        assert_eq!(forwarded(scanner.client_sent(b"DATA\r\n")), b"DATA\r\n");
        scanner.server_sent(b"354 go\r\n");
        assert!(forwarded(scanner.client_sent(b"small\r\n")).is_empty());
        assert!(matches!(
            scanner.client_sent(b".\r\n"),
            Pass::After(_, held) if held == b"small\r\n.\r\n"
        ));
    }

    #[test]
    fn a_line_without_end_is_not_kept_for_ever() {
        let mut stripper = LineRewriter::new(Rewrite::StartTlsStripper);
        let endless = vec![b'a'; MAX_PENDING_LINE];
        assert!(forwarded(stripper.client_sent(&endless)).is_empty());
        let passed = forwarded(stripper.client_sent(b"aa"));
        assert_eq!(passed.len(), MAX_PENDING_LINE + 2);
        assert!(stripper.client_pending.is_empty());
        assert_eq!(stripper.server_sent(&endless), b"");
        assert_eq!(stripper.server_sent(b"a").len(), MAX_PENDING_LINE + 1);
    }

    #[test]
    fn a_reply_without_end_is_not_kept_for_ever() {
        let mut scanner = LineRewriter::new(Rewrite::HoldingScanner { scan_rate: 10 });
        let line = format!("250-{}\r\n", "x".repeat(996));
        let mut passed = Vec::new();
        for _ in 0..200 {
            passed.extend(scanner.server_sent(line.as_bytes()));
            assert!(scanner.reply_bytes <= MAX_PENDING_LINE + 1000);
        }
        assert!(
            passed.len() > 100 * line.len(),
            "the lines past the limit go on"
        );
        assert!(passed.ends_with(line.as_bytes()), "as continued lines");
        // The reply still ends on its last line, without the streaming one.
        let end = scanner.server_sent(b"250-SIZE 10\r\n250 CHUNKING\r\n");
        assert!(end.ends_with(b"\r\n250 SIZE 10\r\n"), "{end:?}");
        assert_eq!(scanner.reply_bytes, 0);
    }

    #[test]
    fn many_lines_in_one_chunk_each_pass() {
        let mut stripper = LineRewriter::new(Rewrite::StartTlsStripper);
        let chunk = "250-SIZE 10\r\n".repeat(10_000) + "250-STARTTLS\r\n250 X";
        let out = stripper.server_sent(chunk.as_bytes());
        assert_eq!(out.len(), chunk.len() - 5);
        assert!(out.ends_with(b"250-SIZE 10\r\n250-XXXXXXXA\r\n"));
        assert_eq!(stripper.server_pending, b"250 X");
    }

    #[test]
    fn partial_lines_wait_for_their_end() {
        let mut stripper = LineRewriter::new(Rewrite::StartTlsStripper);
        assert_eq!(stripper.server_sent(b"250-START"), b"");
        assert_eq!(stripper.server_sent(b"TLS\r\n"), b"250-XXXXXXXA\r\n");
    }
}
