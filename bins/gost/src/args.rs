//! Command-line flags, spelled as upstream GOST's Go `flag` set: single-dash letters that take their
//! value either as the next argument or after `=` (`-L socks5://:1080`, `-L=socks5://:1080`).

use clap::{ArgAction, Parser, ValueEnum};

/// GO Simple Tunnel, SOCKS edition (gost-rs).
#[derive(Debug, Parser)]
#[command(name = "gost", version, about, max_term_width = 100)]
pub(crate) struct Args {
    /// Service to run, e.g. `socks5://user:pass@:1080?udp=true` (repeatable).
    #[arg(short = 'L', value_name = "URL", action = ArgAction::Append)]
    pub services: Vec<String>,

    /// Chain node; each -F is one hop of chain `chain-0`, e.g. `socks5+tls://host:443` (repeatable).
    #[arg(short = 'F', value_name = "URL", action = ArgAction::Append)]
    pub nodes: Vec<String>,

    /// Config file (YAML or JSON), `-` for standard input, or inline JSON starting with `{`.
    #[arg(short = 'C', value_name = "FILE")]
    pub config: Option<String>,

    /// Debug logging (`-DD` for trace).
    #[arg(short = 'D', action = ArgAction::Count)]
    pub debug: u8,

    /// Print the effective configuration in this format and exit.
    #[arg(short = 'O', value_name = "FORMAT")]
    pub output: Option<OutputFormat>,

    /// Serve Prometheus metrics on this address (upstream `-metrics :9000`; path `/metrics`).
    #[arg(long = "metrics", value_name = "ADDR")]
    pub metrics: Option<String>,

    /// Log format (default: `log.format` of the config, else text).
    #[arg(long = "log-format", value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
}

impl Args {
    /// Parses the process arguments, accepting upstream's single-dash spelling of long flags
    /// (`-metrics :9000`, `-metrics=:9000`).
    pub(crate) fn from_env() -> Args {
        Args::parse_from(std::env::args_os().map(|a| match a.to_str() {
            Some(s) if s == "-metrics" || s.starts_with("-metrics=") => format!("-{s}").into(),
            _ => a,
        }))
    }
}

/// `-O` formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// YAML.
    Yaml,
    /// JSON.
    Json,
}

/// Log line formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_flag_spellings() {
        let a = Args::try_parse_from([
            "gost",
            "-L=socks5://:1080",
            "-L",
            "tcp://:1/:2",
            "-F",
            "socks5://h:1",
            "-DD",
            "-O",
            "yaml",
        ])
        .unwrap();
        assert_eq!(a.services, ["socks5://:1080", "tcp://:1/:2"]);
        assert_eq!(a.nodes, ["socks5://h:1"]);
        assert_eq!((a.debug, a.output), (2, Some(OutputFormat::Yaml)));
        assert!(Args::try_parse_from(["gost", "-O", "toml"]).is_err());
    }
}
