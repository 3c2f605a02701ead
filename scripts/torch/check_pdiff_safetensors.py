#!/usr/bin/python3
"""Check that a safetensors file written by pdiff is readable outside pdiff.

    /usr/bin/python3 scripts/torch/check_pdiff_safetensors.py runs/.../base.safetensors [...]

Loads each file with safetensors.torch.load_file when the package is installed, and always
with the minimal reader below (which also checks the layout: header length, contiguous
non-overlapping data_offsets, sizes matching dtype x shape, no trailing bytes), then prints
every tensor's name, dtype, shape and mean/std. Exits 1 on a malformed file.
"""

import json
import struct
import sys

import numpy as np

NP_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
             "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?", "BF16": "<u2"}


def read_safetensors(path):
    """Minimal reader: returns (metadata, {name: (dtype, np.ndarray as float64 or int)})."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise ValueError(f"{path}: {len(buf)} bytes, expected at least the 8-byte header length")
    (n,) = struct.unpack("<Q", buf[:8])
    if 8 + n > len(buf):
        raise ValueError(f"{path}: header length {n} runs past the end of the file ({len(buf)} bytes)")
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    data = buf[8 + n:]
    meta = header.pop("__metadata__", None)
    spans = []
    out = {}
    for name, info in header.items():
        dt, shape, (b, e) = info["dtype"], info["shape"], info["data_offsets"]
        if dt not in NP_DTYPES:
            raise ValueError(f"{path}: tensor {name!r} has unsupported dtype {dt}")
        np_dt = np.dtype(NP_DTYPES[dt])
        want = int(np.prod(shape, dtype=np.int64)) * np_dt.itemsize
        if e - b != want:
            raise ValueError(f"{path}: tensor {name!r} spans {e - b} bytes, dtype x shape needs {want}")
        spans.append((b, e, name))
        a = np.frombuffer(data[b:e], dtype=np_dt).reshape(shape)
        if dt == "BF16":
            a = (a.astype(np.uint32) << 16).view(np.float32)
        out[name] = (dt, a)
    pos = 0
    for b, e, name in sorted(spans):
        if b != pos:
            raise ValueError(f"{path}: tensor {name!r} starts at {b}, expected {pos} (gap or overlap)")
        pos = e
    if pos != len(data):
        raise ValueError(f"{path}: data is {len(data)} bytes, tensors cover {pos}")
    return meta, out


def main(paths):
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        from safetensors.torch import load_file  # type: ignore
    except ImportError:
        load_file = None
    ok = True
    for path in paths:
        print(f"== {path}")
        if load_file is not None:
            try:
                ref = load_file(path)
                print(f"safetensors.torch.load_file: {len(ref)} tensors OK")
            except Exception as exc:  # noqa: BLE001 - report and continue with the next file
                print(f"safetensors.torch.load_file FAILED: {exc}")
                ok = False
        else:
            print("(python safetensors package not installed; using the minimal reader only)")
        try:
            meta, tensors = read_safetensors(path)
        except (ValueError, KeyError, json.JSONDecodeError) as exc:
            print(f"minimal reader FAILED: {exc}")
            ok = False
            continue
        if meta is not None:
            print(f"__metadata__: {json.dumps(meta)}")
        total = 0
        for name, (dt, a) in tensors.items():
            total += a.size
            af = a.astype(np.float64)
            std = float(af.std(ddof=1)) if a.size > 1 else 0.0
            print(f"{name:32s} {dt:5s} {str(list(a.shape)):18s} mean {af.mean():+.5g} std {std:.5g}")
        print(f"{len(tensors)} tensors, {total} values")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
