//! `mailprobe bench`: how fast scenarios replay, and what a replay costs.
//!
//! Every figure comes from timing replays on this machine: rounds of the
//! whole library on `jobs` threads; the plain and the TLS scenarios on
//! their own; every scenario alone on one thread, for the per-scenario
//! percentiles and for a least-squares line through "wall time against TLS
//! handshakes", whose intercept is the fixed cost of a scenario and whose
//! slope is the cost of a handshake; and a library of 1,000 scenarios made
//! by repeating the given ones, to show that time grows linearly. The
//! transcripts of every pass are compared with the first.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use super::jobs;
use super::{run, RunError, ScenarioRun};
use crate::probe::{EventKind, Step};
use crate::scenario::model::Scenario;

/// The size of the generated library.
pub const GENERATED: usize = 1000;

/// What the probe's TLS handshakes in a run number: attempts that were
/// shown a certificate, or failed at the handshake without one.
pub fn handshakes(run: &ScenarioRun) -> usize {
    run.probes
        .iter()
        .flat_map(|probe| probe.report.attempts())
        .map(|attempt| {
            let certificates = attempt
                .events
                .iter()
                .filter(|e| matches!(e.what, EventKind::Certificate(_)))
                .count();
            let refused_bare =
                certificates == 0 && matches!(attempt.failure(), Some((Step::TlsHandshake, _)));
            certificates + usize::from(refused_bare)
        })
        .sum()
}

/// One pass over some scenarios: its wall time and each run's transcript.
struct Pass {
    wall: Duration,
    transcripts: Vec<String>,
}

/// Replays `scenarios` on `jobs` threads.
fn pass(scenarios: &[&Scenario], jobs: usize) -> Result<Pass, RunError> {
    let started = Instant::now();
    let mut transcripts = Vec::with_capacity(scenarios.len());
    let mut failed = None;
    jobs::in_order(
        scenarios.len(),
        jobs,
        |i| run(scenarios[i]),
        |result| match result {
            Ok(run) => transcripts.push(run.transcript),
            Err(error) => {
                failed.get_or_insert(error);
            }
        },
    );
    match failed {
        Some(error) => Err(error),
        None => Ok(Pass {
            wall: started.elapsed(),
            transcripts,
        }),
    }
}

/// The median time to make a scenario's runtime and to build its world,
/// over `rounds` passes (certificates are made in the first and kept).
fn start_up(scenarios: &[&Scenario], rounds: usize) -> Result<(Duration, Duration), RunError> {
    let mut runtimes = Vec::new();
    let mut worlds = Vec::new();
    for _ in 0..rounds {
        for scenario in scenarios {
            let started = Instant::now();
            let runtime = super::scenario_runtime()?;
            runtimes.push(started.elapsed());
            let started = Instant::now();
            let clock = super::scenario_clock(scenario);
            runtime.block_on(async {
                super::world::build_for_probe(&scenario.world, clock).map(drop)
            })?;
            worlds.push(started.elapsed());
        }
    }
    runtimes.sort();
    worlds.sort();
    Ok((quantile(&runtimes, 0.5), quantile(&worlds, 0.5)))
}

/// The `q`-quantile (0 to 1) of sorted durations.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let last = sorted.len().saturating_sub(1);
    let index = ((last as f64) * q).round() as usize;
    sorted.get(index.min(last)).copied().unwrap_or_default()
}

/// Least squares `y = a + b x`: (a, b), or `None` when every x is the same.
fn line_fit(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    (sxx > 0.0).then(|| {
        let slope = sxy / sxx;
        (mean_y - slope * mean_x, slope)
    })
}

