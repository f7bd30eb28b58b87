"""ONNX export (backbone + head graphs) checked with onnxruntime, and the jcat-export command line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from jcat_core.cli import export as cli
from jcat_core.cli.export import main
from jcat_core.models.checkpoint import save_weights
from jcat_core.models.export import DEFAULT_TOLERANCE, Difference, ExportResult, export_onnx
from jcat_core.models.jcat_net import JcatConfig, JcatNet

ONNX_TOLERANCE = 1e-3  # max |onnxruntime - torch| on any output (random weights: logits of magnitude ~50)


@pytest.mark.slow
def test_onnx_graphs_match_pytorch_in_onnxruntime(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")

    torch.manual_seed(0)
    result = export_onnx(JcatNet(JcatConfig(backbone="resnet18")), tmp_path, crop_size=128)
    assert result.backbone_path.is_file() and result.head_path.is_file()
    assert set(result.differences) == {"conv1", "layer1", "layer2", "layer3", "logits"}
    print({name: f"{diff.max_abs:.2e} ({diff.relative:.1e})" for name, diff in result.differences.items()})
    assert max(diff.max_abs for diff in result.differences.values()) < ONNX_TOLERANCE
    assert result.failures(DEFAULT_TOLERANCE) == []


@pytest.mark.slow
def test_verification_fails_when_a_weight_differs_from_the_exported_one(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from jcat_core.models.export import verify_onnx

    torch.manual_seed(0)
    net = JcatNet(JcatConfig(backbone="resnet18"))
    result = export_onnx(net, tmp_path, crop_size=64)
    assert result.failures(DEFAULT_TOLERANCE) == []
    with torch.no_grad():
        net.segm_predictor.post0_0[0].weight.mul_(1.01)  # the graph keeps the old weight
    result.differences = verify_onnx(net, result, crop_size=64)
    assert result.failures(DEFAULT_TOLERANCE) == ["logits"]
    assert result.differences["logits"].relative > 10 * DEFAULT_TOLERANCE


@pytest.mark.slow
def test_exported_head_takes_any_batch_size(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from jcat_core.models.export import HeadGraph, example_inputs

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


def large_layer3_net(scale: float = 1000.0) -> JcatNet:
    """Random weights whose layer3 reaches ~5700 at a 64 crop, as the published weights reach ~300 at 384."""
    torch.manual_seed(0)
    net = JcatNet(JcatConfig(backbone="resnet18"))
    with torch.no_grad():
        bn = net.feature_extractor.layer3[-1].bn2
        bn.weight.mul_(scale)
        bn.bias.mul_(scale)
    return net


@pytest.mark.slow
def test_cli_accepts_a_correct_export_of_large_outputs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Float rounding grows with the values: a layer3 of ~5700 differs by ~1e-2 absolute, ~2e-6 relative."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    save_weights(large_layer3_net(), tmp_path / "large.safetensors")
    status = main(["--weights", str(tmp_path / "large.safetensors"), "--crop-size", "64", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "layer3" in captured.out and "relative" in captured.out


def test_cli_fails_when_an_output_differs_beyond_the_relative_tolerance(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    differences = {"layer3": Difference(max_abs=1e-2, relative=2e-6), "logits": Difference(max_abs=0.3, relative=1e-2)}
    result = ExportResult(tmp_path / "backbone.onnx", tmp_path / "head.onnx", differences)
    monkeypatch.setattr(cli, "export_onnx", lambda *args, **kwargs: result)
    assert main(["--random-init", "--out", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "1.000e-02" in captured.out and "2.0e-06" in captured.out  # both differences of every output
    assert "logits" in captured.err and "layer3" not in captured.err
    assert main(["--random-init", "--out", str(tmp_path), "--tolerance", "0.02"]) == 0


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
