//! Properties of the harness as a whole: determinism, virtual time, redaction,
//! distinct diagnoses, errors people can act on.

mod common;
use common::library;

use std::path::Path;

use mailprobe::diagnose::ClientKind;
use mailprobe::harness;
use mailprobe::scenario::{self, Scenario};

fn load(relative: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(relative);
    scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Every scenario, run three times, gives the same transcript: nothing random
/// (TLS randoms, signature lengths, key sizes) reaches a transcript or the
/// virtual clock.
#[test]
fn repeated_runs_give_byte_identical_transcripts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    for file in scenario::discover(&[root]).unwrap() {
        let scenario = scenario::load(&file).unwrap();
        let first = harness::run(&scenario).unwrap().transcript;
        for _ in 0..2 {
            assert_eq!(
                first,
                harness::run(&scenario).unwrap().transcript,
                "{}",
                file.display()
            );
        }
    }
}

#[test]
fn dropped_syns_cost_virtual_seconds() {
    let run = harness::run(&load("seed/second-pc-without-scanner.yaml")).unwrap();
    let smtp = run
        .probes
        .iter()
        .find(|p| p.probe == "third-party account" && p.protocol.name() == "smtp")
        .unwrap();
    let (_, failed_at) = smtp.report.configured.span();
    assert_eq!(
        failed_at.as_secs(),
        30,
        "the connect timeout elapsed in virtual time"
    );
    assert!(run
        .transcript
        .contains("FAILED at connect: timed out after 30s"));
}

#[test]
fn the_two_0x800ccc0f_cases_get_different_diagnoses() {
    let op25b = harness::run(&load("seed/op25b-behind-scanner.yaml")).unwrap();
    let scanner = harness::run(&load("seed/gmail-like-behind-scanner.yaml")).unwrap();
    let first = &op25b.probes[0];
    let second = &scanner.probes[0];
    assert_eq!(first.client_error.as_ref().unwrap().code, "0x800CCC0F");
    assert_eq!(second.client_error.as_ref().unwrap().code, "0x800CCC0F");
    assert_eq!(first.diagnosis.cause.id(), "outbound-port-25-blocked");
    assert_eq!(second.diagnosis.cause.id(), "tls-broken-by-local-scanner");
}

#[test]
fn passwords_never_reach_transcripts() {
    for (file, password) in [
        ("seed/op25b-behind-scanner.yaml", "hunter2"),
        ("causes/auth-failed-pop3.yaml", "old-password"),
        ("seed/second-pc-without-scanner.yaml", "s3cret"),
    ] {
        let run = harness::run(&load(file)).unwrap();
        assert!(
            !run.transcript.contains(password),
            "{file} leaks its password"
        );
        let plain = mock_mail_servers::sasl::encode_plain("taro", "hunter2");
        assert!(
            !run.transcript.contains(&plain),
            "{file} leaks the AUTH PLAIN blob"
        );
    }
}

#[test]
fn wrong_expectations_fail_with_expected_and_actual() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/seed/op25b-behind-scanner.yaml"),
    )
    .unwrap()
    .replace(
        "diagnosis: outbound-port-25-blocked",
        "diagnosis: tls-broken-by-local-scanner",
    );
    let scenario = scenario::parse(&text, Path::new("edited.yaml")).unwrap();
    let run = harness::run(&scenario).unwrap();
    assert!(!run.passed());
    assert_eq!(
        run.probes[0].mismatches,
        vec![
            "diagnosis: expected tls-broken-by-local-scanner, got outbound-port-25-blocked"
                .to_string()
        ]
    );
}

const MINIMAL: &str = "name: minimal
world:
  hosts:
    mx.example:
      smtp: { ports: { 25: plain } }
client:
  smtp: { host: mx.example, port: 25 }
";

#[test]
fn a_misspelled_key_names_line_column_and_the_fix() {
    let text = MINIMAL.replace("port: 25 }", "prot: 25 }");
    let error = scenario::parse(&text, Path::new("typo.yaml")).unwrap_err();
    assert_eq!((error.line, error.column), (Some(7), Some(29)), "{error}");
    let shown = error.headline();
    assert!(
        shown.starts_with("typo.yaml:7:29: client.smtp: "),
        "{shown}"
    );
    assert!(shown.contains("unknown field `prot`"), "{shown}");
    assert!(shown.ends_with("did you mean `port`?"), "{shown}");
    // Then the line itself, with a caret under the key.
    let snippet = error.to_string().replace(&shown, "");
    assert!(
        snippet.contains("7 |   smtp: { host: mx.example, prot: 25 }"),
        "{snippet}"
    );
    assert!(
        snippet.contains("\n  |                             ^^^^"),
        "{snippet}"
    );
}

