//! Process calls std lacks: sending a signal to a process or a process group (kill(2)), the page
//! size and clock-tick rate (sysconf(3)), and this process's CPU time (getrusage(2)). Used by the
//! tests (stopping and reloading a `gost` child, resident memory), the benchmarks and gost-bench.

use std::io;
use std::time::Duration;

/// The signals the tools send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// `SIGHUP`: reload.
    Hup,
    /// `SIGINT`: Ctrl-C.
    Int,
    /// `SIGTERM`: stop.
    Term,
    /// `SIGKILL`: stop now.
    Kill,
}

impl Signal {
    fn number(self) -> libc::c_int {
        match self {
            Signal::Hup => libc::SIGHUP,
            Signal::Int => libc::SIGINT,
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        }
    }
}

/// Sends `signal` to process `pid`.
pub fn kill(pid: u32, signal: Signal) -> io::Result<()> {
    send(to_pid(pid)?, signal)
}

/// Sends `signal` to every process of process group `pgid` (a child started as a group leader has
/// its own pid as `pgid`), so the helpers a forking server started get it too.
pub fn kill_group(pgid: u32, signal: Signal) -> io::Result<()> {
    send(-to_pid(pgid)?, signal)
}

fn to_pid(id: u32) -> io::Result<libc::pid_t> {
    match libc::pid_t::try_from(id) {
        // 0 and negative numbers would address groups or every process: refused.
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{id} is not a process id"),
        )),
    }
}

fn send(pid: libc::pid_t, signal: Signal) -> io::Result<()> {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    if unsafe { libc::kill(pid, signal.number()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The size of a memory page in bytes (`/proc/*/statm` counts pages).
pub fn page_size() -> usize {
    // SAFETY: sysconf(3) takes an integer and touches no memory of ours.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

/// Clock ticks per second, the unit of the CPU times in `/proc/*/stat`; `None` if the system does
/// not say.
pub fn clock_ticks_per_sec() -> Option<u64> {
    // SAFETY: as in `page_size`.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|&t| t > 0)
}

/// CPU time (user + system) this process has used so far.
pub fn cpu_time() -> io::Result<Duration> {
    // SAFETY: rusage is plain integers, for which all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage(2) writes only into the struct it is given.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    Ok(time(usage.ru_utime) + time(usage.ru_stime))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn a_child_stops_on_term() {
        let mut child = Command::new("sleep")
            .arg("30")
            .stdin(Stdio::null())
            .spawn()
            .expect("sleep(1)");
        kill(child.id(), Signal::Term).unwrap();
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGTERM));
    }

    #[test]
    fn a_group_stops_on_kill() {
        use std::os::unix::process::{CommandExt, ExitStatusExt};
        let mut child = Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .expect("sleep(1)");
        kill_group(child.id(), Signal::Kill).unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    }

    #[test]
    fn pid_zero_is_refused() {
        let e = kill(0, Signal::Term).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(kill_group(u32::MAX, Signal::Term).is_err());
    }

    #[test]
    fn sizes_and_times_are_plausible() {
        assert!(page_size().is_power_of_two() && page_size() >= 4096);
        assert!(clock_ticks_per_sec().is_some_and(|t| t >= 100));
        let before = cpu_time().unwrap();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        assert!(cpu_time().unwrap() >= before, "{x}");
    }
}
