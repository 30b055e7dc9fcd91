//! Arbitrary and mutated bytes never panic any decoder or any handshake machine (SOCKS5 and SOCKS4); whatever
//! decodes re-encodes to something that decodes to the same value; and a handshake's outcome does
//! not depend on how its input is split into reads.

mod common;

use std::fmt::Debug;

use common::strategies;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use socks_wire::{
    Address, ClientConfig, ClientEvent, ClientHandshake, Command, Decode, Decoded, Encode,
    HandshakeError, MethodReply, MethodRequest, Reply, Request, ServerConfig, ServerEvent,
    ServerHandshake, Socks4ClientHandshake, Socks4Reply, Socks4Request, Socks4ServerEvent,
    Socks4ServerHandshake, Socks4Target, Step, UdpHeader, UdpTunFrame, UserPassRequest,
    UserPassResponse,
};

/// Decodes `bytes` as `T`; a complete value must re-encode and decode to itself.
fn decode_is_sound<T>(bytes: &[u8]) -> Result<(), TestCaseError>
where
    T: for<'a> Decode<'a> + Encode + PartialEq + Debug,
{
    match T::decode(bytes) {
        Ok(Decoded::Complete(v, len)) => {
            prop_assert!(len <= bytes.len());
            let again = v.to_vec().map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(again.len(), v.encoded_len());
            match T::decode(&again) {
                Ok(Decoded::Complete(w, n)) => {
                    prop_assert_eq!(w, v);
                    prop_assert_eq!(n, again.len());
                }
                other => return Err(TestCaseError::fail(format!("re-decode: {other:?}"))),
            }
        }
        Ok(Decoded::NeedMore(n)) => prop_assert!(n >= 1),
        Err(e) => prop_assert!(!e.to_string().is_empty()),
    }
    Ok(())
}

fn all_decoders(bytes: &[u8]) -> Result<(), TestCaseError> {
    decode_is_sound::<Address>(bytes)?;
    decode_is_sound::<Socks4Request>(bytes)?;
    decode_is_sound::<Socks4Reply>(bytes)?;
    decode_is_sound::<MethodRequest>(bytes)?;
    decode_is_sound::<MethodReply>(bytes)?;
    decode_is_sound::<Request>(bytes)?;
    decode_is_sound::<Reply>(bytes)?;
    decode_is_sound::<UserPassRequest>(bytes)?;
    decode_is_sound::<UserPassResponse>(bytes)?;
    decode_is_sound::<UdpHeader>(bytes)?;
    let _ = UdpHeader::split_datagram(bytes);
    if let Ok(Decoded::Complete(frame, len)) = UdpTunFrame::decode(bytes) {
        prop_assert!(len <= bytes.len() && !frame.payload.is_empty());
        let again = frame.to_vec().unwrap();
        prop_assert_eq!(
            UdpTunFrame::decode(&again),
            Ok(Decoded::Complete(frame, again.len()))
        );
    }
    Ok(())
}

/// Valid encodings of random messages with a few bytes overwritten and maybe cut short: inputs
/// that get past the version checks, unlike uniform noise.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let valid = prop_oneof![
        strategies::socks4_request().prop_map(|m| m.to_vec().unwrap()),
        strategies::method_request().prop_map(|m| m.to_vec().unwrap()),
        strategies::request().prop_map(|m| m.to_vec().unwrap()),
        strategies::reply().prop_map(|m| m.to_vec().unwrap()),
        strategies::user_pass_request().prop_map(|m| m.to_vec().unwrap()),
        strategies::udp_header().prop_map(|m| m.to_vec().unwrap()),
        strategies::udp_tun_parts().prop_map(|(a, p)| UdpTunFrame::new(a, &p).to_vec().unwrap()),
    ];
    (
        valid,
        vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(mut bytes, edits, cut)| {
            if !bytes.is_empty() {
                for (at, b) in edits {
                    let i = at.index(bytes.len());
                    bytes[i] = b;
                }
                bytes.truncate(cut.index(bytes.len() + 1).max(1));
            }
            bytes
        })
}

/// Hands `input` to a machine in the given read sizes (the rest in one read once `cuts` run out).
struct Feeder<'a> {
    input: &'a [u8],
    fed: usize,
    cuts: std::slice::Iter<'a, usize>,
    /// Fed and not consumed yet.
    buf: Vec<u8>,
}

