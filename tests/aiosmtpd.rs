//! The live probe against a real SMTP server, aiosmtpd (submission with
//! STARTTLS required before AUTH on 587, implicit TLS on 465), and the round
//! trip of each report: `probe --report` → `record` → `run` replays to the
//! live diagnosis. The server (`tests/servers/aiosmtpd_server.py`) listens
//! on its own loopback address and stops when the test ends.
//!
//! Behind the `interop` feature; `.ci/run` installs aiosmtpd. A missing
//! aiosmtpd fails the test with what to install, it never skips.
#![cfg(feature = "interop")]

mod interop_support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use interop_support::{certificates, folder, probe_and_round_trip, PASSWORD_VARIABLE};

const PASSWORD: &str = "aiosmtpd-Secret-5";

/// aiosmtpd on 127.0.0.`last`, stopped when dropped.
struct Aiosmtpd {
    server: Child,
    address: String,
    dir: PathBuf,
    ca: PathBuf,
}

impl Aiosmtpd {
    fn start(last: u8, tag: &str) -> Aiosmtpd {
        let dir = folder(&format!("aiosmtpd-{tag}"));
        let ca = certificates(&dir, "smtp.aiosmtpd.test", time::OffsetDateTime::now_utc());
        let address = format!("127.0.0.{last}");
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/servers/aiosmtpd_server.py"
        );
        let mut server = Command::new("python3")
            .arg(script)
            .arg(&address)
            .arg(dir.join("cert.pem"))
            .arg(dir.join("key.pem"))
            .arg(PASSWORD)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let mut ready = String::new();
        let stdout = server.stdout.take().unwrap();
        let _ = BufReader::new(stdout).read_line(&mut ready);
        assert_eq!(
            ready.trim(),
            "ready",
            "aiosmtpd did not start: pip install aiosmtpd (.ci/run does)"
        );
        Aiosmtpd {
            server,
            address,
            dir,
            ca,
        }
    }

    fn probe_and_round_trip(
        &self,
        port: &str,
        security: &str,
        password: &str,
        cause: &str,
    ) -> String {
        let report = self
            .dir
            .join(format!("report-{port}-{security}-{cause}.json"));
        let args = [
            "probe",
            "--smtp",
            &self.address,
            "--port",
            port,
            "--security",
            security,
            "--server-name",
            "smtp.aiosmtpd.test",
            "--user",
            "taro",
            "--password-env",
            PASSWORD_VARIABLE,
            "--from",
            "taro@aiosmtpd.test",
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
        probe_and_round_trip(&args, password, &report, cause)
    }
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn aiosmtpd_submission_with_starttls() {
    let server = Aiosmtpd::start(31, "submission");
    server.probe_and_round_trip("587", "starttls", PASSWORD, "ok");
    server.probe_and_round_trip("587", "starttls", "not-the-password", "auth-failed");
}

#[test]
fn aiosmtpd_implicit_tls_and_ssl_asked_on_the_submission_port() {
    let server = Aiosmtpd::start(32, "implicit");
    server.probe_and_round_trip("465", "tls", PASSWORD, "ok");
    // "SSL" ticked for 587: implicit TLS on 465 is tried first and suggested.
    let stdout = server.probe_and_round_trip("587", "tls", PASSWORD, "plaintext-expected");
    assert!(
        stdout.contains("suggestion: port 465 security=tls"),
        "{stdout}"
    );
}
