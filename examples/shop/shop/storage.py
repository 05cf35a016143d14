import json
import os
import re

from .models import Order, Product

SKU_PATTERN = re.compile(r"[A-Z]{3}-\d{4}")
DEFAULT_PATH = os.path.join(os.path.expanduser("~"), ".shop", "catalog.json")


def valid_sku(sku):
    return SKU_PATTERN.fullmatch(sku) is not None


def load_catalog(path=DEFAULT_PATH):
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        raw = json.load(handle)
    catalog = {}
    for entry in raw:
        product = Product(entry["sku"], entry["name"], float(entry["price"]))
        catalog[product.sku] = product
    return catalog


def save_order(order, directory):
    path = os.path.join(directory, order.id + ".json")
    lines = [{"sku": p.sku, "quantity": q} for p, q in order.lines]
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"customer": order.customer, "lines": lines}, handle)
    return path


def new_order(customer):
    order = Order(customer)
    return order


def read_lines(path):
    with open(path) as handle:
        for line in handle:
            yield line.rstrip("\n")
