//! The mailprobe command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc rather than glibc's allocator: a replay makes and drops small
/// objects at a high rate (events, lines, TLS records, tasks), and glibc's
/// took a sixth of a one-thread replay; with mimalloc `bench --jobs 1` runs
/// about a fifth faster (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use mailprobe::diagnose::ClientKind;
use mailprobe::harness;
use mailprobe::harness::transcript::escape_controls;
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
        /// Also write each probe's report (JSON) into this folder, as
        /// `<path>.<probe name>.<protocol>.json`.
        #[arg(long, value_name = "DIR")]
        reports: Option<PathBuf>,
        /// Also write a JUnit XML report to this file: one test case per
        /// scenario file, named as under `cargo test`.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// `text`, or `json`: one JSON object per probe and line on stdout
        /// (the summary goes to stderr).
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
        /// Scenarios replayed at once, 1-1024 (default: the available
        /// parallelism); the output is the same for any number.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
        jobs: Option<u16>,
    },
    /// Replay scenarios several times and print how fast, and whether every
    /// round gave the same transcripts.
    Bench {
        /// Scenario files or folders (default: scenarios/).
        paths: Vec<PathBuf>,
        /// How many rounds (1 to 1000).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=1000))]
        rounds: u16,
        /// Scenarios replayed at once, 1-1024 (default: the available parallelism).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
        jobs: Option<u16>,
    },
    /// Probe a real mail server step by step and name the cause of a failure.
    Probe(Box<ProbeArgs>),
    /// Try every standard port and security setting of a real server and
    /// suggest the one that works (the same options as probe).
    Suggest(Box<ProbeArgs>),
    /// Explain a cause id (outbound-port-25-blocked) or a client error code (0x800CCC0F).
    Explain {
        /// A cause id or an error code.
        topic: String,
    },
    /// Serve a scenario's world on 127.0.0.1 for real mail clients.
    Serve {
        /// The scenario file whose world to serve.
        scenario: PathBuf,
        /// Serve the i-th server port on BASE+i (default: any free ports).
        #[arg(long, value_name = "BASE", default_value_t = 0)]
        base_port: u16,
        /// Stop after this long (default: at Ctrl-C).
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
        duration: Option<std::time::Duration>,
        /// Write the world's root certificate (PEM) here, for clients to trust.
        #[arg(long, value_name = "FILE")]
        ca_out: Option<PathBuf>,
        /// Keep the world's root in this folder (ca.pem, ca-key.pem) and use
        /// it again next time: a mail client imports it once.
        #[arg(long, value_name = "DIR")]
        ca_dir: Option<PathBuf>,
        /// The key algorithm of the root and the servers: ed25519, or ecdsa
        /// (P-256) for clients whose TLS has no Ed25519.
        #[arg(long, default_value = "ed25519", value_parser = ["ed25519", "ecdsa"])]
        ca_key: String,
        /// Make certificates valid around the scenario's clock instead of
        /// now (real clients then see them as the probe does).
        #[arg(long)]
        scenario_clock: bool,
        /// Write `HOST:PORT ADDRESS:PORT` lines here, for `probe
        /// --connect-map` to reach the world as the scenario's internet.
        #[arg(long, value_name = "FILE")]
        map: Option<PathBuf>,
        /// Worker threads serving connections, 1-256 (default 1: one thread
        /// serves every connection; more spread busy servers over cores).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
        threads: u16,
    },
    /// Turn a probe's report (JSON) into a scenario that replays it.
    Record {
        /// The report, from `probe --report` or `run --reports`.
        report: PathBuf,
        /// Write the scenario here (default: stdout).
        #[arg(short = 'o', long = "output", value_name = "FILE.yaml")]
        output: Option<PathBuf>,
    },
    /// Print the scenario format as a JSON Schema (draft-07).
    Schema,
    /// Print a shell completion script: `mailprobe completions bash >
    /// /etc/bash_completion.d/mailprobe`.
    Completions {
        /// bash, elvish, fish, powershell or zsh.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `mailprobe man > mailprobe.1`.
    Man,
    /// Check scenario files for errors without running them.
    Check {
        /// Scenario files or folders (default: scenarios/).
        paths: Vec<PathBuf>,
    },
}

