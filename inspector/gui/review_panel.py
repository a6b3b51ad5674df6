"""Review: flagged parts as thumbnails (newest first), a large view with the model's suggestion, and
one-key labelling: the class keys (0-9), Space = OK, Backspace = skip, Delete = discard, Ctrl+Z = undo.
Every label is saved at once under the inspector's name (the project audits it)."""
from __future__ import annotations

import time

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (QComboBox, QGridLayout, QHBoxLayout, QLabel, QListView, QListWidget, QListWidgetItem,
                               QPushButton, QSplitter, QVBoxLayout, QWidget)

from inspector.core.errors import InspectorError
from inspector.core.live.results import part_id_of_sample
from inspector.gui.image_cache import THUMB, ImageCache
from inspector.gui.image_view import IDLE_COLOR, NG_COLOR, OK_COLOR, ImageView
from inspector.gui.logs import show_error

MAX_SHOWN = 300
STATUS_FILTERS = (("Waiting for review", "unreviewed"), ("Labelled", "labelled"), ("Discarded", "discarded"),
                  ("All parts", None))


def _swatch(color: str) -> QIcon:
    pm = QPixmap(18, 18)
    pm.fill(QColor(color))
    return QIcon(pm)


class ReviewPanel(QWidget):
    labelled = Signal(int, str)  # sample id, class

    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.cache = ImageCache(session.runner, self)
        self.cache.thumbs_loaded.connect(self._apply_icons)
        self.cache.image_loaded.connect(self._image_arrived)
        self.samples = []
        self.current = None
        self._classes_key = None
        self.anomaly_hook = None  # set by the anomaly adapter when an anomaly model is active

        self.status_filter = QComboBox()
        for text, value in STATUS_FILTERS:
            self.status_filter.addItem(text, value)
        self.class_filter = QComboBox()
        self.suggestion_filter = QComboBox()
        for combo, tip in ((self.status_filter, "Which parts to list"),
                           (self.class_filter, "Only parts labelled with this class"),
                           (self.suggestion_filter, "Only parts the model suggested as this class")):
            combo.setToolTip(tip)
            combo.currentIndexChanged.connect(lambda *_: self.refresh())
        filters = QGridLayout()  # two rows: the combos stay readable with the large font
        filters.addWidget(self.status_filter, 0, 0, 1, 2)
        filters.addWidget(self.class_filter, 1, 0)
        filters.addWidget(self.suggestion_filter, 1, 1)

        self.list = QListWidget()
        self.list.setObjectName("reviewList")
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setGridSize(QSize(THUMB + 16, THUMB + 40))
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setUniformItemSizes(True)
        self.list.setWordWrap(True)
        self.list.currentItemChanged.connect(self._current_changed)
        self.count_label = QLabel()
        left = QVBoxLayout()
        left.addLayout(filters)
        left.addWidget(self.list, 1)
        left.addWidget(self.count_label)
        left_w = QWidget()
        left_w.setLayout(left)
        left_w.setMinimumWidth(300)

        self.view = ImageView("Nothing waiting for review.\nStart the live view: parts the model is unsure "
                              "about, or calls not OK, appear here.")
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.keys = QGridLayout()
        self.keys.setHorizontalSpacing(6)
        self.skip_btn = self._button("Skip  [Backspace]", "Leave this part for later", self.skip)
        self.discard_btn = self._button("Discard  [Del]", "Not a usable picture (empty belt, blurred): keep it "
                                        "out of training", self.discard)
        self.undo_btn = self._button("Undo  [Ctrl+Z]", "Take back the last label, discard, golden-set change or "
                                     "\"this part is OK\"", self.undo)
        self.ok_part_btn = self._button("This part is OK", "Teach the anomaly model that this part is normal",
                                        self._this_part_is_ok)
        self.ok_part_btn.setVisible(False)
        actions = QHBoxLayout()
        for b in (self.skip_btn, self.discard_btn, self.undo_btn, self.ok_part_btn):
            actions.addWidget(b)
        actions.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self.view, 1)
        right.addWidget(self.details)
        right.addLayout(self.keys)
        right.addLayout(actions)
        right_w = QWidget()
        right_w.setLayout(right)

        split = QSplitter()
        split.addWidget(left_w)
        split.addWidget(right_w)
        split.setStretchFactor(1, 1)
        split.setSizes([380, 900])
        lay = QVBoxLayout(self)
        lay.addWidget(split)

        self._shortcuts: list[QShortcut] = []
        for seq, fn in (("Space", self.label_ok), ("Backspace", self.skip), ("Delete", self.discard),
                        (QKeySequence.StandardKey.Undo, self.undo)):
            self._shortcut(seq, fn)
        self._golden_key = QShortcut(QKeySequence("Ctrl+G"), self)  # kept apart: class keys rebuild _shortcuts[4:]
        self._golden_key.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self._golden_key.activated.connect(self.toggle_golden)
        session.samples_changed.connect(self.refresh)
        self._poll = QTimer(self)  # the live view adds parts from its own connection: look now and then
        self._poll.setInterval(2000)
        self._poll.timeout.connect(self._poll_new)
        self._poll.start()
        self._last_version = -1
        self._build_class_keys()
        self.refresh()

    def toggle_golden(self) -> None:
        """Ctrl+G: the part joins (or leaves) the golden set every model change is checked on."""
        if self.current is not None:
            try:
                self.session.toggle_golden(self.current.id)
            except InspectorError as e:
                show_error(self, str(e))

    def _button(self, text, tip, fn) -> QPushButton:
        b = QPushButton(text)
        b.setToolTip(tip)
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys go to the shortcuts, never "press" a button
        b.clicked.connect(fn)
        return b

    def _shortcut(self, seq, fn) -> QShortcut:
        s = QShortcut(QKeySequence(seq), self)
        s.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        s.activated.connect(fn)
        self._shortcuts.append(s)
        return s

    # -- class keys -------------------------------------------------------------------------------------
    def _build_class_keys(self) -> None:
        classes = self.session.project.classes()
        key = tuple((c.name, c.shortcut, c.color) for c in classes)
        if key == self._classes_key:
            return
        self._classes_key = key
        while self.keys.count():
            w = self.keys.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        for s in self._shortcuts[4:]:
            s.setEnabled(False)
            s.deleteLater()
        del self._shortcuts[4:]
        for i, c in enumerate(classes):
            hint = "Space" if c.kind == "ok" else c.shortcut or ""
            b = self._button(f"{c.name}  [{hint}]" if hint else c.name,
                             f"Label this part {c.name}" + (f" (key {c.shortcut})" if c.shortcut else ""),
                             lambda _=False, n=c.name: self.label_current(n))
            b.setObjectName(f"label_{c.name}")
            b.setMinimumHeight(40)
            b.setIcon(_swatch(c.color))
            b.setIconSize(QSize(18, 18))
            b.setStyleSheet("QPushButton { font-weight: bold; }")
            self.keys.addWidget(b, i // 5, i % 5)
            if c.shortcut:
                self._shortcut(c.shortcut, lambda n=c.name: self.label_current(n))
        for combo, first in ((self.class_filter, "Any class"), (self.suggestion_filter, "Any suggestion")):
            combo.blockSignals(True)
            current = combo.currentData()
            combo.clear()
            combo.addItem(first, None)
            for c in classes:
                combo.addItem(c.name, c.name)
            idx = combo.findData(current)
            combo.setCurrentIndex(max(0, idx))
            combo.blockSignals(False)

    # -- the list ---------------------------------------------------------------------------------------
    def _filters(self) -> dict:
        return {"status": self.status_filter.currentData(), "label": self.class_filter.currentData(),
                "suggestion": self.suggestion_filter.currentData()}

    def _query(self):
        """The newest MAX_SHOWN parts only, and their number: both index reads (project_db.INDEXES), so a
        key press costs the same with 200,000 parts as with 20 (bench/big_project.py)."""
        filters = self._filters()
        project = self.session.project
        return project.samples(**filters, order="-added_at", limit=MAX_SHOWN), project.count_samples(**filters)

    def refresh(self) -> None:
        self._build_class_keys()
        keep = self.current.id if self.current is not None else None
        keep_row = max(0, self.list.currentRow())
        self.samples, n = self._query()
        shown = self.samples
        self.list.blockSignals(True)
        self.list.clear()
        for s in shown:
            text = f"#{s.id}\n{s.label or ((s.suggestion + '?') if s.suggestion else '?')}"
            it = QListWidgetItem(text)
            it.setData(Qt.ItemDataRole.UserRole, s.id)
            it.setToolTip(self._describe(s, with_part_id=False))
            it.setIcon(self.cache.icons.get(s.id, self.cache.placeholder))
            self.list.addItem(it)
        self.list.blockSignals(False)
        self.count_label.setText(f"{n} part(s)" + (f", newest {MAX_SHOWN} shown" if n > MAX_SHOWN else ""))
        ids = [s.id for s in shown]
        row = ids.index(keep) if keep in ids else min(keep_row, len(ids) - 1)
        self.cache.want_thumbs([(s.id, self.session.project.image_path(s)) for s in shown])
        self._select_row(row)
        self._last_version = self._data_version()

    def _data_version(self) -> int:
        # Changes whenever another connection (the live view's review queue, the CLI) commits: one
        # O(1) read instead of counting the samples every 2 s.
        return self.session.project.db.execute("PRAGMA data_version").fetchone()[0]

    def _poll_new(self) -> None:
        if not self.isVisible():
            return
        if self._data_version() != self._last_version:
            self.refresh()

    def _apply_icons(self) -> None:
        for r in range(self.list.count()):
            it = self.list.item(r)
            icon = self.cache.icons.get(it.data(Qt.ItemDataRole.UserRole))
            if icon is not None:
                it.setIcon(icon)

    def _select_row(self, row: int) -> None:
        if 0 <= row < self.list.count():
            self.list.setCurrentRow(row)
            self._show(self.samples[row])
        else:
            self._show(None)

    def _current_changed(self, item, _previous) -> None:
        if item is None:
            return
        self._show(self.samples[self.list.row(item)])

    # -- the large view ---------------------------------------------------------------------------------
    def _describe(self, s, with_part_id: bool = True) -> str:
        when = time.strftime("%H:%M:%S", time.localtime(s.captured_at or s.added_at))
        text = f"Part #{s.id} · {s.source} · {when}"
        # Only for the part shown: a lookup in the results log per list item (300 tooltips at every
        # refresh) kept a 5,000,000-row project from opening for minutes.
        part_id = part_id_of_sample(self.session.project.root, s.id) if with_part_id else None
        if part_id:
            text += f" · part ID {part_id}"
        if s.label:
            text += f" · labelled {s.label} by {s.labelled_by}"
        return text

    def _show(self, s) -> None:
        self.current = s
        if s is None:
            self.view.set_image(None)
            self.view.set_banner(None)
            self.details.setText("")
            return
        row = self.list.currentRow()
        nxt = [self.samples[i] for i in range(row, min(row + 3, len(self.samples)))]
        self.cache.want_large([(x.id, self.session.project.image_path(x)) for x in nxt])
        self.view.set_image(self.cache.large.get(s.id))
        self.view.set_heatmap(None)
        if s.suggestion:
            kind = next((c.kind for c in self.session.project.classes() if c.name == s.suggestion), "defect")
            score = f" ({100 * s.suggestion_score:.0f} %)" if s.suggestion_score is not None else ""
            self.view.set_banner("OK" if kind == "ok" else "NG", OK_COLOR if kind == "ok" else NG_COLOR,
                                 f"model says {s.suggestion}{score}")
        else:
            self.view.set_banner("?", IDLE_COLOR, "no suggestion from a model")
        self.details.setText(self._describe(s))
        if self.anomaly_hook is not None:
            self.anomaly_hook.show_sample(s)

    def _image_arrived(self, sample_id: int) -> None:
        if self.current is not None and self.current.id == sample_id:
            self.view.set_image(self.cache.large[sample_id])

    # -- actions ----------------------------------------------------------------------------------------
    def label_current(self, name: str) -> None:
        s = self.current
        if s is None:
            return
        try:
            self.session.label(s.id, name)  # refresh() follows through samples_changed
        except InspectorError as e:
            show_error(self, str(e))
            return
        self.labelled.emit(s.id, name)
        self.session.say(f"Part #{s.id} labelled {name}")

    def label_ok(self) -> None:
        name = self.session.ok_class()
        if name is None:
            show_error(self, "this project has no OK class — add one (kind 'ok') before labelling parts OK")
            return
        self.label_current(name)

    def skip(self) -> None:
        row = self.list.currentRow()
        if row + 1 < self.list.count():
            self._select_row(row + 1)

    def discard(self) -> None:
        s = self.current
        if s is None:
            return
        try:
            self.session.discard(s.id)
        except InspectorError as e:
            show_error(self, str(e))

    def undo(self) -> None:
        try:
            sample_id = self.session.undo()
        except InspectorError as e:
            show_error(self, str(e))
            return
        if sample_id is not None:
            ids = [s.id for s in self.samples]
            if sample_id in ids:
                self._select_row(ids.index(sample_id))

    def _this_part_is_ok(self) -> None:
        if self.anomaly_hook is not None and self.current is not None:
            self.anomaly_hook.part_is_ok(self.current)
