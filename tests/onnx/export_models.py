#!/usr/bin/python3
"""export_models.py OUTDIR: exports the ONNX test models of tests/onnx with
torch and onnx (one process: importing torch is the slow part), plus the
calibration and test inputs and a manifest.json the checks read.

Models (small, seeded random weights; nothing binary lives in the repo):
  resnet_float      ResNet-style: input normalisation (x - mean) / std,
                    conv+BN+ReLU, max pool, residual blocks (one with a
                    strided 1x1 shortcut), global average pool, x.view(N, -1)
                    (Shape/Gather/Unsqueeze/Concat/Reshape), dropout, linear;
                    opset 13, batch norms kept as BatchNormalization nodes
  resnet_qdq_torch  the same net quantized by torch (eager mode, fused
                    conv-bn-relu, per-channel int8 weights, symmetric quint8
                    activations: zero point 128) and exported as QDQ
  resnet_qdq_ort    the float net with BN folded, quantized the way ONNX
                    Runtime's static quantizer writes QDQ models: int8
                    per-channel weights in [-127, 127] on initializers, int32
                    biases, uint8 (after ReLU) or int8 activations with zero
                    point 0, and QDQ pairs around Add as well
  convnext_float    ConvNeXt-style: patchify stem + channels-first LayerNorm
                    (decomposed), a block with a 7x7 depthwise conv, permute to
                    channels-last, LayerNorm, Linear, GELU (erf), Linear, layer
                    scale, permute back, residual; mean over H, W, LayerNorm,
                    linear head; opset 13 (LayerNorm decomposed)
  convnext_opset17  the same at opset 17 (native LayerNormalization)
  misc_float        dilated and grouped convs, average pooling, Flatten, a
                    MatMul weight, an affine by constants, softmax
  mobilenet_float   MobileNetV3-style: conv stem + BN + Hardswish, inverted
                    residual blocks with depthwise convs and squeeze-excitation
                    (global pool, 1x1 convs, Hardsigmoid, x * s broadcast over
                    H, W), ReLU6 (Clip), a decomposed hardswish
                    x * relu6(x + 3) / 6, a nearest x2 upsample (Resize) and a
                    ConvTranspose concatenated with a skip branch (Concat), a
                    bilinear resize, SiLU (x * Sigmoid(x)), linear head;
                    opset 13 (Hardswish exports as HardSigmoid and Mul)
  mobilenet_opset14 the same at opset 14 (native HardSwish)
  mobilenet_qdq_ort the float net with BN folded, quantized like resnet_qdq_ort
  unsupported       a conv followed by Tanh (no engine op)
"""
import json
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import helper, numpy_helper, TensorProto

torch.set_num_threads(2)
OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
SEED = int(os.environ.get("BP_TEST_SEED", "7"))
torch.manual_seed(SEED)
np.random.seed(SEED)
H = W = 32
N_CALIB = 16
N_TEST = 16


def randomize_bn(m):
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            c = mod.num_features
            mod.running_mean.copy_(torch.randn(c) * 0.2)
            mod.running_var.copy_(torch.rand(c) * 1.5 + 0.5)
            mod.weight.data.copy_(torch.rand(c) * 1.0 + 0.5)
            mod.bias.data.copy_(torch.randn(c) * 0.2)


class Block(nn.Module):
    def __init__(self, cin, cout, stride, quant):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.r1 = nn.ReLU()
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                       nn.BatchNorm2d(cout))
        self.add = nn.quantized.FloatFunctional() if quant else None
        self.r2 = nn.ReLU()

    def forward(self, x):
        y = self.r1(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        s = x if self.short is None else self.short(x)
        y = self.add.add(y, s) if self.add is not None else y + s
        return self.r2(y)


class ResNetish(nn.Module):
    def __init__(self, quant=False):
        super().__init__()
        self.quant = quant
        self.register_buffer("mean", torch.tensor([0.4, 0.5, 0.6]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.25, 0.2, 0.3]).view(1, 3, 1, 1))
        self.q = torch.ao.quantization.QuantStub()
        self.stem = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.l1 = Block(16, 16, 1, quant)
        self.l2 = Block(16, 32, 2, quant)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(0.1)
        self.fc = nn.Linear(32, 10)
        self.dq = torch.ao.quantization.DeQuantStub()

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = self.q(x)
        x = self.pool(self.relu(self.bn(self.stem(x))))
        x = self.l2(self.l1(x))
        x = self.gap(x)
        x = torch.flatten(x, 1) if self.quant else x.view(x.size(0), -1)
        return self.dq(self.fc(self.drop(x)))


