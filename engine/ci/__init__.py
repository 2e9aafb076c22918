"""Continuous-integration plumbing of the GitHub Action (`action.yml`): standard library only,
so a CI step runs it without importing the engine."""
