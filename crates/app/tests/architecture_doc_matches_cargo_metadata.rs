//! docs/architecture.md tells the truth: the arrows of its dependency diagram are exactly the
//! workspace's normal dependency edges from `cargo metadata`, and every workspace package is drawn.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use gost_test_support::programs::stdout_of;

type Edges = BTreeSet<(String, String)>;

/// `(packages, edges)` of the workspace, from `cargo metadata`.
fn workspace_graph(root: &Path) -> (BTreeSet<String>, Edges) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = stdout_of(
        Command::new(cargo)
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
            ])
            .current_dir(root),
    );
    let meta: serde_json::Value = serde_json::from_str(&out).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let names: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    let mut edges = Edges::new();
    for p in packages {
        for d in p["dependencies"].as_array().unwrap() {
            let dep = d["name"].as_str().unwrap();
            // `kind` is null for normal dependencies, "dev" / "build" otherwise.
            if d["kind"].is_null() && names.contains(dep) {
                edges.insert((p["name"].as_str().unwrap().to_owned(), dep.to_owned()));
            }
        }
    }
    (names, edges)
}

/// `(nodes, edges)` drawn in the page's mermaid block.
fn drawn_graph(page: &str) -> (BTreeSet<String>, Edges) {
    let block = page
        .split("```mermaid")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/architecture.md has a ```mermaid block");
    let (mut nodes, mut edges) = (BTreeSet::new(), Edges::new());
    for line in block.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with("graph ") {
            continue;
        }
        match line.split_once("-->") {
            Some((from, to)) => {
                let (from, to) = (from.trim().to_owned(), to.trim().to_owned());
                nodes.extend([from.clone(), to.clone()]);
                edges.insert((from, to));
            }
            None => {
                nodes.insert(line.to_owned());
            }
        }
    }
    (nodes, edges)
}

#[test]
fn diagram_arrows_are_exactly_the_workspace_dependency_edges() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let page = std::fs::read_to_string(root.join("docs/architecture.md")).unwrap();
    let (packages, edges) = workspace_graph(&root);
    let (nodes, arrows) = drawn_graph(&page);
    let missing: Vec<_> = edges.difference(&arrows).collect();
    let extra: Vec<_> = arrows.difference(&edges).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "docs/architecture.md is out of date: edges not drawn {missing:?}; arrows that are no edge {extra:?}"
    );
    assert_eq!(
        nodes, packages,
        "every workspace package, and only those, is drawn"
    );
}
