"""Data helpers of the pipeline: seeded batch streams over tensors or a
DataLoader, the default SGD fine-tune, evaluation, batch-norm
recalibration and progress lines. Every helper takes either a pair of
tensors (x, y), or an iterable of (x, y) batches such as a DataLoader."""
import math
import os
import sys

import torch
import torch.nn.functional as F


def _is_pair(data):
    return (isinstance(data, (tuple, list)) and len(data) == 2
            and all(isinstance(t, torch.Tensor) for t in data)
            and data[0].dim() > 1 and data[1].dim() == 1 and data[0].shape[0] == data[1].shape[0])


class Batches:
    """An endless, seeded stream of training batches: next() -> (x, y).

    `data`: tensors (x, y) — shuffled with its own generator, batches of
    `batch` images, `transform(x, generator)` applied to each batch (e.g. a
    random crop drawn from that generator) — or an iterable of (x, y)
    batches (a DataLoader): cycled, each pass started with torch's global
    seed drawn from this stream's generator, so a shuffling loader gives
    the same order to every stream made with the same seed. Two streams
    with equal arguments give equal batches: the pipeline's common random
    numbers."""

    def __init__(self, data, batch=128, seed=0, transform=None):
        self.gen = torch.Generator().manual_seed(int(seed))
        self.batch, self.transform = int(batch), transform
        self.tensors = _is_pair(data)
        if self.tensors:
            self.x, self.y = data
        else:
            self.loader = data
        self.order, self.pos, self.it = None, 0, None

    def __iter__(self):
        return self

    def __next__(self):
        return self.next()

    def next(self):
        if not self.tensors:
            return self._next_loader()
        n = self.x.shape[0]
        if self.order is None or self.pos + self.batch > n:
            self.order, self.pos = torch.randperm(n, generator=self.gen), 0
        idx = self.order[self.pos:self.pos + self.batch]
        self.pos += self.batch
        x = self.x[idx]
        if self.transform is not None:
            x = self.transform(x, self.gen)
        return x, self.y[idx]

    def _next_loader(self):
        for _ in range(2):
            if self.it is None:
                torch.manual_seed(int(torch.randint(0, 2 ** 62, (1,), generator=self.gen)))
                self.it = iter(self.loader)
            try:
                x, y = next(self.it)[:2]
            except StopIteration:
                self.it = None
                continue
            if self.transform is not None:
                x = self.transform(x, self.gen)
            return x, y
        raise ValueError("the data loader yields no batch")


def input_batches(data, images=None, batch=128):
    """The input tensors of `data` (a tensor of inputs, tensors (x, y), a
    list of input tensors or an iterable of (x, y) batches), at most `images`
    of them, as a list of batches."""
    if isinstance(data, torch.Tensor):
        data = data if images is None else data[:images]
        return list(data.split(batch))
    if _is_pair(data):
        return input_batches(data[0], images, batch)
    out, count = [], 0
    for item in data:
        x = item if isinstance(item, torch.Tensor) else item[0]
        if images is not None:
            x = x[:images - count]
        out.append(x)
        count += x.shape[0]
        if images is not None and count >= images:
            break
    return out


def _device(model):
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def to_model(x, model, memory_format=None):
    """x on the model's device (and in `memory_format`, e.g. torch.channels_last)."""
    x = x.to(_device(model))
    if memory_format is not None and x.dim() == 4:
        x = x.contiguous(memory_format=memory_format)
    return x


_bars = {}