impl<'a> Feeder<'a> {
    fn new(input: &'a [u8], cuts: &'a [usize]) -> Self {
        Feeder {
            input,
            fed: 0,
            cuts: cuts.iter(),
            buf: Vec::new(),
        }
    }

    /// Drops what the machine consumed and appends the next read; false when all was fed.
    fn consumed_then_feed(&mut self, consumed: usize, need: Option<usize>) -> bool {
        assert!(consumed <= self.buf.len());
        self.buf.drain(..consumed);
        let Some(n) = need else { return true };
        assert!(n >= 1);
        if self.fed == self.input.len() {
            return false;
        }
        let left = self.input.len() - self.fed;
        let take = self.cuts.next().copied().unwrap_or(left).clamp(1, left);
        self.buf
            .extend_from_slice(&self.input[self.fed..self.fed + take]);
        self.fed += take;
        true
    }

    /// Every byte the machine has not consumed, fed or not.
    fn rest(&self) -> Vec<u8> {
        [&self.buf[..], &self.input[self.fed..]].concat()
    }
}

/// Feeds `input` to a server in the given read sizes; returns everything written and the final
/// outcome as text. Credentials are accepted when the username is "ok".
fn run_server(config: ServerConfig, input: &[u8], cuts: &[usize]) -> (Vec<u8>, String) {
    let mut hs = ServerHandshake::new(config);
    let (mut feeder, mut out) = (Feeder::new(input, cuts), Vec::new());
    loop {
        let step = match hs.advance(&feeder.buf, &mut out) {
            Ok(step) => step,
            Err(e) => {
                // Errors are final.
                let again = hs.advance(&[], &mut out);
                assert!(
                    matches!(again, Err(HandshakeError::OutOfOrder(_))),
                    "{again:?}"
                );
                return (out, format!("error {e}"));
            }
        };
        let need = match &step.event {
            ServerEvent::NeedMore(n) => Some(*n),
            _ => None,
        };
        if !feeder.consumed_then_feed(step.consumed, need) {
            return (out, "need more".into());
        }
        match step.event {
            // Decrypted bytes continue in the same input here.
            ServerEvent::NeedMore(_) | ServerEvent::StartTls => {}
            ServerEvent::Authenticate(c) => hs.set_authenticated(c.username == b"ok").unwrap(),
            ServerEvent::Request(r) => {
                return (out, format!("request {r:?} then {:02x?}", feeder.rest()));
            }
        }
    }
}

fn run_client(config: ClientConfig, input: &[u8], cuts: &[usize]) -> (Vec<u8>, String) {
    let request = Request::new(Command::Connect, Address::UNSPECIFIED);
    let mut hs = ClientHandshake::new(config, request);
    let (mut feeder, mut out) = (Feeder::new(input, cuts), Vec::new());
    loop {
        let step = match hs.advance(&feeder.buf, &mut out) {
            Ok(step) => step,
            Err(e) => return (out, format!("error {e}")),
        };
        let need = match &step.event {
            ClientEvent::NeedMore(n) => Some(*n),
            _ => None,
        };
        if !feeder.consumed_then_feed(step.consumed, need) {
            return (out, "need more".into());
        }
        if let ClientEvent::Reply(r) = step.event {
            return (out, format!("reply {r:?} then {:02x?}", feeder.rest()));
        }
    }
}

fn server_config() -> impl Strategy<Value = ServerConfig> {
    (any::<bool>(), any::<bool>()).prop_map(|(auth, tls)| ServerConfig { auth, tls })
}

fn client_config() -> impl Strategy<Value = ClientConfig> {
    (any::<bool>(), any::<bool>()).prop_map(|(creds, tls)| ClientConfig {
        credentials: creds.then(|| UserPassRequest::new("ok", "pw")),
        tls,
    })
}

/// Noise or a mutated message, and the read sizes to feed it in.
fn any_cut_input() -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    (
        prop_oneof![vec(any::<u8>(), 0..300), mutated()],
        vec(1usize..40, 0..20),
    )
}

