//! A test certificate authority and per-host server certificates, made with rcgen.
//!
//! Each world gets its own CA. Clients that should trust the world's servers
//! add [`CertificateAuthority::certificate`] to their roots. Validity is set
//! around the world's clock, not the wall clock, so a scenario dated 2007
//! still has valid certificates when its clients check them against 2007.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber, PKCS_ED25519,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, SignatureScheme};
use time::{Duration, OffsetDateTime};

pub use crate::key_exchange::KeyExchange;

/// The crypto provider for any peer: ring, offering AES-128-GCM with
/// SHA-256 first as browsers and most mail clients do, with fresh key
/// shares ([`KeyExchange::Fresh`]).
pub fn crypto_provider() -> Arc<CryptoProvider> {
    KeyExchange::Fresh.provider()
}

/// Why certificates or TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// rcgen refused the parameters (for example an invalid DNS name).
    #[error("cannot make certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("cannot configure TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The period a certificate is valid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Validity {
    /// First instant of validity.
    pub not_before: OffsetDateTime,
    /// Last instant of validity.
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// From a year before `now` to a year after it.
    pub fn around(now: OffsetDateTime) -> Self {
        Validity {
            not_before: now - Duration::days(365),
            not_after: now + Duration::days(365),
        }
    }
}

/// The key algorithm of a certificate authority and of what it issues.
///
/// Ed25519 is the default: signatures of fixed length, so every handshake
/// has the same size on every run and a bandwidth-limited link takes the
/// same virtual time. (ECDSA signatures vary by a byte or two.) ECDSA P-256
/// is for real mail clients whose TLS stack has no Ed25519.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeyKind {
    /// Ed25519 (RFC 8410).
    #[default]
    Ed25519,
    /// ECDSA with P-256 and SHA-256.
    EcdsaP256,
}

impl KeyKind {
    fn generate(self) -> Result<KeyPair, rcgen::Error> {
        match self {
            KeyKind::Ed25519 => KeyPair::generate_for(&PKCS_ED25519),
            KeyKind::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        }
    }
}

/// A certificate authority that signs server certificates.
pub struct CertificateAuthority {
    issuer: Issuer<'static, KeyPair>,
    certificate: CertificateDer<'static>,
    name: String,
    kind: KeyKind,
    /// The root's own key, PKCS #8, to keep the same root across runs.
    key_der: Vec<u8>,
    /// Identities issued by [`CertificateAuthority::issue_shared`], by
    /// names and validity.
    issued: Memo<(Vec<String>, Validity), ServerIdentity>,
    /// Intermediates made by [`CertificateAuthority::intermediate_shared`].
    intermediates: Memo<(String, Validity), CertificateAuthority>,
    /// What a server sends after its own certificate: for an intermediate,
    /// its certificate (and its parent's, if that is an intermediate too).
    above: Vec<CertificateDer<'static>>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// A new self-signed root with the given common name.
    pub fn new(common_name: &str, validity: Validity) -> Result<Self, TlsSetupError> {
        Self::with_key(common_name, validity, KeyKind::Ed25519, None)
    }

    /// A self-signed root whose keys, and those it issues, are of `kind`;
    /// with `key_pem` (from [`CertificateAuthority::key_pem`]) the root
    /// keeps that key, so clients that trusted it before trust it again.
    pub fn with_key(
        common_name: &str,
        validity: Validity,
        kind: KeyKind,
        key_pem: Option<&str>,
    ) -> Result<Self, TlsSetupError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = distinguished_name(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        params.serial_number = Some(SerialNumber::from(1u64));
        let key = match key_pem {
            Some(pem) => KeyPair::from_pem(pem)?,
            None => kind.generate()?,
        };
        let certificate = params.self_signed(&key)?.der().clone();
        let key_der = key.serialize_der();
        Ok(CertificateAuthority {
            issuer: Issuer::new(params, key),
            certificate,
            name: common_name.to_string(),
            kind,
            key_der,
            issued: Memo::default(),
            intermediates: Memo::default(),
            above: Vec::new(),
        })
    }