/// What `mailprobe probe` takes. The password comes from an environment
/// variable, never from the command line, where other users could see it.
#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("server").required(true).args(["smtp", "pop3", "imap", "account"]))]
struct ProbeArgs {
    /// An account file (the shape of a scenario's `client:` block, without
    /// the password) instead of --smtp/--pop3/--imap and their options;
    /// every protocol it names is probed.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["smtp", "pop3", "imap"])]
    account: Option<PathBuf>,
    /// The outgoing server to probe.
    #[arg(long, value_name = "HOST")]
    smtp: Option<String>,
    /// The incoming POP3 server to probe.
    #[arg(long, value_name = "HOST")]
    pop3: Option<String>,
    /// Emulate a client whose newest TLS is tls1.0 (Outlook Express 6 on
    /// Windows XP), tls1.1 or ssl3: its own ClientHello goes first, on TLS
    /// ports and after STARTTLS.
    #[arg(long, value_name = "VERSION", value_parser = parse_max_tls)]
    max_tls: Option<mailprobe::scenario::model::MaxTls>,
    /// Emulate a client that names no server in TLS (no SNI), as on
    /// Windows XP: a server that needs the name shows its default certificate.
    #[arg(long)]
    no_sni: bool,
    /// The incoming IMAP server to probe (LOGIN, EXAMINE INBOX, LOGOUT:
    /// read-only).
    #[arg(long, value_name = "HOST")]
    imap: Option<String>,
    /// The port, 1-65535 (default: from the protocol and security).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    port: Option<u16>,
    /// none, starttls or tls (default: starttls for SMTP, tls for POP3 and IMAP).
    #[arg(long, value_parser = ["none", "starttls", "tls"])]
    security: Option<String>,
    /// The login name.
    #[arg(long)]
    user: Option<String>,
    /// The environment variable that holds the password.
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
    /// SMTP: the sender address.
    #[arg(long)]
    from: Option<String>,
    /// SMTP: the recipient (default: an outside address, to check relaying).
    #[arg(long)]
    rcpt: Option<String>,
    /// A server known to work (the ISP's own), for differential probes
    /// (repeatable: the first that answers is the control).
    #[arg(long, value_name = "HOST")]
    control: Vec<String>,
    /// Whose error messages to show.
    #[arg(long, default_value = "outlook-express-6", value_parser = clap::builder::PossibleValuesParser::new(ClientKind::ALL.map(ClientKind::id)))]
    emulate: String,
    /// Also trust the certificates in this PEM file (repeatable).
    #[arg(long, value_name = "FILE")]
    ca: Vec<PathBuf>,
    /// TCP connect timeout, e.g. 30s.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    connect_timeout: std::time::Duration,
    /// Reply timeout, e.g. 60s.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    reply_timeout: std::time::Duration,
    /// The whole probe's deadline, follow-ups included; the probe ends with
    /// what it has when it passes.
    #[arg(long, default_value = "180s", value_parser = parse_duration)]
    deadline: std::time::Duration,
    /// Write the report (JSON, see docs/report-format.md) to this file.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// What to print on stdout: the transcript (`text`) or the report (`json`).
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    format: String,
    /// Replace the user name and mail addresses by placeholders in the report.
    #[arg(long)]
    anonymize: bool,
    /// Do not print the steps on stderr as they happen.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// The server's name for TLS (SNI and the certificate check), when
    /// HOST is an address such as 127.0.0.1.
    #[arg(long, value_name = "NAME")]
    server_name: Option<String>,
    /// Reach a world served by `serve --map FILE` as the scenario's
    /// internet: its names and ports, through the loopback ports it lists.
    #[arg(long, value_name = "FILE")]
    connect_map: Option<PathBuf>,
    /// Connect to HOST:PORT at ADDRESS:PORT instead (curl's form; repeatable).
    #[arg(long, value_name = "HOST:PORT:ADDRESS:PORT")]
    connect_to: Vec<String>,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    mailprobe::scenario::model::Seconds::parse(text).ok_or_else(|| {
        format!(
            "invalid duration {text:?}: {}",
            mailprobe::scenario::model::Seconds::EXPECTED
        )
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Rust ignores SIGPIPE, so printing into a closed pipe (`run | head`)
    // would panic; a command whose output is the point ends quietly
    // instead. `serve` keeps serving when whoever read its ports is gone.
    #[cfg(unix)]
    if !matches!(cli.command, Command::Serve { .. }) {
        // SAFETY: before any other thread exists; SIG_DFL is a valid
        // disposition for SIGPIPE.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let result = match cli.command {
        Command::Run {
            paths,
            transcripts,
            bless,
            reports,
            junit,
            format,
            jobs,
        } => default_paths(paths).and_then(|paths| {
            run(
                &paths,
                Outputs {
                    transcripts: transcripts.as_deref(),
                    reports: reports.as_deref(),
                    junit: junit.as_deref(),
                    json: format == "json",
                },
                bless,
                jobs_or_default(jobs),
            )
        }),
        Command::Check { paths } => default_paths(paths).and_then(|paths| check(&paths)),
        Command::Serve {
            scenario,
            base_port,
            duration,
            ca_out,
            ca_dir,
            ca_key,
            scenario_clock,
            map,
            threads,
        } => serve(
            &scenario,
            base_port,
            duration,
            ServedRoot {
                ca_out: ca_out.as_deref(),
                ca_dir: ca_dir.as_deref(),
                ecdsa: ca_key == "ecdsa",
                scenario_clock,
                map: map.as_deref(),
                threads: usize::from(threads),
            },
        ),
        Command::Record { report, output } => record(&report, output.as_deref()),
        Command::Schema => {
            print!("{}", mailprobe::scenario::schema::json_schema());
            Ok(true)
        }
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "mailprobe", &mut std::io::stdout());
            Ok(true)
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .and_then(|()| std::io::Write::write_all(&mut std::io::stdout(), &page))
                .map(|()| true)
                .map_err(|e| format!("cannot write the manual page: {e}"))
        }
        Command::Probe(args) => probe(*args),
        Command::Suggest(args) => suggest(*args),
        Command::Bench {
            paths,
            rounds,
            jobs,
        } => default_paths(paths)
            .and_then(|paths| bench(&paths, usize::from(rounds), jobs_or_default(jobs))),
        Command::Explain { topic } => mailprobe::explain::explain(&topic).map(|text| {
            print!("{text}");
            let examples = scenarios_expecting(&topic);
            if !examples.is_empty() {
                println!("\nScenarios here that expect it (copy one to start a case of your own):");
                for file in examples {
                    println!("  {file}");
                }
            }
            true
        }),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("mailprobe: {}", escape_controls(&message));
            ExitCode::from(2)
        }
    }
}

