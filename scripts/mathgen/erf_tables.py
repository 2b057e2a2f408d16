"""Rust tables for erf.rs from the output of erf.sollya.

`sollya erf.sollya | python3 erf_tables.py` prints the SMALL and PIECES
constants for f64 and f32: exact hexadecimal coefficients are rounded once
(the constant term of each piece is split into hi + lo).
"""
import struct
import sys
from fractions import Fraction


def exact(h):
    """Sollya's hexadecimal float as an exact fraction."""
    neg = h.startswith("-")
    h = h.lstrip("-")
    mant, exp = h[2:].split("p")
    whole, _, frac = mant.partition(".")
    v = Fraction(int(whole + frac, 16), 16 ** len(frac)) * Fraction(2) ** int(exp)
    return -v if neg else v


def f64(v):
    # Round a fraction to nearest double (float() of a Fraction rounds correctly).
    return float(v)


def f32(v):
    # Exact round-to-nearest-even to 24 bits.
    if v == 0:
        return 0.0
    x = float(v)
    c = struct.unpack('<f', struct.pack('<f', x))[0]  # may double round; fix below
    cands = [c, float(struct.unpack('<f', struct.pack('<I', struct.unpack('<I', struct.pack('<f', c))[0] + 1))[0]),
             float(struct.unpack('<f', struct.pack('<I', struct.unpack('<I', struct.pack('<f', c))[0] - 1))[0])]
    return min(cands, key=lambda a: (abs(Fraction(a) - v), struct.unpack('<I', struct.pack('<f', a))[0] & 1))


def lit(x, single):
    if single:
        for p in range(1, 12):
            s = "%.*g" % (p, x)
            if struct.unpack('<f', struct.pack('<f', float(s)))[0] == x:
                break
    else:
        s = repr(x)
    return s if ("." in s or "e" in s or "inf" in s) else s + ".0"


blocks = []
for line in sys.stdin:
    w = line.split()
    if not w:
        continue
    if w[0] in ("small", "interval"):
        blocks.append({"kind": w[0], "name": w[1], "args": w[2:], "coef": []})
    elif w[0] == "coef":
        blocks[-1]["coef"].append(exact(w[1]))

for name, single, typ, width in (("64", False, "f64", 17), ("32", True, "f32", 8)):
    rnd = f32 if single else f64
    for b in blocks:
        if b["name"] != name:
            continue
        if b["kind"] == "small":
            cs = list(b["coef"])
            cs[0] -= 1  # erf(x) = x + x P(x^2)
            print(f"const SMALL{name}: [{typ}; {len(cs)}] = [{', '.join(lit(rnd(c), single) for c in cs)}];")
            print(f"const PIECES{name}: [Piece<{typ}, {width}>; N] = [")
        else:
            lo, hi, mid = (exact(a) if a.startswith(("0x", "-0x")) else Fraction(a) for a in b["args"])
            c0 = b["coef"][0]
            h = rnd(c0)
            l = rnd(c0 - Fraction(h))
            q = [lit(rnd(c), single) for c in b["coef"][1:]]
            q += ["0.0"] * (width - len(q))
            print(f"    Piece {{ start: {lit(rnd(lo), single)}, mid: {lit(rnd(mid), single)}, "
                  f"g0: ({lit(h, single)}, {lit(l, single)}),")
            print(f"        q: [{', '.join(q)}] }},")
    print("];")
