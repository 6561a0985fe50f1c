//! The mailprobe command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use mailprobe::harness;
use mailprobe::scenario;

#[derive(Parser)]
#[command(
    name = "mailprobe",
    version,
    about = "Names the cause when mail will not send or receive."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay scenario files or folders and check what the probe concludes.
    Run {
        /// Scenario files or folders (default: scenarios/).
        paths: Vec<PathBuf>,
        /// Also write each scenario's transcript into this folder.
        #[arg(long, value_name = "DIR")]
        transcripts: Option<PathBuf>,
        /// Write pinned transcript snapshots instead of comparing them.
        #[arg(long)]
        bless: bool,
    },
    /// Explain a cause id (outbound-port-25-blocked) or a client error code (0x800CCC0F).
    Explain {
        /// A cause id or an error code.
        topic: String,
    },
    /// Check scenario files for errors without running them.
    Check {
        /// Scenario files or folders (default: scenarios/).
        paths: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            paths,
            transcripts,
            bless,
        } => run(&default_paths(paths), transcripts.as_deref(), bless),
        Command::Check { paths } => check(&default_paths(paths)),
        Command::Explain { topic } => mailprobe::explain::explain(&topic).map(|text| {
            print!("{text}");
            true
        }),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("mailprobe: {message}");
            ExitCode::from(2)
        }
    }
}

fn default_paths(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from("scenarios")]
    } else {
        paths
    }
}

/// The path shown for a scenario: relative to `scenarios/` when below it.
fn label(path: &Path) -> String {
    let text = path.display().to_string();
    text.strip_prefix("./").unwrap_or(&text).to_string()
}

fn run(paths: &[PathBuf], transcripts: Option<&Path>, bless: bool) -> Result<bool, String> {
    let files = scenario::discover(paths).map_err(|e| e.to_string())?;
    if files.is_empty() {
        return Err(format!("no scenario files (*.yaml) under {}", show(paths)));
    }
    let (mut passed, mut failed) = (0usize, 0usize);
    let wall = std::time::Instant::now();
    let mut virtual_time = std::time::Duration::ZERO;
    let mut replayed = 0usize;
    for file in &files {
        let scenario = match scenario::load(file) {
            Ok(scenario) => scenario,
            Err(error) => {
                println!("FAIL  {}  (cannot load) {error}", label(file));
                failed += 1;
                continue;
            }
        };
        if let Some(reason) = &scenario.ignore {
            println!("SKIP  {}  ({reason})", label(file));
            continue;
        }
        let outcome = match harness::run(&scenario) {
            Ok(outcome) => outcome,
            Err(error) => {
                println!("FAIL  {}  {error}", label(file));
                failed += 1;
                continue;
            }
        };
        replayed += 1;
        virtual_time += outcome.virtual_time;
        for probe in &outcome.probes {
            let status = if probe.passed() { "PASS" } else { "FAIL" };
            let code = match &probe.client_error {
                None => "no error".to_string(),
                Some(error) => match error.socket_error {
                    Some(socket) => format!("{} ({socket})", error.code),
                    None => error.code.to_string(),
                },
            };
            println!(
                "{status}  {}  {} / {}  {code}  {}",
                label(file),
                probe.probe,
                probe.protocol.name(),
                probe.diagnosis.cause.id()
            );
            for mismatch in &probe.mismatches {
                println!("        {mismatch}");
            }
            if probe.passed() {
                passed += 1;
            } else {
                failed += 1;
            }
        }
        if let Err(message) = harness::check_snapshot(&scenario, file, &outcome, bless) {
            println!("FAIL  {}  {message}", label(file));
            failed += 1;
        }
        if let Some(folder) = transcripts {
            write_transcript(folder, file, paths, &outcome.transcript)?;
        }
    }
    println!(
        "replayed {replayed} scenarios in {:.3} s of wall time ({:.0} s of virtual time)",
        wall.elapsed().as_secs_f64(),
        virtual_time.as_secs_f64()
    );
    println!("{passed} passed, {failed} failed");
    Ok(failed == 0)
}

/// Writes `DIR/<path below the scenario folder>.txt`.
fn write_transcript(
    folder: &Path,
    file: &Path,
    roots: &[PathBuf],
    text: &str,
) -> Result<(), String> {
    let relative = roots
        .iter()
        .filter(|root| root.is_dir())
        .find_map(|root| file.strip_prefix(root).ok())
        .unwrap_or_else(|| Path::new(file.file_name().unwrap_or_default()));
    let target = folder.join(relative).with_extension("txt");
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(&target, text).map_err(|e| format!("cannot write {}: {e}", target.display()))
}

fn check(paths: &[PathBuf]) -> Result<bool, String> {
    let files = scenario::discover(paths).map_err(|e| e.to_string())?;
    let mut ok = true;
    for file in &files {
        if let Err(error) = scenario::load(file) {
            println!("{error}");
            ok = false;
        }
    }
    println!(
        "{} files checked, {}",
        files.len(),
        if ok { "no errors" } else { "errors above" }
    );
    Ok(ok)
}

fn show(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
