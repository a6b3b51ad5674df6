"""Analysis: learning-curve diagnosis, the feature map of real model features (click → the part), and
the anomaly score histogram drawing."""
import sqlite3
from contextlib import closing

import numpy as np
from conftest import add_flagged_parts, image_is_not_blank, shot

from inspector.core.demo_project import DEMO_LABELLED
from inspector.gui.analysis_panel import diagnose


def h(epoch, tl, ta, vl, va):
    return dict(epoch=epoch, train_loss=tl, train_accuracy=ta, val_loss=vl, val_accuracy=va)


def test_diagnosis_names_under_and_over_fitting():
    under = [h(e, 1.5, 0.4, 1.6, 0.35) for e in range(1, 6)]
    assert diagnose(under, val_count=50).startswith("Under-fitting")
    over = [h(1, 1.0, 0.6, 0.9, 0.6), h(2, 0.6, 0.8, 0.5, 0.8), h(3, 0.3, 0.9, 0.6, 0.8),
            h(4, 0.1, 1.0, 0.8, 0.78), h(5, 0.05, 1.0, 1.0, 0.77)]
    text = diagnose(over, best_epoch=2, val_count=50)
    assert text.startswith("Over-fitting") and "epoch 2" in text
    good = [h(e, 0.2, 0.95, 0.25, 0.93) for e in range(1, 6)]
    assert diagnose(good, val_count=50).startswith("Healthy")
    assert "too few to judge" in diagnose(good, val_count=3)
    assert "No validation" in diagnose([h(1, 0.2, 0.9, None, None)])


def test_feature_map_colours_by_label_and_click_shows_the_part(window, project_path, qtbot):
    add_flagged_parts(project_path, 4)
    panel = window.analysis_panel
    window.show_panel("analysis")
    assert panel.selected_version() == "v1" and panel.plots.points("train_loss") == 60
    assert "too few to judge" in panel.diagnosis.text()
    task = panel.compute_embedding()
    with qtbot.waitSignal(task.finished, timeout=120_000):
        pass
    emb = panel.embedding
    n = sum(DEMO_LABELLED.values()) + 4
    assert emb is not None and len(emb.labels) == n and emb.xy.shape == (n, 2)
    assert sum(lb is None for lb in emb.labels) == 4 and np.isfinite(emb.xy).all()
    assert len(panel.scatter.points()) == n
    # the demo's v1 has local evidence: measured leave-one-out for the parts its banks hold, and kept in the
    # feature cache so that the next Compute reads it back
    with closing(sqlite3.connect(project_path / "cache" / "features.sqlite")) as db:
        kept = db.execute("SELECT COUNT(*) FROM features WHERE backbone LIKE '%:unseen-local'").fetchone()[0]
    assert kept == n
    assert 0 < emb.explained[0] <= 1
    first = panel.scatter.points()[0]
    panel._point_clicked(panel.scatter, [first])
    qtbot.waitUntil(lambda: panel.preview._image is not None, timeout=10_000)
    assert f"#{int(first.data())}" in panel.preview_note.text()
    panel.show_histogram(np.linspace(0, 1, 21), np.arange(20), np.arange(20)[::-1], "test histogram")
    assert image_is_not_blank(shot(window, "analysis"))
