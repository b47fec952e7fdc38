"""The /admin dashboard through the test client: login, pages, fragments, errors."""

import html
import io
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import itsdangerous
import pytest
from conftest import HTMX, TEST_PASSWORD, csrf_from, free_port, is_fragment, log_in

from intact import create_app, db
from intact.admin import audit_log, views

# --- logged out ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/", "/admin/progress?q=P1", "/admin/participants/P1"])
def test_logged_out_pages_redirect_to_login_and_remember_where(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login?next=")


def test_logged_out_htmx_request_gets_hx_redirect_not_a_login_form(client):
    response = client.get(
        "/admin/progress?q=P1",
        headers={**HTMX, "HX-Current-URL": "http://localhost/admin/progress?q=P"},
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/admin/login?next=%2Fadmin%2Fprogress%3Fq%3DP"
    assert "<form" not in response.get_data(as_text=True)


def test_hx_redirect_ignores_a_current_url_on_another_site(client):
    response = client.get(
        "/admin/progress", headers={**HTMX, "HX-Current-URL": "https://evil.example/admin/"}
    )
    assert response.headers["HX-Redirect"] == "/admin/login"


# --- login and logout ---------------------------------------------------------------------


def test_login_page_is_a_plain_form(client):
    response = client.get("/admin/login")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'type="password"' in text
    assert 'name="csrf_token"' in text
    assert "Log out" not in text


def test_right_password_logs_in_and_goes_to_the_page_asked_for(client):
    response = log_in(client, next="/admin/progress?state=complete")
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/progress?state=complete"
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/admin/", "/docs", "/\\evil.example"]
)
def test_login_never_sends_anyone_off_the_dashboard(client, next_url):
    response = log_in(client, next=next_url)
    assert response.headers["Location"] == "/admin/"


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("wrong", "That password is not right"),
        ("", "Enter your password"),
        ("CORRECT-HORSE-BATTERY", "That password is not right"),
    ],
)
def test_wrong_password_shows_the_form_again_with_a_message(client, password, message):
    response = log_in(client, password=password)
    text = response.get_data(as_text=True)
    assert response.status_code == 401
    assert message in text
    assert client.get("/admin/").status_code == 302


def test_failed_logins_are_slowed_per_client_and_the_page_says_why(app_config):
    app_config["RATELIMIT_LOGIN_FAILURES"] = "3 per minute"
    client = create_app(app_config).test_client()
    for _ in range(3):
        assert log_in(client, password="guess").status_code == 401
    response = log_in(client)
    text = response.get_data(as_text=True)
    assert response.status_code == 429
    assert "Too many wrong passwords" in text
    assert 'type="password"' in text
    assert int(response.headers["Retry-After"]) <= 60
    assert client.get("/admin/").status_code == 302


def test_successful_logins_do_not_count_towards_the_limit(app_config):
    app_config["RATELIMIT_LOGIN_FAILURES"] = "2 per minute"
    app = create_app(app_config)
    for _ in range(4):
        assert log_in(app.test_client()).status_code == 303


def test_logins_and_logouts_go_to_the_audit_log(app, client):
    from intact import audit

    log_in(client, password="wrong")
    log_in(client)
    token = csrf_from(client.get("/admin/"))
    client.post("/admin/logout", data={"csrf_token": token})
    with app.app_context():
        logged = audit.find_entries()
    entries, total = logged.items, logged.total
    assert [entry["action"] for entry in reversed(entries)] == [
        audit.LOGIN_FAILURE,
        audit.LOGIN_SUCCESS,
        audit.LOGOUT,
    ]
    assert total == 3


def test_login_without_the_form_token_is_refused(client):
    client.get("/admin/login")
    response = client.post("/admin/login", data={"password": TEST_PASSWORD})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_session_cookie_is_httponly_lax_and_not_secure_over_http(client):
    response = log_in(client)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie
    assert "Expires=" in cookie


def test_session_cookie_is_secure_over_https(app):
    client = app.test_client()
    token = csrf_from(client.get("/admin/login", base_url="https://localhost"))
    response = client.post(
        "/admin/login",
        data={"password": TEST_PASSWORD, "csrf_token": token},
        base_url="https://localhost",
    )
    assert response.status_code == 303
    assert "Secure" in response.headers["Set-Cookie"]


