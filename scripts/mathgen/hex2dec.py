"""Rewrites sollya's hexadecimal floats (0x1.8p-3) as Rust decimal literals.

`sollya fit.sollya | python3 hex2dec.py [f32]`: with f32, the shortest
decimal that reads back as the same f32 (the coefficients are SG there).
"""
import re
import struct
import sys

f32 = len(sys.argv) > 1 and sys.argv[1] == "f32"


def short32(v):
    for p in range(1, 12):
        s = "%.*g" % (p, v)
        if struct.unpack('<f', struct.pack('<f', float(s)))[0] == v:
            return s
    return repr(v)


def conv(m):
    v = float.fromhex(m.group(0))
    s = short32(v) if f32 else repr(v)
    if "e" not in s and "." not in s:
        s += ".0"
    return s


for line in sys.stdin:
    sys.stdout.write(re.sub(r"-?0x[0-9a-f]+(\.[0-9a-f]*)?p[-+]?\d+", conv, line))
