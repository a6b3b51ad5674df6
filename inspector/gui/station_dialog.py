"""The Live tab's Views… dialog: a multi-camera station's views (name, source, region, model) listed,
added, edited and removed. Saved through core/live/station_config.py as `inspector station` saves them:
the same checks, the same one-line messages. The source's form is checked on a task thread (it may look
at a path or import a camera module); names, regions and models are cheap checks. Changing the views is
a project setting (settings.edit)."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QFormLayout, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from inspector.core.errors import InspectorError
from inspector.core.live.credentials import redact
from inspector.core.live.station_config import (MODEL_KINDS, ViewConfig, check_source_form, drop_view, load_views,
                                                put_view, save_views)
from inspector.gui.screens import fit_to_screen

LINE_MODEL = "line model"  # the model box's text for None: the line's model, followed when it changes
ERROR_COLOR = "#c62828"


class StationDialog(QDialog):
    saved = Signal(list)  # the views as saved (an empty list: back to one camera)

    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.setWindowTitle("Station views")
        self.setObjectName("stationDialog")
        self.setModal(True)
        self._task = None
        try:
            self.views = load_views(session.project)
            damaged = None
        except InspectorError as e:  # damaged: start from none; saving replaces them
            self.views, damaged = [], str(e)

        intro = QLabel("A station is several cameras triggered together, one result per part: NG if any view "
                       "says NG. With no views the Live tab inspects its one Source.")
        intro.setWordWrap(True)
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("stationViewsTable")
        self.table.setHorizontalHeaderLabels(["View", "Source", "Region", "Model"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        head = self.table.horizontalHeader()
        for col in (0, 2, 3):
            head.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selected)

        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. top")
        self.source = QLineEdit()
        self.source.setPlaceholderText("camera index, stream URL, video file, folder or genicam://…")
        self.roi = QLineEdit()
        self.roi.setPlaceholderText("whole picture — or x,y,width,height in pixels")
        self.model = QComboBox()
        self.model.setEditable(True)  # a version may be typed too
        self.model.setToolTip("line model: the line's model, followed when it changes; anomaly / classifier: that "
                              "kind's active model; a version: pinned (e.g. one trained on side pictures)")
        self.model.addItems([LINE_MODEL, *MODEL_KINDS])
        try:
            for m in session.registry.list():
                self.model.addItem(m.version)
                self.model.setItemData(self.model.count() - 1, f"{m.kind} model", Qt.ItemDataRole.ToolTipRole)
        except InspectorError:
            pass  # no versions readable: the kinds and the line model still work
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Source", self.source)
        form.addRow("Region", self.roi)
        form.addRow("Model", self.model)

        self.save_btn = QPushButton("Add view")
        self.save_btn.setObjectName("saveViewButton")
        self.save_btn.setDefault(True)
        self.save_btn.clicked.connect(self.save_view)
        self.new_btn = QPushButton("New")
        self.new_btn.setToolTip("Empty the fields to add another view")
        self.new_btn.clicked.connect(self._clear_form)
        self.remove_btn = QPushButton("Remove")
        self.remove_btn.setToolTip("Remove the selected view")
        self.remove_btn.clicked.connect(self.remove_view)
        self.close_btn = QPushButton("Close")
        self.close_btn.clicked.connect(self.accept)
        row = QHBoxLayout()
        for b in (self.save_btn, self.new_btn, self.remove_btn):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(self.close_btn)
        self.status = QLabel(damaged or "")
        self.status.setObjectName("stationDialogStatus")
        self.status.setWordWrap(True)
        if damaged:
            self.status.setStyleSheet(f"color: {ERROR_COLOR}")

        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(self.table, 1)
        lay.addLayout(form)
        lay.addLayout(row)
        lay.addWidget(self.status)
        fit_to_screen(self, 720, 440)
        self._fill()
        self._update_buttons()

    # -- the list -----------------------------------------------------------------------------------
    def _fill(self, select: str | None = None) -> None:
        self.table.setRowCount(len(self.views))
        for r, v in enumerate(self.views):
            for c, text in enumerate((v.name, redact(v.source), v.roi or "whole picture", v.model or LINE_MODEL)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(r, c, item)
            if v.name == select:
                self.table.selectRow(r)
        if select is None:
            self.table.clearSelection()

    def selected_view(self) -> ViewConfig | None:
        rows = self.table.selectionModel().selectedRows()
        return self.views[rows[0].row()] if rows else None

    def _selected(self) -> None:
        v = self.selected_view()
        if v is not None:
            self.name.setText(v.name)
            self.source.setText(redact(v.source))
            self.source.setCursorPosition(0)
            self.roi.setText(v.roi or "")
            self.model.setCurrentText(v.model or LINE_MODEL)
        self._update_buttons()

    def _clear_form(self) -> None:
        self.table.clearSelection()
        for w in (self.name, self.source, self.roi):
            w.clear()
        self.model.setCurrentText(LINE_MODEL)
        self.name.setFocus()

    def form_view(self) -> ViewConfig:
        model = self.model.currentText().strip()
        return ViewConfig(self.name.text().strip(), self.source.text().strip(), self.roi.text().strip() or None,
                          None if model in ("", LINE_MODEL) else model)

    # -- saving ---------------------------------------------------------------------------------------
    def _allowed(self) -> bool:
        try:
            self.session.require("settings.edit")
        except InspectorError as e:
            self.say(str(e), error=True)
            return False
        return True

    def save_view(self) -> None:
        if self._task is not None or not self._allowed():
            return
        new, old = self.form_view(), self.selected_view()
        if old is not None and new.source == redact(old.source):  # the field shows a password as ***: keep it
            new.source = old.source
        # the selected view is edited (renamed too); with none selected the view is added: a name already
        # used is then the "named twice" refusal, not a silent replacement
        base = [new if v is old else v for v in self.views] if old is not None else [*self.views, new]
        try:
            views = put_view(base, new, [m.version for m in self.session.registry.list()])
        except InspectorError as e:
            self.say(str(e), error=True)
            return
        self.say(f"Checking {redact(new.source)} …")

        def check(progress, cancel):  # a task thread: a typed password goes to the secrets file, not the project
            from inspector.core.live.credentials import remember
            new.source = remember(new.source)
            check_source_form(new)
            return new

        self._task = self.session.runner.run(check, "station view check", on_result=lambda v: self._store(
            views, v.name, f"View {v.name} saved."), on_error=self._failed,
            on_finished=self._checked)
        self._update_buttons()

    def _checked(self) -> None:
        self._task = None
        self._update_buttons()

    def _failed(self, message: str) -> None:
        self.say(message, error=True)

    def remove_view(self) -> None:
        v = self.selected_view()
        if v is None or self._task is not None or not self._allowed():
            return
        name = v.name
        try:
            views = drop_view(self.views, name)
        except InspectorError as e:
            self.say(str(e), error=True)
            return
        self._store(views, None, f"View {name} removed." + ("" if views else " The Live tab inspects one camera."))
        self._clear_form()

    def _store(self, views: list[ViewConfig], select: str | None, done: str) -> None:
        try:
            self.session.require("settings.edit")  # the account may have changed while the source was checked
            save_views(self.session.project, views, self.session.user)
        except InspectorError as e:
            self.say(str(e), error=True)
            return
        self.views = views
        self._fill(select)
        self.say(done)
        self.saved.emit(list(views))

    def say(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet(f"color: {ERROR_COLOR}; font-weight: bold" if error else "")
        self.status.setText(text)

    def _update_buttons(self) -> None:
        idle, editing = self._task is None, self.selected_view() is not None
        self.save_btn.setText("Save view" if editing else "Add view")
        self.save_btn.setToolTip("Save the changes to the selected view" if editing else "Add this view to the station")
        self.save_btn.setEnabled(idle)
        self.remove_btn.setEnabled(idle and editing)
        self.close_btn.setEnabled(idle)

    def reject(self) -> None:  # Esc or the window's ✕ while a source is checked: wait for it (well under a second)
        if self._task is None:
            super().reject()
