"""The trigger API (`/api/v1/`): start syncs, poll runs, read results, for the orchestrator and scripts.

Built on Django REST framework with drf-spectacular: DRF is the de-facto standard API layer for
Django, its authentication and permission classes sit on Django's own users and permissions (a
token acts as its service user, checked with `has_perm` like a person), and drf-spectacular
generates the OpenAPI 3 description (`/api/v1/openapi.json`) from the same serializers the views
use, so the description cannot drift from the code. The views are thin: they parse, call
`services/triggers.sync_trigger` or the run selectors, and map refusals to status codes.
"""
