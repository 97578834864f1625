"""Border checks beyond 1:1: the watch store (document and person lists, signed imports,
versions), 1:N face search and the lane's eligibility rules.

``gate.watch.store`` keeps the lists, ``gate.watch.search`` searches a gallery with the pack's
own distance, ``gate.watch.bundle`` reads the signed files an authority issues. The lane's
checks stage (``gate.lane.checks``) asks them; nothing here moves a door.
"""