def test_session_ends_after_the_idle_hours_and_each_request_extends_it(admin, monkeypatch):
    started = int(datetime.now(UTC).timestamp())

    def at(hours):
        monkeypatch.setattr(
            itsdangerous.TimestampSigner, "get_timestamp", lambda self: started + int(hours * 3600)
        )

    at(7.9)
    assert admin.get("/admin/").status_code == 200  # and the cookie is signed again at 7.9 h
    at(15.8)
    assert admin.get("/admin/").status_code == 200
    at(15.8 + 8.1)
    assert admin.get("/admin/").status_code == 302


def test_session_hours_is_a_setting(app_config):
    app_config["ADMIN_SESSION_HOURS"] = "2"
    app = create_app(app_config)
    assert app.permanent_session_lifetime == timedelta(hours=2)


def test_logout_needs_the_csrf_token(admin):
    assert admin.post("/admin/logout").status_code == 403
    assert admin.get("/admin/").status_code == 200


def test_logout_ends_the_session(admin):
    token = csrf_from(admin.get("/admin/"))
    response = admin.post("/admin/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/login"
    assert "You have logged out" in admin.get("/admin/login").get_data(as_text=True)
    assert admin.get("/admin/").status_code == 302


def test_htmx_logout_uses_hx_redirect(admin):
    token = csrf_from(admin.get("/admin/"))
    response = admin.post("/admin/logout", headers={**HTMX, "X-CSRF-Token": token})
    assert response.headers["HX-Redirect"] == "/admin/login"


def test_a_new_login_gets_a_new_csrf_token(client):
    before = csrf_from(client.get("/admin/login"))
    log_in(client)
    assert csrf_from(client.get("/admin/")) != before


# --- pages ----------------------------------------------------------------------------------


def test_the_menu_shows_every_page_in_its_written_order(app, admin):
    from intact.admin import MENU

    nav = admin.get("/admin/").get_data(as_text=True).split('class="site-nav"')[1]
    nav = nav.split("</nav>")[0]
    shown = re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav)
    with app.test_request_context():
        from flask import url_for

        assert shown == [(url_for(endpoint), label) for endpoint, label in MENU]
    assert [label for _, label in shown][-1] == "How it works"
    assert all(endpoint in app.view_functions for endpoint, _ in MENU)


