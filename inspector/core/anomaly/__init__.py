"""Anomaly detection from good parts only: a PatchCore-style memory bank on EfficientNet-Lite0 features,
thresholds by false-reject rate, heatmaps, instant "this part is OK" corrections.

Entry points: fitting.fit_project, store.load_model, model.AnomalyModel.score, accept.propose_accept /
accept_parts, evaluate.evaluate_anomaly, combined.CombinedPredictor, live.live_runner (the live
pipeline's runner, listed in core.live.runners), service.AnomalyService (the GUI's anomaly views)."""
