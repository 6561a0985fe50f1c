//! Who a certificate is for and who signed it, so the probe can name an
//! intercepting antivirus from its issuer. The certificate comes from an
//! untrusted peer: it is read with x509-parser, and anything it cannot read
//! is not a certificate.

use x509_parser::prelude::{FromDer, GeneralName, X509Certificate, X509Name};
use x509_parser::time::ASN1Time;

/// What the probe reports about a server certificate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CertificateInfo {
    /// The subject's common name (or organization).
    pub subject: String,
    /// The issuer's common name (or organization).
    pub issuer: String,
    /// DNS names in the subject alternative name extension.
    pub names: Vec<String>,
    /// The start of validity, `YYYY-MM-DD`.
    #[serde(default)]
    pub not_before: String,
    /// The end of validity, `YYYY-MM-DD`.
    pub not_after: String,
    /// Whether the certificate names itself as its issuer.
    #[serde(default)]
    pub self_signed: bool,
    /// How many certificates the server sent (its own and intermediates).
    #[serde(default)]
    pub chain_length: usize,
    /// The server sent its certificate alone, and this intermediate (by
    /// name), which the client knew already, links it to a trusted root:
    /// the server's chain is incomplete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_intermediate: Option<String>,
    /// The certificate was refused for an unknown issuer, and this root
    /// (by name), which a current trust store holds and the client's lacks,
    /// accepts it: the client's trust store is outdated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_root: Option<String>,
    /// The certificate was refused for an unknown issuer, and chains to this
    /// root (by name), which current trust stores removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distrusted_root: Option<String>,
}

/// Reads a DER certificate; `None` if it is not one.
pub fn parse(der: &[u8]) -> Option<CertificateInfo> {
    let (_, certificate) = X509Certificate::from_der(der).ok()?;
    let names = certificate
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|extension| {
            extension
                .value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(dns) => Some(dns.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let validity = certificate.validity();
    Some(CertificateInfo {
        subject: name(certificate.subject()),
        issuer: name(certificate.issuer()),
        names,
        not_before: date(&validity.not_before),
        not_after: date(&validity.not_after),
        self_signed: certificate.subject().as_raw() == certificate.issuer().as_raw(),
        chain_length: 1,
        missing_intermediate: None,
        current_root: None,
        distrusted_root: None,
    })
}

/// The (last) common name of a Name, or its organization, or "".
fn name(name: &X509Name<'_>) -> String {
    let text = |attribute: &x509_parser::x509::AttributeTypeAndValue<'_>| {
        attribute
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|_| String::from_utf8_lossy(attribute.attr_value().data).into_owned())
    };
    let last = |mut found: Vec<String>| found.pop();
    last(name.iter_common_name().map(text).collect())
        .or_else(|| last(name.iter_organization().map(text).collect()))
        .unwrap_or_default()
}

/// `YYYY-MM-DD`.
fn date(time: &ASN1Time) -> String {
    let day = time.to_datetime().date();
    format!(
        "{:04}-{:02}-{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use mock_mail_servers::tls::{CertificateAuthority, Validity};
    use time::macros::datetime;

    #[test]
    fn reads_what_rcgen_wrote() {
        let validity = Validity::around(datetime!(2007-01-08 07:15:42 UTC));
        let ca = CertificateAuthority::new("ESET SSL Filter CA", validity).unwrap();
        let identity = ca
            .issue(
                &["smtp.other.example".into(), "mail.other.example".into()],
                validity,
            )
            .unwrap();
        let info = parse(identity.certificate()).unwrap();
        assert_eq!(info.subject, "smtp.other.example");
        assert_eq!(info.issuer, "ESET SSL Filter CA");
        assert_eq!(info.names, vec!["smtp.other.example", "mail.other.example"]);
        assert_eq!(info.not_after, "2008-01-08");
        assert!(!info.names.is_empty() && !info.self_signed);
        assert!(info.not_before.as_str() < "2007-01-08");
        let root = parse(ca.certificate()).unwrap();
        assert_eq!(
            (root.subject.as_str(), root.issuer.as_str()),
            ("ESET SSL Filter CA", "ESET SSL Filter CA")
        );
        assert!(root.self_signed);
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert_eq!(parse(b""), None);
        assert_eq!(parse(&[0x30, 0x82, 0xff]), None);
        assert_eq!(parse(&[0x30, 0x03, 0x02, 0x01, 0x00]), None);
    }
}