    /// An intermediate CA signed by this one: what it issues chains to
    /// this authority's root through it, and servers send it along with
    /// their own certificate (see [`ServerIdentity::without_intermediates`]).
    pub fn intermediate(
        &self,
        common_name: &str,
        validity: Validity,
    ) -> Result<CertificateAuthority, TlsSetupError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = distinguished_name(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        params.serial_number = Some(serial_number(&[common_name], validity));
        let key = self.kind.generate()?;
        let certificate = params.signed_by(&key, &self.issuer)?.der().clone();
        let key_der = key.serialize_der();
        let mut above = vec![certificate.clone()];
        above.extend(self.above.iter().cloned());
        Ok(CertificateAuthority {
            issuer: Issuer::new(params, key),
            certificate,
            name: common_name.to_string(),
            kind: self.kind,
            key_der,
            issued: Memo::default(),
            intermediates: Memo::default(),
            above,
        })
    }

    /// The root `common_name` with `validity` and keys of `kind` (and the
    /// key in `key_pem`, if given), made once per process and shared:
    /// making keys and signing certificates is most of what a world costs
    /// to build, and scenarios with one clock share their roots.
    pub fn shared(
        common_name: &str,
        validity: Validity,
        kind: KeyKind,
        key_pem: Option<&str>,
    ) -> Result<Arc<CertificateAuthority>, TlsSetupError> {
        type Key = (String, Validity, KeyKind, Option<String>);
        static ROOTS: OnceLock<Memo<Key, CertificateAuthority>> = OnceLock::new();
        let key = (
            common_name.to_string(),
            validity,
            kind,
            key_pem.map(str::to_string),
        );
        ROOTS
            .get_or_init(Memo::default)
            .get_or_make(key, || Self::with_key(common_name, validity, kind, key_pem))
    }

    /// [`CertificateAuthority::intermediate`], once per name and validity
    /// for the life of this authority.
    pub fn intermediate_shared(
        &self,
        common_name: &str,
        validity: Validity,
    ) -> Result<Arc<CertificateAuthority>, TlsSetupError> {
        self.intermediates
            .get_or_make((common_name.to_string(), validity), || {
                self.intermediate(common_name, validity)
            })
    }

    /// [`CertificateAuthority::issue`], once per names and validity for the
    /// life of this authority; the identity keeps its server configuration.
    pub fn issue_shared(
        &self,
        names: &[String],
        validity: Validity,
    ) -> Result<Arc<ServerIdentity>, TlsSetupError> {
        self.issued
            .get_or_make((names.to_vec(), validity), || self.issue(names, validity))
    }

    /// The authority's own certificate: for a root, what a client's trust
    /// store holds.
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.certificate
    }

    /// The root certificate in PEM, for tools that read trust files.
    pub fn certificate_pem(&self) -> String {
        pem("CERTIFICATE", self.certificate.as_ref())
    }

    /// The root's private key in PEM, to keep the same root across runs.
    pub fn key_pem(&self) -> String {
        pem("PRIVATE KEY", &pkcs8_v1(&self.key_der))
    }

    /// The root's common name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Issues a server certificate for `names` (the first is also the common name).
    pub fn issue(
        &self,
        names: &[String],
        validity: Validity,
    ) -> Result<ServerIdentity, TlsSetupError> {
        let mut params = CertificateParams::new(names.to_vec())?;
        params.distinguished_name = distinguished_name(names.first().map_or("localhost", |n| n));
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        params.serial_number = Some(serial_number(names, validity));
        params.custom_extensions.push(real_chain_bulk());
        let key = self.kind.generate()?;
        let certificate = params.signed_by(&key, &self.issuer)?.der().clone();
        let mut chain = vec![certificate];
        chain.extend(self.above.iter().cloned());
        Ok(ServerIdentity {
            chain,
            key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
            configs: Default::default(),
        })
    }
}

/// How many bytes a server's certificate flight lacks, with Ed25519 keys
/// and no public CA's extensions, against a real one: a public chain of RSA
/// or ECDSA keys with SCTs and access URLs runs to 2.5-5 KB. What depends on
/// the flight's size (a path-MTU blackhole that drops packets over ~1,400
/// bytes, a slow link) then meets it as with a real server.
const REAL_CHAIN_BULK: u16 = 2000;

