"""The DARTS search supernet with the same mathematics as :class:`Supernet` in far fewer kernels.

The plain supernet runs every op of every edge on its own: per cell 14 edges × 8 ops, each a
handful of small kernels, and an affine-free BN after nearly every one. On a GPU that is
launch-bound. Here the work is grouped by *source state*: all edges that leave a state (and the
two cell inputs together, which are ready at the same time) are computed at once:

- one ReLU per source (every conv op and the stride-2 skip start with ReLU of the same input);
- one depthwise conv per kernel kind over the source repeated once per edge (per-edge weights
  concatenated along the channels), one grouped 1×1 conv for all four conv ops of all edges,
  one BN over the concatenated channels (affine-free BN is per channel, so this *is* each
  edge's BN);
- the pools and their BN once per source: they have no weights, so every edge leaving a source
  sees the same pooled map;
- `none` contributes exactly zero to the output and to every gradient, so it is never computed
  (its α still takes part in the softmax, so α's gradient is unchanged);
- the α weights of the conv ops and of the stride-2 skip ride in the final BN's affine scale
  (w·BN(x) is a BN with weight w), the pooled maps and the identity skip are mixed into the
  target nodes with one small matrix product, and the sum over the edges into a node is one
  reduction.

Parameters are still per edge (slices of the grouped tensors), so :meth:`FastSupernet.reference_map`
relates every entry of its state to the plain supernet's, both ways.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .ops import PRIMITIVES
from .supernet import Supernet, SupernetBase, build_stem, cell_layout

_OP = {name: k for k, name in enumerate(PRIMITIVES)}
#: Conv ops of the first grouped stage, in channel-block order; the first two continue into stage two.
_STAGE1 = ("sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
_STAGE2 = ("sep_conv_3x3", "sep_conv_5x5")
#: (kernel, padding, dilation) of each depthwise conv, as in ops.build_op.
_DW = {"sep_conv_3x3": (3, 1, 1), "sep_conv_5x5": (5, 2, 1), "dil_conv_3x3": (3, 2, 2), "dil_conv_5x5": (5, 4, 2)}
_BN_STATS = ("running_mean", "running_var")


def edge_offset(node: int) -> int:
    """Index of the first edge into intermediate node ``node`` (edges go node by node, sources ascending)."""
    return sum(i + 2 for i in range(node))


def source_groups(nodes: int) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(sources, target nodes) per group: the two cell inputs together, then each node that feeds later ones."""
    groups = [((0, 1), tuple(range(nodes)))]
    groups += [((j,), tuple(range(j - 1, nodes))) for j in range(2, nodes + 1)]
    return groups


def scaled_bn(bn: nn.BatchNorm2d, x: Tensor, scale: Tensor) -> Tensor:
    """``scale[c] · bn(x)[c]`` for an affine-free BN, as one BN call with ``scale`` as its weight.

    Mirrors ``_BatchNorm.forward`` (running-stat update, momentum, eval mode). A converted
    SyncBatchNorm keeps its own forward and is scaled afterwards.
    """
    if type(bn) is not nn.BatchNorm2d:
        return bn(x) * scale.view(1, -1, 1, 1)
    factor = bn.momentum if bn.momentum is not None else 0.0
    if bn.training and bn.track_running_stats:
        bn.num_batches_tracked.add_(1)
        if bn.momentum is None:  # cumulative moving average
            factor = 1.0 / float(bn.num_batches_tracked)
    use_batch = bn.training or bn.running_mean is None
    stats_given = not bn.training or bn.track_running_stats
    return F.batch_norm(x, bn.running_mean if stats_given else None, bn.running_var if stats_given else None,
                        scale, None, use_batch, factor, bn.eps)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, affine=False)


def _depthwise(channels: int, op: str, stride: int) -> nn.Conv2d:
    k, pad, dil = _DW[op]
    return nn.Conv2d(channels, channels, k, stride=stride, padding=pad, dilation=dil, groups=channels, bias=False)


