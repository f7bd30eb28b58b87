"""Weight files: the authors' ltr checkpoint (strict, no code execution), our safetensors format, torchvision."""

from __future__ import annotations

import builtins
import collections
import contextlib
import os
import re
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from jcat_core.models.backbone import build_backbone
from jcat_core.models.checkpoint import (
    CheckpointError,
    default_weights_path,
    load_network,
    load_pytracking_checkpoint,
    load_torchvision_backbone,
    load_weights,
    save_weights,
)
from jcat_core.models.decoder import conv_block
from jcat_core.models.jcat_net import JcatConfig, JcatNet

AUTHORS_CLASSES = {
    "ltr.admin.model_constructor": ("NetConstructor",),
    "ltr.admin.settings": ("Settings",),
    "ltr.admin.local": ("EnvironmentSettings",),
    "ltr.admin.stats": ("AverageMeter", "StatValue"),
}


@contextlib.contextmanager
def authors_modules() -> Iterator[dict[str, type]]:
    """Stand-ins for the authors' classes, importable under their real module names while the block runs."""
    assert not any(name == "ltr" or name.startswith("ltr.") for name in sys.modules)
    modules = {name: types.ModuleType(name) for name in ("ltr", "ltr.admin", *AUTHORS_CLASSES)}
    classes = {}
    for module_name, class_names in AUTHORS_CLASSES.items():
        for class_name in class_names:
            classes[class_name] = type(class_name, (), {"__module__": module_name})
            setattr(modules[module_name], class_name, classes[class_name])
    sys.modules.update(modules)
    try:
        yield classes
    finally:
        for name in modules:
            del sys.modules[name]


def authors_checkpoint(model: JcatNet, fun_name: str, fun_module: str = "ltr.models.Jcat.Jcat", args: tuple = (),
                       kwds: dict | None = None, **overrides: object) -> dict:
    """The dict ltr's trainer saves, with the authors' pickled objects (call inside ``authors_modules``).

    ``args`` and ``kwds`` are the recorded constructor arguments (``kwds`` replaces the default ones).
    """
    classes = {name: getattr(sys.modules[module], name) for module, names in AUTHORS_CLASSES.items() for name in names}
    constructor = classes["NetConstructor"]()
    constructor.fun_name, constructor.fun_module = fun_name, fun_module
    constructor.args = args
    constructor.kwds = {"backbone_pretrained": True, "mixer_channels": model.config.mixer_channels} if kwds is None \
        else kwds
    settings = classes["Settings"]()
    settings.env = classes["EnvironmentSettings"]()
    settings.env.workspace_dir = "/home/author/workspace"
    settings.batch_size, settings.normalize_mean = 32, [0.485, 0.456, 0.406]
    settings.center_jitter_factor = {"train": 0, "test": 1.5}
    loss, epoch = classes["AverageMeter"](), classes["StatValue"]()
    loss.val, loss.avg, loss.sum, loss.count = 0.2, 0.25, 250.0, 1000
    epoch.val, epoch.history = 80, [79, 80]
    optimizer = torch.optim.Adam(model.head_parameters(), lr=1e-3)
    checkpoint = {
        "epoch": 80, "actor_type": "JcatActor", "net_type": "JcatNet", "net": model.state_dict(), "net_info": None,
        "constructor": constructor, "optimizer": optimizer.state_dict(),
        "stats": collections.OrderedDict(train=collections.OrderedDict({"Loss/total": loss, "Epoch": epoch})),
        "settings": settings,
    }
    checkpoint.update(overrides)
    return checkpoint


def write_authors_checkpoint(path: Path, model: JcatNet, fun_name: str = "Jcat_resnet50", legacy: bool = False,
                             **overrides: object) -> Path:
    """torch.save of the ltr dict; ``overrides`` go to ``authors_checkpoint`` (``net=`` a modified state_dict, ...)."""
    with authors_modules():
        torch.save(authors_checkpoint(model, fun_name, **overrides), path, _use_new_zipfile_serialization=not legacy)
    return path


def random_net(backbone: str = "resnet18", seed: int = 0) -> JcatNet:
    torch.manual_seed(seed)
    net = JcatNet(JcatConfig(backbone=backbone))
    for m in net.modules():  # distinct BN statistics, so that loading them is checked too
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.num_batches_tracked.fill_(80_000)
    return net.eval()


def outputs(net: JcatNet, size: int = 128, dist: bool = True) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    images = torch.randn(1, 3, size, size, generator=gen)
    mask = torch.zeros(1, 1, size, size)
    mask[..., 32:96, 40:90] = 1
    dist_map = torch.rand(1, 1, size, size, generator=gen) * size
    with torch.inference_mode():
        return net(images, mask, images, dist_map if dist else None)


