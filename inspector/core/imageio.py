"""The one image decoder of Inspector: any file or bytes in, H×W×3 uint8 RGB out, or one clear error.

Every image path (import, training, inference, review) goes through `decode_image`, so all
of them see the same orientation, colour handling and error messages.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageFile

from inspector.core.errors import ImageDecodeError

IMAGE_EXTENSIONS: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
MAX_PIXELS: int = 100_000_000  # width × height, checked from the header before any pixel is decoded
MAX_FILE_BYTES: int = 1 << 30  # a 1 GiB "image" is refused before it is read into memory

# Pillow plugins we accept, by real content (never by file name). A short list keeps exotic
# plugins (EPS runs Ghostscript, lenient TGA/ICO sniffers) away from user files.
_FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP")
_EXTENSION_OF = {"PNG": ".png", "JPEG": ".jpg", "MPO": ".jpg", "BMP": ".bmp", "TIFF": ".tif", "WEBP": ".webp"}
_SUPPORTED = "use a PNG, JPEG, BMP, TIFF or WebP file"

# A truncated file must raise, never come back silently half grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False
# Our own size check (in _open) replaces Pillow's: it is stricter (an error, not a warning) and
# its message says what to do. Pillow's check would otherwise fire first with its own text.
Image.MAX_IMAGE_PIXELS = None

_ORIENTATION_TAG = 0x0112


def _fail(name: str, reason: str, todo: str) -> ImageDecodeError:
    line = f"{name}: {reason} — {todo}"
    return ImageDecodeError(" ".join(line.split()))  # one line, whatever the OS or Pillow said


def _name_of(data: object, name: str | None) -> str:
    if name:
        return name
    if isinstance(data, (str, os.PathLike)):
        return Path(data).name or str(data)
    return "image"


def read_image_bytes(path: str | Path) -> bytes:
    """Read a whole image file; missing, folder, empty or unreadable files raise ImageDecodeError."""
    p = Path(path)
    name = p.name or str(p)
    try:
        st = p.stat()
        if p.is_dir():
            raise _fail(name, "is a folder, not an image file", "choose an image file inside it")
        if st.st_size > MAX_FILE_BYTES:
            raise _fail(name, f"file is too large ({st.st_size:,} bytes, limit {MAX_FILE_BYTES:,})",
                        "downscale or re-export the image")
        data = p.read_bytes()
    except ImageDecodeError:
        raise
    except FileNotFoundError:
        raise _fail(name, f"file not found ({p})", "check the path or re-import the image") from None
    except PermissionError:
        raise _fail(name, "permission denied", "check the file's access rights") from None
    except OSError as e:
        raise _fail(name, f"cannot read the file ({e.strerror or e})", "check the drive and the path") from None
    if not data:
        raise _fail(name, "the file is empty (0 bytes)", "re-export or re-capture the image")
    return data


def _sniff(data: bytes) -> str | None:
    """Format named by the magic bytes, for error messages only (decoding trusts Pillow)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"BM"):
        return "BMP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    return None


def _looks_like_text(data: bytes) -> bool:
    head = data[:1024]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\r\n\t\f" for c in text)


def _open(data: bytes, name: str) -> Image.Image:
    """Open lazily (header only) and refuse decompression bombs before any pixel is decoded."""
    try:
        img = Image.open(io.BytesIO(data), formats=_FORMATS)
    except Exception as e:
        kind = _sniff(data)
        if kind == "GIF":
            raise _fail(name, "GIF images are not supported", _SUPPORTED) from None
        if kind is not None:
            detail = _first_line(e)
            why = "" if detail.startswith("cannot identify") else f" ({detail})"
            raise _fail(name, f"the {kind} data is corrupt or truncated{why}",
                        "re-export or re-capture the image") from None
        if _looks_like_text(data):
            raise _fail(name, "not an image file (it holds text)", _SUPPORTED) from None
        raise _fail(name, "not a recognised image (unknown format or corrupt file)", _SUPPORTED) from None
    w, h = img.size
    if w * h > MAX_PIXELS:
        raise _fail(name, f"image is too large ({w}×{h} = {w * h:,} pixels, limit {MAX_PIXELS:,})",
                    "downscale it before importing")
    if w <= 0 or h <= 0:
        raise _fail(name, f"image has no pixels ({w}×{h})", "re-export the image")
    return img


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    msg = text[0] if text else type(e).__name__
    return msg[:120]


