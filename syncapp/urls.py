from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from syncapp.login_throttle import ThrottledAuthenticationForm
from syncapp.views import alerts, audit, dashboard, environments, orders, preflight, reconcile, rollback, runbooks, runs
from syncapp.views.schedules import schedule_detail, schedule_pause_view, schedule_resume_view

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="registration/login.html", authentication_form=ThrottledAuthenticationForm
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", dashboard.dashboard, name="dashboard"),
    # orders
    path("orders/", orders.orders_list, name="orders"),
    path("orders/po/", orders.po_detail_view, name="po_detail"),
    path("orders/po/production/", orders.po_production_step, name="po_production_step"),
    path("orders/mark/", orders.orders_mark_view, name="orders_mark"),
    path("orders/preview/", orders.orders_preview, name="orders_preview"),
    path("orders/sync/", orders.sync_confirm, name="sync_confirm"),
    path("sync/start/", orders.sync_start, name="sync_start"),
    # runs
    path("runs/", runs.runs_list, name="runs"),
    path("runs/<int:run_id>/", runs.run_detail, name="run_detail"),
    path("runs/<int:run_id>/progress/", runs.run_progress, name="run_progress"),
    path("runs/<int:run_id>/results/", runs.run_results_partial, name="run_results"),
    path("runs/<int:run_id>/results.csv", runs.run_results_csv, name="run_results_csv"),
    path("runs/<int:run_id>/api-calls/", runs.run_api_calls_view, name="run_api_calls"),
    path("runs/<int:run_id>/cancel/", runs.run_cancel, name="run_cancel"),
    path("runs/<int:run_id>/retry/", runs.run_retry, name="run_retry"),
    path("runs/<int:run_id>/rollback/", rollback.run_rollback, name="run_rollback"),
    path("runs/<int:run_id>/rollback/start/", rollback.run_rollback_start, name="run_rollback_start"),
    # environments
    path("environments/", environments.environments, name="environments"),
    path("environments/<str:name>/check/", environments.environment_check, name="environment_check"),
    path("environments/<str:name>/switch/", environments.environment_switch_view, name="environment_switch"),
    path("environments/<str:name>/schedule/", schedule_detail, name="schedule_detail"),
    path("environments/<str:name>/schedule/pause/", schedule_pause_view, name="schedule_pause"),
    path("environments/<str:name>/schedule/resume/", schedule_resume_view, name="schedule_resume"),
    # reconcile
    path("environments/<str:name>/reconcile/", reconcile.environment_reconcile, name="environment_reconcile"),
    path(
        "environments/<str:name>/reconcile/start/",
        reconcile.environment_reconcile_start,
        name="environment_reconcile_start",
    ),
    path("reconcile/<int:run_id>/", reconcile.reconcile_detail, name="reconcile_detail"),
    path("reconcile/<int:run_id>/progress/", reconcile.reconcile_progress, name="reconcile_progress"),
    path("reconcile/<int:run_id>/findings.csv", reconcile.reconcile_findings_csv, name="reconcile_findings_csv"),
    path("reconcile/<int:run_id>/repair/", reconcile.reconcile_repair, name="reconcile_repair"),
    # audit
    path("audit/", audit.audit_log, name="audit_log"),
    # alerts
    path("alerts/", alerts.alerts_list, name="alerts"),
    path("alerts/test/", alerts.alerts_test, name="alerts_test"),
    # production readiness
    path("preflight/", preflight.preflight, name="preflight"),
    # runbooks and walkthroughs
    path("runbooks/", runbooks.runbooks, name="runbooks"),
    path("runbooks/training/", runbooks.training_record_view, name="training_record"),
    path("runbooks/training.csv", runbooks.training_record_csv, name="training_record_csv"),
    path("runbooks/training/<int:walkthrough_id>/", runbooks.walkthrough_detail, name="walkthrough_detail"),
    path(
        "runbooks/walkthroughs/<int:walkthrough_id>/steps/<int:step>/tick/",
        runbooks.walkthrough_tick,
        name="walkthrough_tick",
    ),
    path("runbooks/<slug:slug>/", runbooks.runbook_detail, name="runbook_detail"),
    path("runbooks/<slug:slug>/walkthrough/", runbooks.walkthrough_begin, name="walkthrough_start"),
    path("runbooks/<slug:slug>/steps/<int:step>/checks/<int:index>/", runbooks.runbook_check, name="runbook_check"),
]
