//! The servers' I/O loops over in-memory streams: greeting, TLS upgrades,
//! idle timeout. Paused time, so timeouts cost nothing.

use std::sync::Arc;
use std::time::Duration;

use mock_mail_servers::mailstore::{Account, MailStore, SharedStore};
use mock_mail_servers::pop3::{Pop3Config, Pop3Server};
use mock_mail_servers::serve::ServerTls;
use mock_mail_servers::smtp::{SmtpConfig, SmtpServer};
use mock_mail_servers::tls::{crypto_provider, CertificateAuthority, Validity};
use mock_mail_servers::TlsMode;
use rustls::pki_types::ServerName;
use rustls::RootCertStore;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_rustls::TlsConnector;

struct Fixture {
    store: SharedStore,
    tls: Arc<rustls::ServerConfig>,
    connector: TlsConnector,
}

fn fixture() -> Fixture {
    let validity = Validity::around(time::OffsetDateTime::now_utc());
    let ca = CertificateAuthority::new("Test CA", validity).unwrap();
    let tls = ca
        .issue(&["mx.example".to_string()], validity)
        .unwrap()
        .server_config()
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(ca.certificate().clone()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut store = MailStore::new();
    store.add_account(Account {
        user: "taro".into(),
        password: "hunter2".into(),
        address: "taro@example".into(),
    });
    store
        .deliver("taro", b"Subject: hi\r\n\r\nhello\r\n".to_vec())
        .unwrap();
    Fixture {
        store: SharedStore::new(store),
        tls,
        connector: TlsConnector::from(Arc::new(client)),
    }
}

/// Sends `line` (if any) and returns the reply lines up to the final one.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    line: &str,
    multiline_pop: bool,
) -> Vec<String> {
    if !line.is_empty() {
        stream
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
    }
    let mut lines = Vec::new();
    loop {
        let mut text = String::new();
        if stream.read_line(&mut text).await.unwrap() == 0 {
            return lines;
        }
        let text = text.trim_end().to_string();
        let done = if multiline_pop {
            text == "." || text.starts_with("-ERR")
        } else {
            text.len() < 4 || text.as_bytes()[3] == b' '
        };
        lines.push(text);
        if done {
            return lines;
        }
    }
}

fn domains() -> Vec<String> {
    vec!["example".into()]
}

#[tokio::test(start_paused = true)]
async fn smtp_starttls_upgrade_and_auth_inside_tls() {
    let f = fixture();
    let mut config = SmtpConfig::new("mx.example");
    config.domains = domains();
    let server = SmtpServer::new(config, f.store.clone(), ServerTls::Modern(f.tls.clone()));
    let (client, served) = tokio::io::duplex(16 * 1024);
    tokio::spawn(async move { server.serve(served, TlsMode::StartTls).await });

    let mut plain = BufReader::new(client);
    assert!(exchange(&mut plain, "", false).await[0].starts_with("220 mx.example"));
    assert!(exchange(&mut plain, "EHLO c", false)
        .await
        .contains(&"250-STARTTLS".to_string()));
    // A command pipelined behind STARTTLS must be discarded (RFC 3207 4.2).
    plain
        .get_mut()
        .write_all(b"STARTTLS\r\nNOOP\r\n")
        .await
        .unwrap();
    assert_eq!(
        exchange(&mut plain, "", false).await,
        vec!["220 2.0.0 Ready to start TLS"]
    );
    let name = ServerName::try_from("mx.example").unwrap();
    let tls = f.connector.connect(name, plain.into_inner()).await.unwrap();
    let mut tls = BufReader::new(tls);
    let ehlo = exchange(&mut tls, "EHLO c", false).await;
    assert!(!ehlo.iter().any(|l| l.ends_with("STARTTLS")), "{ehlo:?}");
    let plain_auth = format!(
        "AUTH PLAIN {}",
        mock_mail_servers::sasl::encode_plain("taro", "hunter2")
    );
    assert!(exchange(&mut tls, &plain_auth, false).await[0].starts_with("235"));
    assert!(exchange(&mut tls, "QUIT", false).await[0].starts_with("221"));
}

