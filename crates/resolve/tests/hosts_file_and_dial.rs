//! A hosts table from inline mappings and a real file (reloaded), used by a real `TcpDialer` to reach a
//! loopback server by a name only the table knows; a name it does not map is left to the system
//! resolver (direct) or to the far end (`lookup` returns `None`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gost_access::SourceSpec;
use gost_resolve::{HostMapping, Hosts, HostsSpec, Names};
use gost_transport::tcp::{Resolver, TcpDialer, TcpOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::test]
async fn a_mapped_name_is_dialled_and_the_file_is_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hosts");
    std::fs::write(&file, "# ip host\n127.0.0.2  from-file.test  # comment\n").unwrap();
    let hosts = Hosts::start(HostsSpec {
        name: "hosts-0".into(),
        mappings: vec![HostMapping::new(
            "127.0.0.1".parse().unwrap(),
            "myname.test",
        )],
        sources: vec![SourceSpec::File(file.clone())],
        reload: Some(Duration::from_secs(1)),
    })
    .await;
    let names = Names::new(Some(hosts.clone()));

    let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = server.local_addr().unwrap().port();
    let echo = tokio::spawn(async move {
        let (mut s, _) = server.accept().await.unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await.unwrap();
        s.write_all(&buf).await.unwrap();
    });
    let dialer = TcpDialer::new(TcpOptions::default()).with_resolver(Arc::new(names.clone()));
    let mut conn = dialer
        .connect(&socks_wire::Address::from_host_port("myname.test", port).unwrap())
        .await
        .unwrap();
    conn.write_all(b"ping").await.unwrap();
    let mut back = [0u8; 4];
    conn.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"ping");
    echo.await.unwrap();

    let from_file: SocketAddr = "127.0.0.2:80".parse().unwrap();
    assert_eq!(
        names.lookup("from-file.test", 80).await.unwrap(),
        Some(vec![from_file])
    );
    assert_eq!(
        names.lookup("unmapped.invalid", 80).await.unwrap(),
        None,
        "left to the far end"
    );
    let system = names.resolve("localhost", 80).await.unwrap();
    assert!(
        system[0].ip().is_loopback(),
        "an unmapped name goes to the system resolver"
    );

    std::fs::write(&file, "127.0.0.3 from-file.test\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while hosts.lookup("from-file.test") != ["127.0.0.3".parse::<std::net::IpAddr>().unwrap()] {
        assert!(
            Instant::now() < deadline,
            "the changed file was not reloaded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(hosts.lookup("myname.test").len(), 1, "inline mappings stay");
}
