"""The price catalog: what one host-hour (or VPN-connection hour) costs.

Three sources, one catalog:

* **AWS**: offer files of the public AWS price list (``AmazonEC2``, ``AmazonVPC``), in the price
  list's own JSON shape, trimmed to the on-demand Linux prices of the instance types in
  ``data/instance_types.yml`` and the VPN connection hour. A recorded copy ships in
  ``hybridburst/data/prices``; ``refresh`` extracts the same from freshly downloaded offer
  files into ``prices_dir()``, whose files then take precedence.
* **OpenStack**: flavor prices from configuration (``rates.yml``), since each OpenStack cloud
  has its own contract.
* **local**: nominal prices for the local demo's ``local.*`` types (``rates.yml``).

``rates.yml`` ships with defaults; ``prices_dir()/rates.yml`` overrides them key by key.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .. import catalog as instance_catalog
from .. import yamlsrc
from ..errors import HybridburstError, InputError
from ..workspace import state_root
from .money import BillingRule, to_decimal

OFFER_CODES = ("AmazonEC2", "AmazonVPC")
VPN_ITEM = "vpn-connection"
NETWORK_ITEM = "network"
RATES_FILE = "rates.yml"

# Older offer files lack attributes.regionCode; map the location names we price.
_LOCATIONS = {
    "US East (N. Virginia)": "us-east-1",
    "US East (Ohio)": "us-east-2",
    "US West (Oregon)": "us-west-2",
    "EU (Frankfurt)": "eu-central-1",
    "EU (Ireland)": "eu-west-1",
    "Asia Pacific (Tokyo)": "ap-northeast-1",
    "Asia Pacific (Singapore)": "ap-southeast-1",
    "Asia Pacific (Hong Kong)": "ap-east-1",
}


class PriceError(HybridburstError):
    """A price the catalog does not have (exit status 1): refresh the price list or rates."""


@dataclass(frozen=True)
class Price:
    provider: str
    region: str | None  # None: the same in every region (configured rates)
    item: str  # an instance type, or VPN_ITEM / NETWORK_ITEM
    hourly: Decimal
    currency: str
    source: str


@dataclass(frozen=True)
class PriceSource:
    """Where prices came from, shown under every estimate and settlement."""

    name: str
    path: str
    published: str | None = None

    def describe(self) -> str:
        when = f", published {self.published}" if self.published else ""
        return f"{self.name}{when} ({self.path})"


@dataclass
class PriceCatalog:
    prices: dict[tuple[str, str | None, str], Price] = field(default_factory=dict)
    billing: dict[str, BillingRule] = field(default_factory=dict)
    network_units: dict[str, int] = field(default_factory=dict)
    sources: list[PriceSource] = field(default_factory=list)

    def add(self, price: Price) -> None:
        self.prices[(price.provider, price.region, price.item)] = price

    def find(self, provider: str, region: str | None, item: str) -> Price | None:
        return self.prices.get((provider, region, item)) or self.prices.get((provider, None, item))

    def instance_price(self, provider: str, region: str | None, instance_type: str) -> Price:
        price = self.find(provider, region, instance_type)
        if price is None:
            where = f" in {region}" if region else ""
            known = sorted(
                {r for (p, r, i) in self.prices if p == provider and i == instance_type and r}
            )
            hint = f" (priced in: {', '.join(known)})" if known else ""
            raise PriceError(
                f"no {provider} price for {instance_type}{where}{hint}: "
                + _how_to_fix(provider)
            )
        return price

    def network_price(self, provider: str, region: str | None) -> tuple[Price, int] | None:
        """The per-event network charge (AWS: VPN connections) and how many of it."""
        units = self.network_units.get(provider, 0)
        if units == 0:
            return None
        item = VPN_ITEM if provider == "aws" else NETWORK_ITEM
        price = self.find(provider, region, item)
        if price is None:
            raise PriceError(f"no {provider} price for {item} in {region}: " + _how_to_fix(provider))
        if price.hourly == 0:
            return None
        return price, units

    def rule(self, provider: str) -> BillingRule:
        return self.billing.get(provider, BillingRule())

    def rows(self) -> list[Price]:
        return sorted(
            self.prices.values(), key=lambda p: (p.provider, p.region or "", p.item)
        )


def _how_to_fix(provider: str) -> str:
    if provider == "aws":
        return "refresh the AWS price list (`hybridburst prices refresh OFFER_FILE`)"
    return f"set it under {provider!r} in {prices_dir() / RATES_FILE}"


def prices_dir() -> Path:
    """``$HYBRIDBURST_PRICES_DIR``, else ``<state dir>/prices``: the operator's price files."""
    explicit = os.environ.get("HYBRIDBURST_PRICES_DIR")
    return Path(explicit).resolve() if explicit else state_root() / "prices"


