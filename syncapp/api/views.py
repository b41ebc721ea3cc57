"""The API's views: start a sync, read a run, read its results. Thin: they parse, call the trigger
service or the run selectors, and answer refusals with a status and a `detail` in plain words.

Status codes: 202 a run was started; 200 a repeat of an Idempotency-Key's request (the same body,
header `Idempotent-Replayed: true`) and the reads; 400 a field is wrong (`errors` names it: the
selection, `environment`, `confirm` on production, `Idempotency-Key`); 401 no valid token; 403 the
token's role lacks the permission; 404 no such run or page; 409 the board is busy (`running_run_id`),
the run was refused (the environment's monday token is not set) or the merge could not run; 422 the
Idempotency-Key was used for a different request; 503 orderops' configuration has problems.
"""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status as http
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from syncapp.domain.errors import PermissionRefusedError, ProductionConfirmationError, RunBusyError, RunRefusedError
from syncapp.domain.scope import ScopeError
from syncapp.models import RowResult, SyncRun
from syncapp.selectors.runs import (
    active_run_for,
    customer_outcomes,
    plan_summary,
    result_status,
    run_figures,
    run_get,
    run_outcome_counts,
    run_results,
    run_scope,
)
from syncapp.services.access import actor_permission_require
from syncapp.services.api_tokens import api_call_audit
from syncapp.services.merge import MergeError
from syncapp.services.triggers import IdempotencyConflictError, TriggerInputError, sync_trigger
from syncapp.sync_config import ConfigError

from .serializers import (
    ErrorSerializer,
    ResultPageSerializer,
    ResultsQuerySerializer,
    RunSerializer,
    SyncAcceptedSerializer,
    SyncRequestSerializer,
)

logger = logging.getLogger(__name__)

# The largest id a BIGINT column holds; a larger number in the URL names no run (and must not reach SQL).
MAX_ID = 2**63 - 1
ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="A field is wrong; `errors` names it."),
    401: OpenApiResponse(ErrorSerializer, description="No token, or an unknown or revoked one."),
    403: OpenApiResponse(ErrorSerializer, description="The token's role lacks the permission."),
}
RUN_ID = OpenApiParameter("run_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The run's number.")


def _error(status: int, detail: str, code: str, **extra) -> Response:
    return Response({"detail": detail, "code": code, **extra}, status=status)


def api_exception_handler(exc, context):
    """DRF's errors in the API's shape: `detail` in words, `code`, and `errors` per field."""
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError):
        errors = response.data if isinstance(response.data, dict) else {"request": response.data}
        fields = ", ".join(errors)
        response.data = {
            "detail": f"The request was not accepted; see errors ({fields}). Nothing was started.",
            "code": "invalid",
            "errors": errors,
        }
        return response
    codes = exc.get_codes() if hasattr(exc, "get_codes") else "error"
    detail = response.data.get("detail", str(exc)) if isinstance(response.data, dict) else str(exc)
    if codes == "not_authenticated":
        detail = (
            "No API token was sent. Send the header Authorization: Bearer <token> "
            "(python manage.py api_token create makes one)."
        )
    response.data = {"detail": str(detail), "code": codes if isinstance(codes, str) else "error"}
    return response


def _run_links(request: Request, run: SyncRun) -> dict:
    return {
        "url": request.build_absolute_uri(reverse("run_detail", kwargs={"run_id": run.pk})),
        "status_url": reverse("api_run_detail", kwargs={"run_id": run.pk}),
        "results_url": reverse("api_run_results", kwargs={"run_id": run.pk}),
    }


def _scope_payload(run: SyncRun) -> dict:
    scope = run_scope(run)
    return {
        "customer": scope.customer,
        "pos": list(scope.pos),
        "record_uuids": list(scope.record_uuids),
        "limit": scope.limit,
        "description": scope.describe(),
    }


