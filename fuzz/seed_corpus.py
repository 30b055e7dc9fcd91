#!/usr/bin/env python3
"""Writes small seed corpora for the fuzz targets from the recorded upstream sessions and the docs.

Usage: python3 seed_corpus.py [VECTORS_DIR]   (default: ../vectors, relative to this file)
Seeds go to corpus/<target>/ (git-ignored). Every TCP stream is cut into the messages it starts
with, so each decoder gets the messages of its type plus the rest of the stream as a tail. The smux
targets get the MBIND session, the kcp target the recorded KCP datagrams (they decrypt with
upstream's default key), and the config targets every -L/-F URL and YAML example in docs/.
"""
import hashlib
import json
import re
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
VECTORS = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "../vectors"


DOCS = HERE / "../docs"


def kcp_datagrams():
    """Yields every recorded KCP datagram (ciphertext under upstream's default key)."""
    for path in sorted(VECTORS.glob("*kcp*.jsonl")):
        for line in path.read_text().splitlines()[1:]:
            rec = json.loads(line)
            yield bytes.fromhex(rec["hex"])


def doc_examples():
    """Yields ("url", text) for each -L/-F URL and ("yaml", text) for each YAML block in docs/."""
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text()
        for m in re.finditer(r"```ya?ml\n(.*?)```", text, re.S):
            yield "yaml", m.group(1)
        for m in re.finditer(r"-([LF])\s+'?\"?([a-z0-9+]*://[^\s'\"`]+)", text):
            yield "url", ("F" if m.group(1) == "F" else "") + m.group(2)


def streams():
    """Yields (direction, proto, bytes) for every TCP stream and UDP datagram."""
    for path in sorted(VECTORS.glob("*.jsonl")):
        if "kcp" in path.name or "ws" in path.name:
            continue
        lines = path.read_text().splitlines()[1:]
        tcp = {}
        for line in lines:
            rec = json.loads(line)
            data = bytes.fromhex(rec["hex"])
            if rec["proto"] == "udp":
                yield rec["dir"], "udp", data
            else:
                tcp.setdefault((rec["conn"], rec["dir"]), bytearray()).extend(data)
        for (_, direction), data in tcp.items():
            yield direction, "tcp", bytes(data)


def save(target, data):
    d = HERE / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def main():
    for direction, proto, data in streams():
        data = data[:2048]
        if proto == "udp":
            save("decode_udp_header", data)
            continue
        # Every suffix that starts a message is a seed for each decoder; cheap and broad.
        for start in range(0, min(len(data), 64)):
            tail = data[start:start + 600]
            for target in ["decode_address", "decode_socks4_request", "decode_socks4_reply",
                           "decode_method_request", "decode_method_reply", "decode_request",
                           "decode_reply", "decode_user_pass_request",
                           "decode_user_pass_response", "decode_udp_tun_frame"]:
                if tail and tail[0] in (0, 1, 4, 5):
                    save(target, tail)
        # Handshake scripts: flags (auth, tls), no explicit read sizes, then the stream.
        target = "server_handshake" if direction == "c2s" else "client_handshake"
        for flags in range(4):
            save(target, bytes([flags, 0]) + data[:600])


def more_seeds():
    """Seeds for the smux, kcp and config targets."""
    for direction, proto, data in streams():
        if proto != "tcp":
            continue
        # The MBIND stream turns into smux after its SOCKS5 part; any start may be a frame.
        for start in range(0, min(len(data), 64)):
            tail = data[start:start + 1024]
            if tail and tail[0] in (1, 2):
                save("smux_frame", tail)
                save("smux_session", bytes([tail[0] - 1]) + tail)
    datagrams = list(kcp_datagrams())
    for i in range(0, len(datagrams), 8):
        group = datagrams[i:i + 8]
        # flags 0: AES-256, FEC 10/3, mode 0 (received ciphertext); one length byte per datagram.
        seed = bytearray([0])
        for d in group:
            d = d[:255]
            seed += bytes([len(d)]) + d
        save("kcp_packet", bytes(seed))
    # Round-trip mode with each FEC setting, a few KCP-sized buffers.
    for fec in range(4):
        save("kcp_packet", bytes([0x80 | fec << 3, 5]) + (bytes([30]) + bytes(range(30))) * 14)
    urls, yamls = [], []
    for kind, text in doc_examples():
        (urls if kind == "url" else yamls).append(text)
    for u in urls:
        save("config_url", u.encode())
    for i in range(0, len(urls), 3):
        save("config_url", "\n".join(urls[i:i + 3]).encode())
    for y in yamls:
        save("config_file", b"\x00" + y.encode())


if __name__ == "__main__":
    main()
    more_seeds()