#[tokio::test(start_paused = true)]
async fn smtp_idle_client_gets_421_after_the_timeout() {
    let f = fixture();
    let mut config = SmtpConfig::new("mx.example");
    config.idle_timeout = Duration::from_secs(300);
    let server = SmtpServer::new(config, f.store.clone(), ServerTls::None);
    let (client, served) = tokio::io::duplex(4096);
    tokio::spawn(async move { server.serve(served, TlsMode::Plain).await });
    let mut client = BufReader::new(client);
    exchange(&mut client, "", false).await;
    let start = tokio::time::Instant::now();
    let goodbye = exchange(&mut client, "", false).await;
    assert!(goodbye[0].starts_with("421 4.4.2"), "{goodbye:?}");
    assert_eq!(start.elapsed(), Duration::from_secs(300));
}

#[tokio::test(start_paused = true)]
async fn pop3_over_implicit_tls_lists_and_retrieves() {
    let f = fixture();
    let mut config = Pop3Config::new("mx.example");
    config.domains = domains();
    let server = Pop3Server::new(config, f.store.clone(), ServerTls::Modern(f.tls.clone()));
    let (client, served) = tokio::io::duplex(16 * 1024);
    tokio::spawn(async move { server.serve(served, TlsMode::Implicit).await });
    let name = ServerName::try_from("mx.example").unwrap();
    let mut tls = BufReader::new(f.connector.connect(name, client).await.unwrap());
    assert!(exchange(&mut tls, "", false).await[0].starts_with("+OK"));
    exchange(&mut tls, "USER taro", false).await;
    assert!(exchange(&mut tls, "PASS hunter2", false).await[0].starts_with("+OK"));
    assert_eq!(exchange(&mut tls, "STAT", false).await, vec!["+OK 1 22"]);
    let message = exchange(&mut tls, "RETR 1", true).await;
    assert_eq!(
        message,
        vec!["+OK 22 octets", "Subject: hi", "", "hello", "."]
    );
    assert_eq!(exchange(&mut tls, "QUIT", false).await, vec!["+OK bye"]);
}

#[tokio::test(start_paused = true)]
async fn a_slow_loris_client_is_cut_at_the_idle_timeout() {
    let f = fixture();
    let mut config = SmtpConfig::new("mx.example");
    config.idle_timeout = Duration::from_secs(60);
    let server = SmtpServer::new(config, f.store.clone(), ServerTls::None);
    let (client, served) = tokio::io::duplex(4096);
    tokio::spawn(async move { server.serve(served, TlsMode::Plain).await });
    let mut client = BufReader::new(client);
    exchange(&mut client, "", false).await;
    let start = tokio::time::Instant::now();
    // One byte every 50 s: each inside the idle timeout, the line never whole.
    for byte in b"EHLO slowly" {
        if client.get_mut().write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(50)).await;
    }
    let goodbye = exchange(&mut client, "", false).await;
    assert!(goodbye[0].starts_with("421 4.4.2"), "{goodbye:?}");
    assert!(start.elapsed() <= Duration::from_secs(100));
}

