"""The GPU-fast step, checked on the CPU for all eight methods: nothing in a training step makes the host wait
for the device, the forward compiles as one graph (no graph breaks), and the compiled step computes what the
eager one does."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.overrides import TorchFunctionMode

from reference_impls import METHODS, build_method
from reference_impls.data import shapes
from reference_impls.train import TrainConfig, Trainer

# reading a value or a data-dependent shape: on a GPU each is a wait for every queued kernel
WAITS = {"item", "tolist", "numpy", "cpu", "nonzero", "argwhere", "masked_select", "unique", "__bool__", "__int__",
         "__float__", "__index__"}
# creating a tensor without naming its device puts it on the CPU: a host-to-device copy in every step
FACTORIES = {torch.rand, torch.randn, torch.randint, torch.randperm, torch.arange, torch.zeros, torch.ones,
             torch.full, torch.empty, torch.tensor, torch.linspace, torch.eye, torch.as_tensor}


class HostWaits(TorchFunctionMode):
    """Records every call inside the block that would make a GPU step wait for the host, or copy to it."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", str(func))
        if name in WAITS:
            self.found.append(name)
        elif func in FACTORIES and "device" not in kwargs:
            self.found.append(f"torch.{name} without a device")
        elif name == "__getitem__" and len(args) > 1:
            index = args[1] if isinstance(args[1], tuple) else (args[1],)
            if any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in index):
                self.found.append("boolean-mask indexing")
        return func(*args, **kwargs)


@pytest.fixture(scope="module")
def data():
    return shapes(0, pool=256, per_class=2, test_per_class=2)


def _method(name: str, data):
    torch.manual_seed(0)
    method = build_method(name, data.image_size, 4, data.channels, "micro")
    method.prepare(data.pretrain, "cpu")  # BEiT fits its tokenizer here, before any step
    return method


@pytest.mark.parametrize("name", list(METHODS))
def test_a_training_step_never_waits_for_the_host(name, data):
    method = _method(name, data)
    trainer = Trainer(method, data, TrainConfig(steps=10, batch_size=8, warmup_steps=2))
    trainer.step(0)  # the optimiser creates its state in the first step
    with HostWaits() as mode:
        for step in (1, 2):
            loss = trainer.step(step)
    assert mode.found == [], f"{name}: {sorted(set(mode.found))}"
    assert torch.isfinite(loss)


@pytest.mark.parametrize("name", list(METHODS))
def test_the_forward_compiles_without_graph_breaks(name, data):
    torch._dynamo.reset()
    method = _method(name, data)
    images = data.pretrain.get(torch.arange(8))
    explained = torch._dynamo.explain(method)(images)
    assert explained.graph_break_count == 0, (name, [str(b.reason) for b in explained.break_reasons])
    assert explained.graph_count == 1


@pytest.mark.parametrize("name", list(METHODS))
def test_compiled_and_eager_steps_give_the_same_loss_and_gradients(name, data):
    """Traced by dynamo and AOT autograd (the `aot_eager` backend: the same graphs inductor would be given,
    run without code generation, which the CPU suite cannot afford eight times)."""
    torch._dynamo.reset()
    eager = _method(name, data)
    compiled_copy = copy.deepcopy(eager)  # buffers such as iBOT's centres change in a step
    images = data.pretrain.get(torch.arange(8))
    results = []
    for model, run in ((eager, eager), (compiled_copy, torch.compile(compiled_copy, backend="aot_eager"))):
        torch.manual_seed(123)
        loss = run(images)
        loss.backward()
        grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
        results.append((loss.detach(), grads))
    torch.testing.assert_close(results[1][0], results[0][0], rtol=1e-5, atol=1e-6)
    assert len(results[0][1]) == len(results[1][1]) > 0
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)


def test_lr_schedule_and_ema_reach_the_device_tensors(data):
    """The learning rate is written into the tensor fused AdamW reads; the EMA moves the teacher."""
    method = _method("data2vec", data)
    cfg = TrainConfig(steps=10, batch_size=8, warmup_steps=4, lr=1e-3)
    trainer = Trainer(method, data, cfg)
    before = [t.clone() for t in method.teacher.parameters()]
    trainer.step(1)
    assert trainer.lr.item() == pytest.approx(1e-3 * 2 / 4)
    assert all(g["lr"] is trainer.lr for g in trainer.optimizer.param_groups)
    assert any(not torch.equal(b, t) for b, t in zip(before, method.teacher.parameters()))
