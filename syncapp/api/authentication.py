"""`Authorization: Bearer <token>`: the only way in to the API.

No session and no cookie is accepted, so a browser signed in to the console cannot be made to call
the API by another site: CSRF does not apply, and DRF's views are CSRF-exempt for that reason. A
missing, unknown or revoked token is answered 401 with `WWW-Authenticate: Bearer`.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from syncapp.services.api_tokens import ApiTokenError, api_token_authenticate

HOW = "Send the token as the header: Authorization: Bearer <token> (python manage.py api_token create makes one)."


class BearerTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header:
            return None  # the permission check answers 401 with the hint
        if header[0].lower() != self.keyword:
            raise exceptions.AuthenticationFailed(f"The Authorization header is not a bearer token. {HOW}")
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(f"The Authorization header must be 'Bearer' and the token. {HOW}")
        try:
            secret = header[1].decode("ascii")
        except UnicodeError:
            raise exceptions.AuthenticationFailed("The token has characters no orderops token has.") from None
        try:
            token = api_token_authenticate(secret=secret)
        except ApiTokenError as error:
            raise exceptions.AuthenticationFailed(str(error)) from None
        return token.user, token

    def authenticate_header(self, request) -> str:
        # A value here is what makes DRF answer 401 (not 403) when the token is missing or wrong.
        return 'Bearer realm="orderops"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """The bearer scheme in the OpenAPI description."""

    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An orderops API token (oo_...), made with python manage.py api_token create.",
        }