/// A well-formed client-to-server handshake for `config`, with trailing early data.
fn valid_client_bytes() -> impl Strategy<Value = (ServerConfig, Vec<u8>)> {
    (
        server_config(),
        strategies::request(),
        vec(any::<u8>(), 0..20),
    )
        .prop_map(|(config, request, early)| {
            let offer = ClientConfig {
                credentials: config.auth.then(|| UserPassRequest::new("ok", "pw")),
                tls: config.tls,
            };
            let mut bytes = offer.offer().to_vec().unwrap();
            if config.auth {
                bytes.extend(UserPassRequest::new("ok", "pw").to_vec().unwrap());
            }
            bytes.extend(request.to_vec().unwrap());
            bytes.extend(early);
            (config, bytes)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn noise_never_panics_a_decoder(bytes in vec(any::<u8>(), 0..600)) {
        all_decoders(&bytes)?;
    }

    #[test]
    fn mutated_messages_never_panic_a_decoder(bytes in mutated()) {
        all_decoders(&bytes)?;
    }

    #[test]
    fn server_survives_any_input(config in server_config(), (input, cuts) in any_cut_input()) {
        run_server(config, &input, &cuts);
    }

    #[test]
    fn client_survives_any_input(config in client_config(), (input, cuts) in any_cut_input()) {
        run_client(config, &input, &cuts);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn server_outcome_is_independent_of_read_sizes(
        (config, input) in valid_client_bytes(),
        cuts in vec(1usize..12, 0..40),
    ) {
        let whole = run_server(config, &input, &[]);
        prop_assert!(whole.1.starts_with("request"), "{}", whole.1);
        prop_assert_eq!(run_server(config, &input, &cuts), whole);
        let byte_by_byte = vec![1; input.len()];
        prop_assert_eq!(run_server(config, &input, &byte_by_byte), run_server(config, &input, &[]));
    }

    #[test]
    fn client_outcome_is_independent_of_read_sizes(
        config in client_config(),
        reply in strategies::reply(),
        cuts in vec(1usize..12, 0..40),
    ) {
        let mut input = vec![5, 0];
        input.extend(reply.to_vec().unwrap());
        let whole = run_client(config.clone(), &input, &[]);
        prop_assert!(whole.1.starts_with("reply"), "{}", whole.1);
        prop_assert_eq!(run_client(config, &input, &cuts), whole);
    }
}

/// Feeds `input` to a SOCKS4 server machine in reads of the sizes in `cuts` (then the rest) and says
/// how it ended: the request it took and how much it consumed, or the error.
fn run_socks4_server(input: &[u8], cuts: &[usize]) -> String {
    let mut hs = Socks4ServerHandshake::new();
    let mut seen = 0;
    for end in cuts
        .iter()
        .scan(0, |at, c| {
            *at = (*at + c).min(input.len());
            Some(*at)
        })
        .chain([input.len()])
    {
        seen = seen.max(end);
        match hs.advance(&input[..seen]) {
            Ok(Step {
                event: Socks4ServerEvent::NeedMore(n),
                consumed,
            }) => assert!(n >= 1 && consumed == 0),
            Ok(step) => return format!("{step:?}"),
            Err(e) => return format!("error {e}"),
        }
    }
    "incomplete".into()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn socks4_machines_survive_any_input(bytes in vec(any::<u8>(), 0..600)) {
        let _ = run_socks4_server(&bytes, &[]);
        let request = Socks4Request::connect(Socks4Target::Ip([127, 0, 0, 1].into()), 80);
        let mut client = Socks4ClientHandshake::new(request);
        let mut out = Vec::new();
        let mut input = &bytes[..];
        // A client reads at most two replies; after the handshake ends every call is an error.
        for _ in 0..3 {
            match client.advance(input, &mut out) {
                Ok(step) => input = &input[step.consumed..],
                Err(e) => { prop_assert!(!e.to_string().is_empty()); break; }
            }
        }
    }

    #[test]
    fn socks4_server_outcome_is_independent_of_read_sizes(
        request in strategies::socks4_request(),
        cuts in vec(1usize..12, 0..40),
    ) {
        let input = request.to_vec().unwrap();
        let whole = run_socks4_server(&input, &[]);
        prop_assert!(whole.contains("Request"), "{}", whole);
        prop_assert_eq!(run_socks4_server(&input, &cuts), whole);
    }
}
