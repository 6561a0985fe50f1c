//! Just enough DER to read who a certificate is for and who signed it, so
//! the probe can name an intercepting antivirus from its issuer.

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
}

struct Der<'a> {
    data: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(data: &'a [u8]) -> Self {
        Der { data }
    }

    /// The next element: tag and content.
    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.data.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (length, rest) = if first < 0x80 {
            (first as usize, rest)
        } else {
            let count = (first & 0x7f) as usize;
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let length = rest[..count]
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | b as usize);
            (length, &rest[count..])
        };
        if rest.len() < length {
            return None;
        }
        let (content, rest) = rest.split_at(length);
        self.data = rest;
        Some((tag, content))
    }

    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        let (found, content) = self.next()?;
        (found == tag).then_some(content)
    }
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
const OID_ORGANIZATION: &[u8] = &[0x55, 0x04, 0x0a];
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

/// Reads a DER certificate; `None` if it is not one.
pub fn parse(der: &[u8]) -> Option<CertificateInfo> {
    let certificate = Der::new(der).expect(SEQUENCE)?;
    let mut tbs = Der::new(Der::new(certificate).expect(SEQUENCE)?);
    let (mut tag, mut content) = tbs.next()?;
    if tag == 0xa0 {
        (tag, content) = tbs.next()?; // version, then serial
    }
    let _serial = (tag == 0x02).then_some(content)?;
    tbs.expect(SEQUENCE)?; // signature algorithm
    let issuer_der = tbs.expect(SEQUENCE)?;
    let issuer = name(issuer_der);
    let mut validity = Der::new(tbs.expect(SEQUENCE)?);
    let (start_tag, not_before) = validity.next()?;
    let (time_tag, not_after) = validity.next()?;
    let subject_der = tbs.expect(SEQUENCE)?;
    let subject = name(subject_der);
    tbs.expect(SEQUENCE)?; // public key
    let mut names = Vec::new();
    while let Some((tag, content)) = tbs.next() {
        if tag == 0xa3 {
            names = alt_names(content).unwrap_or_default();
        }
    }
    Some(CertificateInfo {
        subject,
        issuer,
        names,
        not_before: date(start_tag, not_before).unwrap_or_default(),
        not_after: date(time_tag, not_after).unwrap_or_default(),
        self_signed: issuer_der == subject_der,
        chain_length: 1,
    })
}

/// The common name of a Name, or its organization, or "".
fn name(content: &[u8]) -> String {
    let mut common_name = None;
    let mut organization = None;
    let mut rdns = Der::new(content);
    while let Some(set) = rdns.expect(SET) {
        let mut attributes = Der::new(set);
        while let Some(attribute) = attributes.expect(SEQUENCE) {
            let mut parts = Der::new(attribute);
            let (Some(oid), Some((_, value))) = (parts.expect(0x06), parts.next()) else {
                continue;
            };
            let text = String::from_utf8_lossy(value).into_owned();
            if oid == OID_COMMON_NAME {
                common_name = Some(text);
            } else if oid == OID_ORGANIZATION {
                organization = Some(text);
            }
        }
    }
    common_name.or(organization).unwrap_or_default()
}

fn alt_names(extensions: &[u8]) -> Option<Vec<String>> {
    let mut list = Der::new(Der::new(extensions).expect(SEQUENCE)?);
    while let Some(extension) = list.expect(SEQUENCE) {
        let mut parts = Der::new(extension);
        if parts.expect(0x06)? != OID_SUBJECT_ALT_NAME {
            continue;
        }
        let (mut tag, mut value) = parts.next()?;
        if tag == 0x01 {
            (tag, value) = parts.next()?; // critical flag
        }
        if tag != 0x04 {
            return None;
        }
        let mut general_names = Der::new(Der::new(value).expect(SEQUENCE)?);
        let mut names = Vec::new();
        while let Some((tag, content)) = general_names.next() {
            if tag == 0x82 {
                names.push(String::from_utf8_lossy(content).into_owned());
            }
        }
        return Some(names);
    }
    Some(Vec::new())
}

/// UTCTime `YYMMDDhhmmssZ` or GeneralizedTime `YYYYMMDDhhmmssZ` → `YYYY-MM-DD`.
fn date(tag: u8, content: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(content).ok()?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: u32 = text.get(..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, text.get(2..)?)
        }
        0x18 => (text.get(..4)?.parse().ok()?, text.get(4..)?),
        _ => return None,
    };
    Some(format!("{year:04}-{}-{}", rest.get(..2)?, rest.get(2..4)?))
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
