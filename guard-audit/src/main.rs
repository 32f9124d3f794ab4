//! `cargo guard-audit`: scans an axum workspace's source and prints its
//! route-by-route security report. Exit 0: ran, nothing at or above
//! `--fail-on`; 1: an unsuppressed finding at or above it; 2: could not run;
//! 3: incomplete (a file was not read or parsed).

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use guard_audit::config::FailOn;
use guard_audit::findings::Severity;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Aligned tables, then findings, warnings, files not parsed, totals.
    Text,
    /// `{report, tables, findings, totals, not_parsed, roots, warnings}`.
    Json,
    /// The text output's sections as Markdown.
    Markdown,
    /// SARIF 2.1.0 (GitHub code scanning).
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Threshold {
    Low,
    Medium,
    High,
    Critical,
    None,
}

impl Threshold {
    fn fail_on(self) -> FailOn {
        match self {
            Self::Low => FailOn::At(Severity::Low),
            Self::Medium => FailOn::At(Severity::Medium),
            Self::High => FailOn::At(Severity::High),
            Self::Critical => FailOn::At(Severity::Critical),
            Self::None => FailOn::None,
        }
    }
}

/// Statically scans an axum workspace (never builds it) and reports, route
/// by route, its authentication, guards, layers and the GA-* checks'
/// findings.
///
/// Exit status: 0 when the scan ran and no unsuppressed finding is at or
/// above --fail-on; 1 when one is; 2 when it could not run (bad arguments,
/// `cargo metadata` failed, invalid configuration, output not written); 3
/// when the scan is incomplete: a file could not be read or parsed (listed
/// as NOT PARSED), whatever the findings.
#[derive(Debug, Parser)]
#[command(name = "cargo guard-audit", bin_name = "cargo guard-audit", version)]
struct Cli {
    /// The workspace's (or a member's) Cargo.toml.
    #[arg(long, value_name = "PATH", default_value = "Cargo.toml")]
    manifest_path: PathBuf,
    /// The report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Exit 1 when an unsuppressed finding has at least this severity
    /// (overrides `fail_on` in the configuration; default none).
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<Threshold>,
    /// The configuration file (default: [workspace.metadata.guard-audit]
    /// in the workspace's root Cargo.toml, or guard-audit.toml beside it).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Write the report to this file instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Print the progress line on stderr even when it is not a terminal.
    #[arg(long)]
    progress: bool,
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().collect();
    // Run as `cargo guard-audit`, cargo passes the subcommand name first.
    if args.get(1).is_some_and(|a| a == "guard-audit") {
        args.remove(1);
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors to stderr.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let options = guard_audit::Options {
        config: cli.config.clone(),
        ..guard_audit::Options::default()
    };
    let scan = match guard_audit::scan_with(&cli.manifest_path, &options) {
        Ok(scan) => scan,
        Err(e) => {
            eprintln!("cargo guard-audit: could not run: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.progress || std::io::stderr().is_terminal() {
        eprintln!(
            "guard-audit: scanned {} files in {} crates, {} endpoints",
            scan.files,
            scan.crates,
            scan.resolved + scan.unknown
        );
    }
    let text = match cli.format {
        Format::Text => scan.to_text(),
        Format::Json => scan.to_json(),
        Format::Markdown => scan.to_markdown(),
        Format::Sarif => scan.to_sarif(),
    };
    match &cli.output {
        Some(file) => {
            if let Err(e) = std::fs::write(file, &text) {
                eprintln!("cargo guard-audit: could not write {}: {e}", file.display());
                return ExitCode::from(2);
            }
        }
        None => {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                eprintln!("cargo guard-audit: could not write the report to stdout: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if !scan.gaps.is_empty() {
        return ExitCode::from(3);
    }
    let threshold = cli.fail_on.map_or(scan.fail_on, Threshold::fail_on);
    if scan.fails(threshold) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