/// Messages in the file's words, at the value's own line: a port out of
/// range, a tab in the indentation, a clock that does not parse.
#[test]
fn errors_speak_the_format_s_words_at_the_value() {
    let text = MINIMAL.replace("port: 25 }", "port: 70000 }");
    let error = scenario::parse(&text, Path::new("p.yaml")).unwrap_err();
    assert_eq!(error.line, Some(7), "{error}");
    assert!(
        error
            .message
            .contains("client.smtp.port: expected a port number (1-65535), not 70000"),
        "{error}"
    );
    assert!(!error.message.contains("u16"), "{error}");

    let text = MINIMAL.replacen("  hosts:", "\thosts:", 1);
    let error = scenario::parse(&text, Path::new("t.yaml")).unwrap_err();
    assert!(
        error.message.contains("a tab in the indentation"),
        "{error}"
    );
    assert!(error.line.is_some(), "{error}");

    let text = format!("clock: 2007-13-45\n{MINIMAL}");
    let error = scenario::parse(&text, Path::new("c.yaml")).unwrap_err();
    assert_eq!((error.line, error.column), (Some(1), Some(8)), "{error}");
    assert!(error.message.starts_with("clock: invalid clock"), "{error}");
    let text = format!("{MINIMAL}clock: 1960-01-01T00:00:00Z\n");
    let error = scenario::parse(&text, Path::new("c.yaml")).unwrap_err();
    assert_eq!(error.line, Some(text.lines().count()), "{error}");
}

#[test]
fn a_misspelled_value_and_an_unknown_host_are_explained() {
    let text = MINIMAL.replace("port: 25 }", "port: 25, security: stattls }");
    let error = scenario::parse(&text, Path::new("typo.yaml"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("did you mean `starttls`?"), "{error}");

    let text = format!("{MINIMAL}  control: mx.exmaple\n");
    let error = scenario::parse(&text, Path::new("typo.yaml")).unwrap_err();
    assert_eq!(error.line, Some(8));
    assert!(
        error.message.contains("did you mean `mx.example`?"),
        "{error}"
    );

    let text = format!("{MINIMAL}expect:\n  smtp: {{ diagnosis: outbound-port-25-blokced }}\n");
    let error = scenario::parse(&text, Path::new("typo.yaml")).unwrap_err();
    assert!(
        error
            .message
            .contains("did you mean `outbound-port-25-blocked`?"),
        "{error}"
    );
}

#[test]
fn bad_names_inside_hosts_are_located() {
    let text = MINIMAL.replace(
        "    mx.example:\n",
        "    mx.example:\n      certificate: { names: [\"bad name\"] }\n",
    );
    let error = scenario::parse(&text, Path::new("names.yaml")).unwrap_err();
    assert_eq!(error.line, Some(5), "{error}");
    assert!(
        error
            .message
            .contains("`bad name` is not a valid domain name"),
        "{error}"
    );
}

/// A store may hold roots this world has no use for (an old store's DST
/// Root CA X3), but a root's name in the wrong case is a slip, named.
#[test]
fn a_trust_store_names_roots_in_their_own_spelling() {
    let with_trust = |names: &str| format!("{MINIMAL}  trust: [{names}]\n");
    let text = with_trust("\"DST Root CA X3\", \"mailprobe World Root CA\"");
    assert!(scenario::parse(&text, Path::new("old.yaml")).is_ok());
    let error = scenario::parse(
        &with_trust("\"mailprobe world root ca\""),
        Path::new("case.yaml"),
    )
    .unwrap_err();
    assert_eq!((error.line, error.column), (Some(8), Some(12)), "{error}");
    assert!(
        error
            .message
            .contains("the world's root is spelt `mailprobe World Root CA`"),
        "{error}"
    );
}

#[test]
fn an_intermediate_cannot_come_from_another_issuer() {
    for mixed in [
        "{ intermediate: missing, issuer: \"Other CA\" }",
        "{ intermediate: sent, self_signed: true }",
    ] {
        let text = MINIMAL.replace(
            "    mx.example:\n",
            &format!("    mx.example:\n      without_sni: {mixed}\n"),
        );
        let error = scenario::parse(&text, Path::new("chain.yaml")).unwrap_err();
        assert!(
            error
                .message
                .contains("`intermediate` chains the certificate to the world's root"),
            "{error}"
        );
    }
}

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    for text in [
        "",
        "name: [",
        "- a\n- b\n",
        "name: x\nworld: 5\nclient: {}\n",
        "\u{0}\u{1}",
    ] {
        assert!(
            scenario::parse(text, Path::new("bad.yaml")).is_err(),
            "{text:?}"
        );
    }
}

