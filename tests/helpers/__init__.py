"""Helpers several test modules share (import them from here, not from another test module).

- `sandbox`: the fake key, a create body, a client that never waits, `wait_until`;
- `answers`: one task in each API schema;
- `clock`: `FakeClock`, for waiting and retrying without sleeping;
- `webhooks`: a loopback receiver and a create body that delivers to it;
- `hosts`: a plain machine, a JupyterHub with or without its proxy;
- `browser`: Chromium and the steps of driving a notebook server;
- `html`: odd URLs, an evil task, and checks of what markup may hold;
- `boards`: review boards' tables of local WAV files (no sandbox).

`tests/conftest.py` still re-exports the `sandbox` names for modules that import them there.
"""
