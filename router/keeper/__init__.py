"""The one-per-deployment keeper: state sweep, group providers, alerts, funnel rollups."""
