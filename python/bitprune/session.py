"""bitprune.Session: a model planned for one backend, thread count and
batch, run on numpy arrays. Inputs that are C-contiguous float32 are passed
by pointer; outputs are numpy arrays the library writes into."""
import threading

import numpy as np

from ._handle import Handle
from ._library import ffi, lib
from ._records import to_record
from .errors import InvalidArgumentError, ShapeError, StateError, check
from .model import Model


class Session(Handle):
    """Session(model, backend="bitplane", threads=0, batch=1, isa=None,
    profiling=False). threads=0 uses all cores; isa caps the kernels
    ("scalar", "avx2", "avx512", "avx512vnni", "neon"). One run at a time per
    session (concurrent calls wait for each other)."""

    _free = "bp_session_free"

    def __init__(self, model, backend="bitplane", threads=0, batch=1, isa=None,
                 profiling=False):
        if not isinstance(model, Model):
            raise TypeError(f"Session needs a bitprune.Model, not {type(model).__name__}")
        opts = ffi.new("bp_session_opts *")
        check(lib.bp_session_opts_init_sized(opts, ffi.sizeof("bp_session_opts")))
        keep = []
        if backend is not None:
            keep.append(ffi.new("char[]", str(backend).encode()))
            opts.backend = keep[-1]
        if isa is not None:
            keep.append(ffi.new("char[]", str(isa).encode()))
            opts.isa = keep[-1]
        for name, v, lo, hi in (("threads", threads, -2**31, 2**31 - 1),
                                ("batch", batch, 0, 2**32 - 1)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not lo <= v <= hi:
                raise InvalidArgumentError(lib.BP_ERR_INVALID_ARG,
                                           f"Session: {name}={v!r} is not a valid integer")
        opts.threads = int(threads)
        opts.batch = int(batch)
        out = ffi.new("bp_session **")
        check(lib.bp_session_create(model.handle(), opts, out))
        self._h = out[0]
        self._model = model  # keeps the model's bytes alive for the library
        self._lock = threading.Lock()
        self.info = self._read_info()
        self.batch = self.info.batch
        mi = model.info
        self.input_shapes = tuple((self.batch,) + t.shape[1:] for t in mi.inputs)
        self.output_shapes = tuple((self.batch,) + t.shape[1:] for t in mi.outputs)
        self._names_in = [t.name for t in mi.inputs]
        self._names_out = [t.name for t in mi.outputs]
        self._n_layers = mi.n_layers
        vs = ffi.sizeof("bp_tensor_view")
        self._vin = ffi.new("bp_tensor_view[]", max(1, len(mi.inputs)))
        self._vout = ffi.new("bp_tensor_view[]", max(1, len(mi.outputs)))
        for arr, n in ((self._vin, len(mi.inputs)), (self._vout, len(mi.outputs))):
            for i in range(n):
                arr[i].size = vs
        if profiling:
            self.profiling = True

    # ---- state ----
    def _handle(self, what):
        if self._h is None:
            raise StateError(lib.BP_ERR_STATE, f"Session.{what}: the session is closed")
        return self._h

    def _read_info(self):
        p = ffi.new("bp_session_info *")
        check(lib.bp_session_info_get_sized(self._h, p, ffi.sizeof("bp_session_info")))
        return to_record(p, "bp_session_info", "SessionInfo")

    # ---- running ----
    def _set_view(self, view, a, what, i, name):
        if a.ndim > lib.BP_MAX_DIMS or any(d > 0xFFFFFFFF for d in a.shape):
            raise ShapeError(lib.BP_ERR_SHAPE, f"Session.run: {what}[{i}] ('{name}') has "
                             f"shape {a.shape}, the session expects "
                             f"{(self.input_shapes if what == 'inputs' else self.output_shapes)[i]}")
        view.data = ffi.cast("float *", ffi.from_buffer(a))
        view.ndim = a.ndim
        for d in range(lib.BP_MAX_DIMS):
            view.dims[d] = a.shape[d] if d < a.ndim else 0

    def run(self, *inputs, out=None):
        """Runs the model on one array per graph input (float32, the
        session's shape (batch, ...)); returns the output array, or a tuple
        of them for several outputs. out: arrays (C-contiguous float32,
        writable) to write the outputs into instead of new ones."""
        with self._lock:
            h = self._handle("run")
            if len(inputs) != len(self._names_in):
                raise InvalidArgumentError(
                    lib.BP_ERR_INVALID_ARG, f"Session.run: {len(inputs)} inputs given, the "
                    f"model has {len(self._names_in)} ({', '.join(self._names_in)})")
            held = []
            for i, x in enumerate(inputs):
                a = np.asarray(x)
                if a.dtype != np.float32:
                    raise InvalidArgumentError(
                        lib.BP_ERR_INVALID_ARG, f"Session.run: inputs[{i}] "
                        f"('{self._names_in[i]}') has dtype {a.dtype}, the session takes "
                        "float32 (convert with .astype(numpy.float32))")
                a = np.ascontiguousarray(a)  # no copy when already C-contiguous
                held.append(a)
                self._set_view(self._vin[i], a, "inputs", i, self._names_in[i])
            if out is None:
                outs = [np.empty(s, dtype=np.float32) for s in self.output_shapes]
            else:
                outs = list(out) if isinstance(out, (list, tuple)) else [out]
                if len(outs) != len(self._names_out):
                    raise InvalidArgumentError(
                        lib.BP_ERR_INVALID_ARG, f"Session.run: {len(outs)} output arrays "
                        f"given, the model has {len(self._names_out)} outputs")
                for i, o in enumerate(outs):
                    if (not isinstance(o, np.ndarray) or o.dtype != np.float32 or
                            not o.flags.c_contiguous or not o.flags.writeable):
                        raise InvalidArgumentError(
                            lib.BP_ERR_INVALID_ARG, f"Session.run: out[{i}] must be a "
                            "writable C-contiguous float32 numpy array")
                    if any(np.may_share_memory(o, a) for a in held):
                        raise InvalidArgumentError(
                            lib.BP_ERR_INVALID_ARG, f"Session.run: out[{i}] overlaps an input")
            for i, o in enumerate(outs):
                self._set_view(self._vout[i], o, "outputs", i, self._names_out[i])
            check(lib.bp_session_run_views(h, self._vin, len(held), self._vout, len(outs)))
            return outs[0] if len(outs) == 1 else tuple(outs)

    __call__ = run

    # ---- profiling and counts ----
    @property
    def profiling(self):
        return bool(getattr(self, "_profiling", False))

    @profiling.setter
    def profiling(self, on):
        with self._lock:
            check(lib.bp_session_set_profiling(self._handle("profiling"), 1 if on else 0))
            self._profiling = bool(on)

    def profile(self):
        """Per graph step (after fusion): name, op, kernel, ms (summed over
        the runs since the last reset) and runs. Times are collected while
        profiling is on (Session(..., profiling=True) or .profiling = True)."""
        with self._lock:
            pp = ffi.new("const bp_layer_profile **")
            pn = ffi.new("uint32_t *")
            check(lib.bp_session_profile_sized(self._handle("profile"), pp, pn,
                                               ffi.sizeof("bp_layer_profile")))
            return [to_record(pp[0][i], "bp_layer_profile", "LayerProfile")
                    for i in range(pn[0])]

    def reset_profile(self):
        with self._lock:
            check(lib.bp_session_profile_reset(self._handle("reset_profile")))

    def count_ops(self, *inputs):
        """The paper's operation counts per conv/linear layer for these
        inputs (reference arithmetic, whatever the backend)."""
        with self._lock:
            h = self._handle("count_ops")
            if len(inputs) != len(self._names_in):
                raise InvalidArgumentError(lib.BP_ERR_INVALID_ARG,
                                           f"Session.count_ops: {len(inputs)} inputs given, "
                                           f"the model has {len(self._names_in)}")
            held = []
            for i, x in enumerate(inputs):
                a = np.ascontiguousarray(x)
                if a.dtype != np.float32 or a.shape != self.input_shapes[i]:
                    raise ShapeError(lib.BP_ERR_SHAPE, f"Session.count_ops: inputs[{i}] must "
                                     f"be float32 of shape {self.input_shapes[i]}, not "
                                     f"{a.dtype} {a.shape}")
                held.append(a)
            ptrs = ffi.new("float *[]", [ffi.cast("float *", ffi.from_buffer(a)) for a in held])
            c = ffi.new("bp_layer_counts[]", max(1, self._n_layers))
            check(lib.bp_session_count_ops_sized(h, ptrs, c, ffi.sizeof("bp_layer_counts")))
            return [to_record(c[i], "bp_layer_counts", "LayerCounts")
                    for i in range(self._n_layers)]

    def __repr__(self):
        if self.closed:
            return "<bitprune.Session closed>"
        i = self.info
        return (f"<bitprune.Session {i.backend} isa {i.isa}, {i.threads} threads, "
                f"batch {i.batch}{'' if i.exact else ', inexact'}>")