fn per_second(count: usize, wall: Duration) -> f64 {
    count as f64 / wall.as_secs_f64().max(1e-9)
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

/// Runs the benchmark and returns its printout, and whether every pass gave
/// the transcripts of the first.
pub fn bench(
    scenarios: &[Scenario],
    rounds: usize,
    jobs: usize,
) -> Result<(String, bool), RunError> {
    let mut out = String::new();
    let all: Vec<&Scenario> = scenarios.iter().collect();
    let count = all.len();
    // Each scenario alone, on one thread: its handshakes and wall times.
    let mut alone: Vec<(usize, Vec<Duration>)> = Vec::with_capacity(count);
    let mut reference = Vec::with_capacity(count);
    for scenario in &all {
        let mut times = Vec::with_capacity(rounds);
        let mut handshake_count = 0;
        for round in 0..rounds.max(1) {
            let started = Instant::now();
            let replayed = run(scenario)?;
            times.push(started.elapsed());
            if round == 0 {
                handshake_count = handshakes(&replayed);
                reference.push(replayed.transcript);
            }
        }
        times.sort();
        alone.push((handshake_count, times));
    }
    let mut identical = true;
    let _ = writeln!(
        out,
        "library: {count} scenarios, {} with TLS handshakes ({} handshakes in all); {jobs} job(s)",
        alone.iter().filter(|(h, _)| *h > 0).count(),
        alone.iter().map(|(h, _)| h).sum::<usize>()
    );

    let mut walls = Vec::with_capacity(rounds);
    for round in 1..=rounds.max(1) {
        let done = pass(&all, jobs)?;
        identical &= done.transcripts == reference;
        let _ = writeln!(
            out,
            "round {round}: {:.3} s wall, {:.0} scenarios/s",
            done.wall.as_secs_f64(),
            per_second(count, done.wall)
        );
        walls.push(done.wall);
    }
    walls.sort();
    let median = quantile(&walls, 0.5);
    let _ = writeln!(
        out,
        "whole library, median of {} rounds: {:.0} scenarios/s ({jobs} job(s))",
        walls.len(),
        per_second(count, median)
    );

    for (label, with_tls) in [("plain", false), ("TLS", true)] {
        let subset: Vec<&Scenario> = all
            .iter()
            .zip(&alone)
            .filter(|(_, (h, _))| (*h > 0) == with_tls)
            .map(|(s, _)| *s)
            .collect();
        if subset.is_empty() {
            continue;
        }
        let mut best = Duration::MAX;
        for _ in 0..rounds.max(1) {
            best = best.min(pass(&subset, jobs)?.wall);
        }
        let _ = writeln!(
            out,
            "{label} scenarios: {} at {:.0} scenarios/s (best of {} rounds, {jobs} job(s))",
            subset.len(),
            per_second(subset.len(), best),
            rounds.max(1)
        );
    }

    let (runtime, worlds) = start_up(&all, rounds.max(1))?;
    let _ = writeln!(
        out,
        "start-up per scenario (median): runtime {:.1} µs, world build (parsed scenario to servers ready) {:.1} µs",
        micros(runtime),
        micros(worlds)
    );

    let mut medians: Vec<Duration> = alone.iter().map(|(_, t)| quantile(t, 0.5)).collect();
    medians.sort();
    let _ = writeln!(
        out,
        "per scenario, one thread (median of its rounds): p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        micros(quantile(&medians, 0.5)),
        micros(quantile(&medians, 0.99)),
        micros(quantile(&medians, 1.0))
    );
    let points: Vec<(f64, f64)> = alone
        .iter()
        .map(|(h, t)| (*h as f64, micros(quantile(t, 0.5))))
        .collect();
    match line_fit(&points) {
        Some((fixed, per_handshake)) => {
            let _ = writeln!(
                out,
                "line fit over the scenarios: {fixed:.0} µs fixed per scenario + {per_handshake:.0} µs per TLS handshake"
            );
        }
        None => {
            let _ = writeln!(
                out,
                "line fit: every scenario has as many handshakes; no fit"
            );
        }
    }

    if count > 0 {
        let generated: Vec<&Scenario> = all.iter().copied().cycle().take(GENERATED).collect();
        let done = pass(&generated, jobs)?;
        let expected: Vec<&String> = reference.iter().cycle().take(GENERATED).collect();
        identical &= done.transcripts.iter().eq(expected);
        let per_scenario_library = median.as_secs_f64() / count as f64;
        let per_scenario_generated = done.wall.as_secs_f64() / GENERATED as f64;
        let _ = writeln!(
            out,
            "generated library of {GENERATED} (the scenarios repeated): {:.3} s wall, {:.0} scenarios/s; {:.2}x the time per scenario of the library ({:.1}x its size)",
            done.wall.as_secs_f64(),
            per_second(GENERATED, done.wall),
            per_scenario_generated / per_scenario_library.max(1e-12),
            GENERATED as f64 / count as f64
        );
    }
    let _ = writeln!(
        out,
        "transcripts identical in every pass and to one thread: {}",
        if identical { "yes" } else { "NO" }
    );
    Ok((out, identical))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_through_points_on_a_line() {
        let points = [(0.0, 50.0), (1.0, 300.0), (2.0, 550.0)];
        let (a, b) = line_fit(&points).unwrap();
        assert!((a - 50.0).abs() < 1e-9 && (b - 250.0).abs() < 1e-9);
        assert_eq!(line_fit(&[(1.0, 2.0), (1.0, 3.0)]), None);
    }

    #[test]
    fn quantiles_of_a_sorted_list() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        assert_eq!(quantile(&sorted, 0.5), Duration::from_micros(51));
        assert_eq!(quantile(&sorted, 0.99), Duration::from_micros(99));
        assert_eq!(quantile(&[], 0.5), Duration::ZERO);
    }
}
