"""The price catalog: the recorded AWS offer files, the refresh from a downloaded offer
file, and configured rates for OpenStack and the local demo."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from hybridburst import catalog as instance_catalog
from hybridburst.costs import prices
from hybridburst.errors import InputError

REGIONS = ("us-east-1", "eu-central-1", "ap-northeast-1", "ap-southeast-1")


def test_shipped_catalog_prices_every_supported_type_in_every_region() -> None:
    cat = prices.load_catalog()
    for region in REGIONS:
        for instance_type in instance_catalog.instance_types("aws"):
            assert cat.instance_price("aws", region, instance_type).hourly > 0
        vpn, units = cat.network_price("aws", region) or (None, 0)
        assert vpn is not None and vpn.item == prices.VPN_ITEM and units == 1
    for provider in ("local", "openstack"):
        for instance_type in instance_catalog.instance_types(provider):
            assert cat.instance_price(provider, None, instance_type).hourly > 0
        assert cat.network_price(provider, None) is None


def test_shipped_figures_and_their_date() -> None:
    cat = prices.load_catalog()
    us = {t: cat.instance_price("aws", "us-east-1", t).hourly
          for t in instance_catalog.instance_types("aws")}
    assert us == {"c6i.large": Decimal("0.085"), "c6i.xlarge": Decimal("0.17"),
                  "m6i.large": Decimal("0.096"), "m6i.xlarge": Decimal("0.192"),
                  "r6i.large": Decimal("0.126")}
    assert cat.find("aws", "ap-northeast-1", prices.VPN_ITEM).hourly == Decimal("0.048")
    assert cat.instance_price("local", None, "local.medium").hourly == Decimal("0.02")
    assert cat.rule("aws").minimum_seconds == 60
    published = {s.name: s.published for s in cat.sources}
    assert published["AWS price list AmazonEC2 20240601000000"] == "2024-06-01T00:00:00Z"
    assert str(prices.oldest_publication(cat)) == "2024-06-01 00:00:00+00:00"


def test_shipped_files_have_the_price_list_shape() -> None:
    directory = Path(prices._shipped("AmazonEC2.json")).parent
    for code in prices.OFFER_CODES:
        doc = json.loads((directory / f"{code}.json").read_text())
        assert doc["offerCode"] == code and doc["formatVersion"] == "v1.0"
        for sku, product in doc["products"].items():
            terms = doc["terms"]["OnDemand"][sku]
            (term,) = terms.values()
            (dimension,) = term["priceDimensions"].values()
            assert product["sku"] == sku and dimension["unit"] == "Hrs"
            assert Decimal(dimension["pricePerUnit"]["USD"]) > 0


def test_missing_price_names_what_and_how_to_fix() -> None:
    cat = prices.load_catalog()
    with pytest.raises(prices.PriceError, match=r"no aws price for c6i.large in sa-east-1 "
                       r"\(priced in: ap-northeast-1, ap-southeast-1, eu-central-1, us-east-1\)"
                       r".*hybridburst prices refresh"):
        cat.instance_price("aws", "sa-east-1", "c6i.large")
    with pytest.raises(prices.PriceError, match=r"openstack.*rates\.yml"):
        cat.instance_price("openstack", None, "s9.huge")


def _product(sku: str, instance_type: str, region: str, **attrs: str) -> dict[str, Any]:
    attributes = {"servicecode": "AmazonEC2", "instanceType": instance_type,
                  "regionCode": region, "location": "x", "operatingSystem": "Linux",
                  "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used",
                  "licenseModel": "No License required", "operation": "RunInstances",
                  "usagetype": f"BoxUsage:{instance_type}"}
    attributes.update(attrs)
    return {"sku": sku, "productFamily": "Compute Instance", "attributes": attributes}


def _term(sku: str, usd: str, unit: str = "Hrs") -> dict[str, Any]:
    return {f"{sku}.JRTCKXETXF": {"offerTermCode": "JRTCKXETXF", "sku": sku, "priceDimensions": {
        f"{sku}.JRTCKXETXF.6YS6EN2CT7": {"unit": unit, "beginRange": "0", "endRange": "Inf",
                                         "pricePerUnit": {"USD": usd}}}}}


def downloaded_offer(region: str = "us-east-1", date: str = "2026-10-01T12:00:00Z",
                     c6i: str = "0.0900000000") -> dict[str, Any]:
    """A (small) stand-in for a downloaded AmazonEC2 offer file, with the noise a real one
    has around the one product per type that an on-demand Linux instance is billed as."""
    products = {
        "OURS1": _product("OURS1", "c6i.large", region),
        "OURS2": _product("OURS2", "m6i.large", region),
        "WIN": _product("WIN", "c6i.large", region, operatingSystem="Windows"),
        "DED": _product("DED", "c6i.large", region, tenancy="Dedicated"),
        "SQL": _product("SQL", "c6i.large", region, preInstalledSw="SQL Web"),
        "CRES": _product("CRES", "c6i.large", region, capacitystatus="UnusedCapacityReservation"),
        "T3": _product("T3", "t3.micro", region),
        "EBS": {"sku": "EBS", "productFamily": "Storage",
                "attributes": {"regionCode": region, "volumeApiName": "gp3"}},
    }
    on_demand = {sku: _term(sku, "9.9990000000") for sku in products}
    on_demand["OURS1"] = _term("OURS1", c6i)
    on_demand["OURS2"] = _term("OURS2", "0.1000000000")
    if region != "us-east-1":  # SKUs are unique across regions
        products = {f"{region}-{k}": {**v, "sku": f"{region}-{k}"} for k, v in products.items()}
        on_demand = {f"{region}-{k}": v for k, v in on_demand.items()}
    return {"formatVersion": "v1.0", "disclaimer": "d", "offerCode": "AmazonEC2",
            "version": date.replace("-", "")[:8], "publicationDate": date,
            "products": products,
            "terms": {"OnDemand": on_demand, "Reserved": {"OURS1": {"x": {}}}}}


def test_trim_keeps_only_our_linux_on_demand_products() -> None:
    trimmed = prices.trim_offer(downloaded_offer(), "offer.json",
                                instance_types=instance_catalog.instance_types("aws"))
    assert sorted(trimmed["products"]) == ["OURS1", "OURS2"]
    assert sorted(trimmed["terms"]) == ["OnDemand"]
    assert trimmed["publicationDate"] == "2026-10-01T12:00:00Z"
    found, source = prices.parse_offer(trimmed, "t.json")
    assert {(p.region, p.item, p.hourly) for p in found} == {
        ("us-east-1", "c6i.large", Decimal("0.09")), ("us-east-1", "m6i.large", Decimal("0.1"))}
    assert source.published == "2026-10-01T12:00:00Z"


def test_refresh_replaces_the_shipped_prices(tmp_path: Path) -> None:
    first = tmp_path / "us-east-1.json"
    first.write_text(json.dumps(downloaded_offer()))
    second = tmp_path / "eu.json"
    second.write_text(json.dumps(downloaded_offer("eu-central-1", "2026-09-15T00:00:00Z",
                                                  "0.1010000000")))

    written = prices.refresh([first, second])

    assert written == [prices.prices_dir() / "AmazonEC2.json"]
    cat = prices.load_catalog()
    assert cat.instance_price("aws", "us-east-1", "c6i.large").hourly == Decimal("0.09")
    assert cat.instance_price("aws", "eu-central-1", "c6i.large").hourly == Decimal("0.101")
    # the refresh is the offer's whole truth now: a region it lacks has no price
    with pytest.raises(prices.PriceError):
        cat.instance_price("aws", "ap-northeast-1", "c6i.large")
    # the VPC offer was not refreshed: the shipped one still answers
    assert cat.find("aws", "us-east-1", prices.VPN_ITEM).hourly == Decimal("0.05")
    # the oldest input date is the one shown
    ec2 = next(s for s in cat.sources if "AmazonEC2" in s.name)
    assert ec2.published == "2026-09-15T00:00:00Z"
    assert ec2.path == str(prices.prices_dir() / "AmazonEC2.json")


def test_refresh_region_filter_and_bad_files(tmp_path: Path) -> None:
    both = downloaded_offer()
    eu = downloaded_offer("eu-central-1")
    both["products"].update(eu["products"])
    both["terms"]["OnDemand"].update(eu["terms"]["OnDemand"])
    offer = tmp_path / "all.json"
    offer.write_text(json.dumps(both))
    out = tmp_path / "out"
    prices.refresh([offer], out, regions=["eu-central-1"])
    kept = json.loads((out / "AmazonEC2.json").read_text())
    assert sorted(kept["products"]) == ["eu-central-1-OURS1", "eu-central-1-OURS2"]

    not_offer = tmp_path / "x.json"
    not_offer.write_text(json.dumps({"hello": 1}))
    with pytest.raises(InputError, match=r"x.json:\$.offerCode: missing"):
        prices.refresh([not_offer], out)
    other = copy.deepcopy(downloaded_offer())
    other["offerCode"] = "AmazonS3"
    not_offer.write_text(json.dumps(other))
    with pytest.raises(InputError, match="AmazonS3"):
        prices.refresh([not_offer], out)
    broken = tmp_path / "broken.json"
    broken.write_text('{"offerCode": ')
    with pytest.raises(InputError, match=r"broken\.json:1: not valid JSON"):
        prices.refresh([broken], out)


def test_conflicting_prices_in_one_offer_are_refused() -> None:
    doc = downloaded_offer()
    doc["products"]["TWIN"] = _product("TWIN", "c6i.large", "us-east-1")
    doc["terms"]["OnDemand"]["TWIN"] = _term("TWIN", "0.5")
    with pytest.raises(InputError, match=r"two different on-demand prices for c6i\.large"):
        prices.parse_offer(doc, "o.json")


def test_operator_rates_override_key_by_key() -> None:
    directory = prices.prices_dir()
    directory.mkdir(parents=True)
    (directory / "rates.yml").write_text(
        "openstack:\n  flavors:\n    s3.large.2: '0.0750'\n  network_hourly: '0.5'\n"
        "local:\n  currency: JPY\n  billing: {minimum_seconds: 3600, increment_seconds: 3600}\n"
    )
    cat = prices.load_catalog()
    assert cat.instance_price("openstack", "any", "s3.large.2").hourly == Decimal("0.075")
    assert cat.instance_price("openstack", None, "s3.medium.2").hourly == Decimal("0.03")
    network = cat.network_price("openstack", None)
    assert network is not None and network[0].hourly == Decimal("0.5")
    assert cat.instance_price("local", None, "local.small").currency == "JPY"
    assert cat.rule("local").increment_seconds == 3600
    assert cat.sources[-1].path == str(directory / "rates.yml")


def test_bad_rates_name_the_file_and_key() -> None:
    directory = prices.prices_dir()
    directory.mkdir(parents=True)
    (directory / "rates.yml").write_text("local:\n  instance_types:\n    local.small: cheap\n")
    with pytest.raises(InputError, match=r"rates.yml:3: local.instance_types.local.small: "
                                         r"'cheap'"):
        prices.load_catalog()
    prices.clear_cache()
    (directory / "rates.yml").write_text("gcp: {}\n")
    with pytest.raises(InputError, match="gcp: unknown provider"):
        prices.load_catalog()


def test_prices_commands(tmp_path: Path) -> None:
    import argparse
    import io

    from rich.console import Console

    from hybridburst.costs import commands

    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    out = io.StringIO()
    args = parser.parse_args(["prices", "show", "--provider", "aws", "--region", "eu-central-1"])
    assert args.func(args, Console(file=out, width=200)) == 0
    text = out.getvalue()
    assert "0.115 USD" in text and "m6i.large" in text  # eu-central-1 m6i.large
    assert "us-east-1" not in text.split("source:")[0]
    assert "published 2024-06-01T00:00:00Z" in text
    assert "billing aws: per 1 s, minimum 60 s" in text

    offer = tmp_path / "index.json"
    offer.write_text(json.dumps(downloaded_offer()))
    args = parser.parse_args(["prices", "refresh", str(offer), "--region", "us-east-1"])
    out = io.StringIO()
    assert args.func(args, Console(file=out, width=200)) == 0
    assert "AmazonEC2.json" in out.getvalue()
    assert prices.load_catalog().instance_price("aws", "us-east-1", "c6i.large").hourly == (
        Decimal("0.09"))
