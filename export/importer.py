"""`python -m export import --onnx FILE --name NAME [spec options]`: bring your own CIFAR-10 classifier.

The user's graph is wrapped, inside ONNX itself, between a small preprocessing graph and a small
output graph, so that the result takes our contract (uint8 RGB pixels, NHWC, dynamic batch, input
"pixels") and answers 10 logits in CIFAR-10's class order (output "logits"):

    pixels uint8 (N,32,32,3) -> [BGR swap] -> [float: * scale, - mean, / std] -> [NHWC -> NCHW]
        -> the user's graph -> [log of probabilities] -> [classes into CIFAR-10's order] -> logits

The handler, archives, serving and benchmark then treat it exactly as one of our own exports.
Before it is accepted, the import checks the graph's input and output against the declared spec,
that the wrapped file answers as the original file does with the preprocessing done in numpy,
whether the outputs look like the declared kind, and its accuracy on a class-balanced sample of
the clean test set. The spec is refused when the model scores below --min-accuracy under it, or
when one of the usual variants of it (the other channel order, the common normalisations, the
other scale or layout) scores 20 points more: the message names that variant, or the class order
that the answers fit.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, compose, helper, numpy_helper
from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidArgument

from robustcifar.artifacts import INPUT_NAME, ModelArtifacts, ModelMeta, sha256_file
from robustcifar.classes import CLASS_NAMES
from robustcifar.config import SHARED_FIELDS, shared_field
from robustcifar.datasets import balanced_subset, load_cifar10
from robustcifar.errors import UsageError
from robustcifar.input_spec import InputSpec, InputSpecError, InputSpecOptions, parse_spec
from robustcifar.model_specs import MODEL_SPECS
from robustcifar.onnx_model import OnnxModel
from robustcifar.provenance import git_commit

from .parity import MAX_ABS_DIFF

OUTPUT_NAME = "logits"
MIN_OPSET = 9  # Max and Gather with the broadcasting this wrapper relies on
PROBABILITY_FLOOR = 1e-12  # log(0) guard when probabilities are turned back into logits
VARIANT_MARGIN = 0.2  # a usual variant of the spec this much more accurate means the declared one is wrong
SUM_TOLERANCE = 1e-3  # how far from 1 a row of declared probabilities may sum
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# the usual normalisations, tried when the declared spec scores at chance
KNOWN_STATISTICS = {
    "none": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
    "CIFAR-10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "ImageNet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "0.5": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
}


class ModelImportError(UsageError):
    """The file or the spec cannot be imported; the message says why and what to pass instead."""


@dataclass
class ImportConfig(InputSpecOptions):
    onnx: Path | None = field(default=None, metadata={"help": "the ONNX file of a CIFAR-10 classifier"})
    name: str = field(default="", metadata={"help": "the name it is served under (lowercase, digits, _ and -)"})
    class_names: str = field(default="", metadata={
        "help": "the model's classes in its output order, comma-separated (default CIFAR-10's order)"})
    input_name: str = field(default="", metadata={"help": "the graph input to feed (default: its only input)"})
    output_name: str = field(default="", metadata={"help": "the graph output to read (default: its first)"})
    check_per_class: int = field(default=20, metadata={"help": "clean test images per class for the accuracy check"})
    min_accuracy: float = field(default=0.2, metadata={
        "help": "refuse the model below this accuracy on the check (chance is 0.1)"})
    force: bool = field(default=False, metadata={"help": "replace an imported model of the same name"})
    artifacts: Path | None = shared_field("artifacts")
    data: str = shared_field("data", help="CIFAR-10 source for the accuracy check: " + SHARED_FIELDS["data"][1])
    data_dir: Path | None = shared_field("data_dir")


def import_spec(config: ImportConfig) -> InputSpec:
    try:
        return parse_spec(config)
    except InputSpecError as exc:
        raise ModelImportError(str(exc)) from None


def class_order(text: str) -> list[int]:
    """For each CIFAR-10 class, the index of the model's output that holds it."""
    if not text.strip():
        return list(range(len(CLASS_NAMES)))
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = sorted(set(names) - set(CLASS_NAMES))
    if len(names) != len(CLASS_NAMES) or unknown or len(set(names)) != len(names):
        raise ModelImportError(f"--class-names must name the 10 CIFAR-10 classes once each, in the model's output "
                               f"order ({', '.join(CLASS_NAMES)})" + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
    return [names.index(c) for c in CLASS_NAMES]


def check_name(name: str, artifacts: ModelArtifacts, force: bool) -> None:
    if not NAME_PATTERN.match(name) or name == "model-store":
        raise ModelImportError(f"--name {name!r}: use lowercase letters, digits, '_' and '-' (at most 64), "
                               "e.g. --name my_resnet")
    if name in MODEL_SPECS:
        raise ModelImportError(f"{name} is one of the models this project trains; import under another name")
    if artifacts.meta.is_file():
        if not ModelMeta.load(artifacts.meta).imported:
            raise ModelImportError(f"{artifacts.model_dir} holds a model that was not imported; pick another name")
        if not force:
            raise ModelImportError(f"{name} was imported before; pass --force to replace it")


def load_user_model(path: Path | None) -> onnx.ModelProto:
    if path is None:
        raise ModelImportError("--onnx FILE is required")
    if not Path(path).is_file():
        raise ModelImportError(f"{path} does not exist")
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, OSError, ValueError) as exc:
        raise ModelImportError(f"{path} is not a valid ONNX model: {str(exc).splitlines()[0][:200]}") from None
    except Exception as exc:
        if type(exc).__name__ != "DecodeError":
            raise
        raise ModelImportError(f"{path} is not an ONNX file (it does not parse as an ONNX protobuf)") from None
    if not model.graph.node:
        raise ModelImportError(f"{path} holds an empty graph")
    return model


