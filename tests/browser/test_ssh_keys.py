"""The SSH key page (/hub/ssh-keys) in Chromium: a student adds a key made by `ssh-keygen -t
ed25519` and sees it with the fingerprint `ssh-keygen -lf` prints, reads a sentence for the
same key again and for a private key pasted by mistake, removes the key; the commands and
the VS Code entry for the hub's endpoint; the page in Chinese; nobody removes another's key;
and a hub without SSH says so. The picture in the docs (docs/img/ssh-keys.png) is taken here."""

import re
import subprocess

import pytest

from launcher.i18n import Reader
from tests.browser.conftest import document, sign_in
from tests.integration.hub import (
    HubSession,
    running_hub,
)

pytestmark = pytest.mark.browser

ZH = Reader("zh_CN")
HOST, PORT = "lab.example.edu", 8022
SITE = {
    "hub": {"name": "Deep learning lab", "timezone": "Asia/Shanghai"},
    # what students type (the endpoint listens on a free port of 127.0.0.1)
    "ssh": {"public_host": HOST, "public_port": PORT},
}
DUPLICATE = "You have registered this key already, as {name}."
PRIVATE = "This is a private key: keep it secret, on your computer only."
NAME = "ann-desk-7"
EMPTY = "Paste your public key: the one line of your .pub file, e.g. ~/.ssh/id_ed25519.pub."


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("sshkeys"), "ssh-keys", [], SITE) as hub:
        yield hub


@pytest.fixture(scope="module")
def keypair(tmp_path_factory):
    """A real key pair, as a student makes it: (private key text, public line, fingerprint)."""
    path = tmp_path_factory.mktemp("key") / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "student1@laptop", "-f", path],
        check=True,
    )
    listed = subprocess.run(
        ["ssh-keygen", "-lf", f"{path}.pub"], capture_output=True, text=True, check=True
    )
    fingerprint = listed.stdout.split()[1]
    assert fingerprint.startswith("SHA256:")
    return path.read_text(), path.with_name("id_ed25519.pub").read_text(), fingerprint


def submit(page, selector: str) -> int:
    """Click a form's button; the HTTP status of the page it leads to."""
    with page.expect_navigation() as navigation:
        page.click(selector)
    return navigation.value.status


def add(page, key: str, name: str = "") -> int:
    page.fill("#ssh-key-text", key)
    page.fill("#ssh-key-name", name)
    return submit(page, "#add-ssh-key-button")


def test_a_student_adds_sees_and_removes_a_key(hub, keypair, new_page):
    private, public, fingerprint = keypair
    page = new_page(locale="en-US")
    sign_in(page, hub, "student1")
    page.click("#ssh-keys-link a")  # from the course home
    page.wait_for_url(re.compile(r"/hub/ssh-keys$"))
    assert page.locator("h1").first.inner_text() == "SSH keys"
    assert page.locator("#no-ssh-keys").is_visible()

    # the key, named by its comment
    assert add(page, public) == 200  # after the redirect
    assert page.locator("#ssh-done").is_visible()
    rows = page.locator("#ssh-key-list .ssh-key")
    assert rows.count() == 1
    assert rows.locator(".name").inner_text() == "student1@laptop"
    assert rows.locator(".fingerprint").inner_text() == fingerprint
    assert rows.locator(".algorithm").inner_text() == "ssh-ed25519"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d CST", rows.locator(".added").inner_text())
    assert rows.locator(".last-used").inner_text() == "never"

    # how to sign in, with the hub's endpoint
    assert page.locator("#ssh-command").inner_text().strip() == f"ssh -p {PORT} student1@{HOST}"
    demo = page.locator("#ssh-course-demo").inner_text()
    assert f"ssh -p {PORT} student1+demo@{HOST}" in demo
    assert page.locator("#ssh-vscode-config").inner_text().split() == [
        "Host",
        "classroom",
        "HostName",
        HOST,
        "Port",
        str(PORT),
        "User",
        "student1",
    ]
    document(page, "ssh-keys", full_page=True)

    # the same key again: a sentence naming the key it already is, the text kept to correct
    assert add(page, public, "again") == 400
    said = page.locator("#ssh-problem").inner_text()
    assert said == DUPLICATE.format(name="student1@laptop")
    assert page.locator("#ssh-key-text").input_value().strip() == public.strip()
    assert page.locator("#ssh-key-list .ssh-key").count() == 1

    # a private key pasted by mistake: said so, and not shown back
    assert add(page, private, "oops") == 400
    assert page.locator("#ssh-problem").inner_text().startswith(PRIVATE)
    assert page.locator("#ssh-key-text").input_value() == ""
    assert "PRIVATE KEY" not in page.content()
    assert "Traceback" not in page.content()

    assert submit(page, "#ssh-key-list .remove") == 200
    assert page.locator("#ssh-key-list").count() == 0
    assert page.locator("#no-ssh-keys").is_visible()


