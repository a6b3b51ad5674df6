"""Anomaly detection from good parts only: a PatchCore-style memory bank on EfficientNet-Lite0 features,
thresholds by false-reject rate, heatmaps, instant "this part is OK" corrections.

Entry points: fitting.fit_project, store.load_model, model.AnomalyModel.score, accept.propose_accept /
accept_parts, evaluate.evaluate_anomaly, combined.CombinedPredictor. The two hooks below are how the live
pipeline and the GUI find this package; heavy modules load only when they are called."""


def live_runner(version_dir, config, backend="auto", threads=None):
    """ModelRunner factory for kind "anomaly" (core.live.runners looks for it)."""
    from inspector.core.anomaly.live import live_runner as make

    return make(version_dir, config, backend, threads)


def gui_backend():
    """The object inspector.gui.anomaly_view expects (AnomalyBackend)."""
    # the module is not named gui_backend: importing it would replace this function on the package
    from inspector.core.anomaly.gui_adapter import AnomalyGuiBackend

    return AnomalyGuiBackend()
