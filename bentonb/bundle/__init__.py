"""Bundles: write a service to a directory, read it back, move it as an archive.

Owns everything inside a bundle; the store (:mod:`bentonb.store`) only indexes
bundle directories. Never imports :mod:`bentonb.service`.
"""

from bentonb.bundle.archive import ArchiveLimits, export_bundle, import_bundle
from bentonb.bundle.loader import load_bundle
from bentonb.bundle.manifest import MANIFEST_FILE, ApiSpec, ArtifactSpec, BundleManifest
from bentonb.bundle.reference import load, open_bundle, resolve
from bentonb.bundle.source import record_service_source
from bentonb.bundle.writer import save_bundle, save_to_dir

__all__ = ["MANIFEST_FILE", "ApiSpec", "ArchiveLimits", "ArtifactSpec", "BundleManifest",
           "export_bundle", "import_bundle", "load", "load_bundle", "open_bundle",
           "record_service_source", "resolve", "save_bundle", "save_to_dir"]
