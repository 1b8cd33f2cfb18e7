"""Layers that picpq.torch knows how to describe and prune, for models
written with them (the CIFAR ResNet of picpq.torch.models uses ShortcutA)."""
import torch
from torch import nn


class ShortcutA(nn.Module):
    """Option-A residual shortcut: spatial subsampling by `stride` and a
    channel gather with zero padding. Output channel i is input channel
    index[i], or zeros where index[i] == -1. Unpruned, index is
    [0, 1, ..., in-1, -1, ...] (new channels appended at the end, so channel
    j of every member of a coupled chain is the same channel)."""

    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.stride = stride
        index = torch.full((out_channels,), -1, dtype=torch.long)
        index[:in_channels] = torch.arange(in_channels)
        self.register_buffer("index", index)

    def forward(self, x):
        if self.stride != 1:
            x = x[:, :, ::self.stride, ::self.stride]
        shape = (x.shape[0], self.index.shape[0], x.shape[2], x.shape[3])
        out = x.new_zeros(shape)
        valid = self.index >= 0
        out[:, valid] = x[:, self.index[valid]]
        return out
