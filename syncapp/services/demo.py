"""Deterministic demo orders for the embedded setup, the tests and the benchmarks."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction

from syncapp.order_tables import STAGING_TABLE, db_uuid, sql_name
from syncapp.roles import ADMIN, OPS, TRAINER

SIZE_FAMILIES = {
    "alpha": ["XS", "S", "M", "L", "XL", "XXL"],
    "numeric": ["0", "2", "4", "6", "8", "10", "12", "14", "16"],
    "waist": ["30x30", "30x32", "32x30", "32x32", "34x30", "34x32", "36x32", "38x32"],
    "bras": ["32C", "32D", "32DD", "34C", "34D", "34DD", "36C", "36D", "36DD"],
    "kids": ["3-6M", "6-12M", "12-18M", "18-24M"],
    "one": ["O/S"],
    "one_size": ["ONE SIZE"],
}
FAMILY_CATEGORY = {
    "alpha": ["TOPS", "OUTERWEAR", "POLOS"],
    "numeric": ["DRESSES", "BOTTOMS"],
    "waist": ["PANTS"],
    "bras": ["BRAS"],
    "kids": ["KIDS"],
    "one": ["ACCESSORIES"],
    "one_size": ["HEADWEAR"],
}
# (customer, AAG order prefix, size families it buys)
CUSTOMERS = [
    ("GREYSON", "GRE", ["alpha", "waist", "one"]),
    ("PELOTON", "PEL", ["alpha", "bras", "one_size"]),
    ("TITLE NINE", "TNI", ["alpha", "numeric", "bras"]),
    ("AESCAPE", "AES", ["alpha", "one"]),
    ("JOHNNIE-O", "JOO", ["alpha", "waist", "kids"]),
    ("RHONE", "RHO", ["alpha", "waist"]),
    ("VUORI", "VUO", ["alpha", "numeric", "one_size"]),
    ("TRACKSMITH", "TRK", ["alpha", "one"]),
]
SEASONS = [("2026 SPRING", "SP26"), ("2026 FALL", "FA26"), ("2026 HOLIDAY", "HO26"), ("2027 SPRING", "SP27")]
STYLES = [
    "Tour Polo",
    "Men's Crew Tee",
    "Women's Wrap Dress",
    "Pima/Cotton Henley",
    "Café Quarter-Zip",
    'Trail Jogger 30" Inseam',
    "Sport Bra – Medium Support",
    "Kids' Fleece Hoodie",
    "Légère Tank",
    "Everyday 5-Pocket Pant",
    "Packable Shell",
    "Merino Beanie",
]
COLOURS = [
    ("NAVY", "NVY"),
    ("BLACK/WHITE", "BKW"),
    ("Heather O'Grey", "HGY"),
    ("Rosé", "RSE"),
    ("ARCTIC BLUE", "ABL"),
    ("FOREST", "FOR"),
    ("Crème Brûlée", "CRB"),
    ("SHELL PINK", "SPK"),
]
DELIVERY_TERMS = ["FOB", "DDP", "EXW", "FCA"]
DESTINATIONS = [("USA", "US WEST DC"), ("USA", "US EAST DC"), ("CANADA", "TORONTO 3PL"), ("UK", "LONDON DC")]

# Business columns the demo fills, in the order the insert lists them.
DEMO_COLUMNS = [
    "record_uuid",
    "AAG ORDER NUMBER",
    "CUSTOMER NAME",
    "SOURCE_CUSTOMER_NAME",
    "ORDER DATE PO RECEIVED",
    "PO NUMBER",
    "CUSTOMER ALT PO",
    "AAG SEASON",
    "CUSTOMER SEASON",
    "DROP",
    "CATEGORY",
    "PATTERN ID",
    "CUSTOMER STYLE",
    "STYLE DESCRIPTION",
    "CUSTOMER'S COLOUR CODE (CUSTOM FIELD) CUSTOMER PROVIDES THIS",
    "CUSTOMER COLOUR DESCRIPTION",
    "ALIAS/RELATED ITEM",
    "UNIT OF MEASURE",
    "TOTAL QTY",
    "DESTINATION",
    "DESTINATION WAREHOUSE",
    "ETA CUSTOMER WAREHOUSE DATE",
    "EX FACTORY DATE",
    "DELIVERY TERMS",
    "PLANNED DELIVERY METHOD",
    "NOTES",
    "ORDER TYPE",
    "CUSTOMER PRICE",
    "EX WORKS (USD)",
    "FINAL FOB (USD)",
    "HS CODE",
    "US DUTY RATE",
    "US DUTY",
    "FREIGHT",
    "DDP US (USD)",
    "sync_state",
]
DEMO_SIZES = sorted({size for family in SIZE_FAMILIES.values() for size in family})

DEMO_USERS = [
    ("ops", OPS, "orderops-ops"),
    ("admin", ADMIN, "orderops-admin"),
    ("trainer", TRAINER, "orderops-trainer"),
]


@dataclass(frozen=True)
class SeedResult:
    orders: int
    purchase_orders: int
    cancelled: int
    users: list[tuple[str, str, str]]


def demo_rows(orders: int, seed: int = 4755):
    """Yield staged order rows (tuples in DEMO_COLUMNS + DEMO_SIZES order). GREYSON PO 4755 comes first."""
    rng = random.Random(seed)
    size_index = {size: i for i, size in enumerate(DEMO_SIZES)}
    sequence = 0
    po_number = 4755
    while sequence < orders:
        customer_index = 0 if po_number == 4755 else rng.randrange(len(CUSTOMERS))
        customer, prefix, families = CUSTOMERS[customer_index]
        aag_season, customer_season = SEASONS[rng.randrange(len(SEASONS))]
        if po_number == 4755:
            aag_season, customer_season = SEASONS[0]
        received = date(2026, 1, 5) + timedelta(days=rng.randrange(300))
        lines = 7 if po_number == 4755 else rng.randint(2, 12)
        drop = f"DROP {rng.randint(1, 3)}"
        season_missing = po_number != 4755 and rng.random() < 0.03
        for _ in range(min(lines, orders - sequence)):
            sequence += 1
            family = families[rng.randrange(len(families))] if po_number != 4755 else families[sequence % 2]
            style = STYLES[rng.randrange(len(STYLES))]
            colour, colour_code = COLOURS[rng.randrange(len(COLOURS))]
            destination, warehouse = DESTINATIONS[rng.randrange(len(DESTINATIONS))]
            quantities = [None] * len(DEMO_SIZES)
            total = 0
            for size in SIZE_FAMILIES[family]:
                if rng.random() < 0.85:
                    qty = rng.choice([6, 12, 12, 24, 24, 36, 48, 60, 72, 96, 120])
                    quantities[size_index[size]] = qty
                    total += qty
            if total == 0:
                first = SIZE_FAMILIES[family][0]
                quantities[size_index[first]] = total = 24
            cancelled = rng.random() < 0.04
            order_type = ("CANCELLED" if rng.random() < 0.7 else "Cancelled") if cancelled else "ACTIVE"
            price = Decimal(rng.randrange(800, 9000)) / 100
            ex_factory = received + timedelta(days=rng.randint(60, 120))
            row = [
                db_uuid(uuid.UUID(int=rng.getrandbits(128), version=4)),
                f"{prefix}-{po_number}-{sequence:07d}",
                customer,
                customer.title(),
                received,
                str(po_number),
                f"ALT-{po_number}",
                aag_season,
                None if season_missing else customer_season,
                drop,
                FAMILY_CATEGORY[family][rng.randrange(len(FAMILY_CATEGORY[family]))],
                f"PAT-{rng.randint(100, 999)}",
                f"{prefix}{rng.randint(1000, 9999)}",
                style,
                colour_code,
                colour,
                f"{prefix}{rng.randint(1000, 9999)}-{colour_code}",
                "EACH",
                total,
                destination,
                warehouse,
                ex_factory + timedelta(days=rng.randint(20, 45)),
                ex_factory,
                DELIVERY_TERMS[rng.randrange(len(DELIVERY_TERMS))],
                rng.choice(["SEA", "AIR", "SEA/AIR"]),
                rng.choice(["", "Rush – confirm trims", "Customer's label on hang-tag", "Pack 6/carton"]) or None,
                order_type,
                price,
                (price * Decimal("0.62")).quantize(Decimal("0.0001")),
                (price * Decimal("0.55")).quantize(Decimal("0.0001")),
                "6110.20.2075",
                Decimal("0.165000"),
                (price * Decimal("0.09")).quantize(Decimal("0.0001")),
                Decimal("0.8500"),
                (price * Decimal("0.71")).quantize(Decimal("0.0001")),
                "NEW",
            ]
            yield (*row, *quantities)
        po_number += rng.randint(1, 9)


def staging_fill(*, orders: int, seed: int = 4755, batch: int = 5000) -> SeedResult:
    """Replace the staging table's content with `orders` demo order lines."""
    quote = sql_name
    columns = [*DEMO_COLUMNS, *DEMO_SIZES]
    insert = (
        f"INSERT INTO {quote(STAGING_TABLE)} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608 - fixed identifiers
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    pos, cancelled = set(), 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {quote(STAGING_TABLE)}", [])  # noqa: S608 - fixed identifier
        chunk = []
        for row in demo_rows(orders, seed):
            pos.add((row[2], row[5]))
            cancelled += row[26].upper() == "CANCELLED"
            chunk.append(row)
            if len(chunk) >= batch:
                cursor.executemany(insert, chunk)
                chunk = []
        if chunk:
            cursor.executemany(insert, chunk)
    return SeedResult(orders=orders, purchase_orders=len(pos), cancelled=cancelled, users=[])


def demo_users_ensure() -> list[tuple[str, str, str]]:
    """One user per role with a known password; the embedded setup only (never next to production tables)."""
    if not settings.ORDEROPS_MANAGE_ORDER_TABLES:
        raise PermissionError(
            "Demo users are only created in the embedded setup, not on a database whose order "
            "tables belong to production. Create real users with manage.py createsuperuser."
        )
    User = get_user_model()
    created = []
    for username, role, password in DEMO_USERS:
        user, _ = User.objects.get_or_create(username=username, defaults={"first_name": role})
        user.set_password(password)
        user.is_staff = role == ADMIN
        user.is_superuser = False
        user.save()
        user.groups.set([Group.objects.get(name=role)])
        created.append((username, password, role))
    return created
