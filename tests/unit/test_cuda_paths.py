"""The CUDA paths: training with mixed precision on the GPU, ONNX parity of GPU-trained weights, and
inference on the GPU in the predictor and the live runner. Skipped where there is no CUDA GPU (this
project's CI); run on a GPU machine with `pytest tests/unit/test_cuda_paths.py`."""
import numpy as np
import pytest
import torch

from inspector.core.live.runners import load_runner
from inspector.core.predictor import Predictor
from inspector.core.project import Project
from inspector.core.registry import ModelRegistry
from inspector.core.synth import SyntheticLine
from inspector.core.imageio import encode_png
from inspector.core.train_config import AugmentConfig, TrainConfig, preset
from inspector.core.training import train_project

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

NO_AUG = AugmentConfig(hflip=False, vflip=False, rotate_deg=0, shift=0, brightness=0, contrast=0)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    p = Project.init(tmp_path_factory.mktemp("cuda") / "proj")
    p.add_class("good", "ok")
    p.add_class("missing")
    line = SyntheticLine(size=(128, 128), seed=3)
    for i in range(48):
        label = "good" if i % 2 else "missing"
        p.add_image(encode_png(line.part(i, label).image), source="test", label=label, user="gpu")
    yield p
    p.close()


def test_scratch_training_runs_on_the_gpu_with_amp(project):
    cfg = TrainConfig(arch="cnn", mode="scratch", epochs=3, batch_size=16, input_size=[64, 64], augment=NO_AUG)
    out = train_project(project, cfg, user="gpu")
    config = ModelRegistry(project).read_config(out.version.version)
    assert config["training"]["device"].startswith("cuda")
    assert np.isfinite([h["train_loss"] for h in config["history"]]).all()


def test_finetune_on_the_gpu_saves_weights_whose_onnx_matches(project):
    cfg = preset("finetune", epochs=1, head_warmup_epochs=2, batch_size=16, input_size=[128, 128])
    out = train_project(project, cfg, user="gpu")  # save() checks ONNX against PyTorch: raises if they differ
    reg = ModelRegistry(project)
    assert reg.read_config(out.version.version)["training"]["device"].startswith("cuda")
    images = [SyntheticLine(size=(128, 128), seed=9).part(i).image for i in range(6)]
    on_gpu = Predictor(out.version.path, backend="torch").predict(images)
    on_cpu = Predictor(out.version.path, backend="onnx").predict(images)
    for a, b in zip(on_gpu, on_cpu):
        assert a.label == b.label
        assert max(abs(a.scores[k] - b.scores[k]) for k in a.scores) < 2e-3


def test_the_live_runner_uses_the_gpu_when_onnxruntime_cannot(project):
    reg = ModelRegistry(project)
    version = reg.list()[-1].version
    runner = load_runner(reg, version)
    import onnxruntime as ort

    expect = "onnx-cuda" if "CUDAExecutionProvider" in ort.get_available_providers() else "torch-cuda"
    assert runner.backend == expect
    runner.warm_up(2)
    img = SyntheticLine(size=(128, 128), seed=9).part(0).image
    verdicts = runner.infer([img, img])
    assert len(verdicts) == 2 and verdicts[0].label == verdicts[1].label
