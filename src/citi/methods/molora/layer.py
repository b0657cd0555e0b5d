"""MOLoRA layer: a frozen nn.Linear plus N LoRA experts mixed by a dense token-level router.

    h = W0 x + sum_{i=1..N} g_i(x) * (alpha / r) * B_i A_i x,   g = softmax(R x) over N+1 slots

Slot 0 of the router is the null slot: it takes probability mass but adds nothing, so tokens
the router deems tool-unrelated get less LoRA. The routing loss (``module_routing_loss``) is
the squared coefficient of variation of the per-sample slot usage weighted by task type.

This file is the ONE copy of the layer code. The package imports it, and every saved MOLoRA
checkpoint carries it verbatim beside ``modeling_molora.py`` so that the folder loads with
``trust_remote_code=True`` on machines without citi. Hence: torch only, no citi imports, and
layers are recognised by an attribute (``molora_layer``), never by class, because a reloaded
layer's class lives in transformers' dynamic-module cache, not here.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

MARKER = "molora_layer"  # class attribute set to True on every MOLoRA layer
EPS = 1e-10  # the authors' epsilon in Var / (Mean^2 + eps)
# Layer knobs (a subset of the config block; beta and target_modules belong to the trainer/injector).
LAYER_KEYS = ("experts", "rank", "alpha", "dropout", "null_slot", "delta", "mask_padding")
# Parameter-name components per trainable part (what ``molora_parameters`` selects on).
PARTS = {"router": ("molora_router",), "experts": ("molora_A", "molora_B")}
ADAPTER_NAMES = tuple(n for names in PARTS.values() for n in names)


class MoloraLinear(nn.Linear):
    """Replaces one nn.Linear in place. Keeps the base ``weight``/``bias`` Parameters themselves
    (same objects, same names), so base weights stay untouched, state-dict keys of the base model
    do not change, and code that trains the full weight of a module (CITI stage 3) still finds it.

    Adapter parameters are float32 master weights whatever the base dtype (peft does the same:
    Adam on bf16 LoRA weights loses small updates); the forward casts them to the input's dtype so
    no float32 copy of the activations is kept.
    """

    molora_layer = True

    def __init__(self, base: nn.Linear, experts: int, rank: int, alpha: float, dropout: float = 0.0,
                 null_slot: bool = True, delta: float = 0.95, mask_padding: bool = False):
        nn.Module.__init__(self)  # not nn.Linear.__init__: it would allocate a second weight
        self.in_features, self.out_features = base.in_features, base.out_features
        self.weight = base.weight
        self.register_parameter("bias", base.bias)
        self.experts, self.rank, self.alpha = int(experts), int(rank), float(alpha)
        self.scale = self.alpha / self.rank
        self.null_slot, self.delta, self.mask_padding = bool(null_slot), float(delta), bool(mask_padding)
        self.dropout_p = float(dropout)
        device = base.weight.device
        slots = self.experts + 1 if self.null_slot else self.experts
        self.molora_router = nn.Linear(self.in_features, slots, bias=False, device=device, dtype=torch.float32)
        self.molora_A = nn.Parameter(torch.empty(self.experts, self.rank, self.in_features, device=device))
        self.molora_B = nn.Parameter(torch.empty(self.experts, self.out_features, self.rank, device=device))
        self.molora_dropout = nn.Dropout(self.dropout_p) if self.dropout_p > 0 else nn.Identity()
        self.molora_gates = None  # [..., slots] from the last forward, graph attached, for the routing loss
        self.reset_molora_parameters()
        self.train(base.training)  # a new module starts in training mode; keep the model's (eval: no dropout)

    def reset_molora_parameters(self) -> None:
        with torch.no_grad():
            for a in self.molora_A:  # per expert: fan_in must be in_features, not rank * in_features
                nn.init.kaiming_uniform_(a, a=math.sqrt(5))
            nn.init.zeros_(self.molora_B)  # B = 0: the layer starts as the base layer exactly
            nn.init.kaiming_uniform_(self.molora_router.weight, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.weight, self.bias)
        dt = x.dtype
        logits = F.linear(x, self.molora_router.weight.to(dt))
        gates = torch.softmax(logits.float(), dim=-1)  # softmax in float32: it feeds a ratio loss
        self.molora_gates = gates
        used = gates[..., 1:] if self.null_slot else gates  # the null slot never reaches the output
        # All experts at once: stacked A as one [N*r, d_in] matrix, B as one [d_out, N*r] matrix,
        # the gate scaling each expert's r columns in between. Two GEMMs, no loop over experts.
        a = self.molora_A.to(dt).reshape(self.experts * self.rank, self.in_features)
        b = self.molora_B.to(dt).permute(1, 0, 2).reshape(self.out_features, self.experts * self.rank)
        h = F.linear(self.molora_dropout(x), a).unflatten(-1, (self.experts, self.rank))
        h = (h * (used.to(dt) * self.scale).unsqueeze(-1)).flatten(-2)
        return out + F.linear(h, b)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"experts={self.experts}, rank={self.rank}, alpha={self.alpha}, null_slot={self.null_slot}")


def layer_settings(block: dict) -> dict:
    """The layer knobs out of a config block (``MoloraConfig.to_dict()`` or config.json's "molora")."""
    missing = [k for k in LAYER_KEYS if k not in block]
    if missing:
        raise KeyError(f"molora config block lacks {missing}")
    return {k: block[k] for k in LAYER_KEYS}


def inject_layers(model: nn.Module, targets, settings: dict) -> nn.Module:
    """Swap each named nn.Linear of ``model`` for a MoloraLinear (in place)."""
    for name in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        base = getattr(parent, child, None)
        if is_molora_layer(base):
            raise ValueError(f"module {name!r} already is a MOLoRA layer")
        if not isinstance(base, nn.Linear):
            raise ValueError(f"module {name!r} is {type(base).__name__}, not nn.Linear")
        setattr(parent, child, MoloraLinear(base, **settings))
    return model


def is_molora_layer(module) -> bool:
    return getattr(module, MARKER, False) is True


def molora_layers(model: nn.Module) -> list:
    return [(name, m) for name, m in model.named_modules() if is_molora_layer(m)]


def molora_parameters(model: nn.Module, part: str) -> list:
    """[(name, param)] of the routers (``part="router"``) or of the experts' A and B (``"experts"``)."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {sorted(PARTS)}, got {part!r}")
    keep = PARTS[part]
    return [(n, p) for n, p in model.named_parameters() if any(k in n.split(".") for k in keep)]


def module_routing_loss(gates: torch.Tensor, task_type: torch.Tensor, attention_mask=None,
                        delta: float = 0.95, mask_padding: bool = False) -> torch.Tensor:
    """L_r of one module from its gates [B, T, N+1] (slot 0 = null slot).

    u_n = sum over tokens of g(x_{n,t}); with ``mask_padding`` padded tokens are left out (the
    authors summed over all positions). Weights: tool [1+d, 1-d, ...], general [1-d, 1+d, ...].
    """
    g = gates.float()
    if mask_padding:
        if attention_mask is None:
            raise ValueError("mask_padding=True needs the attention mask")
        g = g * attention_mask.to(device=g.device, dtype=g.dtype).unsqueeze(-1)
    return usage_routing_loss(g.sum(dim=1), task_type, delta)


def usage_routing_loss(usage: torch.Tensor, task_type: torch.Tensor, delta: float = 0.95) -> torch.Tensor:
    """L_r of one module from its per-sample slot usage u [B, N+1] (gates summed over tokens)."""
    tool_w = torch.full((usage.shape[-1],), 1.0 - delta, device=usage.device)
    tool_w[0] = 1.0 + delta
    is_tool = task_type.to(usage.device).bool().unsqueeze(-1)
    z = torch.where(is_tool, tool_w, 2.0 - tool_w).mul(usage).flatten()  # general = 2 - tool weights
    # Unbiased (Bessel-corrected) variance, torch.var's default, as the authors' LoRAMoE-style
    # cv_squared calls it. It differs from the population variance only by the constant factor
    # n/(n-1) for n = B*(N+1) values, i.e. a rescaling of beta at a fixed batch size.
    return z.var() / (z.mean() ** 2 + EPS)


def routing_usage(model: nn.Module) -> dict:
    """{layer name: slot usage [B, N+1]} of the null-slot layers from their last forward, every
    position counted: for a batch without padding, what ``routing_loss`` sums either way."""
    return {name: layer.molora_gates.float().sum(dim=1) for name, layer in molora_layers(model)
            if layer.null_slot and layer.molora_gates is not None}


def routing_loss_from_usage(model: nn.Module, usages: dict, task_type: torch.Tensor) -> torch.Tensor:
    """Sum of L_r over the layers from usages gathered over several forwards (rows of one batch run
    at their own lengths), equal to ``routing_loss`` of the padded batch when padding is masked."""
    layers = dict(molora_layers(model))
    total = None
    for name, usage in usages.items():
        loss = usage_routing_loss(usage, task_type, layers[name].delta)
        total = loss if total is None else total + loss
    return total if total is not None else torch.zeros((), device=next(model.parameters()).device)


def routing_loss(model: nn.Module, task_type: torch.Tensor, attention_mask=None) -> torch.Tensor:
    """Sum of L_r over MOLoRA layers, from the gates each stored in its last forward.

    A 0-tensor when there is no null slot (standard N-way router: the w/o L_r ablation).
    """
    total = None
    for name, layer in molora_layers(model):
        if not layer.null_slot:
            continue
        gates = layer.molora_gates
        if gates is None:
            raise RuntimeError(f"MOLoRA layer {name!r} has no gates: run a forward pass first")
        if (layer.training and torch.is_grad_enabled() and layer.molora_router.weight.requires_grad
                and not gates.requires_grad):
            raise RuntimeError(f"MOLoRA layer {name!r}: its gates carry no graph, so the routing loss would "
                               "train nothing (reentrant gradient checkpointing? use use_reentrant=False)")
        if gates.dim() != 3 or gates.shape[0] != task_type.shape[0]:
            raise ValueError(f"MOLoRA layer {name!r}: gates {tuple(gates.shape)} do not match "
                             f"task_type of {task_type.shape[0]} samples")
        if attention_mask is not None and tuple(attention_mask.shape) != tuple(gates.shape[:2]):
            raise ValueError(f"MOLoRA layer {name!r}: gates {tuple(gates.shape)} do not match "
                             f"attention_mask {tuple(attention_mask.shape)}")
        loss = module_routing_loss(gates, task_type, attention_mask, layer.delta, layer.mask_padding)
        total = loss if total is None else total + loss
    if total is None:
        device = next(model.parameters()).device
        return torch.zeros((), device=device)
    return total


@torch.no_grad()
def router_mass(model: nn.Module, attention_mask=None) -> dict:
    """{layer name: mean gate per slot over non-pad tokens [slots]} from each layer's last forward."""
    out = {}
    for name, layer in molora_layers(model):
        gates = layer.molora_gates
        if gates is None:
            raise RuntimeError(f"MOLoRA layer {name!r} has no gates: run a forward pass first")
        g = gates.float().reshape(-1, gates.shape[-1])
        if attention_mask is not None:
            g = g[attention_mask.reshape(-1).to(g.device).bool()]
        out[name] = g.mean(dim=0).cpu()
    return out
