"""The inspection picture: verdict banner in its colour, region of interest, heatmap on and off."""
import numpy as np
from conftest import shot
from PySide6.QtGui import QColor

from inspector.gui.image_view import NG_COLOR, ImageView, heatmap_rgba


def test_heatmap_is_clear_below_the_threshold_and_red_above():
    rgba = heatmap_rgba(np.array([[0.1, 0.5, 0.9]], np.float32))
    assert rgba[0, 0, 3] == 0 and 0 < rgba[0, 1, 3] < rgba[0, 2, 3]
    assert rgba[0, 2, 1] < rgba[0, 1, 1]  # towards red as the score rises


def test_banner_roi_and_heatmap_are_drawn(qtbot):
    view = ImageView()
    qtbot.addWidget(view)
    view.resize(640, 520)
    img = np.full((200, 200, 3), 128, np.uint8)
    view.set_image(img)
    view.set_banner("NG · scratch", NG_COLOR, "scratch 97 % · model v3")
    view.set_roi((50, 50, 100, 100))
    heat = np.zeros((16, 16), np.float32)
    heat[4:12, 4:12] = 0.95
    view.set_heatmap(heat)
    view.set_info(["model v3 (onnx-cpu)", "18 parts/s · latency 20 ms"])
    shown = view.grab().toImage()
    assert QColor(shown.pixel(view.width() - 4, 4)).name() == NG_COLOR
    r = view.image_rect()
    centre = (int(r.center().x()), int(r.center().y()))
    red = QColor(shown.pixel(*centre))
    assert red.red() > red.green() + 40, "the hot region of the heatmap is tinted red"
    shot(view, "image_view_overlay")
    view.set_heatmap_visible(False)
    plain = QColor(view.grab().toImage().pixel(*centre))
    assert abs(plain.red() - plain.green()) < 10, "heatmap off shows the picture as it is"
    assert view.banner_text == "NG · scratch scratch 97 % · model v3"
