"""Costs: the estimate before an event, the settlement after it, and the reaper.

``estimate(plan)`` is what ``hybridburst plan`` shows; ``enforce_budget`` is what ``up``
calls (``--over-budget-ok`` to go ahead anyway). Money rules are in ``money``.
"""

from __future__ import annotations

from .estimate import BudgetCheck, Estimate, OverBudget, check_budget, enforce_budget, estimate
from .money import BillingRule, round_money
from .prices import PriceCatalog, PriceError, load_catalog
from .settlement import Settlement, settle, settle_event

__all__ = [
    "BillingRule",
    "BudgetCheck",
    "Estimate",
    "OverBudget",
    "PriceCatalog",
    "PriceError",
    "Settlement",
    "check_budget",
    "enforce_budget",
    "estimate",
    "load_catalog",
    "round_money",
    "settle",
    "settle_event",
]
