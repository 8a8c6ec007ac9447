#!/usr/bin/env python3
"""Block diagrams of rtseg's networks, generated from their exported ONNX graphs.

rtseg names every ONNX node by the module path that emitted it
(`backbone/XceptionBlock_3/SeparableConvBnAct_1/conv_45`; `Lower::scope` in
src/models/lower.rs). This script exports each network with `rtseg export --random-init`,
groups its nodes by the first path segment (a segmentor's top-level block; `--expand NAME`
splits block NAME by its second segment), keeps the float tensors that cross from one group
to another, measures their shapes by running the graph once in ONNX Runtime at `--size`,
and writes one Mermaid flowchart per network (GitHub renders them). Edges read
`channels · stride`, the stride relative to the input width. Operations outside any block
(resizes, concatenations, the fusion arithmetic a segmentor writes inline) are drawn as
rounded nodes; the integer shape arithmetic of dynamic-size graphs is left out.

    python3 scripts/block_diagrams.py --rtseg target/release/rtseg --out docs/diagrams.md

Needs onnx and onnxruntime (the test environment's .venv has both).
"""
import argparse
import math
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

FLOATS = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16}

# Blocks whose insides are what a reader checks against the paper: split by their second
# path segment unless --expand is given.
DEFAULT_EXPAND = {
    "msnet-m": ["decoder"],
    "msnet-anas": ["decoder"],
    "msnet-darts-v2": ["decoder"],
    "mfaranet": ["mfam", "ram"],
    "mfaranet-pruned": ["mfam", "ram"],
    "bisenet-r18": ["context_path", "ffm"],
    "bisenet-x39": ["context_path", "ffm"],
    "bisenet-dw": ["context_path", "ffm"],
    "aaffnet": ["aaff_left", "aaff_right", "ffm"],
    "aaffnet2": ["aaff_left", "aaff_right", "ffm"],
    "fsffnet": ["fusion"],
}


HEADER = """# Block diagrams of the zoo

Generated, not drawn: `python3 scripts/block_diagrams.py --out docs/diagrams.md` exports each
registered network to ONNX (eval mode, CamVid's 11 classes) and draws its top-level blocks
(the module fields a segmentor's forward pass calls, named as in its source file) with the
tensors that flow between them, measured on a {size} image. An edge reads
`channels · stride` (stride relative to the input width), `channels · 1×1` for a pooled
tensor (channel weights, global context), or `grid · stride` for a GridSample grid; a dotted
`size` edge marks the block whose output size a resize takes. Blocks whose insides the papers
describe (MsNet's MFMA decoder, MFARANet's MFAM and RAM, BiSeNet's context path and FFM, the
AAFF blocks, FSFFNet's fusion) are drawn as a box of their child blocks, each named by type
and index as in the ONNX node names (`decoder/Masg_1/…`), which is also what a TensorRT
per-layer profile (`trtexec --dumpProfile`) or Netron shows. Rounded nodes are operations a
forward pass writes inline; `ConvBnAct` is rtseg's conv + BatchNorm + optional activation.
Left out: training-only parts (auxiliary and boundary heads, dropout), the integer shape
arithmetic of the dynamic-size graph, and resizes that leave the size unchanged at this input
size (Netron shows those). What each network follows and where it departs from its paper:
[zoo.md](zoo.md).

"""