def test_importing_the_dashboard_registers_nothing_until_init_app():
    """Routes are added by importing the view modules; error pages only by admin.init_app."""
    script = (
        "from intact.admin import bp, views, audit_log, scores, download_views\n"
        "assert not bp.error_handler_spec, bp.error_handler_spec\n"
        "from intact import create_app\n"
        "environment = {'DB_CONNECTION_STR': 'mongomock://', 'ADMIN_PASSWORD': 'x' * 16,\n"
        "               'SECRET_KEY': 'k' * 32, 'TESTING': True}\n"
        "from intact.accounts import sessions\n"
        "for _ in range(2):  # tests build many apps on the one blueprint\n"
        "    app = create_app(environment)\n"
        "    client = app.test_client()\n"
        "    with app.app_context():\n"
        "        session_id = sessions.start(None)\n"
        "    with client.session_transaction() as session:\n"
        "        session['sid'] = session_id\n"
        "    answer = client.get('/admin/nothing')\n"
        "    assert answer.status_code == 404 and answer.mimetype == 'text/html', answer\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_every_page_is_marked_not_to_be_cached(admin):
    assert admin.get("/admin/").headers["Cache-Control"] == "no-store"
    assert admin.get("/admin/login").headers["Cache-Control"] == "no-store"


def test_pages_load_htmx_and_css_from_this_server_and_have_no_inline_script(admin):
    text = admin.get("/admin/").get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>", text)
    assert scripts and all('src="/static/' in attributes for attributes in scripts)
    assert 'src="/static/vendor/htmx-2.0.11.min.js"' in text
    assert not re.search(r'(src|href)="(https?:)?//', text)
    assert admin.get("/static/vendor/htmx-2.0.11.min.js").status_code == 200
    assert admin.get("/static/admin.css").status_code == 200
    assert admin.get("/static/admin.js").status_code == 200


def test_htmx_requests_carry_the_csrf_token_in_a_header(admin):
    text = admin.get("/admin/").get_data(as_text=True)
    token = csrf_from(admin.get("/admin/"))
    assert f'hx-headers=\'{{"X-CSRF-Token": "{token}"}}\'' in text


def test_overview_of_an_empty_server_explains_what_to_do(admin):
    text = admin.get("/admin/").get_data(as_text=True)
    assert "No studies yet" in text
    assert "Share the links" in text


def test_overview_shows_the_numbers(admin, make_study, make_test):
    study = make_study("P1", "baseline", first_opened_at=datetime.now(UTC))
    make_study("P2", "followup")
    make_test(study, "immediate_recall")
    text = admin.get("/admin/").get_data(as_text=True)
    assert re.search(r'card__number">2</p>\s*<p class="card__label">participants', text)
    assert "1 baseline,\n      1 follow-up" in text
    assert "/admin/progress?state=in_progress" in text
    assert "Immediate recall" in text


def test_progress_full_page_includes_the_table_fragment(admin, make_study):
    make_study("P1", study_id="abcdefgh")
    response = admin.get("/admin/progress")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" in text
    assert 'id="progress-table"' in text
    assert "abcdefgh" in text
    assert "HX-Request" in response.headers["Vary"]


def test_progress_htmx_request_gets_only_the_table(admin, make_study):
    make_study("P1", study_id="abcdefgh")
    make_study("P2", study_id="bcdefghi")
    response = admin.get("/admin/progress?q=P2", headers=HTMX)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert is_fragment(response)
    assert "<table" in text
    assert "bcdefghi" in text
    assert "abcdefgh" not in text
    assert "HX-Request" in response.headers["Vary"]


def test_history_restore_gets_the_full_page(admin, make_study):
    make_study("P1")
    response = admin.get("/admin/progress", headers={**HTMX, "HX-History-Restore-Request": "true"})
    assert "<html" in response.get_data(as_text=True)


def test_progress_rows_link_participants_and_show_study_links(admin, make_study, make_test):
    study = make_study("P1", study_id="abcdefgh")
    make_test(study, "immediate_recall")
    make_test(study, "immediate_recall")
    make_test(study, "spatial_memory")
    text = admin.get("/admin/progress").get_data(as_text=True)
    assert 'href="/admin/participants/P1"' in text
    assert f'data-copy="{study["url"]}"' in text
    assert "Immediate recall: received 2 times" in text
    assert 'Spatial memory: received"' in text
    assert "Delayed recall: not received yet" in text


def test_pagination_links_keep_the_filters(admin, make_study):
    for number in range(30):
        make_study(f"P{number}")
    text = admin.get("/admin/progress?per_page=25&state=not_started").get_data(as_text=True)
    assert "Page 1 of 2" in text
    assert 'hx-get="/admin/progress?state=not_started&amp;page=2&amp;per_page=25"' in text


def test_no_match_says_so_and_offers_to_clear(admin, make_study):
    make_study("P1")
    response = admin.get("/admin/progress?q=nobody", headers=HTMX)
    assert "No participant matches" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "complaint"),
    [
        ("state=finished", "Unknown state &#39;finished&#39;"),
        ("sort=random", "Unknown order"),
        ("page=0", "The page number is a whole number from 1."),
        ("page=two", "The page number is a whole number from 1."),
        ("study_type=pilot", "Unknown study type"),
    ],
)
def test_a_bad_grid_query_is_a_400_page_naming_the_problem(admin, query, complaint):
    response = admin.get(f"/admin/progress?{query}")
    assert response.status_code == 400
    assert complaint in response.get_data(as_text=True)
    assert "<html" in response.get_data(as_text=True)


def test_a_bad_grid_query_from_htmx_is_a_message_fragment(admin):
    response = admin.get("/admin/progress?state=finished", headers=HTMX)
    assert response.status_code == 400
    assert is_fragment(response)
    assert response.headers["HX-Push-Url"] == "false"
    assert 'class="message message--error"' in response.get_data(as_text=True)