def test_the_page_in_chinese(hub, keypair, new_page):
    page = new_page(locale="en-US")
    sign_in(page, hub, "student2")
    page.goto(f"{hub.url}/hub/ssh-keys")
    page.click("#language-switch a[lang=zh-CN]")
    page.locator("h1", has_text=ZH._("SSH keys")).wait_for(timeout=30_000)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert ZH._("Add a key") != "Add a key"
    assert page.locator("#add-ssh-key-button").inner_text() == ZH._("Add the key")
    assert page.locator("#no-ssh-keys").inner_text() == ZH._("You have registered no SSH key yet.")
    assert add(page, "  ") == 400
    assert page.locator("#ssh-problem").inner_text() == ZH._(EMPTY)
    assert add(page, keypair[1], "笔记本") == 200
    assert page.locator("#ssh-key-list .name").inner_text() == "笔记本"
    assert page.locator("#ssh-key-list .last-used").inner_text() == ZH._("never")


def test_nobody_sees_or_removes_anothers_key(hub, keypair):
    ann = hub.session("student3")
    added = ann.post(
        f"{hub.url}/hub/ssh-keys",
        data={"_xsrf": ann.xsrf("/hub/"), "action": "add", "name": NAME, "key": keypair[1]},
    )
    assert added.status_code == 200 and NAME in added.text, added.text[-2000:]
    key_id = re.search(r'name="key_id" value="(\d+)"', added.text).group(1)

    for other in ("student1", "admin"):  # an admin has no more power on this page
        them = hub.session(other)
        assert NAME not in them.get(f"{hub.url}/hub/ssh-keys").text
        refused = them.post(
            f"{hub.url}/hub/ssh-keys",
            data={"_xsrf": them.xsrf("/hub/"), "action": "remove", "key_id": key_id},
        )
        assert refused.status_code == 404
        assert "This key is not among yours" in refused.text
    assert NAME in ann.get(f"{hub.url}/hub/ssh-keys").text
    for bogus in ("9" * 30, "-1", "x"):
        refused = ann.post(
            f"{hub.url}/hub/ssh-keys",
            data={"_xsrf": ann.xsrf("/hub/"), "action": "remove", "key_id": bogus},
        )
        assert refused.status_code == 404, refused.text[-2000:]

    forged = ann.post(  # no XSRF token: refused by JupyterHub
        f"{hub.url}/hub/ssh-keys", data={"action": "remove", "key_id": key_id}
    )
    assert forged.status_code == 403
    assert NAME in ann.get(f"{hub.url}/hub/ssh-keys").text
    gone = HubSession(hub).get(f"{hub.url}/hub/ssh-keys", allow_redirects=False)
    assert gone.status_code == 302 and "/hub/login" in gone.headers["Location"]


def test_a_hub_without_ssh_says_so(tmp_path, new_page):
    with running_hub(tmp_path, "ssh-keys-off", site_extra={"ssh": {"enabled": False}}) as hub:
        page = new_page(locale="en-US")
        sign_in(page, hub, "student1")
        assert page.locator("#ssh-keys-link").count() == 0  # no link on the home page
        page.goto(f"{hub.url}/hub/ssh-keys")
        assert page.locator("#ssh-off").inner_text().startswith("SSH is off on this site")
        assert page.locator("#add-ssh-key").count() == 0