/// The catalogue's lists of client codes per cause agree with the client
/// emulations on every scenario of the library, so `mailprobe explain CODE`
/// is complete.
#[test]
fn catalogue_codes_cover_what_the_library_shows() {
    for (file, run) in library() {
        for probe in &run.probes {
            let info = probe.diagnosis.cause.info();
            for client in ClientKind::ALL {
                let Some(error) = client.error_for(&probe.report.configured) else {
                    continue;
                };
                let listed = info.codes(client);
                assert!(
                    listed.contains(&error.code),
                    "{file}: {} shows {} in {} but the catalogue lists {listed:?}",
                    info.id,
                    error.code,
                    client.id()
                );
            }
        }
    }
}

/// The pairs the probe cannot always tell apart (`LOOK_ALIKES`) are said,
/// with when, in `explain` for both causes and for the codes they share.
#[test]
fn look_alikes_are_said_in_explain() {
    assert!(!mailprobe::diagnose::LOOK_ALIKES.is_empty());
    for (a, b, when) in mailprobe::diagnose::LOOK_ALIKES {
        assert_ne!(a, b);
        for (this, other) in [(a, b), (b, a)] {
            let text = mailprobe::explain::explain(this.id()).unwrap();
            assert!(
                text.contains(&format!("Cannot always be told from {other}: {when}")),
                "explain {this} does not name its look-alike {other}"
            );
        }
    }
}

/// For every pair of library probes whose scenarios name different root
/// causes, the diagnoses differ, even where the client shows the same error.
/// Pairs the probe cannot always tell apart are listed, with when, in
/// `mailprobe::diagnose::LOOK_ALIKES`; the library keeps to the side of
/// each that the rules name.
#[test]
fn causes_stay_distinct() {
    let mut failing: Vec<(String, &'static str, String, &'static str)> = Vec::new();
    let runs = library();
    for (file, run) in &runs {
        for probe in &run.probes {
            let Some(expected) = probe.expected_diagnosis.clone() else {
                continue;
            };
            if expected == "ok" {
                continue;
            }
            let code = ClientKind::OutlookExpress6
                .error_for(&probe.report.configured)
                .map_or("none", |e| e.code);
            failing.push((
                format!("{file} / {}", probe.probe),
                probe.diagnosis.cause.id(),
                expected,
                code,
            ));
        }
    }
    let mut same_error_pairs = 0;
    for (i, a) in failing.iter().enumerate() {
        for b in &failing[i + 1..] {
            if a.2 != b.2 {
                assert_ne!(
                    a.1, b.1,
                    "{} and {} have different root causes but one diagnosis",
                    a.0, b.0
                );
                if a.3 == b.3 {
                    same_error_pairs += 1;
                }
            } else {
                assert_eq!(
                    a.1, b.1,
                    "{} and {} share a root cause but not a diagnosis",
                    a.0, b.0
                );
            }
        }
    }
    let causes: std::collections::BTreeSet<&str> = failing.iter().map(|f| f.1).collect();
    assert!(
        causes.len() >= 35,
        "only {} distinct causes in the library",
        causes.len()
    );
    assert!(
        same_error_pairs >= 50,
        "only {same_error_pairs} pairs share an Outlook Express error"
    );
}

