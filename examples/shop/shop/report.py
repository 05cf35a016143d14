from collections import Counter

from .models import Status
from .storage import new_order


def summarize(orders):
    counts = Counter(order.status for order in orders)
    paid = counts[Status.PAID]
    ratio = paid / len(orders) if orders else 0.0
    return {"paid": paid, "ratio": ratio}


def headline(orders, verbose=False):
    parts = []
    for order in orders:
        parts.append(order.describe())
    text = "; ".join(parts)
    if verbose:
        text = text.upper()
    return text


def demo():
    order = new_order("ada")
    count = order.add(None)
    return order, count


def percent(part, whole):
    if whole == 0:
        return None
    return round(100 * part / whole, 1)
