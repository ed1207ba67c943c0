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
        /// The log's public key (`name+id+base64`), as printed at start-up.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Print the SHA-256 of an API key, for `[[keys]] sha256` in policy.toml.
    HashKey {
        /// The key. Read from standard input when omitted (keeps it out of shell history).
        key: Option<String>,
    },
    /// Send workload W1 to a running gateway and report events/s, latency and errors.
    /// Exit status 1 when any request failed.
    Bench(auditgate::loadgen::BenchArgs),
}

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
            eprintln!("auditgate: {e:#}");
            ExitCode::FAILURE
        }
    }
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
            let key = public_key.as_deref().map(auditgate::ledger::note::NoteVerifier::parse).transpose()?;
            let bar = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} records {per_sec}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
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
            if report.checkpoints == 0 {
                println!("cannot detect truncation: there is no checkpoint to compare the log's length with");
                return Ok(ExitCode::from(3));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { config } => {
            let config = Config::load(&config)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(auditgate::server::serve(config))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig { config } => {
            let path = config;
            let config = Config::load(&path)?;
            let key = auditgate::engine::pseudonym::Pseudonymizer::new([0; 32]);
            let engine = auditgate::engine::PolicyEngine::load(&config, key)?;
            println!(
                "{}: ok ({} keys, {} policies, policy_set {})",
                path.display(),
                config.keys.len(),
                config.policy.len(),
                engine.policy_set()
            );
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
    }
}
