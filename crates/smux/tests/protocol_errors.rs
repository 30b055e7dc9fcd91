//! A peer that breaks the protocol ends the session with a reason naming the problem, and every
//! stream sees an error rather than a hang.

mod common;

use std::io::ErrorKind;

use gost_smux::{CloseReason, Config, ConfigError, Error, FrameError, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn session_fed(bytes: &[u8], version: u8) -> (Session, CloseReason, tokio::io::DuplexStream) {
    let (a, mut raw) = tokio::io::duplex(64 * 1024);
    let cfg = Config {
        version,
        ..Config::default()
    };
    let session = Session::server(a, cfg).unwrap();
    raw.write_all(bytes).await.unwrap();
    let reason = session.closed().await;
    (session, reason, raw)
}

#[tokio::test]
async fn unknown_command_closes_the_session() {
    let (s, reason, _raw) = session_fed(&[1, 9, 0, 0, 0, 0, 0, 0], 1).await;
    assert_eq!(reason, CloseReason::Protocol(FrameError::BadCmd(9)));
    assert!(s.is_closed());
    assert!(s.accept_stream().await.is_none());
}

#[tokio::test]
async fn version_mismatch_closes_the_session() {
    let (_s, reason, _raw) = session_fed(&[2, 3, 0, 0, 0, 0, 0, 0], 1).await;
    assert_eq!(reason, CloseReason::VersionMismatch { local: 1, peer: 2 });
    let (_s, reason, _raw) = session_fed(&[7, 3, 0, 0, 0, 0, 0, 0], 2).await;
    assert_eq!(reason, CloseReason::Protocol(FrameError::BadVersion(7)));
}

#[tokio::test]
async fn malformed_window_update_closes_the_session() {
    let (_s, reason, _raw) = session_fed(&[2, 4, 2, 0, 3, 0, 0, 0, 0, 0], 2).await;
    assert_eq!(reason, CloseReason::Protocol(FrameError::BadUpdLength(2)));
}

#[tokio::test]
async fn streams_fail_with_invalid_data_after_a_protocol_error() {
    let (a, mut raw) = tokio::io::duplex(64 * 1024);
    let session = Session::server(a, Config::default()).unwrap();
    raw.write_all(&[1, 0, 0, 0, 3, 0, 0, 0]).await.unwrap(); // SYN 3
    let mut s = session.accept_stream().await.unwrap();
    raw.write_all(&[1, 0, 5, 0, 5, 0, 0, 0]).await.unwrap(); // SYN with a payload
    let err = s.read(&mut [0u8; 8]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    assert!(err.to_string().contains("must not carry data"), "{err}");
    assert!(s.write_all(b"x").await.is_err());
}

#[tokio::test]
async fn invalid_config_is_rejected_at_creation() {
    let (a, _b) = tokio::io::duplex(64);
    let cfg = Config {
        keep_alive_interval: std::time::Duration::from_secs(60),
        ..Config::default()
    };
    let err = Session::client(a, cfg).unwrap_err();
    assert!(
        matches!(err, Error::Config(ConfigError::TimeoutBelowInterval { .. })),
        "{err}"
    );
}
