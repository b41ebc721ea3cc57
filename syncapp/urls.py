from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from syncapp.views import dashboard

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", dashboard.dashboard, name="dashboard"),
]
