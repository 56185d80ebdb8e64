"""Dynamic int8 quantisation of a text encoder's ONNX graph, its activations quantised per
token (:func:`rowwise_activations`), so a text's embedding does not depend on its batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def quantize_int8(fp32: Path, int8: Path, per_row: bool = True) -> None:
    """Dynamic int8 quantisation: weights with one scale per output channel, activations with
    one scale and zero point per row (token) by default (see :func:`rowwise_activations`).

    ``per_row=False`` keeps ONNX Runtime's one scale per activation tensor, computed over the
    whole batch: a text's embedding then depends on the other texts (and the padding) of its
    batch, alone vs batched down to cosine 0.955 on the probe texts with all-MiniLM-L6-v2 (for
    "ok"). With rows, the same text gives the same embedding in any batch, and comes closer to
    PyTorch's (BENCHMARKS.md, "int8 activations per token", issue 16).
    """
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    class _Quiet(logging.Filter):  # its advice to pre-process is for static quantisation
        def filter(self, record: logging.LogRecord) -> bool:
            return "pre-processing before quantization" not in record.getMessage()

    root, quiet = logging.getLogger(), _Quiet()
    root.addFilter(quiet)
    try:
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.removeFilter(quiet)
    if per_row:
        import onnx

        try:
            graph = onnx.load(str(int8))
            rowwise_activations(graph)
            onnx.save(graph, str(int8))
        except BaseException:
            int8.unlink(missing_ok=True)  # not a batch-dependent graph left under the name
            raise


def _only_user(users: dict[str, list[Any]], name: str, op: str) -> Any:
    found = users.get(name, [])
    if len(found) != 1 or found[0].op_type != op:
        raise ValueError(f"{name} should feed one {op} node; the int8 graph has another layout")
    return found[0]


def rowwise_activations(model: Any, symmetric: bool = False) -> int:
    """Rewrite, in place, each ``DynamicQuantizeLinear`` of an ONNX Runtime dynamic-quantised
    graph (``quantize_dynamic``) to quantise its input row by row over the last axis; returns
    how many were rewritten.

    ``DynamicQuantizeLinear`` takes one scale over the whole ``(N, L, F)`` tensor, so a token's
    int8 values depend on every other token of the batch, padding included. Here each token
    ``x`` gets its own ``s = (max(x, 0) - min(x, 0)) / 255`` and zero point ``z``, ``q = round(x
    / s) + z`` as uint8, and ``MatMulInteger(q, W)`` keeps the int8 weights; ONNX Runtime's
    CPU ``MatMulInteger`` takes only a scalar zero point for ``q``, so ``z`` is subtracted after
    it, exactly, in int32: ``y = s * w_scale * (q @ W - z * colsum(W))``. ``symmetric``: ``s =
    max|x| / 127`` and the fixed zero point 128, no correction (faster, coarser).

    Standard ONNX operators only. ONNX Runtime's fusion into ``MatMulIntegerToFloat`` assumes
    one activation scale and gave wrong results on a per-row scale, so the graph does not take
    its shape (``Mul(Cast(MatMulInteger), Mul(a_scale, b_scale))``).
    """
    from onnx import TensorProto, helper, numpy_helper

    g = model.graph
    inits = {t.name: t for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    users: dict[str, list[Any]] = {}
    for n in g.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    consts: dict[str, Any] = {}

    def const(name: str, value: np.ndarray) -> str:
        name = f"rowq/{name}"
        if name not in consts:
            consts[name] = numpy_helper.from_array(value, name)
        return name

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> Any:
        return helper.make_node(op, inputs, [output], name=output, **attrs)

    def reduce(op: str, x: str, out: str) -> Any:  # over the last axis, kept as size 1
        if opset >= 18:
            return node(op, [x, const("axes", np.array([-1], np.int64))], out, keepdims=1)
        return node(op, [x], out, axes=[-1], keepdims=1)

    one, tiny = const("one", np.array(1, np.float32)), const("tiny", np.array(1e-30, np.float32))
    zp = const("zp", np.array(128 if symmetric else 0, np.uint8))
    replace: dict[str, list[Any]] = {}  # a node's first output -> the nodes in its place
    retarget = []  # MatMulInteger nodes to give the new zero point: changed once all is checked
    count = 0
    for k, dq in enumerate(g.node):
        if dq.op_type != "DynamicQuantizeLinear":
            continue
        x, (q, s, z_in) = dq.input[0], dq.output
        p = f"rowq{k}/"
        mmis = users.get(q, [])
        if not mmis or any(m.op_type != "MatMulInteger" or list(m.input[:1]) != [q] for m in mmis):
            raise ValueError(f"{q} should feed MatMulInteger nodes only; cannot quantise per row")
        if symmetric:
            rows = [
                node("Abs", [x], p + "abs"),
                reduce("ReduceMax", p + "abs", p + "amax"),
                node("Div", [p + "amax", const("127", np.array(127, np.float32))], p + "s0"),
                node("Max", [p + "s0", tiny], s),
                node("Div", [x, s], p + "y"),
            ]
        else:
            zero = const("zero", np.array(0, np.float32))
            rows = [
                reduce("ReduceMin", x, p + "min0"),
                reduce("ReduceMax", x, p + "max0"),
                node("Min", [p + "min0", zero], p + "min"),  # 0 stays exact, as in ONNX's
                node("Max", [p + "max0", zero], p + "max"),  # DynamicQuantizeLinear
                node("Sub", [p + "max", p + "min"], p + "range"),
                node("Div", [p + "range", const("255", np.array(255, np.float32))], p + "s0"),
                node("Max", [p + "s0", tiny], s),
                node("Div", [p + "min", s], p + "zneg"),
                node("Neg", [p + "zneg"], p + "zraw"),
                node("Round", [p + "zraw"], p + "z"),
                node("Cast", [p + "z"], p + "zint", to=TensorProto.INT32),
                node("Div", [x, s], p + "xs"),
                node("Add", [p + "xs", p + "z"], p + "y"),
            ]
        rows.append(node("QuantizeLinear", [p + "y", one, zp], q))  # rounds, saturates to uint8
        replace[q] = rows
        for j, mm in enumerate(mmis):
            if len(mm.input) != 4 or mm.input[2] != z_in or mm.input[1] not in inits:
                raise ValueError(f"{mm.name} is not MatMulInteger(x, int8 weights, zero points)")
            cast = _only_user(users, mm.output[0], "Cast")
            mul = _only_user(users, cast.output[0], "Mul")
            other = mul.input[1] if mul.input[0] == cast.output[0] else mul.input[0]
            scales = producer.get(other)
            if scales is None or scales.op_type != "Mul" or s not in scales.input:
                raise ValueError(f"{mul.name} should scale by Mul({s}, weight scale)")
            w_scale = scales.input[1] if scales.input[0] == s else scales.input[0]
            if w_scale not in inits or len(users[other]) != 1:
                raise ValueError(f"{scales.name}: the weight scale should be a constant")
            retarget.append(mm)
            o = f"{p}{j}/"
            acc = cast.input[0]
            post = []
            if not symmetric:  # q @ W - z * colsum(W), exact in int32
                w = numpy_helper.to_array(inits[mm.input[1]]).astype(np.int64)
                wz = numpy_helper.to_array(inits[mm.input[3]]).astype(np.int64)
                if w.ndim != 2:
                    raise ValueError(f"{mm.name}: weights of {w.ndim} dimensions, expected 2")
                colsum = const(f"{k}/{j}/colsum", (w - wz).sum(0).astype(np.int32))
                post += [
                    node("Mul", [p + "zint", colsum], o + "zcol"),
                    node("Sub", [acc, o + "zcol"], o + "acc"),
                ]
                acc = o + "acc"
            post += [
                node("Cast", [acc], o + "accf", to=TensorProto.FLOAT),
                node("Mul", [o + "accf", w_scale], o + "w"),
                node("Mul", [o + "w", s], mul.output[0]),
            ]
            replace[cast.output[0]], replace[other] = [], []
            replace[mul.output[0]] = post
        if any(u.op_type != "MatMulInteger" for u in users.get(z_in, [])) or any(
            u.output[0] not in replace for u in users.get(s, [])
        ):
            raise ValueError(f"{dq.name}'s scale or zero point has other users")
        count += 1
    for mm in retarget:
        mm.input[2] = zp
    nodes = [m for n in g.node for m in replace.get(n.output[0] if n.output else "", [n])]
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(consts.values())
    return count