def test_participant_page_shows_studies_answers_and_summaries(admin, make_study, make_test):
    study = make_study("P1", "baseline", study_id="abcdefgh")
    make_study("P1", "followup", study_id="bcdefghi")
    make_test(study, "choice_reaction_time")
    text = admin.get("/admin/participants/P1").get_data(as_text=True)
    assert "Participant <code>P1</code>" in text
    assert study["url"] in text
    assert "bcdefghi" in text
    assert '<th scope="col">crt_rt</th>' in text
    # Scoring's numbers (the contract sample: 412 ms right, 388 ms wrong).
    assert "answers <strong>2</strong>" in text
    assert "accuracy <strong>0.500</strong>" in text
    assert "mean RT of correct answers <strong>412.0 ms</strong>" in text
    assert "No test has arrived for this study yet" in text


def test_unknown_participant_is_a_404_page(admin):
    response = admin.get("/admin/participants/nobody")
    assert response.status_code == 404
    text = response.get_data(as_text=True)
    assert "No study belongs to a participant with the id nobody" in text
    assert "<html" in text


def test_unknown_dashboard_address_is_an_html_404(admin):
    response = admin.get("/admin/no-such-page")
    assert response.status_code == 404
    assert response.content_type.startswith("text/html")


def test_help_page_explains_the_four_steps_and_the_states(admin):
    text = admin.get("/admin/help").get_data(as_text=True)
    for words in ("Create study links", "Share the links", "Results arrive", "Download"):
        assert words in text
    assert "no activity for 14 days" in text


def test_an_unexpected_error_is_an_html_500_page(admin, monkeypatch):
    from intact import progress

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(progress, "overview", broken)
    response = admin.get("/admin/")
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)
    assert "boom" not in response.get_data(as_text=True)


def test_database_down_is_a_503_page(app_config):
    app_config["DB_CONNECTION_STR"] = f"mongodb://127.0.0.1:{free_port()}/"
    app_config["DB_TIMEOUT_MS"] = "1000"
    client = create_app(app_config).test_client()
    # Logging in needs the database too (the login rate-limit counters live there): the form
    # shows, posting it says the database is down. Start from a session made directly.
    login_page = client.get("/admin/login")
    assert login_page.status_code == 200
    attempt = client.post(
        "/admin/login", data={"password": TEST_PASSWORD, "csrf_token": csrf_from(login_page)}
    )
    assert attempt.status_code == 503
    # A session cookie: checking it needs the database (sessions are recorded there).
    with client.session_transaction() as session:
        session["sid"] = "a-session-id"
    for path in ("/admin/", "/admin/progress", "/admin/participants/P1"):
        response = client.get(path)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert "cannot reach the database" in response.get_data(as_text=True)
    htmx_response = client.get("/admin/progress", headers=HTMX)
    assert htmx_response.status_code == 503
    assert is_fragment(htmx_response)


# --- refused submissions --------------------------------------------------------------------


def refuse_a_submission(client, study, rt="fast"):
    """Send the front-end's choice reaction time sample with a broken reaction time."""
    from conftest import load_sample

    payload = load_sample("choice_reaction_time", study["study_id"])
    payload["result"][0]["crt_rt"] = rt
    response = client.post("/tests", json=payload)
    assert response.status_code in (400, 422)


def test_refused_page_says_when_nothing_was_refused(admin):
    text = admin.get("/admin/refused").get_data(as_text=True)
    assert "Nothing refused" in text


def test_refused_submissions_are_listed_with_their_errors(admin, make_study):
    study = make_study("P7", study_id="abcdefgh")
    refuse_a_submission(admin, study)
    text = admin.get("/admin/refused").get_data(as_text=True)
    assert "1 refused submission," in text
    assert 'href="/admin/participants/P7"' in text
    assert "<code>abcdefgh</code>" in text
    assert "result.0.crt_rt" in text
    assert "See what was sent" in text