/// The scenario files under `scenarios/` of the working directory (if there
/// is one) that expect `topic` as a diagnosis or a client error.
fn scenarios_expecting(topic: &str) -> Vec<String> {
    let folder = PathBuf::from("scenarios");
    if !folder.is_dir() {
        return Vec::new();
    }
    let files = scenario::discover(&[folder]).unwrap_or_default();
    files
        .iter()
        .filter(|file| {
            let Ok(scenario) = scenario::load(file) else {
                return false;
            };
            let mut expectations: Vec<_> = scenario.expect.iter().collect();
            expectations.extend(scenario.probes.iter().map(|probe| &probe.expect));
            let expected = expectations.iter().flat_map(|e| e.each()).any(|e| {
                let names = |value: &Option<String>| {
                    value
                        .as_deref()
                        .is_some_and(|v| v.eq_ignore_ascii_case(topic))
                };
                names(&e.diagnosis) || names(&e.client_error)
            });
            expected
        })
        .map(|file| label(file))
        .collect()
}

/// `--max-tls`: `tls1.0`, `tls1.1` or `ssl3`.
fn parse_max_tls(text: &str) -> Result<mailprobe::scenario::model::MaxTls, String> {
    use mailprobe::scenario::model::MaxTls;
    [MaxTls::Ssl3, MaxTls::Tls10, MaxTls::Tls11]
        .into_iter()
        .find(|m| m.name().eq_ignore_ascii_case(text))
        .ok_or_else(|| format!("`{text}` is not tls1.0, tls1.1 or ssl3"))
}

/// The paths given, or `scenarios/` of the working directory. Without it,
/// an error that says where it looked and what to do.
fn default_paths(paths: Vec<PathBuf>) -> Result<Vec<PathBuf>, String> {
    if !paths.is_empty() {
        return Ok(paths);
    }
    let default = PathBuf::from("scenarios");
    if default.is_dir() {
        return Ok(vec![default]);
    }
    let here = std::env::current_dir()
        .map(|dir| dir.display().to_string())
        .unwrap_or_else(|_| "the working directory".to_string());
    Err(format!(
        "no scenarios/ folder in {here}: name scenario files or folders (mailprobe run PATH...), or run it from a folder that holds scenarios/"
    ))
}

/// The path shown for a scenario: relative to `scenarios/` when below it.
fn label(path: &Path) -> String {
    let text = path.display().to_string();
    text.strip_prefix("./").unwrap_or(&text).to_string()
}

