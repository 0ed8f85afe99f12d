"""The whole study in one command: ``build_report`` runs every stage and writes the report."""

from digitlab.reporting.build import build_report

__all__ = ["build_report"]
