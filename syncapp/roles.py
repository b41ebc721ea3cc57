"""The console's roles, as Django groups. Created by a migration; used by seed_demo and tests."""

from __future__ import annotations

OPS, ADMIN, TRAINER = "Ops", "Admin", "Trainer"

# codename lists per role; "app_label.codename" is what views check.
_READ = [
    "view_console",
    "view_syncrun",
    "view_rowresult",
    "view_itemlink",
    "view_subitemlink",
    "view_boardgroup",
    "view_boardchange",
    "view_apicall",
    "view_auditentry",
    "view_factorderlist",
    "view_stagedorder",
    "view_orderline",
]
ROLE_PERMISSIONS = {
    TRAINER: [*_READ, "walk_runbooks"],
    OPS: [*_READ, "walk_runbooks", "mark_orders", "sync_development"],
    ADMIN: [*_READ, "walk_runbooks", "mark_orders", "sync_development", "sync_production", "switch_environment"],
}


def sync_roles(apps) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        permissions = Permission.objects.filter(content_type__app_label="syncapp", codename__in=codenames)
        missing = set(codenames) - set(permissions.values_list("codename", flat=True))
        if missing:
            raise RuntimeError(f"permissions {sorted(missing)} do not exist; run migrate for syncapp first")
        group.permissions.set(permissions)