def progress(label, i, total, extra=""):
    """Step i (1..total) of a stage on stderr: a tqdm bar on a terminal
    (a plain bar without tqdm); in a log file one line at the first step and
    one per tenth of the way, so a log stays short."""
    def tenth(k):
        return (10 * k) // max(total, 1)
    if not sys.stderr.isatty():
        if i <= 1 or tenth(i) != tenth(i - 1):
            sys.stderr.write(f"  {label:<18} {i}/{total} {extra}\n")
            sys.stderr.flush()
        return
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    if tqdm is not None:
        bar = _bars.get(label)
        if bar is None or i <= 1:
            bar = _bars[label] = tqdm(total=total, desc=f"  {label}", leave=True)
        bar.n = i
        bar.set_postfix_str(extra, refresh=True)
        if i >= total:
            bar.close()
            _bars.pop(label, None)
        return
    width = 30
    done = int(width * i / max(total, 1))
    sys.stderr.write(f"\r  {label:<18} [{'#' * done}{'.' * (width - done)}] {i}/{total} {extra}")
    if i == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def train(model, batches, steps, lr, label=None, nesterov=True, cosine=True, momentum=0.9,
          weight_decay=5e-4, memory_format=None, loss_fn=F.cross_entropy, checkpoint=None,
          every=500):
    """The default fine-tune: SGD (momentum 0.9, weight decay 5e-4) for
    `steps` steps on batches.next(), cosine learning rate unless
    cosine=False; a progress line when `label` is given. Returns the last
    loss.

    `checkpoint`: a file written atomically every `every` steps (model,
    optimizer, the batch stream and the step); a training started again
    with the same file goes on from its last save, and ends where one
    uninterrupted run would (same weights at a fixed thread count). The
    file is removed when the training ends. Needs a Batches over tensors."""
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                          weight_decay=weight_decay, nesterov=nesterov)
    loss, first = float("nan"), 0
    if checkpoint is not None:
        if not (isinstance(batches, Batches) and batches.tensors):
            raise ValueError("train(checkpoint=...) needs a Batches over tensors (x, y)")
        if every < 1:
            raise ValueError(f"every = {every}: save every 1 or more steps")
        first, loss = _resume(checkpoint, model, opt, batches, steps)
    for step in range(first, steps):
        if cosine:
            for g in opt.param_groups:
                g["lr"] = 0.5 * lr * (1 + math.cos(math.pi * step / steps))
        x, y = batches.next()
        out = model(to_model(x, model, memory_format))
        loss_t = loss_fn(out, y.to(out.device))
        opt.zero_grad(set_to_none=True)
        loss_t.backward()
        opt.step()
        loss = loss_t.item()
        if label:
            progress(label, step + 1, steps, f"loss {loss:.3f}")
        if checkpoint is not None and (step + 1) % every == 0 and step + 1 < steps:
            _save_checkpoint(checkpoint, model, opt, batches, step + 1, steps, loss)
    if checkpoint is not None and os.path.exists(checkpoint):
        os.remove(checkpoint)
    return loss


def _save_checkpoint(path, model, opt, batches, step, steps, loss):
    import io

    from .._io import write_atomic
    buf = io.BytesIO()
    torch.save(dict(step=step, steps=steps, loss=loss, model=model.state_dict(),
                    opt=opt.state_dict(), gen=batches.gen.get_state(), order=batches.order,
                    pos=batches.pos), buf)
    write_atomic(path, buf.getvalue())


def _resume(path, model, opt, batches, steps):
    """(first step, last loss) from a checkpoint of this training, or (0, nan)."""
    if not os.path.exists(path):
        return 0, float("nan")
    saved = torch.load(path, weights_only=False)
    if not isinstance(saved, dict) or saved.get("steps") != steps:
        raise ValueError(f"{path}: not a checkpoint of this {steps}-step training")
    model.load_state_dict(saved["model"])
    opt.load_state_dict(saved["opt"])
    batches.gen.set_state(saved["gen"])
    batches.order, batches.pos = saved["order"], saved["pos"]
    return saved["step"], saved["loss"]


@torch.no_grad()
def evaluate(model, data, batch=500, memory_format=None):
    """(top-1 accuracy in %, mean cross-entropy) of a classifier on `data`:
    tensors (x, y) or an iterable of (x, y) batches. Eval mode."""
    model.eval()
    if _is_pair(data):
        xs, ys = data
        data = [(xs[i:i + batch], ys[i:i + batch]) for i in range(0, xs.shape[0], batch)]
    correct, loss, count = 0, 0.0, 0
    for item in data:
        x, y = item[0], item[1]
        out = model(to_model(x, model, memory_format))
        y = y.to(out.device)
        loss += F.cross_entropy(out, y, reduction="sum").item()
        correct += (out.argmax(1) == y).sum().item()
        count += y.shape[0]
    return 100.0 * correct / max(count, 1), loss / max(count, 1)


@torch.no_grad()
def recalibrate_bn(model, batches, n_batches, memory_format=None):
    """Batch-norm running statistics recomputed from scratch: reset, then
    n_batches forward passes in train mode without gradients, averaged with
    equal weights (momentum None). After pruning and a few SGD steps the
    running averages still mostly hold the unpruned network's statistics,
    which an evaluation in eval mode would measure. No-op for n_batches 0."""
    if n_batches <= 0:
        return model
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for _ in range(n_batches):
        x, _ = batches.next()
        model(to_model(x, model, memory_format))
    for m, mom in zip(bns, momenta):
        m.momentum = mom
    return model