class ChannelsFirstLN(nn.Module):
    def __init__(self, c, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(1 + 0.2 * torch.randn(c))
        self.bias = nn.Parameter(0.1 * torch.randn(c))
        self.eps = eps

    def forward(self, x):
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class ConvNeXtish(nn.Module):
    def __init__(self, c=32, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, c, 4, 4)
        self.stem_ln = ChannelsFirstLN(c)
        self.dw = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.ln = nn.LayerNorm(c, eps=1e-6)
        self.pw1 = nn.Linear(c, 4 * c)
        self.act = nn.GELU()
        self.pw2 = nn.Linear(4 * c, c)
        self.gamma = nn.Parameter(0.5 + 0.1 * torch.randn(c))
        self.head_ln = nn.LayerNorm(c, eps=1e-6)
        self.head = nn.Linear(c, classes)
        with torch.no_grad():
            for ln in (self.ln, self.head_ln):
                ln.weight.copy_(1 + 0.2 * torch.randn(c))
                ln.bias.copy_(0.1 * torch.randn(c))

    def forward(self, x):
        x = self.stem_ln(self.stem(x))
        y = self.dw(x).permute(0, 2, 3, 1)
        y = self.pw2(self.act(self.pw1(self.ln(y))))
        y = (self.gamma * y).permute(0, 3, 1, 2)
        x = x + y
        x = self.head_ln(x.mean([-2, -1]))
        return self.head(x)


class Misc(nn.Module):
    """Ops the other nets lack: dilated and grouped convs, average pooling,
    torch.flatten (Flatten), a MatMul with a weight parameter, an affine by
    constants after the matmul, softmax."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 12, 3, stride=2, padding=2, dilation=2)
        self.c2 = nn.Conv2d(12, 24, 3, padding=1, groups=3)
        self.pool = nn.AvgPool2d(2)
        self.w = nn.Parameter(torch.randn(24 * 4 * 4, 10) * 0.05)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        x = self.pool(torch.relu(self.c2(x)))
        x = self.pool(x)
        x = torch.flatten(x, 1) @ self.w
        return torch.softmax(x * 4.0 - 1.0, dim=1)


class SqueezeExcite(nn.Module):
    def __init__(self, c, r):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, r, 1)
        self.fc2 = nn.Conv2d(r, c, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x):
        s = self.gate(self.fc2(torch.relu(self.fc1(self.pool(x)))))
        return x * s


class InvertedResidual(nn.Module):
    def __init__(self, cin, cexp, cout, stride, act):
        super().__init__()
        self.expand = nn.Sequential(nn.Conv2d(cin, cexp, 1, bias=False), nn.BatchNorm2d(cexp),
                                    act())
        self.dw = nn.Sequential(nn.Conv2d(cexp, cexp, 3, stride, 1, groups=cexp, bias=False),
                                nn.BatchNorm2d(cexp), act())
        self.se = SqueezeExcite(cexp, max(8, cexp // 4))
        self.project = nn.Sequential(nn.Conv2d(cexp, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.project(self.se(self.dw(self.expand(x))))
        return x + y if self.residual else y


class MobileNetish(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16),
                                  nn.Hardswish())
        self.b1 = InvertedResidual(16, 32, 16, 1, nn.ReLU6)
        self.b2 = InvertedResidual(16, 48, 24, 2, nn.Hardswish)
        self.up = nn.ConvTranspose2d(24, 16, 3, stride=2, padding=1, output_padding=1)
        self.fuse = nn.Conv2d(16 + 24 + 16, 32, 1)
        self.head = nn.Linear(32, classes)

    def forward(self, x):
        f1 = self.b1(self.stem(x))                      # 16 x 16 x 16
        f2 = self.b2(f1)                                # 24 x 8 x 8
        u = F.interpolate(f2, scale_factor=2, mode="nearest")
        y = torch.cat([f1, u, self.up(f2)], 1)
        y = F.relu6(self.fuse(y))
        y = y * F.relu6(y + 3) / 6                      # hardswish, decomposed
        y = F.interpolate(y, scale_factor=0.5, mode="bilinear", align_corners=False)
        y = y * torch.sigmoid(y)                        # SiLU
        return self.head(y.mean([-2, -1]))


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.gate = nn.Tanh()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = self.gate(self.conv(x))
        return self.fc(x.mean([-2, -1]))


def export(model, name, opset, **kw):
    path = os.path.join(OUT, name + ".onnx")
    torch.onnx.export(model, torch.randn(1, 3, H, W), path, opset_version=opset,
                      input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, **kw)
    onnx.checker.check_model(onnx.load(path))
    return path


# images in [0, 1] (the normalisation of resnetish expects that range)
calib = np.random.rand(N_CALIB, 3, H, W).astype(np.float32)
test = np.random.rand(N_TEST, 3, H, W).astype(np.float32)
np.save(os.path.join(OUT, "calib.npy"), calib)
test.tofile(os.path.join(OUT, "test.f32"))
models = {}

# ---- float ResNet-style ----
net = ResNetish().eval()
randomize_bn(net)
export(net, "resnet_float", 13, training=torch.onnx.TrainingMode.PRESERVE)
models["resnet_float"] = {"kind": "float"}

# ---- torch QDQ ----
qnet = ResNetish(quant=True)
qnet.load_state_dict(net.state_dict())
qnet.eval()
fuse = [["stem", "bn", "relu"], ["l1.c1", "l1.b1", "l1.r1"], ["l1.c2", "l1.b2"],
        ["l2.c1", "l2.b1", "l2.r1"], ["l2.c2", "l2.b2"], ["l2.short.0", "l2.short.1"]]
qnet = torch.ao.quantization.fuse_modules(qnet, fuse)
qnet.qconfig = torch.ao.quantization.QConfig(
    activation=torch.ao.quantization.MinMaxObserver.with_args(
        dtype=torch.quint8, qscheme=torch.per_tensor_symmetric, reduce_range=False),
    weight=torch.ao.quantization.default_per_channel_weight_observer)
torch.ao.quantization.prepare(qnet, inplace=True)
with torch.no_grad():
    qnet(torch.from_numpy(calib))
torch.ao.quantization.convert(qnet, inplace=True)
export(qnet, "resnet_qdq_torch", 13)
models["resnet_qdq_torch"] = {"kind": "qdq"}

# ---- ORT-style QDQ, from a float net with BN folded by the exporter ----
def ort_qdq(net, name):
    """Writes NAME.onnx: net with QDQ pairs the way ONNX Runtime's static
    quantizer places them (see the module docstring)."""
    folded = export(net, name + "_folded_tmp", 13)
    fm = onnx.load(folded)
    os.remove(folded)
    # activation ranges at each Conv/Gemm input, in forward order = node order
    ranges = []
    hooks = []
    for mod in net.modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            hooks.append(mod.register_forward_hook(
                lambda m, i, o: ranges.append((float(i[0].min()), float(i[0].max())))))
    with torch.no_grad():
        net(torch.from_numpy(calib))
    for h in hooks:
        h.remove()
    g = fm.graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    new_nodes, new_inits = [], []
    layer = 0
    const_outs = {n.output[0] for n in g.node if n.op_type == "Constant"} | set(inits)

    def qdq_act(name, lo, hi, tag):
        """Q -> DQ on activation `name`: uint8 zero point 0 if lo >= 0, else int8."""
        if lo >= 0:
            scale, zp = max(hi, 1e-8) / 255.0, np.uint8(0)
        else:
            scale, zp = max(-lo, hi, 1e-8) / 127.0, np.int8(0)
        s = numpy_helper.from_array(np.array(scale, np.float32), tag + "_scale")
        z = numpy_helper.from_array(np.array(zp), tag + "_zp")
        new_inits.extend([s, z])
        new_nodes.append(helper.make_node("QuantizeLinear", [name, s.name, z.name], [tag + "_q"],
                                          name=tag + "_QuantizeLinear"))
        new_nodes.append(helper.make_node("DequantizeLinear", [tag + "_q", s.name, z.name],
                                          [tag + "_dq"], name=tag + "_DequantizeLinear"))
        return tag + "_dq", scale

    add_ranges = {}
    for node in g.node:
        if node.op_type in ("Conv", "Gemm"):
            lo, hi = ranges[layer]
            tag = "L%d" % layer
            layer += 1
            x, sx = qdq_act(node.input[0], lo, hi, tag + "_in")
            w = inits[node.input[1]]
            rows = w.shape[0]
            wr = w.reshape(rows, -1)
            sw = np.maximum(np.abs(wr).max(axis=1), 1e-12) / 127.0
            wq = np.clip(np.round(wr / sw[:, None]), -127, 127).astype(np.int8).reshape(w.shape)
            wt = numpy_helper.from_array(wq, tag + "_w_q")
            ws = numpy_helper.from_array(sw.astype(np.float32), tag + "_w_scale")
            wz = numpy_helper.from_array(np.zeros(rows, np.int8), tag + "_w_zp")
            new_inits.extend([wt, ws, wz])
            new_nodes.append(helper.make_node("DequantizeLinear", [wt.name, ws.name, wz.name],
                                              [tag + "_w"], name=tag + "_w_DequantizeLinear",
                                              axis=0))
            ins = [x, tag + "_w"]
            if len(node.input) > 2:
                b = inits[node.input[2]]
                bs = (np.float32(sx) * sw).astype(np.float32)
                bq = np.round(b / bs).astype(np.int32)
                bt = numpy_helper.from_array(bq, tag + "_b_q")
                bst = numpy_helper.from_array(bs, tag + "_b_scale")
                bz = numpy_helper.from_array(np.zeros(rows, np.int32), tag + "_b_zp")
                new_inits.extend([bt, bst, bz])
                new_nodes.append(helper.make_node("DequantizeLinear", [bt.name, bst.name, bz.name],
                                                  [tag + "_b"], name=tag + "_b_DequantizeLinear",
                                                  axis=0))
                ins.append(tag + "_b")
            nn_ = helper.make_node(node.op_type, ins, list(node.output), name=node.name)
            nn_.attribute.extend(node.attribute)
            new_nodes.append(nn_)
        elif node.op_type == "Add":
            # ORT quantizes both operands and the output of Add as well; those pairs
            # do not feed a layer directly (the engine keeps them in float)
            ins = []
            for k, i in enumerate(node.input):
                if i in const_outs:  # (x + 3 of a hardswish): constants stay float
                    ins.append(i)
                    continue
                d, _ = qdq_act(i, -4.0, 4.0, "%s_in%d" % (node.name.strip("/").replace("/", "_"), k))
                ins.append(d)
            new_nodes.append(helper.make_node("Add", ins, list(node.output), name=node.name))
        else:
            new_nodes.append(node)
    # ORT also quantizes a quantized op's output: Q/DQ on the graph output
    with torch.no_grad():
        yr = net(torch.from_numpy(calib))
    out_name = g.output[0].name
    for nd in new_nodes:
        for k, o in enumerate(nd.output):
            if o == out_name:
                nd.output[k] = out_name + "_f"
    yq, _ = qdq_act(out_name + "_f", float(yr.min()), float(yr.max()), "out")
    new_nodes.append(helper.make_node("Identity", [yq], [out_name], name="out_Identity"))
    keep = [t for t in g.initializer
            if not any(t.name == n.input[1] or (len(n.input) > 2 and t.name == n.input[2])
                       for n in g.node if n.op_type in ("Conv", "Gemm"))]
    qg = helper.make_graph(new_nodes, g.name, list(g.input), list(g.output), keep + new_inits)
    qm = helper.make_model(qg, opset_imports=[helper.make_opsetid("", 13)],
                           producer_name="bitprune-test-qdq")
    qm.ir_version = fm.ir_version
    onnx.checker.check_model(qm)
    onnx.save(qm, os.path.join(OUT, name + ".onnx"))


ort_qdq(net, "resnet_qdq_ort")
models["resnet_qdq_ort"] = {"kind": "qdq"}

# ---- ConvNeXt-style ----
cn = ConvNeXtish().eval()
export(cn, "convnext_float", 13)
models["convnext_float"] = {"kind": "float"}
try:
    export(cn, "convnext_opset17", 17)
    models["convnext_opset17"] = {"kind": "float"}
except Exception as e:  # an older torch without opset 17
    print("export_models: convnext_opset17 skipped: %s" % e, file=sys.stderr)

# ---- MobileNetV3-style ----
mnet = MobileNetish().eval()
randomize_bn(mnet)
export(mnet, "mobilenet_float", 13)
models["mobilenet_float"] = {"kind": "float"}
try:
    export(mnet, "mobilenet_opset14", 14)
    models["mobilenet_opset14"] = {"kind": "float"}
except Exception as e:  # an older torch without opset 14
    print("export_models: mobilenet_opset14 skipped: %s" % e, file=sys.stderr)
ort_qdq(mnet, "mobilenet_qdq_ort")
models["mobilenet_qdq_ort"] = {"kind": "qdq"}

# ---- misc ops ----
export(Misc().eval(), "misc_float", 13)
models["misc_float"] = {"kind": "float"}

# ---- unsupported op ----
export(Unsupported().eval(), "unsupported", 13)
um = onnx.load(os.path.join(OUT, "unsupported.onnx"))
sig = [n for n in um.graph.node if n.op_type == "Tanh"][0]
with open(os.path.join(OUT, "unsupported.expect"), "w") as f:
    f.write("%s\n%s\n" % (sig.name, sig.op_type))



def out_step(name):
    """Scale of the DequantizeLinear that produces the graph output (through an
    Identity), i.e. the QDQ graph's output quantization step."""
    m = onnx.load(os.path.join(OUT, name + ".onnx"))
    consts = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    prod = {}
    for nd in m.graph.node:
        if nd.op_type == "Constant":
            consts[nd.output[0]] = numpy_helper.to_array(nd.attribute[0].t)
        for o in nd.output:
            prod[o] = nd
    nd = prod[m.graph.output[0].name]
    while nd.op_type == "Identity":
        nd = prod[nd.input[0]]
    assert nd.op_type == "DequantizeLinear", nd.op_type
    return float(consts[nd.input[1]])


def layer_qdq_only(name):
    """The QDQ model with every activation Q/DQ pair removed except at Conv/Gemm
    inputs: the quantization the .bp model keeps. Saved as NAME.layerq.onnx."""
    m = onnx.load(os.path.join(OUT, name + ".onnx"))
    nodes = list(m.graph.node)
    prod = {o: nd for nd in nodes for o in nd.output}
    consts = {t.name for t in m.graph.initializer}
    consts |= {nd.output[0] for nd in nodes if nd.op_type == "Constant"}

    def float_source(v):
        """x if v = DQ(Cast*(Q(x))) on an activation, else None."""
        nd = prod.get(v)
        if nd is None or nd.op_type != "DequantizeLinear" or nd.input[0] in consts:
            return None
        q = prod.get(nd.input[0])
        while q is not None and q.op_type == "Cast":
            q = prod.get(q.input[0])
        return q.input[0] if q is not None and q.op_type == "QuantizeLinear" else None

    for nd in nodes:
        for k, v in enumerate(nd.input):
            x = float_source(v)
            if x is not None and not (k == 0 and nd.op_type in ("Conv", "Gemm")):
                nd.input[k] = x
    for o in m.graph.output:
        x = float_source(o.name)
        if x is not None:
            nodes.append(helper.make_node("Identity", [x], [o.name + "_l"]))
            o.name = o.name + "_l"
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    onnx.save(m, os.path.join(OUT, name + ".layerq.onnx"))


for name, m in models.items():
    if m["kind"] == "qdq":
        m["out_step"] = out_step(name)
        layer_qdq_only(name)
with open(os.path.join(OUT, "manifest.json"), "w") as f:
    json.dump({"input": [3, H, W], "n_test": N_TEST, "n_calib": N_CALIB, "seed": SEED,
               "models": models}, f, indent=1)
print("export_models: %d models in %s (seed %d)" % (len(models) + 1, OUT, SEED))
