//! Runs the services of a validated configuration.
//!
//! The service runner (listeners, handlers, chains from `gost-service` / `gost-chain`) is wired in
//! here by the handler issue; until then this reports that nothing can be started.

use gost_config::Config;

/// Starts every service of `config` and runs until shutdown.
pub fn run(config: Config) -> anyhow::Result<()> {
    anyhow::bail!(
        "configuration is valid ({} service(s), {} chain(s)), but this build has no service runner yet; \
         use -O yaml to print the effective configuration",
        config.services.len(),
        config.chains.len()
    )
}
