//! Batched UDP on loopback: eight datagrams out with one sendmmsg(2), back in with recvmmsg(2) into
//! one flat buffer cut into slots.
//!
//! ```text
//! cargo run -p gost-sys --example mmsg_batch
//! ```

use std::net::UdpSocket;
use std::os::fd::AsFd;
use std::time::Duration;

use gost_sys::mmsg::{self, Wait};

const SLOT: usize = 64;

fn main() -> std::io::Result<()> {
    let rx = UdpSocket::bind("127.0.0.1:0")?;
    rx.set_read_timeout(Some(Duration::from_secs(5)))?; // bounds Wait::ForOne
    let tx = UdpSocket::bind("127.0.0.1:0")?;
    let to = rx.local_addr()?;

    let payloads: Vec<String> = (1..=8).map(|i| format!("datagram {i}")).collect();
    // At most N = 8 per call; datagram i is payloads[i], sent to `to`.
    let sent = mmsg::send::<8>(tx.as_fd(), payloads.len(), |i| {
        (payloads[i].as_bytes(), Some(to))
    })?;
    println!("sent {sent} datagrams in one call");

    let mut buf = [0u8; 8 * SLOT];
    let mut received = Vec::new();
    while received.len() < sent {
        // Blocks for the first datagram, then takes whatever else is queued.
        let n = received.len();
        mmsg::recv::<8>(
            rx.as_fd(),
            &mut buf[n * SLOT..],
            SLOT,
            0,
            sent - n,
            Wait::ForOne,
            &mut received,
        )?;
    }
    for (i, r) in received.iter().enumerate() {
        let data = &buf[i * SLOT..i * SLOT + r.len];
        println!("{:?} from {:?}", String::from_utf8_lossy(data), r.from);
    }
    Ok(())
}
