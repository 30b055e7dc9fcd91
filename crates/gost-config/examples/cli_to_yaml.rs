//! Turns GOST command-line flags into the equivalent config file: parses `-L` / `-F` URLs, validates
//! the result, and prints it as YAML.
//!
//! ```text
//! cargo run -p gost-config --example cli_to_yaml
//! cargo run -p gost-config --example cli_to_yaml -- 'socks4://:1081' 'socks5://:1082?notls=true'
//! ```

use gost_config::{from_cli, validate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut listen: Vec<String> = std::env::args().skip(1).collect();
    if listen.is_empty() {
        listen.push("socks5://user:pass@:1080?udp=true".into());
    }
    // The second list is the `-F` nodes; none here.
    let (config, warnings) = from_cli(&listen[..], &[] as &[&str])?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    validate(&config)?; // every mistake, before any socket is opened
    print!("{}", config.to_yaml());
    Ok(())
}
