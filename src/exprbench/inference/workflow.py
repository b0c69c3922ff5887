"""Helpers rules/inference.smk calls: job inputs, specs as JSON and resources."""

from __future__ import annotations

import json

SETTINGS_KEYS = ("max_in_memory_mb", "chunk_rows", "attribution")


def stores(section: dict, data_dir: str, task: str) -> dict[str, str]:
    """Dataset -> store path for every dataset a task reads."""
    return {d: f"{data_dir}/{d}.h5" for d in section["tasks"][task]["datasets"]}


def job_inputs(section: dict, data_dir: str, task: str) -> dict[str, str]:
    """Files a task's fit reads: its stores, and a landmark list file when it names one,
    so that editing the list reruns the task."""
    inputs = stores(section, data_dir, task)
    landmark_file = section["tasks"][task]["landmarks"].get("file")
    return {**inputs, "landmark_file": landmark_file} if landmark_file else inputs


def spec_json(mapping: dict, name: str) -> str:
    return json.dumps(mapping[name], sort_keys=True)


def settings_json(section: dict) -> str:
    return json.dumps({k: section[k] for k in SETTINGS_KEYS}, sort_keys=True) if section else "{}"


def resource(section: dict, model: str, key: str, attempt: int) -> int:
    """The model file's own resource, else the section's, scaled by the attempt number."""
    own = section["models"][model]["resources"].get(key)
    return int((own or section["resources"]["fit"][key]) * attempt)


def run_files(results: str, jobs: list[dict], name: str) -> list[str]:
    return [f"{results}/runs/{j['task']}/{j['model']}/seed{j['seed']}/{name}" for j in jobs]
