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

use mock_mail_servers::tls::{crypto_provider, AcceptAnyCertificate, KeyExchange};

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
    /// A fingerprint of `roots`, for remembered verdicts.
    roots_id: u64,
    clock: Arc<dyn TimeProvider>,
    provider: Arc<CryptoProvider>,
    /// Intermediates the client keeps (see [`TlsClient::knowing_intermediates`]).
    known_intermediates: Arc<[CertificateDer<'static>]>,
    /// Roots of today's stores and roots they removed, to tell why a
    /// certificate is refused (see [`TlsClient::knowing_other_stores`]).
    other_stores: Arc<OtherStores>,
    /// Whether the ClientHello names the server (SNI).
    sni: bool,
}

impl TlsClient {
    /// A client trusting `roots`, with time from `clock`.
    pub fn new(roots: RootCertStore, clock: Arc<dyn TimeProvider>) -> Self {
        TlsClient {
            roots_id: fingerprint(&roots),
            roots: Arc::new(roots),
            clock,
            provider: crypto_provider(),
            known_intermediates: Arc::new([]),
            other_stores: Arc::default(),
            sni: true,
        }
    }

    /// Knows the roots a current trust store holds (`current`) and roots
    /// current stores removed (`distrusted`): a certificate refused for an
    /// unknown issuer is checked against each, one root at a time, and the
    /// certificate says which accepts it
    /// ([`CertificateInfo::current_root`], [`CertificateInfo::distrusted_root`]).
    /// The handshake still fails as the client's own store decides.
    pub fn knowing_other_stores(
        mut self,
        current: Vec<CertificateDer<'static>>,
        distrusted: Vec<CertificateDer<'static>>,
    ) -> Self {
        self.other_stores = Arc::new(OtherStores {
            current,
            distrusted,
        });
        self
    }

    /// Keeps `intermediates`, as Firefox preloads the intermediates of
    /// public CAs: a server certificate refused for an unknown issuer is
    /// checked again with them, and when one completes the chain the
    /// certificate says so ([`CertificateInfo::missing_intermediate`]).
    /// The handshake still fails, as it does for clients without them.
    pub fn knowing_intermediates(mut self, intermediates: Vec<CertificateDer<'static>>) -> Self {
        self.known_intermediates = intermediates.into();
        self
    }

    /// Agrees keys as `key_exchange` says: [`KeyExchange::InProcess`] only
    /// with servers of this process that do so too (a world built by
    /// [`crate::harness::world::build_for_probe`]).
    pub fn agreeing_keys(mut self, key_exchange: KeyExchange) -> Self {
        self.provider = key_exchange.provider();
        self
    }

    /// A client that does not name the server in its ClientHello (SNI), as
    /// TLS stacks before it (Windows XP's) do.
    pub fn without_sni(mut self) -> Self {
        self.sni = false;
        self
    }

    /// The same client, naming the server (SNI) as current clients do.
    pub fn with_sni(&self) -> Self {
        TlsClient {
            sni: true,
            ..self.clone()
        }
    }

    /// Whether the ClientHello names the server.
    pub fn sends_sni(&self) -> bool {
        self.sni
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
            known_intermediates: self.known_intermediates.clone(),
            other_stores: self.other_stores.clone(),
            roots_id: self.roots_id,
            provider: self.provider.clone(),
        };
        let mut config =
            rustls::ClientConfig::builder_with_details(self.provider.clone(), self.clock.clone())
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth();
        config.enable_sni = self.sni;
        // Every attempt is a full handshake: a resumed session would show
        // no certificate to record.
        config.resumption = rustls::client::Resumption::disabled();
        (Arc::new(config), slot)
    }
}

/// What a certificate check depends on: the roots, the chain, the name and
/// the second it is made at.
type VerdictKey = (u64, Vec<Vec<u8>>, String, u64);

/// Names a set of roots by their subjects and keys.
fn fingerprint(roots: &RootCertStore) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for anchor in &roots.roots {
        anchor.subject.as_ref().hash(&mut hasher);
        anchor.subject_public_key_info.as_ref().hash(&mut hasher);
    }
    hasher.finish()
}

