//! Every world of the library served on loopback (`serve`) and probed over
//! real sockets through its map, as a person's own client would reach it:
//! the diagnosis equals the scenario's, except where real sockets on one
//! machine cannot show a behaviour, each listed in [`EXCEPTIONS`] with the
//! reason. A listed scenario that starts to agree fails the test too, so
//! the list only goes down.
//!
//! Everything listens on 127.0.0.1 and stops with the test. The probe's
//! timeouts are cut to two seconds (the worlds run in real time here), so
//! what only a longer wait tells is among the exceptions.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mailprobe::diagnose::diagnose;
use mailprobe::harness;
use mailprobe::harness::world::Root;
use mailprobe::net::mapped::MappedNetwork;
use mailprobe::probe::{Prober, Timeouts};
use mailprobe::scenario;

/// Scenarios (path below `scenarios/`) whose served world does not show
/// the scenario's diagnosis over real sockets, and why.
const EXCEPTIONS: &[(&str, &str)] = &[
    // A silent SYN drop: a real socket is accepted by the kernel, so the
    // client waits for a greeting instead of its connect (needs a namespace).
    (
        "causes/connect-timed-out.yaml",
        "a dropped SYN shows as a silent greeting",
    ),
    (
        "catalogue/network/captive-portal-dropped.yaml",
        "a dropped SYN shows as a silent greeting",
    ),
    // ICMP and routing answers cannot be made by a loopback socket.
    (
        "catalogue/network/host-unreachable.yaml",
        "ICMP host unreachable needs a namespace",
    ),
    (
        "catalogue/network/no-network.yaml",
        "no route at all needs a namespace",
    ),
    (
        "catalogue/network/ipv6-blackholed.yaml",
        "the map connects over IPv4 loopback only",
    ),
    (
        "catalogue/variants/ipv6-refused.yaml",
        "the map connects over IPv4 loopback only",
    ),
    (
        "catalogue/network/ipv6-service-missing.yaml",
        "the map connects over IPv4 loopback only",
    ),
    // The client's resolver is the machine's own, not the world's.
    (
        "catalogue/network/dns-unavailable.yaml",
        "a served world cannot make the client's resolver fail",
    ),
    (
        "catalogue/variants/dns-servfail.yaml",
        "a served world cannot make the client's resolver fail",
    ),
    (
        "catalogue/network/captive-portal-certificate.yaml",
        "the map knows the world's names, not a resolver answering every name",
    ),
    (
        "catalogue/variants/captive-portal-refused.yaml",
        "the map knows the world's names, not a resolver answering every name",
    ),
    (
        "catalogue/imap/imap-captive-portal.yaml",
        "the map knows the world's names, not a resolver answering every name",
    ),
    // A reset inside the world reaches the real client as a close.
    (
        "catalogue/client/thunderbird-reset.yaml",
        "the relay closes where the world resets",
    ),
    (
        "catalogue/network/link-reset.yaml",
        "the relay closes where the world resets",
    ),
    // Delays run in real time here, past the test's two-second timeouts.
    (
        "catalogue/network/link-latency.yaml",
        "real-time latency past the test's timeouts",
    ),
    (
        "catalogue/network/link-latency-patient-client.yaml",
        "real-time latency past the test's timeouts",
    ),
    (
        "catalogue/network/link-closed-after-delay.yaml",
        "real-time latency past the test's timeouts",
    ),
    (
        "catalogue/server/greeting-tarpit-patient-client.yaml",
        "a real-time tarpit past the test's timeouts",
    ),
    (
        "catalogue/variants/stall-mid-line.yaml",
        "a real-time stall past the test's timeouts",
    ),
    (
        "catalogue/imap/imap-link-stall.yaml",
        "a real-time stall past the test's timeouts",
    ),
];

/// The diagnosis of the scenario's first probe, replayed over loopback.
fn served_diagnosis(file: &Path) -> Option<(String, String)> {
    let loaded = scenario::load(file).ok()?;
    let client = loaded
        .client
        .clone()
        .or_else(|| loaded.probes.first().map(|p| p.client.clone()))?;
    let (protocol, spec) = client
        .accounts()
        .into_iter()
        .find_map(|(protocol, spec)| Some((protocol, spec?)))?;
    let expected = harness::run(&loaded)
        .ok()?
        .probes
        .first()?
        .diagnosis
        .cause
        .id();
    let clock = harness::scenario_clock(&loaded);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let probing = async {
        let served = mailprobe::serve::bind(&loaded.world, clock, 0, &Root::default())
            .await
            .ok()?;
        let mut map = MappedNetwork::default();
        for m in &served.mappings {
            map.add(&m.host, m.port, m.local);
        }
        let tls = harness::tls_client(&served.world, &client, clock);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(served.run(async {
            let _ = stopped.await;
        }));
        let timeouts = Timeouts {
            connect: Duration::from_secs(2),
            reply: Duration::from_secs(2),
            deadline: Duration::from_secs(30),
        };
        let controls = client.control.as_ref().map_or(&[][..], |c| c.as_slice());
        let prober =
            harness::as_the_client(Prober::new(Arc::new(map), tls, timeouts).at_once(), &client);
        let report = prober.probe(&spec.account(protocol), controls).await;
        let _ = stop.send(());
        let _ = serving.await;
        Some(diagnose(&report).cause.id())
    };
    // Never longer than the probe's own deadline and a margin.
    let got = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(40), probing).await })
        .unwrap_or(Some("(hung)"))?;
    Some((expected.to_string(), got.to_string()))
}

#[test]
fn every_library_world_served_and_probed_over_loopback() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let files = scenario::discover(std::slice::from_ref(&root)).unwrap();
    let mut unexpected = Vec::new();
    let mut fixed = Vec::new();
    let mut compared = 0;
    // Several worlds at once: most of the time is spent waiting.
    let results: Vec<(String, Option<(String, String)>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(files.len().div_ceil(8).max(1))
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|file| (file.display().to_string(), served_diagnosis(file)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for (file, result) in results {
        let Some((expected, got)) = result else {
            continue;
        };
        compared += 1;
        let relative = file
            .strip_prefix(&format!("{}/", root.display()))
            .unwrap_or(&file)
            .to_string();
        let listed = EXCEPTIONS.iter().any(|(f, _)| *f == relative);
        match (expected == got, listed) {
            (true, true) => fixed.push(relative),
            (false, false) => {
                unexpected.push(format!("{relative}: expected {expected}, got {got}"))
            }
            _ => {}
        }
    }
    assert!(compared > 100, "only {compared} worlds compared");
    assert!(
        fixed.is_empty(),
        "these now agree: remove them from EXCEPTIONS\n{}",
        fixed.join("\n")
    );
    assert!(
        unexpected.is_empty(),
        "{} of {compared} served worlds disagree:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
}
