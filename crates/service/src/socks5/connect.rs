//! CONNECT: dial the target, reply with the real local address of the outbound socket (upstream sends
//! 0.0.0.0:0) or the precise failure code, then leave the relay to the runner.

use gost_transport::Stream;
use socks_wire::{Address, ReplyCode};
use tokio::io::AsyncWriteExt;

use super::reply;
use crate::outbound::Outbound;
use crate::relay::{Relay, Transferred};
use crate::{Error, Report};

/// Serves a CONNECT dialed with `outbound` (the handler's, or the one its routing picked).
pub(super) async fn serve(
    outbound: &dyn Outbound,
    mut conn: Stream,
    target: &Address,
    early: Vec<u8>,
    report: &mut Report,
) -> Result<(), Error> {
    let mut upstream = match outbound.connect(target).await {
        Ok(s) => s,
        Err(e) => {
            reply(&mut conn, e.socks5_code(), &Address::UNSPECIFIED).await?;
            return Err(e.into());
        }
    };
    let bound = upstream
        .local_addr()
        .map_or(Address::UNSPECIFIED, Address::from);
    reply(&mut conn, ReplyCode::Succeeded, &bound).await?;
    if !early.is_empty() {
        upstream.write_all(&early).await?;
    }
    report.transferred = Transferred {
        a_to_b: early.len() as u64,
        b_to_a: 0,
    };
    report.relay = Some(Relay::new(conn, upstream));
    Ok(())
}
