"""Lifetimes: what lives as long as a worker, what lives as long as a catalog, and reloads."""

from calcifer.runtime.catalog_runtime import ReloadResult, Runtime

__all__ = ["ReloadResult", "Runtime"]