def test_refused_submission_shows_the_raw_body_escaped(admin, make_study):
    study = make_study("P7", study_id="abcdefgh")
    refuse_a_submission(admin, study, rt="<script>alert(1)</script>")
    listing = admin.get("/admin/refused").get_data(as_text=True)
    detail_url = re.search(r'href="(/admin/refused/[^"]+)"', listing).group(1)
    response = admin.get(detail_url)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "What the browser sent" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script>alert" not in text
    assert '"crt_rt": "<script>alert(1)</script>"' in html.unescape(text)


ODD_BODIES = {
    # A lone surrogate escape: valid JSON text, but no character UTF-8 can encode.
    "lone-surrogate-value": (b'{"study_id": "abcdefgh", "result": "\\ud800"}', "\\ud800"),
    "lone-surrogate-key": (b'{"study_id": "abcdefgh", "\\udc00x": 1, "result": []}', "\\udc00x"),
    "surrogate-pair": (b'{"study_id": "abcdefgh", "result": "\\ud83d\\ude00"}', "\U0001f600"),
    "nul": (b'{"study_id": "abcdefgh", "result": "a\\u0000b"}', "a\\u0000b"),
    "deep": (
        b'{"study_id": "abcdefgh", "result": ' + b"[" * 900 + b"]" * 900 + b"}",
        "[[[",
    ),
}


@pytest.mark.parametrize("body", ODD_BODIES.values(), ids=ODD_BODIES.keys())
def test_every_kept_body_displays_on_its_detail_page(admin, make_study, body):
    raw, shown = body
    make_study("P7", study_id="abcdefgh")
    response = admin.post("/tests", data=raw, content_type="application/json")
    assert response.status_code in (400, 422)
    listing = admin.get("/admin/refused").get_data(as_text=True)
    detail_url = re.search(r'href="(/admin/refused/[^"]+)"', listing).group(1)
    detail = admin.get(detail_url)
    assert detail.status_code == 200
    assert shown in html.unescape(detail.get_data(as_text=True))


def test_refused_list_filters_by_study_and_the_participant_page_points_to_it(admin, make_study):
    study = make_study("P7", study_id="abcdefgh")
    other = make_study("P8", study_id="bcdefghi")
    refuse_a_submission(admin, study)
    refuse_a_submission(admin, other)
    text = admin.get("/admin/refused?study_id=bcdefghi").get_data(as_text=True)
    assert "1 refused submission" in text
    assert "/admin/participants/P8" in text
    assert "/admin/participants/P7" not in text
    participant = admin.get("/admin/participants/P7").get_data(as_text=True)
    assert "1 submission of this study\n    was refused" in participant
    assert "/admin/refused?study_id=abcdefgh" in participant
    overview = admin.get("/admin/").get_data(as_text=True)
    assert "refused submissions, kept so nothing is lost" in overview


def test_unknown_refused_submission_is_a_404_page(admin):
    response = admin.get("/admin/refused/nothing-here")
    assert response.status_code == 404
    assert "no refused submission with this id" in response.get_data(as_text=True)


# --- create studies, batches, downloads -------------------------------------------------------


def studies_in_db(app, **query):
    from intact import db

    with app.app_context():
        return list(db.studies().find(query, {"_id": 0}))


def create(admin, headers=None, **form):
    token = csrf_from(admin.get("/admin/studies/new"))
    data = {
        "csrf_token": token,
        "baselines_per_participant": "1",
        "followups_per_participant": "1",
        **form,
    }
    return admin.post("/admin/studies/new", data=data, headers=headers or {})


def test_create_studies_from_typed_ids_shows_the_new_links(app, admin):
    response = create(admin, participant_ids="P1\r\n\r\n  P2  \n", followups_per_participant="2")
    assert response.status_code == 303
    batch_page = admin.get(response.headers["Location"])
    text = batch_page.get_data(as_text=True)
    created = studies_in_db(app)
    assert len(created) == 6
    assert "Created 6 studies for 2 participants." in text
    for study in created:
        assert study["url"] in text
    assert "Download these 6 studies as CSV" in text


