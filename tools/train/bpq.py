"""bpq.py: quantization-aware training pieces for Bit-Pruning and
Weight-Pruning: sign-magnitude weight quantizer (straight-through estimator),
LSQ activation quantizer, the proximal weight of eq. 8 (p = 1/2) and the
Hoyer-square regularizers, the two small networks, and the deployed
(BN-folded, integer) form of a trained network, which is both run here with
the engine's arithmetic and written as a QDQ ONNX graph."""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------- quantizers


class RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, g):
        return g


def weight_step(w, qmax):
    """Per-output-channel step: max |w| of the row / qmax (no gradient)."""
    m = w.detach().abs().flatten(1).amax(1).clamp_min(1e-8)
    return (m / qmax).view(-1, *([1] * (w.dim() - 1)))


def quant_weight(w, qmax):
    """Sign-magnitude integer weight in [-qmax, qmax] times its step, STE."""
    s = weight_step(w, qmax)
    return torch.clamp(RoundSTE.apply(w / s), -qmax, qmax) * s


class LSQ(nn.Module):
    """Learned step size quantization (Esser et al.) of an activation to
    [0, 255] (u8, non-negative input) or [-128, 127] (s8). The step is
    initialised from the first batch as 2 mean|x| / sqrt(qp)."""

    def __init__(self, signed, fixed_step=None):
        super().__init__()
        self.signed = signed
        self.qn, self.qp = (-128, 127) if signed else (0, 255)
        self.step = nn.Parameter(torch.tensor(1.0 if fixed_step is None else fixed_step))
        self.fixed = fixed_step is not None
        self.register_buffer("init", torch.tensor(fixed_step is not None))
        if self.fixed:
            self.step.requires_grad_(False)

    def forward(self, x):
        if not bool(self.init):
            with torch.no_grad():
                self.step.copy_(2 * x.abs().mean() / math.sqrt(self.qp) + 1e-8)
                self.init.fill_(True)
        s = self.step
        if not self.fixed:
            g = 1.0 / math.sqrt(x.numel() / x.shape[0] * self.qp)
            s = s * g + (s - s * g).detach()  # gradient scaled by g
        return RoundSTE.apply(torch.clamp(x / s, self.qn, self.qp)) * s


# ------------------------------------------------------- proximal weight, reg

def popcount_table(qmax):
    return np.array([bin(v).count("1") for v in range(qmax + 1)], np.int64)


def prox_table(qmax, lam):
    """prox[a + qmax] = argmin over integers v in [-qmax, qmax] of
    |sgn(a)|a|^1/2 - sgn(v)|v|^1/2| + lam * popcount(|v|) (eq. 8, p = 1/2),
    for every integer a in [-qmax, qmax]; ties go to the smaller |v|."""
    v = np.arange(-qmax, qmax + 1)
    r = np.sign(v) * np.sqrt(np.abs(v))
    cost = np.abs(r[:, None] - r[None, :]) + lam * popcount_table(qmax)[np.abs(v)][None, :]
    order = np.argsort(np.abs(v), kind="stable")
    best = order[np.argmin(cost[:, order], axis=1)]
    return torch.tensor(v[best], dtype=torch.float32)


def hoyer_square(d):
    """(sum |d|)^2 / sum d^2: a differentiable, scale-invariant l0 surrogate."""
    a = d.abs()
    return a.sum() ** 2 / (a.pow(2).sum() + 1e-12)


class Regularizer:
    """method 'wp': Hoyer-square of each conv's weights (relaxed eq. 3);
    'bp': Hoyer-square of (W - W_hat) in the integer domain with W_hat the
    proximal weight of the current integer weight (relaxed eq. 7); 'none'."""

    def __init__(self, method, qmax, lam=1.0):
        self.method, self.qmax = method, qmax
        self.prox = prox_table(qmax, lam) if method == "bp" else None

    def __call__(self, convs):
        if self.method == "none":
            return torch.zeros(())
        tot = 0.0
        for m in convs:
            w = m.weight
            if self.method == "wp":
                tot = tot + hoyer_square(w)
                continue
            s = weight_step(w, self.qmax)
            wi = w / s
            idx = torch.clamp(torch.round(wi.detach()), -self.qmax, self.qmax).long() + self.qmax
            tot = tot + hoyer_square(wi - self.prox[idx])
        return tot


