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
    }
}
