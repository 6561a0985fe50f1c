//! The probe's TLS client: rustls with ring, trusting given roots, checking
//! certificates against a clock that may be virtual.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::UnixTime;
use rustls::time_provider::TimeProvider;
use rustls::{CertificateError, RootCertStore};

use mock_servers::tls::crypto_provider;

use super::observation::TlsFailure;

/// Wall-clock time as of a scenario's clock, advancing with tokio's (possibly
/// paused) clock, so certificate validity is judged at the scenario's date.
#[derive(Debug)]
pub struct VirtualClock {
    start: Duration,
    origin: tokio::time::Instant,
}

impl VirtualClock {
    /// A clock that reads `unix_seconds` now and advances with tokio time.
    pub fn starting_at(unix_seconds: u64) -> Self {
        VirtualClock {
            start: Duration::from_secs(unix_seconds),
            origin: tokio::time::Instant::now(),
        }
    }
}

impl TimeProvider for VirtualClock {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(
            self.start + self.origin.elapsed(),
        ))
    }
}

/// A client configuration trusting `roots`, with time from `clock`.
pub fn client_config(
    roots: RootCertStore,
    clock: Arc<dyn TimeProvider>,
) -> Arc<rustls::ClientConfig> {
    let config = rustls::ClientConfig::builder_with_details(crypto_provider(), clock)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// Turns a rustls error into the probe's vocabulary.
pub fn classify(error: &rustls::Error) -> TlsFailure {
    match error {
        rustls::Error::AlertReceived(alert) => TlsFailure::Alert(format!("{alert:?}")),
        rustls::Error::InvalidCertificate(reason) => {
            TlsFailure::Certificate(certificate_reason(reason))
        }
        other => TlsFailure::Other(other.to_string()),
    }
}

fn certificate_reason(reason: &CertificateError) -> String {
    match reason {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => "expired".into(),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "not yet valid".into()
        }
        CertificateError::UnknownIssuer => "unknown issuer".into(),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "not valid for this host name".into()
        }
        CertificateError::Revoked => "revoked".into(),
        other => format!("{other:?}"),
    }
}
