"""Import efficientdet-pytorch (effdet 0.4.1) weights: map its state-dict keys onto our modules.

The published COCO checkpoints (e.g. tf_efficientdet_d0_34-f153e0cf.pth) are plain state dicts of
effdet's `EfficientDet`; training checkpoints wrap them ("state_dict", "state_dict_ema", a
"model." prefix from DetBenchTrain, "module." from DDP). Key mapping:

  fpn.resample.{L}.conv.{conv,bn}.*                -> fpn.extra_levels.{L-3}.conv.{conv,bn}.*
  fpn.cell.{r}.fnode.{n}.combine.resample.{id}.*  -> fpn.cells.{r}.nodes.{n}.resample.{j}.*
                                    (j = position of feature id in the node's inputs)
  fpn.cell.{r}.fnode.{n}.combine.edge_weights     -> fpn.cells.{r}.nodes.{n}.fusion.weight
  fpn.cell.{r}.fnode.{n}.after_combine.conv.*     -> fpn.cells.{r}.nodes.{n}.conv.*
  {class,box}_net.bn_rep.{r}.{l}.bn.*             -> {class,box}_net.bn_rep.{l}.{r}.*  (level-first)
  backbone.*, *_net.conv_rep.*, *_net.predict.*   -> unchanged
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch

from core.det.bifpn import bifpn_nodes
from core.det.config import EFFDET_NAMES, DetConfig, get_config
from core.det.model import EfficientDet, create_detector
from core.errors import CheckpointError, SpecError

log = logging.getLogger(__name__)

_EXTRA = re.compile(r"^fpn\.resample\.(\d+)\.(.*)$")
_RESAMPLE = re.compile(r"^fpn\.cell\.(\d+)\.fnode\.(\d+)\.combine\.resample\.(\d+)\.(.*)$")
_WEIGHTS = re.compile(r"^fpn\.cell\.(\d+)\.fnode\.(\d+)\.combine\.edge_weights$")
_NODE_CONV = re.compile(r"^fpn\.cell\.(\d+)\.fnode\.(\d+)\.after_combine\.conv\.(.*)$")
_HEAD_BN_REPEAT_FIRST = re.compile(r"^(class_net|box_net)\.bn_rep\.(\d+)\.(\d+)\.bn\.(.*)$")
WEIGHTS_ONLY_REFUSED = "Weights only load failed"  # torch's UnpicklingError for pickled objects


def load_effdet_checkpoint(path: str | os.PathLike) -> Mapping:
    """Read an effdet .pth with torch.load(weights_only=True), so no pickled code runs.

    Raises CheckpointError when the file is missing or unreadable, is a pickle of Python objects
    (a "not a weights-only checkpoint", refused unread), is not a checkpoint at all, or holds
    something other than a dict.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} is not a file; give the path of an effdet "
            ".pth file (e.g. tf_efficientdet_d0_34-f153e0cf.pth)"
        )
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of random bytes
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if WEIGHTS_ONLY_REFUSED in str(exc):
            raise CheckpointError(
                f"{path} is not a weights-only checkpoint: it holds Python objects besides "
                "tensors and plain values, so it was refused unread (none of its code ran). "
                "Use the published effdet .pth files, or re-save a trusted model with "
                "torch.save(model.state_dict(), path)"
            ) from exc
        raise CheckpointError(f"{path} is not a PyTorch checkpoint ({_first_line(exc)})") from exc
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc}") from exc
    except Exception as exc:  # unpickling arbitrary bytes raises nearly anything; report it
        raise CheckpointError(
            f"{path} is corrupt or not a PyTorch checkpoint "
            f"({type(exc).__name__}: {_first_line(exc)})"
        ) from exc
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path} does not hold a state dict (found {type(state).__name__})")
    return state


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else "no details"


def unwrap_state_dict(checkpoint: Mapping) -> dict[str, torch.Tensor]:
    """The EfficientDet state dict inside an effdet checkpoint (EMA weights preferred)."""
    state = checkpoint
    for key in ("state_dict_ema", "state_dict", "model"):
        if isinstance(state.get(key), Mapping):
            state = state[key]
            break
    out = {}
    for key, value in state.items():
        for prefix in ("module.", "model."):
            key = key.removeprefix(prefix)
        if not key.startswith("anchors."):  # DetBench anchor buffers
            out[key] = value
    return out


def map_effdet_key(key: str, config: DetConfig) -> str:
    """Our parameter name for one effdet state-dict key."""
    topology = bifpn_nodes(config.min_level, config.max_level)
    if m := _EXTRA.match(key):
        return f"fpn.extra_levels.{int(m[1]) - 3}.{m[2]}"
    if m := _RESAMPLE.match(key):
        inputs = topology[int(m[2])].inputs
        if int(m[3]) not in inputs:
            raise CheckpointError(f"effdet key {key}: node {m[2]} has no input {m[3]}")
        return f"fpn.cells.{m[1]}.nodes.{m[2]}.resample.{inputs.index(int(m[3]))}.{m[4]}"
    if m := _WEIGHTS.match(key):
        return f"fpn.cells.{m[1]}.nodes.{m[2]}.fusion.weight"
    if m := _NODE_CONV.match(key):
        return f"fpn.cells.{m[1]}.nodes.{m[2]}.conv.{m[3]}"
    if m := _HEAD_BN_REPEAT_FIRST.match(key):
        return f"{m[1]}.bn_rep.{m[3]}.{m[2]}.{m[4]}"
    return key


def num_classes_of(state: Mapping[str, torch.Tensor], config: DetConfig) -> int:
    bias = state.get("class_net.predict.conv_pw.bias")
    if bias is None:
        raise CheckpointError(
            "not an effdet EfficientDet checkpoint: no class_net.predict.conv_pw.bias"
        )
    if bias.numel() % config.num_anchors:
        raise CheckpointError(
            f"class head has {bias.numel()} outputs, not a multiple of {config.num_anchors} anchors"
        )
    return bias.numel() // config.num_anchors


def import_effdet(
    state_dict: Mapping, name: str, image_size: int | tuple[int, int] | None = None
) -> EfficientDet:
    """A model of variant `name` holding effdet's weights (num_classes read from the weights).

    state_dict: an effdet state dict or checkpoint dict (see `unwrap_state_dict`).
    Raises CheckpointError when the weights do not fit variant `name`.
    """
    if name not in EFFDET_NAMES:
        raise SpecError(f"{name!r} is not an effdet variant; known: {', '.join(EFFDET_NAMES)}")
    state = unwrap_state_dict(state_dict)
    num_classes = num_classes_of(state, get_config(name))
    model = create_detector(name, num_classes, image_size=image_size)
    mapped = {map_effdet_key(k, model.config): v for k, v in state.items()}
    _check_keys(model, mapped, name)
    model.load_state_dict(mapped, strict=True)
    log.info("imported effdet %s weights (%d classes)", name, num_classes)
    return model


def _check_keys(model: EfficientDet, mapped: dict[str, torch.Tensor], name: str) -> None:
    own = model.state_dict()
    missing = [k for k in own if k not in mapped]
    unexpected = [k for k in mapped if k not in own]
    wrong = [k for k in own if k in mapped and tuple(mapped[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"these weights are not effdet {name}: {len(missing)} missing (e.g. {missing[:2]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:2]}), {len(wrong)} of another "
            f"shape (e.g. {wrong[:2]}); check --name matches the checkpoint"
        )