# ---------------------------------------------------------------- AWS offer files


def _is_linux_on_demand_box(attributes: Mapping[str, Any]) -> bool:
    """The one product per type and region that an on-demand Linux instance is billed as."""
    return (
        attributes.get("operatingSystem") == "Linux"
        and attributes.get("tenancy") == "Shared"
        and attributes.get("preInstalledSw", "NA") == "NA"
        and attributes.get("capacitystatus", "Used") == "Used"
        and attributes.get("licenseModel", "No License required") == "No License required"
        and attributes.get("operation", "RunInstances") == "RunInstances"
    )


def _classify(product: Mapping[str, Any]) -> tuple[str, str] | None:
    """(region, item) of a product hybridburst prices, else None."""
    attributes = product.get("attributes") or {}
    region = attributes.get("regionCode") or _LOCATIONS.get(attributes.get("location", ""))
    if not region:
        return None
    family = product.get("productFamily")
    if family == "Compute Instance" and _is_linux_on_demand_box(attributes):
        return region, str(attributes.get("instanceType"))
    usage = str(attributes.get("usagetype", ""))
    if family == "Cloud Connectivity" and usage.split(":")[0].endswith("VPN-Usage-Hours"):
        return region, VPN_ITEM
    return None


def _hourly_usd(terms: Mapping[str, Any], source: str, sku: str) -> Decimal:
    for term in terms.values():
        for dimension in (term.get("priceDimensions") or {}).values():
            if dimension.get("unit") == "Hrs" and dimension.get("beginRange", "0") == "0":
                usd = (dimension.get("pricePerUnit") or {}).get("USD")
                try:
                    return to_decimal(usd, f"{sku} pricePerUnit.USD")
                except ValueError as exc:
                    raise InputError(source, f"$.terms.OnDemand.{sku}", str(exc)) from exc
    raise InputError(source, f"$.terms.OnDemand.{sku}", "no hourly USD on-demand price")


def _check_offer(doc: Any, source: str) -> None:
    if not isinstance(doc, dict):
        raise InputError(source, "$", "not an AWS price list offer file (expected an object)")
    for key in ("offerCode", "publicationDate", "products"):
        if key not in doc:
            raise InputError(source, f"$.{key}", "missing: not an AWS price list offer file")
    if not isinstance((doc.get("terms") or {}).get("OnDemand"), dict):
        raise InputError(source, "$.terms.OnDemand", "missing: no on-demand terms in this offer")


def parse_offer(doc: Any, source: str) -> tuple[list[Price], PriceSource]:
    """The prices hybridburst uses from one offer file (whole or trimmed)."""
    _check_offer(doc, source)
    label = f"AWS price list {doc['offerCode']} {doc.get('version', '')}".strip()
    found: dict[tuple[str, str], Price] = {}
    on_demand = doc["terms"]["OnDemand"]
    for sku, product in doc["products"].items():
        what = _classify(product)
        if what is None or sku not in on_demand:
            continue
        region, item = what
        hourly = _hourly_usd(on_demand[sku], source, sku)
        previous = found.get(what)
        if previous is not None and previous.hourly != hourly:
            raise InputError(
                source, f"$.products.{sku}",
                f"two different on-demand prices for {item} in {region}: "
                f"{previous.hourly} and {hourly}",
            )
        found[what] = Price("aws", region, item, hourly, "USD", label)
    return list(found.values()), PriceSource(label, source, str(doc["publicationDate"]))


