"""Live inspection: sources → trigger → ROI → model → verdicts, results log and review queue.

    from inspector.core.live import LiveConfig, LivePipeline
    p = LivePipeline(project, LiveConfig(source="synthetic://line?fps=30", trigger="presence"),
                     on_result=..., on_event=...)
    p.start(); ...; p.stop()
"""
from inspector.core.live.frames import Frame, InspectionResult, PipelineEvent, Verdict
from inspector.core.live.pipeline import LiveConfig, LivePipeline
from inspector.core.live.review import ReviewPolicy
from inspector.core.live.stats import LiveStats

__all__ = ["Frame", "InspectionResult", "LiveConfig", "LivePipeline", "LiveStats", "PipelineEvent", "ReviewPolicy",
           "Verdict"]
