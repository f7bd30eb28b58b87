"""Attention (semantics) branch: three post-norm cross-attention blocks between reference and test tokens.

``cross_att1(q=ref, kv=test) -> a``, ``cross_att2(q=test, kv=ref) -> b``, ``cross_att3(q=b, kv=a) -> out``.
Queries and keys/values may have different token counts (reference and test crops of different sizes).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class MultiheadAtt(nn.Module):
    """One block: multi-head attention (8 heads of 64) + residual + LayerNorm, then FFN + residual + LayerNorm.

    As published, training applies dropout in four places, each an ``nn.Dropout`` so that freezing those modules
    switches it off: on the attention weights, on both residual branches and on the FFN's hidden layer.
    """

    def __init__(self, d_model: int = 64, heads: int = 8, head_dim: int = 64, hidden: int = 512,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = head_dim
        inner = heads * head_dim
        self.fcq = nn.Linear(d_model, inner)
        self.fck = nn.Linear(d_model, inner)
        self.fcv = nn.Linear(d_model, inner)
        self.fco = nn.Linear(inner, d_model)
        self.linear1 = nn.Linear(d_model, hidden)
        self.linear2 = nn.Linear(hidden, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.drop_weights = nn.Dropout(dropout)  # attention weights, after the softmax
        self.drop_att = nn.Dropout(dropout)  # attention residual branch
        self.drop_hidden = nn.Dropout(dropout)  # FFN hidden layer, after the ReLU
        self.drop_ffn = nn.Dropout(dropout)  # FFN residual branch

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.heads, self.head_dim).transpose(1, 2)  # BxHxNxD

    def attend(self, query: torch.Tensor, key_value: torch.Tensor) -> torch.Tensor:
        """softmax(q·kᵀ/√d) v over the heads, merged and projected: BxNqx64.

        While ``drop_weights`` is active the weights are written out for it to drop; otherwise (inference, frozen
        dropout) the fused kernel computes the same attention.
        """
        q = self._split(self.fcq(query))
        k = self._split(self.fck(key_value))
        v = self._split(self.fcv(key_value))
        scale = 1.0 / math.sqrt(self.head_dim)
        if self.drop_weights.training:
            out = self.drop_weights(torch.softmax(q @ k.transpose(-2, -1) * scale, dim=-1)) @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v, scale=scale)
        b, _, n, _ = out.shape
        return self.fco(out.transpose(1, 2).reshape(b, n, self.heads * self.head_dim))

    def forward(self, query: torch.Tensor, key_value: torch.Tensor) -> torch.Tensor:
        """query: BxNqx64, key_value: BxNkx64 -> BxNqx64."""
        x = self.norm1(query + self.drop_att(self.attend(query, key_value)))
        return self.norm2(x + self.drop_ffn(self.linear2(self.drop_hidden(F.relu(self.linear1(x))))))


class CrossAttentionFusion(nn.Module):
    """The three cross-attention blocks (checkpoint names ``fusion.cross_att{1,2,3}``)."""

    def __init__(self, d_model: int = 64) -> None:
        super().__init__()
        self.cross_att1 = MultiheadAtt(d_model)
        self.cross_att2 = MultiheadAtt(d_model)
        self.cross_att3 = MultiheadAtt(d_model)

    def forward(self, ref_tokens: torch.Tensor, test_tokens: torch.Tensor) -> torch.Tensor:
        """ref_tokens: BxN'x64, test_tokens: BxNx64 -> BxNx64 (one token per test cell)."""
        a = self.cross_att1(ref_tokens, test_tokens)  # BxN'x64
        b = self.cross_att2(test_tokens, ref_tokens)  # BxNx64
        return self.cross_att3(b, a)


def to_tokens(x: torch.Tensor) -> torch.Tensor:
    """BxCxHxW feature map -> BxHWxC token sequence (row-major)."""
    return x.flatten(2).transpose(1, 2)


def from_tokens(tokens: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """BxHWxC token sequence -> BxCxHxW feature map."""
    b, _, c = tokens.shape
    return tokens.transpose(1, 2).reshape(b, c, size[0], size[1])
