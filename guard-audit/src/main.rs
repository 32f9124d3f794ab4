//! `cargo guard-audit [--manifest-path P] [--format text|json]`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "guard-audit") {
        args.remove(0);
    }
    let mut manifest = PathBuf::from("Cargo.toml");
    let mut json = false;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--manifest-path" => match it.next() {
                Some(p) => manifest = PathBuf::from(p),
                None => return usage("--manifest-path needs a path"),
            },
            "--format" => match it.next().as_deref() {
                Some("text") => json = false,
                Some("json") => json = true,
                _ => return usage("--format is text or json"),
            },
            "-h" | "--help" => {
                println!("usage: cargo guard-audit [--manifest-path P] [--format text|json]");
                return ExitCode::SUCCESS;
            }
            other => return usage(&format!("unknown argument `{other}`")),
        }
    }
    match guard_audit::scan(&manifest) {
        Ok(scan) => {
            if json {
                println!("{}", scan.to_json());
            } else {
                print!("{}", scan.to_text());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cargo guard-audit: could not run: {e}");
            ExitCode::from(2)
        }
    }
}

fn usage(msg: &str) -> ExitCode {
    eprintln!(
        "cargo guard-audit: {msg}\nusage: cargo guard-audit [--manifest-path P] [--format text|json]"
    );
    ExitCode::from(2)
}
