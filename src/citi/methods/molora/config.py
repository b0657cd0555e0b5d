"""Every MOLoRA knob in one dataclass; serialised into config.json ("molora") beside the weights."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from ...errors import ConfigError


@dataclass
class MoloraConfig:
    experts: int = 4  # N LoRA experts per module
    rank: int = 8  # r of every expert
    alpha: float = 2.0  # expert output scaled by alpha / r (0.25 in the paper)
    dropout: float = 0.0  # dropout on the experts' input (not on the router's)
    null_slot: bool = True  # router has N+1 outputs, slot 0 unused; False = N-way router, no routing loss
    delta: float = 0.95  # routing-loss weights: tool [1+d, 1-d, ...], general [1-d, 1+d, ...]
    beta: float = 0.01  # L = CE + beta * sum_modules L_r (read by the trainer)
    mask_padding: bool = False  # False = authors (padding counts in u_n); True leaves padding out
    target_modules: list[str] = field(default_factory=list)  # full module names, e.g. model.layers.3.mlp.up_proj

    def __post_init__(self):
        self.target_modules = list(self.target_modules)
        checks = {
            "experts": self.experts >= 1, "rank": self.rank >= 1, "alpha": self.alpha > 0,
            "dropout": 0.0 <= self.dropout < 1.0, "delta": 0.0 <= self.delta <= 1.0, "beta": self.beta >= 0,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(f"molora.{bad[0]}: invalid value {getattr(self, bad[0])!r}")
        if len(set(self.target_modules)) != len(self.target_modules):
            raise ConfigError("molora.target_modules: duplicate module names")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, where: str = "molora") -> "MoloraConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(known)}")
        return cls(**data)
