//! A client too old for today's TLS: the ClientHello that Outlook Express 6
//! on Windows XP (SChannel) sent, offering at most TLS 1.0 or SSL 3 and no
//! extensions (no SNI), and what the server's first answer says of it.
//! rustls speaks neither version, so the probe writes this hello itself
//! and reads only the record that answers it.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::conversation::{Recorder, StepResult};
use super::observation::{EventKind, Failure, Step, TlsFailure};

/// The newest protocol an emulated old client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LegacyTls {
    /// SSL 3.0 (RFC 6101).
    Ssl3,
    /// TLS 1.0 (RFC 2246).
    Tls10,
    /// TLS 1.1 (RFC 4346).
    Tls11,
}

impl LegacyTls {
    /// The name in scenario files and transcripts.
    pub fn name(self) -> &'static str {
        match self {
            LegacyTls::Ssl3 => "SSL 3.0",
            LegacyTls::Tls10 => "TLS 1.0",
            LegacyTls::Tls11 => "TLS 1.1",
        }
    }

    /// The protocol version on the wire (3.0, 3.1, 3.2).
    fn version(self) -> [u8; 2] {
        match self {
            LegacyTls::Ssl3 => [3, 0],
            LegacyTls::Tls10 => [3, 1],
            LegacyTls::Tls11 => [3, 2],
        }
    }

    /// The ClientHello record: this version at most, RSA key exchange with
    /// AES, 3DES and RC4 as XP offered, a fixed random (transcripts stay
    /// the same), no session, no compression, no extensions.
    pub fn client_hello(self) -> Vec<u8> {
        const SUITES: [u16; 4] = [0x002F, 0x0035, 0x000A, 0x0005];
        let mut body = Vec::new();
        body.extend_from_slice(&self.version());
        body.extend_from_slice(&[0x4d; 32]); // random
        body.push(0); // session id
        let suites: Vec<u8> = SUITES.iter().flat_map(|s| s.to_be_bytes()).collect();
        body.extend_from_slice(&(suites.len() as u16).to_be_bytes());
        body.extend_from_slice(&suites);
        body.extend_from_slice(&[1, 0]); // compression: null
        let mut handshake = vec![1]; // client_hello
        handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        handshake.extend_from_slice(&body);
        let mut record = vec![0x16];
        record.extend_from_slice(&self.version());
        record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
        record.extend_from_slice(&handshake);
        record
    }
}

/// Sends the old client's hello over `stream` and reads the first bytes of
/// the answer (at most a record header and an alert), within `timeout`;
/// records both and fails the handshake where the server refuses.
pub(crate) async fn say_hello<S>(
    stream: &mut S,
    recorder: &mut Recorder,
    version: LegacyTls,
    timeout: Duration,
) -> StepResult<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    recorder.enter(Step::TlsHandshake);
    recorder.record(EventKind::Sent(format!(
        "TLS ClientHello offering at most {}, without extensions (the emulated client's newest)",
        version.name()
    )));
    let failed = |failure: Failure| (Step::TlsHandshake, failure);
    stream
        .write_all(&version.client_hello())
        .await
        .map_err(|e| failed(Failure::Io(e.to_string())))?;
    let mut first = [0u8; 16];
    let mut read = 0;
    let reading = async {
        while read < 7 {
            match stream.read(&mut first[read..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
    };
    let timed_out = tokio::time::timeout(timeout, reading).await.is_err();
    let _ = stream.shutdown().await;
    let refused = |answer: String| {
        failed(Failure::Tls(TlsFailure::VersionRefused {
            offered: version.name().to_string(),
            answer,
        }))
    };
    match answer(&first[..read]) {
        LegacyAnswer::Accepted {
            version: [major, minor],
        } => {
            recorder.record(EventKind::Received(format!(
                "ServerHello, version {major}.{minor}: the server accepts {}; the probe goes on over today's TLS",
                version.name()
            )));
            Ok(())
        }
        LegacyAnswer::Refused { alert } => {
            let name = alert_name(alert);
            recorder.record(EventKind::Received(format!("TLS alert {name} ({alert})")));
            Err(refused(format!("alert {name}")))
        }
        LegacyAnswer::NotTls if read == 0 && timed_out => Err(refused("no answer".to_string())),
        LegacyAnswer::NotTls if read == 0 => Err(refused("the connection was closed".to_string())),
        LegacyAnswer::NotTls => Err(failed(Failure::Tls(TlsFailure::NotTls {
            first_bytes: first[..read].to_vec(),
        }))),
    }
}

/// What the server's first record says of an old client's hello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyAnswer {
    /// An alert: the server refuses (protocol_version 70, handshake_failure 40, ...).
    Refused {
        /// The alert's description code.
        alert: u8,
    },
    /// A handshake record: the server goes on with this version.
    Accepted {
        /// The record's version, e.g. `[3, 1]`.
        version: [u8; 2],
    },
    /// Anything else (plaintext, nothing).
    NotTls,
}

/// Reads the first bytes the server sent back.
pub fn answer(bytes: &[u8]) -> LegacyAnswer {
    match bytes {
        [0x15, 3, _, _, _, _level, alert, ..] => LegacyAnswer::Refused { alert: *alert },
        [0x16, major, minor, ..] if *major == 3 => LegacyAnswer::Accepted {
            version: [*major, *minor],
        },
        _ => LegacyAnswer::NotTls,
    }
}

/// The alert's name, for transcripts (RFC 8446 section 6).
pub fn alert_name(alert: u8) -> &'static str {
    match alert {
        40 => "handshake_failure",
        47 => "illegal_parameter",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        _ => "alert",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hello_is_a_well_formed_tls_1_0_record() {
        let hello = LegacyTls::Tls10.client_hello();
        assert_eq!(&hello[..3], &[0x16, 3, 1]);
        let length = u16::from_be_bytes([hello[3], hello[4]]) as usize;
        assert_eq!(hello.len(), 5 + length);
        assert_eq!(hello[5], 1, "a client_hello");
        assert_eq!(&hello[9..11], &[3, 1], "client_version TLS 1.0");
        assert_eq!(&LegacyTls::Ssl3.client_hello()[1..3], &[3, 0]);
    }

    #[test]
    fn answers_are_read_from_the_first_record() {
        assert_eq!(
            answer(&[0x15, 3, 3, 0, 2, 2, 70]),
            LegacyAnswer::Refused { alert: 70 }
        );
        assert_eq!(
            answer(&[0x16, 3, 1, 0, 40]),
            LegacyAnswer::Accepted { version: [3, 1] }
        );
        assert_eq!(answer(b"* OK hi"), LegacyAnswer::NotTls);
        assert_eq!(alert_name(70), "protocol_version");
    }
}
