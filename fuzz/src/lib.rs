//! Checks shared by the fuzz targets: decoders are sound (what decodes re-encodes and decodes to
//! the same value, prefixes need more) and handshakes do not depend on how input is split.

use std::fmt::Debug;

use socks_wire::{
    Address, ClientConfig, ClientEvent, ClientHandshake, Command, Decode, Decoded, Encode,
    HandshakeError, Request, ServerConfig, ServerEvent, ServerHandshake, UserPassRequest,
};

/// Prefix checks are quadratic; past this length only a sample of prefixes is checked.
const FULL_PREFIX_CHECK: usize = 600;

/// Decodes `data` as `T` and checks every promise of the `Decode`/`Encode` contract.
pub fn check_decoder<T>(data: &[u8])
where
    T: for<'a> Decode<'a> + Encode + PartialEq + Debug,
{
    check_borrowing_decoder::<T>(data, |value, encoded| {
        check_reencoding::<T>(encoded, value)
    });
}

fn check_reencoding<T>(encoded: &[u8], value: &T)
where
    T: for<'b> Decode<'b> + Encode + Debug + PartialEq,
{
    match T::decode(encoded) {
        Ok(Decoded::Complete(again, len)) => {
            assert_eq!(&again, value);
            assert_eq!(len, encoded.len());
            assert_eq!(
                again.to_vec().expect("re-encode"),
                encoded,
                "encoding is canonical"
            );
        }
        other => panic!("re-decoding {value:?} gave {other:?}"),
    }
}

