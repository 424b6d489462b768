"""Schemathesis hooks for scripts/conformance (loaded through SCHEMATHESIS_HOOKS).

The run authenticates with one root key. Left alone, schemathesis finds that key's id (in `GET /api/v1/keys`)
and revokes, rotates or disables it early in the fuzzing phase; every later request then gets 401 and tests
nothing but authentication. A request that names the root key's id in its path is sent with another id
instead: it still tests the route (a 404 for an unknown key), and the run keeps its credential.
"""
import os
import uuid

import schemathesis

ROOT_ID = os.environ.get("TRONCH_CONFORMANCE_ROOT_KEY_ID", "").lower()


def _spare(parameters):
    if ROOT_ID and isinstance(parameters, dict) and str(parameters.get("id", "")).lower() == ROOT_ID:
        parameters = dict(parameters)
        parameters["id"] = str(uuid.uuid4())
    return parameters


@schemathesis.hook
def map_path_parameters(context, path_parameters):
    return _spare(path_parameters)


@schemathesis.hook
def map_case(context, case):
    spared = _spare(case.path_parameters)
    if spared is not case.path_parameters:
        case.path_parameters = spared
    return case
