//! The SASL mechanisms both sides speak: PLAIN (RFC 4616) and LOGIN.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// A SASL mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mechanism {
    /// `PLAIN`: authzid NUL authcid NUL password, in one base64 message.
    Plain,
    /// `LOGIN`: user name and password in two base64 messages.
    Login,
}

impl Mechanism {
    /// The name as written in EHLO and AUTH.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
        }
    }

    /// Parses a mechanism name (case-insensitive).
    pub fn from_name(name: &str) -> Option<Mechanism> {
        match name.to_ascii_uppercase().as_str() {
            "PLAIN" => Some(Mechanism::Plain),
            "LOGIN" => Some(Mechanism::Login),
            _ => None,
        }
    }
}

/// The base64 PLAIN message for `user` and `password`.
pub fn encode_plain(user: &str, password: &str) -> String {
    STANDARD.encode(format!("\0{user}\0{password}"))
}

/// Decodes a PLAIN message into user and password.
pub fn decode_plain(message: &str) -> Option<(String, String)> {
    let bytes = decode(message)?;
    let mut parts = bytes.split(|&b| b == 0);
    let _authzid = parts.next()?;
    let user = String::from_utf8(parts.next()?.to_vec()).ok()?;
    let password = String::from_utf8(parts.next()?.to_vec()).ok()?;
    parts.next().is_none().then_some((user, password))
}

/// Base64 of text.
pub fn encode(text: &str) -> String {
    STANDARD.encode(text)
}

/// Decodes base64, `None` if malformed.
pub fn decode(message: &str) -> Option<Vec<u8>> {
    STANDARD.decode(message.trim()).ok()
}

/// Decodes base64 text, `None` if malformed or not UTF-8.
pub fn decode_text(message: &str) -> Option<String> {
    String::from_utf8(decode(message)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_round_trips() {
        let message = encode_plain("taro", "hunter2");
        assert_eq!(message, "AHRhcm8AaHVudGVyMg==");
        assert_eq!(
            decode_plain(&message),
            Some(("taro".into(), "hunter2".into()))
        );
    }

    #[test]
    fn malformed_plain_is_rejected() {
        assert_eq!(decode_plain("!!!"), None);
        assert_eq!(decode_plain(&encode("no-nul")), None);
        assert_eq!(decode_plain(&encode("\0a\0b\0c")), None);
    }

    #[test]
    fn mechanism_names() {
        assert_eq!(Mechanism::from_name("login"), Some(Mechanism::Login));
        assert_eq!(Mechanism::from_name("CRAM-MD5"), None);
        assert_eq!(Mechanism::Plain.name(), "PLAIN");
    }
}
