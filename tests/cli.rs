//! The command line as a person uses it: `mailprobe probe` against a mock
//! server on loopback, `mailprobe run` and `mailprobe explain`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use mock_mail_servers::mailstore::{Account, MailStore, SharedStore};
use mock_mail_servers::serve::ServerTls;
use mock_mail_servers::smtp::{SmtpConfig, SmtpServer};
use mock_mail_servers::tls::{CertificateAuthority, Validity};
use mock_mail_servers::TlsMode;

const PASSWORD: &str = "correct-horse-battery";

/// A STARTTLS SMTP server on an ephemeral loopback port, serving at most
/// `connections` clients and giving up after 20 idle seconds. Returns its
/// address and a PEM file with its root.
fn loopback_server(connections: usize, tag: &str) -> (SocketAddr, PathBuf) {
    let validity = Validity::around(time::OffsetDateTime::now_utc());
    let ca = CertificateAuthority::new("mailprobe CLI Test CA", validity).unwrap();
    let tls = ca
        .issue(&["127.0.0.1".to_string()], validity)
        .unwrap()
        .server_config()
        .unwrap();
    let pem = std::env::temp_dir().join(format!("mailprobe-cli-{}-{tag}.pem", std::process::id()));
    std::fs::write(&pem, ca.certificate_pem()).unwrap();
    let mut store = MailStore::new();
    store.add_account(Account {
        user: "taro".into(),
        password: PASSWORD.into(),
        address: "taro@loopback.example".into(),
    });
    let mut config = SmtpConfig::new("mx.loopback.example");
    config.domains = vec!["loopback.example".into()];
    let server = SmtpServer::new(config, SharedStore::new(store), ServerTls::Modern(tls));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            for _ in 0..connections {
                let Ok(Ok((stream, _))) =
                    tokio::time::timeout(Duration::from_secs(20), listener.accept()).await
                else {
                    return;
                };
                let server = server.clone();
                tokio::spawn(async move { server.serve(stream, TlsMode::StartTls).await });
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        });
    });
    (address, pem)
}

fn mailprobe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailprobe"))
        .args(args)
        .env("MAILPROBE_TEST_PASSWORD", PASSWORD)
        .output()
        .unwrap()
}

fn probe(address: SocketAddr, pem: &Path, user: &str) -> Output {
    let port = address.port().to_string();
    mailprobe(&[
        "probe",
        "--smtp",
        "127.0.0.1",
        "--port",
        &port,
        "--security",
        "starttls",
        "--user",
        user,
        "--password-env",
        "MAILPROBE_TEST_PASSWORD",
        "--from",
        "taro@loopback.example",
        "--ca",
        pem.to_str().unwrap(),
    ])
}

#[test]
fn probe_a_working_server_over_tcp() {
    let (address, pem) = loopback_server(1, "ok");
    let output = probe(address, &pem, "taro");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("C: STARTTLS"), "{stdout}");
    assert!(stdout.contains("diagnosis: ok"), "{stdout}");
    assert!(!stdout.contains(PASSWORD), "the password leaked:\n{stdout}");
    let _ = std::fs::remove_file(pem);
}

#[test]
fn probe_names_a_wrong_login_and_fails() {
    let (address, pem) = loopback_server(1, "auth");
    let output = probe(address, &pem, "jiro");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("diagnosis: auth-failed"), "{stdout}");
    assert!(stdout.contains("0x800CCC60"), "{stdout}");
    let _ = std::fs::remove_file(pem);
}

