"""The Open Inference Protocol (KServe v2) over REST: its tensors, in JSON and in the binary tensor
data extension, for both sides (the handler decodes requests and encodes answers; our clients do
the reverse). Written from the protocol's specification (kserve/open-inference-protocol,
"REST" and "Binary Tensor Data Extension"):

- A request or response is a JSON object whose "inputs" (or "outputs") are tensors
  {"name", "datatype", "shape", "data"} with the data in row-major order (flat or nested lists).
- With the binary extension the body is that JSON followed by raw tensor bytes; the header
  Inference-Header-Content-Length says where the JSON ends, and each binary tensor says its size
  in "parameters": {"binary_data_size": n}, in order. Fixed-size types are little-endian; each
  BYTES element is a 4-byte little-endian length and then its bytes.
- A client asks for binary outputs per output ({"parameters": {"binary_data": true}}) or for all
  ({"parameters": {"binary_data_output": true}} on the request).
- BYTES elements in JSON are strings; ours may be base64 when the tensor's parameters say
  {"content_type": "base64"} (encoded images are not text).
- Errors are {"error": "<message>"} with a 4xx or 5xx status.

Everything a request says about sizes is checked against the bytes it carries before any array is
built, so a body that lies about its sizes is a V2Error (400), never an exception elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

HEADER_LENGTH = "Inference-Header-Content-Length"
JSON_TYPE = "application/json"
BINARY_TYPE = "application/octet-stream"
DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(bool), "UINT8": np.dtype("u1"), "UINT16": np.dtype("<u2"), "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"), "INT8": np.dtype("i1"), "INT16": np.dtype("<i2"), "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"), "FP16": np.dtype("<f2"), "FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}
MAX_DIMS = 8
MAX_ELEMENTS = 1 << 28  # far above any request the body limit lets through; stops absurd shapes early


class V2Error(ValueError):
    """A request the protocol cannot accept: answered as {"error": message} with `status`."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Tensor:
    name: str
    datatype: str
    shape: tuple[int, ...]
    data: np.ndarray  # of `shape`; BYTES: an object array of bytes
    parameters: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, name: str, array: np.ndarray, datatype: str | None = None) -> Tensor:
        array = np.asarray(array)
        datatype = datatype or datatype_of(array)
        if datatype != "BYTES":
            array = np.ascontiguousarray(array, dtype=DTYPES[datatype])
        return cls(name, datatype, tuple(int(d) for d in array.shape), array)


def datatype_of(array: np.ndarray) -> str:
    if array.dtype == object or array.dtype.kind in "SU":
        return "BYTES"
    for name, dtype in DTYPES.items():
        if name != "BYTES" and array.dtype.newbyteorder("<") == dtype.newbyteorder("<"):
            return name
    raise ValueError(f"no Open Inference Protocol datatype for numpy {array.dtype}")


def error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


# ---- bytes elements -----------------------------------------------------------------------------

def _bytes_elements(blob: memoryview, count: int, name: str) -> np.ndarray:
    out, offset = np.empty(count, dtype=object), 0
    for i in range(count):
        if offset + 4 > len(blob):
            raise V2Error(f"input '{name}': its binary data ends inside the length of element {i} of {count}")
        (length,) = struct.unpack_from("<I", blob, offset)
        offset += 4
        if offset + length > len(blob):
            raise V2Error(f"input '{name}': element {i} says {length} bytes, but only {len(blob) - offset} follow")
        out[i] = bytes(blob[offset:offset + length])
        offset += length
    if offset != len(blob):
        raise V2Error(f"input '{name}': {len(blob) - offset} bytes after its {count} BYTES elements")
    return out


def _bytes_blob(array: np.ndarray) -> bytes:
    parts = []
    for element in array.reshape(-1):
        raw = element.encode() if isinstance(element, str) else bytes(element)
        parts.append(struct.pack("<I", len(raw)) + raw)
    return b"".join(parts)


def _json_bytes(values: list, name: str, base64_encoded: bool) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise V2Error(f"input '{name}': BYTES data in JSON are strings (element {i} is {type(value).__name__})")
        if base64_encoded:
            try:
                out[i] = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise V2Error(f"input '{name}': element {i} is not valid base64") from None
        else:
            out[i] = value.encode()
    return out


# ---- decoding -----------------------------------------------------------------------------------

