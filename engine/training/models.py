"""The two deep models (SPEC 6); each is registered as a model kind in engine/model_kinds.py.  Both take windows ``(batch, context, features)``.

* :class:`UnifiedPatchTST`: RevIN, channel-independent patching (patch 16, stride 8), a
  transformer encoder shared by all channels, a per-channel summary, a layer that mixes the
  channels, and one output slice per target (1 value for regression and binary targets,
  k logits for a k-class target).
* :class:`DirectionPredictor`: a smaller model for one task, DOWN / FLAT / UP per
  horizon: a per-bar projection of the features, dilated causal temporal convolutions
  with residual connections, last-bar + mean pooling, 3 logits per horizon.

Models only compute: no disk, no config files (the runner builds them from plain kwargs,
which are saved in the checkpoints so a model can be rebuilt from a checkpoint alone).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

# The encoder is channel-independent: every (window, channel) pair is one attention sequence, so a batch of
# 512 windows x 171 channels is 87,552 sequences. The fused CUDA attention kernels put the sequences on a grid
# dimension limited to 65,535 blocks: on an H200 (torch 2.11, bf16) cuDNN's kernel failed in the backward pass
# ("mha_graph.execute(...).is_good()") and the flash kernel with "CUDA error: invalid argument". So attention
# runs on chunks of at most SDPA_MAX_SEQUENCES sequences, with the flash / memory-efficient / math kernels.
SDPA_BACKENDS = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]
SDPA_MAX_SEQUENCES = 32_768


class RevIN(nn.Module):
    """Reversible instance normalisation (Kim et al., 2022): each window's channels are
    normalised by their own mean and std over time, with a learnable affine map.  The heads
    predict targets, not the series, so instead of de-normalising the output the model hands
    the instance statistics (mean, log std) to the heads: a window's level (how volatile,
    how overbought) is information the targets depend on and the encoder no longer sees."""

    def __init__(self, n_channels: int, eps: float = 1e-5, affine: bool = True):
        super().__init__()
        self.eps = eps
        self.affine = affine
        if affine:
            self.weight = nn.Parameter(torch.ones(n_channels))
            self.bias = nn.Parameter(torch.zeros(n_channels))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # (B, L, C)
        mean = x.mean(dim=1, keepdim=True)
        std = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + self.eps)
        xn = (x - mean) / std
        if self.affine:
            xn = xn * self.weight + self.bias
        return xn, torch.cat([mean, torch.log(std)], dim=1).transpose(1, 2)  # (B, L, C), (B, C, 2)


class EncoderLayer(nn.Module):
    """Pre-norm transformer encoder layer on ``F.scaled_dot_product_attention``, which picks
    the fused (flash / memory-efficient) kernels on CPU and CUDA.  Dropout acts on each
    sub-layer's output before the residual add (as in Vaswani et al.); attention dropout is
    separate (``attn_dropout``, default 0) because a non-zero one sends SDPA to its slow
    unfused path."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float, attn_dropout: float = 0.0):
        super().__init__()
        self.n_heads, self.attn_dropout = n_heads, attn_dropout
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))
        self.drop1, self.drop2 = nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (S, N, D)
        s, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(s, n, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        p = self.attn_dropout if self.training else 0.0
        with sdpa_kernel(SDPA_BACKENDS):
            if s <= SDPA_MAX_SEQUENCES:
                a = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
            else:
                a = torch.cat([F.scaled_dot_product_attention(q[i:i + SDPA_MAX_SEQUENCES], k[i:i + SDPA_MAX_SEQUENCES],
                                                              v[i:i + SDPA_MAX_SEQUENCES], dropout_p=p)
                               for i in range(0, s, SDPA_MAX_SEQUENCES)])
        x = x + self.drop1(self.out(a.transpose(1, 2).reshape(s, n, d)))
        return x + self.drop2(self.ff(self.norm2(x)))


class UnifiedPatchTST(nn.Module):
    def __init__(self, *, n_features: int, context: int, head_sizes: list[int], d_model: int = 128, n_heads: int = 8,
                 n_layers: int = 3, d_ff: int = 256, dropout: float = 0.1, head_dropout: float = 0.1,
                 patch_len: int = 16, patch_stride: int = 8, revin: bool = True, channel_summary: int = 8,
                 hidden: int = 256, attn_dropout: float = 0.0):
        super().__init__()
        self.kwargs: dict[str, Any] = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        self.n_features, self.context = n_features, context
        self.patch_len, self.patch_stride = patch_len, patch_stride
        self.revin = RevIN(n_features) if revin else None
        # as in PatchTST: pad the end by one stride (repeating the last value), then unfold
        self.n_patches = (context + patch_stride - patch_len) // patch_stride + 1
        self.patch_embed = nn.Linear(patch_len, d_model)
        self.pos_embed = nn.Parameter(torch.empty(1, self.n_patches, d_model).uniform_(-0.02, 0.02))
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Sequential(*(EncoderLayer(d_model, n_heads, d_ff, dropout, attn_dropout) for _ in range(n_layers)),
                                     nn.LayerNorm(d_model))
        # per channel: flatten the patch encodings -> a short summary (PatchTST's flatten head)
        self.summary = nn.Linear(self.n_patches * d_model, channel_summary)
        width = n_features * (channel_summary + (2 if revin else 0))  # + each channel's RevIN mean and log std
        self.mix = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, hidden), nn.GELU(), nn.Dropout(head_dropout))
        self.head_sizes = list(head_sizes)
        self.heads = nn.Linear(hidden, sum(self.head_sizes))  # all targets' outputs in one matmul

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        b, _length, c = x.shape
        stats = None
        if self.revin is not None:
            x, stats = self.revin(x)
        x = x.transpose(1, 2)  # (B, C, L)
        x = torch.cat([x, x[..., -1:].expand(b, c, self.patch_stride)], dim=-1)
        patches = x.unfold(-1, self.patch_len, self.patch_stride)  # (B, C, N, P)
        z = self.patch_embed(patches) + self.pos_embed.unsqueeze(0)  # (B, C, N, D)
        z = self.drop(z).reshape(b * c, self.n_patches, -1)
        z = self.encoder(z)  # channel-independent: every channel is its own sequence
        z = self.summary(z.reshape(b, c, -1))  # (B, C, S)
        if stats is not None:
            z = torch.cat([z, stats.to(z.dtype)], dim=-1)
        return self.mix(z.reshape(b, -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.heads(self.encode(x))  # (B, sum(head_sizes))


class _TemporalBlock(nn.Module):
    def __init__(self, hidden: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        self.pad = (kernel_size - 1) * dilation  # causal: left padding only
        self.conv = nn.Conv1d(hidden, 2 * hidden, kernel_size, dilation=dilation)
        self.proj = nn.Conv1d(hidden, hidden, 1)
        self.norm = nn.GroupNorm(1, hidden)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, H, L)
        h = self.conv(F.pad(x, (self.pad, 0)))
        h = F.glu(h, dim=1)  # gated linear unit
        return self.norm(x + self.drop(self.proj(h)))


class DirectionPredictor(nn.Module):
    N_CLASSES = 3  # 0 DOWN, 1 FLAT, 2 UP

    def __init__(self, *, n_features: int, context: int, n_horizons: int, hidden: int = 64, n_blocks: int = 3,
                 kernel_size: int = 3, dropout: float = 0.1):
        super().__init__()
        self.kwargs: dict[str, Any] = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        self.n_horizons = n_horizons
        self.inp = nn.Sequential(nn.Linear(n_features, hidden), nn.GELU(), nn.Dropout(dropout))
        self.blocks = nn.ModuleList(_TemporalBlock(hidden, kernel_size, 2 ** i, dropout) for i in range(n_blocks))
        self.out = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, n_horizons * self.N_CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, L, C) -> (B, horizons, 3) logits
        h = self.inp(x).transpose(1, 2)
        for blk in self.blocks:
            h = blk(h)
        pooled = torch.cat([h[..., -1], h.mean(dim=-1)], dim=1)
        return self.out(pooled).view(-1, self.n_horizons, self.N_CLASSES)


def build_model(kind: str, kwargs: dict[str, Any]) -> nn.Module:
    """The model of a registered kind (engine/model_kinds.py) from its kwargs (as saved in a checkpoint)."""
    from engine import model_kinds

    return model_kinds.get(kind).load_model()(**kwargs)
