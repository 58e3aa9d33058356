"""Importing classifiers exported elsewhere: good ones under several contracts, wrong specs refused
with the likely mistake named, bad files and shapes refused with a clear error."""

import subprocess
from dataclasses import replace

import numpy as np
import onnxruntime as ort
import pytest
from fakeforeign import (
    CIFAR_MEAN,
    CIFAR_STD,
    Contract,
    colour_images,
    foreign_classifier,
    import_options,
    write_colour_folder,
)

from export.__main__ import main
from export.importer import ImportConfig, ModelImportError, import_model
from robustcifar.artifacts import ModelArtifacts, ModelMeta, imported_models
from robustcifar.classes import CLASS_NAMES
from robustcifar.model_specs import resolve_model_names
from robustcifar.onnx_model import OnnxModel
from robustcifar.paths import project_root
from robustcifar.predictions import softmax

REVERSED = tuple(reversed(CLASS_NAMES))


def config_for(contract: Contract, onnx_path, artifacts, **overrides) -> ImportConfig:
    values = {"onnx": onnx_path, "name": "mine", "layout": contract.layout, "dtype": contract.dtype,
                  "scale": repr(contract.scale) if contract.dtype == "float32" else "",
                  "mean": ",".join(map(str, contract.mean)) if contract.dtype == "float32" else "0,0,0",
                  "std": ",".join(map(str, contract.std)) if contract.dtype == "float32" else "1,1,1",
                  "channels": contract.channels, "output": contract.output, "class_names": ",".join(contract.class_order),
                  "artifacts": artifacts}
    values.update(overrides)
    return ImportConfig(**values)


@pytest.fixture(scope="module")
def check_images():
    return colour_images(10, seed=5)


