"""inspector.core.imageio: every image is decoded to upright RGB uint8, or refused with one clear line."""
import io
import struct
import time
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from inspector.core.errors import ImageDecodeError
from inspector.core.imageio import (
    IMAGE_EXTENSIONS,
    MAX_PIXELS,
    decode_image,
    encode_png,
    image_info,
    read_image_bytes,
    resize,
)


def _rgb(h=24, w=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _smooth_rgb(h=64, w=80):
    y, x = np.mgrid[0:h, 0:w]
    return np.dstack([x * 255 // (w - 1), y * 255 // (h - 1), np.full_like(x, 90)]).astype(np.uint8)


def _pil_bytes(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _write(tmp_path, name, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _expect_error(src, *words):
    with pytest.raises(ImageDecodeError) as exc:
        decode_image(src)
    msg = str(exc.value)
    assert "\n" not in msg and "\r" not in msg
    for w in words:
        assert w.lower() in msg.lower(), msg
    return msg


# --- valid images --------------------------------------------------------------------------

def test_extensions_and_limit():
    assert {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"} <= IMAGE_EXTENSIONS
    assert all(e == e.lower() and e.startswith(".") for e in IMAGE_EXTENSIONS)
    assert MAX_PIXELS >= 50_000_000


def test_rgb_png_is_lossless(tmp_path):
    img = _rgb()
    p = _write(tmp_path, "a.png", _pil_bytes(Image.fromarray(img), "PNG"))
    out = decode_image(p)
    assert out.dtype == np.uint8 and out.shape == (24, 32, 3)
    assert out.flags.c_contiguous and out.flags.writeable
    np.testing.assert_array_equal(out, img)


def test_rgb_jpeg_close_to_source(tmp_path):
    img = _smooth_rgb()
    p = _write(tmp_path, "a.jpg", _pil_bytes(Image.fromarray(img), "JPEG", quality=95))
    out = decode_image(p)
    assert out.shape == img.shape and out.dtype == np.uint8 and out.flags.c_contiguous
    assert np.abs(out.astype(int) - img).mean() < 3


def test_bytes_bmp_tiff_webp_match(tmp_path):
    img = _rgb(seed=3)
    for fmt in ("BMP", "TIFF", "WEBP"):
        kw = {"lossless": True} if fmt == "WEBP" else {}
        out = decode_image(_pil_bytes(Image.fromarray(img), fmt, **kw))
        np.testing.assert_array_equal(out, img, err_msg=fmt)


def test_gray_8bit_becomes_three_equal_channels():
    gray = np.arange(256, dtype=np.uint8).reshape(16, 16)
    out = decode_image(_pil_bytes(Image.fromarray(gray, "L"), "PNG"))
    assert out.shape == (16, 16, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray)


def test_gray_16bit_full_range_scaled_in_order():
    ramp = np.linspace(0, 65535, 32 * 32).astype(np.uint16).reshape(32, 32)
    ok, buf = cv2.imencode(".png", ramp)
    out = decode_image(buf.tobytes())
    g = out[..., 0].ravel().astype(int)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    assert g.min() == 0 and g.max() == 255
    assert np.all(np.diff(g) >= 0)  # order preserved
    np.testing.assert_allclose(g, ramp.ravel() / 257.0, atol=1)


def test_gray_16bit_holding_12bit_data_uses_its_real_range():
    # A 12-bit camera in a 16-bit PNG: a plain >>8 would give at most 15 (black picture).
    ramp = np.linspace(0, 4095, 40 * 40).astype(np.uint16).reshape(40, 40)
    ok, buf = cv2.imencode(".png", ramp)
    g = decode_image(buf.tobytes())[..., 1].ravel().astype(int)
    assert g.min() == 0 and g.max() == 255
    assert np.all(np.diff(g) >= 0)
    assert len(np.unique(g)) > 200


def test_rgb_48bit_png_keeps_channel_order_and_range():
    h, w = 20, 30
    rgb16 = np.zeros((h, w, 3), np.uint16)
    rgb16[..., 0] = 4095  # R: 12-bit full scale
    rgb16[..., 1] = 2048
    rgb16[..., 2] = 0
    ok, buf = cv2.imencode(".png", rgb16[..., ::-1].copy())  # cv2 writes BGR
    out = decode_image(buf.tobytes())
    assert out.shape == (h, w, 3) and out.dtype == np.uint8
    assert out[0, 0, 0] == 255 and 120 <= out[0, 0, 1] <= 135 and out[0, 0, 2] == 0


def test_rgba_composited_over_black():
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., :3] = (200, 100, 50)
    rgba[:4, :, 3] = 255  # top half opaque
    rgba[4:, :, 3] = 0  # bottom half fully transparent
    out = decode_image(_pil_bytes(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert out.shape == (8, 8, 3)
    assert tuple(out[0, 0]) == (200, 100, 50)
    assert tuple(out[7, 7]) == (0, 0, 0)


def test_gray_alpha_composited_over_black():
    la = np.zeros((6, 6, 2), np.uint8)
    la[..., 0] = 180
    la[..., 1] = 128
    out = decode_image(_pil_bytes(Image.fromarray(la, "LA"), "PNG"))
    assert out.shape == (6, 6, 3)
    assert abs(int(out[0, 0, 0]) - 90) <= 1 and out[0, 0, 0] == out[0, 0, 2]


def test_palette_image_to_rgb():
    idx = np.array([[0, 1], [2, 1]], np.uint8)
    img = Image.fromarray(idx, "P")
    img.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    out = decode_image(_pil_bytes(img, "PNG"))
    assert out.shape == (2, 2, 3)
    assert tuple(out[0, 0]) == (255, 0, 0)
    assert tuple(out[0, 1]) == (0, 255, 0)
    assert tuple(out[1, 0]) == (0, 0, 255)


def test_palette_with_transparency_composited():
    idx = np.array([[0, 1]], np.uint8)
    img = Image.fromarray(idx, "P")
    img.putpalette([255, 255, 255, 10, 20, 30] + [0] * (256 * 3 - 6))
    out = decode_image(_pil_bytes(img, "PNG", transparency=0))
    assert tuple(out[0, 0]) == (0, 0, 0)
    assert tuple(out[0, 1]) == (10, 20, 30)


def test_cmyk_jpeg_to_rgb():
    img = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    out = decode_image(_pil_bytes(img, "JPEG", quality=95))
    assert out.shape == (16, 16, 3)
    r, g, b = out[8, 8].astype(int)
    assert r > 200 and g < 60 and b < 60


def _marked_jpeg(orientation: int) -> bytes:
    # 40 wide × 20 high, white top-left corner block on grey.
    arr = np.full((20, 40, 3), 60, np.uint8)
    arr[:6, :6] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _pil_bytes(Image.fromarray(arr), "JPEG", quality=95, exif=exif.tobytes())


def test_exif_orientation_6_rotates_clockwise():
    out = decode_image(_marked_jpeg(6))
    assert out.shape == (40, 20, 3)  # upright view is 20 wide × 40 high
    assert out[1, 18].mean() > 200  # stored top-left corner is now top-right
    assert out[1, 1].mean() < 120 and out[38, 1].mean() < 120


def test_exif_orientation_8_rotates_counter_clockwise():
    out = decode_image(_marked_jpeg(8))
    assert out.shape == (40, 20, 3)
    assert out[38, 1].mean() > 200  # stored top-left corner is now bottom-left
    assert out[1, 1].mean() < 120 and out[1, 18].mean() < 120


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow(orientation):
    data = _marked_jpeg(orientation)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    np.testing.assert_array_equal(decode_image(data), expected)


def test_max_side_decodes_jpeg_smaller_but_not_below_request():
    img = np.dstack([np.tile(np.linspace(0, 255, 800, dtype=np.uint8), (600, 1))] * 3)
    data = _pil_bytes(Image.fromarray(img), "JPEG")
    assert decode_image(data).shape == (600, 800, 3)
    small = decode_image(data, max_side=200)
    assert small.shape == (300, 400, 3)  # 1/2 scale: 1/4 would give 150 < 200
    png = _pil_bytes(Image.fromarray(img), "PNG")
    assert decode_image(png, max_side=200).shape == (600, 800, 3)


# --- refused files -------------------------------------------------------------------------

def test_zero_byte_file(tmp_path):
    p = _write(tmp_path, "empty.png", b"")
    _expect_error(p, "empty.png", "empty")


def test_truncated_jpeg(tmp_path):
    data = _pil_bytes(Image.fromarray(_rgb(64, 64)), "JPEG", quality=90)
    p = _write(tmp_path, "cut.jpg", data[: len(data) // 2])
    _expect_error(p, "cut.jpg", "truncated")


def test_truncated_png(tmp_path):
    data = _pil_bytes(Image.fromarray(_rgb(64, 64)), "PNG")
    p = _write(tmp_path, "cut.png", data[: len(data) // 2])
    _expect_error(p, "cut.png", "truncated")


def test_random_bytes_named_png(tmp_path):
    rng = np.random.default_rng(1)
    p = _write(tmp_path, "noise.png", rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    _expect_error(p, "noise.png", "not a recognised image")


def test_valid_png_header_with_garbage_body(tmp_path):
    good = _pil_bytes(Image.fromarray(_rgb(32, 32)), "PNG")
    header = good[:33]  # signature + IHDR chunk
    garbage = _png_chunk(b"IDAT", np.random.default_rng(2).integers(0, 256, 500, dtype=np.uint8).tobytes())
    p = _write(tmp_path, "garbage.png", header + garbage + _png_chunk(b"IEND", b""))
    _expect_error(p, "garbage.png", "png", "corrupt")


def test_valid_jpeg_header_with_garbage_body(tmp_path):
    good = _pil_bytes(Image.fromarray(_rgb(32, 32)), "JPEG")
    rng = np.random.default_rng(5)
    p = _write(tmp_path, "garbage.jpg", good[:200] + rng.integers(0, 256, 2000, dtype=np.uint8).tobytes())
    _expect_error(p, "garbage.jpg")


def test_text_file_named_jpg(tmp_path):
    p = _write(tmp_path, "notes.jpg", "Schicht 2: Band lief gut.\nKeine Ausfälle.\n".encode())
    _expect_error(p, "notes.jpg", "not an image", "text")


def test_gif_refused_with_advice(tmp_path):
    p = _write(tmp_path, "anim.gif", _pil_bytes(Image.fromarray(_rgb(8, 8)).convert("P"), "GIF"))
    _expect_error(p, "anim.gif", "gif", "png")


def test_decompression_bomb_refused_before_decoding(tmp_path):
    # A real PNG header claiming 30000×30000 RGB (2.7 GB of pixels) with a tiny body.
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + _png_chunk(b"IEND", b""))
    p = _write(tmp_path, "bomb.png", data)
    t0 = time.perf_counter()
    msg = _expect_error(p, "bomb.png", "too large", "30000×30000", f"{MAX_PIXELS:,}")
    assert time.perf_counter() - t0 < 1.0, "the bomb was decoded instead of refused from the header"
    assert "900,000,000" in msg
    with pytest.raises(ImageDecodeError):
        image_info(data)


def test_non_ascii_path(tmp_path):
    folder = tmp_path / "Ärger"
    folder.mkdir()
    img = _rgb(10, 12)
    p = folder / "prüfteil_日本.png"
    p.write_bytes(_pil_bytes(Image.fromarray(img), "PNG"))
    np.testing.assert_array_equal(decode_image(p), img)
    np.testing.assert_array_equal(decode_image(str(p)), img)
    assert read_image_bytes(p) == p.read_bytes()


def test_non_ascii_name_in_error(tmp_path):
    folder = tmp_path / "Ärger"
    folder.mkdir()
    p = _write(folder, "prüfteil_日本.png", b"")
    _expect_error(p, "prüfteil_日本.png")


def test_missing_file(tmp_path):
    _expect_error(tmp_path / "gone.png", "gone.png", "not found")
    with pytest.raises(ImageDecodeError):
        read_image_bytes(tmp_path / "gone.png")


def test_directory_given(tmp_path):
    d = tmp_path / "folder.png"
    d.mkdir()
    _expect_error(d, "folder.png", "folder")


def test_bytes_errors_use_given_or_default_name():
    with pytest.raises(ImageDecodeError, match=r"^image: "):
        decode_image(b"hello world, not pixels")
    with pytest.raises(ImageDecodeError, match=r"^cam3_0042\.png: "):
        decode_image(b"", name="cam3_0042.png")


def test_error_messages_are_one_line_with_name_and_advice(tmp_path):
    jpg = _pil_bytes(Image.fromarray(_rgb(40, 40)), "JPEG")
    cases = {
        "zero.png": b"",
        "cut.jpg": jpg[:300],
        "text.jpg": b"line one\nline two\n",
        "rand.png": bytes(range(256)) * 4,
    }
    for name, data in cases.items():
        p = _write(tmp_path, name, data)
        msg = _expect_error(p, name)
        assert msg.startswith(f"{name}: ") and " — " in msg


# --- helpers -------------------------------------------------------------------------------

def test_image_info_reads_real_format_and_upright_size(tmp_path):
    png = _pil_bytes(Image.fromarray(_rgb(20, 30)), "PNG")
    assert image_info(png) == (".png", 30, 20)  # png content, whatever the file was called
    assert image_info(_marked_jpeg(1)) == (".jpg", 40, 20)
    assert image_info(_marked_jpeg(6)) == (".jpg", 20, 40)
    with pytest.raises(ImageDecodeError):
        image_info(b"not an image")


def test_encode_png_roundtrip():
    img = _rgb(17, 23, seed=9)
    np.testing.assert_array_equal(decode_image(encode_png(img)), img)
    mask = (np.arange(17 * 23).reshape(17, 23) % 2 * 255).astype(np.uint8)
    back = np.asarray(Image.open(io.BytesIO(encode_png(mask))))
    np.testing.assert_array_equal(back, mask)
    with pytest.raises(ValueError):
        encode_png(img.astype(np.float32))


def test_resize_shrink_averages_and_grow_interpolates():
    checker = (np.indices((64, 64)).sum(0) % 2 * 255).astype(np.uint8)
    img = np.dstack([checker] * 3)
    small = resize(img, (16, 32))
    assert small.shape == (16, 32, 3)
    assert np.all(np.abs(small.astype(int) - 127) <= 1)  # area average, not aliasing
    ramp = np.dstack([np.tile(np.array([0, 200], np.uint8), (2, 1))] * 3)
    big = resize(ramp, (2, 8))
    assert big.shape == (2, 8, 3)
    assert 0 < big[0, 4, 0] < 200  # bilinear in-between values
    assert resize(img, (64, 64)) is img
