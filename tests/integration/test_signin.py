"""Campus sign-in on a real hub through a real OpenID Connect provider (npm oidc-provider, run
locally): group claims map people to courses and roles, the gates answer with sentences, and
an instructor who signed in through the provider edits the course on the instructor page."""

import html

import pytest

from launcher.store import Store
from tests.integration.hub import IMAGE, HubSession, instructor_form
from tests.oidc import NEXT_PIN, PASSWORD, sign_in

pytestmark = pytest.mark.integration


def signed_in(hub, username: str) -> HubSession:
    session = HubSession(hub)
    resp = sign_in(session, hub.url, username, PASSWORD)
    assert resp.status_code == 302, f"{username}: {resp.status_code} {resp.text[:300]}"
    session.username = username
    return session


def test_the_login_page_offers_the_campus_sign_in(campus_hub):
    page = HubSession(campus_hub).get(f"{campus_hub.url}/hub/login")
    assert "Sign in with Campus account" in page.text
    assert 'name="password"' not in page.text  # no class password on this hub


def test_group_claims_put_a_student_in_their_course(campus_hub):
    oscar = signed_in(campus_hub, "oscar")
    model = oscar.user_model()
    # the provider's groups, and the course group they map to
    assert set(model["groups"]) == {"campus", "cs-vision", "course-vision-students"}
    assert model["admin"] is False
    oscar.start_server()
    container = campus_hub.container_for("oscar", "vision")
    assert container is not None and container.status == "running"
    assert container.attrs["Config"]["Image"] in (IMAGE, NEXT_PIN)
    oscar.stop_server()


@pytest.mark.parametrize(
    "username, password, status, sentence",
    [
        ("oscar", "wrong", 200, "Invalid username or password."),  # the provider's own page
        ("mallory", PASSWORD, 403, "you are not on the roster of any course on this hub"),
        ("eve", PASSWORD, 403, "this hub is only for members of campus"),
    ],
    ids=["wrong-password", "in-no-course", "outside-allowed-groups"],  # the password is random
)
def test_refusals_are_sentences(campus_hub, username, password, status, sentence):
    session = HubSession(campus_hub)
    resp = sign_in(session, campus_hub.url, username, password)
    assert resp.status_code == status, resp.text[:500]
    assert sentence in resp.text
    assert "Traceback" not in resp.text
    # nobody was let in
    assert session.get(f"{campus_hub.url}/hub/api/user").status_code in (401, 403)


def test_the_admin_group_makes_hub_admins(campus_hub):
    root = signed_in(campus_hub, "root")
    assert root.user_model()["admin"] is True


def test_an_instructor_from_a_group_claim_moves_the_pin_and_the_next_start_uses_it(campus_hub):
    irene = signed_in(campus_hub, "irene")
    assert "course-vision-instructors" in irene.user_model()["groups"]
    page = irene.open_server("/services/courses/c/vision")
    assert page.status_code == 200, page.text[:500]
    assert "you are instructor" in page.text
    fields = instructor_form(page.text)
    new = NEXT_PIN if fields["image"] == IMAGE else IMAGE
    url = f"{campus_hub.url}/services/courses/c/vision"

    refused = irene.post(url, data={**fields, "image": "someone/else:1.0"})
    assert refused.status_code == 400
    assert "is not one of the images the admin allows" in refused.text

    saved = irene.post(url, data={**fields, "image": new})
    assert saved.status_code == 200
    assert f"Saved: image: {fields['image']} -> {new}" in html.unescape(saved.text)
    audit = Store(f"sqlite:///{campus_hub.data_dir / 'launcher.sqlite'}").audit_log("vision")
    assert (audit[-1]["actor"], audit[-1]["details"]) == (
        "irene",
        f"image: {fields['image']} -> {new}",
    )

    omar = signed_in(campus_hub, "omar")
    omar.start_server()
    assert campus_hub.container_for("omar", "vision").attrs["Config"]["Image"] == new
    omar.stop_server()


def test_students_do_not_get_the_instructor_page(campus_hub):
    olga = signed_in(campus_hub, "olga")
    assert olga.open_server("/services/courses/").status_code == 403