def _depthwise_call(conv: nn.Conv2d, x: Tensor) -> Tensor:
    """``conv(x)`` without the kernel taps that read only zero padding on this map size.

    On maps smaller than the receptive field (a dilated 5×5 on 2×2 is a 1×1), the outer taps
    multiply padding only: they add exact zeros and get exactly zero gradient, so dropping
    them changes nothing but the work. Needs padding = dilation·(k−1)/2, as every DARTS op has.
    """
    k, d = conv.kernel_size[0], conv.dilation[0]
    c = (k - 1) // 2
    mh, mw = (min(c, (side - 1) // d) for side in x.shape[-2:])
    if mh == c and mw == c:
        return conv(x)
    weight = conv.weight[:, :, c - mh:c + mh + 1, c - mw:c + mw + 1]
    return F.conv2d(x, weight, None, conv.stride, (mh * d, mw * d), conv.dilation, conv.groups)


def _shift(x: Tensor) -> Tensor:
    """FactorizedReduce's second input: shifted one pixel, zero-padded back to the same size."""
    return F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))


class _GroupMix:
    """softmax(α) rearranged for one source group; built once per forward per cell type.

    ``wt`` is (8, E): one column per edge of the group, source-major. Per-channel scales are
    memoised by width, since cells of one type share α but not always their width.
    """

    def __init__(self, wt: Tensor, sources: int, targets: int):
        _, pools, skip, sep, dil = wt.split([1, 2, 1, 2, 2])  # PRIMITIVES order
        self.sources, self.targets = sources, targets
        self.sep, self.dil, self.skip_edges = sep, dil, skip
        #: (targets, 2·sources): mixes [max(s…), avg(s…)] into each target node.
        self.pools = pools.reshape(2, sources, targets).permute(2, 0, 1).reshape(targets, 2 * sources)
        #: (targets, sources): identity skip of each source into each target node.
        self.skip_identity = skip.reshape(sources, targets).t()
        self._scales: dict[tuple[str, int], Tensor] = {}

    def scale(self, which: str, channels: int) -> Tensor:
        key = (which, channels)
        if key not in self._scales:
            self._scales[key] = self._make_scale(which, channels)
        return self._scales[key]

    def _make_scale(self, which: str, c: int) -> Tensor:
        def per_channel(blocks: Tensor) -> Tensor:  # (K, E) → K·E blocks of c channels
            return blocks.unsqueeze(-1).expand(*blocks.shape, c).reshape(-1)

        if which == "stage1":  # [sep3, sep5 (unscaled: stage two follows), dil3, dil5, pools (unscaled)]
            e = self.sep.shape[1]
            ones = self.sep.new_ones(1)
            return torch.cat([ones.expand(2 * e * c), per_channel(self.dil), ones.expand(2 * self.sources * c)])
        return per_channel(self.sep if which == "stage2" else self.skip_edges)


