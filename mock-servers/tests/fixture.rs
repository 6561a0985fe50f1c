//! The fixture as a consumer uses it: `lettre` sends over loopback, the
//! test reads back through the handle and over POP3.

use std::sync::Arc;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mock_mail_servers::{MockMail, Protocol, TlsMode};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_rustls::rustls::pki_types::ServerName;

type Error = Box<dyn std::error::Error>;

fn message(to: &str, subject: &str) -> Result<Message, Error> {
    Ok(Message::builder()
        .from("taro@example.test".parse()?)
        .to(to.parse()?)
        .subject(subject)
        .body(String::from(
            "Hello.\r\n.A line that starts with a dot.\r\n",
        ))?)
}

fn tls(mail: &MockMail) -> Result<TlsParameters, Error> {
    Ok(TlsParameters::builder("localhost".into())
        .certificate_store(CertificateStore::None)
        .add_root_certificate(Certificate::from_der(mail.ca_der().to_vec())?)
        .build()?)
}

fn mailer(port: u16, tls: Tls, login: Option<(&str, &str)>) -> AsyncSmtpTransport<Tokio1Executor> {
    let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .tls(tls);
    match login {
        Some((user, password)) => {
            builder.credentials(Credentials::new(user.into(), password.into()))
        }
        None => builder,
    }
    .build()
}

/// Logs in over POP3 on implicit TLS and returns message 1 as text.
async fn pop3_retrieve(mail: &MockMail, user: &str, password: &str) -> Result<String, Error> {
    let addr = mail
        .addr(Protocol::Pop3, TlsMode::Implicit)
        .ok_or("no POP3 port")?;
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(mail.root_store())
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?;
    let mut stream = BufReader::new(stream);
    let mut line = String::new();
    let mut transcript = String::new();
    for command in [
        "",
        &format!("USER {user}"),
        &format!("PASS {password}"),
        "RETR 1",
    ] {
        if !command.is_empty() {
            stream
                .write_all(format!("{command}\r\n").as_bytes())
                .await?;
        }
        line.clear();
        stream.read_line(&mut line).await?;
        if !line.starts_with("+OK") {
            return Err(format!("{command}: {line}").into());
        }
    }
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 || line == ".\r\n" {
            break;
        }
        transcript.push_str(&line);
    }
    stream.write_all(b"QUIT\r\n").await?;
    Ok(transcript)
}

#[tokio::test]
async fn starttls_auth_send_is_kept_with_its_envelope_and_read_back_over_pop3() -> Result<(), Error>
{
    let mail = MockMail::builder()
        .smtp(TlsMode::StartTls)
        .pop3(TlsMode::Implicit)
        .user("taro", "pw", "taro@example.test")
        .auth_after_tls_only()
        .start()
        .await?;
    let port = mail.smtp_addr().ok_or("no SMTP port")?.port();
    let mailer = mailer(port, Tls::Required(tls(&mail)?), Some(("taro", "pw")));
    mailer
        .send(message("taro@example.test", "To myself")?)
        .await?;

    let received = mail.wait_for_messages(1, Duration::from_secs(10)).await?;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].from, "taro@example.test");
    assert_eq!(received[0].to, ["taro@example.test"]);
    assert_eq!(received[0].login.as_deref(), Some("taro"));
    assert_eq!(received[0].header("subject").as_deref(), Some("To myself"));
    assert!(received[0]
        .text()
        .contains("\r\n.A line that starts with a dot."));
    assert_eq!(mail.mailbox("taro").len(), 1);

    let retrieved = pop3_retrieve(&mail, "taro", "pw").await?;
    assert!(retrieved.contains("Subject: To myself\r\n"), "{retrieved}");
    // Dot-stuffed on the wire, as RFC 1939 says.
    assert!(
        retrieved.contains("\r\n..A line that starts with a dot."),
        "{retrieved}"
    );
    Ok(())
}

#[tokio::test]
async fn implicit_tls_submission_works_and_a_wrong_password_is_refused() -> Result<(), Error> {
    let mail = MockMail::builder()
        .smtp(TlsMode::Implicit)
        .user("taro", "pw", "taro@example.test")
        .start()
        .await?;
    let port = mail
        .addr(Protocol::Smtp, TlsMode::Implicit)
        .ok_or("no port")?
        .port();
    let wrong = mailer(port, Tls::Wrapper(tls(&mail)?), Some(("taro", "nope")));
    let refused = wrong.send(message("jiro@elsewhere.test", "x")?).await;
    assert!(refused.is_err_and(|e| e.to_string().contains("authentication failed")));
    assert!(mail.messages().is_empty());

    let right = mailer(port, Tls::Wrapper(tls(&mail)?), Some(("taro", "pw")));
    right
        .send(message("jiro@elsewhere.test", "Outside")?)
        .await?;
    let received = mail.wait_for_messages(1, Duration::from_secs(10)).await?;
    assert_eq!(received[0].to, ["jiro@elsewhere.test"]);
    // An outside recipient has no mailbox here: only the journal keeps it.
    assert!(mail.mailbox("taro").is_empty());
    Ok(())
}

