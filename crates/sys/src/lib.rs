//! The only OS-specific `unsafe` of gost-rs, behind a small safe API in the spirit of quinn-udp:
//! zero-copy TCP relaying with splice(2) ([`splice`]) and batched datagram I/O with
//! recvmmsg(2)/sendmmsg(2) ([`mmsg`]) with UDP segmentation offload ([`gso`]), the socket and
//! process options std and socket2 lack ([`sockopt`]), signals, page size, clock ticks and CPU time
//! ([`process`]), and the global allocator of the `gost` binary ([`alloc`]: large blocks aligned to
//! 64 bytes). Linux only.
//!
//! Why hand-written rather than a crate: socket2 and nix cover neither call with the buffer layout
//! the relays need (one flat buffer cut into slots, addresses kept in a caller-owned list, no
//! allocation per call), and quinn-udp's batching is tied to QUIC's segment offload. Each function
//! here is one system call over borrowed descriptors and slices; the callers (gost-service's relays,
//! gost-bench's generators) keep their own readiness handling, so this crate knows nothing of tokio
//! or SOCKS.

pub mod alloc;
pub mod gso;
pub mod mmsg;
pub mod process;
pub mod sockopt;
pub mod splice;
