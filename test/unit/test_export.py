"""ONNX export (backbone + head graphs) checked with onnxruntime, and the jcat-export command line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from jcat_core.cli.export import main
from jcat_core.models.jcat_net import JcatConfig, JcatNet

ONNX_TOLERANCE = 1e-3  # max |onnxruntime - torch| on any output (random weights: logits of magnitude ~50)


@pytest.mark.slow
def test_onnx_graphs_match_pytorch_in_onnxruntime(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from jcat_core.models.export import export_onnx

    torch.manual_seed(0)
    result = export_onnx(JcatNet(JcatConfig(backbone="resnet18")), tmp_path, crop_size=128)
    assert result.backbone_path.is_file() and result.head_path.is_file()
    assert set(result.max_abs_diff) == {"conv1", "layer1", "layer2", "layer3", "logits"}
    print({name: f"{diff:.2e}" for name, diff in result.max_abs_diff.items()})
    assert max(result.max_abs_diff.values()) < ONNX_TOLERANCE


@pytest.mark.slow
def test_exported_head_takes_any_batch_size(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from jcat_core.models.export import HeadGraph, example_inputs, export_onnx

    torch.manual_seed(0)
    net = JcatNet(JcatConfig(backbone="resnet18", mixer_channels=2))
    result = export_onnx(net, tmp_path, crop_size=64, verify=False)
    session = ort.InferenceSession(str(result.head_path), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        _, inputs = example_inputs(net, 64, batch=batch, seed=batch)
        assert "dist_map" not in inputs
        (logits,) = session.run(None, {name: t.numpy() for name, t in inputs.items()})
        with torch.inference_mode():
            expected = HeadGraph(net)(**inputs)
        assert logits.shape == (batch, 2, 64, 64)
        assert abs(logits - expected.numpy()).max() < ONNX_TOLERANCE


@pytest.mark.slow
def test_cli_exports_random_weights_and_prints_differences(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    status = main(["--random-init", "--variant", "resnet18", "--crop-size", "64", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0
    assert "head.onnx" in out and "logits" in out and "layer3" in out
    assert (tmp_path / "backbone.onnx").is_file()


def test_cli_reports_missing_weights_clearly(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    status = main(["--weights", str(tmp_path / "JcatNet.pth.tar"), "--out", str(tmp_path / "onnx")])
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("jcat-export: error: weight file not found") and "JCAT_WEIGHTS_DIR" in err
    assert not (tmp_path / "onnx").exists()


def test_cli_rejects_a_crop_size_that_is_not_a_multiple_of_16(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--random-init", "--crop-size", "100"])
    assert info.value.code == 2
    assert "multiple of 16" in capsys.readouterr().err
