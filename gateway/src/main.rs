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
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("auditgate: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { config } => {
            let config = Config::load(&config)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(auditgate::server::serve(config))?;
            Ok(())
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
            Ok(())
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
            Ok(())
        }
        Command::Policy { command } => run_policy(command),
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
