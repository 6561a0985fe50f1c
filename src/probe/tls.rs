//! The probe's TLS client: rustls with ring, trusting given roots, checking
//! certificates against a clock that may be virtual, and recording the
//! certificate the server presented even when it is refused.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::time_provider::TimeProvider;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use mock_mail_servers::tls::{crypto_provider, AcceptAnyCertificate};

use super::observation::TlsFailure;
use super::x509::{self, CertificateInfo};

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

/// Where a handshake leaves the certificate it saw.
pub type CertificateSlot = Arc<Mutex<Option<CertificateInfo>>>;

/// Makes client configurations, one per handshake, each recording the
/// server's certificate into its own slot.
#[derive(Clone)]
pub struct TlsClient {
    roots: Arc<RootCertStore>,
    clock: Arc<dyn TimeProvider>,
    provider: Arc<CryptoProvider>,
}

impl TlsClient {
    /// A client trusting `roots`, with time from `clock`.
    pub fn new(roots: RootCertStore, clock: Arc<dyn TimeProvider>) -> Self {
        TlsClient {
            roots: Arc::new(roots),
            clock,
            provider: crypto_provider(),
        }
    }

    /// A configuration for one handshake, and the slot its certificate lands in.
    pub fn config(&self) -> (Arc<rustls::ClientConfig>, CertificateSlot) {
        let slot = CertificateSlot::default();
        let inner =
            WebPkiServerVerifier::builder_with_provider(self.roots.clone(), self.provider.clone())
                .build()
                .ok();
        let verifier = RecordingVerifier {
            inner,
            signatures: AcceptAnyCertificate(self.provider.clone()),
            seen: slot.clone(),
        };
        let config =
            rustls::ClientConfig::builder_with_details(self.provider.clone(), self.clock.clone())
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth();
        (Arc::new(config), slot)
    }
}

/// Checks as webpki does, after writing down what it was shown.
#[derive(Debug)]
struct RecordingVerifier {
    /// `None` when there are no roots: nothing can be trusted.
    inner: Option<Arc<WebPkiServerVerifier>>,
    signatures: AcceptAnyCertificate,
    seen: CertificateSlot,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = x509::parse(end_entity).map(|info| CertificateInfo {
            chain_length: intermediates.len().saturating_add(1),
            ..info
        });
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = seen;
        match &self.inner {
            Some(inner) => {
                inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signatures.supported_verify_schemes()
    }
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

/// Stable words for certificate problems; the diagnosis matches on them.
pub mod reason {
    /// The certificate's validity ended.
    pub const EXPIRED: &str = "expired";
    /// The certificate's validity has not begun.
    pub const NOT_YET_VALID: &str = "not yet valid";
    /// Not signed by a trusted root.
    pub const UNKNOWN_ISSUER: &str = "unknown issuer";
    /// Not for the host name the client asked for.
    pub const WRONG_NAME: &str = "not valid for this host name";
}

fn certificate_reason(error: &CertificateError) -> String {
    match error {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            reason::EXPIRED.into()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            reason::NOT_YET_VALID.into()
        }
        CertificateError::UnknownIssuer => reason::UNKNOWN_ISSUER.into(),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            reason::WRONG_NAME.into()
        }
        CertificateError::Revoked => "revoked".into(),
        // A self-made certificate marked as a CA (`openssl req -x509`'s
        // default) served as the server's own: trusted by no client.
        other if format!("{other:?}").contains("CaUsedAsEndEntity") => {
            reason::UNKNOWN_ISSUER.into()
        }
        other => format!("{other:?}"),
    }
}