#[tokio::test]
async fn without_catch_all_outside_mail_needs_auth_and_with_it_anything_is_kept(
) -> Result<(), Error> {
    let strict = MockMail::builder().smtp(TlsMode::Plain).start().await?;
    let port = strict.smtp_addr().ok_or("no port")?.port();
    let refused = mailer(port, Tls::None, None)
        .send(message("jiro@elsewhere.test", "x")?)
        .await;
    assert!(refused.is_err_and(|e| e.to_string().contains("Relay access denied")));

    let open = MockMail::builder()
        .smtp(TlsMode::Plain)
        .catch_all()
        .start()
        .await?;
    let port = open.smtp_addr().ok_or("no port")?.port();
    let mailer = mailer(port, Tls::None, None);
    mailer.send(message("jiro@elsewhere.test", "one")?).await?;
    mailer.send(message("nobody@example.test", "two")?).await?;
    let received = open.wait_for_messages(2, Duration::from_secs(10)).await?;
    let subjects: Vec<_> = received
        .iter()
        .filter_map(|m| m.header("Subject"))
        .collect();
    assert_eq!(subjects, ["one", "two"]);
    assert_eq!(received[1].login, None);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn waiting_for_mail_that_never_comes_ends_with_what_arrived() -> Result<(), Error> {
    let mail = MockMail::builder().start().await?;
    let waited = mail.wait_for_messages(1, Duration::from_secs(30)).await;
    let error = waited
        .err()
        .ok_or("no message was sent, yet the wait succeeded")?;
    assert!(error.arrived.is_empty());
    assert_eq!(error.to_string(), "waited 30s for 1 message(s); 0 arrived");
    Ok(())
}

#[tokio::test]
async fn a_stopped_fixture_refuses_connections() -> Result<(), Error> {
    let mail = MockMail::builder()
        .smtp(TlsMode::Plain)
        .pop3(TlsMode::Plain)
        .start()
        .await?;
    let addrs: Vec<_> = mail.ports().iter().map(|(_, addr)| *addr).collect();
    assert_eq!(addrs.len(), 2);
    assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    tokio::net::TcpStream::connect(addrs[0]).await?;
    mail.stop().await;
    for addr in addrs {
        let refused = tokio::net::TcpStream::connect(addr).await;
        assert!(refused.is_err(), "{addr} still accepts");
    }
    Ok(())
}

#[tokio::test]
async fn mail_sent_over_smtp_is_fetched_over_imap() -> Result<(), Error> {
    let mail = MockMail::builder()
        .smtp(TlsMode::Plain)
        .imap(TlsMode::Plain)
        .user("taro", "pw", "taro@example.test")
        .start()
        .await?;
    let port = mail.smtp_addr().ok_or("no SMTP port")?.port();
    mailer(port, Tls::None, None)
        .send(message("taro@example.test", "Over IMAP")?)
        .await?;
    mail.wait_for_messages(1, Duration::from_secs(10)).await?;

    let tcp = tokio::net::TcpStream::connect(mail.imap_addr().ok_or("no IMAP port")?).await?;
    let mut imap = BufReader::new(tcp);
    let mut seen = String::new();
    let mut line = String::new();
    imap.read_line(&mut line).await?;
    assert!(line.starts_with("* OK [CAPABILITY IMAP4rev1"), "{line}");
    for command in [
        "a1 LOGIN taro pw",
        "a2 EXAMINE INBOX",
        "a3 FETCH 1 BODY[]",
        "a4 LOGOUT",
    ] {
        imap.write_all(format!("{command}\r\n").as_bytes()).await?;
        let tag = &command[..2];
        loop {
            line.clear();
            if imap.read_line(&mut line).await? == 0 {
                return Err(format!("closed during {command}: {seen}").into());
            }
            seen.push_str(&line);
            if line.starts_with(tag) {
                assert!(line.starts_with(&format!("{tag} OK")), "{seen}");
                break;
            }
        }
    }
    assert!(seen.contains("Subject: Over IMAP\r\n"), "{seen}");
    Ok(())
}
