//! The `auditgate` command line: the binary's edge, where errors become messages and exit
//! codes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use auditgate::config::Config;

/// Auditgate: an audit gateway with sandboxed WASM policies and a durable log.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        /// The configuration file.
        #[arg(long, short, default_value = "policy.toml", env = "AUDITGATE_CONFIG")]
        config: PathBuf,
    },
    /// Load and check a configuration file (and compile its policies), then exit.
    CheckConfig {
        #[arg(long, short, default_value = "policy.toml")]
        config: PathBuf,
    },
    /// Print a new checkpoint signing key (first line, secret) and its public key.
    Keygen {
        /// The key's name: use the `[checkpoints] origin` of the log.
        #[arg(long, default_value = "auditgate.local/audit-log")]
        name: String,
    },
    /// Check a stopped gateway's data directory: hash chain, Merkle tree, checkpoints.
    /// Exit status 0: intact; 1: damage (the first bad seq and its kind are printed);
    /// 3: intact, but there is no checkpoint to detect truncation with.
    Verify {
        /// The data directory (`[storage] data_dir`).
        #[arg(long)]
        data: PathBuf,
        /// An external checkpoint file (the one the gateway appends to, or an auditor's copy).
        #[arg(long)]
        checkpoints: Option<PathBuf>,
        /// The log's public key (`name+id+base64`, as printed at start-up) or a file holding it.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Single-record proof bundles (`GET /v1/events/{seq}/proof`).
    Proof {
        #[command(subcommand)]
        action: ProofCommand,
    },
    /// Print the SHA-256 of an API key, for `[[keys]] sha256` in policy.toml.
    HashKey {
        /// The key. Read from standard input when omitted (keeps it out of shell history).
        key: Option<String>,
    },
    /// Write and try policies: `policy new`, `policy test`.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Master key management of an encrypted store: `keys rotate-master`.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Retention: `retention run` archives and removes old records of a stopped gateway.
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// Archive segments written by retention: `archive verify SEGMENT`.
    Archive {
        #[command(subcommand)]
        command: ArchiveCommand,
    },
    /// Send workload W1 to a running gateway and report events/s, latency and errors.
    /// Exit status 1 when any request failed.
    Bench(auditgate::loadgen::BenchArgs),
    /// Download `GET /v1/export` (jsonl, csv, ocsf or cef) into a file, with the same
    /// filters; the file appears only when the whole export has arrived.
    Export(Box<auditgate::export::download::ExportArgs>),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Re-wrap every data key of a running gateway's encrypted store under a new master
    /// key (`POST /v1/admin/keys/rotate-master`); events are not rewritten. Afterwards the
    /// gateway must be started with the new key: point `storage.master_key_file` (or
    /// AUDITGATE_MASTER_KEY) at it before the next restart.
    RotateMaster {
        /// The gateway's base URL: https://, or http:// to a loopback address only.
        #[arg(long)]
        url: String,
        /// An admin API key (`[[keys]] role = "admin"`).
        #[arg(long, env = "AUDITGATE_ADMIN_KEY", hide_env_values = true)]
        key: String,
        /// A file holding the new master key (64 hex digits); else AUDITGATE_NEW_MASTER_KEY.
        #[arg(long)]
        new_key_file: Option<PathBuf>,
        /// PEM file of the CA that signed the gateway's certificate (https:// only).
        #[arg(long)]
        ca_cert: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum RetentionCommand {
    /// Run retention once on a stopped gateway's data directory (`[retention]` of the
    /// config; runs whether or not `enabled` is set), with progress on standard error.
    Run {
        #[arg(long, short, default_value = "policy.toml")]
        config: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ArchiveCommand {
    /// Prove a segment against its signed checkpoint: signature (with --public-key),
    /// records, `prev` links, roots, consistency proof. Exit status 0: proven; 1: not.
    Verify {
        /// The segment's directory (or its manifest.json).
        segment: PathBuf,
        /// The log's public key (`name+id+base64`) or a file holding it.
        #[arg(long)]
        public_key: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ProofCommand {
    /// Check one exported record offline: the checkpoint's signature, then the inclusion
    /// proof of the record against the signed root. Exit status 0: proven; 1: not.
    Verify {
        /// The bundle, as `GET /v1/events/{seq}/proof` answers it (`-` for standard input).
        bundle: PathBuf,
        /// The log's public key (`name+id+base64`) or a file holding it.
        #[arg(long)]
        public_key: String,
    },
}

/// A public key given as text, or the path of a file holding it.
fn public_key_arg(arg: &str) -> anyhow::Result<auditgate::ledger::note::NoteVerifier> {
    use auditgate::ledger::note::NoteVerifier;
    match NoteVerifier::parse(arg) {
        Ok(key) => Ok(key),
        Err(e) if std::path::Path::new(arg).is_file() => {
            let text = std::fs::read_to_string(arg).with_context(|| format!("reading {arg}"))?;
            NoteVerifier::parse(&text).with_context(|| format!("the public key in {arg} (as text: {e})"))
        }
        Err(e) => Err(e).context("--public-key"),
    }
}

/// A progress bar on standard error, hidden when that is not a terminal.
fn progress_bar() -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    let target = if std::io::stderr().is_terminal() {
        indicatif::ProgressDrawTarget::stderr()
    } else {
        indicatif::ProgressDrawTarget::hidden()
    };
    let bar = indicatif::ProgressBar::with_draw_target(None, target);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} records {per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// A spinner with bytes and lines received, on standard error when it is a terminal.
fn export_spinner() -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    let target = if std::io::stderr().is_terminal() {
        indicatif::ProgressDrawTarget::stderr()
    } else {
        indicatif::ProgressDrawTarget::hidden()
    };
    let spinner = indicatif::ProgressBar::with_draw_target(None, target);
    spinner.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {binary_bytes} {msg} {binary_bytes_per_sec}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    spinner
}

/// The process allocator. sled's writer path allocates and frees node copies for every
/// insert, and glibc's malloc was ~25% of the store writer's CPU under bulk ingest (perf).
/// Measured with bulk W1 ingest (2 runs each, 2 cores): gateway CPU per stored event
/// glibc 185/190 µs, jemalloc 159/136 µs, mimalloc 156/126 µs; peak RSS glibc ~220 MB,
/// jemalloc ~245 MB, mimalloc ~380 MB. jemalloc keeps most of the gain within the memory
/// budget.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("auditgate: {}", error_text(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line. The library's errors already name their cause in
/// their own message (and also expose it as `source()`), so a cause whose text is already
/// there is not repeated; causes from `anyhow` contexts are appended as usual.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Keygen { name } => {
            let signer = auditgate::ledger::note::NoteSigner::generate(&name)?;
            println!("{}", signer.to_text());
            println!("{}", signer.verifier().to_text());
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { data, checkpoints, public_key } => {
            let file = match &checkpoints {
                Some(p) => {
                    Some(std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)
                }
                None => None,
            };
            let key = public_key.as_deref().map(public_key_arg).transpose()?;
            let bar = progress_bar();
            let inputs = auditgate::store::offline::OfflineInputs {
                checkpoint_file: file.as_deref(),
                public_key: key.as_ref(),
            };
            let report = auditgate::store::offline::verify_dir(&data, &inputs, |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })?;
            bar.finish_and_clear();
            if let Some(d) = report.damage {
                println!("FAILED at seq {}: {}: {}", d.seq, d.kind.as_str(), d.detail);
                return Ok(ExitCode::from(1));
            }
            if report.first_seq > 1 {
                println!(
                    "records 1..{} were archived by retention (`auditgate archive verify`); verified from seq {}",
                    report.first_seq - 1,
                    report.first_seq
                );
            }
            println!(
                "ok: {} records, chain and Merkle tree intact, {} checkpoint(s) consistent{}",
                report.records,
                report.checkpoints,
                if report.signatures_checked {
                    ", signatures valid"
                } else {
                    " (signatures NOT checked: no --public-key)"
                }
            );
            if report.uncommitted > 0 {
                println!(
                    "{} record(s) above the commit marker are from a group commit that never finished: \
                     never acknowledged, not verified, removed at the gateway's next start",
                    report.uncommitted
                );
            }
            if report.checkpoints == 0 {
                println!("cannot detect truncation: there is no checkpoint to compare the log's length with");
                return Ok(ExitCode::from(3));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Proof { action: ProofCommand::Verify { bundle, public_key } } => {
            let key = public_key_arg(&public_key)?;
            let text = if bundle.as_os_str() == "-" {
                let mut buf = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
                    .context("reading standard input")?;
                buf
            } else {
                std::fs::read(&bundle).with_context(|| format!("reading {}", bundle.display()))?
            };
            let checked = auditgate::ledger::bundle::ProofBundle::parse(&text).and_then(|b| b.verify(&key));
            match checked {
                Ok(p) => {
                    println!(
                        "ok: record {} is in {} at tree size {} (signed checkpoint #{})",
                        p.seq, p.origin, p.tree_size, p.checkpoint_number
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    println!("FAILED: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Serve { config: path } => {
            let config = Config::load(&path)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(auditgate::server::serve(config, path))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig { config } => {
            let path = config;
            let config = Config::load(&path)?;
            // The TLS files are read and matched as `serve` would (nothing is kept).
            let tls = auditgate::tls::server_config(&config.server)?;
            let key = auditgate::engine::pseudonym::Pseudonymizer::new([0; 32]);
            let engine = auditgate::engine::PolicyEngine::load(&config, key)?;
            println!(
                "{}: ok ({} keys, {} policies, policy_set {}, {})",
                path.display(),
                config.keys.len(),
                config.policy.len(),
                engine.policy_set(),
                if tls.is_some() { "HTTPS" } else { "plain HTTP" }
            );
            for warning in engine.warnings() {
                println!("warning: {warning}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(args) => {
            let report = auditgate::loadgen::run_blocking(&args)?;
            print!("{}", if args.json { report.to_json() + "\n" } else { report.to_text() });
            Ok(if report.has_errors() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
        Command::HashKey { key } => {
            let key = match key {
                Some(k) => k,
                None => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line).context("reading the key from stdin")?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            anyhow::ensure!(!key.is_empty(), "the key is empty");
            println!("{}", auditgate::auth::hash_key(&key));
            Ok(ExitCode::SUCCESS)
        }
        Command::Policy { command } => run_policy(command).map(|()| ExitCode::SUCCESS),
        Command::Keys { command: KeysCommand::RotateMaster { url, key, new_key_file, ca_cert } } => {
            use auditgate::keys_cli;
            let (new_hex, new_key) = keys_cli::read_new_key(new_key_file.as_deref())?;
            let answer = keys_cli::rotate_online(&url, &key, &new_hex, ca_cert.as_deref())?;
            let text = |name: &str| answer.get(name).map(|v| v.to_string()).unwrap_or_default();
            println!(
                "ok: master key rotated from id {} to id {} ({} keys re-wrapped, rotation event seq {}); start the \
                 gateway with the new key (id {}) from now on",
                text("old_master_key_id").trim_matches('"'),
                text("new_master_key_id").trim_matches('"'),
                text("keys_rewrapped"),
                text("seq"),
                new_key.id()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Retention { command: RetentionCommand::Run { config } } => {
            let config = Config::load(&config)?;
            let report = auditgate::retention::run_offline(&config, &mut |phase, done, total| {
                eprintln!("retention: {phase} {done}/{total} records");
            })?;
            for s in &report.segments {
                println!("archived {}..={} -> {}", s.first_seq, s.last_seq, s.path.display());
            }
            println!(
                "ok: {} record(s) archived, {} removed from the store, first remaining seq {}; stopped: {} (cutoff {})",
                report.archived, report.removed, report.first_remaining, report.stopped, report.cutoff
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Archive { command: ArchiveCommand::Verify { segment, public_key } } => {
            let key = public_key.as_deref().map(public_key_arg).transpose()?;
            match auditgate::ledger::archive::verify_segment(&segment, key.as_ref()) {
                Ok(r) => {
                    println!(
                        "ok: records {}..={} proven against signed checkpoint #{} of {} (size {}){}",
                        r.first_seq,
                        r.last_seq,
                        r.checkpoint_number,
                        r.origin,
                        r.checkpoint_size,
                        if r.signature_checked {
                            ", signature valid"
                        } else {
                            " (signature NOT checked: no --public-key)"
                        }
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    println!("FAILED: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Export(args) => {
            let spinner = export_spinner();
            let done = auditgate::export::download::download(&args, |bytes, lines| {
                spinner.set_position(bytes);
                spinner.set_message(format!("{lines} lines"));
            });
            spinner.finish_and_clear();
            let done = done?;
            println!("wrote {} ({} bytes, {} lines)", args.output.display(), done.bytes, done.lines);
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Write a new policy crate NAME (in --dir, default the current directory).
    New {
        /// The crate's name (letters, digits, `-`, `_`).
        name: String,
        /// The directory to create the crate in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The auditgate-sdk crate to depend on (default: the sdk/ of the enclosing
        /// Auditgate checkout).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Run a compiled policy on events (one JSON object per line) in the gateway's engine
    /// and print each decision and resulting event. Exits non-zero if any event failed.
    Test {
        /// A `.wasm` component or `builtin:NAME`.
        #[arg(long)]
        policy: String,
        /// A TOML file with the policy's config (the keys of its `[policy.config]`).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The events file (JSON lines); `-` reads standard input.
        #[arg(long)]
        events: PathBuf,
        /// One JSON object per event instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn run_policy(command: PolicyCommand) -> anyhow::Result<()> {
    use auditgate::authoring::policy_test::{OutputFormat, PolicyTester};
    use auditgate::authoring::scaffold::{self, SdkSource};
    match command {
        PolicyCommand::New { name, dir, sdk } => {
            let made = scaffold::scaffold(&name, &dir, sdk.as_deref())?;
            println!("created {}", made.root.display());
            if made.sdk == SdkSource::Placeholder {
                println!(
                    "note: auditgate-sdk is not on crates.io and no Auditgate checkout holds {}: set its \
                     path in Cargo.toml (now {:?}) or run again with --sdk PATH",
                    made.root.display(),
                    scaffold::SDK_PLACEHOLDER
                );
            }
            println!(
                "next: cd {} && cargo test && cargo build --release --target wasm32-wasip2",
                made.root.display()
            );
            Ok(())
        }
        PolicyCommand::Test { policy, config, events, json } => {
            let tester = PolicyTester::load(&policy, config.as_deref())?;
            let format = if json { OutputFormat::Json } else { OutputFormat::Text };
            let mut out = std::io::stdout().lock();
            let summary = if events.as_os_str() == "-" {
                tester.run(std::io::stdin().lock(), &mut out, format)?
            } else {
                let file = std::fs::File::open(&events)
                    .with_context(|| format!("cannot open the events file {}", events.display()))?;
                tester.run(std::io::BufReader::new(file), &mut out, format)?
            };
            anyhow::ensure!(
                summary.failed == 0,
                "{} of {} events failed (see above)",
                summary.failed,
                summary.events
            );
            Ok(())
        }
    }
}
