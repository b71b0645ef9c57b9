"""The model catalog: YAML files users edit, validated at boot into runtime objects."""

from calcifer.catalog.loader import catalog_files, load_catalog, schema
from calcifer.catalog.model import Catalog, ProviderConfig, Secret

__all__ = ["Catalog", "ProviderConfig", "Secret", "catalog_files", "load_catalog", "schema"]
