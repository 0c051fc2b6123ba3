"""Requests and results of the inventory activities (activities/inventory.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ReserveRequest:
    key: str
    org_id: str
    sku: str
    case_id: str


@dataclass
class ReserveResult:
    reserved: bool


@dataclass
class SettleRequest:
    key: str
