//! The loaders against real sources: files in a temp dir, a real `redis-server` (hash for authers, set
//! for admission and bypass) and Python HTTP servers; reload picks up changes, a failing source keeps
//! the last good data, a never-read source denies everyone, and Redis coming back is picked up again.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::{Http, eventually};
use gost_access::{
    Admission, AdmissionSpec, Auther, AutherSpec, Bypass, BypassSpec, HttpAuthPlugin, HttpSpec,
    ListSpec, LoadedList, RedisSpec, SourceSpec, Target,
};
use gost_test_support::Redis;

const RELOAD: Option<Duration> = Some(Duration::from_secs(1));
const WAIT: Duration = Duration::from_secs(10);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn redis_spec(r: &Redis, key: &str) -> SourceSpec {
    SourceSpec::Redis(RedisSpec {
        addr: r.addr().to_string(),
        db: 0,
        username: None,
        password: None,
        key: key.into(),
    })
}

/// An admission or bypass list `name` read from the Redis set `key`, reloaded every [`RELOAD`].
fn redis_list(r: &Redis, name: &str, key: &str) -> ListSpec {
    ListSpec {
        name: name.into(),
        sources: vec![redis_spec(r, key)],
        reload: RELOAD,
        ..ListSpec::default()
    }
}

#[tokio::test]
async fn auther_file_reloads_and_keeps_last_good_when_the_file_goes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auths");
    std::fs::write(
        &path,
        "# username password\nadmin  #123456\ntest\\user001\t123456\n",
    )
    .unwrap();
    let a = Auther::start(AutherSpec {
        name: "a".into(),
        auths: vec![
            ("inline".into(), "pw".into()),
            ("admin".into(), "old".into()),
        ],
        sources: vec![SourceSpec::File(path.clone())],
        reload: RELOAD,
    })
    .await;
    assert!(a.check(b"admin", b"#123456"), "the file overrides inline");
    assert!(a.check(b"test\\user001", b"123456") && a.check(b"inline", b"pw"));
    std::fs::write(&path, "carol s3cret\n").unwrap();
    assert!(eventually(WAIT, || a.check(b"carol", b"s3cret")).await);
    assert!(
        !a.check(b"test\\user001", b"123456"),
        "removed user refused"
    );
    std::fs::remove_file(&path).unwrap();
    let failed = a.failed_loads();
    assert!(eventually(WAIT, || a.failed_loads() > failed).await);
    assert!(a.check(b"carol", b"s3cret"), "last good data kept");
}

#[tokio::test]
async fn a_source_never_read_denies_everyone() {
    let a = Auther::start(AutherSpec {
        name: "missing".into(),
        auths: vec![("inline".into(), "pw".into())],
        sources: vec![SourceSpec::File("/nonexistent/auths".into())],
        reload: None,
    })
    .await;
    assert!(!a.is_loaded() && !a.check(b"inline", b"pw"));
    let adm = Admission::start(AdmissionSpec {
        name: "adm".into(),
        matchers: vec!["10.0.0.0/8".into()],
        sources: vec![SourceSpec::File("/nonexistent/list".into())],
        ..AdmissionSpec::default()
    })
    .await;
    assert!(
        !adm.admit(ip("127.0.0.1")),
        "blacklist not loaded: nobody admitted"
    );
    let bp = Bypass::start(BypassSpec {
        name: "bp".into(),
        sources: vec![SourceSpec::File("/nonexistent/list".into())],
        ..BypassSpec::default()
    })
    .await;
    assert!(
        bp.contains(Target::Name("example.com", 80)),
        "bypass not loaded: every target refused"
    );
}

