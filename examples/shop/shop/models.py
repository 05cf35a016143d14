import datetime
import enum
import uuid


class Status(enum.Enum):
    OPEN = "open"
    PAID = "paid"
    SHIPPED = "shipped"


class Product:
    def __init__(self, sku, name, price, tags=None):
        self.sku = sku
        self.name = name
        self.price = price
        self.tags = tags or []
        self.created = datetime.datetime.now()

    def label(self):
        return f"{self.name} ({self.sku})"

    def is_cheap(self, limit=10.0):
        return self.price < limit


class Order:
    def __init__(self, customer):
        self.id = str(uuid.uuid4())
        self.customer = customer
        self.lines = []
        self.status = Status.OPEN
        self.note = None

    def add(self, product, quantity=1):
        self.lines.append((product, quantity))
        return len(self.lines)

    def total(self):
        total = 0.0
        for product, quantity in self.lines:
            total += product.price * quantity
        return total

    def describe(self):
        names = [product.name for product, _ in self.lines]
        return ", ".join(names)

    def mark_paid(self):
        self.status = Status.PAID
        self.note = "paid on " + datetime.date.today().isoformat()