/// webpki's verdict on a chain, made once per roots, chain, name and second
/// and shared: scenarios that share a clock show the same certificates
/// again and again, and checking a chain costs a signature verification.
/// The handshake's own signature is checked every time.
fn remembered_verdict(
    roots_id: u64,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    server_name: &ServerName<'_>,
    now: UnixTime,
    check: impl FnOnce() -> Result<ServerCertVerified, rustls::Error>,
) -> Result<ServerCertVerified, rustls::Error> {
    static VERDICTS: std::sync::OnceLock<
        mock_mail_servers::tls::Memo<VerdictKey, Result<(), rustls::Error>>,
    > = std::sync::OnceLock::new();
    let chain = std::iter::once(end_entity)
        .chain(intermediates)
        .map(|c| c.as_ref().to_vec())
        .collect();
    let key = (
        roots_id,
        chain,
        server_name.to_str().into_owned(),
        now.as_secs(),
    );
    let verdict = VERDICTS
        .get_or_init(Default::default)
        .get_or_make::<std::convert::Infallible>(key, || Ok(check().map(|_| ())));
    match verdict.as_deref() {
        Ok(Ok(())) => Ok(ServerCertVerified::assertion()),
        Ok(Err(error)) => Err(error.clone()),
        Err(never) => match *never {},
    }
}

/// Roots of trust stores other than the client's own.
#[derive(Debug, Default)]
struct OtherStores {
    /// What a current store holds.
    current: Vec<CertificateDer<'static>>,
    /// What current stores removed.
    distrusted: Vec<CertificateDer<'static>>,
}

/// Checks as webpki does, after writing down what it was shown.
#[derive(Debug)]
struct RecordingVerifier {
    /// `None` when there are no roots: nothing can be trusted.
    inner: Option<Arc<WebPkiServerVerifier>>,
    signatures: AcceptAnyCertificate,
    seen: CertificateSlot,
    known_intermediates: Arc<[CertificateDer<'static>]>,
    other_stores: Arc<OtherStores>,
    /// The fingerprint of the roots `inner` trusts.
    roots_id: u64,
    provider: Arc<CryptoProvider>,
}

impl RecordingVerifier {
    /// The known intermediate that links a lone `end_entity` to a trusted
    /// root, by its name.
    fn completing_intermediate(
        &self,
        inner: &WebPkiServerVerifier,
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Option<String> {
        self.known_intermediates.iter().find_map(|known| {
            inner
                .verify_server_cert(
                    end_entity,
                    std::slice::from_ref(known),
                    server_name,
                    &[],
                    now,
                )
                .ok()
                .and_then(|_| x509::parse(known))
                .map(|info| info.subject)
        })
    }
}

impl RecordingVerifier {
    /// The first of `roots` that alone accepts the chain, by its name.
    fn accepting_root(
        &self,
        roots: &[CertificateDer<'static>],
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Option<String> {
        roots.iter().find_map(|root| {
            let mut store = RootCertStore::empty();
            store.add(root.clone()).ok()?;
            let verifier =
                WebPkiServerVerifier::builder_with_provider(Arc::new(store), self.provider.clone())
                    .build()
                    .ok()?;
            verifier
                .verify_server_cert(end_entity, intermediates, server_name, &[], now)
                .ok()
                .and_then(|_| x509::parse(root))
                .map(|info| info.subject)
        })
    }
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
        let mut seen = x509::parse(end_entity).map(|info| CertificateInfo {
            chain_length: intermediates.len().saturating_add(1),
            ..info
        });
        let verdict = match &self.inner {
            Some(inner) => {
                let verdict = remembered_verdict(
                    self.roots_id,
                    end_entity,
                    intermediates,
                    server_name,
                    now,
                    || {
                        inner.verify_server_cert(
                            end_entity,
                            intermediates,
                            server_name,
                            ocsp_response,
                            now,
                        )
                    },
                );
                let unknown_issuer = matches!(
                    verdict,
                    Err(rustls::Error::InvalidCertificate(
                        CertificateError::UnknownIssuer
                    ))
                );
                if let (true, true, Some(info)) =
                    (unknown_issuer, intermediates.is_empty(), &mut seen)
                {
                    info.missing_intermediate =
                        self.completing_intermediate(inner, end_entity, server_name, now);
                }
                verdict
            }
            None => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        };
        let unknown_issuer = matches!(
            verdict,
            Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))
        );
        if let (true, Some(info)) = (unknown_issuer, &mut seen) {
            let stores = &self.other_stores;
            let accepting =
                |roots| self.accepting_root(roots, end_entity, intermediates, server_name, now);
            info.current_root = accepting(&stores.current);
            info.distrusted_root = accepting(&stores.distrusted);
        }
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = seen;
        verdict
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
