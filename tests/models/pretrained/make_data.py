"""Realistic inputs and onnxruntime references for the pretrained-model suite.

    python tests/models/pretrained/make_data.py target/pretrained

reads the verified models in DIR/models (fetch.py, build_minilm.py) and
writes, for every suite model, DIR/data/<model>/:

- calib.npz: the calibration set, test.npz: the held-out test set (made
  from different text, sentences and speech than the calibration set), in
  the layout `qcc run --dataset` and `--calibration` read: one array per
  input name, [samples, *input shape];
- ref.npz: onnxruntime's float outputs on test.npz, one array per output
  name, [samples, *output shape].

The inputs, each preprocessed as the package that ships the model does it:

- ddddocr OCR (common.onnx, common_old.onnx): captcha-like strings of 4-6
  letters and digits in DejaVu fonts, per-character colour, rotation and
  offset, noise dots and interference lines, drawn at 120x48 and resized
  like ddddocr (LANCZOS to height 64, grayscale, /255): [1, 1, 64, 160];
- ddddocr detector (common_det.onnx, YOLOX): 4-6 large glyphs on a
  gradient-and-blob picture of varying size, letterboxed into 416x416 with
  grey 114 as ddddocr's preproc does (BGR, 0..255): [1, 3, 416, 416];
- PP-OCR text-direction classifier: a few words of sentences.txt on paper,
  half of them rotated 180 degrees, resized to height 48 within width 192,
  (x / 255 - 0.5) / 0.5, zero padded on the right (rapidocr's
  resize_norm_img): [1, 3, 48, 192];
- PP-OCRv4 recognizer: 1-4 words per line, height 48 within width 320,
  the same normalization: [1, 3, 48, 320];
- PP-OCRv4 detector (DB): 320x320 pages with 4-8 lines of text of varying
  size, the same normalization: [1, 3, 320, 320];
- silero VAD (both models): sentences spoken by espeak-ng (several voices,
  speeds and pitches), resampled from 22,050 to 16,000 Hz, with 0.4-1.6 s
  gaps of background noise (sometimes a hum or a louder noise burst)
  between utterances, cut into frames of 512 new samples after 64 samples
  of context (input [1, 576]); the state input of each frame is the state
  the float model (onnxruntime) reached on the frames before it, from zeros
  at the start of the stream, so every frame is an independent sample;
  op15 also gets sr = 16000;
- MiniLM sentence encoder: sentences.txt tokenized with the package's
  tokenizer.json (the `tokenizers` package), truncated and padded to 64
  tokens, with the attention mask and zero token types: [1, 64] each.

Everything is seeded; DIR/data/STAMP records the hash of the inputs of this
script, so reruns with nothing changed return at once. Needs numpy, onnx,
onnxruntime, pillow, tokenizers (tests/requirements.txt), DejaVu fonts
(Debian's fonts-dejavu-core) and espeak-ng (Debian's espeak-ng).
"""

import hashlib
import json
import math
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageDraw, ImageFilter, ImageFont

HERE = Path(__file__).resolve().parent
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf"]
CAPTCHA_CHARS = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
VOICES = ["en-us", "en-gb", "en-us+f3", "en-gb+f2", "en-gb-scotland", "en-029+m2", "en-us+m3", "en-gb-x-rp+f4"]

# Samples per set (calibration, test). The CI tier of the Rust test uses the
# first samples of each; QCC_PRETRAINED=full uses them all.
SIZES = {
    "ddddocr_ocr": (64, 64),
    "ddddocr_det": (32, 24),
    "ppocr_cls": (64, 96),
    "ppocrv4_rec": (48, 48),
    "ppocrv4_det": (24, 16),
    "minilm_l6": (40, 24),
}
# Seconds of audio per VAD stream (calibration, test).
VAD_SECONDS = (20.0, 30.0)


def font(name, size):
    path = FONT_DIR / name
    if not path.exists():
        sys.exit(f"{path} is missing: install Debian's fonts-dejavu-core (scripts/test does)")
    return ImageFont.truetype(str(path), size)


def words():
    text = (HERE / "sentences.txt").read_text()
    return [w.strip(".,?'") for w in text.split() if w.strip(".,?'")]


