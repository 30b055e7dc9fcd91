//! Reading YAML/JSON text or a config file into a [`Config`], writing one back out, and merging the
//! command line into a file config.

use std::path::Path;

use serde_json::Value;

use crate::error::{ConfigError, Warning};
use crate::metadata::Metadata;
use crate::model::{
    ChainConfig, Config, HostsConfig, LimiterConfig, ListConfig, ResolverConfig, ServiceConfig,
};
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
    // A component's type (upstream's default when none is given), then its metadata keys in the
    // spelling that type reads.
    fn settle(kind: &mut String, default: &str, md: &mut Metadata, keys: fn(&str) -> Vec<KeySpec>) {
        if kind.is_empty() {
            *kind = default.to_owned();
        } else {
            kind.make_ascii_lowercase();
        }
        canonicalise(md, &keys(kind));
    }
    for svc in &mut config.services {
        let (h, l) = (&mut svc.handler, &mut svc.listener);
        settle(&mut h.kind, "auto", &mut h.metadata, registry::handler_keys);
        settle(&mut l.kind, "tcp", &mut l.metadata, registry::listener_keys);
    }
    for node in config
        .chains
        .iter_mut()
        .flat_map(|c| c.hops.iter_mut())
        .flat_map(|h| h.nodes.iter_mut())
    {
        let (c, d) = (&mut node.connector, &mut node.dialer);
        settle(
            &mut c.kind,
            "http",
            &mut c.metadata,
            registry::connector_keys,
        );
        settle(&mut d.kind, "tcp", &mut d.metadata, registry::dialer_keys);
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
        // `?hosts=` tables first: the hops and services below follow their renames. Table and
        // resolver names cannot clash (hosts-N vs resolver-N), so one rename list serves both.
        let mut hosts_renames = Vec::new();
        append_renamed(&mut self.hosts, cli.hosts, "hosts", &mut hosts_renames);
        append_renamed(
            &mut self.resolvers,
            cli.resolvers,
            "resolver",
            &mut hosts_renames,
        );
        // `?admission=` / `?bypass=` lists, renamed when the file uses their name
        // (the services and `-F` hops naming them follow).
        let mut list_renames = Vec::new();
        append_renamed(
            &mut self.admissions,
            cli.admissions,
            "admission",
            &mut list_renames,
        );
        append_renamed(
            &mut self.bypasses,
            cli.bypasses,
            "bypass",
            &mut list_renames,
        );
        let mut chains = cli.chains;
        for hop in chains.iter_mut().flat_map(|c| &mut c.hops) {
            follow(&hosts_renames, &mut hop.hosts);
            follow(&hosts_renames, &mut hop.resolver);
            follow(&list_renames, &mut hop.bypass);
        }
        let mut chain_renames = Vec::new();
        append_renamed(&mut self.chains, chains, "chain", &mut chain_renames);
        let (mut climiter_renames, mut limiter_renames, mut rlimiter_renames) = <_>::default();
        append_renamed(
            &mut self.climiters,
            cli.climiters,
            "climiter",
            &mut climiter_renames,
        );
        append_renamed(
            &mut self.limiters,
            cli.limiters,
            "limiter",
            &mut limiter_renames,
        );
        append_renamed(
            &mut self.rlimiters,
            cli.rlimiters,
            "rlimiter",
            &mut rlimiter_renames,
        );
        let mut services = cli.services;
        for svc in &mut services {
            follow(&hosts_renames, &mut svc.hosts);
            follow(&hosts_renames, &mut svc.resolver);
            follow(&list_renames, &mut svc.admission);
            follow(&list_renames, &mut svc.bypass);
            follow(&climiter_renames, &mut svc.climiter);
            follow(&limiter_renames, &mut svc.limiter);
            follow(&rlimiter_renames, &mut svc.rlimiter);
            follow(&chain_renames, &mut svc.handler.chain);
            follow(&chain_renames, &mut svc.listener.chain);
        }
        append_renamed(&mut self.services, services, "service", &mut Vec::new());
        self.authers.extend(cli.authers);
    }
}

/// An entry of one of the config's named lists.
trait Named {
    fn name(&self) -> &str;
    fn name_mut(&mut self) -> &mut String;
}

/// [`Named`] for the entries [`Config::merge`] renames: each keeps its name in `name`.
macro_rules! named {
    ($($entry:ty),*) => {
        $(impl Named for $entry {
            fn name(&self) -> &str {
                &self.name
            }
            fn name_mut(&mut self) -> &mut String {
                &mut self.name
            }
        })*
    };
}
named!(
    HostsConfig,
    ResolverConfig,
    ListConfig,
    ChainConfig,
    LimiterConfig,
    ServiceConfig
);

/// Appends `incoming` to `list`; an entry whose name `list` already uses is moved to the next free
/// `prefix-N`, and `(old, new)` is added to `renames`.
fn append_renamed<T: Named>(
    list: &mut Vec<T>,
    incoming: Vec<T>,
    prefix: &str,
    renames: &mut Vec<(String, String)>,
) {
    for mut entry in incoming {
        let taken = |n: &str| list.iter().any(|e| e.name() == n);
        if taken(entry.name()) {
            let new = free_name(taken, prefix);
            renames.push((std::mem::replace(entry.name_mut(), new.clone()), new));
        }
        list.push(entry);
    }
}

/// Points a reference at the new name of a renamed entry.
fn follow(renames: &[(String, String)], name: &mut Option<String>) {
    if let Some(name) = name
        && let Some((_, new)) = renames.iter().find(|(old, _)| old == name)
    {
        *name = new.clone();
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