@pytest.mark.parametrize(("backbone", "fun_name", "legacy"), [("resnet50", "Jcat_resnet50", False),
                                                              ("resnet18", "Jcat_resnet18", True)])
def test_authors_checkpoint_loads_strictly_and_reproduces_outputs(tmp_path: Path, backbone: str, fun_name: str,
                                                                  legacy: bool) -> None:
    net = random_net(backbone)
    path = write_authors_checkpoint(tmp_path / "JcatNet.pth.tar", net, fun_name, legacy=legacy)
    assert "ltr.admin.model_constructor" not in sys.modules
    loaded, report = load_pytracking_checkpoint(path)
    assert report.config == JcatConfig(backbone=backbone, mixer_channels=3)
    assert report.epoch == 80 and report.constructor == f"ltr.models.Jcat.Jcat.{fun_name}"
    assert report.num_tensors == len(net.state_dict())
    assert not loaded.training
    for key, value in net.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    torch.testing.assert_close(outputs(loaded), outputs(net), rtol=0, atol=0)


def test_mixer_channels_comes_from_the_constructor_kwargs(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = JcatNet(JcatConfig(backbone="resnet18", mixer_channels=2))
    loaded, report = load_pytracking_checkpoint(write_authors_checkpoint(tmp_path / "c.pth.tar", net, "Jcat_resnet18"))
    assert loaded.config.mixer_channels == 2 == report.config.mixer_channels


def test_missing_key_is_named(tmp_path: Path) -> None:
    net = random_net()
    state = net.state_dict()
    del state["segm_predictor.mixer0.1.running_var"]
    path = write_authors_checkpoint(tmp_path / "c.pth.tar", net, "Jcat_resnet18", net=state)
    with pytest.raises(CheckpointError, match=r"1 missing key\(s\): segm_predictor\.mixer0\.1\.running_var"):
        load_pytracking_checkpoint(path)


def test_wrong_shape_and_unexpected_key_are_named(tmp_path: Path) -> None:
    net = random_net()
    state = net.state_dict()
    state["segm_predictor.post0_0.0.weight"] = torch.zeros(3, 4, 3, 3)
    state["segm_predictor.extra.weight"] = torch.zeros(1)
    path = write_authors_checkpoint(tmp_path / "c.pth.tar", net, "Jcat_resnet18", net=state)
    with pytest.raises(CheckpointError) as info:
        load_pytracking_checkpoint(path)
    message = str(info.value)
    assert "segm_predictor.post0_0.0.weight (file (3, 4, 3, 3) vs model (2, 4, 3, 3))" in message
    assert "1 unexpected key(s): segm_predictor.extra.weight" in message


def test_resnet50_weights_under_a_resnet18_constructor_list_the_mismatches(tmp_path: Path) -> None:
    path = write_authors_checkpoint(tmp_path / "c.pth.tar", random_net("resnet50"), "Jcat_resnet18")
    with pytest.raises(CheckpointError, match=r"unexpected key\(s\).*\(\+\d+ more\).*shape mismatch"):
        load_pytracking_checkpoint(path)


@pytest.mark.parametrize(("backbone", "fun_name"), [("resnet50", "segm_resnet50"), ("resnet18", "segm_resnet18")])
def test_d3s_era_constructor_loads_when_its_state_dict_is_jcat(tmp_path: Path, backbone: str, fun_name: str) -> None:
    """The authors' tracker overrides the recorded constructor, so the state dict decides, not the name."""
    net = random_net(backbone)
    path = write_authors_checkpoint(tmp_path / "c.pth.tar", net, fun_name, fun_module="ltr.models.segm.segm",
                                    net_type="SegmNet")
    loaded, report = load_pytracking_checkpoint(path)
    assert report.config == net.config and report.net_type == "SegmNet"
    assert report.constructor == f"ltr.models.segm.segm.{fun_name}"
    assert any(fun_name in note and "state dict" in note for note in report.notes)
    torch.testing.assert_close(outputs(loaded), outputs(net), rtol=0, atol=0)


def d3s_segm_state(backbone: JcatNet) -> dict[str, torch.Tensor]:
    """A D3S SegmNet state dict (ResNet-18 dims): the backbone's own plus D3S's head, whose layers differ."""
    d3s_head = {  # name: (in, out, kernel) of each conv + BN unit, as D3S's segm_resnet18 builds them
        "segment0": (256, 64, 1), "segment1": (64, 64, 3), "mixer": (2, 64, 3), "s3": (64, 32, 3),
        "s2": (32, 32, 3), "s1": (16, 16, 3), "s0": (4, 4, 3), "f2": (128, 32, 3), "f1": (64, 16, 3),
        "f0": (64, 4, 3), "post2": (32, 16, 3), "post1": (16, 4, 3), "post0": (4, 2, 3),
    }
    head = torch.nn.Module()
    for name, (c_in, c_out, k) in d3s_head.items():
        head.add_module(name, conv_block(c_in, c_out, k))
    return {**backbone.feature_extractor.state_dict(prefix="feature_extractor."),
            **head.state_dict(prefix="segm_predictor.")}


@pytest.mark.parametrize("fun_name", ["segm_resnet18", "Jcat_resnet18", "DiMPnet"])
def test_d3s_segmnet_state_dict_is_refused_whatever_the_recorded_name(tmp_path: Path, fun_name: str) -> None:
    net = random_net()
    path = write_authors_checkpoint(tmp_path / "c.pth.tar", net, fun_name, fun_module="ltr.models.segm.segm",
                                    net_type="SegmNet", net=d3s_segm_state(net), kwds={"mixer_channels": 2})
    with pytest.raises(CheckpointError) as info:
        load_pytracking_checkpoint(path)
    message = str(info.value)
    assert f"ltr.models.segm.segm.{fun_name}" in message and "is not a JCAT resnet18 network" in message
    assert "lacks JCAT's layers f0_0, f0_1, f1_0, f1_1, f2_0, f2_1, f3_0, f3_1, fusion, fusion0" in message
    assert "has layers JCAT does not: f0, f1, f2, mixer, post0, post1, post2, s0, s1, s2, s3" in message


def test_without_a_constructor_the_state_dict_gives_backbone_and_mixer_channels(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = JcatNet(JcatConfig(backbone="resnet18", mixer_channels=2)).eval()
    loaded, report = load_pytracking_checkpoint(write_authors_checkpoint(tmp_path / "c.pth.tar", net,
                                                                         constructor=None))
    assert report.config == net.config and report.constructor is None
    torch.testing.assert_close(outputs(loaded, dist=False), outputs(net, dist=False), rtol=0, atol=0)


def test_state_dict_with_an_unknown_backbone_is_refused(tmp_path: Path) -> None:
    net = random_net()
    state = {k: v for k, v in net.state_dict().items() if not k.startswith("feature_extractor.layer3.")}
    path = write_authors_checkpoint(tmp_path / "c.pth.tar", net, "segm_resnet18", net=state)
    with pytest.raises(CheckpointError, match=r"not a JCAT network.*none of .*resnet18"):
        load_pytracking_checkpoint(path)


@pytest.mark.parametrize(("args", "kwds"), [((), {"topk_pos": 2, "topk_neg": 2}),
                                            (((256, 256), (256, 256), True, 2, 2), {}),
                                            (((256, 256), (256, 256), True, 2, 2, 3), {})])
def test_recorded_topk_is_honoured(tmp_path: Path, args: tuple, kwds: dict) -> None:
    net = random_net()
    path = write_authors_checkpoint(tmp_path / "c.pth.tar", net, "Jcat_resnet18", args=args,
                                    kwds={"mixer_channels": 3, **kwds} if len(args) < 6 else kwds)
    loaded, report = load_pytracking_checkpoint(path)
    assert report.config.topk == 2 == loaded.segm_predictor.topk
    assert report.constructor_kwargs["topk_pos"] == 2


@pytest.mark.parametrize(("args", "kwds", "named"), [
    ((), {"topk_pos": 2}, "topk_pos=2"),  # topk_neg stays the published 3: one topk cannot be both
    ((), {"topk_pos": 3, "topk_neg": 5}, "topk_neg=5"),
    ((), {"topk_pos": 0, "topk_neg": 0}, "topk_pos=0"),
    ((), {"dim_hider": 256}, "dim_hider"),  # not a published constructor argument: it might change the network
    ((), {"mixer_channels": 4}, "mixer_channels"),
    (((256, 256), (256, 256), True, 3, 3, 3, "extra"), {}, "7 positional"),
    (((256, 256), (256, 256), True, 2), {"topk_pos": 2}, "topk_pos"),  # given twice
])
def test_recorded_arguments_that_cannot_be_honoured_are_refused(tmp_path: Path, args: tuple, kwds: dict,
                                                                named: str) -> None:
    path = write_authors_checkpoint(tmp_path / "c.pth.tar", random_net(), "Jcat_resnet18", args=args, kwds=kwds)
    with pytest.raises(ValueError, match=re.escape(named)):
        load_pytracking_checkpoint(path)


def test_bookkeeping_arguments_are_noted(tmp_path: Path) -> None:
    kwds = {"segm_input_dim": (256, 256), "segm_inter_dim": (256, 256), "backbone_pretrained": True,
            "mixer_channels": 3, "topk_pos": 3, "topk_neg": 3}
    path = write_authors_checkpoint(tmp_path / "c.pth.tar", random_net(), "Jcat_resnet18", kwds=kwds)
    _, report = load_pytracking_checkpoint(path)
    assert report.config == JcatConfig(backbone="resnet18")
    assert any("backbone_pretrained" in note and "segm_inter_dim" in note for note in report.notes)


class RunsCode:
    """Unpickling this calls ``func(*args)``: what a malicious checkpoint would do."""

    def __init__(self, func: object, *args: object) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple:
        return self.func, self.args


@pytest.mark.parametrize(("payload", "global_name"), [
    (lambda marker: RunsCode(os.system, f"touch {marker}"), "system"),
    (lambda marker: RunsCode(builtins.exec, f"open({str(marker)!r}, 'w').close()"), "exec"),
    (lambda marker: RunsCode(subprocess.call, ["touch", str(marker)]), "call"),  # pickled as commands.call
    (lambda marker: RunsCode(builtins.open, str(marker), "w"), "open"),
])
def test_pickle_that_would_run_code_is_refused_and_creates_no_file(tmp_path: Path, payload, global_name: str) -> None:
    marker = tmp_path / "pwned"
    path = write_authors_checkpoint(tmp_path / "evil.pth.tar", random_net(), "Jcat_resnet18",
                                    settings=payload(marker))
    with pytest.raises(CheckpointError, match=rf"refused.*'[\w.]*{global_name}'.*Nothing was executed"):
        load_pytracking_checkpoint(path)
    assert not marker.exists()


def test_missing_file_says_where_to_get_and_put_the_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JCAT_WEIGHTS_DIR", str(tmp_path / "weights"))
    assert default_weights_path() == tmp_path / "weights" / "JcatNet.pth.tar"
    with pytest.raises(CheckpointError) as info:
        load_pytracking_checkpoint()
    message = str(info.value)
    assert "not found" in message and "GitHub" in message and "JCAT_WEIGHTS_DIR" in message
    assert str(tmp_path / "weights" / "JcatNet.pth.tar") in message
    monkeypatch.delenv("JCAT_WEIGHTS_DIR")
    assert default_weights_path() == Path.home() / ".cache" / "jcat" / "JcatNet.pth.tar"


@pytest.mark.parametrize("legacy", [False, True])
def test_truncated_checkpoint_is_reported_as_corrupt(tmp_path: Path, legacy: bool) -> None:
    path = write_authors_checkpoint(tmp_path / "c.pth.tar", random_net(), "Jcat_resnet18", legacy=legacy)
    path.write_bytes(path.read_bytes()[: path.stat().st_size - 1000])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_pytracking_checkpoint(path)


def test_text_and_empty_files_and_other_pickles_are_not_checkpoints(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("these are not weights\n")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_pytracking_checkpoint(text)
    empty = tmp_path / "empty.pth.tar"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_pytracking_checkpoint(empty)
    bare = tmp_path / "bare.pth"
    torch.save(random_net().state_dict(), bare)
    with pytest.raises(CheckpointError, match="not a pytracking/ltr checkpoint"):
        load_pytracking_checkpoint(bare)


def test_safetensors_round_trip_is_exact(tmp_path: Path) -> None:
    net = random_net()
    save_weights(net, tmp_path / "jcat.safetensors")
    loaded = load_weights(tmp_path / "jcat.safetensors")
    assert loaded.config == net.config
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in net.state_dict().items())
    torch.testing.assert_close(outputs(loaded), outputs(net), rtol=0, atol=0)
    assert (tmp_path / "jcat.safetensors").read_bytes()[:1] != b"\x80"  # no pickle
    assert load_network(tmp_path / "jcat.safetensors").config == net.config


def test_safetensors_without_our_metadata_is_refused(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(CheckpointError, match="not JCAT weights"):
        load_weights(tmp_path / "other.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_weights(tmp_path / "bad.safetensors")


def test_torchvision_state_dict_loads_into_the_backbone(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = build_backbone("resnet50")
    torch.save(collections.OrderedDict(source.state_dict()), tmp_path / "resnet50-imagenet.pth")
    net = JcatNet()
    load_torchvision_backbone(net.feature_extractor, tmp_path / "resnet50-imagenet.pth")
    assert all(torch.equal(net.feature_extractor.state_dict()[k], v) for k, v in source.state_dict().items())
    state = source.state_dict()
    del state["fc.bias"]
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(CheckpointError, match=r"missing key\(s\): fc\.bias"):
        load_torchvision_backbone(net.feature_extractor, tmp_path / "partial.pth")
