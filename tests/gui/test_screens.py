"""Windows and dialogs open no larger than the screen they are on (panel PCs are often 1024 × 600): the
offscreen screen here is 800 × 800, narrower than the audit view's 1,100 px."""
from PySide6.QtGui import QGuiApplication

from inspector.gui.audit_view import AuditView
from inspector.gui.start_page import StartPage
from inspector.gui.station_dialog import StationDialog


def test_dialogs_fit_a_screen_smaller_than_their_usual_size(session, qtbot):
    free = QGuiApplication.primaryScreen().availableGeometry()
    audit_view = AuditView(session.project)
    qtbot.addWidget(audit_view)
    assert free.width() < 1100  # the audit view's usual width: this screen is the case under test
    assert audit_view.width() <= free.width() and audit_view.height() <= free.height()
    assert audit_view.width() == free.width()  # as wide as the screen allows, not a token size
    for dialog in (StationDialog(session), StartPage(session.prefs)):
        qtbot.addWidget(dialog)
        assert dialog.width() <= free.width() and dialog.height() <= free.height()