/// A non-critical extension of [`REAL_CHAIN_BULK`] zero bytes under the
/// OID arc RFC 5612 reserves for documentation (1.3.6.1.4.1.32473); every
/// client ignores it.
fn real_chain_bulk() -> rcgen::CustomExtension {
    let [high, low] = REAL_CHAIN_BULK.to_be_bytes();
    // DER: an OCTET STRING with a two-byte length.
    let mut content = vec![0x04, 0x82, high, low];
    content.resize(usize::from(REAL_CHAIN_BULK) + 4, 0);
    rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 32473, 1], content)
}

/// The most roots, or identities of one root, kept for sharing; past it
/// they are made again (a process that sees many clocks stays bounded).
const MAX_SHARED: usize = 1024;

/// Values made once per key and shared, at most 1,024 at a time
/// (past it the memo starts again, so a long process stays bounded).
pub struct Memo<K, V>(Mutex<HashMap<K, Arc<V>>>);

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Memo(Mutex::new(HashMap::new()))
    }
}

impl<K: std::hash::Hash + Eq, V> Memo<K, V> {
    /// The value for `key`, made by `make` if there is none yet. Two threads
    /// may both make it; the first to finish is kept.
    pub fn get_or_make<E>(&self, key: K, make: impl FnOnce() -> Result<V, E>) -> Result<Arc<V>, E> {
        let lock = || self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(value) = lock().get(&key) {
            return Ok(value.clone());
        }
        let value = Arc::new(make()?);
        let mut values = lock();
        if values.len() >= MAX_SHARED {
            values.clear();
        }
        Ok(values.entry(key).or_insert(value).clone())
    }
}

/// A serial number from what the certificate is for (FNV-1a over the names
/// and validity): the same certificate gets the same serial whatever was
/// issued before it, and every serial has the same length (8 bytes, the
/// top bit clear, the next set), so certificates keep their size.
fn serial_number(names: &[impl AsRef<str>], validity: Validity) -> SerialNumber {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let times = [validity.not_before, validity.not_after].map(|t| t.unix_timestamp().to_be_bytes());
    let bytes = names
        .iter()
        .flat_map(|n| n.as_ref().bytes().chain([0]))
        .chain(times.into_iter().flatten());
    for byte in bytes {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    SerialNumber::from((hash & 0x3fff_ffff_ffff_ffff) | 0x4000_0000_0000_0000)
}

/// An Ed25519 key as PKCS #8 v1 (RFC 8410): ring writes v2, with the public
/// key attached, which OpenSSL 3 does not load. Other keys pass unchanged.
fn pkcs8_v1(der: &[u8]) -> Vec<u8> {
    // SEQUENCE { INTEGER, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING seed } }
    const ALGORITHM_AND_SEED: [u8; 11] = [
        0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
    ];
    match (der.get(5..16), der.get(16..48)) {
        (Some(algorithm), Some(seed)) if algorithm == ALGORITHM_AND_SEED => {
            let mut v1 = vec![0x30, 0x2e, 0x02, 0x01, 0x00];
            v1.extend_from_slice(&ALGORITHM_AND_SEED);
            v1.extend_from_slice(seed);
            v1
        }
        _ => der.to_vec(),
    }
}

/// DER bytes as a PEM block with `label`, lines ending in LF (as rcgen
/// writes them, with the `pem` crate it uses).
fn pem(label: &str, der: &[u8]) -> String {
    let config = ::pem::EncodeConfig::new().set_line_ending(::pem::LineEnding::LF);
    ::pem::encode_config(&::pem::Pem::new(label, der), config)
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name
}

/// A server's certificate chain and private key.
#[derive(Debug)]
pub struct ServerIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// Made on first use, one per [`KeyExchange`]: loading the key is the
    /// costly part.
    configs: [OnceLock<Arc<rustls::ServerConfig>>; 2],
}