# ------------------------------------------------------------------ networks

class QConv(nn.Conv2d):
    """Conv with a quantized input (LSQ) and quantized weights."""

    def __init__(self, cin, cout, k, stride=1, pad=0, groups=1, bias=False, signed=False,
                 qmax=255, fixed_step=None):
        super().__init__(cin, cout, k, stride, pad, groups=groups, bias=bias)
        self.qmax = qmax
        self.aq = LSQ(signed, fixed_step)

    def forward(self, x):
        return F.conv2d(self.aq(x), quant_weight(self.weight, self.qmax), self.bias,
                        self.stride, self.padding, 1, self.groups)


class QLinear(nn.Linear):
    def __init__(self, cin, cout, signed=False, qmax=255):
        super().__init__(cin, cout)
        self.qmax = qmax
        self.aq = LSQ(signed)

    def forward(self, x):
        return F.linear(self.aq(x), quant_weight(self.weight, self.qmax), self.bias)


class Block(nn.Module):
    def __init__(self, cin, cout, stride, qmax):
        super().__init__()
        self.c1 = QConv(cin, cout, 3, stride, 1, qmax=qmax)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = QConv(cout, cout, 3, 1, 1, qmax=qmax)
        self.b2 = nn.BatchNorm2d(cout)
        self.sc = None
        if stride != 1 or cin != cout:
            self.sc = QConv(cin, cout, 1, stride, 0, qmax=qmax)
            self.sb = nn.BatchNorm2d(cout)

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        s = x if self.sc is None else self.sb(self.sc(x))
        return F.relu(y + s)


class ResNet8(nn.Module):
    """Narrow CIFAR-style ResNet-8 for 1x28x28 inputs: a 3x3 stem (stride 2),
    three basic blocks (widths w, 2w, 4w; the last two stride 2), global
    average pool, linear head."""

    def __init__(self, width=8, qmax=255, classes=10):
        super().__init__()
        w = width
        self.stem = QConv(1, w, 3, 2, 1, qmax=qmax, fixed_step=1.0 / 255.0)
        self.bn = nn.BatchNorm2d(w)
        self.blocks = nn.ModuleList([Block(w, w, 1, qmax), Block(w, 2 * w, 2, qmax),
                                     Block(2 * w, 4 * w, 2, qmax)])
        self.fc = QLinear(4 * w, classes, qmax=qmax)

    def forward(self, x):
        x = F.relu(self.bn(self.stem(x)))
        for b in self.blocks:
            x = b(x)
        return self.fc(x.mean((2, 3)))


class CNBlock(nn.Module):
    """ConvNeXt-style block (the paper's ReLU variant), all convs on NCHW:
    7x7 depthwise conv, BatchNorm, 1x1 conv to 4c, ReLU, 1x1 conv to c,
    residual add."""

    def __init__(self, c, qmax):
        super().__init__()
        self.dw = QConv(c, c, 7, 1, 3, groups=c, bias=True, signed=True, qmax=qmax)
        self.bn = nn.BatchNorm2d(c)
        self.pw1 = QConv(c, 4 * c, 1, bias=True, signed=True, qmax=qmax)
        self.pw2 = QConv(4 * c, c, 1, bias=True, qmax=qmax)

    def forward(self, x):
        return x + self.pw2(F.relu(self.pw1(self.bn(self.dw(x)))))


class ConvNeXtS(nn.Module):
    """Small ConvNeXt-style net for 1x28x28: 2x2 patchify stem (stride 2, c
    channels), one block, 2x2 stride-2 downsampling conv to 2c, one block,
    global average pool, linear head. BatchNorm stands in for LayerNorm (it
    folds into the conv before it, so the deployed graph is convs, ReLUs and
    adds only)."""

    def __init__(self, width=16, qmax=255, classes=10):
        super().__init__()
        c = width
        self.stem = QConv(1, c, 2, 2, 0, bias=True, qmax=qmax, fixed_step=1.0 / 255.0)
        self.b1 = CNBlock(c, qmax)
        self.down = QConv(c, 2 * c, 2, 2, 0, bias=True, signed=True, qmax=qmax)
        self.b2 = CNBlock(2 * c, qmax)
        self.fc = QLinear(2 * c, classes, signed=True, qmax=qmax)

    def forward(self, x):
        x = self.b1(self.stem(x))
        x = self.b2(self.down(x))
        return self.fc(x.mean((2, 3)))


