"""Generated files of a bundle: Dockerfile, entrypoint, pyproject, README, package init."""

from __future__ import annotations

import re

from bentonb.bundle.manifest import BundleManifest

#: The numeric user (and group) id the image's server runs as; a Kubernetes pod's
#: ``runAsUser`` must name the same id.
IMAGE_USER_ID = 1000

DOCKERIGNORE = """\
__pycache__/
*.pyc
*.pyo
.git/
.ipynb_checkpoints/
"""

ENTRYPOINT = """\
#!/bin/sh
# Serve the bundle on $PORT (default 5000); extra arguments go to `bentonb serve`.
set -e
exec bentonb serve /bundle --host 0.0.0.0 --port "${PORT:-5000}" "$@"
"""


def default_base_image(python_version: str) -> str:
    major_minor = ".".join(python_version.split(".")[:2])
    return f"python:{major_minor}-slim"


def dockerfile(manifest: BundleManifest) -> str:
    base = manifest.env.docker_base_image or default_base_image(manifest.python_version)
    setup = "RUN bash ./setup.sh\n" if manifest.env.setup_sh else ""
    apt = ""
    if manifest.env.system_packages:
        apt = ("RUN apt-get update && apt-get install -y --no-install-recommends "
               f"{' '.join(manifest.env.system_packages)} && rm -rf /var/lib/apt/lists/*\n")
    return f"""\
ARG BASE_IMAGE={base}
FROM ${{BASE_IMAGE}}
{apt}ENV PYTHONUNBUFFERED=1 PORT=5000 BENTONB_HOME=/home/bentonb/store \\
    PATH=/opt/bentonb/bin:$PATH
WORKDIR /bundle
# Wheels in ./wheels (bentonb containerize --wheels) make the build work offline.
COPY requirements.txt ./
COPY wheels/ ./wheels/
RUN python3 -m venv /opt/bentonb && \\
    if ls wheels/*.whl >/dev/null 2>&1; then \\
        pip install --no-cache-dir --no-index --find-links=wheels -r requirements.txt bentonb; \\
    else \\
        pip install --no-cache-dir -r requirements.txt bentonb=={manifest.bentonb_version}; \\
    fi
COPY . /bundle
{setup}RUN useradd --create-home --uid {IMAGE_USER_ID} bentonb && \\
    chmod +x /bundle/docker-entrypoint.sh
USER bentonb
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \\
    CMD python -c "import os, urllib.request as u; \
u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '5000'), timeout=4)"
ENTRYPOINT ["/bundle/docker-entrypoint.sh"]
"""


def package_version(version: str) -> str:
    """A PEP 440 version for the bundle's pip package (``0.0.0+20240101120000.ab12cd``)."""
    local = re.sub(r"[^a-z0-9]+", ".", version.lower()).strip(".") or "0"
    return f"0.0.0+{local}"


def pyproject(manifest: BundleManifest, requirements: list[str]) -> str:
    deps = "".join(f'    "{r}",\n' for r in [*requirements, "bentonb"])
    return f"""\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "{manifest.name.lower()}"
version = "{package_version(manifest.version)}"
description = "{manifest.name} prediction service, a bentonb bundle"
requires-python = ">={".".join(manifest.python_version.split(".")[:2])}"
dependencies = [
{deps}]

[tool.setuptools]
packages = ["{manifest.package}"]

[tool.setuptools.package-data]
"{manifest.package}" = ["**/*"]
"""


def package_init(manifest: BundleManifest) -> str:
    return f'''"""{manifest.name} {manifest.version}, a bentonb bundle.

    import {manifest.package}
    svc = {manifest.package}.load()
"""

from pathlib import Path

__version__ = "{manifest.version}"


def load():
    """Load the {manifest.name} service with its artifacts (or models)."""
    from bentonb.bundle.loader import load_bundle

    return load_bundle(Path(__file__).resolve().parent)
'''


def readme(manifest: BundleManifest) -> str:
    apis = "\n".join(f"- `POST /{a.route}` ({a.input_type} -> {a.output_type})"
                     f"{': ' + a.doc.splitlines()[0] if a.doc else ''}" for a in manifest.apis)
    return f"""\
# {manifest.name} {manifest.version}

A prediction service bundle saved by bentonb {manifest.bentonb_version}.

## APIs

{apis}

## Use it

    bentonb serve .                      # HTTP server on port 5000
    bentonb containerize {manifest.tag}  # container image
    pip install .                        # then: import {manifest.package}; \
{manifest.package}.load()
"""