def _dims(value_info) -> list[int | str | None]:
    """A graph input's or output's dimensions: int when fixed, its name when symbolic, None when unknown."""
    if not value_info.type.HasField("tensor_type") or not value_info.type.tensor_type.HasField("shape"):
        return []
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
            for d in value_info.type.tensor_type.shape.dim]


def _elem_type(value_info) -> int:
    return value_info.type.tensor_type.elem_type


def graph_input(model: onnx.ModelProto, name: str, spec: InputSpec):
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if name:
        inputs = [i for i in inputs if i.name == name]
        if not inputs:
            raise ModelImportError(f"the graph has no input {name!r}")
    elif len(inputs) != 1:
        raise ModelImportError(f"the graph has {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); "
                               "name the image input with --input-name")
    value = inputs[0]
    wanted = TensorProto.FLOAT if spec.dtype == "float32" else TensorProto.UINT8
    if _elem_type(value) != wanted:
        actual = helper.tensor_dtype_to_np_dtype(_elem_type(value)).name if _elem_type(value) else "unknown"
        raise ModelImportError(f"input {value.name!r} is {actual} but --dtype {spec.dtype} was declared")
    dims = _dims(value)
    expected = [3, 32, 32] if spec.layout == "NCHW" else [32, 32, 3]
    if len(dims) != 4:
        raise ModelImportError(f"input {value.name!r} has shape {dims}; a CIFAR-10 classifier takes 4 axes, "
                               f"(batch, {', '.join(map(str, expected))}) for {spec.layout}")
    fixed = dims[1:]
    if any(isinstance(d, int) and d != e for d, e in zip(fixed, expected)):
        other = "NHWC" if spec.layout == "NCHW" else "NCHW"
        looks_other = fixed == ([32, 32, 3] if other == "NHWC" else [3, 32, 32])
        hint = f": it looks {other}, pass --layout {other}" if looks_other else ""
        raise ModelImportError(f"input {value.name!r} has shape {dims} but --layout {spec.layout} means "
                               f"(batch, {', '.join(map(str, expected))}){hint}")
    if isinstance(dims[0], int):
        raise ModelImportError(f"input {value.name!r} has a fixed batch size of {dims[0]}; the server sends batches "
                               "of up to 8: export it with a dynamic batch axis (torch.onnx.export(..., "
                               "dynamic_axes={name: {0: 'batch'}}))")
    return value


def graph_output(model: onnx.ModelProto, name: str):
    outputs = list(model.graph.output)
    if name:
        outputs = [o for o in outputs if o.name == name]
        if not outputs:
            raise ModelImportError(f"the graph has no output {name!r}")
    value = outputs[0]
    if _elem_type(value) not in (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE):
        raise ModelImportError(f"output {value.name!r} is not a floating-point tensor")
    dims = _dims(value)
    if dims and (len(dims) != 2 or (isinstance(dims[1], int) and dims[1] != len(CLASS_NAMES))):
        raise ModelImportError(f"output {value.name!r} has shape {dims}; a CIFAR-10 classifier answers "
                               f"(batch, {len(CLASS_NAMES)})")
    return value