#[tokio::test(start_paused = true)]
async fn connections_past_the_limit_are_told_to_come_back() {
    let f = fixture();
    let mut smtp = SmtpConfig::new("mx.example");
    smtp.max_connections = 2;
    let mut pop3 = Pop3Config::new("mx.example");
    pop3.max_connections = 1;
    let smtp = SmtpServer::new(smtp, f.store.clone(), ServerTls::None);
    let pop3 = Pop3Server::new(pop3, f.store.clone(), ServerTls::None);
    let mut held = Vec::new();
    for _ in 0..2 {
        let (client, served) = tokio::io::duplex(4096);
        let server = smtp.clone();
        tokio::spawn(async move { server.serve(served, TlsMode::Plain).await });
        let mut client = BufReader::new(client);
        assert!(exchange(&mut client, "", false).await[0].starts_with("220"));
        held.push(client);
    }
    let (client, served) = tokio::io::duplex(4096);
    let server = smtp.clone();
    tokio::spawn(async move { server.serve(served, TlsMode::Plain).await });
    let mut refused = BufReader::new(client);
    let busy = exchange(&mut refused, "", false).await;
    assert!(busy[0].starts_with("421 4.3.2"), "{busy:?}");
    // A slot frees when a client leaves.
    let mut first = held.remove(0);
    exchange(&mut first, "QUIT", false).await;
    drop(first);
    tokio::task::yield_now().await;
    let (client, served) = tokio::io::duplex(4096);
    tokio::spawn(async move { smtp.serve(served, TlsMode::Plain).await });
    let mut again = BufReader::new(client);
    assert!(exchange(&mut again, "", false).await[0].starts_with("220"));

    let (first, served) = tokio::io::duplex(4096);
    let server = pop3.clone();
    tokio::spawn(async move { server.serve(served, TlsMode::Plain).await });
    let mut first = BufReader::new(first);
    assert!(exchange(&mut first, "", false).await[0].starts_with("+OK"));
    let (second, served) = tokio::io::duplex(4096);
    tokio::spawn(async move { pop3.serve(served, TlsMode::Plain).await });
    let busy = exchange(&mut BufReader::new(second), "", false).await;
    assert!(busy[0].starts_with("-ERR [SYS/TEMP]"), "{busy:?}");
}

#[tokio::test(start_paused = true)]
async fn a_client_that_floods_and_never_reads_is_dropped() {
    let f = fixture();
    let mut config = SmtpConfig::new("mx.example");
    config.idle_timeout = Duration::from_secs(60);
    config.max_connections = 1;
    let server = SmtpServer::new(config, f.store.clone(), ServerTls::None);
    let (mut flooder, served) = tokio::io::duplex(1024);
    let flooding = server.clone();
    let session = tokio::spawn(async move { flooding.serve(served, TlsMode::Plain).await });
    // Commands without end; the replies are never read and fill the pipe.
    let flood = async { while flooder.write_all(b"NOOP\r\n").await.is_ok() {} };
    tokio::select! {
        biased;
        outcome = session => {
            let error = outcome.unwrap().unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        }
        () = flood => panic!("the server never stopped"),
    }
    // The slot is free again.
    let (client, served) = tokio::io::duplex(4096);
    tokio::spawn(async move { server.serve(served, TlsMode::Plain).await });
    let mut client = BufReader::new(client);
    assert!(exchange(&mut client, "", false).await[0].starts_with("220"));
}

/// A stream that counts the writes made to it.
struct CountingWrites<S> {
    inner: S,
    writes: Arc<std::sync::atomic::AtomicUsize>,
}

impl<S: AsyncRead + Unpin> AsyncRead for CountingWrites<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CountingWrites<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Replies to a pipelined batch (RFC 2920) go out in one write, in order.
#[tokio::test(start_paused = true)]
async fn a_pipelined_batch_is_answered_in_one_write() {
    let f = fixture();
    let mut config = SmtpConfig::new("mx.example");
    config.relay = mock_mail_servers::smtp::RelayPolicy::Open;
    let server = SmtpServer::new(config, f.store.clone(), ServerTls::None);
    let (client, served) = tokio::io::duplex(64 * 1024);
    let writes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let served = CountingWrites {
        inner: served,
        writes: writes.clone(),
    };
    tokio::spawn(async move { server.serve(served, TlsMode::Plain).await });
    let mut client = BufReader::new(client);
    exchange(&mut client, "", false).await;
    let greeting_writes = writes.load(std::sync::atomic::Ordering::Relaxed);
    client
        .get_mut()
        .write_all(b"EHLO c\r\nMAIL FROM:<a@example>\r\nRCPT TO:<b@example>\r\nNOOP\r\n")
        .await
        .unwrap();
    let mut finals = Vec::new();
    while finals.len() < 4 {
        let mut line = String::new();
        client.read_line(&mut line).await.unwrap();
        if line.get(3..4) == Some(" ") {
            finals.push(line.get(..3).unwrap_or_default().to_string());
        }
    }
    assert_eq!(finals, ["250", "250", "250", "250"]);
    assert_eq!(
        writes.load(std::sync::atomic::Ordering::Relaxed) - greeting_writes,
        1
    );
}