/// Where `run` writes what it saw, besides stdout.
struct Outputs<'a> {
    transcripts: Option<&'a Path>,
    reports: Option<&'a Path>,
    junit: Option<&'a Path>,
    /// JSON lines on stdout instead of text.
    json: bool,
}

/// `--jobs`, or the available parallelism.
fn jobs_or_default(jobs: Option<u16>) -> usize {
    jobs.map_or_else(harness::jobs::default_jobs, usize::from)
}

fn run(paths: &[PathBuf], outputs: Outputs<'_>, bless: bool, jobs: usize) -> Result<bool, String> {
    use mailprobe::harness::results::{json_lines, Ending, ScenarioResult};

    let files = scenario::discover(paths).map_err(|e| e.to_string())?;
    if files.is_empty() {
        return Err(format!("no scenario files (*.yaml) under {}", show(paths)));
    }
    let wall = std::time::Instant::now();
    let mut results = Vec::with_capacity(files.len());
    // With --format json, stdout carries only JSON lines.
    let say = |line: String| {
        if outputs.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    // Replayed on `jobs` threads, printed in the order of the files.
    let replay = |index: usize| -> Result<(Vec<String>, ScenarioResult), String> {
        let file = &files[index];
        let path = label(file);
        let started = std::time::Instant::now();
        let mut notes = Vec::new();
        let replayed = replay_one(file, &path, paths, &outputs, bless, &mut notes)?;
        let result = match replayed {
            Ok((outcome, snapshot_error)) => {
                ScenarioResult::of_run(path, &outcome, snapshot_error, started.elapsed())
            }
            Err(ending) => ScenarioResult::without_run(path, ending),
        };
        Ok((notes, result))
    };
    let mut unwritten = None;
    harness::jobs::in_order(files.len(), jobs, replay, |replayed| {
        let (notes, result) = match replayed {
            Ok(replayed) => replayed,
            Err(error) => {
                unwritten.get_or_insert(error);
                return;
            }
        };
        notes.into_iter().for_each(&say);
        if outputs.json {
            for line in json_lines(&result) {
                println!("{line}");
            }
        } else {
            print_result(&result);
        }
        results.push(result);
    });
    if let Some(error) = unwritten {
        return Err(error);
    }
    if let Some(file) = outputs.junit {
        let xml = mailprobe::harness::results::junit(&results);
        std::fs::write(file, xml).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    }
    let replayed = results.iter().filter(|r| !r.probes.is_empty()).count();
    let virtual_time: std::time::Duration = results.iter().map(|r| r.virtual_time).sum();
    let probes = results.iter().flat_map(|r| &r.probes);
    let passed = probes.clone().filter(|p| p.outcome == "pass").count();
    // Failures: failed probes, plus files that failed without a failed probe
    // (cannot load, cannot build, snapshot differs).
    let failed = probes.filter(|p| p.outcome != "pass").count()
        + results
            .iter()
            .filter(|r| match &r.ending {
                Ending::Error(_) => true,
                Ending::Failed(_) => r.probes.iter().all(|p| p.outcome == "pass"),
                Ending::Passed | Ending::Skipped(_) => false,
            })
            .count();
    say(format!(
        "replayed {replayed} scenarios in {:.0} s of virtual time",
        virtual_time.as_secs_f64()
    ));
    say(format!("{passed} passed, {failed} failed"));
    // The one figure that changes from run to run goes to stderr, so that
    // stdout is the same for any --jobs, byte for byte.
    eprintln!(
        "wall time: {:.3} s on {jobs} job(s)",
        wall.elapsed().as_secs_f64()
    );
    Ok(failed == 0)
}

/// The text lines of one scenario file's result.
fn print_result(result: &mailprobe::harness::results::ScenarioResult) {
    use mailprobe::harness::results::Ending;
    let path = &result.path;
    match &result.ending {
        Ending::Skipped(reason) => println!("SKIP  {path}  ({reason})"),
        Ending::Error(reason) => println!("FAIL  {path}  {reason}"),
        Ending::Passed | Ending::Failed(_) => {
            for probe in &result.probes {
                let status = if probe.outcome == "pass" {
                    "PASS"
                } else {
                    "FAIL"
                };
                let code = match (&probe.client_error, probe.socket_error) {
                    (None, _) => "no error".to_string(),
                    (Some(code), Some(socket)) => format!("{code} ({socket})"),
                    (Some(code), None) => code.clone(),
                };
                println!(
                    "{status}  {path}  {} / {}  {code}  {}",
                    probe.probe, probe.protocol, probe.diagnosis
                );
                for mismatch in &probe.mismatches {
                    println!("        {}", escape_controls(mismatch));
                }
            }
            if let Ending::Failed(reasons) = &result.ending {
                let probe_reasons: usize = result.probes.iter().map(|p| p.mismatches.len()).sum();
                for reason in reasons.iter().skip(probe_reasons) {
                    println!("FAIL  {path}  {reason}");
                }
            }
        }
    }
}

/// Loads and replays one scenario file and writes its transcript and
/// reports: the run and the snapshot check's error, or why it did not run.
/// An `Err` of the outer result is a file that could not be written.
#[allow(clippy::type_complexity)]
fn replay_one(
    file: &Path,
    path: &str,
    roots: &[PathBuf],
    outputs: &Outputs<'_>,
    bless: bool,
    notes: &mut Vec<String>,
) -> Result<
    Result<(harness::ScenarioRun, Option<String>), mailprobe::harness::results::Ending>,
    String,
> {
    use mailprobe::harness::results::Ending;
    let scenario = match scenario::load(file) {
        Ok(scenario) => scenario,
        Err(error) => return Ok(Err(Ending::Error(format!("(cannot load) {error}")))),
    };
    if let Some(reason) = &scenario.ignore {
        return Ok(Err(Ending::Skipped(reason.clone())));
    }
    let outcome = match harness::run(&scenario) {
        Ok(outcome) => outcome,
        Err(error) => return Ok(Err(Ending::Error(error.to_string()))),
    };
    let snapshot_error = match harness::check_snapshot(&scenario, file, &outcome, bless) {
        Ok(Some(written)) => {
            notes.push(format!("wrote snapshot {} for {path}", written.display()));
            None
        }
        Ok(None) => None,
        Err(message) => Some(message),
    };
    if let Some(folder) = outputs.transcripts {
        write_output(folder, file, roots, "txt", &outcome.transcript)?;
    }
    if let Some(folder) = outputs.reports {
        for (probe, report) in outcome.probes.iter().zip(outcome.reports()) {
            let slug: String = probe
                .probe
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect();
            let extension = format!("{slug}.{}.json", probe.protocol.name());
            write_output(folder, file, roots, &extension, &report.to_json())?;
        }
    }
    Ok(Ok((outcome, snapshot_error)))
}

/// Writes `DIR/<path below the scenario folder>.<extension>`.
fn write_output(
    folder: &Path,
    file: &Path,
    roots: &[PathBuf],
    extension: &str,
    text: &str,
) -> Result<(), String> {
    // Below the folder given, or else the file's own path (without its root
    // or `..`), so two files of one name in two folders never collide.
    let relative: PathBuf = roots
        .iter()
        .filter(|root| root.is_dir())
        .find_map(|root| file.strip_prefix(root).ok())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| {
            file.components()
                .filter(|c| matches!(c, std::path::Component::Normal(_)))
                .collect()
        });
    let target = folder.join(relative).with_extension(extension);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(&target, text).map_err(|e| format!("cannot write {}: {e}", target.display()))
}

