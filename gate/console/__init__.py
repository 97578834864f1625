"""The officer console and the lane events it lives on.

- ``wire``: the JSON messages lanes publish (``egate/<site>/<lane>/<kind>``) and the
  commands the console sends back, with the checks every incoming message passes.
- ``reporter``: the lane-side observer that turns ``GateEvent``s into messages on its own
  thread, never blocking the lane; ``hub`` (in process) and ``mqtt`` (paho + Mosquitto) carry
  them.
- ``hall``: the console's picture of the hall (lanes, referrals, alarms, metrics).
- ``web``: the Starlette application (pages, JSON API, server-sent events, security).
"""
