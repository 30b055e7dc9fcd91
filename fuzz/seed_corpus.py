#!/usr/bin/env python3
"""Writes small seed corpora for the fuzz targets from the recorded upstream sessions.

Usage: python3 seed_corpus.py [VECTORS_DIR]   (default: ../../shared/vectors, relative to this file)
Seeds go to corpus/<target>/ (git-ignored). Every TCP stream is cut into the messages it starts
with, so each decoder gets the messages of its type plus the rest of the stream as a tail.
"""
import hashlib
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
VECTORS = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "../../shared/vectors"


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


if __name__ == "__main__":
    main()