def test_create_studies_from_an_uploaded_file(app, admin):
    upload = (io.BytesIO(b"\xef\xbb\xbfparticipant_id\r\nA1\r\nB2\r\n"), "ids.csv")
    response = create(admin, participant_ids_file=upload, baselines_per_participant="2")
    assert response.status_code == 303
    assert sorted(s["participant_id"] for s in studies_in_db(app)) == [
        "A1",
        "A1",
        "A1",
        "B2",
        "B2",
        "B2",
    ]


def test_htmx_create_redirects_with_hx_redirect(app, admin):
    response = create(admin, headers=HTMX, participant_ids="P1")
    assert response.headers["HX-Redirect"].startswith("/admin/batches/")


@pytest.mark.parametrize(
    ("form", "field_error"),
    [
        ({"participant_ids": "P1\nnot valid\nP3"}, "Check line 2."),
        ({"participant_ids": "   \n  "}, "Type at least one participant id, or choose a file."),
        ({}, "Type at least one participant id, or choose a file."),
        (
            {"participant_ids": "P1", "participant_ids_file": (io.BytesIO(b"P2"), "ids.txt")},
            "Use the text box or a file, not both",
        ),
        (
            {"participant_ids_file": (io.BytesIO(b"P2"), "ids.xlsx")},
            "must be a .txt, .csv or .tsv file",
        ),
        ({"participant_ids_file": (io.BytesIO(b"\xe9P"), "ids.txt")}, "are not UTF-8 text"),
        ({"participant_ids": "P1\nP2\nP1"}, '"P1" is on lines 1 and 3'),
        (
            {
                "participant_ids": "P1",
                "baselines_per_participant": "0",
                "followups_per_participant": "0",
            },
            "Choose at least one baseline or follow-up study per participant.",
        ),
        (
            {"participant_ids": "P1", "baselines_per_participant": "-1"},
            "Baseline studies per participant: a whole number from 0 to 1000.",
        ),
        (
            {"participant_ids": "P1", "followups_per_participant": "two"},
            "Follow-up studies per participant: a whole number from 0 to 1000.",
        ),
    ],
)
def test_a_bad_batch_creates_nothing_and_says_why_next_to_the_field(app, admin, form, field_error):
    response = create(admin, **form)
    text = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert re.search(r'class="field-error" role="alert">[^<]*' + re.escape(field_error), text)
    assert "<html" in text
    assert studies_in_db(app) == []


def test_a_bad_batch_from_htmx_gets_the_form_fragment_with_what_was_typed(app, admin):
    response = create(admin, headers=HTMX, participant_ids="P1\nP 2")
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert is_fragment(response)
    assert text.lstrip().startswith('<section id="create-studies"')
    assert "P1\nP 2</textarea>" in text
    assert studies_in_db(app) == []


def test_a_batch_over_the_limit_is_refused_whole(app_config):
    app_config["MAX_STUDIES_PER_REQUEST"] = "3"
    app = create_app(app_config)
    client = app.test_client()
    log_in(client)
    response = create(client, participant_ids="P1\nP2")
    assert response.status_code == 422
    assert "at most 3 are created per request" in response.get_data(as_text=True)
    assert studies_in_db(app) == []


def test_creating_studies_needs_the_csrf_token(app, admin):
    response = admin.post("/admin/studies/new", data={"participant_ids": "P1"})
    assert response.status_code == 403
    assert studies_in_db(app) == []


def test_batch_csv_holds_only_that_batch_and_is_audited(app, admin, make_study):
    from intact import audit

    make_study("OLD1", study_id="olderone")
    location = create(admin, participant_ids="N1\nN2").headers["Location"]
    response = admin.get(f"{location}/studies.csv")
    rows = response.get_data(as_text=True).splitlines()
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment; filename=studies-new-")
    assert rows[0].startswith('"study_id","participant_id","study_type","followup_number","url"')
    assert len(rows) == 5
    assert "olderone" not in response.get_data(as_text=True)
    with app.app_context():
        actions = [entry["action"] for entry in audit.find_entries().items]
    assert actions[:2] == [audit.DOWNLOAD, audit.STUDIES_CREATED]


def test_unknown_batch_is_a_404_page(admin):
    assert admin.get("/admin/batches/nothing").status_code == 404
    assert admin.get("/admin/batches/nothing/studies.csv").status_code == 404


