"""The distribution as a new user meets it: the wheel, installed into a fresh virtual environment,
running examples/minimal from outside the repository and signing in against the development IdP."""

import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import venv
import zipfile
from pathlib import Path

import pytest
import requests

from tests.fixtures.stack import Service, free_port, http_sign_in, submit_login_form

ROOT = Path(__file__).resolve().parents[1]
DEMO_PACKAGES = ("bffproject", "changebank", "devidp", "bench", "tests", "examples")

pytestmark = pytest.mark.slow


def run(argv, *, cwd, env, timeout=300):
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, argv))}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def clean_env(**extra):
    """This process's environment without what points at the repository's own project."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH", "VIRTUAL_ENV", "DATABASE_URL")
        and k not in ("REDIS_URL", "ENV_FILE", "DEBUG")
    }
    env.update(PYTHONUNBUFFERED="1", PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """``python -m build`` of the repository: the source distribution, and the wheel built from it."""
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], cwd=ROOT, env=clean_env())
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    for info in ROOT.glob("*.egg-info"):
        shutil.rmtree(info, ignore_errors=True)
    return out


@pytest.fixture(scope="module")
def wheel(dist):
    (path,) = dist.glob("*.whl")
    return path


def test_the_source_distribution_holds_nothing_of_the_demo(dist):
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        top = {name.split("/")[1] for name in archive.getnames() if name.count("/") >= 1}
    assert {"oauthbff", "userdata", "LICENSE", "CHANGELOG.md", "pyproject.toml"} <= top
    assert not top & set(DEMO_PACKAGES)


def test_the_wheel_holds_the_two_apps_and_nothing_of_the_demo(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/", 1)[0] for name in names if "/" in name}
    assert {"oauthbff", "userdata"} <= top
    assert not top & set(DEMO_PACKAGES)
    for required in (
        "oauthbff/templates/oauthbff/error.html",
        "oauthbff/migrations/0001_initial.py",
        "oauthbff/management/commands/clearbffsessions.py",
        "userdata/migrations/0001_initial.py",
        "userdata/templates/userdata/field.html",
        "userdata/static/userdata/userdata.css",
    ):
        assert required in names
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Requires-Dist: mozilla-django-oidc" in text
    assert "Provides-Extra: celery" in text
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """A fresh virtual environment with the wheel installed (and what it depends on): its python."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    run([python, "-m", "pip", "install", "-q", str(wheel)], cwd=env_dir, env=clean_env())
    return python


def provider_env(devidp):
    return clean_env(
        OIDC_ISSUER=devidp.url,
        OIDC_CLIENT_ID=devidp.client_id,
        OIDC_CLIENT_SECRET=devidp.client_secret,
    )


def serve(python, project, devidp, tmp_path):
    """``runserver`` for ``project`` on a free port, registered at the IdP; the started Service."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    devidp.allow_redirect_uri(f"{url}/auth/callback/")
    server = Service(
        project.name,
        [str(python), "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        provider_env(devidp),
        tmp_path,
        ready_url=f"{url}/auth/user/",
        cwd=project,
    )
    server.url = url
    return server.start()


def test_the_minimal_example_signs_in_from_a_fresh_virtualenv(installed, devidp, tmp_path):
    project = tmp_path / "minimal"
    shutil.copytree(ROOT / "examples" / "minimal", project)
    env = provider_env(devidp)
    where = run(
        [installed, "-c", "import oauthbff; print(oauthbff.__file__)"], cwd=project, env=env
    )
    assert str(installed.parent.parent) in where and str(ROOT) not in where
    run([installed, "manage.py", "check", "--fail-level", "WARNING"], cwd=project, env=env)
    run([installed, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=project, env=env)
    server = serve(installed, project, devidp, tmp_path)
    url = server.url
    try:
        browser = requests.Session()
        assert "You're not logged in." in browser.get(f"{url}/", timeout=10).text
        page = http_sign_in(browser, url, "admin@example.com")
        assert page.url == f"{url}/"
        assert "Hi, admin@example.com!" in page.text
        assert "Your roles: admin" in page.text
        # userdata's field, from the installed app's template, kept by the local store.
        version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
        text = f"typed in the example at {time.time()}"
        saved = browser.post(
            f"{url}/userdata/",
            data={
                "userData": text,
                "version": version,
                "next": "/",
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            },
            headers={"Referer": f"{url}/"},
            timeout=10,
        )
        assert saved.status_code == 200 and saved.url == f"{url}/", saved.status_code
        assert text in saved.text
        user = browser.get(f"{url}/auth/user/", timeout=10).json()
        assert user["authenticated"] is True and user["user"]["is_staff"] is True
        assert "ChangeBank" not in browser.get(f"{url}/auth/logout/", timeout=10).text
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- the example's log:\n{server.log_tail()}") from exc
    finally:
        server.stop()


def readme_blocks():
    """The python blocks of the README's "Use it in your own project": {file: [code, ...]}."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Use it in your own project", 1)[1].split("\n## ", 1)[0]
    blocks = {}
    for code in re.findall(r"```python\n(.*?)```", section, flags=re.S):
        first, _, rest = code.partition("\n")
        blocks.setdefault(first.removeprefix("# ").strip(), []).append(rest)
    return blocks


def test_the_readme_section_works_on_a_new_startproject(installed, devidp, tmp_path):
    blocks = readme_blocks()
    assert set(blocks) == {"mysite/settings.py", "mysite/urls.py"}
    env = provider_env(devidp)
    django_admin = installed.parent / "django-admin"
    run([django_admin, "startproject", "mysite"], cwd=tmp_path, env=env)
    project = tmp_path / "mysite"
    for name, codes in blocks.items():
        with (project / name).open("a") as source:
            for code in codes:
                source.write("\n" + code)
    run([installed, "manage.py", "check", "--fail-level", "WARNING"], cwd=project, env=env)
    run([installed, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=project, env=env)
    server = serve(installed, project, devidp, tmp_path)
    try:
        browser = requests.Session()
        page = browser.get(f"{server.url}/auth/login/?next=/admin/", timeout=10)
        page = submit_login_form(browser, page, "admin@example.com", "password")
        assert page.status_code == 200 and page.url == f"{server.url}/admin/"
        assert "Site administration" in page.text
        state = browser.get(f"{server.url}/userdata/", timeout=10)
        assert state.status_code == 200 and "version" in state.json(), state.text[:300]
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- the project's log:\n{server.log_tail()}") from exc
    finally:
        server.stop()
