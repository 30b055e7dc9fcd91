//! Reading YAML/JSON text or a config file into a [`Config`], writing one back out, and merging the
//! command line into a file config.

use std::path::Path;

use serde_json::Value;

use crate::error::{ConfigError, Warning};
use crate::metadata::Metadata;
use crate::model::Config;
use crate::registry::{self, KeySpec};
use crate::schema;

/// A loaded config and what was tolerated on the way.
pub type Loaded = (Config, Vec<Warning>);

/// Parses YAML text (JSON is YAML too, but use [`from_json_str`] for JSON's own error messages).
///
/// ```
/// let yaml = "services:\n- name: s\n  addr: :1080\n  HANDLER: {type: socks5, metadata: {udp: true}}\n";
/// let (config, warnings) = gost_config::from_yaml_str(yaml).unwrap();
/// assert_eq!(config.services[0].handler.kind, "socks5");
/// assert_eq!(config.services[0].listener.kind, "tcp"); // upstream default
/// assert!(warnings.is_empty());
/// ```
pub fn from_yaml_str(text: &str) -> Result<Loaded, ConfigError> {
    if text.trim().is_empty() {
        return from_value(Value::Null);
    }
    // YAML 1.2 booleans only (upstream's go-yaml v3 reads `n`, `yes`, `off` as strings), and
    // one-line errors without source snippets. The node budget is raised from the library's 250 000
    // so that what `-O yaml` prints for the largest command line (port ranges expanded to 4096
    // services, each some dozens of nodes) loads again; the other limits stay.
    let options = serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
        budget: serde_saphyr::budget! { max_nodes: 2_000_000, max_events: 4_000_000 },
    };
    let value: Value = serde_saphyr::from_str_with_options(text, options)
        .map_err(|e| ConfigError::Yaml(e.to_string().replace('\n', " ")))?;
    from_value(value)
}

/// Parses JSON text.
pub fn from_json_str(text: &str) -> Result<Loaded, ConfigError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ConfigError::Json(e.to_string()))?;
    from_value(value)
}

/// Reads a config file: JSON if it ends in `.json` or its first non-blank character is `{`, else YAML.
pub fn load_file(path: impl AsRef<Path>) -> Result<Loaded, ConfigError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Io {
        path: path.display().to_string(),
        error,
    })?;
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        || text.trim_start().starts_with('{');
    if is_json {
        from_json_str(&text)
    } else {
        from_yaml_str(&text)
    }
}

fn from_value(value: Value) -> Result<Loaded, ConfigError> {
    let mut warnings = Vec::new();
    let value = schema::normalise_root(value, &mut warnings)?;
    // The normalised tree has canonical keys and coerced scalars, so this only fails on nulls in lists.
    let mut config: Config = serde_json::from_value(value).map_err(|e| ConfigError::Shape {
        path: "(config)".into(),
        value: e.to_string(),
        expected: "a config following the documented schema".into(),
    })?;
    fill_defaults(&mut config);
    Ok((config, warnings))
}

/// Upstream's default types, and known metadata keys respelt canonically (`udpbuffersize` →
/// `udpBufferSize`) so that printed configs and comparisons do not depend on the case used.
pub(crate) fn fill_defaults(config: &mut Config) {
    fn default(kind: &mut String, value: &str) {
        if kind.is_empty() {
            *kind = value.to_owned();
        } else {
            kind.make_ascii_lowercase();
        }
    }
    for svc in &mut config.services {
        default(&mut svc.handler.kind, "auto");
        default(&mut svc.listener.kind, "tcp");
        canonicalise(
            &mut svc.handler.metadata,
            &registry::handler_keys(&svc.handler.kind),
        );
        canonicalise(
            &mut svc.listener.metadata,
            &registry::listener_keys(&svc.listener.kind),
        );
    }
    for node in config
        .chains
        .iter_mut()
        .flat_map(|c| c.hops.iter_mut())
        .flat_map(|h| h.nodes.iter_mut())
    {
        default(&mut node.connector.kind, "http");
        default(&mut node.dialer.kind, "tcp");
        canonicalise(
            &mut node.connector.metadata,
            &registry::connector_keys(&node.connector.kind),
        );
        canonicalise(
            &mut node.dialer.metadata,
            &registry::dialer_keys(&node.dialer.kind),
        );
    }
}