ARCHS = {"resnet8": ResNet8, "convnext-s": ConvNeXtS}


def convs_of(model):
    return [m for m in model.modules() if isinstance(m, QConv)]


# ------------------------------------------------------------ deployed model
# A deployed model is a list of steps on named float32 tensors:
#   ("layer", x, y, L)  L: dict(kind conv|linear, w int64 array, w_scale f32
#                       [rows], bias f32 [rows], act_scale f32, u8 bool,
#                       stride, pad, groups)
#   ("relu", x, y), ("add", a, b, y), ("gap", x, y)
# It is what the engine runs: integer weights, per-row scales with the
# BatchNorm after the layer folded in, activations quantized at layer inputs.

def _fold(conv, bn):
    """Integer weights and per-row (scale, bias) of conv (+ bn) as deployed."""
    w = conv.weight.detach().double()
    s = weight_step(conv.weight, conv.qmax).double().flatten()
    wi = torch.clamp(torch.round(w / s.view(-1, *([1] * (w.dim() - 1)))), -conv.qmax,
                     conv.qmax)
    b = conv.bias.detach().double() if conv.bias is not None else torch.zeros(len(s),
                                                                              dtype=torch.double)
    if bn is not None:
        g = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
        b = (b - bn.running_mean.double()) * g + bn.bias.detach().double()
        s = s * g
    neg = s < 0  # a negative scale: flip the row's integers instead
    wi[neg] = -wi[neg]
    s = s.abs()
    aq = conv.aq
    return dict(kind="conv" if isinstance(conv, nn.Conv2d) else "linear",
                w=wi.numpy().astype(np.int64), w_scale=s.numpy().astype(np.float32),
                bias=b.numpy().astype(np.float32),
                act_scale=np.float32(aq.step.detach().item()), u8=not aq.signed,
                stride=conv.stride[0] if isinstance(conv, nn.Conv2d) else 1,
                pad=conv.padding[0] if isinstance(conv, nn.Conv2d) else 0,
                groups=conv.groups if isinstance(conv, nn.Conv2d) else 1)


def deploy(model):
    steps, n = [], [0]

    def t():
        n[0] += 1
        return "t%d" % n[0]

    def layer(x, m, bn=None):
        y = t()
        steps.append(("layer", x, y, _fold(m, bn)))
        return y

    def relu(x):
        y = t()
        steps.append(("relu", x, y))
        return y

    def add(a, b):
        y = t()
        steps.append(("add", a, b, y))
        return y

    x = "input"
    if isinstance(model, ResNet8):
        x = relu(layer(x, model.stem, model.bn))
        for b in model.blocks:
            y = relu(layer(x, b.c1, b.b1))
            y = layer(y, b.c2, b.b2)
            s = x if b.sc is None else layer(x, b.sc, b.sb)
            x = relu(add(y, s))
    else:
        x = layer(x, model.stem)
        for down, blk in ((None, model.b1), (model.down, model.b2)):
            if down is not None:
                x = layer(x, down)
            y = layer(x, blk.dw, blk.bn)  # the BN after the depthwise conv folds into it
            y = relu(layer(y, blk.pw1))
            y = layer(y, blk.pw2)
            x = add(x, y)
    y = t()
    steps.append(("gap", x, y))
    layer(y, model.fc)
    return steps


def _quant(x, scale, u8):
    """The engine's activation quantization: x * (1/scale) in float32, clamp,
    round half to even."""
    inv = torch.tensor(1.0, dtype=torch.float32) / torch.tensor(scale, dtype=torch.float32)
    v = x * inv
    v = torch.clamp(v, 0.0, 255.0) if u8 else torch.clamp(v, -128.0, 127.0)
    return torch.round(v)