class SyncCreateView(APIView):
    @extend_schema(
        operation_id="sync_create",
        summary="Start a sync (or a dry run) of a selection",
        description=(
            "Records a run and queues it for the worker; poll `status_url` until `finished`. The same refusals "
            "as the console. With `merge: true` the staging table is merged first, inside this request. "
            "With an `Idempotency-Key`, a repeat of the same request returns the same run (200, same body); "
            "the same key with a different request is refused (422)."
        ),
        request=SyncRequestSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=False,
                description="1 to 128 printable ASCII characters, no spaces (e.g. the orchestrator's execution id).",
            ),
            OpenApiParameter(
                "Location",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                response=[200, 202],
                description="The run's status URL (as status_url).",
            ),
            OpenApiParameter(
                "Idempotent-Replayed",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                response=[200],
                description='"true": this answers a repeat of an Idempotency-Key\'s request.',
            ),
        ],
        responses={
            202: OpenApiResponse(SyncAcceptedSerializer, description="The run was recorded and queued."),
            200: OpenApiResponse(SyncAcceptedSerializer, description="A repeat: the run this key started."),
            **ERRORS,
            409: OpenApiResponse(ErrorSerializer, description="The board is busy, the run or the merge was refused."),
            422: OpenApiResponse(ErrorSerializer, description="The Idempotency-Key was used for another request."),
            503: OpenApiResponse(ErrorSerializer, description="orderops' configuration has problems."),
        },
    )
    def post(self, request: Request) -> Response:
        token = request.auth
        try:
            serializer = SyncRequestSerializer(data=request.data)
        except ParseError as error:
            api_call_audit(token=token, action="sync_refused", summary=f"sync refused: {error}"[:500], details={})
            raise
        if not serializer.is_valid():
            api_call_audit(
                token=token,
                action="sync_refused",
                summary=f"sync refused: the request was not accepted ({', '.join(serializer.errors)})",
                details={"errors": serializer.errors},
            )
            raise ValidationError(serializer.errors)
        data = serializer.validated_data
        environment = data["environment"]
        try:
            trigger = sync_trigger(
                actor=request.user,
                environment=environment,
                customer=data["customer"],
                pos=data["pos"],
                dry_run=data["dry_run"],
                merge=data["merge"],
                confirm=data["confirm"],
                idempotency_key=request.headers.get("Idempotency-Key", ""),
                token=token,
            )
        except PermissionRefusedError as error:
            return _error(403, str(error), "permission_denied")
        except (ScopeError, TriggerInputError) as error:
            return _error(400, str(error), "invalid", errors={error.field: [str(error)]})
        except ProductionConfirmationError as error:
            return _error(400, str(error), "confirmation_required", errors={"confirm": [str(error)]})
        except RunBusyError as error:
            active = active_run_for(environment)
            return _error(409, str(error), "busy", running_run_id=active.pk if active else None)
        except RunRefusedError as error:
            return _error(409, str(error), "refused")
        except MergeError as error:
            return _error(
                409, f"The staging table could not be merged, so nothing was started: {error}", "merge_failed"
            )
        except IdempotencyConflictError as error:
            return _error(422, str(error), "idempotency_key_reused", run_id=error.run_id)
        except ConfigError as error:
            logger.error("API sync refused: configuration problems: %s", error)
            return _error(
                503, f"orderops' configuration has problems; an admin must fix them: {error}", "configuration"
            )
        run = trigger.run
        body = {
            "run_id": run.pk,
            **_run_links(request, run),
            "environment": run.environment,
            "dry_run": run.dry_run,
            "scope": _scope_payload(run),
            "merge": trigger.merge,
        }
        response = Response(
            SyncAcceptedSerializer(body).data, status=http.HTTP_200_OK if trigger.replayed else http.HTTP_202_ACCEPTED
        )
        response["Location"] = body["status_url"]
        if trigger.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