#[tokio::test]
async fn redis_hash_and_sets_follow_the_server_and_survive_it_going_away() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    redis.cmd(&["HSET", "gost:authers:a", "alice", "s3cret"]);
    redis.cmd(&[
        "SADD",
        "gost:admissions:adm",
        "192.0.2.1",
        "198.51.100.0/24",
    ]);
    redis.cmd(&["SADD", "gost:bypasses:bp", "*.blocked.test", "203.0.113.7"]);
    let a = Auther::start(AutherSpec {
        name: "a".into(),
        sources: vec![redis_spec(&redis, "gost:authers:a")],
        reload: RELOAD,
        ..AutherSpec::default()
    })
    .await;
    let adm = Admission::start(redis_list(&redis, "adm", "gost:admissions:adm")).await;
    let bp = Bypass::start(redis_list(&redis, "bp", "gost:bypasses:bp")).await;
    assert!(a.check(b"alice", b"s3cret") && !a.check(b"bob", b"pw"));
    assert!(
        !adm.admit(ip("192.0.2.1")) && !adm.admit(ip("198.51.100.9")) && adm.admit(ip("127.0.0.1"))
    );
    assert!(
        bp.contains(Target::Name("x.blocked.test", 1))
            && bp.contains(Target::Ip(ip("203.0.113.7"), 1))
    );
    assert!(!bp.contains(Target::Name("ok.test", 1)));

    redis.cmd(&["HSET", "gost:authers:a", "bob", "pw"]);
    redis.cmd(&["HDEL", "gost:authers:a", "alice"]);
    redis.cmd(&["SADD", "gost:admissions:adm", "127.0.0.1"]);
    assert!(
        eventually(WAIT, || a.check(b"bob", b"pw")
            && !a.check(b"alice", b"s3cret"))
        .await
    );
    assert!(eventually(WAIT, || !adm.admit(ip("127.0.0.1"))).await);

    redis.stop();
    let (fa, fadm) = (a.failed_loads(), adm.failed_loads());
    assert!(eventually(WAIT, || a.failed_loads() > fa && adm.failed_loads() > fadm).await);
    assert!(
        a.check(b"bob", b"pw") && !a.check(b"alice", b"s3cret"),
        "last good users kept"
    );
    assert!(
        !adm.admit(ip("127.0.0.1")) && adm.admit(ip("127.0.0.2")),
        "last good list kept"
    );

    redis.restart();
    redis.cmd(&["HSET", "gost:authers:a", "carol", "pw3"]);
    redis.cmd(&["SADD", "gost:admissions:adm", "192.0.2.1"]);
    assert!(
        eventually(WAIT, || a.check(b"carol", b"pw3")).await,
        "recovers when Redis returns"
    );
    assert!(
        !a.check(b"bob", b"pw"),
        "the new server's data replaces the old"
    );
    assert!(eventually(WAIT, || adm.admit(ip("127.0.0.1"))).await);
}

#[tokio::test]
async fn http_loader_reads_the_file_format_and_whitelists() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("auths"), "alice s3cret\n").unwrap();
    std::fs::write(
        dir.path().join("clients"),
        "# ours\n127.0.0.1 # me\n10.0.0.0/8\n",
    )
    .unwrap();
    let Some(http) = Http::serve_dir(dir.path()) else {
        return;
    };
    let url = |f: &str| {
        SourceSpec::Http(HttpSpec {
            url: format!("http://{}/{f}", http.addr),
            timeout: Some(Duration::from_secs(5)),
        })
    };
    let a = Auther::start(AutherSpec {
        name: "a".into(),
        sources: vec![url("auths")],
        reload: RELOAD,
        ..AutherSpec::default()
    })
    .await;
    assert!(a.check(b"alice", b"s3cret"));
    let adm = Admission::start(AdmissionSpec {
        name: "w".into(),
        whitelist: true,
        sources: vec![url("clients")],
        ..AdmissionSpec::default()
    })
    .await;
    assert!(adm.admit(ip("127.0.0.1")) && adm.admit(ip("10.9.9.9")) && !adm.admit(ip("127.0.0.2")));
    std::fs::write(dir.path().join("auths"), "bob pw\n").unwrap();
    assert!(
        eventually(WAIT, || a.check(b"bob", b"pw")
            && !a.check(b"alice", b"s3cret"))
        .await
    );
    let missing = Auther::start(AutherSpec {
        name: "404".into(),
        sources: vec![url("nothing-here")],
        ..AutherSpec::default()
    })
    .await;
    assert!(!missing.is_loaded(), "a 404 is a failed load");
}

#[tokio::test]
async fn http_auth_plugin_posts_json_and_reads_ok_and_id() {
    let script = r#"
import json, http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
        ok = body['username'] == 'alice' and body['password'] == 's3cret' and body['client'].startswith('127.0.0.1:')
        out = json.dumps({'ok': ok, 'id': 'user-1' if ok else ''}).encode()
        self.send_response(200); self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(out))); self.end_headers(); self.wfile.write(out)
    def log_message(self, *a): pass
s = http.server.HTTPServer(('127.0.0.1', 0), H)
print('port', s.server_address[1])
s.serve_forever()
"#;
    let Some(http) = Http::script(script) else {
        return;
    };
    let p = HttpAuthPlugin::new("p", format!("http://{}/auth", http.addr), None).unwrap();
    let client = "127.0.0.1:5555".parse().unwrap();
    assert_eq!(
        p.authenticate(b"alice", b"s3cret", client).await.as_deref(),
        Some("user-1")
    );
    assert_eq!(p.authenticate(b"alice", b"wrong", client).await, None);
    drop(http);
    assert_eq!(
        p.authenticate(b"alice", b"s3cret", client).await,
        None,
        "no server: refused"
    );
    assert!(HttpAuthPlugin::new("p", "127.0.0.1:8000", None).is_err());
}

