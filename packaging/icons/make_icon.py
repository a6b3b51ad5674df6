"""Draw the application icon: a magnifier over a turned flange on a teal tile.

Writes resources/icons/inspector.png (256 px) and inspector.ico (16-256 px). Drawn at 1024 px
and scaled down, so edges are smooth at every size. Run: python packaging/icons/make_icon.py
"""
from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

S = 1024  # drawing size
OUT = Path(__file__).resolve().parents[2] / "resources" / "icons"
ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]


def _layer() -> Image.Image:
    return Image.new("RGBA", (S, S), (0, 0, 0, 0))


def _circle(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, **kw) -> None:
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], **kw)


def _vertical_gradient(top: tuple, bottom: tuple) -> Image.Image:
    g = Image.new("RGBA", (1, S))
    for y in range(S):
        t = y / (S - 1)
        g.putpixel((0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom)))
    return g.resize((S, S))


def tile() -> Image.Image:
    mask = _layer()
    ImageDraw.Draw(mask).rounded_rectangle([40, 40, S - 40, S - 40], radius=200, fill=(255, 255, 255, 255))
    bg = _vertical_gradient((18, 128, 140, 255), (9, 62, 84, 255))
    out = _layer()
    out.paste(bg, (0, 0), mask)
    return out


def flange(cx: float, cy: float, r: float) -> Image.Image:
    """The part: a steel disc with a bore, a turned groove and four bolt holes."""
    shape = _layer()
    d = ImageDraw.Draw(shape)
    _circle(d, cx, cy, r, fill=(255, 255, 255, 255))
    _circle(d, cx, cy, r * 0.36, fill=(0, 0, 0, 0))
    for k in range(4):
        a = math.pi / 4 + k * math.pi / 2
        _circle(d, cx + math.cos(a) * r * 0.68, cy + math.sin(a) * r * 0.68, r * 0.11, fill=(0, 0, 0, 0))
    steel = Image.linear_gradient("L").rotate(45, expand=False).resize((S, S))
    steel = Image.merge("RGBA", [steel.point(lambda v: 150 + v * 0.35), steel.point(lambda v: 160 + v * 0.33),
                                 steel.point(lambda v: 172 + v * 0.3), shape.getchannel("A")])
    lines = _layer()
    d = ImageDraw.Draw(lines)
    w = max(6, round(r * 0.035))
    _circle(d, cx, cy, r - w / 2, outline=(60, 72, 84, 255), width=w)  # outer edge
    _circle(d, cx, cy, r * 0.36 + w / 2, outline=(60, 72, 84, 255), width=w)  # bore edge
    _circle(d, cx, cy, r * 0.86, outline=(110, 122, 134, 200), width=max(3, w // 2))  # turned groove
    return Image.alpha_composite(steel, Image.composite(lines, _layer(), shape))


def magnifier(cx: float, cy: float, r: float) -> tuple[Image.Image, Image.Image]:
    """(glass tint limited to the lens, rim and handle)."""
    glass = _layer()
    _circle(ImageDraw.Draw(glass), cx, cy, r, fill=(190, 240, 255, 70))
    parts = _layer()
    d = ImageDraw.Draw(parts)
    a = math.pi / 4
    x0, y0 = cx + math.cos(a) * r, cy + math.sin(a) * r
    x1, y1 = cx + math.cos(a) * r * 1.95, cy + math.sin(a) * r * 1.95
    hw = r * 0.34
    d.line([x0, y0, x1, y1], fill=(214, 128, 18, 255), width=round(hw))  # handle
    _circle(d, x1, y1, hw / 2, fill=(214, 128, 18, 255))
    _circle(d, cx, cy, r, outline=(255, 183, 27, 255), width=round(r * 0.2))  # amber rim
    # a glint on the glass
    d.arc([cx - r * 0.72, cy - r * 0.72, cx + r * 0.72, cy + r * 0.72], 200, 250,
          fill=(255, 255, 255, 190), width=round(r * 0.09))
    return glass, parts


def shadow(img: Image.Image, offset: int = 18, blur: int = 22, alpha: int = 110) -> Image.Image:
    a = img.getchannel("A").point(lambda v: v * alpha // 255)
    sh = Image.merge("RGBA", [Image.new("L", (S, S), 0)] * 3 + [a])
    return sh.transform(sh.size, Image.AFFINE, (1, 0, -offset, 0, 1, -offset)).filter(ImageFilter.GaussianBlur(blur))


def draw() -> Image.Image:
    icon = tile()
    part = flange(S * 0.42, S * 0.42, S * 0.29)
    icon = Image.alpha_composite(icon, shadow(part))
    icon = Image.alpha_composite(icon, part)
    glass, lens = magnifier(S * 0.57, S * 0.57, S * 0.2)
    icon = Image.alpha_composite(icon, shadow(lens, 14, 18, 120))
    icon = Image.alpha_composite(icon, glass)
    return Image.alpha_composite(icon, lens)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    big = draw()
    big.resize((256, 256), Image.LANCZOS).save(OUT / "inspector.png", optimize=True)
    big.resize((256, 256), Image.LANCZOS).save(OUT / "inspector.ico", sizes=ICO_SIZES)
    print(f"wrote {OUT / 'inspector.png'} and {OUT / 'inspector.ico'}")


if __name__ == "__main__":
    main()
