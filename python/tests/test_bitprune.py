"""The Python binding against the library: one image classified on two
backends (bit-identical), batches, zero-copy outputs, model and session info,
profiles, operation counts, and every error path raising a bitprune.Error
subclass with the library's status and message."""
import numpy as np
import pytest

import bitprune


@pytest.fixture(scope="module")
def model(model_path):
    with bitprune.Model.load(model_path) as m:
        yield m


def image(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


def test_backends():
    names = bitprune.backends()
    assert {"reference", "bitplane", "csr"} <= set(names)
    assert len(set(names)) == len(names)


def test_classify_bitplane_equals_reference(model, rng):
    x = image(rng, (1,) + model.info.inputs[0].shape[1:])
    outs = {}
    for backend in ("reference", "bitplane"):
        with bitprune.Session(model, backend=backend, threads=1) as s:
            assert s.info.backend == backend and s.info.exact == 1
            outs[backend] = s.run(x)
    ref, bit = outs["reference"], outs["bitplane"]
    assert len(ref) == len(model.info.outputs)
    for r, b, t in zip(ref, bit, model.info.outputs):
        assert r.shape == b.shape == (1,) + t.shape[1:]
        assert r.dtype == np.float32
        assert np.all(np.isfinite(r))
        assert r.tobytes() == b.tobytes(), t.name  # bit for bit
    logits = ref[[t.name for t in model.info.outputs].index("fc")]
    assert 0 <= int(np.argmax(logits[0])) < logits.shape[1]
    assert np.ptp(logits) > 0  # not a constant output


def test_batch_equals_single_runs(model, rng):
    shape = model.info.inputs[0].shape[1:]
    x = image(rng, (3,) + shape)
    with bitprune.Session(model, backend="bitplane", threads=2, batch=3) as s:
        assert s.input_shapes[0] == (3,) + shape
        many = s.run(x)
    with bitprune.Session(model, backend="bitplane", threads=1) as s1:
        for n in range(3):
            one = s1.run(x[n:n + 1])
            for a, b in zip(many, one):
                assert a[n:n + 1].tobytes() == b.tobytes()


def test_inputs_any_layout_outputs_in_place(model, rng):
    shape = (1,) + model.info.inputs[0].shape[1:]
    x = image(rng, shape)
    with bitprune.Session(model, backend="bitplane", threads=1) as s:
        want = s.run(x)
        xf = np.asfortranarray(x)  # not C-contiguous: copied, same values
        got = s.run(xf)
        assert all(a.tobytes() == b.tobytes() for a, b in zip(want, got))
        ro = x.copy()
        ro.setflags(write=False)  # read-only input is fine
        got = s.run(ro)
        assert all(a.tobytes() == b.tobytes() for a, b in zip(want, got))
        outs = tuple(np.full(o.shape, np.nan, np.float32) for o in want)
        res = s.run(x, out=outs)
        assert all(r is o for r, o in zip(res, outs))  # written in place
        assert all(a.tobytes() == b.tobytes() for a, b in zip(want, outs))


def test_model_info(model, model_path):
    I = model.info
    assert I.n_layers == len(I.layers) == 10
    assert I.n_inputs == len(I.inputs) == 1 and I.n_outputs == len(I.outputs)
    assert I.inputs[0].shape == (1, 3, 20, 20)
    assert I.weights == sum(L.weights for L in I.layers)
    assert I.nonzeros == sum(L.nonzeros for L in I.layers)
    assert I.digits == sum(L.digits for L in I.layers)
    assert I.sparsity == pytest.approx(1 - I.nonzeros / I.weights)
    assert I.sparsity == pytest.approx(0.7, abs=0.02)  # the model was made at 0.7
    assert I.digits_per_weight == pytest.approx(I.digits / I.weights)
    assert I.arch == "test" and model.meta("arch") == "test"
    assert model.meta("no-such-key") is None
    for L in I.layers:
        assert L.op in ("conv2d", "linear")
        assert L.encoding in ("binary", "csd")
        assert L.act_dtype in ("u8", "s8") and L.act_scale > 0
        assert L.weights == L.c_out * L.K
        assert L.nonzeros <= L.weights and L.digits >= L.nonzeros
        assert L.digits == (L.digits_csd if L.encoding == "csd" else L.digits_binary)
        assert L.macs == L.weights * L.out_pixels
    assert I.layers[0].name == "stem.conv" and I.layers[-1].op == "linear"
    # the same model from its bytes
    with open(model_path, "rb") as f:
        data = f.read()
    with bitprune.Model.load(data) as m2:
        assert m2.info == I
    with bitprune.Model.load(bytearray(data), verify_checksums=False) as m3:
        assert m3.info.layers == I.layers


def test_profile_and_info(model, rng):
    x = image(rng, (1,) + model.info.inputs[0].shape[1:])
    with bitprune.Session(model, backend="bitplane", threads=1, profiling=True) as s:
        assert s.profiling
        for _ in range(3):
            s.run(x)
        p = s.profile()
        assert len(p) == s.info.n_steps > 0
        names = {L.name for L in model.info.layers}
        assert all(e.runs == 3 and e.ms >= 0 for e in p)
        assert sum(e.name in names for e in p) == model.info.n_layers  # one step per layer
        assert any(e.op.startswith("conv2d") for e in p)
        assert all(e.kernel for e in p)
        s.reset_profile()
        assert all(e.runs == 0 and e.ms == 0 for e in s.profile())
        s.profiling = False
        s.run(x)
        assert all(e.runs == 0 for e in s.profile())
        assert s.info.batch == 1 and s.info.threads == 1 and s.info.arena_bytes > 0


def test_count_ops(model, rng):
    x = image(rng, (1,) + model.info.inputs[0].shape[1:])
    with bitprune.Session(model, backend="csr", threads=1) as s:
        c = s.count_ops(x)
    assert len(c) == model.info.n_layers
    for L, k in zip(model.info.layers, c):
        assert k.dots == L.c_out * L.out_pixels
        assert k.macs_dense == k.dots * L.K
        assert k.mults_w == L.nonzeros * L.out_pixels
        assert k.mults_wx <= k.mults_w and k.M == L.M


def test_error_bad_path(tmp_path):
    p = tmp_path / "missing.bp"
    with pytest.raises(bitprune.FileError) as e:
        bitprune.Model.load(str(p))
    assert e.value.status == -3 and e.value.status_name.startswith("BP_ERR_IO")
    assert str(p) in e.value.message and str(p) in str(e.value)
    assert isinstance(e.value, bitprune.Error) and isinstance(e.value, OSError)
    with pytest.raises(bitprune.FormatError) as e:
        bitprune.Model.load(b"not a model" * 10)
    assert e.value.status == -5  # BP_ERR_BAD_MAGIC
    with pytest.raises(TypeError):
        bitprune.Model.load(42)


def test_error_bad_options(model):
    with pytest.raises(bitprune.InvalidArgumentError) as e:
        bitprune.Session(model, backend="no-such-backend")
    assert "no-such-backend" in e.value.message and e.value.status == -1
    with pytest.raises(bitprune.InvalidArgumentError):
        bitprune.Session(model, batch=0)
    with pytest.raises(bitprune.InvalidArgumentError):
        bitprune.Session(model, batch=-1)
    with pytest.raises(bitprune.InvalidArgumentError):
        bitprune.Session(model, isa="no-such-isa")


def test_error_wrong_shape_and_dtype(model, rng):
    shape = (1,) + model.info.inputs[0].shape[1:]
    with bitprune.Session(model, backend="bitplane", threads=1) as s:
        bad = image(rng, shape[:-1] + (shape[-1] + 1,))
        with pytest.raises(bitprune.ShapeError) as e:
            s.run(bad)
        assert e.value.status == -13
        assert "(1,3,20,21)" in e.value.message and "(1,3,20,20)" in e.value.message
        with pytest.raises(bitprune.ShapeError):
            s.run(image(rng, (2,) + shape[1:]))  # batch 2 on a batch-1 session
        with pytest.raises(bitprune.ShapeError):
            s.run(np.zeros((1,) * 7, np.float32))
        with pytest.raises(bitprune.InvalidArgumentError) as e:
            s.run(image(rng, shape).astype(np.float64))
        assert "float64" in e.value.message and isinstance(e.value, ValueError)
        with pytest.raises(bitprune.InvalidArgumentError):
            s.run()
        x = image(rng, shape)
        outs = [np.zeros((1,) + t.shape[1:], np.float32) for t in model.info.outputs]
        outs[0] = outs[0].astype(np.float64)
        with pytest.raises(bitprune.InvalidArgumentError):
            s.run(x, out=outs)
        outs = [np.empty((1,) + t.shape[1:], np.float32) for t in model.info.outputs]
        outs[1] = np.empty((1, 11), np.float32)
        with pytest.raises(bitprune.ShapeError) as e:
            s.run(x, out=outs)
        assert "outputs[1]" in e.value.message


def test_error_closed(model_path, rng):
    m = bitprune.Model.load(model_path)
    s = bitprune.Session(m, backend="reference", threads=1)
    shape = (1,) + m.info.inputs[0].shape[1:]
    m.close()  # the session keeps the model alive
    s.run(image(rng, shape))
    s.close()
    s.close()  # twice is fine
    for call in (lambda: s.run(image(rng, shape)), s.profile, lambda: s.count_ops(
            image(rng, shape))):
        with pytest.raises(bitprune.StateError) as e:
            call()
        assert e.value.status == -16 and "closed" in e.value.message
    with pytest.raises(bitprune.StateError):
        bitprune.Session(m)
    with pytest.raises(bitprune.StateError):
        m.meta("arch")