fn canonicalise(md: &mut Metadata, specs: &[KeySpec]) {
    let renames: Vec<(String, &str)> = md
        .iter()
        .filter_map(|(k, _)| registry::find_key(specs, k).map(|(_, c)| (k.to_owned(), c)))
        .filter(|(k, c)| k != c)
        .collect();
    for (old, canonical) in renames {
        if let Some(v) = md.remove(&old) {
            md.insert(canonical, v);
        }
    }
}

impl Config {
    /// Prints the config as YAML with upstream's key spelling.
    pub fn to_yaml(&self) -> String {
        // Serialising plain data structures with string keys cannot fail.
        serde_saphyr::to_string(self).unwrap_or_default()
    }

    /// Prints the config as indented JSON with upstream's key spelling.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Adds command-line services, chains and limiters to a file config, as upstream does. A
    /// command-line name that the file already uses (`service-0`, `chain-0`, `climiter-0`,
    /// `limiter-0`, …) is moved to the next free number, and the references to a renamed chain or
    /// limiter follow it.
    pub fn merge(&mut self, cli: Config) {
        // `?hosts=` tables first: the hops and services below follow their renames.
        let mut hosts_renames = Vec::new();
        for mut table in cli.hosts {
            if self.hosts_table(&table.name).is_some() {
                let new = free_name(|n| self.hosts_table(n).is_some(), "hosts");
                hosts_renames.push((table.name.clone(), new.clone()));
                table.name = new;
            }
            self.hosts.push(table);
        }
        for mut r in cli.resolvers {
            if self.resolver(&r.name).is_some() {
                let new = free_name(|n| self.resolver(n).is_some(), "resolver");
                hosts_renames.push((r.name.clone(), new.clone()));
                r.name = new;
            }
            self.resolvers.push(r);
        }
        // Table and resolver names cannot clash (hosts-N vs resolver-N), so one rename list serves both.
        let rename_hosts = |name: &mut Option<String>| {
            if let Some(n) = name
                && let Some((_, new)) = hosts_renames.iter().find(|(old, _)| old == n)
            {
                *n = new.clone();
            }
        };
        // `?admission=` / `?bypass=` lists, renamed when the file uses their name
        // (the services and `-F` hops naming them follow).
        let mut list_renames = Vec::new();
        for mut list in cli.admissions {
            if self.admission(&list.name).is_some() {
                let new = free_name(|n| self.admission(n).is_some(), "admission");
                list_renames.push((list.name.clone(), new.clone()));
                list.name = new;
            }
            self.admissions.push(list);
        }
        for mut list in cli.bypasses {
            if self.bypass(&list.name).is_some() {
                let new = free_name(|n| self.bypass(n).is_some(), "bypass");
                list_renames.push((list.name.clone(), new.clone()));
                list.name = new;
            }
            self.bypasses.push(list);
        }
        let mut chain_renames = Vec::new();
        for mut chain in cli.chains {
            for hop in &mut chain.hops {
                rename_hosts(&mut hop.hosts);
                rename_hosts(&mut hop.resolver);
                if let Some(name) = &mut hop.bypass
                    && let Some((_, new)) = list_renames.iter().find(|(old, _)| old == name)
                {
                    *name = new.clone();
                }
            }
            if self.chain(&chain.name).is_some() {
                let new = free_name(|n| self.chain(n).is_some(), "chain");
                chain_renames.push((chain.name.clone(), new.clone()));
                chain.name = new;
            }
            self.chains.push(chain);
        }
        let mut climiter_renames = Vec::new();
        for mut limiter in cli.climiters {
            if self.climiter(&limiter.name).is_some() {
                let new = free_name(|n| self.climiter(n).is_some(), "climiter");
                climiter_renames.push((limiter.name.clone(), new.clone()));
                limiter.name = new;
            }
            self.climiters.push(limiter);
        }
        let mut limiter_renames = Vec::new();
        for mut limiter in cli.limiters {
            if self.limiter(&limiter.name).is_some() {
                let new = free_name(|n| self.limiter(n).is_some(), "limiter");
                limiter_renames.push((limiter.name.clone(), new.clone()));
                limiter.name = new;
            }
            self.limiters.push(limiter);
        }
        let mut rlimiter_renames = Vec::new();
        for mut limiter in cli.rlimiters {
            if self.rlimiter(&limiter.name).is_some() {
                let new = free_name(|n| self.rlimiter(n).is_some(), "rlimiter");
                rlimiter_renames.push((limiter.name.clone(), new.clone()));
                limiter.name = new;
            }
            self.rlimiters.push(limiter);
        }
        for mut svc in cli.services {
            rename_hosts(&mut svc.hosts);
            rename_hosts(&mut svc.resolver);
            for name in [&mut svc.admission, &mut svc.bypass].into_iter().flatten() {
                if let Some((_, new)) = list_renames.iter().find(|(old, _)| old == name) {
                    *name = new.clone();
                }
            }
            for (name, renames) in [
                (&mut svc.climiter, &climiter_renames),
                (&mut svc.limiter, &limiter_renames),
                (&mut svc.rlimiter, &rlimiter_renames),
            ] {
                if let Some(name) = name
                    && let Some((_, new)) = renames.iter().find(|(old, _)| old == name)
                {
                    *name = new.clone();
                }
            }
            if self.services.iter().any(|s| s.name == svc.name) {
                svc.name = free_name(|n| self.services.iter().any(|s| s.name == n), "service");
            }
            for name in [&mut svc.handler.chain, &mut svc.listener.chain]
                .into_iter()
                .flatten()
            {
                if let Some((_, new)) = chain_renames.iter().find(|(old, _)| old == name) {
                    *name = new.clone();
                }
            }
            self.services.push(svc);
        }
        self.authers.extend(cli.authers);
    }
}