def run_deployed(steps, x):
    """Runs a deployed model on float32 NCHW inputs with the engine's
    arithmetic: exact integer accumulators, then (float)acc * (w_scale *
    act_scale) + bias in float32."""
    env = {"input": torch.as_tensor(x, dtype=torch.float32)}
    for st in steps:
        op = st[0]
        if op == "layer":
            _, a, y, L = st
            xq = _quant(env[a], L["act_scale"], L["u8"]).double()
            w = torch.from_numpy(L["w"]).double()
            if L["kind"] == "conv":
                acc = F.conv2d(xq, w, None, L["stride"], L["pad"], 1, L["groups"])
                shape = (1, -1, 1, 1)
            else:
                acc = F.linear(xq, w)
                shape = (1, -1)
            osc = torch.from_numpy(L["w_scale"]) * torch.tensor(L["act_scale"])
            env[y] = acc.float() * osc.view(shape) + torch.from_numpy(L["bias"]).view(shape)
        elif op == "relu":
            env[st[2]] = torch.clamp_min(env[st[1]], 0.0)
        elif op == "add":
            env[st[3]] = env[st[1]] + env[st[2]]
        elif op == "gap":
            env[st[2]] = env[st[1]].mean((2, 3))
    return env[steps[-1][2]]


def to_onnx(steps, path, in_shape):
    """Writes the deployed model as a QDQ ONNX graph (opset 13): a
    QuantizeLinear -> DequantizeLinear pair in front of each layer (uint8 or
    int8, zero point 0), int32 integer weights behind a per-row
    DequantizeLinear (axis 0), float biases. The integers are those of the
    sign-magnitude grid, so |w| may exceed 127 (int32 holds them)."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto
    nodes, inits, qdone = [], [], {}
    k = 0
    for st in steps:
        op = st[0]
        if op == "layer":
            _, a, y, L = st
            key = (a, float(L["act_scale"]), L["u8"])
            if key not in qdone:
                tag = "q%d" % len(qdone)
                zp = np.uint8(0) if L["u8"] else np.int8(0)
                inits += [numpy_helper.from_array(np.array(L["act_scale"], np.float32), tag + "_s"),
                          numpy_helper.from_array(np.array(zp), tag + "_z")]
                nodes += [helper.make_node("QuantizeLinear", [a, tag + "_s", tag + "_z"],
                                           [tag + "_q"], name=tag + "_Q"),
                          helper.make_node("DequantizeLinear", [tag + "_q", tag + "_s", tag + "_z"],
                                           [tag + "_dq"], name=tag + "_DQ")]
                qdone[key] = tag + "_dq"
            tag = "L%d" % k
            k += 1
            w = L["w"]
            inits += [numpy_helper.from_array(w.astype(np.int32), tag + "_wi"),
                      numpy_helper.from_array(L["w_scale"], tag + "_ws"),
                      numpy_helper.from_array(np.zeros(w.shape[0], np.int32), tag + "_wz"),
                      numpy_helper.from_array(L["bias"], tag + "_b")]
            nodes.append(helper.make_node("DequantizeLinear", [tag + "_wi", tag + "_ws", tag + "_wz"],
                                          [tag + "_w"], name=tag + "_wDQ", axis=0))
            if L["kind"] == "conv":
                kh = w.shape[2]
                nodes.append(helper.make_node("Conv", [qdone[key], tag + "_w", tag + "_b"], [y],
                                              name=tag + "_Conv", kernel_shape=[kh, kh],
                                              strides=[L["stride"]] * 2, pads=[L["pad"]] * 4,
                                              group=L["groups"]))
            else:
                nodes.append(helper.make_node("Gemm", [qdone[key], tag + "_w", tag + "_b"], [y],
                                              name=tag + "_Gemm", transB=1))
        elif op == "relu":
            nodes.append(helper.make_node("Relu", [st[1]], [st[2]], name=st[2] + "_Relu"))
        elif op == "add":
            nodes.append(helper.make_node("Add", [st[1], st[2]], [st[3]], name=st[3] + "_Add"))
        elif op == "gap":
            g = st[2] + "_g"
            nodes.append(helper.make_node("GlobalAveragePool", [st[1]], [g], name=g))
            nodes.append(helper.make_node("Flatten", [g], [st[2]], name=st[2] + "_Flatten",
                                          axis=1))
    out = steps[-1][2]
    ncls = steps[-1][3]["w"].shape[0]
    graph = helper.make_graph(
        nodes, "bitprune_train",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1] + list(in_shape))],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, ncls])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="bitprune-train")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)