/// The live requests a `probe` or `suggest` command line describes: one,
/// or one per protocol of an `--account` file.
fn live_requests(args: ProbeArgs) -> Result<Vec<mailprobe::live::LiveRequest>, String> {
    use mailprobe::probe::{Protocol, Timeouts};
    use mailprobe::scenario::model::{AccountSpec, SecuritySpec};

    let password = match &args.password_env {
        Some(variable) => Some(std::env::var(variable).map_err(|_| {
            format!(
                "--password-env {variable}: the environment variable is not set; export it first"
            )
        })?),
        None => None,
    };
    let flag_timeouts = Timeouts {
        connect: args.connect_timeout,
        reply: args.reply_timeout,
        deadline: args.deadline,
    };
    let flag_client = ClientKind::ALL
        .into_iter()
        .find(|kind| kind.id() == args.emulate)
        .unwrap_or_default();
    let mut connect_map = match &args.connect_map {
        Some(path) => {
            let text = scenario::load::read_text(path, MAX_MAP_BYTES)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            mailprobe::net::mapped::MappedNetwork::parse(&text)
                .map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => Default::default(),
    };
    for spec in &args.connect_to {
        connect_map.connect_to(spec)?;
    }
    let request =
        |protocol, account: AccountSpec, control, client, timeouts| mailprobe::live::LiveRequest {
            protocol,
            account,
            controls: control,
            client,
            timeouts,
            extra_roots: args.ca.clone(),
            anonymize: args.anonymize,
            show_steps: !args.quiet,
            server_name: args.server_name.clone(),
            connect_map: connect_map.clone(),
            max_tls: args.max_tls,
            sni: !args.no_sni,
            receiving: None,
        };
    if let Some(path) = &args.account {
        let client = scenario::load_account(path).map_err(|e| e.to_string())?;
        let timeouts = Timeouts {
            connect: client
                .timeouts
                .connect
                .map_or(flag_timeouts.connect, |s| s.0),
            reply: client.timeouts.reply.map_or(flag_timeouts.reply, |s| s.0),
            deadline: client
                .timeouts
                .deadline
                .map_or(flag_timeouts.deadline, |s| s.0),
        };
        let kind = match client.emulate {
            scenario::model::ClientName::OutlookExpress6 => ClientKind::OutlookExpress6,
            scenario::model::ClientName::Thunderbird => ClientKind::Thunderbird,
            scenario::model::ClientName::Outlook => ClientKind::Outlook,
        };
        let control = if args.control.is_empty() {
            client.control.map(|c| c.0).unwrap_or_default()
        } else {
            args.control.clone()
        };
        let receiving = client.pop3.clone().map(|spec| AccountSpec {
            password: password.clone(),
            ..spec
        });
        let accounts = [
            (Protocol::Smtp, client.smtp),
            (Protocol::Pop3, client.pop3),
            (Protocol::Imap, client.imap),
        ];
        return Ok(accounts
            .into_iter()
            .filter_map(|(protocol, spec)| {
                let account = AccountSpec {
                    password: password.clone(),
                    ..spec?
                };
                let mut request = request(protocol, account, control.clone(), kind, timeouts);
                request.max_tls = request.max_tls.or(client.max_tls);
                request.sni &= client.sni;
                if protocol == Protocol::Smtp {
                    request.receiving = receiving.clone();
                }
                Some(request)
            })
            .collect());
    }
    let (protocol, host) = match (args.smtp.clone(), args.pop3.clone(), args.imap.clone()) {
        (Some(host), _, _) => (Protocol::Smtp, host),
        (None, Some(host), _) => (Protocol::Pop3, host),
        (None, None, Some(host)) => (Protocol::Imap, host),
        (None, None, None) => {
            return Err("give --smtp HOST, --pop3 HOST, --imap HOST or --account FILE".into())
        }
    };
    let security = match (args.security.as_deref(), protocol) {
        (Some("none"), _) => SecuritySpec::None,
        (Some("tls"), _) | (None, Protocol::Pop3 | Protocol::Imap) => SecuritySpec::Tls,
        _ => SecuritySpec::Starttls,
    };
    let account = AccountSpec {
        host,
        port: args.port.map(mailprobe::scenario::model::Port),
        security,
        user: args.user.clone(),
        password,
        from: args.from.clone(),
        rcpt: args.rcpt.clone(),
        message_size: None,
    };
    Ok(vec![request(
        protocol,
        account,
        args.control.clone(),
        flag_client,
        flag_timeouts,
    )])
}

fn probe(args: ProbeArgs) -> Result<bool, String> {
    let (report_file, json) = (args.report.clone(), args.format == "json");
    let requests = live_requests(args)?;
    let several = requests.len() > 1;
    let mut all_ok = true;
    for request in &requests {
        let live = mailprobe::live::probe(request).map_err(|e| e.to_string())?;
        if live.interrupted {
            eprintln!("mailprobe: interrupted; what was seen so far follows");
        }
        let report = live.report.to_json();
        if let Some(path) = &report_file {
            // One report per protocol: FILE, or FILE.smtp.json and FILE.pop3.json.
            let path = if several {
                path.with_extension(format!("{}.json", request.protocol.name()))
            } else {
                path.clone()
            };
            std::fs::write(&path, &report)
                .map_err(|e| format!("cannot write the report to {}: {e}", path.display()))?;
        }
        if json {
            print!("{report}");
        } else {
            let mut text = String::new();
            mailprobe::harness::transcript::write_probe(&mut text, &live.run);
            print!("{text}");
        }
        all_ok &= live.run.report.configured.is_ok();
        if live.interrupted {
            break;
        }
    }
    Ok(all_ok)
}

fn suggest(args: ProbeArgs) -> Result<bool, String> {
    let mut found = true;
    for request in live_requests(args)? {
        found &= suggest_one(&request)?;
    }
    Ok(found)
}

fn suggest_one(request: &mailprobe::live::LiveRequest) -> Result<bool, String> {
    use mailprobe::diagnose::{cause_of, recommend};

    let attempts = mailprobe::live::survey(request).map_err(|e| e.to_string())?;
    println!(
        "{} {}",
        request.protocol.name(),
        escape_controls(&request.account.host)
    );
    for attempt in &attempts {
        let endpoint = &attempt.endpoint;
        let withheld = attempt
            .events
            .iter()
            .any(|e| matches!(e.what, mailprobe::probe::EventKind::Withheld(_)));
        let verdict = match attempt.failure() {
            None if withheld => {
                "answers without encryption (not tried with the account: credentials withheld)"
                    .to_string()
            }
            None if endpoint.security == mailprobe::probe::Security::None => {
                "works, without encryption (never suggested)".to_string()
            }
            None => "works".to_string(),
            Some((step, failure)) => {
                format!("{}: {} failed: {failure}", cause_of(attempt), step.name())
            }
        };
        println!(
            "  {:>5} {:<9} {}",
            endpoint.port,
            endpoint.security.name(),
            escape_controls(&verdict)
        );
    }
    match recommend(&attempts, request.account.security.security()) {
        Some(best) => {
            println!(
                "suggested: port {} with security {}",
                best.endpoint.port,
                best.endpoint.security.name()
            );
            Ok(true)
        }
        None => {
            println!("no encrypted setting worked; `mailprobe probe` with the account's settings tells why");
            Ok(false)
        }
    }
}

fn bench(paths: &[PathBuf], rounds: usize, jobs: usize) -> Result<bool, String> {
    let files = scenario::discover(paths).map_err(|e| e.to_string())?;
    let scenarios: Vec<_> = files
        .iter()
        .map(|file| scenario::load(file).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let (printout, identical) =
        harness::bench::bench(&scenarios, rounds, jobs).map_err(|e| e.to_string())?;
    print!("{printout}");
    Ok(identical)
}

/// How `serve` makes and hands out the world's root.
struct ServedRoot<'a> {
    ca_out: Option<&'a Path>,
    ca_dir: Option<&'a Path>,
    ecdsa: bool,
    scenario_clock: bool,
    map: Option<&'a Path>,
    /// Worker threads of the runtime (1: the calling thread alone).
    threads: usize,
}

/// The root kept in `dir` (its key and a fixed, long validity), if any.
fn kept_root(dir: &Path, ecdsa: bool) -> Result<mailprobe::harness::world::Root, String> {
    use mock_mail_servers::tls::{KeyKind, Validity};
    let kind = if ecdsa {
        KeyKind::EcdsaP256
    } else {
        KeyKind::Ed25519
    };
    let key_file = dir.join("ca-key.pem");
    if !key_file.exists() {
        return Ok(mailprobe::harness::world::Root { kind, kept: None });
    }
    let key = scenario::load::read_text(&key_file, MAX_KEY_BYTES)
        .map_err(|e| format!("{}: {e}", key_file.display()))?;
    // A kept root is valid for long: it outlives the worlds it serves.
    let validity = Validity {
        not_before: time::macros::datetime!(2020-01-01 0:00 UTC),
        not_after: time::macros::datetime!(2050-01-01 0:00 UTC),
    };
    Ok(mailprobe::harness::world::Root {
        kind,
        kept: Some((key, validity)),
    })
}

fn serve(
    file: &Path,
    base_port: u16,
    duration: Option<std::time::Duration>,
    root: ServedRoot<'_>,
) -> Result<bool, String> {
    use std::io::Write;

    let scenario = scenario::load(file).map_err(|e| e.to_string())?;
    // Real clients check certificates against the real clock.
    let clock = if root.scenario_clock {
        harness::scenario_clock(&scenario)
    } else {
        time::OffsetDateTime::now_utc()
    };
    let mut world_root = match root.ca_dir {
        Some(dir) => kept_root(dir, root.ecdsa)?,
        None => mailprobe::harness::world::Root::default(),
    };
    if root.ecdsa {
        world_root.kind = mock_mail_servers::tls::KeyKind::EcdsaP256;
    }
    let (ca_out, ca_dir, map_file) = (root.ca_out, root.ca_dir, root.map);
    let runtime = match root.threads {
        0 | 1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        threads => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build(),
    }
    .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        let served = mailprobe::serve::bind(&scenario.world, clock, base_port, &world_root)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(path) = ca_out {
            std::fs::write(path, served.world.ca_pem())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        if let Some(dir) = ca_dir {
            keep_root(dir, &served.world.ca_pem(), &served.world.ca_key_pem())?;
        }
        if let Some(path) = map_file {
            let lines: String = served
                .mappings
                .iter()
                .map(|m| format!("{}:{} {}\n", m.host, m.port, m.local))
                .collect();
            std::fs::write(path, lines)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        for m in &served.mappings {
            println!(
                "{} {}:{} ({}) -> {}",
                m.service, m.host, m.port, m.mode, m.local
            );
        }
        match duration {
            Some(d) => println!(
                "serving {} ports; stopping after {:.0} s",
                served.mappings.len(),
                d.as_secs_f64()
            ),
            None => println!("serving {} ports; stop with Ctrl-C", served.mappings.len()),
        }
        let user = scenario.world.users.first().map(|u| u.user.as_str());
        let ca = ca_out
            .map(Path::to_path_buf)
            .or_else(|| ca_dir.map(|d| d.join("ca.pem")))
            .map(|p| p.display().to_string());
        for m in &served.mappings {
            if let Some(command) = probe_command(m, user, ca.as_deref()) {
                // A reader that went away must not stop the server.
                let _ = writeln!(std::io::stdout(), "probe {}:{}: {command}", m.host, m.port);
            }
        }
        let _ = std::io::stdout().flush();
        let stop = async {
            match duration {
                Some(d) => tokio::time::sleep(d).await,
                None => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        };
        served.run(stop).await;
        Ok(true)
    })
}

/// The largest report `record` reads: a probe reads at most 8 MiB from its
/// peers, and the report's JSON around that stays well below this.
const MAX_REPORT_BYTES: u64 = 64 * 1024 * 1024;
/// The largest map `probe --connect-map` reads.
const MAX_MAP_BYTES: u64 = 1024 * 1024;
/// The largest root key `serve --ca-dir` reads.
const MAX_KEY_BYTES: u64 = 64 * 1024;

fn record(report: &Path, output: Option<&Path>) -> Result<bool, String> {
    let text = scenario::load::read_text(report, MAX_REPORT_BYTES)
        .map_err(|e| format!("{}: {e}", report.display()))?;
    let parsed = mailprobe::report::Report::from_json(&text)
        .map_err(|e| format!("{}: {e}", report.display()))?;
    let scenario = mailprobe::record::record(&parsed, &report.display().to_string());
    match output {
        Some(path) => std::fs::write(path, &scenario)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        None => print!("{scenario}"),
    }
    Ok(true)
}

/// Writes the root (ca.pem) and its key (ca-key.pem, readable by the owner
/// only) into `dir` for the next `serve --ca-dir`.
fn keep_root(dir: &Path, certificate: &str, key: &str) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |path: &Path, e: std::io::Error| format!("cannot write {}: {e}", path.display());
    std::fs::create_dir_all(dir).map_err(|e| failed(dir, e))?;
    let certificate_file = dir.join("ca.pem");
    std::fs::write(&certificate_file, certificate).map_err(|e| failed(&certificate_file, e))?;
    let key_file = dir.join("ca-key.pem");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&key_file)
        .map_err(|e| failed(&key_file, e))?;
    std::io::Write::write_all(&mut file, key.as_bytes()).map_err(|e| failed(&key_file, e))
}

/// The `mailprobe probe` command that reaches a served mail port as the
/// world's client would: the loopback port, the world's name for TLS, the
/// world's root. The password comes from `MAILPROBE_PASSWORD`.
fn probe_command(
    mapping: &mailprobe::serve::Mapping,
    user: Option<&str>,
    ca: Option<&str>,
) -> Option<String> {
    let protocol = match mapping.service {
        "smtp" | "pop3" | "imap" => mapping.service,
        _ => return None,
    };
    let security = match mapping.mode {
        "plain" => "none",
        other => other,
    };
    let mut command = format!(
        "mailprobe probe --{protocol} {} --port {} --security {security} --server-name {}",
        mapping.local.ip(),
        mapping.local.port(),
        mapping.host
    );
    if let Some(user) = user {
        command.push_str(&format!(" --user {user} --password-env MAILPROBE_PASSWORD"));
    }
    if let Some(ca) = ca {
        command.push_str(&format!(" --ca {ca}"));
    }
    Some(command)
}

fn check(paths: &[PathBuf]) -> Result<bool, String> {
    let files = scenario::discover(paths).map_err(|e| e.to_string())?;
    if files.is_empty() {
        return Err(format!("no scenario files (*.yaml) under {}", show(paths)));
    }
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
