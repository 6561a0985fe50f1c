//! The live probe against a real POP3 and IMAP server, Dovecot, and the
//! round trip of what it saw: `probe --report` → `record` → `run` replays to
//! the live diagnosis. Each test starts its own Dovecot on its own loopback
//! address (127.0.0.N: POP3 on 110 with STLS and 995 with implicit TLS, IMAP
//! on 143 with STARTTLS and 993), with a certificate from a test CA, and
//! stops it when done. Plaintext logins are disabled, as Dovecot ships.
//!
//! Behind the `interop` feature; `.ci/run` installs Dovecot (dovecot-pop3d
//! and dovecot-imapd). A missing Dovecot fails the test with what to
//! install, it never skips.
#![cfg(feature = "interop")]

mod interop_support;

use interop_support::{certificates, folder, probe_and_round_trip, PASSWORD_VARIABLE};

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

const PASSWORD: &str = "dovecot-Secret-7";

/// A Dovecot serving POP3 on `address`, stopped and removed when dropped.
struct Dovecot {
    master: Child,
    address: String,
    dir: PathBuf,
    ca: PathBuf,
}

impl Dovecot {
    /// Starts Dovecot on 127.0.0.`last` with a certificate for
    /// `pop.dovecot.test`, valid around `valid_at`.
    fn start(last: u8, tag: &str, valid_at: time::OffsetDateTime) -> Dovecot {
        let binary = Path::new("/usr/sbin/dovecot");
        assert!(
            binary.exists(),
            "Dovecot is missing: apt-get install -y dovecot-pop3d (.ci/run does)"
        );
        let dir = folder(&format!("dovecot-{tag}"));
        std::fs::create_dir_all(dir.join("run")).unwrap();
        std::fs::create_dir_all(dir.join("mail")).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            let open = std::fs::Permissions::from_mode(0o777);
            std::fs::set_permissions(dir.join("mail"), open).unwrap();
        }
        let ca = certificates(&dir, "pop.dovecot.test", valid_at);
        std::fs::write(
            dir.join("passwd"),
            format!("taro:{{PLAIN}}{PASSWORD}::::::\n"),
        )
        .unwrap();
        let address = format!("127.0.0.{last}");
        let d = dir.display();
        let config = format!(
            "base_dir = {d}/run
state_dir = {d}/run
protocols = pop3 imap
listen = {address}
log_path = {d}/dovecot.log
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
disable_plaintext_auth = yes
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/mail/%u
}}
mail_location = maildir:{d}/mail/%u/Maildir
service pop3-login {{
  inet_listener pop3 {{
    port = 110
  }}
  inet_listener pop3s {{
    port = 995
    ssl = yes
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = 143
  }}
  inet_listener imaps {{
    port = 993
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"
        );
        std::fs::write(dir.join("dovecot.conf"), config).unwrap();
        let master = Command::new(binary)
            .arg("-F")
            .arg("-c")
            .arg(dir.join("dovecot.conf"))
            .spawn()
            .expect("dovecot starts");
        // Dovecot is up when its port answers.
        let ready = (0..100).any(|_| {
            let up = std::net::TcpStream::connect((address.as_str(), 110)).is_ok();
            if !up {
                std::thread::sleep(Duration::from_millis(50));
            }
            up
        });
        assert!(
            ready,
            "Dovecot did not listen: {}",
            std::fs::read_to_string(dir.join("dovecot.log")).unwrap_or_default()
        );
        Dovecot {
            master,
            address,
            dir,
            ca,
        }
    }

    /// Probes POP3 on `port` with `security` and `password`, and round-trips
    /// the report; the live diagnosis must be `cause`.
    fn probe_and_round_trip(&self, port: &str, security: &str, password: &str, cause: &str) {
        self.probe_protocol("--pop3", port, security, password, cause);
    }

    /// The same over `protocol` (`--pop3` or `--imap`).
    fn probe_protocol(
        &self,
        protocol: &str,
        port: &str,
        security: &str,
        password: &str,
        cause: &str,
    ) {
        let report = self
            .dir
            .join(format!("report-{port}-{security}-{cause}.json"));
        let args = [
            "probe",
            protocol,
            &self.address,
            "--port",
            port,
            "--security",
            security,
            "--server-name",
            "pop.dovecot.test",
            "--user",
            "taro",
            "--password-env",
            PASSWORD_VARIABLE,
            "--ca",
            self.ca.to_str().unwrap(),
            "--connect-timeout",
            "5s",
            "--reply-timeout",
            "5s",
            "--quiet",
            "--report",
            report.to_str().unwrap(),
        ];
        probe_and_round_trip(&args, password, &report, cause);
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.master.kill();
        let _ = self.master.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn dovecot_stls_good_and_bad_passwords() {
    let dovecot = Dovecot::start(21, "stls", time::OffsetDateTime::now_utc());
    dovecot.probe_and_round_trip("110", "starttls", PASSWORD, "ok");
    dovecot.probe_and_round_trip("110", "starttls", "not-the-password", "auth-failed");
}

#[test]
fn dovecot_implicit_tls_and_ssl_on_the_plaintext_port() {
    let dovecot = Dovecot::start(22, "tls", time::OffsetDateTime::now_utc());
    dovecot.probe_and_round_trip("995", "tls", PASSWORD, "ok");
    dovecot.probe_and_round_trip("110", "tls", PASSWORD, "plaintext-expected");
}

#[test]
fn dovecot_with_an_expired_certificate() {
    let long_ago = time::OffsetDateTime::now_utc() - time::Duration::days(800);
    let dovecot = Dovecot::start(23, "expired", long_ago);
    dovecot.probe_and_round_trip("995", "tls", PASSWORD, "certificate-expired");
}

#[test]
fn dovecot_imap_starttls_and_implicit_tls_good_and_bad_passwords() {
    let dovecot = Dovecot::start(24, "imap", time::OffsetDateTime::now_utc());
    dovecot.probe_protocol("--imap", "143", "starttls", PASSWORD, "ok");
    dovecot.probe_protocol("--imap", "993", "tls", PASSWORD, "ok");
    dovecot.probe_protocol("--imap", "993", "tls", "not-the-password", "auth-failed");
}

/// Plaintext IMAP on 143: Dovecot says LOGINDISABLED, the probe keeps the
/// password and names auth-requires-tls; SSL asked on the plaintext port is
/// plaintext-expected.
#[test]
fn dovecot_imap_refuses_plaintext_logins() {
    let dovecot = Dovecot::start(25, "imap-plain", time::OffsetDateTime::now_utc());
    dovecot.probe_protocol("--imap", "143", "none", PASSWORD, "auth-requires-tls");
    dovecot.probe_protocol("--imap", "143", "tls", PASSWORD, "plaintext-expected");
}
