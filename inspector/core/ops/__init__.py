"""The user-level operations, one plain function each, in the shape op(project root or data, …, *,
progress, cancel) -> result, the result's frozen type beside it. The GUI runs them on a worker thread
or in a child process (gui/tasks.py: task(op, …)); the CLI and the self-test call the same core
functions.

- import: ops.imports.import_folder (core.importer.import_imagefolder)
- train (and compare with the active model): ops.train.train (core.training.train_project)
- fit an anomaly model (and check it): ops.anomaly_fit.fit_anomaly (core.anomaly.fitting.fit_project)
- accept a part as OK: core.anomaly.service.AnomalyService.accept_ok (core.anomaly.accept.accept_parts)
- evaluate: core.evaluation.evaluate_version, core.anomaly.evaluate.evaluate_anomaly
- feature map: ops.feature_map.feature_map
- export: ops.export.export_onnx; a project: core.exporter
- demo project: core.demo_project.make_demo_project
- maintenance: core.maintenance.run_maintenance
- decoded images for the screen: ops.images.decode_images"""
