#!/usr/bin/env bash
# Soak test (not run in CI): N minutes of mixed load against real `gost` processes on loopback —
# CONNECT, UDP ASSOCIATE and BIND on a direct SOCKS5 server, CONNECT through chains over a TLS hop
# and a WebSocket hop, UDP forwarded through the TLS chain with keepalive (UDP ASSOCIATE through a
# chain is not supported by the handler; `-L udp://` forwarding is) — checking every transferred byte, sampling each process's resident
# memory and open descriptors, and checking the descriptors return to their starting count.
#
#   scripts/soak.sh [-m MINUTES] [-c CLIENTS] [-b GOST_BINARY] [-o OUT_DIR]
#     defaults: 10 minutes, 64 concurrent clients, target/release/gost, target/soak
#
# Needs python3. Every socket is on 127.0.0.1, on ports free at start. The processes run
# under the issue's descriptor hard limit of 20 000. Prints a summary; exits non-zero if a byte was
# wrong, a process died, or a process ended with more descriptors than it started with.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=10
clients=64
gost=target/release/gost
out=target/soak
while getopts "m:c:b:o:" opt; do
  case $opt in
    m) minutes=$OPTARG ;;
    c) clients=$OPTARG ;;
    b) gost=$OPTARG ;;
    o) out=$OPTARG ;;
    *) sed -n '2,12p' "$0"; exit 2 ;;
  esac
done
[ -x "$gost" ] || { echo "soak: $gost not found (cargo build --release -p gost)" >&2; exit 1; }
mkdir -p "$out"

# Seven ports free for TCP and UDP, below the kernel's ephemeral range so that the outgoing
# connections of a busy machine cannot take them between this check and the bind.
ports=$(python3 - <<'PY'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
ports = []
while len(ports) < 7:
    port = random.randrange(max(1024, low - 12000), low)
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            with socket.socket(socket.AF_INET, kind) as s:
                s.bind(("127.0.0.1", port))
    except OSError:
        continue
    if port not in ports:
        ports.append(port)
print(*ports)
PY
)
read -r direct tls_hop ws_hop via_tls via_ws udp_fwd udp_echo <<<"$ports"
# direct: socks5 with udp + bind; udp_fwd: udp:// forward through the tls chain to the driver's UDP echo

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

start() { # name, args...
  local name=$1; shift
  ( ulimit -n 20000; exec "$gost" "$@" ) >"$out/$name.log" 2>&1 &
  pids+=($!)
  echo "$name=$!"
}
{
  start servers -L "socks5://127.0.0.1:$direct?udp=true&bind=true" \
    -L "socks5+tls://127.0.0.1:$tls_hop?udp=true" -L "socks5+ws://127.0.0.1:$ws_hop?udp=true"
  start via_tls -L "socks5://127.0.0.1:$via_tls" -L "udp://127.0.0.1:$udp_fwd/127.0.0.1:$udp_echo?keepalive=true" \
    -F "socks5+tls://127.0.0.1:$tls_hop"
  start via_ws -L "socks5://127.0.0.1:$via_ws" -F "socks5+ws://127.0.0.1:$ws_hop"
} >"$out/pids"

python3 - "$minutes" "$clients" "$out" "$direct" "$via_tls" "$via_ws" "$udp_fwd" "$udp_echo" "$gost" <<'PY'
import asyncio, os, random, re, socket, struct, sys, time

minutes, clients, out = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
direct, via_tls, via_ws, udp_fwd, udp_echo = (int(p) for p in sys.argv[4:9])
binary = sys.argv[9]
procs = dict(line.strip().split("=") for line in open(f"{out}/pids"))
LO = "127.0.0.1"
stats = {}
failures = []


def count(kind, key, n=1):
    stats.setdefault(kind, {}).setdefault(key, 0)
    stats[kind][key] += n


