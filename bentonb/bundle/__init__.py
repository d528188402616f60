"""Bundles: write a service to a directory and read it back."""

from bentonb.bundle.manifest import MANIFEST_FILE, ApiSpec, ArtifactSpec, BundleManifest
from bentonb.bundle.source import record_service_source

__all__ = ["MANIFEST_FILE", "ApiSpec", "ArtifactSpec", "BundleManifest", "record_service_source"]
