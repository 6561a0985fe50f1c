//! How a TLS handshake agrees its keys: fresh X25519 shares for every
//! handshake, or, when both ends run in this process, one share made once.
//!
//! A replayed scenario is a conversation between two of our own programs
//! over an in-memory network: nothing outside the process can read it, so
//! secrecy between its ends buys nothing, while the four X25519 scalar
//! multiplications of a handshake (two key pairs, two agreements) were the
//! largest cost of a replay. [`KeyExchange::InProcess`] gives every party
//! the same well-known share and the secret it agrees with itself, computed
//! once per process. The handshake keeps its messages, sizes, group
//! (X25519), certificates and signatures: what a probe observes does not
//! change. A real peer, whose share is its own, is refused with an error
//! that says so; a world served to real clients uses
//! [`KeyExchange::Fresh`].

use std::sync::{Arc, OnceLock};

use rustls::crypto::{
    ActiveKeyExchange, CompletedKeyExchange, CryptoProvider, SharedSecret, SupportedKxGroup,
};
use rustls::NamedGroup;

/// Where a TLS party's peers run, which decides how keys are agreed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeyExchange {
    /// A fresh X25519 key pair per handshake: any peer, anywhere.
    #[default]
    Fresh,
    /// Every peer is another party of this process using `InProcess` too:
    /// one X25519 share for all, its secret computed once.
    InProcess,
}

impl KeyExchange {
    /// The crypto provider for this kind of key exchange, made once: ring,
    /// with AES-128-GCM and SHA-256 first (see [`crate::tls::crypto_provider`]).
    pub fn provider(self) -> Arc<CryptoProvider> {
        static FRESH: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
        static IN_PROCESS: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
        match self {
            KeyExchange::Fresh => FRESH.get_or_init(|| Arc::new(ring_provider())),
            KeyExchange::InProcess => IN_PROCESS.get_or_init(|| {
                let mut provider = ring_provider();
                // The same groups in the same order, so a ClientHello keeps
                // its size: only X25519's implementation changes.
                for group in &mut provider.kx_groups {
                    if group.name() == NamedGroup::X25519 {
                        *group = &IN_PROCESS_X25519;
                    }
                }
                Arc::new(provider)
            }),
        }
        .clone()
    }
}

/// ring's provider with AES-128-GCM and SHA-256 first: rustls lists
/// AES-256-GCM with SHA-384 first, whose key schedule costs a SHA-512 block
/// per step, which the SHA extensions of today's CPUs do not speed up as
/// they do SHA-256.
fn ring_provider() -> CryptoProvider {
    let mut provider = rustls::crypto::ring::default_provider();
    provider
        .cipher_suites
        .sort_by_key(|suite| suite.suite() != rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
    provider
}

/// X25519 with the process's one share.
#[derive(Debug)]
struct InProcessX25519;

static IN_PROCESS_X25519: InProcessX25519 = InProcessX25519;

/// The process's share and the secret it agrees with itself.
struct Share {
    public: Vec<u8>,
    secret: Vec<u8>,
}

impl Share {
    /// Made on first use by a real X25519 exchange of a fresh key pair
    /// with its own public key.
    fn get() -> Result<&'static Share, rustls::Error> {
        static SHARE: OnceLock<Share> = OnceLock::new();
        if let Some(share) = SHARE.get() {
            return Ok(share);
        }
        let pair = rustls::crypto::ring::kx_group::X25519.start()?;
        let public = pair.pub_key().to_vec();
        let secret = pair.complete(&public)?.secret_bytes().to_vec();
        Ok(SHARE.get_or_init(|| Share { public, secret }))
    }

    /// The agreed secret, if `peer` sent this share.
    fn agree(&self, peer: &[u8]) -> Result<SharedSecret, rustls::Error> {
        if peer != self.public {
            return Err(rustls::Error::General(
                "the peer's X25519 share is not this process's: in-process key exchange pairs \
                 only parties of one process (a real client needs a world with fresh key shares)"
                    .into(),
            ));
        }
        Ok(SharedSecret::from(self.secret.as_slice()))
    }
}

impl SupportedKxGroup for InProcessX25519 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, rustls::Error> {
        Ok(Box::new(ActiveShare(Share::get()?)))
    }

    fn start_and_complete(&self, peer: &[u8]) -> Result<CompletedKeyExchange, rustls::Error> {
        let share = Share::get()?;
        Ok(CompletedKeyExchange {
            group: NamedGroup::X25519,
            pub_key: share.public.clone(),
            secret: share.agree(peer)?,
        })
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

/// A client's side of an in-process exchange, between its hello and the
/// server's.
struct ActiveShare(&'static Share);

impl ActiveKeyExchange for ActiveShare {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, rustls::Error> {
        self.0.agree(peer)
    }

    fn pub_key(&self) -> &[u8] {
        &self.0.public
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_process_parties_agree_on_the_secret_an_x25519_exchange_gives() {
        let group = KeyExchange::InProcess.provider().kx_groups[0];
        assert_eq!(group.name(), NamedGroup::X25519);
        let client = group.start().unwrap();
        let server = group.start_and_complete(client.pub_key()).unwrap();
        let client_public = client.pub_key().to_vec();
        let client_secret = client.complete(&server.pub_key).unwrap();
        assert_eq!(client_secret.secret_bytes(), server.secret.secret_bytes());
        // One share for everyone, and a real X25519 secret: 32 bytes, not zero.
        assert_eq!(client_public, server.pub_key);
        assert_eq!(client_secret.secret_bytes().len(), 32);
        assert!(client_secret.secret_bytes().iter().any(|&b| b != 0));
    }

    #[test]
    fn a_share_from_outside_the_process_is_refused() {
        let group = KeyExchange::InProcess.provider().kx_groups[0];
        let outsider = rustls::crypto::ring::kx_group::X25519.start().unwrap();
        let refused = group.start_and_complete(outsider.pub_key());
        assert!(
            matches!(refused, Err(rustls::Error::General(m)) if m.contains("fresh key shares"))
        );
    }

    #[test]
    fn both_providers_offer_the_same_groups_in_the_same_order() {
        let names = |kx: KeyExchange| -> Vec<NamedGroup> {
            kx.provider().kx_groups.iter().map(|g| g.name()).collect()
        };
        assert_eq!(names(KeyExchange::Fresh), names(KeyExchange::InProcess));
    }
}
