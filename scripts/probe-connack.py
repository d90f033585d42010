#!/usr/bin/env python3
"""Connects to an MQTT broker, sends an MQTT 3.1.1 CONNECT and checks the CONNACK accepts it.

Written with the standard library alone so the peer checking a cross-built `roost` shares no code with it.
Usage: probe-connack.py HOST PORT [TIMEOUT_SECONDS]; exit 0 when accepted, 1 otherwise.
"""
import socket
import sys
import time

host, port = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + float(sys.argv[3] if len(sys.argv) > 3 else 30)
# Fixed header 0x10, remaining length 17; "MQTT", level 4, clean session, keep alive 30, client id "probe".
connect = bytes([0x10, 17, 0, 4]) + b"MQTT" + bytes([4, 0x02, 0, 30, 0, 5]) + b"probe"
last_error = None
while time.monotonic() < deadline:
    try:
        with socket.create_connection((host, port), timeout=5) as s:
            s.sendall(connect)
            reply = b""
            while len(reply) < 4:
                chunk = s.recv(4 - len(reply))
                if not chunk:
                    break
                reply += chunk
            if reply == bytes([0x20, 0x02, 0x00, 0x00]):
                print(f"CONNACK accepted from {host}:{port}")
                sys.exit(0)
            print(f"unexpected reply {reply.hex()} from {host}:{port}", file=sys.stderr)
            sys.exit(1)
    except OSError as e:  # not listening yet: qemu takes a moment to start the binary
        last_error = e
        time.sleep(0.2)
print(f"no CONNACK from {host}:{port}: {last_error}", file=sys.stderr)
sys.exit(1)
