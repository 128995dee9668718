"""The approval console: a small Starlette app mounted at /console by `airlock up`.

    GET  /console/                          what waits for a decision, and what was decided
    GET  /console/pending                   the waiting list alone (the page refreshes it)
    GET  /console/login    POST /console/login    POST /console/logout
    GET  /console/approvals/{id}            everything needed to decide
    POST /console/approvals/{id}/approve    session + CSRF token + a fresh TOTP code
    POST /console/approvals/{id}/deny       session + CSRF token + a reason
    GET  /console/audit                     the audit log, newest first, filtered, in pages
    POST /console/audit/verify              walk the whole chain now; the page shows the result
    GET  /console/runbooks[/{resource}]     recovery runbooks, generated from the state (runbook/)
    GET  /console/inventory                 the resources and their edges, as a graph (SVG)
    POST /console/api/approvals/{id}/decision
                                            for scripts and `airlock approve --server`: JSON
                                            with credential and code, no cookies involved
    POST /console/api/approvals/{id}/preview
                                            the hold as JSON, for a credential alone (what
                                            `airlock approve --server` shows before the code)
    GET  /console/static/…                  the stylesheet and script (shipped in the package)

This is a front: it turns forms into calls on the approval desk (`decisions.ApprovalDesk`) and
records into pages. Every decision and refusal is made and recorded there.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airlock import __version__
from airlock.approvals import effective_status
from airlock.approvers import ApproverAuthError, check_credential, check_is_human
from airlock.audit import verify_records
from airlock.console import auditview, inventory_views, views
from airlock.console.security import (
    COOKIE_PATH,
    LOGIN_COOKIE,
    SECURITY_HEADERS,
    SESSION_COOKIE,
    LoginLimiter,
    Session,
    SessionSigner,
    cross_origin,
    enrolment_fingerprint,
    same_token,
)
from airlock.errors import ApprovalError, InputError
from airlock.model import Principal, PrincipalKind, utcnow
from airlock.runtime import Runtime
from airlock.store import ApprovalStatus

BASE = "/console"
MAX_FORM_PART = 16 * 1024
MAX_API_BODY = 16 * 1024
# The kinds offered in the audit filter (any kind can still be typed into the URL).
AUDIT_KINDS = ("action", "decision", "held", "outcome", "approval_given", "approval_denied",
               "approval_refused", "approval_used", "approval_not_used", "snapshot",
               "snapshot_failed", "backup", "backup_failed", "execution_failed", "error",
               "hook_refused", "notification_failed", "console_login", "console_logout",
               "token_created", "token_revoked", "approver_added", "approver_removed")
T = TypeVar("T")


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _safe_next(target: object) -> str:
    """Only somewhere inside the console: a login link must not become an open redirect."""
    if isinstance(target, str) and target.startswith(BASE + "/") and "//" not in target \
            and "\\" not in target:
        return target
    return BASE + "/"


class Console:
    def __init__(self, runtime: Runtime, *, limiter: LoginLimiter | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.runtime = runtime
        self.config = runtime.config
        self.store = runtime.store
        self.desk = runtime.desk
        self.clock = clock
        settings = self.config.approvals
        self.signer = SessionSigner(runtime.approvals_key, idle=settings.session_idle,
                                    most=settings.session_max)
        self.limiter = limiter or LoginLimiter()
        self.templates = Environment(loader=PackageLoader("airlock.console", "templates"),
                                     autoescape=select_autoescape(default=True),
                                     trim_blocks=True, lstrip_blocks=True)
        self.templates.globals["static"] = lambda name: f"{BASE}/static/{name}?v={__version__}"
        self.templates.globals["base"] = BASE

    # ---- plumbing ---------------------------------------------------------------------------

    async def sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await run_in_threadpool(fn, *args, **kwargs)

    def secure(self, request: Request) -> bool:
        public = self.config.approvals.public_url or ""
        return request.url.scheme == "https" or public.startswith("https://")

    def set_session(self, response: Response, request: Request, cookie: str) -> None:
        response.set_cookie(SESSION_COOKIE, cookie, path=COOKIE_PATH, httponly=True,
                            samesite="strict", secure=self.secure(request),
                            max_age=self.signer.most)

    async def session(self, request: Request) -> Session | None:
        session = self.signer.read(request.cookies.get(SESSION_COOKIE), self.clock())
        if session is None:
            return None
        record = await self.sync(self.store.get_approver, session.approver)
        pconf = self.config.principals.get(session.approver)
        if record is None or enrolment_fingerprint(record) != session.fingerprint \
                or pconf is None or pconf.kind is not PrincipalKind.HUMAN:
            return None  # removed, re-enrolled, or no longer a human in the configuration
        return session

    def render(self, request: Request, template: str, context: dict[str, Any], *,
               session: Session | None = None, status: int = 200,
               headers: dict[str, str] | None = None) -> HTMLResponse:
        page = self.templates.get_template(template).render({
            "approver": session.approver if session else None,
            "csrf": self.signer.csrf_token(session) if session else "",
            "path": request.url.path, **context})
        response = HTMLResponse(page, status_code=status, headers=headers)
        if session is not None:
            touched = self.signer.touched(session, self.clock())
            if touched is not None:
                self.set_session(response, request, self.signer.encode(touched))
        return response

    def error(self, request: Request, status: int, title: str, message: str,
              session: Session | None = None) -> HTMLResponse:
        return self.render(request, "error.html", {"title": title, "message": message},
                           session=session, status=status)

    def to_login(self, request: Request) -> RedirectResponse:
        return RedirectResponse(f"{BASE}/login?next={quote(request.url.path)}", 303)

    async def form(self, request: Request) -> FormData:
        return await request.form(max_files=0, max_fields=20, max_part_size=MAX_FORM_PART)

    async def authorized_post(self, request: Request) -> tuple[Session, FormData] | Response:
        """A POST from a signed-in approver's own page: same origin, valid CSRF token."""
        if cross_origin(request):
            return self.error(request, 403, "Refused", "This request came from another site.")
        session = await self.session(request)
        if session is None:
            return self.to_login(request)
        form = await self.form(request)
        if not same_token(self.signer.csrf_token(session), form.get("csrf")):
            approval_id = request.path_params.get("approval_id")
            await self.sync(self.desk.record_refusal,
                            ApproverAuthError("csrf", "a form without this session's CSRF "
                                              "token was refused", name=session.approver),
                            via="console", client=client_of(request), approval_id=approval_id)
            return self.error(request, 403, "Refused", "This form is not from your current "
                              "session (its CSRF token is missing or wrong). Reload the page "
                              "and try again.", session)
        return session, form

    # ---- sign-in ----------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        if await self.session(request) is not None:
            return RedirectResponse(_safe_next(request.query_params.get("next")), 303)
        return self.login_form(request, next_page=request.query_params.get("next"))

    def login_form(self, request: Request, *, next_page: object = None, error: str = "",
                   name: str = "", status: int = 200,
                   headers: dict[str, str] | None = None) -> Response:
        token = secrets.token_urlsafe(24)
        response = self.render(request, "login.html", {
            "login_csrf": token, "next": _safe_next(next_page), "error": error, "name": name},
            status=status, headers=headers)
        response.set_cookie(LOGIN_COOKIE, token, path=f"{BASE}/login", httponly=True,
                            samesite="strict", secure=self.secure(request), max_age=3600)
        return response

    async def login_submit(self, request: Request) -> Response:
        client = client_of(request)
        if cross_origin(request):
            return self.error(request, 403, "Refused", "This request came from another site.")
        wait = self.limiter.retry_after(client)
        if wait:
            return self.login_form(
                request, status=429, headers={"Retry-After": str(wait)},
                error=f"Too many failed sign-ins from this address. Try again in {wait} seconds.")
        form = await self.form(request)
        next_page = form.get("next")
        if not same_token(request.cookies.get(LOGIN_COOKIE), form.get("csrf")):
            self.limiter.failed(client)
            return self.login_form(request, next_page=next_page, status=403,
                                   error="This sign-in form expired or did not come from this "
                                         "console. Please try again.")
        name = str(form.get("name") or "").strip()
        try:
            principal = await self.sync(
                self.desk.authenticate, str(form.get("credential") or ""),
                str(form.get("code") or ""), via="console-login", name=name, client=client)
        except ApproverAuthError as exc:
            self.limiter.failed(client)
            message = exc.message + (f". {exc.hint[0].upper()}{exc.hint[1:]}." if exc.hint else ".")
            return self.login_form(request, next_page=next_page, error=message, name=name,
                                   status=401)
        record = await self.sync(self.store.get_approver, principal.name)
        if record is None:
            return self.login_form(request, error="This approver was just removed.", status=401)
        _session, cookie = self.signer.issue(principal.name, enrolment_fingerprint(record),
                                             self.clock())
        await self.sync(self.runtime.audit.record, "console_login", None,
                        {"approver": principal.name, "client": client})
        response = RedirectResponse(_safe_next(next_page), 303)
        self.set_session(response, request, cookie)
        response.delete_cookie(LOGIN_COOKIE, path=f"{BASE}/login")
        return response

    async def logout(self, request: Request) -> Response:
        checked = await self.authorized_post(request)
        if isinstance(checked, Response):
            return checked
        session, _form = checked
        await self.sync(self.runtime.audit.record, "console_logout", None,
                        {"approver": session.approver, "client": client_of(request)})
        response = RedirectResponse(f"{BASE}/login", 303)
        response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
        return response

    # ---- pages ------------------------------------------------------------------------------

    def enrolled_approvers(self) -> frozenset[str]:
        """Enrolled approvers who are humans in the configuration now: only they can
        approve anything."""
        return frozenset(r.name for r in self.store.list_approvers()
                         if (p := self.config.principals.get(r.name)) is not None
                         and p.kind is PrincipalKind.HUMAN)

    async def lists(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        now = self.clock()
        pending = await self.sync(self.store.list_approvals, status=ApprovalStatus.PENDING,
                                  limit=200)
        recent = await self.sync(self.store.list_approvals, limit=60)
        enrolled = await self.sync(self.enrolled_approvers)
        waiting = [views.approval_summary(a, self.config, now, enrolled) for a in pending
                   if effective_status(a, now) is ApprovalStatus.PENDING]
        decided = [views.approval_summary(a, self.config, now) for a in recent
                   if effective_status(a, now) is not ApprovalStatus.PENDING][:25]
        return waiting, decided

    async def index(self, request: Request) -> Response:
        session = await self.session(request)
        if session is None:
            return self.to_login(request)
        waiting, decided = await self.lists()
        return self.render(request, "index.html", {"waiting": waiting, "decided": decided},
                           session=session)

    async def pending_fragment(self, request: Request) -> Response:
        session = await self.session(request)
        if session is None:
            return Response("signed out", status_code=401)
        waiting, _decided = await self.lists()
        return self.render(request, "_pending.html", {"waiting": waiting}, session=session)

    async def approval(self, request: Request, *, session: Session | None = None,
                       error: str = "", status: int = 200) -> Response:
        session = session or await self.session(request)
        if session is None:
            return self.to_login(request)
        approval = await self.sync(self.store.get_approval, request.path_params["approval_id"])
        if approval is None:
            return self.error(request, 404, "No such approval",
                              "There is no approval with this id.", session)
        enrolled = await self.sync(self.enrolled_approvers)
        used = None
        if approval.used_by_action:
            used = await self.sync(auditview.records_of_action, self.store,
                                   approval.used_by_action)
        page = views.approval_page(approval, self.config, self.clock(), session.approver,
                                   enrolled=enrolled, used=used)
        done = request.query_params.get("done")
        flash = {"approved": "Your approval is recorded.",
                 "denied": "Your denial is recorded; the agent is told your reason."}.get(done or "")
        return self.render(request, "approval.html", {
            "a": page, "error": error, "flash": flash,
            "blast_svg": inventory_views.blast_svg(approval.details, self.config)},
            session=session, status=status)

    async def inventory(self, request: Request) -> Response:
        session = await self.session(request)
        if session is None:
            return self.to_login(request)
        return self.render(request, "inventory.html", inventory_views.inventory_page(self.config),
                           session=session)

    async def approve(self, request: Request) -> Response:
        return await self.decide(request, approve=True)

    async def deny(self, request: Request) -> Response:
        return await self.decide(request, approve=False)

    async def decide(self, request: Request, *, approve: bool) -> Response:
        checked = await self.authorized_post(request)
        if isinstance(checked, Response):
            return checked
        session, form = checked
        approval_id = request.path_params["approval_id"]
        reason = str(form.get("reason") or "")
        try:
            if approve:
                if form.get("without_backup") != "yes":  # before a code is spent on it
                    await self.sync(self.desk.require_backup_accepted, approval_id)
                # A session proves a sign-in; approving also proves the device is at hand now.
                approver = await self.sync(self.desk.confirm, session.approver,
                                           str(form.get("code") or ""), via="console",
                                           client=client_of(request), approval_id=approval_id)
            else:
                approver = self.signed_in_human(session)
            await self.sync(self.desk.decide, approval_id, approver, approve=approve,
                            reason=reason, via="console",
                            without_backup=approve and form.get("without_backup") == "yes")
        except ApproverAuthError as exc:
            hint = f" {exc.hint[0].upper()}{exc.hint[1:]}." if exc.hint else ""
            return await self.approval(request, session=session, status=401,
                                       error=f"Not approved: {exc.message}.{hint}")
        except (ApprovalError, InputError) as exc:
            return await self.approval(request, session=session, status=409,
                                       error=f"Not recorded: {exc.message}.")
        done = "approved" if approve else "denied"
        return RedirectResponse(f"{BASE}/approvals/{quote(approval_id)}?done={done}", 303)

    def signed_in_human(self, session: Session) -> Principal:
        """The principal of a session (checked again: the configuration is the authority)."""
        try:
            return check_is_human(self.config, session.approver)
        except InputError as exc:
            raise ApproverAuthError("not_human", exc.message, name=session.approver) from None

    async def runbook(self, request: Request) -> Response:
        session = await self.session(request)
        if session is None:
            return self.to_login(request)
        name = request.path_params.get("resource")
        if name is None:
            resources = sorted(self.config.resources.values(), key=lambda r: r.name)
            return self.render(request, "runbook.html", {"book": None, "resources": resources},
                               session=session)
        if name not in self.config.resources:
            return self.error(request, 404, "No such resource",
                              "No resource by this name is configured.", session)
        from airlock.runbook import build
        from airlock.runbook.render import html_body

        book = await self.sync(build, self.runtime, name, self.clock())
        return self.render(request, "runbook.html", {"book": book, "body": html_body(book)},
                           session=session)

    async def audit(self, request: Request, *, session: Session | None = None,
                    status: int = 200) -> Response:
        session = session or await self.session(request)
        if session is None:
            return self.to_login(request)
        wanted = auditview.AuditFilter.from_query(request.query_params)
        try:
            before: int | None = int(request.query_params.get("before") or 0) or None
        except ValueError:
            before = None
        now = self.clock()
        page = await self.sync(auditview.read_page, self.store, wanted, before, now)
        verified = await self.sync(auditview.last_verification, self.store, now)
        older = None
        if page.older is not None:
            older = f"{BASE}/audit?" + urlencode({**wanted.query(), "before": page.older})
        return self.render(request, "audit.html", {
            "page": page, "wanted": wanted, "verified": verified, "older": older,
            "kinds": AUDIT_KINDS, "newest": before is not None}, session=session,
            status=status)

    async def audit_verify(self, request: Request) -> Response:
        """Walk the whole chain (O(records)): on request, never on a page load."""
        checked = await self.authorized_post(request)
        if isinstance(checked, Response):
            return checked
        session, _form = checked

        def verify() -> None:
            report = verify_records(self.store.audit_records(),
                                    self.runtime.existing_audit_key())
            auditview.save_verification(self.store, report, at=self.clock(),
                                        by=session.approver)

        await self.sync(verify)
        return RedirectResponse(f"{BASE}/audit", 303)

    # ---- for scripts: JSON, no cookies ------------------------------------------------------

    async def api_decision(self, request: Request) -> Response:
        client = client_of(request)
        if cross_origin(request):
            return JSONResponse({"error": "cross-site request refused"}, status_code=403)
        wait = self.limiter.retry_after(client)
        if wait:
            return JSONResponse({"error": f"too many failed attempts; retry in {wait} s"},
                                status_code=429, headers={"Retry-After": str(wait)})
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"error": "send JSON (Content-Type: application/json)"},
                                status_code=415)
        body = await request.body()
        try:
            if len(body) > MAX_API_BODY:
                raise InputError(f"the body is over {MAX_API_BODY} bytes")
            obj = json.loads(body)
            if not isinstance(obj, dict) or obj.get("decision") not in ("approve", "deny"):
                raise InputError('send {"credential", "code", "decision": "approve"|"deny", '
                                 '"reason"}')
            fields = {k: obj.get(k, "") for k in ("credential", "code", "reason")}
            if not all(isinstance(v, str) for v in fields.values()):
                raise InputError("credential, code and reason must be strings")
            if not isinstance(obj.get("without_backup", False), bool):
                raise InputError("without_backup must be true or false")
        except (ValueError, InputError) as exc:
            message = exc.message if isinstance(exc, InputError) else "the body is not JSON"
            return JSONResponse({"error": message}, status_code=400)
        approval_id = request.path_params["approval_id"]
        try:
            record = await self.sync(
                self.desk.decide_with_code, approval_id, fields["credential"], fields["code"],
                approve=obj["decision"] == "approve", reason=fields["reason"], via="api",
                client=client, without_backup=bool(obj.get("without_backup", False)))
        except ApproverAuthError as exc:
            self.limiter.failed(client)
            return JSONResponse({"error": str(exc), "why": exc.why}, status_code=401)
        except ApprovalError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        except InputError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"id": record.id, "status": record.status.value,
                             "approvals": sum(g.decision == "approve" for g in record.grants),
                             "approvals_required": record.approvals_required,
                             "reason": record.reason})

    async def api_preview(self, request: Request) -> Response:
        """The hold, for an approver's credential alone: looking takes no code (as in a
        console session); deciding always does."""
        client = client_of(request)
        if cross_origin(request):
            return JSONResponse({"error": "cross-site request refused"}, status_code=403)
        wait = self.limiter.retry_after(client)
        if wait:
            return JSONResponse({"error": f"too many failed attempts; retry in {wait} s"},
                                status_code=429, headers={"Retry-After": str(wait)})
        body = await request.body()
        try:
            obj = json.loads(body) if len(body) <= MAX_API_BODY else None
        except ValueError:
            obj = None
        if not isinstance(obj, dict) or not isinstance(obj.get("credential"), str):
            return JSONResponse({"error": 'send {"credential": "alk_apv_…"} as JSON'},
                                status_code=400)
        approval_id = request.path_params["approval_id"]
        try:
            await self.sync(check_credential, self.store, self.config, obj["credential"])
        except ApproverAuthError as exc:
            self.limiter.failed(client)
            await self.sync(self.desk.record_refusal, exc, via="api", client=client,
                            approval_id=approval_id)
            return JSONResponse({"error": str(exc), "why": exc.why}, status_code=401)
        approval = await self.sync(self.store.get_approval, approval_id)
        if approval is None:
            return JSONResponse({"error": f"no approval {approval_id}"}, status_code=404)
        return JSONResponse(views.approval_json(approval, self.config, self.clock()))

    # ---- agent tokens -----------------------------------------------------------------------

    async def refuse_bearer(self, scope: Scope, authorization: str) -> Response:
        request = Request(scope)
        client = client_of(request)
        if self.limiter.retry_after(client):
            return JSONResponse({"error": "too many refused requests"}, status_code=429)
        self.limiter.failed(client)
        token = authorization.partition(" ")[2]
        error = await self.sync(self.desk.refuse_agent_token, token, via="console",
                                client=client,
                                approval_id=_approval_id_in(request.url.path))
        return JSONResponse({"error": error.message}, status_code=403)


