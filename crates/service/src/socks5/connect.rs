//! CONNECT: dial the target, reply with the real local address of the outbound socket (upstream sends
//! 0.0.0.0:0) or the precise failure code, then leave the relay to the runner.

use gost_transport::Stream;
use socks_wire::{Address, ReplyCode};

use super::reply;
use crate::outbound::Outbound;
use crate::relay::hand_off;
use crate::{Error, Report};

/// Serves a CONNECT dialed with `outbound` (the handler's, or the one its routing picked).
pub(super) async fn serve(
    outbound: &dyn Outbound,
    mut conn: Stream,
    target: &Address,
    early: Vec<u8>,
    report: &mut Report,
) -> Result<(), Error> {
    let upstream = match outbound.connect(target).await {
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
    hand_off(conn, upstream, &early, report).await
}