def export(rtseg, model, path):
    subprocess.run(
        [rtseg, "export", "--model", model, "--random-init", "--out", str(path)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def group_of(node, expand):
    """(block, container): the block a node belongs to (None for an operation outside every
    block) and the expanded block drawn around it (None at the top level)."""
    parts = node.name.split("/")
    if len(parts) == 1:
        return None, None
    if parts[0] not in expand:
        return parts[0], None
    if len(parts) > 2:
        return "/".join(parts[:2]), parts[0]
    return None, parts[0]  # an operation the expanded block writes inline


def float_tensors(model):
    inferred = onnx.shape_inference.infer_shapes(model)
    infos = list(inferred.graph.value_info) + list(inferred.graph.input)
    infos += list(inferred.graph.output)
    return {v.name for v in infos if v.type.tensor_type.elem_type in FLOATS}


def block_label(name, nodes):
    """A block's field name with the type of its one child block (`head: ConvHead`), or its
    own name inside an expanded block (`Masg_1`, from `decoder/Masg_1`)."""
    if "/" in name:
        return name.rsplit("/", 1)[-1]
    children = {n.name.split("/")[1] for n in nodes}
    if len(children) == 1:
        kind = next(iter(children)).rsplit("_", 1)[0]
        if not kind.islower():
            return f"{name}: {kind}"
    return name


def op_label(node):
    if node.op_type == "Resize":
        attrs = {a.name: a.s.decode() for a in node.attribute if a.type == onnx.AttributeProto.STRING}
        if attrs.get("mode") != "linear":
            return "Resize nearest"
        corners = attrs.get("coordinate_transformation_mode") == "align_corners"
        return "Resize bilinear, align_corners" if corners else "Resize bilinear"
    return node.op_type


def diagram(path, size, expand):
    model = onnx.load(str(path))
    floats = float_tensors(model)
    graph = model.graph
    image = graph.input[0].name
    output = graph.output[0].name
    # key: node index -> the diagram node it is drawn in; container: diagram node -> its
    # expanded block (or None); ops: operation nodes; members: a block's ONNX nodes.
    key, ops, container, members = {}, {}, {}, {}
    for i, node in enumerate(graph.node):
        if not any(o in floats for o in node.output) or output in node.output:
            continue  # shape arithmetic, and the Identity naming the graph output
        group, box = group_of(node, expand)
        k = group if group is not None else f"op{i}"
        key[i], container[k] = k, box
        if group is None:
            ops[k] = node
        else:
            members.setdefault(k, []).append(node)
    producer = {o: key[i] for i, n in enumerate(graph.node) if i in key for o in n.output}
    producer[image] = "image"

    edges = []
    for i, node in enumerate(graph.node):
        for t in node.input if i in key else []:
            src = producer.get(t)
            if src is not None and src != key[i] and (src, key[i], t) not in edges:
                edges.append((src, key[i], t))
    final = next(n for n in graph.node if output in n.output)
    edges.append((producer[final.input[0]], "scores", final.input[0]))

    outputs = {k: n.output[0] for k, n in ops.items()}
    shapes = measure(model, [t for _, _, t in edges] + list(outputs.values()), image, size)
    edges = bypass_identity_resizes(edges, ops, outputs, shapes)
    edges, swish = fold_swish(edges, ops, producer)

    ids = {"image": "image", "scores": "scores"}
    lines = ["flowchart TD", f'  image[/"image 3 × {size[0]}×{size[1]}"/]']
    used = {k for e in edges for k in e[:2]}
    boxes = dict.fromkeys(container[k] for k in list(members) + list(ops) if k in used)
    for box in boxes:
        if box is not None:
            lines.append(f"  subgraph {box.replace('.', '_')} [{box}]")
        for k in [k for k in list(members) + list(ops) if k in used and container[k] == box]:
            ids[k] = f"n{len(ids)}"
            if k in members:
                lines.append(f'  {ids[k]}["{block_label(k, members[k])}"]')
            else:
                label = "Swish" if k in swish else op_label(ops[k])
                lines.append(f'  {ids[k]}("{label}")')
        if box is not None:
            lines.append("  end")
    lines.append('  scores[/"class scores"/]')
    grids = {n.input[1] for n in graph.node if n.op_type == "GridSample"}
    for src, dst, t in edges:
        lines.append(f'  {ids[src]} -->|"{edge_label(shapes[t], t in grids, size)}"| {ids[dst]}')
    for k in [k for k in ops if k in used and ops[k].op_type == "Resize"]:
        for src in size_sources(graph, ops[k], floats, producer):
            if src in ids and src != "image" and (src, k) not in {(e[0], e[1]) for e in edges}:
                lines.append(f"  {ids[src]} -.->|size| {ids[k]}")
    return "\n".join(lines)


def size_sources(graph, resize, floats, producer):
    """The blocks whose output's size a Resize takes (`resize_like`: Shape → Slice → Concat
    into its `sizes` input), in graph order, without repeats."""
    made_by = {o: n for n in graph.node for o in n.output}
    found, stack = [], list(resize.input[2:])
    while stack:
        node = made_by.get(stack.pop())
        if node is None:
            continue
        if node.op_type == "Shape":
            found.append(producer.get(node.input[0]))
        else:
            stack.extend(t for t in node.input if t not in floats)
    return [src for src in dict.fromkeys(found) if src is not None]


def edge_label(shape, grid, size):
    """`channels · stride` of an N×C×H×W tensor, `grid · stride` of a GridSample grid
    (N×H×W×2)."""
    if not grid and shape[2] == shape[3] == 1:
        return f"{shape[1]} · 1×1"  # pooled: channel weights, global context
    # Strides are powers of two; ceil-mode pooling of a width 32 does not divide (480 →
    # 15 → 8) would otherwise read 1/60.
    stride = 2 ** round(math.log2(size[1] / (shape[2] if grid else shape[3])))
    s = "1" if stride == 1 else f"1/{stride}"
    return f"{'grid' if grid else shape[1]} · {s}"


def fold_swish(edges, ops, producer):
    """Draws `x · σ(x)` (how swish is exported) as one Swish node: returns the edges without
    the Sigmoid's and the keys of the Mul nodes that are swishes."""
    uses = Counter(s for s, _, _ in edges)
    swish, folded = set(), set()
    for k, node in ops.items():
        if node.op_type != "Mul":
            continue
        a, b = node.input
        for t, other in ((a, b), (b, a)):
            sig = producer.get(t)
            if sig in ops and ops[sig].op_type == "Sigmoid" and ops[sig].input[0] == other:
                if uses[sig] == 1:  # a sigmoid used elsewhere too stays drawn
                    swish.add(k)
                    folded.add(sig)
    return [e for e in edges if not {e[0], e[1]} & folded], swish


def bypass_identity_resizes(edges, ops, outputs, shapes):
    """Drops the resizes a dynamic-size graph keeps that leave their input's size as it is
    (burn skips them at run time), joining their inputs to their consumers."""
    idle = set()
    for k, node in ops.items():
        ins = [t for s, d, t in edges if d == k]
        if node.op_type == "Resize" and len(ins) == 1 and shapes[ins[0]] == shapes[outputs[k]]:
            idle.add(k)
    into = {d: (s, t) for s, d, t in edges if d in idle}
    kept = []
    for s, d, t in edges:
        if d in idle:
            continue
        while s in idle:
            s, t = into[s]
        kept.append((s, d, t))
    return kept


def measure(model, tensors, image, size):
    """Shapes of `tensors` on one random `size` image, by running the graph."""
    wanted = list(dict.fromkeys(tensors))
    known = {o.name for o in model.graph.output}
    for t in wanted:
        if t not in known:
            model.graph.output.append(onnx.helper.make_empty_tensor_value_info(t))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((1, 3, *size), dtype=np.float32)
    values = session.run(wanted, {image: x})
    return {t: v.shape for t, v in zip(wanted, values)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rtseg", default="target/release/rtseg")
    parser.add_argument("--out", type=Path, help="markdown file (default: stdout)")
    parser.add_argument("--size", default="360x480", help="HxW the shapes are measured at")
    parser.add_argument("--expand", action="append", default=None, help="block to split")
    parser.add_argument("models", nargs="*", help="registered models (default: all)")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    models = args.models or registered(args.rtseg)
    sections = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            path = Path(tmp) / f"{model}.onnx"
            export(args.rtseg, model, path)
            expand = args.expand if args.expand is not None else DEFAULT_EXPAND.get(model, [])
            sections.append(f"## `{model}`\n\n```mermaid\n{diagram(path, size, expand)}\n```\n")
            print(f"{model}: done", file=sys.stderr)
    text = HEADER.format(size=args.size) + "\n".join(sections)
    if args.out:
        args.out.write_text(text)
    else:
        print(text)


def registered(rtseg):
    out = subprocess.run([rtseg, "models"], check=True, capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines()[1:] if line.strip()]


if __name__ == "__main__":
    main()