@login_not_required
def api_not_found(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    """Any other address under /api/v1/: a 404 in the API's shape, not the console's HTML page."""
    return JsonResponse(
        {"detail": f"There is nothing at {request.path[:200]}; see /api/v1/openapi.json.", "code": "not_found"},
        status=404,
    )


def _readable_run(request: Request, run_id: str, what: str) -> SyncRun:
    """The run, after the permission check (403 before 404, so a token without it learns nothing)
    and the audit entry of the read."""
    actor_permission_require(actor=request.user, codename="view_syncrun", action="see runs")
    number = int(run_id) if run_id.isascii() and run_id.isdigit() and len(run_id) <= 19 else 0
    run = run_get(number) if 0 < number <= MAX_ID else None
    run_id = run_id[:40]
    api_call_audit(
        token=request.auth,
        action="api_read",
        target_type="run",
        target_id=run_id,
        summary=f"read {what} of run {run_id} over the API" + ("" if run else " (no such run)"),
        details={"path": request.get_full_path()[:300]},
    )
    if run is None:
        raise Http404(f"There is no run {run_id}.")
    return run


class RunDetailView(APIView):
    @extend_schema(
        operation_id="run_retrieve",
        summary="A run's status, outcome, counts and per-customer outcomes",
        parameters=[RUN_ID],
        responses={
            200: RunSerializer,
            **{k: v for k, v in ERRORS.items() if k != 400},
            404: OpenApiResponse(ErrorSerializer, description="There is no such run."),
        },
    )
    def get(self, request: Request, run_id: str) -> Response:
        try:
            run = _readable_run(request, run_id, "the status")
        except PermissionRefusedError as error:
            return _error(403, str(error), "permission_denied")
        counts = run_outcome_counts(run)
        figures = run_figures(run, counts)
        outcomes = run.summary if not run.is_active and run.summary else customer_outcomes(run, status=run.status)
        plan = None
        if run.dry_run:
            summary = plan_summary(run)
            plan = {"groups_to_create": summary.groups_to_create, "by_action": summary.by_action}
        body = {
            "id": run.pk,
            "kind": run.kind,
            "environment": run.environment,
            "dry_run": run.dry_run,
            "status": run.status,
            "finished": not run.is_active,
            "outcome": run.outcome or None,
            "success_rate": run.success_rate,
            "error_message": run.error_message,
            "current_step": run.current_step,
            "total_rows": run.total_rows,
            "processed_rows": run.processed_rows,
            "scope": _scope_payload(run),
            "counts": {
                "created": figures.created,
                "updated": figures.updated,
                "cancelled": figures.cancelled,
                "skipped": figures.skipped,
                "failed": figures.failed,
                "interrupted": figures.interrupted,
                "not_sent": figures.not_sent,
                "in_progress": figures.in_progress,
                "groups_created": figures.groups_created,
                "subitems_written": run.subitems_written,
                "api_calls": figures.api_calls,
                "retries": figures.retries,
            },
            "customers": [{"customer": name, **values} for name, values in (outcomes or {}).items()],
            "plan": plan,
            "requested_by": run.requested_by.get_username() if run.requested_by else run.requested_via,
            "requested_via": run.requested_via,
            "parent_id": run.parent_id,
            "created_at": run.created_at,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            **{k: v for k, v in _run_links(request, run).items() if k != "status_url"},
        }
        return Response(RunSerializer(body).data)


class RunResultsView(APIView):
    @extend_schema(
        operation_id="run_results_list",
        summary="A run's per-row results, a page at a time",
        parameters=[RUN_ID, ResultsQuerySerializer],
        responses={
            200: ResultPageSerializer,
            **ERRORS,
            404: OpenApiResponse(ErrorSerializer, description="There is no such run, or the page is past the end."),
        },
    )
    def get(self, request: Request, run_id: str) -> Response:
        try:
            run = _readable_run(request, run_id, "the results")
        except PermissionRefusedError as error:
            return _error(403, str(error), "permission_denied")
        query = ResultsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        outcome = query.validated_data.get("outcome", "")
        outcome = RowResult.Outcome.ERROR.value if outcome == "failed" else outcome
        page_number, page_size = query.validated_data["page"], query.validated_data["page_size"]
        paginator = Paginator(run_results(run, outcome=outcome), page_size)
        if page_number > paginator.num_pages:
            raise Http404(
                f"Page {page_number} is past the end: {paginator.count} results make {paginator.num_pages} "
                f"page(s) of {page_size}."
            )
        page = paginator.page(page_number)

        def link(number: int) -> str:
            params = request.query_params.copy()
            params["page"] = str(number)
            return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")

        active = run.is_active
        body = {
            "count": paginator.count,
            "page": page_number,
            "pages": paginator.num_pages,
            "page_size": page_size,
            "next": link(page_number + 1) if page.has_next() else None,
            "previous": link(page_number - 1) if page.has_previous() else None,
            "results": [
                {
                    "id": result.pk,
                    "record_uuid": str(result.record_uuid),
                    "aag_order_number": result.aag_order_number,
                    "customer": result.customer_name,
                    "po": result.po_number,
                    "action": result.action,
                    "outcome": result.outcome,
                    "status": result_status(result, active=active),
                    "message": result.message,
                    "error_code": result.error_code,
                    "monday_item_id": result.monday_item_id,
                    "finished_at": result.finished_at,
                }
                for result in page.object_list
            ],
        }
        return Response(ResultPageSerializer(body).data)