#[test]
fn probe_explains_a_missing_password_variable() {
    let output = mailprobe(&[
        "probe",
        "--smtp",
        "127.0.0.1",
        "--password-env",
        "MAILPROBE_NO_SUCH_VARIABLE",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.contains("MAILPROBE_NO_SUCH_VARIABLE"), "{stderr}");
}

#[test]
fn run_reports_each_probe_and_a_closing_count() {
    let root = env!("CARGO_MANIFEST_DIR");
    let output = mailprobe(&["run", &format!("{root}/scenarios/seed")]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout
        .lines()
        .any(|l| l.starts_with("PASS") && l.contains("outbound-port-25-blocked")));
    assert_eq!(stdout.lines().last(), Some("12 passed, 0 failed"));
}

/// `--format json` prints one object per probe; `--junit` writes one test
/// case per scenario file, as many as `cargo test --test scenarios` runs,
/// with failures, errors and skips counted.
#[test]
fn run_writes_json_lines_and_junit_for_ci() {
    let folder = std::env::temp_dir().join(format!("mailprobe-cli-{}-ci", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let seed = std::fs::read_to_string(format!("{root}/scenarios/seed/op25b-behind-scanner.yaml"))
        .unwrap()
        .replace("snapshot: op25b-behind-scanner.transcript.txt\n", "");
    std::fs::write(folder.join("good.yaml"), &seed).unwrap();
    let wrong = seed.replacen(
        "diagnosis: outbound-port-25-blocked",
        "diagnosis: tls-broken-by-local-scanner",
        1,
    );
    std::fs::write(folder.join("wrong.yaml"), wrong).unwrap();
    std::fs::write(
        folder.join("skipped.yaml"),
        format!("{seed}ignore: not today\n"),
    )
    .unwrap();
    std::fs::write(folder.join("broken.yaml"), "name: [").unwrap();
    let junit = folder.join("out/junit.xml");
    std::fs::create_dir_all(junit.parent().unwrap()).unwrap();

    let output = mailprobe(&[
        "run",
        folder.to_str().unwrap(),
        "--format",
        "json",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let outcomes: Vec<&str> = lines
        .iter()
        .map(|l| l["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "skip").count(), 1);
    assert_eq!(outcomes.iter().filter(|o| **o == "error").count(), 1);
    let failed = lines.iter().find(|l| l["outcome"] == "fail").unwrap();
    assert!(failed["path"].as_str().unwrap().ends_with("wrong.yaml"));
    assert_eq!(failed["diagnosis"], "outbound-port-25-blocked");
    assert_eq!(failed["expected"], "tls-broken-by-local-scanner");
    assert_eq!(failed["client_error"], "0x800CCC0F");
    assert!(failed["mismatches"][0]
        .as_str()
        .unwrap()
        .contains("expected tls-broken"));
    assert!(failed["scenario_virtual_seconds"].as_f64().unwrap() > 0.0);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(" failed"),
        "the summary goes to stderr: {stderr}"
    );

    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.starts_with("<?xml"));
    assert!(
        xml.contains("tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"1\""),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), 4);
    assert!(xml.contains("<skipped message=\"not today\"/>"), "{xml}");
    let _ = std::fs::remove_dir_all(&folder);
}

/// The JUnit file counts what `cargo test --test scenarios` counts: one
/// test case per scenario file of the library.
#[test]
fn junit_has_a_test_case_per_library_trial() {
    let root = env!("CARGO_MANIFEST_DIR");
    let junit =
        std::env::temp_dir().join(format!("mailprobe-cli-{}-library.xml", std::process::id()));
    let output = mailprobe(&[
        "run",
        &format!("{root}/scenarios"),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert!(output.status.success());
    let xml = std::fs::read_to_string(&junit).unwrap();
    let trials = mailprobe::harness::trials::trials(format!("{root}/scenarios")).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), trials.len());
    let _ = std::fs::remove_file(junit);
}

#[test]
fn run_fails_on_a_bad_file_with_its_location() {
    let path = std::env::temp_dir().join(format!("mailprobe-cli-{}-bad.yaml", std::process::id()));
    std::fs::write(
        &path,
        "name: x\nworld: {}\nclient:\n  smtp: { host: a.example, prot: 25 }\n",
    )
    .unwrap();
    let output = mailprobe(&["run", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout.contains(":4:28: client.smtp: unknown field `prot`"),
        "{stdout}"
    );
    assert!(stdout.contains("did you mean `port`?"), "{stdout}");
    let _ = std::fs::remove_file(path);
}

#[test]
fn explain_lists_the_causes_behind_0x800ccc0f() {
    let output = mailprobe(&["explain", "0x800CCC0F"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    for id in [
        "outbound-port-25-blocked",
        "tls-broken-by-local-scanner",
        "connection-reset",
        "mid-session-stall",
    ] {
        assert!(stdout.contains(id), "{id} missing:\n{stdout}");
    }
}

#[test]
fn suggest_tries_every_setting_and_picks_an_encrypted_one() {
    let (address, pem) = loopback_server(3, "suggest");
    let port = address.port().to_string();
    let output = mailprobe(&[
        "suggest",
        "--smtp",
        "127.0.0.1",
        "--port",
        &port,
        "--user",
        "taro",
        "--password-env",
        "MAILPROBE_TEST_PASSWORD",
        "--from",
        "taro@loopback.example",
        "--ca",
        pem.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("{port} starttls  works")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{port} tls       plaintext-expected")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "{port} none      answers without encryption (not tried with the account: credentials withheld)"
        )),
        "{stdout}"
    );
    assert!(
        stdout.ends_with(&format!("suggested: port {port} with security starttls\n")),
        "{stdout}"
    );
    let _ = std::fs::remove_file(pem);
}

#[test]
fn a_live_report_records_into_a_scenario_that_replays_its_diagnosis() {
    let (address, pem) = loopback_server(2, "record");
    let dir = std::env::temp_dir().join(format!("mailprobe-cli-{}-record", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("report.json");
    let port = address.port().to_string();
    let output = mailprobe(&[
        "probe",
        "--smtp",
        "127.0.0.1",
        "--port",
        &port,
        "--security",
        "starttls",
        "--user",
        "jiro",
        "--password-env",
        "MAILPROBE_TEST_PASSWORD",
        "--from",
        "taro@loopback.example",
        "--ca",
        pem.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--anonymize",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("diagnosis: auth-failed"), "{stdout}");
    let json = std::fs::read_to_string(&report).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["format"], "mailprobe-report");
    assert_eq!(value["version"], 1);
    assert_eq!(value["diagnosis"]["cause"], "auth-failed");
    assert_eq!(value["options"]["anonymized"], true);
    assert!(!json.contains(PASSWORD), "the password is in the report");
    assert!(!json.contains("jiro"), "the user name is in the report");
    assert!(
        !json.contains("taro@loopback.example"),
        "the sender is in the report"
    );

    let scenario = dir.join("recorded.yaml");
    let output = mailprobe(&[
        "record",
        report.to_str().unwrap(),
        "-o",
        scenario.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&scenario).unwrap();
    assert!(
        text.starts_with("# Recorded by `mailprobe record`"),
        "{text}"
    );
    let output = mailprobe(&["run", scenario.to_str().unwrap()]);
    let replay = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{replay}\n{text}");
    assert!(replay.contains("auth-failed"), "{replay}");

    let output = mailprobe(&["record", pem.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_file(pem);
}

#[test]
fn probe_prints_the_report_as_json() {
    let (address, pem) = loopback_server(1, "json");
    let port = address.port().to_string();
    let output = mailprobe(&[
        "probe",
        "--smtp",
        "127.0.0.1",
        "--port",
        &port,
        "--user",
        "taro",
        "--password-env",
        "MAILPROBE_TEST_PASSWORD",
        "--from",
        "taro@loopback.example",
        "--ca",
        pem.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let value: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(value["diagnosis"]["cause"], "ok");
    assert_eq!(value["observed"]["configured"]["outcome"], "ok");
    assert!(!stdout.contains(PASSWORD));
    let _ = std::fs::remove_file(pem);
}

/// Runs `mailprobe serve` of the served-provider world with `extra`
/// options; the server, and the four `probe` commands it printed.
fn serve_provider(extra: &[&str]) -> (std::process::Child, Vec<String>) {
    use std::io::{BufRead, BufReader};
    let root = env!("CARGO_MANIFEST_DIR");
    let mut served = Command::new(env!("CARGO_BIN_EXE_mailprobe"))
        .args([
            "serve",
            &format!("{root}/scenarios/interop/served-provider.yaml"),
            "--for",
            "60s",
        ])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut commands = Vec::new();
    for line in BufReader::new(served.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some((_, command)) = line.split_once(": mailprobe probe ") {
            commands.push(command.to_string());
            if commands.len() == 4 {
                break;
            }
        }
    }
    assert_eq!(commands.len(), 4, "{commands:?}");
    (served, commands)
}

/// Runs each printed `probe` command; each must find the account working.
fn probe_each(commands: &[String]) {
    for command in commands {
        let mut args = vec!["probe"];
        args.extend(command.split(' '));
        let output = Command::new(env!("CARGO_BIN_EXE_mailprobe"))
            .args(&args)
            .env("MAILPROBE_PASSWORD", "hunter2")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{command}\n{stdout}");
        assert!(stdout.contains("diagnosis: ok"), "{stdout}");
    }
}

/// `serve` prints, for each mail port, the `probe` command that reaches it
/// as the world's client would; that command finds the served account
/// working (the right TLS name, the world's root).
#[test]
fn serve_prints_probe_commands_that_work() {
    let ca = std::env::temp_dir().join(format!("mailprobe-cli-{}-served.pem", std::process::id()));
    let (mut served, commands) = serve_provider(&["--ca-out", ca.to_str().unwrap()]);
    probe_each(&commands);
    let _ = served.kill();
    let _ = served.wait();
    // The same on a multi-threaded runtime.
    let (mut served, commands) =
        serve_provider(&["--ca-out", ca.to_str().unwrap(), "--threads", "2"]);
    probe_each(&commands);
    let _ = served.kill();
    let _ = served.wait();
    let _ = std::fs::remove_file(ca);
}

/// `--ca-dir` keeps the root between runs (a client imports it once), and
/// `--ca-key ecdsa` serves ECDSA for clients without Ed25519.
#[test]
fn serve_keeps_its_root_and_speaks_ecdsa() {
    let dir = std::env::temp_dir().join(format!("mailprobe-cli-{}-ca-dir", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let options = ["--ca-dir", dir.to_str().unwrap(), "--ca-key", "ecdsa"];
    let (mut first, _) = serve_provider(&options);
    let kept = std::fs::read_to_string(dir.join("ca.pem")).unwrap();
    let _ = first.kill();
    let _ = first.wait();
    // The second run makes the same root from the kept key: the file the
    // client imported still verifies what it serves.
    let imported = dir.join("imported.pem");
    std::fs::write(&imported, &kept).unwrap();
    let (mut second, commands) = serve_provider(&options);
    let commands: Vec<String> = commands
        .iter()
        .map(|c| {
            c.replace(
                &dir.join("ca.pem").display().to_string(),
                imported.to_str().unwrap(),
            )
        })
        .collect();
    probe_each(&commands);
    let _ = second.kill();
    let _ = second.wait();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_account_file_instead_of_flags() {
    let (address, pem) = loopback_server(1, "account");
    let dir = std::env::temp_dir().join(format!("mailprobe-cli-{}-account", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let account = dir.join("account.yaml");
    std::fs::write(
        &account,
        format!(
            "# The account, as a scenario's client: block, without the password.\n\
             timeouts: {{ connect: 5s, reply: 5s }}\n\
             smtp: {{ host: 127.0.0.1, port: {}, security: starttls, user: taro, from: taro@loopback.example }}\n",
            address.port()
        ),
    )
    .unwrap();
    let ca = pem.to_str().unwrap();
    let path = account.to_str().unwrap();
    let args = [
        "probe",
        "--account",
        path,
        "--password-env",
        "MAILPROBE_TEST_PASSWORD",
        "--ca",
        ca,
    ];
    let output = mailprobe(&args);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("diagnosis: ok"), "{stdout}");

    std::fs::write(
        &account,
        "smtp: { host: 127.0.0.1, port: 25, user: taro, password: hunter2 }\n",
    )
    .unwrap();
    let output = mailprobe(&args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("account.yaml:1:"), "{stderr}");
    assert!(stderr.contains("--password-env"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_file(pem);
}

/// A served world reached as the scenario's internet (`serve --map`,
/// `probe --connect-map`): the seed's OP25B behind a local scanner is named
/// as in the scenario, follow-ups and the control host included.
#[test]
fn a_served_world_probed_through_its_map() {
    let dir = std::env::temp_dir().join(format!("mailprobe-cli-{}-map", std::process::id()));
    let (mut served, map, ca) = serve_with_map("scenarios/seed/op25b-behind-scanner.yaml", &dir);
    let map_text = std::fs::read_to_string(&map).unwrap();
    assert!(
        map_text.contains("smtp.other.example:587 127.0.0.1:"),
        "{map_text}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_mailprobe"))
        .args(["probe", "--smtp", "smtp.other.example", "--port", "25"])
        .args(["--security", "none", "--user", "taro"])
        .args(["--password-env", "MAILPROBE_TEST_PASSWORD"])
        .args(["--control", "mail.isp.example", "--quiet"])
        .args(["--connect-timeout", "3s", "--reply-timeout", "3s"])
        .arg("--connect-map")
        .arg(&map)
        .arg("--ca")
        .arg(&ca)
        .env("MAILPROBE_TEST_PASSWORD", "hunter2")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("diagnosis: outbound-port-25-blocked"),
        "{text}"
    );
    assert!(
        text.contains("suggestion: port 587 security=starttls"),
        "{text}"
    );
    let _ = served.kill();
    let _ = served.wait();
    let _ = std::fs::remove_dir_all(dir);
}

/// Serves the scenario at `scenario` (below the crate) for a minute, with
/// its map and root in `dir`, once it says it is serving.
fn serve_with_map(
    scenario: &str,
    dir: &std::path::Path,
) -> (std::process::Child, std::path::PathBuf, std::path::PathBuf) {
    use std::io::{BufRead, BufReader};
    std::fs::create_dir_all(dir).unwrap();
    let (map, ca) = (dir.join("world.map"), dir.join("ca.pem"));
    let mut served = Command::new(env!("CARGO_BIN_EXE_mailprobe"))
        .arg("serve")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(scenario))
        .args(["--for", "60s"])
        .arg("--map")
        .arg(&map)
        .arg("--ca-out")
        .arg(&ca)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(served.stdout.take().unwrap());
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 && !line.starts_with("serving") {
        line.clear();
    }
    (served, map, ca)
}

/// An account file with SMTP and POP3, probed live against a served
/// POP-before-SMTP world: the refused recipient is tried again after a
/// POP3 login, and the cause is named.
#[test]
fn an_account_file_with_pop3_checks_pop_before_smtp() {
    let dir = std::env::temp_dir().join(format!("mailprobe-cli-{}-pbs", std::process::id()));
    let (mut served, map, ca) =
        serve_with_map("scenarios/catalogue/server/pop-before-smtp.yaml", &dir);
    let account = dir.join("account.yaml");
    std::fs::write(
        &account,
        "timeouts: { connect: 3s, reply: 3s }\n\
         smtp: { host: mail.oldisp.example, port: 25, security: none }\n\
         pop3: { host: mail.oldisp.example, port: 110, security: none, user: hanako }\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_mailprobe"))
        .arg("probe")
        .arg("--account")
        .arg(&account)
        .args(["--password-env", "MAILPROBE_TEST_PASSWORD", "--quiet"])
        .arg("--connect-map")
        .arg(&map)
        .arg("--ca")
        .arg(&ca)
        .env("MAILPROBE_TEST_PASSWORD", "sakura-2004")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("diagnosis: pop-before-smtp"), "{text}");
    assert!(text.contains("after a POP3 login"), "{text}");
    let _ = served.kill();
    let _ = served.wait();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn command_line_habits() {
    let empty = std::env::temp_dir().join(format!("mailprobe-cli-{}-empty", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let empty = empty.to_str().unwrap();
    for command in ["check", "run"] {
        let output = mailprobe(&[command, empty]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{command}: {stderr}");
        assert!(stderr.contains("no scenario files"), "{command}: {stderr}");
    }
    let output = mailprobe(&["explain", "outbound-port-25-blokced"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr.contains("did you mean `outbound-port-25-blocked`?"),
        "{stderr}"
    );
    let output = mailprobe(&["bench", "--rounds", "0"]);
    assert_eq!(output.status.code(), Some(2));

    // --bless says what it wrote.
    let dir = std::env::temp_dir().join(format!("mailprobe-cli-{}-bless", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let scenario =
        std::fs::read_to_string(format!("{root}/scenarios/causes/auth-failed-smtp.yaml")).unwrap();
    std::fs::write(
        dir.join("pinned.yaml"),
        format!("{scenario}snapshot: pinned.txt\n"),
    )
    .unwrap();
    let path = dir.join("pinned.yaml");
    let output = mailprobe(&["run", "--bless", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("wrote snapshot"), "{stdout}");
    assert!(dir.join("pinned.txt").exists());
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(empty);
}

#[test]
fn transcripts_of_files_with_one_name_in_two_folders_do_not_collide() {
    let dir = std::env::temp_dir().join(format!("mailprobe-cli-{}-mirror", std::process::id()));
    let root = env!("CARGO_MANIFEST_DIR");
    let scenario =
        std::fs::read_to_string(format!("{root}/scenarios/causes/auth-failed-smtp.yaml")).unwrap();
    for folder in ["one", "two"] {
        std::fs::create_dir_all(dir.join(folder)).unwrap();
        std::fs::write(dir.join(folder).join("same.yaml"), &scenario).unwrap();
    }
    let out = dir.join("out");
    let (one, two) = (dir.join("one/same.yaml"), dir.join("two/same.yaml"));
    let output = mailprobe(&[
        "run",
        one.to_str().unwrap(),
        two.to_str().unwrap(),
        "--transcripts",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success());
    let written: Vec<_> = [one, two]
        .iter()
        .map(|file| {
            let relative: std::path::PathBuf = file
                .components()
                .filter(|c| matches!(c, std::path::Component::Normal(_)))
                .collect();
            out.join(relative).with_extension("txt")
        })
        .collect();
    assert!(written.iter().all(|path| path.exists()), "{written:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn completions_and_a_man_page_cover_every_command() {
    let bash = mailprobe(&["completions", "bash"]);
    assert!(bash.status.success());
    let script = String::from_utf8_lossy(&bash.stdout);
    assert!(script.contains("_mailprobe()"), "{script}");
    let man = mailprobe(&["man"]);
    assert!(man.status.success());
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(page.contains(".TH mailprobe 1"), "{page}");
    for command in [
        "run",
        "probe",
        "suggest",
        "serve",
        "record",
        "explain",
        "completions",
    ] {
        assert!(script.contains(command), "completions lack {command}");
        assert!(page.contains(command), "the man page lacks {command}");
    }
    let unknown = mailprobe(&["completions", "tcsh"]);
    assert_eq!(unknown.status.code(), Some(2));
}

/// Outside the repository, `run` without paths says where it looked and
/// what to do, and given paths work from anywhere.
#[test]
fn run_outside_the_repository_root() {
    let elsewhere = std::env::temp_dir();
    let root = env!("CARGO_MANIFEST_DIR");
    let nothing = Command::new(env!("CARGO_BIN_EXE_mailprobe"))
        .arg("run")
        .current_dir(&elsewhere)
        .output()
        .unwrap();
    assert_eq!(nothing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&nothing.stderr);
    assert!(stderr.contains("no scenarios/ folder in"), "{stderr}");
    assert!(stderr.contains("mailprobe run PATH"), "{stderr}");
    // A pinned snapshot is found beside its scenario, wherever run starts.
    let seed = Command::new(env!("CARGO_BIN_EXE_mailprobe"))
        .args([
            "run",
            &format!("{root}/scenarios/seed/op25b-behind-scanner.yaml"),
        ])
        .current_dir(&elsewhere)
        .output()
        .unwrap();
    assert!(
        seed.status.success(),
        "{}",
        String::from_utf8_lossy(&seed.stdout)
    );
}

/// `explain` run beside a scenario library names the files to start from.
#[test]
fn explain_points_at_scenarios_to_copy() {
    let output = Command::new(env!("CARGO_BIN_EXE_mailprobe"))
        .args(["explain", "outbound-port-25-blocked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("Scenarios here that expect it"), "{stdout}");
    assert!(
        stdout.contains("  scenarios/seed/op25b-behind-scanner.yaml\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("gmail-like-behind-scanner"), "{stdout}");

    // IMAP expectations count too.
    let output = Command::new(env!("CARGO_BIN_EXE_mailprobe"))
        .args(["explain", "mailbox-locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("  scenarios/catalogue/imap/imap-mailbox-in-use.yaml\n"),
        "{stdout}"
    );
}

/// `probe --max-tls tls1.0` emulates Outlook Express 6 on Windows XP against
/// a server of today (the fixture, POP3 on implicit TLS): the old client's
/// hello is refused, a current client's is not.
#[test]
fn an_old_clients_tls_is_refused_by_a_current_server() {
    use mock_mail_servers::{MockMail, Protocol, TlsMode};
    let (ready, addresses) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let mail = MockMail::builder()
                .pop3(TlsMode::Implicit)
                .user("taro", PASSWORD, "taro@example.test")
                .start()
                .await
                .unwrap();
            let pem =
                std::env::temp_dir().join(format!("mailprobe-cli-{}-old.pem", std::process::id()));
            std::fs::write(&pem, mail.ca_pem()).unwrap();
            let addr = mail.addr(Protocol::Pop3, TlsMode::Implicit).unwrap();
            ready.send((addr, pem)).unwrap();
            let _ = stopped.await;
        });
    });
    let (addr, pem) = addresses.recv().unwrap();
    let port = addr.port().to_string();
    let probe = |extra: &[&str]| {
        let mut args = vec![
            "probe",
            "--pop3",
            "127.0.0.1",
            "--port",
            &port,
            "--security",
            "tls",
            "--server-name",
            "localhost",
            "--user",
            "taro",
            "--password-env",
            "MAILPROBE_TEST_PASSWORD",
            "--ca",
            pem.to_str().unwrap(),
            "--quiet",
            "--connect-timeout",
            "5s",
            "--reply-timeout",
            "5s",
        ];
        args.extend_from_slice(extra);
        mailprobe(&args)
    };
    let old = probe(&["--max-tls", "tls1.0"]);
    let stdout = String::from_utf8_lossy(&old.stdout);
    assert_eq!(old.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("diagnosis: client-tls-too-old"), "{stdout}");
    assert!(stdout.contains("offering at most TLS 1.0"), "{stdout}");
    let current = probe(&[]);
    let stdout = String::from_utf8_lossy(&current.stdout);
    assert!(current.status.success(), "{stdout}");
    // Without SNI the fixture (one certificate for every name) still works.
    let unnamed = probe(&["--no-sni"]);
    let stdout = String::from_utf8_lossy(&unnamed.stdout);
    assert!(unnamed.status.success(), "{stdout}");
    let bad = probe(&["--max-tls", "tls9"]);
    assert_eq!(bad.status.code(), Some(2));
    let _ = stop.send(());
    server.join().unwrap();
    let _ = std::fs::remove_file(pem);
}

/// `run --jobs 2` prints what `--jobs 1` prints, byte for byte (the wall
/// time goes to stderr), and writes the same transcripts.
#[test]
fn jobs_do_not_change_the_output() {
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let folder = std::env::temp_dir().join(format!("mailprobe-jobs-{}", std::process::id()));
    let replay = |jobs: &str| {
        let transcripts = folder.join(jobs);
        let output = mailprobe(&[
            "run",
            "--jobs",
            jobs,
            "--transcripts",
            transcripts.to_str().unwrap(),
            scenarios.to_str().unwrap(),
        ]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stdout)
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&format!(" s on {jobs} job(s)")), "{stderr}");
        (output.stdout, transcripts)
    };
    let (one, one_dir) = replay("1");
    let (two, two_dir) = replay("2");
    assert!(one.split(|b| *b == b'\n').count() > 100);
    assert!(one == two, "stdout differs with --jobs 2");
    let files = mailprobe::scenario::discover(std::slice::from_ref(&scenarios)).unwrap();
    let mut compared = 0;
    for file in files {
        let relative = file.strip_prefix(&scenarios).unwrap().with_extension("txt");
        let (Ok(a), Ok(b)) = (
            std::fs::read(one_dir.join(&relative)),
            std::fs::read(two_dir.join(&relative)),
        ) else {
            continue;
        };
        assert_eq!(a, b, "{}", relative.display());
        compared += 1;
    }
    assert!(compared > 100, "{compared}");
    let _ = std::fs::remove_dir_all(&folder);
    let bad = mailprobe(&["run", "--jobs", "0"]);
    assert_eq!(bad.status.code(), Some(2));
}