def split_body(body: bytes, header_length: str | int | None) -> tuple[dict, memoryview]:
    """-> (the JSON object, the binary data after it)."""
    if header_length in (None, ""):
        json_part, binary = body, memoryview(b"")
    else:
        try:
            length = int(header_length)
        except (TypeError, ValueError):
            raise V2Error(f"{HEADER_LENGTH} is not an integer: {header_length!r}") from None
        if not 0 <= length <= len(body):
            raise V2Error(f"{HEADER_LENGTH} is {length}, but the body has {len(body)} bytes")
        json_part, binary = body[:length], memoryview(body)[length:]
    if not json_part:
        raise V2Error("the request has no JSON body")
    try:
        parsed = json.loads(json_part)
    except (ValueError, UnicodeDecodeError) as exc:
        raise V2Error(f"the JSON is not valid ({exc})") from None
    if not isinstance(parsed, dict):
        raise V2Error("the JSON body must be an object")
    return parsed, binary


def _shape(entry: dict, name: str) -> tuple[int, ...]:
    shape = entry.get("shape")
    if not isinstance(shape, list) or len(shape) > MAX_DIMS or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise V2Error(f"'{name}': shape must be a list of at most {MAX_DIMS} non-negative integers, got {shape!r}")
    if math.prod(shape) > MAX_ELEMENTS:
        raise V2Error(f"'{name}': shape {shape} has more than {MAX_ELEMENTS} elements")
    return tuple(shape)


def _from_json(data: Any, datatype: str, shape: tuple[int, ...], name: str, parameters: dict) -> np.ndarray:
    count = math.prod(shape)
    if datatype == "BYTES":
        flat = data if isinstance(data, list) and all(not isinstance(v, list) for v in data) else None
        if flat is None:
            flat = np.asarray(data, dtype=object).reshape(-1).tolist() if isinstance(data, list) else None
        if flat is None or len(flat) != count:
            raise V2Error(f"'{name}': {len(flat) if flat is not None else 'no'} data elements for shape {list(shape)}")
        return _json_bytes(flat, name, parameters.get("content_type") == "base64").reshape(shape)
    try:
        values = np.asarray(data)
    except ValueError:
        raise V2Error(f"'{name}': data is not a regular array of numbers") from None
    if values.size != count:
        raise V2Error(f"'{name}': {values.size} data elements for shape {list(shape)} ({count} expected)")
    dtype = DTYPES[datatype]
    if count == 0:
        return np.zeros(shape, dtype)
    kind = values.dtype.kind
    if datatype == "BOOL":
        if kind != "b":
            raise V2Error(f"'{name}': BOOL data must be true/false")
    elif dtype.kind in "iu":
        if kind not in "iu":
            raise V2Error(f"'{name}': {datatype} data must be integers")
        info = np.iinfo(dtype)
        if values.min() < info.min or values.max() > info.max:
            raise V2Error(f"'{name}': {datatype} values lie in [{info.min}, {info.max}]; got "
                          f"[{values.min()}, {values.max()}]")
    elif kind not in "iuf":
        raise V2Error(f"'{name}': {datatype} data must be numbers")
    return values.reshape(shape).astype(dtype)


def decode_tensors(entries: Any, binary: memoryview, what: str) -> list[Tensor]:
    """The tensors of a request's "inputs" (or a response's "outputs"), their binary data taken from
    `binary` in order. Raises V2Error for anything the protocol does not allow."""
    if not isinstance(entries, list) or not entries:
        raise V2Error(f"'{what}' must be a non-empty list of tensors")
    tensors, offset, names = [], 0, set()
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise V2Error(f"each of '{what}' must be an object with a 'name'")
        name, datatype = entry["name"], entry.get("datatype")
        if name in names:
            raise V2Error(f"'{name}' appears twice in '{what}'")
        names.add(name)
        if datatype not in DTYPES:
            raise V2Error(f"'{name}': unknown datatype {datatype!r} (one of {', '.join(DTYPES)})")
        shape = _shape(entry, name)
        parameters = entry.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise V2Error(f"'{name}': parameters must be an object")
        size = parameters.get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise V2Error(f"'{name}': binary_data_size must be a non-negative integer")
            if offset + size > len(binary):
                raise V2Error(f"'{name}': binary_data_size {size} runs past the end of the body "
                              f"({len(binary) - offset} bytes left)")
            chunk, offset = binary[offset:offset + size], offset + size
            if datatype == "BYTES":
                data = _bytes_elements(chunk, math.prod(shape), name).reshape(shape)
            else:
                expected = math.prod(shape) * DTYPES[datatype].itemsize
                if size != expected:
                    raise V2Error(f"'{name}': {datatype} {list(shape)} is {expected} bytes, binary_data_size says {size}")
                data = np.frombuffer(chunk, DTYPES[datatype]).reshape(shape)
        elif "data" in entry:
            data = _from_json(entry["data"], datatype, shape, name, parameters)
        else:
            raise V2Error(f"'{name}' has neither 'data' nor parameters.binary_data_size")
        tensors.append(Tensor(name, datatype, shape, data, parameters))
    if offset != len(binary):
        raise V2Error(f"{len(binary) - offset} bytes of binary data after the last tensor that declares any")
    return tensors