impl ServerIdentity {
    /// The end-entity certificate.
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.chain[0]
    }
    /// The identity as a misconfigured server presents it: its own
    /// certificate alone, without the intermediates that link it to a root.
    pub fn without_intermediates(&self) -> Self {
        ServerIdentity {
            chain: self.chain.iter().take(1).cloned().collect(),
            key: self.key.clone_key(),
            configs: Default::default(),
        }
    }

    /// The certificate chain in PEM, for servers configured by files.
    pub fn chain_pem(&self) -> String {
        self.chain
            .iter()
            .map(|c| pem("CERTIFICATE", c.as_ref()))
            .collect()
    }

    /// The private key in PEM (PKCS #8 v1, which OpenSSL reads), for
    /// servers configured by files.
    pub fn key_pem(&self) -> String {
        pem("PRIVATE KEY", &pkcs8_v1(self.key.secret_der()))
    }

    /// A rustls server configuration presenting this identity with the
    /// default protocol versions (TLS 1.2 and 1.3), for any client.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsSetupError> {
        self.server_config_with(KeyExchange::Fresh)
    }

    /// [`ServerIdentity::server_config`] agreeing keys as `key_exchange` says.
    pub fn server_config_with(
        &self,
        key_exchange: KeyExchange,
    ) -> Result<Arc<rustls::ServerConfig>, TlsSetupError> {
        let slot = &self.configs[key_exchange as usize];
        if let Some(config) = slot.get() {
            return Ok(config.clone());
        }
        let config = rustls::ServerConfig::builder_with_provider(key_exchange.provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())?;
        Ok(slot
            .get_or_init(|| Arc::new(as_mock_server(config)))
            .clone())
    }

    /// The identity ready for a certificate resolver.
    fn certified_key(&self) -> Result<Arc<CertifiedKey>, TlsSetupError> {
        let key = crypto_provider()
            .key_provider
            .load_private_key(self.key.clone_key())?;
        Ok(Arc::new(CertifiedKey::new(self.chain.clone(), key)))
    }
}

/// A server configuration for a shared server that tells its sites apart by
/// the name the client sends (SNI, RFC 6066 section 3): a client that sends
/// a name gets `named`, one that sends none gets the server's `default`.
pub fn config_by_server_name(
    named: &ServerIdentity,
    default: &ServerIdentity,
    key_exchange: KeyExchange,
) -> Result<Arc<rustls::ServerConfig>, TlsSetupError> {
    let resolver = ByServerName {
        named: named.certified_key()?,
        default: default.certified_key()?,
    };
    let config = rustls::ServerConfig::builder_with_provider(key_exchange.provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    Ok(Arc::new(as_mock_server(config)))
}

/// A mock server's configuration. It sends no TLS 1.3 session tickets:
/// every connection is a full handshake, which is what a probe observes
/// (its clients keep no sessions), and no ticket is made only to be
/// dropped. It picks the cipher suite in its own order, AES-128-GCM with
/// SHA-256 first, as servers configured for speed do (nginx's
/// `ssl_prefer_server_ciphers`): OpenSSL clients list AES-256 with SHA-384
/// first, whose key schedule costs SHA-512 blocks on both sides.
fn as_mock_server(mut config: rustls::ServerConfig) -> rustls::ServerConfig {
    config.send_tls13_tickets = 0;
    config.ignore_client_order = true;
    config
}

/// Chooses the certificate by whether the ClientHello names the server.
#[derive(Debug)]
struct ByServerName {
    named: Arc<CertifiedKey>,
    default: Arc<CertifiedKey>,
}

impl ResolvesServerCert for ByServerName {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(match hello.server_name() {
            Some(_) => self.named.clone(),
            None => self.default.clone(),
        })
    }
}

