"""Model parameters: every mechanism coefficient and phase threshold, typed.

These dataclasses are the single definition of the parameters. The core
(`sim.core.dynamics`) reads them as plain attributes; the Hydra face registers the
same classes in its ConfigStore, so `conf/params/*.yaml` is type-checked
against them. Rates are per year; the core scales them by the step length
``dt = 1 / steps_per_year``. Each numeric field is declared with :func:`param`:
its default, its allowed range and its meaning, kept in the field's metadata
(:data:`RANGES` collects the ranges; :func:`check_ranges` checks them).

The theory each group comes from is in DOMAIN.md §2 and in the docstring of
the mechanism that reads it (`sim/core/dynamics.py`).
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields, is_dataclass


def param(default: float, low: float, high: float, doc: str):
    """A parameter field: its default, its allowed range [low, high] and what it means (field metadata)."""
    return field(default=default, metadata={"range": (low, high), "doc": doc})


@dataclass
class Mechanisms:
    """Switches for ablations (DESIGN.md §3: every mechanism can be switched off)."""

    events: bool = True  # scheduled scenario events (DOMAIN.md §5)
    pressure: bool = True  # great powers allocate inducement/coercion/wedge/offers
    threat: bool = True  # threat perception and the security dilemma
    interaction: bool = True  # contact outcomes update trust and interaction density
    identity: bool = True  # bounded-confidence identity convergence on contact
    cultural_pull: bool = True  # institutions' cultural programmes pull members together
    disputes: bool = True  # militarised incidents and dispute settlement
    choice: bool = True  # posture and membership choice
    deepening: bool = True  # institutional deepening / erosion, endogenous founding
    regional_power: bool = True  # a strong state courts neighbours and backs partners


@dataclass
class PressureParams:
    """Great-power pressure (Mearsheimer 2001; DOMAIN.md §2)."""

    intensity: float = param(0.392, 0, 1, "global scale of great-power pressure")
    reaction: float = param(1.0, 0, 5, "extra push per unit of community cohesion against the power")
    inducement_rate: float = param(0.3, 0, 5, "/yr growth of dependence d_ig at full inducement")
    dependence_recovery: float = param(0.1, 0, 5, "/yr relaxation of d_ig back to its world value")
    coercion_threat: float = param(0.8, 0, 5, "threat added by full coercion")
    wedge_cut: float = param(0.6, 0, 5, "/yr fraction of member trust eroded at full wedge pressure")
    base_threat: float = param(0.5, 0, 1, "threat a capable, driven, near great power poses to a non-aligned state")
    counterweight: float = param(2.0, 0, 10, "shielding from a great power's leverage per unit of the other powers' security engagement")
    asymmetry: float = param(0.5, 0, 1, "weight of dependence d_ig in a great power's leverage over a state")
    diversification: float = param(0.3, 0, 10, "/yr dependence on g shed per unit of alternative inducement or partner investment")


@dataclass
class ThreatParams:
    """Threat perception: anarchy and the security dilemma (Waltz 1979; Herz 1950), filtered by trust and identity (Wendt 1992)."""

    adapt: float = param(0.5, 0, 10, "/yr speed at which perceived threat follows its signal")
    dilemma: float = param(0.6, 0, 1, "weight of a neighbour's capability in its threat")
    wendt: float = param(0.8, 0, 1, "how far trust and shared identity remove a neighbour's threat")
    shock_decay: float = param(0.3, 0, 10, "/yr decay of transnational shocks")


@dataclass
class InteractionParams:
    """Contact and reciprocity (Adler & Barnett 1998 condition ii; Keohane 1984; Axelrod & Keohane 1985)."""

    base_contact: float = param(0.3, 0, 50, "contacts per year between any two states")
    institution_contact: float = param(4.0, 0, 50, "extra contacts/yr through a fully deep shared institution")
    proximity_contact: float = param(1.0, 0, 50, "extra contacts/yr between neighbours")
    tie_contact: float = param(1.0, 0, 50, "extra contacts/yr from existing ties (saturating in density)")
    coop_base: float = param(0.142, -50, 50, "logit intercept of cooperating in a contact")
    coop_interest: float = param(2.0, 0, 50, "logit weight of mutual interest M_ij")
    coop_trust: float = param(3.82, 0, 50, "logit weight of trust T_ij")
    temptation: float = param(3.0, 0, 50, "logit weight of great-power wedge temptation")
    trust_gain: float = param(0.197, 0, 1, "alpha_c: share of the gap to 1 closed by a cooperative contact")
    trust_loss: float = param(0.15, 0, 1, "alpha_d: share of trust lost by a defection")
    density_decay: float = param(0.3, 0, 10, "/yr decay of interaction density I_ij")
    density_half: float = param(3.0, 1e-9, 100, "density at which the interaction index is 0.5 (> 0)")
    route_weight: float = param(0.3, 0, 1, "weight of route complementarity in mutual interest M_ij")


@dataclass
class IdentityParams:
    """Bounded-confidence identity dynamics (Deffuant et al. 2000; Wendt 1994)."""

    confidence: float = param(0.3, 0, 1, "epsilon: features move only when closer than this")
    convergence: float = param(0.01, 0, 0.5, "mu: share of the gap closed per contact")
    cultural_pull: float = param(0.02, 0, 5, "/yr pull toward the members' centre at full depth")
    summit_pull: float = param(0.005, 0, 1, "share of the gap to the participants' centre closed by a summit")


@dataclass
class DisputeParams:
    """Militarised incidents (Russett & Oneal 2001: shared institutions lower conflict)."""

    base_hazard: float = param(1.0, 0, 50, "incidents/yr at full dispute, zero trust, no institution")
    friction: float = param(0.5, 0, 50, "incidents/yr per unit of mutual threat (the security dilemma), zero trust, no institution")
    threat_weight: float = param(1.0, 0, 10, "hazard increase per unit of mutual threat")
    pacification: float = param(6.0, 0, 20, "log-hazard reduction per unit of pair trust (dependable expectations)")
    mediation: float = param(3.0, 0, 20, "log-hazard reduction per unit of shared-institution strength")
    incident_cut: float = param(0.4, 0, 1, "share of pair trust lost in an incident")
    escalation: float = param(0.05, 0, 1, "dispute intensity added by an incident")
    settle_rate: float = param(0.3, 0, 10, "/yr settlement of disputes under trust and shared institutions")


@dataclass
class ChoiceParams:
    """Posture and membership choice: logit over levels (DESIGN.md §3 step 6)."""

    review_rate: float = param(0.699, 0, 1000, "reviews per year (probability per step = rate*dt)")
    temperature: float = param(0.0415, 1e-6, 10, "logit temperature (> 0); lower = closer to best response")
    balance: float = param(6.0, 0, 10, "weight of a great power's threat, times the means to meet it, in balancing it")
    security: float = param(1.0, 0, 10, "weight of security gained from an institution")
    economy: float = param(0.6, 0, 10, "weight of routes and economy")
    identity: float = param(0.8, 0, 10, "weight of identity fit with the members")
    trust: float = param(0.8, 0, 10, "weight of trust in the members")
    sovereignty: float = param(0.972, 0, 10, "weight of sovereignty cost (borne by full members only)")
    commitment: float = param(0.539, 0, 10, "sovereignty cost of full membership even in a shallow institution")
    punishment: float = param(1.0, 0, 10, "weight of expected great-power punishment")
    offer: float = param(1.0, 0, 10, "weight of a great power's security offer")
    entry_cost: float = param(0.1, 0, 10, "fixed cost of full membership")
    switch_cost: float = param(0.3, 0, 10, "cost per level changed (inertia)")
    hedge_bonus: float = param(0.6, 0, 10, "value of hedging, scaled by sovereignty sensitivity")


@dataclass
class InstitutionParams:
    """Institutional deepening and founding (Keohane 1984; Adler & Barnett 1998 phases)."""

    deepen_rate: float = param(0.03, 0, 5, "/yr depth gained when members trust enough")
    deepen_trust: float = param(0.55, 0, 1, "mean member trust needed to deepen")
    erode_trust: float = param(0.3, 0, 1, "below this mean member trust depth erodes")
    erode_rate: float = param(0.03, 0, 5, "/yr depth lost when trust is low")
    veto_margin: float = param(0.3, 0, 1, "a member vetoes when sovereignty > its trust in members + margin")
    endogenous_founding: bool = True  # may the community institution found itself?
    found_trust: float = param(0.55, 0, 1, "pairwise trust among founders needed")
    min_founders: int = param(3, 2, 10_000, "founders needed")
    found_depth: float = param(0.1, 0, 1, "depth at founding")


@dataclass
class RegionalPowerParams:
    """A rising regional power acts outward (Harutyunyan et al. 2025; DOMAIN.md §2)."""

    threshold: float = param(0.3, 0, 1, "capability share from which a state acts as a regional power")
    courting: float = param(1.5, 0, 50, "extra contacts/yr with identity-close states, scaled by similarity")
    backing: float = param(0.15, 0, 1, "trust shift when it backs a partner in an incident")
    margin: float = param(0.2, 0, 1, "trust gap needed to take a side")
    watch: float = param(0.5, 0, 5, "extra great-power wedge on pairs involving a regional power")
    leadership: float = param(0.5, 0, 10, "utility a regional power draws from an institution no great power leads")


@dataclass
class PhaseParams:
    """Phase thresholds (Adler & Barnett 1998; Adler 1991 for loose/tight coupling)."""

    nascent_members: int = param(2, 2, 10_000, "members of the founded community institution")
    ascendant_trust: float = param(0.5, 0, 1, "mean member trust")
    ascendant_identity: float = param(0.75, 0, 1, "shared-identity index")
    ascendant_interaction: float = param(0.4, 0, 1, "interaction index")
    mature_peace: float = param(0.95, 0, 1, "peaceful-change expectation")
    mature_years: float = param(5.0, 0, 100, "years without an incident among members")
    mature_min_trust: float = param(0.5, 0, 1, "minimum pairwise member trust")
    mature_interest: float = param(0.4, 0, 1, "mutual-interest index")
    mature_identity: float = param(0.8, 0, 1, "shared-identity index (a collective identity, not only kinship)")
    tight_trust: float = param(0.75, 0, 1, "mean member trust for tight coupling")
    tight_depth: float = param(0.8, 0, 1, "institutional depth = collective security mechanisms")
    breadth: float = param(0.85, 0, 1, "share of the reference group still full members, for ascendant and mature")
    bloc_trust: float = param(0.5, 0, 1, "trust that links two states into one bloc (trust-network components)")


@dataclass
class CalibrationParams:
    """Where parameter values come from (DESIGN.md §6: posterior-predictive runs)."""

    source: str = "default"  # default: these values; posterior: one draw of the calibrated posterior per replicate


SOURCES = ("default", "posterior")


@dataclass
class Params:
    """All model parameters (the `params` config group)."""

    mechanisms: Mechanisms = field(default_factory=Mechanisms)
    pressure: PressureParams = field(default_factory=PressureParams)
    threat: ThreatParams = field(default_factory=ThreatParams)
    interaction: InteractionParams = field(default_factory=InteractionParams)
    identity: IdentityParams = field(default_factory=IdentityParams)
    disputes: DisputeParams = field(default_factory=DisputeParams)
    choice: ChoiceParams = field(default_factory=ChoiceParams)
    institutions: InstitutionParams = field(default_factory=InstitutionParams)
    regional_power: RegionalPowerParams = field(default_factory=RegionalPowerParams)
    phase: PhaseParams = field(default_factory=PhaseParams)
    calibration: CalibrationParams = field(default_factory=CalibrationParams)


def _ranges(cls, prefix: str = "") -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for f in fields(cls):
        if "range" in f.metadata:
            out[prefix + f.name] = f.metadata["range"]
        elif f.default_factory is not MISSING and is_dataclass(f.default_factory):
            out.update(_ranges(f.default_factory, f"{prefix}{f.name}."))
    return out


#: Allowed range of every numeric parameter, keyed by "group.name": read from the fields' metadata
#: (:func:`param`), the one place ranges are stated. The validator (:func:`check_ranges`), the test of
#: conf/params/default.yaml's comments and the browser page's sliders all read it.
RANGES: dict[str, tuple[float, float]] = _ranges(Params)


class ParamError(ValueError):
    """A parameter value outside its allowed range (one line, naming the key)."""


def flatten(obj, prefix: str = "") -> dict[str, object]:
    """Dotted name -> value for every leaf of a (nested) dataclass."""
    out: dict[str, object] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        if is_dataclass(value):
            out.update(flatten(value, key + "."))
        else:
            out[key] = value
    return out


def check_ranges(params: Params, prefix: str = "params.") -> Params:
    """Raise ParamError naming the first key outside its range; return params."""
    if params.calibration.source not in SOURCES:
        raise ParamError(f"{prefix}calibration.source={params.calibration.source} is not allowed; allowed: "
                         + ", ".join(SOURCES))
    for key, value in flatten(params).items():
        if key in RANGES:
            lo, hi = RANGES[key]
            if not lo <= value <= hi:
                raise ParamError(f"{prefix}{key}={value} is out of range; allowed [{lo:g}, {hi:g}]")
    return params


def with_overrides(params: Params, overrides: dict[str, object]) -> Params:
    """A copy of params with dotted keys ('pressure.intensity') replaced; unknown keys raise ParamError."""
    import copy

    out = copy.deepcopy(params)
    for key, value in overrides.items():
        *path, leaf = key.split(".")
        obj = out
        for part in path:
            if not hasattr(obj, part) or not is_dataclass(getattr(obj, part)):
                raise ParamError(f"params.{key}: unknown parameter group '{part}'")
            obj = getattr(obj, part)
        if not hasattr(obj, leaf) or is_dataclass(getattr(obj, leaf)):
            raise ParamError(f"params.{key}: unknown parameter '{leaf}'")
        current = getattr(obj, leaf)
        setattr(obj, leaf, type(current)(value))
    return out