class SourceGroup(nn.Module):
    """Every edge leaving ``sources`` states (``targets`` edges each) as a few wide ops.

    Input: the sources concatenated along channels (S·C). Output: (B, targets, C, H', W'), each
    source's α-weighted op outputs already summed into its target nodes. Stage one's BN also
    normalises the pooled maps (one BN call instead of two; BN is per channel).
    """

    def __init__(self, sources: int, targets: int, channels: int, stride: int):
        super().__init__()
        if stride == 2 and channels % 2:
            raise ValueError(f"a reduction cell needs an even number of channels, got {channels}")
        self.sources, self.targets, self.channels, self.stride = sources, targets, channels, stride
        e, c = sources * targets, channels
        self.dw1 = nn.ModuleList(_depthwise(e * c, op, stride) for op in _STAGE1)
        self.pw1 = nn.Conv2d(4 * e * c, 4 * e * c, 1, groups=4 * e, bias=False)
        self.bn1 = _bn(4 * e * c + 2 * sources * c)
        self.dw2 = nn.ModuleList(_depthwise(e * c, op, 1) for op in _STAGE2)
        self.pw2 = nn.Conv2d(2 * e * c, 2 * e * c, 1, groups=2 * e, bias=False)
        self.bn2 = _bn(2 * e * c)
        self.max_pool = nn.MaxPool2d(3, stride=stride, padding=1)
        self.avg_pool = nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
        if stride == 2:  # skip_connect is FactorizedReduce: per-edge 1×1 stride-2 convs of each source
            self.fr = nn.ModuleList(nn.Conv2d(sources * c, e * c // 2, 1, stride=2, groups=sources, bias=False)
                                    for _ in range(2))
            self.fr_bn = _bn(e * c)

    def forward(self, x: Tensor, mix: _GroupMix) -> Tensor:
        s, t, c = self.sources, self.targets, self.channels
        e, b = s * t, x.shape[0]
        relu = F.relu(x)
        h, w = x.shape[-2:]
        rep = relu.view(b, s, 1, c, h, w).expand(b, s, t, c, h, w).reshape(b, e * c, h, w)
        stage1 = self.pw1(torch.cat([_depthwise_call(conv, rep) for conv in self.dw1], dim=1))
        y1 = torch.cat([stage1, self.max_pool(x), self.avg_pool(x)], dim=1)
        sep, dil, pooled = scaled_bn(self.bn1, y1, mix.scale("stage1", c)).split([2 * e * c, 2 * e * c, 2 * s * c], 1)
        z = F.relu(sep)
        y2 = torch.cat([_depthwise_call(conv, part) for conv, part in zip(self.dw2, z.chunk(2, dim=1))], dim=1)
        y2 = scaled_bn(self.bn2, self.pw2(y2), mix.scale("stage2", c))
        ho, wo = y2.shape[-2:]

        # Sum over sources and conv kinds per target; pools (and the identity skip) mixed by a
        # (targets × sources) matrix, as a 1-wide conv1d over the flattened maps (no layout copies).
        out = y2.view(b, 2, s, t, -1).sum(dim=(1, 2)) + dil.reshape(b, 2, s, t, -1).sum(dim=(1, 2))
        out = out + F.conv1d(pooled.reshape(b, 2 * s, -1), mix.pools.unsqueeze(-1))
        if self.stride == 1:
            out = out + F.conv1d(x.reshape(b, s, -1), mix.skip_identity.unsqueeze(-1))
        else:
            halves = [conv(inp).view(b, e, 1, c // 2, ho, wo) for conv, inp in zip(self.fr, (relu, _shift(relu)))]
            skip = scaled_bn(self.fr_bn, torch.cat(halves, dim=2).view(b, e * c, ho, wo), mix.scale("skip", c))
            out = out + skip.view(b, s, t, -1).sum(dim=1)
        return out.view(b, t, c, ho, wo)


class FastSearchCell(nn.Module):
    """A search cell as :class:`SearchCell` computes it, with both preprocessings sharing one BN."""

    def __init__(self, nodes: int, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool):
        super().__init__()
        self.nodes, self.reduction, self.reduction_prev, self.channels = nodes, reduction, reduction_prev, c
        if reduction_prev:  # FactorizedReduce without its BN
            if c % 2:
                raise ValueError(f"FactorizedReduce needs an even number of output channels, got {c}")
            self.pre0 = nn.ModuleList(nn.Conv2d(c_pp, c // 2, 1, stride=2, bias=False) for _ in range(2))
        else:
            self.pre0 = nn.ModuleList([nn.Conv2d(c_pp, c, 1, bias=False)])
        self.pre1 = nn.Conv2d(c_p, c, 1, bias=False)
        self.pre_bn = _bn(2 * c)
        self.groups = nn.ModuleList(
            SourceGroup(len(src), len(tgt), c, 2 if reduction and src == (0, 1) else 1)
            for src, tgt in source_groups(nodes)
        )

    def forward(self, s0: Tensor, s1: Tensor, mixes: list[_GroupMix]) -> Tensor:
        r0 = F.relu(s0)
        parts = [self.pre0[0](r0), self.pre0[1](_shift(r0))] if self.reduction_prev else [self.pre0[0](r0)]
        inputs = self.pre_bn(torch.cat(parts + [self.pre1(F.relu(s1))], dim=1))
        pending = self.groups[0](inputs, mixes[0])  # sums into nodes 0..N-1 from the two inputs
        states = []
        for j in range(1, self.nodes):
            done, pending = pending.split([1, self.nodes - j], dim=1)  # node j-1 has all its inputs now
            states.append(done.squeeze(1))
            pending = pending + self.groups[j](states[-1], mixes[j])
        states.append(pending.squeeze(1))
        return torch.cat(states, dim=1)


class FastSupernet(SupernetBase):
    """Drop-in for :class:`Supernet` (same constructor, interface, outputs and gradients), grouped per source."""

    def __init__(self, width: int = 16, cells: int = 8, in_channels: int = 3, stem: str = "imagenet",
                 reductions: str = "two", nodes: int = 4, stem_multiplier: int = 3):
        super().__init__()
        self.config = dict(width=width, cells=cells, in_channels=in_channels, stem=stem, reductions=reductions,
                           nodes=nodes, stem_multiplier=stem_multiplier)
        rng = torch.get_rng_state()
        self.nodes = nodes
        self.stem_kind = stem
        self.stem0, self.stem1, c_stem = build_stem(stem, in_channels, width, stem_multiplier)
        plan = cell_layout(cells, reductions, stem, c_stem, width, nodes)
        self.cells = nn.ModuleList(FastSearchCell(nodes, *layout) for layout in plan)
        self.out_channels = nodes * plan[-1][2]
        self._init_alphas()
        self._groups = source_groups(nodes)
        # Every edge belongs to exactly one group: one gather puts all of them in group order.
        order = [edge_offset(t) + s for src, tgt in self._groups for s in src for t in tgt]
        self.register_buffer("_edge_order", torch.tensor(order), persistent=False)
        # Same seed, same numbers: draw the initial values exactly as the plain supernet does (and
        # leave the generator where it would), so `impl` changes the speed of a search, not its start.
        torch.set_rng_state(rng)
        self.load_from_reference(Supernet(**self.config))

    def _mixes(self, alpha: Tensor) -> list[_GroupMix]:
        wt = self.op_weights(alpha, self.training).index_select(0, self._edge_order).t()
        sizes = [len(src) * len(tgt) for src, tgt in self._groups]
        return [_GroupMix(part, len(src), len(tgt)) for part, (src, tgt) in zip(wt.split(sizes, dim=1), self._groups)]

    def forward(self, x: Tensor) -> Tensor:
        kinds = {cell.reduction for cell in self.cells}
        mixes = {red: self._mixes(self.alpha_reduce if red else self.alpha_normal) for red in kinds}
        s0 = self.stem0(x)
        s1 = self.stem1(s0) if self.stem1 is not None else s0
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, mixes[cell.reduction])
        return s1

    # ------------------------------------------------------------------ conversion
    def reference_map(self) -> list[tuple[str, object, str]]:
        """``(fast key, index, reference key)`` for every state entry: ``fast[key][index]`` is the
        reference :class:`Supernet`'s ``reference key`` (index ``...`` for a whole tensor).

        Every reference entry appears at least once; the pools' BN statistics, which are shared
        by all edges leaving a source, appear once per edge.
        """
        links: list[tuple[str, object, str]] = []
        whole = ...
        for name, _ in list(self.stem0.named_parameters()) + list(self.stem0.named_buffers()):
            links.append((f"stem0.{name}", whole, f"stem0.{name}"))
        if self.stem1 is not None:
            for name, _ in list(self.stem1.named_parameters()) + list(self.stem1.named_buffers()):
                links.append((f"stem1.{name}", whole, f"stem1.{name}"))
        links += [("alpha_normal", whole, "alpha_normal"), ("alpha_reduce", whole, "alpha_reduce")]
        for k, cell in enumerate(self.cells):
            links += [(f"cells.{k}.{a}", i, f"cells.{k}.{b}") for a, i, b in _cell_links(cell)]
        return links

    def load_from_reference(self, reference: Supernet) -> "FastSupernet":
        """Copy a reference supernet's weights, α and BN statistics into this one (same configuration)."""
        mine, theirs = self.state_dict(), reference.state_dict()
        with torch.no_grad():
            for fast_key, index, ref_key in self.reference_map():
                mine[fast_key][index].copy_(theirs[ref_key])
        return self

    def to_reference(self) -> Supernet:
        """A plain :class:`Supernet` holding this one's weights, α and BN statistics."""
        reference = Supernet(**self.config).to(self.alpha_normal.device)
        mine, theirs = self.state_dict(), reference.state_dict()
        with torch.no_grad():
            for fast_key, index, ref_key in self.reference_map():
                theirs[ref_key].copy_(mine[fast_key][index])
        reference.train(self.training)
        return reference


def _bn_links(fast: str, block: slice | None, ref: str) -> list[tuple[str, object, str]]:
    stats = [(f"{fast}.{s}", block, f"{ref}.{s}") for s in _BN_STATS]
    return stats + [(f"{fast}.num_batches_tracked", ..., f"{ref}.num_batches_tracked")]


def _cell_links(cell: FastSearchCell) -> list[tuple[str, object, str]]:
    c = cell.channels
    links: list[tuple[str, object, str]] = []
    if cell.reduction_prev:
        links += [("pre0.0.weight", ..., "preprocess0.conv_1.weight"), ("pre0.1.weight", ..., "preprocess0.conv_2.weight")]
        links += _bn_links("pre_bn", slice(0, c), "preprocess0.bn")
    else:
        links += [("pre0.0.weight", ..., "preprocess0.op.1.weight")] + _bn_links("pre_bn", slice(0, c), "preprocess0.op.2")
    links += [("pre1.weight", ..., "preprocess1.op.1.weight")] + _bn_links("pre_bn", slice(c, 2 * c), "preprocess1.op.2")

    for g, ((sources, targets), group) in enumerate(zip(source_groups(cell.nodes), cell.groups)):
        e_total = len(sources) * len(targets)
        for local, (s_local, source) in enumerate((i, s) for i, s in enumerate(sources) for _ in targets):
            node = targets[local % len(targets)]
            ref = f"edges.{edge_offset(node) + source}.ops"
            fast = f"groups.{g}"
            block = slice(local * c, (local + 1) * c)
            for kind, op in enumerate(_STAGE1):
                first = f"{ref}.{_OP[op]}.op.0.op" if op in _STAGE2 else f"{ref}.{_OP[op]}.op"
                wide = slice((kind * e_total + local) * c, (kind * e_total + local + 1) * c)
                links += [(f"{fast}.dw1.{kind}.weight", block, f"{first}.1.weight"),
                          (f"{fast}.pw1.weight", wide, f"{first}.2.weight")] + _bn_links(f"{fast}.bn1", wide, f"{first}.3")
            for kind, op in enumerate(_STAGE2):
                second = f"{ref}.{_OP[op]}.op.1.op"
                wide = slice((kind * e_total + local) * c, (kind * e_total + local + 1) * c)
                links += [(f"{fast}.dw2.{kind}.weight", block, f"{second}.1.weight"),
                          (f"{fast}.pw2.weight", wide, f"{second}.2.weight")] + _bn_links(f"{fast}.bn2", wide, f"{second}.3")
            for kind, op in enumerate(("max_pool_3x3", "avg_pool_3x3")):  # after stage one's channels in bn1
                pool_block = (4 * e_total + kind * len(sources) + s_local) * c
                links += _bn_links(f"{fast}.bn1", slice(pool_block, pool_block + c), f"{ref}.{_OP[op]}.bn")
            if group.stride == 2:
                half = slice(local * c // 2, (local + 1) * c // 2)
                skip = f"{ref}.{_OP['skip_connect']}"
                links += [(f"{fast}.fr.0.weight", half, f"{skip}.conv_1.weight"),
                          (f"{fast}.fr.1.weight", half, f"{skip}.conv_2.weight")] + _bn_links(f"{fast}.fr_bn", block, f"{skip}.bn")
    return links