def test_every_pager_links_its_neighbours(app, admin, make_study):
    from intact import audit, quarantine

    study = make_study("P1")
    app.config["QUARANTINE_MAX_PER_STUDY"] = views.REFUSED_PER_PAGE + 1
    with app.app_context():
        for _ in range(views.REFUSED_PER_PAGE + 1):
            quarantine.keep_refused(study, b"{}", "application/json", "bad", [])
        for _ in range(audit_log.ENTRIES_PER_PAGE + 1):
            audit.record(audit.LOGIN_FAILURE, client="192.0.2.1")

    refused = admin.get("/admin/refused?page=2").get_data(as_text=True)
    assert "Page 2 of 2" in refused
    assert 'rel="prev" href="/admin/refused?page=1"' in refused
    assert 'rel="next"' not in refused
    # A full page: the pager reloads it, no htmx swap.
    assert "hx-get" not in refused.split('class="pagination"')[1]

    log = admin.get("/admin/audit?action=login_failure").get_data(as_text=True)
    pager = log.split('class="pagination"')[1].split("</nav>")[0]
    assert "Page 1 of 2" in pager
    assert 'rel="next" href="/admin/audit?action=login_failure&amp;page=2"' in pager
    assert 'hx-get="/admin/audit?action=login_failure&amp;page=2"' in pager
    assert 'hx-target="#audit-table"' in pager
    assert "Older →" in pager


# --- the session ends while the Create studies form is open ------------------------------------


def end_the_session(client):
    """What an expired session looks like to the app: a cookie that no longer logs anyone in."""
    with client.session_transaction() as session:
        session.clear()


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_an_ended_session_keeps_the_typed_list_and_creates_nothing_until_logged_in(
    app, admin, headers
):
    token = csrf_from(admin.get("/admin/studies/new"))
    end_the_session(admin)
    typed = "P1\nP2\nMüller3"
    form = {
        "csrf_token": token,
        "participant_ids": typed,
        "baselines_per_participant": "1",
        "followups_per_participant": "2",
    }
    refused = admin.post("/admin/studies/new", data=form, headers=headers)
    page = html.unescape(refused.get_data(as_text=True))
    assert refused.status_code == (422 if headers else 401)
    assert "Your session has ended, so nothing was created" in page
    assert f">{typed}</textarea>" in page
    assert 'name="password"' in page and 'action="/admin/login"' in page
    with app.app_context():
        assert db.studies().count_documents({}) == 0

    # A wrong password: the list is still there, still nothing created.
    relogin = {**form, "csrf_token": csrf_from(refused), "next": "/admin/studies/new"}
    wrong = admin.post("/admin/login", data={**relogin, "password": "not it"})
    assert wrong.status_code == 401
    assert f">{typed}</textarea>" in html.unescape(wrong.get_data(as_text=True))

    # The right one: logged in again, the form filled in, and still nothing created.
    right = admin.post(
        "/admin/login", data={**relogin, "csrf_token": csrf_from(wrong), "password": TEST_PASSWORD}
    )
    page = html.unescape(right.get_data(as_text=True))
    assert right.status_code == 200
    assert "You are logged in again. Nothing was created yet" in page
    assert f">{typed}</textarea>" in page
    assert 'value="2"' in page
    with app.app_context():
        assert db.studies().count_documents({}) == 0

    created = admin.post(
        "/admin/studies/new", data={**form, "csrf_token": csrf_from(right)}, headers=headers
    )
    assert created.status_code in (204, 303)
    with app.app_context():
        assert db.studies().count_documents({}) == 9


def test_every_page_title_is_plain_text(app, admin):
    """A template block that swallows markup shows it in the browser's tab and history."""
    pages = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("dashboard.") and "GET" in rule.methods and not rule.arguments
    ]
    assert "/admin/help" in pages
    for path in pages:
        answer = admin.get(path)
        if answer.mimetype != "text/html" or answer.status_code != 200:
            continue
        title = re.search(r"<title>(.*?)</title>", answer.get_data(as_text=True), re.DOTALL)
        assert title, path
        assert "<" not in title.group(1) and "\n" not in title.group(1), (path, title.group(1))