def _approval_id_in(path: str) -> str | None:
    parts = path.removeprefix(BASE).strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "approvals":
        return parts[1]
    if len(parts) >= 3 and parts[:2] == ["api", "approvals"]:
        return parts[2]
    return None


class _Guard:
    """Around every console request: refuse (and record) any agent token, and put the
    security headers on every response."""

    def __init__(self, app: ASGIApp, console: Console) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        authorization = Headers(scope=scope).get("authorization", "")
        if "alk_tok_" in authorization:
            response = await self.console.refuse_bearer(scope, authorization)
            await response(scope, receive, self._headers(scope, send))
            return
        await self.app(scope, receive, self._headers(scope, send))

    @staticmethod
    def _headers(scope: Scope, send: Send) -> Send:
        static = str(scope.get("path", "")).startswith(f"{BASE}/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if not static:
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        return send_with_headers


def create_console(runtime: Runtime, *, limiter: LoginLimiter | None = None,
                   clock: Callable[[], datetime] = utcnow) -> ASGIApp:
    """The console as an ASGI app, to be mounted at /console."""
    console = Console(runtime, limiter=limiter, clock=clock)
    app = Starlette(routes=[
        Route("/", console.index),
        Route("/pending", console.pending_fragment),
        Route("/login", console.login_page, methods=["GET"]),
        Route("/login", console.login_submit, methods=["POST"]),
        Route("/logout", console.logout, methods=["POST"]),
        Route("/approvals/{approval_id}", console.approval, methods=["GET"]),
        Route("/approvals/{approval_id}/approve", console.approve, methods=["POST"]),
        Route("/approvals/{approval_id}/deny", console.deny, methods=["POST"]),
        Route("/audit", console.audit, methods=["GET"]),
        Route("/audit/verify", console.audit_verify, methods=["POST"]),
        Route("/runbooks", console.runbook),
        Route("/runbooks/{resource}", console.runbook),
        Route("/inventory", console.inventory),
        Route("/api/approvals/{approval_id}/decision", console.api_decision, methods=["POST"]),
        Route("/api/approvals/{approval_id}/preview", console.api_preview, methods=["POST"]),
        Mount("/static", app=StaticFiles(packages=[("airlock.console", "static")])),
    ])
    return _Guard(app, console)


def mount_console(app: Starlette, runtime: Runtime) -> None:
    """Serve the console beside the API, at /console (and send / there)."""
    console = create_console(runtime)

    async def home(request: Request) -> Response:
        return RedirectResponse(f"{BASE}/", 307)

    app.router.routes.append(Mount(BASE, app=console))
    app.router.routes.append(Route("/", home))
