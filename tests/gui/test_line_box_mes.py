"""The Live tab's line box: the MES webhook address is saved without its token (that goes to the
user-only secrets file); a bad address is one line; the status line says when the MES is away."""
import pytest

from inspector.core.errors import ConfigError
from inspector.core.line.outputs import LineSettings


def test_mes_address_token_and_status(window, monkeypatch, tmp_path):
    monkeypatch.setenv("INSPECTOR_SECRETS_FILE", str(tmp_path / "secrets.json"))
    box = window.live_panel.line_box
    box.mes.setText("mes.local/api")
    with pytest.raises(ConfigError, match="is not http") as e:
        box.settings()
    assert "\n" not in str(e.value)
    box.mes.setText("https://bearer:s3cret@mes.local/api/results")
    s = box.settings()
    box.save(s, None)
    assert LineSettings.load(window.session.project).mes == "https://bearer@mes.local/api/results"
    assert box.mes.text() == "https://bearer@mes.local/api/results"
    assert "s3cret" in (tmp_path / "secrets.json").read_text()
    box.show_status({"outputs": ["https://mes.local/api/results"], "mes_connected": False, "mes_waiting": 12})
    assert box.state.text() == "MES AWAY · 12 waiting for the MES" and "c62828" in box.state.styleSheet()
    box.show_status({"outputs": ["https://mes.local/api/results"], "mes_connected": True, "mes_waiting": 0})
    assert box.state.text() == "MES answering"