def decode_request(body: bytes, header_length: str | int | None) -> tuple[dict, list[Tensor]]:
    """An infer request -> (its JSON object, its input tensors)."""
    request, binary = split_body(body, header_length)
    return request, decode_tensors(request.get("inputs"), binary, "inputs")


def requested_outputs(request: dict, available: list[str]) -> list[tuple[str, bool]]:
    """[(output name, as binary)] that a request asks for: those it names, else every one."""
    default_binary = bool((request.get("parameters") or {}).get("binary_data_output", False))
    asked = request.get("outputs")
    if asked is None:
        return [(name, default_binary) for name in available]
    if not isinstance(asked, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in asked):
        raise V2Error("'outputs' must be a list of objects with a 'name'")
    chosen = []
    for output in asked:
        if output["name"] not in available:
            raise V2Error(f"unknown output '{output['name']}' (this model has {', '.join(available)})")
        binary = (output.get("parameters") or {}).get("binary_data", default_binary)
        chosen.append((output["name"], bool(binary)))
    return chosen


# ---- encoding -----------------------------------------------------------------------------------

def _json_data(tensor: Tensor) -> list:
    if tensor.datatype == "BYTES":
        return [e.decode("utf-8", errors="replace") if isinstance(e, bytes) else str(e) for e in tensor.data.reshape(-1)]
    return tensor.data.reshape(-1).tolist()


def encode(document: dict, key: str, tensors: list[tuple[Tensor, bool]]) -> tuple[bytes, dict[str, str]]:
    """`document` with `key` (inputs/outputs) set to the tensors, those flagged binary sent after the
    JSON -> (body, headers)."""
    entries, blobs = [], []
    for tensor, binary in tensors:
        entry: dict[str, Any] = {"name": tensor.name, "datatype": tensor.datatype, "shape": list(tensor.shape)}
        parameters = dict(tensor.parameters)
        if binary:
            blob = _bytes_blob(tensor.data) if tensor.datatype == "BYTES" else np.ascontiguousarray(
                tensor.data, DTYPES[tensor.datatype]).tobytes()
            parameters["binary_data_size"] = len(blob)
            blobs.append(blob)
        else:
            entry["data"] = _json_data(tensor)
        if parameters:
            entry["parameters"] = parameters
        entries.append(entry)
    header = json.dumps({**document, key: entries}, separators=(",", ":")).encode()
    if not blobs:
        return header, {"Content-Type": JSON_TYPE}
    return header + b"".join(blobs), {"Content-Type": BINARY_TYPE, HEADER_LENGTH: str(len(header))}


def encode_request(inputs: list[Tensor], outputs: list[str] | None = None, binary: bool = True,
                   binary_output: bool = True, request_id: str | None = None,
                   parameters: dict | None = None) -> tuple[bytes, dict[str, str]]:
    document: dict[str, Any] = {"id": request_id} if request_id else {}
    if outputs is not None:
        document["outputs"] = [{"name": n, "parameters": {"binary_data": binary_output}} for n in outputs]
    if parameters or (binary_output and outputs is None):
        document["parameters"] = {**(parameters or {}), **({"binary_data_output": True} if binary_output else {})}
    return encode(document, "inputs", [(t, binary) for t in inputs])


def decode_response(body: bytes, header_length: str | int | None) -> tuple[dict, dict[str, Tensor]]:
    """An infer response -> (its JSON object, {output name: tensor})."""
    response, binary = split_body(body, header_length)
    return response, {t.name: t for t in decode_tensors(response.get("outputs"), binary, "outputs")}
