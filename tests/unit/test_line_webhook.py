"""MES webhook against a real http.server on loopback: parts POSTed as JSON through the durable
outbox; the server stopped mid-run and started again loses none and reorders none; non-2xx answers,
a refused connection and a bad URL are one line each; the bearer token from the environment or
from the user-only secrets file."""
from __future__ import annotations

import time

import pytest

from inspector.core.errors import ConfigError
from inspector.core.line.outbox import Outbox
from inspector.core.line.outputs import LineIO, LineSettings
from inspector.core.line.webhook import WebhookOutput
from inspector.core.live import credentials
from tests.unit.line_kit import counted, part
from tests.unit.live_kit import wait_for
from tests.unit.mes_kit import Mes


def test_mes_stopped_mid_run_and_restarted_loses_none_and_keeps_order(tmp_path):
    mes = Mes().start()
    events = []
    box = Outbox(tmp_path / "mes.sqlite")
    out = WebhookOutput(mes.url, "press3", box, token="tok-1", backoff=(0.05, 0.2),
                        on_event=lambda k, m: events.append((k, m)))
    out.start()
    try:
        parts = []
        for seq in range(1, 61):
            parts.append(part(seq, "not_ok" if seq % 7 == 0 else "ok", station="press3"))
            out.publish(parts[-1], counted(*parts))
            if seq == 20:
                assert wait_for(lambda: len(mes.got) >= 15, 10)
                mes.stop()  # results 21..40 are made while the MES is away
            if seq == 40:
                assert wait_for(lambda: out.connected is False, 10) and len(box) > 0
                mes.start()
            time.sleep(0.01)
        assert wait_for(lambda: len(box) == 0, 20)
    finally:
        out.stop()
        box.close()
        mes.stop()
    seqs = [m["seq"] for m in mes.got]
    assert sorted(set(seqs)) == list(range(1, 61))  # none lost
    first = list(dict.fromkeys(seqs))
    assert first == sorted(first)  # none out of order
    assert out.sent == len(seqs)
    m = mes.got[6]
    assert m["station"] == "press3" and m["verdict"] == "not_ok" and m["counters"]["parts"] == 7
    h = mes.headers[0]
    assert h["Authorization"] == "Bearer tok-1" and h["Content-Type"] == "application/json"
    ids = [int(h["X-Inspector-Message-Id"]) for h in mes.headers]
    assert ids == sorted(ids)
    offline = [msg for k, msg in events if k == "mes_offline"]
    assert offline and all("\n" not in msg for msg in offline)
    assert any(msg.startswith(f"MES webhook {mes.url} refused the connection (nothing listens there?) — results "
                              "wait in the outbox") for msg in offline), offline
    assert any(k == "mes_online" for k, _ in events)


def test_non_2xx_answers_are_one_line_and_retried(tmp_path):
    mes = Mes().start()
    mes.answer = 500
    events = []
    box = Outbox(tmp_path / "mes.sqlite")
    out = WebhookOutput(mes.url, "st1", box, backoff=(0.05, 0.1), on_event=lambda k, m: events.append((k, m)))
    out.start()
    try:
        out.publish(part(1), counted(part(1)))
        assert wait_for(lambda: any("answered 500" in m for _, m in events), 10)
        mes.answer = 401
        assert wait_for(lambda: any("answered 401" in m for _, m in events), 10)
        assert len(box) == 1 and mes.got == []  # kept until the MES takes it
        mes.answer = 204
        assert wait_for(lambda: len(box) == 0, 10)
    finally:
        out.stop()
        box.close()
        mes.stop()
    assert [m["seq"] for m in mes.got] == [1]
    said = [m for k, m in events if k == "mes_offline"]
    assert said[0] == (f"MES webhook {mes.url} answered 500 Internal Server Error — results wait in the outbox "
                       "(1 now), retrying")
    assert said[1].startswith(f"MES webhook {mes.url} answered 401 Unauthorized — check the token")


def test_bad_urls_are_one_line(tmp_path):
    box = Outbox(tmp_path / "mes.sqlite")
    try:
        for url in ("mes.local/api", "ftp://mes/x", "http://", "http://mes:99999/x"):
            with pytest.raises(ConfigError, match="is not http") as e:
                WebhookOutput(url, "st1", box)
            assert "\n" not in str(e.value)
    finally:
        box.close()
    with pytest.raises(ConfigError, match="MES webhook URL"):
        LineIO(LineSettings(mes="localhost:8080/x"), outbox_folder=tmp_path)


def test_line_io_posts_with_the_token_from_the_secrets_file(tmp_path, monkeypatch):
    monkeypatch.setenv("INSPECTOR_SECRETS_FILE", str(tmp_path / "secrets.json"))
    monkeypatch.delenv("INSPECTOR_MES_TOKEN", raising=False)
    mes = Mes().start()
    typed = mes.url.replace("http://", "http://bearer:s3cr%3At@")
    saved = credentials.remember(typed)
    assert saved == mes.url.replace("http://", "http://bearer@") and "s3cr" not in saved
    io = LineIO(LineSettings(station="press3", mes=saved), outbox_folder=tmp_path)
    io.start()
    try:
        assert io.mes.address == mes.url
        io.mes.publish(part(1, station="press3"), counted(part(1)))
        assert wait_for(lambda: len(mes.got) == 1, 10)
        st = io.status()
        assert st["mes_connected"] is True and st["mes_waiting"] == 0 and st["outputs"] == [mes.url]
    finally:
        io.close()
        mes.stop()
    assert mes.headers[0]["Authorization"] == "Bearer s3cr:t"
    assert (tmp_path / "line_mes_outbox.sqlite").exists()
