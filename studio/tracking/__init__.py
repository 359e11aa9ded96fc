"""Tracking after submit: bounded result downloads (:mod:`.downloads`), the leased work queue
that runs downloads, previews and analyses in the app or in ``python -m studio worker``
processes (:mod:`.work`), the work kinds themselves (:mod:`.results`) and media work run in
a memory-capped child process (:mod:`.isolate`).

The poller and the SSE listener are :mod:`studio.tracker` and :mod:`studio.events`.
"""
