"""Tables of qcc-runtime's math module (runtime-template/rust/src/math).

Prints Rust source for the constant tables; `python3 tables.py NAME`.
Needs mpmath. Values are rounded to nearest at each step (hi, then lo).
"""
import sys
from mpmath import mp, mpf, power, log, pi, floor

mp.prec = 400


def _f32(v):
    # Round an mpf to the nearest f32 (via f64 can double round; do it exactly).
    if v == 0:
        return 0.0
    m, e = mp.frexp(v)  # v = m * 2^e, 0.5 <= |m| < 1
    q = mp.nint(m * 2**24)
    return float(q * mpf(2)**(e - 24))


def f64(v):
    return float(v)  # mpmath rounds to nearest


def short32(v):
    """Shortest decimal that reads back as the f32 `v`."""
    import struct
    for p in range(1, 12):
        t = "%.*g" % (p, v)
        if struct.unpack('<f', struct.pack('<f', float(t)))[0] == v:
            return t if ("." in t or "e" in t) else t + ".0"
    return repr(v)


def hexf(x):
    return float.hex(x)


def r64(x):
    return repr(float(x))


def exp2_table64(n=32):
    rows = []
    for j in range(n):
        v = power(2, mpf(j) / n)
        hi = f64(v)
        lo = f64(v - hi)
        rows.append(f"    ({r64(hi)}, {r64(lo)}),")
    return "\n".join(rows)


def exp2_table32(n=32):
    rows = []
    for j in range(n):
        v = power(2, mpf(j) / n)
        hi = _f32(v)
        lo = _f32(v - hi)
        rows.append(f"    ({short32(hi)}, {short32(lo)}),")
    return "\n".join(rows)


def two_over_pi_words(nwords=20):
    # Bits of 2/pi after the binary point, 64 per word, most significant first.
    mp.prec = 64 * nwords + 200
    t = 2 / pi
    words = []
    for _ in range(nwords):
        t *= 2**64
        w = int(floor(t))
        t -= w
        words.append(f"0x{w:016x}")
    mp.prec = 400
    return ",\n".join("    " + w for w in words)


def pio2_fixed():
    mp.prec = 400
    v = int(floor(pi / 2 * mpf(2)**126))
    return f"0x{v:032x}"


def round_bits(v, bits):
    """v rounded to `bits` significant bits (an exact binary value)."""
    m, e = mp.frexp(v)
    return mp.nint(m * 2**bits) * mpf(2)**(e - bits)


def consts():
    out = []
    ln2 = log(2)
    l = ln2 / 32
    for name, v, hib, lob in [
        ("LN2_32 f64", l, 37, 53), ("LN2_32 f32", l, 11, 24),
        ("LN2 f64", ln2, 42, 53), ("LN2 f32", ln2, 16, 24),
    ]:
        hi = round_bits(v, hib)
        lo = round_bits(v - hi, lob)
        out.append(f"{name}: hi {r64(hi)} lo {r64(lo)}")
    for name, v in [("1/ln2", 1 / ln2), ("1/ln10", 1 / log(10)), ("log10(2)", log(2) / log(10)),
                    ("32/ln2", 32 / ln2), ("ln2", ln2)]:
        for hib, lob in [(33, 53), (12, 24)]:
            hi = round_bits(v, hib)
            lo = round_bits(v - hi, lob)
            out.append(f"{name} ({hib},{lob}): hi {r64(hi)} lo {r64(lo)}  full {r64(v)}")
    return "\n".join(out)


def log_table(f32=False, n=32):
    """Cells of [sqrt(1/2), sqrt(2)) by the top bits of the significand's bit
    pattern: c ~ 1/midpoint (c = 1 in the cell of 1) and -ln(c) as hi + lo."""
    import struct
    if f32:
        base, width = 0x3f3504f3, 1 << 18
        val = lambda b: struct.unpack('<f', struct.pack('<I', b))[0]
        rnd, cbits, fmt = _f32, 12, short32
    else:
        base, width = 0x3fe6a09e667f3bcd, 1 << 47
        val = lambda b: struct.unpack('<d', struct.pack('<Q', b))[0]
        rnd, cbits, fmt = f64, 20, r64
    rows = []
    for i in range(n):
        lo_v, hi_v = mpf(val(base + i * width)), mpf(val(base + (i + 1) * width))
        c = mpf(1) if lo_v <= 1 < hi_v else round_bits(2 / (lo_v + hi_v), cbits)
        v = -log(c)
        h = rnd(v)
        l = rnd(v - h)
        rows.append(f"    ({fmt(float(c))}, {fmt(h)}, {fmt(l)}),")
    return "\n".join(rows)


if __name__ == "__main__":
    what = sys.argv[1]
    print({
        "exp2_64": exp2_table64,
        "exp2_32": exp2_table32,
        "two_over_pi": lambda: two_over_pi_words(20),
        "pio2": pio2_fixed,
        "consts": consts,
        "log64": lambda: log_table(False),
        "log32": lambda: log_table(True),
    }[what]())