def _orientation(img: Image.Image) -> int:
    try:
        value = int(img.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # a broken EXIF block must not make a good picture unusable
        return 1
    return value if 1 <= value <= 8 else 1


def apply_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Turn pixels stored with EXIF orientation 1–8 into the upright view (as ImageOps.exif_transpose)."""
    if orientation == 2:
        return cv2.flip(arr, 1)
    if orientation == 3:
        return cv2.rotate(arr, cv2.ROTATE_180)
    if orientation == 4:
        return cv2.flip(arr, 0)
    if orientation == 5:
        return cv2.transpose(arr)
    if orientation == 6:
        return cv2.rotate(arr, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv2.rotate(cv2.transpose(arr), cv2.ROTATE_180)
    if orientation == 8:
        return cv2.rotate(arr, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return arr


def _to_8bit(arr: np.ndarray) -> np.ndarray:
    """Scale high-bit-depth pixels to 0–255 by the bit depth the data really uses.

    Industrial cameras store 10/12/14-bit samples in 16-bit containers; a plain >>8 would make
    a 12-bit image nearly black. We take the smallest bit depth (at least 8) that holds the
    largest value, so 0 stays black, order is preserved, full 16-bit data maps 65535 -> 255,
    and frames from one sensor scale alike (unlike a per-image min–max stretch).
    """
    if arr.dtype.kind == "f":
        arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
        top = float(arr.max(initial=0.0))
        if top <= 1.0:  # float images are conventionally 0..1
            return np.clip(arr * 255.0 + 0.5, 0, 255).astype(np.uint8)
        top_int = int(np.ceil(top))
    else:
        top_int = int(arr.max(initial=0))
    bits = max(8, top_int.bit_length())
    scale = 255.0 / float((1 << bits) - 1)
    out = np.clip(arr.astype(np.float32) * scale + 0.5, 0, 255)
    return out.astype(np.uint8)


def _composite_black(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Alpha is composited over black (rgb·a), so hidden colour under transparent pixels never leaks in."""
    if alpha.min() == 255:
        return np.ascontiguousarray(rgb)
    a = alpha.astype(np.uint16)[..., None]
    return ((rgb.astype(np.uint16) * a + 127) // 255).astype(np.uint8)


def _high_depth_rgb(img: Image.Image) -> bool:
    """Pillow silently keeps only the high byte of 16-bit-per-channel colour; we decode those with OpenCV."""
    if img.mode not in ("RGB", "RGBA") or not img.tile:
        return False
    args = img.tile[0].args
    raw = args if isinstance(args, str) else (args[0] if args else "")
    return isinstance(raw, str) and ";16" in raw


def _decode_high_depth(data: bytes, name: str) -> np.ndarray:
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise _fail(name, "the 16-bit colour data is corrupt or unsupported", "re-export as 8-bit PNG or TIFF")
    rgb = _to_8bit(arr[..., 2::-1])
    if arr.shape[2] == 4:
        rgb = _composite_black(rgb, _to_8bit(arr[..., 3]))
    return rgb


def _pixels(img: Image.Image, name: str) -> np.ndarray:
    """Loaded Pillow image -> H×W×3 uint8 (before orientation)."""
    mode = img.mode
    if mode == "RGB":
        return np.array(img)
    if mode == "L":
        return cv2.cvtColor(np.asarray(img), cv2.COLOR_GRAY2RGB)
    if mode == "RGBA":
        arr = np.asarray(img)
        return _composite_black(arr[..., :3], arr[..., 3])
    if mode in ("LA", "La"):
        arr = np.asarray(img.convert("LA"))
        gray = _composite_black(arr[..., :1], arr[..., 1])
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in img.info
        return _pixels(img.convert("RGBA" if has_alpha else "RGB"), name)
    if mode.startswith("I") or mode == "F":
        gray = _to_8bit(np.asarray(img))
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
    if mode in ("1", "CMYK", "YCbCr", "RGBX", "RGBa", "LAB", "HSV"):
        try:
            return np.array(img.convert("RGB"))
        except (ValueError, OSError):
            pass
    raise _fail(name, f"unsupported pixel format '{mode}'", "convert the image to 8-bit RGB or grayscale")


def decode_image(data: bytes | str | Path, *, name: str | None = None, max_side: int | None = None) -> np.ndarray:
    """Decode to an upright H×W×3 uint8 RGB C-contiguous array, or raise ImageDecodeError (one line).

    Normalization: EXIF orientation applied; 16-bit scaled by the bit depth in use (see _to_8bit);
    grayscale repeated to 3 channels; alpha composited over black; palette and CMYK to RGB.
    max_side is a speed hint for callers that will shrink the image anyway: JPEGs may then be
    decoded at 1/2, 1/4 or 1/8 size, but never below max_side on either side (the result is
    not resized to max_side; other formats come back at full size).
    """
    label = _name_of(data, name)
    if isinstance(data, (str, os.PathLike)):
        data = read_image_bytes(data)
    elif not isinstance(data, bytes):
        data = bytes(data)  # bytearray, memoryview
    if not data:
        raise _fail(label, "the file is empty (0 bytes)", "re-export or re-capture the image")
    img = _open(data, label)
    try:
        if max_side and img.format in ("JPEG", "MPO"):
            img.draft(None, (int(max_side), int(max_side)))
        if _high_depth_rgb(img):
            orientation = _orientation(img)
            arr = _decode_high_depth(data, label)
        else:
            img.load()
            orientation = _orientation(img)  # PNG eXIf may sit after the pixel data, so read it after load
            arr = _pixels(img, label)
    except ImageDecodeError:
        raise
    except MemoryError:
        raise _fail(label, "not enough memory to decode the image", "downscale it before importing") from None
    except Exception as e:
        reason = _first_line(e)
        if "truncated" in reason or isinstance(e, EOFError):
            raise _fail(label, "the image data is truncated (incomplete file)",
                        "copy or re-export the image again") from None
        fmt = img.format or "image"
        raise _fail(label, f"the {fmt} data is corrupt ({reason})", "re-export or re-capture the image") from None
    finally:
        img.close()
    arr = apply_orientation(arr, orientation)
    return np.ascontiguousarray(arr)


def image_info(data: bytes) -> tuple[str, int, int]:
    """(extension of the real format, width, height) from the header only; size is the upright one."""
    name = "image"
    if not data:
        raise _fail(name, "the file is empty (0 bytes)", "re-export or re-capture the image")
    img = _open(bytes(data), name)
    try:
        w, h = img.size
        ext = _EXTENSION_OF.get(img.format or "", "." + (img.format or "img").lower())
        if _orientation(img) in (5, 6, 7, 8):
            w, h = h, w
    finally:
        img.close()
    return ext, w, h


def encode_png(img: np.ndarray) -> bytes:
    """Encode H×W (gray) or H×W×3 (RGB) uint8 as PNG bytes; fast compression, lossless."""
    if img.dtype != np.uint8:
        raise ValueError(f"encode_png needs uint8 pixels, got {img.dtype}")
    if img.ndim == 3 and img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    elif not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 1)):
        raise ValueError(f"encode_png needs H×W or H×W×3 pixels, got shape {img.shape}")
    ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


def resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to (h, w): area averaging when shrinking (no aliasing), bilinear when growing."""
    h, w = int(size[0]), int(size[1])
    if h <= 0 or w <= 0:
        raise ValueError(f"resize target must be positive, got {size}")
    src_h, src_w = img.shape[:2]
    if (h, w) == (src_h, src_w):
        return img
    shrinking = h <= src_h and w <= src_w
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