def bgr_chw(img):
    """PIL RGB image -> float32 [3, H, W] in BGR order (OpenCV's), 0..255."""
    a = np.asarray(img.convert("RGB"), dtype=np.float32)[:, :, ::-1]
    return np.ascontiguousarray(a.transpose(2, 0, 1))


# ---------------------------------------------------------------- images


def captcha(rng, width=120, height=48):
    """A captcha-like image of 4-6 characters; returns (image, text)."""
    n = int(rng.integers(4, 7))
    text = "".join(rng.choice(list(CAPTCHA_CHARS), n))
    bg = tuple(int(c) for c in rng.integers(200, 256, 3))
    img = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(60, 160))):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        draw.point((x, y), fill=tuple(int(c) for c in rng.integers(80, 220, 3)))
    step = (width - 10) / n
    for i, ch in enumerate(text):
        f = font(FONTS[int(rng.integers(len(FONTS)))], int(rng.integers(24, 34)))
        glyph = Image.new("RGBA", (40, 44), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((6, 2), ch, font=f, fill=tuple(int(c) for c in rng.integers(0, 120, 3)) + (255,))
        glyph = glyph.rotate(float(rng.uniform(-25, 25)), resample=Image.BICUBIC, expand=False)
        x = int(5 + i * step + rng.uniform(-3, 3) - 8)
        y = int(rng.uniform(-6, 4))
        img.paste(glyph, (x, y), glyph)
    for _ in range(int(rng.integers(1, 3))):
        pts = [(int(rng.integers(0, width // 3)), int(rng.integers(0, height))), (int(rng.integers(2 * width // 3, width)), int(rng.integers(0, height)))]
        draw.line(pts, fill=tuple(int(c) for c in rng.integers(60, 180, 3)), width=int(rng.integers(1, 3)))
    return img, text


def ddddocr_ocr_input(rng):
    """ddddocr's OCR preprocessing: LANCZOS to height 64, grayscale, /255."""
    img, _ = captcha(rng)
    w = int(img.size[0] * (64 / img.size[1]))
    img = img.resize((w, 64), Image.LANCZOS).convert("L")
    return (np.asarray(img, dtype=np.float32) / 255.0)[None, None]


def picture(rng, width, height):
    """A photo-like background: a colour gradient with soft blobs and grain."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    c0, c1 = rng.uniform(40, 230, 3), rng.uniform(40, 230, 3)
    t = (x * rng.uniform(-1, 1) + y * rng.uniform(-1, 1)) / (width + height) + 0.5
    a = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    for _ in range(int(rng.integers(3, 8))):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(20, 120)
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
        a += blob[..., None] * rng.uniform(-80, 80, 3)[None, None]
    a += rng.normal(0, 6, a.shape)
    img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")
    return img.filter(ImageFilter.GaussianBlur(1.0))


def click_captcha(rng):
    """4-6 large rotated glyphs with outlines on a picture, as click captchas draw them."""
    width, height = int(rng.integers(300, 420)), int(rng.integers(200, 420))
    img = picture(rng, width, height)
    n = int(rng.integers(4, 7))
    for _ in range(n):
        ch = str(rng.choice(list(CAPTCHA_CHARS)))
        size = int(rng.integers(34, 60))
        f = font(FONTS[int(rng.integers(len(FONTS)))], size)
        glyph = Image.new("RGBA", (size + 24, size + 24), (0, 0, 0, 0))
        fill = tuple(int(c) for c in rng.integers(0, 256, 3)) + (255,)
        stroke = tuple(255 - c for c in fill[:3]) + (255,)
        ImageDraw.Draw(glyph).text((10, 4), ch, font=f, fill=fill, stroke_width=2, stroke_fill=stroke)
        glyph = glyph.rotate(float(rng.uniform(-40, 40)), resample=Image.BICUBIC)
        x, y = int(rng.integers(0, max(1, width - glyph.size[0]))), int(rng.integers(0, max(1, height - glyph.size[1])))
        img.paste(glyph, (x, y), glyph)
    return img


def ddddocr_det_input(rng):
    """ddddocr's YOLOX preproc: resize by min(416/h, 416/w), pad with 114, BGR CHW, 0..255."""
    img = click_captcha(rng)
    r = min(416 / img.size[1], 416 / img.size[0])
    resized = img.resize((int(img.size[0] * r), int(img.size[1] * r)), Image.BILINEAR)
    padded = Image.new("RGB", (416, 416), (114, 114, 114))
    padded.paste(resized, (0, 0))
    return bgr_chw(padded)[None]


def text_line(rng, vocab, n_words, height):
    """A line of `n_words` words on paper-like background, cropped to the text."""
    text = " ".join(rng.choice(vocab, n_words))
    f = font(FONTS[int(rng.integers(len(FONTS)))], height)
    left, top, right, bottom = f.getbbox(text)
    pad = int(rng.integers(3, 10))
    bg = tuple(int(c) for c in rng.integers(215, 256, 3))
    img = Image.new("RGB", (right - left + 2 * pad, bottom - top + 2 * pad), bg)
    ink = tuple(int(c) for c in rng.integers(0, 90, 3))
    ImageDraw.Draw(img).text((pad - left, pad - top), text, font=f, fill=ink)
    a = np.asarray(img, dtype=np.float32) + rng.normal(0, 4, (img.size[1], img.size[0], 3))
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB"), text


def ppocr_line_input(img, height, width):
    """rapidocr's resize_norm_img: height `height`, width at most `width`, [-1, 1], zero padded."""
    ratio = img.size[0] / img.size[1]
    w = width if math.ceil(height * ratio) > width else int(math.ceil(height * ratio))
    a = bgr_chw(img.resize((w, height), Image.BILINEAR)) / 255.0
    out = np.zeros((3, height, width), np.float32)
    out[:, :, :w] = (a - 0.5) / 0.5
    return out[None]


def ppocr_cls_input(rng, vocab, k):
    img, _ = text_line(rng, vocab, int(rng.integers(1, 4)), int(rng.integers(20, 40)))
    if k % 2:
        img = img.rotate(180)
    return ppocr_line_input(img, 48, 192)


def ppocrv4_rec_input(rng, vocab):
    for _ in range(100):
        img, _ = text_line(rng, vocab, int(rng.integers(1, 5)), int(rng.integers(22, 40)))
        if img.size[0] / img.size[1] <= 320 / 48:
            return ppocr_line_input(img, 48, 320)
    raise RuntimeError("no text line fits 320x48")


def ppocrv4_det_input(rng, vocab):
    """A 320x320 page with 4-8 lines of text; rapidocr's DB normalization."""
    bg = tuple(int(c) for c in rng.integers(205, 256, 3))
    page = Image.new("RGB", (320, 320), bg)
    draw = ImageDraw.Draw(page)
    y = int(rng.integers(4, 30))
    for _ in range(int(rng.integers(4, 9))):
        size = int(rng.integers(12, 30))
        f = font(FONTS[int(rng.integers(len(FONTS)))], size)
        text = " ".join(rng.choice(vocab, int(rng.integers(1, 5))))
        x = int(rng.integers(4, 120))
        if y + size + 4 > 316:
            break
        draw.text((x, y), text, font=f, fill=tuple(int(c) for c in rng.integers(0, 90, 3)))
        y += size + int(rng.integers(6, 30))
    a = np.asarray(page, dtype=np.float32) + rng.normal(0, 4, (320, 320, 3))
    page = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")
    return ((bgr_chw(page) / 255.0 - 0.5) / 0.5)[None].astype(np.float32)


# ---------------------------------------------------------------- speech


def espeak(text, voice, speed, pitch):
    """espeak-ng's speech as float samples at 16 kHz."""
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is missing: install Debian's espeak-ng (scripts/test does)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path), text], check=True)
        with wave.open(str(path)) as w:
            rate = w.getframerate()
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64) / 32768.0
    return resample(pcm, rate, 16000)


def resample(x, rate, target):
    """Band-limited resampling through the spectrum (as scipy.signal.resample)."""
    n = int(round(len(x) * target / rate))
    spectrum = np.fft.rfft(x)
    keep = n // 2 + 1
    out = np.zeros(keep, dtype=complex)
    m = min(keep, len(spectrum))
    out[:m] = spectrum[:m]
    return np.fft.irfft(out, n) * (n / len(x))


def noise(rng, n):
    """Background: low white or brown noise, sometimes a mains hum or a louder burst."""
    kind = rng.integers(3)
    if kind == 0:
        x = rng.normal(0, rng.uniform(0.001, 0.01), n)
    elif kind == 1:
        x = np.cumsum(rng.normal(0, 1, n))
        x = (x - np.convolve(x, np.ones(400) / 400, mode="same")) * rng.uniform(0.0005, 0.003)
    else:
        t = np.arange(n) / 16000
        x = rng.uniform(0.005, 0.03) * np.sin(2 * np.pi * rng.choice([50, 60]) * t) + rng.normal(0, 0.003, n)
    if rng.random() < 0.3:
        start, length = int(rng.integers(0, n)), int(rng.integers(800, 4000))
        x[start : start + length] += rng.normal(0, rng.uniform(0.02, 0.08), len(x[start : start + length]))
    return x


def speech_stream(rng, sentences, seconds):
    """Utterances separated by noise gaps, `seconds` long in all, at 16 kHz."""
    total = int(seconds * 16000)
    parts, length, k = [], 0, 0
    while length < total:
        gap = noise(rng, int(rng.uniform(0.4, 1.6) * 16000))
        voice = VOICES[int(rng.integers(len(VOICES)))]
        utt = espeak(sentences[k % len(sentences)], voice, int(rng.integers(130, 200)), int(rng.integers(30, 70)))
        utt = utt * rng.uniform(0.3, 0.9) / max(1e-6, np.abs(utt).max())
        utt = utt + noise(rng, len(utt)) * 0.5
        parts += [gap, utt]
        length += len(gap) + len(utt)
        k += 1
    return np.concatenate(parts)[:total].astype(np.float32)


def vad_frames(session, audio, op15):
    """Frames of 64 context + 512 new samples with the float model's state before each."""
    state = np.zeros((2, 1, 128), np.float32)
    context = np.zeros(64, np.float32)
    inputs, states = [], []
    for start in range(0, len(audio) - 511, 512):
        x = np.concatenate([context, audio[start : start + 512]])[None].astype(np.float32)
        feeds = {"input": x, "state": state}
        if op15:
            feeds["sr"] = np.array(16000, np.int64)
        inputs.append(x)
        states.append(state)
        _, state = session.run(None, feeds)
        context = x[0, -64:]
    data = {"input": np.stack(inputs), "state": np.stack(states)}
    if op15:
        data["sr"] = np.full(len(inputs), 16000, np.int64)
    return data


# ---------------------------------------------------------------- per model


def sentences():
    return [s for s in (HERE / "sentences.txt").read_text().splitlines() if s.strip()]


def stack_images(make, n):
    return np.stack([make(k) for k in range(n)]).astype(np.float32)


def image_sets(name):
    """(calibration, test) input dicts of an image model; calibration and
    test text come from disjoint halves of the vocabulary."""
    vocab = words()
    half = len(vocab) // 2
    calib_vocab, test_vocab = vocab[:half], vocab[half:]
    n_calib, n_test = SIZES[name]
    sets = []
    for split, (n, v) in enumerate([(n_calib, calib_vocab), (n_test, test_vocab)]):
        rng = np.random.default_rng([hash_name(name), split])
        if name == "ddddocr_ocr":
            sets.append({"input1": stack_images(lambda k: ddddocr_ocr_input(rng), n)})
        elif name == "ddddocr_det":
            sets.append({"images": stack_images(lambda k: ddddocr_det_input(rng), n)})
        elif name == "ppocr_cls":
            sets.append({"x": stack_images(lambda k: ppocr_cls_input(rng, v, k), n)})
        elif name == "ppocrv4_rec":
            sets.append({"x": stack_images(lambda k: ppocrv4_rec_input(rng, v), n)})
        elif name == "ppocrv4_det":
            sets.append({"x": stack_images(lambda k: ppocrv4_det_input(rng, v), n)})
    return sets


def hash_name(name):
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def minilm_sets(models):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(models / "minilm/tokenizer.json"))
    tok.enable_truncation(64)
    tok.enable_padding(length=64, pad_id=0, pad_token="[PAD]")
    sents = sentences()
    n_calib, n_test = SIZES["minilm_l6"]
    assert n_calib + n_test <= len(sents), "sentences.txt is too short"
    out = []
    for part in (sents[:n_calib], sents[n_calib : n_calib + n_test]):
        enc = tok.encode_batch(part)
        arr = lambda f: np.array([[f(e)] for e in enc], dtype=np.int64)
        out.append({"input_ids": arr(lambda e: e.ids), "attention_mask": arr(lambda e: e.attention_mask), "token_type_ids": arr(lambda e: e.type_ids)})
    return out


def session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.log_severity_level = 3  # errors only: the OCR models' declared output shapes are off
    model = path if isinstance(path, bytes) else str(path)
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def with_exact_logistic(path):
    """The model at `path` with every float32 Sigmoid computed in float64 and
    rounded once, serialized for onnxruntime. Its float32 Sigmoid is MLAS's
    approximation (up to about 1e-7 off, 1e5 ulp on small outputs); in a
    dynamically quantized model such an error moves a code before
    DynamicQuantizeLinear now and then, and the difference grows through
    every later layer. The ONNX definition is 1 / (1 + exp(-x)): this is the
    reference qcc is held to (tests/models/README.md)."""
    import onnx
    from onnx import TensorProto, helper
    m = onnx.load(str(path))
    nodes = []
    for n in m.graph.node:
        if n.op_type != "Sigmoid":
            nodes.append(n)
            continue
        x, y = n.input[0], n.output[0]
        nodes += [
            helper.make_node("Cast", [x], [y + "_f64"], to=TensorProto.DOUBLE),
            helper.make_node("Sigmoid", [y + "_f64"], [y + "_sigmoid_f64"]),
            helper.make_node("Cast", [y + "_sigmoid_f64"], [y], to=TensorProto.FLOAT),
        ]
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    return m.SerializeToString()


def references(sess, data):
    """onnxruntime's outputs on every sample: {output name: [samples, *shape]}."""
    names = [o.name for o in sess.get_outputs()]
    n = len(next(iter(data.values())))
    rows = [sess.run(None, {k: np.asarray(v[i]) for k, v in data.items()}) for i in range(n)]
    return {name: np.stack([r[j] for r in rows]) for j, name in enumerate(names)}


def save(out, name, calib, test, ref):
    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    np.savez(d / "calib.npz", **calib)
    np.savez(d / "test.npz", **test)
    np.savez(d / "ref.npz", **ref)
    n_calib, n_test = len(next(iter(calib.values()))), len(next(iter(test.values())))
    print(f"  {name}: {n_calib} calibration, {n_test} test samples; outputs {[f'{k}{list(v.shape)}' for k, v in ref.items()]}", flush=True)


def stamp():
    h = hashlib.sha256()
    for f in ["make_data.py", "sentences.txt", "manifest.json", "build_minilm.py"]:
        h.update((HERE / f).read_bytes())
    h.update((HERE.parent.parent / "requirements.txt").read_bytes())
    espeak_version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout if shutil.which("espeak-ng") else ""
    h.update(espeak_version.encode())
    return h.hexdigest()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = Path(sys.argv[1])
    models, out = root / "models", root / "data"
    want = stamp()
    if (out / "STAMP").exists() and (out / "STAMP").read_text() == want:
        print(f"up to date ({out})")
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / "STAMP").unlink(missing_ok=True)

    for name in ["ddddocr_ocr", "ddddocr_det", "ppocr_cls", "ppocrv4_rec", "ppocrv4_det"]:
        calib, test = image_sets(name)
        save(out, name, calib, test, references(session(models / f"{name}.onnx"), test))
        if name == "ddddocr_ocr":
            # The dynamically quantized OCR model reads the same images.
            exact = session(with_exact_logistic(models / "ddddocr_ocr_old.onnx"))
            save(out, "ddddocr_ocr_old", calib, test, references(exact, test))

    sents = sentences()
    half = len(sents) // 2
    rng = np.random.default_rng(hash_name("vad"))
    streams = [speech_stream(rng, sents[:half], VAD_SECONDS[0]), speech_stream(rng, sents[half:], VAD_SECONDS[1])]
    for name, op15 in [("silero_vad_openvino", False), ("silero_vad_op15", True)]:
        sess = session(models / f"{name}.onnx")
        calib, test = (vad_frames(sess, s, op15) for s in streams)
        save(out, name, calib, test, references(sess, test))

    calib, test = minilm_sets(models)
    save(out, "minilm_l6", calib, test, references(session(models / "minilm_l6.onnx"), test))
    (out / "STAMP").write_text(want)


if __name__ == "__main__":
    main()