#[tokio::test]
async fn a_loaded_list_compiles_inline_and_file_lines_and_follows_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lines");
    std::fs::write(&path, "# comment\n\nb  # trailing comment\nc\n").unwrap();
    let spec = ListSpec {
        name: "l".into(),
        matchers: vec!["a".into()],
        sources: vec![SourceSpec::File(path.clone())],
        reload: RELOAD,
        ..ListSpec::default()
    };
    let list = LoadedList::start("test", spec, |lines: &[String]| lines.join(",")).await;
    assert_eq!(list.name(), "l");
    assert_eq!(list.current().as_deref().map(String::as_str), Some("a,b,c"));
    std::fs::write(&path, "d\n").unwrap();
    assert!(eventually(WAIT, || list.current().is_some_and(|c| *c == "a,d")).await);
    std::fs::remove_file(&path).unwrap();
    let failed = list.failed_loads();
    assert!(eventually(WAIT, || list.failed_loads() > failed).await);
    assert_eq!(*list.current().unwrap(), "a,d", "last good data kept");

    let missing = ListSpec {
        name: "m".into(),
        sources: vec![SourceSpec::File(dir.path().join("absent"))],
        ..ListSpec::default()
    };
    let never = LoadedList::start("test", missing, |lines: &[String]| lines.len()).await;
    assert!(
        never.current().is_none(),
        "a source never read leaves no data"
    );
}

/// Limiters read the same sources: a file, a Redis set and an HTTP body, later sources overriding a
/// scope set earlier; a reload changes the rates, and a bad line keeps the previous ones.
#[tokio::test]
async fn limiters_read_file_redis_and_http_and_reload() {
    use gost_access::limit::{RequestLimiter, RequestSpec, TrafficLimiter, TrafficSpec};
    let Some(redis) = Redis::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("limits"),
        "# scope in out\n$ 1MB 2MB\n$$ 64KB\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("rlimits"), "$$ 1 # one a second\n").unwrap();
    let Some(http) = Http::serve_dir(dir.path()) else {
        return;
    };
    redis.cmd(&[
        "SADD",
        "gost:limiters:l",
        "10.0.0.0/8 128KB 256KB",
        "$$ 32KB",
    ]);
    let file = SourceSpec::File(dir.path().join("limits"));
    let l = TrafficLimiter::start(TrafficSpec {
        name: "l".into(),
        matchers: vec!["$ 8MB".into()],
        sources: vec![file, redis_spec(&redis, "gost:limiters:l")],
        reload: RELOAD,
        ..TrafficSpec::default()
    })
    .await
    .unwrap();
    let c = l.connection(ip("10.1.2.3")).unwrap();
    assert_eq!(
        c.input.rate(),
        Some(32 << 10),
        "redis overrides the file's $$"
    );
    assert_eq!(c.output.rate(), Some(256 << 10));
    let c = l.connection(ip("192.0.2.1")).unwrap();
    assert_eq!(
        (c.input.rate(), c.output.rate()),
        (Some(32 << 10), Some(2 << 20))
    );
    redis.cmd(&["SADD", "gost:limiters:l", "$ 16KB"]);
    assert!(
        eventually(WAIT, || c.input.rate() == Some(16 << 10)).await,
        "service bucket follows"
    );
    std::fs::write(dir.path().join("limits"), "$ 1MB\n$$ plenty\n").unwrap();
    let before = l.failed_loads();
    assert!(eventually(WAIT, || l.failed_loads() > before).await);
    assert_eq!(
        c.input.rate(),
        Some(16 << 10),
        "a bad line keeps the previous limits"
    );

    let r = RequestLimiter::start(RequestSpec {
        name: "r".into(),
        sources: vec![SourceSpec::Http(HttpSpec {
            url: format!("http://{}/rlimits", http.addr),
            timeout: Some(Duration::from_secs(5)),
        })],
        ..RequestSpec::default()
    })
    .await
    .unwrap();
    assert!(r.allow(ip("127.0.0.1")) && !r.allow(ip("127.0.0.1")));
    let never = RequestLimiter::start(RequestSpec {
        name: "never".into(),
        sources: vec![SourceSpec::File("/nonexistent/rlimits".into())],
        ..RequestSpec::default()
    })
    .await
    .unwrap();
    assert!(
        !never.allow(ip("127.0.0.1")),
        "a limiter never loaded refuses"
    );
}