fn free_name(taken: impl Fn(&str) -> bool, prefix: &str) -> String {
    (0..)
        .map(|i| format!("{prefix}-{i}"))
        .find(|n| !taken(n))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_text_is_an_empty_config() {
        assert_eq!(from_yaml_str("").unwrap().0, Config::default());
        assert_eq!(from_yaml_str("# nothing\n").unwrap().0, Config::default());
    }

    #[test]
    fn metadata_keys_are_respelt() {
        let yaml = "services:\n- name: a\n  addr: :1\n  handler:\n    type: SOCKS5\n    metadata: {UDPBUFFERSIZE: 1, Other: 2}\n";
        let (c, _) = from_yaml_str(yaml).unwrap();
        let keys: Vec<_> = c.services[0]
            .handler
            .metadata
            .iter()
            .map(|(k, _)| k.to_owned())
            .collect();
        assert_eq!(keys, ["Other", "udpBufferSize"]);
        assert_eq!(c.services[0].handler.kind, "socks5");
    }

    #[test]
    fn merge_renames_clashing_cli_names() {
        let (mut file, _) = from_yaml_str(
            "services: [{name: service-0, addr: ':1'}]\nchains: [{name: chain-0, hops: [{name: h, nodes: [{name: n, addr: 'a:1'}]}]}]",
        )
        .unwrap();
        let (cli, _) = crate::from_cli(&["tcp://:2/:3"], &["socks5://b:1"]).unwrap();
        file.merge(cli);
        assert_eq!(file.services[1].name, "service-1");
        assert_eq!(file.chains[1].name, "chain-1");
        assert_eq!(file.services[1].handler.chain.as_deref(), Some("chain-1"));
    }

    #[test]
    fn merge_keeps_cli_climiters_and_renames_clashing_ones() {
        let (mut file, _) = from_yaml_str(
            "services: [{name: s, addr: ':1', climiter: climiter-0}]\nclimiters: [{name: climiter-0, limits: ['$$ 1']}]",
        )
        .unwrap();
        let (cli, _) = crate::from_cli(&["socks5://:2?climiter=7"], &[] as &[&str]).unwrap();
        file.merge(cli);
        assert_eq!(file.services[1].climiter.as_deref(), Some("climiter-1"));
        assert_eq!(file.climiter("climiter-1").unwrap().limits, ["$ 7"]);
        assert_eq!(file.climiter("climiter-0").unwrap().limits, ["$$ 1"]);
        crate::validate(&file).unwrap();
    }
}
