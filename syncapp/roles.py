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
# Admins manage users and see the task queue in the Django admin.
_ADMIN_EXTRA = [
    "auth.view_user",
    "auth.add_user",
    "auth.change_user",
    "auth.view_group",
    "django_q.view_success",
    "django_q.view_failure",
    "django_q.view_schedule",
    "django_q.view_ormq",
    "django_q.delete_ormq",
]
# The training record (who completed which runbook): trainers and admins, not ops.
_TRAINING = ["walk_runbooks", "view_walkthrough"]
ROLE_PERMISSIONS = {
    TRAINER: [*_READ, *_TRAINING],
    OPS: [*_READ, "walk_runbooks", "mark_orders", "sync_development"],
    ADMIN: [
        *_READ,
        *_TRAINING,
        "mark_orders",
        "sync_development",
        "sync_production",
        "switch_environment",
        *_ADMIN_EXTRA,
    ],
}


def sync_roles(apps) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = {tuple(n.split(".", 1)) if "." in n else ("syncapp", n) for n in names}
        permissions = [
            p
            for p in Permission.objects.filter(codename__in={c for _, c in wanted}).select_related("content_type")
            if (p.content_type.app_label, p.codename) in wanted
        ]
        missing = wanted - {(p.content_type.app_label, p.codename) for p in permissions}
        if missing:
            raise RuntimeError(f"permissions {sorted(missing)} do not exist; run migrate first")
        group.permissions.set(permissions)