def rss_fds(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


async def wait_port(port):
    for _ in range(100):
        try:
            r, w = await asyncio.open_connection(LO, port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise SystemExit(f"soak: nothing listens on {port}")


async def tcp_echo(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.write_eof()
    except OSError:
        pass
    finally:
        writer.close()


class UdpEcho(asyncio.DatagramProtocol):
    def connection_made(self, t):
        self.t = t

    def datagram_received(self, data, addr):
        self.t.sendto(data, addr)


async def greet(port):
    r, w = await asyncio.open_connection(LO, port)
    w.write(b"\x05\x01\x00")
    assert await r.readexactly(2) == b"\x05\x00"
    return r, w


async def reply(r):
    head = await r.readexactly(4)
    assert head[0] == 5 and head[1] == 0, f"reply {head.hex()}"
    body = await r.readexactly({1: 6, 4: 18}[head[3]])
    return socket.inet_ntop(socket.AF_INET if head[3] == 1 else socket.AF_INET6, body[:-2]), \
        struct.unpack(">H", body[-2:])[0]


def req(cmd, host, port):
    return bytes([5, cmd, 0, 1]) + socket.inet_aton(host) + struct.pack(">H", port)


async def pump(r, w, payload):
    async def send():
        for i in range(0, len(payload), 16384):
            w.write(payload[i:i + 16384])
            await w.drain()
        w.write_eof()
    sender = asyncio.create_task(send())
    got = bytearray()
    while len(got) < len(payload):
        chunk = await r.read(65536)
        if not chunk:
            break
        got += chunk
    await sender
    return bytes(got)


async def connect_case(kind, port, echo):
    payload = random.randbytes(random.randint(1, 256 * 1024))
    r, w = await greet(port)
    try:
        w.write(req(1, LO, echo))
        await reply(r)
        got = await pump(r, w, payload)
        if got != payload:
            failures.append(f"{kind}: {len(got)}/{len(payload)} bytes back, content equal: {got == payload[:len(got)]}")
        else:
            count(kind, "bytes", len(payload))
    finally:
        w.close()


def udp_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LO, 0))
    sock.setblocking(False)
    return sock


async def udp_round_trips(kind, sock, dest, head=b""):
    """Sends 20 random datagrams (behind `head`) to `dest` one at a time and counts the echoes that
    come back as `head` + the same payload; a lost one is counted, a changed one is a failure."""
    loop = asyncio.get_running_loop()
    for _ in range(20):
        payload = random.randbytes(random.randint(1, 1400))
        await loop.sock_sendto(sock, head + payload, dest)
        try:
            data = await asyncio.wait_for(loop.sock_recv(sock, 65536), 2)
        except asyncio.TimeoutError:
            count(kind, "lost")
            continue
        if data[len(head):] != payload or (head and data[:4] != head[:4]):
            failures.append(f"{kind}: datagram changed ({len(data)} bytes)")
        else:
            count(kind, "bytes", len(payload))
            count(kind, "datagrams")


async def udp_case(kind, port, uecho):
    r, w = await greet(port)
    sock = udp_socket()
    try:
        w.write(req(3, LO, sock.getsockname()[1]))
        relay = await reply(r)
        relay = (LO if relay[0] in ("0.0.0.0", "::") else relay[0], relay[1])
        head = bytes([0, 0, 0, 1]) + socket.inet_aton(LO) + struct.pack(">H", uecho)
        await udp_round_trips(kind, sock, relay, head)
    finally:
        sock.close()
        w.close()


async def udp_forward_case(kind, port):
    sock = udp_socket()
    try:
        await udp_round_trips(kind, sock, (LO, port))
    finally:
        sock.close()


async def bind_case(kind, port):
    r, w = await greet(port)
    try:
        w.write(req(2, "0.0.0.0", 0))
        host, bport = await reply(r)
        pr, pw = await asyncio.open_connection(LO, bport)
        await reply(r)  # the peer arrived
        up, down = random.randbytes(random.randint(1, 64 * 1024)), random.randbytes(random.randint(1, 64 * 1024))
        pw.write(down)
        await pw.drain()
        pw.write_eof()
        w.write(up)
        await w.drain()
        w.write_eof()
        got_down = await r.read(-1)
        got_up = await pr.read(-1)
        pw.close()
        if got_down != down or got_up != up:
            failures.append(f"{kind}: bound connection changed bytes")
        else:
            count(kind, "bytes", len(up) + len(down))
    finally:
        w.close()


async def sampler(samples, stop):
    with open(f"{out}/samples.csv", "w") as csv:
        csv.write("t," + ",".join(f"{n}_rss_kib,{n}_fds" for n in procs) + "\n")
        t0 = time.monotonic()
        while not stop.is_set():
            row = {}
            for name, pid in procs.items():
                try:
                    row[name] = rss_fds(pid)
                except FileNotFoundError:
                    failures.append(f"process {name} died")
                    stop.set()
                    return
            samples.append(row)
            csv.write(f"{time.monotonic() - t0:.0f}," + ",".join(f"{a},{b}" for a, b in row.values()) + "\n")
            csv.flush()
            try:
                await asyncio.wait_for(stop.wait(), 1)
            except asyncio.TimeoutError:
                pass


async def worker(i, deadline, echo, uecho):
    cases = [
        ("connect direct", lambda: connect_case("connect direct", direct, echo)),
        ("connect via tls", lambda: connect_case("connect via tls", via_tls, echo)),
        ("connect via ws", lambda: connect_case("connect via ws", via_ws, echo)),
        ("udp direct", lambda: udp_case("udp direct", direct, uecho)),
        ("udp fwd via tls", lambda: udp_forward_case("udp fwd via tls", udp_fwd)),
        ("bind direct", lambda: bind_case("bind direct", direct)),
    ]
    n = i
    while time.monotonic() < deadline:
        kind, case = cases[n % len(cases)]
        n += 1
        try:
            await asyncio.wait_for(case(), 30)
            count(kind, "sessions")
        except Exception as e:  # noqa: BLE001 - every failure is reported
            count(kind, "errors")
            failures.append(f"{kind}: {type(e).__name__}: {e}")


async def main():
    echo_srv = await asyncio.start_server(tcp_echo, LO, 0)
    echo = echo_srv.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    ut, _ = await loop.create_datagram_endpoint(UdpEcho, local_addr=(LO, udp_echo))
    uecho = udp_echo
    for p in (direct, via_tls, via_ws):
        await wait_port(p)
    # The descriptor baseline is the idle process; then warm up (TLS sessions, allocator arenas).
    await asyncio.sleep(1)
    idle = {n: rss_fds(p) for n, p in procs.items()}
    await asyncio.gather(*(worker(i, time.monotonic() + 3, echo, uecho) for i in range(6)))
    start = {n: (rss_fds(p)[0], idle[n][1]) for n, p in procs.items()}
    stats.clear()
    samples, stop = [], asyncio.Event()
    sampling = asyncio.create_task(sampler(samples, stop))
    t0 = time.monotonic()
    deadline = t0 + minutes * 60
    await asyncio.gather(*(worker(i, deadline, echo, uecho) for i in range(clients)))
    elapsed = time.monotonic() - t0
    await asyncio.sleep(8)  # connections close, UDP associations and forwards expire
    stop.set()
    await sampling
    end = {n: rss_fds(p) for n, p in procs.items() if os.path.exists(f"/proc/{p}")}
    lines = [f"soak: {elapsed / 60:.1f} min, {clients} clients, binary {binary}"]
    total_sessions = sum(s.get("sessions", 0) for s in stats.values())
    total_bytes = sum(s.get("bytes", 0) for s in stats.values())
    for kind, s in sorted(stats.items()):
        lines.append(f"  {kind:16} sessions {s.get('sessions', 0):7}  bytes verified {s.get('bytes', 0):13}"
                     f"  errors {s.get('errors', 0)}" + (f"  datagrams {s.get('datagrams', 0)} lost {s.get('lost', 0)}" if 'datagrams' in s or 'lost' in s else ""))
    lines.append(f"  total: {total_sessions} sessions, {total_bytes / 2**30:.2f} GiB verified, {len(failures)} failures")
    for name in procs:
        max_rss = max((row[name][0] for row in samples if name in row), default=0)
        max_fds = max((row[name][1] for row in samples if name in row), default=0)
        s_rss, s_fds = start[name]
        e_rss, e_fds = end.get(name, (0, -1))
        lines.append(f"  {name:8} rss start {s_rss} KiB, max {max_rss} KiB, end {e_rss} KiB;"
                     f" fds start {s_fds}, max {max_fds}, end {e_fds}")
        if e_fds > s_fds:
            failures.append(f"{name}: {e_fds} descriptors at the end, {s_fds} at the start")
    # One line per kind of failure (numbers folded), with how often it happened.
    kinds = {}
    for f in failures:
        key = re.sub(r"[0-9]+", "N", f)
        kinds.setdefault(key, [0, f])[0] += 1
    for key, (n, example) in sorted(kinds.items(), key=lambda kv: -kv[1][0]):
        lines.append(f"  FAIL x{n}: {example}")
    report = "\n".join(lines)
    print(report)
    open(f"{out}/summary.txt", "w").write(report + "\n")
    sys.exit(1 if failures else 0)


asyncio.run(main())
PY
