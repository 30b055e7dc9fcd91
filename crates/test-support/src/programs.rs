//! The rule for tests that need a third-party program (curl, iperf3, dante, PySocks…): when it is
//! missing, the test fails with a message saying what to install if env `CI` is set, and otherwise
//! prints a skip notice and the caller returns early. `.ci/run` installs every program named here.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Applies the rule to `found`; `install` says how to get `program` (e.g. `apt-get install curl`).
fn report(found: bool, program: &str, install: &str) -> bool {
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("{program} is required by this test ({install}; .ci/run does)");
        }
        eprintln!("SKIPPED: {program} is not installed ({install}); CI fails instead");
    }
    found
}

fn runs(program: &str, probe: &[&str]) -> bool {
    Command::new(program)
        .args(probe)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `program PROBE…` runs and succeeds (e.g. `python3 -c "import socks"`); `install` says how
/// to get it. Under `CI` a missing program fails the test.
pub fn have(program: &str, probe: &[&str], install: &str) -> bool {
    report(runs(program, probe), program, install)
}

/// Whether `program --version` succeeds; `package` is the Debian package that has it.
pub fn have_program(program: &str, package: &str) -> bool {
    have(
        program,
        &["--version"],
        &format!("apt-get install {package}"),
    )
}

/// The path of `program` (searched in `PATH`, then `/usr/sbin` and `/sbin`, where Debian puts
/// daemons that have no `--version`); `package` is the Debian package that has it.
pub fn locate(program: &str, package: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p));
    report(
        found.is_some(),
        program,
        &format!("apt-get install {package}"),
    );
    found
}

/// Runs `cmd` to its end and returns its standard output; a failure to start or a failing exit fails
/// the test with the command and its standard error.
pub fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_present_program_is_found_both_ways() {
        // `sh` is on every machine the tests run on.
        assert!(have("sh", &["-c", "exit 0"], "apt-get install dash"));
        assert!(locate("sh", "dash").is_some_and(|p| p.ends_with("sh")));
    }

    #[test]
    fn stdout_of_returns_the_output_of_a_success() {
        assert_eq!(
            stdout_of(Command::new("sh").args(["-c", "echo hi"])),
            "hi\n"
        );
    }

    #[test]
    #[should_panic(expected = "failed (exit status: 3): oops")]
    fn stdout_of_fails_the_test_with_the_standard_error() {
        stdout_of(Command::new("sh").args(["-c", "echo oops >&2; exit 3"]));
    }

    #[test]
    fn a_failing_probe_counts_as_missing() {
        assert!(!runs("sh", &["-c", "exit 3"]));
        assert!(!runs("gost-rs-no-such-program", &[]));
    }
}
