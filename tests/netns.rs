//! The seed's two failures made real, in a network namespace each test
//! creates and removes: Outbound Port 25 Blocking (nftables drops port 25
//! to every server but the ISP's own) and a scanner-like proxy that closes
//! at the TLS ClientHello. The live probe names each cause, and its report
//! records into a scenario that replays to the same diagnosis.
//!
//! Everything runs inside the namespace on its own loopback; nothing leaves
//! it. Behind the `interop` feature; needs root, iproute2 and nftables,
//! which `.ci/run` installs. A missing tool fails the test, it never skips.
#![cfg(feature = "interop")]

mod interop_support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use interop_support::{certificates, folder, round_trip, PASSWORD_VARIABLE};

const PASSWORD: &str = "netns-Secret-3";

/// A network namespace with only its loopback up; removed when dropped,
/// with every process started in it.
struct Namespace {
    name: String,
    children: Vec<Child>,
    dir: PathBuf,
}

impl Namespace {
    fn new(tag: &str) -> Namespace {
        let name = format!("mailprobe-{tag}-{}", std::process::id());
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        let made = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("iproute2 is installed (.ci/run installs it)");
        assert!(
            made.success(),
            "cannot create a network namespace (run as root)"
        );
        let namespace = Namespace {
            name,
            children: Vec::new(),
            dir: folder(&format!("netns-{tag}")),
        };
        namespace.run(&["ip", "link", "set", "lo", "up"]);
        namespace
    }

    /// A command that runs inside the namespace.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }

    /// Runs a command inside the namespace; it must succeed.
    fn run(&self, args: &[&str]) {
        let status = self.command(args[0]).args(&args[1..]).status().unwrap();
        assert!(status.success(), "{args:?} failed in the namespace");
    }

    /// Starts a Python server from `tests/servers` inside the namespace and
    /// waits for its `ready`.
    fn serve(&mut self, script: &str, args: &[&str]) {
        let path = format!("{}/tests/servers/{script}", env!("CARGO_MANIFEST_DIR"));
        let mut child = self
            .command("python3")
            .arg(path)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut ready);
        assert_eq!(ready.trim(), "ready", "{script} {args:?} did not start");
        self.children.push(child);
    }

    /// `mailprobe probe --smtp` inside the namespace, round-tripped.
    fn probe(&self, host: &str, port: &str, security: &str, extra: &[&str], cause: &str) -> String {
        let report = self
            .dir
            .join(format!("report-{host}-{port}-{security}.json"));
        let ca = self.dir.join("ca.pem");
        let mut args = vec![
            "netns",
            "exec",
            &self.name,
            env!("CARGO_BIN_EXE_mailprobe"),
            "probe",
            "--smtp",
            host,
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
            ca.to_str().unwrap(),
            "--connect-timeout",
            "3s",
            "--reply-timeout",
            "3s",
            "--quiet",
            "--report",
            report.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        // The probe runs through `ip netns exec`; record and run need no network.
        let output = Command::new("ip")
            .args(&args)
            .env(PASSWORD_VARIABLE, PASSWORD)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            stdout.contains(&format!("diagnosis: {cause} ")),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json = std::fs::read_to_string(&report).unwrap();
        assert!(!json.contains(PASSWORD), "the password is in the report");
        round_trip(&report);
        stdout
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn outbound_port_25_blocking_by_nftables() {
    let mut namespace = Namespace::new("op25b");
    let dir = namespace.dir.clone();
    certificates(&dir, "smtp.aiosmtpd.test", time::OffsetDateTime::now_utc());
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    // The account's provider, and the ISP's own relay (the control).
    namespace.serve(
        "aiosmtpd_server.py",
        &[
            "127.0.0.41",
            cert,
            key,
            PASSWORD,
            "25:plain",
            "587:starttls",
            "465:tls",
        ],
    );
    namespace.serve(
        "aiosmtpd_server.py",
        &["127.0.0.42", cert, key, PASSWORD, "25:plain"],
    );
    // The ISP drops port 25 to every server but its own.
    namespace.run(&["nft", "add", "table", "inet", "isp"]);
    namespace.run(&[
        "nft",
        "add chain inet isp out { type filter hook output priority 0 ; }",
    ]);
    namespace.run(&[
        "nft",
        "add",
        "rule",
        "inet",
        "isp",
        "out",
        "ip",
        "daddr",
        "!=",
        "127.0.0.42",
        "tcp",
        "dport",
        "25",
        "drop",
    ]);
    let stdout = namespace.probe(
        "127.0.0.41",
        "25",
        "none",
        &["--control", "127.0.0.42"],
        "outbound-port-25-blocked",
    );
    assert!(stdout.contains("0x800CCC0E"), "{stdout}");
    assert!(
        stdout.contains("suggestion: port 587 security=starttls"),
        "{stdout}"
    );
}

/// Port 25 rejected rather than dropped: refused at once (a TCP reset or
/// ICMP port unreachable), or answered with ICMP administratively
/// prohibited. With the ISP's relay as the control, both are OP25B.
#[test]
fn outbound_port_25_blocking_by_rejection() {
    let mut namespace = Namespace::new("op25b-reject");
    let dir = namespace.dir.clone();
    certificates(&dir, "smtp.aiosmtpd.test", time::OffsetDateTime::now_utc());
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    namespace.serve(
        "aiosmtpd_server.py",
        &[
            "127.0.0.44",
            cert,
            key,
            PASSWORD,
            "25:plain",
            "587:starttls",
        ],
    );
    namespace.serve(
        "aiosmtpd_server.py",
        &["127.0.0.45", cert, key, PASSWORD, "25:plain"],
    );
    namespace.run(&["nft", "add", "table", "inet", "isp"]);
    namespace.run(&[
        "nft",
        "add chain inet isp out { type filter hook output priority 0 ; }",
    ]);
    for (how, socket_error) in [("", "10061"), ("with icmp type admin-prohibited", "10065")] {
        namespace.run(&["nft", "flush", "chain", "inet", "isp", "out"]);
        let rule =
            format!("add rule inet isp out ip daddr != 127.0.0.45 tcp dport 25 reject {how}");
        namespace.run(&["nft", &rule]);
        let stdout = namespace.probe(
            "127.0.0.44",
            "25",
            "none",
            &["--control", "127.0.0.45"],
            "outbound-port-25-blocked",
        );
        assert!(stdout.contains(socket_error), "{how}: {stdout}");
    }
}

#[test]
fn a_scanner_that_closes_at_the_client_hello() {
    let mut namespace = Namespace::new("scanner");
    let dir = namespace.dir.clone();
    certificates(&dir, "smtp.aiosmtpd.test", time::OffsetDateTime::now_utc());
    namespace.serve("closing_proxy.py", &["127.0.0.43", "465"]);
    let stdout = namespace.probe(
        "127.0.0.43",
        "465",
        "tls",
        &[],
        "tls-broken-by-local-scanner",
    );
    assert!(stdout.contains("0x800CCC0F"), "{stdout}");
}

/// A machine with no network at all: the name lookup fails at once with
/// no route, which is told from a misspelled name although the client
/// shows the same "host could not be found".
#[test]
fn no_network_at_all() {
    let namespace = Namespace::new("no-network");
    let dir = namespace.dir.clone();
    certificates(&dir, "smtp.aiosmtpd.test", time::OffsetDateTime::now_utc());
    let stdout = namespace.probe(
        "smtp.provider.example",
        "587",
        "starttls",
        &[],
        "network-unreachable",
    );
    assert!(stdout.contains("0x800CCC0D"), "{stdout}");
}