def original_outputs(path, contract: Contract, pixels: np.ndarray) -> np.ndarray:
    """The user's file under onnxruntime, fed as its contract says, outputs put into CIFAR-10's order."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = session.run(None, {session.get_inputs()[0].name: contract.preprocess(pixels)})[0]
    return out[:, [contract.class_order.index(c) for c in CLASS_NAMES]]


@pytest.mark.parametrize("contract", [
    Contract(),  # NCHW float32, normalised outside the network: the usual PyTorch export
    Contract(layout="NHWC", dtype="uint8", channels="BGR", output="probabilities", class_order=REVERSED),
    Contract(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), output="probabilities", batch="batch_size"),
], ids=["nchw-float-normalised", "nhwc-uint8-bgr-probabilities-reversed", "half-normalised-probabilities"])
def test_a_good_model_is_imported_and_answers_as_the_original(contract, tmp_path, check_images):
    images, labels = check_images
    source = foreign_classifier(tmp_path / "theirs.onnx", contract)
    report = import_model(config_for(contract, source, tmp_path / "artifacts"), images, labels)
    assert report.accuracy > 0.9
    files = ModelArtifacts.for_model("mine", tmp_path / "artifacts")
    logits = OnnxModel(files.onnx).run(images)  # our contract: uint8 NHWC RGB in, logits in CIFAR-10's order out
    expected = original_outputs(source, contract, images)
    probabilities = expected if contract.output == "probabilities" else softmax(expected.astype(np.float64))
    assert softmax(logits.astype(np.float64)) == pytest.approx(probabilities, abs=1e-5)
    assert np.mean(logits.argmax(1) == labels) > 0.9
    meta = ModelMeta.load(files.meta)
    assert meta.kind == "classifier" and meta.output_name == "logits" and meta.input_name == "pixels"
    assert meta.imported["source_file"] == "theirs.onnx" and meta.imported["check"]["images"] == 100
    assert meta.imported["class_order"] == list(contract.class_order)
    assert imported_models(tmp_path / "artifacts") == ["mine"]
    assert resolve_model_names("ce_clean,mine", imported_models(tmp_path / "artifacts")) == ["ce_clean", "mine"]


@pytest.mark.parametrize(("mistake", "named"), [
    ({"channels": "RGB"}, "--channels BGR"),
    ({"mean": "0,0,0", "std": "1,1,1"}, "CIFAR-10 statistics"),
    ({"scale": "1"}, "--scale 1/255"),
])
def test_a_wrong_spec_is_refused_naming_the_likely_mistake(mistake, named, tmp_path, check_images):
    contract = Contract(channels="BGR")
    source = foreign_classifier(tmp_path / "theirs.onnx", contract)
    with pytest.raises(ModelImportError, match="under the declared spec") as refused:
        import_model(config_for(contract, source, tmp_path / "artifacts", **mistake), *check_images)
    assert named in str(refused.value)
    assert not ModelArtifacts.for_model("mine", tmp_path / "artifacts").meta.exists()


def test_classes_in_another_order_are_recognised(tmp_path, check_images):
    contract = Contract(class_order=REVERSED)
    source = foreign_classifier(tmp_path / "theirs.onnx", contract)
    with pytest.raises(ModelImportError, match="--class-names " + ",".join(REVERSED)):
        import_model(config_for(contract, source, tmp_path / "artifacts", class_names=""), *check_images)


def test_probabilities_declared_as_logits_and_the_reverse_are_refused(tmp_path, check_images):
    soft = foreign_classifier(tmp_path / "soft.onnx", Contract(output="probabilities"))
    with pytest.raises(ModelImportError, match="pass --output probabilities"):
        import_model(config_for(Contract(), soft, tmp_path / "a"), *check_images)
    hard = foreign_classifier(tmp_path / "hard.onnx", Contract())
    with pytest.raises(ModelImportError, match="pass --output logits"):
        import_model(config_for(Contract(output="probabilities"), hard, tmp_path / "a"), *check_images)


@pytest.mark.parametrize(("contract", "overrides", "message"), [
    (Contract(layout="NHWC"), {"layout": "NCHW"}, "it looks NHWC, pass --layout NHWC"),
    (Contract(), {"dtype": "uint8", "scale": "", "mean": "0,0,0", "std": "1,1,1"}, "is float32 but --dtype uint8"),
    (Contract(batch=1), {}, "fixed batch size of 1"),
    (Contract(outputs=5), {}, r"answers \(batch, 10\)"),
    (Contract(), {"layout": "NCWH"}, "--layout must be one of NCHW, NHWC"),
    (Contract(), {"mean": "0.5,0.5"}, "one value per channel"),
    (Contract(), {"scale": "1/0"}, "is not a number"),
    (Contract(), {"class_names": "cat,dog"}, "must name the 10 CIFAR-10 classes"),
    (Contract(), {"name": "ce_clean"}, "one of the models this project trains"),
    (Contract(), {"name": "Bad Name!"}, "use lowercase letters"),
    (Contract(dtype="uint8"), {"scale": "1/255"}, "float32 inputs only"),
])
def test_bad_specs_and_shapes_get_a_clear_error(contract, overrides, message, tmp_path, check_images):
    source = foreign_classifier(tmp_path / "theirs.onnx", contract)
    with pytest.raises(ModelImportError, match=message):
        import_model(config_for(contract, source, tmp_path / "artifacts", **overrides), *check_images)


def test_reimport_needs_force(tmp_path, check_images):
    source = foreign_classifier(tmp_path / "theirs.onnx", Contract())
    config = config_for(Contract(), source, tmp_path / "artifacts")
    import_model(config, *check_images)
    with pytest.raises(ModelImportError, match="--force"):
        import_model(config, *check_images)
    import_model(replace(config, force=True), *check_images)


def test_the_command_line_imports_and_refuses(tmp_path, capsys):
    data = write_colour_folder(tmp_path / "colours")
    source = foreign_classifier(tmp_path / "theirs.onnx", Contract())
    common = ["import", "--onnx", str(source), "--name", "mine", "--artifacts", str(tmp_path / "artifacts"),
              "--data", str(data), "--data-dir", str(tmp_path / "cache"), "--check-per-class", "10"]
    assert main([*common, *import_options(Contract())]) == 0
    assert "100.0% on 100 clean test images" in capsys.readouterr().out
    # a file that is not ONNX, and a missing one: one line on stderr, exit code 2
    (tmp_path / "junk.onnx").write_bytes(b"\x00not a model")
    assert main(["import", "--onnx", str(tmp_path / "junk.onnx"), "--name", "junk"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "is not an ONNX file" in err and len(err.strip().splitlines()) == 1
    assert main(["import", "--onnx", str(tmp_path / "missing.onnx"), "--name", "junk"]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as unknown:
        main(["import", "--onnx", str(source), "--name", "x", "--colour", "red"])
    assert unknown.value.code == 2


def test_cifar_statistics_are_the_models(tmp_path):
    from robustcifar.model import CIFAR10_MEAN, CIFAR10_STD

    assert (CIFAR_MEAN, CIFAR_STD) == (CIFAR10_MEAN, CIFAR10_STD)


@pytest.mark.parametrize(("goal", "given", "usage"), [
    ("import", [], "usage: make import ONNX=file.onnx NAME=my_model"),
    ("import", ["ONNX=model.onnx"], "usage: make import ONNX=file.onnx NAME=my_model"),
    ("import", ["NAME=my_model"], "usage: make import ONNX=file.onnx NAME=my_model"),
    ("train", [], "usage: make train MODEL=")])
def test_make_without_its_arguments_prints_the_usage_before_any_install(goal, given, usage):
    # --dry-run: had make got as far as the prerequisites, it would print their commands (the installs)
    done = subprocess.run(["make", "--no-print-directory", "--dry-run", "-C", str(project_root()), goal, *given],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert usage in done.stderr and done.stdout == ""
