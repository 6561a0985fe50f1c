//! The same probe over real TCP on loopback: the mock servers serve a
//! `TcpStream` as they serve an in-memory stream, and faults give the same
//! error kinds as in the simulation.

use std::net::SocketAddr;
use std::sync::Arc;

use mailprobe::diagnose::{diagnose, Cause};
use mailprobe::net::{Network, RealNetwork};
use mailprobe::probe::tls::TlsClient;
use mailprobe::probe::{
    Account, Credentials, Endpoint, Failure, Prober, Protocol, Purpose, Security, Step, Timeouts,
};
use mock_mail_servers::mailstore::{Account as MailAccount, MailStore, SharedStore};
use mock_mail_servers::serve::ServerTls;
use mock_mail_servers::smtp::{SmtpConfig, SmtpServer};
use mock_mail_servers::tls::{CertificateAuthority, Validity};
use mock_mail_servers::TlsMode;
use rustls::time_provider::DefaultTimeProvider;
use rustls::RootCertStore;
use tokio::net::TcpListener;

/// An SMTP server with STARTTLS on an ephemeral loopback port, serving `connections` clients.
async fn loopback_smtp(connections: usize) -> (SocketAddr, RootCertStore) {
    let validity = Validity::around(time::OffsetDateTime::now_utc());
    let ca = CertificateAuthority::new("Loopback Test CA", validity).unwrap();
    let tls = ca
        .issue(&["127.0.0.1".to_string()], validity)
        .unwrap()
        .server_config()
        .unwrap();
    let mut store = MailStore::new();
    store.add_account(MailAccount {
        user: "taro".into(),
        password: "hunter2".into(),
        address: "taro@loopback.example".into(),
    });
    let mut config = SmtpConfig::new("mx.loopback.example");
    config.domains = vec!["loopback.example".into()];
    let server = SmtpServer::new(config, SharedStore::new(store), ServerTls::Modern(tls));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..connections {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let server = server.clone();
            tokio::spawn(async move { server.serve(stream, TlsMode::StartTls).await });
        }
    });
    let mut roots = RootCertStore::empty();
    roots.add(ca.certificate().clone()).unwrap();
    (address, roots)
}

fn account(port: u16, password: &str) -> Account {
    Account {
        endpoint: Endpoint {
            protocol: Protocol::Smtp,
            host: "127.0.0.1".into(),
            port,
            security: Security::StartTls,
        },
        credentials: Some(Credentials {
            user: "taro".into(),
            password: password.into(),
        }),
        from: "taro@loopback.example".into(),
        rcpt: "someone@elsewhere.example".into(),
        message_size: None,
    }
}

fn prober(roots: RootCertStore) -> Prober {
    let tls = TlsClient::new(roots, Arc::new(DefaultTimeProvider));
    Prober::new(Arc::new(RealNetwork), tls, Timeouts::default())
}

#[tokio::test]
async fn starttls_auth_and_envelope_over_tcp() {
    let (address, roots) = loopback_smtp(1).await;
    let report = prober(roots)
        .probe(&account(address.port(), "hunter2"), &[])
        .await;
    assert!(report.configured.is_ok(), "{:?}", report.configured);
    assert_eq!(diagnose(&report).cause, Cause::Ok);
}

#[tokio::test]
async fn wrong_password_over_tcp_is_auth_failed() {
    // The login, and the connection after it that checks for a ban.
    let (address, roots) = loopback_smtp(2).await;
    let report = prober(roots)
        .probe(&account(address.port(), "wrong"), &[])
        .await;
    assert_eq!(
        report
            .configured
            .failure()
            .map(|(step, f)| (step, f.reply_code())),
        Some((Step::Auth, Some(535)))
    );
    let purposes: Vec<Purpose> = report.follow_ups.iter().map(|a| a.purpose).collect();
    assert_eq!(
        purposes,
        vec![Purpose::AfterRefusedLogin],
        "an account failure needs no other setting, only a check for a ban"
    );
    assert!(report.follow_ups[0].is_ok());
    assert_eq!(diagnose(&report).cause, Cause::AuthFailed);
}

#[tokio::test]
async fn a_server_that_stops_answering_after_a_refused_login_banned_the_address() {
    // One connection only: the next one is refused, as after a ban.
    let (address, roots) = loopback_smtp(1).await;
    let report = prober(roots)
        .probe(&account(address.port(), "wrong"), &[])
        .await;
    assert_eq!(diagnose(&report).cause, Cause::ClientAddressBanned);
}

#[tokio::test]
async fn a_closed_port_is_refused_as_in_the_simulation() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let error = RealNetwork.connect(address).await.err().unwrap();
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
    let report = prober(RootCertStore::empty())
        .probe(&account(address.port(), "x"), &[])
        .await;
    assert_eq!(
        report.configured.failure(),
        Some((Step::Connect, &Failure::Refused))
    );
}