def trim_offer(
    doc: Any, source: str, *, instance_types: Iterable[str], regions: Iterable[str] | None = None
) -> dict[str, Any]:
    """An offer file with only the products (and their on-demand terms) hybridburst uses."""
    _check_offer(doc, source)
    wanted = set(instance_types) | {VPN_ITEM}
    region_set = set(regions) if regions else None
    products: dict[str, Any] = {}
    terms: dict[str, Any] = {}
    for sku, product in doc["products"].items():
        what = _classify(product)
        if what is None or what[1] not in wanted or sku not in doc["terms"]["OnDemand"]:
            continue
        if region_set is not None and what[0] not in region_set:
            continue
        products[sku] = product
        terms[sku] = doc["terms"]["OnDemand"][sku]
    head = {k: doc[k] for k in ("formatVersion", "disclaimer", "offerCode", "version") if k in doc}
    return {**head, "publicationDate": doc["publicationDate"], "products": products,
            "terms": {"OnDemand": terms}}


def read_offer(path: Path) -> Any:
    """Read an offer file. A whole-region EC2 offer is a few hundred MB: this takes RAM."""
    try:
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as exc:
        raise InputError(str(path), None, f"cannot read: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise InputError(str(path), exc.lineno, f"not valid JSON: {exc.msg}") from exc


def refresh(
    files: Iterable[Path], directory: Path | None = None, regions: Iterable[str] | None = None
) -> list[Path]:
    """Extract our prices from downloaded offer files into ``directory`` (``prices_dir()``).

    Files of one offer code (e.g. one EC2 file per region) merge into one trimmed file,
    which replaces that offer's earlier prices. Its publicationDate is the oldest of the
    inputs, so the date shown never overstates how fresh the prices are.
    """
    directory = directory or prices_dir()
    types = sorted(instance_catalog.instance_types("aws"))
    merged: dict[str, dict[str, Any]] = {}
    for path in files:
        trimmed = trim_offer(read_offer(path), str(path), instance_types=types, regions=regions)
        code = str(trimmed["offerCode"])
        if code not in OFFER_CODES:
            raise InputError(str(path), "$.offerCode",
                             f"offer {code!r} has no prices hybridburst uses "
                             f"(expected one of {', '.join(OFFER_CODES)})")
        if not trimmed["products"]:
            raise InputError(str(path), "$.products",
                             "no on-demand Linux price of our instance types or VPN in this file")
        into = merged.setdefault(code, trimmed)
        if into is not trimmed:
            into["products"].update(trimmed["products"])
            into["terms"]["OnDemand"].update(trimmed["terms"]["OnDemand"])
            into["publicationDate"] = min(into["publicationDate"], trimmed["publicationDate"])
    written = []
    directory.mkdir(parents=True, exist_ok=True)
    for code, doc in merged.items():
        target = directory / f"{code}.json"
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{code}-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(doc, handle, indent=1)
            handle.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        written.append(target)
    clear_cache()
    return written


# ---------------------------------------------------------------- configured rates


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


class _Rates:
    """The merged rates and the files they came from, so an error names file and line."""

    def __init__(self, docs: list[yamlsrc.SourcedDocument]) -> None:
        self.docs = docs
        self.data: dict[str, Any] = {}
        for doc in docs:
            self.data = _merge(self.data, doc.data)

    def error(self, path: tuple[str, ...], problem: str) -> InputError:
        """The error at ``path`` in the last file that sets it (the operator's over ours)."""
        for doc in reversed(self.docs):
            if any(path[:n] in doc.lines for n in range(len(path), 0, -1)):
                return doc.error(path, problem)
        return self.docs[-1].error((), problem)


def _whole(rates: _Rates, path: tuple[str, ...], value: Any, least: int) -> int:
    """A count of seconds or connections: an int (not 4.0, not true), at least ``least``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise rates.error(path, f"{'.'.join(path)}: {value!r} is not a whole number >= {least}")
    return value


def _apply_rates(cat: PriceCatalog, rates: _Rates) -> None:
    for provider, conf in rates.data.items():
        if provider not in ("aws", "openstack", "local"):
            raise rates.error((provider,), f"{provider}: unknown provider (aws, openstack, local)")
        if not isinstance(conf, Mapping):
            raise rates.error((provider,), f"{provider}: expected a mapping")
        billing = conf.get("billing") or {}
        if not isinstance(billing, Mapping):
            raise rates.error((provider, "billing"), f"{provider}.billing: expected a mapping")
        cat.billing[provider] = BillingRule(
            _whole(rates, (provider, "billing", "minimum_seconds"),
                   billing.get("minimum_seconds", 60), 0),
            _whole(rates, (provider, "billing", "increment_seconds"),
                   billing.get("increment_seconds", 1), 1))
        if provider == "aws":
            cat.network_units["aws"] = _whole(rates, (provider, "vpn_connections_per_event"),
                                              conf.get("vpn_connections_per_event", 1), 0)
            continue
        currency = conf.get("currency", "USD")
        if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
            raise rates.error((provider, "currency"),
                              f"{provider}.currency: {currency!r} is not a currency code (USD)")
        key = "flavors" if provider == "openstack" else "instance_types"
        items = conf.get(key) or {}
        if not isinstance(items, Mapping):
            raise rates.error((provider, key), f"{provider}.{key}: expected a mapping")
        for item, value in items.items():
            try:
                hourly = to_decimal(value, f"{provider}.{key}.{item}")
            except ValueError as exc:
                raise rates.error((provider, key, item), str(exc)) from exc
            cat.add(Price(provider, None, str(item), hourly, currency,
                          f"rates ({rates.docs[-1].source})"))
        try:
            network = to_decimal(conf.get("network_hourly", "0"), f"{provider}.network_hourly")
        except ValueError as exc:
            raise rates.error((provider, "network_hourly"), str(exc)) from exc
        cat.add(Price(provider, None, NETWORK_ITEM, network, currency,
                      f"rates ({rates.docs[-1].source})"))
        cat.network_units[provider] = 1 if network > 0 else 0


def _read_yaml(path: Path) -> yamlsrc.SourcedDocument:
    doc = yamlsrc.load(path)
    if not isinstance(doc.data, dict):
        raise doc.error((), "expected a mapping of providers")
    return doc


# ---------------------------------------------------------------- the catalog


def _shipped(name: str) -> Path:
    return Path(str(resources.files("hybridburst").joinpath("data/prices", name)))


def load_catalog(directory: Path | None = None) -> PriceCatalog:
    """The catalog from the shipped files, overridden by those in ``directory``
    (``prices_dir()`` when None). Read once per directory; ``clear_cache()`` after a change."""
    return _load_catalog(directory or prices_dir())


def clear_cache() -> None:
    _load_catalog.cache_clear()


@cache
def _load_catalog(directory: Path) -> PriceCatalog:
    cat = PriceCatalog()
    for code in OFFER_CODES:
        path = directory / f"{code}.json"
        if not path.is_file():
            path = _shipped(f"{code}.json")
        prices, source = parse_offer(read_offer(path), str(path))
        for price in prices:
            cat.add(price)
        cat.sources.append(source)
    docs = [_read_yaml(_shipped(RATES_FILE))]
    operator_rates = directory / RATES_FILE
    if operator_rates.is_file():
        docs.append(_read_yaml(operator_rates))
    rates = _Rates(docs)
    _apply_rates(cat, rates)
    cat.sources.append(PriceSource("configured rates (openstack, local)", docs[-1].source))
    return cat


def oldest_publication(cat: PriceCatalog) -> dt.datetime | None:
    dates = []
    for source in cat.sources:
        if source.published:
            try:
                dates.append(dt.datetime.fromisoformat(source.published.replace("Z", "+00:00")))
            except ValueError:
                continue
    return min(dates) if dates else None
