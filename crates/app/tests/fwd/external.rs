//! Third-party SOCKS servers run as child processes on 127.0.0.1: dante (`danted`, with a generated
//! configuration) and microsocks. Each is started in its own process group and stopped with the whole group
//! when dropped, so no daemon outlives its test.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gost_test_support::{free_port, locate};

/// A third-party server process (group) listening on `addr`.
pub(crate) struct External {
    pub addr: SocketAddr,
    child: Child,
    _dir: TempDir,
}

impl Drop for External {
    fn drop(&mut self) {
        // dante forks workers: signal the whole group, then reap the leader.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str, port: u16) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("gost-rs-{what}-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts `make(port, dir)` on free ports until one listens (another process may take a port between our
/// probe and the server's bind); `dir` is a scratch directory that also holds the server's stderr.
async fn start(what: &str, make: impl Fn(u16, &Path) -> Command) -> External {
    for _ in 0..5 {
        let port = free_port();
        let dir = TempDir::new(what, port);
        let log = dir.0.join("stderr.log");
        let mut cmd = make(port, &dir.0);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let mut server = External {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if tokio::net::TcpStream::connect(server.addr).await.is_ok() {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                let err = std::fs::read_to_string(&log).unwrap_or_default();
                eprintln!("{what} on port {port} exited ({status}): {err}");
                break;
            }
            assert!(Instant::now() < deadline, "{what} did not listen on {port}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    panic!("{what} could not be started");
}

/// dante's `danted` on 127.0.0.1 without authentication, allowing CONNECT, BIND and UDP ASSOCIATE from
/// loopback to loopback. `None` when dante is not installed (outside CI).
pub(crate) async fn dante() -> Option<External> {
    let danted = locate("danted", "dante-server")?;
    let server = start("danted", |port, dir| {
        let conf = dir.join("danted.conf");
        std::fs::write(&conf, dante_config(port)).unwrap();
        let mut cmd = Command::new(&danted);
        // -N 1: one worker of each kind, enough for a test and light on 2 cores.
        cmd.arg("-f").arg(&conf).args(["-N", "1"]);
        cmd
    })
    .await;
    Some(server)
}

fn dante_config(port: u16) -> String {
    // Running as root, dante wants to know whom to drop to; as another user those lines are ignored.
    format!(
        "logoutput: stderr
internal: 127.0.0.1 port = {port}
external: 127.0.0.1
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {{
  from: 127.0.0.0/8 to: 0.0.0.0/0
}}
socks pass {{
  from: 127.0.0.0/8 to: 127.0.0.0/8
  command: bind connect udpassociate bindreply udpreply
}}
"
    )
}

/// microsocks on 127.0.0.1 (CONNECT only, no authentication). `None` when it is not installed (outside CI).
pub(crate) async fn microsocks() -> Option<External> {
    let microsocks = locate("microsocks", "microsocks")?;
    let server = start("microsocks", |port, _| {
        let mut cmd = Command::new(&microsocks);
        cmd.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
        cmd
    })
    .await;
    Some(server)
}