def _constant(name: str, values: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(values, name)


def _pre_model(spec: InputSpec, user: onnx.ModelProto) -> onnx.ModelProto:
    nodes, inits, x = [], [], INPUT_NAME
    if spec.channels == "BGR":
        inits.append(_constant("pre/bgr", np.array([2, 1, 0], np.int64)))
        nodes.append(helper.make_node("Gather", [x, "pre/bgr"], ["pre/swapped"], axis=3))
        x = "pre/swapped"
    if spec.dtype == "float32":
        inits += [_constant("pre/scale", np.array(spec.scale, np.float32)),
                  _constant("pre/mean", np.array(spec.mean, np.float32).reshape(1, 1, 1, 3)),
                  _constant("pre/std", np.array(spec.std, np.float32).reshape(1, 1, 1, 3))]
        nodes += [helper.make_node("Cast", [x], ["pre/float"], to=TensorProto.FLOAT),
                  helper.make_node("Mul", ["pre/float", "pre/scale"], ["pre/scaled"]),
                  helper.make_node("Sub", ["pre/scaled", "pre/mean"], ["pre/centred"]),
                  helper.make_node("Div", ["pre/centred", "pre/std"], ["pre/normalised"])]
        x = "pre/normalised"
    elem = TensorProto.FLOAT if spec.dtype == "float32" else TensorProto.UINT8
    if spec.layout == "NCHW":
        nodes.append(helper.make_node("Transpose", [x], ["pre/out"], perm=[0, 3, 1, 2]))
        out_shape = ["batch", 3, 32, 32]
    else:
        nodes.append(helper.make_node("Identity", [x], ["pre/out"]))
        out_shape = ["batch", 32, 32, 3]
    graph = helper.make_graph(
        nodes, "preprocess", [helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, ["batch", 32, 32, 3])],
        [helper.make_tensor_value_info("pre/out", elem, out_shape)], inits)
    return helper.make_model(graph, opset_imports=list(user.opset_import), ir_version=user.ir_version)


