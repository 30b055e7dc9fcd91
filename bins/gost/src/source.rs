//! Where the configuration comes from: `-C` (a file, `-` for standard input, or inline JSON), upstream's
//! default file locations when nothing is given, and the `-L`/`-F`/`-metrics` flags merged on top.

use std::io::Read;
use std::path::PathBuf;

use gost_config::{Config, ConfigError, MetricsConfig, Warning};

use crate::args::Args;

/// An empty file, `services: []` or a reload to either would run nothing without a word.
const NO_SERVICE: &str = "nothing to run: no service (list one under `services:`, or give -L)";
/// Builds and validates the effective configuration.
pub(crate) fn build(args: &Args) -> anyhow::Result<(Config, Vec<Warning>)> {
    let (mut config, mut warnings) = match args.config.as_deref() {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| anyhow::anyhow!("-C -: cannot read standard input: {e}"))?;
            parse_text(&text)?
        }
        Some(inline) if inline.trim_start().starts_with('{') => gost_config::from_json_str(inline)?,
        Some(path) => gost_config::load_file(path)?,
        None if args.services.is_empty() && args.metrics.is_none() => match default_file() {
            Some(path) => gost_config::load_file(path)?,
            None => anyhow::bail!(
                "nothing to run: give a service with -L (e.g. -L socks5://:1080) or a config file with -C \
                 (no gost.yaml/gost.yml/gost.json in /etc/gost, ~/.gost or the current directory)"
            ),
        },
        None => (Config::default(), Vec::new()),
    };
    let (cli, cli_warnings) = gost_config::from_cli(&args.services, &args.nodes)?;
    if !args.nodes.is_empty() && args.services.is_empty() {
        anyhow::bail!("-F builds a chain for -L services, but no -L was given");
    }
    config.merge(cli);
    if let Some(addr) = &args.metrics {
        // Like upstream, the flag sets the address and keeps the file's path and credentials.
        config
            .metrics
            .get_or_insert_with(MetricsConfig::default)
            .addr = addr.clone();
    }
    warnings.extend(cli_warnings);
    anyhow::ensure!(!config.services.is_empty(), NO_SERVICE);
    warnings.extend(gost_config::validate(&config)?);
    Ok((config, warnings))
}

fn parse_text(text: &str) -> Result<gost_config::Loaded, ConfigError> {
    if text.trim_start().starts_with('{') {
        gost_config::from_json_str(text)
    } else {
        gost_config::from_yaml_str(text)
    }
}

/// Upstream (viper) looks for `gost.{yaml,yml,json}` in `/etc/gost/`, `$HOME/.gost/` and `.`.
fn default_file() -> Option<PathBuf> {
    let mut dirs = vec![PathBuf::from("/etc/gost")];
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".gost"));
    }
    dirs.push(PathBuf::from("."));
    dirs.into_iter()
        .flat_map(|d| ["gost.yaml", "gost.yml", "gost.json"].map(|f| d.join(f)))
        .find(|p| p.is_file())
}