/// A pinned transcript must match byte for byte; `bless` rewrites it.
#[test]
fn snapshots_pin_transcripts() {
    let folder = std::env::temp_dir().join(format!("mailprobe-snapshot-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let file = folder.join("pinned.yaml");
    let text = format!("{MINIMAL}snapshot: pinned.txt\n");
    let scenario = scenario::parse(&text, &file).unwrap();
    let run = harness::run(&scenario).unwrap();
    let missing = harness::check_snapshot(&scenario, &file, &run, false).unwrap_err();
    assert!(missing.contains("--bless"), "{missing}");
    harness::check_snapshot(&scenario, &file, &run, true).unwrap();
    harness::check_snapshot(&scenario, &file, &run, false).unwrap();
    std::fs::write(
        folder.join("pinned.txt"),
        run.transcript.replace("220 ", "221 "),
    )
    .unwrap();
    let differs = harness::check_snapshot(&scenario, &file, &run, false).unwrap_err();
    assert!(differs.contains("differs from snapshot"), "{differs}");
    std::fs::remove_dir_all(&folder).unwrap();
}

/// Mangled scenario files give errors, never panics, and the errors point
/// into the file; those that still parse replay without panicking.
#[test]
fn mangled_scenarios_are_errors_not_panics() {
    let original = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/seed/op25b-behind-scanner.yaml"),
    )
    .unwrap();
    let mut state: u64 = 0x5eed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = b" :{}[],-#\n\"'abcxyz0123456789";
    for _ in 0..300 {
        let mut text = original.clone().into_bytes();
        for _ in 0..(1 + next() % 4) {
            let at = (next() as usize) % text.len();
            match next() % 3 {
                0 => {
                    text.remove(at);
                }
                1 => text.insert(at, alphabet[(next() as usize) % alphabet.len()]),
                _ => text[at] = alphabet[(next() as usize) % alphabet.len()],
            }
        }
        let text = String::from_utf8_lossy(&text);
        match scenario::parse(&text, Path::new("mangled.yaml")) {
            Err(error) => assert!(error.to_string().starts_with("mangled.yaml"), "{error}"),
            // Whatever still parses must replay without panicking.
            Ok(scenario) => drop(harness::run(&scenario)),
        }
    }
}

/// `suggest`'s survey in a simulated world: behind port 25 blocking, the
/// submission and implicit-TLS ports work and are recommended.
#[test]
fn a_survey_behind_port_25_blocking() {
    use mailprobe::diagnose::{cause_of, recommend};
    use mailprobe::probe::tls::{TlsClient, VirtualClock};
    use mailprobe::probe::{Prober, Protocol, Security, Timeouts};
    use std::sync::Arc;

    let scenario = load("catalogue/network/op25b-dropped.yaml");
    let spec = scenario.client.as_ref().unwrap().smtp.clone().unwrap();
    let runtime = harness::scenario_runtime().unwrap();
    let attempts = runtime.block_on(async {
        let clock = harness::scenario_clock(&scenario);
        let world = harness::world::build(&scenario.world, clock).unwrap();
        let now = u64::try_from(clock.unix_timestamp()).unwrap();
        let tls = TlsClient::new(
            world.roots.clone(),
            Arc::new(VirtualClock::starting_at(now)),
        );
        let prober = Prober::new(Arc::new(world.network.clone()), tls, Timeouts::default());
        prober.survey(&spec.account(Protocol::Smtp)).await
    });
    let summary: Vec<(u16, Security, &str)> = attempts
        .iter()
        .map(|a| (a.endpoint.port, a.endpoint.security, cause_of(a).id()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (587, Security::StartTls, "ok"),
            (465, Security::Tls, "ok"),
            (25, Security::StartTls, "connect-timed-out"),
            (25, Security::None, "connect-timed-out"),
            (587, Security::None, "ok"),
        ]
    );
    let best = recommend(&attempts, Security::StartTls).unwrap();
    assert_eq!(
        (best.endpoint.port, best.endpoint.security),
        (587, Security::StartTls)
    );
    // An account that asked for implicit TLS is pointed at it first.
    let best = recommend(&attempts, Security::Tls).unwrap();
    assert_eq!(
        (best.endpoint.port, best.endpoint.security),
        (465, Security::Tls)
    );
}

/// Every shipped scenario names the schema for editors, by a relative path
/// that leads to it from the file's own folder.
#[test]
fn every_scenario_points_editors_at_the_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let schema = root.join("scenario.schema.json").canonicalize().unwrap();
    for file in scenario::discover(std::slice::from_ref(&root)).unwrap() {
        let text = std::fs::read_to_string(&file).unwrap();
        let first = text.lines().next().unwrap_or("");
        let relative = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| panic!("{}: no schema line", file.display()));
        let target = file.parent().unwrap().join(relative).canonicalize();
        assert_eq!(target.ok().as_ref(), Some(&schema), "{}", file.display());
    }
}

/// The README's table of client codes per cause is the catalogue's.
#[test]
fn the_readme_lists_each_cause_with_the_codes_clients_show() {
    use mailprobe::diagnose::Cause;
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let table = readme
        .split("<!-- codes:begin -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- codes:end -->").next())
        .expect("README.md has the codes table between its markers");
    let listed = |codes: &[&str]| {
        if codes.is_empty() {
            "—".to_string()
        } else {
            codes.join(", ")
        }
    };
    let expected: Vec<String> = Cause::ALL
        .iter()
        .map(|cause| cause.info())
        .filter(|info| !matches!(info.id, "ok" | "unknown"))
        .map(|info| {
            format!(
                "| `{}` | {} | {} |",
                info.id,
                listed(info.codes(ClientKind::OutlookExpress6)),
                listed(info.codes(ClientKind::Thunderbird))
            )
        })
        .collect();
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("| `")).collect();
    assert_eq!(
        rows, expected,
        "update the README's codes table from the catalogue"
    );
}