def _post_model(spec: InputSpec, order: list[int], user: onnx.ModelProto, elem_type: int) -> onnx.ModelProto:
    nodes = [helper.make_node("Cast", ["post/in"], ["post/float"], to=TensorProto.FLOAT)]
    inits, x = [], "post/float"
    if spec.output == "probabilities":
        inits.append(_constant("post/floor", np.array(PROBABILITY_FLOOR, np.float32)))
        nodes += [helper.make_node("Max", [x, "post/floor"], ["post/floored"]),
                  helper.make_node("Log", ["post/floored"], ["post/log"])]
        x = "post/log"
    if order != list(range(len(order))):
        inits.append(_constant("post/order", np.array(order, np.int64)))
        nodes.append(helper.make_node("Gather", [x, "post/order"], [OUTPUT_NAME], axis=1))
    else:
        nodes.append(helper.make_node("Identity", [x], [OUTPUT_NAME]))
    graph = helper.make_graph(
        nodes, "answer", [helper.make_tensor_value_info("post/in", elem_type, ["batch", len(order)])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", len(order)])], inits)
    return helper.make_model(graph, opset_imports=list(user.opset_import), ir_version=user.ir_version)


def default_opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def wrap(user: onnx.ModelProto, spec: InputSpec, order: list[int], value_in, value_out) -> onnx.ModelProto:
    """The user's graph between our preprocessing and our output: a model with our contract.
    `value_in` and `value_out` are the graph's image input and the output read (graph_input/_output)."""
    opset = default_opset(user)
    if opset < MIN_OPSET:
        raise ModelImportError(f"the model uses ONNX opset {opset}; at least {MIN_OPSET} is needed (convert it "
                               "with onnx.version_converter.convert_version)")
    prefixed = compose.add_prefix(user, "user/")
    # keep only the output we read, so the merged graph has exactly one
    kept = [o for o in prefixed.graph.output if o.name == "user/" + value_out.name]
    del prefixed.graph.output[:]
    prefixed.graph.output.extend(kept)
    merged = compose.merge_models(_pre_model(spec, user), prefixed, io_map=[("pre/out", "user/" + value_in.name)])
    merged = compose.merge_models(merged, _post_model(spec, order, user, _elem_type(value_out)),
                                  io_map=[("user/" + value_out.name, "post/in")])
    merged.graph.name = "imported"
    onnx.checker.check_model(merged, full_check=True)
    return merged


class _UserSession:
    """The original file under onnxruntime, fed by numpy preprocessing: the independent reference."""

    def __init__(self, path: Path, input_name: str, output_name: str) -> None:
        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.input_name, self.output_name = input_name, output_name

    def scores(self, pixels: np.ndarray, spec: InputSpec, order: list[int]) -> np.ndarray:
        """(N, 10) outputs in CIFAR-10's order (as the model gives them: logits or probabilities)."""
        outputs = self.session.run([self.output_name], {self.input_name: spec.preprocess(pixels)})[0]
        return np.asarray(outputs, dtype=np.float32)[:, order]


def output_kind_problem(outputs: np.ndarray, spec: InputSpec) -> str | None:
    rows_are_distributions = bool(np.all(outputs >= -1e-6) and np.all(np.abs(outputs.sum(axis=1) - 1) <= SUM_TOLERANCE))
    if spec.output == "logits" and rows_are_distributions:
        return ("its outputs are probabilities (every row is non-negative and sums to 1) but --output logits was "
                "declared: pass --output probabilities")
    if spec.output == "probabilities" and not rows_are_distributions:
        return "its outputs are not probabilities (rows do not sum to 1): pass --output logits"
    return None


def variants(spec: InputSpec, dims_free: bool) -> list[tuple[str, InputSpec]]:
    """The usual mistakes, each as the option that would fix it and the spec with it applied."""
    out = [(f"--channels {'BGR' if spec.channels == 'RGB' else 'RGB'}",
            replace(spec, channels="BGR" if spec.channels == "RGB" else "RGB"))]
    if spec.dtype == "float32":
        for name, (mean, std) in KNOWN_STATISTICS.items():
            if (mean, std) != (spec.mean, spec.std):
                out.append((f"--mean {','.join(map(str, mean))} --std {','.join(map(str, std))} ({name} statistics)",
                            replace(spec, mean=mean, std=std)))
        other_scale = 1.0 if spec.scale != 1.0 else 1 / 255
        out.append((f"--scale {'1' if other_scale == 1.0 else '1/255'}", replace(spec, scale=other_scale)))
    if dims_free:  # a graph with unnamed spatial axes would also run on the other layout
        other = "NHWC" if spec.layout == "NCHW" else "NCHW"
        out.append((f"--layout {other}", replace(spec, layout=other)))
    return out


def permutation_hint(predicted: np.ndarray, labels: np.ndarray) -> str | None:
    """When the model is consistent but its classes are in another order, the --class-names that fits."""
    confusion = np.zeros((len(CLASS_NAMES), len(CLASS_NAMES)), np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    best = confusion.argmax(axis=1)  # the output most chosen for each true class
    if len(set(best.tolist())) != len(CLASS_NAMES) or confusion[np.arange(len(best)), best].sum() < 0.5 * len(labels):
        return None
    names = [""] * len(CLASS_NAMES)
    for true_class, output in enumerate(best):
        names[output] = CLASS_NAMES[true_class]
    return f"--class-names {','.join(names)} (its answers are consistent with that output order)"


def accuracy_of(scores: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(scores.argmax(axis=1) == labels))


@dataclass
class ImportReport:
    name: str
    accuracy: float
    n_images: int
    max_abs_diff: float
    spec: InputSpec


def import_model(config: ImportConfig, images: np.ndarray | None = None, labels: np.ndarray | None = None,
                 data_source_kind: str = "") -> ImportReport:
    """Check and wrap the model, and write artifacts/NAME/model.onnx and meta.json. `images` and
    `labels` are the check's clean test images; they are loaded from config.data when not given."""
    spec, order = import_spec(config), class_order(config.class_names)
    artifacts = ModelArtifacts.for_model(config.name, config.artifacts)
    check_name(config.name, artifacts, config.force)
    user = load_user_model(config.onnx)
    value_in, value_out = graph_input(user, config.input_name, spec), graph_output(user, config.output_name)
    wrapped = wrap(user, spec, order, value_in, value_out)
    if images is None:
        data = load_cifar10(config.data, config.data_dir)
        picks = balanced_subset(data.test_labels, config.check_per_class, seed=0)
        images, labels, data_source_kind = data.test_images[picks], data.test_labels[picks], data.source_kind
    labels = np.asarray(labels)
    reference = _UserSession(config.onnx, value_in.name, value_out.name)
    try:
        outputs = reference.scores(images, spec, order)
    except (Fail, InvalidArgument) as exc:
        raise ModelImportError(f"onnxruntime cannot run the model on a batch of {len(images)} images: "
                               f"{str(exc).splitlines()[0][:300]}") from None
    problem = output_kind_problem(outputs, spec)
    if problem:
        raise ModelImportError(f"{config.name}: {problem}")
    accuracy = accuracy_of(outputs, labels)
    problem = spec_problem(config, spec, order, reference, images, labels, accuracy, value_in)
    if problem:
        raise ModelImportError(problem)
    tmp = artifacts.onnx.with_name("model.onnx.tmp")
    artifacts.model_dir.mkdir(parents=True, exist_ok=True)
    onnx.save(wrapped, str(tmp))
    served = OnnxModel(tmp).run(images)
    expected = np.log(np.maximum(outputs, PROBABILITY_FLOOR)) if spec.output == "probabilities" else outputs
    max_abs_diff = float(np.max(np.abs(served - expected)))
    if max_abs_diff > MAX_ABS_DIFF:
        tmp.unlink()
        raise RuntimeError(f"the wrapped model differs from the original by {max_abs_diff:.2e}: a bug of the import")
    tmp.replace(artifacts.onnx)
    ModelMeta(
        name=config.name, kind="classifier", class_names=list(CLASS_NAMES), output_name=OUTPUT_NAME,
        onnx_sha256=sha256_file(artifacts.onnx), opset=default_opset(user),
        git_commit=git_commit(), data_source_kind=data_source_kind,
        imported={"source_file": Path(config.onnx).name, "source_sha256": sha256_file(Path(config.onnx)),
                  "spec": asdict(spec), "class_order": [CLASS_NAMES[i] for i in np.argsort(order)],
                  "input": value_in.name, "output": value_out.name,
                  "check": {"images": len(labels), "accuracy": accuracy, "max_abs_diff": max_abs_diff}},
    ).save(artifacts.meta)
    if artifacts.gallery.exists():
        artifacts.gallery.unlink()
    return ImportReport(config.name, accuracy, len(labels), max_abs_diff, spec)


def spec_problem(config: ImportConfig, spec: InputSpec, order: list[int], reference: _UserSession,
                 images: np.ndarray, labels: np.ndarray, accuracy: float, value_in) -> str | None:
    """Why the declared spec is refused, or None. It is refused when the model scores below
    --min-accuracy under it, or when one of the usual variants of it scores VARIANT_MARGIN higher (a
    wrong normalisation often leaves a model well above chance, but far below itself)."""
    dims = _dims(value_in)
    tried = []
    for option, variant in variants(spec, dims_free=not any(isinstance(d, int) for d in dims[1:])):
        try:
            tried.append((accuracy_of(reference.scores(images, variant, order), labels), option))
        except (Fail, InvalidArgument):
            continue
    best = max(tried, default=(0.0, ""))
    if accuracy >= config.min_accuracy and best[0] < accuracy + VARIANT_MARGIN:
        return None
    message = (f"{config.name} scores {100 * accuracy:.1f}% on {len(labels)} clean test images under the declared "
               f"spec ({spec.describe()})")
    if best[0] >= max(config.min_accuracy, accuracy + VARIANT_MARGIN):
        return f"{message}, but {100 * best[0]:.1f}% with {best[1]}: pass that if it is the model's contract."
    message += f"; chance is 10%, the minimum {100 * config.min_accuracy:.0f}% (--min-accuracy)"
    hint = permutation_hint(reference.scores(images, spec, order).argmax(axis=1), labels)
    if hint:
        return f"{message}. Perhaps its classes are in another order: {hint}."
    return (f"{message}. None of the usual variants (channel order, normalisation, scale, layout) does better: check "
            "the class order (--class-names) and that it is a CIFAR-10 classifier.")