/// Like [`check_decoder`] for a message that borrows from its input (the UDP-TUN frame).
pub fn check_borrowing_decoder<'a, T>(data: &'a [u8], reencode_check: impl Fn(&T, &[u8]))
where
    T: Decode<'a> + Encode + Debug,
{
    match T::decode(data) {
        Ok(Decoded::Complete(value, len)) => {
            assert!(len >= 1 && len <= data.len());
            check_prefixes::<T>(&data[..len]);
            let encoded = value.to_vec().expect("a decoded value must encode");
            assert_eq!(encoded.len(), value.encoded_len());
            reencode_check(&value, &encoded);
        }
        Ok(Decoded::NeedMore(n)) => assert!(n >= 1),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

fn check_prefixes<'a, T: Decode<'a> + Debug>(msg: &'a [u8]) {
    let step = if msg.len() <= FULL_PREFIX_CHECK {
        1
    } else {
        msg.len() / 64
    };
    for k in (0..msg.len()).step_by(step).chain([msg.len() - 1]) {
        match T::decode(&msg[..k]) {
            Ok(Decoded::NeedMore(n)) => {
                assert!(n >= 1 && k + n <= msg.len(), "prefix {k}: need {n}")
            }
            other => panic!("prefix {k} of a complete message: {other:?}"),
        }
    }
}

/// Splits fuzz input into a config byte, read sizes and the byte stream fed to a handshake.
pub struct Script<'a> {
    pub flags: u8,
    pub cuts: Vec<usize>,
    pub input: &'a [u8],
}

impl<'a> Script<'a> {
    /// Byte 0: flags; byte 1: number of cut sizes n (mod 16); next n bytes: read sizes; rest: input.
    pub fn parse(data: &'a [u8]) -> Option<Script<'a>> {
        let (&flags, rest) = data.split_first()?;
        let (&n, rest) = rest.split_first()?;
        let n = usize::from(n % 16).min(rest.len());
        let (cuts, input) = rest.split_at(n);
        Some(Script {
            flags,
            cuts: cuts.iter().map(|&c| usize::from(c)).collect(),
            input,
        })
    }
}

/// What a handshake event asks the driver to do.
enum Flow {
    /// Read more input.
    Read,
    /// Call `advance` again without reading.
    Continue,
    /// The handshake finished with this outcome.
    Done(String),
}

/// Feeds `input` to `advance` in reads of the given sizes (1 byte at least, the rest at once when
/// the sizes run out) and returns the concatenated output and a description of the outcome.
fn drive<E: Debug>(
    input: &[u8],
    cuts: &[usize],
    mut advance: impl FnMut(&[u8], &mut Vec<u8>) -> Result<socks_wire::Step<E>, HandshakeError>,
    mut on_event: impl FnMut(E) -> Flow,
) -> (Vec<u8>, String) {
    let (mut buf, mut out) = (Vec::new(), Vec::new());
    let mut fed = 0;
    let mut cuts = cuts.iter().copied();
    loop {
        let step = match advance(&buf, &mut out) {
            Ok(step) => step,
            Err(e) => {
                let again = advance(&[], &mut out);
                assert!(
                    matches!(again, Err(HandshakeError::OutOfOrder(_))),
                    "{again:?}"
                );
                return (out, format!("error: {e}"));
            }
        };
        assert!(step.consumed <= buf.len());
        buf.drain(..step.consumed);
        match on_event(step.event) {
            Flow::Read if fed == input.len() => return (out, "need more".into()),
            Flow::Read => {
                let take = cuts
                    .next()
                    .unwrap_or(input.len())
                    .clamp(1, input.len() - fed);
                buf.extend_from_slice(&input[fed..fed + take]);
                fed += take;
            }
            Flow::Continue => {}
            Flow::Done(done) => {
                let rest = [&buf[..], &input[fed..]].concat();
                return (out, format!("{done} then {rest:02x?}"));
            }
        }
    }
}

/// Runs the server machine over the script with its read sizes and in one read, and checks both
/// give the same bytes and outcome.
pub fn check_server(script: &Script<'_>) {
    let config = ServerConfig {
        auth: script.flags & 1 != 0,
        tls: script.flags & 2 != 0,
    };
    let run = |cuts: &[usize]| {
        let mut hs = ServerHandshake::new(config);
        let verdicts = std::cell::RefCell::new(Vec::new());
        drive(
            script.input,
            cuts,
            |input, out| {
                if let Some(v) = verdicts.borrow_mut().pop() {
                    hs.set_authenticated(v).expect("verdict expected");
                }
                let before = out.len();
                let step = hs.advance(input, out);
                assert!(
                    out.len() - before <= 12,
                    "server writes at most 12 bytes per call"
                );
                step
            },
            |event| match event {
                ServerEvent::NeedMore(n) => {
                    assert!(n >= 1);
                    Flow::Read
                }
                ServerEvent::StartTls => Flow::Continue,
                ServerEvent::Authenticate(creds) => {
                    verdicts.borrow_mut().push(creds.username == b"ok");
                    Flow::Continue
                }
                ServerEvent::Request(r) => Flow::Done(format!("request {r:?}")),
            },
        )
    };
    let split = run(&script.cuts);
    let whole = run(&[]);
    assert_eq!(split, whole, "server outcome depends on read sizes");
}

/// Runs the client machine over the script with its read sizes and in one read, and checks both
/// give the same bytes and outcome.
pub fn check_client(script: &Script<'_>) {
    let config = ClientConfig {
        credentials: (script.flags & 1 != 0).then(|| UserPassRequest::new("ok", "pw")),
        tls: script.flags & 2 != 0,
    };
    let request = Request::new(Command::Connect, Address::UNSPECIFIED);
    let run = |cuts: &[usize]| {
        let mut hs = ClientHandshake::new(config.clone(), request.clone());
        drive(
            script.input,
            cuts,
            |input, out| hs.advance(input, out),
            |event| match event {
                ClientEvent::NeedMore(n) => {
                    assert!(n >= 1);
                    Flow::Read
                }
                ClientEvent::StartTls => Flow::Continue,
                ClientEvent::Reply(r) => Flow::Done(format!("reply {r:?}")),
            },
        )
    };
    let split = run(&script.cuts);
    let whole = run(&[]);
    assert_eq!(split, whole, "client outcome depends on read sizes");
}

/// Prints `config` as YAML and as JSON, reads both back and checks nothing changed, then runs
/// validation (which may reject the config, but must not panic).
pub fn check_config_round_trip(config: &gost_config::Config) {
    let yaml = config.to_yaml();
    match gost_config::from_yaml_str(&yaml) {
        Ok((again, _)) => assert_eq!(&again, config, "YAML round trip of\n{yaml}"),
        Err(e) => panic!("printed YAML does not load: {e}\n{yaml}"),
    }
    let json = config.to_json();
    match gost_config::from_json_str(&json) {
        Ok((again, _)) => assert_eq!(&again, config, "JSON round trip of\n{json}"),
        Err(e) => panic!("printed JSON does not load: {e}\n{json}"),
    }
    if let Err(e) = gost_config::validate(config) {
        assert!(!e.to_string().is_empty());
    }
}
