"""The Live tab's "Line outputs" box: this station's Modbus / OPC UA / MQTT / MES webhook outputs and
where part IDs come from (saved in the project as core LineSettings), and a status line while the line
runs: PLC online or offline, MQTT connected, MES answering, results waiting in the outboxes. A token
typed into the MES URL (https://bearer:TOKEN@mes/…) goes to the user-only secrets file, not the project. Certificates for OPC UA
security are set with `inspector line --opcua-cert … --opcua-key …`; this box keeps them."""
from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QWidget

from inspector.core.errors import ConfigError
from inspector.core.line.outputs import SETTINGS_KEY, LineSettings
from inspector.core.live import credentials
from inspector.core.live.roi import Roi

PART_IDS = (("None", ""), ("From the PLC trigger", "plc"), ("File name (hot folder)", "file"),
            ("Counter", "counter"), ("Barcode / DataMatrix", "barcode"))
PART_ID_SETTING = "live.part_id"  # project meta


class LineBox(QGroupBox):
    def __init__(self, project, parent: QWidget | None = None, *, set_setting=None):
        """set_setting(key, value, need=): how settings are saved (Session.set_setting in the app)."""
        super().__init__("Line outputs (PLC, MES)", parent)
        self.project = project
        self._set_setting = set_setting
        self.saved = LineSettings.load(project)
        form = QFormLayout(self)
        self.station = QLineEdit(self.saved.station)
        self.station.setToolTip("The station's name in MQTT topics (inspector/<station>/result) and in OPC UA")
        self.modbus = QLineEdit(self.saved.modbus or "")
        self.modbus.setPlaceholderText("off — e.g. 502")
        self.modbus.setToolTip("Serve Modbus TCP on this [address:]port (register map: README, Line outputs)")
        self.opcua = QLineEdit(self.saved.opcua or "")
        self.opcua.setPlaceholderText("off — e.g. opc.tcp://0.0.0.0:4840/inspector/")
        self.opcua.setToolTip("Serve OPC UA at this endpoint (security with certificates: `inspector line`)")
        self.anonymous = QCheckBox("anonymous")
        self.anonymous.setChecked(self.saved.opcua_anonymous)
        self.anonymous.setToolTip("Let OPC UA clients in without a certificate — only on a network you trust")
        opc_row = QHBoxLayout()
        opc_row.addWidget(self.opcua, 1)
        opc_row.addWidget(self.anonymous)
        self.mqtt = QLineEdit(self.saved.mqtt or "")
        self.mqtt.setPlaceholderText("off — e.g. broker:1883")
        self.mqtt.setToolTip("Publish each part to this MQTT broker; results wait in an outbox while it is away")
        self.mes = QLineEdit(self.saved.mes or "")
        self.mes.setPlaceholderText("off — e.g. https://mes.local/api/results")
        self.mes.setToolTip("POST each part as JSON to this MES address; results wait in an outbox while it is away. "
                            "Token: INSPECTOR_MES_TOKEN, or type https://bearer:TOKEN@host/… (kept out of the project)")
        self.part_id_combo = QComboBox()
        for text, value in PART_IDS:
            self.part_id_combo.addItem(text, value)
        saved_pid = project.get_meta(PART_ID_SETTING) or ""
        mode, _, region = saved_pid.partition(":")
        self.part_id_combo.setCurrentIndex(max(0, self.part_id_combo.findData(mode)))
        self.barcode_region = QLineEdit(region)
        self.barcode_region.setPlaceholderText("whole picture")
        self.barcode_region.setToolTip("Where the barcode is: x,y,width,height in pixels")
        pid_row = QHBoxLayout()
        pid_row.addWidget(self.part_id_combo, 1)
        pid_row.addWidget(self.barcode_region, 1)
        self.part_id_combo.currentIndexChanged.connect(self._update_region)
        self.state = QLabel("")
        self.state.setObjectName("lineStatus")
        self.state.setWordWrap(True)
        form.addRow("Station", self.station)
        form.addRow("Modbus", self.modbus)
        form.addRow("OPC UA", opc_row)
        form.addRow("MQTT", self.mqtt)
        form.addRow("MES", self.mes)
        form.addRow("Part ID", pid_row)
        form.addRow(self.state)
        self._editable = True
        self._update_region()

    def _update_region(self) -> None:
        self.barcode_region.setVisible(self.part_id_combo.currentData() == "barcode")
        self.barcode_region.setEnabled(self._editable)

    def settings(self) -> LineSettings:
        """The box's settings (certificates and the rest kept from the saved ones); ConfigError if odd."""
        s = LineSettings(**{**vars(self.saved)})
        s.station = self.station.text().strip() or "station1"
        s.modbus = self.modbus.text().strip() or None
        s.opcua = self.opcua.text().strip() or None
        s.opcua_anonymous = self.anonymous.isChecked()
        s.mqtt = self.mqtt.text().strip() or None
        s.mes = self.mes.text().strip() or None
        if s.mes:
            from inspector.core.line.webhook import check_url
            check_url(s.mes)  # a typo is said before anything starts
        return s

    def part_id(self) -> str | None:
        mode = self.part_id_combo.currentData()
        if mode == "barcode" and self.barcode_region.text().strip():
            region = self.barcode_region.text().strip()
            Roi.parse(region)  # a typo is said now
            return f"barcode:{region}"
        return mode or None

    def save(self, settings: LineSettings, part_id: str | None) -> None:
        if settings.mes:
            settings.mes = credentials.remember(settings.mes)  # the token to the secrets file
            self.mes.setText(settings.mes)
        if settings != self.saved:
            if self._set_setting is not None:
                self._set_setting(SETTINGS_KEY, settings.to_json(), need="settings.edit")
            else:
                settings.save(self.project)
            self.saved = settings
        if (self.project.get_meta(PART_ID_SETTING) or "") != (part_id or ""):
            if self._set_setting is not None:
                self._set_setting(PART_ID_SETTING, part_id or "", need="settings.edit")
            else:
                self.project.set_meta(PART_ID_SETTING, part_id or "")

    def set_editable(self, on: bool) -> None:
        self._editable = on
        for w in (self.station, self.modbus, self.opcua, self.anonymous, self.mqtt, self.mes, self.part_id_combo,
                  self.barcode_region):
            w.setEnabled(on)

    def show_status(self, status: dict | None) -> None:
        """LineIO.status() while running; None when stopped."""
        if not status:
            self.state.setText("")
            self.state.setStyleSheet("")
            return
        parts = []
        if status.get("plc_online") is not None:
            parts.append("PLC online" if status["plc_online"] else "PLC OFFLINE — no parts taken")
        if status.get("mqtt_connected") is not None:
            parts.append("MQTT connected" if status["mqtt_connected"] else "MQTT broker away")
            if status.get("outbox_waiting"):
                parts.append(f"{status['outbox_waiting']} results waiting in the outbox")
        if status.get("mes_connected") is not None or status.get("mes_waiting"):
            parts.append("MES AWAY" if status.get("mes_connected") is False else "MES answering")
            if status.get("mes_waiting"):
                parts.append(f"{status['mes_waiting']} waiting for the MES")
        if not parts:
            parts.append(f"serving {', '.join(status.get('outputs', []))}" if status.get("outputs") else "")
        bad = status.get("plc_online") is False or status.get("mqtt_connected") is False \
            or status.get("mes_connected") is False
        self.state.setText(" · ".join(p for p in parts if p))
        self.state.setStyleSheet("color: #c62828; font-weight: bold" if bad else "")


def check(settings: LineSettings) -> None:
    """What can be checked before starting: the station name and the OPC UA security choice."""
    if settings.opcua and not settings.opcua_cert and not settings.opcua_anonymous:
        raise ConfigError("OPC UA: tick 'anonymous' (a network you trust), or set certificates with "
                          "`inspector line --opcua-cert FILE --opcua-key FILE`")