/// A holding scanner keeps the client waiting at the end of DATA for as
/// long as it takes to scan the message: 1 MB at its 100 KB a second is ten
/// seconds of silence after the dot; the server itself answers at once.
#[test]
fn a_holding_scanner_keeps_the_client_waiting_after_the_dot() {
    use mailprobe::net::Network;
    use std::net::SocketAddr;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    async fn reply(reader: &mut (impl AsyncBufReadExt + Unpin)) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await.unwrap();
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    }

    let scenario = load("catalogue/network/antivirus-holds-message-port-25.yaml");
    let runtime = harness::scenario_runtime().unwrap();
    let waits: Vec<std::time::Duration> = runtime.block_on(async {
        let world =
            harness::world::build(&scenario.world, harness::scenario_clock(&scenario)).unwrap();
        let address = world
            .network
            .resolve("smtp.provider.example")
            .await
            .unwrap()[0];
        let mut waits = Vec::new();
        // Port 25 through the scanner, then 587, which it does not take.
        for port in [25, 587] {
            let stream = world
                .network
                .connect(SocketAddr::new(address, port))
                .await
                .unwrap();
            let mut stream = BufReader::new(stream);
            assert!(reply(&mut stream)
                .await
                .starts_with("220 smtp.provider.example"));
            stream.write_all(b"EHLO pc.example\r\n").await.unwrap();
            let ehlo = reply(&mut stream).await;
            assert_eq!(ehlo.contains("PIPELINING"), port != 25, "{ehlo}");
            for command in [
                "MAIL FROM:<jiro@provider.example>",
                "RCPT TO:<jiro@provider.example>",
                "DATA",
            ] {
                stream
                    .write_all(format!("{command}\r\n").as_bytes())
                    .await
                    .unwrap();
                let answer = reply(&mut stream).await;
                assert!(
                    answer.starts_with('2') || answer.starts_with('3'),
                    "{answer}"
                );
            }
            let line = format!("{}\r\n", "x".repeat(998));
            for _ in 0..1000 {
                stream.write_all(line.as_bytes()).await.unwrap();
            }
            stream.write_all(b".\r\n").await.unwrap();
            let sent = tokio::time::Instant::now();
            let answer = reply(&mut stream).await;
            assert!(answer.starts_with("250"), "{answer}");
            waits.push(sent.elapsed());
        }
        waits
    });
    assert_eq!(
        waits[0].as_secs(),
        10,
        "1,000,003 bytes at 100,000 a second"
    );
    assert_eq!(waits[1], std::time::Duration::ZERO);
}

/// A replay's world agrees TLS keys with one in-process share, which only
/// its own parties use: the probe's client completes the handshake, a
/// client with fresh shares (any real one) is refused, and the same world
/// built for any client (as `serve` builds it) accepts that client.
#[test]
fn a_replayed_world_agrees_keys_only_with_its_own_parties() {
    use mailprobe::net::Network;
    use mock_mail_servers::tls::{AcceptAnyCertificate, KeyExchange};
    use std::net::SocketAddr;
    use std::sync::Arc;
    use tokio::io::AsyncReadExt;

    let scenario = load("seed/gmail-like-scanner-fixed.yaml");
    let clock = harness::scenario_clock(&scenario);
    let runtime = harness::scenario_runtime().unwrap();
    let greets = |world: harness::world::BuiltWorld, client: KeyExchange| async move {
        let address = world
            .network
            .resolve("smtp.gmail-like.example")
            .await
            .unwrap()[0];
        let stream = world
            .network
            .connect(SocketAddr::new(address, 465))
            .await
            .unwrap();
        let provider = client.provider();
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from("smtp.gmail-like.example").unwrap();
        let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, stream)
            .await
            .map_err(|e| e.to_string())?;
        let mut greeting = [0u8; 4];
        tls.read_exact(&mut greeting)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(greeting == *b"220 ")
    };
    runtime.block_on(async {
        let for_probe = || harness::world::build_for_probe(&scenario.world, clock).unwrap();
        let for_anyone = || harness::world::build(&scenario.world, clock).unwrap();
        assert_eq!(for_probe().key_exchange(), KeyExchange::InProcess);
        assert_eq!(greets(for_probe(), KeyExchange::InProcess).await, Ok(true));
        let refused = greets(for_probe(), KeyExchange::Fresh).await;
        assert!(refused.is_err(), "{refused:?}");
        assert_eq!(greets(for_anyone(), KeyExchange::Fresh).await, Ok(true));
    });
}
