//! The fixture on the simulated network, as a consumer uses it: `lettre`
//! over a `SimStream`, behind a firewall and middleboxes, in virtual time.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, Certificate, CertificateStore, TlsParameters,
};
use lettre::transport::smtp::extension::ClientId;
use lettre::Message;
use mailprobe::fixture::{SimMail, Simulate};
use mailprobe::net::sim::firewall::{Action, Middlebox};
use mock_mail_servers::{MockMail, TlsMode};

type Error = Box<dyn std::error::Error>;

fn client_id() -> ClientId {
    ClientId::Domain("client.example.test".into())
}

fn tls(mail: &SimMail) -> Result<TlsParameters, Error> {
    Ok(TlsParameters::builder(mail.hostname.clone())
        .certificate_store(CertificateStore::None)
        .add_root_certificate(Certificate::from_der(mail.ca_der().to_vec())?)
        .build()?)
}

fn message() -> Result<Message, Error> {
    Ok(Message::builder()
        .from("taro@example.test".parse()?)
        .to("hanako@example.test".parse()?)
        .subject("Through the simulated network")
        .body(String::from("Hello."))?)
}

/// Connects to `port` with lettre, STARTTLS, AUTH and sends one message.
async fn send_over(mail: &SimMail, port: u16) -> Result<(), Error> {
    let stream = mail.connect(port).await?;
    let mut smtp =
        AsyncSmtpConnection::connect_with_transport(Box::new(stream), &client_id()).await?;
    smtp.starttls(tls(mail)?, &client_id()).await?;
    smtp.auth(
        &[Mechanism::Plain],
        &Credentials::new("taro".into(), "pw".into()),
    )
    .await?;
    let message = message()?;
    let envelope: &Envelope = message.envelope();
    smtp.send(envelope, &message.formatted()).await?;
    smtp.quit().await?;
    Ok(())
}

fn builder() -> mock_mail_servers::MockMailBuilder {
    MockMail::builder()
        .smtp(TlsMode::Plain)
        .smtp(TlsMode::StartTls)
        .user("taro", "pw", "taro@example.test")
        .user("hanako", "pw2", "hanako@example.test")
}

#[tokio::test(start_paused = true)]
async fn lettre_sends_over_starttls_past_a_firewall_that_drops_port_25() -> Result<(), Error> {
    let mail = builder()
        .simulate()
        .firewall(&[25], Action::Drop)
        .start()
        .await?;

    let started = tokio::time::Instant::now();
    let blocked = tokio::time::timeout(Duration::from_secs(30), mail.connect(25)).await;
    assert!(blocked.is_err(), "a dropped SYN must never complete");
    assert!(
        started.elapsed() >= Duration::from_secs(30),
        "virtual time passed"
    );

    send_over(&mail, 587).await?;
    let received = mail.wait_for_messages(1, Duration::from_secs(5)).await?;
    assert_eq!(received[0].to, ["hanako@example.test"]);
    assert_eq!(received[0].login.as_deref(), Some("taro"));
    assert_eq!(mail.mailbox("hanako").len(), 1);
    assert!(mail
        .log()
        .iter()
        .any(|line| line.contains("firewall: drop mail.example.test:25")));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_rejecting_firewall_refuses_at_once() -> Result<(), Error> {
    let mail = builder()
        .simulate()
        .firewall(&[587], Action::Reject)
        .start()
        .await?;
    let refused = mail.connect(587).await;
    assert_eq!(
        refused.err().map(|e| e.kind()),
        Some(std::io::ErrorKind::ConnectionRefused)
    );
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_mail_scanner_breaks_starttls_and_nothing_is_sent() -> Result<(), Error> {
    let scanner = Middlebox::MailScanner {
        upstream_timeout: Duration::from_secs(30),
    };
    let mail = builder()
        .simulate()
        .firewall(&[587], Action::Intercept(scanner))
        .start()
        .await?;
    let failed = send_over(&mail, 587).await;
    assert!(failed.is_err(), "the scanner closes the connection at TLS");
    assert!(mail.messages().is_empty());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_resigning_scanner_is_caught_by_certificate_verification() -> Result<(), Error> {
    let scanner = Middlebox::ResigningScanner {
        upstream_timeout: Duration::from_secs(30),
        issuer: "Mail Shield Root".into(),
    };
    let mail = builder()
        .simulate()
        .firewall(&[587], Action::Intercept(scanner))
        .start()
        .await?;
    let failed = send_over(&mail, 587)
        .await
        .err()
        .ok_or("sent through a forged certificate")?;
    assert!(
        failed.to_string().to_lowercase().contains("certificate"),
        "{failed}"
    );
    assert!(mail.messages().is_empty());
    Ok(())
}

#[test]
fn a_sim_stream_is_what_lettre_asks_of_a_transport() {
    fn transport<T: lettre::transport::smtp::client::AsyncTokioStream + 'static>() {}
    transport::<mailprobe::fixture::SimStream>();
}