/// A client-side verifier that checks handshake signatures but trusts any
/// certificate: what an intercepting middlebox does upstream, and the
/// signature half that other verifiers delegate to.
#[derive(Debug)]
pub struct AcceptAnyCertificate(pub Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn a_root_kept_by_its_key_is_the_same_root() {
        let validity = Validity::around(OffsetDateTime::now_utc());
        for kind in [KeyKind::Ed25519, KeyKind::EcdsaP256] {
            let first = CertificateAuthority::with_key("Kept Root", validity, kind, None).unwrap();
            let again =
                CertificateAuthority::with_key("Kept Root", validity, kind, Some(&first.key_pem()))
                    .unwrap();
            // The same subject and key: a client that trusted the first
            // verifies what the second issues.
            let mut roots = rustls::RootCertStore::empty();
            roots.add(first.certificate().clone()).unwrap();
            let leaf = again.issue(&["mx.example".into()], validity).unwrap();
            let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                crypto_provider(),
            )
            .build()
            .unwrap();
            use rustls::client::danger::ServerCertVerifier;
            let name = rustls::pki_types::ServerName::try_from("mx.example").unwrap();
            let now = rustls::pki_types::UnixTime::now();
            verifier
                .verify_server_cert(leaf.certificate(), &[], &name, &[], now)
                .unwrap();
        }
    }

    fn verify(
        roots: &CertificateAuthority,
        chain: &[CertificateDer<'static>],
    ) -> Result<(), rustls::Error> {
        let mut store = rustls::RootCertStore::empty();
        store.add(roots.certificate().clone())?;
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(store),
            crypto_provider(),
        )
        .build()
        .map_err(|e| rustls::Error::General(e.to_string()))?;
        let name = ServerName::try_from("mx.example")
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        let now = UnixTime::now();
        let (leaf, intermediates) = chain
            .split_first()
            .ok_or(rustls::Error::NoCertificatesPresented)?;
        verifier
            .verify_server_cert(leaf, intermediates, &name, &[], now)
            .map(|_| ())
    }

    #[test]
    fn an_intermediate_links_what_it_issues_to_the_root_unless_left_out() {
        let validity = Validity::around(OffsetDateTime::now_utc());
        let root = CertificateAuthority::new("Chain Root", validity).unwrap();
        let intermediate = root.intermediate("Chain Issuing CA", validity).unwrap();
        let identity = intermediate
            .issue(&["mx.example".into()], validity)
            .unwrap();
        assert_eq!(identity.chain.len(), 2);
        verify(&root, &identity.chain).unwrap();
        let alone = identity.without_intermediates();
        assert_eq!(alone.chain.len(), 1);
        assert_eq!(
            verify(&root, &alone.chain),
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            ))
        );
    }

    /// The certificate a server with `config` shows a client that sends
    /// (or not) the name `mx.example`, over an in-memory handshake.
    fn shown(config: Arc<rustls::ServerConfig>, sni: bool) -> CertificateDer<'static> {
        let mut client_config = rustls::ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(crypto_provider())))
            .with_no_client_auth();
        client_config.enable_sni = sni;
        let name = ServerName::try_from("mx.example").unwrap();
        let mut client = rustls::ClientConnection::new(Arc::new(client_config), name).unwrap();
        let mut server = rustls::ServerConnection::new(config).unwrap();
        while client.is_handshaking() || server.is_handshaking() {
            let mut wire = Vec::new();
            client.write_tls(&mut wire).unwrap();
            server.read_tls(&mut wire.as_slice()).unwrap();
            server.process_new_packets().unwrap();
            wire.clear();
            server.write_tls(&mut wire).unwrap();
            client.read_tls(&mut wire.as_slice()).unwrap();
            client.process_new_packets().unwrap();
        }
        client.peer_certificates().unwrap()[0].clone().into_owned()
    }

    #[test]
    fn a_shared_server_shows_its_default_to_clients_that_name_no_server() {
        let validity = Validity::around(OffsetDateTime::now_utc());
        let authority = CertificateAuthority::new("SNI Test CA", validity).unwrap();
        let named = authority.issue(&["mx.example".into()], validity).unwrap();
        let default = authority
            .issue(&["server1.hosting.example".into()], validity)
            .unwrap();
        let config = config_by_server_name(&named, &default, KeyExchange::Fresh).unwrap();
        assert_eq!(shown(config.clone(), true), *named.certificate());
        assert_eq!(shown(config, false), *default.certificate());
    }

    #[test]
    fn pem_files_load_back_as_a_working_identity() {
        let validity = Validity::around(OffsetDateTime::now_utc());
        let authority = CertificateAuthority::new("PEM Test CA", validity).unwrap();
        let identity = authority.issue(&["mx.example".into()], validity).unwrap();
        let key_pem = identity.key_pem();
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
        // PKCS #8 v1: version 0, no public key attached (48 bytes).
        assert_eq!(key.secret_der().len(), 48);
        assert_eq!(key.secret_der()[4], 0);
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(identity.chain_pem().as_bytes())
                .collect::<Result<_, _>>()
                .unwrap();
        assert_eq!(chain[0], *identity.certificate());
        rustls::ServerConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
    }
}
